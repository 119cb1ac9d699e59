//! Hostile fixture: micro handlers that write diagnostics. `grumble.fail`
//! logs a warning, writes a diagnostic to standard error carrying an OSC 52
//! clipboard write and a carriage return, and returns an error;
//! `grumble.trap` logs and panics; `grumble.pass` logs (a debug record and
//! a warning), writes the same diagnostic, and succeeds with its input. A
//! pipeline must show what each wrote (before the error, for the failing
//! ones), with no control character reaching the terminal.

use lord_pdk::{Json, Micro, MicroContext};

struct Grumbler;

impl Micro for Grumbler {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        if ctx.id == "grumble.pass" {
            lord_pdk::log::debug("counting the grumbles");
        }
        lord_pdk::log::warn(&format!("looked at {input}"));
        match ctx.id.as_str() {
            "grumble.pass" => {
                eprintln!("diagnostic: \u{1b}]52;c;Z290Y2hh\u{7}copied\rpassed it on");
                Ok(input)
            }
            "grumble.fail" => {
                eprintln!("diagnostic: \u{1b}]52;c;Z290Y2hh\u{7}copied\rno mirror answered");
                Err("gave up after the diagnostics above".to_owned())
            }
            _ => panic!("grumbling on purpose"),
        }
    }
}

lord_pdk::export_micro!(Grumbler);
