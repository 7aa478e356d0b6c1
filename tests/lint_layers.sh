#!/usr/bin/env bash
# tests/lint_layers.sh [OBJDIR] -- dependencies between lib/ modules point
# one way (docs/ARCHITECTURE.md): from the compiled objects (default
# build/rel/obj/lib), a module calls another when it uses a symbol the
# other defines; fails naming the modules of any cycle, and the calls that
# make it. With -v, prints each module's callees (the graph
# ARCHITECTURE.md draws).
set -u
cd "$(dirname "$0")/.." || exit 2
verbose=0
if [ "${1:-}" = "-v" ]; then verbose=1; shift; fi
objdir=${1:-build/rel/obj/lib}
shopt -s nullglob
objs=("$objdir"/*.o)
if [ ${#objs[@]} -eq 0 ]; then
    echo "lint_layers: no objects in $objdir (build first)"
    exit 2
fi
# one line a symbol: MODULE D SYMBOL (defined) or MODULE U SYMBOL (used)
for o in "${objs[@]}"; do
    m=$(basename "$o" .o)
    nm "$o" | awk -v m="$m" 'NF == 3 && $2 ~ /^[TDBRC]$/ { print m, "D", $3 }
                             NF == 2 && $1 == "U" { print m, "U", $2 }'
done | python3 -c '
import collections, sys
verbose = sys.argv[1] == "1"
defs, uses = {}, collections.defaultdict(set)
for line in sys.stdin:
    m, k, s = line.split()
    if k == "D":
        defs[s] = m
    else:
        uses[m].add(s)
calls = collections.defaultdict(lambda: collections.defaultdict(list))
for m, syms in uses.items():
    for s in sorted(syms):
        if s in defs and defs[s] != m:
            calls[m][defs[s]].append(s)
mods = sorted(set(defs.values()) | set(uses))
# strongly connected components (iterative Tarjan)
index, low, on, stack, sccs, n = {}, {}, set(), [], [], 0
for root in mods:
    if root in index:
        continue
    work = [(root, iter(sorted(calls[root])))]
    index[root] = low[root] = n; n += 1; stack.append(root); on.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = n; n += 1; stack.append(w); on.add(w)
                work.append((w, iter(sorted(calls[w]))))
            elif w in on:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            sccs.append(sorted(comp))
if verbose:
    for m in mods:
        print("%-14s -> %s" % (m, " ".join(sorted(calls[m]))))
bad = [c for c in sccs if len(c) > 1]
for c in bad:
    print("lint_layers: lib modules that call each other: " + ", ".join(c))
    for a in c:
        for b in c:
            if b in calls[a]:
                print("  %s -> %s (%s)" % (a, b, ", ".join(calls[a][b][:4])))
if bad:
    sys.exit(1)
print("lint_layers: %d lib modules, no cycle" % len(mods))
' "$verbose"
