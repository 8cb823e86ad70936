//! Loads the network that the `digits` example saved and evaluates it on the same test split,
//! without training: the accuracy printed is the one `digits` printed.
//!
//! ```text
//! cargo run --release --example digits                     # trains, saves target/digits.safetensors
//! cargo run --release --example predict                    # loads it: same test accuracy
//! cargo run --release --example predict -- model.safetensors --seed 7 --benchmark
//! ```
//! `--seed` and `--benchmark` select the same train/test split as in `digits`.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/mlp.rs"]
mod mlp;

use monograd::prelude::*;

use mlp::{DigitsNet, DigitsNetTape};

const TRAIN: usize = 1437;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut path = "target/digits.safetensors".to_string();
    let (mut seed, mut benchmark) = (0u64, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => seed = args.next().ok_or("--seed needs a value")?.parse()?,
            "--benchmark" => benchmark = true,
            "--help" | "-h" => {
                println!("usage: predict [PATH] [--seed S] [--benchmark]");
                return Ok(());
            }
            other => path = other.to_string(),
        }
    }

    let net = DigitsNet::load(&path)?;
    let data = digits::load()?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    if !benchmark {
        Rng::new(seed).shuffle(&mut order);
    }
    let test = data.subset(&order[TRAIN..]);
    let mut tape = DigitsNetTape::<32>::new();
    let test_accuracy = accuracy(&net, &mut tape, &test.images, &test.labels)?;
    let test_loss = evaluate_loss(&net, &mut tape, &test.images, &test.labels)?;
    println!(
        "{path}: {} parameters; test accuracy {:.2}%, test loss {test_loss:.4} on {} images",
        DigitsNet::PARAMS,
        100.0 * test_accuracy,
        test.len()
    );
    Ok(())
}
