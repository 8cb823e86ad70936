//! What inference returns: the declared outputs (`output logits;`, `output embedding, logits;`)
//! or else what the loss takes. One output is a `[T; n]` per sample; several make a generated
//! `NetOutput { pub embedding: [T; 16], pub logits: [T; 10] }` (`Copy`), which `infer` fills from
//! the output nodes' buffers. Inference computes only the nodes the outputs need; the training
//! methods (`forward_train`, `forward_with`, `backward_from`, the `Network` trait's `Output`)
//! keep working on what the loss takes.

use proc_macro2::TokenStream;
use quote::quote;

use super::access::{eval_value_field, Access};
use super::layers::literal;
use super::plan::Plan;

/// Whether inference returns more than one node (the generated `NetOutput`).
pub fn multi_output(plan: &Plan) -> bool {
    plan.graph.outputs.len() > 1
}

/// The one output node whose values `infer` writes straight into `out` (no copy).
pub fn direct_output(plan: &Plan) -> Option<usize> {
    (!multi_output(plan)).then(|| plan.graph.outputs[0])
}

/// Elements of one output sample (all outputs together).
pub fn output_numel(plan: &Plan) -> usize {
    plan.graph.outputs.iter().map(|&i| plan.numel(i)).sum()
}

/// The type of one output sample of inference.
pub fn output_ty(plan: &Plan) -> TokenStream {
    if multi_output(plan) {
        let name = &plan.graph.output_struct;
        quote!(#name)
    } else {
        let (t, n) = (&plan.t, plan.numel(plan.graph.outputs[0]));
        quote!([#t; #n])
    }
}

/// A zero output sample.
pub fn zero(plan: &Plan) -> TokenStream {
    if multi_output(plan) {
        let name = &plan.graph.output_struct;
        quote!(<#name as ::core::default::Default>::default())
    } else {
        let (zero, n) = (literal(plan, 0.0), plan.numel(plan.graph.outputs[0]));
        quote!([#zero; #n])
    }
}

/// For every node, whether inference computes it: the outputs and everything they depend on
/// (and a max pooling that computes a needed ReLU before it).
pub fn needed(plan: &Plan) -> Vec<bool> {
    let nodes = &plan.graph.nodes;
    let mut needed = vec![false; nodes.len()];
    for &output in &plan.graph.outputs {
        needed[output] = true;
    }
    for i in (0..nodes.len()).rev() {
        if needed[i] {
            for &j in &nodes[i].inputs {
                needed[j] = true;
            }
        }
    }
    // A ReLU whose forward pass the next max pooling's call computes needs that call.
    for i in 0..nodes.len() {
        if super::layers::fused_relu_forward(plan, i).is_some_and(|relu| needed[relu]) {
            needed[i] = true;
        }
    }
    needed
}

/// Statements copying every output node's values (read through `access`) into the fields of
/// `out: &mut [NetOutput; B]`; nothing for a single output.
pub fn copy_out(plan: &Plan, access: &Access) -> TokenStream {
    if !multi_output(plan) {
        return quote!();
    }
    let copies = plan.graph.outputs.iter().map(|&i| {
        let field = output_field(plan, i);
        let src = access.value(plan, i);
        quote! {
            for (sample, value) in out.iter_mut().zip((#src).iter()) {
                sample.#field = *value;
            }
        }
    });
    quote!(#(#copies)*)
}

/// The return type (lifetime `'t`) and value of `forward_eval`: a reference to the one output's
/// buffer, or a tuple of references to every output's, in declaration order.
pub fn eval_return(plan: &Plan) -> (TokenStream, TokenStream) {
    let t = &plan.t;
    let mut types = Vec::new();
    let mut values = Vec::new();
    for &i in &plan.graph.outputs {
        let n = plan.numel(i);
        let field = eval_value_field(&plan.field(i));
        types.push(quote!(&'t [[#t; #n]; B]));
        values.push(quote!(&*tape.#field));
    }
    if multi_output(plan) {
        (quote!((#(#types),*)), quote!((#(#values),*)))
    } else {
        (types.remove(0), values.remove(0))
    }
}

/// Statements filling `out: [Output; B]` from `forward_eval`'s result `result`.
pub fn fill_from_eval(plan: &Plan) -> TokenStream {
    if !multi_output(plan) {
        return quote!(out = *result;);
    }
    let copies = plan.graph.outputs.iter().enumerate().map(|(k, &i)| {
        let field = output_field(plan, i);
        let k = syn::Index::from(k);
        quote! {
            for (sample, value) in out.iter_mut().zip(result.#k.iter()) {
                sample.#field = *value;
            }
        }
    });
    quote!(#(#copies)*)
}

/// An iterator expression over every value of the output sample `out`.
pub fn values_of(plan: &Plan) -> TokenStream {
    if !multi_output(plan) {
        return quote!(out.iter());
    }
    let fields: Vec<_> = plan
        .graph
        .outputs
        .iter()
        .map(|&i| output_field(plan, i))
        .collect();
    let (first, rest) = (&fields[0], &fields[1..]);
    quote!(out.#first.iter()#(.chain(out.#rest.iter()))*)
}

/// The field of `NetOutput` holding output node `i` (named after the node as declared, even
/// when its buffer is another node's).
fn output_field(plan: &Plan, i: usize) -> proc_macro2::Ident {
    let node = &plan.graph.nodes[i];
    quote::format_ident!("{}", node.name, span = proc_macro2::Span::call_site())
}

/// The generated `NetOutput` of a network with several outputs (nothing for one).
pub fn items(plan: &Plan) -> TokenStream {
    if !multi_output(plan) {
        return quote!();
    }
    let t = &plan.t;
    let graph = plan.graph;
    let (vis, name, output) = (&graph.vis, &graph.name, &graph.output_struct);
    let zero = literal(plan, 0.0);
    let fields: Vec<_> = graph
        .outputs
        .iter()
        .map(|&i| output_field(plan, i))
        .collect();
    let sizes: Vec<usize> = graph.outputs.iter().map(|&i| plan.numel(i)).collect();
    let docs = graph.outputs.iter().map(|&i| {
        let node = &graph.nodes[i];
        format!(
            "`{}` ({}): {} values per sample.",
            node.name,
            node.shape,
            node.shape.numel()
        )
    });
    let names: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    let doc = format!(
        "One output sample of [`{name}`]'s inference (`output {};`): what `infer`, `forward` \
         and `predict` return for each sample.",
        names.join(", ").replace('`', "")
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #output {
            #(#[doc = #docs] pub #fields: [#t; #sizes],)*
        }

        impl ::core::default::Default for #output {
            fn default() -> Self {
                Self { #(#fields: [#zero; #sizes],)* }
            }
        }
    }
}

/// The outputs per sample for the generated docs: `[10]`, or `embedding: [16], logits: [10]`.
pub fn shape_doc(graph: &crate::graph::Graph) -> String {
    if graph.outputs.len() == 1 {
        return graph.nodes[graph.outputs[0]].shape.to_string();
    }
    let parts: Vec<String> = graph
        .outputs
        .iter()
        .map(|&i| format!("`{}` {}", graph.nodes[i].name, graph.nodes[i].shape))
        .collect();
    format!("{} (a `{}`)", parts.join(", "), graph.output_struct)
}
