//! `MONOGRAD_DUMP=dir`: a way to read what a declaration became.
//!
//! When the variable is set while a crate that declares networks compiles, every `network!`
//! writes its expansion to `dir/<Name>.rs` (a relative `dir` is taken from the declaring
//! crate's `Cargo.toml` directory), formatted with `rustfmt` when it is on the `PATH` (or
//! `$RUSTFMT`). Cargo does not track the variable: touch a source file of the crate (or
//! `cargo clean -p <crate>`) so that the macro runs again.
//!
//! ```text
//! MONOGRAD_DUMP=target/expanded cargo build --example digits && ls target/expanded
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use proc_macro2::TokenStream;

/// The environment variable naming the dump directory.
const VARIABLE: &str = "MONOGRAD_DUMP";

/// Writes `expansion` to `$MONOGRAD_DUMP/<name>.rs` when the variable is set; `Err` says what
/// could not be written (a compile error: the user asked for the file).
pub fn dump(name: &str, expansion: &TokenStream) -> Result<(), String> {
    let Some(dir) = std::env::var_os(VARIABLE).filter(|dir| !dir.is_empty()) else {
        return Ok(());
    };
    let mut dir = PathBuf::from(dir);
    if dir.is_relative() {
        if let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR") {
            dir = Path::new(&manifest).join(dir);
        }
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("{VARIABLE}: cannot create `{}`: {e}", dir.display()))?;
    let path = dir.join(format!("{name}.rs"));
    let text = format!(
        "// The expansion of `monograd::network!` for `{name}`, written because {VARIABLE} is \
         set.\n// Generated code: read it, do not edit it.\n\n{expansion}\n"
    );
    std::fs::write(&path, text)
        .map_err(|e| format!("{VARIABLE}: cannot write `{}`: {e}", path.display()))?;
    // Best effort: without rustfmt the file is one long line, still valid Rust.
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let _ = Command::new(rustfmt)
        .args(["--edition", "2021"])
        .arg(&path)
        .status();
    Ok(())
}
