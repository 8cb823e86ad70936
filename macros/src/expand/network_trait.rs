//! `impl Network<PARAMS> for Net`: the trait every generated training network implements, so
//! that training loops, evaluation and gradient checks can be generic. Each method forwards to
//! the inherent method of the same name or reads a buffer; nothing here computes.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::layers::rt;
use super::plan::Plan;
use super::{buffers, inputs};

/// The `Network` impl of the plan's network; `overrides` are the trait items only some networks
/// override (Batch Renorm's settings, the dropout generator's restoring, frozen layers' ranges).
pub fn items(plan: &Plan, tape: &Ident, overrides: &[TokenStream]) -> TokenStream {
    let (rt, t, graph) = (rt(), &plan.t, plan.graph);
    let name = &graph.name;
    let p = plan.param_count;
    let input_ty = inputs::input_ty(plan);
    let target_ty = buffers::target_ty(plan);
    let output_n = plan.numel(graph.output_index());
    quote! {
        impl #rt::Network<#p> for #name {
            type Element = #t;
            type Input = #input_ty;
            type Output = [#t; #output_n];
            type Target = #target_ty;
            type Tape<const B: usize> = #tape<B>;

            fn params(&self) -> &[#t; #p] {
                &self.params
            }
            fn params_mut(&mut self) -> &mut [#t; #p] {
                &mut self.params
            }
            fn state(&self) -> &[#t] {
                &*self.state
            }
            fn state_mut(&mut self) -> &mut [#t] {
                &mut *self.state
            }
            fn param_tensors() -> &'static [#rt::TensorInfo] {
                Self::PARAM_TENSORS
            }
            fn state_tensors() -> &'static [#rt::TensorInfo] {
                Self::STATE_TENSORS
            }
            fn state_before_forward<const B: usize>(tape: &#tape<B>) -> &[#t] {
                &tape.state_before_forward[..]
            }
            fn batch_counters_mut(&mut self) -> &mut [u64] {
                &mut self.num_batches_tracked
            }
            fn new_tape<const B: usize>() -> #tape<B> {
                #tape::new()
            }
            fn param_grads<const B: usize>(tape: &#tape<B>) -> &[#t; #p] {
                &tape.param_grads
            }
            fn param_grads_mut<const B: usize>(tape: &mut #tape<B>) -> &mut [#t; #p] {
                &mut tape.param_grads
            }
            #(#overrides)*
            fn forward_with<'t, const B: usize>(
                &self,
                tape: &'t mut #tape<B>,
                x: &[#input_ty; B],
            ) -> &'t [[#t; #output_n]; B] {
                <#name>::forward_with(self, tape, x)
            }
            fn forward_train_with<'t, const B: usize, C: #rt::Collective<#t>>(
                &mut self,
                tape: &'t mut #tape<B>,
                x: &[#input_ty; B],
                collective: &mut C,
            ) -> ::core::result::Result<&'t [[#t; #output_n]; B], #rt::Error> {
                Self::forward_train_with(self, tape, x, collective)
            }
            fn backward_with<const B: usize, C: #rt::Collective<#t>>(
                &self,
                tape: &mut #tape<B>,
                x: &[#input_ty; B],
                targets: &[#target_ty; B],
                collective: &mut C,
            ) -> ::core::result::Result<#t, #rt::Error> {
                Self::backward_with(self, tape, x, targets, collective)
            }
            fn loss<const B: usize>(
                &self,
                tape: &mut #tape<B>,
                x: &[#input_ty; B],
                targets: &[#target_ty; B],
            ) -> ::core::result::Result<#t, #rt::Error> {
                <#name>::loss(self, tape, x, targets)
            }
        }
    }
}
