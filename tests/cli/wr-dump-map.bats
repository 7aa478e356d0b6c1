#!/usr/bin/env bats
# wr-dump --map: the SVG block map of a tree file, the HTML page of a
# database. Well-formed (xmllint), as many cells of each kind as the
# summary and --extents count, damage (pages and header slots) drawn as
# damage, a coarser scale for a large file; the page lists wr-verify's
# findings, each linked to its cell; FILE replaced atomically.

load helpers
bats_require_minimum_version 1.5.0

# the freed database (helpers.bash): overflow values, an index, free space
setup_file() { freed_db "$BATS_FILE_TMPDIR/base"; }

make_db() { cp -r "$BATS_FILE_TMPDIR/base/db" "$TMP/db"; }

# cells KIND FILE: cells of kind KIND (dump_map.c's numbering) in the SVG
cells() { grep -cE "class=\"cell\" id=\"[a-z0-9-]+\" data-kind=\"$1\"" "$2" || true; }

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

@test "--map: wr-load's long leaves of packed and split values: a leaf cell for each of their blocks, the first naming the page; the runs of split values only, no overflow cell for a packed value" {
    long_leaves_db "$TMP/db"
    f=$TMP/db/c.main.wr
    run_json "$WR_BIN/wr-dump" --json --stats "$f"
    st=$output
    [ "$(jq '.files[0].stats.overflow.packed' <<<"$st")" -gt 10 ]
    [ "$(jq '.files[0].stats.overflow.tails' <<<"$st")" -gt 100 ]
    run_json "$WR_BIN/wr-dump" --json "$f"
    sum=$output
    run "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$f"
    [ "$status" -eq 0 ]
    xmllint --noout "$TMP/m.svg"
    P=512
    leaves=$(jq '.files[0].pages.leaf' <<<"$sum")
    blocks=$(jq ".files[0].tree_bytes / $P - .files[0].pages.internal" <<<"$sum")
    [ "$blocks" -gt "$leaves" ] # long leaves
    [ "$(cells 3 "$TMP/m.svg")" -eq "$blocks" ]
    [ "$(grep -cE '<title>page [0-9]+: leaf, level 0, [0-9]+ items' "$TMP/m.svg")" -eq "$leaves" ]
    # the runs: as many overflow cells as blocks of the split values'
    # runs (a packed value has none)
    [ "$(cells 4 "$TMP/m.svg")" -eq "$(jq ".files[0].overflow_bytes / $P" <<<"$sum")" ]
    [ "$(jq '.files[0].pages.overflow' <<<"$sum")" -eq "$(jq '.files[0].stats.overflow.tails' <<<"$st")" ]
    # the first leaf: its first block names the page, each other one is
    # a leaf block of it, naming where it starts
    leaf=$(DAMAGE page "$f" leaf 0)
    size=$(od -An -tu4 -j $((leaf + 12)) -N4 "$f" | tr -d ' ')
    [ "$size" -gt "$P" ]
    grep -A1 "id=\"b$leaf\"" "$TMP/m.svg" | grep -q "<title>page $leaf: leaf"
    for ((b = leaf + P; b < leaf + size; b += P)); do
        grep "id=\"b$b\"" "$TMP/m.svg" | grep -q "data-kind=\"3\".*<title>block $b (+$P): leaf at $leaf</title>"
    done
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
    # its tooltip says what was found there
    grep -A1 "id=\"b$leaf\"" "$TMP/m.svg" | grep -q "^page $leaf: byte [0-9]*: checksum: "
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

@test "--map: a damaged header slot is drawn damaged, the other slot is not" {
    make_db
    f=$TMP/db/c.main.wr
    DAMAGE flip "$f" 40 # inside slot 0, under its CRC (FORMAT.md)
    run --separate-stderr "$WR_BIN/wr-dump" --map "$TMP/m.svg" "$f"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"page 0: byte 0: header: slot 0 rejected"* ]]
    xmllint --noout "$TMP/m.svg"
    grep 'class="cell"' "$TMP/m.svg" | sed -n 1p | grep -q 'id="b0" data-kind="10"'
    grep -A1 'id="b0"' "$TMP/m.svg" | grep -q '^page 0: byte 0: header: slot 0 rejected'
    grep 'class="cell"' "$TMP/m.svg" | sed -n 2p | grep -q 'data-kind="1"'
}

