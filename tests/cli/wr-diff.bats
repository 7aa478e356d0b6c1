#!/usr/bin/env bats
# wr-diff: databases against databases, legacy directories and JSONL
# files; every output mode; the exit codes; damaged inputs.

load helpers
bats_require_minimum_version 1.5.0

# The people database (testdata/people.jsonl, 512-byte pages, indexes on
# age and address.city), built once; make_db copies it to $TMP/NAME.
setup_file() {
    local base="$BATS_FILE_TMPDIR/base"
    mkdir -p "$base"
    "$WR_BIN/wr-load" -q --page-size 512 --index age --index address.city \
        "$base/db" people "$BATS_TEST_DIRNAME/../../testdata/people.jsonl"
}

make_db() { cp -r "$BATS_FILE_TMPDIR/base/db" "$TMP/$1"; }

PEOPLE="$BATS_TEST_DIRNAME/../../testdata/people.jsonl"

@test "wr-diff --help lists the options and the exit codes, exits 0" {
    run "$WR_BIN/wr-diff" --help
    [ "$status" -eq 0 ]
    for opt in --collection --count --memory --json --quiet --help \
        --version; do
        [[ "$output" == *"$opt"* ]]
    done
    [[ "$output" == *"Exit status: 0 identical; 1 different; 2 usage"* ]]
    run "$WR_BIN/wr-diff" --version
    [ "$status" -eq 0 ]
    [[ "$output" == "wr-diff (wrtools) "* ]]
}

@test "usage errors exit 2 with one line and try --help" {
    run "$WR_BIN/wr-diff"
    [ "$status" -eq 2 ]
    [[ "$output" == *"expected two paths"*"--help"* ]]
    run "$WR_BIN/wr-diff" a b c
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-diff" --memory lots a b
    [ "$status" -eq 2 ]
    [[ "$output" == *"--memory"* ]]
    run "$WR_BIN/wr-diff" --bogus a b
    [ "$status" -eq 2 ]
    run "$WR_BIN/wr-diff" - -
    [ "$status" -eq 2 ]
}

@test "a lone tree file is a usage error (exit 2) saying wr-diff compares databases, not parsed as JSONL" {
    make_db db
    cp "$TMP/db/people.main.wr" "$TMP/lone.wr"
    cp "$TMP/db/people.main.wr" "$TMP/lone.bin"
    for f in "$TMP/lone.wr" "$TMP/lone.bin"; do
        run "$WR_BIN/wr-diff" "$f" "$TMP/db"
        [ "$status" -eq 2 ]
        [[ "$output" == *"$f is a single tree file: wr-diff compares databases"* ]]
        [[ "$output" != *"JSON object"* ]]
        run "$WR_BIN/wr-diff" "$TMP/db" "$f"
        [ "$status" -eq 2 ]
    done
}

@test "two sides in one directory leave no LOCK behind" {
    make_jsonl "$TMP/a.jsonl" 10
    make_jsonl "$TMP/b.jsonl" 10
    cd "$TMP"
    run "$WR_BIN/wr-diff" - - </dev/null
    [ "$status" -eq 2 ]
    [ ! -e "$TMP/LOCK" ]
    run "$WR_BIN/wr-diff" a.jsonl b.jsonl
    [ "$status" -eq 0 ]
    [ ! -e "$TMP/LOCK" ]
}

