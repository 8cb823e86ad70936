//! Layers declared `frozen = true` (fine-tuning): their parameter gradient is zero (not
//! computed at all when no trainable layer comes before them, see `Plan::needs_grad`), and a
//! training step puts their parameters back after the optimizer update, through the tape's
//! `frozen_params` copy, so that weight decay does not move them either.

use proc_macro2::TokenStream;
use quote::quote;

use super::layers::{literal, rt};
use super::plan::Plan;

/// The generated pieces, each empty when no layer is frozen.
pub struct Frozen {
    /// A tape field holding the frozen parameters during an optimizer step.
    pub tape_field: TokenStream,
    pub tape_init: TokenStream,
    /// Statements of `backward` zeroing the frozen layers' parameter gradients.
    pub zero_grads: TokenStream,
    /// `frozen_ranges` and `frozen_scratch` of the `Network` impl.
    pub trait_items: TokenStream,
}

pub fn items(plan: &Plan) -> Frozen {
    let ranges = plan.frozen_ranges();
    if ranges.is_empty() {
        return Frozen {
            tape_field: quote!(),
            tape_init: quote!(),
            zero_grads: quote!(),
            trait_items: quote!(),
        };
    }
    let (rt, t) = (rt(), &plan.t);
    let len = plan.frozen_len();
    let zero = literal(plan, 0.0);
    let fills = ranges
        .iter()
        .map(|(start, end)| quote!(tape.param_grads[#start..#end].fill(#zero);));
    let pairs = ranges.iter().map(|(start, end)| quote!((#start, #end)));
    Frozen {
        tape_field: quote! {
            /// The parameters of the frozen layers, kept during an optimizer step and put back
            /// after it.
            pub frozen_params: #rt::Buffer<[#t; #len]>,
        },
        tape_init: quote!(frozen_params: #rt::Buffer::zeroed(),),
        zero_grads: quote!(#(#fills)*),
        trait_items: quote! {
            fn frozen_ranges() -> &'static [(usize, usize)] {
                &[#(#pairs),*]
            }
            fn frozen_scratch<const B: usize>(tape: &mut Self::Tape<B>) -> &mut [#t] {
                &mut tape.frozen_params[..]
            }
        },
    }
}
