#!/usr/bin/env bats
# wr-compact: a database built with wr-load and then mostly deleted and
# replaced shrinks to its live data, verifies and dumps the same; --dry-run
# changes nothing and predicts exactly; damage is refused; the lock; usage;
# crashes at points through the I/O layer (the unit test test_compact
# sweeps every op).
#
# Live data, as wr-compact --json reports it in live_bytes: the bytes the
# live records take inside pages (each leaf cell with its slot entry, and
# overflow values with their page headers). A compacted file adds page
# headers, internal pages, the two header blocks and the tail of each leaf
# that no whole record fits in.

load helpers
bats_require_minimum_version 1.5.0

# people: 15000 documents with an index on address.city; then two thirds
# deleted and the rest replaced by documents of other sizes, in three
# wr-load runs: the files end mostly free space. Built once per file;
# make_db copies it to $TMP/db.
setup_file() {
    local base="$BATS_FILE_TMPDIR/base"
    mkdir -p "$base"
    make_jsonl "$base/in.jsonl" 15000
    awk 'NR % 3 != 1 { printf "{\"_id\": %d, \"$deleted\": true}\n", NR - 1 }' \
        "$base/in.jsonl" > "$base/del.jsonl"
    awk 'NR % 3 == 1 { i = NR - 1; printf "{\"_id\": %d, \"name\": \"user%d-v2\", \"address\": {\"city\": \"c%d\"}, \"note\": \"%s\"}\n", i, i, i % 13, substr("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1, i % 60) }' \
        "$base/in.jsonl" > "$base/rep.jsonl"
    "$WR_BIN/wr-load" -q --index address.city "$base/db" people "$base/in.jsonl"
    "$WR_BIN/wr-load" -q "$base/db" people "$base/del.jsonl"
    "$WR_BIN/wr-load" -q "$base/db" people "$base/rep.jsonl"
    # a small one for the crash points
    make_jsonl "$base/small.jsonl" 300
    "$WR_BIN/wr-load" -q --index tags "$base/small" c "$base/small.jsonl"
    awk 'NR % 2 == 0 { printf "{\"_id\": %d, \"$deleted\": true}\n", NR - 1 }' \
        "$base/small.jsonl" | "$WR_BIN/wr-load" -q "$base/small" c -
}

make_db() {
    cp -r "$BATS_FILE_TMPDIR/base/${1:-db}" "$TMP/db"
}

# hash every file of a directory, names and bytes (but the lock file with
# a second argument: a writer records itself there)
dir_hash() {
    (cd "$1" && find . -type f ${2:+! -name LOCK} | LC_ALL=C sort |
        xargs sha256sum) | sha256sum
}

# refused MSG ARG...: wr-compact ARG... is refused, exit 3, saying MSG
refused() {
    local msg=$1
    shift
    run "$WR_BIN/wr-compact" "$@"
    [ "$status" -eq 3 ]
    [[ "$output" == *"$msg"* ]]
}

@test "wr-compact --help lists every option and the exit codes, exits 0" {
    run "$WR_BIN/wr-compact" --help
    [ "$status" -eq 0 ]
    for opt in --dry-run --backup-dir --page-size --fill --json --quiet; do
        [[ "$output" == *"$opt"* ]]
    done
    [[ "$output" == *"Exit status"* ]]
}

@test "wr-compact --version names tool and format" {
    run "$WR_BIN/wr-compact" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"wr-compact"*"format 4"* ]]
}

@test "wr-compact usage errors exit 2 with a hint" {
    make_db
    run "$WR_BIN/wr-compact"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--help"* ]]
    run "$WR_BIN/wr-compact" --fill 5 "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--fill"* ]]
    run "$WR_BIN/wr-compact" --fill x "$TMP/db"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-compact" --page-size 1000 "$TMP/db"
    [ "$status" -eq 2 ]
    [[ "$output" == *"power of two"* ]]
    run "$WR_BIN/wr-compact" --no-such-option "$TMP/db"
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-compact" --dry-run --backup-dir "$TMP/b" "$TMP/db"
    [ "$status" -eq 2 ]
}

@test "wr-compact: a missing path or a directory that is no database exits 3" {
    run "$WR_BIN/wr-compact" "$TMP/nothing"
    [ "$status" -eq 3 ]
    [[ "$output" == *"nothing"* ]]
    mkdir "$TMP/empty"
    run "$WR_BIN/wr-compact" "$TMP/empty"
    [ "$status" -eq 3 ]
    [[ "$output" == *"not a wrtools database"* ]]
}

