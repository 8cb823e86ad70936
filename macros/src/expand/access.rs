//! Where generated code finds each buffer. The same op emission serves the heap tape (training
//! and batched evaluation) and the stack-only `infer` (firmware), which differ only in how a node's
//! values, gradients and workspaces are named.

use proc_macro2::TokenStream;
use quote::quote;

use super::emit::workspace_field;

use super::plan::Plan;

/// The local variable of `infer` holding a node's buffer or a scratch buffer. The prefix keeps
/// node names (which the user chooses: `x`, `out`, `params`, `weight`...) from shadowing the
/// function's own variables.
pub fn stack_local(field: &proc_macro2::Ident) -> proc_macro2::Ident {
    quote::format_ident!("node_{}", field)
}

/// The field of the evaluation buffers (`NetEval`) holding node `field`'s values.
pub fn eval_value_field(field: &proc_macro2::Ident) -> proc_macro2::Ident {
    quote::format_ident!("value_{}", field)
}

/// The field of the evaluation buffers (`NetEval`) holding the scratch buffer `field`.
pub fn eval_scratch_field(field: &proc_macro2::Ident) -> proc_macro2::Ident {
    quote::format_ident!("scratch_{}", field)
}

/// How the generated code reaches buffers in one context.
pub enum Access {
    /// Buffers live in `tape: &mut NetTape<B>`; the input is `x`.
    Tape,
    /// Buffers live in `tape: &mut NetEval<B>` (inference on the heap), fields prefixed
    /// `value_` (node outputs) and `scratch_` (layer scratch); the input is `x`.
    Eval,
    /// Buffers are locals of `infer`; the input is `x`, the output node writes into `out`.
    Stack,
}

impl Access {
    /// `&[[T; N]; B]` holding node `i`'s values.
    pub fn value(&self, plan: &Plan, i: usize) -> TokenStream {
        let root = plan.storage[i];
        if root == 0 {
            return quote!(x);
        }
        let field = plan.field(root);
        match self {
            Access::Tape => quote!(&*tape.values.#field),
            Access::Eval => {
                let field = eval_value_field(&field);
                quote!(&*tape.#field)
            }
            Access::Stack if root == plan.storage[plan.graph.output_index()] => quote!(&*out),
            Access::Stack => {
                let local = stack_local(&field);
                quote!(&#local)
            }
        }
    }

    /// `&mut [[T; N]; B]` for node `i`'s values.
    pub fn value_mut(&self, plan: &Plan, i: usize) -> TokenStream {
        let field = plan.field(plan.storage[i]);
        match self {
            Access::Tape => quote!(&mut *tape.values.#field),
            Access::Eval => {
                let field = eval_value_field(&field);
                quote!(&mut *tape.#field)
            }
            Access::Stack if plan.storage[i] == plan.storage[plan.graph.output_index()] => {
                quote!(&mut *out)
            }
            Access::Stack => {
                let local = stack_local(&field);
                quote!(&mut #local)
            }
        }
    }

    /// `&mut` to workspace buffer `what` of node `i` (a `Buffer` coerces to its array where a
    /// function expects the array).
    pub fn workspace(&self, plan: &Plan, i: usize, what: &str) -> TokenStream {
        self.scratch(&workspace_field(plan, i, what))
    }

    /// `&mut [T]` packing scratch for the GEMMs (`gemm_pack` of the tape or evaluation buffers;
    /// none on the stack, where the kernels take their unpacked, heap-free path).
    pub fn pack(&self) -> TokenStream {
        match self {
            Access::Tape | Access::Eval => quote!(&mut tape.gemm_pack[..]),
            Access::Stack => quote!(&mut []),
        }
    }

    /// `&mut` to the scratch buffer named `field` (a workspace item).
    pub fn scratch(&self, field: &proc_macro2::Ident) -> TokenStream {
        match self {
            Access::Tape => quote!(&mut tape.workspace.#field),
            Access::Eval => {
                let field = eval_scratch_field(field);
                quote!(&mut tape.#field)
            }
            Access::Stack => {
                let local = stack_local(field);
                quote!(&mut #local)
            }
        }
    }

    /// `&` to the scratch buffer named `field` (a workspace item).
    pub fn scratch_ref(&self, field: &proc_macro2::Ident) -> TokenStream {
        match self {
            Access::Tape => quote!(&tape.workspace.#field),
            Access::Eval => {
                let field = eval_scratch_field(field);
                quote!(&tape.#field)
            }
            Access::Stack => {
                let local = stack_local(field);
                quote!(&#local)
            }
        }
    }
}

/// `&[[T; N]; B]` holding the gradient of node `i` (in the tape).
pub fn grad(plan: &Plan, i: usize) -> TokenStream {
    let field = plan.field(plan.storage[i]);
    quote!(&*tape.grads.#field)
}

/// `&mut [[T; N]; B]` for the gradient of node `i` (in the tape); the input's is the tape's
/// `input_grad`.
pub fn grad_mut(plan: &Plan, i: usize) -> TokenStream {
    if plan.storage[i] == 0 {
        return quote!(&mut *tape.input_grad);
    }
    let field = plan.field(plan.storage[i]);
    quote!(&mut *tape.grads.#field)
}
