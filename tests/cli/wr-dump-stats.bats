#!/usr/bin/env bats
# wr-dump --stats, the analyzer: every figure checked against what the
# summary (wr-dump --json) and --extents count, on databases with and
# without overflow values and free space, and on damaged files.

load helpers
bats_require_minimum_version 1.5.0

# big: the freed database (helpers.bash: 512-byte pages, overflow values,
# an index on k, free space); and a collection other
setup_file() {
    local base="$BATS_FILE_TMPDIR/base"
    freed_db "$base"
    make_jsonl "$base/o.jsonl" 50
    "$WR_BIN/wr-load" -q --index age "$base/db" other "$base/o.jsonl"
}

make_db() { cp -r "$BATS_FILE_TMPDIR/base/db" "$TMP/db"; }

@test "wr-dump --stats is in --help, and excludes the other modes" {
    run "$WR_BIN/wr-dump" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--stats"*"fill factor (min, median, max)"* ]]
    make_db
    run "$WR_BIN/wr-dump" --stats --tree "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"exclude each other"* ]]
}

@test "per level: pages, items, bytes and used bytes add up to the summary's; fill min <= median <= max" {
    make_db
    run_json "$WR_BIN/wr-dump" --json --stats "$TMP/db"
    [ "$status" -eq 0 ]
    stats=$output
    run_json "$WR_BIN/wr-dump" --json "$TMP/db"
    [ "$status" -eq 0 ]
    sum=$output
    nfiles=$(jq '.files | length' <<<"$sum")
    [ "$nfiles" -eq 4 ]
    for ((i = 0; i < nfiles; i++)); do
        f=".files[$i]"
        [ "$(jq "$f.stats.levels | map(.pages) | add" <<<"$stats")" -eq \
          "$(jq "$f.pages.leaf + $f.pages.internal" <<<"$sum")" ]
        [ "$(jq "$f.stats.levels | map(select(.level == 0)) | .[0].items" <<<"$stats")" -eq \
          "$(jq "$f.keys" <<<"$sum")" ]
        [ "$(jq "$f.stats.levels | map(.used_bytes) | add" <<<"$stats")" -eq \
          "$(jq "$f.live_bytes" <<<"$sum")" ]
        [ "$(jq "$f.stats.levels | map(.bytes) | add" <<<"$stats")" -eq \
          "$(jq "$f.tree_bytes" <<<"$sum")" ]
        [ "$(jq "[$f.stats.levels[] | select(.fill_min <= .fill_median and .fill_median <= .fill_max and .fill_max <= 1)] | length" <<<"$stats")" -eq \
          "$(jq "$f.stats.levels | length" <<<"$stats")" ]
        # the root is the only page of the top level
        [ "$(jq "$f.stats.levels[0].pages" <<<"$stats")" -eq 1 ]
        [ "$(jq "$f.stats.levels[0].level + 1" <<<"$stats")" -eq \
          "$(jq "$f.height" <<<"$sum")" ]
    done
}

@test "document sizes: the histogram counts every document, each in its bucket; min, max and bytes as the summary has them" {
    make_db
    run_json "$WR_BIN/wr-dump" --json --stats "$TMP/db/c.main.wr"
    [ "$status" -eq 0 ]
    d=$(jq -c '.files[0].stats.documents' <<<"$output")
    [ "$(jq '.count' <<<"$d")" -eq 200 ]
    [ "$(jq '.histogram | map(.count) | add' <<<"$d")" -eq 200 ]
    [ "$(jq '[.histogram[] | select(.from <= .to)] | length' <<<"$d")" -eq \
      "$(jq '.histogram | length' <<<"$d")" ]
    # python's own sizes of the live documents, as BSON
    read -r n small large lo hi < <(python3 - "$BATS_FILE_TMPDIR/base/big.jsonl" <<'EOF'
import json, sys
sizes = []
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["_id"] % 3 == 0:
        continue
    # {_id: int32, k: int32, pad: string}: 4 + (1+4+4) + (1+2+4) + (1+4+4+len+1) + 1
    sizes.append(4 + 9 + 7 + 10 + len(d["pad"]) + 1)
print(len(sizes), sum(1 for s in sizes if s < 128), sum(1 for s in sizes if s >= 2048), min(sizes), max(sizes))
EOF
)
    [ "$(jq '.count' <<<"$d")" -eq "$n" ]
    [ "$(jq '.min' <<<"$d")" -eq "$lo" ]
    [ "$(jq '.max' <<<"$d")" -eq "$hi" ]
    [ "$(jq '.histogram[] | select(.from == 64) | .count' <<<"$d")" -eq "$small" ]
    [ "$(jq '.histogram[] | select(.from == 2048) | .count' <<<"$d")" -eq "$large" ]
    run_json "$WR_BIN/wr-dump" --json "$TMP/db/c.main.wr"
    [ "$(jq '.files[0].stats.documents.bytes' <<<"$(
        "$WR_BIN/wr-dump" --json --stats "$TMP/db/c.main.wr")")" -eq \
      "$(jq '.files[0].value_bytes' <<<"$output")" ]
    # an index's sizes are its keys'
    run_json "$WR_BIN/wr-dump" --json --stats "$TMP/db/c.idx.k.wr"
    [ "$(jq '.files[0].stats.keys.count' <<<"$output")" -eq "$n" ]
}

