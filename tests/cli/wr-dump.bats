#!/usr/bin/env bats
# wr-dump: every mode on databases built with wr-load, the corpora round
# trips through wr-dump --docs and wr-load, and damaged files.

load helpers
bats_require_minimum_version 1.5.0

# flip FILE OFFSET: xor one byte with 0x5a
flip() {
    python3 - "$1" "$2" <<'EOF'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x5a]))
EOF
}

# A 512-byte-page database: people (1000 documents, index on age), then
# every fourth document deleted in a second run. Built once per file;
# make_db gives each test its own copy in $TMP/db (and $TMP/in.jsonl).
setup_file() {
    local base="$BATS_FILE_TMPDIR/base"
    mkdir -p "$base"
    make_jsonl "$base/in.jsonl" 1000
    "$WR_BIN/wr-load" -q --page-size 512 --index age "$base/db" people \
        "$base/in.jsonl"
    awk 'NR % 4 == 1 { printf "{\"_id\": %d, \"$deleted\": true}\n", NR - 1 }' \
        "$base/in.jsonl" > "$base/del.jsonl"
    "$WR_BIN/wr-load" -q "$base/db" people "$base/del.jsonl"
}

make_db() {
    cp -r "$BATS_FILE_TMPDIR/base/db" "$TMP/db"
    cp "$BATS_FILE_TMPDIR/base/in.jsonl" "$TMP/in.jsonl"
}

# first leaf page offset of a tree file
first_leaf() {
    "$WR_BIN/wr-dump" --tree "$1" | awk '/level 0  page / {
        for (i = 1; i <= NF; i++) if ($i == "page") { print $(i + 1); exit } }'
}

@test "wr-dump --help lists every mode and the exit codes, exits 0" {
    run "$WR_BIN/wr-dump" --help
    [ "$status" -eq 0 ]
    for opt in --page --hex --extents --tree --docs --canonical --relaxed \
        --checkpoint --collection --json; do
        [[ "$output" == *"$opt"* ]]
    done
    [[ "$output" == *"Exit status"* ]]
}

@test "wr-dump --version names tool, library and format" {
    run "$WR_BIN/wr-dump" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"wr-dump"*"libwr"*"format 4"* ]]
}

@test "wr-dump usage errors exit 2 with one line and a hint" {
    run "$WR_BIN/wr-dump"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--help"* ]]
    run "$WR_BIN/wr-dump" --tree --extents x
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-dump" --hex x
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-dump" --docs --json x
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-dump" --checkpoint oldest x
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-dump" --page 12abc x
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-dump" --docs --canonical --relaxed x
    [ "$status" -eq 2 ]
}

@test "wr-dump --page between page boundaries is a usage error naming the nearest pages (issue 11 bug 6)" {
    make_db
    f="$TMP/db/people.main.wr"
    leaf=$(first_leaf "$f")
    run "$WR_BIN/wr-dump" --page "$leaf" "$f"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-dump" --page $((leaf + 24)) "$f"
    [ "$status" -eq 2 ]
    [[ "$output" == *"offset $((leaf + 24)) is not a page boundary (page size 512): the nearest pages are at $leaf and $((leaf + 512))"* ]]
    [[ "$output" != *"!!"* ]]
    run --separate-stderr "$WR_BIN/wr-dump" --json --page $((leaf + 1)) "$f"
    [ "$status" -eq 2 ]
    echo "$output" | jq -e '.status == "error"'
}

# page_len FILE OFF: the size field of the page header at OFF
page_len() { od -An -tu4 -j $(($2 + 12)) -N4 "$1" | tr -d ' '; }

# inner_page_error FILE START SIZE WHAT: --page at the second and the last
# block of the page at START (SIZE bytes, a WHAT), and at offsets between
# page boundaries inside it (in its first block, an inner one, its last
# byte: their nearest boundaries are blocks inside it, or its start), is a
# usage error naming its start, in text and JSON, no damage; the start
# itself dumps clean.
inner_page_error() {
    local f=$1 start=$2 size=$3 what=$4 P=512 inner
    [ "$size" -gt $((2 * P)) ]
    run --separate-stderr "$WR_BIN/wr-dump" --page "$start" "$f"
    [ "$status" -eq 0 ]
    [[ "$output" == *"checksum: stored"*"over $size bytes: holds"* ]]
    [[ "$output$stderr" != *"!!"* ]]
    for inner in $((start + P)) $((start + size - P)) $((start + 100)) \
                 $((start + P + 7)) $((start + size - 1)); do
        run --separate-stderr "$WR_BIN/wr-dump" --page "$inner" "$f"
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"$f: offset $inner is inside the $what at $start ($size bytes): try --page $start"* ]]
        [[ "$stderr" != *"nearest page"* ]]
        [[ "$output$stderr" != *"!!"* ]]
        run --separate-stderr "$WR_BIN/wr-dump" --json --page "$inner" "$f"
        [ "$status" -eq 2 ]
        jq -e --arg m "offset $inner is inside the $what at $start ($size bytes): try --page $start" \
            '.status == "error" and .exit == 2 and .findings == 0 and
             .error.code == "WR_EINVAL" and (.error.message | endswith($m))' <<<"$output"
    done
}

