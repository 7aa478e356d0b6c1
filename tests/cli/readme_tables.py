#!/usr/bin/env python3
"""Check that every table of a Markdown file renders as the table it means.

    readme_tables.py FILE

Renders FILE with cmark-gfm (GitHub's renderer, table extension) and
checks that every source line that is a table row (starts with '|',
outside fenced code) became a row of a rendered table, and that every row
has as many cells as its table's header. Prints one line per problem and
exits 1 if there is any.
"""
import re
import subprocess
import sys


def source_tables(text):
    """[(first line number, [row lines])] of the table-like blocks."""
    tables, cur, fenced = [], None, False
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("|"):
            if cur is None:
                cur = (n, [])
                tables.append(cur)
            cur[1].append(line)
        else:
            cur = None
    return tables


def cells(row):
    """Cells of a GFM row: split on unescaped '|' (also inside `code`)."""
    parts = re.split(r"(?<!\\)\|", row.strip())
    if parts and parts[0] == "":
        parts = parts[1:]
    if parts and parts[-1] == "":
        parts = parts[:-1]
    return parts


def main(path):
    text = open(path, encoding="utf-8").read()
    html = subprocess.run(["cmark-gfm", "-e", "table", path], check=True,
                          capture_output=True, text=True).stdout
    problems = []
    src = source_tables(text)
    rows_src = sum(len(rows) - 1 for _, rows in src)  # less the --- lines
    rows_html = len(re.findall(r"<tr>", html))
    for first, rows in src:
        if len(rows) < 2 or not re.match(r"^\|\s*:?-{3,}", rows[1]):
            problems.append("%s:%d: '|' lines that are no table (no header "
                            "and --- line before them): %s"
                            % (path, first, rows[0][:60]))
            continue
        width = len(cells(rows[0]))
        for i, row in enumerate(rows):
            if len(cells(row)) != width:
                problems.append("%s:%d: %d cells in a table of %d columns "
                                "(an unescaped '|'?): %s"
                                % (path, first + i, len(cells(row)), width,
                                   row[:60]))
    if rows_src != rows_html:
        problems.append("%s: %d table rows in the source, %d rendered"
                        % (path, rows_src, rows_html))
    for p in problems:
        print(p)
    if not problems:
        print("%s: %d tables, %d rows, all rendered" % (path, len(src),
                                                       rows_html))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