# freed_db's overflow documents fill their runs exactly (3,040 bytes and
# a run's 32-byte header in six 512-byte blocks): the header is metadata,
# not waste (before, each run's header was counted as waste)
@test "overflow: values, pages, value bytes and run headers against page bytes, waste" {
    make_db
    run_json "$WR_BIN/wr-dump" --json --stats "$TMP/db/c.main.wr"
    o=$(jq -c '.files[0].stats.overflow' <<<"$output")
    run_json "$WR_BIN/wr-dump" --json "$TMP/db/c.main.wr"
    [ "$(jq '.values' <<<"$o")" -eq "$(jq '.files[0].pages.overflow' <<<"$output")" ]
    [ "$(jq '.values' <<<"$o")" -gt 0 ]
    [ "$(jq '.page_bytes' <<<"$o")" -eq "$(jq '.files[0].overflow_bytes' <<<"$output")" ]
    [ "$(jq '.pages * 512' <<<"$o")" -eq "$(jq '.page_bytes' <<<"$o")" ]
    [ "$(jq '.header_bytes' <<<"$o")" -eq "$(jq '.values * 32' <<<"$o")" ]
    [ "$(jq '.page_bytes - .value_bytes - .header_bytes' <<<"$o")" -eq "$(jq '.waste_bytes' <<<"$o")" ]
    [ "$(jq '.waste_bytes' <<<"$o")" -eq 0 ]
    run "$WR_BIN/wr-dump" --stats "$TMP/db/c.main.wr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"overflow: $(jq '.values' <<<"$o") values in $(jq '.pages' <<<"$o") pages: $(jq '.value_bytes' <<<"$o") value bytes + $(jq '.header_bytes' <<<"$o") header bytes in $(jq '.page_bytes' <<<"$o") page bytes (waste 0 bytes, 0.0%)"* ]]
}

@test "free space by list equals what --extents counts; the database totals add up per collection and index" {
    make_db
    run_json "$WR_BIN/wr-dump" --json --stats "$TMP/db"
    stats=$output
    run_json "$WR_BIN/wr-dump" --json --extents "$TMP/db/c.main.wr"
    [ "$(jq '.files[0].stats.free.discard_bytes' <<<"$stats")" -eq \
      "$(jq '.files[0].totals.discard_bytes' <<<"$output")" ]
    [ "$(jq '.files[0].stats.free.avail_bytes' <<<"$stats")" -eq \
      "$(jq '.files[0].totals.avail_bytes' <<<"$output")" ]
    [ "$(jq '.files[0].stats.free.discard_bytes + .files[0].stats.free.avail_bytes' <<<"$stats")" -gt 0 ]
    # totals: two collections, documents and entries as the files have them
    [ "$(jq '.totals.collections | length' <<<"$stats")" -eq 2 ]
    [ "$(jq '.totals.documents' <<<"$stats")" -eq 250 ]
    [ "$(jq '.totals.index_entries' <<<"$stats")" -eq 250 ]
    [ "$(jq '.totals.all_files.file_bytes' <<<"$stats")" -eq \
      "$(jq '[.files[].file_size] | add' <<<"$stats")" ]
    [ "$(jq '.totals.collections[] | select(.name == "c") | .indexes[0].field' -r <<<"$stats")" = k ]
    run "$WR_BIN/wr-dump" --stats "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *"2 collections, 4 files: 250 documents, 250 index entries"* ]]
    # --collection limits the files and the totals
    run "$WR_BIN/wr-dump" --stats --collection other "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *"1 collection, 2 files: 50 documents, 50 index entries"* ]]
    [[ "$output" != *"c.main.wr"* ]]
}

@test "--checkpoint previous: the snapshot before the deletes" {
    make_db
    run_json "$WR_BIN/wr-dump" --json --stats --checkpoint previous "$TMP/db/c.main.wr"
    [ "$status" -eq 0 ]
    [ "$(jq '.files[0].stats.documents.count' <<<"$output")" -eq 300 ]
}

@test "a damaged leaf: the analysis goes on, the page is marked !!, exit 1" {
    make_db
    leaf=$(DAMAGE page "$TMP/db/c.idx.k.wr" leaf 1)
    DAMAGE flip "$TMP/db/c.idx.k.wr" $((leaf + 40))
    run "$WR_BIN/wr-dump" --stats "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"!! page $leaf"* ]]
    [[ "$output" == *"totals per collection and index"* ]]
    run_json "$WR_BIN/wr-dump" --json --stats "$TMP/db"
    [ "$status" -eq 1 ]
    [ "$(jq '[.files[] | select(.path | endswith("c.idx.k.wr")) | .damage[]] | length' <<<"$output")" -gt 0 ]
    # the other files are analysed whole
    [ "$(jq '.files[0].stats.documents.count' <<<"$output")" -eq 200 ]
}
