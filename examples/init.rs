//! Why initialisation matters: a 20-layer MLP (64 -> 20 hidden layers of 64 units -> 10), once
//! with tanh and once with ReLU, with its weights drawn from N(0, s^2) for three choices of s:
//!
//! | scheme | s for a layer with `fan_in` inputs and `fan_out` outputs | designed for |
//! |---|---|---|
//! | naive | 1 | nothing |
//! | Xavier (Glorot) | sqrt(2 / (fan_in + fan_out)) | tanh, sigmoid |
//! | He (Kaiming) | sqrt(2 / fan_in) | ReLU |
//!
//! One forward and backward pass on a batch of 128 random inputs from N(0, 1) (random labels),
//! then each layer's activation standard deviation and the standard deviation of the loss
//! gradient with respect to that activation, printed and plotted against depth. A good
//! initialisation keeps both roughly constant from layer to layer; a bad one makes them explode
//! or vanish geometrically, and training then cannot start.
//!
//! How the weights are set: `network!` has `init = xavier_normal` and `init = he_normal` but no
//! N(0, 1) initializer, so this example fills every weight tensor itself after `Net::new`:
//! `Net::PARAM_TENSORS` gives each tensor's name, offset and shape (`[out, in]` for a dense
//! weight), and `net.params` is the flat buffer they index. The same standard-normal draws are
//! scaled by each scheme's `s`, so the three runs differ only by that scale. Biases are zero
//! (`bias_init = zeros` in the declaration).
//!
//! ```text
//! cargo run --release --example init
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/figure.rs"]
mod figure;

use figure::{Figure, LegendAt, Line, LinePlot, Panel};
use monograd::prelude::*;
use monograd::runtime::{Buffer, TensorInfo};

monograd::network! {
    /// 64 -> 20 hidden layers of 64 tanh units -> 10 scores; weights set by `initialise`.
    pub struct TanhMlp {
        input x: [64];
        h1 = linear(x, 64, bias_init = zeros);
        a1 = tanh(h1);
        h2 = linear(a1, 64, bias_init = zeros);
        a2 = tanh(h2);
        h3 = linear(a2, 64, bias_init = zeros);
        a3 = tanh(h3);
        h4 = linear(a3, 64, bias_init = zeros);
        a4 = tanh(h4);
        h5 = linear(a4, 64, bias_init = zeros);
        a5 = tanh(h5);
        h6 = linear(a5, 64, bias_init = zeros);
        a6 = tanh(h6);
        h7 = linear(a6, 64, bias_init = zeros);
        a7 = tanh(h7);
        h8 = linear(a7, 64, bias_init = zeros);
        a8 = tanh(h8);
        h9 = linear(a8, 64, bias_init = zeros);
        a9 = tanh(h9);
        h10 = linear(a9, 64, bias_init = zeros);
        a10 = tanh(h10);
        h11 = linear(a10, 64, bias_init = zeros);
        a11 = tanh(h11);
        h12 = linear(a11, 64, bias_init = zeros);
        a12 = tanh(h12);
        h13 = linear(a12, 64, bias_init = zeros);
        a13 = tanh(h13);
        h14 = linear(a13, 64, bias_init = zeros);
        a14 = tanh(h14);
        h15 = linear(a14, 64, bias_init = zeros);
        a15 = tanh(h15);
        h16 = linear(a15, 64, bias_init = zeros);
        a16 = tanh(h16);
        h17 = linear(a16, 64, bias_init = zeros);
        a17 = tanh(h17);
        h18 = linear(a17, 64, bias_init = zeros);
        a18 = tanh(h18);
        h19 = linear(a18, 64, bias_init = zeros);
        a19 = tanh(h19);
        h20 = linear(a19, 64, bias_init = zeros);
        a20 = tanh(h20);
        logits = linear(a20, 10, bias_init = zeros);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// 64 -> 20 hidden layers of 64 ReLU units -> 10 scores; weights set by `initialise`.
    pub struct ReluMlp {
        input x: [64];
        h1 = linear(x, 64, bias_init = zeros);
        a1 = relu(h1);
        h2 = linear(a1, 64, bias_init = zeros);
        a2 = relu(h2);
        h3 = linear(a2, 64, bias_init = zeros);
        a3 = relu(h3);
        h4 = linear(a3, 64, bias_init = zeros);
        a4 = relu(h4);
        h5 = linear(a4, 64, bias_init = zeros);
        a5 = relu(h5);
        h6 = linear(a5, 64, bias_init = zeros);
        a6 = relu(h6);
        h7 = linear(a6, 64, bias_init = zeros);
        a7 = relu(h7);
        h8 = linear(a7, 64, bias_init = zeros);
        a8 = relu(h8);
        h9 = linear(a8, 64, bias_init = zeros);
        a9 = relu(h9);
        h10 = linear(a9, 64, bias_init = zeros);
        a10 = relu(h10);
        h11 = linear(a10, 64, bias_init = zeros);
        a11 = relu(h11);
        h12 = linear(a11, 64, bias_init = zeros);
        a12 = relu(h12);
        h13 = linear(a12, 64, bias_init = zeros);
        a13 = relu(h13);
        h14 = linear(a13, 64, bias_init = zeros);
        a14 = relu(h14);
        h15 = linear(a14, 64, bias_init = zeros);
        a15 = relu(h15);
        h16 = linear(a15, 64, bias_init = zeros);
        a16 = relu(h16);
        h17 = linear(a16, 64, bias_init = zeros);
        a17 = relu(h17);
        h18 = linear(a17, 64, bias_init = zeros);
        a18 = relu(h18);
        h19 = linear(a18, 64, bias_init = zeros);
        a19 = relu(h19);
        h20 = linear(a19, 64, bias_init = zeros);
        a20 = relu(h20);
        logits = linear(a20, 10, bias_init = zeros);
        loss = softmax_cross_entropy(logits);
    }
}

const USAGE: &str = "\
usage: init [--seed S] [--out DIR]

Per-layer activation and gradient standard deviations of a 20-layer tanh and ReLU MLP
initialised with N(0, 1), Xavier and He weights, printed and drawn.

options:
  --seed S     seed of the weights, inputs and labels (default 0)
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

const BATCH: usize = 128;
const LAYERS: usize = 20;
const WIDTH: usize = 64;

#[derive(Clone, Copy)]
enum Scheme {
    Naive,
    Xavier,
    He,
}

const SCHEMES: [Scheme; 3] = [Scheme::Naive, Scheme::Xavier, Scheme::He];

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Naive => "naive N(0, 1)",
            Scheme::Xavier => "Xavier N(0, 2/(in+out))",
            Scheme::He => "He N(0, 2/in)",
        }
    }

    /// The weights' standard deviation for a layer of `fan_in` inputs and `fan_out` outputs.
    fn std(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Scheme::Naive => 1.0,
            Scheme::Xavier => (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Scheme::He => (2.0 / fan_in as f64).sqrt(),
        }
    }
}

