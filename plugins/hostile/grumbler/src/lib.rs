//! Hostile fixture: micro handlers that fail after writing. `grumble.fail`
//! logs a warning, writes a diagnostic to standard error carrying an OSC 52
//! clipboard write and a carriage return, and returns an error;
//! `grumble.trap` logs and panics. A pipeline that stops on either must
//! show what it wrote before the error, with no control character reaching
//! the terminal.

use lord_pdk::{Json, Micro, MicroContext};

struct Grumbler;

impl Micro for Grumbler {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        lord_pdk::log::warn(&format!("looked at {input}"));
        match ctx.id.as_str() {
            "grumble.fail" => {
                eprintln!("diagnostic: \u{1b}]52;c;Z290Y2hh\u{7}copied\rno mirror answered");
                Err("gave up after the diagnostics above".to_owned())
            }
            _ => panic!("grumbling on purpose"),
        }
    }
}

lord_pdk::export_micro!(Grumbler);
