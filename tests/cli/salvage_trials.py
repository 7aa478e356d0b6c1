#!/usr/bin/env python3
"""salvage_trials.py -- damage trials for wr-salvage.

  salvage_trials.py WR_BIN WORKDIR [CLASS...]

Builds a database with history (600 documents on 512-byte pages, every
10th one packed whole in its leaf cell, indexes on age and tags; then every
third document updated, some into overflow pages, some packed, and every
50th deleted; then every fifth updated), so the
file holds the latest checkpoint, the previous one, and older pages in free
space. Then, for every trial (a damage class applied at offsets
docs/FORMAT.md names, through damage.py), it runs wr-salvage and checks:

  1. the exit status is 0 or 1, and DEST verifies clean (wr-verify);
  2. every document in a DEST collection equals its version in the latest
     or the previous checkpoint: zero invented, mixed or stale documents;
  3. every document of the latest checkpoint whose pages were not damaged
     is recovered: in the collection, or (when its lineage is uncertain)
     in DEST/lost+found with exactly its latest version;
  4. what is missing from the collection is named: its _id lies inside a
     key range the report gives as lost, or it is in lost+found;
  5. exit 0 only when the collection holds every latest document;
  6. for the damage that destroys no document's page (internal, extent-list
     and index pages, header slots, the catalog, and leaves that are only
     moved: swapped, or one no longer named by its parent): exit 0 and
     every latest document in the collection.

Prints one "# class: ..." line per damage class with the recovery rate
(documents in the collection equal to their latest version / documents in
the latest checkpoint; and with lost+found counted too), and exits 1 when
any check failed (each failure is printed).
"""
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import damage  # noqa: E402

N = 600


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def docs_of(bin_, db, previous=False):
    args = [bin_ + "/wr-dump", "--docs", "--collection", "people", db]
    if previous:
        args[1:1] = ["--checkpoint", "previous"]
    r = run(args)
    if r.returncode != 0:
        raise SystemExit("wr-dump failed on %s: %s" % (db, r.stderr))
    out = {}
    for line in r.stdout.splitlines():
        d = json.loads(line)
        out[json.dumps(d["_id"], sort_keys=True)] = json.dumps(d,
                                                               sort_keys=True)
    return out


def build(bin_, work):
    db = os.path.join(work, "db")
    shutil.rmtree(db, ignore_errors=True)
    lines1, lines2, lines3 = [], [], []
    for i in range(N):
        t = "x" * 400 if i % 10 == 0 else ""
        lines1.append(json.dumps({"_id": i, "name": "user%d" % i,
                                  "age": i % 90, "tags": ["a%d" % (i % 7), "b"],
                                  "text": t}))
    for i in range(N):
        if i % 50 == 7:
            lines2.append(json.dumps({"_id": i, "$deleted": True}))
        elif i % 3 == 0:
            lines2.append(json.dumps({"_id": i, "name": "changed%d" % i,
                                      "age": (i * 7) % 90, "tags": ["c"],
                                      # 600: an overflow page; 300: packed
                                      # whole in its leaf cell (format 4)
                                      "text": "y" * (600 if i % 18 == 0 else
                                                     300 if i % 9 == 0 else 3)}))
    for i in range(N):
        if i % 5 == 0 and i % 50 != 7:
            lines3.append(json.dumps({"_id": i, "name": "third%d" % i,
                                      "age": i % 11, "tags": ["d", "e"]}))
    for k, lines in enumerate((lines1, lines2, lines3)):
        path = os.path.join(work, "in%d.jsonl" % k)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        args = [bin_ + "/wr-load", "-q"]
        if k == 0:
            args += ["--page-size", "512", "--index", "age", "--index", "tags"]
        r = run(args + [db, "people", path])
        if r.returncode != 0:
            raise SystemExit("wr-load failed: " + r.stderr)
    return db


def int_id(key):
    """The int _id of a main-table key document {"": int32}."""
    return struct.unpack_from("<i", key, 6)[0]


