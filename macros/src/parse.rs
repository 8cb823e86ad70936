//! The syntax tree of the `network!` DSL: what the user wrote, with every token kept so later
//! phases can point at it. Parsing judges form only, never meaning (that is `graph`'s job).
//!
//! ```text
//! network    := attribute* visibility "struct" IDENT "{" statement* "}"
//! statement  := "type" "Element" "=" TYPE ";"
//!             | "input" IDENT ":" "[" INT ("," INT)* "]" ";"
//!             | "output" IDENT ("," IDENT)* ";"
//!             | "weights" "=" STRING ";"
//!             | "batch" INT ("," INT)* ";"
//!             | IDENT "=" IDENT "(" argument ("," argument)* ","? ")" ";"
//! argument   := IDENT "=" value | value
//! value      := IDENT | INT | FLOAT | "true" | "false" | "-" (INT | FLOAT) | "(" value ("," value)* ")"
//!             | "[" value ("," value)* "]" | STRING | LITERAL
//! ```
//!
//! Lists are the shape of `reshape(x, [1, 8, 8])`. Strings and other literals are no value of
//! any operation, but they are what users of other frameworks write (`approximate = "tanh"`):
//! they parse, so that `graph` can say what to write instead rather than the parser rejecting a
//! `"`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    bracketed, parenthesized, token, Attribute, Ident, Lit, LitBool, LitFloat, LitInt, LitStr,
    Token,
};

/// The whole declaration.
pub struct NetworkDef {
    /// Doc comments and other attributes, passed through to the generated struct.
    pub attrs: Vec<Attribute>,
    pub vis: syn::Visibility,
    pub name: Ident,
    pub statements: Vec<Statement>,
}

/// One `;`-terminated line of the body.
pub enum Statement {
    /// `type Element = f64;`
    Element(ElementDecl),
    /// `input x: [1, 28, 28];`
    Input(InputDecl),
    /// `h = linear(x, 128, init = he_normal);`
    Node(NodeDecl),
    /// `output logits;` or `output embedding, logits;`: what inference returns (the output of a
    /// network without a loss, or outputs next to a loss).
    Output(OutputDecl),
    /// `weights = "model.safetensors";`: parameters compiled in from a file.
    Weights(WeightsDecl),
    /// `batch 32;`: batch sizes whose training passes are compiled once, in the declaring crate.
    Batch(BatchDecl),
}

/// `batch 32, 64;`: the batch sizes the crate trains with. The training passes at these sizes
/// become non-generic functions of the declaring crate, compiled there once, instead of
/// generic code compiled again in every crate (every binary) that trains the network.
pub struct BatchDecl {
    /// The `batch` keyword, for errors about the declaration itself.
    pub keyword: Ident,
    pub sizes: Vec<LitInt>,
}

/// `weights = "model.safetensors";`: a safetensors file (relative to the user crate's
/// `CARGO_MANIFEST_DIR`) whose tensors become the network's compiled-in parameters and state.
#[derive(Clone)]
pub struct WeightsDecl {
    /// The `weights` keyword, where errors about the file point.
    pub keyword: Ident,
    pub path: LitStr,
}

pub struct OutputDecl {
    /// The `output` keyword, for errors about the declaration itself.
    pub keyword: Ident,
    /// The output nodes, in the order written (at least one).
    pub names: Vec<Ident>,
}

pub struct ElementDecl {
    /// The `Element` identifier (checked by `graph`).
    pub key: Ident,
    pub ty: syn::Type,
}

pub struct InputDecl {
    pub name: Ident,
    pub dims: Vec<LitInt>,
    pub bracket: token::Bracket,
}

pub struct NodeDecl {
    pub name: Ident,
    /// The operation's name, e.g. `linear`.
    pub op: Ident,
    pub paren: token::Paren,
    pub args: Vec<Argument>,
}

impl NodeDecl {
    /// The tokens `op(...)`, for errors about the whole call.
    pub fn call_span(&self) -> SpanRange {
        SpanRange {
            start: self.op.span(),
            end: self.paren.span.close(),
        }
    }
}

