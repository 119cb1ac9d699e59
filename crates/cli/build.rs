//! Links the `lord` binary with packed relative relocations on Linux.
//!
//! A PIE of this size carries ~118,000 relative relocations. As `RELA`
//! entries they are 2.8 MB the dynamic loader reads and applies one by one
//! on every start; packed (`DT_RELR`, glibc 2.36 and binutils 2.38 on) they
//! are a few kilobytes of bitmaps applied in a tight loop. The binary stays
//! position-independent: a host that runs untrusted code keeps address-space
//! randomisation for its own code, which linking it at a fixed address
//! (`-no-pie`, faster still at start) would give up.

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
    }
}
