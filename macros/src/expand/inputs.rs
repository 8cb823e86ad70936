//! More than one input: `input a: [16]; input b: [4];` makes the network's input type a
//! generated `NetInput { pub a: [T; 16], pub b: [T; 4] }` (`Copy`), so that every method taking
//! a batch `&[Input; B]` (and `MiniBatches`, `accuracy`, ...) works unchanged. The kernels want
//! each input as a contiguous `[[T; n]; B]`, so the forward pass first copies every field of the
//! batch into the input node's own buffer (in the tape, the evaluation buffers or on `infer`'s
//! stack); the gradient with respect to the inputs is a `NetInputGrad<B>` with one buffer per
//! input. A single input keeps its `[T; N]` type and is read in place.

use proc_macro2::TokenStream;
use quote::quote;

use super::access::Access;
use super::layers::{literal, rt};
use super::plan::Plan;

/// The type of one input sample: `[T; N]`, or the generated struct of a multi-input network.
pub fn input_ty(plan: &Plan) -> TokenStream {
    if plan.multi_input() {
        let name = &plan.graph.input_struct;
        quote!(#name)
    } else {
        let (t, n) = (&plan.t, plan.numel(0));
        quote!([#t; #n])
    }
}

/// The type of the tape's `input_grad`.
pub fn input_grad_ty(plan: &Plan) -> TokenStream {
    if plan.multi_input() {
        let name = input_grad_struct(plan);
        quote!(#name<B>)
    } else {
        let (rt, t, n) = (rt(), &plan.t, plan.numel(0));
        quote!(#rt::Buffer<[[#t; #n]; B]>)
    }
}

/// The expression initialising the tape's `input_grad`.
pub fn input_grad_init(plan: &Plan) -> TokenStream {
    if plan.multi_input() {
        let name = input_grad_struct(plan);
        quote!(#name::zeroed())
    } else {
        let rt = rt();
        quote!(#rt::Buffer::zeroed())
    }
}

/// The constant zero value of the tape's `input_grad` (for the heap-free `const` tape).
pub fn input_grad_const(plan: &Plan) -> TokenStream {
    if plan.multi_input() {
        let name = input_grad_struct(plan);
        quote!(#name::ZEROED)
    } else {
        let rt = rt();
        quote!(#rt::Buffer::ZEROED)
    }
}

/// What `input_grad_from` returns (with lifetime `'t`) and the expression returning it.
pub fn input_grad_return(plan: &Plan) -> (TokenStream, TokenStream) {
    if plan.multi_input() {
        let name = input_grad_struct(plan);
        (quote!(&'t #name<B>), quote!(&tape.input_grad))
    } else {
        let (t, n) = (&plan.t, plan.numel(0));
        (quote!(&'t [[#t; #n]; B]), quote!(&*tape.input_grad))
    }
}

fn input_grad_struct(plan: &Plan) -> proc_macro2::Ident {
    quote::format_ident!("{}Grad", plan.graph.input_struct)
}

/// The statement copying input `i`'s field of every sample of `x` into the input's buffer (a
/// multi-input network); nothing for a single input, which is read in place.
pub fn copy_in(plan: &Plan, access: &Access, i: usize) -> TokenStream {
    if !plan.multi_input() {
        return quote!();
    }
    let field = plan.field(i);
    let dst = access.value_mut(plan, i);
    quote! {
        for (value, sample) in (#dst).iter_mut().zip(x.iter()) {
            *value = sample.#field;
        }
    }
}

/// The generated `NetInput` and `NetInputGrad<B>` of a multi-input network (nothing for one
/// input).
pub fn items(plan: &Plan) -> TokenStream {
    if !plan.multi_input() {
        return quote!();
    }
    let (rt, t) = (rt(), &plan.t);
    let graph = plan.graph;
    let (vis, name, input) = (&graph.vis, &graph.name, &graph.input_struct);
    let grad = input_grad_struct(plan);
    let zero = literal(plan, 0.0);
    let inputs = 0..graph.inputs;
    let fields: Vec<_> = inputs.clone().map(|i| plan.field(i)).collect();
    let sizes: Vec<usize> = inputs.clone().map(|i| plan.numel(i)).collect();
    let docs = inputs.clone().map(|i| {
        let node = &graph.nodes[i];
        format!(
            "`input {}: {}`: {} values per sample{}.",
            node.name,
            node.shape,
            node.shape.numel(),
            if node.shape.0.len() > 1 {
                " (flattened in that order)"
            } else {
                ""
            }
        )
    });
    let grad_docs = inputs.map(|i| {
        format!(
            "Gradient with respect to `{}`, per sample.",
            graph.nodes[i].name
        )
    });
    let names: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    let doc = format!(
        "One input sample of [`{name}`], which declares {} inputs ({}): the element type of every \
         batch `&[{input}; B]` its methods take (`train_step`, `forward`, `predict`, ...).",
        fields.len(),
        names.join(", ")
    );
    let grad_doc = format!(
        "The gradient with respect to every input of [`{name}`] for a batch of `B` samples, one \
         buffer per input: what `{name}::input_grad_from` returns and \
         `{name}::backward_with_input_grad` leaves in the tape's `input_grad`."
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #input {
            #(#[doc = #docs] pub #fields: [#t; #sizes],)*
        }

        impl ::core::default::Default for #input {
            fn default() -> Self {
                Self { #(#fields: [#zero; #sizes],)* }
            }
        }

        #[doc = #grad_doc]
        #vis struct #grad<const B: usize> {
            #(#[doc = #grad_docs] pub #fields: #rt::Buffer<[[#t; #sizes]; B]>,)*
        }

        impl<const B: usize> #grad<B> {
            /// All-zero buffers (heap-allocated with feature `alloc`).
            pub fn zeroed() -> Self {
                Self { #(#fields: #rt::Buffer::zeroed(),)* }
            }
        }

        #rt::__without_alloc! {
            impl<const B: usize> #grad<B> {
                /// All-zero buffers, as a constant (no heap: the buffers are inline).
                pub const ZEROED: Self = Self { #(#fields: #rt::Buffer::ZEROED,)* };
            }
        }
    }
}

/// The input per sample for the generated docs: `[1, 28, 28]`, or `a: [16], b: [4]` (a
/// multi-input network).
pub fn shape_doc(graph: &crate::graph::Graph) -> String {
    if graph.inputs == 1 {
        return graph.nodes[0].shape.to_string();
    }
    let parts: Vec<String> = graph.nodes[..graph.inputs]
        .iter()
        .map(|node| format!("`{}` {}", node.name, node.shape))
        .collect();
    format!("{} (a `{}`)", parts.join(", "), graph.input_struct)
}
