//! What a network computes toward, checked: its losses (the last node, and auxiliary ones
//! before it) and its declared outputs. Every node must lead to one of them, an output names a
//! computed node, an auxiliary loss takes the network's targets, and a trainable layer must
//! lead to a loss.

use std::collections::HashMap;

use syn::Ident;

use super::{ops, Definition, DefinitionKind, Errors, Node, Op, Shape};
use crate::parse::{Argument, NetworkDef, OutputDecl, ValueKind};

/// In a network with a loss, a layer with parameters that only an output uses (an auxiliary
/// head that does not lead to the loss) would never be trained: that is a mistake unless the
/// layer is frozen (its weights loaded, say).
pub(super) fn check_trained(nodes: &[Node], has_loss: bool) -> syn::Result<()> {
    if !has_loss {
        return Ok(());
    }
    let mut reaches: Vec<bool> = nodes
        .iter()
        .map(|node| matches!(node.op, Op::Loss(_)))
        .collect();
    for i in (0..nodes.len()).rev() {
        if reaches[i] {
            for &j in &nodes[i].inputs {
                reaches[j] = true;
            }
        }
    }
    let mut errors = Errors::default();
    for (node, reaches) in nodes.iter().zip(reaches) {
        if !reaches && node.op.has_params() && !node.frozen {
            errors.at(
                node.name.span(),
                format!(
                    "`{}` has parameters but does not lead to the loss, so training would never \
                     change them; compute the output from nodes the loss uses, or declare the \
                     layer `frozen = true` (weights loaded from a file)",
                    node.name
                ),
            );
        }
    }
    errors.finish()
}

/// A loss (or an output) taken directly on the input (perhaps flattened) has nothing to learn or
/// compute.
pub(super) fn check_has_layers(nodes: &[Node], output: usize, inputs: usize) -> syn::Result<()> {
    let last = nodes.len() - 1;
    let mut source = output;
    while let Op::Flatten | Op::Reshape(_) = nodes[source].op {
        source = nodes[source].inputs[0];
    }
    if source < inputs {
        let what = if matches!(nodes[last].op, Op::Loss(_)) {
            "the loss is computed"
        } else {
            "the output is"
        };
        return Err(syn::Error::new(
            nodes[last].name.span(),
            format!("{what} directly on the input; add at least one layer, e.g. `linear`"),
        ));
    }
    Ok(())
}

/// The nodes of `output a, b;` (one statement, each name once, naming nodes that are neither
/// an input nor a loss), in the order written; empty when there is no declaration.
pub(super) fn output_declaration(
    outputs: &[&OutputDecl],
    position: &HashMap<String, usize>,
    resolved: &[Option<(Op, Vec<Ident>)>],
    errors: &mut Errors,
) -> Vec<usize> {
    for extra in outputs.iter().skip(1) {
        errors.at(
            extra.keyword.span(),
            "`output` is declared once; name every output in it, e.g. `output embedding, logits;`",
        );
    }
    let Some(decl) = outputs.first() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (k, name) in decl.names.iter().enumerate() {
        if decl.names[..k].iter().any(|earlier| earlier == name) {
            errors.at(
                name.span(),
                format!("`{name}` is already an output; name each output once"),
            );
            continue;
        }
        match position.get(&name.to_string()) {
            None => errors.at(
                name.span(),
                format!("unknown node `{name}`: `output` names a node defined in the network"),
            ),
            Some(&i) if matches!(resolved[i], Some((Op::Input, _))) => errors.at(
                name.span(),
                format!("`{name}` is an input; an output must be computed by a layer"),
            ),
            Some(&i) if matches!(resolved[i], Some((Op::Loss(_), _))) => errors.at(
                name.span(),
                format!(
                    "`{name}` is the loss; `output` names what a network computes (the loss is \
                     returned by `train_step` and `loss`)"
                ),
            ),
            Some(&i) => found.push(i),
        }
    }
    found
}