@test "wr-dump --page at an inner block of an overflow run, or between boundaries inside it, is a usage error naming the run's start; a damaged run's inner block too; behind a damaged leaf the block is decoded as it is (review4 #6)" {
    python3 -c "
import json
for i in range(8):
    print(json.dumps({'_id': i, 'body': 'z' * (3000 + 100 * i)}))" >"$TMP/big.jsonl"
    "$WR_BIN/wr-load" -q --page-size 512 "$TMP/db" c "$TMP/big.jsonl"
    "$WR_BIN/wr-verify" -q "$TMP/db"
    f=$TMP/db/c.main.wr
    local run size leaf
    run=$(DAMAGE page "$f" overflow 3)
    size=$(page_len "$f" "$run")
    inner_page_error "$f" "$run" "$size" "overflow run"
    # the map's tooltip of an inner block names the run's start
    "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$f"
    grep -q "<title>block $((run + 512)) (+512): overflow run at $run</title>" "$TMP/m.svg"
    grep -q "<title>block $((run + size - 512)) (+512): overflow run at $run</title>" "$TMP/m.svg"
    # a damaged run: its inner blocks are still the run's (its own
    # --page shows the damage), never damage of a page of their own
    cp "$f" "$TMP/c.main.wr.orig"
    flip "$f" $((run + 600))
    run "$WR_BIN/wr-dump" --page "$run" "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"!! page $run: byte $run: checksum"* ]]
    run --separate-stderr "$WR_BIN/wr-dump" --page $((run + 512)) "$f"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"offset $((run + 512)) is inside the overflow run at $run ($size bytes)"* ]]
    run --separate-stderr "$WR_BIN/wr-dump" --page $((run + 515)) "$f"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"offset $((run + 515)) is inside the overflow run at $run ($size bytes): try --page $run"* ]]
    # the leaf that holds the run's address damaged: the tree does not
    # say, and the block is decoded as it is, its damage marked
    cp "$TMP/c.main.wr.orig" "$f"
    leaf=$(DAMAGE page "$f" leaf 0)
    flip "$f" $((leaf + 40))
    run "$WR_BIN/wr-dump" --page $((run + 512)) "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"page $((run + 512)) (512 bytes read, page size 512)"* ]]
    [[ "$output" == *"!! page $((run + 512)): byte $((run + 512)): checksum"* ]]
}

@test "wr-dump --page at an inner block of a long leaf, or between boundaries inside it, is a usage error naming the leaf's start (review4 #6)" {
    long_leaves_db "$TMP/db"
    f=$TMP/db/c.main.wr
    local leaf size
    leaf=$(DAMAGE page "$f" leaf 0)
    size=$(page_len "$f" "$leaf")
    inner_page_error "$f" "$leaf" "$size" "leaf"
    "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$f"
    grep -q "<title>block $((leaf + 512)) (+512): leaf at $leaf</title>" "$TMP/m.svg"
}

