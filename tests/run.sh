#!/usr/bin/env bash
# Run every unit-test binary and every bats suite of a build; print one
# final line "N passed, N failed". Exit 1 if anything failed. With a
# second build (the DIAG one, make DIAG=1), the unit tests named in
# $WR_DIAG_TESTS run again on it; with a third (ThreadSanitizer, make
# SAN=thread), those named in $WR_TSAN_TESTS, but for the test functions
# named in $WR_TSAN_SKIP: a ThreadSanitizer report fails the binary.
#
# The test binaries and the bats files are independent (each has its own
# scratch directory): they run as $WR_TEST_JOBS jobs at a time (default:
# the cores this process may use, nproc), the slowest first, and each
# job's results are printed, in that fixed order, as soon as it and the
# jobs before it are done, with its wall and CPU time. A skipped test
# (bats' "ok N ... # skip", a unit test's "ok N - ... # SKIP") is counted
# apart, never as passed.
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
njobs=${WR_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
[[ "$njobs" =~ ^[1-9][0-9]*$ ]] || njobs=1
pass=0
fail=0
skip=0
work=$(mktemp -d)
log=$work/log
# every --json object the suites make the tools print lands here too (see
# tools/cli.c: one file per process), to be validated against docs/json/
# at the end
WR_TEST_JSON_DIR=$(mktemp -d)
export WR_TEST_JSON_DIR
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work" "$WR_TEST_JSON_DIR"' EXIT
t_start=$(date +%s.%N)

count() { # count TAP lines of $log into pass/fail/skip; $p = this run's passes
    local f s
    p=$(grep -c '^ok ' "$log")
    s=$(grep -ciE '^ok .*# skip' "$log")
    f=$(grep -c '^not ok ' "$log")
    p=$((p - s))
    pass=$((pass + p))
    skip=$((skip + s))
    fail=$((fail + f))
    if [ "$s" -gt 0 ]; then
        grep -iE '^ok .*# skip' "$log"
        echo "# $s skipped: not run, not counted as passed"
    fi
}

# --- the jobs: KIND LABEL COMMAND..., run $njobs at a time, in this order
# (the slowest first, so that the last to finish are short ones)
nj=0
declare -a J_KIND J_LABEL J_ARG J_CMD
job() { # job KIND LABEL FILE COMMAND...: FILE, the binary or suite
    J_KIND[nj]=$1
    J_LABEL[nj]=$2
    J_ARG[nj]=$3
    shift 3
    J_CMD[nj]=$(printf '%q ' "$@")
    nj=$((nj + 1))
}

# the slowest first, by the CPU seconds each took (SAN build, measured
# with this script: test_db 61, wr-migrate.bats 31, wr-salvage.bats 24,
# ... test_btree 4.5); anything not named here runs after them
slow="unit/test_db cli/wr-migrate.bats cli/wr-salvage.bats
      unit/test_migrate cli/wr-load.bats unit/test_compact cli/wr-dump.bats
      cli/contract.bats cli/wr-verify.bats tsan/test_verify
      cli/wr-compact.bats diag/test_btree cli/wr-dump-map.bats
      tsan/test_compact cli/readers.bats cli/wr-diff.bats diag/test_verify
      unit/test_verify unit/test_btree"
weight() { # weight ID: its place in $slow (0 first), or 1000
    local i=0 s
    for s in $slow; do
        [ "$s" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo 1000
}

list=() # "WEIGHT N KIND LABEL ARG" lines, sorted below
add() { list+=("$(weight "$1") ${#list[@]} $2"); }
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    add "unit/${t##*/}" "unit unit $t"
done
if [ -n "$diag" ]; then
    for name in ${WR_DIAG_TESTS:-}; do
        add "diag/$name" "diag unit_(DIAG) $diag/tests/$name"
    done
fi
norand=()
if [ -n "$tsan" ]; then
    # gcc's libtsan dies at startup when the kernel randomizes mmap more
    # than it expects (vm.mmap_rnd_bits > 28, as on Ubuntu 24.04): run the
    # binaries without address randomization (setarch, util-linux) where
    # the kernel lets us turn it off (a container's seccomp may not); where
    # not, they run as they are and a startup death still counts as failed
    if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
        norand=(setarch "$(uname -m)" -R)
    else
        echo "# TSan: cannot turn off address randomization (setarch -R); running as is"
    fi
    for name in ${WR_TSAN_TESTS:-}; do
        add "tsan/$name" "tsan unit_(TSan) $tsan/tests/$name"
    done
fi
shopt -s nullglob
for s in tests/cli/*.bats; do
    add "cli/${s##*/}" "bats bats $s"
done
while read -r _ _ kind label arg; do
    label=${label//_/ }
    case $kind in
    unit | diag)
        job "$kind" "$label" "$arg" "$arg" ;;
    tsan)
        # reports are counted from the log (one failure per binary, a
        # forked child's too), not from the exit status; no second of
        # sleep at each exit (the crash sweeps' children exit by the
        # score)
        job tsan "$label" "$arg" env WR_TEST_SKIP="${WR_TSAN_SKIP:-}" \
            TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}exitcode=0:second_deadlock_stack=1:atexit_sleep_ms=0" \
            ${norand[@]+"${norand[@]}"} "$arg" ;;
    bats)
        job bats "$label" "$arg" bats --tap "$arg" ;;
    esac