@test "--map: usage: --json and another mode are refused (exit 2); an unreadable target leaves no file" {
    make_db
    run "$WR_BIN/wr-dump" --json --map "$TMP/m.svg" "$TMP/db/c.main.wr"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-dump" --tree --map "$TMP/m.svg" "$TMP/db/c.main.wr"
    [ "$status" -eq 2 ]
    head -c 4096 /dev/urandom > "$TMP/junk.wr"
    run "$WR_BIN/wr-dump" --map "$TMP/j.svg" "$TMP/junk.wr"
    [ "$status" -eq 3 ]
    [ ! -e "$TMP/j.svg" ]
    [ ! -e "$TMP/j.svg.tmp" ]
}

# --- a database directory: one HTML page --------------------------------

# what the page holds (maps, their cells by kind, the findings' links)
page_json() { python3 "$BATS_TEST_DIRNAME/map_check.py" "$1"; }

# same_counts PAGE SUM EXT: every map's cells of each kind are what
# wr-dump --json (summary SUM, --extents EXT) counts for that file
same_counts() {
    local n i P k
    n=$(jq '.files | length' <<<"$2")
    [ "$(jq '.maps | length' <<<"$1")" -eq "$n" ]
    for ((i = 0; i < n; i++)); do
        k() { jq ".maps[$i].kinds[\"$1\"] // 0" <<<"$page"; }
        page=$1
        [ "$(jq -r ".maps[$i].file" <<<"$1")" = "$(jq -r ".files[$i].file" <<<"$2")" ]
        P=$(jq ".files[$i].page_size" <<<"$2")
        [ "$(k 1)" -eq 2 ]
        [ "$(k 2)" -eq "$(jq ".files[$i].pages.internal" <<<"$2")" ]
        [ "$(k 3)" -eq "$(jq ".files[$i].pages.leaf" <<<"$2")" ]
        [ "$(k 4)" -eq "$(jq ".files[$i].overflow_bytes / $P" <<<"$2")" ]
        [ "$(k 5)" -eq "$(jq ".files[$i].pages.extent_list" <<<"$2")" ]
        [ "$(k 6)" -eq "$(jq ".files[$i].totals.avail_bytes / $P" <<<"$3")" ]
        [ "$(k 7)" -eq "$(jq ".files[$i].totals.discard_bytes / $P" <<<"$3")" ]
        [ "$(jq ".maps[$i].cells" <<<"$1")" -eq "$(jq ".files[$i].file_size / $P" <<<"$2")" ]
    done
}

@test "--map DIR: one self-contained, well-formed HTML page: the catalog, a map per tree file with the cells wr-dump --json counts" {
    make_db
    run "$WR_BIN/wr-dump" --map "$TMP/m.html" "$TMP/db"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    xmllint --noout "$TMP/m.html"
    # nothing from elsewhere: no script, no external reference
    run grep -ciE '<script|<link|<img| src=|href="[a-z]+:' "$TMP/m.html"
    [ "$output" = 0 ]
    run page_json "$TMP/m.html"
    [ "$status" -eq 0 ]
    page=$output
    run_json "$WR_BIN/wr-dump" --json "$TMP/db"
    sum=$output
    run_json "$WR_BIN/wr-dump" --json --extents "$TMP/db"
    ext=$output
    [ "$(jq '.files | length' <<<"$sum")" -eq 2 ]
    same_counts "$page" "$sum" "$ext"
    [ "$(jq '.maps[0].kinds["10"] // 0' <<<"$page")" -eq 0 ]
    [ "$(jq '.findings' <<<"$page")" -eq 0 ]
    grep -q 'None: wr-verify finds this snapshot intact' "$TMP/m.html"
    # the catalog's summary: generation, files, documents and entries
    grep -q "Catalog generation $(jq '.database.catalog_generation' <<<"$sum"), 1 collection" "$TMP/m.html"
    grep -q '<td>collection c</td><td>c.main.wr</td><td class="n">[0-9]*</td><td class="n">200</td>' "$TMP/m.html"
    grep -q '<td class="idx">index on k</td><td>c.idx.k.wr</td><td class="n">[0-9]*</td><td class="n">200</td>' "$TMP/m.html"
}

