//! Makes generated code immune to the user's names: it must compile next to user items named
//! like anything it uses internally (`B`, `x`, `params`, `Result`, `Ok`, `core`, ...).
//!
//! Three rewrites of the finished expansion, so every template stays plain `quote!`:
//!
//! - The batch-size const parameter `B` passed as a generic argument (`Tape<B>`,
//!   `f::<T, B, 3>`) is braced, `{ B }`: a braced argument is a const expression, resolved in the
//!   value namespace where the const parameter shadows outer items, whereas a bare `B` is looked
//!   up as a type first and a user `struct B` would win.
//! - Local variables and function parameters get the prefix `__`: a user `const x` or
//!   `struct x;` in scope would otherwise turn the binding `let x` (or a parameter `x: T`) into a
//!   pattern, and mixed-site hygiene does not prevent that (items resolve at the call site).
//! - Every identifier resolves with `Span::mixed_site()` hygiene (keeping its source location
//!   for errors), which changes only locals and labels; items, types, fields and methods still
//!   resolve at the call site, so the generated struct, its fields and methods are the user's.
//!
//! Every path in the templates is absolute (`::core::...`, `::monograd::...`): a user module
//! named `core` does not capture `::core`.

use proc_macro2::{Delimiter, Group, Ident, Spacing, Span, TokenStream, TokenTree};

/// The name of the batch-size const parameter in generated code.
const BATCH_PARAM: &str = "B";

/// Prefix of every local variable and function parameter of generated code.
const LOCAL_PREFIX: &str = "__";

const KEYWORDS: &[&str] = &[
    "_", "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "bool", "char", "str", "u8", "u16", "u32", "u64", "u128",
    "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64",
];

/// `tokens` with the rewrites above; `items` are the names of generated items (the network
/// and its companion types), never renamed whatever their case.
pub fn apply(tokens: TokenStream, items: &[String]) -> TokenStream {
    rewrite(tokens, Delimiter::None, items)
}

fn rewrite(tokens: TokenStream, delimiter: Delimiter, items: &[String]) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    // Depth of generic argument lists `<...>` opened in this token group.
    let mut angle_depth = 0usize;
    for (i, tree) in trees.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| trees.get(j));
        let prev2 = i.checked_sub(2).and_then(|j| trees.get(j));
        let next = trees.get(i + 1);
        match tree {
            TokenTree::Group(group) => {
                // Attributes (`#[doc = ...]`, `#[allow(...)]`) are kept as they are.
                let stream = if group.delimiter() == Delimiter::Bracket && is_punct(prev, &['#']) {
                    group.stream()
                } else {
                    rewrite(group.stream(), group.delimiter(), items)
                };
                let mut new = Group::new(group.delimiter(), stream);
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            TokenTree::Punct(punct) => {
                match punct.as_char() {
                    // `Name<` or `::<` opens generic arguments; comparisons `a < b` are not
                    // generated.
                    '<' if opens_generics(prev) => angle_depth += 1,
                    '>' if angle_depth > 0 && !is_arrow_or_fat_arrow(prev) => angle_depth -= 1,
                    _ => {}
                }
                out.push(tree.clone());
            }
            TokenTree::Ident(ident) => {
                let name = ident.to_string();
                if angle_depth > 0
                    && name == BATCH_PARAM
                    && is_punct(prev, &['<', ','])
                    && is_punct(next, &['>', ','])
                {
                    let mut ident = ident.clone();
                    ident.set_span(mixed(ident.span()));
                    let mut braced = Group::new(Delimiter::Brace, TokenTree::Ident(ident).into());
                    braced.set_span(tree.span());
                    out.push(TokenTree::Group(braced));
                    continue;
                }
                let path_root = matches!(name.as_str(), "crate" | "super")
                    || (name == "self" && is_punct(next, &[':']));
                let mut ident = if is_local(&name, prev, prev2, next, delimiter, items) {
                    Ident::new(&format!("{LOCAL_PREFIX}{name}"), ident.span())
                } else {
                    ident.clone()
                };
                if !path_root {
                    ident.set_span(mixed(ident.span()));
                }
                out.push(TokenTree::Ident(ident));
            }
            TokenTree::Literal(_) => out.push(tree.clone()),
        }
    }
    out.into_iter().collect()
}