@test "wr-dump --page of a split value's run (format 3) is no damage: its tail is in the leaf" {
    compacted_db "$TMP/db"
    local f="$TMP/db/c.main.wr" run vlen tlen
    read -r run vlen tlen < <(python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import damage
t = damage.Tree(sys.argv[2])
c = [c for k, o, _ in t.walk() if k == "leaf" for c in t.cells(o) if "tail" in c][0]
print(c["ovf"][0], c["vlen"], c["tlen"])' "$BATS_TEST_DIRNAME" "$f")
    run "$WR_BIN/wr-dump" --page "$run" "$f"
    [ "$status" -eq 0 ]
    [[ "$output" != *"!!"* ]]
    [[ "$output" == *"the first $((vlen - tlen)) bytes of a $vlen-byte value whose last $tlen bytes are a tail in its leaf cell"* ]]
    run --separate-stderr "$WR_BIN/wr-dump" --json --page "$run" "$f"
    [ "$status" -eq 0 ]
    jq -e --argjson v "$vlen" '.status == "ok" and .page.split_value_length == $v' <<<"$output"
}

@test "wr-dump on a missing path exits 3" {
    run "$WR_BIN/wr-dump" "$TMP/nothing"
    [ "$status" -eq 3 ]
    [[ "$output" == "wr-dump: "* ]]
}

@test "wr-dump summary of a database: catalog, slots, role, counts, bytes" {
    make_db
    run "$WR_BIN/wr-dump" "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *"catalog generation 2"* ]]
    [[ "$output" == *"collection \"people\": people.main.wr gen"* ]]
    [[ "$output" == *"index on \"age\": people.idx.age.wr"* ]]
    [[ "$output" == *"slot 0 (offset 0): valid, gen"* ]]
    [[ "$output" == *"slot 1 (offset 512): valid, gen"* ]]
    [[ "$output" == *"<- chosen"* ]]
    [[ "$output" == *"page size 512"* ]]
    [[ "$output" == *"main table of collection \"people\""* ]]
    [[ "$output" == *"index on \"age\" of collection \"people\""* ]]
    [[ "$output" == *"height "*" internal, "*" leaf, "*" overflow"* ]]
    [[ "$output" == *"keys 750 (slot says 750)"* ]]
    [[ "$output" == *"live bytes"*"fill factor"* ]]
    [[ "$output" == *"free bytes"*"avail"*"discard"* ]]
    [[ "$output" != *"!!"* ]]
}

@test "wr-dump summary of a lone tree file" {
    make_db
    run "$WR_BIN/wr-dump" "$TMP/db/people.idx.age.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"index on \"age\" of collection \"people\""* ]]
    [[ "$output" == *"keys 750"* ]]
    [[ "$output" != *"catalog"* ]]
}

@test "wr-dump --json: one object for summary, page, extents and tree" {
    make_db
    run "$WR_BIN/wr-dump" --json "$TMP/db"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    echo "$output" | jq -e '.tool == "wr-dump" and .status == "ok"'
    echo "$output" | jq -e '.database.catalog_generation == 2'
    echo "$output" | jq -e '.files | length == 2'
    echo "$output" | jq -e '.files[0].keys == 750 and .files[0].role == "main"'
    echo "$output" | jq -e '.files[0].fill_factor > 0 and .files[0].free_bytes > 0'
    echo "$output" | jq -e '.files[0].pages.leaf > 1 and .files[0].height >= 2'
    root=$(echo "$output" | jq '.files[0].slots[] | select(.chosen) | .root.offset')
    run "$WR_BIN/wr-dump" --json --page "$root" "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.page.type == "internal" and .page.checksum_ok'
    echo "$output" | jq -e '.page.slots | length > 1'
    run "$WR_BIN/wr-dump" --json --extents "$TMP/db"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.files[0].totals.free_bytes > 0'
    run "$WR_BIN/wr-dump" --json --tree "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.files[0].tree[0].depth == 0'
    echo "$output" | jq -e '[.files[0].tree[] | select(.type == "leaf")] | length > 1'
}

@test "wr-dump --page of the root: header, slots, keys, checksum; hex and 0x" {
    make_db
    root=$("$WR_BIN/wr-dump" --json "$TMP/db/people.main.wr" |
        jq '.files[0].slots[] | select(.chosen) | .root.offset')
    run "$WR_BIN/wr-dump" --page "$root" "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"page $root ("*"header: type 2 (internal)"* ]]
    [[ "$output" == *"checksum: stored 0x"*"holds"* ]]
    [[ "$output" == *"root address expects crc"*"matches"* ]]
    [[ "$output" == *"slot 0: cell at"*"key (none: first child), child"* ]]
    [[ "$output" == *"slot 1: cell at"*"key "* ]]
    [[ "$output" == *"free space: "* ]]
    hexroot=$(printf '0x%x' "$root")
    run "$WR_BIN/wr-dump" --page "$hexroot" --hex "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"page $root ("* ]]
    [[ "$output" == *"  000000  "*"|"* ]]
    leaf=$(first_leaf "$TMP/db/people.main.wr")
    run "$WR_BIN/wr-dump" --page "$leaf" "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"type 1 (leaf)"* ]]
    [[ "$output" == *'value: { "_id" : 1, "name" : "user1"'* ]]
    run "$WR_BIN/wr-dump" --page 0 "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"checkpoint slot 0"* ]]
}

@test "wr-dump --page marks damage inside the page with wr-verify's line: keys out of order, an _id that differs from its key, invalid BSON (issue review2 #8)" {
    for kind in swapkeys idchange baddoc; do
        rm -rf "$TMP/db" "$TMP/in.jsonl"
        make_db
        f="$TMP/db/people.main.wr"
        leaf=$(DAMAGE "$kind" "$f")
        vline=$("$WR_BIN/wr-verify" -q "$f" | grep -m1 " page $leaf: ")
        echo "$kind: verify: $vline"
        [[ "$vline" == *": ordering: "* || "$vline" == *": document: "* ]]
        run --separate-stderr "$WR_BIN/wr-dump" --page "$leaf" "$f"
        echo "$output" | grep '!!' || true
        [ "$status" -eq 1 ]
        # the same place, check and detail as wr-verify's line
        [[ "$output" == *"!! ${vline#"$f": }"* ]]
        run --separate-stderr "$WR_BIN/wr-dump" --json --page "$leaf" "$f"
        [ "$status" -eq 1 ]
        [ "$(jq -r '.damage[0].page' <<<"$output")" = "$leaf" ]
    done
    # an intact leaf: no mark
    rm -rf "$TMP/db" "$TMP/in.jsonl"
    make_db
    run "$WR_BIN/wr-dump" --page "$leaf" "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" != *"!!"* ]]
}

