#!/usr/bin/env bats
# wr-load: JSONL into a collection, its options, bad input, exit codes.

load helpers
bats_require_minimum_version 1.5.0

@test "wr-load --help lists options and exit codes, exits 0" {
    run "$WR_BIN/wr-load" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--checkpoint-every"* ]]
    [[ "$output" == *"Exit status"* ]]
}

@test "wr-load --version names tool and format" {
    run "$WR_BIN/wr-load" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"wr-load"*"format 4"* ]]
}

@test "wr-load without arguments is a usage error (exit 2)" {
    run "$WR_BIN/wr-load"
    [ "$status" -eq 2 ]
    [[ "$output" == *"try"* || "$output" == *"Try"* ]]
}

@test "wr-load rejects a bad --page-size with exit 2" {
    run "$WR_BIN/wr-load" --page-size 1000 "$TMP/db" c /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"power of two"* ]]
}

@test "wr-load creates a database and reports counts" {
    make_jsonl "$TMP/in.jsonl" 500
    run "$WR_BIN/wr-load" "$TMP/db" people "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"500 lines, 500 inserted, 0 replaced"* ]]
    [ -f "$TMP/db/wr.catalog" ]
    [ -f "$TMP/db/people.main.wr" ]
}

@test "wr-load upserts and deletes; --json reports the counts" {
    make_jsonl "$TMP/a.jsonl" 100
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/a.jsonl"
    make_jsonl "$TMP/b.jsonl" 100 50
    printf '{"_id": 3, "$deleted": true}\n{"_id": 4000, "$deleted": true}\n' >> "$TMP/b.jsonl"
    run "$WR_BIN/wr-load" --json "$TMP/db" c "$TMP/b.jsonl"
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 50 ]
    [ "$(jq -r .replaced <<<"$output")" = 50 ]
    [ "$(jq -r .deleted <<<"$output")" = 1 ]
    [ "$(jq -r .missing_deletes <<<"$output")" = 1 ]
    [ "$(jq -r .status <<<"$output")" = ok ]
}

@test "wr-load reads standard input" {
    make_jsonl "$TMP/in.jsonl" 20
    run bash -c "'$WR_BIN/wr-load' --json '$TMP/db' c < '$TMP/in.jsonl'"
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 20 ]
}

@test "wr-load --index creates index files named in the catalog" {
    make_jsonl "$TMP/in.jsonl" 200
    run "$WR_BIN/wr-load" --index address.city --index tags "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [ -f "$TMP/db/c.idx.address.city.wr" ]
    [ -f "$TMP/db/c.idx.tags.wr" ]
}

@test "a malformed line stops wr-load with exit 1, line number, nothing committed" {
    make_jsonl "$TMP/a.jsonl" 10
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/a.jsonl"
    make_jsonl "$TMP/b.jsonl" 10 100
    printf '{"_id": 500, "x": NaN}\n' >> "$TMP/b.jsonl"
    make_jsonl "$TMP/c.jsonl" 5 600
    cat "$TMP/c.jsonl" >> "$TMP/b.jsonl"
    run_json "$WR_BIN/wr-load" --json "$TMP/db" c "$TMP/b.jsonl"
    [ "$status" -eq 1 ]
    [ "$(jq -r .first_bad_line <<<"$output")" = 11 ]
    [ "$(jq -r .status <<<"$output")" = error ]
    [ "$(jq -r .exit <<<"$output")" = 1 ]
    [ "$(jq -r .error.code <<<"$output")" = WR_EBADINPUT ]
    # what was committed: nothing (10 lines were applied, then refused)
    [ "$(jq -r .committed <<<"$output")" = false ]
    [ "$(jq -r '.inserted + .replaced + .deleted + .missing_deletes' <<<"$output")" = 0 ]
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/b.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"line 11"* ]]
    [[ "$output" == *"nothing of this run was committed (use --skip-bad or --max-bad N to skip bad lines)"* ]]
    # the database still holds exactly the first 10 documents
    run bash -c "'$WR_BIN/wr-dump' --docs --relaxed '$TMP/db' | jq -c ._id | tr '\n' ' '"
    [ "$status" -eq 0 ]
    [ "$output" = "0 1 2 3 4 5 6 7 8 9 " ]
}

@test "--checkpoint-every commits nothing when a later line is bad" {
    make_jsonl "$TMP/b.jsonl" 50
    printf '[1, 2]\n' >> "$TMP/b.jsonl"
    run "$WR_BIN/wr-load" --checkpoint-every 10 "$TMP/db" c "$TMP/b.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"line 51"* ]]
    # nothing was committed: the catalog does not exist yet
    [ ! -f "$TMP/db/wr.catalog" ]
}

@test "--json of a run that stops after committed checkpoints reports the generation they committed, not 0" {
    awk 'BEGIN { for (i = 0; i < 10; i++) printf "{\"_id\": %d}\n", i }' > "$TMP/in.jsonl"
    WR_IO_TRACE="$TMP/trace" "$WR_BIN/wr-load" -q --checkpoint-every 3 "$TMP/db0" c "$TMP/in.jsonl"
    # fail the first write after the third checkpoint's commit
    n=$(awk '$2 == "fsync-dir" && $3 ~ /wr.catalog$/ { if (++c == 3) print $1 + 1 }' "$TMP/trace")
    [ -n "$n" ]
    run bash -c "WR_IO_FAULT='fail=$n,err=EIO' '$WR_BIN/wr-load' --json --checkpoint-every 3 '$TMP/db' c '$TMP/in.jsonl' 2>/dev/null"
    [ "$status" -eq 3 ]
    [ "$(jq -r .committed <<<"$output")" = true ]
    [ "$(jq -r .checkpoints <<<"$output")" = 3 ]
    gen=$(jq -r .generation <<<"$output")
    [ "$gen" -ge 3 ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [[ "$output" == *"catalog generation $gen"* ]]
}

@test "--checkpoint-every: a document that cannot be stored (too long an _id or index key) is a bad line of the check pass: nothing of the run is committed" {
    make_jsonl "$TMP/base.jsonl" 50 1000
    "$WR_BIN/wr-load" -q --index v "$TMP/db" c "$TMP/base.jsonl"
    before=$(dir_sig "$TMP/db")
    long=$(head -c 3000 /dev/zero | tr '\0' k)
    awk 'BEGIN { for (i = 0; i < 10; i++) printf "{\"_id\": %d, \"v\": %d}\n", i, i }' > "$TMP/head.jsonl"
    awk 'BEGIN { for (i = 10; i < 20; i++) printf "{\"_id\": %d, \"v\": %d}\n", i, i }' > "$TMP/tail.jsonl"
    { cat "$TMP/head.jsonl"; printf '{"_id": "%s"}\n' "$long"; cat "$TMP/tail.jsonl"; } > "$TMP/longid.jsonl"
    { cat "$TMP/head.jsonl"; printf '{"_id": 99, "v": "%s"}\n' "$long"; cat "$TMP/tail.jsonl"; } > "$TMP/longkey.jsonl"
    run "$WR_BIN/wr-load" --checkpoint-every 3 "$TMP/db" c "$TMP/longid.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$TMP/longid.jsonl: line 11 (byte "*"): _id of 3012 bytes is longer than"* ]]
    [[ "$output" == *"nothing of this run was committed"* ]]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run "$WR_BIN/wr-load" --checkpoint-every 3 "$TMP/db" c "$TMP/longkey.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$TMP/longkey.jsonl: line 11 (byte "*'): index on "v": key of'* ]]
    [[ "$output" == *"nothing of this run was committed"* ]]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    # a new collection and its index: the same, DIR keeps nothing of it
    run "$WR_BIN/wr-load" --checkpoint-every 3 --index v "$TMP/new" c "$TMP/longkey.jsonl"
    [ "$status" -eq 1 ]
    [ ! -e "$TMP/new" ]
    # counted against --max-bad in the check pass, skipped in the load
    run "$WR_BIN/wr-load" --json --checkpoint-every 3 --max-bad 1 "$TMP/db" c "$TMP/longkey.jsonl"
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 20 ]
    [ "$(jq -r .line "$TMP/db/c.rejects.jsonl")" = 11 ]
    { cat "$TMP/longid.jsonl"; printf '{"_id": "%sx"}\n' "$long"; } > "$TMP/two.jsonl"
    before=$(dir_sig "$TMP/db")
    run "$WR_BIN/wr-load" --checkpoint-every 3 --max-bad 1 "$TMP/db" c "$TMP/two.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"more than 1 bad line (--max-bad)"*"line 22"* ]]
    [[ "$output" == *"nothing of this run was committed"* ]]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
}

