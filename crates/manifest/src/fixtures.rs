//! Manifests shared by the tests of several modules.

/// A complete manifest using every table and key.
pub(crate) const GOOD: &str = r#"[plugin]
id = "hello"
name = "Hello"
version = "0.1.0"
description = "Greets people."
authors = ["Ada <ada@example.org>"]
license = "MIT"
category = "utility"
keywords = ["greeting"]
host-api = "^0.2"
component = "plugin.wasm"

[dependencies]
other-plugin = "^1.2"

[permissions]
request = ["fs-read($PROJECT)", "net(api.example.com:443)", "env(HOME)", "tty"]

[limits]
max-execution-ms = 5000
max-memory-mib = 64
max-output-kib = 1024

[[commands]]
name = "hello"
about = "Greet someone by name"

[[commands.args]]
name = "name"
help = "who to greet"
required = false
multiple = false

[[micro]]
id = "validate.email"
kind = "validator"
description = "Accepts a well-formed e-mail address"
isolation = "strict"
input-schema = { type = "string" }
output-schema = { type = "string", format = "email" }
"#;

/// The smallest valid manifest, to which each error case adds a line.
pub(crate) const MINIMAL: &str = r#"[plugin]
id = "hello"
name = "Hello"
version = "0.1.0"
host-api = "^0.2"
component = "plugin.wasm"
"#;
