//! Weights in and out: the `num_batches_tracked` counters, the `runtime::io::Persistent` impl,
//! and thin inherent methods over `runtime::io` (bytes with the runtime's `alloc`, files with
//! its `std`, whatever the user's crate enables).

use proc_macro2::TokenStream;
use quote::quote;

use super::layers::rt;
use super::plan::Plan;
use crate::graph::Op;

/// The PyTorch `state_dict` suffix of a tensor: Weight Norm's `g` and `v` take the names of
/// `torch.nn.utils.parametrizations.weight_norm` (the legacy `weight_g` / `weight_v` load too).
pub fn state_dict_suffix(suffix: &str) -> &str {
    match suffix {
        "weight_g" => "parametrizations.weight.original0",
        "weight_v" => "parametrizations.weight.original1",
        other => other,
    }
}

/// `X.num_batches_tracked` for each BatchNorm and Batch Renorm layer, in node order.
pub fn counter_names(plan: &Plan) -> Vec<String> {
    plan.graph
        .nodes
        .iter()
        .filter(|node| matches!(node.op, Op::BatchNorm(_) | Op::BatchRenorm(_)))
        .map(|node| format!("{}.num_batches_tracked", node.name))
        .collect()
}

/// The struct field holding the counters.
pub fn counter_field(plan: &Plan) -> TokenStream {
    let k = counter_names(plan).len();
    quote! {
        /// Training batches seen by each BatchNorm / Batch Renorm layer, in `COUNTER_NAMES`
        /// order (PyTorch's `num_batches_tracked`, saved with the weights).
        pub num_batches_tracked: [u64; #k],
    }
}

/// The field's initial value.
pub fn counter_init(plan: &Plan) -> TokenStream {
    let k = counter_names(plan).len();
    quote!(num_batches_tracked: [0u64; #k],)
}

/// Statement at the end of a training forward pass: every counted layer ran once.
pub fn count_batch() -> TokenStream {
    quote! {
        for count in self.num_batches_tracked.iter_mut() {
            *count = count.saturating_add(1);
        }
    }
}

/// The `Persistent` impl and the weights methods (bytes and files) of type `name`, whose
/// counters are `counters` (a field) or none, and whose dropout generator (saved by
/// checkpoints) is the field `dropout_rng`, if any.
pub fn weights_items(
    name: &syn::Ident,
    t: &TokenStream,
    counters: Option<TokenStream>,
    dropout_rng: Option<TokenStream>,
) -> TokenStream {
    let rt = rt();
    let (names, parts, parts_mut) = match counters {
        Some(field) => (
            quote!(#name::COUNTER_NAMES),
            quote!(&self.#field),
            quote!(&mut self.#field),
        ),
        None => (quote!(&[]), quote!(&[]), quote!(&mut [])),
    };
    let rng_accessors = match dropout_rng {
        Some(field) => quote! {
            fn dropout_rng(&self) -> ::core::option::Option<&#rt::Rng> {
                ::core::option::Option::Some(&self.#field)
            }
            fn dropout_rng_mut(&mut self) -> ::core::option::Option<&mut #rt::Rng> {
                ::core::option::Option::Some(&mut self.#field)
            }
        },
        None => quote!(),
    };
    quote! {
        #rt::__with_alloc! {
            impl #rt::io::Persistent for #name {
                type Element = #t;
                const PARAM_TENSORS: &'static [#rt::TensorInfo] = #name::PARAM_TENSORS;
                const STATE_TENSORS: &'static [#rt::TensorInfo] = #name::STATE_TENSORS;
                const COUNTER_NAMES: &'static [&'static str] = #names;
                fn zeroed_network() -> Self {
                    #name::zeroed()
                }
                fn persistent_parts(&self) -> (&[#t], &[#t], &[u64]) {
                    (&*self.params, &*self.state, #parts)
                }
                #rng_accessors
                fn persistent_parts_mut(&mut self) -> (&mut [#t], &mut [#t], &mut [u64]) {
                    (&mut *self.params, &mut *self.state, #parts_mut)
                }
            }

            impl #name {
                /// Every parameter, persistent state tensor and `num_batches_tracked` counter as
                /// a safetensors file, under PyTorch `state_dict` names and layouts.
                pub fn to_safetensors(&self) -> #rt::io::Bytes {
                    #rt::io::network_bytes(self)
                }

                /// A network from safetensors bytes, strictly (see `runtime::io`): F32, F64,
                /// F16 or BF16 tensors, every tensor present, no other.
                ///
                /// # Errors
                /// `Error::Weights`, naming the tensor, with what was expected and found.
                pub fn from_safetensors(bytes: &[u8]) -> ::core::result::Result<Self, #rt::Error> {
                    #rt::io::network_from_safetensors(bytes)
                }

                /// Loads safetensors bytes into this network with `options` (e.g.
                /// `LoadOptions::non_strict()`), reporting what was loaded and skipped. On
                /// error the network is unchanged.
                ///
                /// # Errors
                /// `Error::Weights`, naming the tensor.
                pub fn load_safetensors(
                    &mut self,
                    bytes: &[u8],
                    options: #rt::io::LoadOptions,
                ) -> ::core::result::Result<#rt::io::LoadReport, #rt::Error> {
                    #rt::io::network_load_safetensors(self, bytes, options)
                }
            }
        }

        #rt::__with_std! {
            impl #name {
                /// Saves the weights to `path` (safetensors) atomically: a failed save leaves
                /// the previous file intact.
                ///
                /// # Errors
                /// `Error::Weights` naming the file.
                pub fn save(
                    &self,
                    path: impl ::core::convert::AsRef<#rt::io::Path>,
                ) -> ::core::result::Result<(), #rt::Error> {
                    #rt::io::save_network(self, path)
                }

                /// A network from the safetensors file at `path`, strictly.
                ///
                /// # Errors
                /// `Error::Weights` naming the file and the tensor.
                pub fn load(
                    path: impl ::core::convert::AsRef<#rt::io::Path>,
                ) -> ::core::result::Result<Self, #rt::Error> {
                    #rt::io::load_network(path)
                }
            }
        }
    }
}

