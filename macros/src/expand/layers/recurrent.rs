//! `gru` and `lstm` (runtime `ops::recurrent`): the whole-sequence forward keeping its cache in
//! the workspace, and backpropagation through time. A `[T, F]` node is stored flat per sample
//! (`[[T; S * F]; B]`); `ops::recurrent::sequences` views it as `[[[T; F]; S]; B]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{grad_targets, literal, rt, WorkspaceItem};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::plan::Plan;
use crate::graph::ops::{Cell, Recurrent};

/// Rows of `H` the runtime caches per sample and step for `cell`.
fn cache_rows(cell: Cell) -> usize {
    match cell {
        Cell::Gru => 5,
        Cell::Lstm => 7,
    }
}

/// `(steps, features)` of node `i`'s `[T, F]` input.
pub fn input_dims(plan: &Plan, i: usize) -> (usize, usize) {
    let shape = &plan.graph.nodes[plan.graph.nodes[i].inputs[0]].shape.0;
    (shape[0], shape[1])
}

/// The cache the forward fills and the backward reads, per sample `S * rows * H` values; also
/// needed in evaluation mode (the runtime forward writes it).
pub fn workspace(plan: &Plan, i: usize, rnn: &Recurrent) -> Vec<WorkspaceItem> {
    let (steps, _) = input_dims(plan, i);
    let n = steps * cache_rows(rnn.cell) * rnn.hidden;
    vec![WorkspaceItem::batch(plan, i, "cache", n, true)]
}

/// `(runtime function prefix, gates, rows)`.
fn names(rnn: &Recurrent) -> (&'static str, usize, usize) {
    (rnn.cell.name(), rnn.cell.gates(), cache_rows(rnn.cell))
}

/// An expression viewing the cache workspace of node `i` as `[[[[T; H]; R]; S]; B]`.
fn cache_view(
    plan: &Plan,
    i: usize,
    rnn: &Recurrent,
    cache: TokenStream,
    mutable: bool,
) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let (steps, _) = input_dims(plan, i);
    let (_, _, rows) = names(rnn);
    let h = rnn.hidden;
    let n = steps * rows * h;
    let sr = steps * rows;
    let f = if mutable {
        quote!(#rt::ops::recurrent::sequences_mut)
    } else {
        quote!(#rt::ops::recurrent::sequences)
    };
    quote!(#f::<[#t; #h], B, #steps, #rows, #sr>(#f::<#t, B, #sr, #h, #n>(#cache)))
}

pub fn forward(plan: &Plan, access: &Access, i: usize, rnn: &Recurrent) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let (steps, features) = input_dims(plan, i);
    let (name, gates, _) = names(rnn);
    let h = rnn.hidden;
    let (p, off) = (plan.param_count, plan.param_block_offset(i));
    let in_n = plan.numel(node.inputs[0]);
    let x = access.value(plan, node.inputs[0]);
    let y = access.value_mut(plan, i);
    let cache = cache_view(plan, i, rnn, access.workspace(plan, i, "cache"), true);
    let forward = format_ident!("{}_forward", name);
    let output = if rnn.last {
        quote!(#rt::ops::recurrent::Output::Last(#y))
    } else {
        let out_n = steps * h;
        quote!(#rt::ops::recurrent::Output::Sequence(
            #rt::ops::recurrent::sequences_mut::<#t, B, #steps, #h, #out_n>(#y)
        ))
    };
    quote!({
        let rnn = #rt::ops::recurrent::RnnParams::<#t, #gates, #features, #h>::at::<#p, { #off }>(params);
        #rt::ops::recurrent::#forward::<#t, B, #steps, #features, #h>(
            &rnn,
            #rt::ops::recurrent::sequences::<#t, B, #steps, #features, #in_n>(#x),
            #cache,
            #output,
        );
    })
}

pub fn backward(plan: &Plan, i: usize, rnn: &Recurrent) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let access = Access::Tape;
    let node = &plan.graph.nodes[i];
    let (steps, features) = input_dims(plan, i);
    let (name, gates, _) = names(rnn);
    let h = rnn.hidden;
    let (p, off, len) = (
        plan.param_count,
        plan.param_block_offset(i),
        plan.params[i].len(),
    );
    let in_n = plan.numel(node.inputs[0]);
    let x = access.value(plan, node.inputs[0]);
    let dy = grad(plan, i);
    let cache_field = super::workspace_field(plan, i, "cache");
    let cache = cache_view(plan, i, rnn, quote!(&tape.workspace.#cache_field), false);
    let upstream = if rnn.last {
        quote!(#rt::ops::recurrent::Upstream::Last(#dy))
    } else {
        let out_n = steps * h;
        quote!(#rt::ops::recurrent::Upstream::Sequence(
            #rt::ops::recurrent::sequences::<#t, B, #steps, #h, #out_n>(#dy)
        ))
    };
    // The runtime stores the parameter gradients and the input gradient with one `Store`: when
    // the input's gradient accumulates, the layer's own block starts from zero.
    let (dx, store) = match grad_targets(plan, i).first() {
        Some(&(k, j)) => {
            let dx = grad_mut(plan, j);
            (
                quote!(::core::option::Option::Some(
                    #rt::ops::recurrent::sequences_mut::<#t, B, #steps, #features, #in_n>(#dx)
                )),
                plan.store(i, k),
            )
        }
        None => (
            quote!(::core::option::Option::None),
            quote!(#rt::Store::Overwrite),
        ),
    };
    let zero = literal(plan, 0.0);
    let backward = format_ident!("{}_backward", name);
    quote!({
        let store = #store;
        if store == #rt::Store::Accumulate {
            tape.param_grads[#off..][..#len].fill(#zero);
        }
        let rnn = #rt::ops::recurrent::RnnParams::<#t, #gates, #features, #h>::at::<#p, { #off }>(params);
        let mut grads = #rt::ops::recurrent::RnnGrads::<#t, #gates, #features, #h>::at::<#p, { #off }>(&mut tape.param_grads);
        #rt::ops::recurrent::#backward::<#t, B, #steps, #features, #h>(
            &rnn,
            #rt::ops::recurrent::sequences::<#t, B, #steps, #features, #in_n>(#x),
            #cache,
            #upstream,
            &mut grads,
            #dx,
            store,
        );
    })
}