@test "two copies of a database are identical: exit 0, summary counts documents and index entries" {
    make_db a
    make_db b
    run "$WR_BIN/wr-diff" "$TMP/a" "$TMP/b"
    [ "$status" -eq 0 ]
    [ "$output" = "identical: 2000 documents in 1 collection, 4000 index entries" ]
    run "$WR_BIN/wr-diff" -q "$TMP/a" "$TMP/b"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "a summary that cannot be written (full disk) is no 'identical': exit 3 with the reason" {
    make_db a
    make_db b
    run -3 --separate-stderr sh -c '"$0" "$1" "$2" > /dev/full' \
        "$WR_BIN/wr-diff" "$TMP/a" "$TMP/b"
    [ "$stderr" = "wr-diff: writing the report failed: No space left on device" ]
    run -3 --separate-stderr sh -c '"$0" --json "$1" "$2" > /dev/full' \
        "$WR_BIN/wr-diff" "$TMP/a" "$TMP/b"
    [[ "$stderr" == "wr-diff: writing the report failed: "* ]]
}

@test "updates, deletes and inserts: each _id once, the first differing field, index entries; exit 1" {
    make_db a
    make_db b
    printf '%s\n' '{"_id": 3, "name": "person 3", "age": 41}' \
        '{"_id": 10, "$deleted": true}' \
        '{"_id": 5000, "name": "new"}' \
        '{"_id": 7, "name": "person 7", "address": {"city": "Bern"}}' > "$TMP/u.jsonl"
    # the rest of documents 3 and 7 as they were, so the first difference
    # is the field changed
    python3 - "$PEOPLE" "$TMP/u.jsonl" <<'EOF'
import json, sys
docs = {d["_id"]: d for d in map(json.loads, open(sys.argv[1]))}
out = []
d = dict(docs[3]); d["age"] = 41; out.append(d)
out.append({"_id": 10, "$deleted": True})
out.append({"_id": 5000, "name": "new"})
d = dict(docs[7]); d["address"] = dict(d["address"], city="Bern"); out.append(d)
open(sys.argv[2], "w").write("".join(json.dumps(x) + "\n" for x in out))
EOF
    "$WR_BIN/wr-load" -q "$TMP/b" people "$TMP/u.jsonl"
    run --separate-stderr "$WR_BIN/wr-diff" "$TMP/a" "$TMP/b"
    [ "$status" -eq 1 ]
    [[ "$output" == *"people: different: _id 3: age (value)"* ]]
    [[ "$output" == *"people: different: _id 7: address.city (value)"* ]]
    [[ "$output" == *"people: only in A: _id 10"* ]]
    [[ "$output" == *"people: only in B: _id 5000"* ]]
    [[ "$output" == *"people: index age: only in B: entry [ 41, 3 ] (value, _id)"* ]]
    [[ "$output" == *'people: index address.city: only in B: entry [ "Bern", 7 ] (value, _id)'* ]]
    [[ "${lines[-1]}" == "different: 1 only in A, 1 only in B, 2 different, 1997 identical;"* ]]
    # document lines come in _id order before the index lines
    [ "$(grep -n '_id 3:' <<<"$output" | cut -d: -f1)" -lt \
      "$(grep -n '_id 7:' <<<"$output" | cut -d: -f1)" ]
    # --count: only the summary
    run "$WR_BIN/wr-diff" --count "$TMP/a" "$TMP/b"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "different: 1 only in A, 1 only in B, 2 different"* ]]
}

@test "--json lists the differences with typed _ids, the counts, status and exit" {
    make_db a
    make_db b
    printf '%s\n' '{"_id": 10, "$deleted": true}' '{"_id": "x", "v": 1}' > "$TMP/u.jsonl"
    "$WR_BIN/wr-load" -q "$TMP/b" people "$TMP/u.jsonl"
    run_json "$WR_BIN/wr-diff" --json "$TMP/a" "$TMP/b"
    [ "$status" -eq 1 ]
    [ "$(jq -r .tool <<<"$output")" = wr-diff ]
    [ "$(jq -r .status <<<"$output")" = different ]
    [ "$(jq .exit <<<"$output")" -eq 1 ]
    [ "$(jq '.counts.only_a' <<<"$output")" -eq 1 ]
    [ "$(jq '.counts.only_b' <<<"$output")" -eq 1 ]
    [ "$(jq '[.differences[] | select(.what == "document")] | length' <<<"$output")" -eq 2 ]
    [ "$(jq -r '.differences[] | select(.kind == "only_b" and .what == "document") | ._id' <<<"$output")" = x ]
    [ "$(jq '.differences[] | select(.kind == "only_a" and .what == "document") | ._id' <<<"$output")" = 10 ]
    # --count --json: the counts, no list
    run_json "$WR_BIN/wr-diff" --json --count "$TMP/a" "$TMP/b"
    [ "$status" -eq 1 ]
    [ "$(jq 'has("differences")' <<<"$output")" = false ]
    [ "$(jq '.counts.identical' <<<"$output")" -eq 1999 ]
    # identical
    run_json "$WR_BIN/wr-diff" --json "$TMP/a" "$TMP/a"
    [ "$status" -eq 0 ]
    [ "$(jq -r .status <<<"$output")" = identical ]
    [ "$(jq '.differences | length' <<<"$output")" -eq 0 ]
}