@test "--skip-bad skips and counts malformed lines" {
    {
        echo '{"_id": 1, "a": 1}'
        echo '{"_id": 2, "a": 2} {"_id": 3}'
        echo 'not json'
        echo '{"a": "no id"}'
        echo '{"_id": {"$oid": "zzzzzzzzzzzzzzzzzzzzzzzz"}}'
        echo '{"_id": 4, "d": {"$numberDecimal": "1.2.3"}}'
        echo '{"_id": 5, "a": 5}'
    } > "$TMP/in.jsonl"
    run "$WR_BIN/wr-load" --skip-bad --json "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 2 ]
    [ "$(jq -r .bad_lines <<<"$output")" = 5 ]
}

@test "a run --max-bad refuses leaves no rejects file it made (a new DIR goes whole), never removes one that was there; a --rejects file that cannot be opened is named with its reason, not the bad line's" {
    printf '{"_id": 1}\nnot json\n{"_id": 3}\n{"a": 1}\n' > "$TMP/bad.jsonl"
    run "$WR_BIN/wr-load" --max-bad 1 "$TMP/new" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"more than 1 bad line (--max-bad)"* ]]
    [ ! -e "$TMP/new" ]
    make_jsonl "$TMP/in.jsonl" 20
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    before=$(dir_sig "$TMP/db")
    run "$WR_BIN/wr-load" --max-bad 1 "$TMP/db" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run "$WR_BIN/wr-load" --max-bad 1 --rejects "$TMP/r.jsonl" "$TMP/db" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ ! -e "$TMP/r.jsonl" ]
    # a file that was there before (or a device) is never removed: only
    # one this run created
    "$WR_BIN/wr-load" -q --skip-bad --rejects "$TMP/mine.jsonl" "$TMP/other" c "$TMP/bad.jsonl"
    printf '{ "file" : "old", "line" : 99 }\n' > "$TMP/mine.jsonl"
    run "$WR_BIN/wr-load" --max-bad 1 --rejects "$TMP/mine.jsonl" "$TMP/db" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ -f "$TMP/mine.jsonl" ]
    [ "$(jq -r .line "$TMP/mine.jsonl" | head -n1)" = 2 ]
    ln -s /dev/null "$TMP/null-link"
    run "$WR_BIN/wr-load" --max-bad 1 --rejects "$TMP/null-link" "$TMP/db" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ -L "$TMP/null-link" ] && [ -c /dev/null ]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    # the rejects file's own error
    run "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/no/such/dir/r.jsonl" "$TMP/l3" c "$TMP/bad.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"cannot open the rejects file"*"$TMP/no/such/dir/r.jsonl: no such file or directory"* ]]
    [[ "$output" != *"must be a JSON object"* ]]
    [ ! -e "$TMP/l3" ]
    run_json "$WR_BIN/wr-load" --json --skip-bad --rejects "$TMP/no/such/dir/r.jsonl" "$TMP/l3" c "$TMP/bad.jsonl"
    [ "$status" -eq 3 ]
    [[ "$(jq -r .error.message <<<"$output")" == "cannot open the rejects file"* ]]
    # a run that commits keeps it
    "$WR_BIN/wr-load" -q --skip-bad "$TMP/db" c "$TMP/bad.jsonl"
    [ "$(wc -l < "$TMP/db/c.rejects.jsonl")" -eq 2 ]
}

@test "--rejects is never the input nor a file of the database, and never empties a file that is not a rejects file: refused (exit 2), nothing written" {
    make_jsonl "$TMP/rest.jsonl" 2000 1
    { echo '{"_id": 0}'; echo 'not json'; cat "$TMP/rest.jsonl"; } > "$TMP/in.jsonl"
    cp "$TMP/in.jsonl" "$TMP/orig"
    make_jsonl "$TMP/people.jsonl" 300
    "$WR_BIN/wr-load" -q "$TMP/db" people "$TMP/people.jsonl"
    cp -a "$TMP/db" "$TMP/db.orig"
    ln -s in.jsonl "$TMP/link"
    echo 'my notes' > "$TMP/notes.txt"
    for r in "$TMP/in.jsonl" "$TMP/link" "$TMP/db/people.main.wr" "$TMP/db/wr.catalog" "$TMP/db/LOCK" "$TMP/db/other.jsonl" "$TMP/notes.txt" "$TMP"; do
        run "$WR_BIN/wr-load" --skip-bad --rejects "$r" "$TMP/db" c "$TMP/in.jsonl"
        echo "$r: $output"
        [ "$status" -eq 2 ]
        [[ "$output" == *"--rejects $r: "*"nothing was written"* ]]
        cmp "$TMP/in.jsonl" "$TMP/orig"
        diff -r "$TMP/db" "$TMP/db.orig"
    done
    [ "$(cat "$TMP/notes.txt")" = "my notes" ]
    run "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/in.jsonl" "$TMP/db" c "$TMP/in.jsonl"
    [[ "$output" == *"that is the input $TMP/in.jsonl"* ]]
    run "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/db/people.main.wr" "$TMP/db" c "$TMP/in.jsonl"
    [[ "$output" == *"inside the database directory $TMP/db"* ]]
    run "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/notes.txt" "$TMP/db" c "$TMP/in.jsonl"
    [[ "$output" == *"exists and is not a rejects file"* ]]
    # standard input redirected from the file is the input too
    run bash -c "'$WR_BIN/wr-load' --skip-bad --rejects '$TMP/in.jsonl' '$TMP/db' c - < '$TMP/in.jsonl'"
    [ "$status" -eq 2 ]
    [[ "$output" == *"that is the input (standard input)"* ]]
    cmp "$TMP/in.jsonl" "$TMP/orig"
    # a rejects file (named so inside DIR, or a run's earlier one, or an
    # empty file) is written; the whole input is loaded
    run "$WR_BIN/wr-load" --json --skip-bad --rejects "$TMP/db/c.bad.rejects.jsonl" "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 2001 ]
    [ "$(jq -r .line "$TMP/db/c.bad.rejects.jsonl")" = 2 ]
    : > "$TMP/empty"
    for r in "$TMP/db/c.bad.rejects.jsonl" "$TMP/empty"; do
        run "$WR_BIN/wr-load" -q --skip-bad --rejects "$r" "$TMP/db" d "$TMP/in.jsonl"
        [ "$status" -eq 0 ]
        [ "$(wc -l < "$r")" -eq 1 ]
        [ "$(jq -r .line "$r")" = 2 ]
    done
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs --collection people "$TMP/db" | wc -l)" -eq 300 ]
}