@test "wr-dump --page prints double keys as the documents are printed (36.569, not libbson's 36.569000000000002615)" {
    printf '%s\n' '{"_id": 36.569, "v": 36.569}' '{"_id": 0.1, "v": 2}' |
        "$WR_BIN/wr-load" -q --index v "$TMP/db" c
    leaf=$(first_leaf "$TMP/db/c.main.wr")
    run "$WR_BIN/wr-dump" --page "$leaf" "$TMP/db/c.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"key 36.569, value"* ]]
    [[ "$output" == *"key 0.1, value"* ]]
    [[ "$output" == *'value: { "_id" : 36.569, "v" : 36.569 }'* ]]
    [[ "$output" != *"36.5690000"* ]]
    leaf=$(first_leaf "$TMP/db/c.idx.v.wr")
    run "$WR_BIN/wr-dump" --page "$leaf" "$TMP/db/c.idx.v.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"key [ 36.569, 36.569 ]"* ]]
}

@test "wr-dump --page on a directory or past the end is a usage error" {
    make_db
    run "$WR_BIN/wr-dump" --page 1024 "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"needs one tree file"* ]]
    run "$WR_BIN/wr-dump" --page 0x40000000 "$TMP/db/people.main.wr"
    [ "$status" -eq 2 ]
    [[ "$output" == *"past the end"* ]]
}

@test "wr-dump --extents after deletes: avail and discard lists and totals" {
    make_db
    run "$WR_BIN/wr-dump" --extents "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"extent lists of gen"* ]]
    [[ "$output" == *"list page "*" entries, next "* ]]
    [[ "$output" =~ (avail|discard)\ +offset\ [0-9]+\ +size\ [0-9]+ ]]
    [[ "$output" == *"totals: "*" list pages; avail "*" discard "*"free "* ]]
}

@test "wr-dump --tree: one line per page, leaves at the deepest level" {
    make_db
    run "$WR_BIN/wr-dump" --tree "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    pages=$(printf '%s\n' "$output" | grep -c '  page ')
    want=$("$WR_BIN/wr-dump" --json "$TMP/db/people.main.wr" |
        jq '.files[0].pages.leaf + .files[0].pages.internal')
    [ "$pages" -eq "$want" ]
    [[ "$output" == *"level 0  page "*" leaf  "*" items  keys 1 .. "* ]]
    [[ "$output" == *" internal  "*" children  separators "* ]]
}

@test "wr-dump --checkpoint previous shows the snapshot before the deletes" {
    make_db
    run "$WR_BIN/wr-dump" --checkpoint previous "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *"keys 1000 (slot says 1000)"* ]]
    n=$("$WR_BIN/wr-dump" --docs --checkpoint previous "$TMP/db" | wc -l)
    [ "$n" -eq 1000 ]
}

@test "wr-dump --docs on several collections needs --collection (exit 2)" {
    make_jsonl "$TMP/a.jsonl" 20
    "$WR_BIN/wr-load" -q "$TMP/db" alpha "$TMP/a.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" beta "$TMP/a.jsonl"
    run "$WR_BIN/wr-dump" --docs "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"2 collections (alpha, beta)"*"--collection"* ]]
    run "$WR_BIN/wr-dump" --docs --collection beta "$TMP/db"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 20 ]
    run "$WR_BIN/wr-dump" --docs --collection gamma "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"no collection \"gamma\""* ]]
    run "$WR_BIN/wr-dump" --collection alpha "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *"alpha.main.wr"* && "$output" != *"beta.main.wr"* ]]
    # a collection the summary does not have: the usage error alone, no
    # header on stdout before it (review2 #13)
    run --separate-stderr "$WR_BIN/wr-dump" --collection gamma "$TMP/db"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [[ "$stderr" == *"no collection \"gamma\""* ]]
    run --separate-stderr "$WR_BIN/wr-dump" --collection gamma --checkpoint previous "$TMP/db"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
}

