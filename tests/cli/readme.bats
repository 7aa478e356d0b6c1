#!/usr/bin/env bats
# The README tells the truth: its tables render (GitHub's renderer), each
# tool's option table lists exactly that tool's options, and its examples
# run on the demo data with the output it shows.

load helpers

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

@test "README: every table renders (cmark-gfm), every row has its header's cells" {
    run python3 "$BATS_TEST_DIRNAME/readme_tables.py" "$TOP/README.md"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # a paragraph inside a table, as once broke the wr-dump options, fails
    printf '| a | b |\n|---|---|\n| 1 | 2 |\n\nsome text\n| 3 | 4 |\n' > "$TMP/t.md"
    run python3 "$BATS_TEST_DIRNAME/readme_tables.py" "$TMP/t.md"
    [ "$status" -eq 1 ]
    [[ $output == *"no table"* ]]
    printf '| a | b |\n|---|---|\n| `x|y` | 2 |\n' > "$TMP/t.md"
    run python3 "$BATS_TEST_DIRNAME/readme_tables.py" "$TMP/t.md"
    [ "$status" -eq 1 ]
}

# the options of a README section's tables (first cells), and of --help,
# less those every tool shares (the contract paragraph covers them)
readme_opts() {
    awk -v s="### $1" '$0 == s {on = 1; next} /^##/ {on = 0} on' "$TOP/README.md" |
        grep -E '^\| `-' | cut -d'|' -f2 | grep -oE '(--[a-z][a-z0-9-]*|-[a-z])\b' |
        grep -vxE -- '--quiet|--help|-h|--version|-V|--progress|--no-progress' | sort -u
}
help_opts() {
    "$WR_BIN/$1" --help | grep -E '^ +-' |
        grep -oE '(^|[ ,])(--[a-z][a-z0-9-]*|-[A-Za-z])\b' | tr -d ' ,' |
        grep -vxE -- '--quiet|--help|-h|--version|-V|--progress|--no-progress' | sort -u
}

@test "README: each tool's section lists exactly its options" {
    for f in "$TOP"/tools/wr-*.c; do
        t=${f##*/}
        t=${t%.c}
        grep -qx "### $t" "$TOP/README.md" || { echo "README has no section ### $t"; false; }
        r=$(readme_opts "$t")
        h=$(help_opts "$t")
        [ "$r" = "$h" ] || {
            echo "$t: README options table and --help differ (< README only, > --help only):"
            diff <(echo "$r") <(echo "$h") | grep '^[<>]'; false; }
    done
}

@test "README: the examples run on the demo data and print what the README shows" {
    run python3 "$BATS_TEST_DIRNAME/readme_examples.py" "$TOP/README.md" "$WR_BIN" "$TOP" "$TMP"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(grep -c '^ok ' <<<"$output")" -ge 8 ]
    # a wrong line in an example fails
    sed 's/"score" : { "$numberDouble" : "36.569" }/"score" : { "$numberDouble" : "36.569000000000002615" }/' \
        "$TOP/README.md" > "$TMP/R.md"
    mkdir "$TMP/w"
    run python3 "$BATS_TEST_DIRNAME/readme_examples.py" "$TMP/R.md" "$WR_BIN" "$TOP" "$TMP/w"
    [ "$status" -eq 1 ]
    [[ $output == *"36.569000000000002615"* ]]
}

@test "README: the block map it shows (docs/map-people.*) is what wr-dump --map makes of its database now" {
    run "$TOP/docs/render-map.sh" "$WR_BIN" --check
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    grep -q '](docs/map-people.png)' "$TOP/README.md"
    grep -q '(docs/map-people.html)' "$TOP/README.md"
    grep -q '(docs/map-people.svg)' "$TOP/README.md"
    # a PNG, and not an empty one
    [ "$(head -c 8 "$TOP/docs/map-people.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]
    [ "$(stat -c %s "$TOP/docs/map-people.png")" -gt 10000 ]
    # a stale page fails the check
    cp -r "$TOP/docs" "$TMP/docs" && cp "$TOP/docs/render-map.sh" "$TMP/docs/"
    mkdir -p "$TMP/t" && cp -r "$TOP/testdata" "$TMP/t/" && mv "$TMP/docs" "$TMP/t/docs"
    sed -i 's/Catalog generation/Catalog gen/' "$TMP/t/docs/map-people.html"
    run "$TMP/t/docs/render-map.sh" "$WR_BIN" --check
    [ "$status" -eq 1 ]
    [[ "$output" == *"docs/map-people.html is not what"* ]]
}