@test "a mostly free database shrinks to within 10% of its live data, verifies, dumps the same" {
    make_db
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/before.jsonl"
    [ "$(wc -l < "$TMP/before.jsonl")" -eq 5000 ]
    before=$(du -b "$TMP/db" | cut -f1)
    run_json "$WR_BIN/wr-compact" --json "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -r .status <<<"$output")" = ok ]
    [ "$(jq -r .compacted <<<"$output")" = 2 ]
    [ "$(jq -r '.files[0].status' <<<"$output")" = compacted ]
    [ "$(jq -r '.files[0].records' <<<"$output")" = 5000 ]
    size=$(jq -r .size_after <<<"$output")
    live=$(jq -r .live_bytes <<<"$output")
    # the database: within 10% of its live data; the main table too
    [ $((size * 100)) -le $((live * 110)) ]
    msize=$(jq -r '.files[0].size_after' <<<"$output")
    mlive=$(jq -r '.files[0].live_bytes' <<<"$output")
    [ $((msize * 100)) -le $((mlive * 110)) ]
    # the sizes reported are the files' sizes; most space was given back
    [ "$(stat -c %s "$TMP/db/people.main.wr")" -eq "$msize" ]
    [ $(( $(jq -r .size_before <<<"$output") )) -ge $((size * 4)) ]
    [ "$(jq -r .given_back <<<"$output")" -eq \
      $(( $(jq -r .size_before <<<"$output") - size )) ]
    [ ! -e "$TMP/db/people.main.wr.compact.tmp" ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-verify" --checkpoint previous "$TMP/db"
    [ "$status" -eq 0 ]
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/after.jsonl"
    cmp "$TMP/before.jsonl" "$TMP/after.jsonl"
    [ "$(du -b "$TMP/db" | cut -f1)" -lt $((before / 4)) ]
}

@test "wr-compact prints one line per file and a total" {
    make_db
    run "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"people.main.wr: compacted, "*" -> "*" bytes, "*" given back"* ]]
    [[ "${lines[1]}" == *"people.idx.address.city.wr: compacted"* ]]
    [[ "${lines[2]}" == "total: 2 of 2 files compacted, "* ]]
    run "$WR_BIN/wr-compact" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "the database stays writable: wr-load after wr-compact, then again" {
    make_db
    "$WR_BIN/wr-compact" -q "$TMP/db"
    make_jsonl "$TMP/more.jsonl" 500 20000
    run "$WR_BIN/wr-load" "$TMP/db" people "$TMP/more.jsonl"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-verify" --all-checkpoints "$TMP/db"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db" | wc -l)" -eq 5500 ]
}

@test "--dry-run changes nothing and predicts the sizes exactly" {
    make_db
    h0=$(dir_hash "$TMP/db")
    run_json "$WR_BIN/wr-compact" --dry-run --json "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -r .dry_run <<<"$output")" = true ]
    [ "$(jq -r '.files[0].status' <<<"$output")" = dry-run ]
    predicted=$(jq -c '[.files[] | .size_after]' <<<"$output")
    [ "$(dir_hash "$TMP/db")" = "$h0" ]
    run "$WR_BIN/wr-compact" --dry-run "$TMP/db"
    [ "$status" -eq 0 ]
    [[ "$output" == *"total: 2 of 2 files would be compacted"* ]]
    [ "$(dir_hash "$TMP/db")" = "$h0" ]
    run_json "$WR_BIN/wr-compact" --json "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -c '[.files[] | .size_after]' <<<"$output")" = "$predicted" ]
}

@test "--page-size and --fill: other layouts, the same documents" {
    make_db
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/before.jsonl"
    run_json "$WR_BIN/wr-compact" --json --page-size 512 "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.files[0].page_size_before' <<<"$output")" = 4096 ]
    [ "$(jq -r '.files[0].page_size_after' <<<"$output")" = 512 ]
    [[ "$("$WR_BIN/wr-dump" "$TMP/db")" == *"page size 512"* ]]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    run_json "$WR_BIN/wr-compact" --json --page-size 8K "$TMP/db"
    [ "$status" -eq 0 ]
    full=$(jq -r .size_after <<<"$output")
    run_json "$WR_BIN/wr-compact" --json --fill 50 "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -r .size_after <<<"$output")" -gt $((full * 3 / 2)) ]
    [ "$(jq -r '.files[0].page_size_after' <<<"$output")" = 8192 ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/after.jsonl"
    cmp "$TMP/before.jsonl" "$TMP/after.jsonl"
}

