//! The training network's methods on a batch: `forward_with` (evaluation mode, into the
//! tape), `forward_train` / `forward_train_with` (training mode, a transaction on the state),
//! `backward` / `backward_with`, `train_step` and `loss`. The layers' statements come from
//! `layers`; what is here is the frame around them: borrowing the buffers, and keeping or
//! putting back the state.

use proc_macro2::TokenStream;
use quote::quote;

use super::access::Access;
use super::dispatch::{self, Arg};
use super::gradients::Names;
use super::layers::{self, rt, Mode};
use super::plan::Plan;
use super::{fixed_batch, inputs, io, renorm};

/// Statements computing every node's values from `x`, `params` (and `state`).
fn forward_body(plan: &Plan, mode: Mode) -> TokenStream {
    let steps = (0..plan.node_count()).map(|i| layers::forward(plan, &Access::Tape, mode, i));
    quote!(#(#steps)*)
}

/// Statements propagating gradients from the output back to every parameter, last node first
/// (in a block labelled `'layers`, with a `collective`).
fn backward_body(plan: &Plan) -> TokenStream {
    let steps = (1..plan.loss_index())
        .rev()
        .filter(|&i| plan.needs_grad[i])
        .map(|i| layers::backward_with_collective(plan, i));
    quote!(#(#steps)*)
}

/// The methods, in an `impl Net` block; their signatures name the types of `names` (those of
/// the gradient methods).
pub fn methods(plan: &Plan, names: &Names) -> TokenStream {
    let (rt, t, graph) = (rt(), &plan.t, plan.graph);
    let Names {
        tape,
        targets: targets_ty,
        frozen_zero_grads,
    } = names;
    let p = plan.param_count;
    let input_ty = inputs::input_ty(plan);
    let output = graph.output_index();
    let output_n = plan.numel(output);
    let output_field = plan.field(output);
    let forward_tape_eval = forward_body(plan, Mode::Eval);
    let forward_tape_train = forward_body(plan, Mode::Train);
    let backward_steps = backward_body(plan);
    let fixed_batch::Items {
        forward_train: fixed_forward_train,
        backward: fixed_backward,
        functions: fixed_functions,
    } = fixed_batch::items(plan, names);
    let loss_with_grad = layers::loss_call(plan, &Access::Tape, true);
    let loss_only = layers::loss_call(plan, &Access::Tape, false);
    let renorm_local = renorm::local(graph);
    let count_batch = io::count_batch();
    let dropout = layers::dropout_rng(graph);
    let (save_rng, restore_rng) = (&dropout.save, &dropout.restore);
    let name = &graph.name;
    let output_ty = quote!([[#t; #output_n]; B]);
    let forward_with_call = dispatch::call(
        &quote!('s, 't, const B: usize),
        &quote!('s, 't, B),
        &[
            Arg {
                ty: quote!(&'s #name),
                value: quote!(self),
            },
            Arg {
                ty: quote!(&'t mut #tape<B>),
                value: quote!(tape),
            },
            Arg {
                ty: quote!(&'s [#input_ty; B]),
                value: quote!(x),
            },
        ],
        &quote!(&'t #output_ty),
        &quote!(#name::__forward_with_body),
    );
    let forward_train_call = dispatch::call(
        &quote!('s, 't, const B: usize, C: #rt::Collective<#t>),
        &quote!('s, 't, B, C),
        &[
            Arg {
                ty: quote!(&'s mut #name),
                value: quote!(self),
            },
            Arg {
                ty: quote!(&'t mut #tape<B>),
                value: quote!(tape),
            },
            Arg {
                ty: quote!(&'s [#input_ty; B]),
                value: quote!(x),
            },
            Arg {
                ty: quote!(&'s mut C),
                value: quote!(collective),
            },
        ],
        &quote!(::core::result::Result<&'t #output_ty, #rt::Error>),
        &quote!(#name::__forward_train_body),
    );
    let backward_call = dispatch::call(
        &quote!('s, const B: usize, C: #rt::Collective<#t>),
        &quote!('s, B, C),
        &[
            Arg {
                ty: quote!(&'s #name),
                value: quote!(self),
            },
            Arg {
                ty: quote!(&'s mut #tape<B>),
                value: quote!(tape),
            },
            Arg {
                ty: quote!(&'s [#input_ty; B]),
                value: quote!(x),
            },
            Arg {
                ty: quote!(&'s #targets_ty<B>),
                value: quote!(targets),
            },
            Arg {
                ty: quote!(&'s mut C),
                value: quote!(collective),
            },
        ],
        &quote!(::core::result::Result<#t, #rt::Error>),
        &quote!(#name::__backward_body),
    );
    quote! {
        /// Inference (evaluation mode) on a batch into the tape's buffers (heap): node
        /// outputs are left in `tape.values`.
        pub fn forward_with<'t, const B: usize>(
            &self,
            tape: &'t mut #tape<B>,
            x: &[#input_ty; B],
        ) -> &'t [[#t; #output_n]; B] {
            #forward_with_call
        }

        /// The computation of [`Self::forward_with`], inlined into it once per instruction-set
        /// level.
        #[doc(hidden)]
        #[inline(always)]
        fn __forward_with_body<'t, const B: usize>(
            &self,
            tape: &'t mut #tape<B>,
            x: &[#input_ty; B],
        ) -> &'t [[#t; #output_n]; B] {
            let params = &*self.params;
            let state = &*self.state;
            let _ = state;
            #forward_tape_eval
            &*tape.values.#output_field
        }

        /// Forward pass in training mode (batch statistics for normalization layers, whose
        /// running statistics it updates), keeping in `tape` what `backward` needs:
        /// [`Self::forward_train_with`] on a single thread.
        ///
        /// # Errors
        /// [`Error::NonFiniteValue`](::monograd::runtime::Error::NonFiniteValue) when a
        /// running statistic would become NaN or infinite (NaN in the input, say); the
        /// state (and the dropout generator, if any) is then left as it was.
        pub fn forward_train<'t, const B: usize>(
            &mut self,
            tape: &'t mut #tape<B>,
            x: &[#input_ty; B],
        ) -> ::core::result::Result<&'t [[#t; #output_n]; B], #rt::Error> {
            #fixed_forward_train
            self.forward_train_with(tape, x, &mut #rt::Solo)
        }

        /// Forward pass in training mode on this participant's share `x` of a batch shared
        /// through `collective` (see `Network::forward_train_with`): batch normalization
        /// layers use the statistics of the global batch, summed through `collective`.
        ///
        /// # Errors
        /// As [`Self::forward_train`], and the collective's errors; the state (and the dropout
        /// generator, if any) is then left as it was.
        pub fn forward_train_with<'t, const B: usize, C: #rt::Collective<#t>>(
            &mut self,
            tape: &'t mut #tape<B>,
            x: &[#input_ty; B],
            collective: &mut C,
        ) -> ::core::result::Result<&'t [[#t; #output_n]; B], #rt::Error> {
            #forward_train_call
        }

        /// The computation of [`Self::forward_train_with`], inlined into it once per
        /// instruction-set level.
        #[doc(hidden)]
        #[inline(always)]
        fn __forward_train_body<'t, const B: usize, C: #rt::Collective<#t>>(
            &mut self,
            tape: &'t mut #tape<B>,
            x: &[#input_ty; B],
            collective: &mut C,
        ) -> ::core::result::Result<&'t [[#t; #output_n]; B], #rt::Error> {
            let _ = &collective;
            tape.state_before_forward.copy_from_slice(&self.state[..]);
            #save_rng
            #[allow(unused_labels)]
            let outcome: ::core::result::Result<(), #rt::Error> = 'layers: {
                let params = &*self.params;
                let state = &mut *self.state;
                let _ = &state;
                #renorm_local
                #forward_tape_train
                ::core::result::Result::Ok(())
            };
            let outcome = outcome.and_then(|()| {
                #rt::network::check_state_finite(&self.state[..], Self::STATE_TENSORS)
            });
            if let ::core::result::Result::Err(error) = outcome {
                self.state.copy_from_slice(&tape.state_before_forward[..]);
                #restore_rng
                return ::core::result::Result::Err(error);
            }
            #count_batch
            ::core::result::Result::Ok(&*tape.values.#output_field)
        }

        /// Backward pass after [`Self::forward_train`] on the same `x`: returns the mean
        /// loss against `targets` and fills `tape.param_grads` with its gradient:
        /// [`Self::backward_with`] on a single thread.
        ///
        /// # Errors
        /// A target out of range (e.g. a class label `>=` the number of classes), or a loss
        /// that is NaN or infinite; `tape.param_grads` is then unspecified.
        pub fn backward<const B: usize>(
            &self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            targets: &#targets_ty<B>,
        ) -> ::core::result::Result<#t, #rt::Error> {
            #fixed_backward
            self.backward_with(tape, x, targets, &mut #rt::Solo)
        }

        /// The backward pass of [`Self::forward_train_with`] on the same `x` and
        /// `collective` (see `Network::backward_with`): this participant's mean loss and
        /// its gradient; batch normalization layers sum their gradient statistics through
        /// `collective`. The whole pass runs even when the loss fails, so that every
        /// participant takes part in every sum.
        ///
        /// # Errors
        /// As [`Self::backward`], and the collective's errors.
        pub fn backward_with<const B: usize, C: #rt::Collective<#t>>(
            &self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            targets: &#targets_ty<B>,
            collective: &mut C,
        ) -> ::core::result::Result<#t, #rt::Error> {
            #backward_call
        }

        /// The computation of [`Self::backward_with`], inlined into it once per instruction-set
        /// level.
        #[doc(hidden)]
        #[inline(always)]
        fn __backward_body<const B: usize, C: #rt::Collective<#t>>(
            &self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            targets: &#targets_ty<B>,
            collective: &mut C,
        ) -> ::core::result::Result<#t, #rt::Error> {
            let params = &*self.params;
            let _ = (params, x, &collective);
            let loss = #loss_with_grad;
            #[allow(unused_labels)]
            let outcome: ::core::result::Result<(), #rt::Error> = 'layers: {
                #backward_steps
                ::core::result::Result::Ok(())
            };
            #frozen_zero_grads
            outcome?;
            loss
        }

        /// One training step on a batch: forward (training mode), loss, backward and an
        /// optimizer update. Returns the mean loss before the update.
        ///
        /// A step is a transaction: `Ok` means the loss and every parameter, running
        /// statistic and optimizer state value are finite; on `Err` the parameters, the
        /// running statistics, the dropout generator (if any) and the optimizer are exactly
        /// as before the call.
        ///
        /// # Errors
        /// As [`Self::backward`] and [`Self::forward_train`], and
        /// [`Error::NonFiniteValue`](::monograd::runtime::Error::NonFiniteValue) naming the
        /// parameter tensor whose gradient or update is not finite.
        pub fn train_step<const B: usize, O: #rt::optim::Optimizer<#t, #p>>(
            &mut self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            targets: &#targets_ty<B>,
            optimizer: &mut O,
        ) -> ::core::result::Result<#t, #rt::Error> {
            <Self as #rt::Network<#p>>::train_step(self, tape, x, targets, optimizer)
        }

        /// Mean loss on a batch in evaluation mode (running statistics; nothing updated).
        ///
        /// # Errors
        /// A target out of range, or a loss that is NaN or infinite.
        pub fn loss<const B: usize>(
            &self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            targets: &#targets_ty<B>,
        ) -> ::core::result::Result<#t, #rt::Error> {
            self.forward_with(tape, x);
            #loss_only
        }

        #fixed_functions
    }
}