@test "round trip: the BSON corpus through wr-load and wr-dump --docs --canonical" {
    valid="$WR_CORPORA/bson-corpus/valid.jsonl"
    run "$WR_BIN/wr-load" --json --skip-bad "$TMP/db" corpus "$valid"
    [ "$status" -eq 0 ]
    # all 728 load, the four libbson gets wrong included: the two nested
    # $regex query operators and the two $code strings with an embedded
    # NUL (the reader keeps the NUL where libbson would cut it)
    [ "$(echo "$output" | jq '.bad_lines')" -eq 0 ]
    "$WR_BIN/wr-dump" --docs --canonical "$TMP/db" > "$TMP/dump1.jsonl"
    [ "$(wc -l < "$TMP/dump1.jsonl")" -eq 728 ]
    python3 "$BATS_TEST_DIRNAME/ejson_compare.py" "$valid" "$TMP/dump1.jsonl"
    grep -q '"$code" : "ab\\u0000bab\\u0000babab"' "$TMP/dump1.jsonl"
    # the dump loads again and dumps to the same bytes
    "$WR_BIN/wr-load" -q "$TMP/db2" corpus "$TMP/dump1.jsonl"
    "$WR_BIN/wr-dump" --docs "$TMP/db2" > "$TMP/dump2.jsonl"
    cmp "$TMP/dump1.jsonl" "$TMP/dump2.jsonl"
}

@test "round trip: the treasury data (legacy \$date) through wr-load and wr-dump" {
    real="$WR_CORPORA/real/treasury-yield/yield_historical_in.json"
    run "$WR_BIN/wr-load" --json "$TMP/db" yields "$real"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.inserted == 5193 and .bad_lines == 0'
    "$WR_BIN/wr-dump" --docs --canonical "$TMP/db" > "$TMP/dump1.jsonl"
    [ "$(wc -l < "$TMP/dump1.jsonl")" -eq 5193 ]
    grep -q '"_id" : { "$date" : { "$numberLong" : "631238400000" } }' \
        "$TMP/dump1.jsonl"
    python3 "$BATS_TEST_DIRNAME/ejson_compare.py" "$real" "$TMP/dump1.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db2" yields "$TMP/dump1.jsonl"
    "$WR_BIN/wr-dump" --docs "$TMP/db2" > "$TMP/dump2.jsonl"
    cmp "$TMP/dump1.jsonl" "$TMP/dump2.jsonl"
}

@test "wr-dump --docs | wr-load reproduces the same content (and --relaxed loads)" {
    make_db
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/a.jsonl"
    [ "$(wc -l < "$TMP/a.jsonl")" -eq 750 ]
    "$WR_BIN/wr-dump" --docs "$TMP/db" | "$WR_BIN/wr-load" -q "$TMP/copy" people
    "$WR_BIN/wr-dump" --docs "$TMP/copy" > "$TMP/b.jsonl"
    cmp "$TMP/a.jsonl" "$TMP/b.jsonl"
    # the index file dumps its entries in key order
    run "$WR_BIN/wr-dump" --docs "$TMP/db/people.idx.age.wr"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 750 ]
    [[ "${lines[0]}" == '{ "key" : { "$numberInt" : "0" }, "_id" : '* ]]
    "$WR_BIN/wr-dump" --docs --relaxed "$TMP/db" > "$TMP/r.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/rel" people "$TMP/r.jsonl"
    python3 "$BATS_TEST_DIRNAME/ejson_compare.py" "$TMP/in.jsonl" "$TMP/r.jsonl" \
        --max-missing 250
}

@test "wr-dump --docs: on one core (taskset) the same bytes as on two; to a full disk exit 3, naming it" {
    # the corpus and 30,000 documents with doubles and escapes: many of
    # the writer's batches, formatted on a second thread when there are
    # two cores, on the walk's thread when there is one
    "$WR_BIN/wr-load" -q --skip-bad "$TMP/db" c "$WR_CORPORA/bson-corpus/valid.jsonl"
    awk 'BEGIN { for (i = 1000; i < 31000; i++)
        printf "{\"_id\": %d, \"s\": \"a\\\"b\\\\c\\td%d\", \"x\": %d.%02d, \"g\": [%d.25, -0.%04d]}\n", i, i, i, i % 100, i % 7, i }' \
        > "$TMP/many.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/many.jsonl"
    for mode in --canonical --relaxed; do
        "$WR_BIN/wr-dump" --docs $mode "$TMP/db" > "$TMP/two.jsonl"
        taskset -c 0 "$WR_BIN/wr-dump" --docs $mode "$TMP/db" > "$TMP/one.jsonl"
        [ "$(wc -l < "$TMP/two.jsonl")" -eq 30728 ]
        [ "$(stat -c %s "$TMP/two.jsonl")" -gt 2000000 ]
        cmp "$TMP/one.jsonl" "$TMP/two.jsonl"
    done
    grep -q '"s" : "a\\"b\\\\c\\td1000", "x" : 1000.0, "g" : \[ 6.25, -0.1 \]' "$TMP/two.jsonl"
    for cores in 0 0,1; do
        run -3 taskset -c $cores sh -c '"$0" --docs "$1" > /dev/full' "$WR_BIN/wr-dump" "$TMP/db"
        [ "$output" = "wr-dump: writing the dump failed: No space left on device" ]
    done
}

