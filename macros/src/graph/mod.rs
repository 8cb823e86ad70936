//! The network as a checked graph: nodes in evaluation order, each with its operation, its
//! inputs and its static per-sample shape. `build` runs every compile-time check and reports all
//! problems at once, each on the tokens that caused it.

mod args;
mod ends;
mod errors;
mod language;
pub mod ops;
pub mod shape;
mod suggest;

use std::collections::HashMap;

use syn::{Attribute, Ident};

use ends::{check_has_layers, check_loss, check_trained, check_unused, output_declaration};
pub use errors::Errors;
pub use ops::Op;
pub use shape::Shape;

use crate::parse::{
    Argument, BatchDecl, InputDecl, NetworkDef, NodeDecl, OutputDecl, Statement, WeightsDecl,
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
    /// Nodes in evaluation order; every input of a node comes before it. `nodes[..inputs]` are
    /// the inputs in declaration order, the last node is the loss (when there is one).
    pub nodes: Vec<Node>,
    /// How many inputs the network declares (at least one).
    pub inputs: usize,
    /// The name of the generated input struct of a network with several inputs (`NetInput`).
    pub input_struct: Ident,
    /// What the loss takes (a network with a loss; the `Network::Output` of the training
    /// methods), or the first declared output of a network without a loss.
    pub output: usize,
    /// What inference (`infer`, `forward`, `predict`, `forward_eval`) returns: the declared
    /// outputs (`output a, b;`) in the order written, or else what the loss takes.
    pub outputs: Vec<usize>,
    /// The name of the generated output struct of a network with several outputs (`NetOutput`).
    pub output_struct: Ident,
    /// Whether the last node is a loss (a network that trains).
    pub has_loss: bool,
    /// `weights = "...";`: the file whose tensors are compiled in.
    pub weights: Option<WeightsDecl>,
    /// `batch 32, 64;`: the batch sizes whose training passes are compiled in the declaring
    /// crate, each once (in the order written, without repeats).
    pub batches: Vec<usize>,
}

#[derive(Clone)]
pub struct Node {
    pub name: Ident,
    pub op: Op,
    /// Indices into `Graph::nodes`, in argument order (may repeat, as in `add(a, a)`).
    pub inputs: Vec<usize>,
    /// `frozen = true`: training leaves the node's parameters unchanged.
    pub frozen: bool,
    /// A loss's `weight = w` (an auxiliary loss's factor in the total); 1 for every other node.
    pub weight: f64,
    pub shape: Shape,
}

impl Graph {
    /// The auxiliary losses: every loss but the last node, each with its weight.
    pub fn aux_losses(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        let last = self.nodes.len() - 1;
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(i, node)| *i != last && matches!(node.op, Op::Loss(_)))
            .map(|(i, node)| (i, node.weight))
    }

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
            Statement::Element(_)
            | Statement::Output(_)
            | Statement::Weights(_)
            | Statement::Batch(_) => None,
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
    let batches = batch_sizes(def, &mut errors);

    // Names: unique, first definition wins.
    let mut position: HashMap<String, usize> = HashMap::new();
    for (i, d) in definitions.iter().enumerate() {
        let name = d.name.to_string();
        match position.entry(name) {
            std::collections::hash_map::Entry::Occupied(entry) => {
                let message = match (&definitions[*entry.get()].kind, &d.kind) {
                    (DefinitionKind::Input(_), DefinitionKind::Input(_)) => format!(
                        "input `{}` is declared twice; every input needs its own name",
                        entry.key()
                    ),
                    _ => format!(
                        "`{}` is defined twice; every node needs its own name",
                        entry.key()
                    ),
                };
                errors.at(d.name.span(), message)
            }
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(i);
            }
        }
    }

    // One input or more, declared before every node.
    let inputs: Vec<usize> = definitions
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d.kind, DefinitionKind::Input(_)))
        .map(|(i, _)| i)
        .collect();
    if inputs.is_empty() {
        errors.at(
            def.name.span(),
            format!(
                "`{}` has no input; declare one first, e.g. `input x: [64];` or `input image: [1, 28, 28];`",
                def.name
            ),
        );
    }
    for (k, &i) in inputs.iter().enumerate() {
        if i != k {
            errors.at(
                definitions[i].name.span(),
                "inputs must be declared before every node",
            );
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

    let declared_outputs = output_declaration(&outputs, &position, &resolved, &mut errors);
    check_loss(
        def,
        &definitions,
        &resolved,
        &input_indices,
        &shapes,
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
            &declared_outputs,
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
            let weight = match (&d.kind, &op) {
                (DefinitionKind::Node(node), Op::Loss(_)) => {
                    ops::loss_weight(node).map_or(1.0, |(w, _)| w)
                }
                _ => 1.0,
            };
            Node {
                name: d.name.clone(),
                op,
                frozen,
                weight,
                inputs: inputs.expect("checked: no errors"),
                shape: shape.expect("checked: no errors"),
            }
        })
        .collect();
    let has_loss = matches!(nodes[nodes.len() - 1].op, Op::Loss(_));
    let output = match declared_outputs.first() {
        Some(&output) if !has_loss => output,
        _ => nodes[nodes.len() - 1].inputs[0],
    };
    let outputs = if declared_outputs.is_empty() {
        vec![output]
    } else {
        declared_outputs
    };
    check_trained(&nodes, has_loss)?;
    if !has_loss {
        if let Some(Statement::Batch(decl)) = def
            .statements
            .iter()
            .find(|s| matches!(s, Statement::Batch(_)))
        {
            return Err(syn::Error::new(
                decl.keyword.span(),
                format!(
                    "`batch` compiles the training passes at the sizes listed, and `{}` has \
                     no loss (it does not train): remove the statement",
                    def.name
                ),
            ));
        }
    }
    let input_count = nodes
        .iter()
        .take_while(|node| matches!(node.op, Op::Input))
        .count();
    for &o in &outputs {
        check_has_layers(&nodes, o, input_count)?;
    }
    check_renorm_limits(&nodes)?;
    Ok(Graph {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        element: element.unwrap_or(Element::F32),
        nodes,
        inputs: input_count,
        input_struct: quote::format_ident!("{}Input", def.name),
        output,
        outputs,
        output_struct: quote::format_ident!("{}Output", def.name),
        has_loss,
        weights: weights.first().map(|&w| w.clone()),
        batches,
    })
}

/// The sizes of `batch 32, 64;` (one such statement at most), each positive and written once.
fn batch_sizes(def: &NetworkDef, errors: &mut Errors) -> Vec<usize> {
    let decls: Vec<&BatchDecl> = def
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Batch(batch) => Some(batch),
            _ => None,
        })
        .collect();
    for extra in decls.iter().skip(1) {
        errors.at(
            extra.keyword.span(),
            "a network takes one `batch ...;` statement: list every size in it, e.g. `batch 32, 64;`",
        );
    }
    let mut sizes = Vec::new();
    for lit in decls.first().map(|d| &d.sizes[..]).unwrap_or(&[]) {
        match lit.base10_parse::<usize>() {
            Ok(0) | Err(_) => errors.at(lit.span(), "a batch size is a positive integer"),
            Ok(size) if sizes.contains(&size) => {
                errors.at(lit.span(), format!("batch size {size} is listed twice"))
            }
            Ok(size) => sizes.push(size),
        }
    }
    sizes
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
