//! The network as a checked graph: nodes in evaluation order, each with its operation, its
//! inputs and its static per-sample shape. `build` runs every compile-time check and reports all
//! problems at once, each on the tokens that caused it.

mod args;
mod errors;
mod language;
pub mod ops;
pub mod shape;
mod suggest;

use std::collections::HashMap;

use syn::{Attribute, Ident};

pub use errors::Errors;
pub use ops::Op;
pub use shape::Shape;

use crate::parse::{
    Argument, InputDecl, NetworkDef, NodeDecl, OutputDecl, Statement, ValueKind, WeightsDecl,
};

/// The element type of every tensor of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    F32,
    F64,
}

/// A checked network.
#[derive(Clone)]
pub struct Graph {
    pub attrs: Vec<Attribute>,
    pub vis: syn::Visibility,
    pub name: Ident,
    pub element: Element,
    /// Nodes in evaluation order; every input of a node comes before it. `nodes[0]` is the input,
    /// the last node is the loss (when there is one).
    pub nodes: Vec<Node>,
    /// The output node: what the loss takes, or the node of `output name;` in a network without
    /// a loss (inference only).
    pub output: usize,
    /// Whether the last node is a loss (a network that trains).
    pub has_loss: bool,
    /// `weights = "...";`: the file whose tensors are compiled in.
    pub weights: Option<WeightsDecl>,
}

#[derive(Clone)]
pub struct Node {
    pub name: Ident,
    pub op: Op,
    /// Indices into `Graph::nodes`, in argument order (may repeat, as in `add(a, a)`).
    pub inputs: Vec<usize>,
    /// `frozen = true`: training leaves the node's parameters unchanged.
    pub frozen: bool,
    pub shape: Shape,
}

impl Graph {
    /// The loss, the last node (of a network that has one, see `has_loss`).
    pub fn loss_index(&self) -> usize {
        self.nodes.len() - 1
    }

    /// The network's output: the node whose values the loss takes, or the declared `output`.
    pub fn output_index(&self) -> usize {
        self.output
    }
}

/// One definition (the input or a node) with what is known about it before checking.
struct Definition<'a> {
    name: &'a Ident,
    kind: DefinitionKind<'a>,
}

