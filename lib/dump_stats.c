/*
 * dump_stats.c -- wr-dump --stats, the analyzer (like sqlite3_analyzer
 * and mdb_stat): for each tree file, per level, pages, items and fill
 * factor (min, median, max); a histogram of value sizes (documents of a
 * main table; keys of an index, which has no values); overflow values
 * and the page bytes they take: value bytes, the runs' headers
 * (metadata) and the rest (overflow waste); free space by list
 * (avail, discard), leaked and past the logical size; for a database, the
 * totals per collection and index. Text, or JSON into the file's object
 * and the root's "totals".
 *
 * Built on the page source's walks (pagesrc.h) exactly as the summary is,
 * so a damaged file is analysed as far as it reads and each damaged place
 * is a finding. Memory: one histogram of 101 fill buckets per level and 32
 * size buckets per file, and one record per file for the totals.
 */
#include "dump.h"

#include <inttypes.h>
#include <stdlib.h>

#define ST_FILL_BUCKETS 101 /* whole percents 0..100 */
#define ST_SIZE_BUCKETS 32  /* [2^b, 2^(b+1)) bytes */

typedef struct st_level {
    uint64_t pages, items, bytes, used;
    double fill_min, fill_max;
    uint64_t fill[ST_FILL_BUCKETS];
} st_level;

typedef struct st_tree {
    bool index;           /* an index: sizes are of keys */
    uint32_t P;
    st_level lv[WRI_PS_MAX_DEPTH];
    uint32_t nlevels;     /* highest level seen + 1 */
    uint64_t undecoded;
    uint64_t sizes[ST_SIZE_BUCKETS];
    uint64_t nvalues, value_bytes, vmin, vmax;
    uint64_t ovf_values, ovf_pages, ovf_value_bytes, ovf_page_bytes;
    uint64_t tails, tail_bytes; /* split values: tails kept in cells */
    uint64_t packed, packed_bytes; /* values packed whole in cells */
} st_tree;

/* What the totals keep of a file. */
typedef struct stats_file {
    char *coll;
    char *field; /* NULL: the main table */
    uint64_t entries, pages, file_bytes, free_bytes;
} stats_file;

static unsigned st_bucket(uint64_t n)
{
    unsigned b = 0;
    while (n > 1 && b + 1 < ST_SIZE_BUCKETS) {
        n >>= 1;
        b++;
    }
    return b;
}

static void st_value(st_tree *t, uint64_t len)
{
    t->sizes[st_bucket(len)]++;
    if (t->nvalues == 0 || len < t->vmin)
        t->vmin = len;
    if (len > t->vmax)
        t->vmax = len;
    t->nvalues++;
    t->value_bytes += len;
}

static int st_page(void *arg, const wri_ps_page *p)
{
    st_tree *t = arg;
    const wri_page_view *v = p->v;
    if (v == NULL || v->level >= WRI_PS_MAX_DEPTH || v->size == 0) {
        t->undecoded++;
        return 0;
    }
    st_level *l = &t->lv[v->level];
    double fill = (double)(v->size - v->free_bytes) / (double)v->size;
    if (l->pages == 0 || fill < l->fill_min)
        l->fill_min = fill;
    if (fill > l->fill_max)
        l->fill_max = fill;
    l->fill[(unsigned)(fill * 100.0)]++;
    l->pages++;
    l->items += v->count;
    l->bytes += v->size;
    l->used += v->size - v->free_bytes;
    if (v->level + 1u > t->nlevels)
        t->nlevels = v->level + 1u;
    if (v->type != WRI_PT_LEAF)
        return 0;
    for (uint32_t i = 0; i < v->count; i++) {
        wri_cell c;
        wri_page_cell(v, i, &c);
        st_value(t, t->index ? c.klen : c.vlen);
        if (wri_cell_packed(&c)) {
            t->packed++;
            t->packed_bytes += c.vlen;
        } else if (c.overflow) {
            t->ovf_values++;
            t->ovf_pages += t->P ? c.ovf.size / t->P : 0;
            t->ovf_page_bytes += c.ovf.size;
            t->ovf_value_bytes += c.vlen - c.tlen;
            t->tails += c.tlen > 0;
            t->tail_bytes += c.tlen;
        }
    }
    return 0;
}

/* The median fill from the histogram: the middle of its whole-percent
 * bucket, within [min, max] (so exact for one page). */