@test "a database against the JSONL it was loaded from: identical, index entries derived from the file" {
    make_db a
    run "$WR_BIN/wr-diff" "$TMP/a" "$PEOPLE"
    [ "$status" -eq 0 ]
    [[ "$output" == *"2000 documents"*"4000 index entries"* ]]
    # the log rules: later lines replace, $deleted deletes
    cp "$PEOPLE" "$TMP/log.jsonl"
    cat "$BATS_TEST_DIRNAME/../../testdata/people-updates.jsonl" >> "$TMP/log.jsonl"
    # what the updates change, by python's reading of the same lines
    counts=$(python3 - "$PEOPLE" "$BATS_TEST_DIRNAME/../../testdata/people-updates.jsonl" <<'EOF'
import json, sys
old = {d["_id"]: d for d in map(json.loads, open(sys.argv[1]))}
new = dict(old)
for d in map(json.loads, open(sys.argv[2])):
    if d.get("$deleted"):
        new.pop(d["_id"], None)
    else:
        new[d["_id"]] = d
print(len(old) - len(new), sum(1 for k in new if k in old and new[k] != old[k]))
EOF
)
    read -r gone changed <<<"$counts"
    [ "$changed" -gt 0 ]
    run "$WR_BIN/wr-diff" --count "$TMP/a" "$TMP/log.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$gone only in A, 0 only in B, $changed different"* ]]
    "$WR_BIN/wr-load" -q "$TMP/a" people \
        "$BATS_TEST_DIRNAME/../../testdata/people-updates.jsonl"
    run "$WR_BIN/wr-diff" "$TMP/log.jsonl" "$TMP/a"
    [ "$status" -eq 0 ]
    # from standard input too
    run bash -c '"$1" "$2" - < "$3"' _ "$WR_BIN/wr-diff" "$TMP/a" "$TMP/log.jsonl"
    [ "$status" -eq 0 ]
}

@test "after migrate: the migrated database equals the legacy directory's live set (indexes from the .idx names)" {
    cp -r "$BATS_TEST_DIRNAME/../../testdata/legacy-demo" "$TMP/legacy"
    cp -r "$TMP/legacy" "$TMP/m"
    "$WR_BIN/wr-migrate" -q --backup-dir "$TMP/bk" "$TMP/m"
    run "$WR_BIN/wr-diff" "$TMP/legacy" "$TMP/m"
    [ "$status" -eq 0 ]
    [[ "$output" == "identical: 236 documents in 2 collections"* ]]
    entries=$(sed -n 's/.*, \([0-9]*\) index entries$/\1/p' <<<"$output")
    # the backup copy of the logs is a legacy directory too
    run "$WR_BIN/wr-diff" "$TMP/m" "$TMP/bk"
    [ "$status" -eq 0 ]
    # an index the database has and the legacy directory does not name:
    # the log's entries are derived from its documents, and they agree
    "$WR_BIN/wr-load" -q --index total "$TMP/m" orders /dev/null
    run "$WR_BIN/wr-diff" "$TMP/legacy" "$TMP/m"
    [ "$status" -eq 0 ]
    # one entry more per order (105 orders)
    [[ "$output" == *", $((entries + 105)) index entries" ]]
    # an index the legacy directory names and the database lacks
    : > "$TMP/legacy/orders.status.idx"
    run "$WR_BIN/wr-diff" "$TMP/legacy" "$TMP/m"
    [ "$status" -eq 1 ]
    [[ "$output" == *"orders: index status: only in A: the whole index"* ]]
    # --collection limits the comparison
    run "$WR_BIN/wr-diff" --collection users "$TMP/legacy" "$TMP/m"
    [ "$status" -eq 0 ]
    [[ "$output" == "identical: 131 documents in 1 collection"* ]]
    run "$WR_BIN/wr-diff" --collection nosuch "$TMP/legacy" "$TMP/m"
    [ "$status" -eq 2 ]
    [[ "$output" == *'no collection "nosuch"'* ]]
}

