//! Snapshots of what small declarations expand to, so that a change to code generation shows
//! up in review as a diff of readable Rust (`macros/snapshots/*.rs`), not only as test results.
//!
//! A snapshot that differs fails with the first differing line; after checking that the new
//! expansion is what was meant, write the new snapshots with
//! `MONOGRAD_BLESS=1 cargo test -p monograd-macros snapshot` and commit them.

use std::path::PathBuf;

use crate::parse::NetworkDef;

/// Small declarations that together touch every family of generated code.
const CASES: &[(&str, &str)] = &[
    (
        "mlp",
        "struct Mlp { input x: [4]; h = linear(x, 8); a = relu(h); z = linear(a, 3); \
         loss = softmax_cross_entropy(z); }",
    ),
    (
        "cnn",
        "struct Cnn { input x: [1, 6, 6]; c = conv2d(x, 2, kernel = 3, padding = 1); \
         n = batch_norm(c); r = relu(n); p = max_pool2d(r, 2); f = flatten(p); \
         z = linear(f, 2); loss = softmax_cross_entropy(z); }",
    ),
    (
        "recurrent",
        "struct Rnn { input x: [5, 1]; g = gru(x, 4, return = last); \
         y = linear(g, 1); loss = mse(y); }",
    ),
];

fn expansion(source: &str) -> String {
    let def: NetworkDef = syn::parse_str(source).expect("a valid declaration");
    let graph = crate::graph::build(&def).unwrap_or_else(|_| panic!("no errors in `{source}`"));
    let tokens = crate::expand::expand(&graph);
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

#[test]
fn expansions_match_their_snapshots() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let bless = std::env::var_os("MONOGRAD_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, source) in CASES {
        let path = dir.join(format!("{name}.rs"));
        let text = format!("// network! {{ {source} }}\n\n{}", expansion(source));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old != text {
            let line = old
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(old.lines().count().min(text.lines().count()));
            stale.push(format!(
                "{} (first difference at line {})",
                path.display(),
                line + 1
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "expansions changed: {}\nreview them, then MONOGRAD_BLESS=1 cargo test -p monograd-macros snapshot",
        stale.join(", ")
    );
}

#[test]
fn expansion_is_deterministic() {
    for (_, source) in CASES {
        assert_eq!(expansion(source), expansion(source));
    }
}
