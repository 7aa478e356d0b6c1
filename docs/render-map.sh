#!/usr/bin/env bash
# make docs: the block maps the README shows, made from the README's demo
# database ("people": testdata/people.jsonl indexed on address.city, then
# testdata/people-updates.jsonl), into docs/:
#   map-people.svg   wr-dump --map of its main table (a tree file: SVG)
#   map-people.html  wr-dump --map of the database directory (HTML page)
#   map-people.png   that page rendered by headless Chromium, cropped
# and checked: the picture must hold cells in the colours of header slots,
# internal and leaf pages (dump_map.c's), or this fails.
# Usage: docs/render-map.sh BINDIR [--check]
# --check: only make the SVG and the HTML page and compare them with the
# committed ones (exit 1 if they differ: run make docs); no browser.
set -euo pipefail
bin=$(cd "${1:-build/rel/bin}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/wrdocs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin/wr-load" -q --index address.city db people "$top/testdata/people.jsonl"
"$bin/wr-load" -q db people "$top/testdata/people-updates.jsonl"
"$bin/wr-dump" --map map-people.svg db/people.main.wr
"$bin/wr-dump" --map map-people.html db
if [ "${2:-}" = --check ]; then
    for f in map-people.svg map-people.html; do
        cmp -s "$f" "$top/docs/$f" || {
            echo "docs/$f is not what wr-dump --map makes now: run make docs" >&2
            exit 1; }
    done
    exit 0
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "docs/render-map.sh: no chromium (make docs installs it)" >&2
    exit 3
fi
# a tall window, then the empty bottom cropped away
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=1280,2400 \
    --screenshot="$work/full.png" "file://$work/map-people.html" \
    >"$work/browser.log" 2>&1 || { cat "$work/browser.log" >&2; exit 3; }
python3 - "$work/full.png" "$work/map-people.png" <<'PY'
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (2, 6) and not interlace, hdr
    bpp = 3 if ctype == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], None
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        prev = prev or bytearray(stride)
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return w, bpp, ctype, rows

def chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body +
            struct.pack(">I", zlib.crc32(kind + body)))

w, bpp, ctype, rows = read_png(sys.argv[1])
last = len(rows)
while last > 1 and rows[last - 1] == rows[-1]:
    last -= 1
rows = rows[:min(len(rows), last + 24)]
pixels = set()
for r in rows:
    pixels.update(r[i:i + 3] for i in range(0, len(r), bpp))
for name, rgb in (("header slot", "6a3d9a"), ("internal", "1f78b4"),
                  ("leaf", "33a02c")):
    if bytes.fromhex(rgb) not in pixels:
        sys.exit(f"render-map: no {name} cell (#{rgb}) in the picture")
if len(rows) >= 2400:
    sys.exit("render-map: the page is taller than the window: raise it")
raw = b"".join(b"\0" + r for r in rows)
with open(sys.argv[2], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n")
    f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, len(rows), 8, ctype,
                                        0, 0, 0)))
    f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
    f.write(chunk(b"IEND", b""))
print(f"docs/map-people.png: {w}x{len(rows)}")
PY
cp map-people.svg map-people.html map-people.png "$top/docs/"
echo "docs/: map-people.svg, map-people.html, map-people.png"
