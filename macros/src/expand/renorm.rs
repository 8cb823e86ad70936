//! Batch Renorm's clipping limits: a field of the network (`renorm_limits`) that a training
//! step reads besides the parameters and the state, starting at the declared values. Every piece
//! is empty when the network has no `batch_renorm` layer.

use proc_macro2::TokenStream;
use quote::quote;

use super::layers::rt;
use crate::graph::{Graph, Op};

/// The declared `(r_max, d_max)` of the network's Batch Renorm layers, if it has one.
fn declared(graph: &Graph) -> Option<(f64, f64)> {
    graph.nodes.iter().find_map(|node| match &node.op {
        Op::BatchRenorm(rn) => Some((rn.r_max, rn.d_max)),
        _ => None,
    })
}

/// The field's declaration in the network struct.
pub fn field(graph: &Graph) -> TokenStream {
    if declared(graph).is_none() {
        return quote!();
    }
    let rt = rt();
    quote! {
        /// Clipping limits of every `batch_renorm` layer in training: `r` to
        /// `[1/r_max, r_max]`, `d` to `[-d_max, d_max]`. Starts at the declared values;
        /// set it each step (e.g. from `RenormSchedule::limits`) to relax it over time.
        pub renorm_limits: #rt::ops::norm::RenormLimits,
    }
}

/// The field's initial value (`field: value,`), the declared limits; a constant expression.
pub fn init(graph: &Graph) -> TokenStream {
    let Some((r_max, d_max)) = declared(graph) else {
        return quote!();
    };
    let rt = rt();
    quote!(renorm_limits: #rt::ops::norm::RenormLimits { r_max: #r_max, d_max: #d_max },)
}

/// The statement binding `renorm_limits` for the layers of a training forward pass.
pub fn local(graph: &Graph) -> TokenStream {
    match declared(graph) {
        Some(_) => quote!(let renorm_limits = self.renorm_limits;),
        None => quote!(),
    }
}

/// `Network::copy_settings_from`, which copies the limits to a data-parallel worker's network.
pub fn copy_settings(graph: &Graph) -> TokenStream {
    match declared(graph) {
        Some(_) => quote! {
            fn copy_settings_from(&mut self, source: &Self) {
                self.renorm_limits = source.renorm_limits;
            }
        },
        None => quote!(),
    }
}
