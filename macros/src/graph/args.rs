//! Reading the arguments of one call: positional inputs and sizes, named options with their
//! defaults, every problem reported on its own token. `ops::resolve` asks for what each
//! operation takes; whatever is left over is reported as surplus or unknown.

use syn::Ident;

use super::errors::Errors;
use super::language::{usage, FROZEN};
use super::suggest::suggest;
use crate::parse::{Argument, NodeDecl, Value, ValueKind};

/// Reads the arguments of one call, reporting every problem, and remembers which option names
/// the operation accepts so that an unknown one can be reported with the list.
pub struct ArgReader<'a> {
    decl: &'a NodeDecl,
    pub errors: &'a mut Errors,
    positional: Vec<&'a Value>,
    next_positional: usize,
    named: Vec<(&'a Ident, &'a Value)>,
    known_options: Vec<&'static str>,
    ok: bool,
}

impl<'a> ArgReader<'a> {
    pub fn new(decl: &'a NodeDecl, errors: &'a mut Errors) -> Self {
        let mut positional = Vec::new();
        let mut named: Vec<(&Ident, &Value)> = Vec::new();
        let mut ok = true;
        for arg in &decl.args {
            match arg {
                Argument::Positional(value) => {
                    if !named.is_empty() {
                        errors.spanned(
                            value,
                            "positional arguments must come before named options like `stride = 2`",
                        );
                        ok = false;
                    }
                    positional.push(value);
                }
                Argument::Named { key, value } => {
                    if named.iter().any(|(k, _)| *k == key) {
                        errors.at(key.span(), format!("option `{key}` is given twice"));
                        ok = false;
                    }
                    named.push((key, value));
                }
            }
        }
        ArgReader {
            decl,
            errors,
            positional,
            next_positional: 0,
            named,
            known_options: Vec::new(),
            ok,
        }
    }

    fn op(&self) -> String {
        self.decl.op.to_string()
    }

    fn missing(&mut self, what: &str) {
        let usage = usage(&self.op());
        self.errors.spanned(
            self.decl.call_span(),
            format!("`{}` needs {what}\nusage: {usage}", self.op()),
        );
        self.ok = false;
    }

