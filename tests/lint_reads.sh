#!/usr/bin/env bash
# tests/lint_reads.sh -- DESIGN decision 11: every read of a tree file's
# slots and pages goes through the page source (lib/pagesrc.c). Fails if
# any other library module calls the raw read functions of lib/io.c,
# except the modules that read files that are not tree files (the
# catalog, sort runs, backups and their manifests, the journal, the text
# of a lock).
set -u
cd "$(dirname "$0")/.." || exit 2
allowed='^lib/(io|ioring|pagesrc|catalog|sort|backup|replace|migrate)\.c:'
bad=$(grep -nE 'wri_io_(pread(_some|_batch)?|read_whole|map_cached)\(' lib/*.c tools/*.c | grep -vE "$allowed")
if [ -n "$bad" ]; then
    echo "lint_reads: tree-file reads outside lib/pagesrc.c (DESIGN decision 11):"
    echo "$bad"
    exit 1
fi
echo "lint_reads: every tree-file read goes through lib/pagesrc.c"