enum DefinitionKind<'a> {
    Input(&'a InputDecl),
    Node(&'a NodeDecl),
}

/// Checks `def` and builds its graph, or returns every error found.
pub fn build(def: &NetworkDef) -> syn::Result<Graph> {
    let mut errors = Errors::default();
    let element = element_type(def, &mut errors);

    let definitions: Vec<Definition> = def
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Input(input) => Some(Definition {
                name: &input.name,
                kind: DefinitionKind::Input(input),
            }),
            Statement::Node(node) => Some(Definition {
                name: &node.name,
                kind: DefinitionKind::Node(node),
            }),
            Statement::Element(_) | Statement::Output(_) | Statement::Weights(_) => None,
        })
        .collect();
    let outputs: Vec<&OutputDecl> = def
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Output(output) => Some(output),
            _ => None,
        })
        .collect();
    let weights: Vec<&WeightsDecl> = def
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Weights(weights) => Some(weights),
            _ => None,
        })
        .collect();
    for extra in weights.iter().skip(1) {
        errors.at(
            extra.keyword.span(),
            "a network takes one `weights = \"...\";` file",
        );
    }

    // Names: unique, first definition wins.
    let mut position: HashMap<String, usize> = HashMap::new();
    for (i, d) in definitions.iter().enumerate() {
        let name = d.name.to_string();
        match position.entry(name) {
            std::collections::hash_map::Entry::Occupied(entry) => errors.at(
                d.name.span(),
                format!(
                    "`{}` is defined twice; every node needs its own name",
                    entry.key()
                ),
            ),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(i);
            }
        }
    }

    // Exactly one input, and it comes first.
    let inputs: Vec<usize> = definitions
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d.kind, DefinitionKind::Input(_)))
        .map(|(i, _)| i)
        .collect();
    match inputs.as_slice() {
        [] => errors.at(
            def.name.span(),
            format!(
                "`{}` has no input; declare one first, e.g. `input x: [64];` or `input image: [1, 28, 28];`",
                def.name
            ),
        ),
        [first, rest @ ..] => {
            if *first != 0 {
                errors.at(
                    definitions[*first].name.span(),
                    "the input must be declared before every node",
                );
            }
            for &extra in rest {
                errors.at(
                    definitions[extra].name.span(),
                    "a network has exactly one input; combine the data into one tensor",
                );
            }
        }
    }

    // Operations and raw input names.
    let resolved: Vec<Option<(Op, Vec<Ident>)>> = definitions
        .iter()
        .map(|d| match d.kind {
            DefinitionKind::Input(_) => Some((Op::Input, Vec::new())),
            DefinitionKind::Node(node) => ops::resolve(node, &mut errors),
        })
        .collect();

    let frozen: Vec<bool> = definitions
        .iter()
        .zip(&resolved)
        .map(|(d, r)| match (&d.kind, r) {
            (DefinitionKind::Node(node), Some((op, _))) => ops::frozen(node, op, &mut errors),
            _ => false,
        })
        .collect();

    // Input references: defined, and defined above.
    let mut input_indices: Vec<Option<Vec<usize>>> = Vec::with_capacity(definitions.len());
    for (i, r) in resolved.iter().enumerate() {
        let Some((_, names)) = r else {
            input_indices.push(None);
            continue;
        };
        let mut indices = Vec::new();
        for name in names {
            match position.get(&name.to_string()) {
                Some(&j) if j < i => indices.push(j),
                Some(&j) => {
                    errors.at(
                        name.span(),
                        use_before_definition(name, i, j, &definitions, &resolved),
                    );
                }
                None => {
                    let known = definitions[..i]
                        .iter()
                        .map(|d| d.name.to_string())
                        .collect::<Vec<_>>();
                    let hint =
                        match suggest::suggest(&name.to_string(), known.iter().map(String::as_str))
                        {
                            Some(s) => format!("; did you mean `{s}`?"),
                            None if known.is_empty() => String::new(),
                            None => format!("; nodes defined above: {}", known.join(", ")),
                        };
                    errors.at(name.span(), format!("unknown node `{name}`{hint}"));
                }
            }
        }
        input_indices.push((indices.len() == names.len()).then_some(indices));
    }

    // Shapes, in order; a node whose inputs failed gets no shape and no further errors.
    let mut shapes: Vec<Option<Shape>> = Vec::with_capacity(definitions.len());
    for (i, d) in definitions.iter().enumerate() {
        let shape = match (&d.kind, &resolved[i], &input_indices[i]) {
            (DefinitionKind::Input(input), _, _) => input_shape(input, &mut errors),
            (DefinitionKind::Node(node), Some((op, _)), Some(indices)) => {
                let known: Option<Vec<(String, Shape)>> = indices
                    .iter()
                    .map(|&j| {
                        shapes[j]
                            .clone()
                            .map(|s| (definitions[j].name.to_string(), s))
                    })
                    .collect();
                known.and_then(|inputs| {
                    let text = render_call(node);
                    let call = shape::Call {
                        text: &text,
                        span: node.call_span(),
                        inputs: &inputs,
                    };
                    shape::infer(op, &call, &mut errors)
                })
            }
            _ => None,
        };
        shapes.push(shape);
    }

    let declared_output = output_declaration(&outputs, &position, &resolved, &mut errors);
    check_loss(
        def,
        &definitions,
        &resolved,
        &input_indices,
        &outputs,
        &mut errors,
    );
    // Whether a node is used is only meaningful once names and references are right; reporting
    // it earlier would blame nodes for someone else's mistake.
    if errors.is_empty() {
        check_unused(
            &definitions,
            &resolved,
            &input_indices,
            declared_output,
            &mut errors,
        );
    }

    errors.finish()?;
    let nodes: Vec<Node> = definitions
        .iter()
        .zip(resolved)
        .zip(input_indices)
        .zip(shapes)
        .zip(frozen)
        .map(|((((d, r), inputs), shape), frozen)| {
            let (op, _) = r.expect("checked: no errors");
            Node {
                name: d.name.clone(),
                op,
                frozen,
                inputs: inputs.expect("checked: no errors"),
                shape: shape.expect("checked: no errors"),
            }
        })
        .collect();
    let has_loss = matches!(nodes[nodes.len() - 1].op, Op::Loss(_));
    let output = match declared_output {
        Some(output) if !has_loss => output,
        _ => nodes[nodes.len() - 1].inputs[0],
    };
    check_has_layers(&nodes, output)?;
    check_renorm_limits(&nodes)?;
    Ok(Graph {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        element: element.unwrap_or(Element::F32),
        nodes,
        output,
        has_loss,
        weights: weights.first().map(|&w| w.clone()),
    })
}

