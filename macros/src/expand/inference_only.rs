//! A network without a loss, declared with `output name;`: an inference-only type (the
//! parameters and state, the consts, constructors, `infer` / `forward` / `predict` /
//! `forward_eval`, weights in and out, and `fold` when something folds), with no tape, no
//! training methods and no checkpoints.

use proc_macro2::TokenStream;
use quote::quote;

use super::network_struct::{self, Fields};
use super::plan::Plan;
use super::{constructors, fold, hygiene, inference, io, weights};
use crate::graph::Graph;

pub fn expand(graph: &Graph) -> TokenStream {
    let plan = Plan::new(graph);
    let (t, name) = (&plan.t, &graph.name);
    let fields = Fields::inference(&plan);
    let folded = fold::items(&plan);
    let input_items = super::inputs::items(&plan);
    let output_items = super::outputs::items(&plan);
    let network_struct =
        network_struct::declaration(&plan, &network_struct::inference_doc(&plan), &fields);
    // No checkpoints (they save training), so the dropout generator is not persistent here.
    let geometries = super::layers::geometries(&plan);
    let weights = io::weights_items(name, t, Some(quote!(num_batches_tracked)), None);
    let weights_items = graph
        .weights
        .as_ref()
        .map(|decl| weights::items(&plan, decl));
    let eval_struct = inference::eval_struct(&plan);
    let inference = inference::items(&plan);
    let counter_names = io::counter_names(&plan);
    let constructors = constructors::items(&plan, &fields);
    let debug_impl = network_struct::debug_impl(&plan);
    let items: Vec<String> = [name.to_string(), format!("{name}Eval")]
        .into_iter()
        .chain(folded.as_ref().map(|_| format!("{name}Folded")))
        .collect();
    hygiene::apply(
        quote! {
            #folded
            #input_items
            #output_items

            #network_struct
            #geometries

            #weights
            #weights_items

            #eval_struct

            impl #name {
                #inference

                /// Names of the int64 counters saved with the weights (`X.num_batches_tracked`).
                pub const COUNTER_NAMES: &'static [&'static str] = &[#(#counter_names),*];

                #constructors
            }

            #debug_impl
        },
        &items,
    )
}
