//! Loads the network that the `digits` example saved and evaluates it on the same test split,
//! without training: the accuracy printed is the one `digits` printed.
//!
//! ```text
//! cargo run --release --example digits                     # trains, saves target/digits.safetensors
//! cargo run --release --example predict                    # loads it: same test accuracy
//! cargo run --release --example predict -- --load model.safetensors --seed 7 --benchmark
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/digits.rs"]
mod digits;
#[path = "common/mlp.rs"]
mod mlp;

use std::path::PathBuf;

use monograd::prelude::*;

use mlp::{DigitsNet, DigitsNetTape};

const USAGE: &str = "\
usage: predict [--load PATH] [--seed S] [--benchmark]

Loads the digits network that `digits` saved and prints its test accuracy and loss, without
training. --seed and --benchmark select the same train/test split as in `digits`.

options:
  --load PATH   the saved network (default target/digits.safetensors)
  --seed S      seed of the split (default 0)
  --benchmark   the unshuffled split of workload W6
  -h, --help    this text";

fn main() {
    cli::run(|| {
        let mut path = PathBuf::from("target/digits.safetensors");
        let (mut seed, mut benchmark) = (0u64, false);
        let mut cli = cli::Cli::new(USAGE);
        while let Some(option) = cli.next()? {
            match option.as_str() {
                "--load" => path = cli.value("--load")?,
                "--seed" => seed = cli.value("--seed")?,
                "--benchmark" => benchmark = true,
                _ => return Err(cli.unknown(&option).into()),
            }
        }

        let net = DigitsNet::load(&path)?;
        let data = digits::load()?;
        let (_, test) = digits::split(&data, benchmark, seed);
        let mut tape = DigitsNetTape::<32>::new();
        let test_accuracy = accuracy(&net, &mut tape, &test.images, &test.labels)?;
        let test_loss = evaluate_loss(&net, &mut tape, &test.images, &test.labels)?;
        println!(
            "{}: {} parameters; test accuracy {:.2}%, test loss {test_loss:.4} on {} images",
            path.display(),
            DigitsNet::PARAMS,
            100.0 * test_accuracy,
            test.len()
        );
        Ok(())
    })
}
