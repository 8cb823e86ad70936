#!/bin/sh
# The streaming comparison in one command: builds RTNeural's harness (run.sh) and monograd's
# bench, then alternates them pinned to one core, so that both see the same machine state.
#
#   benches/rtneural/alternate.sh PATH_TO_RTNEURAL_CHECKOUT [ROUNDS] [CORE]
#
# Run from the repository root. ROUNDS defaults to 3, CORE to 1 (`taskset -c CORE`; without
# taskset the processes are not pinned). Each round runs monograd's S1-gru8 and S2-lstm16, then
# each RTNeural backend built; every line is `<framework> <workload> ns_per_sample <min>
# <median> checksum <sum>`, prefixed with the round (and RTNeural's with the backend: eigen,
# xsimd, stl). Quote medians over rounds, as ratios.
set -eu
rtneural="${1:?usage: alternate.sh PATH_TO_RTNEURAL_CHECKOUT [ROUNDS] [CORE]}"
rounds="${2:-3}"
core="${3:-1}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${TMPDIR:-/tmp}/rtneural_stream_bench"
"$here/run.sh" "$rtneural" >/dev/null
bench="$(cargo bench --bench stream --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n 1)"
[ -x "$bench" ] || { echo "alternate.sh: no bench executable found" >&2; exit 1; }
pin() { if command -v taskset >/dev/null; then taskset -c "$core" "$@"; else "$@"; fi; }
round=1
while [ "$round" -le "$rounds" ]; do
    pin "$bench" S1-gru8 S2-lstm16 | sed "s/^/round $round /"
    for backend in eigen xsimd stl; do
        if [ -x "$out-$backend" ]; then
            pin "$out-$backend" | sed "s/^/round $round $backend /"
        fi
    done
    round=$((round + 1))
done