done < <(printf '%s\n' "${list[@]}" | sort -n -k1,1 -k2,2)
# DESIGN decision 11: no module but the page source reads tree files
job lint lint_reads tests/lint_reads.sh tests/lint_reads.sh
# dependencies between lib/ modules point one way (docs/ARCHITECTURE.md)
job lint lint_layers tests/lint_layers.sh tests/lint_layers.sh \
    "$build/obj/lib"

timer=()
if [ -x /usr/bin/time ]; then
    timer=(/usr/bin/time -f '%e %U %S')
fi
run_job() { # run_job I: job I's output, status and times into $work/I.*
    local i=$1
    if [ ${#timer[@]} -gt 0 ]; then
        eval "${timer[*]@Q} -o \"\$work/$i.time\" ${J_CMD[i]}" \
            >"$work/$i.log" 2>&1
    else
        eval "${J_CMD[i]}" >"$work/$i.log" 2>&1
    fi
    echo $? >"$work/$i.rc.tmp"
    mv "$work/$i.rc.tmp" "$work/$i.rc"
}

report() { # report I: count and print job I's results
    local i=$1 rc t=""
    local kind=${J_KIND[i]} label=${J_LABEL[i]} name=${J_ARG[i]##*/}
    rc=$(cat "$work/$i.rc")
    cp "$work/$i.log" "$log"
    if [ -s "$work/$i.time" ]; then
        # the last line: /usr/bin/time's (a child's "Command exited" first)
        t=$(tail -1 "$work/$i.time" |
            awk '{ printf " [%.1f s, %.1f s CPU]", $1, $2 + $3 }')
    fi
    case $kind in
    unit | diag | tsan)
        if [ ! -x "${J_ARG[i]}" ]; then
            echo "not ok - ${J_ARG[i]} missing"
            fail=$((fail + 1))
            return
        fi
        count
        grep -E '^(not ok|#)' "$log" | head -40
        # a binary dying with no failed test, or passing none (a
        # sanitizer's runtime refusing to start), failed
        if { [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$log"; } ||
           [ "$p" -eq 0 ]; then
            echo "not ok - $label $name exited with status $rc, $p passed"
            tail -20 "$log"
            fail=$((fail + 1))
        fi
        echo "# $label $name: $p passed (exit $rc)$t"
        if [ "$kind" = tsan ] && grep -q 'WARNING: ThreadSanitizer' "$log"; then
            grep -A30 -m1 'WARNING: ThreadSanitizer' "$log"
            echo "not ok - unit (TSan) $name: ThreadSanitizer reports" \
                 "($(grep -c 'WARNING: ThreadSanitizer' "$log"))"
            fail=$((fail + 1))
        fi ;;
    bats)
        count
        grep -E '^not ok|^#' "$log" | head -80
        # bats that dies before its plan, or runs nothing, failed
        if { [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$log"; } ||
           ! grep -qE '^1\.\.[1-9]' "$log"; then
            echo "not ok - bats $name exited with status $rc"
            tail -20 "$log"
            fail=$((fail + 1))
        fi
        echo "# bats $name: $p passed$t" ;;
    lint)
        if [ "$rc" -eq 0 ]; then
            if [ "$label" = lint_reads ]; then
                echo "# lint_reads: ok"
            else
                echo "# $(cat "$log")"
            fi
            pass=$((pass + 1))
        else
            cat "$log"
            echo "not ok - tests/$label.sh"
            fail=$((fail + 1))
        fi ;;
    esac
}

# start jobs while fewer than $njobs run; report the done ones in order
echo "# $nj jobs, $njobs at a time, the slowest first"
reported=0
report_done() {
    while [ $reported -lt $nj ] && [ -f "$work/$reported.rc" ]; do
        report $reported
        reported=$((reported + 1))
    done
}
for ((i = 0; i < nj; i++)); do
    while [ "$(jobs -rp | wc -l)" -ge "$njobs" ]; do
        wait -n
        report_done
    done
    run_job $i &
done
wait
report_done

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

awk -v a="$t_start" -v b="$(date +%s.%N)" -v j="$njobs" \
    'BEGIN { printf "# %d jobs at a time: %.0f s\n", j, b - a }'
[ "$skip" -eq 0 ] || echo "# $skip skipped (not run, not counted)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
