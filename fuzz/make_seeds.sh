#!/usr/bin/env bash
# Regenerate the seed corpora of fuzz_verify (fuzz/corpus/verify/) and
# fuzz_salvage (fuzz/corpus/salvage/) from a tiny database built with
# wr-load. verify: whole tree files (mode byte 0x01, 0x03 all checkpoints,
# 0x05 quick) and single pages cut out of them (mode 0x00: 512-byte pages).
# salvage: the main table whole and damaged (a leaf bit, an internal page
# zeroed, a header slot, truncated) under the mode bytes fuzz_salvage.c
# reads (0x01 directory dry run, 0x05 directory built, 0x07 previous
# checkpoint built, 0x00 file dry run). Usage: fuzz/make_seeds.sh [BIN_DIR]
set -eu
bin=${1:-build/rel/bin}
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/fuzz/corpus/verify
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { for (i = 0; i < 40; i++) { t = "";
    if (i % 13 == 0) for (k = 0; k < 30; k++) t = t "yyyyyyyyyy";
    printf "{\"_id\": %d, \"n\": \"u%d\", \"age\": %d, \"t\": \"%s\"}\n", i, i, i % 9, t } }' \
    > "$tmp/in.jsonl"
"$bin/wr-load" -q --page-size 512 --index age "$tmp/db" c "$tmp/in.jsonl"
awk 'NR % 4 == 0' "$tmp/in.jsonl" | sed 's/"n": "u/"n": "v/' |
    "$bin/wr-load" -q "$tmp/db" c -