@test "--rejects to /dev/null, a pipe or a FIFO: written in order, never fsynced; the committed run exits 0" {
    printf '{"_id": 1}\nnot json\n{"_id": 2}\n' > "$TMP/bad.jsonl"
    run bash -c "'$WR_BIN/wr-load' --json --skip-bad --rejects /dev/null '$TMP/db' c '$TMP/bad.jsonl' 2>'$TMP/err'"
    [ "$status" -eq 0 ]
    [ ! -s "$TMP/err" ]
    [ "$(jq -r .status <<<"$output")" = ok ]
    [ "$(jq -r .inserted <<<"$output")" = 2 ]
    [ -c /dev/null ]
    run bash -c "'$WR_BIN/wr-load' -q --skip-bad --rejects >(cat > '$TMP/r.out') '$TMP/db2' c '$TMP/bad.jsonl'; rc=\$?; wait; exit \$rc"
    [ "$status" -eq 0 ]
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$TMP/r.out" ] && break; sleep 0.2; done
    [ "$(jq -r .line "$TMP/r.out")" = 2 ]
    mkfifo "$TMP/fifo"
    cat "$TMP/fifo" > "$TMP/f.out" &
    run "$WR_BIN/wr-load" -q --skip-bad --rejects "$TMP/fifo" "$TMP/db3" c "$TMP/bad.jsonl"
    : <> "$TMP/fifo" # cat ends even if nothing opened the FIFO
    wait
    [ "$status" -eq 0 ]
    [ "$(jq -r .text "$TMP/f.out")" = "not json" ]
    [ -p "$TMP/fifo" ]
}

@test "--rejects to a FIFO whose reader goes away: exit 3 naming it, saying what was committed; never a hang nor a SIGPIPE death" {
    # 3000 bad lines: their rejects are far more than a pipe holds, so
    # wr-load writes on after the reader has read one line and gone
    awk 'BEGIN { for (i = 1; i <= 3000; i++)
        printf "{\"_id\": %d}\nnot json, bad line %d\n", i, i }' > "$TMP/mix.jsonl"
    mkfifo "$TMP/fifo"
    head -n 1 "$TMP/fifo" > "$TMP/first" &
    # KILL: the old build held the FIFO open read-write, a reader of its
    # own, and blocked for ever in write (SIGTERM, caught, did not end it)
    run timeout -s KILL 60 "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/fifo" "$TMP/db" c "$TMP/mix.jsonl"
    wait
    [ "$status" -eq 3 ]
    [[ "$output" == *"cannot write the rejects file for the skipped lines (--rejects): $TMP/fifo: write of "*"Broken pipe"* ]]
    [ "${lines[-1]}" = "wr-load: nothing of this run was committed" ]
    [ ! -e "$TMP/db" ] # the DIR it created goes with the run
    [ "$(jq -r .line "$TMP/first")" = 2 ]
    # with --checkpoint-every: the checkpoints committed before it stopped;
    # the reader takes 100 lines, so docs 1-100 are in, 10 checkpoints
    head -n 100 "$TMP/fifo" > "$TMP/first" &
    run timeout -s KILL 60 "$WR_BIN/wr-load" --skip-bad --checkpoint-every 10 --rejects "$TMP/fifo" "$TMP/db" c "$TMP/mix.jsonl"
    wait
    [ "$status" -eq 3 ]
    [ "$(wc -l < "$TMP/first")" -eq 100 ]
    [[ "$output" == *"(--rejects): $TMP/fifo: write of "*"Broken pipe"* ]]
    [[ "${lines[-1]}" =~ ^wr-load:\ ([0-9]+)\ checkpoints\ of\ this\ run\ were\ committed\ before\ it\ stopped$ ]]
    [ "${BASH_REMATCH[1]}" -ge 10 ]
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ -p "$TMP/fifo" ]
}

@test "--rejects to a FIFO nobody reads: wr-load waits for a reader at the first bad line; SIGTERM ends the wait (exit 3, interrupted, nothing left)" {
    printf '{"_id": 1}\nnot json\n{"_id": 2}\n' > "$TMP/in.jsonl"
    mkfifo "$TMP/fifo"
    # timeout passes the TERM on to wr-load; KILL only if it hangs (the
    # old build retried the interrupted open for ever)
    timeout -s KILL 20 "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/fifo" "$TMP/db" c "$TMP/in.jsonl" 2>"$TMP/err" &
    local pid=$! st=0
    sleep 0.5
    kill -TERM "$pid"
    wait "$pid" || st=$?
    [ "$st" -eq 3 ] || { cat "$TMP/err"; false; }
    grep -qF "cannot open the rejects file for the skipped lines (--rejects): $TMP/fifo: interrupted while opening it" "$TMP/err"
    [ "$(tail -n 1 "$TMP/err")" = "wr-load: nothing of this run was committed" ]
    [ ! -e "$TMP/db" ]
    [ -p "$TMP/fifo" ]
}

@test "--rejects to a FIFO whose reader reads nothing: SIGTERM ends the blocked write (exit 3, interrupted, nothing left)" {
    # 3000 rejects: far more than a pipe holds, so the write blocks
    awk 'BEGIN { for (i = 1; i <= 3000; i++)
        printf "{\"_id\": %d}\nnot json, bad line %d\n", i, i }' > "$TMP/mix.jsonl"
    mkfifo "$TMP/fifo"
    sleep 30 < "$TMP/fifo" & # opens it, reads nothing
    local rd=$!
    # KILL only if it hangs (the old build retried the interrupted write
    # for ever)
    timeout -s KILL 20 "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/fifo" "$TMP/db" c "$TMP/mix.jsonl" 2>"$TMP/err" &
    local pid=$! st=0
    sleep 1
    kill -TERM "$pid"
    wait "$pid" || st=$?
    kill "$rd"; wait "$rd" || true
    [ "$st" -eq 3 ] || { cat "$TMP/err"; false; }
    grep -qF "cannot write the rejects file for the skipped lines (--rejects): $TMP/fifo: interrupted while writing" "$TMP/err"
    [ "$(tail -n 1 "$TMP/err")" = "wr-load: nothing of this run was committed" ]
    [ ! -e "$TMP/db" ]
}

# under_timeout PID: the process that `timeout ... CMD &` (pid PID) runs
under_timeout() {
    local c
    c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1
    c=${c%% *}
    [ -n "$c" ] && echo "$c"
}

# waits_in PID WHAT: wait (up to 20 s) until PID's main thread sleeps in
# the kernel function WHAT (its wait channel: pipe_read, a pipe's read
# waiting for input; wait_for_partner, a FIFO's open waiting for its
# other end), so a signal sent next meets that wait, not a step before it
waits_in() {
    local i
    for i in $(seq 200); do
        [[ "$(cat "/proc/$1/wchan" 2>/dev/null)" == *"$2"* ]] && return 0
        sleep 0.1
    done
    echo "pid $1 never waited in $2 (wchan: $(cat "/proc/$1/wchan"))"
    return 1
}