/// Weights methods of the folded type (no counters: it never trains; Weight Norm layers are
/// plain `X.weight` there).
pub fn folded_items(plan: &Plan) -> TokenStream {
    weights_items(&plan.graph.name, &plan.t, None, None)
}

/// Inherent consts and methods, and the `Persistent` impl, for `plan`'s network.
pub fn items(plan: &Plan) -> TokenStream {
    let rt = rt();
    let name = &plan.graph.name;
    let t = &plan.t;
    let p = plan.param_count;
    let names = counter_names(plan);
    let rng_field = super::layers::dropout_rng_field(plan.graph);
    let weights = weights_items(name, t, Some(quote!(num_batches_tracked)), rng_field);
    quote! {
        impl #name {
            /// Names of the int64 counters saved with the weights (`X.num_batches_tracked`).
            pub const COUNTER_NAMES: &'static [&'static str] = &[#(#names),*];
        }

        #weights

        #rt::__with_alloc! {
            impl #name {
                /// A training checkpoint as bytes: the network, `optimizer`'s state,
                /// `progress` and the data shuffler's position (see
                /// `runtime::io::checkpoint`).
                ///
                /// # Errors
                /// Never for a generated network (kept for the file variant's symmetry).
                pub fn checkpoint_to_safetensors<O>(
                    &self,
                    optimizer: &O,
                    progress: #rt::io::Progress,
                    shuffler: ::core::option::Option<&dyn #rt::io::ShufflerState>,
                ) -> ::core::result::Result<#rt::io::Bytes, #rt::Error>
                where
                    O: #rt::optim::Optimizer<#t, #p> + #rt::optim::Describe,
                {
                    #rt::io::checkpoint::to_safetensors::<#p, _, _>(self, optimizer, progress, shuffler)
                }

                /// Restores a checkpoint into this network, `optimizer` and the shuffler, and
                /// returns the saved progress. On error nothing changes.
                ///
                /// # Errors
                /// `Error::Weights`: a tensor problem, or a checkpoint of another optimizer or
                /// configuration (naming the field).
                pub fn checkpoint_from_safetensors<O>(
                    &mut self,
                    bytes: &[u8],
                    optimizer: &mut O,
                    shuffler: ::core::option::Option<&mut dyn #rt::io::ShufflerState>,
                ) -> ::core::result::Result<#rt::io::Progress, #rt::Error>
                where
                    O: #rt::optim::Optimizer<#t, #p> + #rt::optim::Describe,
                {
                    #rt::io::checkpoint::load_safetensors::<#p, _, _>(bytes, self, optimizer, shuffler)
                }
            }
        }

        #rt::__with_std! {
            impl #name {
                /// Saves a training checkpoint to `path` atomically.
                ///
                /// # Errors
                /// `Error::Weights` naming the file; the previous checkpoint is intact.
                pub fn save_checkpoint<O>(
                    &self,
                    path: impl ::core::convert::AsRef<#rt::io::Path>,
                    optimizer: &O,
                    progress: #rt::io::Progress,
                    shuffler: ::core::option::Option<&dyn #rt::io::ShufflerState>,
                ) -> ::core::result::Result<(), #rt::Error>
                where
                    O: #rt::optim::Optimizer<#t, #p> + #rt::optim::Describe,
                {
                    #rt::io::checkpoint::save::<#p, _, _>(path, self, optimizer, progress, shuffler)
                }

                /// Restores the checkpoint at `path`; on error nothing changes.
                ///
                /// # Errors
                /// As `checkpoint_from_safetensors`, naming the file.
                pub fn load_checkpoint<O>(
                    &mut self,
                    path: impl ::core::convert::AsRef<#rt::io::Path>,
                    optimizer: &mut O,
                    shuffler: ::core::option::Option<&mut dyn #rt::io::ShufflerState>,
                ) -> ::core::result::Result<#rt::io::Progress, #rt::Error>
                where
                    O: #rt::optim::Optimizer<#t, #p> + #rt::optim::Describe,
                {
                    #rt::io::checkpoint::load::<#p, _, _>(path, self, optimizer, shuffler)
                }
            }
        }
    }
}
