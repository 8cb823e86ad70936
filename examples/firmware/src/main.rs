//! The `firmware` binary: the [`Digits`] classifier as a Cortex-M4F program. It classifies the
//! 360 embedded test images, prints the accuracy, checksums of the predictions and of the
//! logits, the memory it occupies and the peak stack of one inference over semihosting, and
//! exits with a success status only if every figure is as expected.
//!
//! Built only with feature `device` for a bare-metal target, in release (see README.md):
//!
//! ```text
//! cargo build -p firmware-example --bin firmware --features device --target thumbv7em-none-eabihf --release
//! qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -semihosting-config enable=on,target=native \
//!     -nographic -kernel target/thumbv7em-none-eabihf/release/firmware
//! ```
//!
//! # Panic paths
//! With feature `panic-free` the panic handler calls a function that is defined nowhere, so the
//! link fails if any code the program can reach may panic: an index, `unwrap` or overflow check
//! that the optimizer cannot prove away, in inference or anywhere else in this program, is a
//! build error rather than a run-time failure (only optimized builds can pass). Without it, a
//! panic prints `result: FAIL (panic)` and exits with a failure status, and `check-panics.sh`
//! lists the functions that can panic (see README.md).
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;
use core::ptr;

use core::mem::size_of;
use cortex_m::register::msp;
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hio::{self, HostStream};
use firmware_example::testset::TEST_IMAGES;
#[cfg(not(feature = "panic-free"))]
use firmware_example::training::{
    fine_tune, start_from_compiled_weights, Batch, FineTune, EXPECTED_FINE_TUNE, FINE_TUNE_STEPS,
    TRAIN_STACK_LIMIT,
};
use firmware_example::training::{DigitsHead, DigitsHeadTape, FINE_TUNE_BATCH, FINE_TUNE_SGD};
use firmware_example::{
    evaluate_test_set, logits, pixels, Digits, Evaluation, CLASSES, EXPECTED,
    KERNEL_STACK_ALLOWANCE, PIXELS,
};
use monograd::runtime::optim::Sgd;
#[cfg(not(feature = "panic-free"))]
use monograd::runtime::Error;

/// The fine-tuned classifier's optimizer: SGD with momentum over its parameters.
type HeadSgd = Sgd<f32, { DigitsHead::PARAMS }>;

// Without a heap a tape is its buffers, inline: `TAPE_BYTES` is exactly its size.
const _: () = assert!(
    size_of::<DigitsHeadTape<FINE_TUNE_BATCH>>() == DigitsHeadTape::<FINE_TUNE_BATCH>::BYTES
);

#[entry]
fn main() -> ! {
    // The training state, built at compile time into `.bss` / `.data` (no heap, and nothing of
    // it passes through the stack): cortex-m-rt's `#[entry]` hands each of these to `main` as a
    // `&'static mut`, safely, since `main` runs once.
    static mut HEAD: DigitsHead = DigitsHead::zeroed_static();
    static mut TAPE: DigitsHeadTape<FINE_TUNE_BATCH> = DigitsHeadTape::new_static();
    static mut SGD: HeadSgd = match Sgd::new_static(FINE_TUNE_SGD) {
        Ok(sgd) => sgd,
        // Evaluated by the compiler: an invalid configuration is a build error.
        Err(_) => panic!("FINE_TUNE_SGD is not a valid SGD configuration"),
    };

    let mut out = Output::open();
    out.line()
        .text("firmware-example: Digits on a Cortex-M4F")
        .print();

    let evaluation = evaluate_test_set();
    report_evaluation(&mut out, &evaluation);
    let stack = peak_stack_of_one_inference();
    let sections = Sections::of_this_program();
    report_memory(&mut out, &sections, stack);

    // Training links two panic sites (panic-sites.txt); the link-time proof that inference
    // cannot panic (feature `panic-free`) is made on the program without it.
    #[cfg(not(feature = "panic-free"))]
    let training_passed = fine_tuning_passes(&mut out, HEAD, TAPE, SGD);
    #[cfg(feature = "panic-free")]
    let training_passed = {
        let _ = (HEAD, TAPE, SGD);
        true
    };

    let stack_limit = Digits::INFER_BYTES + KERNEL_STACK_ALLOWANCE;
    let passed = evaluation.matches(&EXPECTED) && stack <= stack_limit && training_passed;
    out.line()
        .text(if passed {
            "result: PASS"
        } else {
            "result: FAIL"
        })
        .print();
    exit(passed)
}

