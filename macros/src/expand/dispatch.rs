//! Running a generated body through `kernels::simd::dispatch`: once per call of `forward_train`,
//! `backward`, `forward_with`, `forward_eval` or `infer`, the whole body (with the element-wise
//! kernels it inlines) compiled for AVX-512F, AVX2 and FMA, and the baseline, the widest this
//! CPU has picked at run time. The body is an `#[inline(always)]` method; a local type holding
//! its arguments is the `Simd` computation whose `run` calls it. `run` (not `run_fma`) is what
//! every level compiles, so the results are the baseline's bit for bit.

use proc_macro2::TokenStream;
use quote::quote;

use super::layers::rt;

/// One argument of a dispatched body: its type in the computation (with the computation's
/// lifetimes) and the expression passed.
pub struct Arg {
    pub ty: TokenStream,
    pub value: TokenStream,
}

/// A block evaluating to `body(args...)` run through `dispatch`. `generics` declares the
/// computation type's parameters (lifetimes first, `const B: usize`, bounded type parameters),
/// `params` names them in the same order, `output` is the body's return type.
pub fn call(
    generics: &TokenStream,
    params: &TokenStream,
    args: &[Arg],
    output: &TokenStream,
    body: &TokenStream,
) -> TokenStream {
    let rt = rt();
    let tys = args.iter().map(|arg| &arg.ty);
    let values = args.iter().map(|arg| &arg.value);
    let fields = (0..args.len()).map(syn::Index::from);
    quote! {
        {
            struct __Body<#generics>(#(#tys),*);
            impl<#generics> #rt::kernels::simd::Simd for __Body<#params> {
                type Output = #output;
                #[inline(always)]
                fn run(self) -> #output {
                    #body(#(self.#fields),*)
                }
            }
            #rt::kernels::simd::dispatch(__Body(#(#values),*))
        }
    }
}