/// Fills every dense weight (a tensor of shape `[out, in]`) of `params` with N(0, s^2) draws,
/// `s` from `scheme`; other tensors (the biases) are left as they are.
fn initialise(params: &mut [f32], tensors: &[TensorInfo], scheme: Scheme, seed: u64) {
    let mut rng = Rng::new(seed);
    for tensor in tensors.iter().filter(|t| t.shape.len() == 2) {
        let std = scheme.std(tensor.shape[1], tensor.shape[0]);
        for w in &mut params[tensor.offset..tensor.offset + tensor.len()] {
            *w = (std * rng.normal::<f64>()) as f32;
        }
    }
}

/// The standard deviation of `values` (population, over every sample and unit).
fn std(values: &[f32]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    (values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Per-layer standard deviations of the activations and of the loss gradient with respect to
/// them, after one forward and backward pass.
struct Profile {
    activations: Vec<f64>,
    gradients: Vec<f64>,
}

/// The standard deviation of every hidden activation of `$tape`'s `$part` (`values` or
/// `grads`), input side first.
macro_rules! per_layer {
    ($tape:expr, $part:ident) => {
        vec![
            std($tape.$part.a1.as_flattened()),
            std($tape.$part.a2.as_flattened()),
            std($tape.$part.a3.as_flattened()),
            std($tape.$part.a4.as_flattened()),
            std($tape.$part.a5.as_flattened()),
            std($tape.$part.a6.as_flattened()),
            std($tape.$part.a7.as_flattened()),
            std($tape.$part.a8.as_flattened()),
            std($tape.$part.a9.as_flattened()),
            std($tape.$part.a10.as_flattened()),
            std($tape.$part.a11.as_flattened()),
            std($tape.$part.a12.as_flattened()),
            std($tape.$part.a13.as_flattened()),
            std($tape.$part.a14.as_flattened()),
            std($tape.$part.a15.as_flattened()),
            std($tape.$part.a16.as_flattened()),
            std($tape.$part.a17.as_flattened()),
            std($tape.$part.a18.as_flattened()),
            std($tape.$part.a19.as_flattened()),
            std($tape.$part.a20.as_flattened()),
        ]
    };
}

/// One forward and backward pass of `$net` (type `$Net`, tape `$Tape`) initialised by `scheme`.
macro_rules! profile {
    ($Net:ident, $Tape:ident, $scheme:expr, $x:expr, $labels:expr, $seed:expr) => {{
        let mut net = $Net::new($seed);
        initialise(&mut net.params[..], $Net::PARAM_TENSORS, $scheme, $seed);
        let mut tape = $Tape::<BATCH>::new();
        net.forward_train(&mut tape, $x)?;
        net.backward(&mut tape, $x, $labels)?;
        Profile {
            activations: per_layer!(tape, values),
            gradients: per_layer!(tape, grads),
        }
    }};
}

fn main() {
    cli::run(|| {
        let options = cli::SeedAndOut::parse(USAGE)?;
        let seed = options.seed;
        let mut rng = Rng::new(seed.wrapping_add(1));
        let mut x = Buffer::<[[f32; WIDTH]; BATCH]>::zeroed();
        for sample in x.iter_mut() {
            for v in sample.iter_mut() {
                *v = rng.normal::<f32>();
            }
        }
        let labels: [usize; BATCH] = std::array::from_fn(|_| rng.below(10));
        println!(
            "init: 64 -> {LAYERS} hidden layers of {WIDTH} -> 10, one forward and backward pass on {BATCH} inputs from N(0, 1)\n"
        );

        let mut profiles = Vec::new();
        for (activation, is_tanh) in [("tanh", true), ("ReLU", false)] {
            for scheme in SCHEMES {
                let profile = if is_tanh {
                    profile!(TanhMlp, TanhMlpTape, scheme, &x, &labels, seed)
                } else {
                    profile!(ReluMlp, ReluMlpTape, scheme, &x, &labels, seed)
                };
                profiles.push((activation, scheme, profile));
            }
        }

        for activation in ["tanh", "ReLU"] {
            println!("{activation}: standard deviation of each layer's activation | of the loss gradient there");
            print!("{:>6}", "layer");
            for _ in 0..2 {
                for scheme in SCHEMES {
                    print!(" {:>10}", scheme.name().split(' ').next().unwrap_or(""));
                }
                print!(" |");
            }
            println!();
            let rows: Vec<&Profile> = profiles
                .iter()
                .filter(|(a, _, _)| *a == activation)
                .map(|(_, _, p)| p)
                .collect();
            for layer in 0..LAYERS {
                print!("{:>6}", layer + 1);
                for p in &rows {
                    print!(" {:>10.2e}", p.activations[layer]);
                }
                print!(" |");
                for p in &rows {
                    print!(" {:>10.2e}", p.gradients[layer]);
                }
                println!(" |");
            }
            println!();
        }
        println!("mean factor per layer, from layer 1 to layer {LAYERS} (1 = steady):");
        println!(
            "{:<8} {:<26} {:>18} {:>28}",
            "", "initialisation", "activation std", "gradient std (towards input)"
        );
        for (activation, scheme, p) in &profiles {
            let per_layer = |first: f64, last: f64| (last / first).powf(1.0 / (LAYERS - 1) as f64);
            println!(
                "{activation:<8} {:<26} {:>18.3} {:>28.3}",
                scheme.name(),
                per_layer(p.activations[0], p.activations[LAYERS - 1]),
                per_layer(p.gradients[LAYERS - 1], p.gradients[0]),
            );
        }
        println!(
            "\n- naive N(0, 1): ReLU's activations grow about sqrt(64 / 2) = 5.7x per layer, and its gradient\n  \
             as fast towards the input; tanh saturates (every unit near +-1, activation std about 0.95):\n  \
             its units act as switches and the gradient is not kept in scale either.\n\
             - Xavier keeps the variance of a linear layer: tanh (linear near 0) shrinks only slowly, but\n  \
             ReLU zeroes half the variance, so with Xavier its activations halve in variance per layer.\n\
             - He (twice Xavier's variance when fan_in = fan_out) makes up for that half and keeps ReLU\n  \
             steady; for tanh it is close to PyTorch's recommended gain (5/3)^2 = 2.8 and steady too."
        );

        let mut panels = Vec::new();
        for activation in ["tanh", "ReLU"] {
            for gradients in [false, true] {
                let lines = profiles
                    .iter()
                    .filter(|(a, _, _)| *a == activation)
                    .map(|(_, scheme, p)| {
                        let values = if gradients {
                            &p.gradients
                        } else {
                            &p.activations
                        };
                        Line::from_values(scheme.name(), values, 1.0, 1.0)
                    })
                    .collect();
                let (title, y) = if gradients {
                    (
                        format!("{activation}: gradient at each layer"),
                        "std of dLoss/d(activation) (log scale)",
                    )
                } else {
                    (
                        format!("{activation}: activations of each layer"),
                        "std of the layer's outputs (log scale)",
                    )
                };
                panels.push(Panel::Lines(
                    LinePlot::new(&title, "hidden layer (1 = input side)", y, lines)
                        .log_y()
                        // Where no line passes: the curves diverge from the left.
                        .legend_at(if gradients {
                            LegendAt::UpperRight
                        } else {
                            LegendAt::MiddleRight
                        }),
                ));
            }
        }
        Figure::new(
            "20-layer MLPs at initialisation: naive, Xavier and He weights",
            2,
            panels,
        )
        .size(1400, 1000)
        .save_and_report(&options.out, "init")?;
        Ok(())
    })
}