@test "a page whose stored CRC is itself damaged: the finding names the stored, computed and address CRCs apart (review2 #13)" {
    make_db
    f="$TMP/db/people.main.wr"
    leaf=$(first_leaf "$f")
    addr_crc=$(printf '0x%08x' "$(python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read(4)
print(struct.unpack("<I", b)[0])' <(dd if="$f" bs=1 skip="$leaf" count=4 status=none))")
    flip "$f" "$leaf" # the stored CRC's first byte
    stored=$(printf '0x%08x' "$(python3 -c '
import struct, sys
print(struct.unpack("<I", open(sys.argv[1], "rb").read(4))[0])' <(dd if="$f" bs=1 skip="$leaf" count=4 status=none))")
    run "$WR_BIN/wr-verify" -q "$f"
    [ "$status" -eq 1 ]
    echo "$output"
    [[ "$output" == *"page $leaf: byte $leaf: checksum: tree page: CRC mismatch: the CRC stored in the page (expected) is not the one its bytes give (found): torn or damaged page; its address expects $addr_crc, not the stored CRC either (expected $stored, found $addr_crc)"* ]]
}

@test "wr-dump on a damaged leaf: prints what decodes, marks !!, exits 1" {
    make_db
    f="$TMP/db/people.main.wr"
    leaf=$(first_leaf "$f")
    flip "$f" $((leaf + 200))
    run "$WR_BIN/wr-dump" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"!! page $leaf: byte $leaf: checksum: tree page: CRC mismatch"*"(expected 0x"*", found 0x"* ]]
    # which CRC is which: expected is the stored one, found the computed
    # one; the address's is named only when it differs (review2 #13)
    [[ "$output" == *"CRC mismatch: the CRC stored in the page (expected) is not the one its bytes give (found): torn or damaged page (expected 0x"* ]]
    [[ "$output" == *"people.idx.age.wr"* ]] # kept going
    [[ "$output" == *"1 damaged place (marked !!)"* ]]
    run "$WR_BIN/wr-dump" --tree "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"!! page $leaf: byte $leaf: checksum: "* ]]
    [[ "$output" == *"(checksum does not hold)"* ]]
    run "$WR_BIN/wr-dump" --page "$leaf" --hex "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"MISMATCH"* && "$output" == *"slot 0: cell at"* ]]
    # documents: stdout stays JSONL, the findings go to stderr
    run --separate-stderr "$WR_BIN/wr-dump" --docs "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"wr-dump: !! $f: page $leaf: byte $leaf: checksum: "* ]]
    [ "${#lines[@]}" -gt 0 ] && [ "${#lines[@]}" -lt 750 ]
    [[ "$output" != *"!!"* ]]
    printf '%s\n' "$output" | jq -e -s 'length > 0'
    run --separate-stderr "$WR_BIN/wr-dump" --json "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"!!"* ]]
    echo "$output" | jq -e '.status == "damaged" and .findings >= 1'
    # a finding has one shape (issue 14): the same as wr-verify's problems
    echo "$output" | jq -e --arg f "$f" --argjson p "$leaf" \
        '.files[0].damage[0] | .file == $f and .page == $p and
         .offset == $p and .check == "checksum" and
         (.detail | test("CRC mismatch")) and (.expected | test("^0x")) and
         (.found | test("^0x"))'
    run "$WR_BIN/wr-dump" -q --tree "$f"
    [ "$status" -eq 1 ]
    [[ "$output" != *"damaged place"* ]]
}