@test "--map DIR on a damaged database: the damaged leaf and header slot drawn damaged, wr-verify's findings listed, each linked to its cell" {
    make_db
    leaf=$(DAMAGE page "$TMP/db/c.main.wr" leaf 2)
    DAMAGE flip "$TMP/db/c.main.wr" $((leaf + 40))
    DAMAGE flip "$TMP/db/c.idx.k.wr" 40
    run --separate-stderr "$WR_BIN/wr-dump" --map "$TMP/m.html" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"c.main.wr: page $leaf"* ]]
    xmllint --noout "$TMP/m.html"
    run page_json "$TMP/m.html"
    [ "$status" -eq 0 ]
    page=$output
    # the findings are wr-verify's, line for line, and counted as damage
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 1 ]
    diff <(grep "^$TMP/db/" <<<"$output") <(jq -r '.links[].text' <<<"$page")
    [ "$(jq '.findings' <<<"$page")" -ge 3 ]
    [[ "$stderr" == *"$(jq '.findings' <<<"$page") damaged places"* ]]
    # every link points at an element of the page
    [ "$(jq '[.links[] | select(.exists | not)] | length' <<<"$page")" -eq 0 ]
    # the leaf's finding at the leaf's own cell, the slot's at slot 0's,
    # both drawn damaged
    jq -e --arg h "m0-b$leaf" '[.links[] | select(.href == $h and .kind == 10)] | length == 1' <<<"$page"
    jq -e '[.links[] | select(.href == "m1-b0" and .kind == 10)] | length >= 1' <<<"$page"
    [ "$(jq '.maps[0].kinds["10"]' <<<"$page")" -eq 1 ]
    [ "$(jq '.maps[1].kinds["10"]' <<<"$page")" -eq 1 ]
    # the rest as wr-dump --json counts it (the leaf not decoded)
    run_json "$WR_BIN/wr-dump" --json "$TMP/db"
    [ "$(jq '.maps[0].kinds["3"]' <<<"$page")" -eq "$(jq '.files[0].pages.leaf' <<<"$output")" ]
    [ "$(jq '.files[0].pages.not_decoded' <<<"$output")" -eq 1 ]
    # what the damaged leaf pointed to is not called leaked
    [ "$(jq '.maps[0].kinds["8"] // 0' <<<"$page")" -eq 0 ]
    [ "$(jq '.maps[0].kinds["0"]' <<<"$page")" -gt 0 ]
    grep -q 'not reached (behind damage): ' "$TMP/m.html"
}

@test "--map DIR --checkpoint previous: the previous snapshot, checked as wr-verify --checkpoint previous checks it" {
    make_db
    # a leaf only the latest checkpoint has (past the previous' logical size)
    leaf=$(DAMAGE page "$TMP/db/c.main.wr" leaf 2)
    run_json "$WR_BIN/wr-dump" --json --checkpoint previous "$TMP/db"
    sum=$output
    [ "$leaf" -ge "$(jq '.files[0].logical_size' <<<"$sum")" ]
    DAMAGE flip "$TMP/db/c.main.wr" $((leaf + 40))
    run "$WR_BIN/wr-dump" --map "$TMP/m.html" "$TMP/db"
    [ "$status" -eq 1 ]
    run "$WR_BIN/wr-dump" --checkpoint previous --map "$TMP/p.html" "$TMP/db"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-verify" --checkpoint previous "$TMP/db"
    [ "$status" -eq 0 ]
    run page_json "$TMP/p.html"
    page=$output
    run_json "$WR_BIN/wr-dump" --json --extents --checkpoint previous "$TMP/db"
    same_counts "$page" "$sum" "$output"
    [ "$(jq '.findings' <<<"$page")" -eq 0 ]
    grep -q 'the previous snapshot' "$TMP/p.html"
    g=$(jq '.database.collections[0].prev_gen' <<<"$sum")
    grep -q "<td>c.main.wr</td><td class=\"n\">$g</td>" "$TMP/p.html"
}

