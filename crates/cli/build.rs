//! Links the `lord` binary as a position-dependent executable on Linux.
//!
//! A PIE of this size carries ~118,000 relative relocations that the
//! dynamic loader applies on every start, writing (and so copying) every
//! page they touch; a one-shot command paid for them before `main`.
//! Linked at a fixed address, the loader has nothing to patch and the
//! pages stay shared with the page cache.

#[expect(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "a build script hears from cargo through its environment and answers on stdout"
)]
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
