#!/usr/bin/env bats
# Readers beside a writer (DESIGN decision 12): wr-verify and wr-dump take
# DIR/LOCK shared, writers exclusive. A reader that meets a writer exits 3
# naming it, or waits (--wait), or reads the committed snapshot without
# the lock (--no-lock) and says "changed during the check" -- never
# damage -- if the writer moved it.

load helpers

setup() {
    common_setup
    make_jsonl "$TMP/in.jsonl" 300
    "$WR_BIN/wr-load" -q --index age "$TMP/db" c "$TMP/in.jsonl"
    WPID=
}

teardown() {
    # end the writer we started, if a test left it running
    [ -n "${FD:-}" ] && exec {FD}>&- 2>/dev/null
    [ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null
    [ -n "${WPID:-}" ] && wait "$WPID" 2>/dev/null
    ro_done
    common_teardown
}

# ro_dir: $TMP/db where nothing may be created, as $RO: the directory made
# read-only for a user; root ignores permissions, so a read-only bind
# mount for root (skipped where mounts are not allowed). ro_done undoes it.
ro_dir() {
    if [ "$(id -u)" -ne 0 ]; then
        chmod a-w "$TMP/db"
        RO=$TMP/db
        return
    fi
    mkdir -p "$TMP/ro"
    if ! mount --bind "$TMP/db" "$TMP/ro" 2>/dev/null; then
        skip "cannot make a read-only mount here"
    fi
    if ! mount -o remount,bind,ro "$TMP/ro" 2>/dev/null; then
        umount "$TMP/ro"
        skip "cannot make a read-only mount here"
    fi
    RO=$TMP/ro
}
ro_done() {
    if [ "$(id -u)" -ne 0 ]; then
        chmod -f u+w "$TMP/db"
    elif mountpoint -q "$TMP/ro" 2>/dev/null; then
        umount "$TMP/ro"
    fi
    return 0
}

# start_writer DIR NAME: a wr-load reading lines from a FIFO we hold open
# on fd $FD, so it holds the lock until end_writer; $WPID is its pid.
start_writer() {
    rm -f "$TMP/fifo"
    mkfifo "$TMP/fifo"
    "$WR_BIN/wr-load" -q "$1" "$2" - <"$TMP/fifo" &
    WPID=$!
    exec {FD}>"$TMP/fifo"
    # (the record is written once the lock is held; probing with flock
    # would itself be a reader the writer could meet)
    for _ in $(seq 200); do
        grep -qs "^$WPID wr-load" "$1/LOCK" && return 0
        sleep 0.05
    done
    echo "the writer never took the lock" >&2
    return 1
}

end_writer() {
    exec {FD}>&-
    FD=
    wait "$WPID"
    local rc=$?
    WPID=
    return $rc
}

@test "a verify or dump started during a load exits 3 naming the writer" {
    start_writer "$TMP/db" c
    echo '{"_id": 1000, "name": "new"}' >&"$FD"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"locked by pid $WPID (wr-load)"* ]]
    [[ "$output" == *"--wait"* && "$output" == *"--no-lock"* ]]
    [[ "$output" != *"catalog:"* && "$output" != *"checksum:"* ]]
    # the JSON says so too, and a lone tree file in the directory is
    # covered by the same lock
    run_json "$WR_BIN/wr-verify" --json "$TMP/db/c.main.wr"
    [ "$status" -eq 3 ]
    [ "$(jq -r .paths[0].error_code <<<"$output")" = WR_ELOCKED ]
    [[ "$(jq -r .paths[0].error <<<"$output")" == *"pid $WPID (wr-load)"* ]]
    run "$WR_BIN/wr-dump" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"locked by pid $WPID (wr-load)"* ]]
    end_writer
    # the writer gone: clean, and it saw the new document
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *", 301 records, "* ]]
    # nobody left a LOCK behind (the first wr-load made it and removed it)
    [ ! -e "$TMP/db/LOCK" ]
}

@test "a writer is refused while a reader holds the lock, naming it" {
    flock -s "$TMP/db/LOCK" sleep 5 &
    holder=$!
    for _ in $(seq 100); do
        flock -n -x "$TMP/db/LOCK" true || break
        sleep 0.05
    done
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"a reader"* ]]
    run "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"a reader"* ]]
    kill "$holder"
    wait "$holder" || true
    # another reader is welcome beside a reader
    flock -s "$TMP/db/LOCK" sleep 5 &
    holder=$!
    sleep 0.2
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    kill "$holder"
    wait "$holder" || true
    [ "$status" -eq 0 ]
}

