#!/usr/bin/env bats
# wr-load meets the data users have: --format jsonl|json-array|bson with a
# hint when the format is wrong, --max-bad N and the rejects file,
# --skip-bad on input where every line is bad.

load helpers

PEOPLE="$BATS_TEST_DIRNAME/../../testdata/people.jsonl"

# to_array [--pretty] < JSONL > JSON array
to_array() {
    python3 -c '
import json, sys
docs = [json.loads(l) for l in sys.stdin if l.strip()]
if "--pretty" in sys.argv:
    print(json.dumps(docs, indent=2))
else:
    print("[" + ",\n".join(json.dumps(d) for d in docs) + "]")
' "$@"
}

# to_bson < JSONL > concatenated BSON (the types people.jsonl uses)
to_bson() {
    python3 -c '
import datetime, json, struct, sys
def elem(k, v):
    k = k.encode() + b"\0"
    if isinstance(v, bool):
        return b"\x08" + k + (b"\x01" if v else b"\x00")
    if isinstance(v, int):
        return (b"\x10" + k + struct.pack("<i", v)) if -2**31 <= v < 2**31 \
            else (b"\x12" + k + struct.pack("<q", v))
    if isinstance(v, float):
        return b"\x01" + k + struct.pack("<d", v)
    if isinstance(v, str):
        s = v.encode() + b"\0"
        return b"\x02" + k + struct.pack("<i", len(s)) + s
    if v is None:
        return b"\x0a" + k
    if isinstance(v, dict) and list(v) == ["$date"]:
        t = datetime.datetime.strptime(v["$date"], "%Y-%m-%dT%H:%M:%SZ")
        ms = int((t - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)
        return b"\x09" + k + struct.pack("<q", ms)
    if isinstance(v, dict):
        return b"\x03" + k + doc(v)
    if isinstance(v, list):
        return b"\x04" + k + doc({str(i): x for i, x in enumerate(v)})
    raise SystemExit("type %r" % v)
def doc(d):
    body = b"".join(elem(k, v) for k, v in d.items()) + b"\0"
    return struct.pack("<i", len(body) + 4) + body
out = sys.stdout.buffer
for l in sys.stdin:
    if l.strip():
        out.write(doc(json.loads(l)))
'
}

@test "--format json-array: mongoexport --jsonArray files, compact and pretty, load as their JSONL" {
    to_array < "$PEOPLE" > "$TMP/a.json"
    to_array --pretty < "$PEOPLE" > "$TMP/p.json"
    run "$WR_BIN/wr-load" --format json-array "$TMP/a" people "$TMP/a.json"
    [ "$status" -eq 0 ]
    [[ $output == *"2000 lines, 2000 inserted"* ]]
    run "$WR_BIN/wr-diff" "$TMP/a" "$PEOPLE"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run "$WR_BIN/wr-load" --format json-array "$TMP/p" people - < "$TMP/p.json"
    [ "$status" -eq 0 ]
    run "$WR_BIN/wr-diff" "$TMP/p" "$PEOPLE"
    [ "$status" -eq 0 ]
    echo '[]' > "$TMP/empty.json"
    run "$WR_BIN/wr-load" --format json-array "$TMP/e" people "$TMP/empty.json"
    [ "$status" -eq 0 ]
}

@test "--format bson: concatenated BSON documents (mongodump .bson) load with their types" {
    to_bson < "$PEOPLE" > "$TMP/people.bson"
    run "$WR_BIN/wr-load" --format bson "$TMP/b" people "$TMP/people.bson"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ $output == *"2000 lines, 2000 inserted"* ]]
    run "$WR_BIN/wr-diff" "$TMP/b" "$PEOPLE"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # a truncated file: the last document is cut, nothing committed
    head -c -7 "$TMP/people.bson" > "$TMP/cut.bson"
    run "$WR_BIN/wr-load" --format bson "$TMP/c" people "$TMP/cut.bson"
    [ "$status" -eq 1 ]
    [[ $output == *"document 2000"*"ends inside a document"* ]]
    # no hint to skip: skipping cannot get past a broken structure
    # (review4 #16), in the load pass or the --checkpoint-every check pass
    [[ $output == *"nothing of this run was committed"* ]]
    [[ $output != *"--skip-bad or --max-bad"* ]]
    run "$WR_BIN/wr-load" --checkpoint-every 100 --format bson "$TMP/c" people "$TMP/cut.bson"
    [ "$status" -eq 1 ]
    [[ $output == *"document 2000"*"ends inside a document"* ]]
    [[ $output == *"nothing of this run was committed"* ]]
    [[ $output != *"--skip-bad or --max-bad"* ]]
    run "$WR_BIN/wr-load" --skip-bad --format bson "$TMP/c" people "$TMP/cut.bson"
    [ "$status" -eq 1 ] # a broken structure is never skipped
    [ ! -e "$TMP/c/people.main.wr" ] || [ "$("$WR_BIN/wr-dump" --docs "$TMP/c" | wc -l)" -eq 0 ]
}