# stalled_load FED WAIT IN ARGS...: wr-load ARGS, its standard input IN
# (under a 20 s KILL timeout: the old build retried an interrupted read
# for ever); $TMP/fifo is made new, and unless FED is "" a writer writes
# the file FED into it and then nothing, holding it open. Once wr-load
# waits in WAIT, SIGTERM. Its exit status in $st, its stderr in $TMP/err.
stalled_load() {
    local fed=$1 wchan=$2 in=$3 tpid pid="" w=""
    shift 3
    rm -f "$TMP/fifo" "$TMP/fed"
    mkfifo "$TMP/fifo"
    if [ -n "$fed" ]; then
        { cat "$fed"; : > "$TMP/fed"; exec sleep 60; } > "$TMP/fifo" &
        w=$!
    fi
    timeout -s KILL 20 "$WR_BIN/wr-load" "$@" < "$in" 2> "$TMP/err" &
    tpid=$!
    # FED is all in the pipe: a read that waits has taken all of it
    while [ -n "$fed" ] && [ ! -e "$TMP/fed" ]; do sleep 0.1; done
    for _ in $(seq 100); do
        pid=$(under_timeout "$tpid") && [ -n "$pid" ] && break
        sleep 0.1
    done
    waits_in "$pid" "$wchan" || { kill -KILL "$tpid"; false; }
    kill -TERM "$tpid" # timeout passes it on
    st=0
    wait "$tpid" || st=$?
    [ -z "$w" ] || { kill "$w"; wait "$w" || true; }
}

@test "standard input that stalls: SIGTERM ends the wait for input (exit 3 naming it; what a checkpoint committed stays, and is said)" {
    printf '{"_id": 1}\n{"_id": 2}\n{"_id": 3}\n' > "$TMP/three.jsonl"
    # read as it comes (--skip-bad: no check pass, no copy), a checkpoint
    # a line: the three are committed before the wait
    stalled_load "$TMP/three.jsonl" pipe_read "$TMP/fifo" --skip-bad --checkpoint-every 1 "$TMP/db" c -
    [ "$st" -eq 3 ] || { cat "$TMP/err"; false; }
    grep -qxF "wr-load: <stdin>: interrupted while reading it (waiting for input)" "$TMP/err"
    [ "$(tail -n 1 "$TMP/err")" = "wr-load: 3 checkpoints of this run were committed before it stopped" ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | wc -l)" -eq 3 ]
    "$WR_BIN/wr-verify" -q "$TMP/db"
    # copied first (--checkpoint-every with a check pass): nothing committed
    stalled_load "$TMP/three.jsonl" pipe_read "$TMP/fifo" --checkpoint-every 2 "$TMP/db2" c -
    [ "$st" -eq 3 ] || { cat "$TMP/err"; false; }
    grep -qxF "wr-load: <stdin>: interrupted while reading it (waiting for input)" "$TMP/err"
    [ "$(tail -n 1 "$TMP/err")" = "wr-load: nothing of this run was committed" ]
    [ ! -e "$TMP/db2" ] # the DIR it created goes with the run, its copy too
}

@test "a FIFO input that stalls (--format json-array) or has no writer: SIGTERM ends the wait (exit 3 naming it, nothing committed)" {
    stalled_load /dev/null pipe_read /dev/null --format json-array "$TMP/db" c "$TMP/fifo"
    [ "$st" -eq 3 ] || { cat "$TMP/err"; false; }
    grep -qxF "wr-load: $TMP/fifo: interrupted while reading it (waiting for input)" "$TMP/err"
    [ "$(tail -n 1 "$TMP/err")" = "wr-load: nothing of this run was committed" ]
    [ ! -e "$TMP/db" ]
    # nobody opens it to write: wr-load waits in the open, before DIR
    stalled_load "" wait_for_partner /dev/null "$TMP/db" c "$TMP/fifo"
    [ "$st" -eq 3 ] || { cat "$TMP/err"; false; }
    grep -qxF "wr-load: $TMP/fifo: interrupted while opening it (waiting for the other end of a pipe)" "$TMP/err"
    [ "$(tail -n 1 "$TMP/err")" = "wr-load: nothing of this run was committed" ]
    [ ! -e "$TMP/db" ]
}

@test "--checkpoint-every N checkpoints as it goes" {
    make_jsonl "$TMP/in.jsonl" 100
    run "$WR_BIN/wr-load" --json --checkpoint-every 25 "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [ "$(jq -r .checkpoints <<<"$output")" -ge 4 ]
}

@test "--checkpoint-every: the check pass shows its progress as \"checking FILE\"; a count of 1 is singular (review4 #16)" {
    make_jsonl "$TMP/in.jsonl" 100
    # not a terminal: --progress prints plain lines, the first at once
    run --separate-stderr "$WR_BIN/wr-load" --progress --checkpoint-every 25 "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    size=$(stat -c %s "$TMP/in.jsonl")
    [[ "$stderr" == "wr-load: checking in.jsonl: 0 of $size bytes (0%)"* ]]
    printf '\n' > "$TMP/one-byte.jsonl"
    run --separate-stderr "$WR_BIN/wr-load" --progress --checkpoint-every 25 "$TMP/db2" c "$TMP/one-byte.jsonl"
    [ "$status" -eq 0 ]
    [ "$stderr" = "wr-load: checking one-byte.jsonl: 0 of 1 byte (0%)" ]
}

@test "--checkpoint-every from a pipe that is not - (a FIFO, <(...), /dev/stdin) loads every document: it is copied first, as standard input is" {
    make_jsonl "$TMP/in.jsonl" 3000
    mkfifo "$TMP/fifo"
    cat "$TMP/in.jsonl" > "$TMP/fifo" &
    run "$WR_BIN/wr-load" --json --checkpoint-every 1000 "$TMP/db1" c "$TMP/fifo"
    wait
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 3000 ]
    run bash -c "'$WR_BIN/wr-load' --json --max-bad 3 --checkpoint-every 700 '$TMP/db2' c <(cat '$TMP/in.jsonl')"
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 3000 ]
    run bash -c "cat '$TMP/in.jsonl' | '$WR_BIN/wr-load' --json --checkpoint-every 500 '$TMP/db3' c /dev/stdin"
    [ "$status" -eq 0 ]
    [ "$(jq -r .inserted <<<"$output")" = 3000 ]
    jq -sc '[.[]._id]' "$TMP/in.jsonl" > "$TMP/arr.json"
    run bash -c "'$WR_BIN/wr-load' -q --format json-array --checkpoint-every 500 '$TMP/db4' c <(jq -c '[.[] | {_id: .}]' '$TMP/arr.json')"
    [ "$status" -eq 0 ]
    for d in db1 db2 db3 db4; do
        [ "$("$WR_BIN/wr-dump" --docs "$TMP/$d" | wc -l)" -eq 3000 ]
        [ ! -e "$TMP/$d/wr-load.stdin.tmp" ]
    done
    # a bad line in a pipe still commits nothing, and names the pipe
    printf '{"_id": 1}\nbad\n{"_id": 2}\n' > "$TMP/bad.jsonl"
    run bash -c "'$WR_BIN/wr-load' --checkpoint-every 1 '$TMP/db5' c <(cat '$TMP/bad.jsonl')"
    [ "$status" -eq 1 ]
    [[ "$output" == *"/dev/fd/"*": line 2 (byte 11): "* ]]
    [[ "$output" == *"nothing of this run was committed"* ]]
    [ ! -e "$TMP/db5" ]
}

