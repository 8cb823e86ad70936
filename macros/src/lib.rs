//! The `network!` procedural macro of monograd: a network declared in Rust source becomes a
//! concrete type with fixed shapes and straight-line forward, backward and train-step code.
//!
//! The phases are separate modules: `parse` builds the syntax tree (form only), `graph`
//! resolves names, infers every shape and runs every check, and `expand` generates code from a
//! valid graph. Users see this macro through the `monograd` crate, whose docs describe the
//! language. `dump` writes an expansion to a file when `MONOGRAD_DUMP` asks for it.

mod dump;
mod expand;
mod graph;
mod parse;

use proc_macro::TokenStream;

/// Declares a network. See the `monograd` crate documentation for the language.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let def = syn::parse_macro_input!(input as parse::NetworkDef);
    match graph::build(&def) {
        Ok(graph) => {
            let expansion = expand::expand(&graph);
            match dump::dump(&graph.name.to_string(), &expansion) {
                Ok(()) => expansion.into(),
                Err(message) => {
                    let error = syn::Error::new(graph.name.span(), message).to_compile_error();
                    quote::quote!(#error #expansion).into()
                }
            }
        }
        Err(errors) => {
            let mut out = errors.to_compile_error();
            out.extend(expand::stub::stub(&def));
            out.into()
        }
    }
}
