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

# run_json CMD...: like bats' run, but $output is stdout only (for jq)
run_json() {
    run bash -c '"$@" 2>/dev/null' _ "$@"
}