@test "a damaged file is refused with exit 1, naming it; nothing changes" {
    make_db
    off=$(python3 "$BATS_TEST_DIRNAME/damage.py" page \
          "$TMP/db/people.idx.address.city.wr" leaf 1)
    python3 "$BATS_TEST_DIRNAME/damage.py" flip \
        "$TMP/db/people.idx.address.city.wr" $((off + 200))
    h0=$(dir_hash "$TMP/db" nolock)
    run "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people.idx.address.city.wr is damaged"* ]]
    [[ "$output" == *"not compacted"* ]]
    # nothing but the lock file's holder line was written
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    run_json "$WR_BIN/wr-compact" --json "$TMP/db"
    [ "$status" -eq 1 ]
    [ "$(jq -r .status <<<"$output")" = error ]
    [ "$(jq -r .error.code <<<"$output")" = WR_ECORRUPT ]
    [ "$(jq -r '.files[1].status' <<<"$output")" = damaged ]
    [ "$(jq -r '.files[0].status' <<<"$output")" = skipped ]
    [ "$(jq -r .compacted <<<"$output")" = 0 ]
    # the dry run says so too
    run "$WR_BIN/wr-compact" --dry-run "$TMP/db"
    [ "$status" -eq 1 ]
}

@test "a key or document damaged inside a page whose checksum holds: refused naming the original and its page; nothing changes" {
    # the quick check of the original reads every page against its
    # checksum; what lies inside (keys, documents) is judged by the copy's
    # full verify, and a failure there is traced back to the original
    for how in idchange baddoc swapkeys; do
        rm -rf "$TMP/db"
        make_db
        off=$(python3 "$BATS_TEST_DIRNAME/damage.py" $how "$TMP/db/people.main.wr")
        h0=$(dir_hash "$TMP/db" nolock)
        run "$WR_BIN/wr-compact" "$TMP/db"
        [ "$status" -eq 1 ]
        [[ "$output" == *"people.main.wr is damaged, not compacted"* ]]
        [[ "$output" == *"people.main.wr: page $off: "* ]]
        [ $how != baddoc ] || [[ "$output" == *"document not NUL-terminated"* ]]
        [[ "$output" != *compact.tmp* ]]
        [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
        ! ls "$TMP/db" | grep -q compact.tmp
        run_json "$WR_BIN/wr-compact" --json "$TMP/db"
        [ "$status" -eq 1 ]
        [ "$(jq -r .error.code <<<"$output")" = WR_ECORRUPT ]
        [ "$(jq -r '.files[0].status' <<<"$output")" = damaged ]
        [[ "$(jq -r '.files[0].error' <<<"$output")" == *"people.main.wr: page $off: "* ]]
        [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    done
}

@test "several paths: each is done; the worst exit code wins (3 over 1)" {
    make_db
    cp -r "$BATS_FILE_TMPDIR/base/small" "$TMP/small"
    cp "$TMP/small/c.main.wr" "$TMP/lone.wr"
    python3 "$BATS_TEST_DIRNAME/damage.py" flip "$TMP/small/c.idx.tags.wr" \
        "$(python3 "$BATS_TEST_DIRNAME/damage.py" page "$TMP/small/c.idx.tags.wr" leaf 0)"
    run_json "$WR_BIN/wr-compact" --json "$TMP/db" "$TMP/lone.wr" "$TMP/small"
    [ "$status" -eq 1 ]
    [ "$(jq -r '[.files[] | .status] | join(",")' <<<"$output")" = \
      "compacted,compacted,compacted,skipped,damaged" ]
    [ "$(jq -r .compacted <<<"$output")" = 3 ]
    run "$WR_BIN/wr-verify" "$TMP/lone.wr" "$TMP/db"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-compact" "$TMP/small" "$TMP/missing"
    [ "$status" -eq 3 ]
}

@test "another process holding the directory: exit 3 naming it" {
    make_db
    echo "4242 wr-elsewhere" > "$TMP/db/LOCK"
    flock "$TMP/db/LOCK" sleep 5 &
    sleep 0.5
    run "$WR_BIN/wr-compact" "$TMP/db"
    text=$output
    [ "$status" -eq 3 ]
    run_json "$WR_BIN/wr-compact" --json "$TMP/db"
    kill %1 2>/dev/null || true
    [ "$status" -eq 3 ]
    [ "$(jq -r .error.code <<<"$output")" = WR_ELOCKED ]
    [[ "$(jq -r .error.message <<<"$output")" == *"4242"*"wr-elsewhere"* ]]
    [ "$(jq -r .compacted <<<"$output")" = 0 ]
    # no file was touched: none is listed, as "skipped" or otherwise (the
    # text neither: no row, no total) (review2 #11)
    [ "$(jq -c .files <<<"$output")" = "[]" ]
    [[ "$text" != *"skipped"* && "$text" != *"total:"* ]]
    [[ "$text" == *"4242"*"wr-elsewhere"* ]]
    # --dry-run reads only: it takes no lock
    run "$WR_BIN/wr-compact" --dry-run "$TMP/db"
    [ "$status" -eq 0 ]
}

# A tree file moved to another volume and linked back (review4 #12): the
# rename would replace the link with a new file in DIR and leave the file
# it points to whole; it is refused (exit 3, naming it), nothing of its
# database is compacted, another PATH still is. The readers follow the
# link (wr-verify, wr-dump; wr-load writes through it).
@test "a tree file that is a symbolic link: refused with exit 3 naming it, nothing changed; another PATH still compacted" {
    make_db
    cp -r "$BATS_FILE_TMPDIR/base/small" "$TMP/small"
    mkdir "$TMP/vol"
    mv "$TMP/db/people.main.wr" "$TMP/vol/"
    ln -s ../vol/people.main.wr "$TMP/db/people.main.wr"
    cp "$TMP/vol/people.main.wr" "$TMP/main.orig"
    h0=$(dir_hash "$TMP/db" nolock)
    refused "wr-compact: $TMP/db/people.main.wr is a symbolic link (to ../vol/people.main.wr): not compacted" "$TMP/db"
    [[ "$output" != *"given back ("[1-9]* ]]
    [[ "$output" == *"total: 0 of 2 files compacted"* ]]
    [ -L "$TMP/db/people.main.wr" ]
    [ "$(readlink "$TMP/db/people.main.wr")" = ../vol/people.main.wr ]
    cmp "$TMP/main.orig" "$TMP/vol/people.main.wr"
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    [ -z "$(find "$TMP/db" "$TMP/vol" -name '*.tmp')" ]
    # the same for the link named alone, and for a dry run
    refused "people.main.wr is a symbolic link" "$TMP/db/people.main.wr"
    refused "people.main.wr is a symbolic link" --dry-run "$TMP/db"
    # listed as for a file that failed: it "failed" with its reason, the
    # rest of its database "skipped", their sizes their own; the other
    # PATH is compacted
    run_json "$WR_BIN/wr-compact" --json "$TMP/db" "$TMP/small"
    [ "$status" -eq 3 ]
    [ "$(jq -r .error.code <<<"$output")" = WR_ENOTSUP ]
    [ "$(jq -r '[.files[] | .status] | join(",")' <<<"$output")" = \
      "failed,skipped,compacted,compacted" ]
    [[ "$(jq -r '.files[0].error.message' <<<"$output")" == *"symbolic link"* ]]
    [[ "$(jq -r '.files[1].reason' <<<"$output")" == *"symbolic link"* ]]
    [ "$(jq -r '.files[0].size_before' <<<"$output")" -eq "$(stat -c %s "$TMP/main.orig")" ]
    [ "$(jq -r '.files[1].size_before' <<<"$output")" -eq "$(stat -c %s "$TMP/db/people.idx.address.city.wr")" ]
    [ "$(jq -r .compacted <<<"$output")" = 2 ]
    [ -L "$TMP/db/people.main.wr" ]
    cmp "$TMP/main.orig" "$TMP/vol/people.main.wr"
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    run "$WR_BIN/wr-verify" -q "$TMP/db" "$TMP/small"
    [ "$status" -eq 0 ]
    # moved back, it is compacted
    rm "$TMP/db/people.main.wr"
    mv "$TMP/vol/people.main.wr" "$TMP/db/"
    run "$WR_BIN/wr-compact" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(stat -c %s "$TMP/db/people.main.wr")" -lt "$(stat -c %s "$TMP/main.orig")" ]
}

# A catalog moved to another volume and linked back: the commit's rename
# would replace the link with a regular file and leave the file it points
# to stale while the database moves on. Refused as a tree file's link is
# (exit 3, WR_ENOTSUP, naming the link and its target), before anything
# is written: no backup, no copy, no file listed; so too a lone file the
# catalog names, and a dry run. The readers read through the link.
@test "a catalog that is a symbolic link: refused with exit 3 naming it and its target, nothing written" {
    make_db
    mkdir "$TMP/vol"
    mv "$TMP/db/wr.catalog" "$TMP/vol/"
    ln -s ../vol/wr.catalog "$TMP/db/wr.catalog"
    cp "$TMP/vol/wr.catalog" "$TMP/cat.orig"
    h0=$(dir_hash "$TMP/db" nolock)
    msg="wr-compact: $TMP/db/wr.catalog is a symbolic link (to ../vol/wr.catalog): not written, nor is anything else of $TMP/db"
    refused "$msg" --backup-dir "$TMP/bk" "$TMP/db"
    [[ "$output" != *"given back"* ]]
    [ -L "$TMP/db/wr.catalog" ]
    [ "$(readlink "$TMP/db/wr.catalog")" = ../vol/wr.catalog ]
    cmp "$TMP/cat.orig" "$TMP/vol/wr.catalog"
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    [ ! -e "$TMP/bk" ]
    [ -z "$(find "$TMP/db" "$TMP/vol" -name '*.tmp')" ]
    # a lone file the catalog names commits the catalog too; a dry run
    # says what a real run would do
    refused "wr.catalog is a symbolic link (to ../vol/wr.catalog)" "$TMP/db/people.main.wr"
    refused "wr.catalog is a symbolic link (to ../vol/wr.catalog)" --dry-run "$TMP/db"
    run_json "$WR_BIN/wr-compact" --json "$TMP/db"
    [ "$status" -eq 3 ]
    [ "$(jq -r .error.code <<<"$output")" = WR_ENOTSUP ]
    [ "$(jq -r '.files | length' <<<"$output")" = 0 ]
    [ -L "$TMP/db/wr.catalog" ]
    cmp "$TMP/cat.orig" "$TMP/vol/wr.catalog"
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    # the readers read through it
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    # moved back, it is compacted
    rm "$TMP/db/wr.catalog"
    mv "$TMP/vol/wr.catalog" "$TMP/db/"
    run "$WR_BIN/wr-compact" -q "$TMP/db"
    [ "$status" -eq 0 ]
}

# A tree file with another hard link (a snapshot made with cp -al, a
# backup made with ln): the rename replaces this name only, the other name
# keeps the old file, so no space comes back and the two names silently
# hold two files. Refused as a symbolic link is (exit 3, WR_ENOTSUP, the
# message saying how many other links and why), before anything is
# written; a lone file and a dry run too.
@test "a tree file with other hard links: refused with exit 3 saying how many and why, nothing written" {
    make_db
    ln "$TMP/db/people.main.wr" "$TMP/people.snap.wr"
    cp "$TMP/db/people.main.wr" "$TMP/main.orig"
    ino=$(stat -c %i "$TMP/db/people.main.wr")
    h0=$(dir_hash "$TMP/db" nolock)
    refused "wr-compact: $TMP/db/people.main.wr has 1 other hard link: not compacted, nor is anything else of $TMP/db (" --backup-dir "$TMP/bk" "$TMP/db"
    [[ "$output" == *"give no space back and split them"* ]]
    [[ "$output" == *"total: 0 of 2 files compacted"* ]]
    [ "$(stat -c %i "$TMP/db/people.main.wr")" = "$ino" ]
    [ "$(stat -c %h "$TMP/db/people.main.wr")" = 2 ]
    cmp "$TMP/main.orig" "$TMP/people.snap.wr"
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    [ ! -e "$TMP/bk" ]
    [ -z "$(find "$TMP/db" -name '*.tmp')" ]
    # two other links; the file named alone; a dry run
    ln "$TMP/db/people.main.wr" "$TMP/people.snap2.wr"
    refused "people.main.wr has 2 other hard links: not compacted" "$TMP/db/people.main.wr"
    refused "people.main.wr has 2 other hard links" --dry-run "$TMP/db"
    run_json "$WR_BIN/wr-compact" --json "$TMP/db"
    [ "$status" -eq 3 ]
    [ "$(jq -r .error.code <<<"$output")" = WR_ENOTSUP ]
    [ "$(jq -r '[.files[] | .status] | join(",")' <<<"$output")" = failed,skipped ]
    [[ "$(jq -r '.files[0].error.message' <<<"$output")" == *"other hard links"* ]]
    [ "$(stat -c %i "$TMP/db/people.main.wr")" = "$ino" ]
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
    # the other names gone, it is compacted
    rm "$TMP/people.snap.wr" "$TMP/people.snap2.wr"
    run "$WR_BIN/wr-compact" -q "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(stat -c %s "$TMP/db/people.main.wr")" -lt "$(stat -c %s "$TMP/main.orig")" ]
}

# The same file named twice, by whatever path (review4 #16): compacted,
# listed and counted once, the device and inode deciding (a compacted
# file is a new one: as it is after its PATH).
@test "a file named again by a later PATH (another path to it) is compacted and counted once" {
    make_db
    ln -s db "$TMP/dblink"
    run_json "$WR_BIN/wr-compact" --json "$TMP/db" "$TMP/db/people.main.wr" \
        "$TMP/./db/" "$TMP/dblink" "$TMP/dblink/people.idx.address.city.wr"
    [ "$status" -eq 0 ]
    [ "$(jq -r '[.files[] | .path] | join(",")' <<<"$output")" = \
      "$TMP/db/people.main.wr,$TMP/db/people.idx.address.city.wr" ]
    [ "$(jq -r .compacted <<<"$output")" = 2 ]
    [ "$(jq -r .size_after <<<"$output")" -eq \
      $(( $(stat -c %s "$TMP/db/people.main.wr") + $(stat -c %s "$TMP/db/people.idx.address.city.wr") )) ]
    # a file first, then its database: the database's other file only
    rm -rf "$TMP/db"
    make_db
    run "$WR_BIN/wr-compact" "$TMP/db/people.main.wr" "$TMP/db" "$TMP/db/"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[0]}" == "$TMP/db/people.main.wr: compacted, "* ]]
    [[ "${lines[1]}" == "$TMP/db/people.idx.address.city.wr: compacted, "* ]]
    [[ "${lines[2]}" == "total: 2 of 2 files compacted, "* ]]
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-verify" -q --checkpoint previous "$TMP/db"
    [ "$status" -eq 0 ]
    # a dry run too; separate runs are each a run of their own
    run_json "$WR_BIN/wr-compact" --json --dry-run "$TMP/db" "$TMP/db"
    [ "$(jq -r '.files | length' <<<"$output")" = 2 ]
    run "$WR_BIN/wr-compact" -q "$TMP/db/people.main.wr"
    [ "$status" -eq 0 ]
    # a file that was not compacted (its index damaged) is not left out:
    # its database, named again, is refused again, never compacted
    # without the damaged file
    cp -r "$BATS_FILE_TMPDIR/base/small" "$TMP/small"
    python3 "$BATS_TEST_DIRNAME/damage.py" flip "$TMP/small/c.idx.tags.wr" \
        "$(python3 "$BATS_TEST_DIRNAME/damage.py" page "$TMP/small/c.idx.tags.wr" leaf 0)"
    cp "$TMP/small/c.main.wr" "$TMP/main.orig"
    run_json "$WR_BIN/wr-compact" --json "$TMP/small" "$TMP/small/"
    [ "$status" -eq 1 ]
    [ "$(jq -r '[.files[] | .status] | join(",")' <<<"$output")" = \
      "skipped,damaged,skipped,damaged" ]
    cmp "$TMP/main.orig" "$TMP/small/c.main.wr"
}