/// A positional or named argument of an operation.
pub enum Argument {
    Positional(Value),
    Named { key: Ident, value: Value },
}

/// An argument value, with its original tokens.
#[derive(Clone)]
pub struct Value {
    pub kind: ValueKind,
    pub tokens: TokenStream,
}

#[derive(Clone)]
pub enum ValueKind {
    Ident(Ident),
    Int(LitInt),
    /// A negative integer `-n` (kept apart so that sizes, which must be positive, can say so).
    NegInt(LitInt),
    Float(f64),
    Bool(bool),
    Tuple(Vec<Value>),
    /// `[a, b, ...]`: the shape of `reshape` (sizes and pairs are written `(h, w)`).
    List(Vec<Value>),
    /// `"text"`: not a value of the language (choices are written without quotes).
    Str(LitStr),
    /// Any other literal (`'c'`, `b"..."`): not a value of the language.
    OtherLit,
}

impl ToTokens for Value {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.tokens.clone());
    }
}

/// A range of source between two spans, for errors that cover several tokens (stable Rust cannot
/// join spans, but `syn::Error::new_spanned` renders from the first to the last token).
#[derive(Clone, Copy)]
pub struct SpanRange {
    pub start: Span,
    pub end: Span,
}

impl ToTokens for SpanRange {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend([
            proc_macro2::TokenTree::Punct(with_span(
                proc_macro2::Punct::new('<', proc_macro2::Spacing::Alone),
                self.start,
            )),
            proc_macro2::TokenTree::Punct(with_span(
                proc_macro2::Punct::new('>', proc_macro2::Spacing::Alone),
                self.end,
            )),
        ]);
    }
}

fn with_span(mut punct: proc_macro2::Punct, span: Span) -> proc_macro2::Punct {
    punct.set_span(span);
    punct
}

impl Parse for NetworkDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        if !input.peek(Token![struct]) {
            return Err(input.error(
                "expected `struct Name { ... }`, e.g. `pub struct Classifier { input x: [64]; ... }`",
            ));
        }
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input.error(
                "a network takes no generic parameters: the batch size is a parameter of its \
                 methods, the element type is declared with `type Element = f64;` in the body",
            ));
        }
        let body;
        syn::braced!(body in input);
        let mut statements = Vec::new();
        while !body.is_empty() {
            statements.push(body.parse()?);
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's closing brace"));
        }
        Ok(NetworkDef {
            attrs,
            vis,
            name,
            statements,
        })
    }
}

impl Parse for Statement {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![type]) {
            input.parse::<Token![type]>()?;
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let ty: syn::Type = input.parse()?;
            input.parse::<Token![;]>()?;
            return Ok(Statement::Element(ElementDecl { key, ty }));
        }
        let lookahead = input.lookahead1();
        if !lookahead.peek(Ident) {
            return Err(lookahead.error());
        }
        let first: Ident = input.parse()?;
        if first == "input" && input.peek(Ident) {
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            let content;
            let bracket = bracketed!(content in input);
            let dims: Punctuated<LitInt, Token![,]> =
                content.parse_terminated(LitInt::parse, Token![,])?;
            if dims.is_empty() {
                return Err(syn::Error::new(
                    bracket.span.join(),
                    "an input needs a shape, e.g. `[64]` or `[1, 28, 28]`",
                ));
            }
            input.parse::<Token![;]>()?;
            return Ok(Statement::Input(InputDecl {
                name,
                dims: dims.into_iter().collect(),
                bracket,
            }));
        }
        if first == "output" && input.peek(Ident) {
            let mut names = vec![input.parse::<Ident>()?];
            while input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
                names.push(input.parse::<Ident>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected the name of a node: `output embedding, logits;`",
                    )
                })?);
            }
            input.parse::<Token![;]>()?;
            return Ok(Statement::Output(OutputDecl {
                keyword: first,
                names,
            }));
        }
        if first == "batch" && input.peek(LitInt) {
            let sizes: Punctuated<LitInt, Token![,]> = Punctuated::parse_separated_nonempty(input)
                .map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected batch sizes: `batch 32;` or `batch 32, 64;`",
                    )
                })?;
            input.parse::<Token![;]>()?;
            return Ok(Statement::Batch(BatchDecl {
                keyword: first,
                sizes: sizes.into_iter().collect(),
            }));
        }
        if first == "weights" && input.peek(Token![=]) && input.peek2(LitStr) {
            input.parse::<Token![=]>()?;
            let path: LitStr = input.parse()?;
            input.parse::<Token![;]>()?;
            return Ok(Statement::Weights(WeightsDecl {
                keyword: first,
                path,
            }));
        }
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                first.span(),
                format!(
                    "expected `{first} = operation(...);`, `input {first}: [...];` or \
                     `type Element = f32;`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        let op: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected an operation, e.g. `linear(x, 128)` or `relu(h)`",
            )
        })?;
        if !input.peek(token::Paren) {
            return Err(syn::Error::new(
                op.span(),
                format!(
                    "expected `{op}(...)`: an operation is called with its inputs in parentheses"
                ),
            ));
        }
        let content;
        let paren = parenthesized!(content in input);
        let args: Punctuated<Argument, Token![,]> =
            content.parse_terminated(Argument::parse, Token![,])?;
        input.parse::<Token![;]>()?;
        Ok(Statement::Node(NodeDecl {
            name: first,
            op,
            paren,
            args: args.into_iter().collect(),
        }))
    }
}