@test "--map FILE: an existing FILE is replaced whole; the file drawn, one inside the database, a directory are refused (exit 2); a failed dump leaves FILE as it was" {
    make_db
    echo old > "$TMP/o.html"
    run "$WR_BIN/wr-dump" --map "$TMP/o.html" "$TMP/db"
    [ "$status" -eq 0 ]
    head -1 "$TMP/o.html" | grep -qx '<!DOCTYPE html>'
    [ ! -e "$TMP/o.html.tmp" ]
    cp "$TMP/db/c.main.wr" "$TMP/keep.wr"
    run "$WR_BIN/wr-dump" --map "$TMP/db/c.main.wr" "$TMP/db/c.main.wr"
    [ "$status" -eq 2 ]
    [[ "$output" == *"the file being drawn"* ]]
    cmp "$TMP/db/c.main.wr" "$TMP/keep.wr"
    run "$WR_BIN/wr-dump" --map "$TMP/db/m.html" "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"inside the database directory"* ]]
    (cd "$TMP/db" && "$WR_BIN/wr-dump" --map m.html .) || [ $? -eq 2 ]
    [ ! -e "$TMP/db/m.html" ]
    [ ! -e "$TMP/db/m.html.tmp" ]
    mkdir "$TMP/d"
    run "$WR_BIN/wr-dump" --map "$TMP/d" "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"not a regular file"* ]]
    # an unknown collection (2) and a file that is not ours (3) write nothing
    echo old > "$TMP/o.html"
    run "$WR_BIN/wr-dump" --collection nope --map "$TMP/o.html" "$TMP/db"
    [ "$status" -eq 2 ]
    [ "$(cat "$TMP/o.html")" = old ]
    head -c 4096 /dev/urandom > "$TMP/junk.wr"
    run "$WR_BIN/wr-dump" --map "$TMP/o.html" "$TMP/junk.wr"
    [ "$status" -eq 3 ]
    [ "$(cat "$TMP/o.html")" = old ]
    [ ! -e "$TMP/o.html.tmp" ]
}

@test "--map FILE: a crash, a power loss or a full disk at any write leaves the old FILE or the new one, whole" {
    make_db
    "$WR_BIN/wr-dump" --map "$TMP/new.html" "$TMP/db"
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-dump" --map "$TMP/x.html" "$TMP/db"
    ops=$(cat "$TMP/ops")
    [ "$ops" -ge 5 ] # create, write, fsync, rename, directory fsync
    for ((n = 1; n <= ops + 1; n++)); do
        for seed in 0 3; do
            echo old > "$TMP/o.html"
            run env WR_IO_FAULT="crash=$n,power=$seed" \
                "$WR_BIN/wr-dump" --map "$TMP/o.html" "$TMP/db"
            [ "$status" -eq 86 ]
            cmp -s "$TMP/o.html" "$TMP/new.html" || [ "$(cat "$TMP/o.html")" = old ] || {
                echo "crash=$n,power=$seed: o.html is neither"; false; }
        done
    done
    # a full disk at any write: exit 3 naming the file (not a finding of
    # the damaged database), no FILE.tmp left
    leaf=$(DAMAGE page "$TMP/db/c.main.wr" leaf 2)
    DAMAGE flip "$TMP/db/c.main.wr" $((leaf + 40))
    run "$WR_BIN/wr-dump" --map "$TMP/new.html" "$TMP/db"
    [ "$status" -eq 1 ]
    WR_IO_STATS="$TMP/ops" WR_IO_TRACE="$TMP/trace" "$WR_BIN/wr-dump" --map "$TMP/x.html" "$TMP/db" 2>/dev/null || true
    ops=$(cat "$TMP/ops")
    # the reader's LOCK (its create and removal) is not FILE's: test_io
    # and the writers' sweeps fail those ops
    lockops=" $(awk '$3 ~ /\/LOCK$/ { printf "%s ", $1 }' "$TMP/trace")"
    for ((n = 1; n <= ops; n++)); do
        [[ "$lockops" != *" $n "* ]] || continue
        echo old > "$TMP/o.html"
        run env WR_IO_FAULT="fail=$n,err=ENOSPC" \
            "$WR_BIN/wr-dump" --map "$TMP/o.html" "$TMP/db"
        [ "$status" -eq 3 ]
        [[ "${lines[-1]}" == "wr-dump: $TMP/o.html"* ]]
        [ ! -e "$TMP/o.html.tmp" ]
        cmp -s "$TMP/o.html" "$TMP/new.html" || [ "$(cat "$TMP/o.html")" = old ]
    done
}
