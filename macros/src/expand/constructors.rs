//! `Net::zeroed()` and `Net::new(seed)`: every network's constructors (the `const` ones of
//! builds without a heap are in `static_tape.rs`).

use proc_macro2::TokenStream;
use quote::quote;

use super::init;
use super::layers::{self, rt};
use super::network_struct::Fields;
use super::plan::Plan;

/// `zeroed()` (parameters zero, state at its initial value, `fields` at theirs) and `new(seed)`
/// (each layer's initializer, then the dropout generator's seed).
pub fn items(plan: &Plan, fields: &Fields) -> TokenStream {
    let rt = rt();
    let init_params = init::init_params(plan);
    let init_state = init::init_state(plan);
    let dropout_seed = layers::dropout_rng(plan.graph).seed;
    let field_inits = &fields.inits;
    quote! {
        /// A network with every parameter zero and the state at its initial value.
        pub fn zeroed() -> Self {
            let mut net = Self {
                params: #rt::Buffer::zeroed(),
                state: #rt::Buffer::zeroed(),
                #field_inits
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
    }
}
