#!/usr/bin/env python3
"""damage.py -- find and damage places in a wrtools tree file, by the
layout docs/FORMAT.md and lib/page.h describe (little-endian throughout).

  damage.py page FILE KIND [N]   print the offset of the N-th (0-based) page
                                 of KIND: leaf, internal, overflow, extlist,
                                 in depth-first order of the newest checkpoint
  damage.py info FILE            page size, chosen slot, pages (JSON)
  damage.py flip FILE OFFSET [BIT]   flip one bit
  damage.py firstid FILE LEAF    the int _id of the first key of a leaf
  damage.py save FILE OFF OUT / restore FILE OFF IN   copy one page out / in
  damage.py version FILE V       both valid slots say format version V
                                 (their CRCs made good): a file of
                                 another build's format
  damage.py overlap FILE         move the first extent entry over leaf 2
  damage.py twice FILE           child 2 of leaf 1's parent := child 1
  damage.py leak FILE            drop the last entry of the first list page
  damage.py idchange FILE        change the _id of a document in leaf 3
                                 (inline, or packed whole in its cell)
  damage.py baddoc FILE          a document in leaf 3 no longer ends in a
                                 NUL byte (not valid BSON; inline or packed)
  damage.py swapkeys FILE        swap leaf 3's first two items (keys out
                                 of order inside the leaf)
  damage.py unindex FILE         remove the second entry of an index leaf
  damage.py addindex FILE        add an entry (value, _id + 0.5) to a leaf
  damage.py splitbyte FILE tail|run [AT]
                                 byte AT (default 1) of the first split
                                 value's (format 3) tail in its leaf cell,
                                 or of its run, := 0xff (invalid UTF-8
                                 inside a string of 'x' that spans both)
  damage.py bounds FILE lower|upper
                                 in the parent of the first leaf with
                                 separators on both sides, the leaf's
                                 separator := its second key (lower: its
                                 first key is below the lower bound), or
                                 the next one := its last key (upper: its
                                 last key is at the upper bound); prints
                                 the leaf and the slot
The last ten keep every CRC right (the page's, every address up to the
slot, the slot's), so only the deeper checks can see the damage. Each
prints the offset of the page it changed (splitbyte: that page and the
file offset of the byte).
"""
import json
import struct
import sys
import zlib

MAGIC = b"WRTREE\r\n"


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def addr(b, o):
    return struct.unpack_from("<QII", b, o)  # off, size, crc


