#!/usr/bin/env bats
# wr-dump --map: the SVG block map of a tree file. Well-formed (xmllint),
# as many cells of each kind as the summary and --extents count, damage
# drawn as damage, a coarser scale for a large file.

load helpers
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

DAMAGE() { python3 "$BATS_TEST_DIRNAME/damage.py" "$@"; }

# 512-byte pages, 300 documents (every tenth 3 KB: overflow values), an
# index, then every third document deleted (discarded space)
setup_file() {
    local base="$BATS_FILE_TMPDIR/base"
    mkdir -p "$base"
    python3 - "$base/big.jsonl" "$base/del.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write(json.dumps({"_id": i, "k": i % 7,
                            "pad": "x" * (100 if i % 10 else 3000)}) + "\n")
with open(sys.argv[2], "w") as f:
    for i in range(0, 300, 3):
        f.write(json.dumps({"_id": i, "$deleted": True}) + "\n")
PY
    "$WR_BIN/wr-load" -q --page-size 512 --index k "$base/db" c "$base/big.jsonl"
    "$WR_BIN/wr-load" -q "$base/db" c "$base/del.jsonl"
}

make_db() { cp -r "$BATS_FILE_TMPDIR/base/db" "$TMP/db"; }

# cells KIND FILE: cells of kind KIND (dump_map.c's numbering) in the SVG
cells() { grep -c "class=\"cell\" data-kind=\"$1\"" "$2" || true; }

@test "--map: a well-formed SVG whose cells of each kind match the summary and --extents" {
    make_db
    f=$TMP/db/c.main.wr
    run "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$f"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    xmllint --noout "$TMP/m.svg"
    run_json "$WR_BIN/wr-dump" --json "$f"
    sum=$output
    run_json "$WR_BIN/wr-dump" --json --extents "$f"
    ext=$output
    P=$(jq '.files[0].page_size' <<<"$sum")
    [ "$(cells 1 "$TMP/m.svg")" -eq 2 ]
    [ "$(cells 2 "$TMP/m.svg")" -eq "$(jq '.files[0].pages.internal' <<<"$sum")" ]
    [ "$(cells 3 "$TMP/m.svg")" -eq "$(jq '.files[0].pages.leaf' <<<"$sum")" ]
    [ "$(cells 4 "$TMP/m.svg")" -eq "$(jq ".files[0].overflow_bytes / $P" <<<"$sum")" ]
    [ "$(cells 5 "$TMP/m.svg")" -eq "$(jq '.files[0].pages.extent_list' <<<"$sum")" ]
    [ "$(cells 7 "$TMP/m.svg")" -eq "$(jq ".files[0].totals.discard_bytes / $P" <<<"$ext")" ]
    [ "$(cells 6 "$TMP/m.svg")" -eq "$(jq ".files[0].totals.avail_bytes / $P" <<<"$ext")" ]
    [ "$(cells 10 "$TMP/m.svg")" -eq 0 ]
    # every block is one cell at this size, and the legend counts them
    [ "$(grep -c 'class="cell"' "$TMP/m.svg")" -eq $(( $(stat -c %s "$f") / P )) ]
    grep -q "leaf: $(jq '.files[0].pages.leaf' <<<"$sum")<" "$TMP/m.svg"
    # tooltips: a leaf's address, level, items and first key
    grep -qE '<title>page [0-9]+: leaf, level 0, [0-9]+ items, gen [0-9]+, first key [0-9]+</title>' "$TMP/m.svg"
}

@test "--map: a damaged leaf is drawn damaged, exit 1 with the finding on stderr" {
    make_db
    f=$TMP/db/c.main.wr
    leaf=$(DAMAGE page "$f" leaf 2)
    DAMAGE flip "$f" $((leaf + 40))
    run --separate-stderr "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$f"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"page $leaf"* ]]
    xmllint --noout "$TMP/m.svg"
    [ "$(cells 10 "$TMP/m.svg")" -ge 1 ]
    P=$("$WR_BIN/wr-dump" --json "$f" 2>/dev/null | jq '.files[0].page_size')
    # the damaged leaf's own cell: the (leaf/P)-th cell of the picture
    grep 'class="cell"' "$TMP/m.svg" | sed -n "$((leaf / P + 1))p" | grep -q 'data-kind="10"'
}

@test "--map: a large file is drawn at a coarser scale, damage still visible" {
    make_jsonl "$TMP/in.jsonl" 30000
    "$WR_BIN/wr-load" -q --page-size 512 "$TMP/big" c "$TMP/in.jsonl"
    f=$TMP/big/c.main.wr
    blocks=$(( $(stat -c %s "$f") / 512 ))
    [ "$blocks" -gt 4096 ]
    leaf=$(DAMAGE page "$f" leaf 100)
    DAMAGE flip "$f" $((leaf + 40))
    run "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$f"
    [ "$status" -eq 1 ]
    xmllint --noout "$TMP/m.svg"
    n=$(grep -c 'class="cell"' "$TMP/m.svg")
    [ "$n" -le 4096 ]
    [ "$n" -lt "$blocks" ]
    grep -q "blocks a cell" "$TMP/m.svg"
    [ "$(cells 10 "$TMP/m.svg")" -ge 1 ]
}

@test "--map: usage: a directory, --json, and another mode are refused (exit 2); an unreadable target leaves no file" {
    make_db
    run "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--map needs one tree file"* ]]
    run "$WR_BIN/wr-dump" --json --map "$TMP/m.svg" "$TMP/db/c.main.wr"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-dump" --tree --map "$TMP/m.svg" "$TMP/db/c.main.wr"
    [ "$status" -eq 2 ]
    head -c 4096 /dev/urandom > "$TMP/junk.wr"
    run "$WR_BIN/wr-dump" --map "$TMP/j.svg" "$TMP/junk.wr"
    [ "$status" -eq 3 ]
    [ ! -e "$TMP/j.svg" ]
}