def page_ids(main):
    """page offset -> (size, ids) for every leaf and overflow page."""
    t = damage.Tree(main)
    out = {}
    for kind, off, _ in t.walk():
        if kind == "leaf":
            ids = []
            for c in t.cells(off):
                ids.append(int_id(c["key"]))
                if "ovf" in c:
                    out[c["ovf"][0]] = (c["ovf"][1], [int_id(c["key"])])
            out[off] = (t.P, ids)
    return t, out


# --- damage classes: each returns the damaged byte ranges of the main file


def flip_at(path, off, bits=(0, 3, 6)):
    with open(path, "r+b") as f:
        for k, bit in enumerate(bits):
            f.seek(off + 40 + 37 * k)
            b = f.read(1)
            f.seek(off + 40 + 37 * k)
            f.write(bytes([b[0] ^ (1 << bit)]))


def zero_at(path, off, n):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(bytes(n))


def find(path, kind, n=0):
    return damage.Tree(path).find(kind, n)


def pages_of(path, kind):
    return [o for k, o, _ in damage.Tree(path).walk() if k == kind]


def stale_leaf(path):
    """Copy an older leaf page (free space) over a live leaf."""
    t = damage.Tree(path)
    live = {o for _, o, _ in t.walk()}
    cur_gen = struct.unpack_from("<Q", t.data, t.slot + 24)[0]
    old = None
    for off in range(2 * t.P, len(t.data), t.P):
        p = t.data[off:off + t.P]
        if (off not in live and p[4] == 1 and
                struct.unpack_from("<Q", p, 16)[0] < cur_gen - 1):
            old = off
            break
    target = pages_of(path, "leaf")[2]
    t.data[target:target + t.P] = t.data[old:old + t.P]
    t.save()
    return [(target, t.P)]


def swap_leaves(path):
    """Two intact leaves swapped in place: both still in the file."""
    t = damage.Tree(path)
    a, b = pages_of(path, "leaf")[1], pages_of(path, "leaf")[4]
    pa, pb = bytes(t.data[a:a + t.P]), bytes(t.data[b:b + t.P])
    t.data[a:a + t.P], t.data[b:b + t.P] = pb, pa
    t.save()
    return []


