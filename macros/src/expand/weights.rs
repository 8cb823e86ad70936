//! `weights = "model.safetensors";`: the parameters and running statistics compiled in.
//!
//! At expansion the file (relative to the user crate's `CARGO_MANIFEST_DIR`) is read and checked
//! like the runtime's strict loader checks it (same names, Weight Norm's legacy names accepted,
//! `X.num_batches_tracked` optional, F32/F64/F16/BF16 converted to the element type, no other
//! tensor, every value finite). Any problem is a compile error on the `weights` token. The
//! values become `static`s behind `PARAMS_STATIC` / `STATE_STATIC`, and an `include_bytes!` of
//! the file makes Cargo rebuild the crate when it changes. A BatchNorm after a dense or conv
//! layer is folded into it here too, and Weight Norm's `g * v / ||v||` is computed (the folded
//! type gets its own statics, which `infer_static` runs on: one weight tensor per layer).

use std::path::{Component, Path, PathBuf};

use proc_macro2::{Literal, Punct, Spacing, TokenStream, TokenTree};
use quote::quote;
use safetensors::{Dtype, SafeTensors};

use super::fold::{folded_graph, Fold};
use super::io::{counter_names, state_dict_suffix};
use super::plan::Plan;
use crate::graph::Element;
use crate::parse::WeightsDecl;

