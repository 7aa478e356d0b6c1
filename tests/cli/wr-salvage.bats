#!/usr/bin/env bats
# wr-salvage: options, exit codes, --json, the damage trials (every class
# wr-verify is tested with; salvage_trials.py checks each document), and
# the crash, power-loss and ENOSPC sweeps of the io layer over the writing
# of DEST.

load helpers

TRIALS="$BATS_TEST_DIRNAME/salvage_trials.py"
DAMAGE="$BATS_TEST_DIRNAME/damage.py"

# 300 documents (helpers.bash template_db: overflow pages, indexes on age
# and tags, two checkpoints), and a collection other.
setup_file() {
    TEMPLATE=$(mktemp -d "${BATS_TMPDIR:-/tmp}/wrsalvage.XXXXXX")
    export TEMPLATE
    template_db "$TEMPLATE" 300
    "$WR_BIN/wr-load" -q "$TEMPLATE/db" other "$TEMPLATE/in.jsonl"
}

teardown_file() {
    [ -n "${TEMPLATE:-}" ] && rm -rf "$TEMPLATE"
}

make_db() { cp -r "$TEMPLATE/db" "$TMP/db"; }

docs() { "$WR_BIN/wr-dump" --docs --collection "$2" "$1"; }

# damage one leaf of the main table of people (3 bits)
damage_leaf() {
    local f="$TMP/db/people.main.wr" off
    off=$(python3 "$DAMAGE" page "$f" leaf "${1:-2}")
    python3 "$DAMAGE" flip "$f" $((off + 100)) >/dev/null
}

@test "wr-salvage --help lists options and exit codes" {
    run "$WR_BIN/wr-salvage" --help
    [ "$status" -eq 0 ]
    for w in --checkpoint --collection --dry-run --json lost+found \
             "Exit status"; do
        [[ "$output" == *"$w"* ]]
    done
    run "$WR_BIN/wr-salvage" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"wr-salvage"*"format 4"* ]]
}

@test "wr-salvage usage errors exit 2" {
    run "$WR_BIN/wr-salvage"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-salvage" "$TMP/a"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-salvage" --checkpoint oldest "$TMP/a" "$TMP/b"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-salvage" --frobnicate "$TMP/a" "$TMP/b"
    [ "$status" -eq 2 ]
}

@test "wr-salvage: a missing SOURCE exits 3 and makes no DEST" {
    run "$WR_BIN/wr-salvage" "$TMP/nothing" "$TMP/out"
    [ "$status" -eq 3 ]
    [[ "$output" == *"nothing"* ]]
    [ ! -e "$TMP/out" ]
}

@test "wr-salvage refuses a DEST that exists and is not empty (exit 2)" {
    make_db
    mkdir "$TMP/out"
    echo keep > "$TMP/out/file"
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
    [ "$status" -eq 2 ]
    [[ "$output" == *"not empty"* ]]
    [ "$(cat "$TMP/out/file")" = keep ]
    rm "$TMP/out/file" # an empty directory is fine
    run "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/out"
    [ "$status" -eq 0 ]
}

@test "wr-salvage: a clean database comes back whole, exit 0, same digests" {
    make_db
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
    [ "$status" -eq 0 ]
    [[ "$output" == *"people: 300 documents recovered of 300"* ]]
    [[ "$output" == *"index on age: rebuilt"* ]]
    [[ "$output" == *"verified clean"* ]]
    run "$WR_BIN/wr-verify" "$TMP/out"
    [ "$status" -eq 0 ]
    [ "$(docs "$TMP/db" people)" = "$(docs "$TMP/out" people)" ]
    [ "$(docs "$TMP/db" other)" = "$(docs "$TMP/out" other)" ]
    a=$("$WR_BIN/wr-verify" --digest "$TMP/db" | grep -o 'digest sha256:[0-9a-f]*' | sort)
    b=$("$WR_BIN/wr-verify" --digest "$TMP/out" | grep -o 'digest sha256:[0-9a-f]*' | sort)
    [ "$(wc -l <<<"$a")" = 2 ]
    [ "$a" = "$b" ]
    [ ! -e "$TMP/out/lost+found" ]
    # nothing left beside DEST
    [ -z "$(ls -A "$TMP" | grep -v '^db$\|^out$')" ]
}

