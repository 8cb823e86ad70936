//! What code generation derives from a checked graph before emitting anything: the parameter
//! and state layout, which buffers alias, which nodes need gradients, and in which order
//! gradient contributions overwrite or accumulate.

use std::collections::HashSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::graph::ops::{Conv2d, Linear};
use crate::graph::{Element, Graph, Op};

/// One tensor of a flat buffer.
pub struct Tensor {
    /// State-dict suffix, e.g. `weight`.
    pub suffix: &'static str,
    pub offset: usize,
    pub shape: Vec<usize>,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// How a linear or conv layer's weight is stored: one tensor (`weight`), or Weight Norm's
/// magnitude `g` (`weight_g`, one per output) and direction `v` (`weight_v`). Generated code
/// finds them by name ([`Plan::param_offset`]).
#[derive(Clone, Copy)]
pub enum Weight {
    Plain,
    Normed,
}

/// The parameter layout of a linear or conv layer, read once from its block so that code
/// generation cannot ask for a tensor the layer does not have.
#[derive(Clone, Copy)]
pub struct KernelLayout {
    pub weight: Weight,
    /// Offset of the bias, when the layer has one.
    pub bias: Option<usize>,
    /// Outputs (rows of the weight) and weights per output.
    pub out: usize,
    pub per_out: usize,
}

/// The block of a node in the parameter buffer (or the state buffer).
#[derive(Default)]
pub struct Block {
    pub offset: usize,
    pub tensors: Vec<Tensor>,
}

impl Block {
    pub fn len(&self) -> usize {
        self.tensors.iter().map(Tensor::len).sum()
    }

    pub fn tensor(&self, suffix: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.suffix == suffix)
    }

    /// The tensor `suffix` of a block that has it by construction (a BatchNorm's
    /// `running_mean`).
    ///
    /// # Panics
    /// When it is missing: a bug in code generation, not in the user's declaration.
    pub fn require(&self, suffix: &str) -> &Tensor {
        self.tensor(suffix)
            .unwrap_or_else(|| panic!("monograd-macros bug: no tensor `{suffix}` in the block"))
    }

    /// The layout of a linear or conv layer's block (built by [`weight_blocks`]).
    ///
    /// # Panics
    /// When the block is not a linear or conv layer's: a bug in code generation, not in the
    /// user's declaration.
    pub fn kernel(&self) -> KernelLayout {
        let weight = match (
            self.tensor("weight"),
            self.tensor("weight_g"),
            self.tensor("weight_v"),
        ) {
            (Some(w), None, None) => (Weight::Plain, &w.shape),
            (None, Some(_), Some(v)) => (Weight::Normed, &v.shape),
            _ => panic!("monograd-macros bug: a kernel block without a weight layout"),
        };
        let (weight, shape) = weight;
        let out = shape[0];
        KernelLayout {
            weight,
            bias: self.tensor("bias").map(|b| b.offset),
            out,
            per_out: shape.iter().product::<usize>() / out,
        }
    }

    fn push(&mut self, suffix: &'static str, shape: Vec<usize>) {
        let offset = self.offset + self.len();
        self.tensors.push(Tensor {
            suffix,
            offset,
            shape,
        });
    }
}

pub struct Plan<'g> {
    pub graph: &'g Graph,
    /// The element type as a token (`f32` / `f64`).
    pub t: TokenStream,
    /// For every node, the node whose buffer holds its values (flatten and reshape alias their
    /// input).
    pub storage: Vec<usize>,
    /// For every node, whether the loss's gradient w.r.t. it is needed (a parameter is upstream).
    pub needs_grad: Vec<bool>,
    pub params: Vec<Block>,
    pub state: Vec<Block>,
    pub param_count: usize,
    pub state_count: usize,
    /// `(consumer, argument position)` pairs whose gradient contribution is the first one written
    /// into the input's gradient buffer during backward (overwrite); all others accumulate.
    pub first_contribution: HashSet<(usize, usize)>,
}

impl<'g> Plan<'g> {
    pub fn new(graph: &'g Graph) -> Self {
        Self::build(graph, false, false)
    }