# After a run the shrinking stopped: nothing was replaced or left over,
# and the catalog still names the shrunk file, which verify reports as
# truncated (exit 1), as it is: that file was shorter when it opened it.
shrink_nothing_replaced() {
    [ ! -e "$TMP/db/c.main.wr.compact.tmp" ]
    [ -z "$(find "$TMP/db" -name '*.tmp')" ]
    [ ! -e "$TMP/db/LOCK" ]
    run "$WR_BIN/wr-verify" -q "$TMP/db"
    [ "$status" -eq 1 ]
    [[ "$output" == *"truncated"* ]]
}

# The original shrinking while wr-compact reads it through its mapping
# (another process truncating it without the directory's lock): the
# shim truncates it to a quarter at the first gathered run the loader
# writes into the copy, while the walk of the original still feeds it.
# The read that faults is reported, never a SIGBUS; the kernel may have
# dropped the file's pages from its cache (then it is read by pread, the
# next test's case): the case is made again, up to three times, until the
# mapping is used. The mapping is the fallback where there is no io_uring
# for batches of reads (WR_IO_BATCH=0 here); the test after the next one
# shrinks it under the batches.
@test "the original shrinking while wr-compact reads it: exit 3 naming it and the offset, no copy left, the lock released" {
    local try
    for try in 1 2 3; do
        shrink_setup
        WR_IO_BATCH=0 shrink_run "$WR_BIN/wr-compact" "$TMP/db"
        [[ "$output" == *"through its mapping"* ]] && break
    done
    [ "$status" -eq 3 ]
    [[ "$output" == *"c.main.wr: the file changed or shrank while it was read (a read through its mapping failed at offset "*" of $sz bytes"* ]]
    shrink_nothing_replaced
}