/// Whether the identifier `name`, between `prev` and `next` in a group delimited by
/// `delimiter`, is a local variable or function parameter (a binding or a use of one). Those
/// are the lowercase names that are not keywords, primitive types, fields (`a.name`,
/// `name: value` in braces), methods (`.name(`, `fn name`), path segments (`::name`, `name::`),
/// macros (`name!`) or lifetimes (`'name`).
fn is_local(
    name: &str,
    prev: Option<&TokenTree>,
    prev2: Option<&TokenTree>,
    next: Option<&TokenTree>,
    delimiter: Delimiter,
    items: &[String],
) -> bool {
    let starts_lower = name
        .trim_start_matches('_')
        .starts_with(|c: char| c.is_ascii_lowercase());
    if !starts_lower || KEYWORDS.contains(&name) || items.iter().any(|item| item == name) {
        return false;
    }
    let after_keyword = matches!(prev, Some(TokenTree::Ident(p))
        if matches!(p.to_string().as_str(), "fn" | "struct" | "enum" | "mod" | "type" | "const"
            | "static" | "trait" | "pub" | "use" | "as" | "impl"));
    let after_binding_keyword = matches!(prev, Some(TokenTree::Ident(p)) if matches!(p.to_string().as_str(), "let" | "mut" | "ref"));
    let field_or_method = is_punct(prev, &['.']) && !is_joint_punct(prev2, '.');
    let path_segment = (is_punct(prev, &[':']) && is_joint_punct(prev2, ':'))
        || is_joint_punct(next, ':')
        || is_punct(prev, &['\'']);
    let macro_name = is_punct(next, &['!']);
    let field_in_braces =
        delimiter == Delimiter::Brace && is_alone_punct(next, ':') && !after_binding_keyword;
    !(after_keyword || field_or_method || path_segment || macro_name || field_in_braces)
}

fn is_joint_punct(tree: Option<&TokenTree>, c: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == c && p.spacing() == Spacing::Joint)
}

fn is_alone_punct(tree: Option<&TokenTree>, c: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == c && p.spacing() == Spacing::Alone)
}

/// `span`'s location with mixed-site (`macro_rules`) name resolution.
fn mixed(span: Span) -> Span {
    span.resolved_at(Span::mixed_site())
}

fn opens_generics(prev: Option<&TokenTree>) -> bool {
    match prev {
        Some(TokenTree::Ident(_)) => true,
        Some(TokenTree::Punct(p)) => p.as_char() == ':',
        _ => false,
    }
}

fn is_arrow_or_fat_arrow(prev: Option<&TokenTree>) -> bool {
    matches!(prev, Some(TokenTree::Punct(p))
        if matches!(p.as_char(), '-' | '=') && p.spacing() == Spacing::Joint)
}

fn is_punct(tree: Option<&TokenTree>, chars: &[char]) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if chars.contains(&p.as_char()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn braces_the_batch_parameter_only_as_a_generic_argument() {
        let out = apply(
            quote! {
                impl<const B: usize> Tape<B> {
                    fn f(x: &[[f32; 3]; B]) -> Out<B, 3> { g::<f32, B, 3>(x, B); <B>::h() }
                }
            },
            &[],
        )
        .to_string();
        let expected = quote! {
            impl<const B: usize> Tape<{ B }> {
                fn f(__x: &[[f32; 3]; B]) -> Out<{ B }, 3> { g::<f32, { B }, 3>(__x, B); <B>::h() }
            }
        }
        .to_string();
        assert_eq!(out, expected);
    }

    #[test]
    fn renames_locals_but_not_fields_methods_paths_or_items() {
        let out = apply(
            quote! {
                fn new(seed: u64) -> Net {
                    let x: u8 = self.x.len();
                    let (h, rest) = rest.split_at_mut(3);
                    ::core::assert!(h > 0);
                    Net { params: x, state: Net::zeroed() }
                }
            },
            &["Net".to_string()],
        )
        .to_string();
        let expected = quote! {
            fn new(__seed: u64) -> Net {
                let __x: u8 = self.x.len();
                let (__h, __rest) = __rest.split_at_mut(3);
                ::core::assert!(__h > 0);
                Net { params: __x, state: Net::zeroed() }
            }
        }
        .to_string();
        assert_eq!(out, expected);
    }

    #[test]
    fn an_arrow_does_not_close_generic_arguments() {
        let out = apply(
            quote!(
                fn f<const B: usize>() -> A<B> {}
            ),
            &[],
        )
        .to_string();
        assert_eq!(
            out,
            quote!(
                fn f<const B: usize>() -> A<{ B }> {}
            )
            .to_string()
        );
    }
}