@test "wr-dump on a truncated file and on broken header slots still runs, exits 1" {
    make_db
    f="$TMP/db/people.main.wr"
    size=$(stat -c %s "$f")
    cp "$f" "$TMP/t.wr"
    truncate -s $((size / 2)) "$TMP/t.wr"
    for mode in "" --tree --extents --docs; do
        run "$WR_BIN/wr-dump" $mode "$TMP/t.wr"
        [ "$status" -eq 1 ]
        [[ "$output" == *"!!"* ]]
    done
    run "$WR_BIN/wr-dump" "$TMP/t.wr"
    [[ "$output" == *"truncated"* ]]
    cp "$f" "$TMP/s.wr"
    flip "$TMP/s.wr" 100
    flip "$TMP/s.wr" 612
    run "$WR_BIN/wr-dump" "$TMP/s.wr"
    [ "$status" -eq 1 ]
    [[ "$output" == *"slot 0 (offset 0): rejected: CRC mismatch"* ]]
    [[ "$output" == *"slot 1 (offset 512): rejected: CRC mismatch"* ]]
    [[ "$output" == *"!! page 0: byte 0: header: "*"both checkpoint slots are invalid"* ]]
    run --separate-stderr "$WR_BIN/wr-dump" --json "$TMP/s.wr"
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.files[0].slots[0].valid == false'
}

@test "wr-dump on a file that is not ours exits 3" {
    head -c 5000 /dev/urandom > "$TMP/junk.wr"
    run "$WR_BIN/wr-dump" "$TMP/junk.wr"
    [ "$status" -eq 3 ]
    [[ "$output" == *"not a wrtools tree file"* ]]
    run --separate-stderr "$WR_BIN/wr-dump" --json "$TMP/junk.wr"
    [ "$status" -eq 3 ]
    [ "${#lines[@]}" -eq 1 ]
    echo "$output" | jq -e '.status == "error" and .error.code == "WR_ENOTOURS"'
}

@test "wr-dump --docs streams: memory stays flat as the file grows ten times" {
    command -v /usr/bin/time >/dev/null || skip "no /usr/bin/time"
    for n in 2000 20000; do
        awk -v n=$n 'BEGIN { for (i = 0; i < n; i++)
            printf "{\"_id\": %d, \"pad\": \"%0200d\"}\n", i, i }' > "$TMP/in$n"
        "$WR_BIN/wr-load" -q "$TMP/db$n" c "$TMP/in$n"
        # ASan's quarantine would hold every freed block: turn it off
        ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=0 /usr/bin/time \
            -f '%M' -o "$TMP/rss$n" "$WR_BIN/wr-dump" --docs "$TMP/db$n" \
            > "$TMP/out$n"
        [ "$(wc -l < "$TMP/out$n")" -eq "$n" ]
    done
    small=$(cat "$TMP/rss2000") big=$(cat "$TMP/rss20000")
    echo "max RSS: $small KiB for 2000 documents, $big KiB for 20000"
    [ "$big" -lt $((small * 3 / 2 + 2048)) ]
}

# copy SRC_OFF DST_OFF LEN FILE: copy bytes inside a file (a stale page)
copy_bytes() {
    python3 - "$4" "$1" "$2" "$3" <<'PY'
import sys
p, src, dst, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(p, "r+b") as f:
    f.seek(src)
    b = f.read(n)
    f.seek(dst)
    f.write(b)
PY
}