/// Prints the accuracy and checksums, and what the host build expects of them.
fn report_evaluation(out: &mut Output, evaluation: &Evaluation) {
    out.line()
        .text("test set: ")
        .decimal(evaluation.correct)
        .text(" of ")
        .decimal(evaluation.images)
        .text(" correct (")
        .hundredths(evaluation.correct * 10_000 / evaluation.images.max(1))
        .text("%), expected ")
        .decimal(EXPECTED.correct)
        .text(" of ")
        .decimal(EXPECTED.images)
        .print();
    out.line()
        .text("predictions fnv1a: ")
        .hex(evaluation.predictions_fnv1a)
        .text(", expected ")
        .hex(EXPECTED.predictions_fnv1a)
        .print();
    out.line()
        .text("logits fnv1a: ")
        .hex(evaluation.logits_fnv1a)
        .print();
}

/// Prints the section sizes and the stack of one inference against its budget.
fn report_memory(out: &mut Output, sections: &Sections, stack: usize) {
    out.line()
        .text("memory: .text ")
        .decimal(sections.text)
        .text(" B, .rodata ")
        .decimal(sections.rodata)
        .text(" B, .data ")
        .decimal(sections.data)
        .text(" B, .bss ")
        .decimal(sections.bss)
        .text(" B")
        .print();
    out.line()
        .text("stack of one inference: ")
        .decimal(stack)
        .text(" B measured, limit INFER_BYTES ")
        .decimal(Digits::INFER_BYTES)
        .text(" B + kernel allowance ")
        .decimal(KERNEL_STACK_ALLOWANCE)
        .text(" B")
        .print();
}

/// Runs and reports the fine-tuning; whether it gave the expected figures within its stack
/// budget.
#[cfg(not(feature = "panic-free"))]
fn fine_tuning_passes(
    out: &mut Output,
    head: &mut DigitsHead,
    tape: &mut DigitsHeadTape<FINE_TUNE_BATCH>,
    sgd: &mut HeadSgd,
) -> bool {
    match run_fine_tuning(out, head, tape, sgd) {
        Some((result, train_stack)) => {
            report_fine_tuning(out, &result, train_stack);
            result.matches(&EXPECTED_FINE_TUNE)
                && result.params_fnv1a == EXPECTED_FINE_TUNE.params_fnv1a_device
                && train_stack <= TRAIN_STACK_LIMIT
        }
        None => {
            out.line()
                .text("fine-tuning: a training step failed")
                .print();
            false
        }
    }
}

/// Fine-tunes the classifier from its compiled-in weights on the misclassified test images,
/// printing the loss before each step; returns the result and the measured stack of the first
/// training step (`None` if a step failed).
#[cfg(not(feature = "panic-free"))]
fn run_fine_tuning(
    out: &mut Output,
    head: &mut DigitsHead,
    tape: &mut DigitsHeadTape<FINE_TUNE_BATCH>,
    sgd: &mut HeadSgd,
) -> Option<(FineTune, usize)> {
    let batch = Batch::misclassified();
    start_from_compiled_weights(head);
    let mut line = out.line();
    line.text("fine-tuning DigitsHead (the last layer) on test images");
    for image in batch.images {
        line.text(" ").decimal(image);
    }
    line.text(", SGD lr 0.05 momentum 0.9, batch ")
        .decimal(FINE_TUNE_BATCH)
        .print();
    let mut train_stack = 0;
    let result = fine_tune(head, tape, sgd, &batch, |index, step| {
        let loss = if index == 0 {
            let (stack, loss) = peak_stack_of(step);
            train_stack = stack;
            loss
        } else {
            step()
        }?;
        out.line()
            .text("step ")
            .decimal(index + 1)
            .text(": loss ")
            .micros(loss)
            .print();
        Ok::<f32, Error>(loss)
    })
    .ok()?;
    Some((result, train_stack))
}