/// A loss (or an output) taken directly on the input (perhaps flattened) has nothing to learn or
/// compute.
fn check_has_layers(nodes: &[Node], output: usize) -> syn::Result<()> {
    let last = nodes.len() - 1;
    let mut source = output;
    while let Op::Flatten | Op::Reshape(_) = nodes[source].op {
        source = nodes[source].inputs[0];
    }
    if source == 0 {
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

/// The node of `output name;` (at most one, naming a node that is not the input or a loss).
fn output_declaration(
    outputs: &[&OutputDecl],
    position: &HashMap<String, usize>,
    resolved: &[Option<(Op, Vec<Ident>)>],
    errors: &mut Errors,
) -> Option<usize> {
    for extra in outputs.iter().skip(1) {
        errors.at(
            extra.keyword.span(),
            "a network has one output; declare `output` once",
        );
    }
    let decl = outputs.first()?;
    match position.get(&decl.name.to_string()) {
        None => {
            errors.at(
                decl.name.span(),
                format!(
                    "unknown node `{}`: `output` names a node defined in the network",
                    decl.name
                ),
            );
            None
        }
        Some(0) => {
            errors.at(
                decl.name.span(),
                format!(
                    "`{}` is the input; the output must be computed by a layer",
                    decl.name
                ),
            );
            None
        }
        Some(&i) if matches!(resolved[i], Some((Op::Loss(_), _))) => {
            errors.at(
                decl.name.span(),
                format!(
                    "`{}` is the loss; `output` names what a network computes",
                    decl.name
                ),
            );
            None
        }
        Some(&i) => Some(i),
    }
}

/// Every `batch_renorm` layer reads the network's one `renorm_limits` field (so that one
/// schedule can relax them all), so they must agree on its initial value.
fn check_renorm_limits(nodes: &[Node]) -> syn::Result<()> {
    let mut first: Option<&ops::BatchRenorm> = None;
    for node in nodes {
        if let Op::BatchRenorm(rn) = &node.op {
            match first {
                Some(f) if (f.r_max, f.d_max) != (rn.r_max, rn.d_max) => {
                    return Err(syn::Error::new(
                        node.name.span(),
                        format!(
                            "every `batch_renorm` of a network shares its `renorm_limits`; this one \
                             declares r_max = {}, d_max = {} but an earlier one r_max = {}, d_max = {}",
                            rn.r_max, rn.d_max, f.r_max, f.d_max
                        ),
                    ))
                }
                Some(_) => {}
                None => first = Some(rn),
            }
        }
    }
    Ok(())
}

fn element_type(def: &NetworkDef, errors: &mut Errors) -> Option<Element> {
    let mut element = None;
    for statement in &def.statements {
        let Statement::Element(decl) = statement else {
            continue;
        };
        if decl.key != "Element" {
            errors.at(
                decl.key.span(),
                format!(
                    "unknown associated type `{}`; the only one is `type Element = f32;` (or f64)",
                    decl.key
                ),
            );
            continue;
        }
        let parsed = match &decl.ty {
            syn::Type::Path(p) if p.path.is_ident("f32") => Some(Element::F32),
            syn::Type::Path(p) if p.path.is_ident("f64") => Some(Element::F64),
            _ => None,
        };
        match (parsed, element) {
            (None, _) => errors.spanned(&decl.ty, "the element type must be `f32` or `f64`"),
            (Some(_), Some(_)) => errors.spanned(&decl.ty, "the element type is declared twice"),
            (Some(e), None) => element = Some(e),
        }
    }
    element
}

fn input_shape(input: &InputDecl, errors: &mut Errors) -> Option<Shape> {
    let mut dims = Vec::new();
    let mut ok = true;
    for lit in &input.dims {
        match lit.base10_parse::<usize>() {
            Ok(0) => {
                errors.spanned(
                    lit,
                    format!(
                        "input `{}` has a zero-sized dimension; every dimension must be at least 1",
                        input.name
                    ),
                );
                ok = false;
            }
            Ok(n) => dims.push(n),
            Err(_) => {
                errors.spanned(lit, "a dimension must be a positive integer");
                ok = false;
            }
        }
    }
    if ok && !Shape::valid_rank(dims.len()) {
        errors.at(
            input.bracket.span.join(),
            format!(
                "input `{}` has {} dimensions; an input is a vector `[n]`, a sequence `[channels, length]` or an image `[channels, height, width]`",
                input.name,
                dims.len()
            ),
        );
        ok = false;
    }
    ok.then_some(Shape(dims))
}

fn use_before_definition(
    name: &Ident,
    user: usize,
    defined_at: usize,
    definitions: &[Definition],
    resolved: &[Option<(Op, Vec<Ident>)>],
) -> String {
    let user_name = definitions[user].name;
    if defined_at == user {
        return format!("`{user_name}` takes itself as input; a network has no cycles");
    }
    // Does the later definition depend, through names, on the user? Then this is a cycle.
    let index: HashMap<String, usize> = definitions
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.to_string(), i))
        .collect();
    let mut path = vec![defined_at];
    if let Some(cycle) = find_path(defined_at, user, &index, resolved, &mut path) {
        // cycle = [name, ..., user]: `user` uses `name`, which uses ..., which uses `user`.
        let chain: Vec<String> = cycle
            .iter()
            .map(|&i| format!("`{}`", definitions[i].name))
            .collect();
        return format!(
            "cycle: `{user_name}` uses {}; a network is a DAG evaluated top to bottom",
            chain.join(", which uses ")
        );
    }
    format!(
        "`{name}` is used before it is defined; nodes are evaluated top to bottom, so move \
         `{user_name} = ...` below `{name} = ...`"
    )
}

