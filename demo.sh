#!/usr/bin/env bash
# make demo: run the tools on the shipped testdata/, in a scratch copy.
# Usage: demo.sh BINDIR
set -euo pipefail
bin=$(cd "${1:-build/rel/bin}" && pwd)
top=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/wrdemo.XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
have() { [ -x "$bin/$1" ]; }

if have wr-migrate && [ -d "$top/testdata/legacy-demo" ]; then
    step "wr-migrate: convert the legacy append-log database in testdata/legacy-demo"
    cp -a "$top/testdata/legacy-demo" "$work/db"
    ls "$work/db"
    "$bin/wr-migrate" "$work/db"
else
    step "wr-load: load testdata/people.jsonl into a new database"
    "$bin/wr-load" --index address.city "$work/db" people "$top/testdata/people.jsonl"
fi

step "wr-load: apply updates and deletes"
"$bin/wr-load" "$work/db" people "$top/testdata/people-updates.jsonl"

if have wr-verify; then
    step "wr-verify: check every page, tree, index and the catalog"
    "$bin/wr-verify" "$work/db"
fi
if have wr-dump; then
    step "wr-dump: summary"
    "$bin/wr-dump" "$work/db" | head -40
    step "wr-dump --docs: the first documents of people"
    "$bin/wr-dump" --docs --collection people "$work/db" | head -3
fi
if have wr-compact; then
    step "wr-compact: give freed space back"
    "$bin/wr-compact" "$work/db"
    "$bin/wr-verify" -q "$work/db" && echo "verified after compaction"
fi
step "done"