/// Prints the outcome of the fine-tuning, its RAM and its stack.
#[cfg(not(feature = "panic-free"))]
fn report_fine_tuning(out: &mut Output, result: &FineTune, train_stack: usize) {
    out.line()
        .text("after ")
        .decimal(FINE_TUNE_STEPS)
        .text(" steps: loss ")
        .micros(result.losses[FINE_TUNE_STEPS])
        .text(" (from ")
        .micros(result.losses[0])
        .text("), ")
        .decimal(result.correct_after)
        .text(" of ")
        .decimal(FINE_TUNE_BATCH)
        .text(" correct (before: ")
        .decimal(result.correct_before)
        .text(")")
        .print();
    out.line()
        .text("trained parameters fnv1a: ")
        .hex(result.params_fnv1a)
        .text(", expected ")
        .hex(EXPECTED_FINE_TUNE.params_fnv1a_device)
        .print();
    out.line()
        .text("training RAM (statics): network ")
        .decimal(size_of::<DigitsHead>())
        .text(" B, tape ")
        .decimal(size_of::<DigitsHeadTape<FINE_TUNE_BATCH>>())
        .text(" B (TAPE_BYTES ")
        .decimal(DigitsHeadTape::<FINE_TUNE_BATCH>::BYTES)
        .text(" B), SGD ")
        .decimal(size_of::<HeadSgd>())
        .text(" B")
        .print();
    out.line()
        .text("stack of one training step: ")
        .decimal(train_stack)
        .text(" B measured, limit ")
        .decimal(TRAIN_STACK_LIMIT)
        .text(" B")
        .print();
}

/// Ends the QEMU run (or the run under a debugger) with the given status.
fn exit(passed: bool) -> ! {
    debug::exit(if passed { EXIT_SUCCESS } else { EXIT_FAILURE });
    // Without a debugger or QEMU to end the program, stop here.
    loop {
        cortex_m::asm::wfi();
    }
}

// ----------------------------------------------------------------------------------------------
// Stack painting

/// Written over the free stack before the measured call; a word that no longer holds it was used.
const STACK_PAINT: u32 = 0xcccc_cccc;

extern "C" {
    /// Lowest address of the stack (the end of `.bss` and `.uninit`), from cortex-m-rt's
    /// `link.x`: the stack grows down from the top of RAM towards it.
    static _stack_end: u32;
}

/// Bytes of stack that one call of [`logits`] uses below its caller's frame: every frame of the
/// inference (`logits`, the generated `infer`, the kernels), measured by [`peak_stack_of`].
#[inline(never)]
fn peak_stack_of_one_inference() -> usize {
    let input = pixels(black_box(&TEST_IMAGES[0]));
    // Called through a pointer the optimizer cannot see through, so no part of the inference is
    // inlined into the measuring frame.
    let inference: fn(&[f32; PIXELS]) -> [f32; CLASSES] = black_box(logits);
    peak_stack_of(&mut || black_box(inference(&input))).0
}

/// Bytes of stack that `call` uses below this function's frame, and its result: the free stack
/// is painted with [`STACK_PAINT`] before the call, and the lowest word the call overwrote is
/// found after it. `call` is a `dyn` call, so none of it is inlined above the stack pointer read
/// here.
#[inline(never)]
fn peak_stack_of<R>(call: &mut dyn FnMut() -> R) -> (usize, R) {
    let call = black_box(call);
    let top = msp::read() as usize;
    let bottom = ptr::addr_of!(_stack_end) as usize;
    let mut address = bottom;
    while address + 4 <= top {
        // SAFETY: `[bottom, top)` is the free part of the stack: between the end of the
        // statics (`_stack_end`, 4-byte aligned by link.x) and the current stack pointer (8-byte
        // aligned), below every live frame. Nothing else runs (no interrupt is enabled), and the
        // call below overwrites what it uses before reading it.
        unsafe { ptr::write_volatile(address as *mut u32, STACK_PAINT) };
        address += 4;
    }
    let result = call();
    let mut lowest_used = bottom;
    // SAFETY: as above, the words of `[bottom, top)` are RAM that only this loop and the call
    // touched, 4-byte aligned.
    while lowest_used + 4 <= top
        && unsafe { ptr::read_volatile(lowest_used as *const u32) } == STACK_PAINT
    {
        lowest_used += 4;
    }
    (top - lowest_used, result)
}

// ----------------------------------------------------------------------------------------------
// Section sizes

extern "C" {
    // Section bounds defined by cortex-m-rt's link.x.
    static __stext: u32;
    static __etext: u32;
    static __srodata: u32;
    static __erodata: u32;
    static __sdata: u32;
    static __edata: u32;
    static __sbss: u32;
    static __ebss: u32;
}

/// Sizes in bytes of this program's sections, from the linker's symbols.
struct Sections {
    text: usize,
    rodata: usize,
    data: usize,
    bss: usize,
}