mkdir -p "$out"
seed() { # seed NAME MODE FILE [OFFSET LENGTH]
    { printf "\\x$2"; if [ $# -gt 3 ]; then
        dd if="$3" bs=512 skip=$(($4 / 512)) count=$(($5 / 512)) status=none
      else cat "$3"; fi; } > "$out/$1"
}
main=$tmp/db/c.main.wr idx=$tmp/db/c.idx.age.wr
seed file-main 01 "$main"
seed file-main-all 03 "$main"
seed file-index-quick 05 "$idx"
dam=$top/tests/cli/damage.py
seed page-leaf 00 "$main" "$(python3 "$dam" page "$main" leaf 1)" 512
seed page-internal 00 "$main" "$(python3 "$dam" page "$main" internal 0)" 512
seed page-index-leaf 00 "$idx" "$(python3 "$dam" page "$idx" leaf 0)" 512
seed page-extlist 00 "$main" "$(python3 "$dam" page "$main" extlist 0)" 512
seed page-slot 00 "$main" 0 512
ls -l "$out"
# fuzz_salvage
out=$top/fuzz/corpus/salvage
mkdir -p "$out"
whole() { { printf "\\x$2"; cat "$3"; } > "$out/$1"; }
whole whole-dir 01 "$main"
whole whole-built 05 "$main"
whole whole-previous 07 "$main"
whole whole-file 00 "$main"
cp "$main" "$tmp/leaf"
python3 "$dam" flip "$tmp/leaf" $(($(python3 "$dam" page "$main" leaf 1) + 77)) >/dev/null
whole leaf-flipped 05 "$tmp/leaf"
cp "$main" "$tmp/internal"
off=$(python3 "$dam" page "$main" internal 0)
dd if=/dev/zero of="$tmp/internal" bs=512 seek=$((off / 512)) count=1 conv=notrunc status=none
whole internal-zeroed 05 "$tmp/internal"
cp "$main" "$tmp/slot"
python3 "$dam" flip "$tmp/slot" 30 >/dev/null
whole slot-flipped 05 "$tmp/slot"
head -c $(( $(stat -c %s "$main") / 2 / 512 * 512 )) "$main" > "$tmp/trunc"
whole truncated 05 "$tmp/trunc"
ls -l "$out"
# fuzz_dump and fuzz_engine: the files whole and damaged as above, and
# the database compacted (format 2: long leaves), whole and with a bit
# flipped inside its long root leaf; a compacted format 3 file (value
# tails) and a format 4 one (packed values) whole and damaged
cp -r "$tmp/db" "$tmp/cdb"
"$bin/wr-compact" -q "$tmp/cdb"
cmain=$tmp/cdb/c.main.wr
croot=$("$bin/wr-dump" --json "$cmain" | python3 -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["slots"][1]["root"]["offset"])')
cp "$cmain" "$tmp/cflip"
python3 "$dam" flip "$tmp/cflip" $((croot + 1500)) >/dev/null
# compacted NAME N MIN STEP SPAN: N documents of MIN + (i * STEP) % SPAN
# bytes of text on 512-byte pages, loaded and compacted into $tmp/NAME;
# prints the end of its root leaf
compacted() {
    awk -v n="$2" -v min="$3" -v step="$4" -v span="$5" 'BEGIN {
        for (i = 0; i < n; i++) { t = "";
            for (k = 0; k < min + (i * step) % span; k++) t = t "z";
            printf "{\"_id\": %d, \"t\": \"%s\"}\n", i, t } }' > "$tmp/$1.jsonl"
    "$bin/wr-load" -q --page-size 512 "$tmp/$1" c "$tmp/$1.jsonl"
    "$bin/wr-compact" -q "$tmp/$1"
    "$bin/wr-dump" --json "$tmp/$1/c.main.wr" | python3 -c 'import json,sys; r = json.load(sys.stdin)["files"][0]["slots"][1]["root"]; print(r["offset"] + r["size"])'
}
# format 3: documents of 0.6 to 2 KiB, compacted: the long leaves' cells
# hold the tails of the overflow values; whole, with a bit flipped in the
# root leaf's cells (tails), and in the first run
tend=$(compacted tdb 24 500 37 900)
tmain=$tmp/tdb/c.main.wr
cp "$tmain" "$tmp/tleaf"
python3 "$dam" flip "$tmp/tleaf" $((tend - 100)) >/dev/null
cp "$tmain" "$tmp/trun"
python3 "$dam" flip "$tmp/trun" $((2 * 512 + 100)) >/dev/null
# format 4: documents of 150 to 450 bytes, compacted: the values past
# the inline limit live whole in the long leaves' cells (no overflow
# page); whole, and with a bit flipped in the root leaf
pend=$(compacted pdb 40 130 53 300)
pmain=$tmp/pdb/c.main.wr
cp "$pmain" "$tmp/pleaf"
python3 "$dam" flip "$tmp/pleaf" $((pend - 200)) >/dev/null
for t in dump engine; do
    out=$top/fuzz/corpus/$t
    mkdir -p "$out"
    one() { { printf "\\x$2"; cat "$3"; } > "$out/$1"; }
    one main 00 "$main"
    one main-previous 01 "$main"
    one index 00 "$idx"
    one leaf-flipped 00 "$tmp/leaf"
    one internal-zeroed 00 "$tmp/internal"
    one slot-flipped 01 "$tmp/slot"
    one truncated 00 "$tmp/trunc"
    cp "$idx" "$tmp/idxleaf"
    python3 "$dam" flip "$tmp/idxleaf" $(($(python3 "$dam" page "$idx" leaf 0) + 40)) >/dev/null
    one index-leaf-flipped 00 "$tmp/idxleaf"
    cp "$main" "$tmp/ext"
    python3 "$dam" flip "$tmp/ext" $(($(python3 "$dam" page "$main" extlist 0) + 60)) >/dev/null
    one extlist-flipped 00 "$tmp/ext"
    one long-leaf 00 "$cmain"
    one long-leaf-index 00 "$tmp/cdb/c.idx.age.wr"
    one long-leaf-flipped 00 "$tmp/cflip"
    one tails 00 "$tmain"
    one tails-leaf-flipped 00 "$tmp/tleaf"
    one tails-run-flipped 00 "$tmp/trun"
    one packed 00 "$pmain"
    one packed-leaf-flipped 00 "$tmp/pleaf"
    [ "$t" = dump ] && one main-hex-page 1a "$main"
    ls -l "$out"
done