@test "standard input with --checkpoint-every is named <stdin> in messages and - in the rejects file, never by its copy" {
    printf '{"_id": 1}\nbad\n{"_id": 2}\n' > "$TMP/bad.jsonl"
    run bash -c "'$WR_BIN/wr-load' --checkpoint-every 1 '$TMP/db' c - < '$TMP/bad.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"wr-load: <stdin>: line 2 (byte 11): "* ]]
    [[ "$output" != *"stdin.tmp"* ]]
    run bash -c "cat '$TMP/bad.jsonl' | '$WR_BIN/wr-load' -q --checkpoint-every 1 --max-bad 5 '$TMP/db' c -"
    [ "$status" -eq 0 ]
    [ "$(jq -r .file "$TMP/db/c.rejects.jsonl")" = - ]
    # the same without --checkpoint-every
    run bash -c "cat '$TMP/bad.jsonl' | '$WR_BIN/wr-load' -q --max-bad 5 --rejects '$TMP/r2.jsonl' '$TMP/db2' c -"
    [ "$status" -eq 0 ]
    [ "$(jq -r .file "$TMP/r2.jsonl")" = - ]
    # a document that cannot be stored is named so too
    { echo '{"_id": 1}'; printf '{"_id": "%s"}\n' "$(head -c 3000 /dev/zero | tr '\0' k)"; } > "$TMP/long.jsonl"
    run bash -c "'$WR_BIN/wr-load' --checkpoint-every 1 '$TMP/db3' c - < '$TMP/long.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"wr-load: <stdin>: line 2 (byte 11): _id of"* ]]
}

@test "--memory wants a size of at least 1M (exit 2, one message for load, migrate, diff)" {
    for t in wr-load wr-migrate wr-diff; do
        run "$WR_BIN/$t" --memory 100K "$TMP/a" b
        [ "$status" -eq 2 ]
        [[ "$output" == *"--memory wants a size of at least 1M (like 64M or 2G), not '100K'"* ]]
    done
}

@test "--memory bounds wr-load's peak RSS whatever the input's size; the result is the same" {
    # 80,000 documents in a scrambled _id order (every insert lands on a
    # random page): the trees grow past 40 MB, the budget is 4 MB
    awk -v n=80000 'BEGIN { for (i = 0; i < n; i++) printf "{\"_id\": %d, \"name\": \"user%d\", \"city\": \"c%d\", \"pad\": \"%0150d\"}\n", (i * 7919) % n, i, i % 97, i }' >"$TMP/big.jsonl"
    head -n 1000 "$TMP/big.jsonl" >"$TMP/small.jsonl"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0"
    peak_rss_kb "$TMP/base" "$WR_BIN/wr-load" -q "$TMP/small" c "$TMP/small.jsonl"
    peak_rss_kb "$TMP/bounded" "$WR_BIN/wr-load" -q --memory 4M --index city "$TMP/db4" c "$TMP/big.jsonl"
    peak_rss_kb "$TMP/free" "$WR_BIN/wr-load" -q --memory 1G --index city "$TMP/db1g" c "$TMP/big.jsonl"
    base=$(cat "$TMP/base") bounded=$(cat "$TMP/bounded") free=$(cat "$TMP/free")
    echo "peak RSS KiB: $base for 1,000 documents; 80,000: $bounded with --memory 4M, $free with 1G"
    # the bound: 4 MB of pages and write buffers (the trees' gathered
    # write runs count in the budget: test_db_budget_counts_write_buffers
    # checks it to the byte), twice over for allocator and sanitizer
    # overhead, plus the 1,000-document run's baseline
    [ "$bounded" -lt $((base + 16 * 1024)) ]
    # and without it the same load goes far past that bound
    [ "$free" -gt $((base + 32 * 1024)) ]
    run "$WR_BIN/wr-diff" "$TMP/db4" "$TMP/db1g"
    [ "$status" -eq 0 ]
    [[ "$output" == *"identical: 80000 documents"* ]]
    run "$WR_BIN/wr-verify" -q "$TMP/db4"
    [ "$status" -eq 0 ]
}

@test "a second writer on the same directory is refused with exit 3" {
    make_jsonl "$TMP/in.jsonl" 10
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    # hold the lock with flock(1) on the LOCK file
    flock "$TMP/db/LOCK" sleep 5 &
    sleep 0.5
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/in.jsonl"
    kill %1 2>/dev/null || true
    [ "$status" -eq 3 ]
    [[ "$output" == *"locked"* ]]
}

@test "an unreadable input file is exit 3 naming it" {
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/missing.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"missing.jsonl"* ]]
    # one that would be copied first (not a regular file) is opened before
    # DIR is touched too: a socket cannot be opened
    python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$TMP/sock"
    for opt in --skip-bad --checkpoint-every=2; do
        run "$WR_BIN/wr-load" "$opt" "$TMP/db" c "$TMP/sock"
        [ "$status" -eq 3 ]
        [[ "$output" == *"$TMP/sock: "*"No such device or address"* ]]
        [ ! -e "$TMP/db" ]
    done
}

# names and checksums of every file under DIR
dir_sig() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum)
}