@test "--wait waits for the writer to finish, then checks what it committed" {
    start_writer "$TMP/db" c
    # (the reader must not inherit the FIFO, or the writer never ends)
    "$WR_BIN/wr-verify" --wait "$TMP/db" >"$TMP/out" 2>"$TMP/err" {FD}>&- &
    vpid=$!
    sleep 1
    # still waiting: it has not read anything yet
    kill -0 "$vpid"
    [ ! -s "$TMP/out" ]
    grep -q "locked by pid $WPID (wr-load); waiting" "$TMP/err"
    echo '{"_id": 5000, "name": "late"}' >&"$FD"
    end_writer
    wait "$vpid"
    grep -q "clean" "$TMP/out"
    grep -q ", 301 records, " "$TMP/out"
    # wr-dump waits the same way
    start_writer "$TMP/db" c
    "$WR_BIN/wr-dump" --wait --docs "$TMP/db" >"$TMP/docs" 2>/dev/null {FD}>&- &
    dpid=$!
    sleep 0.5
    kill -0 "$dpid"
    echo '{"_id": 5001, "name": "later"}' >&"$FD"
    end_writer
    wait "$dpid"
    [ "$(wc -l <"$TMP/docs")" -eq 302 ]
}

@test "--wait and --no-lock exclude each other" {
    run "$WR_BIN/wr-verify" --wait --no-lock "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"exclude each other"* ]]
    run "$WR_BIN/wr-dump" --no-lock --wait "$TMP/db"
    [ "$status" -eq 2 ]
}

@test "--no-lock beside an idle writer reads the committed snapshot" {
    start_writer "$TMP/db" c
    run "$WR_BIN/wr-verify" --no-lock "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *", 300 records, "* ]]
    run "$WR_BIN/wr-dump" --no-lock --docs "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(grep -c '"_id"' <<<"$output")" -eq 300 ]
    end_writer
    # a writer adding a collection: its file is not in the catalog yet,
    # so the directory is changing -- not an orphan, not damage
    start_writer "$TMP/db" fresh
    # the writer records itself in LOCK as it opens the database, and
    # makes the collection's file only after that: wait for the file
    for _ in $(seq 200); do
        [ -e "$TMP/db/fresh.main.wr" ] && break
        sleep 0.05
    done
    [ -e "$TMP/db/fresh.main.wr" ]
    run "$WR_BIN/wr-verify" --no-lock "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"fresh.main.wr"* && "$output" == *"wr-load"* ]]
    end_writer
}

# start_checkpointing_writer: a wr-load of 20000 documents into $TMP/db
# with a checkpoint every 100, in the background ($WPID)
start_checkpointing_writer() {
    make_jsonl "$TMP/big.jsonl" 20000 1000
    "$WR_BIN/wr-load" -q --index age --checkpoint-every 100 "$TMP/db" c \
        "$TMP/big.jsonl" &
    WPID=$!
}

# beside_writer WHAT: one_run (the test's: one reader run, its status in
# rc, its stderr in $TMP/err, checking what it wrote) again and again
# while the writer works; each run exits 0, or 3 saying the snapshot
# changed; then the counts
beside_writer() {
    local runs=0 changed=0 clean=0
    while kill -0 "$WPID" 2>/dev/null; do
        rc=0
        one_run
        runs=$((runs + 1))
        if [ "$rc" -eq 3 ]; then
            grep -q "changed during the check\|is changing" "$TMP/err"
            changed=$((changed + 1))
        else
            [ "$rc" -eq 0 ] || { cat "$TMP/err"; false; }
            clean=$((clean + 1))
        fi
    done
    wait "$WPID"
    WPID=
    echo "# $runs $1 beside the writer: $changed changed, $clean clean" >&3
    [ "$runs" -ge 2 ]
}

