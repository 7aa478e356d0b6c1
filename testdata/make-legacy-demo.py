#!/usr/bin/env python3
"""Write testdata/legacy-demo/: a small legacy append-log database.

    python3 testdata/make-legacy-demo.py [OUTDIR]

Two collections, deterministic (seeded), a few hundred lines:
  users.log   150 users (ObjectId _id, strings, a nested address, an
              array of tags, dates in canonical and legacy mongoexport
              form, int, NumberLong, double, Decimal128), then 60 updates,
              20 deletes, a delete of an _id that never existed, and one
              deleted user inserted again;
  orders.log  120 orders (string _id, the customer's ObjectId, an array of
              item subdocuments), then 40 updates and 15 deletes; some
              lines end in CRLF and there is a blank line, as old writers
              left them;
  users.email.idx, users.address.city.idx, orders.customer.idx: the old
              offset-based indexes. Their content is never read (it is
              arbitrary bytes here); their names say which indexes to
              rebuild.
Every line is valid: the demo migrates cleanly (bad input is tested
elsewhere).
"""
import json
import os
import random
import struct
import sys

CITIES = ["Oslo", "Lima", "Pune", "Kyiv", "Accra", "Quito", "Hanoi", "Riga"]
TAGS = ["admin", "beta", "vip", "new", "churn-risk", "mobile"]
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]


def oid(rng):
    return "%024x" % rng.getrandbits(96)


def iso(ms):
    s, ms = divmod(ms, 1000)
    # a fixed epoch-based calendar is enough for a demo: format with gmtime
    import time
    t = time.gmtime(s)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms)


def user(rng, uid, n, version):
    created = 1262304000000 + rng.randrange(0, 10 * 365 * 86400) * 1000
    d = {
        "_id": {"$oid": uid},
        "name": "user%03d" % n,
        "email": "user%03d@example.org" % n if version == 0 else
                 "user%03d.v%d@example.net" % (n, version),
        "address": {"city": rng.choice(CITIES), "zip": "%05d" % rng.randrange(100000)},
        "tags": sorted(rng.sample(TAGS, rng.randrange(0, 4))),
        "age": rng.randrange(18, 90),
        "visits": {"$numberLong": str(rng.randrange(0, 5 * 10**9))},
        "score": round(rng.uniform(0, 100), 3),
        "balance": {"$numberDecimal": "%d.%02d" % (rng.randrange(0, 5000), rng.randrange(100))},
        "version": version,
    }
    # mongoexport wrote {"$date": <ms>}; newer writers the canonical form
    if n % 2 == 0:
        d["created"] = {"$date": created}
    else:
        d["created"] = {"$date": iso(created)}
    if n % 7 == 0:
        d["note"] = "caf\u00e9 \u2603 \"quoted\" \\ back"
    return d


def order(rng, n, customers, version):
    items = [{"sku": "sku-%04d" % rng.randrange(10000),
              "qty": rng.randrange(1, 5),
              "price": round(rng.uniform(1, 200), 2)}
             for _ in range(rng.randrange(1, 4))]
    return {
        "_id": "o-%04d" % n,
        "customer": {"$oid": rng.choice(customers)},
        "items": items,
        "amount": round(sum(i["qty"] * i["price"] for i in items), 2),
        "status": STATUSES[min(version, len(STATUSES) - 1)],
        "placed": {"$date": {"$numberLong": str(1400000000000 + n * 3600000)}},
    }


def line(d):
    return json.dumps(d, ensure_ascii=False, separators=(", ", ": "))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "legacy-demo")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20240501)

    ids = [oid(rng) for _ in range(150)]
    users = []
    for n, uid in enumerate(ids):
        users.append(line(user(rng, uid, n, 0)))
    for k in range(60):
        n = rng.randrange(150)
        users.append(line(user(rng, ids[n], n, 1 + k % 3)))
    gone = rng.sample(range(150), 20)
    for n in gone:
        users.append(line({"_id": {"$oid": ids[n]}, "$deleted": True}))
    users.append(line({"_id": {"$oid": "0" * 24}, "$deleted": True}))
    users.append(line(user(rng, ids[gone[0]], gone[0], 9)))
    with open(os.path.join(out, "users.log"), "w", encoding="utf-8",
              newline="") as f:
        f.write("".join(u + "\n" for u in users))

    orders = []
    for n in range(120):
        orders.append(line(order(rng, n, ids, 0)))
    for k in range(40):
        n = rng.randrange(120)
        orders.append(line(order(rng, n, ids, 1 + k % 4)))
    for n in rng.sample(range(120), 15):
        orders.append(line({"_id": "o-%04d" % n, "$deleted": True}))
    with open(os.path.join(out, "orders.log"), "w", encoding="utf-8",
              newline="") as f:
        for i, o in enumerate(orders):
            f.write(o + ("\r\n" if i % 10 == 3 else "\n"))
            if i == 50:
                f.write("\n")

    # old offset indexes: arbitrary bytes, never read
    for name, count in (("users.email.idx", 150), ("users.address.city.idx", 150),
                        ("orders.customer.idx", 120)):
        with open(os.path.join(out, name), "wb") as f:
            for i in range(count):
                f.write(struct.pack("<QQ", rng.getrandbits(64), i * 97))


if __name__ == "__main__":
    main()
