#!/usr/bin/env bash
# A rank that hangs or dies ends the whole MPI job, non-zero and with a message, within the
# watchdog's timeout: never a silent hang.
#
#   tests/mpi/kill_one_rank.sh BINARY STOP   # rank 1 hangs (SIGSTOP): rank 0's watchdog aborts
#   tests/mpi/kill_one_rank.sh BINARY KILL   # rank 1 dies (SIGKILL): mpirun ends the job
#
# BINARY is the mpi_digits example. Two ranks train for a long time with a 5 s timeout; once
# rank 0 prints progress, rank 1 receives the signal, and mpirun must exit non-zero within
# 30 s with the expected message in its output.
set -euo pipefail

binary="$1"
signal="$2"
timeout_seconds=5
limit_seconds=30

log="$(mktemp)"
mpirun --allow-run-as-root --oversubscribe -np 2 "$binary" \
    --epochs 1000000 --print-every 1 --timeout "$timeout_seconds" --save /dev/null \
    >"$log" 2>&1 &
mpirun_pid=$!

cleanup() {
    # Only the processes this script started, by id.
    for pid in "${rank_pid:-}" "$mpirun_pid"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -f "$log"
}
trap cleanup EXIT

fail() {
    echo "kill_one_rank $signal: $*" >&2
    echo "--- mpirun output ---" >&2
    cat "$log" >&2
    exit 1
}

# Wait for training to be under way (rank 0 prints an epoch line).
for _ in $(seq 1 600); do
    grep -q '^epoch ' "$log" && break
    kill -0 "$mpirun_pid" 2>/dev/null || fail "mpirun ended before training started"
    sleep 0.1
done
grep -q '^epoch ' "$log" || fail "no progress after 60 s"
rank_pid="$(grep -o 'rank 1 of 2, process [0-9][0-9]*' "$log" | head -1 | grep -o '[0-9]*$' || true)"
[ -n "$rank_pid" ] || fail "rank 1 did not print its process id"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
start=$(now_ms)
kill "-$signal" "$rank_pid"
status=running
while [ $(($(now_ms) - start)) -lt $((limit_seconds * 1000)) ]; do
    if ! kill -0 "$mpirun_pid" 2>/dev/null; then
        status=0
        wait "$mpirun_pid" || status=$?
        break
    fi
    sleep 0.1
done
elapsed_ms=$(($(now_ms) - start))
[ "$status" != running ] || fail "the job still runs ${limit_seconds} s after SIG$signal to rank 1"
[ "$status" -ne 0 ] || fail "mpirun exited 0 after SIG$signal to rank 1"

case "$signal" in
    STOP) expected="monograd mpi: rank 0 of 2: .* did not complete within the timeout of $timeout_seconds s" ;;
    KILL) expected="rank 1 .* on signal 9" ;;
    *) fail "unknown signal (STOP or KILL)" ;;
esac
grep -E -q "$expected" "$log" || fail "no message matching /$expected/"
printf 'kill_one_rank %s: mpirun exited with status %s %d.%03d s after SIG%s to rank 1:\n' \
    "$signal" "$status" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) "$signal"
grep -E "$expected" "$log" | head -1
