# Shared setup for the command-line suites. tests/run.sh exports WR_BIN
# (the sanitizer build's binaries); corpora live one level above the repo.

: "${WR_BIN:=$BATS_TEST_DIRNAME/../../build/san/bin}"
: "${WR_CORPORA:=$BATS_TEST_DIRNAME/../../../shared/corpora}"
[ -d "$WR_CORPORA" ] || WR_CORPORA=/work/shared/corpora
export WR_BIN WR_CORPORA

common_setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/wrcli.XXXXXX")
    export TMP
}

common_teardown() {
    [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# jsonl FILE N [START]: N small documents with _id START.. into FILE
make_jsonl() {
    local file=$1 n=$2 start=${3:-0}
    awk -v n="$n" -v s="$start" 'BEGIN {
        for (i = s; i < s + n; i++)
            printf "{\"_id\": %d, \"name\": \"user%d\", \"age\": %d, \"address\": {\"city\": \"c%d\"}, \"tags\": [\"t%d\", \"t%d\"]}\n", i, i, i % 90, i % 17, i % 3, i % 5
    }' > "$file"
}

# peak_rss_kb OUT CMD...: run CMD (stdout discarded), write its peak
# resident set in KiB (getrusage of the child) to the file OUT; returns
# CMD's status. Under ASan, freed memory is quarantined (hundreds of MB):
# run with ASAN_OPTIONS=...:quarantine_size_mb=0 to measure the program.
peak_rss_kb() {
    python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$@"
}

# lock_release_ops TRACE: the ops of a WR_IO_TRACE file that release the
# directory lock (lock.c: the unlink of a LOCK, or its emptying after the
# holder's record), as " N M ... ". Best effort by design: a failure there
# leaves a stale LOCK, which blocks nobody, and the run stands (exit 0).
# tests/unit/helper_power.h has the same rule for the unit sweeps.
lock_release_ops() {
    printf ' %s ' "$(awk '$3 ~ /\/LOCK$/ {
        if ($2 == "pwrite") rec = 1
        else if ($2 == "unlink" || ($2 == "ftruncate" && rec)) {
            printf "%s ", $1
            if ($2 == "ftruncate") rec = 0
        } }' "$1")"
}

# run_json CMD...: like bats' run, but $output is stdout only (for jq)
run_json() {
    run bash -c '"$@" 2>/dev/null' _ "$@"
}
