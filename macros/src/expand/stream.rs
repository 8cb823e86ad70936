//! `<Net>Stream`: streaming inference, one time step per call, for a network whose layers all
//! work step by step (recurrent layers, causal convolutions, and what maps each step on its own).
//!
//! Every node of such a network has a per-step value: a row of a `[T, F]` sequence (time
//! first, the recurrent layers' layout), a column of a `[C, L]` sequence (time last, the
//! convolutions' layout), or, after a recurrent layer's `return = last`, a vector computed from
//! the current state at every step (at the last step, the whole network's output). The stream
//! holds what links the steps: each recurrent layer's state and each causal convolution's last
//! `dilation * (kernel - 1)` inputs. A network with another layer (a `flatten` of a sequence, a
//! non-causal convolution, a normalization, ...), or none that carries state, gets no `Stream`
//! type (the crate docs list what streams).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::hygiene;
use super::layers::{activation, literal, rt};
use super::plan::Plan;
use crate::graph::ops::{Cell, Conv2d};
use crate::graph::{Graph, Op};

/// How a node's values are laid out in time, and so what one step of it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Follows the input, whose layout its consumers decide.
    Input,
    /// `[T, F]`: a step is a row of `F`.
    TimeFirst,
    /// `[C, L]`: a step is a column of `C`.
    TimeLast,
    /// A vector recomputed at every step (after `return = last`).
    Vector,
}

/// The streaming view of a network: each node's per-step size.
struct Stream {
    step_len: Vec<usize>,
}

/// The stream of `graph`, or why it cannot stream.
fn analyse(graph: &Graph) -> Result<Stream, String> {
    let nodes = &graph.nodes;
    let stateful = nodes.iter().any(|node| match &node.op {
        Op::Recurrent(_) => true,
        Op::Conv2d(conv) => conv.causal,
        _ => false,
    });
    if !stateful {
        return Err("it has no recurrent layer and no causal convolution".to_string());
    }
    if graph.inputs > 1 || graph.outputs.len() > 1 {
        return Err("it has more than one input or output".to_string());
    }
    if nodes[0].shape.0.len() != 2 {
        return Err(format!("its input {} is not a sequence", nodes[0].shape));
    }
    let mut input: Option<Layout> = None;
    let mut require = |have: Layout, want: Layout, name: &str| -> Result<(), String> {
        match (have, input) {
            (Layout::Input, None) => {
                input = Some(want);
                Ok(())
            }
            (Layout::Input, Some(set)) if set == want => Ok(()),
            (have, _) if have == want => Ok(()),
            _ => Err(format!(
                "`{name}` would read its input as {}, which is {}",
                describe(want),
                describe(if have == Layout::Input {
                    input.unwrap_or(have)
                } else {
                    have
                })
            )),
        }
    };
    let mut layout = vec![Layout::Input; nodes.len()];
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let name = node.name.to_string();
        let first = node.inputs.first().map(|&j| layout[j]);
        layout[i] = match (&node.op, first) {
            (Op::Loss(_), _) => Layout::Vector,
            (Op::Activation(_) | Op::Scale(_) | Op::Dropout { .. }, Some(l)) => l,
            (Op::Add | Op::Sub | Op::Mul, Some(a)) => {
                let b = layout[node.inputs[1]];
                match (a, b) {
                    _ if a == b => a,
                    (Layout::Input, other) | (other, Layout::Input) if other != Layout::Vector => {
                        require(Layout::Input, other, &name)?;
                        other
                    }
                    _ => {
                        return Err(format!(
                            "`{name}` joins {} and {}",
                            describe(a),
                            describe(b)
                        ))
                    }
                }
            }
            (Op::Linear(linear), Some(Layout::Vector)) if !linear.weight_norm => Layout::Vector,
            (Op::Flatten | Op::Reshape(_), Some(Layout::Vector)) => Layout::Vector,
            (Op::Recurrent(rnn), Some(l)) => {
                require(l, Layout::TimeFirst, &name)?;
                if rnn.last {
                    Layout::Vector
                } else {
                    Layout::TimeFirst
                }
            }
            (Op::Conv2d(conv), Some(l)) if conv.causal && !conv.weight_norm => {
                require(l, Layout::TimeLast, &name)?;
                Layout::TimeLast
            }
            (op, _) => {
                let what = match op.language_name() {
                    "" => op.doc_name().to_lowercase(),
                    language => language.to_string(),
                };
                return Err(format!(
                    "`{name}` ({what}) does not work one time step at a time"
                ));
            }
        };
    }
    let input = input.unwrap_or(Layout::TimeFirst);
    for l in &mut layout {
        if *l == Layout::Input {
            *l = input;
        }
    }
    let step_len = nodes
        .iter()
        .zip(&layout)
        .map(|(node, l)| match l {
            Layout::TimeFirst => node.shape.0.get(1).copied().unwrap_or(0),
            Layout::TimeLast => node.shape.0[0],
            _ => node.shape.numel(),
        })
        .collect();
    Ok(Stream { step_len })
}

