//! Hostile fixture: granted only `net(127.0.0.1:9)`, it connects to another
//! port. The host must refuse the connection and name what it refused.

use std::io::Write;
use std::net::TcpStream;

use lord_pdk::{Command, Plugin};

struct NetDial;

impl Plugin for NetDial {
    fn run_command(command: Command) -> Result<String, String> {
        let port = command.arg("port").ok_or("missing port")?;
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

lord_pdk::export_plugin!(NetDial);
