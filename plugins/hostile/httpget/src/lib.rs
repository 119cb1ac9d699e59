//! Hostile fixture: holds `net(127.0.0.1:PORT)` (the tests write the port)
//! and sends requests through the host with `lord_pdk::http`: to the
//! granted server, to another port, with a `Host` header naming another
//! port, following a redirect to another port, and reading a response far
//! larger than its output budget. What reached a server is for the test's
//! server to say; what the plugin got back is printed.

use lord_pdk::http::Request;
use lord_pdk::{Command, Plugin};

struct HttpGet;

impl Plugin for HttpGet {
    fn run_command(command: Command) -> Result<String, String> {
        let url = command.arg("url").ok_or("missing url")?;
        let request = match command.name.as_str() {
            "httppost" => Request::post(url).body(command.arg("body").unwrap_or_default()),
            _ => Request::get(url),
        };
        let request = match command.arg("host") {
            Some(host) => request.header("host", host),
            None => request,
        };
        // No cap of its own: the host's output budget is what must stop a
        // huge answer.
        let response = request.max_body(usize::MAX).send()?;
        Ok(format!(
            "STATUS {}\nURL {}\nBYTES {}\n{}",
            response.status,
            response.url,
            response.body.len(),
            String::from_utf8_lossy(&response.body[..response.body.len().min(256)])
        ))
    }
}

lord_pdk::export_plugin!(HttpGet);