static double st_median(const st_level *l)
{
    uint64_t seen = 0, half = (l->pages + 1) / 2;
    unsigned b = 0;
    while (b + 1 < ST_FILL_BUCKETS && (seen += l->fill[b]) < half)
        b++;
    double m = (b + 0.5) / 100.0;
    return m < l->fill_min ? l->fill_min : m > l->fill_max ? l->fill_max : m;
}

static void st_levels_text(dctx *x, const st_tree *t)
{
    dx_print(x, "  level      pages      items  fill min   median      max\n");
    for (uint32_t i = t->nlevels; i-- > 0;) {
        const st_level *l = &t->lv[i];
        if (l->pages == 0)
            continue;
        dx_print(x, "  %5u %10" PRIu64 " %10" PRIu64 "  %7.1f%%  %6.1f%%  "
                    "%6.1f%%\n",
                 i, l->pages, l->items, 100.0 * l->fill_min,
                 100.0 * st_median(l), 100.0 * l->fill_max);
    }
    if (t->undecoded)
        dx_print(x, "  %" PRIu64 " pages not decoded (not counted)\n",
                 t->undecoded);
}

static void st_sizes_text(dctx *x, const st_tree *t)
{
    const char *what = t->index ? "keys" : "documents";
    uint64_t top = 0;
    int lo = -1, hi = -1;
    if (t->nvalues == 0) {
        dx_print(x, "  %s: none\n", what);
        return;
    }
    dx_print(x, "  %s: %" PRIu64 ", %" PRIu64 " bytes, min %" PRIu64
                ", mean %.0f, max %" PRIu64 " bytes\n",
             what, t->nvalues, t->value_bytes, t->vmin,
             (double)t->value_bytes / (double)t->nvalues, t->vmax);
    for (int b = 0; b < ST_SIZE_BUCKETS; b++)
        if (t->sizes[b] != 0) {
            lo = lo < 0 ? b : lo;
            hi = b;
            top = WRI_MAX(top, t->sizes[b]);
        }
    for (int b = lo; b <= hi; b++) {
        char bar[41];
        int n = (int)((40 * t->sizes[b] + top - 1) / top);
        memset(bar, '#', (size_t)n);
        bar[n] = '\0';
        dx_print(x, "    %10" PRIu64 " .. %10" PRIu64 " bytes %10" PRIu64
                    "  %s\n",
                 b == 0 ? 0 : (uint64_t)1 << b, ((uint64_t)2 << b) - 1,
                 t->sizes[b], bar);
    }
}

/* The overflow runs' page headers (one per run, WRI_PH_LEN bytes): the
 * metadata every run needs, not waste. */
static uint64_t st_ovf_header_bytes(const st_tree *t)
{
    return t->ovf_values * WRI_PH_LEN;
}

/* The runs' bytes that hold neither value nor header: the unused rest of
 * their last block. */
static uint64_t st_ovf_waste(const st_tree *t)
{
    uint64_t used = t->ovf_value_bytes + st_ovf_header_bytes(t);
    return t->ovf_page_bytes - WRI_MIN(t->ovf_page_bytes, used);
}

static void st_overflow_text(dctx *x, const st_tree *t)
{
    uint64_t waste = st_ovf_waste(t);
    dx_print(x, "  overflow: %" PRIu64 " values in %" PRIu64 " pages: %"
                PRIu64 " value bytes + %" PRIu64 " header bytes in %" PRIu64
                " page bytes (waste %" PRIu64 " bytes, %.1f%%)\n",
             t->ovf_values, t->ovf_pages, t->ovf_value_bytes,
             st_ovf_header_bytes(t), t->ovf_page_bytes, waste,
             t->ovf_page_bytes ? 100.0 * (double)waste /
                                     (double)t->ovf_page_bytes
                               : 0.0);
    if (t->tails > 0)
        dx_print(x, "  value tails: %" PRIu64 " overflow values keep their "
                    "last %" PRIu64 " bytes in leaf cells (format 3)\n",
                 t->tails, t->tail_bytes);
    if (t->packed > 0)
        dx_print(x, "  packed values: %" PRIu64 " values too long for "
                    "inline, %" PRIu64 " bytes, whole in leaf cells without "
                    "a run (format 4)\n",
                 t->packed, t->packed_bytes);
}