@test "the wrong format is a clear hint, not every line counted bad" {
    to_array < "$PEOPLE" > "$TMP/a.json"
    to_bson < "$PEOPLE" > "$TMP/p.bson"
    run "$WR_BIN/wr-load" "$TMP/d" people "$TMP/a.json"
    [ "$status" -eq 1 ]
    [[ $output == *"this looks like a JSON array: use --format json-array"* ]]
    run "$WR_BIN/wr-load" "$TMP/d" people "$TMP/p.bson"
    [ "$status" -eq 1 ]
    [[ $output == *"this looks like BSON: use --format bson"* ]]
    run "$WR_BIN/wr-load" --format json-array "$TMP/d" people "$PEOPLE"
    [ "$status" -eq 1 ]
    [[ $output == *"this looks like JSONL: use --format jsonl"* ]]
    run "$WR_BIN/wr-load" --format bson "$TMP/d" people "$PEOPLE"
    [ "$status" -eq 1 ]
    [[ $output == *"use --format jsonl"* ]]
    # with --skip-bad too: every line bad is exit 1, with the hint
    run "$WR_BIN/wr-load" --skip-bad "$TMP/d" people "$TMP/p.bson"
    [ "$status" -eq 1 ]
    [[ $output == *"every line is bad"*"use --format bson"* ]]
}

@test "--skip-bad on input where every line is bad: exit 1, nothing loaded" {
    printf '{"x": 1}\nnot json\n{"_id": NaN}\n' > "$TMP/bad.jsonl"
    run_json "$WR_BIN/wr-load" --json --skip-bad "$TMP/db" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [ "$(jq -r .committed <<<"$output")" = false ]
    [ "$(jq -r .bad_lines <<<"$output")" = 3 ]
    [[ "$(jq -r .error.message <<<"$output")" == *"every line is bad (3)"* ]]
    # one good line is enough
    printf '{"_id": 1}\n' >> "$TMP/bad.jsonl"
    run "$WR_BIN/wr-load" --skip-bad "$TMP/db" c "$TMP/bad.jsonl"
    [ "$status" -eq 0 ]
}

@test "--max-bad N: up to N bad lines go to the rejects file with their line numbers; N+1 stop the run" {
    make_jsonl "$TMP/in.jsonl" 20
    sed -i '3s/.*/{"_id": 3, "x": NaN}/; 9s/.*/not json/; 15s/.*/{"no_id": 1}/' "$TMP/in.jsonl"
    run "$WR_BIN/wr-load" --max-bad 3 "$TMP/db" c "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [[ $output == *"17 inserted"*"3 bad lines skipped"* ]]
    [[ $output == *"skipped lines: $TMP/db/c.rejects.jsonl"* ]]
    [ "$(jq -r .line "$TMP/db/c.rejects.jsonl" | tr '\n' ' ')" = "3 9 15 " ]
    [ "$(jq -r .text "$TMP/db/c.rejects.jsonl" | sed -n 2p)" = "not json" ]
    jq -e '.reason | length > 0' "$TMP/db/c.rejects.jsonl" >/dev/null
    # --rejects chooses the file
    run "$WR_BIN/wr-load" --skip-bad --rejects "$TMP/r.jsonl" "$TMP/db2" c "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [ "$(wc -l < "$TMP/r.jsonl")" -eq 3 ]
    # one more than allowed: nothing of the run is committed, also with
    # --checkpoint-every (the input is checked first)
    for ck in "" "--checkpoint-every 2"; do
        run_json "$WR_BIN/wr-load" --json --max-bad 2 $ck "$TMP/db3" c "$TMP/in.jsonl"
        [ "$status" -eq 1 ]
        [[ "$(jq -r .error.message <<<"$output")" == *"more than 2 bad lines"* ]]
        [ "$(jq -r .committed <<<"$output")" = false ]
        [ "$(jq -r .inserted <<<"$output")" = 0 ]
    done
    run "$WR_BIN/wr-dump" --docs "$TMP/db3"
    [ -z "$output" ] || [[ $output != *'"_id"'* ]]
}

