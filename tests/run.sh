#!/usr/bin/env bash
# Run every unit-test binary and every bats suite of a build; print one
# final line "N passed, N failed". Exit 1 if anything failed. With a
# second build (the DIAG one, make DIAG=1), the unit tests named in
# $WR_DIAG_TESTS run again on it; with a third (ThreadSanitizer, make
# SAN=thread), those named in $WR_TSAN_TESTS, but for the test functions
# named in $WR_TSAN_SKIP: a ThreadSanitizer report fails the binary.
set -u
build=${1:-build/san}
diag=${2:-}
tsan=${3:-}
unset WR_TEST_SKIP # only the ThreadSanitizer pass leaves tests out
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export WR_BIN="$top/$build/bin"
# The public test corpora live next to the repository (../shared/corpora).
for c in "${WR_CORPORA:-}" "$top/../shared/corpora" /work/shared/corpora; do
    if [ -n "$c" ] && [ -d "$c/bson-corpus" ]; then
        WR_CORPORA=$(cd "$c" && pwd)
        break
    fi
done
if [ ! -d "${WR_CORPORA:-}/bson-corpus" ]; then
    echo "tests/run.sh: cannot find the corpora (../shared/corpora); set WR_CORPORA" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
export WR_CORPORA
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
# Crash sweeps kill the process, not the machine: real fsyncs add nothing
# to what they test, only minutes of waiting (see lib/io.c).
export WR_IO_NOSYNC=${WR_IO_NOSYNC:-1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0
fail=0
log=$(mktemp)
# every --json object the suites make the tools print lands here too (see
# tools/cli.c), to be validated against docs/json/ at the end
WR_TEST_JSON_DIR=$(mktemp -d)
export WR_TEST_JSON_DIR
trap 'rm -f "$log"; rm -rf "$WR_TEST_JSON_DIR"' EXIT

count() { # count TAP lines of $log into pass/fail; $p = this run's passes
    local f
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    pass=$((pass + p))
    fail=$((fail + f))
}

unit() { # unit BINARY LABEL [COMMAND...]: run BINARY (under COMMAND)
    local t=$1 label=$2 name rc
    shift 2
    name=$(basename "$t")
    "$@" "$t" >"$log" 2>&1
    rc=$?
    count
    grep -E '^(not ok|#)' "$log" | head -40
    # a binary dying with no failed test, or passing none (a sanitizer's
    # runtime refusing to start), failed
    if { [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; } || [ "$p" -eq 0 ]; then
        echo "not ok - $label $name exited with status $rc, $p passed"
        tail -20 "$log"
        fail=$((fail + 1))
    fi
    echo "# $label $name: $p passed (exit $rc)"
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    unit "$t" unit
done
if [ -n "$diag" ]; then
    for name in ${WR_DIAG_TESTS:-}; do
        if [ -x "$diag/tests/$name" ]; then
            unit "$diag/tests/$name" "unit (DIAG)"
        else
            echo "not ok - $diag/tests/$name missing"
            fail=$((fail + 1))
        fi
    done
fi
if [ -n "$tsan" ]; then
    # gcc's libtsan dies at startup when the kernel randomizes mmap more
    # than it expects (vm.mmap_rnd_bits > 28, as on Ubuntu 24.04): run the
    # binaries without address randomization (setarch, util-linux) where
    # the kernel lets us turn it off (a container's seccomp may not); where
    # not, they run as they are and a startup death still counts as failed
    norand=()
    if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
        norand=(setarch "$(uname -m)" -R)
    else
        echo "# TSan: cannot turn off address randomization (setarch -R); running as is"
    fi
    for name in ${WR_TSAN_TESTS:-}; do
        if [ ! -x "$tsan/tests/$name" ]; then
            echo "not ok - $tsan/tests/$name missing"
            fail=$((fail + 1))
            continue
        fi
        # reports are counted from the log (one failure per binary, a
        # forked child's too), not from the exit status; no second of
        # sleep at each exit (the crash sweeps' children exit by the score)
        WR_TEST_SKIP=${WR_TSAN_SKIP:-} \
        TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}exitcode=0:second_deadlock_stack=1:atexit_sleep_ms=0" \
            unit "$tsan/tests/$name" "unit (TSan)" ${norand[@]+"${norand[@]}"}
        if grep -q 'WARNING: ThreadSanitizer' "$log"; then
            grep -A30 -m1 'WARNING: ThreadSanitizer' "$log"
            echo "not ok - unit (TSan) $name: ThreadSanitizer reports" \
                 "($(grep -c 'WARNING: ThreadSanitizer' "$log"))"
            fail=$((fail + 1))
        fi
    done
fi

# DESIGN decision 11: no module but the page source reads tree files
if tests/lint_reads.sh >"$log" 2>&1; then
    echo "# lint_reads: ok"
    pass=$((pass + 1))
else
    cat "$log"
    echo "not ok - tests/lint_reads.sh"
    fail=$((fail + 1))
fi

# dependencies between lib/ modules point one way (docs/ARCHITECTURE.md)
if tests/lint_layers.sh "$build/obj/lib" >"$log" 2>&1; then
    echo "# $(cat "$log")"
    pass=$((pass + 1))
else
    cat "$log"
    echo "not ok - tests/lint_layers.sh"
    fail=$((fail + 1))
fi

shopt -s nullglob
suites=(tests/cli/*.bats)
if [ ${#suites[@]} -gt 0 ]; then
    bats --tap "${suites[@]}" >"$log" 2>&1
    count
    grep -E '^not ok|^#' "$log" | head -80
    echo "# bats: $p passed"
fi

# JSON: every object validates, and every tool printed some
jsons=("$WR_TEST_JSON_DIR"/*.json)
if [ ${#jsons[@]} -gt 0 ]; then
    tests/json/validate.py docs/json "${jsons[@]}" >"$log" 2>&1
    count
    grep -E '^not ok|^#' "$log" | head -40
    echo "# json: $p of ${#jsons[@]} --json outputs valid against docs/json/"
fi
for t in tools/wr-*.c; do
    t=${t##*/}
    t=${t%.c}
    n=$(find "$WR_TEST_JSON_DIR" -name "$t.*.json" | wc -l)
    if [ "$n" -eq 0 ]; then
        echo "not ok - $t: no --json output in the whole suite to validate"
        fail=$((fail + 1))
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