@test "wr-salvage --json: one object with the contract's fields and the numbers" {
    make_db
    damage_leaf 2
    run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/out"
    [ "$status" -eq 1 ]
    [ "$(jq -s length <<<"$output")" = 1 ]
    [ "$(jq -r .tool <<<"$output")" = wr-salvage ]
    [ "$(jq -r .exit <<<"$output")" = 1 ]
    [ "$(jq -r .status <<<"$output")" = lost ]
    [ "$(jq -r .version <<<"$output")" != null ]
    [ "$(jq -r .verified <<<"$output")" = true ]
    people='.collections[] | select(.name == "people")'
    [ "$(jq -r "$people | .expected" <<<"$output")" = 300 ]
    rec=$(jq -r "$people | .recovered" <<<"$output")
    [ "$rec" -lt 300 ] && [ "$rec" -gt 280 ]
    [ "$(jq -r "$people | .lost | length" <<<"$output")" -ge 1 ]
    [ "$(jq -r "$people | .lost[0].what" <<<"$output")" = leaf ]
    [ "$(jq -r "$people | .lost[0].after_key" <<<"$output")" != null ]
    [ "$(jq -r "$people | .generations | length" <<<"$output")" -ge 1 ]
    [ "$(jq -r "$people | .complete" <<<"$output")" = false ]
    [ "$(jq -r '.collections[] | select(.name == "other") | .complete' \
          <<<"$output")" = true ]
    # the damaged leaf's documents went to lost+found with a generation
    lf="$TMP/out/lost+found/people.jsonl"
    [ -s "$lf" ]
    [ "$(head -1 "$lf" | jq -r '.generation["$numberLong"]')" -ge 1 ]
    [ "$(head -1 "$lf" | jq -r '.document._id' )" != null ]
}

@test "wr-salvage --dry-run writes nothing and reports the same numbers" {
    make_db
    damage_leaf 3
    run_json "$WR_BIN/wr-salvage" --json --dry-run "$TMP/db" "$TMP/out"
    [ "$status" -eq 1 ]
    [ ! -e "$TMP/out" ]
    [ -z "$(ls -A "$TMP" | grep -v '^db$')" ]
    dry=$(jq -c '[.collections[] | [.recovered, .lost_and_found]]' <<<"$output")
    run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/out"
    [ "$status" -eq 1 ]
    [ "$(jq -c '[.collections[] | [.recovered, .lost_and_found]]' <<<"$output")" = "$dry" ]
}

@test "wr-salvage --collection: only that one; an unknown one exits 2" {
    make_db
    run "$WR_BIN/wr-salvage" -q --collection other "$TMP/db" "$TMP/out"
    [ "$status" -eq 0 ]
    [ -e "$TMP/out/other.main.wr" ]
    [ ! -e "$TMP/out/people.main.wr" ]
    run "$WR_BIN/wr-salvage" --collection nope "$TMP/db" "$TMP/out2"
    [ "$status" -eq 2 ]
    [ ! -e "$TMP/out2" ]
}

@test "wr-salvage --checkpoint previous: the previous snapshot, whole" {
    make_db
    run "$WR_BIN/wr-salvage" -q --checkpoint previous "$TMP/db" "$TMP/out"
    [ "$status" -eq 0 ]
    [ "$(docs "$TMP/out" people)" = \
      "$("$WR_BIN/wr-dump" --docs --checkpoint previous --collection people "$TMP/db")" ]
}

@test "wr-salvage: the latest checkpoint damaged, the previous one comes back" {
    make_db
    # a new latest checkpoint of people that rewrites every leaf
    "$WR_BIN/wr-load" -q "$TMP/db" people "$TEMPLATE/upd.jsonl"
    damage_leaf 1
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 1 ]
    run "$WR_BIN/wr-verify" -q --checkpoint previous "$TMP/db"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-salvage" -q --checkpoint previous "$TMP/db" "$TMP/out"
    [ "$status" -eq 0 ]
    [ "$(docs "$TMP/out" people)" = \
      "$("$WR_BIN/wr-dump" --docs --checkpoint previous --collection people "$TMP/db")" ]
}

