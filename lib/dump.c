/*
 * dump.c -- what wr-dump prints (wr.h, "Dumping") of one tree file: its
 * summary, the extent lists, the tree's shape, and every document in key
 * order (one page decoded, --page, is dump_page.c; wr_dump() itself and
 * databases are dump_db.c).
 *
 * Output: the library never prints on its own initiative. Text goes to the
 * FILE * the caller passes (o->out); with o->json the report is appended to
 * the caller's bson_t instead; documents (WR_DUMP_DOCS) always go to o->out
 * as JSONL. Every damaged place is a finding (wr_finding, dump.h).
 *
 * Damaged files are the point: every read goes through a tolerant page
 * source (pagesrc.h, DESIGN decision 11), the same reader, walks and
 * rules wr-verify uses, so both name the same file, page, byte and check
 * for the same damage. Read-only, never writing; memory bounded by the
 * page source (one page per tree level, one value, the ownership map).
 *
 * Calls pagesrc, page, bsonkey, catalog.
 */
#include "dump.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>

/* --- output context ---------------------------------------------------- */

void dx_print(dctx *x, const char *fmt, ...)
{
    va_list ap;
    if (x->out == NULL)
        return;
    va_start(ap, fmt);
    vfprintf(x->out, fmt, ap);
    va_end(ap);
}

void dx_record(dctx *x, const wr_finding *f)
{
    char full[1024], line[1024];
    wr_finding g = *f;
    if (x->mute)
        return;
    if (x->map_damage != NULL)
        x->map_damage(x->map_arg, f);
    if (x->html != NULL) /* a database's map reports wr_verify's findings */
        return;
    g.path = x->cur ? x->cur : "?";
    wr_verify_problem_format(&g, full, sizeof full);
    g.path = NULL;
    wr_verify_problem_format(&g, line, sizeof line);
    x->st->damaged++;
    x->file_damage++;
    if (x->first[0] == '\0')
        snprintf(x->first, sizeof x->first, "%.767s", full);
    if (x->marks_inline && x->out != NULL)
        fprintf(x->out, "!! %s\n", line);
    if (x->o->json != NULL && x->nmarks < DUMP_JSON_MARKS) {
        wr_finding *m = realloc(x->marks, (x->nmarks + 1) * sizeof *m);
        if (m != NULL) {
            x->marks = m;
            m[x->nmarks++] = g;
        }
    }
    if (x->o->finding != NULL)
        x->o->finding(full, x->o->finding_arg);
}

void dx_finding(dctx *x, int check, uint64_t page, uint64_t off,
                const char *expected, const char *found, const char *fmt, ...)
{
    wr_finding f;
    va_list ap;
    memset(&f, 0, sizeof f);
    f.check = check;
    f.page = page;
    f.offset = off;
    snprintf(f.expected, sizeof f.expected, "%s", expected ? expected : "");
    snprintf(f.found, sizeof f.found, "%s", found ? found : "");
    va_start(ap, fmt);
    vsnprintf(f.detail, sizeof f.detail, fmt, ap);
    va_end(ap);
    dx_record(x, &f);
}

static void dx_sink(const wr_finding *f, void *arg)
{
    dx_record(arg, f);
}

bool dx_stop(const dctx *x)
{
    return x->o->interrupted != NULL && *x->o->interrupted;
}

/* --- JSON helpers ---------------------------------------------------- */

/* Strings from the file may be anything: JSON gets valid UTF-8 only
 * (wr_utf8_replace: U+FFFD for a stray byte). */
void j_str(bson_t *p, const char *name, const char *s)
{
    size_t n = strlen(s);
    if (wri_utf8_check((const uint8_t *)s, n)) { /* strict, as everywhere */
        bson_append_utf8(p, name, -1, s, (int)n);
        return;
    }
    char *c = wr_utf8_replace(s, n, &n);
    if (c != NULL)
        bson_append_utf8(p, name, -1, c, (int)n);
    free(c);
}

void j_u64(bson_t *p, const char *name, uint64_t v)
{
    bson_append_int64(p, name, -1, (int64_t)v);
}

void j_addr(bson_t *p, const char *name, const wr_addr *a)
{
    bson_t d;
    bson_append_document_begin(p, name, -1, &d);
    j_u64(&d, "offset", a->off);
    j_u64(&d, "size", a->size);
    j_u64(&d, "crc", a->crc);
    bson_append_document_end(p, &d);
}

