# Shared setup for the command-line suites. tests/run.sh exports WR_BIN
# (the sanitizer build's binaries); corpora live one level above the repo.

: "${WR_BIN:=$BATS_TEST_DIRNAME/../../build/san/bin}"
: "${WR_CORPORA:=$BATS_TEST_DIRNAME/../../../shared/corpora}"
[ -d "$WR_CORPORA" ] || WR_CORPORA=/work/shared/corpora
export WR_BIN WR_CORPORA

common_setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/wrcli.XXXXXX")
    export TMP
}

common_teardown() {
    [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# Every test gets a fresh $TMP (a suite that needs more defines its own
# setup/teardown after `load helpers`, calling these).
setup() { common_setup; }
teardown() { common_teardown; }

# DAMAGE ARGS...: tests/cli/damage.py (page offsets, bit flips, ...)
DAMAGE() { python3 "$BATS_TEST_DIRNAME/damage.py" "$@"; }

# compacted_db DIR: 40 documents of 5-10 KiB (a string of 'x') in
# collection c, loaded then compacted: the bulk loader's long leaves hold
# split values (format 3), and the file's one checkpoint sits in slot 1,
# slot 0 all zero
compacted_db() {
    python3 -c "
import json
for i in range(40):
    print(json.dumps({'_id': i, 'pad': 'x' * (5000 + 137 * i)}))" >"$TMP/big.jsonl"
    "$WR_BIN/wr-load" "$1" c "$TMP/big.jsonl" >/dev/null
    "$WR_BIN/wr-compact" "$1" >/dev/null
    cmp -s -n 512 "$1/c.main.wr" /dev/zero # slot 0 all zero
    [ "$(DAMAGE info "$1/c.main.wr" | jq .slot)" = 1 ]
}

# long_leaves_db DIR: collection c of 300 documents of 150 to 2650 bytes
# loaded at 512-byte pages: wr-load's long leaves (format 2) of packed and
# split values
long_leaves_db() {
    python3 -c "
import json
for i in range(300):
    print(json.dumps({'_id': i, 'pad': 'p' * (150 + (i * 37) % 2500)}))" >"$TMP/in.jsonl"
    "$WR_BIN/wr-load" -q --page-size 512 "$1" c "$TMP/in.jsonl"
}

# jsonl FILE N [START]: N small documents with _id START.. into FILE
make_jsonl() {
    local file=$1 n=$2 start=${3:-0}
    awk -v n="$n" -v s="$start" 'BEGIN {
        for (i = s; i < s + n; i++)
            printf "{\"_id\": %d, \"name\": \"user%d\", \"age\": %d, \"address\": {\"city\": \"c%d\"}, \"tags\": [\"t%d\", \"t%d\"]}\n", i, i, i % 90, i % 17, i % 3, i % 5
    }' > "$file"
}

# peak_rss_kb OUT CMD...: run CMD (stdout discarded), write its peak
# resident set in KiB (getrusage of the child) to the file OUT; returns
# CMD's status. Under ASan, freed memory is quarantined (hundreds of MB):
# run with ASAN_OPTIONS=...:quarantine_size_mb=0 to measure the program.
peak_rss_kb() {
    python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$@"
}

# lock_release_ops TRACE: the ops of a WR_IO_TRACE file that release the
# directory lock (lock.c: the unlink of a LOCK, or its emptying after the
# holder's record), as " N M ... ". Best effort by design: a failure there
# leaves a stale LOCK, which blocks nobody, and the run stands (exit 0).
# tests/unit/helper_power.h has the same rule for the unit sweeps.
lock_release_ops() {
    printf ' %s ' "$(awk '$3 ~ /\/LOCK$/ {
        if ($2 == "pwrite") rec = 1
        else if ($2 == "unlink" || ($2 == "ftruncate" && rec)) {
            printf "%s ", $1
            if ($2 == "ftruncate") rec = 0
        } }' "$1")"
}

# template_db DIR N: the database the damage suites start from, in DIR/db:
# N documents (every 10th past a 512-byte page's inline limit: an overflow
# page) on 512-byte pages, indexes on age and tags, then every third one
# updated: both header slots, discard extents, extent-list pages. Its
# inputs stay beside it: DIR/in.jsonl, DIR/upd.jsonl.
template_db() {
    local dir=$1 n=$2
    awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) { t = "";
        if (i % 10 == 0) for (k = 0; k < 40; k++) t = t "xxxxxxxxxx";
        printf "{\"_id\": %d, \"name\": \"user%d\", \"age\": %d, \"tags\": [\"a%d\", \"b\"], \"text\": \"%s\"}\n", i, i, i % 90, i % 7, t } }' \
        > "$dir/in.jsonl"
    awk 'NR % 3 == 0 { sub(/"name": "user/, "\"name\": \"changed"); print }' \
        "$dir/in.jsonl" > "$dir/upd.jsonl"
    "$WR_BIN/wr-load" -q --page-size 512 --index age --index tags \
        "$dir/db" people "$dir/in.jsonl"
    "$WR_BIN/wr-load" -q "$dir/db" people "$dir/upd.jsonl"
}

