//! Gradients for other uses than a training step: `backward_from` (a vector-Jacobian product
//! from any upstream gradient of the output), and the gradient with respect to the input
//! (saliency maps, adversarial examples, checking user code), computed only when asked for by a
//! second backward body whose plan also needs the input's gradient.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::layers::{self, rt};
use super::plan::Plan;

/// The names the methods refer to.
pub struct Names<'a> {
    pub tape: &'a Ident,
    pub targets: &'a Ident,
    /// Statements zeroing the frozen layers' parameter gradients.
    pub frozen_zero_grads: &'a TokenStream,
}

/// Statements propagating the gradient in the tape from the output back, for `plan`.
fn steps(plan: &Plan) -> TokenStream {
    let steps = (1..plan.loss_index())
        .rev()
        .filter(|&i| plan.needs_grad[i])
        .map(|i| layers::backward(plan, i));
    quote!(#(#steps)*)
}

/// A statement writing `upstream` into the output's gradient buffer (the first and only
/// contribution there, as the loss's would be), when the output needs a gradient in `plan`.
fn seed(plan: &Plan) -> TokenStream {
    let output = plan.graph.output_index();
    if !plan.needs_grad[output] {
        return quote!(let _ = upstream;);
    }
    let dy = super::access::grad_mut(plan, output);
    quote!((#dy).as_flattened_mut().copy_from_slice(upstream.as_flattened());)
}

/// Methods of the network's `impl` block.
pub fn methods(plan: &Plan, names: &Names) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let input_plan = Plan::with_input_grad(plan.graph);
    // Products seeded at the output leave auxiliary losses out.
    let (vjp, vjp_input) = (
        Plan::output_vjp(plan.graph, false),
        Plan::output_vjp(plan.graph, true),
    );
    let zero = super::layers::literal(plan, 0.0);
    // An input that only an auxiliary head uses has a zero gradient in such a product.
    let zero_unused_inputs = (0..plan.graph.inputs)
        .filter(|&i| !vjp_input.needs_grad[i])
        .map(|i| {
            let dx = super::access::grad_mut(&vjp_input, i);
            quote!((#dx).as_flattened_mut().fill(#zero);)
        });
    let (tape, targets_ty, zero_frozen) = (names.tape, names.targets, names.frozen_zero_grads);
    let input_ty = super::inputs::input_ty(plan);
    let (grad_ret_ty, grad_ret) = super::inputs::input_grad_return(plan);
    let output_n = plan.numel(plan.graph.output_index());
    // Layers that only auxiliary heads use get a zero gradient there too (not a stale one).
    let zero_aux_heads: Vec<TokenStream> = (0..plan.node_count())
        .filter(|&i| plan.params[i].len() > 0 && !vjp.needs_grad[i])
        .map(|i| {
            let (off, len) = (plan.param_block_offset(i), plan.params[i].len());
            quote!(tape.param_grads[#off..][..#len].fill(#zero);)
        })
        .collect();
    let (seed_params, steps_params) = (seed(&vjp), steps(&vjp));
    let (seed_input, steps_input) = (seed(&vjp_input), steps(&vjp_input));
    let steps_loss_input = steps(&input_plan);
    let loss_to_input = layers::loss_call(&input_plan, &super::access::Access::Tape, true);
    quote! {
        /// The vector-Jacobian product of the output after [`Self::forward_train`] on the
        /// same `x`: fills `tape.param_grads` with the gradient of `sum(upstream * output)`
        /// with respect to every parameter (`upstream` is any gradient of the output, e.g. of a
        /// loss computed outside the network). Frozen layers get a zero gradient.
        pub fn backward_from<const B: usize>(
            &self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            upstream: &[[#t; #output_n]; B],
        ) {
            let params = &*self.params;
            let _ = (params, x);
            #seed_params
            #steps_params
            #(#zero_aux_heads)*
            #zero_frozen
        }

        /// As [`Self::backward_from`], and also the gradient of `sum(upstream * output)` with
        /// respect to the input, which it returns (kept in `tape.input_grad`).
        pub fn input_grad_from<'t, const B: usize>(
            &self,
            tape: &'t mut #tape<B>,
            x: &[#input_ty; B],
            upstream: &[[#t; #output_n]; B],
        ) -> #grad_ret_ty {
            let params = &*self.params;
            let _ = (params, x);
            #seed_input
            #steps_input
            #(#zero_unused_inputs)*
            #(#zero_aux_heads)*
            #zero_frozen
            #grad_ret
        }

        /// As [`Self::backward`] (the mean loss, and its gradient in `tape.param_grads`), and
        /// also the loss's gradient with respect to the input, in `tape.input_grad` (saliency
        /// maps, adversarial examples).
        ///
        /// # Errors
        /// As [`Self::backward`].
        pub fn backward_with_input_grad<const B: usize>(
            &self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            targets: &#targets_ty<B>,
        ) -> ::core::result::Result<#t, #rt::Error> {
            let params = &*self.params;
            let _ = (params, x);
            let loss = #loss_to_input?;
            #steps_loss_input
            #zero_frozen
            ::core::result::Result::Ok(loss)
        }
    }
}