/// The items of a network declared with `weights = "...";`: a compile error on the `weights`
/// token if the file does not match the declaration (the items are then emitted with zeros, so
/// that uses of them do not add errors of their own).
pub fn items(plan: &Plan, decl: &WeightsDecl) -> TokenStream {
    let (values, error) = match read(plan, decl) {
        Ok(values) => (values, None),
        Err(message) => (
            Values::zeros(plan),
            Some(syn::Error::new(decl.keyword.span(), message).to_compile_error()),
        ),
    };
    let t = &plan.t;
    let name = &plan.graph.name;
    let (p, s) = (plan.param_count, plan.state_count);
    let input_ty = super::inputs::input_ty(plan);
    let output_ty = super::outputs::output_ty(plan);
    let file = decl.path.value();
    let params = elements(plan.graph.element, &values.params);
    let state = elements(plan.graph.element, &values.state);
    let counters = &values.counters;
    let rebuild = values.absolute.as_ref().map(|path| {
        let path = path.to_string_lossy().into_owned();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    });
    let params_doc = format!(
        "The {p} parameters compiled in from `{file}`, in `PARAM_TENSORS` order: a `static` \
         (flash on a microcontroller), so inference from them needs no RAM for weights."
    );
    let state_doc = format!(
        "The {s} running statistics compiled in from `{file}`, in `STATE_TENSORS` order (a \
         `static`)."
    );
    let (folded_items, infer_call) = match folded_statics(plan, &values, &file) {
        Some(Err(message)) => (
            Some(syn::Error::new(decl.keyword.span(), message).to_compile_error()),
            quote!(Self::infer::<B>(Self::PARAMS_STATIC, Self::STATE_STATIC, x, out);),
        ),
        Some(Ok(folded)) => (
            Some(folded),
            quote!(#name::__monograd_folded_infer_static::<B>(x, out);),
        ),
        None => (
            None,
            quote!(Self::infer::<B>(Self::PARAMS_STATIC, Self::STATE_STATIC, x, out);),
        ),
    };
    let from_doc = format!(
        "A network holding the weights compiled in from `{file}` (copied into its own buffers; \
         [`Self::infer_static`] uses them in place)."
    );
    let static_constructor = (plan.graph.has_loss && super::static_tape::network_is_const(plan))
        .then(|| {
            let rt = super::layers::rt();
            let doc = format!(
                "[`Self::from_weights`] as a `const fn` (only without a heap): a trainable \
                 network starting from the weights compiled in from `{file}`, built at compile \
                 time, e.g. in a `static` (`.data`: the initial values are copied from flash \
                 at startup), so its buffers never pass through the stack."
            );
            quote! {
                #rt::__without_alloc! {
                    impl #name {
                        #[doc = #doc]
                        pub const fn from_weights_static() -> Self {
                            let mut net = Self::zeroed_static();
                            net.params = #rt::Buffer::from_array(*Self::PARAMS_STATIC);
                            net.state = #rt::Buffer::from_array(*Self::STATE_STATIC);
                            net.num_batches_tracked = [#(#counters),*];
                            net
                        }
                    }
                }
            }
        });
    quote! {
        #error
        #rebuild
        #folded_items
        #static_constructor

        impl #name {
            /// The weights file of the declaration, relative to the crate's manifest directory.
            pub const WEIGHTS_FILE: &'static str = #file;

            #[doc = #params_doc]
            pub const PARAMS_STATIC: &'static [#t; #p] = {
                static VALUES: [#t; #p] = [#(#params),*];
                &VALUES
            };

            #[doc = #state_doc]
            pub const STATE_STATIC: &'static [#t; #s] = {
                static VALUES: [#t; #s] = [#(#state),*];
                &VALUES
            };

            /// [`Self::infer`] with the compiled-in weights: stack only, no heap, no RAM for
            /// weights. When the network has a BatchNorm after a dense or conv layer, it runs the
            /// folded type's inference on its own compiled-in `PARAMS_STATIC` (folded at
            /// expansion), otherwise on [`Self::PARAMS_STATIC`] and [`Self::STATE_STATIC`].
            pub fn infer_static<const B: usize>(
                x: &[#input_ty; B],
                out: &mut [#output_ty; B],
            ) {
                #infer_call
            }

            #[doc = #from_doc]
            pub fn from_weights() -> Self {
                let mut net = Self::zeroed();
                *net.params = *Self::PARAMS_STATIC;
                *net.state = *Self::STATE_STATIC;
                net.num_batches_tracked = [#(#counters),*];
                net
            }
        }
    }
}

/// The compiled-in weights of the folded type (`NetFolded::PARAMS_STATIC` / `STATE_STATIC`,
/// `NetFolded::infer_static`) when the network has something to fold: a BatchNorm after a dense
/// or conv layer, or Weight Norm (`g * v / ||v||` computed here, so the firmware carries one
/// weight tensor per layer). An error message when a Weight Norm row cannot be folded.
fn folded_statics(plan: &Plan, values: &Values, file: &str) -> Option<Result<TokenStream, String>> {
    let (graph, folds) = folded_graph(plan.graph)?;
    let folded_plan = Plan::new(&graph);
    let (params, state) = match fold_values(plan, &folded_plan, &folds, values) {
        Ok(values) => values,
        Err(message) => return Some(Err(format!("weights file `{file}`: {message}"))),
    };
    let element = plan.graph.element;
    let t = &plan.t;
    let name = &plan.graph.name;
    let folded = &graph.name;
    let (p, s) = (folded_plan.param_count, folded_plan.state_count);
    let input_ty = super::inputs::input_ty(plan);
    let output_ty = super::outputs::output_ty(plan);
    let params = elements(element, &params);
    let state = elements(element, &state);
    let params_doc = format!(
        "The {p} parameters compiled in from `{file}` with every BatchNorm after a dense or \
         conv layer folded into it, and every Weight Norm weight computed, at expansion (a \
         `static`)."
    );
    Some(Ok(quote! {
        impl #folded {
            #[doc = #params_doc]
            pub const PARAMS_STATIC: &'static [#t; #p] = {
                static VALUES: [#t; #p] = [#(#params),*];
                &VALUES
            };

            /// Running statistics of the normalization layers that were not folded (a `static`).
            pub const STATE_STATIC: &'static [#t; #s] = {
                static VALUES: [#t; #s] = [#(#state),*];
                &VALUES
            };

            /// [`Self::infer`] with the compiled-in, folded weights: stack only, no heap, no RAM
            /// for weights.
            pub fn infer_static<const B: usize>(
                x: &[#input_ty; B],
                out: &mut [#output_ty; B],
            ) {
                Self::infer::<B>(Self::PARAMS_STATIC, Self::STATE_STATIC, x, out);
            }
        }

        impl #name {
            #[doc(hidden)]
            pub fn __monograd_folded_infer_static<const B: usize>(
                x: &[#input_ty; B],
                out: &mut [#output_ty; B],
            ) {
                #folded::infer_static::<B>(x, out);
            }
        }
    }))
}

/// `value` rounded to the element type: f32 arithmetic emulated in f64 (one f64 operation on f32
/// operands, then rounding, is the correctly rounded f32 result), so the folded values are those
/// of the runtime's `fold_batch_norm`.
fn round(element: Element, value: f64) -> f64 {
    match element {
        Element::F32 => f64::from(value as f32),
        Element::F64 => value,
    }
}

/// The folded type's parameters and state from the network's, as `Net::fold` computes them:
/// Weight Norm's `W = g v / ||v||` per output row (`runtime::ops::norm::weight_norm_forward`:
/// `||v||` the square root of the in-order sum of squares, `W = (g / ||v||) v`), then each
/// folded BatchNorm (`runtime::ops::norm::fold_batch_norm`): `scale = gamma / sqrt(var + eps)`,
/// `W' = W scale`, `b' = scale (b - mean) + beta`. Every operation is rounded to the element
/// type, so the values are the run-time fold's, bit for bit.
///
/// # Errors
/// A Weight Norm row of `v` whose norm is zero or not finite (where `W` is undefined).
fn fold_values(
    plan: &Plan,
    folded: &Plan,
    folds: &[Fold],
    values: &Values,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let r = |v: f64| round(plan.graph.element, v);
    let mut params = vec![0.0; folded.param_count];
    let mut state = vec![0.0; folded.state_count];
    for i in 0..plan.node_count() {
        let (from, to) = (&plan.params[i], &folded.params[i]);
        match (from.tensor("weight_g"), from.tensor("weight_v")) {
            (Some(g), Some(v)) => {
                let weight = to
                    .tensor("weight")
                    .expect("Weight Norm folds into a weight");
                let (out, k) = (weight.shape[0], weight.len() / weight.shape[0]);
                for o in 0..out {
                    let row = &values.params[v.offset + o * k..v.offset + (o + 1) * k];
                    let norm = r(row.iter().fold(0.0, |sum, &x| r(sum + r(x * x))).sqrt());
                    if norm == 0.0 || !norm.is_finite() {
                        let name = &plan.graph.nodes[i].name;
                        return Err(format!(
                            "tensor `{name}.parametrizations.weight.original1` (Weight Norm's \
                             v) has row {o} with norm {norm}; its weight g v / ||v|| is \
                             undefined, so the layer cannot be folded"
                        ));
                    }
                    let scale = r(values.params[g.offset + o] / norm);
                    for (w, &x) in params[weight.offset + o * k..weight.offset + (o + 1) * k]
                        .iter_mut()
                        .zip(row)
                    {
                        *w = r(scale * x);
                    }
                }
                if let (Some(a), Some(b)) = (from.tensor("bias"), to.tensor("bias")) {
                    params[b.offset..b.offset + b.len()]
                        .copy_from_slice(&values.params[a.offset..a.offset + a.len()]);
                }
            }
            _ => {
                for (a, b) in from.tensors.iter().zip(&to.tensors) {
                    params[b.offset..b.offset + b.len()]
                        .copy_from_slice(&values.params[a.offset..a.offset + a.len()]);
                }
            }
        }
        for (a, b) in plan.state[i].tensors.iter().zip(&folded.state[i].tensors) {
            state[b.offset..b.offset + b.len()]
                .copy_from_slice(&values.state[a.offset..a.offset + a.len()]);
        }
        let Some(fold) = folds.iter().find(|f| f.layer == i) else {
            continue;
        };
        let weight = to
            .tensor("weight")
            .expect("a dense or conv layer has a weight");
        let bias = to.tensor("bias").expect("a folded layer has a bias");
        let (out, k) = (weight.shape[0], weight.len() / weight.shape[0]);
        let source_bias = from.tensor("bias").map(|t| t.offset);
        let norm_params = &plan.params[fold.norm];
        let norm_state = &plan.state[fold.norm];
        let per_channel = |tensor: Option<&super::plan::Tensor>, buffer: &[f64], default: f64| {
            (0..out)
                .map(|o| tensor.map_or(default, |t| buffer[t.offset + o]))
                .collect::<Vec<f64>>()
        };
        let gamma = per_channel(norm_params.tensor("weight"), &values.params, 1.0);
        let beta = per_channel(norm_params.tensor("bias"), &values.params, 0.0);
        let mean = per_channel(norm_state.tensor("running_mean"), &values.state, 0.0);
        let var = per_channel(norm_state.tensor("running_var"), &values.state, 1.0);
        let eps = r(fold.eps);
        for o in 0..out {
            let scale = r(gamma[o] / r(r(var[o] + eps).sqrt()));
            for w in &mut params[weight.offset + o * k..weight.offset + (o + 1) * k] {
                *w = r(*w * scale);
            }
            let b = source_bias.map_or(0.0, |offset| values.params[offset + o]);
            params[bias.offset + o] = r(r(scale * r(b - mean[o])) + beta[o]);
        }
    }
    Ok((params, state))
}

/// What the file holds, in buffer order.
struct Values {
    params: Vec<f64>,
    state: Vec<f64>,
    counters: Vec<u64>,
    /// The file read, for `include_bytes!`.
    absolute: Option<PathBuf>,
}

impl Values {
    fn zeros(plan: &Plan) -> Self {
        Self {
            params: vec![0.0; plan.param_count],
            state: vec![0.0; plan.state_count],
            counters: vec![0; counter_names(plan).len()],
            absolute: None,
        }
    }
}

/// One tensor the declaration needs: its state-dict name, shape and place in a buffer.
struct Wanted {
    name: String,
    shape: Vec<usize>,
    offset: usize,
    state: bool,
}

fn wanted(plan: &Plan) -> Vec<Wanted> {
    let mut out = Vec::new();
    for (i, node) in plan.graph.nodes.iter().enumerate() {
        for (blocks, state) in [(&plan.params[i], false), (&plan.state[i], true)] {
            for tensor in &blocks.tensors {
                out.push(Wanted {
                    name: format!("{}.{}", node.name, state_dict_suffix(tensor.suffix)),
                    shape: tensor.shape.clone(),
                    offset: tensor.offset,
                    state,
                });
            }
        }
    }
    out
}

/// The name a file's tensor goes by in the network (the runtime's `canonical_name`): Weight
/// Norm's legacy `X.weight_g` / `X.weight_v` are `X.parametrizations.weight.original0` / `1`.
fn canonical_name(name: &str) -> String {
    for (legacy, modern) in [
        ("weight_g", "parametrizations.weight.original0"),
        ("weight_v", "parametrizations.weight.original1"),
    ] {
        if let Some(prefix) = name.strip_suffix(legacy) {
            if prefix.is_empty() || prefix.ends_with('.') {
                return format!("{prefix}{modern}");
            }
        }
    }
    name.to_string()
}

/// `path` with `.` and `..` resolved lexically (the file may not exist, so no `canonicalize`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Reads and checks the file; the error message names the file and the tensor.
fn read(plan: &Plan, decl: &WeightsDecl) -> Result<Values, String> {
    let file = decl.path.value();
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
        format!(
            "cannot locate the weights file `{file}`: CARGO_MANIFEST_DIR is not set (the path \
             is relative to the crate's manifest directory; build with cargo)"
        )
    })?;
    let absolute = normalize(&Path::new(&manifest_dir).join(&file));
    let bytes = std::fs::read(&absolute).map_err(|error| {
        format!(
            "cannot read the weights file `{file}`: tried `{}` ({error}); the path is relative \
             to the crate's manifest directory",
            absolute.display()
        )
    })?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|error| format!("the weights file `{file}` is not a safetensors file: {error}"))?;
    let wanted = wanted(plan);
    let counter_names = counter_names(plan);
    let mut values = Values::zeros(plan);
    values.absolute = Some(absolute);
    let mut found = vec![None::<String>; wanted.len()];
    let mut names: Vec<(String, safetensors::tensor::TensorView)> = tensors.tensors();
    // Declaration order (a layer's weight before its bias), then unknown names by name.
    names.sort_by_key(|(name, _)| {
        let canonical = canonical_name(name);
        let place = wanted.iter().position(|w| w.name == canonical);
        (place.unwrap_or(usize::MAX), name.clone())
    });
    for (name, view) in &names {
        let canonical = canonical_name(name);
        if let Some(k) = counter_names.iter().position(|c| *c == canonical) {
            if view.dtype() != Dtype::I64 || !view.shape().is_empty() {
                return Err(format!(
                    "weights file `{file}`: tensor `{name}` is {:?} with shape {:?}; the \
                     declaration needs an I64 scalar (shape [])",
                    view.dtype(),
                    view.shape()
                ));
            }
            let data = view.data();
            let count = i64::from_le_bytes(data[..8].try_into().expect("8 bytes, checked"));
            values.counters[k] = u64::try_from(count).unwrap_or(0);
            continue;
        }
        let Some(k) = wanted.iter().position(|w| w.name == canonical) else {
            let expected: Vec<&str> = wanted.iter().map(|w| w.name.as_str()).collect();
            return Err(format!(
                "weights file `{file}`: tensor `{name}` is not in the declaration, which has \
                 {}",
                expected.join(", ")
            ));
        };
        if let Some(previous) = &found[k] {
            return Err(format!(
                "weights file `{file}`: tensor `{}` is in the file twice, as `{previous}` and \
                 `{name}`",
                wanted[k].name
            ));
        }
        found[k] = Some(name.clone());
        let target = &wanted[k];
        if view.shape() != target.shape.as_slice() {
            return Err(format!(
                "weights file `{file}`: tensor `{name}` has shape {:?} in the file, the \
                 declaration needs {:?}",
                view.shape(),
                target.shape
            ));
        }
        let converted = convert(view.dtype(), view.data()).ok_or_else(|| {
            format!(
                "weights file `{file}`: tensor `{name}` is {:?}; the declaration needs F32, F64, \
                 F16 or BF16 (converted to {}) with shape {:?}",
                view.dtype(),
                element_name(plan.graph.element),
                target.shape
            )
        })?;
        let dest = if target.state {
            &mut values.state
        } else {
            &mut values.params
        };
        for (index, value) in converted.into_iter().enumerate() {
            let value = match plan.graph.element {
                Element::F32 => f64::from(value as f32),
                Element::F64 => value,
            };
            if !value.is_finite() {
                return Err(format!(
                    "weights file `{file}`: tensor `{name}` has the non-finite value {value} at \
                     index {index} (as {})",
                    element_name(plan.graph.element)
                ));
            }
            dest[target.offset + index] = value;
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(w, _)| w.name.as_str())
        .collect();
    if let Some(first) = missing.first() {
        let target = wanted.iter().find(|w| w.name == *first).expect("listed");
        return Err(format!(
            "weights file `{file}`: tensor `{first}` (shape {:?}) is missing; {} of the \
             declaration's tensors are not in the file: {}",
            target.shape,
            missing.len(),
            missing.join(", ")
        ));
    }
    Ok(values)
}

fn element_name(element: Element) -> &'static str {
    match element {
        Element::F32 => "f32",
        Element::F64 => "f64",
    }
}

/// The little-endian floats of `data` as f64, or `None` for a dtype that is no float the
/// runtime loads.
fn convert(dtype: Dtype, data: &[u8]) -> Option<Vec<f64>> {
    let values = match dtype {
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| super::narrow::f16_to_f64(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| super::narrow::bf16_to_f64(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        _ => return None,
    };
    Some(values)
}

/// Each value as an unsuffixed literal of the element type, with a leading `-` token when
/// negative (exact: Rust prints the shortest representation that reads back the same).
fn elements(element: Element, values: &[f64]) -> Vec<TokenStream> {
    values
        .iter()
        .map(|&value| {
            let literal = match element {
                Element::F32 => Literal::f32_unsuffixed((value as f32).abs()),
                Element::F64 => Literal::f64_unsuffixed(value.abs()),
            };
            let mut tokens = TokenStream::new();
            if value.is_sign_negative() {
                tokens.extend([TokenTree::Punct(Punct::new('-', Spacing::Alone))]);
            }
            tokens.extend([TokenTree::Literal(literal)]);
            tokens
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_weight_norm_names_are_canonical() {
        assert_eq!(
            canonical_name("h.weight_g"),
            "h.parametrizations.weight.original0"
        );
        assert_eq!(
            canonical_name("h.weight_v"),
            "h.parametrizations.weight.original1"
        );
        assert_eq!(canonical_name("h.weight"), "h.weight");
        assert_eq!(canonical_name("h.xweight_g"), "h.xweight_g");
    }

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d.safetensors")),
            PathBuf::from("/a/c/d.safetensors")
        );
    }

    #[test]
    fn floats_convert_exactly() {
        let bytes: Vec<u8> = [1.5f32, -0.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(convert(Dtype::F32, &bytes), Some(vec![1.5, -0.25]));
        let half_bytes = half::f16::from_f32(0.5).to_le_bytes();
        assert_eq!(convert(Dtype::F16, &half_bytes), Some(vec![0.5]));
        let bf_bytes = half::bf16::from_f32(-2.0).to_le_bytes();
        assert_eq!(convert(Dtype::BF16, &bf_bytes), Some(vec![-2.0]));
        assert_eq!(convert(Dtype::I32, &[0; 4]), None);
        let tokens: Vec<String> = elements(Element::F32, &[-0.1, 2.0])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(tokens, ["- 0.1", "2.0"]);
    }
}
