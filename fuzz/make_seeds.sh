#!/usr/bin/env bash
# Regenerate the seed corpus of fuzz_verify (fuzz/corpus/verify/) from a
# tiny database built with wr-load: whole tree files (mode byte 0x01, 0x03
# all checkpoints, 0x05 quick) and single pages cut out of them (mode 0x00:
# 512-byte pages). Usage: fuzz/make_seeds.sh [BIN_DIR]
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
