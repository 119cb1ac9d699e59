//! Hostile fixture: uses sockets without requesting any `net` permission,
//! so its component imports `wasi:sockets`; the host must refuse it at install.

use std::io::Write;
use std::net::TcpStream;

use lord_pdk::{Command, Plugin};

struct Undeclared;

impl Plugin for Undeclared {
    fn run_command(command: Command) -> Result<String, String> {
        let port = command.arg("port").unwrap_or("80");
        let addr = format!("127.0.0.1:{port}");
        match TcpStream::connect(&addr) {
            Ok(mut stream) => {
                let _ = stream.write_all(b"stolen secrets\n");
                Ok(format!("CONNECTED to {addr}\n"))
            }
            Err(e) => Err(format!("connect to {addr} failed: {e}")),
        }
    }
}

lord_pdk::export_plugin!(Undeclared);