@test "a database whose catalog an older wr-load wrote with a name that is not UTF-8: verify says why and what to run; the whole-database salvage recovers every collection, that one renamed %XX (review4 #4)" {
    make_jsonl "$TMP/in.jsonl" 30
    "$WR_BIN/wr-load" -q "$TMP/db" good "$TMP/in.jsonl"
    coll_renamed_db "$TMP/db" cafX $'caf\xe9'
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not valid BSON (byte "*"UTF-8"*"with its CRC holding: a collection name or index field that is not UTF-8"*"wr-salvage"* ]]
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/s"
    [ "$status" -eq 0 ]
    [[ "$output" == *"collection caf%E9: 1 documents recovered of 1"*"(complete)"*"renamed: its name or an index field is not valid UTF-8 in the source"* ]]
    [[ "$output" == *"collection good: 30 documents recovered of 30"* ]]
    run "$WR_BIN/wr-verify" -q "$TMP/s"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs --collection 'caf%E9' "$TMP/s" | grep -c keep)" -eq 1 ]
    # --json: one object (the catalog note quotes the name: U+FFFD)
    run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/s2"
    [ "$status" -eq 0 ]
    [ "$(jq -r '[.collections[] | .name + ":" + (.recovered|tostring) + ":" + (.renamed|tostring)] | sort | join(",")' <<<"$output")" = "caf%E9:1:true,good:30:false" ]
}

@test "wr-salvage: a name that is not UTF-8 whose %XX form the source also has: refused before DEST is made, naming both and --collection; that one alone is salvaged renamed" {
    printf '{"_id": 1}\n{"_id": 2}\n' > "$TMP/two.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" 'caf%E9' "$TMP/two.jsonl"
    coll_renamed_db "$TMP/db" cafX $'caf\xe9'
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/s"
    echo "$output"
    [ "$status" -eq 3 ]
    [[ "$output" == *"would be salvaged as \"caf%E9\", a name the source has too; salvage it alone (--collection) into another DEST; nothing was written (no DEST)"* ]]
    [[ "$output" != *"documents recovered"* ]]
    [ ! -e "$TMP/s" ]
    run "$WR_BIN/wr-salvage" --collection $'caf\xe9' "$TMP/db" "$TMP/s"
    [ "$status" -eq 0 ]
    [[ "$output" == *"collection caf%E9: 1 documents recovered of 1"*"renamed: "* ]]
    run "$WR_BIN/wr-salvage" --collection 'caf%E9' "$TMP/db" "$TMP/s2"
    [ "$status" -eq 0 ]
    [[ "$output" == *"collection caf%E9: 2 documents recovered of 2"* ]]
    [[ "$output" != *"renamed: "* ]]
}

@test "wr-salvage: a single main-table file; an index file exits 2" {
    make_db
    run "$WR_BIN/wr-salvage" -q "$TMP/db/people.main.wr" "$TMP/out"
    [ "$status" -eq 0 ]
    [ "$(docs "$TMP/out" people)" = "$(docs "$TMP/db" people)" ]
    run "$WR_BIN/wr-salvage" "$TMP/db/people.idx.age.wr" "$TMP/out2"
    [ "$status" -eq 2 ]
    [[ "$output" == *"index file"* ]]
    [ ! -e "$TMP/out2" ]
}

@test "wr-salvage: a file that is not a wrtools file is named, exit 1" {
    mkdir "$TMP/d"
    head -c 100000 /dev/urandom > "$TMP/d/x.main.wr"
    run "$WR_BIN/wr-salvage" "$TMP/d" "$TMP/out"
    [ "$status" -eq 1 ]
    [[ "$output" == *"collection x: 0 documents"* ]]
    [[ "$output" == *"lost: tree"* ]]
    run "$WR_BIN/wr-verify" -q "$TMP/out"
    [ "$status" -eq 0 ]
}