# The same read by pread (a dry run never maps: it takes no lock): the
# same class, exit 3, never damage (exit 1) of a file that was whole when
# it was opened; the shim truncates it before the walk's third read.
@test "the original shrinking while wr-compact --dry-run preads it: exit 3, not damage" {
    shrink_setup
    WR_SHRINK_READ=3 shrink_run "$WR_BIN/wr-compact" --dry-run "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"c.main.wr: the file changed or shrank while it was read (a read at offset "*" found it shorter than the $sz bytes it had when opened"* ]]
    [[ "$output" != *"damage"* && "$output" != *"truncated)"* ]]
    shrink_nothing_replaced
}

# The same shrink while the original's leaves are read in batches
# (io_uring): the reads past the new end come back short and are read
# again one by one, which finds the file shorter than when it was opened:
# the same class, exit 3, never damage; nothing replaced, no copy left,
# the lock released. Skipped where the kernel offers no io_uring (the
# mapped test above covers what is read then).
@test "the original shrinking under batched reads: exit 3, not damage, nothing replaced" {
    if ! python3 -c 'import ctypes, sys; p = ctypes.create_string_buffer(120); sys.exit(0 if ctypes.CDLL(None, use_errno=True).syscall(425, 4, p) >= 0 else 1)'; then
        skip "no io_uring on this kernel"
    fi
    shrink_setup
    shrink_run "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 3 ]
    # found by a read again (not through a mapping: batches are read
    # instead of mapping the file, cached as it is here)
    [[ "$output" == *"c.main.wr: the file changed or shrank while it was read (a read at offset "*" found it shorter than the $sz bytes it had when opened"* ]]
    [[ "$output" != *"damage"* ]]
    shrink_nothing_replaced
}

@test "--backup-dir copies the originals with a manifest first" {
    make_db
    cp -r "$TMP/db" "$TMP/orig"
    run_json "$WR_BIN/wr-compact" --json --backup-dir "$TMP/backups" "$TMP/db"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.files[0].backup' <<<"$output")" = "$TMP/backups/db" ]
    for f in people.main.wr people.idx.address.city.wr wr.catalog; do
        cmp "$TMP/orig/$f" "$TMP/backups/db/$f"
        grep -q " $f\$" "$TMP/backups/db/MANIFEST"
    done
    run "$WR_BIN/wr-verify" "$TMP/backups/db"
    [ "$status" -eq 0 ]
    # a rerun on the same bytes keeps this backup (it holds the same data)
    run "$WR_BIN/wr-compact" --backup-dir "$TMP/backups" "$TMP/db"
    [ "$status" -eq 0 ]
    cmp "$TMP/orig/people.main.wr" "$TMP/backups/db/people.main.wr"
    # once the database changed, the backup is not overwritten
    run "$WR_BIN/wr-load" -q "$TMP/db" people <(echo '{"_id": "late"}')
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-compact" --backup-dir "$TMP/backups" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"backups/db"* ]]
    cmp "$TMP/orig/people.main.wr" "$TMP/backups/db/people.main.wr"
}

@test "a crash at points through the commit leaves a database that verifies and dumps the same; a rerun finishes" {
    make_db small
    cp -r "$TMP/db" "$TMP/base"
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/before.jsonl"
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-compact" -q "$TMP/db"
    ops=$(cat "$TMP/ops")
    [ "$ops" -gt 10 ]
    for n in 1 2 $((ops / 3)) $((ops / 2)) $((ops - 7)) $((ops - 5)) \
             $((ops - 4)) $((ops - 3)) $((ops - 2)) $((ops - 1)) "$ops"; do
        rm -rf "$TMP/db"
        cp -r "$TMP/base" "$TMP/db"
        run env WR_IO_FAULT="crash=$n,tear=100" "$WR_BIN/wr-compact" -q "$TMP/db"
        [ "$status" -eq 86 ]
        run "$WR_BIN/wr-verify" "$TMP/db"
        [ "$status" -eq 0 ]
        "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/after.jsonl"
        cmp "$TMP/before.jsonl" "$TMP/after.jsonl"
    done
    run "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 0 ]
    [ -z "$(ls "$TMP/db" | grep compact.tmp || true)" ]
    run "$WR_BIN/wr-verify" "$TMP/db"
    [ "$status" -eq 0 ]
}

@test "--backup-dir: a rerun after a crash anywhere goes on with its own backup" {
    make_db small
    cp -r "$TMP/db" "$TMP/base"
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/before.jsonl"
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-compact" -q --backup-dir "$TMP/bk0" "$TMP/db"
    ops=$(cat "$TMP/ops")
    [ "$ops" -gt 30 ]
    points=(1 2 3 $((ops / 4)) $((ops / 2)))
    for ((n = ops - 24; n <= ops; n++)); do points+=("$n"); done
    for n in "${points[@]}"; do
        rm -rf "$TMP/db" "$TMP/bk"
        cp -r "$TMP/base" "$TMP/db"
        run env WR_IO_FAULT="crash=$n" "$WR_BIN/wr-compact" -q --backup-dir "$TMP/bk" "$TMP/db"
        [ "$status" -eq 86 ]
        run "$WR_BIN/wr-compact" -q --backup-dir "$TMP/bk" "$TMP/db"
        echo "crash at op $n of $ops: $output"
        [ "$status" -eq 0 ]
        for f in c.main.wr c.idx.tags.wr wr.catalog; do
            cmp "$TMP/base/$f" "$TMP/bk/db/$f"
        done
        "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/after.jsonl"
        cmp "$TMP/before.jsonl" "$TMP/after.jsonl"
    done
    # a backup of other bytes is still refused
    run "$WR_BIN/wr-load" "$TMP/db" c <(echo '{"_id": "late"}')
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-compact" -q --backup-dir "$TMP/bk" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"another backup"* ]]
}

@test "free space is checked before anything is written (exit 3 with the numbers); a full disk before the commit removes the backup it made" {
    make_db small
    cp -r "$TMP/db" "$TMP/base"
    run env WR_IO_FREE_SPACE=2000 "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"needs about "*" in $TMP/db, 2.0 kB free"* ]]
    run env WR_IO_FREE_SPACE=2000 "$WR_BIN/wr-compact" --backup-dir "$TMP/bk" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"needs about"* ]]
    [ ! -e "$TMP/bk" ]
    for f in c.main.wr c.idx.tags.wr wr.catalog; do
        cmp "$TMP/base/$f" "$TMP/db/$f"
    done
    [ -z "$(ls "$TMP/db" | grep compact.tmp || true)" ]
    # ENOSPC at one op (every third) before the commit: no backup left
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-compact" -q --backup-dir "$TMP/bk0" "$TMP/db"
    total=$(cat "$TMP/ops")
    failed=0
    for ((n = 1; n <= total; n += 3)); do
        rm -rf "$TMP/db" "$TMP/bk"
        cp -r "$TMP/base" "$TMP/db"
        st=0
        WR_IO_FAULT="fail=$n,err=ENOSPC" "$WR_BIN/wr-compact" -q --backup-dir "$TMP/bk" "$TMP/db" >/dev/null 2>&1 || st=$?
        [ "$st" -eq 0 ] && continue
        [ "$st" -eq 3 ]
        cmp -s "$TMP/base/wr.catalog" "$TMP/db/wr.catalog" || continue
        failed=$((failed + 1))
        [ ! -e "$TMP/bk" ] || { echo "op $n: backup left"; ls -R "$TMP/bk"; false; }
    done
    echo "$failed of $total ops failed before the commit"
    [ "$failed" -gt 10 ]
}