def trials(db):
    main = os.path.join(db, "people.main.wr")
    idx = os.path.join(db, "people.idx.age.wr")
    P = damage.Tree(main).P
    size = os.path.getsize(main)

    def leaf(n):
        def f(d):
            off = find(os.path.join(d, "people.main.wr"), "leaf", n)
            flip_at(os.path.join(d, "people.main.wr"), off)
            return [(off, P)]
        return f

    def zero(kind, n, fname="people.main.wr"):
        def f(d):
            path = os.path.join(d, fname)
            off = find(path, kind, n)
            size_ = struct.unpack_from("<I", open(path, "rb").read(), off + 12)[0]
            zero_at(path, off, max(size_, P))
            return [(off, max(size_, P))] if fname == "people.main.wr" else []
        return f

    def flip(kind, n, fname="people.main.wr"):
        def f(d):
            path = os.path.join(d, fname)
            off = find(path, kind, n)
            flip_at(path, off)
            return [(off, P)] if fname == "people.main.wr" else []
        return f

    def trunc(frac):
        def f(d):
            path = os.path.join(d, "people.main.wr")
            cut = (int(size * frac) // P) * P
            os.truncate(path, cut)
            return [(cut, size - cut)]
        return f

    def slot(which):
        def f(d):
            path = os.path.join(d, "people.main.wr")
            with open(path, "r+b") as fh:
                for s in which:  # a bit of the generation field
                    fh.seek(s * P + 24)
                    b = fh.read(1)
                    fh.seek(s * P + 24)
                    fh.write(bytes([b[0] ^ 4]))
            return []
        return f

    def cat(how):
        def f(d):
            path = os.path.join(d, "wr.catalog")
            if how == "flip":
                flip_at(path, 0, bits=(1,))
            elif how == "remove":
                os.unlink(path)
            else:
                os.truncate(path, 20)
            return []
        return f

    def tool(cmd, destroys=True):
        def f(d):
            path = os.path.join(d, "people.main.wr")
            r = run([sys.executable, os.path.join(HERE, "damage.py"), cmd,
                     path])
            if r.returncode != 0:
                raise SystemExit("damage.py %s: %s" % (cmd, r.stderr))
            return [(int(r.stdout.split()[0]), P)] if destroys else []
        return f

    def both(f1, f2):
        def f(d):
            return f1(d) + f2(d)
        return f

    def remove(fname):
        def f(d):
            os.unlink(os.path.join(d, fname))
            return []
        return f

    nleaf = len(pages_of(main, "leaf"))
    return [
        ("bit flip", "leaf first", leaf(0)),
        ("bit flip", "leaf middle", leaf(nleaf // 2)),
        ("bit flip", "leaf last", leaf(nleaf - 1)),
        ("bit flip", "two leaves", both(leaf(3), leaf(9))),
        ("bit flip", "internal root", flip("internal", 0)),
        ("bit flip", "internal lower", flip("internal", 1)),
        ("bit flip", "overflow", flip("overflow", 1)),
        ("bit flip", "extent list", flip("extlist", 0)),
        ("bit flip", "index leaf", flip("leaf", 1, "people.idx.age.wr")),
        ("bit flip", "index internal", flip("internal", 0, "people.idx.tags.wr")),
        ("zeroed block", "leaf", zero("leaf", 5)),
        ("zeroed block", "internal", zero("internal", 1)),
        ("zeroed block", "root", zero("internal", 0)),
        ("zeroed block", "overflow", zero("overflow", 0)),
        ("zeroed block", "extent list", zero("extlist", 0)),
        ("zeroed block", "index leaf", zero("leaf", 0, "people.idx.tags.wr")),
        ("truncation", "main at 90%", trunc(0.9)),
        ("truncation", "main at 50%", trunc(0.5)),
        ("truncation", "index at 50%",
         lambda d: (os.truncate(os.path.join(d, "people.idx.age.wr"),
                                (os.path.getsize(idx) // 2 // P) * P), [])[1]),
        ("stale or swapped page", "older leaf over a live one",
         lambda d: stale_leaf(os.path.join(d, "people.main.wr"))),
        ("stale or swapped page", "two leaves swapped",
         lambda d: swap_leaves(os.path.join(d, "people.main.wr"))),
        ("stale or swapped page", "child pointer twice",
         tool("twice", destroys=False)),
        ("damaged slot", "document _id changed", tool("idchange")),
        ("damaged slot", "latest header slot", slot_latest(main, slot)),
        ("damaged slot", "previous header slot", slot_previous(main, slot)),
        ("damaged slot", "both header slots", slot([0, 1])),
        ("damaged catalog", "bit flip", cat("flip")),
        ("damaged catalog", "missing", cat("remove")),
        ("damaged catalog", "truncated", cat("trunc")),
        ("damaged catalog", "catalog and an index file",
         both(cat("flip"), remove("people.idx.tags.wr"))),
    ]


# the trials after which everything must come back (check 6)
WHOLE = {"internal root", "internal lower", "extent list", "index leaf",
         "index internal", "internal", "root", "index at 50%",
         "two leaves swapped", "child pointer twice",
         "previous header slot", "missing", "truncated",
         "catalog and an index file"}


def slot_latest(main, slot):
    return slot([damage.Tree(main).si])


def slot_previous(main, slot):
    return slot([1 - damage.Tree(main).si])


def plain_id(v):
    """An int _id from canonical ({"$numberInt": "5"}) or relaxed JSON."""
    if isinstance(v, dict):
        v = v.get("$numberInt", v.get("$numberLong"))
    return int(v) if v is not None else None


def lost_ranges(rep):
    out = []
    for c in rep.get("collections", []):
        for l in c.get("lost", []):
            a = plain_id(json.loads(l["after_key"])) if l.get("after_key") \
                else None
            b = plain_id(json.loads(l["before_key"])) if l.get("before_key") \
                else None
            out.append((a, b))
    return out


def named(i, ranges):
    for a, b in ranges:
        if (a is None or (isinstance(a, int) and a <= i)) and \
           (b is None or (isinstance(b, int) and i <= b)):
            return True
    return False


def one(bin_, work, db, latest, previous, ids_on, klass, name, fn):
    t = os.path.join(work, "t")
    out = os.path.join(work, "out")
    shutil.rmtree(t, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(db, t)
    damaged = fn(t)
    bad = []
    r = run([bin_ + "/wr-salvage", "--json", t, out], timeout=300)
    label = "%s / %s" % (klass, name)
    if r.returncode not in (0, 1):
        return label, ["exit %d: %s" % (r.returncode, r.stderr.strip())], 0, 0
    rep = json.loads(r.stdout)
    v = run([bin_ + "/wr-verify", "-q", out])
    if v.returncode != 0:
        bad.append("DEST does not verify: " + v.stdout + v.stderr)
    got = docs_of(bin_, out)
    lf = {}
    lfpath = os.path.join(out, "lost+found", "people.jsonl")
    if os.path.exists(lfpath):
        for line in open(lfpath):
            d = json.loads(line)
            if "document" in d:
                doc = d["document"]
                lf.setdefault(json.dumps(doc["_id"], sort_keys=True),
                              set()).add(json.dumps(doc, sort_keys=True))
    wrong = [k for k, d in got.items()
             if latest.get(k) != d and previous.get(k) != d]
    if wrong:
        bad.append("%d invented, mixed or stale documents in the collection, "
                   "e.g. %s" % (len(wrong), got[wrong[0]][:200]))
    on_damaged = set()
    for off, ln in damaged:
        for p, (size, ids) in ids_on.items():
            if p < off + ln and off < p + size:
                on_damaged.update(ids)
    ranges = lost_ranges(rep)
    exact = 0
    with_lf = 0
    for k, d in latest.items():
        i = plain_id(json.loads(k))
        if got.get(k) == d:
            exact += 1
            with_lf += 1
            continue
        if d in lf.get(k, ()):
            with_lf += 1
        elif i not in on_damaged:
            bad.append("document %s was on an undamaged page and is not "
                       "recovered" % k)
        if k not in lf and not named(i, ranges):
            bad.append("document %s is missing and no lost range names it"
                       % k)
    if r.returncode == 0 and exact != len(latest):
        bad.append("exit 0 but %d of %d latest documents are not in the "
                   "collection" % (len(latest) - exact, len(latest)))
    if r.returncode == 1 and not ranges:
        bad.append("exit 1 but the report names no loss")
    if name in WHOLE and (r.returncode != 0 or exact != len(latest)):
        bad.append("nothing of a document was destroyed, yet exit %d and "
                   "%d of %d latest documents in the collection"
                   % (r.returncode, exact, len(latest)))
    return label, bad[:5], exact, with_lf


def main(argv):
    bin_, work = argv[1], argv[2]
    only = set(argv[3:])
    os.makedirs(work, exist_ok=True)
    db = build(bin_, work)
    latest = docs_of(bin_, db)
    previous = docs_of(bin_, db, previous=True)
    _, ids_on = page_ids(os.path.join(db, "people.main.wr"))
    failures = 0
    rates = {}
    for klass, name, fn in trials(db):
        if only and klass not in only:
            continue
        label, bad, exact, with_lf = one(bin_, work, db, latest, previous,
                                         ids_on, klass, name, fn)
        r = rates.setdefault(klass, [0, 0, 0])
        r[0] += exact
        r[1] += with_lf
        r[2] += len(latest)
        status = "ok" if not bad else "FAILED"
        print("# %-55s %s: %d/%d in the collection, %d/%d with lost+found"
              % (label, status, exact, len(latest), with_lf, len(latest)))
        for b in bad:
            print("#   " + b)
        failures += bool(bad)
    for klass, (e, w, n) in rates.items():
        print("# recovery rate, %s: %.1f%% in the collection, %.1f%% with "
              "lost+found" % (klass, 100.0 * e / n, 100.0 * w / n))
    print("# trials failed: %d" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