@test "a collection in one side only is one line with its size; a JSONL side needs --collection against several" {
    make_db a
    make_db b
    make_jsonl "$TMP/o.jsonl" 5
    "$WR_BIN/wr-load" -q "$TMP/b" other "$TMP/o.jsonl"
    run "$WR_BIN/wr-diff" "$TMP/a" "$TMP/b"
    [ "$status" -eq 1 ]
    [[ "$output" == *"other: only in B: the whole collection (5 documents)"* ]]
    run "$WR_BIN/wr-diff" "$TMP/b" "$TMP/o.jsonl"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--collection"* ]]
    run "$WR_BIN/wr-diff" --collection other "$TMP/b" "$TMP/o.jsonl"
    [ "$status" -eq 0 ]
}

@test "a torn last line of a log is dropped with a note; a bad line elsewhere is damage: exit 3 naming file, line, byte" {
    make_db a
    cp "$PEOPLE" "$TMP/t.jsonl"
    printf '{"_id": 99999, "name": "half' >> "$TMP/t.jsonl"
    run --separate-stderr "$WR_BIN/wr-diff" "$TMP/a" "$TMP/t.jsonl"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"t.jsonl: line 2001"*"torn last line: dropped"* ]]
    { head -n 5 "$PEOPLE"; echo '{"_id": 5, "x": NaN}'; tail -n +6 "$PEOPLE"; } > "$TMP/bad.jsonl"
    run --separate-stderr "$WR_BIN/wr-diff" "$TMP/a" "$TMP/bad.jsonl"
    [ "$status" -eq 3 ]
    [[ "$stderr" == *"bad.jsonl: line 6 (byte "*")"* ]]
    run_json "$WR_BIN/wr-diff" --json "$TMP/a" "$TMP/bad.jsonl"
    [ "$status" -eq 3 ]
    [ "$(jq -r .status <<<"$output")" = error ]
    [ "$(jq .exit <<<"$output")" -eq 3 ]
    [ "$(jq -r .error.code <<<"$output")" = WR_EBADINPUT ]
}

@test "a log side is parsed on two threads that share nothing unsynchronised (helgrind on the release build)" {
    rel="$BATS_TEST_DIRNAME/../../build/rel/bin/wr-diff"
    [ -x "$rel" ]   # make test builds build/rel before the sanitizer build
    # enough lines for several batches of the log reader (logread.h)
    for i in 1 2 3 4; do cat "$WR_CORPORA/bson-corpus/valid.jsonl"; done > "$TMP/c.jsonl"
    cp "$TMP/c.jsonl" "$TMP/d.jsonl"
    run valgrind --tool=helgrind --error-exitcode=9 -q "$rel" --count "$TMP/c.jsonl" "$TMP/d.jsonl"
    echo "$output" | head -30
    [ "$status" -eq 0 ]
    [[ "$output" == *"identical: 728 documents"* ]]
}