    /// The plan of a backward pass that also computes the gradient with respect to the input
    /// (`needs_grad[0]`), into the tape's `input_grad`.
    pub fn with_input_grad(graph: &'g Graph) -> Self {
        Self::build(graph, true, false)
    }

    /// The plan of a vector-Jacobian product of the output (what the loss takes), seeded by the
    /// caller: auxiliary losses and the heads only they use take no part in it.
    pub fn output_vjp(graph: &'g Graph, input_grad: bool) -> Self {
        Self::build(graph, input_grad, true)
    }

    fn build(graph: &'g Graph, input_grad: bool, output_vjp: bool) -> Self {
        let t = match graph.element {
            Element::F32 => quote!(f32),
            Element::F64 => quote!(f64),
        };
        let n = graph.nodes.len();

        let mut storage = Vec::with_capacity(n);
        for (i, node) in graph.nodes.iter().enumerate() {
            storage.push(match node.op {
                Op::Flatten | Op::Reshape(_) | Op::Identity => storage[node.inputs[0]],
                _ => i,
            });
        }

        let mut params = Vec::with_capacity(n);
        let mut state = Vec::with_capacity(n);
        let (mut param_count, mut state_count) = (0, 0);
        for node in &graph.nodes {
            let input_shape = node.inputs.first().map(|&j| &graph.nodes[j].shape);
            let mut p = Block {
                offset: param_count,
                ..Block::default()
            };
            let mut s = Block {
                offset: state_count,
                ..Block::default()
            };
            match &node.op {
                Op::Linear(Linear {
                    out,
                    bias,
                    weight_norm,
                    ..
                }) => {
                    let inp = input_shape.map(|s| s.numel()).unwrap_or(0);
                    weight_blocks(&mut p, *weight_norm, vec![*out, inp]);
                    if *bias {
                        p.push("bias", vec![*out]);
                    }
                }
                Op::Conv2d(Conv2d {
                    one_d,
                    out_channels,
                    kernel,
                    groups,
                    bias,
                    weight_norm,
                    ..
                }) => {
                    let c_in = input_shape.map(|s| s.0[0]).unwrap_or(0);
                    // PyTorch's layouts: `[out, in / groups, k]` for conv1d (the same flat data
                    // as `[out, in / groups, 1, k]`), `[out, in / groups, kh, kw]` for conv2d.
                    let shape = if *one_d {
                        vec![*out_channels, c_in / groups, kernel.1]
                    } else {
                        vec![*out_channels, c_in / groups, kernel.0, kernel.1]
                    };
                    weight_blocks(&mut p, *weight_norm, shape);
                    if *bias {
                        p.push("bias", vec![*out_channels]);
                    }
                }
                Op::Recurrent(rnn) => {
                    // PyTorch's `nn.GRU` / `nn.LSTM` state dict of one layer.
                    let features = input_shape.map(|s| s.0[1]).unwrap_or(0);
                    let rows = rnn.cell.gates() * rnn.hidden;
                    p.push("weight_ih_l0", vec![rows, features]);
                    p.push("weight_hh_l0", vec![rows, rnn.hidden]);
                    p.push("bias_ih_l0", vec![rows]);
                    p.push("bias_hh_l0", vec![rows]);
                }
                Op::BatchNorm(bn) => {
                    let (c, _) = node.shape.channels_spatial();
                    if bn.affine {
                        p.push("weight", vec![c]);
                        p.push("bias", vec![c]);
                    }
                    s.push("running_mean", vec![c]);
                    s.push("running_var", vec![c]);
                }
                Op::BatchRenorm(_) => {
                    let (c, _) = node.shape.channels_spatial();
                    p.push("weight", vec![c]);
                    p.push("bias", vec![c]);
                    s.push("running_mean", vec![c]);
                    s.push("running_var", vec![c]);
                }
                Op::LayerNorm(norm) if norm.affine => {
                    p.push("weight", node.shape.0.clone());
                    p.push("bias", node.shape.0.clone());
                }
                Op::InstanceNorm(norm) | Op::GroupNorm { norm, .. } if norm.affine => {
                    let (c, _) = node.shape.channels_spatial();
                    p.push("weight", vec![c]);
                    p.push("bias", vec![c]);
                }
                _ => {}
            }
            param_count += p.len();
            state_count += s.len();
            params.push(p);
            state.push(s);
        }

        // Only what leads to the loss gets a gradient: a node that only an output uses (e.g.
        // `probabilities = softmax(logits); output probabilities;`) has none.
        // (Every loss, auxiliary ones too; or only the output for a product seeded there.)
        let mut reaches_loss = vec![!graph.has_loss; n];
        if graph.has_loss {
            for (i, node) in graph.nodes.iter().enumerate() {
                reaches_loss[i] = if output_vjp {
                    i == graph.output
                } else {
                    matches!(node.op, Op::Loss(_))
                };
            }
            for i in (0..n).rev() {
                if reaches_loss[i] {
                    for &j in &graph.nodes[i].inputs {
                        reaches_loss[j] = true;
                    }
                }
            }
        }
        let mut needs_grad = vec![false; n];
        for (i, node) in graph.nodes.iter().enumerate() {
            if !reaches_loss[i] {
                continue;
            }
            // A frozen layer needs no gradient of its own: only one to pass on to a trainable
            // layer before it.
            let trainable = params[i].len() > 0 && !node.frozen;
            needs_grad[i] = match node.op {
                Op::Input => input_grad,
                _ => trainable || node.inputs.iter().any(|&j| needs_grad[j]),
            };
        }

        // Backward visits nodes from the loss down; inside a node, arguments in order. The first
        // contribution to each gradient buffer overwrites it, which saves zeroing.
        let mut seen = HashSet::new();
        let mut first_contribution = HashSet::new();
        for consumer in (0..n).rev() {
            let main_loss = graph.has_loss && consumer == n - 1;
            if !needs_grad[consumer] && !main_loss {
                continue;
            }
            if matches!(
                graph.nodes[consumer].op,
                Op::Flatten | Op::Reshape(_) | Op::Identity
            ) {
                continue; // aliases: its gradient is its input's buffer
            }
            for (position, &input) in graph.nodes[consumer].inputs.iter().enumerate() {
                let root = storage[input];
                if needs_grad[input] && seen.insert(root) {
                    first_contribution.insert((consumer, position));
                }
            }
        }

        Plan {
            graph,
            t,
            storage,
            needs_grad,
            params,
            state,
            param_count,
            state_count,
            first_contribution,
        }
    }

