#!/usr/bin/env bats
# The progress line: on a terminal one line, cut to the terminal's width,
# redrawn in place and cleared before the report; --progress / --no-progress
# force it either way. Run in tmux at 80 and 40 columns.

load helpers

setup_file() {
    # big enough that wr-verify and wr-load draw progress more than once
    export BIG="$BATS_FILE_TMPDIR/big"
    make_jsonl "$BIG.jsonl" 60000
    mkdir -p "$BIG"
    "$WR_BIN/wr-load" -q --no-progress "$BIG/a-database-with-a-rather-long-name" people "$BIG.jsonl"
}

setup() {
    common_setup
    SOCK="wrtest-$$-$BATS_TEST_NUMBER"
}

teardown() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    common_teardown
}

# in_tmux COLS CMD: run CMD in a COLS-column tmux pane; $TMP/raw gets every
# byte written to the terminal, $TMP/screen the final screen
in_tmux() {
    local cols=$1
    shift
    # a server of its own per call (a killed one may still be going away);
    # the command waits until the pane is piped, so no byte is missed
    SOCK="wrtest-$$-$BATS_TEST_NUMBER-$cols-$RANDOM"
    printf 'while [ ! -f %q ]; do sleep 0.05; done\n' "$TMP/go" > "$TMP/cmd.sh"
    printf '%s\n' "$*" >> "$TMP/cmd.sh"
    echo "touch '$TMP/done'" >> "$TMP/cmd.sh"
    tmux -L "$SOCK" -f /dev/null new-session -d -x "$cols" -y 50 \
        "stty -onlcr 2>/dev/null; bash '$TMP/cmd.sh'; sleep 60"
    tmux -L "$SOCK" pipe-pane -o "cat >> '$TMP/raw'"
    touch "$TMP/go"
    for _ in $(seq 600); do [ -f "$TMP/done" ] && break; sleep 0.1; done
    [ -f "$TMP/done" ]
    sleep 0.3
    tmux -L "$SOCK" capture-pane -p -J > "$TMP/screen" # -J: wrapped lines joined
}

# check_raw COLS: every progress drawing fits in COLS-1 columns and is
# followed by a clear; returns the number of drawings
check_raw() {
    python3 - "$TMP/raw" "$1" <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
cols = int(sys.argv[2])
draws = re.findall(r"\r([^\r\n\x1b]*)\x1b\[K", raw)
shown = [d for d in draws if d]
for d in shown:
    if len(d) > cols - 1:
        print("progress line of %d columns at width %d: %r" % (len(d), cols, d))
        sys.exit(1)
print(len(shown))
PY
}

@test "wr-verify in tmux at 80 and 40 columns: one progress line, cut to the width, then the report" {
    for cols in 80 40; do
        tmux -L "$SOCK" kill-server 2>/dev/null || true
        rm -f "$TMP/raw" "$TMP/done" "$TMP/go"
        in_tmux "$cols" "'$WR_BIN/wr-verify' '$BIG/a-database-with-a-rather-long-name'"
        run check_raw "$cols"
        [ "$status" -eq 0 ] || { echo "$output"; false; }
        [ "$output" -ge 1 ] || { echo "no progress drawn"; cat -v "$TMP/raw" | head -5; false; }
        grep -q "checking 1/1 people.main.wr" "$TMP/raw"
        # the screen: the report, and no progress left over
        grep -q 'database, catalog generation 1, 1 files: clean' "$TMP/screen"
        ! grep -q 'pages$\|/[0-9]* pages' "$TMP/screen" || { cat "$TMP/screen"; false; }
        # the report starts on a clean line: no progress text before it
        if grep -qE '^.+wr-verify: .*database, catalog' "$TMP/screen"; then cat "$TMP/screen"; false; fi
    done
}

@test "wr-load in tmux at 40 columns: progress cut to 39 columns, cleared before the summary" {
    in_tmux 40 "'$WR_BIN/wr-load' '$TMP/db' people '$BIG.jsonl'"
    run check_raw 40
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$output" -ge 1 ]
    grep -q '60000 lines' "$TMP/raw"
    ! grep -q 'lines/s' "$TMP/screen" || { cat "$TMP/screen"; false; }
}

@test "--no-progress on a terminal: no progress line" {
    in_tmux 80 "'$WR_BIN/wr-verify' --no-progress '$BIG/a-database-with-a-rather-long-name'"
    if grep -q $'\e\\[K' "$TMP/raw"; then false; fi
    grep -q 'files: clean' "$TMP/screen"
}

@test "not a terminal: no progress by default; --progress forces plain lines" {
    run bash -c "'$WR_BIN/wr-verify' '$BIG/a-database-with-a-rather-long-name' 2>&1 >/dev/null"
    [ -z "$output" ]
    "$WR_BIN/wr-verify" --progress "$BIG/a-database-with-a-rather-long-name" 2> "$TMP/err" >/dev/null
    [ -s "$TMP/err" ]
    grep -q '^wr-verify: .*pages' "$TMP/err"
    if grep -q $'\r\|\e' "$TMP/err"; then false; fi # a log gets lines, not terminal codes
    # -q and --json keep the line off unless forced
    run bash -c "'$WR_BIN/wr-verify' --json '$BIG/a-database-with-a-rather-long-name' 2>&1 >/dev/null"
    [ -z "$output" ]
}

@test "wr-load: standard input from a terminal is refused with a hint" {
    in_tmux 80 "'$WR_BIN/wr-load' '$TMP/db' people; echo \"exit=\$?\""
    grep -q 'standard input is a terminal' "$TMP/screen"
    grep -q 'exit=2' "$TMP/screen"
    [ ! -e "$TMP/db" ] # nothing created
}