# Refused by the free-space check, the run touched no file: it lists none,
# in text or JSON, only the error, as for a held lock (review4 #14).
@test "too little free space: no file listed (files empty, no total), only the error" {
    make_db small
    h0=$(dir_hash "$TMP/db" nolock)
    run env WR_IO_FREE_SPACE=2000 "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 3 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "wr-compact: not enough free space: needs about "* ]]
    [[ "$output" != *"skipped"* && "$output" != *"total:"* ]]
    run_json env WR_IO_FREE_SPACE=2000 "$WR_BIN/wr-compact" --json "$TMP/db"
    [ "$status" -eq 3 ]
    [ "$(jq -c .files <<<"$output")" = "[]" ]
    [ "$(jq -r .error.code <<<"$output")" = WR_ENOSPC ]
    [[ "$(jq -r .error.message <<<"$output")" == *"not enough free space"* ]]
    [ "$(jq -r .size_before <<<"$output")" = 0 ]
    [ "$(dir_hash "$TMP/db" nolock)" = "$h0" ]
}

@test "a full disk leaves the original files and exits 3" {
    make_db small
    cp -r "$TMP/db" "$TMP/base"
    WR_IO_STATS="$TMP/ops" "$WR_BIN/wr-compact" -q "$TMP/db"
    rm -rf "$TMP/db"
    cp -r "$TMP/base" "$TMP/db"
    ops=$(cat "$TMP/ops")
    run env WR_IO_FAULT="fail=$((ops / 2)),err=ENOSPC,sticky" \
        "$WR_BIN/wr-compact" "$TMP/db"
    [ "$status" -eq 3 ]
    [[ "$output" == *"ENOSPC"* || "$output" == *"space"* ]]
    for f in c.main.wr c.idx.tags.wr wr.catalog; do
        cmp "$TMP/base/$f" "$TMP/db/$f"
    done
}
