//! Links the `firmware` binary for a bare-metal ARM target: puts `memory.x` where cortex-m-rt's
//! `link.x` includes it from, and passes `link.x` to the linker. Host builds (the library, its
//! tests and examples) get no linker arguments.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    let target = env::var("TARGET").unwrap_or_default();
    if !(target.starts_with("thumb") && target.ends_with("-none-eabihf")
        || target.ends_with("-none-eabi"))
    {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x into OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    // Only the binary: the library is linked into host tests and examples as well.
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