@test "wr-salvage: no catalog and an index whose header slots are gone: the index comes back from the file name" {
    make_db
    rm "$TMP/db/wr.catalog"
    f="$TMP/db/people.idx.age.wr"
    P=$(python3 "$DAMAGE" info "$f" | jq -r .page_size)
    dd if=/dev/zero of="$f" bs=1 seek=0 count=600 conv=notrunc status=none
    dd if=/dev/zero of="$f" bs=1 seek="$P" count=600 conv=notrunc status=none
    run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/out"
    [ "$status" -eq 0 ]
    [ "$(jq -r .catalog <<<"$output")" = rebuilt ]
    [ "$(jq -r '.collections[] | select(.name == "people") | .indexes | sort | join(",")' \
          <<<"$output")" = "age,tags" ]
    [ -e "$TMP/out/people.idx.age.wr" ]
    run "$WR_BIN/wr-verify" -q "$TMP/out"
    [ "$status" -eq 0 ]
}

@test "wr-salvage: a document invalid inside a long leaf whose checksum holds: a loss the leaf's size, the document once in lost+found" {
    # 5,000 small documents on 512-byte pages, compacted: long leaves of
    # many blocks; one document's final NUL changed, every CRC made right
    awk 'BEGIN { for (i = 0; i < 5000; i++) printf "{\"_id\": %d, \"name\": \"user%d\"}\n", i, i }' \
        > "$TMP/in.jsonl"
    "$WR_BIN/wr-load" -q --page-size 512 "$TMP/db" c "$TMP/in.jsonl"
    "$WR_BIN/wr-compact" -q "$TMP/db"
    f="$TMP/db/c.main.wr"
    off=$(python3 "$DAMAGE" baddoc "$f")
    size=$(python3 -c 'import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]) + 12)
    print(struct.unpack("<I", f.read(4))[0])' "$f" "$off")
    [ "$size" -gt 512 ]
    run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/out"
    [ "$status" -eq 1 ]
    c='.collections[0]'
    [ "$(jq -r "$c.recovered" <<<"$output")" = 4999 ]
    [ "$(jq -r "$c.bad_documents" <<<"$output")" = 1 ]
    [ "$(jq -r "$c.lost_and_found" <<<"$output")" = 1 ]
    [ "$(jq -c "[$c.lost[] | [.what, .page, .length, .to_lost_and_found]]" <<<"$output")" = \
      "[[\"document\",$off,$size,1]]" ]
    [ "$(wc -l < "$TMP/out/lost+found/c.jsonl")" -eq 1 ]
    run "$WR_BIN/wr-verify" -q "$TMP/out"
    [ "$status" -eq 0 ]
}

@test "wr-salvage: a leaf holding a key outside its parent's separators: its other documents recovered, the one out of range in lost+found" {
    # the leaf's checksum and its parent's hold: the keys inside the range
    # are the checkpoint's (no other page may hold them); the one outside
    # is in no range of the tree: lost+found, never dropped nor doubled
    local how out page slot n key
    for how in lower upper; do
        rm -rf "$TMP/db" "$TMP/out"
        make_db
        out=$(python3 "$DAMAGE" bounds "$TMP/db/people.main.wr" $how)
        read -r page slot <<<"$out"
        n=$("$WR_BIN/wr-dump" --page "$page" "$TMP/db/people.main.wr" |
            grep -cE '^ +slot [0-9]+: cell at')
        [ "$n" -ge 2 ]
        key=$("$WR_BIN/wr-dump" --page "$page" "$TMP/db/people.main.wr" |
              sed -nE "s/^ +slot $slot: cell at [0-9]+, key ([0-9]+),.*/\1/p")
        [ -n "$key" ]
        run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
        echo "$how: $output"
        [ "$status" -eq 1 ]
        [[ "$output" == *"people: 299 documents recovered of 300"* ]]
        [[ "$output" == *"lost: leaf page [$page, "*": $TMP/db/people.main.wr: page $page: byte $page: ordering: "*"holding keys outside the range its parent gives it"* ]]
        [[ "$output" == *"verified clean"* ]]
        # lost+found: the one document, named by its slot
        [ "$(wc -l < "$TMP/out/lost+found/people.jsonl")" -eq 1 ]
        grep -q "\"why\" : \"slot $slot of the page at $page (generation [0-9]*): its key lies outside the range" \
            "$TMP/out/lost+found/people.jsonl"
        [ "$(jq -r '.document._id["$numberInt"]' "$TMP/out/lost+found/people.jsonl")" = "$key" ]
        # recovered + lost+found = the 300 documents, each once
        { docs "$TMP/out" people | jq -r '._id["$numberInt"]'
          jq -r '.document._id["$numberInt"]' "$TMP/out/lost+found/people.jsonl"; } |
            sort -n > "$TMP/ids"
        [ "$(uniq "$TMP/ids" | wc -l)" -eq 300 ]
        cmp "$TMP/ids" <(seq 0 299)
        run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/out2"
        [ "$status" -eq 1 ]
        [ "$(jq -c "[.collections[] | select(.name == \"people\") | .recovered, .lost_and_found, ([.lost[] | .to_lost_and_found] | add)]" <<<"$output")" = "[299,1,1]" ]
        rm -rf "$TMP/out2"
    done
}

@test "wr-salvage: two intact leaves swapped in place: each found by the CRC its address names, everything back, exit 0" {
    make_db
    f="$TMP/db/people.main.wr"
    a=$(python3 "$DAMAGE" page "$f" leaf 1)
    b=$(python3 "$DAMAGE" page "$f" leaf 4)
    python3 "$DAMAGE" save "$f" "$a" "$TMP/pa"
    python3 "$DAMAGE" save "$f" "$b" "$TMP/pb"
    python3 "$DAMAGE" restore "$f" "$a" "$TMP/pb" >/dev/null
    python3 "$DAMAGE" restore "$f" "$b" "$TMP/pa" >/dev/null
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 1 ]
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"people: 300 documents recovered of 300"* ]]
    [ "$(grep -c "damaged (nothing lost): leaf page \[\($a\|$b\), .*recovered from scanned pages, 0 to lost+found\]" <<<"$output")" -eq 2 ]
    [[ "$output" != *"lost: "* ]]
    # both pages counted damaged (the scan alone finds them intact)
    [[ "$output" == *"pages read "*", damaged 2;"* ]]
    [ "$(docs "$TMP/out" people)" = "$(docs "$TEMPLATE/db" people)" ]
    [ ! -e "$TMP/out/lost+found" ]
}

