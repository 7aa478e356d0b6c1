#!/usr/bin/env bats
# wr-verify: clean databases and files, every kind of damage (made by
# damage.py at offsets docs/FORMAT.md defines), exit codes, --json.

load helpers

DAMAGE="$BATS_TEST_DIRNAME/damage.py"

# One template database for the whole file (helpers.bash template_db):
# 600 documents, overflow pages, two indexes, two checkpoints.
setup_file() {
    TEMPLATE=$(mktemp -d "${BATS_TMPDIR:-/tmp}/wrverify.XXXXXX")
    export TEMPLATE
    template_db "$TEMPLATE" 600
}

teardown_file() {
    [ -n "${TEMPLATE:-}" ] && rm -rf "$TEMPLATE"
}

# a fresh copy of the template database in $TMP/db
make_db() {
    cp -r "$TEMPLATE/db" "$TMP/db"
    cp "$TEMPLATE/in.jsonl" "$TEMPLATE/upd.jsonl" "$TMP/"
}

page_of() { python3 "$DAMAGE" page "$@"; }

# wr-dump must still run on whatever we damaged (no crash, no hang)
dump_survives() {
    run timeout 60 "$WR_BIN/wr-dump" --tree "$1"
    [ "$status" -le 3 ]
    [[ "$output" == *"level 0"* || "$output" == *"!!"* ]]
}

@test "wr-verify --help lists options, check names and exit codes" {
    run "$WR_BIN/wr-verify" --help
    [ "$status" -eq 0 ]
    for w in --quick --checkpoint --all-checkpoints --json header checksum \
             page-structure ordering space document index catalog \
             "Exit status"; do
        [[ "$output" == *"$w"* ]]
    done
}

@test "wr-verify --version names tool and format" {
    run "$WR_BIN/wr-verify" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"wr-verify"*"format 4"* ]]
}

@test "wr-verify usage errors exit 2" {
    run "$WR_BIN/wr-verify"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--help"* ]]
    run "$WR_BIN/wr-verify" --frobnicate "$TMP"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-verify" --checkpoint oldest "$TMP"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-verify" --json --checkpoint oldest "$TMP"
    [ "$status" -eq 2 ]
    [ "$(jq -r .exit <<<"$output" 2>/dev/null | head -1)" = 2 ] ||
        [[ "$output" == *'"exit" : 2'* ]]
}

@test "wr-verify: a missing path or a directory that is no database exits 3" {
    run "$WR_BIN/wr-verify" "$TMP/nothing"
    [ "$status" -eq 3 ]
    [[ "$output" == *"nothing"* ]]
    mkdir "$TMP/empty"
    run "$WR_BIN/wr-verify" "$TMP/empty"
    [ "$status" -eq 3 ]
    run "$WR_BIN/wr-verify" --json "$TMP/nothing"
    [ "$status" -eq 3 ]
    [ "$(jq -r .status <<<"$output")" = error ]
    [ "$(jq -r '.paths[0].status' <<<"$output")" = error ]
}