void j_hex(bson_t *p, const char *name, const uint8_t *b, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hx[b[i] >> 4];
        s[2 * i + 1] = hx[b[i] & 15];
    }
    s[2 * n] = '\0';
    bson_append_utf8(p, name, -1, s, (int)(2 * n));
    free(s);
}

/* A key as a JSON value: the bare value of a one-element key, an array
 * [value, _id] of an index key, or {"$bsonHex": ...} when it does not
 * pass the strict check. The values are the key's bytes, renamed
 * (wri_key_renamed), never copied through libbson's iterator. */
void j_key(bson_t *p, const char *name, const uint8_t *k, uint32_t kl)
{
    size_t len, n;
    bson_t d;
    uint8_t *r = wri_key_renamed(k, kl, &name, 1, &len, &n);
    if (r == NULL || n != 1) {
        free(r);
        r = wri_key_renamed(k, kl, NULL, 0, &len, &n);
    }
    if (r != NULL && n > 0 && bson_init_static(&d, r, len)) {
        if (n == 1)
            bson_concat(p, &d);
        else
            bson_append_array(p, name, -1, &d);
        free(r);
        return;
    }
    free(r);
    bson_t h;
    bson_append_document_begin(p, name, -1, &h);
    j_hex(&h, "$bsonHex", k, kl);
    bson_append_document_end(p, &h);
}

