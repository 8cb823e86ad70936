#!/usr/bin/env bash
# Compile time of a user crate, as BENCHMARKS.md's C1-C3 define it (wall seconds, dev profile
# unless --release is given):
#   C1  clean build of a crate declaring W4 and a 20-layer MLP (and calling their training step
#       and inference), against a clean build of a crate that only builds the syn, quote and
#       proc-macro2 that the macro crate needs (the floor of any proc-macro crate): ratio C1 / floor;
#   C2  rebuild after one width of the MLP changes;
#   C3  the same edit when three binaries of the crate train the same network.
# The networks declare `batch 32;`, the size the crate trains with, so that their training passes
# are compiled once, with the library; --without-batch leaves the statement out (the generic
# passes are then compiled in every binary; also for measuring a tree older than the statement).
# Usage: benches/compile_time/run.sh [--release] [--rounds N] [--without-batch]
# Every build uses its own target directory under a fresh temporary directory, so nothing is
# shared with the workspace's target/ and the clean builds are clean. Next to each wall time,
# the CPU seconds (user + system) of the build: on a shared machine they move less with the
# load than the wall time does.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
profile=(); profile_name=dev; rounds=2; batch="batch 32;"
while [ $# -gt 0 ]; do
    case "$1" in
        --release) profile=(--release); profile_name=release ;;
        --rounds) rounds="$2"; shift ;;
        --without-batch) batch="" ;;
        *) echo "usage: $0 [--release] [--rounds N] [--without-batch]" >&2; exit 2 ;;
    esac
    shift
done
work="${COMPILE_TIME_DIR:-$(mktemp -d)}"
[ -n "${COMPILE_TIME_DIR:-}" ] || trap 'rm -rf "$work"' EXIT

# The floor: syn (with the features monograd-macros enables: its defaults), quote, proc-macro2.
mkdir -p "$work/floor/src"
cat > "$work/floor/Cargo.toml" <<TOML
[package]
name = "floor"
version = "0.0.0"
edition = "2021"
[dependencies]
proc-macro2 = "1"
quote = "1"
syn = "3"
[workspace]
TOML
echo 'pub use {proc_macro2, quote, syn};' > "$work/floor/src/lib.rs"

# The user crate: W4 and a 20-layer MLP in its library, three binaries training the MLP.
mkdir -p "$work/user/src/bin"
cat > "$work/user/Cargo.toml" <<TOML
[package]
name = "user"
version = "0.0.0"
edition = "2021"
[dependencies]
monograd = { path = "$repo" }
[workspace]
TOML
mlp_layers() {
    local width="$1" prev=x
    for i in $(seq 1 20); do
        echo "        h$i = linear($prev, $width);"
        echo "        a$i = relu(h$i);"
        prev="a$i"
    done
    echo "        logits = linear($prev, 10);"
}
write_lib() {
    cat > "$work/user/src/lib.rs" <<RUST
use monograd::runtime::optim::{Sgd, SgdConfig};
monograd::network! {
    pub struct Cnn {
        input x: [1, 28, 28];
        c1 = conv2d(x, 8, kernel = 3, padding = 1);
        r1 = relu(c1);
        p1 = max_pool2d(r1, 2);
        c2 = conv2d(p1, 16, kernel = 3, padding = 1);
        r2 = relu(c2);
        p2 = max_pool2d(r2, 2);
        f = flatten(p2);
        logits = linear(f, 10);
        loss = softmax_cross_entropy(logits);
        $batch
    }
}
monograd::network! {
    pub struct Mlp {
        input x: [64];
$(mlp_layers "$1")
        loss = softmax_cross_entropy(logits);
        $batch
    }
}
/// One SGD step of each network at batch 32 and one inference, so that the generic code is
/// instantiated as a user's would be.
pub fn exercise_cnn() -> f32 {
    let mut net = Cnn::new(0);
    let mut tape = CnnTape::<32>::new();
    let mut sgd = Sgd::new(SgdConfig { lr: 0.01, momentum: 0.9, ..SgdConfig::default() }).unwrap();
    let x = [[0.5f32; 784]; 32];
    let targets = [3usize; 32];
    net.train_step(&mut tape, &x, &targets, &mut sgd).unwrap()
}
RUST
}
bin_source() {
    cat <<RUST
use monograd::runtime::optim::{Sgd, SgdConfig};
use user::{Mlp, MlpTape};
fn main() {
    let mut net = Mlp::new($1);
    let mut tape = MlpTape::<32>::new();
    let mut sgd = Sgd::new(SgdConfig { lr: 0.01, ..SgdConfig::default() }).unwrap();
    let x = [[0.25f32; 64]; 32];
    let targets = [1usize; 32];
    println!("{}", net.train_step(&mut tape, &x, &targets, &mut sgd).unwrap() + user::exercise_cnn());
}
RUST
}

seconds() { # prints "WALL s (cpu CPU s)" of "$@" (bash's `time`: CPU of the build's processes), quiet
    local TIMEFORMAT='%R %U %S' times
    times=$(mktemp)
    { time "$@" >/dev/null 2>&1; } 2>"$times" \
        || { echo "build failed: $* (rerun it by hand to see why)" >&2; rm -f "$times"; return 1; }
    awk '{ printf "%.1f s (cpu %.1f s)", $1, $2 + $3 }' "$times"
    rm -f "$times"
}
wall() { echo "${1%% s *}"; } # the wall seconds of what `seconds` printed
build() { # build <crate dir> <target dir>
    (cd "$1" && CARGO_TARGET_DIR="$2" cargo build "${profile[@]}" --quiet)
}

echo "compile time, $profile_name profile, ${batch:-no batch statement}, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for round in $(seq 1 "$rounds"); do
    write_lib 64
    rm -f "$work/user/src/bin/"*.rs
    bin_source 1 > "$work/user/src/bin/one.rs"
    rm -rf "$work/t-floor" "$work/t-user"
    floor=$(seconds build "$work/floor" "$work/t-floor")
    user=$(seconds build "$work/user" "$work/t-user")
    write_lib 65
    edit1=$(seconds build "$work/user" "$work/t-user")
    bin_source 2 > "$work/user/src/bin/two.rs"
    bin_source 3 > "$work/user/src/bin/three.rs"
    build "$work/user" "$work/t-user"
    write_lib 66
    edit3=$(seconds build "$work/user" "$work/t-user")
    ratio=$(awk -v u="$(wall "$user")" -v f="$(wall "$floor")" 'BEGIN { printf "%.2f", u / f }')
    echo "round $round: floor (syn+quote+proc-macro2) ${floor}; C1 clean ${user}, ${ratio}x floor; C2 one-width edit ${edit1}; C3 edit with three binaries ${edit3}"
done