@test "wr-verify: a clean database exits 0, in every mode" {
    make_db
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *"clean"* ]]
    # the digest is a report, computed only when asked for
    [[ "$output" != *"digest"* ]]
    run "$WR_BIN/wr-verify" --digest "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^      digest sha256:[0-9a-f]\{64\} (600 documents)$' <<<"$output")" = 1 ]
    for opt in --quick "--checkpoint previous" --all-checkpoints; do
        run "$WR_BIN/wr-verify" $opt "$TMP/db"
        [ "$status" -eq 0 ]
    done
    for f in "$TMP"/db/*.wr; do
        run "$WR_BIN/wr-verify" --all-checkpoints "$f"
        [ "$status" -eq 0 ]
    done
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "wr-verify --json: one object with files, checkpoints, counts, digest" {
    make_db
    run "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$status" -eq 0 ]
    # without --digest: no digest field anywhere
    [ "$(jq '[.. | objects | select(has("digest"))] | length' <<<"$output")" = 0 ]
    [ "$(jq -r '.paths[0].collections[0].documents' <<<"$output")" = 600 ]
    run "$WR_BIN/wr-verify" --json --digest "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -s length <<<"$output")" = 1 ]
    [ "$(jq -r .status <<<"$output")" = clean ]
    [ "$(jq -r .exit <<<"$output")" = 0 ]
    [ "$(jq -r '.paths[0].kind' <<<"$output")" = database ]
    [ "$(jq -r '.paths[0].files | length' <<<"$output")" = 3 ]
    [ "$(jq -r '.paths[0].files[0].checkpoints[0].keys' <<<"$output")" = 600 ]
    [ "$(jq -r '.paths[0].files[0].checkpoints[0].pages.overflow' <<<"$output")" = 60 ]
    [ "$(jq -r '.paths[0].files[1].checkpoints[0].index.missing' <<<"$output")" = 0 ]
    [ "$(jq -r '.paths[0].collections[0].documents' <<<"$output")" = 600 ]
    [[ "$(jq -r '.paths[0].collections[0].digest' <<<"$output")" =~ ^[0-9a-f]{64}$ ]]
    [ "$(jq -r '.paths[0].files[0].checkpoints[0].digest' <<<"$output")" = \
      "$(jq -r '.paths[0].collections[0].digest' <<<"$output")" ]
    # an index has none: null
    [ "$(jq -r '.paths[0].files[1].checkpoints[0].digest' <<<"$output")" = null ]
    # --quick computes none: null where asked for
    run "$WR_BIN/wr-verify" --json --digest --quick "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.paths[0].collections[0].digest' <<<"$output")" = null ]
}

@test "wr-verify: the digest depends on the documents, not the layout" {
    make_db
    # the same final documents, loaded in reverse order into 4 KiB pages
    awk 'NR % 3 != 0' "$TMP/in.jsonl" > "$TMP/final.jsonl"
    cat "$TMP/upd.jsonl" >> "$TMP/final.jsonl"
    tac "$TMP/final.jsonl" > "$TMP/rev.jsonl"
    "$WR_BIN/wr-load" -q --page-size 4096 "$TMP/db2" people "$TMP/rev.jsonl"
    a=$("$WR_BIN/wr-verify" --json --digest "$TMP/db" | jq -r '.paths[0].collections[0].digest')
    b=$("$WR_BIN/wr-verify" --json --digest "$TMP/db2" | jq -r '.paths[0].collections[0].digest')
    [[ "$a" =~ ^[0-9a-f]{64}$ ]]
    [ "$a" = "$b" ]
    echo '{"_id": 5, "name": "someone else"}' | "$WR_BIN/wr-load" -q "$TMP/db2" people -
    c=$("$WR_BIN/wr-verify" --json --digest "$TMP/db2" | jq -r '.paths[0].collections[0].digest')
    [[ "$c" =~ ^[0-9a-f]{64}$ ]]
    [ "$a" != "$c" ]
}

# flip a bit in the middle of a page of KIND of the main table, expect
# exit 1 and a checksum line naming that page
flip_kind() {
    make_db
    local f="$TMP/db/people.main.wr" page
    page=$(page_of "$f" "$1" "${2:-0}")
    python3 "$DAMAGE" flip "$f" $((page + 300)) 3
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.main.wr: page $page: byte "*": checksum: "* ]]
    run "$WR_BIN/wr-verify" --quick "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *": page $page: byte "*": checksum: "* ]]
    dump_survives "$f"
}

@test "wr-verify: a flipped bit in a leaf is a checksum problem on that page" {
    flip_kind leaf 5
}

@test "wr-verify: a flipped bit in an internal page" {
    flip_kind internal 1
}

@test "wr-verify: a flipped bit in an overflow page" {
    flip_kind overflow 2
}

@test "wr-verify: a flipped bit in an extent-list page" {
    flip_kind extlist 0
}

@test "wr-verify: a flipped bit in each header slot is a header problem" {
    make_db
    local f="$TMP/db/people.idx.age.wr"
    cp "$f" "$TMP/orig"
    python3 "$DAMAGE" flip "$f" 100 2
    run "$WR_BIN/wr-verify" "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.idx.age.wr: page 0: byte 0: header: slot 0 rejected: CRC mismatch"* ]]
    dump_survives "$f"
    cp "$TMP/orig" "$f"
    python3 "$DAMAGE" flip "$f" $((512 + 100)) 2
    run "$WR_BIN/wr-verify" "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.idx.age.wr: page 512: byte 512: header: slot 1 rejected"* ]]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *": header: "* ]]
    dump_survives "$f"
}

@test "wr-verify: a truncated file is a space problem" {
    make_db
    local f="$TMP/db/people.main.wr"
    truncate -s $(( $(stat -c %s "$f") / 2 / 512 * 512 )) "$f"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.main.wr: page "*": space: "*"truncated"* ]]
    run "$WR_BIN/wr-verify" --json "$f"
    [ "$status" -eq 1 ]
    [ "$(jq -r '.paths[0].problems[0].check' <<<"$output")" = space ]
    dump_survives "$f"
}

@test "wr-verify: a page swapped with a stale copy is a checksum problem" {
    make_db
    local f="$TMP/db/people.main.wr" leaf id new
    leaf=$(page_of "$f" leaf 4)
    id=$(python3 "$DAMAGE" firstid "$f" "$leaf")
    python3 "$DAMAGE" save "$f" "$leaf" "$TMP/old.page"
    echo "{\"_id\": $id, \"name\": \"moved\"}" | "$WR_BIN/wr-load" -q "$TMP/db" people -
    new=$(page_of "$f" leaf 4)
    [ "$new" != "$leaf" ]
    python3 "$DAMAGE" restore "$f" "$new" "$TMP/old.page"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.main.wr: page $new: byte $new: checksum: "*"stale or misdirected"* ]]
    dump_survives "$f"
}

@test "wr-verify: two pages made to overlap is a space problem" {
    make_db
    local f="$TMP/db/people.main.wr" page
    page=$(python3 "$DAMAGE" overlap "$f")
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.main.wr: page $page: byte $page: space: "*"overlaps"* ]]
    dump_survives "$f"
}

@test "wr-verify: a page with two parents is an ordering problem" {
    make_db
    local f="$TMP/db/people.main.wr" page
    page=$(python3 "$DAMAGE" twice "$f")
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.main.wr: page $page: byte "*": ordering: page reachable twice"* ]]
    dump_survives "$f"
}

@test "wr-verify: a leaked extent is reported with its range" {
    make_db
    local f="$TMP/db/people.main.wr" lost
    lost=$(python3 "$DAMAGE" leak "$f")
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.main.wr: page $lost: byte $lost: space: leaked space"* ]]
    run "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$(jq -r '.paths[0].files[0].checkpoints[0].bytes.leaked' <<<"$output")" -gt 0 ]
    dump_survives "$f"
}

@test "wr-verify: an index entry removed is an index problem with counts" {
    make_db
    local f="$TMP/db/people.idx.age.wr" page
    page=$(python3 "$DAMAGE" unindex "$f")
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.idx.age.wr: page $page: byte $page: index: missing entry"* ]]
    run "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$(jq -r '.paths[0].files[1].checkpoints[0].index.missing' <<<"$output")" = 1 ]
    [ "$(jq -r '.paths[0].files[1].checkpoints[0].index.entries' <<<"$output")" = 599 ]
    [ "$(jq -r '.paths[0].files[1].checkpoints[0].index.expected' <<<"$output")" = 600 ]
    # the file alone is a sound tree: only the database sees it
    run "$WR_BIN/wr-verify" "$f"
    [ "$status" -eq 0 ]
    dump_survives "$f"
}

@test "wr-verify: an index entry added is an index problem" {
    make_db
    local f="$TMP/db/people.idx.age.wr" page
    page=$(python3 "$DAMAGE" addindex "$f")
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.idx.age.wr: page $page: byte "*": index: entry "*"not in the main table"* ]]
    run "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$(jq -r '.paths[0].files[1].checkpoints[0].index.dangling' <<<"$output")" = 1 ]
    dump_survives "$f"
}

@test "wr-verify: a key outside its parent's separators is an ordering problem naming file, page and slot" {
    make_db
    local f="$TMP/db/people.main.wr" out page slot
    for how in lower upper; do
        rm -rf "$TMP/d" && cp -r "$TMP/db" "$TMP/d"
        f="$TMP/d/people.main.wr"
        out=$(python3 "$DAMAGE" bounds "$f" $how)
        read -r page slot <<<"$out"
        run "$WR_BIN/wr-verify" "$TMP/d"
        echo "$how: $output"
        [ "$status" -eq 1 ]
        if [ $how = lower ]; then
            [[ "$output" == *"$f: page $page: byte "*": ordering: slot $slot: key below the lower bound the parent's separator sets (expected: at least the first)"* ]]
        else
            [[ "$output" == *"$f: page $page: byte "*": ordering: slot $slot: key not below the upper bound the parent's next separator sets (expected: less than the first)"* ]]
        fi
        [[ "$output" == *"damaged, 1 problem"* ]]
        [[ "$output" != *": checksum: "* ]]
        # the file alone says the same; --quick orders no keys (README)
        run "$WR_BIN/wr-verify" -q "$f"
        [ "$status" -eq 1 ]
        [[ "$output" == *"$f: page $page: byte "*": ordering: slot $slot: "* ]]
        run "$WR_BIN/wr-verify" --quick "$TMP/d"
        [ "$status" -eq 0 ]
        # the dumper marks the place and still shows every document
        run "$WR_BIN/wr-dump" --docs "$f"
        [ "$status" -eq 1 ]
        [[ "$output" == *"!! $f: page $page: byte "*"slot $slot: "* ]]
        [ "$(grep -c '"_id"' <<<"$output")" -eq 600 ]
        dump_survives "$f"
    done
}

@test "wr-verify: a document's _id changed under a good CRC is a document problem" {
    make_db
    local f="$TMP/db/people.main.wr" page
    page=$(python3 "$DAMAGE" idchange "$f")
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.main.wr: page $page: byte "*": document: document's _id differs from its key"* ]]
    [[ "$output" != *": checksum: "* ]]
    # --quick decodes no documents
    run "$WR_BIN/wr-verify" --quick "$TMP/db"
    [ "$status" -eq 0 ]
    dump_survives "$f"
}

@test "wr-verify: a missing tree file and a damaged catalog are catalog problems" {
    make_db
    cp -r "$TMP/db" "$TMP/db2"
    rm "$TMP/db/people.idx.tags.wr"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.idx.tags.wr: page 0: byte 0: catalog: "* ]]
    python3 "$DAMAGE" flip "$TMP/db2/wr.catalog" 40 1
    run "$WR_BIN/wr-verify" "$TMP/db2"
    [ "$status" -eq 1 ]
    [[ "$output" == *"wr.catalog: page 0: byte 0: catalog: "* ]]
    # the tree files are still checked, one by one
    [[ "$output" == *"people.main.wr: main table"* ]]
}

@test "wr-verify: a zero-filled or bad-magic catalog beside tree files is damage (exit 1, each file checked, the salvage command); with no tree file beside it, not a database (exit 3)" {
    make_db
    local size
    size=$(stat -c %s "$TMP/db/wr.catalog")
    cp -r "$TMP/db" "$TMP/z"
    head -c "$size" /dev/zero > "$TMP/z/wr.catalog"
    cp -r "$TMP/db" "$TMP/m"
    python3 "$DAMAGE" flip "$TMP/m/wr.catalog" 5 1
    for d in z m; do
        run "$WR_BIN/wr-verify" "$TMP/$d"
        [ "$status" -eq 1 ]
        [[ "$output" == *"wr.catalog: page 0: byte 0: catalog: "*"bad magic"*"in a directory holding"*"tree files"* ]]
        [[ "$output" == *"people.main.wr: main table"* ]]
        [[ "$output" == *"wr-salvage '$TMP/$d' '$TMP/$d.salvaged'"* ]]
        run "$WR_BIN/wr-dump" "$TMP/$d"
        [ "$status" -eq 1 ]
    done
    [[ "$("$WR_BIN/wr-verify" "$TMP/z" 2>&1)" == *"every byte is zero"* ]]
    run "$WR_BIN/wr-diff" "$TMP/z" "$TMP/db"
    [[ "$output" == *"bad magic"* ]]
    [[ "$output" != *"not a wrtools database"* ]]
    # nothing of ours: exit 3 stays
    mkdir "$TMP/other"
    echo hello > "$TMP/other/wr.catalog"
    run "$WR_BIN/wr-verify" "$TMP/other"
    [ "$status" -eq 3 ]
    [[ "$output" == *"not a wrtools database"* ]]
    head -c "$size" /dev/zero > "$TMP/other/wr.catalog"
    run "$WR_BIN/wr-verify" "$TMP/other"
    [ "$status" -eq 3 ]
}

@test "wr-verify: several paths; exit 3 wins over 1; -q keeps problem lines" {
    make_db
    local f="$TMP/db/people.main.wr"
    python3 "$DAMAGE" flip "$f" $(( $(page_of "$f" leaf 2) + 100 )) 0
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 1 ]
    [ "$(grep -c ': checksum: ' <<<"$output")" -ge 1 ]
    [[ "$output" != *"database, catalog generation"* ]]
    run "$WR_BIN/wr-verify" "$TMP/db" "$TMP/missing"
    [ "$status" -eq 3 ]
    run "$WR_BIN/wr-verify" --json "$TMP/db" "$TMP/missing"
    [ "$status" -eq 3 ]
    [ "$(jq -s length <<<"$output")" = 1 ]
    [ "$(jq -r '.paths | length' <<<"$output")" = 2 ]
    [ "$(jq -r '.paths[0].status' <<<"$output")" = damaged ]
    [ "$(jq -r '.paths[1].status' <<<"$output")" = error ]
}

@test "wr-verify: garbage and empty files are not wrtools files (exit 3 as in dump and compact), never crashes" {
    # issue 11 bug 7: one rule for every tool, the real size reported
    head -c 100000 /dev/urandom > "$TMP/garbage.wr"
    : > "$TMP/empty.wr"
    for f in "$TMP/garbage.wr" "$TMP/empty.wr"; do
        for tool in wr-verify wr-dump wr-compact; do
            run "$WR_BIN/$tool" "$f"
            [ "$status" -eq 3 ]
            [[ "$output" == *"not a wrtools tree file"* ]]
        done
    done
    run "$WR_BIN/wr-verify" "$TMP/garbage.wr"
    [[ "$output" == *"garbage.wr: not a wrtools file, 100000 bytes: error"* ]]
    [[ "$output" != *"page size 0"* ]]
    # inside a database the catalog names the file: it is damage (exit 1)
    make_db
    head -c 100000 /dev/urandom > "$TMP/db/people.idx.age.wr"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.idx.age.wr: page 0: byte 0: header: "*"not a wrtools tree file"* ]]
    run "$WR_BIN/wr-dump" "$TMP/db"
    [ "$status" -eq 1 ]
}

@test "wr-verify: the worked example of docs/FORMAT.md verifies clean (issue 11 bug 5)" {
    run "$WR_BIN/wr-verify" --all-checkpoints "$BATS_TEST_DIRNAME/../../testdata/worked-example.wr"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-dump" --extents "$BATS_TEST_DIRNAME/../../testdata/worked-example.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"discard  offset 1024"*"gen 3"* ]]
}

@test "a missing wr.catalog beside tree files is damage like a zeroed one: verify exit 1, each file checked, the salvage command; dump, compact and load say so too; proven debris alone stays 'not a database' (review4 #13)" {
    make_db
    rm "$TMP/db/wr.catalog"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"wr.catalog: page 0: byte 0: catalog: $TMP/db/wr.catalog: missing, in a directory holding 3 tree files no interrupted run left (people.idx.age.wr, ...): the database's catalog is lost"* ]]
    [[ "$output" == *"people.main.wr: main table"*"clean"* ]]
    [[ "$output" == *"wr-salvage '$TMP/db' '$TMP/db.salvaged'"* ]]
    run_json "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$status" -eq 1 ]
    [ "$(jq -r .paths[0].status <<<"$output")" = damaged ]
    run "$WR_BIN/wr-dump" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"catalog is lost"* ]]
    printf '{"_id": "new"}\n' > "$TMP/one.jsonl"
    sum=$(cat "$TMP/db"/*.wr | md5sum)
    for cmd in "wr-compact $TMP/db" "wr-load $TMP/db people $TMP/one.jsonl"; do
        run $WR_BIN/$cmd
        [ "$status" -eq 1 ] || { echo "$cmd: $status $output"; false; }
        [[ "$output" == *"catalog is lost"*"wr-salvage"* ]]
        [ "$(cat "$TMP/db"/*.wr | md5sum)" = "$sum" ] && [ ! -e "$TMP/db/wr.catalog" ]
    done
    run "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/s"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/s" | wc -l)" -eq 600 ]
    # a tree file an interrupted first run left (empty, never committed)
    # makes no database: exit 3, and wr-load creates one over it
    mkdir "$TMP/fresh"
    : > "$TMP/fresh/c.main.wr"
    run "$WR_BIN/wr-verify" "$TMP/fresh"
    [ "$status" -eq 3 ]
    [[ "$output" == *"not a wrtools database"* ]]
    "$WR_BIN/wr-load" -q "$TMP/fresh" c "$TMP/one.jsonl"
    run "$WR_BIN/wr-verify" -q "$TMP/fresh"
    [ "$status" -eq 0 ]
}

@test "wr-verify: a flipped bit in the catalog's version field is damage, exit 1 (issue 11 bug 1)" {
    make_db
    python3 - "$TMP/db/wr.catalog" <<'EOF'
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(12); b = f.read(1); f.seek(12); f.write(bytes([b[0] ^ 0x04]))
EOF
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"wr.catalog: page 0: byte 0: catalog: "*"CRC mismatch"* ]]
    [[ "$output" != *"format version 5"* ]]
    run "$WR_BIN/wr-dump" "$TMP/db"
    [ "$status" -eq 1 ]
}

@test "wr-verify: --max-problems limits the lines, counts them all" {
    make_db
    local f="$TMP/db/people.main.wr"
    for n in 1 3 5 7 9; do
        python3 "$DAMAGE" flip "$f" $(( $(page_of "$f" leaf $n) + 100 )) 0
    done
    run "$WR_BIN/wr-verify" --max-problems 2 -q "$f"
    [ "$status" -eq 1 ]
    [ "$(grep -c ': checksum: ' <<<"$output")" -eq 2 ]
    [[ "$output" == *"3 more problems not listed"* ]]
}

@test "a tree file the catalog does not name is an orphan finding (exit 1, no salvage command: the database is intact); an empty one is proven debris, a note (exit 0)" {
    make_db
    cp "$TMP/db/people.main.wr" "$TMP/db/ghost.main.wr"
    : > "$TMP/db/empty.idx.x.wr"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$TMP/db/ghost.main.wr: page 0: byte 0: orphan: a tree file the catalog does not name"* ]]
    [[ "$output" == *"$TMP/db/empty.idx.x.wr: debris of a run that stopped before it committed"* ]]
    [ "$(grep -c ': orphan:' <<<"$output")" -eq 1 ]
    [[ "$output" != *"wr-salvage"* ]]
    run_json "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$status" -eq 1 ]
    [ "$(jq -r '[.paths[0].problems[] | select(.check == "orphan")] | length' <<<"$output")" -eq 1 ]
    [ "$(jq -r '.paths[0].debris | length' <<<"$output")" -eq 1 ]
    [ "$(jq -r '.paths[0].salvage_command' <<<"$output")" = null ]
    # the files the catalog names are still checked, and clean
    [ "$(jq -r '[.paths[0].files[] | select(.status != "clean")] | length' <<<"$output")" -eq 0 ]
    rm "$TMP/db/ghost.main.wr"
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    rm "$TMP/db/empty.idx.x.wr"
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" != *"debris"* ]]
}


@test "wr-verify: damage.py finds slot 1 of a compacted file whose slot 0 is all zero" {
    compacted_db "$TMP/db"
    local f="$TMP/db/c.main.wr" leaf
    leaf=$(page_of "$f" leaf 0)
    python3 "$DAMAGE" flip "$f" $((leaf + 40))
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"c.main.wr: page $leaf: byte $leaf: checksum: "* ]]
}

@test "wr-verify: keys swapped inside a compacted long leaf (64 KiB, split values beside small ones): one ordering finding in that leaf" {
    python3 -c "
import json
for i in range(3000):
    print(json.dumps({'_id': i, 'pad': 'x' * (9000 if i % 50 == 0 else i % 90)}))" >"$TMP/in.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    "$WR_BIN/wr-compact" -q "$TMP/db"
    local f="$TMP/db/c.main.wr" page
    page=$(python3 "$DAMAGE" swapkeys "$f")
    [ "$(python3 "$DAMAGE" info "$f" | jq '.page_size')" -eq 4096 ]
    [ "$(od -An -tu4 -j $((page + 12)) -N4 "$f" | tr -d ' ')" -gt 4096 ]
    run "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$status" -eq 1 ]
    [ "$(jq -c '[.paths[0].problems[] | [.check, .page]]' <<<"$output")" = "[[\"ordering\",$page]]" ]
}

# split_value_damage DB: a bad byte in the first split value's tail (in
# DB) and in its run (in a copy, DB.2): each found as a document problem
# named where the byte lies, the leaf and the byte's place in it for the
# tail (it was named past the end of the run: the run's offset plus the
# byte's in the value), the run and the byte in it for the run; leaves
# $page, $byte and $output of the run's case
split_value_damage() {
    cp -r "$1" "$1.2"
    read -r page byte < <(python3 "$DAMAGE" splitbyte "$1/c.main.wr" tail 5)
    [ "$(python3 "$DAMAGE" info "$1/c.main.wr" |
         jq --argjson p "$page" '[.pages[] | select(.[1] == $p)][0][0]')" = '"leaf"' ]
    run_json "$WR_BIN/wr-verify" --json "$1"
    [ "$status" -eq 1 ]
    [ "$(jq -c '[.paths[0].problems[] | [.check, .page, .offset]]' <<<"$output")" = "[[\"document\",$page,$byte]]" ]
    read -r page byte < <(python3 "$DAMAGE" splitbyte "$1.2/c.main.wr" run 100)
    [ "$(python3 "$DAMAGE" info "$1.2/c.main.wr" |
         jq --argjson p "$page" '[.pages[] | select(.[1] == $p)][0][0]')" = '"overflow"' ]
    run "$WR_BIN/wr-verify" "$1.2"
    [ "$status" -eq 1 ]
    [[ "$output" == *"c.main.wr: page $page: byte $byte: document: "* ]]
}

@test "wr-verify: a bad byte of a split value names the leaf for one in its tail, the run for one in its run" {
    compacted_db "$TMP/db"
    local page byte
    split_value_damage "$TMP/db"
    [[ "$output" == *"c.main.wr: page $page: byte $byte: document: document of key 0 is not valid BSON (byte 100: invalid UTF-8 lead byte"* ]]
}

@test "wr-verify: documents wr-load splits (5-10 KiB: whole blocks in a run, the tail in the leaf, format 3) verify clean, updated; a bad byte in a tail names the leaf, in a run the run" {
    python3 -c "
import json
for i in range(120):
    print(json.dumps({'_id': i, 'pad': 'x' * (5000 + 41 * i)}))" >"$TMP/in.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/in.jsonl"
    # every third replaced by a longer one: its run freed, a new one written
    python3 -c "
import json
for i in range(0, 120, 3):
    print(json.dumps({'_id': i, 'pad': 'x' * (6000 + 53 * i)}))" | "$WR_BIN/wr-load" -q "$TMP/db" c -
    local f="$TMP/db/c.main.wr" page byte
    run_json "$WR_BIN/wr-dump" --json --stats "$f"
    [ "$(jq '.files[0].stats.overflow.tails' <<<"$output")" -eq 120 ]
    [ "$(jq '.files[0].stats.overflow.packed' <<<"$output")" -eq 0 ]
    run_json "$WR_BIN/wr-dump" --json "$f"
    [ "$(jq '[.files[0].slots[] | select(.chosen)][0].version' <<<"$output")" -eq 3 ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    split_value_damage "$TMP/db"
}

@test "wr-verify: documents wr-load packed whole in long leaves (format 4) verify clean, updated, and their damage is found" {
    # 1-3 KiB documents: longer than fits inline, shorter than a 4 KiB
    # page, so the engine packs them (docs/FORMAT.md "Packed values")
    awk 'BEGIN { for (i = 0; i < 400; i++) { s = sprintf("%" (1000 + (i * 37) % 2900) "s", "")
        gsub(/ /, "p", s); printf "{\"_id\": %d, \"k\": %d, \"pad\": \"%s\"}\n", i, i % 9, s } }' \
        > "$TMP/p.jsonl"
    "$WR_BIN/wr-load" -q --index k "$TMP/db" c "$TMP/p.jsonl"
    awk 'NR % 5 == 0 { sub(/"pad": "p/, "\"pad\": \"q"); print }' "$TMP/p.jsonl" > "$TMP/u.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/u.jsonl"
    local f="$TMP/db/c.main.wr" page how
    run "$WR_BIN/wr-dump" --json --stats "$f"
    [ "$status" -eq 0 ]
    [ "$(jq '.files[0].stats.overflow.packed' <<<"$output")" -eq 400 ]
    [ "$(jq '.files[0].stats.overflow.values' <<<"$output")" -eq 0 ]
    run "$WR_BIN/wr-dump" --json "$f"
    [ "$(jq '[.files[0].slots[] | select(.chosen)][0].version' <<<"$output")" -eq 4 ]
    [ "$(jq '[.files[0].slots[] | select(.chosen | not)][0].version' <<<"$output")" -eq 4 ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    for how in idchange baddoc swapkeys; do
        rm -rf "$TMP/d" && cp -r "$TMP/db" "$TMP/d"
        page=$(python3 "$DAMAGE" "$how" "$TMP/d/c.main.wr")
        run "$WR_BIN/wr-verify" "$TMP/d"
        echo "$how: $output"
        [ "$status" -eq 1 ]
        [[ "$output" == *"c.main.wr: page $page: byte "* ]]
        [[ "$output" != *": checksum: "* ]]
    done
    rm -rf "$TMP/d" && cp -r "$TMP/db" "$TMP/d"
    page=$(page_of "$TMP/d/c.main.wr" leaf 2)
    python3 "$DAMAGE" flip "$TMP/d/c.main.wr" $((page + 5000))
    run "$WR_BIN/wr-verify" "$TMP/d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"c.main.wr: page $page: byte $page: checksum: "* ]]
}

# A tree file shrinking while wr-verify reads it (another process
# truncating it without the directory's lock; shrink_shim.c truncates it
# to a quarter before the third pread of it): the file was whole when
# opened, so what the reads found is no damage of it: exit 3 naming the
# file and the offset, no problem reported. Verified again, the file is
# shorter than its checkpoint from the start: damage, exit 1.
@test "a file shrinking while wr-verify reads it: exit 3, not damage" {
    shrink_setup
    WR_SHRINK_READ=3 shrink_run "$WR_BIN/wr-verify" --json "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"c.main.wr: the file changed or shrank while it was read (a read at offset "*" found it shorter than the $sz bytes it had when opened"* ]]
    local obj
    obj=$(grep '^{' <<<"$output")
    [ "$(jq -r .exit <<<"$obj")" = 3 ]
    [ "$(jq -r .error.code <<<"$obj")" = WR_EIO ]
    [ "$(jq '[.problems // [] | .[]] | length' <<<"$obj")" = 0 ]
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"truncated"* ]]
}