@test "wr-salvage: a parent names one child twice: the leaf it no longer names, live in the extent lists, comes back" {
    make_db
    python3 "$DAMAGE" twice "$TMP/db/people.main.wr" >/dev/null
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"people: 300 documents recovered of 300"* ]]
    [[ "$output" == *"damaged (nothing lost): leaf page ["*"$TMP/db/people.main.wr: page "*": byte "*": page-structure: tree page "*" is reached twice"*" to lost+found]"* ]]
    [ "$(docs "$TMP/out" people)" = "$(docs "$TEMPLATE/db" people)" ]
    [ ! -e "$TMP/out/lost+found" ]
}

@test "wr-salvage: a flipped bit in an overflow run: the loss names the key, the damaged value goes to lost+found (as the document while it is still BSON, else bsonHex)" {
    python3 -c 'import json
for i in range(3):
    print(json.dumps({"_id": i, "s": "x" * (40000 if i == 1 else 10)}))' > "$TMP/in.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db0" c "$TMP/in.jsonl"
    local at name
    for at in 20000 4; do # inside the string; the document's length prefix
        rm -rf "$TMP/db" "$TMP/out"
        cp -r "$TMP/db0" "$TMP/db"
        f="$TMP/db/c.main.wr"
        off=$(python3 "$DAMAGE" page "$f" overflow 0)
        python3 "$DAMAGE" flip "$f" $((off + 32 + at)) 1 >/dev/null
        run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
        echo "$output"
        [ "$status" -eq 1 ]
        [[ "$output" == *"c: 2 documents recovered of 3 in checkpoint "*", 1 to lost+found"* ]]
        [[ "$output" == *"lost: overflow page [$off, "*"): key 1: "*"CRC mismatch"*"[0 recovered from scanned pages, 1 to lost+found]"* ]]
        lf="$TMP/out/lost+found/c.jsonl"
        [ "$(wc -l < "$lf")" -eq 1 ]
        [ "$(jq -r '.page["$numberLong"]' "$lf")" = "$off" ]
        if [ "$at" = 20000 ]; then
            [ "$(jq -r '.document._id["$numberInt"]' "$lf")" = 1 ]
            [ "$(jq -r '.document.s | length' "$lf")" = 40000 ]
            [ "$(jq -r '.document.s' "$lf" | tr -d x | wc -c)" -eq 2 ] # one char + newline
        else
            [ "$(jq -r 'has("document")' "$lf")" = false ]
            hex=$(jq -r .bsonHex "$lf")
            [ "${#hex}" -gt 80000 ]
        fi
    done
}

