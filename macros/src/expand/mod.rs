//! Code generation from a checked graph: the network struct, its tape and activation structs,
//! associated consts, constructors, and the forward / backward / train-step methods.
//!
//! Generated code names everything by absolute path (`::monograd::runtime::...`), so it works
//! whatever the user imported, and every dimension it passes to a kernel is a literal.

mod access;
mod buffers;
mod emit;
mod fold;
mod frozen;
mod gradients;
mod hygiene;
mod inference;
mod inference_only;
mod init;
mod inputs;
mod io;
mod layers;
mod narrow;
mod network_trait;
mod outputs;
mod plan;
#[cfg(test)]
mod snapshot;
mod static_tape;
mod stream;
pub mod stub;
mod weights;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::graph::{shape, Graph, Op};
use access::Access;
use layers::{rt, Mode};
use plan::Plan;

/// Statements computing every node's values from `x`, `params` (and `state`).
fn forward_body(plan: &Plan, access: &Access, mode: Mode) -> TokenStream {
    let steps = (0..plan.node_count()).map(|i| layers::forward(plan, access, mode, i));
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

/// The generated items for `graph`: the network type and, when it can stream, its `Stream`.
pub fn expand(graph: &Graph) -> TokenStream {
    let mut items = expand_network(graph);
    items.extend(stream::items(graph));
    items
}

/// The network type and its companions.
fn expand_network(graph: &Graph) -> TokenStream {
    if !graph.has_loss {
        return inference_only::expand(graph);
    }
    let plan = Plan::new(graph);
    let rt = rt();
    let t = &plan.t;
    let vis = &graph.vis;
    let attrs = &graph.attrs;
    let name = &graph.name;
    let activations = format_ident!("{}Activations", name);
    let workspace = format_ident!("{}Workspace", name);
    let tape = format_ident!("{}Tape", name);
    let targets_ty = format_ident!("{}Targets", name);

    let p = plan.param_count;
    let s = plan.state_count;
    let input_n = plan.input_numel();
    let input_ty = inputs::input_ty(&plan);
    let input_items = inputs::items(&plan);
    let output_items = outputs::items(&plan);
    let output = graph.output_index();
    let output_n = plan.numel(output);
    let output_field = plan.field(output);

    let activations_items = buffers::activations(&plan, &activations);
    let act_per_sample = buffers::activations_per_sample(&plan);
    let workspace_items = buffers::workspace(&plan, &workspace);
    let (ws_per_sample, ws_fixed) = buffers::workspace_elements(&plan);
    let renorm = graph.nodes.iter().find_map(|node| match &node.op {
        Op::BatchRenorm(rn) => Some((rn.r_max, rn.d_max)),
        _ => None,
    });
    let (renorm_field, renorm_init, renorm_local, renorm_settings) = match renorm {
        Some((r_max, d_max)) => (
            quote! {
                /// Clipping limits of every `batch_renorm` layer in training: `r` to
                /// `[1/r_max, r_max]`, `d` to `[-d_max, d_max]`. Starts at the declared values;
                /// set it each step (e.g. from `RenormSchedule::limits`) to relax it over time.
                pub renorm_limits: #rt::ops::norm::RenormLimits,
            },
            quote!(renorm_limits: #rt::ops::norm::RenormLimits { r_max: #r_max, d_max: #d_max },),
            quote!(let renorm_limits = self.renorm_limits;),
            quote! {
                fn copy_settings_from(&mut self, source: &Self) {
                    self.renorm_limits = source.renorm_limits;
                }
            },
        ),
        None => (quote!(), quote!(), quote!(), quote!()),
    };
    let (dropout_field, dropout_init, dropout_seed) = layers::dropout_rng(graph);
    let frozen = frozen::items(&plan);
    let frozen_len = plan.frozen_len();
    let gradient_methods = gradients::methods(
        &plan,
        &gradients::Names {
            tape: &tape,
            targets: &targets_ty,
            frozen_zero_grads: &frozen.zero_grads,
        },
    );
    let (frozen_zero_grads, frozen_trait_items) = (&frozen.zero_grads, &frozen.trait_items);

    let targets_items = buffers::targets(&plan, &targets_ty);
    let tape_items = buffers::tape(
        &plan,
        &buffers::Names {
            activations: &activations,
            workspace: &workspace,
            tape: &tape,
        },
    );

    // ---- bodies ----------------------------------------------------------------------------------
    let forward_tape_train = forward_body(&plan, &Access::Tape, Mode::Train);
    let forward_tape_eval = forward_body(&plan, &Access::Tape, Mode::Eval);
    let inference = inference::items(&plan);
    let eval_struct = inference::eval_struct(&plan);
    let pack_len_batch = layers::gemm_pack_len(&plan, &quote!(batch));
    let loss_with_grad = layers::loss_call(&plan, &Access::Tape, true);
    let loss_only = layers::loss_call(&plan, &Access::Tape, false);
    let backward_steps = backward_body(&plan);
    let init_params = init::init_params(&plan);
    let init_state = init::init_state(&plan);

    let summary = summary_doc(&plan);
    let struct_doc = format!(
        "\n\nGenerated by `monograd::network!`: {p} parameters ({pb} bytes as `{t}`), input \
         {input_shape} per sample, output {output_shape} per sample.\n\n{summary}",
        pb = p * element_bytes(&plan),
        input_shape = inputs::shape_doc(graph),
        output_shape = outputs::shape_doc(graph),
    );

    let folded = fold::items(&plan);
    let (counter_field, counter_init) = (io::counter_field(&plan), io::counter_init(&plan));
    let count_batch = io::count_batch();
    let io_items = io::items(&plan);
    let weights_items = graph
        .weights
        .as_ref()
        .map(|decl| weights::items(&plan, decl));
    let static_items = static_tape::items(
        &plan,
        &static_tape::Names {
            name,
            activations: &activations,
            workspace: &workspace,
            tape: &tape,
        },
    );

    let network_impl = network_trait::items(&plan, &tape, &renorm_settings, frozen_trait_items);
    let items = [name, &activations, &workspace, &tape, &targets_ty]
        .iter()
        .map(|ident| ident.to_string())
        .chain(folded.as_ref().map(|_| format!("{name}Folded")))
        .collect::<Vec<_>>();
    hygiene::apply(
        quote! {
        #folded
        #input_items
        #output_items

        #(#attrs)*
        #[doc = #struct_doc]
        #[derive(Clone)]
        #vis struct #name {
            /// Every learned parameter, in one flat buffer; the layout is given by the
            /// associated `TensorInfo` consts and `PARAM_TENSORS`.
            pub params: #rt::Buffer<[#t; #p]>,
            /// Persistent non-learned state (normalization running statistics), flat; the
            /// layout is given by `STATE_TENSORS`.
            pub state: #rt::Buffer<[#t; #s]>,
            #counter_field
            #renorm_field
            #dropout_field
        }

        #io_items
        #weights_items
        #static_items

        #activations_items
        #workspace_items

        #tape_items

        #eval_struct

        impl<const B: usize> ::core::default::Default for #tape<B> {
            fn default() -> Self {
                Self::new()
            }
        }

        #targets_items

        impl #name {
            #inference

            #gradient_methods

            /// Bytes of the buffers a `Tape<batch>` holds: node outputs and their gradients, the
            /// parameter gradient, a copy of the state, layer scratch space and GEMM packing
            /// scratch. On the heap with feature `alloc`; without it the buffers are inline and
            /// this is exactly `size_of::<Tape<batch>>()` (no packing scratch).
            pub const fn tape_bytes(batch: usize) -> usize {
                (2 * batch * #act_per_sample + #p + #s + batch * #ws_per_sample + #ws_fixed
                    + #frozen_len + batch * #input_n
                    + #rt::ScratchBuffer::<#t>::held_len(#pack_len_batch))
                    * ::core::mem::size_of::<#t>()
            }

            /// A network with every parameter zero and the state at its initial value.
            pub fn zeroed() -> Self {
                let mut net = Self {
                    params: #rt::Buffer::zeroed(),
                    state: #rt::Buffer::zeroed(),
                    #counter_init
                    #renorm_init
                    #dropout_init
                };
                #init_state
                net
            }

            /// A network initialised from `seed`, each layer with its initializer; the same seed
            /// gives the same parameters on every platform.
            pub fn new(seed: u64) -> Self {
                let mut net = Self::zeroed();
                let rng = #rt::Rng::new(seed);
                #init_params
                #dropout_seed
                net
            }

            /// Inference (evaluation mode) on a batch into the tape's buffers (heap): node
            /// outputs are left in `tape.values`.
            pub fn forward_with<'t, const B: usize>(
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
            /// state is then left as it was.
            pub fn forward_train<'t, const B: usize>(
                &mut self,
                tape: &'t mut #tape<B>,
                x: &[#input_ty; B],
            ) -> ::core::result::Result<&'t [[#t; #output_n]; B], #rt::Error> {
                self.forward_train_with(tape, x, &mut #rt::Solo)
            }

            /// Forward pass in training mode on this participant's share `x` of a batch shared
            /// through `collective` (see `Network::forward_train_with`): batch normalization
            /// layers use the statistics of the global batch, summed through `collective`.
            ///
            /// # Errors
            /// As [`Self::forward_train`], and the collective's errors; the state is then left
            /// as it was.
            pub fn forward_train_with<'t, const B: usize, C: #rt::Collective<#t>>(
                &mut self,
                tape: &'t mut #tape<B>,
                x: &[#input_ty; B],
                collective: &mut C,
            ) -> ::core::result::Result<&'t [[#t; #output_n]; B], #rt::Error> {
                let _ = &collective;
                tape.state_before_forward.copy_from_slice(&self.state[..]);
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
            /// running statistics and the optimizer are exactly as before the call.
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
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!(#name))
                    .field("params", &::core::format_args!("[{}; {}]", ::core::stringify!(#t), #p))
                    .field("state", &::core::format_args!("[{}; {}]", ::core::stringify!(#t), #s))
                    .finish_non_exhaustive()
            }
        }

        #network_impl
        },
        &items,
    )
}

fn element_bytes(plan: &Plan) -> usize {
    match plan.graph.element {
        crate::graph::Element::F32 => 4,
        crate::graph::Element::F64 => 8,
    }
}

/// A Markdown table of the nodes, for the generated struct's docs.
fn summary_doc(plan: &Plan) -> String {
    let mut doc =
        String::from("| node | operation | output per sample | parameters |\n|---|---|---|---|\n");
    for (i, node) in plan.graph.nodes.iter().enumerate() {
        let op = node.op.doc_name();
        let shape = match node.op {
            Op::Loss(_) => "scalar".to_string(),
            _ => node.shape.to_string(),
        };
        let op = match node.inputs.first() {
            Some(&j) => {
                match shape::dropped_input(&node.op, &plan.graph.nodes[j].shape, &node.shape) {
                    Some(note) => format!("{op} ({note})"),
                    None => op,
                }
            }
            None => op,
        };
        doc.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            node.name,
            op,
            shape,
            plan.params[i].len()
        ));
    }
    doc
}