@test "a damaged leaf in a database: exit 3, the message names the file and the page, never a false identical" {
    make_db a
    make_db b
    leaf=$(DAMAGE page "$TMP/b/people.main.wr" leaf 3)
    DAMAGE flip "$TMP/b/people.main.wr" $((leaf + 40))
    run --separate-stderr "$WR_BIN/wr-diff" "$TMP/a" "$TMP/b"
    [ "$status" -eq 3 ]
    [[ "$stderr" == *"people.main.wr"*"$leaf"* ]]
    [[ "$output" != identical* ]]
    # a damaged index file is seen too
    make_db c
    leaf=$(DAMAGE page "$TMP/c/people.idx.age.wr" leaf 1)
    DAMAGE flip "$TMP/c/people.idx.age.wr" $((leaf + 40))
    run --separate-stderr "$WR_BIN/wr-diff" "$TMP/c" "$TMP/a"
    [ "$status" -eq 3 ]
    [[ "$stderr" == *"people.idx.age.wr"* ]]
    # a damaged catalog
    make_db d
    DAMAGE flip "$TMP/d/wr.catalog" 20
    run --separate-stderr "$WR_BIN/wr-diff" "$TMP/a" "$TMP/d"
    [ "$status" -eq 3 ]
    [[ "$stderr" == *"wr.catalog"* ]]
    # a lost catalog beside its tree files: damage, as a damaged one is,
    # with the salvage hint (not "neither a database nor a legacy
    # directory")
    make_db e
    rm "$TMP/e/wr.catalog"
    run --separate-stderr "$WR_BIN/wr-diff" "$TMP/a" "$TMP/e"
    [ "$status" -eq 3 ]
    [[ "$stderr" == *"$TMP/e/wr.catalog: missing, in a directory holding "*" tree files no interrupted run left"*"wr-salvage rebuilds it"* ]]
    [[ "$stderr" != *"neither a database"* ]]
}

# diff_damage_case KIND FILE [JSONL]: a damaged database (a copy of the
# base with damage.py KIND applied to FILE) against an intact copy, both
# ways, and against JSONL (default: an empty file, so that each document
# is "only in A"): exit 3 each time, the damaged file on stderr, no
# difference listed
diff_damage_case() {
    local kind=$1 file=$2
    vline= # the wr-verify line, for the caller
    rm -rf "$TMP/d" "$TMP/ok"
    make_db d
    make_db ok
    DAMAGE "$kind" "$TMP/d/$file" >/dev/null
    if [ -n "${3:-}" ]; then cp "$3" "$TMP/people.jsonl"; else : >"$TMP/people.jsonl"; fi
    # the place and the check as wr-verify names them
    vline=$("$WR_BIN/wr-verify" -q "$TMP/d" | grep -m1 -E ': (document|ordering|index): ' || true)
    echo "verify: $vline"
    [ -n "$vline" ]
    for sides in "d ok" "ok d" "d people.jsonl"; do
        set -- $sides
        run --separate-stderr "$WR_BIN/wr-diff" "$TMP/$1" "$TMP/$2"
        echo "$kind $sides: $status: $stderr / $output"
        [ "$status" -eq 3 ]
        # (documents before the damaged one are "only in A" against the
        # empty file: differences printed before damage stand)
        [ "$2" = people.jsonl ] || [[ "$output" != *"only in"* && "$output" != *"different"* ]]
        [[ "$stderr" == *"$TMP/d/$file"* ]]
    done
}

@test "document damage is damage, never a difference: _id changed, not BSON, keys out of order; exit 3 with wr-verify's place and check (issue review2 #4)" {
    diff_damage_case idchange people.main.wr
    # the document check's line, as wr-verify prints it (file, page,
    # byte, check): also for a document only one side has
    [[ "$stderr" == *"${vline#*$TMP/d/}"* ]]
    [[ "$stderr" == *": document: document's _id differs from its key"* ]]
    diff_damage_case baddoc people.main.wr
    [[ "$stderr" == *"${vline#*$TMP/d/}"* ]]
    diff_damage_case swapkeys people.main.wr
    # one check name for one damage: wr-verify's "ordering"
    [[ "$vline" == *": ordering: "* ]]
    [[ "$stderr" == *": ordering: "* ]]
}

