//! Hostile fixture: writes terminal control sequences wherever a plugin's
//! text reaches lord's output. OSC 52 would set the clipboard, OSC 0 the
//! window title, and cursor-up plus erase-line would hide the line lord
//! printed before. On a terminal lord must show every one of them as a
//! visible escape and keep only the colour; piped, the plugin's own output
//! is data and passes unchanged.

use std::io::Write;

use lord_pdk::{Command, Plugin, log};

/// Colour (kept on a terminal), then the sequences that must not reach it.
const PAYLOAD: &str =
    "\x1b[31mred\x1b[0m \x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[1A\x1b[2Kgone\n";

struct Termctl;

impl Plugin for Termctl {
    fn run_command(command: Command) -> Result<String, String> {
        match command.arg("how").unwrap_or("print") {
            "print" => {
                let mut out = std::io::stdout();
                // A lone carriage return would overwrite the line, and a
                // byte that is not UTF-8 still has to show as something.
                out.write_all(PAYLOAD.as_bytes())
                    .and_then(|()| out.write_all(b"50%\rdone\t\xff\r\n"))
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("stdout refused: {e}"))?;
                let mut err = std::io::stderr();
                err.write_all(b"\x1b]0;from stderr\x07\x1b[33mnote\x1b[0m\n")
                    .and_then(|()| err.flush())
                    .map_err(|e| format!("stderr refused: {e}"))?;
                Ok(PAYLOAD.to_owned())
            }
            "log" => {
                log::warn(PAYLOAD);
                Ok("logged\n".to_owned())
            }
            "fail" => Err(PAYLOAD.to_owned()),
            other => Err(format!("termctl has no mode `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(Termctl);
