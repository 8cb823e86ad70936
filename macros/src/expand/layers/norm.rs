//! Normalization layers: BatchNorm and Batch Renorm (batch statistics in training, running
//! statistics in evaluation), LayerNorm, InstanceNorm and GroupNorm (per-sample statistics in
//! both modes).

use proc_macro2::TokenStream;
use quote::quote;

use super::{grad_targets, literal, rt, workspace_field, Mode, WorkspaceItem};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::plan::Plan;
use crate::graph::Op;

/// `(C, S, N)`: channels, spatial size and per-sample length of node `i`.
fn dims(plan: &Plan, i: usize) -> (usize, usize, usize) {
    let shape = &plan.graph.nodes[i].shape;
    let (c, s) = shape.channels_spatial();
    (c, s, shape.numel())
}

/// Number of statistics groups per sample of a per-sample norm.
fn groups(plan: &Plan, i: usize) -> usize {
    let (c, _, _) = dims(plan, i);
    match &plan.graph.nodes[i].op {
        Op::LayerNorm(_) => 1,
        Op::InstanceNorm(_) => c,
        Op::GroupNorm { groups, .. } => *groups,
        _ => unreachable!("per-sample norms only"),
    }
}

fn is_batch_norm(op: &Op) -> bool {
    matches!(op, Op::BatchNorm(_) | Op::BatchRenorm(_))
}