@test "a refused or failed wr-load leaves no new files" {
    # a missing input: the directory is not even created
    run "$WR_BIN/wr-load" "$TMP/new" c "$TMP/missing.jsonl"
    [ "$status" -eq 3 ]
    [ ! -e "$TMP/new" ]
    # a bad line into a new database: nothing, not the directory either
    printf '{"_id": 1}\n{bad\n' > "$TMP/bad.jsonl"
    run "$WR_BIN/wr-load" --index name "$TMP/new" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ ! -e "$TMP/new" ]
    run bash -c "'$WR_BIN/wr-load' --checkpoint-every 1 '$TMP/new' c - < '$TMP/bad.jsonl'"
    [ "$status" -eq 1 ]
    [ ! -e "$TMP/new" ]
    # on an existing database: no LOCK, no file of a new collection or
    # index, no spooled input; the database as it was
    make_jsonl "$TMP/in.jsonl" 20
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    [ ! -e "$TMP/db/LOCK" ]
    before=$(dir_sig "$TMP/db")
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/missing.jsonl"
    [ "$status" -eq 3 ]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run "$WR_BIN/wr-load" --index name --index age "$TMP/db" newcoll "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run "$WR_BIN/wr-load" --index name "$TMP/db" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run bash -c "'$WR_BIN/wr-load' --checkpoint-every 1 --index age '$TMP/db' other - < '$TMP/bad.jsonl'"
    [ "$status" -eq 1 ]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "a crashed wr-load --index leaves an index file no catalog names: never committed, it is a note to wr-verify (exit 0) and the next writer removes it; once its checkpoint is in it, an orphan (exit 1, no salvage) that no writer removes or replaces" {
    make_jsonl "$TMP/in.jsonl" 100
    "$WR_BIN/wr-load" -q "$TMP/base" c "$TMP/in.jsonl"
    cp -a "$TMP/base" "$TMP/ref"
    WR_IO_TRACE="$TMP/trace" "$WR_BIN/wr-load" -q --index age "$TMP/ref" c "$TMP/in.jsonl"
    local idx="c.idx.age.wr" create slot cat
    create=$(grep -n " create .*/$idx\$" "$TMP/trace" | head -1 | cut -d: -f1)
    cat=$(grep -n " create .*/wr.catalog.tmp\$" "$TMP/trace" | head -1 | cut -d: -f1)
    slot=$(head -n "$cat" "$TMP/trace" | grep -n " pwrite .*/$idx\$" | tail -1 | cut -d: -f1)
    [ "$create" -gt 0 ] && [ "$slot" -gt "$create" ] && [ "$cat" -gt "$slot" ]
    docs=$("$WR_BIN/wr-dump" --docs "$TMP/base")
    # before the index's first checkpoint: only generation 1 (or nothing)
    for n in $((create + 1)) $((create + 3)) "$slot"; do
        rm -rf "$TMP/db"
        cp -a "$TMP/base" "$TMP/db"
        run env WR_IO_FAULT="crash=$n" "$WR_BIN/wr-load" -q --index age "$TMP/db" c "$TMP/in.jsonl"
        [ "$status" -ne 0 ]
        [ -e "$TMP/db/$idx" ]
        run "$WR_BIN/wr-verify" "$TMP/db"
        [ "$status" -eq 0 ]
        [[ "$output" == *"$TMP/db/$idx: debris of a run that stopped before it committed this file"* ]]
        [[ "$output" != *"wr-salvage"* ]]
        run_json "$WR_BIN/wr-verify" --json "$TMP/db"
        [ "$(jq -r '.paths[0].debris[0]' <<<"$output")" = "$TMP/db/$idx" ]
        [ "$("$WR_BIN/wr-dump" --docs "$TMP/db")" = "$docs" ]
        # any writer removes it: wr-load without --index, wr-compact
        cp -a "$TMP/db" "$TMP/db2"
        "$WR_BIN/wr-load" -q "$TMP/db" c /dev/null
        [ ! -e "$TMP/db/$idx" ]
        "$WR_BIN/wr-compact" -q "$TMP/db2"
        [ ! -e "$TMP/db2/$idx" ]
        rm -rf "$TMP/db2"
        run "$WR_BIN/wr-verify" "$TMP/db"
        [ "$status" -eq 0 ]
        [[ "$output" != *"debris"* ]]
    done
    # after it: the file holds a checkpoint; it may be someone's data
    rm -rf "$TMP/db"
    cp -a "$TMP/base" "$TMP/db"
    run env WR_IO_FAULT="crash=$cat" "$WR_BIN/wr-load" -q --index age "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -ne 0 ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$TMP/db/$idx: page 0: byte 0: orphan: "*"move it away"* ]]
    [[ "$output" != *"wr-salvage"* ]]
    run_json "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$(jq -r '.paths[0].salvage_command' <<<"$output")" = null ]
    sum=$(md5sum < "$TMP/db/$idx")
    "$WR_BIN/wr-load" -q "$TMP/db" c /dev/null
    run "$WR_BIN/wr-load" --index age "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"$idx: a file the catalog does not name is in the way"*"not replaced"* ]]
    [ "$(md5sum < "$TMP/db/$idx")" = "$sum" ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db")" = "$docs" ]
}

@test "a tree file whose catalog is lost is never replaced by a new one: wr-load refuses (exit 1: the catalog is lost, damage), the documents stay for wr-salvage" {
    make_jsonl "$TMP/in.jsonl" 50
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    rm "$TMP/db/wr.catalog"
    sum=$(md5sum < "$TMP/db/c.main.wr")
    printf '{"_id": "new"}\n' > "$TMP/one.jsonl"
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/one.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"wr.catalog: missing, in a directory holding 1 tree file no interrupted run left (c.main.wr): the database's catalog is lost"*"wr-salvage"* ]]
    [ "$(md5sum < "$TMP/db/c.main.wr")" = "$sum" ]
    [ ! -e "$TMP/db/wr.catalog" ]
    run "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/s"
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/s" | wc -l)" -eq 50 ]
}

@test "a failure after the catalog's rename (its directory's fsync) is said as committed: the run's documents are in, its rejects file kept" {
    make_jsonl "$TMP/a.jsonl" 5
    printf 'not json\n' >> "$TMP/a.jsonl"
    WR_IO_TRACE="$TMP/trace" "$WR_BIN/wr-load" -q --skip-bad "$TMP/db0" c "$TMP/a.jsonl"
    n=$(awk '$2 == "fsync-dir" && $3 ~ /wr[.]catalog$/ { print $1 }' "$TMP/trace" | tail -n 1)
    [ -n "$n" ]
    run env WR_IO_FAULT="fail=$n,err=EIO" "$WR_BIN/wr-load" --skip-bad "$TMP/db" c "$TMP/a.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"fsync-dir failed"* ]]
    [ "${lines[-1]}" = "wr-load: 1 checkpoint of this run was committed before it stopped" ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | wc -l)" -eq 5 ]
    [ "$(wc -l < "$TMP/db/c.rejects.jsonl")" -eq 1 ]
}

