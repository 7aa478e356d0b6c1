#!/usr/bin/env bats
# The progress line: on a terminal one line, cut to the terminal's width,
# redrawn in place and cleared before the report; --progress / --no-progress
# force it either way. Run in tmux at 80 and 40 columns, and resized from
# 80 to 40 while a progress line is shown.

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
        grep -q 'database, catalog generation 1, 1 file: clean' "$TMP/screen"
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
    grep -q 'loading big.jsonl' "$TMP/raw"
    ! grep -q 'bytes/s\|loading big' "$TMP/screen" || { cat "$TMP/screen"; false; }
}

@test "--no-progress on a terminal: no progress line" {
    in_tmux 80 "'$WR_BIN/wr-verify' --no-progress '$BIG/a-database-with-a-rather-long-name'"
    if grep -q $'\e\\[K' "$TMP/raw"; then false; fi
    grep -q 'file: clean' "$TMP/screen"
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

@test "the terminal shrinks from 80 to 40 columns mid-run (SIGWINCH): later progress fits 40, one report, nothing left over" {
    # the input is a FIFO with a long name, fed half, then (after the
    # resize) the rest in four pieces, so the load is drawing progress when
    # the width changes and again after
    local in="$TMP/an-input-with-a-name-long-enough-to-need-cutting.jsonl"
    mkfifo "$in"
    head -n 30000 "$BIG.jsonl" >"$TMP/a.jsonl"
    tail -n +30001 "$BIG.jsonl" >"$TMP/rest"
    split -n l/4 "$TMP/rest" "$TMP/b."
    SOCK="wrtest-$$-$BATS_TEST_NUMBER-resize-$RANDOM"
    {
        printf 'while [ ! -f %q ]; do sleep 0.05; done\n' "$TMP/go"
        printf '{ cat %q; while [ ! -f %q ]; do sleep 0.05; done; for b in %q.*; do cat "$b"; sleep 0.3; done; } > %q &\n' \
            "$TMP/a.jsonl" "$TMP/resized" "$TMP/b" "$in"
        printf '%q %q people %q\n' "$WR_BIN/wr-load" "$TMP/db" "$in"
        printf 'touch %q\n' "$TMP/done"
    } >"$TMP/cmd.sh"
    tmux -L "$SOCK" -f /dev/null new-session -d -x 80 -y 50 \
        "stty -onlcr 2>/dev/null; bash '$TMP/cmd.sh'; sleep 60"
    tmux -L "$SOCK" set-option -g window-size manual
    tmux -L "$SOCK" pipe-pane -o "cat >> '$TMP/raw'"
    touch "$TMP/go"
    # a progress line drawn at 80 columns, longer than 40
    for _ in $(seq 600); do
        [ -f "$TMP/raw" ] && grep -qE $'\r[^\r\e]{45,}\e\\[K' "$TMP/raw" && break
        sleep 0.1
    done
    grep -qE $'\r[^\r\e]{45,}\e\\[K' "$TMP/raw"
    # resize only once wr-load waits for the rest of its input and tmux
    # has drawn all it wrote (nothing new for 0.6 s: it draws every
    # 0.1 s while it works): a drawing still in flight at the resize is
    # wrapped by the terminal at the new width before wr-load can know it
    local last=-1 same=0 size
    for _ in $(seq 300); do
        size=$(stat -c %s "$TMP/raw")
        if [ "$size" = "$last" ]; then same=$((same + 1)); else same=0; last=$size; fi
        [ "$same" -ge 6 ] && break
        sleep 0.1
    done
    [ "$same" -ge 6 ]
    tmux -L "$SOCK" resize-window -x 40 -y 50
    for _ in $(seq 100); do
        [ "$(tmux -L "$SOCK" display-message -p '#{window_width}')" = 40 ] && break
        sleep 0.05
    done
    [ "$(tmux -L "$SOCK" display-message -p '#{window_width}')" = 40 ]
    stat -c %s "$TMP/raw" >"$TMP/mark"
    touch "$TMP/resized"
    for _ in $(seq 600); do [ -f "$TMP/done" ] && break; sleep 0.1; done
    [ -f "$TMP/done" ]
    sleep 0.3
    tmux -L "$SOCK" capture-pane -p -J >"$TMP/screen"
    # after the resize (but the one drawing that may have been under way),
    # every progress drawing fits 39 columns, and there are some
    run python3 - "$TMP/raw" "$(cat "$TMP/mark")" <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read()[int(sys.argv[2]):].decode("utf-8", "replace")
shown = [d for d in re.findall(r"\r([^\r\n\x1b]*)\x1b\[K", raw) if d][1:]
long = [d for d in shown if len(d) > 39]
print(len(shown), "drawings after the resize;", len(long), "wider than 39:", long[:2])
sys.exit(1 if long or len(shown) < 2 else 0)
PY
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # the screen: the report once, no progress left over before or in it
    [ "$(grep -c ' lines, 60000 inserted' "$TMP/screen")" -eq 1 ] || { cat "$TMP/screen"; false; }
    ! grep -q 'bytes/s\|loading an-input' "$TMP/screen" || { cat "$TMP/screen"; false; }
    # the report starts its line: no progress text in front of it
    grep ' lines, 60000 inserted' "$TMP/screen" | grep -qF "$in -> " || { cat "$TMP/screen"; false; }
    [[ "$(grep ' lines, 60000 inserted' "$TMP/screen")" == "$in -> "* ]] || { cat "$TMP/screen"; false; }
}

@test "every tool's counted progress has the one form: done of total UNIT (P%), a rate after the first second (review2 #13)" {
    local db="$BIG/a-database-with-a-rather-long-name" re
    re='[0-9]+ of [0-9]+ [a-z]+ \([0-9]+%\)(, [0-9]+ [a-z]+/s)?$'
    "$WR_BIN/wr-verify" --progress "$db" 2> "$TMP/err" >/dev/null
    grep -qE "^wr-verify: checking 1/1 people.main.wr: $re" "$TMP/err" || { cat "$TMP/err"; false; }
    "$WR_BIN/wr-salvage" --progress "$db" "$TMP/s" 2> "$TMP/err" >/dev/null
    grep -qE "^wr-salvage: scanning people.main.wr: [0-9]+ of [0-9]+ bytes \([0-9]+%\)" "$TMP/err" || { cat "$TMP/err"; false; }
    cp -r "$db" "$TMP/c"
    "$WR_BIN/wr-compact" --progress "$TMP/c" 2> "$TMP/err" >/dev/null
    grep -qE "^wr-compact: [a-z ]+ people.main.wr: ([0-9]+ records|$re)" "$TMP/err" || { cat "$TMP/err"; false; }
    # no tool shows a rate before a second has passed, nor a percentage
    # without what it counts
    if grep -E ': [0-9]+%$' "$TMP/err"; then false; fi
    # wr-load and wr-migrate too (their own forms before: "FILE: 1.2 of
    # 5.0 MB (24%), 8123 lines, 40000 lines/s", "DIR: reading: ..."):
    # every line they draw is phase, file, and the count
    "$WR_BIN/wr-load" --progress "$TMP/l" people "$BIG.jsonl" 2> "$TMP/err" >/dev/null
    grep -qE "^wr-load: loading big.jsonl: $re" "$TMP/err" || { cat "$TMP/err"; false; }
    if grep -vE "^wr-load: loading big.jsonl: $re" "$TMP/err"; then false; fi
    mkdir "$TMP/lg" && cp "$BIG.jsonl" "$TMP/lg/people.log"
    "$WR_BIN/wr-migrate" --progress "$TMP/lg" 2> "$TMP/err" >/dev/null
    grep -qE "^wr-migrate: reading lg: $re" "$TMP/err" || { cat "$TMP/err"; false; }
    if grep -vE "^wr-migrate: (reading lg: $re|[a-z ]+ lg(: [0-9]+ records(, [0-9]+ records/s)?)?$)" "$TMP/err"; then false; fi
}
