#!/usr/bin/env bats
# One behaviour for every tool (every tools/wr-*.c, so a new tool is held
# to it as soon as it exists): -h/-V, the unknown-option line, one JSON
# object with the common fields in every case, a man page whose options are
# the --help options, lint-clean pages, a JSON Schema per tool.

load helpers
bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
VALIDATE="$TOP/tests/json/validate.py"

tools() {
    local f
    for f in "$TOP"/tools/wr-*.c; do f=${f##*/}; echo "${f%.c}"; done
}

# validate: stdin must be exactly one JSON object valid for its tool's schema
validate() {
    "$VALIDATE" "$TOP/docs/json" -
}

@test "every tool: -h is --help and -V is --version, exit 0" {
    for t in $(tools); do
        a=$("$WR_BIN/$t" --help) && b=$("$WR_BIN/$t" -h) || { echo "$t: help failed"; false; }
        [ -n "$a" ] && [ "$a" = "$b" ] || { echo "$t: -h differs from --help"; false; }
        [[ $a == "Usage: $t "* ]] || { echo "$t: help does not start with Usage"; false; }
        a=$("$WR_BIN/$t" --version) && b=$("$WR_BIN/$t" -V) || { echo "$t: version failed"; false; }
        [[ $a == "$t (wrtools) "* ]] && [ "$a" = "$b" ] || { echo "$t: -V: $b"; false; }
    done
}

@test "every tool: an unknown option is one line naming it, exit 2, never argv[0]'s path" {
    for t in $(tools); do
        run "$WR_BIN/$t" --bogus x
        [ "$status" -eq 2 ] || { echo "$t: exit $status"; false; }
        [ "$output" = "$t: unknown option '--bogus' (try --help)" ] || { echo "$t: $output"; false; }
        run "$WR_BIN/$t" --bogus=1 x
        [ "$output" = "$t: unknown option '--bogus' (try --help)" ] || { echo "$t: $output"; false; }
        run "$WR_BIN/$t" -Z x
        [ "$status" -eq 2 ]
        [ "$output" = "$t: unknown option '-Z' (try --help)" ] || { echo "$t: $output"; false; }
    done
}

@test "every tool: an option missing its argument is one line, exit 2" {
    for t in $(tools); do
        opt=$("$WR_BIN/$t" --help | sed -n -E 's/^ +(--[a-z][a-z0-9-]*) [A-Z].*/\1/p' | head -1)
        [ -n "$opt" ] || continue # a tool whose options all stand alone
        run "$WR_BIN/$t" "$opt"
        [ "$status" -eq 2 ]
        [ "$output" = "$t: option '$opt' wants an argument (try --help)" ] || { echo "$t: $output"; false; }
    done
}

@test "every tool: --json prints exactly one object with the common fields, usage errors included" {
    for t in $(tools); do
        for args in "--bogus" "-Z" "" "--json"; do
            run bash -c '"$@" 2>/dev/null' _ "$WR_BIN/$t" --json $args
            [ "$status" -eq 2 ] || { echo "$t --json $args: exit $status"; false; }
            [ "$(jq -c '[.tool, .status, .exit, .error.code]' <<<"$output")" = \
              "[\"$t\",\"usage\",2,\"WR_EINVAL\"]" ] || { echo "$t $args: $output"; false; }
            [ -n "$(jq -r .error.message <<<"$output")" ]
            validate <<<"$output" || { echo "$t: schema"; false; }
        done
        # --json before or after the bad option, stdout holds one line
        run bash -c '"$@" 2>/dev/null' _ "$WR_BIN/$t" --bogus --json
        [ "${#lines[@]}" -eq 1 ]
        run bash -c '"$@" 2>/dev/null' _ "$WR_BIN/$t" --json -V
        [ "$status" -eq 0 ]
        [ "$(jq -r .libwr <<<"$output")" = "$(jq -r .version <<<"$output")" ]
        validate <<<"$output"
        run bash -c '"$@" 2>/dev/null' _ "$WR_BIN/$t" --json --help
        [ "$status" -eq 0 ]
        [ "$(jq -r .help <<<"$output")" = "$("$WR_BIN/$t" --help)" ]
        validate <<<"$output"
    done
}

@test "every tool: --json is one valid object when a path or name is not UTF-8, each stray byte U+FFFD; a rejects line too (review4 #5)" {
    D=$TMP/caf$'\xe9'
    U="$TMP/caf"$'\xef\xbf\xbd' # how JSON shows it
    make_jsonl "$TMP/in.jsonl" 20
    one() { # one EXIT JQ-FILTER WANT CMD...: exactly one valid object
        local want_exit=$1 filter=$2 want=$3
        shift 3
        run bash -c '"$@" 2>/dev/null' _ "$@"
        [ "$status" -eq "$want_exit" ] || { echo "$*: exit $status"; false; }
        [ "${#lines[@]}" -eq 1 ] || { echo "$*: ${#lines[@]} lines: $output"; false; }
        validate <<<"$output" || { echo "$*: schema: $output"; false; }
        [ "$(jq -r "$filter" <<<"$output")" = "$want" ] ||
            { echo "$*: $(jq -r "$filter" <<<"$output") != $want"; false; }
    }
    one 0 .committed true "$WR_BIN/wr-load" --json "$D" c "$TMP/in.jsonl"
    cp -a "$D" "$TMP/other"
    one 0 '.paths[0].path' "$U" "$WR_BIN/wr-verify" --json "$D"
    one 3 '.error.message | contains("'"$U"'")' true "$WR_BIN/wr-verify" --json "$D.nope"
    one 0 .status ok "$WR_BIN/wr-compact" --json "$D"
    one 0 .counts.documents_a 20 "$WR_BIN/wr-diff" --json "$D" "$TMP/other"
    one 0 .path "$U" "$WR_BIN/wr-dump" --json "$D"
    one 0 .source "$U" "$WR_BIN/wr-salvage" --json "$D" "$TMP/s"
    L=$TMP/L$'\xe9'
    mkdir "$L"
    cp "$TMP/in.jsonl" "$L/c.log"
    one 0 .state migrated "$WR_BIN/wr-migrate" --json "$L"
    # a skipped line of an input whose name is not UTF-8: its rejects line
    # names the file with U+FFFD (it was "out of memory", exit 3)
    { head -n 3 "$TMP/in.jsonl"; echo 'not json'; } > "$TMP/in"$'\xe9'".jsonl"
    one 0 .bad_lines 1 "$WR_BIN/wr-load" --json --skip-bad "$TMP/db2" c "$TMP/in"$'\xe9'".jsonl"
    [ "$(jq -r .file "$TMP/db2/c.rejects.jsonl")" = "$TMP/in"$'\xef\xbf\xbd'".jsonl" ]
}

@test "every tool has a JSON Schema in docs/json/, and the schemas are valid" {
    for t in $(tools); do
        [ -f "$TOP/docs/json/$t.schema.json" ] || {
            echo "$t has no JSON Schema: add docs/json/$t.schema.json"; false; }
    done
    # a wrong object fails (the validator can fail)
    run validate <<<'{"tool":"wr-load","version":"1.0.0","status":"ok","exit":0,"inserted":-1}'
    [ "$status" -eq 1 ]
    run validate <<<'{"tool":"wr-verify","version":"1.0.0","status":"clean","exit":1}'
    [ "$status" -eq 1 ] # exit 1 without an error
    run validate <<<'{"tool":"wr-nosuch","version":"1.0.0","status":"ok","exit":0}'
    [ "$status" -eq 1 ]
    [[ $output == *"no schema"* ]]
    printf '{"tool":"wr-load"}\n{"tool":"wr-load"}\n' > "$TMP/two"
    run "$VALIDATE" "$TOP/docs/json" "$TMP/two"
    [ "$status" -eq 1 ]
    [[ $output == *"2 JSON objects, not exactly one"* ]]
}

# options NAME: the options of TOOL's --help, one per line, sorted
help_opts() {
    "$WR_BIN/$1" --help | grep -E '^ +-' |
        grep -oE '(^|[ ,])(--[a-z][a-z0-9-]*|-[A-Za-z])\b' | tr -d ' ,' | sort -u
}
man_opts() {
    grep -E '^\.It Fl ' "$1" | grep -oE 'Fl (-[a-z][a-z0-9-]*|[A-Za-z])\b' |
        sed 's/^Fl /-/' | sort -u
}

@test "every tool has a man page whose options are its --help options" {
    for t in $(tools); do
        page="$TOP/docs/man/$t.1"
        [ -f "$page" ] || { echo "$t has no man page: add docs/man/$t.1 (mdoc, as the others)"; false; }
        h=$(help_opts "$t")
        m=$(man_opts "$page")
        [ -n "$h" ]
        [ "$h" = "$m" ] || {
            echo "$t: --help and docs/man/$t.1 differ (< only in --help, > only in the page):"
            diff <(echo "$h") <(echo "$m") | grep '^[<>]'; false; }
        for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES; do
            grep -q "^\.Sh $s" "$page" || { echo "$t.1 lacks $s"; false; }
        done
    done
    # the comparison can fail
    printf '.It Fl -nosuch\n' > "$TMP/x.1"
    [ "$(man_opts "$TMP/x.1")" != "$(help_opts wr-load)" ]
}

@test "man pages and wrtools-format(5) are mandoc -Tlint clean" {
    [ -f "$TOP/docs/man/wrtools-format.5" ]
    for page in "$TOP"/docs/man/*.[1-8]; do
        # cross references resolve once installed; everything else counts
        run bash -c 'mandoc -Tlint "$1" 2>&1 | grep -v "referenced manual not found"' _ "$page"
        [ -z "$output" ] || { echo "$output"; false; }
    done
    run bash -c 'printf ".Dd x\n.Dt X 1\n.Sh NAME\n.Bogus\n" | mandoc -Tlint 2>&1'
    [ -n "$output" ] # the linter can fail
}

@test "wr-verify --checkpoint previous with no previous snapshot: exit 3 'no previous checkpoint'" {
    make_jsonl "$TMP/a.jsonl" 20
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/a.jsonl"
    run "$WR_BIN/wr-verify" --checkpoint previous "$TMP/db"
    [ "$status" -eq 3 ]
    [[ $output == *"no previous checkpoint"* ]]
    [[ $output != *clean* ]]
    run_json "$WR_BIN/wr-verify" --json --checkpoint previous "$TMP/db"
    [ "$status" -eq 3 ]
    [ "$(jq -r .status <<<"$output")" = error ]
    [ "$(jq -r .exit <<<"$output")" = 3 ]
    [[ "$(jq -r .error.message <<<"$output")" == *"no previous checkpoint"* ]]
    validate <<<"$output"
    # after a second snapshot there is one
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/a.jsonl"
    run "$WR_BIN/wr-verify" --checkpoint previous "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "wr-compact: a file that grows says 'grew by', never a negative amount given back" {
    make_jsonl "$TMP/a.jsonl" 300
    "$WR_BIN/wr-load" -q --page-size 512 "$TMP/db" c "$TMP/a.jsonl"
    run_json "$WR_BIN/wr-compact" --json --page-size 65536 "$TMP/db"
    [ "$status" -eq 0 ]
    validate <<<"$output"
    [ "$(jq '[.given_back, (.files[] | .given_back)] | min' <<<"$output")" -ge 0 ]
    [ "$(jq '.grown_by' <<<"$output")" -gt 0 ]
    [ "$(jq '.size_after - .size_before' <<<"$output")" = "$(jq .grown_by <<<"$output")" ]
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/a.jsonl"
    run "$WR_BIN/wr-compact" --page-size 131072 "$TMP/db"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-compact" --dry-run --page-size 65536 "$TMP/db"
    [ "$status" -eq 0 ]
    [[ $output != *"-"[0-9]*" given back"* ]]
}

@test "wr-migrate: the counts of every line agree (lines = documents + deletes + bad + torn)" {
    cp -r "$TOP/testdata/legacy-demo" "$TMP/m"
    printf '{"_id": 1, "x": NaN}\n' >> "$TMP/m/users.log"
    run "$WR_BIN/wr-migrate" --skip-bad --backup-dir "$TMP/bk" "$TMP/m"
    [ "$status" -eq 0 ]
    total=$(grep '  total:' <<<"$output")
    read -r L D X B T < <(sed -E 's/.*total: ([0-9]+) lines?: ([0-9]+) documents?, ([0-9]+) deletes?, ([0-9]+) bad, ([0-9]+) torn.*/\1 \2 \3 \4 \5/' <<<"$total")
    [ "$L" -eq $((D + X + B + T)) ]
    [ "$B" -eq 1 ]
    # the total is the sum of the collections' lines, in the same words
    sum=$(grep -E '^  [a-z]+: [0-9]+ lines?: ' <<<"$output" | grep -v total |
          sed -E 's/.*: ([0-9]+) lines?: ([0-9]+) documents?, ([0-9]+) deletes?.*/\1 \2 \3/' |
          awk '{l += $1; d += $2; x += $3} END {print l, d, x}')
    [ "$sum" = "$L $D $X" ]
    cp -r "$TOP/testdata/legacy-demo" "$TMP/m2"
    run_json "$WR_BIN/wr-migrate" --json --dry-run "$TMP/m2"
    validate <<<"$output"
    [ "$(jq '.lines - .documents - .deletes - .bad_lines - .torn_lines' <<<"$output")" = 0 ]
}

@test "--checkpoint takes latest or previous, with one message in every reader" {
    for t in wr-verify wr-dump wr-salvage; do
        run "$WR_BIN/$t" --checkpoint bogus "$TMP/x" "$TMP/y"
        [ "$status" -eq 2 ]
        [ "${lines[0]}" = "$t: --checkpoint is 'latest' or 'previous', not 'bogus' (try --help)" ]
    done
}

@test "every tool refuses a file of a newer format version, exit 3, naming it, and changes nothing" {
    # what a format-1 build meets in a format-2 file (docs/FORMAT.md), one
    # version up: a database (compacted: long leaves) whose files say
    # WR_FORMAT_VERSION + 1
    newer=$(( $(sed -n 's/^#define WR_FORMAT_VERSION \([0-9]*\)$/\1/p' "$TOP/lib/wr.h") + 1 ))
    make_jsonl "$TMP/in.jsonl" 300
    "$WR_BIN/wr-load" -q --index age "$TMP/db" c "$TMP/in.jsonl"
    "$WR_BIN/wr-compact" -q "$TMP/db"
    for f in "$TMP"/db/*.wr; do
        [ "$(DAMAGE version "$f" "$newer" | wc -l)" -ge 1 ]
    done
    cp -a "$TMP/db" "$TMP/orig"
    cp -a "$TMP/db" "$TMP/db2"
    for cmd in "wr-verify $TMP/db" "wr-dump $TMP/db/c.main.wr" \
        "wr-dump --docs $TMP/db" "wr-compact $TMP/db" \
        "wr-load $TMP/db c $TMP/in.jsonl" "wr-diff $TMP/db $TMP/db2"; do
        # shellcheck disable=SC2086
        run $WR_BIN/$cmd
        [ "$status" -eq 3 ] || { echo "$cmd: exit $status: $output"; false; }
        [[ "$output" == *"/c."*".wr: slot "*"format version $newer is newer than this build reads"* ]] ||
            { echo "$cmd: $output"; false; }
        diff -r "$TMP/orig" "$TMP/db" || { echo "$cmd changed the database"; false; }
    done
    # wr-salvage too (of the directory, and of the one file): not a loss
    # it would report (exit 1, "0 documents recovered"), and no DEST
    for src in "$TMP/db" "$TMP/db/c.main.wr"; do
        run "$WR_BIN/wr-salvage" "$src" "$TMP/out"
        [ "$status" -eq 3 ] || { echo "salvage $src: exit $status: $output"; false; }
        [[ "$output" == *"/c.main.wr: slot "*"format version $newer is newer than this build reads"* ]] ||
            { echo "salvage $src: $output"; false; }
        [ ! -e "$TMP/out" ]
        [ -z "$(ls -A "$TMP" | grep -v '^db$\|^db2$\|^orig$\|^in.jsonl$')" ]
        diff -r "$TMP/orig" "$TMP/db" || { echo "salvage $src changed the database"; false; }
    done
}

@test "every tool: a closed stdin, stdout or stderr stays closed: no file takes its number" {
    make_jsonl "$TMP/in.jsonl" 200
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    cp -a "$TMP/db" "$TMP/orig"
    # stdout closed: the reader's LOCK (opened read-write) would be fd 1 and
    # take the whole dump, exit 0; the write must fail as on a closed fd
    run bash -c '"$@" >&-' _ "$WR_BIN/wr-dump" --docs "$TMP/db"
    [ "$status" -eq 3 ] || { echo "exit $status: $output"; false; }
    [ "$output" = "wr-dump: writing the dump failed: Bad file descriptor" ]
    diff -r "$TMP/orig" "$TMP/db"
    # stdin closed: an error, not a load of whatever file took fd 0
    run bash -c '"$@" <&-' _ "$WR_BIN/wr-load" "$TMP/db" c -
    [ "$status" -eq 3 ] || { echo "exit $status: $output"; false; }
    [[ $output == *"<stdin>: read failed at byte 0: Bad file descriptor"* ]]
    diff -r "$TMP/orig" "$TMP/db"
    run bash -c '"$@" <&-' _ "$WR_BIN/wr-load" "$TMP/new" c -
    [ "$status" -eq 3 ]
    [ ! -e "$TMP/new" ]
    # stderr closed: the report still on stdout, nothing written elsewhere
    run bash -c '"$@" 2>&-' _ "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == *"db: database, catalog generation 1, 1 file: clean"* ]]
    diff -r "$TMP/orig" "$TMP/db"
    run bash -c '"$@" >&-' _ "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 3 ]
    [ "$output" = "wr-verify: writing the report failed: Bad file descriptor" ]
    # all three closed: a reader reports failure and changes nothing
    for cmd in "wr-verify $TMP/db" "wr-dump --docs $TMP/db" "wr-dump --tree $TMP/db/c.main.wr" \
        "wr-diff $TMP/db $TMP/orig"; do
        # shellcheck disable=SC2086
        run bash -c '"$@" <&- >&- 2>&-' _ $WR_BIN/$cmd
        [ "$status" -eq 3 ] || { echo "$cmd: exit $status"; false; }
        diff -r "$TMP/orig" "$TMP/db" || { echo "$cmd changed the database"; false; }
    done
}

# report_lost TOOL ARGS...: TOOL's summary sent to a full disk, then to a
# closed stdout: exit 3 with "writing the report failed: reason" each time
# (it is no clean bill), however the work itself went
report_lost() {
    local t=$1
    shift
    run -3 --separate-stderr sh -c '"$@" > /dev/full' _ "$WR_BIN/$t" "$@"
    [ "$stderr" = "$t: writing the report failed: No space left on device" ] ||
        { echo "$t > /dev/full: $stderr"; false; }
}

@test "writing tools: a summary that cannot be written exits 3 with the reason; the work is committed" {
    make_jsonl "$TMP/in.jsonl" 200
    make_jsonl "$TMP/more.jsonl" 50 200
    "$WR_BIN/wr-load" -q "$TMP/ref" c "$TMP/in.jsonl"
    # wr-load: the documents are in, the database clean
    report_lost wr-load "$TMP/db" c "$TMP/in.jsonl"
    "$WR_BIN/wr-verify" -q "$TMP/db"
    "$WR_BIN/wr-diff" -q "$TMP/db" "$TMP/ref"
    run -3 --separate-stderr sh -c '"$@" > /dev/full' _ "$WR_BIN/wr-load" --json "$TMP/db" c "$TMP/more.jsonl"
    [[ "$stderr" == "wr-load: writing the report failed: "* ]]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | wc -l)" -eq 250 ]
    run -3 --separate-stderr sh -c '"$@" >&-' _ "$WR_BIN/wr-load" "$TMP/db2" c "$TMP/in.jsonl"
    [ "$stderr" = "wr-load: writing the report failed: Bad file descriptor" ]
    "$WR_BIN/wr-diff" -q "$TMP/db2" "$TMP/ref"
    # wr-compact: compacted, the same documents
    "$WR_BIN/wr-load" -q "$TMP/db2" c "$TMP/more.jsonl"
    report_lost wr-compact "$TMP/db2"
    "$WR_BIN/wr-verify" -q "$TMP/db2"
    "$WR_BIN/wr-diff" -q "$TMP/db2" "$TMP/db"
    # wr-salvage: DEST made, whole
    report_lost wr-salvage "$TMP/db" "$TMP/out"
    "$WR_BIN/wr-diff" -q "$TMP/out" "$TMP/db"
    # wr-migrate: the legacy directory migrated
    mkdir "$TMP/legacy"
    cp "$TMP/in.jsonl" "$TMP/legacy/c.log"
    report_lost wr-migrate "$TMP/legacy"
    "$WR_BIN/wr-verify" -q "$TMP/legacy"
    "$WR_BIN/wr-diff" -q "$TMP/legacy" "$TMP/ref"
    # -q writes no summary: nothing to fail
    "$WR_BIN/wr-compact" -q "$TMP/db" > /dev/full
}

# gone_pipe WANT TOOL ARGS...: TOOL's report sent to a pipe whose reader
# has already gone (as with `TOOL ... | head -1` once head has its line,
# or `| true`): no SIGPIPE death (exit 141 on the old build), the job
# done or failed cleanly, then exit WANT with "writing the report failed:
# Broken pipe" last on stderr
gone_pipe() {
    local want=$1 t=$2
    shift 2
    run --separate-stderr python3 -c '
import os, subprocess, sys
r, w = os.pipe()
os.close(r)  # the reader has gone before the tool writes
rc = subprocess.call(sys.argv[1:], stdout=w)  # SIGPIPE as a shell leaves it
sys.exit(128 - rc if rc < 0 else rc)' "$WR_BIN/$t" "$@"
    [ "$status" -eq "$want" ] || { echo "$t $*: exit $status: $stderr"; false; }
    [ "$(tail -n 1 <<<"$stderr")" = "$t: writing the report failed: Broken pipe" ] ||
        { echo "$t $*: $stderr"; false; }
}

@test "writing tools: a report pipe whose reader has gone (| head -1, | true) is no SIGPIPE death: the job is done, then exit 3 'writing the report failed'" {
    make_jsonl "$TMP/in.jsonl" 200
    make_jsonl "$TMP/more.jsonl" 50 200
    "$WR_BIN/wr-load" -q "$TMP/ref" c "$TMP/in.jsonl"
    gone_pipe 3 wr-load "$TMP/db" c "$TMP/in.jsonl"
    "$WR_BIN/wr-diff" -q "$TMP/db" "$TMP/ref"
    # wr-compact: compacted (the updates leave space to give back)
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/more.jsonl"
    cp -a "$TMP/db" "$TMP/before"
    gone_pipe 3 wr-compact "$TMP/db"
    [ "$(stat -c %s "$TMP/db/c.main.wr")" -lt "$(stat -c %s "$TMP/before/c.main.wr")" ]
    "$WR_BIN/wr-verify" -q "$TMP/db"
    "$WR_BIN/wr-diff" -q "$TMP/db" "$TMP/before"
    gone_pipe 3 wr-compact --json "$TMP/db"
    # wr-salvage: DEST made, whole
    gone_pipe 3 wr-salvage "$TMP/db" "$TMP/out"
    "$WR_BIN/wr-diff" -q "$TMP/out" "$TMP/db"
    # wr-migrate: migrated, nothing of the run left behind
    mkdir "$TMP/legacy"
    cp "$TMP/in.jsonl" "$TMP/legacy/c.log"
    gone_pipe 3 wr-migrate "$TMP/legacy"
    "$WR_BIN/wr-verify" -q "$TMP/legacy"
    "$WR_BIN/wr-diff" -q "$TMP/legacy" "$TMP/ref"
    [ -z "$(ls "$TMP/legacy" | grep -E 'tmp|new' || true)" ]
    # a job that finds a data problem: exit 1 stays
    { head -n 5 "$TMP/in.jsonl"; echo 'not json'; } > "$TMP/bad.jsonl"
    mkdir "$TMP/legacy2"
    cp "$TMP/bad.jsonl" "$TMP/legacy2/c.log"
    gone_pipe 1 wr-migrate --json "$TMP/legacy2"
    [ ! -e "$TMP/legacy2/wr.catalog" ]
}

# found_lost REDIRECTION TOOL ARGS...: TOOL finds a data problem but its
# report is lost (stdout a full disk or closed): exit 1 still (a script
# reading only the code sees the damage), and its last line on stderr says
# the report was lost and why
found_lost() {
    local r=$1 t=$2 why="No space left on device"
    shift 2
    [ "$r" = ">&-" ] && why="Bad file descriptor"
    run -1 --separate-stderr sh -c "\"\$@\" $r" _ "$WR_BIN/$t" "$@"
    [ "$(tail -n 1 <<<"$stderr")" = "$t: writing the report failed: $why" ] ||
        { echo "$t $* $r: $stderr"; false; }
}

@test "every tool: damage found but its report lost to a full disk or closed stdout: exit 1 and the reason (a clean wr-dump --json: 3)" {
    make_jsonl "$TMP/in.jsonl" 300
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    cp -a "$TMP/db" "$TMP/good"
    DAMAGE flip "$TMP/db/c.main.wr" "$(DAMAGE page "$TMP/db/c.main.wr" leaf 1)" >/dev/null
    cp -a "$TMP/db" "$TMP/orig"
    make_jsonl "$TMP/many.jsonl" 2000 1000 # a diff longer than stdio's buffer
    cp -a "$TMP/good" "$TMP/more"
    "$WR_BIN/wr-load" -q "$TMP/more" c "$TMP/many.jsonl"
    { head -n 5 "$TMP/in.jsonl"; echo 'not json'; } > "$TMP/bad.jsonl"
    mkdir "$TMP/legacy"
    cp "$TMP/bad.jsonl" "$TMP/legacy/c.log"
    for r in "> /dev/full" ">&-"; do
        found_lost "$r" wr-verify "$TMP/db"
        found_lost "$r" wr-verify --json "$TMP/db"
        found_lost "$r" wr-dump --json --tree "$TMP/db/c.main.wr"
        found_lost "$r" wr-dump --json --stats "$TMP/db"
        found_lost "$r" wr-compact "$TMP/db"
        found_lost "$r" wr-salvage "$TMP/db" "$TMP/out"
        rm -rf "$TMP/out"
        found_lost "$r" wr-diff "$TMP/more" "$TMP/good"
        found_lost "$r" wr-diff --json "$TMP/more" "$TMP/good"
        found_lost "$r" wr-diff --count "$TMP/more" "$TMP/good"
        found_lost "$r" wr-load --json "$TMP/new" c "$TMP/bad.jsonl"
        found_lost "$r" wr-migrate --json "$TMP/legacy"
    done
    diff -r "$TMP/orig" "$TMP/db"
    [ ! -e "$TMP/new" ]
    # wr-dump --json of a clean file: its object lost is no clean bill
    run -3 --separate-stderr sh -c '"$@" > /dev/full' _ "$WR_BIN/wr-dump" --json --stats "$TMP/good"
    [ "$stderr" = "wr-dump: writing the report failed: No space left on device" ]
    run -3 --separate-stderr sh -c '"$@" >&-' _ "$WR_BIN/wr-dump" --json --tree "$TMP/good/c.main.wr"
    [ "$stderr" = "wr-dump: writing the report failed: Bad file descriptor" ]
}
