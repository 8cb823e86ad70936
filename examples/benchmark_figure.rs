//! Draws benchmark results: reads the JSON lines written by `cargo bench --bench workloads --
//! --json PATH` (and by `reference/bench_pytorch.py --json PATH`, same fields) and draws one
//! figure with two panels: each framework's median time per workload relative to monograd's
//! (bars, with the 10th-90th percentile range as whiskers; below 1 is faster than monograd), and
//! the GFLOP/s of the workloads whose FLOPs are counted. Several rows of one framework and
//! workload (repeated rounds) are combined by taking the median of their medians.
//!
//! ```text
//! cargo bench --bench workloads -- --json target/bench.jsonl
//! python3 reference/bench_pytorch.py --json target/bench.jsonl
//! cargo run --release --example benchmark_figure -- --results target/bench.jsonl
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/figure.rs"]
mod figure;

use std::collections::BTreeMap;
use std::path::PathBuf;

use figure::{BarChart, Figure, Panel};

const USAGE: &str =
    "usage: benchmark_figure --results FILE [--results FILE ...] [--out DIR] [--name NAME]

  --results FILE  JSON lines written by `cargo bench --bench workloads -- --json FILE` or
                  `reference/bench_pytorch.py --json FILE` (repeat for several files)
  --out DIR       where the figure goes (default target/figures)
  --name NAME     file name of the figure, without extension (default benchmarks)";

struct Options {
    results: Vec<PathBuf>,
    out: PathBuf,
    name: String,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        results: Vec::new(),
        out: cli::default_out(),
        name: "benchmarks".into(),
    };
    let mut cli = cli::Cli::new(USAGE);
    while let Some(option) = cli.next()? {
        match option.as_str() {
            "--results" => options.results.push(cli.value("--results")?),
            "--out" => options.out = cli.value("--out")?,
            "--name" => options.name = cli.value("--name")?,
            _ => return Err(cli.unknown(&option)),
        }
    }
    if options.results.is_empty() {
        return Err(format!("give at least one --results FILE\n\n{USAGE}"));
    }
    Ok(options)
}

/// One row of a results file (the fields the figure uses).
struct Row {
    framework: String,
    id: String,
    workload: String,
    unit: String,
    median: f64,
    p10: f64,
    p90: f64,
    gflops: Option<f64>,
}

fn parse_row(line: &str, place: &str) -> Result<Row, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("{place}: not a JSON object: {e}"))?;
    let text = |field: &str| {
        value[field]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{place}: field `{field}` is missing or not a string"))
    };
    let number = |field: &str| {
        value[field]
            .as_f64()
            .ok_or_else(|| format!("{place}: field `{field}` is missing or not a number"))
    };
    Ok(Row {
        framework: text("framework")?,
        id: text("id")?,
        workload: text("workload")?,
        unit: text("unit")?,
        median: number("median")?,
        p10: number("p10")?,
        p90: number("p90")?,
        gflops: value["gflops"].as_f64(),
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Rows of one framework and workload, combined.
struct Combined {
    median: f64,
    p10: f64,
    p90: f64,
    gflops: Option<f64>,
}

fn combine(rows: &[&Row]) -> Combined {
    let pick = |f: fn(&Row) -> f64| median(&mut rows.iter().map(|r| f(r)).collect::<Vec<_>>());
    let mut gflops: Vec<f64> = rows.iter().filter_map(|r| r.gflops).collect();
    Combined {
        median: pick(|r| r.median),
        p10: pick(|r| r.p10),
        p90: pick(|r| r.p90),
        gflops: (!gflops.is_empty()).then(|| median(&mut gflops)),
    }
}

fn main() {
    cli::run(|| {
        let options = parse_options()?;
        let mut rows = Vec::new();
        for path in &options.results {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            for (i, line) in text.lines().enumerate() {
                if !line.trim().is_empty() {
                    rows.push(parse_row(line, &format!("{}:{}", path.display(), i + 1))?);
                }
            }
        }
        // Workloads in the order of BENCHMARKS.md (ids sort that way), split parts left out.
        let mut workloads: Vec<(String, String, String)> = rows
            .iter()
            .filter(|r| !r.id.contains('.'))
            .map(|r| (r.id.clone(), r.workload.clone(), r.unit.clone()))
            .collect();
        workloads.sort();
        workloads.dedup_by(|a, b| a.0 == b.0);
        let mut frameworks: Vec<String> = rows.iter().map(|r| r.framework.clone()).collect();
        frameworks.sort_by_key(|f| (f != "monograd", f.clone()));
        frameworks.dedup();

        let mut table: BTreeMap<(&str, &str), Combined> = BTreeMap::new();
        for framework in &frameworks {
            for (id, _, _) in &workloads {
                let matching: Vec<&Row> = rows
                    .iter()
                    .filter(|r| &r.framework == framework && &r.id == id)
                    .collect();
                if !matching.is_empty() {
                    table.insert((framework, id), combine(&matching));
                }
            }
        }

        println!(
            "{:<10} {:<16} {:>12} {:>6} {:>14}",
            "framework", "workload", "median", "unit", "vs monograd"
        );
        for (id, name, unit) in &workloads {
            let base = table.get(&("monograd", id.as_str())).map(|c| c.median);
            for framework in &frameworks {
                if let Some(c) = table.get(&(framework.as_str(), id.as_str())) {
                    let ratio = base.map_or("-".to_string(), |b| format!("{:.2}x", c.median / b));
                    println!(
                        "{framework:<10} {:<16} {:>12.2} {unit:>6} {ratio:>14}",
                        format!("{id} {name}"),
                        c.median
                    );
                }
            }
        }

        let categories: Vec<String> = workloads.iter().map(|(id, _, _)| id.clone()).collect();
        let relative = frameworks
            .iter()
            .map(|framework| {
                let values = workloads
                    .iter()
                    .map(|(id, _, _)| {
                        let base = table.get(&("monograd", id.as_str()))?.median;
                        let c = table.get(&(framework.as_str(), id.as_str()))?;
                        Some((c.median / base, Some((c.p10 / base, c.p90 / base))))
                    })
                    .collect();
                (framework.clone(), values)
            })
            .collect();
        let throughput = frameworks
            .iter()
            .map(|framework| {
                let values = workloads
                    .iter()
                    .map(|(id, _, _)| {
                        let c = table.get(&(framework.as_str(), id.as_str()))?;
                        c.gflops.map(|g| (g, None))
                    })
                    .collect();
                (framework.clone(), values)
            })
            .collect();
        let figure = Figure::new(
            "Reference workloads (BENCHMARKS.md)",
            2,
            vec![
                Panel::Bars(BarChart {
                    title: "median time relative to monograd (log scale; lower is faster)".into(),
                    y_label: "time / monograd's time".into(),
                    categories: categories.clone(),
                    series: relative,
                    reference: Some(1.0),
                    log_y: true,
                    value_labels: Some("x".into()),
                }),
                Panel::Bars(BarChart {
                    title: "throughput where FLOPs are counted".into(),
                    y_label: "GFLOP/s".into(),
                    categories,
                    series: throughput,
                    reference: None,
                    log_y: false,
                    value_labels: Some(String::new()),
                }),
            ],
        );
        figure.save_and_report(&options.out, &options.name)?;
        Ok(())
    });
}
