#!/usr/bin/env bash
# Lists the panic paths of the `firmware` binary and holds them to panic-sites.txt.
#
# usage: examples/firmware/check-panics.sh TARGET_DIR   (e.g. target/thumbv7em-none-eabihf/release)
#
# A panic site is a function of the linked binary (everything in it is reachable from the reset
# handler: the linker drops the rest) with a direct call or branch to core's panic entry points
# (core::panicking::*, the slice index failures, unwrap/expect failures). Sites are compared by
# name, without the hash suffix, with panic-sites.txt: a new site fails, and so does a listed
# site that is gone (remove it from the list). No function outside core's panic and formatting
# code may call core::fmt. Then the binary is built with feature `panic-free`, whose panic
# handler references an undefined symbol and which leaves out on-device training: the link-time
# proof that inference (and the rest of the program) cannot panic.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target_dir="$1"
elf="$target_dir/firmware"
allowed="$here/panic-sites.txt"

tools="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
objdump="$tools/llvm-objdump"
if [ ! -x "$objdump" ]; then
    echo "check-panics: $objdump not found (rustup component add llvm-tools)" >&2
    exit 1
fi

# "caller<TAB>callee" for every direct call or branch to another function (targets without an
# offset: branches inside a function print as <name+0x..>).
edges="$("$objdump" -d -C --no-show-raw-insn "$elf" | awk '
    /^[0-9a-f]+ <.*>:$/ { sub(/^[0-9a-f]+ </, ""); sub(/>:$/, ""); fn = $0; next }
    /\tb[a-z.]*\t0x[0-9a-f]+ <[^+]*>/ {
        target = $0; sub(/^[^<]*</, "", target); sub(/>[^>]*$/, "", target)
        if (target != fn) print fn "\t" target
    }')"

# Readable names without hash suffixes (some local symbols stay in their legacy mangled form).
normalize() {
    sed -E 's/ \(\.llvm\.[0-9]+\)$//; s/::h[0-9a-f]{16}$//; s/^_//; s/\$LT\$/</g; s/\$GT\$/>/g; s/\$u20\$/ /g; s/\.\./::/g'
}
panic_entry='^(__rustc::rust_begin_unwind|rust_begin_unwind|core::panicking::|core::slice::index::|core::str::slice_error_fail|core::option::(unwrap|expect)_failed|core::result::unwrap_failed|core::cell::panic_)'
formatting='(^core::fmt::|as core::fmt::)'

sites="$(printf '%s\n' "$edges" | awk -F'\t' -v entry="$panic_entry" '$2 ~ entry && $1 !~ entry { print $1 }' \
    | normalize | sort -u)"
fmt_users="$(printf '%s\n' "$edges" \
    | awk -F'\t' -v entry="$panic_entry" -v fmt="$formatting" '$2 ~ fmt && $1 !~ entry && $1 !~ fmt { print $1 }' \
    | normalize | sort -u)"
expected="$(grep -v -e '^#' -e '^[[:space:]]*$' "$allowed" | sort -u || true)"

status=0
if [ -n "$fmt_users" ]; then
    echo "check-panics: these functions format with core::fmt (not allowed in the firmware):"
    printf '  %s\n' $fmt_users
    status=1
fi
new="$(comm -23 <(printf '%s\n' "$sites" | sed '/^$/d') <(printf '%s\n' "$expected" | sed '/^$/d'))"
gone="$(comm -13 <(printf '%s\n' "$sites" | sed '/^$/d') <(printf '%s\n' "$expected" | sed '/^$/d'))"
if [ -n "$new" ]; then
    echo "check-panics: new panic paths (remove the check the optimizer cannot prove, or list the function in panic-sites.txt and say why):"
    printf '%s\n' "$new" | sed 's/^/  /'
    status=1
fi
if [ -n "$gone" ]; then
    echo "check-panics: listed in panic-sites.txt but no longer a panic site (remove the line):"
    printf '%s\n' "$gone" | sed 's/^/  /'
    status=1
fi
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
if [ -n "$sites" ]; then
    echo "check-panics: $(printf '%s\n' "$sites" | wc -l) known panic sites, as listed in panic-sites.txt; no core::fmt outside them"
    printf '%s\n' "$sites" | sed 's/^/  /'
else
    echo "check-panics: no panic site"
fi
# Same target directory: only this crate is rebuilt, and its `firmware` binary is replaced by the
# program with the undefined-symbol panic handler, which leaves out on-device training (the
# listed sites are training's): the link proves that inference and everything else cannot panic.
echo "check-panics: proving at link time that the program without training cannot panic (feature panic-free)"
cargo build -p firmware-example --bin firmware --features panic-free \
    --target "$(basename "$(dirname "$target_dir")")" --release \
    --target-dir "$(dirname "$(dirname "$target_dir")")"
# Put the device program back in its place, so that the next look at `firmware` (another run of
# this script, QEMU, a size report) sees the program with training, not the proof's.
cargo build -p firmware-example --bin firmware --features device \
    --target "$(basename "$(dirname "$target_dir")")" --release \
    --target-dir "$(dirname "$(dirname "$target_dir")")"