impl Parse for Argument {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `return = last` (of `gru` / `lstm`) names its option with a keyword.
        if (input.peek(Ident) || input.peek(Token![return])) && input.peek2(Token![=]) {
            let key: Ident = syn::ext::IdentExt::parse_any(input)?;
            input.parse::<Token![=]>()?;
            let value = input.parse()?;
            Ok(Argument::Named { key, value })
        } else {
            Ok(Argument::Positional(input.parse()?))
        }
    }
}

impl Parse for Value {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let fork = input.fork();
        let kind = parse_value_kind(input)?;
        // Keep the exact tokens consumed, so errors point at what the user wrote.
        let mut tokens = TokenStream::new();
        let mut cursor = fork.cursor();
        let end = input.cursor();
        while cursor != end {
            match cursor.token_tree() {
                Some((tt, next)) => {
                    tokens.extend([tt]);
                    cursor = next;
                }
                None => break,
            }
        }
        Ok(Value { kind, tokens })
    }
}

fn parse_value_kind(input: ParseStream) -> syn::Result<ValueKind> {
    let lookahead = input.lookahead1();
    if lookahead.peek(LitBool) {
        Ok(ValueKind::Bool(input.parse::<LitBool>()?.value))
    } else if lookahead.peek(Ident) {
        Ok(ValueKind::Ident(input.parse()?))
    } else if lookahead.peek(LitInt) {
        Ok(ValueKind::Int(input.parse()?))
    } else if lookahead.peek(LitFloat) {
        Ok(ValueKind::Float(input.parse::<LitFloat>()?.base10_parse()?))
    } else if lookahead.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        if input.peek(LitInt) {
            Ok(ValueKind::NegInt(input.parse()?))
        } else if input.peek(LitFloat) {
            Ok(ValueKind::Float(
                -input.parse::<LitFloat>()?.base10_parse::<f64>()?,
            ))
        } else {
            Err(input.error("expected a number after `-`"))
        }
    } else if lookahead.peek(token::Paren) {
        let content;
        parenthesized!(content in input);
        let items: Punctuated<Value, Token![,]> =
            content.parse_terminated(Value::parse, Token![,])?;
        Ok(ValueKind::Tuple(items.into_iter().collect()))
    } else if lookahead.peek(token::Bracket) {
        let content;
        bracketed!(content in input);
        let items: Punctuated<Value, Token![,]> =
            content.parse_terminated(Value::parse, Token![,])?;
        Ok(ValueKind::List(items.into_iter().collect()))
    } else if lookahead.peek(LitStr) {
        Ok(ValueKind::Str(input.parse()?))
    } else if input.peek(Lit) {
        input.parse::<Lit>()?;
        Ok(ValueKind::OtherLit)
    } else {
        Err(lookahead.error())
    }
}