@test "a full disk during wr-load leaves every file at its committed size" {
    make_jsonl "$TMP/a.jsonl" 50
    "$WR_BIN/wr-load" -q --index age "$TMP/db" c "$TMP/a.jsonl"
    make_jsonl "$TMP/b.jsonl" 3000 50
    cp -a "$TMP/db" "$TMP/base"
    cp -a "$TMP/db" "$TMP/db2"
    WR_IO_TRACE="$TMP/trace" "$WR_BIN/wr-load" -q "$TMP/db2" c "$TMP/b.jsonl"
    sizes() { stat -c '%n %s' "$1"/*.wr | sed "s|$1/||"; }
    want=$(sizes "$TMP/base")
    docs=$("$WR_BIN/wr-dump" --docs "$TMP/base" | md5sum)
    # the ops (WR_IO_TRACE: "N WHAT PATH"): the first and the last write
    # of the main table's pages, of the index's, the index's fsync after
    # the main table's committed, the catalog's write and fsync
    at() { awk -v w="$1" -v p="$2" '$2 == w && $3 ~ p { print $1 }' "$TMP/trace"; }
    points="$(at pwrite 'c[.]main[.]wr$' | head -n1) $(at pwrite 'c[.]main[.]wr$' | tail -n2 | head -n1)
            $(at pwrite 'idx[.]age[.]wr$' | head -n1) $(at fsync 'idx[.]age[.]wr$' | head -n1)
            $(at pwrite 'catalog[.]tmp$') $(at fsync 'catalog[.]tmp$')"
    echo "fault points: $points"
    [ "$(echo $points | wc -w)" -eq 6 ]
    for n in $points; do
        rm -rf "$TMP/db"
        cp -a "$TMP/base" "$TMP/db"
        run env WR_IO_FAULT="fail=$n,err=ENOSPC" "$WR_BIN/wr-load" "$TMP/db" c "$TMP/b.jsonl"
        [ "$status" -eq 3 ]
        [[ "$output" == *"ENOSPC"* || "$output" == *"space"* ]]
        # said as a bad line says it, without the hint to skip lines
        [[ "${lines[-1]}" == "wr-load: nothing of this run was committed" ]]
        # the run committed nothing: every file back at its size, same docs
        [ "$(sizes "$TMP/db")" = "$want" ]
        [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | md5sum)" = "$docs" ]
        run "$WR_BIN/wr-verify" -q "$TMP/db"
        [ "$status" -eq 0 ]
        # and no stray file (no LOCK, no wr.catalog.tmp)
        [ "$(ls -A "$TMP/db")" = "$(ls -A "$TMP/base")" ]
    done
}

@test "a failed gathered write in an early write stops wr-load: exit 3, file, offset and reason named, nothing written after it" {
    make_jsonl "$TMP/a.jsonl" 50
    "$WR_BIN/wr-load" -q --index age "$TMP/db" c "$TMP/a.jsonl"
    make_jsonl "$TMP/b.jsonl" 30000 50
    cp -a "$TMP/db" "$TMP/base"
    cp -a "$TMP/db" "$TMP/db2"
    docs=$("$WR_BIN/wr-dump" --docs "$TMP/base" | md5sum)
    WR_IO_TRACE="$TMP/trace" "$WR_BIN/wr-load" -q --memory 1M --index age "$TMP/db2" c "$TMP/b.jsonl"
    # the first write into the main table: an early write (past the
    # budget), long before the commit's fsync
    n=$(awk '$2 == "pwrite" && $3 ~ /c[.]main[.]wr$/ { print $1; exit }' "$TMP/trace")
    f=$(awk '$2 == "fsync" && $3 ~ /c[.]main[.]wr$/ { print $1; exit }' "$TMP/trace")
    [ -n "$n" ] && [ "$n" -lt "$f" ]
    run env WR_IO_FAULT="fail=$n,err=EIO" WR_IO_TRACE="$TMP/trace2" "$WR_BIN/wr-load" --memory 1M --index age "$TMP/db" c "$TMP/b.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == "wr-load: $TMP/db/c.main.wr: pwrite of "*" bytes at offset "*" failed: injected EIO"* ]]
    len=$(sed -n 's/.*: pwrite of \([0-9]*\) bytes at offset.*/\1/p' <<<"$output")
    [ "$len" -gt 4096 ] # a gathered run of pages, not one page
    # the poisoned handle is not used again: nothing is written to a tree
    # file after the failed write (leaving, the database trims what the
    # run left past each file's commit, through a fresh open)
    [ "$(awk -v n="$n" '$1 > n && $3 ~ /[.]wr$/ && $2 != "ftruncate"' "$TMP/trace2" | wc -l)" -eq 0 ]
    # and the database is its last commit
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | md5sum)" = "$docs" ]
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "wr-load refuses a directory of legacy append logs (exit 3, pointing at wr-migrate), writing nothing" {
    cp -r "$BATS_TEST_DIRNAME/../../testdata/legacy-demo" "$TMP/lgc"
    before=$(dir_sig "$TMP/lgc")
    make_jsonl "$TMP/in.jsonl" 3
    run "$WR_BIN/wr-load" "$TMP/lgc" users "$TMP/in.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"$TMP/lgc holds legacy append logs (orders.log, ...), not a wrtools database: migrate it first (wr-migrate $TMP/lgc)"* ]]
    [ "$(dir_sig "$TMP/lgc")" = "$before" ]
    # migrating it is still possible
    "$WR_BIN/wr-migrate" -q "$TMP/lgc"
    "$WR_BIN/wr-load" -q "$TMP/lgc" users "$TMP/in.jsonl"
}

# A legacy log is recognised by its content (its first non-blank line a
# document, as wr-migrate reads it), not by its name alone: a server's
# text log, an empty .log, are no legacy logs; a log of any name whose
# first line is a document (after blank lines and a byte-order mark) is.
@test "wr-load creates a database beside a server.log or an empty .log, and refuses a .log of documents whatever its name" {
    make_jsonl "$TMP/in.jsonl" 3
    mkdir "$TMP/srv"
    printf '2026-12-05 06:00:01 INFO server started on :8080\n{"_id": 1}\n' \
        > "$TMP/srv/server.log"
    : > "$TMP/srv/empty.log"
    cp "$TMP/srv/server.log" "$TMP/server.log.orig"
    run "$WR_BIN/wr-load" "$TMP/srv" users "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"3 inserted"* ]]
    cmp "$TMP/srv/server.log" "$TMP/server.log.orig"
    [ -e "$TMP/srv/empty.log" ]
    run "$WR_BIN/wr-verify" -q "$TMP/srv"
    [ "$status" -eq 0 ]
    # a log of documents, its first line after blank lines and a BOM
    mkdir "$TMP/lg"
    printf '\xef\xbb\xbf\n  \n{"_id": {"$oid": "4e26ea8e603235a1e58e1b1c"}, "a": 1}\n' \
        > "$TMP/lg/notes.log"
    cp "$TMP/srv/server.log" "$TMP/lg/"
    before=$(dir_sig "$TMP/lg")
    run "$WR_BIN/wr-load" "$TMP/lg" users "$TMP/in.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"$TMP/lg holds legacy append logs (notes.log, ...), not a wrtools database: migrate it first"* ]]
    [ "$(dir_sig "$TMP/lg")" = "$before" ]
}

@test "a bad collection name is a usage error" {
    make_jsonl "$TMP/in.jsonl" 1
    run "$WR_BIN/wr-load" "$TMP/db" "a/b" "$TMP/in.jsonl"
    [ "$status" -eq 2 ]
    [[ "$output" == *"collection name"* ]]
}

@test "a collection name or --index field that is not valid UTF-8 is refused (exit 2), nothing written: the catalog stays readable (review4 #4)" {
    make_jsonl "$TMP/in.jsonl" 3
    "$WR_BIN/wr-load" -q "$TMP/db" good "$TMP/in.jsonl"
    before=$(dir_sig "$TMP/db")
    run "$WR_BIN/wr-load" "$TMP/db" $'caf\xe9' "$TMP/in.jsonl"
    [ "$status" -eq 2 ]
    [[ "$output" == *'collection name "caf%E9" (invalid bytes shown as %XX) is not valid UTF-8'* ]]
    run "$WR_BIN/wr-load" --index $'f\xe9' "$TMP/db" good "$TMP/in.jsonl"
    [ "$status" -eq 2 ]
    [[ "$output" == *'field path "f%E9" (invalid bytes shown as %XX) is not valid UTF-8'* ]]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    # valid UTF-8 beyond ASCII is fine
    "$WR_BIN/wr-load" -q --index 'é' "$TMP/db" 'café' "$TMP/in.jsonl"
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "a collection name holding .idx. is refused (exit 2): its file could be an index's; the index's file is never replaced" {
    printf '{"_id": 1, "x": {"main": 5}}\n' > "$TMP/xm.jsonl"
    "$WR_BIN/wr-load" -q --index x.main "$TMP/db" c "$TMP/xm.jsonl"
    before=$(dir_sig "$TMP/db")
    for name in c.idx.x a.idx a.idx.b; do
        run "$WR_BIN/wr-load" "$TMP/db" "$name" "$TMP/xm.jsonl"
        [ "$status" -eq 2 ]
        [[ "$output" == *"collection name \"$name\" must not contain \".idx.\""* ]]
        [ "$(dir_sig "$TMP/db")" = "$before" ]
    done
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    # names that merely look alike are fine
    "$WR_BIN/wr-load" -q "$TMP/db" c.idx2.x "$TMP/xm.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" idx.c "$TMP/xm.jsonl"
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "an older database's collection \"c.idx.x\" keeps working; the index on x.main of c, whose file it is, is refused naming both (exit 2); wr-salvage keeps the name" {
    old_name_db "$TMP/db"
    printf '{"_id": 2, "v": "more"}\n' > "$TMP/more.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c.idx.x "$TMP/more.jsonl"
    printf '{"_id": 1, "x": {"main": 5}}\n' > "$TMP/xm.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/xm.jsonl"
    before=$(dir_sig "$TMP/db")
    run "$WR_BIN/wr-load" --index x.main "$TMP/db" c "$TMP/xm.jsonl"
    [ "$status" -eq 2 ]
    [[ "$output" == *"c.idx.x.main.wr: the file the index on \"x.main\" of collection \"c\" would need is already the main table of collection \"c.idx.x\""* ]]
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs --collection c.idx.x "$TMP/db" | wc -l)" -eq 2 ]
    "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/s"
    [ -f "$TMP/s/c.idx.x.main.wr" ]
    [ "$("$WR_BIN/wr-dump" --docs --collection c.idx.x "$TMP/s")" = "$("$WR_BIN/wr-dump" --docs --collection c.idx.x "$TMP/db")" ]
}

@test "an injected crash during the checkpoint leaves the last commit" {
    make_jsonl "$TMP/a.jsonl" 30
    "$WR_BIN/wr-load" -q --index tags "$TMP/db" c "$TMP/a.jsonl"
    make_jsonl "$TMP/b.jsonl" 30 30
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-load" -q "$TMP/db2" c "$TMP/a.jsonl"
    ops=$(cat "$TMP/ops")
    [ "$ops" -gt 3 ]
    cp -a "$TMP/db" "$TMP/base"
    for n in 1 $((ops / 2)) $((ops - 1)); do
        rm -rf "$TMP/db"; cp -a "$TMP/base" "$TMP/db"
        run env WR_IO_FAULT="crash=$n" "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/b.jsonl"
        [ "$status" -eq 86 ]
        # exactly the first load, or exactly both
        run bash -c "'$WR_BIN/wr-dump' --docs '$TMP/db' | wc -l"
        [ "$output" -eq 30 ] || [ "$output" -eq 60 ]
        run "$WR_BIN/wr-verify" -q "$TMP/db"
        [ "$status" -eq 0 ]
    done
}

@test "a 15 MiB document round-trips through wr-load and wr-dump on 512-byte pages" {
    python3 -c '
import json
s = "".join(chr(97 + (i * 7) % 26) for i in range(15 * 1024 * 1024 - 100))
print(json.dumps({"_id": "big", "text": s}))
print(json.dumps({"_id": "small", "n": 1}))' > "$TMP/big.jsonl"
    run "$WR_BIN/wr-load" --page-size 512 "$TMP/db" c "$TMP/big.jsonl"
    [ "$status" -eq 0 ]
    "$WR_BIN/wr-dump" --docs --relaxed "$TMP/db" > "$TMP/out.jsonl"
    python3 - "$TMP/big.jsonl" "$TMP/out.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert sorted(a, key=lambda d: d["_id"]) == b, "documents differ"
PY
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "wr-load packs 1-4 KiB documents into long leaves: the file is as small as wr-migrate's, and stays so after updates" {
    # docs/FORMAT.md "Packed values": before, each such document took a
    # block of its own (the file was 1.6x wr-migrate's)
    awk 'BEGIN { for (i = 0; i < 600; i++) { s = sprintf("%" (1000 + (i * 53) % 2900) "s", "")
        gsub(/ /, "m", s); printf "{\"_id\": %d, \"pad\": \"%s\"}\n", i, s } }' > "$TMP/mid.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/mid.jsonl"
    mkdir "$TMP/legacy" && cp "$TMP/mid.jsonl" "$TMP/legacy/c.log"
    "$WR_BIN/wr-migrate" -q "$TMP/legacy"
    local loaded migrated
    loaded=$(stat -c %s "$TMP/db/c.main.wr")
    migrated=$(stat -c %s "$TMP/legacy/c.main.wr")
    echo "wr-load $loaded bytes, wr-migrate $migrated"
    [ "$loaded" -le $((migrated * 108 / 100)) ]
    # a tenth replaced, twice: the live data stays packed (the file holds
    # at most the two previous checkpoints' copies of what changed)
    awk 'NR % 10 == 0 { sub(/"pad": "m/, "\"pad\": \"n"); print }' "$TMP/mid.jsonl" > "$TMP/upd.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/upd.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/upd.jsonl"
    run "$WR_BIN/wr-dump" --json --stats "$TMP/db/c.main.wr"
    [ "$status" -eq 0 ]
    [ "$(jq '.files[0].stats.overflow.packed' <<<"$output")" -eq 600 ]
    [ "$(jq '.files[0].stats.overflow.values' <<<"$output")" -eq 0 ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
}

# A catalog moved to another volume and linked back: the commit's rename
# would replace the link with a regular file and leave the file it points
# to stale while the database moves on (wr-dump through the link would
# then show the old snapshot). A writer refuses it as it opens, before it
# writes anything (exit 3, WR_ENOTSUP, naming the link and its target), as
# wr-compact refuses a tree file's link; the readers read through it.
@test "a database whose catalog is a symbolic link: refused with exit 3 naming it and its target, nothing written; readers read through it" {
    make_jsonl "$TMP/a.jsonl" 200
    make_jsonl "$TMP/b.jsonl" 100 500
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/a.jsonl"
    mkdir "$TMP/vol"
    mv "$TMP/db/wr.catalog" "$TMP/vol/"
    ln -s ../vol/wr.catalog "$TMP/db/wr.catalog"
    cp "$TMP/vol/wr.catalog" "$TMP/cat.orig"
    before=$(dir_sig "$TMP/db")
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/b.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"wr-load: $TMP/db/wr.catalog is a symbolic link (to ../vol/wr.catalog): not written, nor is anything else of $TMP/db ("*"Move the file back into $TMP/db"* ]]
    [ -L "$TMP/db/wr.catalog" ]
    [ "$(readlink "$TMP/db/wr.catalog")" = ../vol/wr.catalog ]
    cmp "$TMP/cat.orig" "$TMP/vol/wr.catalog"
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    # a new collection too; --json says WR_ENOTSUP
    run_json "$WR_BIN/wr-load" --json "$TMP/db" d "$TMP/b.jsonl"
    [ "$status" -eq 3 ]
    [ "$(jq -r .error.code <<<"$output")" = WR_ENOTSUP ]
    [ ! -e "$TMP/db/d.main.wr" ]
    [ -L "$TMP/db/wr.catalog" ]
    cmp "$TMP/cat.orig" "$TMP/vol/wr.catalog"
    [ "$(dir_sig "$TMP/db")" = "$before" ]
    # the readers read through it
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | wc -l)" -eq 200 ]
    run "$WR_BIN/wr-diff" -q "$TMP/db" "$TMP/a.jsonl"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/saved"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/saved" | wc -l)" -eq 200 ]
    # moved back, the load goes on
    rm "$TMP/db/wr.catalog"
    mv "$TMP/vol/wr.catalog" "$TMP/db/"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/b.jsonl"
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | wc -l)" -eq 300 ]
}
