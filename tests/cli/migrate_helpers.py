#!/usr/bin/env python3
"""Helpers for tests/cli/wr-migrate.bats (stdlib only).

  live LOG             the live documents of a legacy log, as its lines: for
                       each _id the last line, unless a {"$deleted": true}
                       line came after it. A torn last line (no newline,
                       does not parse) is ignored, as wr-migrate drops it.
  tree DIR [nolock]    one digest of everything under DIR: names, types,
                       sizes, bytes ("changed nothing" checks); nolock
                       leaves out DIR/LOCK, which every run that takes the
                       lock rewrites with its pid
  same DIR1 DIR2       exit 0 when both trees hold the same names and bytes,
                       LOCK left out and wr-backup-* names (timestamps)
                       taken as equal
  state DIR ORIG       after an interrupted migration of the legacy
                       directory ORIG (a pristine copy), print
                         before     every file of ORIG is in DIR byte for
                                    byte, there is no wr.catalog, and all
                                    else is the protocol's own debris (LOCK,
                                    wr-migrate.*, wr-backup-*/, and *.wr
                                    files only next to a journal)
                         committed  wr.catalog exists (the caller verifies)
                         broken: WHY  anything else
  final DIR ORIG       a finished migration: no legacy file, journal or
                       staging left, exactly one backup directory whose
                       MANIFEST lists every file of ORIG with its CRC-32 and
                       size, and copies that match. Prints "ok" or
                       "broken: WHY".
  biglog FILE MB       a legacy log of about MB megabytes: inserts, then
                       updates and deletes of earlier _ids
  nlines DIR OUT       json-test-suite n_*.json texts that fit on one line,
                       one per line (blank ones left out); prints the count
  ylines DIR OUT       json-test-suite y_*.json top-level objects that fit
                       on one line, each with an "_id" added in front
                       (_id = 1, 2, ...); prints the count
"""
import hashlib
import json
import os
import random
import re
import sys
import zlib

JSON_WS = b" \t\r\n"


def log_lines(path):
    data = open(path, "rb").read()
    parts = data.split(b"\n")
    torn = not data.endswith(b"\n") and parts[-1] != b""
    if not torn:
        parts = parts[:-1] if parts and parts[-1] == b"" else parts
    out = []
    for i, raw in enumerate(parts):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.strip(JSON_WS) == b"":
            continue
        last = torn and i == len(parts) - 1
        out.append((line, last))
    return out


def live(path):
    docs = {}
    for line, torn in log_lines(path):
        try:
            d = json.loads(line)
        except ValueError:
            if torn:
                continue
            raise
        key = json.dumps(d["_id"], sort_keys=True)
        if d.get("$deleted") is True:
            docs.pop(key, None)
        else:
            docs.pop(key, None)  # keep the order of last appearance
            docs[key] = line
    for line in docs.values():
        sys.stdout.buffer.write(line + b"\n")


def tree(top, nolock=False):
    h = hashlib.sha256()
    for root, dirs, files in os.walk(top):
        dirs.sort()
        rel = os.path.relpath(root, top)
        h.update(("D %s\n" % rel).encode())
        for name in sorted(files):
            if nolock and rel == "." and name == "LOCK":
                continue
            p = os.path.join(root, name)
            st = os.lstat(p)
            h.update(("F %s %d\n" % (os.path.join(rel, name), st.st_size)).encode("utf-8", "surrogateescape"))
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    print(h.hexdigest())


def snapshot(top):
    out = {}
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        rel = re.sub(r"^wr-backup-[^/]*", "wr-backup-*", rel)
        out[rel] = None
        for name in files:
            if rel == "." and name == "LOCK":
                continue
            with open(os.path.join(root, name), "rb") as f:
                out[os.path.join(rel, name)] = f.read()
    return out


def same(a, b):
    sys.exit(0 if snapshot(a) == snapshot(b) else 1)