/* The file's findings as "damage": objects of one shape (wr_finding). */
void j_marks(dctx *x, bson_t *p)
{
    bson_t arr;
    j_u64(p, "damaged", x->file_damage);
    bson_append_array_begin(p, "damage", -1, &arr);
    for (size_t i = 0; i < x->nmarks; i++) {
        const wr_finding *f = &x->marks[i];
        bson_t d;
        char ik[24];
        snprintf(ik, sizeof ik, "%zu", i);
        bson_append_document_begin(&arr, ik, -1, &d);
        j_str(&d, "file", x->cur ? x->cur : "");
        j_u64(&d, "page", f->page);
        j_u64(&d, "offset", f->offset);
        j_str(&d, "check", wr_verify_check_name(f->check));
        j_str(&d, "detail", f->detail);
        j_str(&d, "expected", f->expected);
        j_str(&d, "found", f->found);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(p, &arr);
    x->nmarks = 0;
}

void dx_file_begin(dctx *x, const char *path)
{
    x->nmarks = 0;
    x->cur = path;
    x->file_damage = 0;
}

char *key_text(const uint8_t *k, uint32_t kl)
{
    char *s = wri_key_to_json(k, kl);
    return s != NULL ? s : strdup("?");
}

/* A name from the file, printable: control bytes become \xNN. */
void safe_name(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* --- one tree file ----------------------------------------------------- */

void df_close(dump_file *df)
{
    wri_ps_close(df->ps);
    df->ps = NULL;
}

/* Open a file through a tolerant page source whose findings go to x,
 * then pick the checkpoint: generation gen if want_gen, else the newest
 * valid slot, or with previous the other valid one. A file without a
 * usable checkpoint still opens (chosen = -1): its slots can be shown. */
int df_open(dctx *x, dump_file *df, const char *path, bool want_gen,
                   uint64_t gen, bool previous, wr_errbuf *eb)
{
    int rc;
    wr_errbuf ce = {0};
    wri_ps_cfg cfg = {.tolerant = true,
                      .readahead = true,
                      .sink = dx_sink,
                      .sink_arg = x,
                      .interrupted = x->o->interrupted};
    memset(df, 0, sizeof *df);
    df->path = path;
    df->chosen = -1;
    if ((rc = wri_ps_open(path, &cfg, &df->ps, eb)) != WR_OK)
        return rc;
    int which = want_gen ? WRI_PS_GEN : previous ? WRI_PS_PREVIOUS
                                                 : WRI_PS_LATEST;
    rc = wri_ps_choose(df->ps, which, gen, &df->chosen, &ce);
    if (rc == WR_ENOTFOUND && want_gen && x->o->mode == WR_DUMP_MAP)
        /* the catalog's checkpoint is gone: the map draws the newest, the
         * one wr-verify checks instead (its finding says so) */
        rc = wri_ps_choose(df->ps, WRI_PS_LATEST, 0, &df->chosen, &ce);
    if (rc != WR_OK) {
        snprintf(df->nochoice, sizeof df->nochoice, "%.299s", ce.msg);
        /* none valid, or the catalog's generation gone: damage; a file
         * written once has no previous checkpoint: not damage */
        df->nochoice_damage = rc == WR_ECORRUPT || want_gen;
        if (which == WRI_PS_PREVIOUS && rc == WR_ENOTFOUND)
            df->nochoice_damage = wri_ps_slot_damaged(df->ps, 0) ||
                                  wri_ps_slot_damaged(df->ps, 1);
    } else {
        df->cur = df->ps->slots[df->chosen].slot;
    }
    return WR_OK;
}

const char *role_name(uint32_t role)
{
    return role == WRI_ROLE_MAIN ? "main" : role == WRI_ROLE_INDEX ? "index"
                                                                   : "?";
}

const char *type_name(uint8_t t)
{
    switch (t) {
    case WRI_PT_LEAF:
        return "leaf";
    case WRI_PT_INTERNAL:
        return "internal";
    case WRI_PT_OVERFLOW:
        return "overflow";
    case WRI_PT_EXTLIST:
        return "extent-list";
    default:
        return "unknown";
    }
}

int df_nkeyelem(const dump_file *df)
{
    if (df->chosen < 0)
        return 0;
    return df->cur.role == WRI_ROLE_INDEX ? 2 : 1;
}

/* --- extent lists ---------------------------------------------------- */


static int ext_page(void *arg, const wr_addr *a, uint32_t count,
                    const wr_addr *next)
{
    ext_totals *t = arg;
    dctx *x = t->x;
    t->pages++;
    if (!t->print)
        return 0;
    dx_print(x, "  list page %" PRIu64 ": %u entries, next %" PRIu64 "\n",
             a->off, count, next->off);
    if (t->jpages != NULL) {
        bson_t pd;
        char ik[24];
        snprintf(ik, sizeof ik, "%" PRIu64, t->pages - 1);
        bson_append_document_begin(t->jpages, ik, -1, &pd);
        j_u64(&pd, "offset", a->off);
        j_u64(&pd, "count", count);
        j_u64(&pd, "next", next->off);
        BSON_APPEND_BOOL(&pd, "checksum_ok", true);
        bson_append_document_end(t->jpages, &pd);
    }
    return 0;
}

static int ext_entry(void *arg, const wr_addr *page, uint32_t i,
                     const wri_ext *e, const char *bad)
{
    ext_totals *t = arg;
    dctx *x = t->x;
    const char *kind = e->kind == WRI_EXT_AVAIL     ? "avail"
                       : e->kind == WRI_EXT_DISCARD ? "discard"
                                                    : "?";
    (void)page;
    (void)i;
    if (bad == NULL && e->kind == WRI_EXT_AVAIL) {
        t->avail_n++;
        t->avail_bytes += e->len;
    } else if (bad == NULL) {
        t->discard_n++;
        t->discard_bytes += e->len;
        if (e->gen + 1 <= t->s->gen)
            t->reusable_bytes += e->len;
    }
    if (!t->print)
        return 0;
    if (e->kind == WRI_EXT_DISCARD)
        dx_print(x, "    %-8s offset %-10" PRIu64 " size %-10" PRIu64
                    " gen %" PRIu64 "\n",
                 kind, e->off, e->len, e->gen);
    else
        dx_print(x, "    %-8s offset %-10" PRIu64 " size %" PRIu64 "\n", kind,
                 e->off, e->len);
    if (t->jext != NULL) {
        bson_t ed;
        char ik[24];
        snprintf(ik, sizeof ik, "%" PRIu64, t->idx++);
        bson_append_document_begin(t->jext, ik, -1, &ed);
        j_str(&ed, "kind", kind);
        j_u64(&ed, "offset", e->off);
        j_u64(&ed, "size", e->len);
        j_u64(&ed, "gen", e->gen);
        if (bad != NULL)
            j_str(&ed, "damage", bad);
        bson_append_document_end(t->jext, &ed);
    }
    return 0;
}

/* Walk the extent-list chain of the chosen checkpoint through the page
 * source. With print, show each page and entry (text or into j's
 * "list_pages" and "extents" arrays). Entries that do not hold are shown
 * and reported but not counted. */
int ext_walk(dctx *x, dump_file *df, bool print, bson_t *j, ext_totals *t,
             wr_errbuf *eb)
{
    int rc;
    const wri_slot *s = &df->cur;
    memset(t, 0, sizeof *t);
    t->x = x;
    t->s = s;
    t->print = print;
    if (j != NULL) {
        bson_init(&t->jpages_doc);
        bson_append_array_begin(j, "extents", -1, &t->jext_doc);
        t->jpages = &t->jpages_doc;
        t->jext = &t->jext_doc;
    }
    if (s->extlist.off == 0 && print)
        dx_print(x, "  no extent lists: nothing was free at generation %"
                    PRIu64 "\n", s->gen);
    wri_ps_lists w = {.page = ext_page, .entry = ext_entry, .arg = t,
                      .slot = df->chosen};
    rc = wri_ps_walk_lists(df->ps, s, &w, eb);
    t->incomplete = w.incomplete;
    if (j != NULL) {
        bson_append_array_end(j, t->jext);
        bson_append_array(j, "list_pages", -1, t->jpages);
        bson_destroy(t->jpages);
    }
    t->jpages = t->jext = NULL;
    return rc < 0 ? rc : WR_OK;
}

/* --- tree walk ------------------------------------------------------- */

/* The tree of the chosen checkpoint through the page source's walk: the
 * same checks, in the same order, as wr-verify's (keys too unless
 * keys_off), every page to page_fn, every leaf item to item_fn. */
int tree_walk(dctx *x, dump_file *df, wri_ps_walk *w, wr_errbuf *eb)
{
    (void)x;
    w->nkeyelem = df_nkeyelem(df);
    w->keys = true;
    w->map = true;
    int rc = wri_ps_walk_tree(df->ps, &df->cur, df->chosen, w, eb);
    return rc < 0 ? rc : WR_OK;
}

/* --- summary ------------------------------------------------------- */

typedef struct sum_stats {
    dctx *x;
    uint64_t leaf, internal, overflow;
    uint64_t keys, key_bytes, value_bytes;
    uint64_t used, tree_bytes, ovf_bytes, ovf_used;
    uint32_t depth;
    uint64_t undecoded;
} sum_stats;

static int sum_page(void *arg, const wri_ps_page *p)
{
    sum_stats *ss = arg;
    ss->x->st->pages++;
    if (p->v == NULL) {
        ss->undecoded++;
        return 0;
    }
    const wri_page_view *v = p->v;
    if ((uint32_t)p->depth + 1 > ss->depth)
        ss->depth = (uint32_t)p->depth + 1;
    ss->tree_bytes += v->size;
    ss->used += v->size - v->free_bytes;
    if (v->type == WRI_PT_INTERNAL) {
        ss->internal++;
        return 0;
    }
    ss->leaf++;
    ss->keys += v->count;
    for (uint32_t i = 0; i < v->count; i++) {
        wri_cell c;
        wri_page_cell(v, i, &c);
        ss->key_bytes += c.klen;
        ss->value_bytes += c.vlen;
        if (c.overflow && !wri_cell_packed(&c)) {
            ss->overflow++;
            ss->ovf_bytes += c.ovf.size;
            ss->ovf_used += WRI_PH_LEN + (uint64_t)(c.vlen - c.tlen);
        }
    }
    return 0;
}

void print_addr(dctx *x, const char *what, const wr_addr *a)
{
    if (a->off == 0)
        dx_print(x, "%s none", what);
    else
        dx_print(x, "%s %" PRIu64 " (+%u, crc 0x%08x)", what, a->off, a->size,
                 a->crc);
}

void slot_summary(dctx *x, dump_file *df, int i, bson_t *jarr)
{
    const wri_ps *ps = df->ps;
    const wri_slot_state *st = &ps->slots[i];
    const wri_slot *s = &st->slot;
    if (x->out != NULL) {
        dx_print(x, "  slot %d (offset %" PRIu64 "): ", i, ps->slot_off[i]);
        if (st->valid) {
            dx_print(x, "valid, gen %" PRIu64 ", ", s->gen);
            print_addr(x, "root", &s->root);
            dx_print(x, ", ");
            print_addr(x, "extent list", &s->extlist);
            dx_print(x,
                     ", logical size %" PRIu64 ", %" PRIu64
                     " records, height %u%s\n",
                     s->logical_size, s->nrecords, s->height,
                     df->chosen == i ? "  <- chosen" : "");
        } else {
            dx_print(x, "rejected: %s\n", st->why);
            if (ps->magic[i] && ps->rawlen[i] >= WRI_SLOT_HEIGHT + 4) {
                const uint8_t *r = ps->raw[i];
                wr_addr root, el;
                wri_addr_decode(r + WRI_SLOT_ROOT, &root);
                wri_addr_decode(r + WRI_SLOT_EXTLIST, &el);
                dx_print(x,
                         "    raw fields (not trusted): version %u, page "
                         "size %u, role %u, gen %" PRIu64 ", root %" PRIu64
                         ", extent list %" PRIu64 ", logical size %" PRIu64
                         "\n",
                         wri_get32(r + WRI_SLOT_VERSION),
                         wri_get32(r + WRI_SLOT_PAGESIZE),
                         wri_get32(r + WRI_SLOT_ROLE),
                         wri_get64(r + WRI_SLOT_GEN), root.off, el.off,
                         wri_get64(r + WRI_SLOT_LSIZE));
            }
        }
    }
    if (jarr != NULL) {
        bson_t d;
        char ik[24];
        snprintf(ik, sizeof ik, "%d", i);
        bson_append_document_begin(jarr, ik, -1, &d);
        j_u64(&d, "slot", (uint64_t)i);
        j_u64(&d, "offset", ps->slot_off[i]);
        BSON_APPEND_BOOL(&d, "valid", st->valid);
        BSON_APPEND_BOOL(&d, "chosen", df->chosen == i);
        if (st->valid) {
            j_u64(&d, "gen", s->gen);
            j_u64(&d, "version", s->version);
            j_u64(&d, "page_size", s->page_size);
            j_str(&d, "role", role_name(s->role));
            j_str(&d, "collection", s->coll);
            if (s->field[0])
                j_str(&d, "field", s->field);
            j_addr(&d, "root", &s->root);
            j_addr(&d, "extent_list", &s->extlist);
            j_u64(&d, "logical_size", s->logical_size);
            j_u64(&d, "records", s->nrecords);
            j_u64(&d, "height", s->height);
        } else {
            j_str(&d, "why", st->why);
        }
        bson_append_document_end(jarr, &d);
    }
}

void role_text(const wri_slot *s, char *out, size_t n)
{
    char c[WRI_NAME_MAX * 4 + 8], f[WRI_NAME_MAX * 4 + 8];
    safe_name(s->coll, c, sizeof c);
    safe_name(s->field, f, sizeof f);
    int len; /* a display string: cutting a very long name is fine */
    if (s->role == WRI_ROLE_INDEX)
        len = snprintf(out, n, "index on \"%s\" of collection \"%s\"", f, c);
    else
        len = snprintf(out, n, "main table of collection \"%s\"", c);
    (void)len;
}

/* Is there a checkpoint to show, and can it be read? 1 yes (the page
 * source is set up for it: its generation on findings, the truncation
 * check, the ownership map); 0 no, recorded as damage; or WR_ENOTFOUND
 * when the file simply has none of the kind asked for (a previous
 * checkpoint of a file written once). */
int file_checkpoint(dctx *x, dump_file *df, wr_errbuf *eb)
{
    int rc;
    if (df->chosen < 0) {
        if (df->nochoice_damage) {
            dx_finding(x, WR_CHECK_HEADER, 0, 0, NULL, NULL, "%s",
                       df->nochoice);
            return 0;
        }
        return WR_ERR(eb, WR_ENOTFOUND, "%s", df->nochoice);
    }
    if (!wri_ps_slot_readable(df->ps, df->chosen))
        return 0; /* the slot findings said where it is cut */
    if ((rc = wri_ps_begin(df->ps, df->chosen, true, eb)) < 0)
        return rc;
    return 1;
}

int file_summary(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb)
{
    int rc = WR_OK;
    bson_t jslots;
    wri_ps_walk w;
    sum_stats ss;
    ext_totals et;
    char role[2048];
    memset(&w, 0, sizeof w);
    memset(&ss, 0, sizeof ss);
    memset(&et, 0, sizeof et);
    ss.x = x;
    if (df->ps->P != 0)
        dx_print(x, "  file size %" PRIu64 " bytes, page size %u\n",
                 df->ps->fsize, df->ps->P);
    else
        dx_print(x, "  file size %" PRIu64 " bytes, page size unknown (no "
                    "slot says)\n",
                 df->ps->fsize);
    if (j != NULL) {
        j_u64(j, "file_size", df->ps->fsize);
        j_u64(j, "page_size", df->ps->P);
        bson_append_array_begin(j, "slots", -1, &jslots);
    }
    for (int i = 0; i < 2; i++)
        slot_summary(x, df, i, j != NULL ? &jslots : NULL);
    if (j != NULL)
        bson_append_array_end(j, &jslots);
    wri_ps_check_slots(df->ps, df->chosen);
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    rc = WR_OK;
    const wri_slot *s = &df->cur;
    role_text(s, role, sizeof role);
    dx_print(x, "  checkpoint: gen %" PRIu64 " (slot %d), %s\n", s->gen,
             df->chosen, role);
    /* the order wr-verify checks in: lists, tree, then unowned space */
    if ((rc = ext_walk(x, df, false, NULL, &et, eb)) != WR_OK)
        goto out;
    w.page = sum_page;
    w.arg = &ss;
    if ((rc = tree_walk(x, df, &w, eb)) != WR_OK)
        goto out;
    if (!w.incomplete && !et.incomplete) /* as wr-verify: else every
                                             unread page looks leaked */
        (void)wri_ps_leaks(df->ps, s->logical_size);
    uint64_t free_bytes = et.avail_bytes + et.discard_bytes;
    uint64_t slotted = ss.tree_bytes; /* long leaves: all their blocks */
    double fill = slotted ? (double)ss.used / (double)slotted : 0.0;
    if (x->out != NULL) {
        dx_print(x, "  height %u (slot says %u): %" PRIu64 " internal, %" PRIu64
                    " leaf, %" PRIu64 " overflow, %" PRIu64
                    " extent-list pages",
                 ss.depth, s->height, ss.internal, ss.leaf, ss.overflow,
                 et.pages);
        if (ss.undecoded)
            dx_print(x, ", %" PRIu64 " pages not decoded", ss.undecoded);
        dx_print(x, "\n  keys %" PRIu64 " (slot says %" PRIu64
                    "), key bytes %" PRIu64 ", value bytes %" PRIu64 "\n",
                 ss.keys, s->nrecords, ss.key_bytes, ss.value_bytes);
        dx_print(x, "  live bytes %" PRIu64 " in tree pages of %" PRIu64
                    " bytes (fill factor %.1f%%), overflow %" PRIu64
                    " of %" PRIu64 " bytes\n",
                 ss.used, slotted, 100.0 * fill, ss.ovf_used, ss.ovf_bytes);
        dx_print(x, "  free bytes %" PRIu64 ": avail %" PRIu64 " in %" PRIu64
                    " extents, discard %" PRIu64 " in %" PRIu64
                    " extents; logical size %" PRIu64 "\n",
                 free_bytes, et.avail_bytes, et.avail_n, et.discard_bytes,
                 et.discard_n, s->logical_size);
    }
    if (j != NULL) {
        bson_t pc;
        j_u64(j, "checkpoint", s->gen);
        j_u64(j, "chosen_slot", (uint64_t)df->chosen);
        j_str(j, "role", role_name(s->role));
        j_str(j, "collection", s->coll);
        if (s->role == WRI_ROLE_INDEX)
            j_str(j, "field", s->field);
        j_u64(j, "height", ss.depth);
        BSON_APPEND_DOCUMENT_BEGIN(j, "pages", &pc);
        j_u64(&pc, "internal", ss.internal);
        j_u64(&pc, "leaf", ss.leaf);
        j_u64(&pc, "overflow", ss.overflow);
        j_u64(&pc, "extent_list", et.pages);
        j_u64(&pc, "not_decoded", ss.undecoded);
        bson_append_document_end(j, &pc);
        j_u64(j, "keys", ss.keys);
        j_u64(j, "key_bytes", ss.key_bytes);
        j_u64(j, "value_bytes", ss.value_bytes);
        j_u64(j, "live_bytes", ss.used);
        j_u64(j, "tree_bytes", slotted);
        j_u64(j, "overflow_live_bytes", ss.ovf_used);
        j_u64(j, "overflow_bytes", ss.ovf_bytes);
        j_u64(j, "free_bytes", free_bytes);
        j_u64(j, "avail_bytes", et.avail_bytes);
        j_u64(j, "discard_bytes", et.discard_bytes);
        j_u64(j, "logical_size", s->logical_size);
        BSON_APPEND_DOUBLE(j, "fill_factor", fill);
    }
out:
    wri_ps_walk_free(&w);
    return rc;
}

/* --- tree shape ---------------------------------------------------- */

typedef struct tree_ctx {
    dctx *x;
    bson_t *jarr;
    uint64_t n;
} tree_ctx;

static int tree_page(void *arg, const wri_ps_page *p)
{
    tree_ctx *tc = arg;
    dctx *x = tc->x;
    const wri_page_view *v = p->v;
    x->st->pages++;
    if (x->out != NULL) {
        dx_print(x, "%*s", 2 * p->depth + 2, "");
        if (v == NULL) {
            dx_print(x, "page %" PRIu64 ": not decoded\n", p->addr.off);
        } else {
            wri_cell c;
            uint32_t first = v->type == WRI_PT_INTERNAL ? 1 : 0;
            dx_print(x, "level %u  page %" PRIu64 "  %s  %u %s", v->level,
                     p->addr.off, type_name(v->type), v->count,
                     v->type == WRI_PT_INTERNAL ? "children" : "items");
            if (v->count > first) {
                wri_page_cell(v, first, &c);
                char *k1 = key_text(c.key, c.klen);
                wri_page_cell(v, v->count - 1, &c);
                char *k2 = key_text(c.key, c.klen);
                dx_print(x, "  %s %s .. %s",
                         first ? "separators" : "keys", k1 ? k1 : "?",
                         k2 ? k2 : "?");
                free(k1);
                free(k2);
            }
            dx_print(x, "%s\n",
                     p->trusted ? "" : "  (checksum does not hold)");
        }
    }
    if (tc->jarr != NULL) {
        bson_t d;
        char ik[24];
        snprintf(ik, sizeof ik, "%" PRIu64, tc->n);
        bson_append_document_begin(tc->jarr, ik, -1, &d);
        j_u64(&d, "depth", (uint64_t)p->depth);
        j_u64(&d, "offset", p->addr.off);
        BSON_APPEND_BOOL(&d, "decoded", v != NULL);
        if (v != NULL) {
            uint32_t first = v->type == WRI_PT_INTERNAL ? 1 : 0;
            j_u64(&d, "level", v->level);
            j_str(&d, "type", type_name(v->type));
            j_u64(&d, "count", v->count);
            BSON_APPEND_BOOL(&d, "checksum_ok", p->trusted);
            if (v->count > first) {
                wri_cell c;
                wri_page_cell(v, first, &c);
                j_key(&d, "first", c.key, c.klen);
                wri_page_cell(v, v->count - 1, &c);
                j_key(&d, "last", c.key, c.klen);
            }
        }
        bson_append_document_end(tc->jarr, &d);
    }
    tc->n++;
    return 0;
}

int file_tree(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb)
{
    int rc;
    wri_ps_walk w;
    tree_ctx tc = {.x = x};
    bson_t arr;
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    memset(&w, 0, sizeof w);
    dx_print(x, "  tree of gen %" PRIu64 " (slot %d), height %u, %" PRIu64
                " records:\n",
             df->cur.gen, df->chosen, df->cur.height, df->cur.nrecords);
    if (j != NULL) {
        j_u64(j, "checkpoint", df->cur.gen);
        bson_append_array_begin(j, "tree", -1, &arr);
        tc.jarr = &arr;
    }
    w.page = tree_page;
    w.arg = &tc;
    if (df->cur.root.off == 0)
        dx_print(x, "  (empty tree)\n");
    rc = tree_walk(x, df, &w, eb);
    if (j != NULL)
        bson_append_array_end(j, &arr);
    wri_ps_walk_free(&w);
    return rc;
}

int file_extents(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb)
{
    int rc;
    ext_totals t;
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    const wri_slot *s = &df->cur;
    dx_print(x, "  extent lists of gen %" PRIu64 " (slot %d), logical size %"
                PRIu64 ":\n",
             s->gen, df->chosen, s->logical_size);
    if (j != NULL)
        j_u64(j, "checkpoint", s->gen);
    if ((rc = ext_walk(x, df, true, j, &t, eb)) != WR_OK)
        return rc;
    dx_print(x, "  totals: %" PRIu64 " list pages; avail %" PRIu64
                " extents, %" PRIu64 " bytes; discard %" PRIu64 " extents, %"
                PRIu64 " bytes (%" PRIu64 " of them count as avail when gen %"
                PRIu64 " is opened); free %" PRIu64 " bytes\n",
             t.pages, t.avail_n, t.avail_bytes, t.discard_n, t.discard_bytes,
             t.reusable_bytes, s->gen, t.avail_bytes + t.discard_bytes);
    if (j != NULL) {
        bson_t d;
        BSON_APPEND_DOCUMENT_BEGIN(j, "totals", &d);
        j_u64(&d, "list_pages", t.pages);
        j_u64(&d, "avail_count", t.avail_n);
        j_u64(&d, "avail_bytes", t.avail_bytes);
        j_u64(&d, "discard_count", t.discard_n);
        j_u64(&d, "discard_bytes", t.discard_bytes);
        j_u64(&d, "discard_reusable_bytes", t.reusable_bytes);
        j_u64(&d, "free_bytes", t.avail_bytes + t.discard_bytes);
        bson_append_document_end(j, &d);
    }
    return WR_OK;
}

/* --- documents ----------------------------------------------------- */

typedef struct docs_ctx {
    dctx *x;
    dump_file *df;
    bool index;
    wri_bson_memo *memo; /* the documents' shapes (NULL: checks without) */
} docs_ctx;

int docs_end(dctx *x, wr_errbuf *eb)
{
    int rc = wri_docsout_end(x->docs, eb);
    x->docs = NULL;
    return rc;
}

/* One line of JSONL: the document, written by our Extended JSON writer
 * on the writer's thread; checked: it passed wri_bson_check already
 * (wri_ps_check_document). A line that cannot be written stops the walk
 * (WR_ENOSPC, WR_EIO, WR_ENOMEM). */
static int docs_line(dctx *x, const uint8_t *val, uint32_t vlen,
                     bool checked)
{
    int rc = WR_OK;
    if (x->docs == NULL &&
        (rc = wri_docsout_new(x->o->out, x->o->relaxed, &x->docs)) != WR_OK)
        return rc;
    rc = wri_docsout_add(x->docs, val, vlen, checked);
    if (rc == WR_ECORRUPT)
        return WR_OK; /* not valid: checked already, so never here */
    if (rc == WR_OK)
        x->st->docs++;
    return rc;
}

/* An index entry as a line: {"key": value, "_id": id}, from a key the
 * walk checked (wri_key_check), renamed and printed by our own writer. */
static int docs_entry(dctx *x, const uint8_t *key, uint32_t klen)
{
    static const char *const names[] = {"key", "_id"};
    size_t len, n;
    uint8_t *r = wri_key_renamed(key, klen, names, 2, &len, &n);
    int rc = r != NULL ? docs_line(x, r, (uint32_t)len, false) : WR_OK;
    free(r);
    return rc;
}

static int docs_page(void *arg, const wri_ps_page *p)
{
    docs_ctx *dc = arg;
    (void)p;
    dc->x->st->pages++;
    return 0;
}

/* Every item of a trusted leaf: the document (or index entry), if it
 * passes the same check wr-verify makes; else a finding, not a line. */
static int docs_item(void *arg, const wri_ps_page *p, uint32_t i,
                     const wri_cell *c, const uint8_t *val, const wri_vloc *at)
{
    docs_ctx *dc = arg;
    dctx *x = dc->x;
    (void)i;
    if (dx_stop(x))
        return WR_EINTR;
    if (dc->index)
        return docs_entry(x, c->key, c->klen);
    if (val == NULL)
        return 0; /* reported by the page source */
    if (wri_ps_check_document(dc->df->ps, at, c->key, c->klen, val, c->vlen,
                              dc->memo, 0, NULL) != WR_OK)
        return 0;
    return docs_line(x, val, c->vlen, true);
}

int file_docs(dctx *x, dump_file *df, wr_errbuf *eb)
{
    int rc;
    wri_ps_walk w;
    docs_ctx dc = {.x = x, .df = df};
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    memset(&w, 0, sizeof w);
    dc.index = df->cur.role == WRI_ROLE_INDEX;
    dc.memo = dc.index ? NULL : wri_bson_memo_new();
    w.page = docs_page;
    w.item = docs_item;
    w.arg = &dc;
    rc = tree_walk(x, df, &w, eb);
    if (rc == WR_EINTR)
        rc = WR_ERR(eb, WR_EINTR, "interrupted");
    else if (rc != WR_OK && wri_docsout_error(x->docs, NULL) != WR_OK)
        rc = wri_docsout_error(x->docs, eb); /* the output failed */
    wri_ps_walk_free(&w);
    wri_bson_memo_free(dc.memo);
    return rc;
}