pub(super) fn check_loss(
    def: &NetworkDef,
    definitions: &[Definition],
    resolved: &[Option<(Op, Vec<Ident>)>],
    input_indices: &[Option<Vec<usize>>],
    shapes: &[Option<Shape>],
    outputs: &[&OutputDecl],
    errors: &mut Errors,
) {
    let losses: Vec<usize> = resolved
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Some((Op::Loss(_), _))))
        .map(|(i, _)| i)
        .collect();
    if losses.is_empty() && outputs.is_empty() && resolved.iter().all(Option::is_some) {
        errors.at(
            def.name.span(),
            format!(
                "`{}` has no loss; end it with one, e.g. `loss = softmax_cross_entropy(logits);`, \
                 `loss = logistic_loss(logit);` or `loss = mse(prediction);`, or declare the \
                 output of an inference-only network: `output logits;`",
                def.name
            ),
        );
    }
    if let Some(&loss) = losses.last() {
        let last = definitions.len() - 1;
        if loss != last {
            errors.at(
                definitions[loss].name.span(),
                "the loss must be the last node of the network",
            );
        } else {
            check_aux_losses(
                definitions,
                resolved,
                input_indices,
                shapes,
                &losses,
                errors,
            );
        }
    }
    // Nothing may consume a loss.
    for (i, inputs) in input_indices.iter().enumerate() {
        for &j in inputs.iter().flatten() {
            if losses.contains(&j) {
                if let DefinitionKind::Node(node) = definitions[i].kind {
                    for arg in &node.args {
                        if let Argument::Positional(v) = arg {
                            if let ValueKind::Ident(id) = &v.kind {
                                if id == definitions[j].name {
                                    errors.at(
                                        id.span(),
                                        format!("`{id}` is the loss; no node can take it as input"),
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The last loss is the network's; every loss before it is auxiliary (`weight = w` weighs it in
/// the total, as `loss + w * aux` in PyTorch) and takes the same targets: the same operation on
/// as many values per sample. The network's own loss takes no weight.
pub(super) fn check_aux_losses(
    definitions: &[Definition],
    resolved: &[Option<(Op, Vec<Ident>)>],
    input_indices: &[Option<Vec<usize>>],
    shapes: &[Option<Shape>],
    losses: &[usize],
    errors: &mut Errors,
) {
    let Some((&main, aux)) = losses.split_last() else {
        return;
    };
    let call = |i: usize| match definitions[i].kind {
        DefinitionKind::Node(node) => Some(node),
        DefinitionKind::Input(_) => None,
    };
    if aux.is_empty() {
        return;
    }
    if let Some((_, value)) = call(main).and_then(ops::loss_weight) {
        errors.spanned(
            value,
            format!(
                "`{}` is the network's loss; `weight` weighs an auxiliary loss declared before it",
                definitions[main].name
            ),
        );
    }
    let numel = |i: usize| -> Option<usize> {
        let input = *input_indices[i].as_ref()?.first()?;
        shapes[input].as_ref().map(Shape::numel)
    };
    let (Some((main_op, _)), Some(main_n)) = (&resolved[main], numel(main)) else {
        return;
    };
    for &i in aux {
        let (Some((op, _)), Some(n)) = (&resolved[i], numel(i)) else {
            continue;
        };
        if op != main_op || n != main_n {
            let Some(node) = call(i) else { continue };
            errors.at(
                node.call_span().start,
                format!(
                    "auxiliary loss `{}` takes the targets of `{}`: it must be the same loss on \
                     as many values per sample (`{}` on {main_n}), not `{}` on {n}",
                    definitions[i].name,
                    definitions[main].name,
                    call(main).map_or(String::new(), |m| m.op.to_string()),
                    node.op,
                ),
            );
        }
    }
}

pub(super) fn check_unused(
    definitions: &[Definition],
    resolved: &[Option<(Op, Vec<Ident>)>],
    input_indices: &[Option<Vec<usize>>],
    declared_outputs: &[usize],
    errors: &mut Errors,
) {
    // Only meaningful when every reference resolved and there is a single loss at the end, or
    // a declared output.
    if input_indices.iter().any(Option::is_none) {
        return;
    }
    let Some(last) = definitions.len().checked_sub(1) else {
        return;
    };
    let has_loss = matches!(resolved[last], Some((Op::Loss(_), _)));
    let target = match (has_loss, declared_outputs.is_empty()) {
        (true, true) => "the loss",
        (true, false) => "the loss or an output",
        (false, false) => "an output",
        (false, true) => return,
    };
    let mut used = vec![false; definitions.len()];
    for (i, r) in resolved.iter().enumerate() {
        used[i] = has_loss && matches!(r, Some((Op::Loss(_), _)));
    }
    for &output in declared_outputs {
        used[output] = true;
    }
    for i in (0..definitions.len()).rev() {
        if used[i] {
            for &j in input_indices[i].iter().flatten() {
                used[j] = true;
            }
        }
    }
    for (i, d) in definitions.iter().enumerate() {
        if used[i] || matches!(resolved[i], Some((Op::Loss(_), _))) {
            continue;
        }
        let message = match d.kind {
            DefinitionKind::Input(_) => format!(
                "input `{}` is never used: no node leading to {target} takes it; remove the \
                 declaration or pass it to a node (e.g. `concat(h, {})`)",
                d.name, d.name
            ),
            DefinitionKind::Node(_) => format!(
                "`{}` is never used: it does not lead to {target}; remove it or use it as an input",
                d.name
            ),
        };
        errors.at(d.name.span(), message);
    }
}
