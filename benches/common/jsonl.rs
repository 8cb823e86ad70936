//! Machine-readable benchmark output: one JSON object per measured row, appended to the file
//! given with `--json PATH`, so that runs on different machines or of different frameworks can
//! be collected and plotted (`cargo run --release --example benchmark_figure -- FILES...`).
//!
//! A row: `{"framework": "monograd", "id": "W1", "workload": "mlp_train", "batch": 64,
//! "unit": "us", "median": 812.4, "p10": 801.2, "p90": 840.0, "reps": 1200, "inner": 1,
//! "gflops": 28.1, "cpu": "..."}`; `gflops` is `null` where FLOPs are not counted. The PyTorch
//! script (`reference/bench_pytorch.py --json PATH`) writes the same fields. The floor rows of
//! W1, W4 and W5 (`W1.floor`, `W1.opt`: `benches/common/floor.rs`) add named numbers before
//! `cpu` (`gemm_floor_us`, `ratio_to_gemm_floor`, `optimizer_bound_us`, ...).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

static SINK: OnceLock<Mutex<(File, String)>> = OnceLock::new();

/// Appends every later [`row`] to `path` (created if missing), each tagged with `cpu`.
pub fn open(path: &Path, cpu: &str) -> Result<(), String> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("--json {}: {e}", path.display()))?;
    SINK.set(Mutex::new((file, cpu.to_string())))
        .map_err(|_| "--json given twice".to_string())
}

/// One measured row; see the module docs for the fields. A no-op without `--json`.
#[allow(clippy::too_many_arguments)]
pub fn row(
    id: &str,
    workload: &str,
    batch: usize,
    unit: &str,
    quantiles: [f64; 3],
    reps: usize,
    inner: usize,
    gflops: Option<f64>,
) {
    row_with(
        id,
        workload,
        batch,
        unit,
        quantiles,
        reps,
        inner,
        gflops,
        &[],
    );
}

/// [`row`] with more numeric fields after `gflops` (the floor rows: `gemm_floor_us`,
/// `ratio_to_gemm_floor`, `optimizer_bound_us`, ...).
#[allow(clippy::too_many_arguments)]
pub fn row_with(
    id: &str,
    workload: &str,
    batch: usize,
    unit: &str,
    [median, p10, p90]: [f64; 3],
    reps: usize,
    inner: usize,
    gflops: Option<f64>,
    extra: &[(&str, f64)],
) {
    let Some(sink) = SINK.get() else { return };
    let mut sink = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (file, cpu) = &mut *sink;
    let gflops = gflops.map_or("null".to_string(), number);
    let extra: String = extra
        .iter()
        .map(|(name, value)| format!("{}: {}, ", string(name), number(*value)))
        .collect();
    let line = format!(
        "{{\"framework\": \"monograd\", \"id\": {}, \"workload\": {}, \"batch\": {batch}, \
         \"unit\": {}, \"median\": {}, \"p10\": {}, \"p90\": {}, \"reps\": {reps}, \
         \"inner\": {inner}, \"gflops\": {gflops}, {extra}\"cpu\": {}}}\n",
        string(id),
        string(workload),
        string(unit),
        number(median),
        number(p10),
        number(p90),
        string(cpu),
    );
    if let Err(e) = file.write_all(line.as_bytes()) {
        eprintln!("warning: --json: cannot write a row: {e}");
    }
}

/// A JSON number (JSON has no NaN or infinity: those become `null`).
fn number(value: f64) -> String {
    if value.is_finite() {
        format!("{value}")
    } else {
        "null".into()
    }
}

/// A JSON string literal.
fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
