//! What is emitted when the declaration has errors: the errors, plus a stand-in type with the
//! name the user declared and methods that accept anything, so that the only errors the user sees
//! are ours, not a cascade of "cannot find type" from the code that uses the network.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::parse::NetworkDef;

pub fn stub(def: &NetworkDef) -> TokenStream {
    let vis = &def.vis;
    let name = &def.name;
    let tape = format_ident!("{}Tape", name);
    let activations = format_ident!("{}Activations", name);
    let workspace = format_ident!("{}Workspace", name);
    let targets = format_ident!("{}Targets", name);
    let items = [name, &tape, &activations, &workspace, &targets].map(|ident| ident.to_string());
    let input_struct = stub_input_struct(def);
    super::hygiene::apply(
        quote! {
            #[allow(dead_code, unused_variables, missing_docs, clippy::all)]
            #vis struct #name {
                pub params: [f32; 0],
                pub state: [f32; 0],
            }
            #[allow(dead_code, missing_docs)]
            #vis struct #tape<const B: usize> {
                pub values: #activations<B>,
                pub grads: #activations<B>,
                pub param_grads: [f32; 0],
                pub workspace: #workspace<B>,
            }
            #input_struct
            #[allow(dead_code, missing_docs)]
            #vis struct #activations<const B: usize> {}
            #[allow(dead_code, missing_docs)]
            #vis struct #workspace<const B: usize> {}
            #[allow(dead_code, missing_docs)]
            #vis type #targets<const B: usize> = [usize; B];
            #[allow(dead_code, unused_variables, missing_docs, clippy::all)]
            impl<const B: usize> #tape<B> {
                pub fn new() -> Self { ::core::unreachable!() }
            }
            #[allow(dead_code, unused_variables, missing_docs, clippy::all)]
            impl #name {
                pub const PARAMS: usize = 0;
                pub const STATE: usize = 0;
                pub const INPUT: usize = 0;
                pub const OUTPUT: usize = 0;
                pub const PARAM_BYTES: usize = 0;
                pub const INFER_BYTES: usize = 0;
                pub const fn infer_bytes(batch: usize) -> usize { 0 }
                pub const fn tape_bytes(batch: usize) -> usize { 0 }
                pub fn zeroed() -> Self { ::core::unreachable!() }
                pub fn new(seed: u64) -> Self { ::core::unreachable!() }
                pub fn from_params<P>(params: P) -> ::core::result::Result<Self, ::monograd::runtime::Error> { ::core::unreachable!() }
                pub fn infer<P, S, X, O>(params: P, state: S, x: X, out: O) { ::core::unreachable!() }
                pub fn forward<X>(&self, x: X) -> ! { ::core::unreachable!() }
                pub fn predict<X>(&self, x: X) -> ! { ::core::unreachable!() }
                pub fn forward_with<T, X>(&self, tape: T, x: X) -> ! { ::core::unreachable!() }
                pub fn forward_train<T, X>(&mut self, tape: T, x: X) -> ! { ::core::unreachable!() }
                pub fn backward<T, X, Y>(&self, tape: T, x: X, targets: Y) -> ! { ::core::unreachable!() }
                pub fn train_step<T, X, Y, O>(&mut self, tape: T, x: X, targets: Y, optimizer: O) -> ! { ::core::unreachable!() }
                pub fn loss<T, X, Y>(&self, tape: T, x: X, targets: Y) -> ! { ::core::unreachable!() }
            }
        },
        &items,
    )
}

/// The `NetInput` of a declaration with several inputs, with the declared sizes (zero where a
/// size is not a number), so that code building batches of it adds no errors of its own.
fn stub_input_struct(def: &NetworkDef) -> TokenStream {
    let inputs: Vec<&crate::parse::InputDecl> = def
        .statements
        .iter()
        .filter_map(|s| match s {
            crate::parse::Statement::Input(input) => Some(input),
            _ => None,
        })
        .collect();
    if inputs.len() < 2 {
        return quote!();
    }
    let f64 = def.statements.iter().any(|s| {
        matches!(s, crate::parse::Statement::Element(e)
            if matches!(&e.ty, syn::Type::Path(p) if p.path.is_ident("f64")))
    });
    let t = if f64 { quote!(f64) } else { quote!(f32) };
    let name = format_ident!("{}Input", def.name);
    let vis = &def.vis;
    let mut fields = Vec::new();
    for input in inputs {
        let field = &input.name;
        if fields
            .iter()
            .any(|(f, _): &(&syn::Ident, usize)| *f == field)
        {
            continue;
        }
        let size: usize = input
            .dims
            .iter()
            .map(|d| d.base10_parse::<usize>().unwrap_or(0))
            .product();
        fields.push((field, size));
    }
    let (names, sizes): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
    quote! {
        #[allow(dead_code, missing_docs)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #name {
            #(pub #names: [#t; #sizes],)*
        }
    }
}