/// Depth-first search for a chain of name references from `from` to `to`.
fn find_path(
    from: usize,
    to: usize,
    index: &HashMap<String, usize>,
    resolved: &[Option<(Op, Vec<Ident>)>],
    path: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    if from == to {
        return Some(path.clone());
    }
    if path.len() > resolved.len() {
        return None;
    }
    let Some((_, names)) = &resolved[from] else {
        return None;
    };
    for name in names {
        if let Some(&next) = index.get(&name.to_string()) {
            if path.contains(&next) && next != to {
                continue;
            }
            path.push(next);
            if let Some(found) = find_path(next, to, index, resolved, path) {
                return Some(found);
            }
            path.pop();
        }
    }
    None
}

fn check_loss(
    def: &NetworkDef,
    definitions: &[Definition],
    resolved: &[Option<(Op, Vec<Ident>)>],
    input_indices: &[Option<Vec<usize>>],
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
    if let (Some(_), Some(output)) = (losses.first(), outputs.first()) {
        errors.at(
            output.keyword.span(),
            "a network with a loss outputs what its loss takes; `output` declares the output of \
             a network without a loss (inference only)",
        );
    }
    for &extra in losses.iter().skip(1) {
        errors.at(
            definitions[extra].name.span(),
            "a network has exactly one loss; add the terms with a single loss node",
        );
    }
    if let Some(&loss) = losses.first() {
        if loss != definitions.len() - 1 && losses.len() == 1 {
            errors.at(
                definitions[loss].name.span(),
                "the loss must be the last node of the network",
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

fn check_unused(
    definitions: &[Definition],
    resolved: &[Option<(Op, Vec<Ident>)>],
    input_indices: &[Option<Vec<usize>>],
    declared_output: Option<usize>,
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
    let (root, target) = if matches!(resolved[last], Some((Op::Loss(_), _))) {
        (last, "the loss")
    } else if let Some(output) = declared_output {
        (output, "the output")
    } else {
        return;
    };
    let mut used = vec![false; definitions.len()];
    used[root] = true;
    for i in (0..definitions.len()).rev() {
        if used[i] {
            for &j in input_indices[i].iter().flatten() {
                used[j] = true;
            }
        }
    }
    for (i, d) in definitions.iter().enumerate() {
        if !used[i] && !matches!(resolved[i], Some((Op::Loss(_), _))) {
            errors.at(
                d.name.span(),
                format!(
                    "`{}` is never used: it does not lead to {target}; remove it or use it as an input",
                    d.name
                ),
            );
        }
    }
}

/// The call as the user wrote it, e.g. `conv2d(x, 8, kernel = 3)`, for messages.
fn render_call(node: &NodeDecl) -> String {
    let args: Vec<String> = node
        .args
        .iter()
        .map(|a| match a {
            Argument::Positional(v) => render_tokens(&v.tokens),
            Argument::Named { key, value } => format!("{key} = {}", render_tokens(&value.tokens)),
        })
        .collect();
    format!("{}({})", node.op, args.join(", "))
}

fn render_tokens(tokens: &proc_macro2::TokenStream) -> String {
    tokens
        .to_string()
        .replace(" ,", ",")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace("- ", "-")
}