def top_files(d):
    return {n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n))}


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def state(d, orig):
    names = top_files(orig)
    if os.path.exists(os.path.join(d, "wr.catalog")):
        print("committed")
        return
    for n in names:
        p = os.path.join(d, n)
        if not os.path.isfile(p):
            print("broken: %s is missing" % n)
            return
        if not same_bytes(p, os.path.join(orig, n)):
            print("broken: %s changed" % n)
            return
    journal = os.path.exists(os.path.join(d, "wr-migrate.journal"))
    for n in sorted(os.listdir(d)):
        if n in names or n == "LOCK" or n.startswith("wr-migrate."):
            continue
        p = os.path.join(d, n)
        if n.startswith("wr-backup-") and os.path.isdir(p):
            continue
        if n.endswith(".wr") and journal:
            continue
        print("broken: unexpected %s" % n)
        return
    print("before")


def final(d, orig):
    names = top_files(orig)
    left = [n for n in os.listdir(d) if n in names or n.startswith("wr-migrate.")]
    if left:
        print("broken: left behind: %s" % ", ".join(sorted(left)))
        return
    if not os.path.isfile(os.path.join(d, "wr.catalog")):
        print("broken: no wr.catalog")
        return
    backups = [n for n in os.listdir(d) if n.startswith("wr-backup-")]
    if len(backups) != 1:
        print("broken: %d backup directories" % len(backups))
        return
    b = os.path.join(d, backups[0])
    try:
        text = open(os.path.join(b, "MANIFEST"), encoding="utf-8").read()
    except OSError:
        print("broken: no MANIFEST")
        return
    listed = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        crc, size, name = line.split(" ", 2)
        listed[name] = (int(crc, 16), int(size))
    for n in names:
        if n not in listed:
            print("broken: %s is not in the MANIFEST" % n)
            return
        data = open(os.path.join(orig, n), "rb").read()
        copy = open(os.path.join(b, n), "rb").read()
        if copy != data or listed[n] != (zlib.crc32(data), len(data)):
            print("broken: the backup of %s differs" % n)
            return
    print("ok")


def biglog(path, mb):
    rng = random.Random(11)
    target = int(mb * 1e6)
    size = 0
    n = 0
    with open(path, "w") as f:
        while size < target * 0.8:
            line = json.dumps({"_id": n * 7919 % 1000003, "name": "n%d" % n,
                               "city": "c%d" % (n % 50),
                               "pad": "x" * rng.randrange(200, 600),
                               "tags": [n % 3, n % 5]}) + "\n"
            f.write(line)
            size += len(line)
            n += 1
        while size < target:
            i = rng.randrange(n)
            if rng.random() < 0.25:
                line = json.dumps({"_id": i * 7919 % 1000003, "$deleted": True})
            else:
                line = json.dumps({"_id": i * 7919 % 1000003, "name": "u%d" % i,
                                   "pad": "y" * rng.randrange(200, 600)})
            f.write(line + "\n")
            size += len(line) + 1


def nlines(d, out):
    count = 0
    with open(out, "wb") as f:
        for name in sorted(os.listdir(d)):
            if not name.startswith("n_"):
                continue
            data = open(os.path.join(d, name), "rb").read()
            if data.endswith(b"\n"):
                data = data[:-1]
            if b"\n" in data or data.strip(JSON_WS) == b"":
                continue
            if data.endswith(b"\r"):
                continue  # would become blank-trimmed differently
            f.write(data + b"\n")
            count += 1
    print(count)


def ylines(d, out):
    count = 0
    with open(out, "wb") as f:
        for name in sorted(os.listdir(d)):
            if not name.startswith("y_"):
                continue
            data = open(os.path.join(d, name), "rb").read().strip(JSON_WS)
            if not data.startswith(b"{") or b"\n" in data or b"\r" in data:
                continue
            try:
                obj = json.loads(data)
            except ValueError:
                continue
            if not isinstance(obj, dict) or "_id" in obj:
                continue
            count += 1
            rest = data[1:].lstrip(JSON_WS)
            sep = b"" if rest.startswith(b"}") else b", "
            f.write(b'{"_id": %d%s%s\n' % (count, sep, rest))
    print(count)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "live":
        live(args[0])
    elif cmd == "tree":
        tree(args[0], len(args) > 1 and args[1] == "nolock")
    elif cmd == "same":
        same(args[0], args[1])
    elif cmd == "state":
        state(args[0], args[1])
    elif cmd == "final":
        final(args[0], args[1])
    elif cmd == "biglog":
        biglog(args[0], float(args[1]))
    elif cmd == "nlines":
        nlines(args[0], args[1])
    elif cmd == "ylines":
        ylines(args[0], args[1])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
