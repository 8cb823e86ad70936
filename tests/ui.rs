//! Compile-fail tests: each `tests/ui/NAME.rs` is a mistake whose compiler output must match
//! `NAME.stderr`. Regenerate after an intended message change with `TRYBUILD=overwrite`.

#[test]
fn shape_and_declaration_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
