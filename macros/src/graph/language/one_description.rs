//! The three descriptions of the language must agree: the usage strings of [`OPERATIONS`]
//! (shown in messages), the options the parser accepts (`resolve`) and the language table of
//! the crate docs.

use super::*;
use crate::graph::errors::Errors;
use crate::graph::ops::resolve;
use crate::parse::Statement;

/// Option names in a usage line or a docs cell: every `name =`.
fn options_in(text: &str) -> Vec<String> {
    let mut options: Vec<String> = text
        .split(['(', ',', ')'])
        .filter_map(|part| {
            part.split_once(" = ")
                .map(|(key, _)| key.trim().to_string())
        })
        .collect();
    options.sort();
    options.dedup();
    options
}

/// `text` split at the commas outside brackets.
fn top_level_parts(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// The options `resolve` accepts for `op`: the list in its message for an unknown option.
fn accepted_options(op: &str, usage: &str) -> Vec<String> {
    // Positional arguments in the usage line: the nodes, then sizes, a shape or a factor.
    let inner = usage
        .trim_start_matches(op)
        .trim_start_matches('(')
        .trim_end_matches(')');
    let positional: Vec<&str> = top_level_parts(inner)
        .into_iter()
        .filter(|part| !part.contains('='))
        .collect();
    let values: Vec<&str> = positional
        .iter()
        .map(|name| match *name {
            "x" | "a" | "b" | "logits" | "prediction" => "x",
            name if name.starts_with('[') => "[2, 2]",
            _ => "2",
        })
        .collect();
    let text = format!("y = {op}({}, not_an_option = 1);", values.join(", "));
    let Statement::Node(decl) = syn::parse_str::<Statement>(&text).unwrap() else {
        panic!("{text}: not a node");
    };
    let mut errors = Errors::default();
    resolve(&decl, &mut errors);
    let messages: Vec<String> = match errors.finish() {
        Ok(()) => panic!("{text}: the unknown option was accepted"),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    };
    // Other messages (a required `kernel = ..` left out) do not matter here.
    let message = messages
        .iter()
        .find(|m| m.starts_with("unknown option `not_an_option`"))
        .unwrap_or_else(|| panic!("{text}: {messages:?}"));
    let list = match message.split_once(" accepts: ") {
        Some((_, list)) => list.to_string(),
        None if message.contains("takes no options") => String::new(),
        None => panic!("{text}: {message}"),
    };
    let mut options: Vec<String> = list
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    options.sort();
    options.dedup();
    options
}

#[test]
fn usage_strings_list_exactly_the_accepted_options() {
    for (op, usage) in OPERATIONS {
        let mut in_usage = options_in(usage);
        // `bias_init` shares `init`'s choices and is named in the docs text.
        let accepted = accepted_options(op, usage);
        in_usage.retain(|o| o != "bias_init" || accepted.contains(o));
        let missing: Vec<&String> = accepted
            .iter()
            .filter(|o| !in_usage.contains(o) && *o != "bias_init")
            .collect();
        assert!(
            missing.is_empty(),
            "`{op}`: usage `{usage}` lacks {missing:?}"
        );
        let extra: Vec<&String> = in_usage.iter().filter(|o| !accepted.contains(o)).collect();
        assert!(
            extra.is_empty(),
            "`{op}`: usage `{usage}` names unknown {extra:?}"
        );
    }
}

#[test]
fn the_docs_table_has_every_operation_and_only_accepted_options() {
    let docs = include_str!("../../../../src/lib.rs");
    let rows: Vec<&str> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("//! | `"))
        .collect();
    for (op, usage) in OPERATIONS {
        let in_docs: Vec<&&str> = rows
            .iter()
            .filter(|row| {
                let cell = row.split(" | ").next().unwrap_or("");
                cell.split('`').any(|code| {
                    code == *op || code.starts_with(&format!("{op}(")) || {
                        // `relu`, `tanh`, ...: a list of names in one cell.
                        code.split(", ").any(|name| name == *op)
                    }
                })
            })
            .collect();
        assert!(!in_docs.is_empty(), "`{op}` is missing from the docs table");
        let accepted = accepted_options(op, usage);
        for row in in_docs {
            let cell = row.split(" | ").next().unwrap_or("");
            for code in cell.split('`').filter(|c| c.starts_with(&format!("{op}("))) {
                for option in options_in(code) {
                    assert!(
                        accepted.contains(&option),
                        "docs: `{code}` names `{option}`, which `{op}` does not accept"
                    );
                }
            }
        }
    }
    // Every operation the table shows exists.
    for row in &rows {
        let cell = row.split(" | ").next().unwrap_or("");
        for code in cell.split('`').skip(1).step_by(2) {
            let Some((name, _)) = code.split_once('(') else {
                continue;
            };
            assert!(
                OPERATIONS.iter().any(|(op, _)| *op == name),
                "docs table shows `{name}`, which is not an operation"
            );
        }
    }
}
