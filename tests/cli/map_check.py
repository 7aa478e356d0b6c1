#!/usr/bin/env python3
"""map_check.py PAGE -- what a `wr-dump --map PAGE DIR` page holds, as JSON:

  {"maps": [{"id": "m0", "file": "c.main.wr", "cells": N,
             "kinds": {"1": 2, "3": 25, ...}}, ...],
   "findings": N,
   "links": [{"href": "m0-b4096", "exists": true, "kind": 10,
              "text": "..."}, ...]}

"kinds" counts each map's cells by data-kind (dump_map.c's numbering);
a link's "kind" is that of the cell it points to (null if it points to
something else, a file's section or the catalog). The page is parsed as
XML (it is written as well-formed XHTML with inline SVG), so a page that
is not well-formed fails here (exit 1) with the parser's message.
"""
import json
import sys
import xml.etree.ElementTree as ET

XHTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"


def main(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        print(f"{path}: not well-formed: {e}", file=sys.stderr)
        return 1
    ids = {}
    for el in root.iter():
        if "id" in el.attrib:
            if el.attrib["id"] in ids:
                print(f"{path}: id {el.attrib['id']} twice", file=sys.stderr)
                return 1
            ids[el.attrib["id"]] = el
    maps = []
    for sec in root.iter(XHTML + "section"):
        if sec.attrib.get("class") != "map":
            continue
        kinds = {}
        cells = 0
        for r in sec.iter(SVG + "rect"):
            if r.attrib.get("class") == "cell":
                k = r.attrib["data-kind"]
                kinds[k] = kinds.get(k, 0) + 1
                cells += 1
        h2 = sec.find(XHTML + "h2")
        maps.append({"id": sec.attrib["id"], "file": h2.text if h2 is not None
                     else None, "cells": cells, "kinds": kinds,
                     "svg": sec.find(SVG + "svg") is not None})
    links = []
    aside = root.find(f".//{XHTML}aside")
    items = aside.findall(f".//{XHTML}li") if aside is not None else []
    for li in items:
        a = li.find(XHTML + "a")
        href = a.attrib.get("href", "") if a is not None else ""
        target = ids.get(href[1:]) if href.startswith("#") else None
        kind = None
        if target is not None and target.attrib.get("class") == "cell":
            kind = int(target.attrib["data-kind"])
        links.append({"href": href[1:], "exists": target is not None,
                      "kind": kind, "text": "".join(a.itertext()) if a
                      is not None else ""})
    print(json.dumps({"maps": maps, "findings": len(items), "links": links}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
