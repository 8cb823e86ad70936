//! Command lines of the examples (parsed with `lexopt`) and how they end: every option is one
//! line of a `match`, `--help` prints the usage, and an error prints as a sentence on stderr.
//!
//! ```ignore
//! let mut cli = cli::Cli::new(USAGE);
//! while let Some(option) = cli.next()? {
//!     match option.as_str() {
//!         "--epochs" => options.epochs = cli.value("--epochs")?,
//!         "--out" => options.out = cli.value("--out")?,
//!         _ => return Err(cli.unknown(&option)),
//!     }
//! }
//! ```

#![allow(dead_code)] // each example uses the parts it needs

use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

/// Where figures go unless `--out DIR` says otherwise (relative to the working directory).
pub const DEFAULT_OUT: &str = "target/figures";

/// The default figure directory, as the type `--out` parses into.
pub fn default_out() -> PathBuf {
    PathBuf::from(DEFAULT_OUT)
}

/// The arguments after the program name, with the usage text that `--help` prints.
pub struct Cli {
    parser: lexopt::Parser,
    usage: &'static str,
}

impl Cli {
    /// The process's arguments; `usage` is printed by `--help` and named in error messages.
    pub fn new(usage: &'static str) -> Self {
        Cli {
            parser: lexopt::Parser::from_env(),
            usage,
        }
    }

    /// The next option, spelt as the user would (`--epochs`, `-h`); `None` after the last.
    /// `--help` and `-h` print the usage and exit; a bare word is an error.
    pub fn next(&mut self) -> Result<Option<String>, String> {
        let arg = self
            .parser
            .next()
            .map_err(|e| format!("{e} (try --help)"))?;
        let option = match arg {
            None => return Ok(None),
            Some(lexopt::Arg::Long(name)) => format!("--{name}"),
            Some(lexopt::Arg::Short(letter)) => format!("-{letter}"),
            Some(lexopt::Arg::Value(word)) => {
                return Err(format!(
                    "unexpected argument `{}`: this example takes only options (try --help)",
                    word.to_string_lossy()
                ))
            }
        };
        if option == "--help" || option == "-h" {
            println!("{}", self.usage.trim_end());
            std::process::exit(0);
        }
        Ok(Some(option))
    }

    /// The value of `option` (`--epochs 30` or `--epochs=30`), parsed as a `T`.
    pub fn value<T>(&mut self, option: &str) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        let raw = self
            .parser
            .value()
            .map_err(|_| format!("{option} needs a value (try --help)"))?;
        let text = raw
            .into_string()
            .map_err(|_| format!("the value of {option} is not valid text"))?;
        text.parse().map_err(|e| {
            format!(
                "the value of {option}, `{text}`, is not {}: {e}",
                kind_of::<T>()
            )
        })
    }

    /// The error for an option this example does not know.
    pub fn unknown(&self, option: &str) -> String {
        format!("this example has no option {option} (try --help)")
    }
}

/// The options of the examples that take only a seed and an output folder.
pub struct SeedAndOut {
    /// `--seed S` (default 0).
    pub seed: u64,
    /// `--out DIR` (default [`DEFAULT_OUT`]).
    pub out: PathBuf,
}

impl SeedAndOut {
    /// Parses `--seed` and `--out` (and `--help`, which prints `usage`).
    pub fn parse(usage: &'static str) -> Result<Self, String> {
        let mut options = SeedAndOut {
            seed: 0,
            out: default_out(),
        };
        let mut cli = Cli::new(usage);
        while let Some(option) = cli.next()? {
            match option.as_str() {
                "--seed" => options.seed = cli.value("--seed")?,
                "--out" => options.out = cli.value("--out")?,
                _ => return Err(cli.unknown(&option)),
            }
        }
        Ok(options)
    }
}

/// How a value of type `T` is described in an error message.
fn kind_of<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    match name {
        "usize" | "u64" | "u32" => "a whole number (0, 1, 2, ...)",
        "f64" | "f32" => "a number",
        _ if name.ends_with("PathBuf") => "a path",
        _ => "valid here",
    }
}

/// Runs an example's `main` body and turns its error into one sentence on stderr and exit code
/// 1 (returning `Result` from `main` would print the error's `Debug` form).
pub fn run(body: impl FnOnce() -> Result<(), Box<dyn std::error::Error>>) {
    if let Err(error) = body() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