@test "wr-dump still runs on every kind of damage and marks it" {
    make_db
    # the base's documents are packed whole in their leaf cells (format
    # 4): three longer than a block, for overflow pages to damage
    awk 'BEGIN { s = sprintf("%900s", ""); gsub(/ /, "x", s)
        for (i = 5000; i < 5003; i++) printf "{\"_id\": %d, \"big\": \"%s\"}\n", i, s }' \
        > "$TMP/big.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" people "$TMP/big.jsonl"
    f="$TMP/db/people.main.wr"
    tree=$("$WR_BIN/wr-dump" --json --tree "$f")
    internal=$(echo "$tree" | jq '[.files[0].tree[] | select(.type == "internal")][-1].offset')
    leaf=$(echo "$tree" | jq '[.files[0].tree[] | select(.type == "leaf")][3].offset')
    ovf=""
    for l in $(echo "$tree" | jq '.files[0].tree[] | select(.type == "leaf") | .offset'); do
        ovf=$("$WR_BIN/wr-dump" --json --page "$l" "$f" |
            jq '[.page.slots[] | select(.overflow) | .overflow.offset][0] // empty')
        [ -n "$ovf" ] && break
    done
    [ -n "$ovf" ]
    sum=$("$WR_BIN/wr-dump" --json "$f")
    extlist=$(echo "$sum" | jq '.files[0].slots[] | select(.chosen) | .extent_list.offset')
    root=$(echo "$sum" | jq '.files[0].slots[] | select(.chosen) | .root.offset')
    oldroot=$(echo "$sum" | jq '.files[0].slots[] | select(.chosen | not) | .root.offset')
    [ "$extlist" -gt 0 ] && [ "$oldroot" -gt 0 ] && [ "$oldroot" -ne "$root" ]
    size=$(stat -c %s "$f")
    for damage in internal leaf overflow extlist slot0 slot1 stale truncated; do
        cp "$f" "$TMP/d.wr"
        addr=0
        case $damage in
        internal) addr=$internal; flip "$TMP/d.wr" $((addr + 100)) ;;
        leaf) addr=$leaf; flip "$TMP/d.wr" $((addr + 40)) ;;
        overflow) addr=$ovf; flip "$TMP/d.wr" $((addr + 60)) ;;
        extlist) addr=$extlist; flip "$TMP/d.wr" $((addr + 50)) ;;
        slot0) flip "$TMP/d.wr" 30 ;;
        slot1) addr=512; flip "$TMP/d.wr" 530 ;;
        stale) addr=$root; copy_bytes "$oldroot" "$root" 512 "$TMP/d.wr" ;;
        truncated) truncate -s $((size * 2 / 3)) "$TMP/d.wr" ;;
        esac
        marked=0
        for mode in "" --tree --extents --docs "--page $addr --hex" --json; do

            run "$WR_BIN/wr-dump" $mode "$TMP/d.wr"
            echo "$damage ${mode:-summary}: exit $status"
            [[ "$output" != *Sanitizer* && "$output" != *"runtime error"* ]]
            [ "$status" -eq 0 ] || [ "$status" -eq 1 ]
            if [ "$status" -eq 1 ]; then
                [[ "$output" == *"!!"* ]]
                marked=1
            fi
        done
        [ "$marked" -eq 1 ]
        same_findings "$TMP/d.wr"
    done
    # a zeroed page, and an extent-list page whose header size field
    # disagrees with its address under a good CRC (issue 11 bug 2)
    for damage in zeroed extsize; do
        cp "$f" "$TMP/d.wr"
        case $damage in
        zeroed) dd if=/dev/zero of="$TMP/d.wr" bs=1 seek="$leaf" count=512 \
                    conv=notrunc status=none ;;
        extsize) set_u32_fix_crc "$TMP/d.wr" "$extlist" 12 1024 ;;
        esac
        run "$WR_BIN/wr-dump" --extents "$TMP/d.wr"
        [ "$status" -eq 1 ] || [ "$damage" = zeroed ]
        same_findings "$TMP/d.wr"
    done
    run "$WR_BIN/wr-dump" --extents "$TMP/d.wr"
    [ "$status" -eq 1 ]
    [[ "$output" == *"!! page $extlist: byte $((extlist + 12)): page-structure: extent-list page: header size field disagrees with its address (expected 512, found 1024)"* ]]
}

# set_u32_fix_crc FILE PAGE OFF VALUE: a u32 at PAGE+OFF, the page's CRC
# made to hold again, and the address in the slot that names it too
set_u32_fix_crc() {
    python3 - "$@" <<'EOF'
import struct, sys, zlib
p, page, off, val = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(p, "r+b") as f:
    f.seek(page); b = bytearray(f.read(512))
    b[off:off + 4] = struct.pack("<I", val)
    crc = zlib.crc32(bytes(b[4:])) & 0xffffffff
    b[0:4] = struct.pack("<I", crc)
    f.seek(page); f.write(b)
    for slot in (0, 512):
        f.seek(slot); s = bytearray(f.read(512))
        if s[4:12] != b"WRTREE\r\n":
            continue
        for a in (32, 48):
            if struct.unpack_from("<Q", s, a)[0] == page:
                struct.pack_into("<I", s, a + 12, crc)
        s[0:4] = struct.pack("<I", zlib.crc32(bytes(s[4:])) & 0xffffffff)
        f.seek(slot); f.write(s)
EOF
}

# same_findings FILE: wr-dump and wr-verify name the same file, page, byte
# and check for the same damage (issue 11): the first findings are equal
# and every place dump marks, verify reports.
same_findings() {
    local v d
    v=$("$WR_BIN/wr-verify" --json --max-problems 100000 "$1" || true)
    d=$("$WR_BIN/wr-dump" --json "$1" || true)
    python3 - "$1" "$v" "$d" <<'EOF'
import json, sys
path, v, d = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
vp = [(p["file"], p["page"], p["offset"], p["check"]) for p in v["paths"][0]["problems"]]
dp = [(f["file"], f["page"], f["offset"], f["check"])
      for fl in d.get("files", []) for f in fl["damage"]]
print("verify:", vp[:5], "\ndump:  ", dp[:5])
assert dp, "dump found nothing"
assert vp, "verify found nothing"
assert dp[0] == vp[0], "first findings differ"
missing = [x for x in dp if x not in vp]
assert not missing, "dump marks places verify does not: %r" % missing[:5]
EOF
}

