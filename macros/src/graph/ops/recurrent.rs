//! `gru(x, hidden_size, return = ..)` and `lstm(x, hidden_size, return = ..)`: one recurrent
//! layer as PyTorch's `nn.GRU` / `nn.LSTM` (`batch_first = True`, one layer, biases, zero
//! initial state) over a per-sample `[T, F]` sequence, time first.

use super::super::args::ArgReader;
use super::super::errors::Errors;
use super::super::shape::{Call, Shape};
use super::Op;

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Gates `r, z, n`.
    Gru,
    /// Gates `i, f, g, o`.
    Lstm,
}

impl Cell {
    /// Number of gates: rows of `weight_ih_l0` are `gates * hidden_size`.
    pub fn gates(self) -> usize {
        match self {
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }

    /// The operation's name in the language.
    pub fn name(self) -> &'static str {
        match self {
            Cell::Gru => "gru",
            Cell::Lstm => "lstm",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Recurrent {
    pub cell: Cell,
    pub hidden: usize,
    /// `return = last`: the output is the last hidden state `[H]` (PyTorch's `h_n[0]`), not the
    /// whole sequence `[T, H]`.
    pub last: bool,
}

impl Recurrent {
    pub fn doc_name(&self) -> String {
        let (name, output) = match self.cell {
            Cell::Gru => ("GRU", self.last),
            Cell::Lstm => ("LSTM", self.last),
        };
        format!("{name}{}", if output { " (last state)" } else { "" })
    }
}

/// The operation of `gru(x, hidden_size, return = ..)` or `lstm(..)`, its input already read.
pub fn resolve(op_name: &str, args: &mut ArgReader) -> Option<Op> {
    let cell = if op_name == "gru" {
        Cell::Gru
    } else {
        Cell::Lstm
    };
    let hidden = args.size(
        "the hidden size (units of the state)",
        &format!("{op_name}(x, 32)"),
    );
    let last = args.choice("return", &[("sequence", false), ("last", true)], false);
    hidden.map(|hidden| Op::Recurrent(Recurrent { cell, hidden, last }))
}

/// `[T, H]` or `[H]` from a `[T, F]` input, or an error saying what the layer takes.
pub fn infer(rnn: &Recurrent, call: &Call, errors: &mut Errors) -> Option<Shape> {
    let (name, shape) = &call.inputs[0];
    let op = rnn.cell.name();
    match shape.0.as_slice() {
        [steps, _] => Some(if rnn.last {
            Shape(vec![rnn.hidden])
        } else {
            Shape(vec![*steps, rnn.hidden])
        }),
        _ => {
            errors.spanned(
                call.span,
                format!(
                    "`{}`: `{name}` is {shape}, but `{op}` takes a sequence [steps, features] \
                     (time first, as PyTorch's `batch_first`); a signal of n samples with one \
                     feature is `{name}_seq = reshape({name}, [-1, 1]);`",
                    call.text
                ),
            );
            None
        }
    }
}
