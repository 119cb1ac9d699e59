//! `lord-bare-oneshot CWASM COMMAND [ARG=VALUE]...`: the smallest wasmtime
//! host that does what a one-shot `lord COMMAND` does with a plugin: start,
//! load compiled code from disk, instantiate with WASI and lord's host
//! interfaces (as stubs that do nothing), make one `run-command` call,
//! print its output, exit. `lord-bench` times it beside `lord hello World`
//! on the same component (`oneshot_ratio`); it is the floor a process per
//! command can reach with this engine configuration.
//!
//! Boundary exception: like `lord-bench`, it names wasmtime, because bare
//! wasmtime is what it stands for.

#[path = "../bare.rs"]
#[expect(
    dead_code,
    reason = "shared with lord-bench, which uses the parts this host does not"
)]
mod bare;

use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(cwasm), Some(command)) = (args.next(), args.next()) else {
        eprintln!("usage: lord-bare-oneshot CWASM COMMAND [ARG=VALUE]...");
        return ExitCode::from(2);
    };
    let invocation = bare::Invocation {
        command,
        args: args
            .filter_map(|a| {
                let (name, value) = a.split_once('=')?;
                Some(bare::Arg {
                    name: name.to_owned(),
                    values: vec![value.to_owned()],
                })
            })
            .collect(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("lord-bare-oneshot: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let host = bare::Bare::new()?;
        host.load_and_call(std::path::Path::new(&cwasm), &invocation)
            .await
    });
    match outcome {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lord-bare-oneshot: {e:#}");
            ExitCode::FAILURE
        }
    }
}