@test "--no-lock beside a checkpointing writer: never a false finding" {
    start_checkpointing_writer
    one_run() {
        "$WR_BIN/wr-verify" --no-lock -q "$TMP/db" >"$TMP/out" 2>"$TMP/err" ||
            rc=$?
        # never a problem line, never exit 1
        if [ -s "$TMP/out" ] || [ "$rc" -eq 1 ]; then
            cat "$TMP/out" "$TMP/err"
            false
        fi
    }
    beside_writer "--no-lock verifies"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "wr-dump --no-lock --map beside a checkpointing writer: a whole page of one snapshot, or exit 3 and FILE untouched" {
    start_checkpointing_writer
    one_run() {
        echo old > "$TMP/m.html"
        "$WR_BIN/wr-dump" --no-lock -q --map "$TMP/m.html" "$TMP/db" \
            2>"$TMP/err" || rc=$?
        [ ! -e "$TMP/m.html.tmp" ]
        # a snapshot that moved is not drawn: the old FILE stays
        if [ "$rc" -eq 3 ]; then
            [ "$(cat "$TMP/m.html")" = old ]
        elif [ "$rc" -eq 0 ]; then
            xmllint --noout "$TMP/m.html"
        fi
    }
    beside_writer "--no-lock maps"
}

@test "the lock, beside a checkpointing writer: exit 3 naming it, never a finding" {
    make_jsonl "$TMP/big.jsonl" 20000 1000
    "$WR_BIN/wr-load" -q --checkpoint-every 100 "$TMP/db" c "$TMP/big.jsonl" &
    WPID=$!
    # the writer first (a reader already there would turn it away)
    for _ in $(seq 200); do
        grep -qs "^$WPID wr-load" "$TMP/db/LOCK" && break
        sleep 0.05
    done
    runs=0
    while kill -0 "$WPID" 2>/dev/null; do
        rc=0
        "$WR_BIN/wr-verify" -q "$TMP/db" >"$TMP/out" 2>"$TMP/err" || rc=$?
        runs=$((runs + 1))
        if [ -s "$TMP/out" ] || [ "$rc" -eq 1 ]; then
            cat "$TMP/out" "$TMP/err"
            false
        fi
        [ "$rc" -eq 0 ] || grep -q "(wr-load)" "$TMP/err"
    done
    wait "$WPID"
    WPID=
    [ "$runs" -ge 2 ]
}

@test "a reader on a read-only directory reads without the lock, with a note" {
    ro_dir
    run "$WR_BIN/wr-verify" "$RO"
    st=$status
    run "$WR_BIN/wr-dump" --docs "$RO/c.main.wr"
    dst=$status
    docs=$(grep -c '"_id"' <<<"$output" || true)
    ro_done
    [ "$st" -eq 0 ]
    [ "$dst" -eq 0 ]
    [ "$docs" -eq 300 ]
    [[ "$output" == *"reading without the lock"* ]]
    [ ! -e "$TMP/db/LOCK" ]
}

@test "a reader's LOCK create failing with EIO is an error even where the directory is read-only" {
    # the refusal to create LOCK is decided on the create's errno (EROFS,
    # EACCES, EPERM): an I/O error is not a read-only directory
    ro_dir
    WR_IO_FAULT="fail=1,err=EIO" run "$WR_BIN/wr-verify" "$RO"
    ro_done
    [ "$status" -eq 3 ]
    [[ "$output" == *"LOCK: create failed: injected EIO"* ]]
    [[ "$output" != *"reading without the lock"* ]]
}

@test "wr-diff and wr-salvage read under the lock too" {
    cp -a "$TMP/db" "$TMP/db2"
    start_writer "$TMP/db" c
    run "$WR_BIN/wr-diff" "$TMP/db2" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"locked by pid $WPID (wr-load)"* ]]
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
    [ "$status" -eq 3 ]
    [[ "$output" == *"locked by pid $WPID (wr-load)"* ]]
    [ ! -e "$TMP/out" ]
    # beside the idle writer, --no-lock compares the committed snapshot
    run "$WR_BIN/wr-diff" --no-lock "$TMP/db" "$TMP/db2"
    [ "$status" -eq 0 ]
    # --wait: the salvage starts once the writer is done, and has its work
    "$WR_BIN/wr-salvage" --wait "$TMP/db" "$TMP/out" >/dev/null 2>"$TMP/err" {FD}>&- &
    spid=$!
    sleep 0.5
    kill -0 "$spid"
    [ ! -e "$TMP/out" ]
    echo '{"_id": 7000, "name": "waited for"}' >&"$FD"
    end_writer
    wait "$spid"
    grep -q "waiting" "$TMP/err"
    run "$WR_BIN/wr-diff" "$TMP/db" "$TMP/out"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-diff" "$TMP/db2" "$TMP/out"
    [ "$status" -eq 1 ]
    [[ "$output" == *"only in B: _id 7000"* ]]
}