@test "an index that disagrees with its own documents is damage, not a difference: exit 3 naming the index file (issue review2 #4)" {
    # against the file it was loaded from too (its entries derived)
    diff_damage_case unindex people.idx.age.wr "$PEOPLE"
    [[ "$stderr" == *"missing entry"* ]]
    # an index entry no document implies (damage.py addindex)
    diff_damage_case addindex people.idx.age.wr "$PEOPLE"
    [[ "$stderr" == *"index: entry "* ]]
}

@test "missing paths and directories that are neither database nor legacy: exit 3" {
    make_db a
    run "$WR_BIN/wr-diff" "$TMP/a" "$TMP/nope"
    [ "$status" -eq 3 ]
    [[ "$output" == *"$TMP/nope"* ]]
    mkdir "$TMP/empty"
    run "$WR_BIN/wr-diff" "$TMP/empty" "$TMP/a"
    [ "$status" -eq 3 ]
    [[ "$output" == *"neither a database"* ]]
}

@test "--memory bounds a log side: runs spill to \$TMPDIR, the result is the same, nothing is left behind" {
    make_jsonl "$TMP/big.jsonl" 30000
    "$WR_BIN/wr-load" -q "$TMP/db" big "$TMP/big.jsonl"
    mkdir "$TMP/tmp"
    TMPDIR="$TMP/tmp" run "$WR_BIN/wr-diff" --memory 1M "$TMP/db" "$TMP/big.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == "identical: 30000 documents"* ]]
    [ -z "$(ls -A "$TMP/tmp")" ]
}

@test "bson-corpus values as _ids (every type a key can be): the tree and the sorted log pair every one, in any line order" {
    python3 - "$WR_CORPORA/bson-corpus/valid.jsonl" "$TMP/ids.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for i, line in enumerate(open(sys.argv[1])):
        v = json.loads(line).get("v")
        if isinstance(v, dict) and v:
            out.write(json.dumps({"_id": next(iter(v.values())), "n": i}) + "\n")
PY
    # lines whose _id is not a valid key (arrays, regexes...) are skipped
    "$WR_BIN/wr-load" -q --skip-bad "$TMP/db" c "$TMP/ids.jsonl"
    "$WR_BIN/wr-dump" --docs "$TMP/db" > "$TMP/dump.jsonl"
    n=$(wc -l < "$TMP/dump.jsonl")
    [ "$n" -gt 300 ]
    tac "$TMP/dump.jsonl" > "$TMP/rev.jsonl"
    run "$WR_BIN/wr-diff" "$TMP/db" "$TMP/rev.jsonl"
    [ "$status" -eq 0 ]
    [ "$output" = "identical: $n documents in 1 collection, 0 index entries" ]
    # one document replaced at the end of the log: one difference, its
    # _id given back with its type
    head -n 1 "$TMP/dump.jsonl" | python3 -c '
import json, sys
print(json.dumps({"_id": json.loads(sys.stdin.read())["_id"], "changed": True}))' >> "$TMP/rev.jsonl"
    run_json "$WR_BIN/wr-diff" --json "$TMP/db" "$TMP/rev.jsonl"
    [ "$status" -eq 1 ]
    [ "$(jq '.differences | length' <<<"$output")" -eq 1 ]
    [ "$(jq -r '.differences[0].path + " " + .differences[0].why' <<<"$output")" = "n only in A" ]
    [ "$(jq -c '.differences[0]._id' <<<"$output")" = \
      "$(head -n 1 "$TMP/dump.jsonl" | jq -c '._id')" ]
}

@test "the treasury data (legacy \$date values): a database equals the file it was loaded from" {
    real="$WR_CORPORA/real/treasury-yield/yield_historical_in.json"
    "$WR_BIN/wr-load" -q --index date "$TMP/db" yield "$real"
    run "$WR_BIN/wr-diff" "$TMP/db" "$real"
    [ "$status" -eq 0 ]
    [[ "$output" == "identical: $(grep -c . "$real") documents in 1 collection"* ]]
}