@test "wr-salvage: a zeroed leaf is counted damaged, its loss named FILE: page P: byte B as wr-verify names it" {
    make_db
    f="$TMP/db/people.main.wr"
    off=$(python3 "$DAMAGE" page "$f" leaf 2)
    P=$(python3 "$DAMAGE" info "$f" | jq -r .page_size)
    dd if=/dev/zero of="$f" bs=1 seek="$off" count="$P" conv=notrunc status=none
    run "$WR_BIN/wr-verify" "$TMP/db"
    [[ "$output" == *"$f: page $off: byte $off: "* ]]
    run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/out"
    [ "$status" -eq 1 ]
    people='.collections[] | select(.name == "people")'
    [ "$(jq -r "$people | .pages_damaged" <<<"$output")" = 1 ]
    [[ "$(jq -r "$people | .lost[0].why" <<<"$output")" == "$f: page $off: byte $off: "* ]]
    # a leaf that no longer decodes, every CRC made right: the byte named
    # is a file offset inside the page, as wr-verify gives it
    rm -rf "$TMP/db" "$TMP/out"
    make_db
    off=$(python3 "$DAMAGE" page "$f" leaf 2)
    python3 -c 'import struct, sys
sys.path.insert(0, sys.argv[1])
import damage
t = damage.Tree(sys.argv[2])
off = int(sys.argv[3])
struct.pack_into("<H", t.data, off + 32, 7)  # slot 0: a cell inside the header
t.fix(off)
t.save()' "$BATS_TEST_DIRNAME" "$f" "$off"
    want=$("$WR_BIN/wr-verify" "$TMP/db" | grep -o "$f: page $off: byte [0-9]*: page-structure" | head -1)
    [ -n "$want" ]
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"lost: leaf page [$off, "*"): after key "*": $want: "* ]]
    [[ "$output" == *"pages read "*", damaged 1;"* ]]
}

@test "wr-salvage: both header slots gone, everything found: 'could not be confirmed', not 'lost'" {
    make_db
    f="$TMP/db/people.main.wr"
    P=$(python3 "$DAMAGE" info "$f" | jq -r .page_size)
    dd if=/dev/zero of="$f" bs="$P" count=2 conv=notrunc status=none
    run "$WR_BIN/wr-salvage" "$TMP/db" "$TMP/out"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people: 300 documents recovered, 0 to lost+found"* ]]
    [[ "$output" == *"not confirmed: header slot page [0, $((2 * P))): $f: "* ]]
    [[ "$output" != *"lost: header slot"* ]]
    [[ "$output" == *"verified clean, every document found was recovered, but the record count could not be confirmed"* ]]
    [[ "$output" != *"some documents were lost"* ]]
    [ "$(docs "$TMP/out" people)" = "$(docs "$TEMPLATE/db" people)" ]
    rm -rf "$TMP/out"
    run_json "$WR_BIN/wr-salvage" --json "$TMP/db" "$TMP/out"
    [ "$(jq -r '.collections[] | select(.name == "people") | [.complete, .unconfirmed] | map(tostring) | join(",")' <<<"$output")" = "false,true" ]
    [ "$(jq -r '.collections[] | select(.name == "other") | .unconfirmed' <<<"$output")" = false ]
}