class Tree:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = bytearray(f.read())
        self.slot, self.si, self.P = self.pick_slot()

    def valid_slot(self, at):
        """(generation, page size) of a valid slot at offset at, or None."""
        s = self.data[at:at + 512]
        if len(s) < 512 or s[4:12] != MAGIC or \
                zlib.crc32(bytes(s[4:512])) != u32(s, 0):
            return None
        return u64(s, 24), u32(s, 16)

    def pick_slot(self):
        """The newest valid slot, found as FORMAT.md "Choosing a slot on
        open" says: slot 1 where a valid slot 0's page size puts it, else
        at each power of two from 512 to 65536 (slot 0's claimed size
        first if its magic is intact), counting only where its own page
        size is that offset (slot 0 may be all zero: a compacted file)."""
        s0 = self.valid_slot(0)
        if s0 is not None:
            tries = [s0[1]]
        else:
            tries = [1 << k for k in range(9, 17)]
            if self.data[4:12] == MAGIC and u32(self.data, 16) in tries:
                tries.insert(0, u32(self.data, 16))
        s1 = None
        for at in tries:
            s = self.valid_slot(at)
            if s is not None and s[1] == at:
                s1 = s
                break
        if s0 is None and s1 is None:
            sys.exit("damage.py: no valid slot in " + self.path)
        si = 1 if s0 is None or (s1 is not None and s1[0] > s0[0]) else 0
        P = (s1 if si else s0)[1]
        return si * P, si, P

    def save(self):
        with open(self.path, "r+b") as f:
            f.write(self.data)

    def size(self, off):
        """A page's length: the size its header says when that is a whole
        number of blocks inside the file (a long leaf, an overflow run),
        else one block."""
        n = u32(self.data, off + 12)
        ok = 0 < n and n % self.P == 0 and off + n <= len(self.data)
        return n if ok else self.P

    def page(self, off, size=None):
        return self.data[off:off + (size or self.size(off))]

    def root(self):
        return addr(self.data, self.slot + 32)

    def extlist(self):
        return addr(self.data, self.slot + 48)

    def cells(self, off):
        """(slot index, cell offset in page, fields) of a leaf/internal page."""
        p = self.page(off)
        typ, count = p[4], u32(p, 8)
        out = []
        for i in range(count):
            c = u16(p, 32 + 2 * i)
            if typ == 1:
                klen, flags, vlen = u16(p, c), p[c + 2], u32(p, c + 4)
                key = bytes(p[c + 8:c + 8 + klen])
                if flags & 1:
                    ovf = addr(p, c + 8 + klen)
                    d = dict(i=i, off=c, klen=klen, key=key, vlen=vlen,
                             ovf=ovf, ref=c + 8 + klen)
                    if flags & 2:  # a split value: its tail after the
                        # address; a packed one (no run): all of it
                        d.update(tail=c + 24 + klen,
                                 tlen=vlen + 32 - ovf[1] if ovf[1] else vlen)
                    out.append(d)
                else:
                    out.append(dict(i=i, off=c, klen=klen, key=key, vlen=vlen,
                                    val=c + 8 + klen))
            else:
                klen = u16(p, c)
                out.append(dict(i=i, off=c, klen=klen,
                                key=bytes(p[c + 20:c + 20 + klen]),
                                child=addr(p, c + 4), ref=c + 4))
        return out

    def walk(self):
        """Pages of the checkpoint, depth first: (kind, off, parent)."""
        out = []

        def rec(a, parent):
            off = a[0]
            typ = self.data[off + 4]
            if typ == 1:
                out.append(("leaf", off, parent))
                for c in self.cells(off):
                    if "ovf" in c and c["ovf"][1]:  # not a packed value
                        out.append(("overflow", c["ovf"][0], off))
            elif typ == 2:
                out.append(("internal", off, parent))
                for c in self.cells(off):
                    rec(c["child"], off)

        if self.root()[0]:
            rec(self.root(), None)
        a = self.extlist()
        prev = None
        while a[0]:
            out.append(("extlist", a[0], prev))
            prev = a[0]
            a = addr(self.data, a[0] + 32)
        return out

    def find(self, kind, n=0):
        pages = [p for p in self.walk() if p[0] == kind]
        if n >= len(pages):
            sys.exit("damage.py: no %s page %d (%d of them)" % (kind, n,
                                                                len(pages)))
        return pages[n][1]

    def fix(self, off):
        """Re-CRC the page at off and carry the CRC up to the slot."""
        size = u32(self.data, off + 12)
        crc = zlib.crc32(bytes(self.data[off + 4:off + size]))
        struct.pack_into("<I", self.data, off, crc)
        for kind, poff, parent in self.walk():
            if poff != off:
                continue
            if parent is None:
                at = self.slot + (48 if kind == "extlist" else 32)
                struct.pack_into("<I", self.data, at + 12, crc)
                s = self.slot
                struct.pack_into("<I", self.data, s,
                                 zlib.crc32(bytes(self.data[s + 4:s + 512])))
            elif kind == "extlist":
                struct.pack_into("<I", self.data, parent + 32 + 12, crc)
                self.fix(parent)
            else:
                for c in self.cells(parent):
                    ref = c.get("child", c.get("ovf"))
                    if ref is not None and ref[0] == off:
                        struct.pack_into("<I", self.data,
                                         parent + c["ref"] + 12, crc)
                self.fix(parent)
            return
        sys.exit("damage.py: nothing points at %d" % off)

    def set_nrecords(self, delta):
        s = self.slot
        struct.pack_into("<Q", self.data, s + 72, u64(self.data, s + 72) + delta)
        struct.pack_into("<I", self.data, s,
                         zlib.crc32(bytes(self.data[s + 4:s + 512])))

    def rebuild_leaf(self, off, items):
        """Rewrite a leaf (of its length: a long leaf too) from (key,
        flags, vlen, bytes after the key) items."""
        P = self.size(off)
        cells = [struct.pack("<HBBI", len(key), flags, 0, vlen) + key + tail
                 for key, flags, vlen, tail in items]
        low = P - sum(len(c) for c in cells)
        if low < 32 + 2 * len(items):  # before any u16 offset is packed
            sys.exit("damage.py: the items do not fit the leaf at %d" % off)
        p = bytearray(P)
        p[0:32] = self.page(off)[0:32]
        at = P
        for i, cell in enumerate(cells):
            at -= len(cell)
            p[at:at + len(cell)] = cell
            struct.pack_into("<H", p, 32 + 2 * i, at)
        struct.pack_into("<I", p, 8, len(items))
        struct.pack_into("<I", p, 24, low)
        self.data[off:off + P] = p

    def inline_doc(self, leaf, int32_id=False):
        """The first cell of a leaf holding its document inline, or packed
        whole in it (format 4), whose first element is an int32 with
        int32_id; its "val" is where the document starts."""
        for c in self.cells(leaf):
            if "tail" in c and c["tlen"] == c["vlen"]:
                c = dict(c, val=c["tail"])
            if "val" in c and c["vlen"] >= 5 and (
                    not int32_id or self.data[leaf + c["val"] + 4] == 0x10):
                return c
        sys.exit("damage.py: no inline document%s in the leaf at %d" %
                 (" with an int32 _id" if int32_id else "", leaf))

    def leaf_items(self, off):
        p = self.page(off)
        items = []
        for c in self.cells(off):
            if "ovf" in c:  # the address, and a split or packed value's tail
                n = 16 + c.get("tlen", 0)
                tail = bytes(p[c["ref"]:c["ref"] + n])
                items.append((c["key"], 3 if "tail" in c else 1, c["vlen"],
                              tail))
            else:
                tail = bytes(p[c["val"]:c["val"] + c["vlen"]])
                items.append((c["key"], 0, c["vlen"], tail))
        return items


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, path = argv[1], argv[2]
    if cmd == "flip":
        off = int(argv[3], 0)
        bit = int(argv[4]) if len(argv) > 4 else 0
        with open(path, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ (1 << bit)]))
        print(off)
        return
    if cmd == "version":  # slot 0, and slot 1 wherever a page size puts it
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            for at in [0] + [1 << k for k in range(9, 17)]:
                s = data[at:at + 512]
                if len(s) < 512 or s[4:12] != MAGIC or \
                        zlib.crc32(bytes(s[4:512])) != u32(s, 0) or \
                        (at > 0 and u32(s, 16) != at):
                    continue
                struct.pack_into("<I", data, at + 12, int(argv[3]))
                crc = zlib.crc32(bytes(data[at + 4:at + 512]))
                struct.pack_into("<I", data, at, crc)
                f.seek(at)
                f.write(data[at:at + 512])
                print(at)
        return
    t = Tree(path)
    if cmd == "info":
        print(json.dumps(dict(page_size=t.P, slot=t.si, root=t.root()[0],
                              pages=[[k, o] for k, o, _ in t.walk()])))
    elif cmd == "page":
        print(t.find(argv[3], int(argv[4]) if len(argv) > 4 else 0))
    elif cmd == "firstid":
        key = t.cells(int(argv[3]))[0]["key"]
        print(struct.unpack_from("<i", key, 6)[0])
    elif cmd == "save":
        with open(argv[4], "wb") as f:
            f.write(t.page(int(argv[3])))
    elif cmd == "restore":
        off = int(argv[3])
        with open(argv[4], "rb") as f:
            page = f.read()
        t.data[off:off + len(page)] = page
        t.save()
        print(off)
    elif cmd == "overlap":
        el, leaf = t.find("extlist"), t.find("leaf", 2)
        if u32(t.data, el + 8) == 0:
            sys.exit("damage.py: the extent list is empty")
        struct.pack_into("<QQ", t.data, el + 48, leaf, t.P)
        t.fix(el)
        t.save()
        print(leaf)
    elif cmd == "twice":
        leaf1 = [p for p in t.walk() if p[0] == "leaf"][1]
        parent = leaf1[2]
        cs = t.cells(parent)
        if len(cs) < 3:
            sys.exit("damage.py: parent has fewer than 3 children")
        src, dst = parent + cs[1]["ref"], parent + cs[2]["ref"]
        t.data[dst:dst + 16] = t.data[src:src + 16]
        t.fix(parent)
        t.save()
        print(cs[1]["child"][0])
    elif cmd == "leak":
        el = t.find("extlist")
        n = u32(t.data, el + 8)
        if n == 0:
            sys.exit("damage.py: the extent list is empty")
        e = el + 48 + 32 * (n - 1)
        lost = u64(t.data, e)
        t.data[e:e + 32] = bytes(32)
        struct.pack_into("<I", t.data, el + 8, n - 1)
        t.fix(el)
        t.save()
        print(lost)
    elif cmd in ("idchange", "baddoc"):
        leaf = t.find("leaf", 3)
        c = t.inline_doc(leaf, int32_id=cmd == "idchange")
        if cmd == "idchange":
            t.data[leaf + c["val"] + 9] ^= 0x40  # len, type, "_id\0", int32
        else:
            t.data[leaf + c["val"] + c["vlen"] - 1] = 1  # its final NUL
        t.fix(leaf)
        t.save()
        print(leaf)
    elif cmd in ("swapkeys", "unindex"):
        leaf = t.find("leaf", 3 if cmd == "swapkeys" else 1)
        items = t.leaf_items(leaf)
        if len(items) < 2:
            sys.exit("damage.py: the leaf at %d holds fewer than 2 items" %
                     leaf)
        if cmd == "swapkeys":
            items[0], items[1] = items[1], items[0]
        else:
            del items[1]
            t.set_nrecords(-1)
        t.rebuild_leaf(leaf, items)
        t.fix(leaf)
        t.save()
        print(leaf)
    elif cmd == "addindex":
        leaf = t.find("leaf", 1)
        items = t.leaf_items(leaf)
        key = items[0][0]  # {"": value, "": int32 _id}
        # the _id element is the last 7 bytes before the final NUL:
        # type 0x10, name "\0", int32
        if key[-7] != 0x10:
            sys.exit("damage.py: the first key's _id is not an int32")
        idv = struct.unpack_from("<i", key, len(key) - 5)[0]
        body = key[4:-7] + b"\x01\x00" + struct.pack("<d", idv + 0.5)
        nkey = struct.pack("<i", len(body) + 5) + body + b"\x00"
        items.insert(1, (nkey, 0, 0, b""))
        t.rebuild_leaf(leaf, items)
        t.fix(leaf)
        t.set_nrecords(1)
        t.save()
        print(leaf)
    elif cmd == "bounds":
        upper = argv[3] == "upper"
        for kind, leaf, parent in t.walk():
            if kind != "leaf" or parent is None:
                continue
            ps, ls = t.cells(parent), t.cells(leaf)
            k = [c["child"][0] for c in ps].index(leaf)
            if 1 <= k < len(ps) - 1 and len(ls) >= 2:
                break
        else:
            sys.exit("damage.py: no leaf with two bounds and two keys")
        sep, key = (ps[k + 1], ls[-1]) if upper else (ps[k], ls[1])
        if sep["klen"] != key["klen"]:
            sys.exit("damage.py: separator and key differ in length")
        at = parent + sep["off"] + 20  # klen(2), zero(2), child(16)
        t.data[at:at + key["klen"]] = key["key"]
        t.fix(parent)
        t.save()
        print(leaf, len(ls) - 1 if upper else 0)
    elif cmd == "splitbyte":
        where, at = argv[3], int(argv[4]) if len(argv) > 4 else 1
        split = [(o, c) for k, o, _ in t.walk() if k == "leaf"
                 for c in t.cells(o) if "tail" in c]
        if not split:
            sys.exit("damage.py: no split value (format 3) in " + path)
        leaf, c = split[0]
        if where == "tail":
            page, byte = leaf, leaf + c["tail"] + at
        else:
            page, byte = c["ovf"][0], c["ovf"][0] + 32 + at
        if t.data[byte] != ord("x"):
            sys.exit("damage.py: byte %d is not inside a string of 'x'" % byte)
        t.data[byte] = 0xFF
        t.fix(page)
        t.save()
        print(page, byte)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
