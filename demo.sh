#!/usr/bin/env bash
# make demo: run every tool on the shipped testdata/, in a scratch copy.
# Usage: demo.sh BINDIR
set -euo pipefail
bin=$(cd "${1:-build/rel/bin}" && pwd)
top=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/wrdemo.XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
first() { # first N lines of a command's output, without SIGPIPE trouble
    local n=$1
    shift
    "$@" >"$work/out"
    head -n "$n" "$work/out"
}

step "the legacy append-log database in testdata/legacy-demo"
cp -a "$top/testdata/legacy-demo" "$work/db"
ls -l "$work/db"

step "wr-migrate: convert it in place (backup, verify, atomic rename)"
"$bin/wr-migrate" "$work/db"
ls "$work/db"

step "wr-load: a new collection from testdata/people.jsonl, indexed on address.city"
"$bin/wr-load" --index address.city "$work/db" people "$top/testdata/people.jsonl"

step "wr-load: updates and deletes (testdata/people-updates.jsonl)"
"$bin/wr-load" "$work/db" people "$top/testdata/people-updates.jsonl"

step "wr-verify: every page, tree, index and the catalog"
"$bin/wr-verify" "$work/db"

step "wr-dump: the catalog and the people main table"
first 8 "$bin/wr-dump" "$work/db"
"$bin/wr-dump" "$work/db/people.main.wr"

step "wr-dump --docs --relaxed: the first documents of people"
first 3 "$bin/wr-dump" --docs --relaxed --collection people "$work/db"

step "wr-compact: give the space the updates freed back"
"$bin/wr-compact" "$work/db"
"$bin/wr-verify" -q "$work/db" && echo "wr-verify: clean after compaction"
step "done"
