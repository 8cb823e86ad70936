//! Collects every error of a phase so the user sees all of them at once.

use proc_macro2::Span;
use quote::ToTokens;

#[derive(Default)]
pub struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(all) => all.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// An error on `tokens` (first to last token).
    pub fn spanned<T: ToTokens, M: std::fmt::Display>(&mut self, tokens: T, message: M) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// An error at one span.
    pub fn at<M: std::fmt::Display>(&mut self, span: Span, message: M) {
        self.push(syn::Error::new(span, message));
    }

    pub fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    pub fn finish(self) -> syn::Result<()> {
        match self.combined {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