static void st_json(bson_t *j, const st_tree *t, const ext_totals *et,
                    uint64_t leaked, uint64_t past)
{
    bson_t s, arr, d, h, hd;
    char ik[24];
    BSON_APPEND_DOCUMENT_BEGIN(j, "stats", &s);
    BSON_APPEND_ARRAY_BEGIN(&s, "levels", &arr);
    for (uint32_t i = t->nlevels, n = 0; i-- > 0;) {
        const st_level *l = &t->lv[i];
        if (l->pages == 0)
            continue;
        snprintf(ik, sizeof ik, "%u", n++);
        bson_append_document_begin(&arr, ik, -1, &d);
        j_u64(&d, "level", i);
        j_u64(&d, "pages", l->pages);
        j_u64(&d, "items", l->items);
        j_u64(&d, "bytes", l->bytes);
        j_u64(&d, "used_bytes", l->used);
        BSON_APPEND_DOUBLE(&d, "fill_min", l->fill_min);
        BSON_APPEND_DOUBLE(&d, "fill_median", st_median(l));
        BSON_APPEND_DOUBLE(&d, "fill_max", l->fill_max);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(&s, &arr);
    j_u64(&s, "pages_not_decoded", t->undecoded);
    BSON_APPEND_DOCUMENT_BEGIN(&s, t->index ? "keys" : "documents", &d);
    j_u64(&d, "count", t->nvalues);
    j_u64(&d, "bytes", t->value_bytes);
    j_u64(&d, "min", t->nvalues ? t->vmin : 0);
    j_u64(&d, "max", t->vmax);
    BSON_APPEND_ARRAY_BEGIN(&d, "histogram", &h);
    for (int b = 0, n = 0; b < ST_SIZE_BUCKETS; b++) {
        if (t->sizes[b] == 0)
            continue;
        snprintf(ik, sizeof ik, "%d", n++);
        bson_append_document_begin(&h, ik, -1, &hd);
        j_u64(&hd, "from", b == 0 ? 0 : (uint64_t)1 << b);
        j_u64(&hd, "to", ((uint64_t)2 << b) - 1);
        j_u64(&hd, "count", t->sizes[b]);
        bson_append_document_end(&h, &hd);
    }
    bson_append_array_end(&d, &h);
    bson_append_document_end(&s, &d);
    BSON_APPEND_DOCUMENT_BEGIN(&s, "overflow", &d);
    j_u64(&d, "values", t->ovf_values);
    j_u64(&d, "pages", t->ovf_pages);
    j_u64(&d, "value_bytes", t->ovf_value_bytes);
    j_u64(&d, "page_bytes", t->ovf_page_bytes);
    j_u64(&d, "header_bytes", st_ovf_header_bytes(t));
    j_u64(&d, "waste_bytes", st_ovf_waste(t));
    j_u64(&d, "tails", t->tails);
    j_u64(&d, "tail_bytes", t->tail_bytes);
    j_u64(&d, "packed", t->packed);
    j_u64(&d, "packed_bytes", t->packed_bytes);
    bson_append_document_end(&s, &d);
    BSON_APPEND_DOCUMENT_BEGIN(&s, "free", &d);
    j_u64(&d, "avail_bytes", et->avail_bytes);
    j_u64(&d, "avail_extents", et->avail_n);
    j_u64(&d, "discard_bytes", et->discard_bytes);
    j_u64(&d, "discard_extents", et->discard_n);
    j_u64(&d, "discard_reusable_bytes", et->reusable_bytes);
    j_u64(&d, "leaked_bytes", leaked);
    j_u64(&d, "past_logical_size_bytes", past);
    bson_append_document_end(&s, &d);
    bson_append_document_end(j, &s);
}

static void st_record(dctx *x, const char *coll, const char *field,
                      uint64_t entries, uint64_t pages, uint64_t file_bytes,
                      uint64_t free_bytes)
{
    stats_file *n = realloc(x->stats, (x->nstats + 1) * sizeof *n);
    if (n == NULL)
        return; /* the totals then leave this file out */
    x->stats = n;
    n += x->nstats;
    n->coll = strdup(coll);
    n->field = field != NULL && field[0] ? strdup(field) : NULL;
    n->entries = entries;
    n->pages = pages;
    n->file_bytes = file_bytes;
    n->free_bytes = free_bytes;
    if (n->coll != NULL)
        x->nstats++;
    else
        free(n->field);
}

int file_stats(dctx *x, dump_file *df, const char *coll, const char *field,
               bson_t *j, wr_errbuf *eb)
{
    int rc;
    wri_ps_walk w;
    ext_totals et;
    uint64_t leaked = 0, past = 0, pages = 0;
    st_tree *t = NULL;
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    const wri_slot *s = &df->cur;
    memset(&w, 0, sizeof w);
    if ((t = calloc(1, sizeof *t)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    t->index = s->role == WRI_ROLE_INDEX;
    t->P = df->ps->P;
    if ((rc = ext_walk(x, df, false, NULL, &et, eb)) != WR_OK)
        goto out;
    w.page = st_page;
    w.arg = t;
    if ((rc = tree_walk(x, df, &w, eb)) != WR_OK)
        goto out;
    if (!w.incomplete && !et.incomplete) /* as the summary and wr-verify */
        leaked = wri_ps_leaks(df->ps, s->logical_size);
    if (df->ps->fsize > s->logical_size)
        past = df->ps->fsize - s->logical_size;
    for (uint32_t i = 0; i < t->nlevels; i++)
        pages += t->lv[i].pages;
    pages += t->ovf_pages + et.pages;
    if (t->index)
        dx_print(x, "  stats of gen %" PRIu64 " (slot %d): index on \"%s\" of "
                    "collection \"%s\", page size %u\n",
                 s->gen, df->chosen, s->field, s->coll, t->P);
    else
        dx_print(x, "  stats of gen %" PRIu64 " (slot %d): main table of "
                    "collection \"%s\", page size %u\n",
                 s->gen, df->chosen, s->coll, t->P);
    if (x->out != NULL) {
        st_levels_text(x, t);
        st_sizes_text(x, t);
        st_overflow_text(x, t);
        dx_print(x, "  free: avail %" PRIu64 " bytes in %" PRIu64
                    " extents, discard %" PRIu64 " bytes in %" PRIu64
                    " extents (%" PRIu64 " reusable on the next open), "
                    "leaked %" PRIu64 ", past the logical size %" PRIu64
                    "\n",
                 et.avail_bytes, et.avail_n, et.discard_bytes, et.discard_n,
                 et.reusable_bytes, leaked, past);
    }
    if (j != NULL) {
        j_u64(j, "checkpoint", s->gen);
        j_str(j, "role", role_name(s->role));
        j_str(j, "collection", s->coll);
        if (t->index)
            j_str(j, "field", s->field);
        j_u64(j, "file_size", df->ps->fsize);
        j_u64(j, "page_size", t->P);
        st_json(j, t, &et, leaked, past);
    }
    st_record(x, coll != NULL ? coll : s->coll,
              field != NULL ? field : (t->index ? s->field : NULL),
              t->nvalues, pages, df->ps->fsize,
              et.avail_bytes + et.discard_bytes + leaked + past);
out:
    wri_ps_walk_free(&w);
    free(t);
    return rc;
}

/* --- a database's totals --------------------------------------------- */

typedef struct st_sum {
    uint64_t files, entries, pages, bytes, free;
} st_sum;

static void st_add(st_sum *s, const stats_file *f)
{
    s->files++;
    s->entries += f->entries;
    s->pages += f->pages;
    s->bytes += f->file_bytes;
    s->free += f->free_bytes;
}

static void st_line(dctx *x, const char *label, const char *name,
                    uint64_t entries, uint64_t pages, uint64_t bytes,
                    uint64_t free_bytes)
{
    char what[256];
    snprintf(what, sizeof what, "%s%s", label, name);
    dx_print(x, "  %-32s %12" PRIu64 " %10" PRIu64 " %14" PRIu64 " %12"
                PRIu64 "\n",
             what, entries, pages, bytes, free_bytes);
}

static void st_sum_json(bson_t *p, const char *name, const st_sum *s)
{
    bson_t d;
    BSON_APPEND_DOCUMENT_BEGIN(p, name, &d);
    j_u64(&d, "files", s->files);
    j_u64(&d, "pages", s->pages);
    j_u64(&d, "file_bytes", s->bytes);
    j_u64(&d, "free_bytes", s->free);
    bson_append_document_end(p, &d);
}

static void st_file_json(bson_t *p, const char *name, const stats_file *f)
{
    bson_t d;
    BSON_APPEND_DOCUMENT_BEGIN(p, name, &d);
    if (f->field != NULL)
        j_str(&d, "field", f->field);
    j_u64(&d, f->field != NULL ? "entries" : "documents", f->entries);
    j_u64(&d, "pages", f->pages);
    j_u64(&d, "file_bytes", f->file_bytes);
    j_u64(&d, "free_bytes", f->free_bytes);
    bson_append_document_end(p, &d);
}

/* One collection's files (those of the records named coll). */
static void st_coll(dctx *x, const char *coll, bson_t *jarr, size_t n,
                    st_sum *all, uint64_t *docs_all, uint64_t *entries_all)
{
    st_sum s = {0};
    uint64_t docs = 0, entries = 0;
    bson_t d, idx;
    char ik[24];
    if (jarr != NULL) {
        snprintf(ik, sizeof ik, "%zu", n);
        bson_append_document_begin(jarr, ik, -1, &d);
        j_str(&d, "name", coll);
        bson_init(&idx); /* appended to d when complete */
    }
    for (size_t i = 0, k = 0; i < x->nstats; i++) {
        const stats_file *f = &x->stats[i];
        if (strcmp(f->coll, coll) != 0)
            continue;
        st_add(&s, f);
        if (f->field == NULL) {
            docs += f->entries;
            st_line(x, "", coll, f->entries, f->pages, f->file_bytes,
                    f->free_bytes);
            if (jarr != NULL)
                st_file_json(&d, "main", f);
            continue;
        }
        entries += f->entries;
        st_line(x, "  index ", f->field, f->entries, f->pages,
                f->file_bytes, f->free_bytes);
        if (jarr != NULL) {
            snprintf(ik, sizeof ik, "%zu", k++);
            st_file_json(&idx, ik, f);
        }
    }
    st_line(x, "  all its files", "", docs + entries, s.pages, s.bytes,
            s.free);
    if (jarr != NULL) {
        bson_append_array(&d, "indexes", -1, &idx);
        bson_destroy(&idx);
        j_u64(&d, "documents", docs);
        j_u64(&d, "index_entries", entries);
        st_sum_json(&d, "all_files", &s);
        bson_append_document_end(jarr, &d);
    }
    all->files += s.files;
    all->pages += s.pages;
    all->bytes += s.bytes;
    all->free += s.free;
    *docs_all += docs;
    *entries_all += entries;
}

void stats_totals(dctx *x, bson_t *root)
{
    st_sum all = {0};
    uint64_t docs = 0, entries = 0;
    size_t ncoll = 0;
    bson_t jt, jarr;
    if (x->nstats == 0)
        return;
    dx_print(x, "\ntotals per collection and index (entries: documents or "
                "index entries; free: avail, discard, leaked and past the "
                "logical size)\n");
    dx_print(x, "  %-32s %12s %10s %14s %12s\n", "", "entries", "pages",
             "file bytes", "free bytes");
    if (root != NULL) {
        BSON_APPEND_DOCUMENT_BEGIN(root, "totals", &jt);
        BSON_APPEND_ARRAY_BEGIN(&jt, "collections", &jarr);
    }
    for (size_t i = 0; i < x->nstats; i++) {
        bool first = true; /* the first record of its collection */
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(x->stats[k].coll, x->stats[i].coll) != 0;
        if (first)
            st_coll(x, x->stats[i].coll, root != NULL ? &jarr : NULL,
                    ncoll++, &all, &docs, &entries);
    }
    dx_print(x, "  %zu collection%s, %" PRIu64 " files: %" PRIu64
                " documents, %" PRIu64 " index entries, %" PRIu64
                " pages, %" PRIu64 " file bytes, %" PRIu64 " free bytes\n",
             ncoll, ncoll == 1 ? "" : "s", all.files, docs, entries,
             all.pages, all.bytes, all.free);
    if (root != NULL) {
        bson_append_array_end(&jt, &jarr);
        j_u64(&jt, "documents", docs);
        j_u64(&jt, "index_entries", entries);
        st_sum_json(&jt, "all_files", &all);
        bson_append_document_end(root, &jt);
    }
}

void stats_free(dctx *x)
{
    for (size_t i = 0; i < x->nstats; i++) {
        free(x->stats[i].coll);
        free(x->stats[i].field);
    }
    free(x->stats);
    x->stats = NULL;
    x->nstats = 0;
}