@test "wr-salvage: a full disk prints no report of a DEST it did not write" {
    make_db
    damage_leaf 2
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/probe" || true
    ops=$(cat "$TMP/ops")
    rm -rf "$TMP/probe"
    for n in $((ops / 3)) $((ops / 2)); do
        st=0
        WR_IO_FAULT="fail=$n,err=ENOSPC,sticky" "$WR_BIN/wr-salvage" \
            "$TMP/db" "$TMP/out" >"$TMP/stdout" 2>"$TMP/stderr" || st=$?
        cat "$TMP/stdout" "$TMP/stderr"
        [ "$st" -eq 3 ]
        [ ! -e "$TMP/out" ]
        [ ! -s "$TMP/stdout" ]
        grep -q "ENOSPC.*; nothing was written (no DEST)" "$TMP/stderr"
    done
}

@test "wr-salvage damage trials: 0 invented/mixed/stale, undamaged pages recovered, losses named" {
    run timeout 600 python3 "$TRIALS" "$WR_BIN" "$TMP/trials"
    # the recovery rates, per damage class, into the test log
    grep '^# recovery rate' <<<"$output" >&3 || true
    echo "$output" | grep -v '^# .* ok:' | head -60
    [ "$status" -eq 0 ]
    [[ "$output" == *"# trials failed: 0"* ]]
    [ "$(grep -c ' ok: ' <<<"$output")" -ge 30 ]
}

# DEST is either absent or complete and verified, whatever op crashes.
@test "wr-salvage crash sweep: at every mutating op, DEST absent or complete; a rerun finishes" {
    make_db
    damage_leaf 2
    "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/ref" || true
    want=$(docs "$TMP/ref" people)
    rm -rf "$TMP/ref"
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/probe" || true
    ops=$(cat "$TMP/ops")
    rm -rf "$TMP/probe"
    [ "$ops" -gt 10 ]
    step=$(( ops / 60 + 1 ))
    for n in $(seq 1 "$step" "$ops") "$ops"; do
        for tear in "" ",tear=100"; do
            rm -rf "$TMP/out"
            st=0
            WR_IO_FAULT="crash=$n$tear" "$WR_BIN/wr-salvage" -q "$TMP/db" \
                "$TMP/out" >/dev/null 2>&1 || st=$?
            if [ -e "$TMP/out" ]; then
                "$WR_BIN/wr-verify" -q "$TMP/out"
                [ "$(docs "$TMP/out" people)" = "$want" ]
            else
                [ "$st" -eq 86 ]
            fi
            rm -rf "$TMP/out"
            run "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/out"
            [ "$status" -eq 1 ]
            [ "$(docs "$TMP/out" people)" = "$want" ]
            [ -z "$(ls -A "$TMP" | grep -v '^db$\|^out$\|^ops$')" ]
        done
    done
}

# A power loss at any op (every op made since the last fsync of its file
# or directory may be lost, WR_IO_FAULT power=SEED): DEST is either
# absent or complete and verified, and a rerun finishes.
@test "wr-salvage power-loss sweep: DEST absent or complete and verified; a rerun finishes" {
    make_db
    damage_leaf 2
    "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/ref" || true
    want=$(docs "$TMP/ref" people)
    want_lf=$(cat "$TMP/ref/lost+found/people.jsonl")
    [ -n "$want_lf" ]
    rm -rf "$TMP/ref"
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/probe" || true
    ops=$(cat "$TMP/ops")
    rm -rf "$TMP/probe"
    step=$(( ops / 40 + 1 ))
    kept=0
    for n in $(seq 1 "$step" $((ops + 1))) $((ops + 1)); do
        for seed in 0 1 7; do
            rm -rf "$TMP/out"
            st=0
            WR_IO_FAULT="crash=$n,power=$seed" "$WR_BIN/wr-salvage" -q \
                "$TMP/db" "$TMP/out" >/dev/null 2>&1 || st=$?
            [ "$st" -eq 86 ]
            if [ -e "$TMP/out" ]; then
                "$WR_BIN/wr-verify" -q "$TMP/out"
                [ "$(docs "$TMP/out" people)" = "$want" ]
                [ "$(cat "$TMP/out/lost+found/people.jsonl")" = "$want_lf" ]
                kept=$((kept + 1))
            fi
            rm -rf "$TMP/out"
            run "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/out"
            [ "$status" -eq 1 ]
            [ "$(docs "$TMP/out" people)" = "$want" ]
            [ "$(cat "$TMP/out/lost+found/people.jsonl")" = "$want_lf" ]
            [ -z "$(ls -A "$TMP" | grep -v '^db$\|^out$\|^ops$')" ]
        done
    done
    # the power went after the rename too: some runs left DEST
    [ "$kept" -gt 0 ]
}

