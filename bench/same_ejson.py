#!/usr/bin/env python3
"""bench/same_ejson.py A B -- do two JSONL dumps hold the same documents in
the same canonical Extended JSON text? (bench/run.sh: wr-dump --docs against
LMDB + libbson.)

libbson writes a double as "%.20g" ("15027.799999999999272"), wr-dump as the
fewest digits that read back as the same double ("15027.8"). A line that
differs is accepted only if it is byte-identical once every
"$numberDouble" : "X" string of both sides is rewritten as Python's shortest
repr of float(X), i.e. both sides name the same double. Prints one line:
how many lines, how many differ only in the digits of doubles; exits 1 on
any other difference (and says at which line)."""
import re
import sys

DOUBLE = re.compile(rb'"\$numberDouble" : "([^"]*)"')


def same_double(m):
    try:
        return b'"$numberDouble" : "' + repr(float(m.group(1))).encode() + b'"'
    except ValueError:
        return m.group(0)


def main():
    if len(sys.argv) != 3:
        print("usage: same_ejson.py A B", file=sys.stderr)
        return 2
    n = doubles = 0
    with open(sys.argv[1], 'rb') as a, open(sys.argv[2], 'rb') as b:
        for la, lb in zip(a, b):
            n += 1
            if la == lb:
                continue
            if DOUBLE.sub(same_double, la) != DOUBLE.sub(same_double, lb):
                print("line %d differs beyond the digits of doubles" % n)
                return 1
            doubles += 1
        if a.readline() or b.readline():
            print("different line counts (the shorter has %d)" % n)
            return 1
    print("%d lines, identical except the digits of doubles in %d of them "
          "(libbson %%.20g, wr-dump the shortest that reads back the same)"
          % (n, doubles))
    return 0


if __name__ == '__main__':
    sys.exit(main())
