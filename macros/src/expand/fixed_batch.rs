//! `batch 32, 64;`: the training passes at the declared batch sizes compiled once, in the
//! declaring crate.
//!
//! The passes are generic over the batch size, and an optimized build compiles a generic
//! function again in every crate that instantiates it: a crate with three binaries training one
//! network compiled its forward and backward passes three times (after every edit), and its
//! library a fourth time if it trained there too. For each declared size `N`, the declaring
//! crate gets non-generic `__forward_train_bN` and `__backward_bN` (compiled with it, once), and
//! the generic `forward_train` / `backward` go to them when `B == N`. The test is an inline
//! `const` block: the compiler drops the untaken branch before it collects what to compile, so
//! a crate that trains at size `N` compiles none of the generic passes at that size. The
//! arguments reach the non-generic function through `Any` (the types are equal when `B == N`,
//! checked at run time and folded away), without `unsafe`.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::gradients::Names;
use super::inputs;
use super::layers::rt;
use super::plan::Plan;

/// The statements that `forward_train` and `backward` start with (one `if` per declared size),
/// and the non-generic functions they call, for the `impl Net` block.
pub struct Items {
    pub forward_train: TokenStream,
    pub backward: TokenStream,
    pub functions: TokenStream,
}

pub fn items(plan: &Plan, names: &Names) -> Items {
    let (rt, t, graph) = (rt(), &plan.t, plan.graph);
    let tape = names.tape;
    let targets_ty = names.targets;
    let input_ty = inputs::input_ty(plan);
    let output_n = plan.numel(graph.output_index());
    let any = quote!(<dyn ::core::any::Any>);
    let mut forward_train = TokenStream::new();
    let mut backward = TokenStream::new();
    let mut functions = TokenStream::new();
    for &size in &graph.batches {
        let n = Literal::usize_unsuffixed(size);
        let forward_n = format_ident!("__forward_train_b{}", size);
        let backward_n = format_ident!("__backward_b{}", size);
        let same = format!("the batch size is {size}");
        forward_train.extend(quote! {
            if const { B == #n } {
                let tape = #any::downcast_mut::<#tape<#n>>(tape).expect(#same);
                let x = #any::downcast_ref::<[#input_ty; #n]>(x).expect(#same);
                return self.#forward_n(tape, x).map(|y| {
                    #any::downcast_ref::<[[#t; #output_n]; B]>(y).expect(#same)
                });
            }
        });
        backward.extend(quote! {
            if const { B == #n } {
                let tape = #any::downcast_mut::<#tape<#n>>(tape).expect(#same);
                let x = #any::downcast_ref::<[#input_ty; #n]>(x).expect(#same);
                let targets = #any::downcast_ref::<#targets_ty<#n>>(targets).expect(#same);
                return self.#backward_n(tape, x, targets);
            }
        });
        functions.extend(quote! {
            /// [`Self::forward_train`] at a declared batch size, compiled once in the
            /// declaring crate.
            #[inline(never)]
            fn #forward_n<'t>(
                &mut self,
                tape: &'t mut #tape<#n>,
                x: &[#input_ty; #n],
            ) -> ::core::result::Result<&'t [[#t; #output_n]; #n], #rt::Error> {
                self.forward_train_with(tape, x, &mut #rt::Solo)
            }

            /// [`Self::backward`] at a declared batch size, compiled once in the declaring
            /// crate.
            #[inline(never)]
            fn #backward_n(
                &self,
                tape: &mut #tape<#n>,
                x: &[#input_ty; #n],
                targets: &#targets_ty<#n>,
            ) -> ::core::result::Result<#t, #rt::Error> {
                self.backward_with(tape, x, targets, &mut #rt::Solo)
            }
        });
    }
    Items {
        forward_train,
        backward,
        functions,
    }
}

/// The `Network` trait's `forward_train` and `backward` (which `train_step` calls), overridden
/// to go through the inherent methods, which take the declared sizes' functions; nothing when
/// no size is declared (the trait's defaults then do the same).
pub fn trait_overrides(plan: &Plan, tape: &proc_macro2::Ident) -> TokenStream {
    let (rt, t, graph) = (rt(), &plan.t, plan.graph);
    if graph.batches.is_empty() {
        return TokenStream::new();
    }
    let name = &graph.name;
    let input_ty = inputs::input_ty(plan);
    let target_ty = super::buffers::target_ty(plan);
    let output_n = plan.numel(graph.output_index());
    quote! {
        fn forward_train<'t, const B: usize>(
            &mut self,
            tape: &'t mut #tape<B>,
            x: &[#input_ty; B],
        ) -> ::core::result::Result<&'t [[#t; #output_n]; B], #rt::Error> {
            <#name>::forward_train(self, tape, x)
        }
        fn backward<const B: usize>(
            &self,
            tape: &mut #tape<B>,
            x: &[#input_ty; B],
            targets: &[#target_ty; B],
        ) -> ::core::result::Result<#t, #rt::Error> {
            <#name>::backward(self, tape, x, targets)
        }
    }
}
