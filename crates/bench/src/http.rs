//! What an HTTP request through `wasi:http` costs: a 1 KiB `GET` to a
//! loopback server started here, sent by a plugin's kept instance (the
//! guest's client, the host's grant check, a fresh connection, the body
//! charged to the budget and handed back) against the same `GET` sent by
//! reqwest directly, also on a fresh connection each time (the host opens
//! one per request, so a pooled client would measure pooling, not the
//! sandbox), in alternating batches: `http_get_overhead_ratio`.

use anyhow::{Context as _, Result, ensure};
use lord_host::{CommandArg, Framework, Invocation};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

/// The body every answer carries.
const BODY: [u8; 1024] = [b'x'; 1024];

/// A 1 KiB `GET` through a plugin against reqwest directly.
pub(crate) async fn measure(plugins: &Plugins, plan: Plan) -> Result<Pair> {
    let port = serve().await?;
    let scratch = tempfile::tempdir()?;
    let dir = granted_copy(&plugins.httpget(), scratch.path(), port)?;
    let mut framework = Framework::open(fixtures::host_config(scratch.path(), "home")?)?;
    fixtures::install(&mut framework, std::slice::from_ref(&dir)).await?;
    let mut ours = framework
        .load(&fixtures::manifest_of(&dir)?.plugin.id)
        .await?;
    let url = format!("http://127.0.0.1:{port}/kib");
    let invocation = Invocation {
        command: "httpget".to_owned(),
        args: vec![CommandArg {
            name: "url".to_owned(),
            values: vec![url.clone()],
        }],
    };
    let (text, _) = ours.run_command(&invocation).await?;
    ensure!(
        text.contains("STATUS 200") && text.contains("BYTES 1024"),
        "the plugin's GET answered {text:?}"
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .context("building the reqwest client")?;
    let direct = async || -> Result<()> {
        let body = client.get(&url).send().await?.bytes().await?;
        ensure!(
            body.len() == BODY.len(),
            "reqwest read {} bytes",
            body.len()
        );
        Ok(())
    };
    direct().await?;
    eprintln!("lord-bench: http: 1 KiB GET ...");
    timing::interleaved(
        plan,
        async || {
            ours.run_command(&invocation).await?;
            Ok(())
        },
        direct,
    )
    .await
}

/// The fixture's folder again, its `net` grant naming `port`.
fn granted_copy(
    src: &std::path::Path,
    scratch: &std::path::Path,
    port: u16,
) -> Result<std::path::PathBuf> {
    let dir = scratch.join("httpget");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(src.join("plugin.wasm"), dir.join("plugin.wasm"))
        .context("copying the httpget component")?;
    let manifest = std::fs::read_to_string(src.join(lord_manifest::MANIFEST_FILE))?
        .replace("net(127.0.0.1:9)", &format!("net(127.0.0.1:{port})"));
    std::fs::write(dir.join(lord_manifest::MANIFEST_FILE), manifest)?;
    Ok(dir)
}

/// A loopback HTTP/1.1 server answering every request with 1 KiB, on the
/// bench's runtime. Returns its port.
async fn serve() -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream));
        }
    });
    Ok(port)
}

/// Answers each request head on one connection until it closes.
async fn answer(mut stream: tokio::net::TcpStream) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        buffer.drain(..end + 4);
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", BODY.len());
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&BODY).await.is_err()
        {
            return;
        }
    }
}