@test "wr-salvage ENOSPC and EIO sweep: exit 3, no DEST; a rerun finishes" {
    make_db
    WR_IO_STATS="$TMP/ops" WR_IO_TRACE="$TMP/trace" "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/probe"
    ops=$(cat "$TMP/ops")
    release=$(lock_release_ops "$TMP/trace")
    # the last op that is not a lock's release (those are best effort)
    last=$(awk -v r="$release" 'index(r, " " $1 " ") == 0 { n = $1 } END { print n }' "$TMP/trace")
    rm -rf "$TMP/probe"
    step=$(( ops / 25 + 1 ))
    for n in $(seq 1 "$step" "$ops"); do
        for err in ENOSPC EIO; do
            run env WR_IO_FAULT="fail=$n,err=$err" "$WR_BIN/wr-salvage" -q \
                "$TMP/db" "$TMP/out"
            # a lock's release is best effort: the run stands
            want=3
            [[ "$release" != *" $n "* ]] || want=0
            [ "$status" -eq "$want" ]
            [ "$want" -eq 0 ] || [[ "$output" == *"wr-salvage:"* ]]
            # only the last fsync of DEST's directory comes after the
            # rename: then DEST is there, complete and verified
            if [ -e "$TMP/out" ]; then
                "$WR_BIN/wr-verify" -q "$TMP/out"
                rm -rf "$TMP/out"
            fi
            [ -z "$(ls -A "$TMP" | grep -v '^db$\|^ops$\|^trace$')" ]
        done
        run env WR_IO_FAULT="fail=$n,err=ENOSPC,sticky" "$WR_BIN/wr-salvage" \
            -q "$TMP/db" "$TMP/out"
        [ "$n" -gt "$last" ] && want=0 || want=3
        [ "$status" -eq "$want" ]
        [ ! -e "$TMP/out" ] || "$WR_BIN/wr-verify" -q "$TMP/out"
        rm -rf "$TMP/out"
        # every op failing from a release on left SOURCE's LOCK (stale,
        # blocking nobody); the next runs must create it again to number
        # their ops as the probe did
        rm -f "$TMP/db/LOCK"
        run "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/out"
        [ "$status" -eq 0 ]
        rm -rf "$TMP/out"
    done
}

@test "wr-salvage: SIGINT stops cleanly, no DEST, nothing left behind" {
    make_db
    for i in 1 2 3 4 5 6; do cat "$TEMPLATE/in.jsonl"; done |
        awk '{ sub(/"_id": /, "\"_id\": " NR "00000"); print }' > "$TMP/big.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/db" big "$TMP/big.jsonl"
    "$WR_BIN/wr-salvage" -q "$TMP/db" "$TMP/out" &
    pid=$!
    sleep 0.2
    kill -INT $pid 2>/dev/null || true
    st=0
    wait $pid || st=$?
    if [ "$st" -eq 0 ]; then # finished before the signal
        run "$WR_BIN/wr-verify" -q "$TMP/out"
        [ "$status" -eq 0 ]
    else
        [ "$st" -eq 3 ]
        [ ! -e "$TMP/out" ]
    fi
    [ -z "$(ls -A "$TMP" | grep -v '^db$\|^out$\|big.jsonl')" ]
}
