//! Training with no heap: `const` constructors of the network, its tape and their buffers, so
//! that a firmware crate can keep them in `static`s (`.bss` / `.data`) instead of building them
//! on a small stack.
//!
//! Without the runtime's feature `alloc` every `Buffer` is its array and has a constant value
//! (`Buffer::ZEROED`), and the GEMM packing scratch is empty (`ScratchBuffer::EMPTY`). The
//! constructors here are emitted inside `__without_alloc!`, so they exist exactly in those
//! builds: with a heap, `new()` allocates as before and nothing changes. They are generated only
//! where every field has a constant value: not the tape of a network whose layer scratch is
//! built by a run-time function (the normalization layers' batch statistics), nor the network
//! value when it has a dropout generator (seeded at run time). The crate docs say so.
//!
//! `NetTape::<B>::BYTES` (always) is `Net::tape_bytes(B)` as an associated const, for budget
//! checks such as `const _: () = assert!(NetTape::<4>::BYTES <= 48 * 1024);`.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::layers::{self, literal, rt};
use super::plan::Plan;
use crate::graph::Op;

/// The names of the generated types the constructors belong to.
pub struct Names<'a> {
    pub name: &'a Ident,
    pub activations: &'a Ident,
    pub workspace: &'a Ident,
    pub tape: &'a Ident,
}

/// The `const` constructors (inside `__without_alloc!`) and the tape's `BYTES`.
pub fn items(plan: &Plan, names: &Names) -> TokenStream {
    let rt = rt();
    let Names {
        name,
        activations,
        workspace,
        tape,
    } = names;
    let bytes_doc = format!(
        "Bytes of the buffers this tape holds, [`{name}::tape_bytes`]`(B)` as a constant: on \
         the heap with feature `alloc`, inline without it (then exactly `size_of::<Self>()`). \
         A firmware crate can check its budget at compile time: \
         `const _: () = assert!({tape}::<4>::BYTES <= 48 * 1024);`."
    );
    let bytes = quote! {
        impl<const B: usize> #tape<B> {
            #[doc = #bytes_doc]
            pub const BYTES: usize = #name::tape_bytes(B);
        }
    };
    let network = network_const(plan);
    let Some(workspace_fields) = workspace_consts(plan) else {
        return quote! {
            #bytes
            #rt::__without_alloc! { #network }
        };
    };
    let zero = quote!(#rt::Buffer::ZEROED);
    let activation_fields = plan.buffered().map(|i| {
        let field = plan.field(i);
        quote!(#field: #zero,)
    });
    let dropout = layers::dropout_rng(plan.graph).tape_init;
    let frozen = (plan.frozen_len() > 0).then(|| quote!(frozen_params: #zero,));
    let input_grad = super::inputs::input_grad_const(plan);
    quote! {
        #bytes

        #rt::__without_alloc! {
            impl<const B: usize> #activations<B> {
                /// All-zero buffers, as a constant (no heap: the buffers are inline).
                pub const ZEROED: Self = Self { #(#activation_fields)* };
            }

            impl<const B: usize> #workspace<B> {
                /// All-zero scratch, as a constant (no heap: the buffers are inline).
                pub const ZEROED: Self = Self { #(#workspace_fields)* };
            }

            impl<const B: usize> #tape<B> {
                /// [`Self::new`] as a `const fn` (only without a heap): a tape built at compile
                /// time, e.g. in a `static`, so its [`Self::BYTES`] never pass through the stack.
                /// GEMM packing scratch is empty without a heap (the kernels do not pack).
                pub const fn new_static() -> Self {
                    Self {
                        values: #activations::ZEROED,
                        grads: #activations::ZEROED,
                        param_grads: #zero,
                        workspace: #workspace::ZEROED,
                        state_before_forward: #zero,
                        #dropout
                        #frozen
                        input_grad: #input_grad,
                        gemm_pack: #rt::ScratchBuffer::EMPTY,
                    }
                }
            }

            #network
        }
    }
}

/// `field: value,` for every workspace item, or `None` when one has no constant value.
fn workspace_consts(plan: &Plan) -> Option<Vec<TokenStream>> {
    layers::all_workspace(plan)
        .iter()
        .map(|item| {
            let field = &item.field;
            item.const_init.as_ref().map(|init| quote!(#field: #init,))
        })
        .collect()
}

/// Whether the network value has a `const` constructor (`zeroed_static`, and
/// `from_weights_static` with a weights file): every field but a dropout generator (whose
/// seeding is not `const`) has a constant value.
pub fn network_is_const(plan: &Plan) -> bool {
    !plan
        .graph
        .nodes
        .iter()
        .any(|node| matches!(node.op, Op::Dropout { .. }))
}

/// `Net::zeroed_static()`: `zeroed` as a `const fn`, when [`network_is_const`].
fn network_const(plan: &Plan) -> TokenStream {
    if !network_is_const(plan) {
        return quote!();
    }
    let (rt, t, name) = (rt(), &plan.t, &plan.graph.name);
    let s = plan.state_count;
    let one = literal(plan, 1.0);
    // PyTorch's initial running variance is 1 (as `init::init_state` sets at run time).
    let ones = plan.state.iter().enumerate().flat_map(|(i, block)| {
        block
            .tensors
            .iter()
            .filter(|tensor| tensor.suffix == "running_var")
            .map(|tensor| {
                let (start, len) = (plan.state_offset(i, tensor.suffix), tensor.len());
                quote! {
                    let mut i = #start;
                    while i < #start + #len {
                        state[i] = #one;
                        i += 1;
                    }
                }
            })
            .collect::<Vec<_>>()
    });
    let counters = super::io::counter_init(plan);
    let renorm = super::renorm::init(plan.graph);
    quote! {
        impl #name {
            /// [`Self::zeroed`] as a `const fn` (only without a heap): every parameter zero and
            /// the state at its initial value, built at compile time, e.g. in a `static`.
            pub const fn zeroed_static() -> Self {
                let mut state = <[#t; #s] as #rt::ScalarArray>::ZEROED;
                #(#ones)*
                let _ = &mut state;
                Self {
                    params: #rt::Buffer::ZEROED,
                    state: #rt::Buffer::from_array(state),
                    #counters
                    #renorm
                }
            }
        }
    }
}