pub fn workspace(plan: &Plan, i: usize) -> Vec<WorkspaceItem> {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let (c, _, n) = dims(plan, i);
    let mut items = Vec::new();
    match &node.op {
        Op::BatchNorm(_) => items.push(WorkspaceItem::inline(
            plan,
            i,
            "stats",
            quote!(#rt::ops::norm::BatchStats<#t, #c>),
            quote!(#rt::ops::norm::BatchStats::<#t, #c>::zeroed()),
            (0, 2 * c + 1),
            false,
        )),
        Op::BatchRenorm(_) => items.push(WorkspaceItem::inline(
            plan,
            i,
            "stats",
            quote!(#rt::ops::norm::RenormStats<#t, #c>),
            quote!(#rt::ops::norm::RenormStats::<#t, #c>::zeroed()),
            (0, 4 * c + 1),
            false,
        )),
        _ => {
            let g = groups(plan, i);
            items.push(WorkspaceItem::inline(
                plan,
                i,
                "stats",
                quote!(#rt::ops::norm::GroupStats<#t, B, #g>),
                quote!(#rt::ops::norm::GroupStats::<#t, B, #g>::zeroed()),
                (2 * g, 0),
                true,
            ));
        }
    }
    // BatchNorm without affine runs the affine kernel with gamma = 1, beta = 0, and discards
    // the gradient of those constants.
    if let Op::BatchNorm(bn) = &node.op {
        if !bn.affine {
            let (one, zero) = (literal(plan, 1.0), literal(plan, 0.0));
            items.push(WorkspaceItem::inline(
                plan,
                i,
                "identity_affine",
                quote!([[#t; #c]; 2]),
                quote!([[#one; #c], [#zero; #c]]),
                (0, 2 * c),
                true,
            ));
            items.push(WorkspaceItem::inline(
                plan,
                i,
                "identity_affine_grad",
                quote!([[#t; #c]; 2]),
                quote!([[#zero; #c]; 2]),
                (0, 2 * c),
                false,
            ));
        }
    }
    // The kernels always produce the input gradient; when the input needs none (a norm right
    // after the network input), it goes to scratch.
    let needs_input_grad = plan.needs_grad[node.inputs[0]];
    if plan.needs_grad[i] && !needs_input_grad {
        items.push(WorkspaceItem::batch(plan, i, "input_grad", n, false));
    }
    items
}

/// `&[[T; L]; 2]` of the affine parameters (or the identity for BatchNorm without affine), and
/// the same for per-sample norms as an `Option`.
fn affine(plan: &Plan, access: &Access, i: usize, len: usize) -> Option<TokenStream> {
    let (rt, t) = (rt(), &plan.t);
    let block = &plan.params[i];
    match block.tensor("weight") {
        Some(_) => {
            // The weight and the bias that follows it, as the rows of one matrix.
            let off = plan.param_offset(i, "weight");
            Some(quote!(#rt::view::matrix::<#t, 2, #len>(&params[#off..])))
        }
        None if is_batch_norm(&plan.graph.nodes[i].op) => {
            Some(access.scratch_ref(&workspace_field(plan, i, "identity_affine")))
        }
        None => None,
    }
}

fn state_view(plan: &Plan, i: usize, mutable: bool) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let (c, _, _) = dims(plan, i);
    let off = plan.state_block_offset(i);
    if mutable {
        quote!(#rt::view::matrix_mut::<#t, 2, #c>(&mut state[#off..]))
    } else {
        quote!(#rt::view::matrix::<#t, 2, #c>(&state[#off..]))
    }
}

fn optional(expr: Option<TokenStream>) -> TokenStream {
    match expr {
        Some(e) => quote!(::core::option::Option::Some(#e)),
        None => quote!(::core::option::Option::None),
    }
}

/// A compile-time check, spanned on the layer's declaration, that training batch statistics of
/// node `i` (`s` values per channel and sample) see more than one value per channel: PyTorch
/// raises "Expected more than 1 value per channel when training" at run time. The message names
/// the layer; stable Rust cannot put the batch size in a const panic message, so it says what
/// the batch must be.
fn batch_statistics_check(plan: &Plan, i: usize, s: usize) -> TokenStream {
    let node = &plan.graph.nodes[i];
    let op = match node.op {
        Op::BatchRenorm(_) => "batch_renorm",
        _ => "batch_norm",
    };
    let message = if s == 1 {
        format!(
            "{op} `{name}` needs more than 1 value per channel in training (as PyTorch): on a \
             vector that is a batch of at least 2 samples, so `forward_train`/`train_step` \
             need a tape of batch B >= 2; for a single sample use evaluation mode \
             (`forward`, `predict`), which uses the running statistics",
            name = node.name
        )
    } else {
        format!(
            "{op} `{name}` needs a batch of at least 1 sample in training (B >= 1)",
            name = node.name
        )
    };
    quote::quote_spanned! {node.name.span()=>
        const { ::core::assert!(B * #s > 1, #message) };
    }
}

pub fn forward(plan: &Plan, access: &Access, mode: Mode, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let (c, s, n) = dims(plan, i);
    let x = access.value(plan, node.inputs[0]);
    let y = access.value_mut(plan, i);
    let stats = access.workspace(plan, i, "stats");
    let norm = quote!(#rt::ops::norm);
    match (&node.op, mode) {
        (Op::BatchNorm(bn), Mode::Train) if !bn.frozen_stats => {
            let p = affine(plan, access, i, c);
            let state = state_view(plan, i, true);
            let (eps, momentum) = (bn.eps, bn.momentum);
            let check = batch_statistics_check(plan, i, s);
            let call = quote! {
                #norm::batch_norm_train_forward_with::<#t, B, #c, #s, #n, C>(
                    #x, #p, #state, #stats, #y,
                    #norm::BatchNormConfig { eps: #eps, momentum: #momentum },
                    &mut *collective,
                )
            };
            let call = or_break(call);
            quote! {
                #check
                #call
            }
        }
        (Op::BatchRenorm(rn), Mode::Train) => {
            let p = affine(plan, access, i, c);
            let state = state_view(plan, i, true);
            let (eps, momentum) = (rn.eps, rn.momentum);
            let check = batch_statistics_check(plan, i, s);
            let call = quote! {
                #norm::batch_renorm_train_forward_with::<#t, B, #c, #s, #n, C>(
                    #x, #p, (#state, #stats), #y,
                    (#norm::BatchNormConfig { eps: #eps, momentum: #momentum }, renorm_limits),
                    &mut *collective,
                )
            };
            let call = or_break(call);
            quote! {
                #check
                #call
            }
        }
        // `track = frozen` trains with the running statistics too.
        (Op::BatchNorm(_), _) | (Op::BatchRenorm(_), Mode::Eval) => {
            let eps = match &node.op {
                Op::BatchNorm(bn) => bn.eps,
                Op::BatchRenorm(rn) => rn.eps,
                _ => unreachable!(),
            };
            let p = affine(plan, access, i, c);
            let state = state_view(plan, i, false);
            quote!(#norm::batch_norm_eval_forward::<#t, B, #c, #s, #n>(#x, #p, #state, #y, #eps);)
        }
        (Op::LayerNorm(ln), _) => {
            let p = optional(affine(plan, access, i, n));
            let eps = ln.eps;
            quote!(#norm::layer_norm_forward::<#t, B, #n>(#x, #p, #stats, #y, #eps);)
        }
        (Op::InstanceNorm(inorm), _) => {
            let p = optional(affine(plan, access, i, c));
            let eps = inorm.eps;
            quote!(#norm::instance_norm_forward::<#t, B, #c, #s, #n>(#x, #p, #stats, #y, #eps);)
        }
        (Op::GroupNorm { groups, norm: gn }, _) => {
            let p = optional(affine(plan, access, i, c));
            let eps = gn.eps;
            quote!(#norm::group_norm_forward::<#t, B, #c, #s, #n, #groups>(#x, #p, #stats, #y, #eps);)
        }
        _ => unreachable!("dispatched by op"),
    }
}

/// `call` (a `Result<(), Error>` expression) as a statement leaving the block labelled
/// `'layers` with the error when it fails.
fn or_break(call: TokenStream) -> TokenStream {
    quote! {
        if let ::core::result::Result::Err(error) = #call {
            // Bound first: `break 'layers ::core::...` reads to syn-based tools (rustfmt of a
            // dump, the expansion snapshots) like a labelled block `'layers: :core`.
            let failed = ::core::result::Result::Err(error);
            break 'layers failed;
        }
    }
}

/// The backward statements of node `i`; with `collective`, training-mode batch normalization
/// sums its gradient statistics over the participants (see [`super::backward_with_collective`]).
pub fn backward(plan: &Plan, i: usize, collective: bool) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let access = Access::Tape;
    let node = &plan.graph.nodes[i];
    let (c, s, n) = dims(plan, i);
    let x = access.value(plan, node.inputs[0]);
    let dy = grad(plan, i);
    let stats_field = workspace_field(plan, i, "stats");
    let stats = quote!(&tape.workspace.#stats_field);
    let norm = quote!(#rt::ops::norm);
    let (dx, dx_store) = match grad_targets(plan, i).first() {
        Some(&(k, j)) => (grad_mut(plan, j), plan.store(i, k)),
        None => {
            let field = workspace_field(plan, i, "input_grad");
            (
                quote!(&mut tape.workspace.#field),
                quote!(#rt::Store::Overwrite),
            )
        }
    };
    let overwrite = quote!(#rt::Store::Overwrite);
    let param_len = match &node.op {
        Op::LayerNorm(_) => n,
        _ => c,
    };
    let has_params = plan.params[i].len() > 0;
    let dparams = if has_params {
        let off = plan.param_block_offset(i);
        Some(quote!(#rt::view::matrix_mut::<#t, 2, #param_len>(&mut tape.param_grads[#off..])))
    } else {
        None
    };
    match &node.op {
        Op::BatchNorm(bn) if bn.frozen_stats => {
            // Training with the running statistics (`track = frozen`): the backward pass of
            // the evaluation-mode affine map.
            let p = affine(plan, &access, i, c);
            let dparams = dparams.unwrap_or_else(|| {
                let field = workspace_field(plan, i, "identity_affine_grad");
                quote!(&mut tape.workspace.#field)
            });
            let state = state_view(plan, i, false);
            let eps = bn.eps;
            quote! {
                {
                    let state = &*self.state;
                    #norm::batch_norm_eval_backward::<#t, B, #c, #s, #n>(
                        #x, #p, #state, #dy, #dx, #dx_store, #dparams, #overwrite, #eps,
                    );
                }
            }
        }
        Op::BatchNorm(_) | Op::BatchRenorm(_) => {
            let p = affine(plan, &access, i, c);
            let dparams = dparams.unwrap_or_else(|| {
                let field = workspace_field(plan, i, "identity_affine_grad");
                quote!(&mut tape.workspace.#field)
            });
            let batch_norm = matches!(node.op, Op::BatchNorm(_));
            if collective {
                let f = if batch_norm {
                    quote!(batch_norm_train_backward_with)
                } else {
                    quote!(batch_renorm_train_backward_with)
                };
                or_break(quote! {
                    #norm::#f::<#t, B, #c, #s, #n, C>(
                        #x, #p, #stats, #dy, (#dx, #dx_store), (#dparams, #overwrite),
                        &mut *collective,
                    )
                })
            } else {
                let f = if batch_norm {
                    quote!(batch_norm_train_backward)
                } else {
                    quote!(batch_renorm_train_backward)
                };
                quote! {
                    #norm::#f::<#t, B, #c, #s, #n>(#x, #p, #stats, #dy, #dx, #dx_store, #dparams, #overwrite);
                }
            }
        }
        Op::LayerNorm(_) => {
            let p = optional(affine(plan, &access, i, n));
            let dparams = optional(dparams);
            quote! {
                #norm::layer_norm_backward::<#t, B, #n>(#x, #p, #stats, #dy, #dx, #dx_store, #dparams, #overwrite);
            }
        }
        Op::InstanceNorm(_) => {
            let p = optional(affine(plan, &access, i, c));
            let dparams = optional(dparams);
            quote! {
                #norm::instance_norm_backward::<#t, B, #c, #s, #n>(#x, #p, #stats, #dy, #dx, #dx_store, #dparams, #overwrite);
            }
        }
        Op::GroupNorm { groups, .. } => {
            let p = optional(affine(plan, &access, i, c));
            let dparams = optional(dparams);
            quote! {
                #norm::group_norm_backward::<#t, B, #c, #s, #n, #groups>(#x, #p, #stats, #dy, #dx, #dx_store, #dparams, #overwrite);
            }
        }
        _ => unreachable!("dispatched by op"),
    }
}