    /// `(offset, end)` in the parameter buffer of every frozen layer's block.
    pub fn frozen_ranges(&self) -> Vec<(usize, usize)> {
        self.graph
            .nodes
            .iter()
            .zip(&self.params)
            .filter(|(node, block)| node.frozen && block.len() > 0)
            .map(|(_, block)| (block.offset, block.offset + block.len()))
            .collect()
    }

    /// Total length of [`Self::frozen_ranges`].
    pub fn frozen_len(&self) -> usize {
        self.frozen_ranges().iter().map(|(a, b)| b - a).sum()
    }

    pub fn loss_index(&self) -> usize {
        self.graph.loss_index()
    }

    pub fn node_count(&self) -> usize {
        self.graph.nodes.len()
    }

    /// The field holding node `i`'s values (or gradient) in the generated activation struct.
    pub fn field(&self, i: usize) -> Ident {
        let node = &self.graph.nodes[self.storage[i]];
        format_ident!("{}", node.name, span = Span::call_site())
    }

    /// Per-sample element count of node `i`.
    pub fn numel(&self, i: usize) -> usize {
        self.graph.nodes[i].shape.numel()
    }

    /// Whether the network declares more than one input: its input type is then the generated
    /// `NetInput` struct, whose fields are copied into buffers of their own (the input nodes'),
    /// while a single input is read in place from the caller's `x`.
    pub fn multi_input(&self) -> bool {
        self.graph.inputs > 1
    }

