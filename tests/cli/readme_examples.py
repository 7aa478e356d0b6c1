#!/usr/bin/env python3
"""Run the README's examples on the demo data and compare their output.

    readme_examples.py README BINDIR TOPDIR WORKDIR

An example is a fenced code block preceded by the comment
    <!-- example: SETUP -->
SETUP names how the data is made before the block runs (see SETUPS), or
is "not run: REASON" (said in the README source, e.g. a damaged copy).
Each "$ COMMAND" line of the block runs in WORKDIR/N (bash, the tools of
BINDIR first on PATH); the lines after it, up to the next "$", must appear
in its output (stdout and stderr) in that order: a line "..." stands for
any lines, a line holding "..." matches on its text before the "...".
"$ echo $?" checks the exit status of the command before it; blank lines
are not compared.
Prints one line per example; exits 1 if any failed.
"""
import os
import re
import shutil
import subprocess
import sys


def setups(top, sh):
    people = os.path.join(top, "testdata", "people.jsonl")
    updates = os.path.join(top, "testdata", "people-updates.jsonl")
    legacy = os.path.join(top, "testdata", "legacy-demo")

    def files():
        shutil.copy(people, "people.jsonl")
        shutil.copy(updates, "people-updates.jsonl")

    def people_db():  # 2000 people (index on address.city), 500 updates
        files()
        sh("wr-load -q --index address.city db people people.jsonl && "
           "wr-load -q db people people-updates.jsonl")

    def loaded():  # people.jsonl only
        files()
        sh("wr-load -q --index address.city db people people.jsonl")

    return {
        "files": files,
        "people": people_db,
        "loaded": loaded,
        "legacy": lambda: shutil.copytree(legacy, "db"),
    }


def examples(readme):
    """[(line, setup, [(command, [expected lines])])]"""
    out, setup, block, lines = [], None, None, readme.splitlines()
    for n, line in enumerate(lines, 1):
        m = re.match(r"<!-- example: (.*?) -->", line)
        if m:
            setup = m.group(1)
            continue
        if line.startswith("```") and block is None and setup is not None:
            block = (n, setup, [])
            setup = None
            continue
        if line.startswith("```") and block is not None:
            out.append(block)
            block = None
            continue
        if block is not None:
            if line.startswith("$ "):
                block[2].append((line[2:], []))
            elif block[2]:
                block[2][-1][1].append(line)
    return out


def matches(expected, actual):
    """None if expected lines appear in actual in order, else the first
    expected line that does not."""
    i = 0
    for e in expected:
        if e.strip() in ("...", ""):
            continue
        prefix = e.split("...")[0].rstrip() if "..." in e else None
        while i < len(actual):
            a = actual[i]
            i += 1
            if (prefix is not None and a.startswith(prefix)) or a == e:
                break
        else:
            return e
    return None


def main(readme_path, bindir, top, work):
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
    failed = 0
    found = examples(open(readme_path, encoding="utf-8").read())
    if not found:
        print("no examples marked in %s" % readme_path)
        return 1
    for k, (line, setup, cmds) in enumerate(found):
        if setup.startswith("not run"):
            print("# README:%d: %s" % (line, setup))
            continue
        d = os.path.join(work, str(k))
        os.makedirs(d)
        os.chdir(d)

        def sh(c):
            subprocess.run(["bash", "-c", c], check=True, env=env)
        if setup not in setups(top, sh):
            print("not ok README:%d: unknown setup '%s'" % (line, setup))
            failed += 1
            continue
        setups(top, sh)[setup]()
        last, why = None, None
        for cmd, expected in cmds:
            if cmd == "echo $?":
                if [str(last)] != [e for e in expected if e]:
                    why = "exit status %s, README says %s" % (last, expected)
                continue
            p = subprocess.run(["bash", "-c", cmd], env=env,
                               capture_output=True, text=True)
            last = p.returncode
            actual = (p.stdout + p.stderr).splitlines()
            miss = matches(expected, actual)
            if miss is not None:
                why = "$ %s: README shows\n    %s\n  which the output lacks:\n%s" % (
                    cmd, miss, "\n".join("    " + a for a in actual[:30]))
                break
        if why is None:
            print("ok README:%d: %s" % (line, "; ".join(c for c, _ in cmds)))
        else:
            failed += 1
            print("not ok README:%d: %s" % (line, why))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
