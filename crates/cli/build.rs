//! Links the `lord` binary with packed relative relocations on Linux, and
//! in release builds folds identical functions.
//!
//! A PIE of this size carries ~118,000 relative relocations. As `RELA`
//! entries they are 2.8 MB the dynamic loader reads and applies one by one
//! on every start; packed (`DT_RELR`, glibc 2.36 and binutils 2.38 on) they
//! are a few kilobytes of bitmaps applied in a tight loop. The binary stays
//! position-independent: a host that runs untrusted code keeps address-space
//! randomisation for its own code, which linking it at a fixed address
//! (`-no-pie`, faster still at start) would give up.
//!
//! Identical code folding (`--icf=all`, LLD's, the linker Rust uses here)
//! keeps one copy of functions whose machine code is the same, mostly
//! generic code instantiated for types of one layout: 0.7 MB of the release
//! binary. Rust promises no distinct addresses for distinct functions, so
//! folding changes nothing a program may rely on; debug builds skip it, as
//! it only slows their links.

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
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        // `PROFILE` is `release` for the release profile and those that
        // inherit it (`profiling`).
        if std::env::var("PROFILE").as_deref() == Ok("release") {
            println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
        }
    }
}