    /// Whether node `i`'s values are the caller's `x` (the one input of a single-input network).
    pub fn reads_x(&self, i: usize) -> bool {
        self.storage[i] == 0 && !self.multi_input()
    }

    /// Elements of one input sample (all inputs together).
    pub fn input_numel(&self) -> usize {
        (0..self.graph.inputs).map(|i| self.numel(i)).sum()
    }

    /// Nodes that own an activation buffer: every node but the loss, aliases and a single
    /// input (read from `x`).
    pub fn buffered(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.node_count()).filter(move |&i| {
            self.storage[i] == i
                && !self.reads_x(i)
                && !matches!(self.graph.nodes[i].op, Op::Loss(_))
        })
    }

    /// `Store::Overwrite` or `Store::Accumulate` for the contribution of `consumer`'s argument
    /// `position` to its input's gradient.
    pub fn store(&self, consumer: usize, position: usize) -> TokenStream {
        if self.first_contribution.contains(&(consumer, position)) {
            quote!(::monograd::runtime::Store::Overwrite)
        } else {
            quote!(::monograd::runtime::Store::Accumulate)
        }
    }

    /// The offset of node `i`'s parameter tensor `suffix`, as generated code names it
    /// (`Net::H_WEIGHT.offset`, the tensor's associated const), so that the expansion says
    /// which tensor each view reads rather than a bare number.
    pub fn param_offset(&self, i: usize, suffix: &str) -> TokenStream {
        self.params[i].require(suffix);
        self.named_offset(i, suffix)
    }

    /// The offset of node `i`'s state tensor `suffix`, named like [`Self::param_offset`]
    /// (`Net::N_RUNNING_MEAN.offset`).
    pub fn state_offset(&self, i: usize, suffix: &str) -> TokenStream {
        self.state[i].require(suffix);
        self.named_offset(i, suffix)
    }

    /// The offset of node `i`'s parameter block, that of its first tensor, named like
    /// [`Self::param_offset`] (`Net::C_WEIGHT.offset` for a conv layer's weight and bias).
    pub fn param_block_offset(&self, i: usize) -> TokenStream {
        self.named_offset(i, Self::first_suffix(&self.params[i]))
    }

    /// The offset of node `i`'s state block, named like [`Self::state_offset`].
    pub fn state_block_offset(&self, i: usize) -> TokenStream {
        self.named_offset(i, Self::first_suffix(&self.state[i]))
    }

    fn first_suffix(block: &Block) -> &'static str {
        block
            .tensors
            .first()
            .expect("monograd-macros bug: the offset of an empty block")
            .suffix
    }

    fn named_offset(&self, i: usize, suffix: &str) -> TokenStream {
        let ty = &self.graph.name;
        let tensor = self.tensor_const(i, suffix);
        quote!(#ty::#tensor.offset)
    }

    /// The name of the associated `TensorInfo` const of node `i`'s tensor `suffix` (parameter
    /// or state): `H_WEIGHT`, `N_RUNNING_MEAN`.
    pub fn tensor_const(&self, i: usize, suffix: &str) -> Ident {
        format_ident!("{}_{}", self.const_prefix(i), suffix.to_uppercase())
    }

    /// The name of the associated geometry const (`Conv2dShape`, `Pool2dShape`) of node `i`:
    /// `C_GEOMETRY`.
    pub fn geometry_const(&self, i: usize) -> Ident {
        format_ident!("{}_GEOMETRY", self.const_prefix(i))
    }

    /// Upper-case identifier prefix for node `i`'s associated consts.
    fn const_prefix(&self, i: usize) -> String {
        self.graph.nodes[i].name.to_string().to_uppercase()
    }
}

/// Pushes a layer's weight: `weight`, or Weight Norm's `weight_g` and `weight_v` (see
/// [`Block::kernel`]).
fn weight_blocks(block: &mut Block, weight_norm: bool, shape: Vec<usize>) {
    if weight_norm {
        let mut g_shape = vec![1; shape.len()];
        g_shape[0] = shape[0];
        block.push("weight_g", g_shape);
        block.push("weight_v", shape);
    } else {
        block.push("weight", shape);
    }
}
