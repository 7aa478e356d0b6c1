#!/usr/bin/env python3
"""Compare a JSONL input with what `wr-dump --docs` gave back, as values.

    ejson_compare.py INPUT DUMP [--field F] [--max-missing N]
                     [--allow-missing ID,ID,...]

Both sides are parsed as JSON and normalised to typed values the way
libbson reads Extended JSON (canonical, relaxed, or the legacy
{"$date": <number>} of mongoexport): an integer literal is an int32 when it
fits, else an int64; {"$numberInt"}, {"$numberLong"}, {"$numberDouble"}
(NaN, +-Infinity and -0.0 kept apart), {"$date"} in all three forms, ...
Documents are compared field by field, in field order.

With --field F, each input line's document is the value of field F (for
inputs that wrap the document). Every document of DUMP must equal the
input document with the same _id (the last one, if the input repeats it);
the dump's _ids must come in increasing order when they are all numbers or
all dates; input documents missing from the dump are listed, and at most
--max-missing (default 0) of them may be missing, all of them among
--allow-missing when that is given. Exit 0 when all holds, 1 otherwise.
"""
import json
import math
import sys
from datetime import datetime, timezone

INT32 = (-(2**31), 2**31 - 1)


def fail(msg):
    print("ejson_compare: " + msg, file=sys.stderr)


def dbl(s):
    if isinstance(s, str):
        v = float(s)  # accepts NaN, Infinity, -Infinity, -0.0, 1.0E+3
    else:
        v = float(s)
    if math.isnan(v):
        return ("double", "nan")
    return ("double", v, math.copysign(1.0, v))


def date_ms(v):
    if isinstance(v, bool):
        raise ValueError("bool date")
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, dict) and list(v) == ["$numberLong"]:
        return int(v["$numberLong"])
    if isinstance(v, str):  # relaxed ISO-8601
        s = v.replace("Z", "+00:00")
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        delta = dt - epoch
        return (delta.days * 86400 + delta.seconds) * 1000 + \
            delta.microseconds // 1000
    raise ValueError("bad $date %r" % (v,))


def norm(x):
    """A hashable, typed form of a parsed Extended JSON value."""
    if isinstance(x, bool):
        return ("bool", x)
    if x is None:
        return ("null",)
    if isinstance(x, int):
        if INT32[0] <= x <= INT32[1]:
            return ("int32", x)
        return ("int64", x)
    if isinstance(x, float):
        return dbl(x)
    if isinstance(x, str):
        return ("string", x)
    if isinstance(x, list):
        return ("array", tuple(norm(e) for e in x))
    if isinstance(x, dict):
        keys = list(x)
        if keys == ["$numberInt"]:
            return ("int32", int(x["$numberInt"]))
        if keys == ["$numberLong"]:
            return ("int64", int(x["$numberLong"]))
        if keys == ["$numberDouble"]:
            return dbl(x["$numberDouble"])
        if keys == ["$date"]:
            return ("date", date_ms(x["$date"]))
        if keys == ["$numberDecimal"]:
            return ("decimal", x["$numberDecimal"])
        if keys == ["$oid"]:
            return ("oid", x["$oid"].lower())
        if keys == ["$binary"] and isinstance(x["$binary"], dict):
            b = x["$binary"]
            return ("binary", b.get("base64"), int(b.get("subType"), 16))
        if sorted(keys) == ["$binary", "$type"]:  # legacy form
            return ("binary", x["$binary"], int(x["$type"], 16))
        if keys == ["$regularExpression"]:
            r = x["$regularExpression"]
            return ("regex", r["pattern"], "".join(sorted(r["options"])))
        if keys == ["$timestamp"]:
            return ("timestamp", x["$timestamp"]["t"], x["$timestamp"]["i"])
        if keys == ["$symbol"]:
            return ("symbol", x["$symbol"])
        if keys == ["$code"]:
            return ("code", x["$code"])
        if sorted(keys) == ["$code", "$scope"]:
            return ("code_w_scope", x["$code"], norm(x["$scope"]))
        if keys == ["$undefined"]:
            return ("undefined",)
        if keys == ["$minKey"]:
            return ("minkey",)
        if keys == ["$maxKey"]:
            return ("maxkey",)
        if keys == ["$dbPointer"]:
            p = x["$dbPointer"]
            return ("dbpointer", p["$ref"], norm(p["$id"]))
        return ("document", tuple((k, norm(v)) for k, v in x.items()))
    raise ValueError("unexpected JSON value %r" % (x,))


def id_order_key(n):
    """A sort key for numbers and dates, else None."""
    if n[0] in ("int32", "int64") or (n[0] == "double" and len(n) == 3):
        return (0, n[1])
    if n[0] == "date":
        return (1, n[1])
    return None


def main(argv):
    args = argv[1:]
    field = None
    max_missing = 0
    allow = None
    pos = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--field":
            field = args[i + 1]
            i += 2
        elif a == "--max-missing":
            max_missing = int(args[i + 1])
            i += 2
        elif a == "--allow-missing":
            allow = set(args[i + 1].split(","))
            i += 2
        else:
            pos.append(a)
            i += 1
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    inp, dump = pos

    want = {}
    raw_id = {}
    with open(inp, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if field is not None:
                    d = {"_id": d["_id"], field: d[field]}
                n = norm(d)
            except Exception as e:  # a line wr-load rejects too
                fail("input line %d does not parse (%s); skipped" %
                     (lineno, e))
                continue
            key = dict(n[1])["_id"]
            want[key] = n
            raw_id[key] = json.dumps(d["_id"])

    ok = True
    seen = set()
    prev = None
    ordered = True
    with open(dump, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                n = norm(json.loads(line))
            except Exception as e:
                fail("dump line %d does not parse: %s" % (lineno, e))
                ok = False
                continue
            key = dict(n[1]).get("_id")
            if key in seen:
                fail("dump line %d: _id repeated" % lineno)
                ok = False
            seen.add(key)
            ok_key = id_order_key(key) if key is not None else None
            if ok_key is None:
                ordered = False
            elif ordered and prev is not None and not prev < ok_key:
                fail("dump line %d: _id not greater than the previous one" %
                     lineno)
                ok = False
            prev = ok_key
            if key not in want:
                fail("dump line %d: _id not in the input: %s" %
                     (lineno, line.strip()[:200]))
                ok = False
            elif want[key] != n:
                fail("dump line %d differs from the input document with "
                     "_id %s:\n  input: %r\n  dump:  %r" %
                     (lineno, raw_id[key], want[key], n))
                ok = False
    missing = [k for k in want if k not in seen]
    for k in missing:
        fail("input document with _id %s is not in the dump" % raw_id[k])
    if len(missing) > max_missing:
        fail("%d input documents missing, at most %d allowed" %
             (len(missing), max_missing))
        ok = False
    if allow is not None:
        for k in missing:
            if raw_id[k] not in allow:
                fail("missing _id %s is not an allowed one" % raw_id[k])
                ok = False
    print("ejson_compare: %d input documents, %d in the dump, %d missing: %s"
          % (len(want), len(seen), len(missing), "ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