@test "--format json-array: a bad element is skippable, a broken array is not" {
    printf '[{"_id": 1},\n {"_id": 2, "x": NaN},\n {"_id": 3}]\n' > "$TMP/a.json"
    run "$WR_BIN/wr-load" --format json-array "$TMP/db" c "$TMP/a.json"
    [ "$status" -eq 1 ]
    [[ $output == *"line 2 (byte 14): element 2: "* ]]
    run "$WR_BIN/wr-load" --format json-array --skip-bad "$TMP/db" c "$TMP/a.json"
    [ "$status" -eq 0 ]
    [[ $output == *"2 inserted"*"1 bad line skipped"* ]]
    printf '[{"_id": 1}\n {"_id": 2}]\n' > "$TMP/b.json"
    run "$WR_BIN/wr-load" --format json-array --skip-bad "$TMP/db2" c "$TMP/b.json"
    [ "$status" -eq 1 ]
    [[ $output == *"line 2"*"expected ',' or ']'"* ]]
    [[ $output == *"nothing of this run was committed"* ]]
    printf '[{"_id": 1}' > "$TMP/c.json"
    run "$WR_BIN/wr-load" --format json-array "$TMP/db2" c "$TMP/c.json"
    [ "$status" -eq 1 ]
    [[ $output == *"not closed"* ]]
    [[ $output != *"--skip-bad or --max-bad"* ]]
}

@test "a UTF-8 byte-order mark opening the input is skipped (JSONL, JSON array, a legacy log, a wr-diff side); one elsewhere is a bad line named as such; a trailing comma in an array is named" {
    printf '\xef\xbb\xbf{"_id": 1}\r\n{"_id": 2}\r\n' > "$TMP/bom.jsonl"
    printf '{"_id": 1}\n{"_id": 2}\n' > "$TMP/plain.jsonl"
    run "$WR_BIN/wr-load" "$TMP/db" c "$TMP/bom.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"2 lines, 2 inserted"* ]]
    "$WR_BIN/wr-load" -q "$TMP/ref" c "$TMP/plain.jsonl"
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db")" = "$("$WR_BIN/wr-dump" --docs "$TMP/ref")" ]
    run "$WR_BIN/wr-diff" "$TMP/db" "$TMP/bom.jsonl"
    [ "$status" -eq 0 ]
    printf '\xef\xbb\xbf[{"_id": 1},\n {"_id": 2}]' > "$TMP/bom.json"
    run "$WR_BIN/wr-load" --format json-array "$TMP/db2" c "$TMP/bom.json"
    [ "$status" -eq 0 ]
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/db2")" = "$("$WR_BIN/wr-dump" --docs "$TMP/ref")" ]
    mkdir "$TMP/lg"
    cp "$TMP/bom.jsonl" "$TMP/lg/c.log"
    "$WR_BIN/wr-migrate" -q "$TMP/lg"
    [ "$("$WR_BIN/wr-dump" --docs "$TMP/lg")" = "$("$WR_BIN/wr-dump" --docs "$TMP/ref")" ]
    # not at the start: a bad line saying what it is
    printf '{"_id": 1}\n\xef\xbb\xbf{"_id": 2}\n' > "$TMP/mid.jsonl"
    run "$WR_BIN/wr-load" "$TMP/db3" c "$TMP/mid.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"mid.jsonl: line 2 (byte 11): the line starts with a UTF-8 byte-order mark"* ]]
    # the error of line 1 after a mark names the byte after it
    printf '\xef\xbb\xbfnope\n' > "$TMP/bad.jsonl"
    run "$WR_BIN/wr-load" "$TMP/db3" c "$TMP/bad.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.jsonl: line 1 (byte 3): column 1: a line must be a JSON object"* ]]
    printf '[{"_id": 1},]' > "$TMP/tc.json"
    run "$WR_BIN/wr-load" --format json-array "$TMP/db3" c "$TMP/tc.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"tc.json: line 1 (byte 12): a trailing comma"* ]]
}

@test "--format and --max-bad reject bad values (exit 2)" {
    run "$WR_BIN/wr-load" --format xml "$TMP/db" c "$PEOPLE"
    [ "$status" -eq 2 ]
    [[ $output == *"--format is jsonl, json-array or bson, not 'xml'"* ]]
    run "$WR_BIN/wr-load" --max-bad 0 "$TMP/db" c "$PEOPLE"
    [ "$status" -eq 2 ]
}
