#!/usr/bin/python3
"""Validate wrtools --json output against docs/json/TOOL.schema.json.

    validate.py SCHEMA_DIR FILE...   each FILE holds what one process printed
                                     (tools write DIR/TOOL.PID.json when
                                     WR_TEST_JSON_DIR=DIR; '-' reads stdin)

Prints TAP ("ok N - FILE" / "not ok N - FILE: why"), one line per FILE, and
exits 1 if any failed. A FILE must hold exactly one JSON object (the
contract: one object per run), whose "tool" names a schema that exists.
"""
import glob
import json
import os
import sys

import jsonschema


def load_schemas(schema_dir):
    store, by_tool = {}, {}
    for path in sorted(glob.glob(os.path.join(schema_dir, "*.schema.json"))):
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)  # a broken schema is a failure, not a pass
        store[schema["$id"]] = schema
        name = os.path.basename(path)[: -len(".schema.json")]
        by_tool[name] = schema
    return store, by_tool


def validator(schema, store):
    """A validator resolving $refs among docs/json/ only (never the net)."""
    cls = jsonschema.validators.validator_for(schema)
    try:  # jsonschema >= 4.18
        import referencing
        registry = referencing.Registry().with_resources(
            (uri, referencing.Resource.from_contents(s))
            for uri, s in store.items())
        return cls(schema, registry=registry)
    except ImportError:  # Debian 12's 4.10
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        return cls(schema, resolver=resolver)


def check(text, store, by_tool):
    """None if text is one valid object, else why not."""
    lines = [l for l in text.splitlines() if l.strip()]
    if len(lines) != 1:
        return "%d JSON objects, not exactly one" % len(lines)
    try:
        doc = json.loads(lines[0])
    except ValueError as e:
        return "not JSON: %s" % e
    if not isinstance(doc, dict):
        return "not a JSON object"
    tool = doc.get("tool")
    schema = by_tool.get(tool)
    if schema is None:
        return "no schema docs/json/%s.schema.json for tool %r" % (tool, tool)
    errors = sorted(validator(schema, store).iter_errors(doc),
                    key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        return "%s: %s (%d error%s)" % (where, e.message[:300], len(errors),
                                        "" if len(errors) == 1 else "s")
    return None


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: validate.py SCHEMA_DIR FILE...\n")
        return 2
    store, by_tool = load_schemas(argv[1])
    failed = 0
    for n, path in enumerate(argv[2:], 1):
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        why = check(text, store, by_tool)
        if why is None:
            print("ok %d - %s" % (n, path))
        else:
            failed += 1
            print("not ok %d - %s: %s" % (n, path, why))
            print("# " + text.strip()[:600])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
