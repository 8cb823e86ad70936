//! Compile-fail tests: each `tests/ui/NAME.rs` is a mistake whose compiler output must match
//! `NAME.stderr`. Regenerate after an intended message change with `TRYBUILD=overwrite`.
//!
//! The programs in `tests/ui-pass/` must build and run. Having one makes trybuild run
//! `cargo build` instead of `cargo check`, which the compile-fail cases whose error comes from
//! a const assertion evaluated at monomorphization (`batch_norm_batch_of_one`) need.
//!
//! The `weights_*` cases name their safetensors file relative to the manifest directory of the
//! project trybuild generates, `target/tests/trybuild/<crate>/`: they assume the default target
//! directory (`target/` in the repository), as `.ci/run` uses it.

#[test]
fn shape_and_declaration_errors() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui-pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