    fn next_positional(&mut self) -> Option<&'a Value> {
        let value = self.positional.get(self.next_positional).copied();
        if value.is_some() {
            self.next_positional += 1;
        }
        value
    }

    /// The next positional argument, which must name a node.
    pub fn node(&mut self, what: &str) -> Option<Ident> {
        match self.next_positional() {
            Some(Value {
                kind: ValueKind::Ident(ident),
                ..
            }) => Some(ident.clone()),
            Some(Value {
                kind: ValueKind::Str(lit),
                tokens,
            }) if syn::parse_str::<Ident>(&lit.value()).is_ok() => {
                self.errors.spanned(
                    tokens,
                    format!(
                        "`{}`: write the node name without quotes: `{}`",
                        self.op(),
                        lit.value()
                    ),
                );
                self.ok = false;
                None
            }
            Some(other) => {
                self.errors.spanned(
                    other,
                    format!("expected the name of a node as {what} of `{}`", self.op()),
                );
                self.ok = false;
                None
            }
            None => {
                self.missing(&format!("{what} (a node name)"));
                None
            }
        }
    }

    /// The next positional argument, a positive integer.
    pub fn size(&mut self, what: &str, example: &str) -> Option<usize> {
        match self.next_positional() {
            Some(value) => self.positive_int(value, what),
            None => {
                self.missing(&format!("{what}, e.g. `{example}`"));
                None
            }
        }
    }

    /// The next positional argument: `k` or `(kh, kw)`.
    pub fn size_or_pair(&mut self, what: &str, example: &str) -> Option<(usize, usize)> {
        match self.next_positional() {
            Some(value) => self.pair_value(value, what, false),
            None => {
                self.missing(&format!("{what}, e.g. `{example}`"));
                None
            }
        }
    }

    /// The next positional argument, a shape `[d0, d1, ..]` of positive integers with at most
    /// one `-1` (inferred from the element count, as in PyTorch): `None` stands for the `-1`.
    pub fn shape_list(&mut self, what: &str, example: &str) -> Option<Vec<Option<usize>>> {
        let Some(value) = self.next_positional() else {
            self.missing(&format!("{what}, e.g. `{example}`"));
            return None;
        };
        let items = match &value.kind {
            ValueKind::List(items) if !items.is_empty() => items,
            ValueKind::Tuple(items) if !items.is_empty() => {
                let dims: Vec<String> = items.iter().map(|v| v.tokens.to_string()).collect();
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: {what} is a list in brackets: `[{}]`",
                        self.op(),
                        dims.join(", ")
                    ),
                );
                self.ok = false;
                return None;
            }
            _ => {
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: {what} is a list of dimensions in brackets, e.g. `{example}`",
                        self.op()
                    ),
                );
                self.ok = false;
                return None;
            }
        };
        let mut dims = Vec::with_capacity(items.len());
        let mut inferred = 0;
        for item in items {
            match &item.kind {
                // syn may read `-1` as one negative literal.
                ValueKind::NegInt(lit) | ValueKind::Int(lit)
                    if lit.base10_digits().trim_start_matches('-') == "1"
                        && (matches!(item.kind, ValueKind::NegInt(_))
                            || lit.base10_digits().starts_with('-')) =>
                {
                    inferred += 1;
                    if inferred > 1 {
                        self.errors.spanned(
                            item,
                            format!(
                                "`{}`: only one dimension can be inferred with `-1`",
                                self.op()
                            ),
                        );
                        self.ok = false;
                    }
                    dims.push(None);
                }
                _ => dims.push(Some(self.positive_int(item, "a dimension")?)),
            }
        }
        (inferred <= 1).then_some(dims)
    }

    /// The next positional argument, a finite number (integer or float, maybe negative).
    pub fn number(&mut self, what: &str, example: &str) -> Option<f64> {
        let Some(value) = self.next_positional() else {
            self.missing(&format!("{what}, e.g. `{example}`"));
            return None;
        };
        let number = match &value.kind {
            ValueKind::Float(f) => Some(*f),
            ValueKind::Int(lit) => lit.base10_parse::<f64>().ok(),
            ValueKind::NegInt(lit) => lit.base10_parse::<f64>().ok().map(|v| -v),
            _ => None,
        };
        match number {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                let problem = match &value.kind {
                    ValueKind::Str(lit) if lit.value().trim().parse::<f64>().is_ok() => format!(
                        "`{}`: {what} is a number: write `{}` without quotes",
                        self.op(),
                        lit.value().trim()
                    ),
                    ValueKind::Ident(ident) => format!(
                        "`{}`: {what} must be a constant number, e.g. `{example}`; `{ident}` \
                         would be a node (to multiply two nodes write `mul(a, b)`)",
                        self.op()
                    ),
                    _ => format!(
                        "`{}`: {what} must be a finite number, e.g. `{example}`, not `{}`",
                        self.op(),
                        value.tokens
                    ),
                };
                self.errors.spanned(value, problem);
                self.ok = false;
                None
            }
        }
    }

    fn positive_int(&mut self, value: &Value, what: &str) -> Option<usize> {
        self.int_value(value, what, false)
    }

    fn int_value(&mut self, value: &Value, what: &str, allow_zero: bool) -> Option<usize> {
        let expected = if allow_zero {
            "a non-negative integer"
        } else {
            "a positive integer"
        };
        let op = self.op();
        let negative = |digits: &str| {
            format!("`{op}`: {what} must be {expected}, not the negative `-{digits}`; write e.g. `{digits}`")
        };
        let problem = match &value.kind {
            ValueKind::Int(lit) => match lit.base10_parse::<usize>() {
                Ok(0) if !allow_zero => format!(
                    "`{op}`: {what} must be at least 1; a zero-sized dimension would make an empty tensor"
                ),
                Ok(n) => return Some(n),
                // syn reads `-4` as one negative literal.
                Err(_) if lit.base10_digits().starts_with('-') => {
                    negative(lit.base10_digits().trim_start_matches('-'))
                }
                Err(_) => format!("`{op}`: {what} must be {expected}, not `{}`", value.tokens),
            },
            ValueKind::NegInt(lit) => negative(lit.base10_digits()),
            ValueKind::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 1e15 => format!(
                "`{op}`: {what} must be an integer: write `{}` instead of `{}`",
                *f as u64,
                value.tokens
            ),
            ValueKind::Str(lit) if lit.value().trim().parse::<usize>().is_ok() => format!(
                "`{op}`: {what} is a number: write `{}` without quotes",
                lit.value().trim()
            ),
            ValueKind::List(_) => format!(
                "`{op}`: {what} must be {expected}; lists `[..]` are not values here (a pair is \
                 written `(height, width)`)"
            ),
            ValueKind::Str(_) => format!("`{op}`: {what} must be {expected}, not a string"),
            _ => format!("`{op}`: {what} must be {expected}, not `{}`", value.tokens),
        };
        self.errors.spanned(value, problem);
        self.ok = false;
        None
    }

    fn pair_value(
        &mut self,
        value: &Value,
        what: &str,
        allow_zero: bool,
    ) -> Option<(usize, usize)> {
        match &value.kind {
            ValueKind::Tuple(items) if items.len() == 2 => {
                let a = self.int_value(&items[0], what, allow_zero);
                let b = self.int_value(&items[1], what, allow_zero);
                Some((a?, b?))
            }
            ValueKind::List(items) if items.len() == 2 => {
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: {what} is written as a pair in parentheses: `({}, {})`",
                        self.op(),
                        items[0].tokens,
                        items[1].tokens
                    ),
                );
                self.ok = false;
                None
            }
            ValueKind::Tuple(_) | ValueKind::List(_) => {
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: {what} is one integer or a pair `(height, width)`",
                        self.op()
                    ),
                );
                self.ok = false;
                None
            }
            _ => self.int_value(value, what, allow_zero).map(|n| (n, n)),
        }
    }

    fn option(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known_options.push(key);
        self.named.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Whether option `key` is given as the bare word `word` (`padding = causal`); the option
    /// is then read (other values are left to the option's usual reader).
    pub fn is_keyword(&mut self, key: &'static str, word: &str) -> bool {
        matches!(self.option(key), Some(Value { kind: ValueKind::Ident(ident), .. }) if ident == word)
    }

    pub fn error_on_option(&mut self, key: &str, message: &str) {
        if let Some((_, value)) = self.named.iter().find(|(k, _)| *k == key) {
            self.errors
                .spanned(*value, format!("`{}`: {message}", self.op()));
        }
        self.ok = false;
    }

    pub fn opt_size(&mut self, key: &'static str, default: usize) -> usize {
        match self.option(key) {
            Some(value) => self
                .positive_int(value, &format!("`{key}`"))
                .unwrap_or(default),
            None => default,
        }
    }

    /// A required option, a positive integer (`kernel = 3` of a 1-D layer).
    pub fn required_size(&mut self, key: &'static str) -> Option<usize> {
        match self.option(key) {
            Some(value) => self.int_value(value, &format!("`{key}`"), false),
            None => {
                self.missing(&format!("a `{key}` size, e.g. `{key} = 3`"));
                None
            }
        }
    }

    /// An option that is a non-negative integer (`padding = 1` of a 1-D layer).
    pub fn opt_size_allow_zero(&mut self, key: &'static str, default: usize) -> usize {
        match self.option(key) {
            Some(value) => self
                .int_value(value, &format!("`{key}`"), true)
                .unwrap_or(default),
            None => default,
        }
    }

    pub fn required_pair(&mut self, key: &'static str) -> Option<(usize, usize)> {
        match self.option(key) {
            Some(value) => self.pair_value(value, &format!("`{key}`"), false),
            None => {
                self.missing(&format!("a `{key}` size, e.g. `{key} = 3`"));
                None
            }
        }
    }

    pub fn pair(&mut self, key: &'static str, default: (usize, usize)) -> (usize, usize) {
        match self.option(key) {
            Some(value) => self
                .pair_value(value, &format!("`{key}`"), false)
                .unwrap_or(default),
            None => default,
        }
    }

    pub fn pair_allow_zero(
        &mut self,
        key: &'static str,
        default: (usize, usize),
    ) -> (usize, usize) {
        match self.option(key) {
            Some(value) => self
                .pair_value(value, &format!("`{key}`"), true)
                .unwrap_or(default),
            None => default,
        }
    }

    pub fn float(&mut self, key: &'static str, default: f64) -> f64 {
        let Some(value) = self.option(key) else {
            return default;
        };
        match &value.kind {
            ValueKind::Float(f) => *f,
            ValueKind::Int(lit) => lit.base10_parse::<f64>().unwrap_or(default),
            ValueKind::NegInt(lit) => -lit.base10_parse::<f64>().unwrap_or(-default),
            ValueKind::Str(lit) if lit.value().trim().parse::<f64>().is_ok() => {
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: `{key}` is a number: write `{key} = {}` without quotes",
                        self.op(),
                        lit.value().trim()
                    ),
                );
                self.ok = false;
                default
            }
            _ => {
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: `{key}` must be a number, e.g. `{key} = {default}`",
                        self.op()
                    ),
                );
                self.ok = false;
                default
            }
        }
    }

    pub fn positive_float(&mut self, key: &'static str, default: f64) -> f64 {
        let v = self.float(key, default);
        if v <= 0.0 || !v.is_finite() {
            self.error_on_option(key, &format!("`{key}` must be a positive number"));
            return default;
        }
        v
    }

    pub fn unit_float(&mut self, key: &'static str, default: f64) -> f64 {
        let v = self.float(key, default);
        if !(0.0..=1.0).contains(&v) {
            self.error_on_option(key, &format!("`{key}` must be between 0 and 1"));
            return default;
        }
        v
    }

    pub fn boolean(&mut self, key: &'static str, default: bool) -> bool {
        let Some(value) = self.option(key) else {
            return default;
        };
        match &value.kind {
            ValueKind::Bool(b) => *b,
            ValueKind::Str(lit) if matches!(lit.value().trim(), "true" | "false") => {
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: write `{key} = {}` without quotes",
                        self.op(),
                        lit.value().trim()
                    ),
                );
                self.ok = false;
                default
            }
            ValueKind::Ident(ident) if matches!(ident.to_string().as_str(), "True" | "False") => {
                self.errors.spanned(
                    value,
                    format!(
                        "`{}`: write `{key} = {}` in lowercase",
                        self.op(),
                        ident.to_string().to_lowercase()
                    ),
                );
                self.ok = false;
                default
            }
            _ => {
                self.errors.spanned(
                    value,
                    format!("`{}`: `{key}` must be `true` or `false`", self.op()),
                );
                self.ok = false;
                default
            }
        }
    }

    pub fn choice<T: Copy>(&mut self, key: &'static str, choices: &[(&str, T)], default: T) -> T {
        let Some(value) = self.option(key) else {
            return default;
        };
        if let ValueKind::Ident(ident) = &value.kind {
            let name = ident.to_string();
            if let Some((_, v)) = choices.iter().find(|(n, _)| *n == name) {
                return *v;
            }
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        if let ValueKind::Str(lit) = &value.kind {
            let text = lit.value();
            let message = if names.contains(&text.trim()) {
                format!(
                    "`{}`: write `{key} = {}` without quotes",
                    self.op(),
                    text.trim()
                )
            } else {
                let hint = match suggest(text.trim(), names.iter().copied()) {
                    Some(s) => format!(" (did you mean `{key} = {s}`?)"),
                    None => String::new(),
                };
                format!(
                    "`{}`: invalid value for `{key}`{hint}; write one of these without quotes: {}",
                    self.op(),
                    names.join(", ")
                )
            };
            self.errors.spanned(value, message);
            self.ok = false;
            return default;
        }
        let hint = match &value.kind {
            ValueKind::Ident(ident) => match suggest(&ident.to_string(), names.iter().copied()) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => String::new(),
            },
            _ => String::new(),
        };
        self.errors.spanned(
            value,
            format!(
                "`{}`: invalid value for `{key}`{hint}; expected one of: {}",
                self.op(),
                names.join(", ")
            ),
        );
        self.ok = false;
        default
    }

    /// Reports surplus positional arguments and unknown options; true if the call had no errors.
    pub fn finish(self) -> bool {
        let mut ok = self.ok;
        let op = self.op();
        for extra in &self.positional[self.next_positional.min(self.positional.len())..] {
            self.errors.spanned(
                *extra,
                format!("`{op}` takes no more arguments here\nusage: {}", usage(&op)),
            );
            ok = false;
        }
        for (key, _) in &self.named {
            // `frozen` is read for every operation by `ops::frozen`.
            if *key != FROZEN && !self.known_options.iter().any(|k| *key == k) {
                let name = key.to_string();
                let hint = match suggest(&name, self.known_options.iter().copied()) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                };
                let known = if self.known_options.is_empty() {
                    format!("`{op}` takes no options")
                } else {
                    format!("`{op}` accepts: {}", self.known_options.join(", "))
                };
                self.errors.at(
                    key.span(),
                    format!("unknown option `{name}`{hint}\n{known}"),
                );
                ok = false;
            }
        }
        ok
    }
}