fn describe(layout: Layout) -> &'static str {
    match layout {
        Layout::Input | Layout::TimeFirst => "[steps, features] (time first)",
        Layout::TimeLast => "[channels, length] (time last)",
        Layout::Vector => "a vector (after `return = last`)",
    }
}

/// The `<Net>Stream` type and its methods, or nothing when the network cannot stream.
pub fn items(graph: &Graph) -> TokenStream {
    let stream = match analyse(graph) {
        Ok(stream) => stream,
        Err(reason) => return no_stream(graph, &reason),
    };
    let plan = Plan::new(graph);
    let (rt, t, zero) = (rt(), &plan.t, literal(&plan, 0.0));
    let name = &graph.name;
    let vis = &graph.vis;
    let stream_name = format_ident!("{}Stream", name);
    let step_call = format_ident!("{}StreamStep", name);
    let step_with_call = format_ident!("{}StreamStepWith", name);
    let p = plan.param_count;
    // What inference returns (a declared output, or what the loss takes).
    let output = graph.outputs[0];
    let (input_n, output_n) = (stream.step_len[0], stream.step_len[output]);

    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut resets = Vec::new();
    let mut loads = Vec::new();
    let mut body = Vec::new();
    // The same step reading the parameters given to `step_with` (recurrent layers from their
    // PyTorch layout, `*_stream_step_params`, instead of the stream's prepared copy).
    let mut body_with = Vec::new();
    // `&[T; n]` of node `j`'s current step.
    let value = |j: usize| -> TokenStream {
        let root = plan.storage[j];
        if root == 0 {
            quote!(x)
        } else {
            let local = format_ident!("step_{}", graph.nodes[root].name);
            quote!(&#local)
        }
    };
    for (i, node) in graph.nodes.iter().enumerate().skip(1) {
        if plan.storage[i] != i || matches!(node.op, Op::Loss(_)) {
            continue;
        }
        let n = stream.step_len[i];
        let local = format_ident!("step_{}", node.name);
        let x = node.inputs.first().map(|&j| value(j));
        let y1 = quote!(::core::array::from_mut(&mut #local));
        let x1 = quote!(::core::array::from_ref(#x));
        let mut statement_with = None;
        let statement = match &node.op {
            Op::Activation(act) => {
                let act = activation(&plan, act);
                quote!(#rt::ops::activation::activation_forward::<#t, _, 1, #n>(&#act, #x1, #y1);)
            }
            Op::Scale(k) => {
                let k = literal(&plan, *k);
                quote!(#rt::ops::combine::scale_forward::<#t, 1, #n>(#x1, #k, #y1);)
            }
            Op::Dropout { .. } => quote!(let #local = *#x;),
            Op::Add | Op::Sub | Op::Mul => {
                let f = match node.op {
                    Op::Add => quote!(add_forward),
                    Op::Sub => quote!(sub_forward),
                    _ => quote!(mul_forward),
                };
                let b = value(node.inputs[1]);
                quote!(#rt::ops::combine::#f::<#t, 1, #n>(#x1, ::core::array::from_ref(#b), #y1);)
            }
            Op::Linear(linear) => {
                let inp = stream.step_len[node.inputs[0]];
                let out = linear.out;
                // `analyse` streams no Weight Norm layer: the weight is one tensor (which
                // `param_offset` requires).
                let w_off = plan.param_offset(i, "weight");
                let bias = linear.bias.then(|| {
                    let off = plan.param_offset(i, "bias");
                    quote! {
                        for (y, b) in #local.iter_mut().zip(#rt::view::array::<#t, #out>(&params[#off..])) {
                            *y += *b;
                        }
                    }
                });
                quote! {
                    #rt::ops::recurrent::stream_linear::<#t, M, #inp, #out>(
                        #rt::view::matrix::<#t, #out, #inp>(&params[#w_off..]),
                        #x,
                        &mut #local,
                    );
                    #bias
                }
            }
            Op::Recurrent(rnn) => {
                let (h, features) = (rnn.hidden, stream.step_len[node.inputs[0]]);
                let off = plan.param_block_offset(i);
                let state_h = format_ident!("{}_h", node.name);
                let weights = format_ident!("{}_weights", node.name);
                let doc = format!("`{}`: the hidden state `h`.", node.name);
                fields.push(quote!(#[doc = #doc] pub #state_h: [#t; #h],));
                inits.push(quote!(#state_h: [#zero; #h],));
                resets.push(quote!(self.#state_h = [#zero; #h];));
                let gates = rnn.cell.gates();
                let params_view = quote!(#rt::ops::recurrent::RnnParams::<#t, #gates, #features, #h>::at::<#p, { #off }>(params));
                fields.push(quote!(#weights: #rt::ops::recurrent::StreamWeights<#t, #gates, #features, #h>,));
                inits.push(
                    quote!(#weights: #rt::ops::recurrent::StreamWeights::new(&#params_view),),
                );
                loads.push(quote!(self.#weights.load(&#params_view);));
                let (step, step_with) = match rnn.cell {
                    Cell::Gru => (
                        quote!(#rt::ops::recurrent::gru_stream_step::<#t, M, #features, #h>(&self.#weights, #x, &mut self.#state_h);),
                        quote!(#rt::ops::recurrent::gru_stream_step_params::<#t, M, #features, #h>(&#params_view, #x, &mut self.#state_h);),
                    ),
                    Cell::Lstm => {
                        let state_c = format_ident!("{}_c", node.name);
                        let doc = format!("`{}`: the cell state `c`.", node.name);
                        fields.push(quote!(#[doc = #doc] pub #state_c: [#t; #h],));
                        inits.push(quote!(#state_c: [#zero; #h],));
                        resets.push(quote!(self.#state_c = [#zero; #h];));
                        (
                            quote!(#rt::ops::recurrent::lstm_stream_step::<#t, M, #features, #h>(&self.#weights, #x, &mut self.#state_h, &mut self.#state_c);),
                            quote!(#rt::ops::recurrent::lstm_stream_step_params::<#t, M, #features, #h>(&#params_view, #x, &mut self.#state_h, &mut self.#state_c);),
                        )
                    }
                };
                statement_with = Some(quote!(#step_with let #local = self.#state_h;));
                quote!(#step let #local = self.#state_h;)
            }
            Op::Conv2d(conv) => conv_step(
                &plan,
                &stream,
                i,
                conv,
                (&mut fields, &mut inits, &mut resets),
                x,
            ),
            _ => unreachable!("analyse admits only the operations above"),
        };
        // Recurrent layers and dropout bind their step's value themselves.
        let bind = |statement: TokenStream| match node.op {
            Op::Recurrent(_) | Op::Dropout { .. } => statement,
            _ => quote! {
                let mut #local = [#zero; #n];
                #statement
            },
        };
        body_with.push(bind(statement_with.unwrap_or_else(|| statement.clone())));
        body.push(bind(statement));
    }
    let out = value(output);

    let doc = format!(
        "Streaming inference of [`{name}`], one time step per call: `step` takes the step's \
         {input_n} input features and returns the output's {output_n} values at that step. It \
         holds its own copy of the network's parameters (`new(&net.params)`, `load` after a \
         change), each recurrent layer's weights transposed for the step (see \
         `StreamWeights`), the recurrent states and the causal convolutions' recent inputs, all \
         in fixed-size arrays (no heap, no panic path, `no_std`). The states start at zero as \
         in the whole-sequence forward, so stepping through a sequence gives the forward's \
         outputs step by step (after a `return = last` layer: the output the network would \
         give on the sequence so far). `reset` starts a new sequence. The step runs compiled \
         for the widest instruction set this CPU has (AVX-512 or AVX2 and FMA on x86-64 under `std`), \
         chosen once in `new`, with fused multiply-adds there. The recurrent layers' activations \
         are `kernels::math::sigmoid_fast` and `tanh_fast` (within 2.5 ulps; an LSTM's \
         combined into two divisions), so a step equals the whole-sequence forward within \
         rounding. `step_with(&net.params, &x)` is the same step on parameters passed at each \
         call instead of the stream's copy (slower: see there)."
    );
    let tokens = quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        #vis struct #stream_name {
            #(#fields)*
            params: [#t; #p],
            level: #rt::kernels::simd::Level,
        }

        impl #stream_name {
            /// Input features of one step.
            pub const INPUT: usize = #input_n;
            /// Output values of one step.
            pub const OUTPUT: usize = #output_n;

            /// A stream at the start of a sequence (every state zero), with a copy of the
            /// network's parameters (`&net.params`, or a `static` such as `PARAMS_STATIC`).
            pub fn new(params: &[#t; #p]) -> Self {
                Self {
                    #(#inits)*
                    params: *params,
                    level: #rt::kernels::simd::Level::detect(),
                }
            }

            /// Replaces the stream's parameters (after training steps, or another model of the
            /// same network), keeping its state.
            pub fn load(&mut self, params: &[#t; #p]) {
                self.params = *params;
                #(#loads)*
            }

            /// Back to the start of a sequence (the parameters stay).
            pub fn reset(&mut self) {
                #(#resets)*
            }

            /// Advances by one time step `x` and returns the output at this step.
            #[inline]
            pub fn step(&mut self, x: &[#t; #input_n]) -> [#t; #output_n] {
                let level = self.level;
                level.run(#step_call { stream: self, input: x })
            }

            /// Advances by one time step `x` and returns the output at this step, with the
            /// network's parameters `params` (`&net.params`) as they are rather than the
            /// stream's own copy: the form `stream.step_with(&net.params, &x_t)`, for a stream
            /// that should follow a network being trained, or share one parameter array with
            /// other streams. The state is the stream's, as with [`Self::step`] (the two can
            /// be mixed), and so are the outputs within rounding. Slower than `step`, which
            /// reads the recurrent weights transposed and with biases summed, prepared once
            /// (see `StreamWeights`): here a recurrent layer whose rows are shorter than a
            /// 64-byte vector takes a dot product per row of PyTorch's layout, each ending in
            /// a horizontal sum, and a wider one prepares its weights on the stack at every
            /// call (`gru_stream_step_params` / `lstm_stream_step_params`). No allocation, no
            /// panic path.
            #[inline]
            pub fn step_with(&mut self, params: &[#t; #p], x: &[#t; #input_n]) -> [#t; #output_n] {
                let level = self.level;
                level.run(#step_with_call { stream: self, parameters: params, input: x })
            }

            /// The step's computation, inlined into [`Self::step`]'s code for each
            /// instruction-set level, with multiply-adds fused (`M`) where it has FMA.
            #[inline(always)]
            fn step_body<M: #rt::kernels::math::MulAdd>(&mut self, x: &[#t; #input_n]) -> [#t; #output_n] {
                let params = &self.params;
                let _ = params;
                #(#body)*
                *#out
            }

            /// [`Self::step_with`]'s computation, as [`Self::step_body`].
            #[inline(always)]
            fn step_with_body<M: #rt::kernels::math::MulAdd>(&mut self, params: &[#t; #p], x: &[#t; #input_n]) -> [#t; #output_n] {
                let _ = params;
                #(#body_with)*
                *#out
            }
        }

        #[doc(hidden)]
        #vis struct #step_with_call<'a> {
            stream: &'a mut #stream_name,
            parameters: &'a [#t; #p],
            input: &'a [#t; #input_n],
        }

        impl #rt::kernels::simd::Simd for #step_with_call<'_> {
            type Output = [#t; #output_n];
            #[inline(always)]
            fn run(self) -> [#t; #output_n] {
                self.stream.step_with_body::<#rt::kernels::math::Unfused>(self.parameters, self.input)
            }
            #[inline(always)]
            fn run_fma(self) -> [#t; #output_n] {
                self.stream.step_with_body::<#rt::kernels::math::Fused>(self.parameters, self.input)
            }
        }

        #[doc(hidden)]
        #vis struct #step_call<'a> {
            stream: &'a mut #stream_name,
            input: &'a [#t; #input_n],
        }

        impl #rt::kernels::simd::Simd for #step_call<'_> {
            type Output = [#t; #output_n];
            #[inline(always)]
            fn run(self) -> [#t; #output_n] {
                self.stream.step_body::<#rt::kernels::math::Unfused>(self.input)
            }
            #[inline(always)]
            fn run_fma(self) -> [#t; #output_n] {
                self.stream.step_body::<#rt::kernels::math::Fused>(self.input)
            }
        }
    };
    hygiene::apply(
        tokens,
        &[
            name.to_string(),
            stream_name.to_string(),
            step_call.to_string(),
            step_with_call.to_string(),
        ],
    )
}

/// For a network with a recurrent layer or a causal convolution that cannot stream, a const
/// saying why there is no `Stream` type (in the docs and for a test); nothing for the others.
fn no_stream(graph: &Graph, reason: &str) -> TokenStream {
    let stateful = graph.nodes.iter().any(|node| match &node.op {
        Op::Recurrent(_) => true,
        Op::Conv2d(conv) => conv.causal,
        _ => false,
    });
    if !stateful {
        return quote!();
    }
    let name = &graph.name;
    let message = format!("`{name}` has no `{name}Stream` (streaming inference): {reason}.");
    let doc = format!(
        "{message} A network streams when every layer works one time step at a time: \
         `gru` / `lstm`, causal `conv1d`, element-wise operations, and after a recurrent \
         layer's `return = last`, `linear` and other vector operations."
    );
    hygiene::apply(
        quote! {
            impl #name {
                #[doc = #doc]
                pub const NO_STREAM: &'static str = #message;
            }
        },
        &[name.to_string()],
    )
}

/// The streaming step of causal convolution `i`, adding its history to the stream's fields,
/// their initial values and their resets.
fn conv_step(
    plan: &Plan,
    stream: &Stream,
    i: usize,
    conv: &Conv2d,
    (fields, inits, resets): (
        &mut Vec<TokenStream>,
        &mut Vec<TokenStream>,
        &mut Vec<TokenStream>,
    ),
    x: Option<TokenStream>,
) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let (c_in, c_out) = (stream.step_len[node.inputs[0]], conv.out_channels);
    let (k, d, g, bias) = (conv.kernel.1, conv.dilation.1, conv.groups, conv.bias);
    let hist = d * (k - 1);
    let (off, len) = (plan.param_block_offset(i), plan.params[i].len());
    let history = format_ident!("{}_history", node.name);
    let doc = format!(
        "`{}`: its last {hist} inputs (`dilation * (kernel - 1)`).",
        node.name
    );
    fields.push(
        quote!(#[doc = #doc] pub #history: #rt::ops::causal::CausalHistory<#t, #c_in, #hist>,),
    );
    inits.push(quote!(#history: #rt::ops::causal::CausalHistory::new(),));
    resets.push(quote!(self.#history = #rt::ops::causal::CausalHistory::new();));
    let local = format_ident!("step_{}", node.name);
    quote! {
        #rt::ops::causal::causal_conv1d_step::<#t, #c_in, #c_out, #k, #d, #g, #bias, #hist, #len>(
            #rt::view::array::<#t, #len>(&params[#off..]),
            &mut self.#history,
            #x,
            &mut #local,
        );
    }
}