# freed_db DIR: DIR/db, collection c, the analyzer's and the map's
# database: 512-byte pages, 300 documents (81 bytes, inline; every tenth
# 3 KB: overflow values), an index on k, then every third document
# deleted (free space).
freed_db() {
    local dir=$1
    mkdir -p "$dir"
    python3 - "$dir/big.jsonl" "$dir/del.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(300):
        # 81-byte documents inline in one-block leaves (a 140-byte one
        # would be packed whole in its cell, in a long leaf: FORMAT.md
        # "Packed values"), every 10th in an overflow page: 3,040 bytes,
        # filling its 6 blocks exactly, so it stays whole there (another
        # length past a block would be split, its tail in a long leaf:
        # "Value tails")
        f.write(json.dumps({"_id": i, "k": i % 7,
                            "pad": "x" * (50 if i % 10 else 3009)}) + "\n")
with open(sys.argv[2], "w") as f:
    for i in range(0, 300, 3):
        f.write(json.dumps({"_id": i, "$deleted": True}) + "\n")
PY
    "$WR_BIN/wr-load" -q --page-size 512 --index k "$dir/db" c "$dir/big.jsonl"
    "$WR_BIN/wr-load" -q "$dir/db" c "$dir/del.jsonl"
}

# run_json CMD...: like bats' run, but $output is stdout only (for jq)
run_json() {
    run bash -c '"$@" 2>/dev/null' _ "$@"
}

# coll_renamed_db DIR FROM TO: DIR, a database whose collection TO (as
# many bytes as FROM, any bytes) holds one document {_id: 1, v: "keep"},
# as an older wrtools could make one: built as FROM, then renamed in both
# header slots and the catalog, CRCs redone, the file renamed.
coll_renamed_db() {
    local dir=$1
    printf '{"_id": 1, "v": "keep"}\n' > "$dir.in.jsonl"
    "$WR_BIN/wr-load" -q "$dir" "$2" "$dir.in.jsonl"
    python3 - "$dir" "$2" "$3" <<'PY'
import os, struct, sys, zlib
d, old, new = (os.fsencode(a) for a in sys.argv[1:4])
assert len(old) == len(new)
src = os.path.join(d, old + b".main.wr")
with open(src, "r+b") as f:
    b = bytearray(f.read())
    psize = struct.unpack_from("<I", b, 16)[0]
    for at in (0, psize):
        if b[at + 4:at + 12] == b"WRTREE\r\n":
            slot = b[at:at + 512].replace(old, new)
            struct.pack_into("<I", slot, 0, zlib.crc32(bytes(slot[4:])))
            b[at:at + 512] = slot
    f.seek(0)
    f.write(b)
os.rename(src, os.path.join(d, new + b".main.wr"))
cat = os.path.join(d, b"wr.catalog")
with open(cat, "rb") as f:
    c = bytearray(f.read().replace(old, new))
struct.pack_into("<I", c, 0, zlib.crc32(bytes(c[4:])))
with open(cat, "wb") as f:
    f.write(c)
PY
}

# A file shrinking under a tool that reads it (wr-compact.bats,
# wr-verify.bats): a database of one 30,000-document collection in
# $TMP/db, its main table read into the page cache; $sz its size, $shim
# the shrinking LD_PRELOAD library (shrink_shim.c).
shrink_setup() {
    shim="$TMP/shim.so"
    [ -e "$shim" ] || cc -shared -fPIC -Wall -Wextra -Werror -o "$shim" \
        "$BATS_TEST_DIRNAME/shrink_shim.c" -ldl
    [ -e "$TMP/shrink.jsonl" ] || awk 'BEGIN { for (i = 0; i < 30000; i++)
        printf "{\"_id\": %d, \"name\": \"user%d\", \"pad\": \"%0300d\"}\n", i, i, i }' \
        > "$TMP/shrink.jsonl"
    rm -rf "$TMP/db"
    "$WR_BIN/wr-load" -q "$TMP/db" c "$TMP/shrink.jsonl"
    sz=$(stat -c %s "$TMP/db/c.main.wr")
    cat "$TMP/db/c.main.wr" >/dev/null
}

# Run a tool with the shim, the main table shrinking to a quarter (at
# the moment shrink_shim.c says; WR_SHRINK_READ=N: its Nth pread)
shrink_run() {
    run env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        LD_PRELOAD="$shim" WR_SHRINK_FILE="$TMP/db/c.main.wr" \
        WR_SHRINK_TO=$((sz / 4 / 4096 * 4096)) "$@"
    echo "$output"
    [[ "$output" == *"shrink_shim: "*"truncated to"* ]] # it did shrink
}

# old_name_db DIR: DIR, a database as a wrtools before ".idx." was
# reserved in collection names could make it: collection "c.idx.x" (one
# document {_id: 1, v: "keep"}) in c.idx.x.main.wr.
old_name_db() { coll_renamed_db "$1" c_idx_x c.idx.x; }