impl Sections {
    fn of_this_program() -> Self {
        let size = |start: *const u32, end: *const u32| (end as usize).wrapping_sub(start as usize);
        Sections {
            text: size(ptr::addr_of!(__stext), ptr::addr_of!(__etext)),
            rodata: size(ptr::addr_of!(__srodata), ptr::addr_of!(__erodata)),
            data: size(ptr::addr_of!(__sdata), ptr::addr_of!(__edata)),
            bss: size(ptr::addr_of!(__sbss), ptr::addr_of!(__ebss)),
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Output without core::fmt

/// Semihosting standard output; lines are formatted by hand into a fixed buffer, so no
/// `core::fmt` (and none of its panic paths) is linked.
struct Output {
    stream: Option<HostStream>,
}

impl Output {
    fn open() -> Self {
        Output {
            stream: hio::hstdout().ok(),
        }
    }

    fn line(&mut self) -> Line<'_> {
        Line {
            output: self,
            buffer: [0; LINE_BYTES],
            len: 0,
        }
    }
}

/// Longest line printed; longer lines are cut.
const LINE_BYTES: usize = 160;

/// A line being built; [`Line::print`] writes it with a newline.
struct Line<'a> {
    output: &'a mut Output,
    buffer: [u8; LINE_BYTES],
    len: usize,
}

impl Line<'_> {
    fn byte(&mut self, byte: u8) -> &mut Self {
        if let Some(slot) = self.buffer.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
        self
    }

    fn text(&mut self, text: &str) -> &mut Self {
        for &byte in text.as_bytes() {
            self.byte(byte);
        }
        self
    }

    fn decimal(&mut self, mut value: usize) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut count = 0;
        for slot in digits.iter_mut() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
            count += 1;
            if value == 0 {
                break;
            }
        }
        for &digit in digits.iter().take(count).rev() {
            self.byte(digit);
        }
        self
    }

    /// `value / 100` with two decimals: `9694` prints `96.94`.
    fn hundredths(&mut self, value: usize) -> &mut Self {
        self.decimal(value / 100).byte(b'.');
        self.byte(b'0' + (value / 10 % 10) as u8)
            .byte(b'0' + (value % 10) as u8)
    }

    /// A non-negative `value` with six decimals (truncated): `0.0032146` prints `0.003214`.
    #[cfg(not(feature = "panic-free"))]
    fn micros(&mut self, value: f32) -> &mut Self {
        // `as` saturates (NaN gives 0): no panic path.
        let scaled = (value * 1e6) as usize;
        self.decimal(scaled / 1_000_000).byte(b'.');
        let fraction = scaled % 1_000_000;
        for power in [100_000, 10_000, 1_000, 100, 10, 1] {
            self.byte(b'0' + (fraction / power % 10) as u8);
        }
        self
    }

    fn hex(&mut self, value: u32) -> &mut Self {
        self.text("0x");
        for shift in (0..8).rev() {
            let nibble = (value >> (4 * shift)) & 0xf;
            self.byte(b"0123456789abcdef"[nibble as usize]);
        }
        self
    }

    fn print(&mut self) {
        self.byte(b'\n');
        let len = self.len;
        if let (Some(stream), Some(bytes)) = (self.output.stream.as_mut(), self.buffer.get(..len)) {
            // A host that drops output cannot be told so; the exit status still reports.
            let _ = stream.write_all(bytes);
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Faults and panics

/// A fault (bad memory access, undefined instruction) ends the run with a failure status
/// instead of hanging until the time limit.
#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    let mut out = Output::open();
    out.line().text("result: FAIL (hard fault)").print();
    exit(false)
}

/// A panic ends the run with a failure status. Without feature `panic-free`, this handler is
/// what a reachable panic path links to; `check-panics.sh` lists those paths.
#[cfg(not(feature = "panic-free"))]
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    let mut out = Output::open();
    out.line().text("result: FAIL (panic)").print();
    exit(false)
}

/// With feature `panic-free` the handler calls a function that is defined nowhere: the link
/// fails unless the optimizer removed every panic path of the program.
#[cfg(feature = "panic-free")]
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    extern "C" {
        /// Defined nowhere: a reference to it, i.e. any reachable panic, fails the link with
        /// "undefined symbol: firmware_must_not_panic".
        fn firmware_must_not_panic() -> !;
    }
    // SAFETY: never executed: a program that can reach this handler does not link.
    unsafe { firmware_must_not_panic() }
}
