/*
 * diff.c -- wr_diff (wr.h): what differs between two databases, or a
 * database and a legacy append-log directory or JSONL file.
 *
 *   1. each side is opened: a directory with wr.catalog is a database
 *      (read-only), a directory with NAME.log files a legacy database
 *      (legacy.h), anything else one JSONL file (one collection);
 *   2. collections pair by name (sorted); one in a single side is one
 *      difference. For each pair:
 *   3. a log side's lines go through the migrate rules (legacy.h:
 *      wri_legacy_line_add into a LAST_WINS sorter, torn last line
 *      dropped) and come out as its live set in _id order; the sorters
 *      share one budget and spill to run files (sort.h);
 *   4. the two document streams are merged in key order (wri_key_cmp:
 *      MongoDB order): a key in one stream only is "only in A/B"; equal
 *      keys with different bytes are "different", with the dotted path of
 *      the first field that differs (wr_diff_doc). A database's documents
 *      come checked as wr-verify checks them (db.c's cursor: damage is
 *      WR_ECORRUPT, never a difference);
 *   5. indexes pair by field; a log side's entries are derived from its
 *      live documents (wri_index_keys into a PLAIN sorter) for the fields
 *      the other side has; the two entry streams merge the same way. An
 *      entry in one side only is first checked against each database
 *      side's own document (df_entry_check): an index that disagrees with
 *      its documents is damage.
 * Memory: one page path per open cursor, the sorters' budget, the log
 * reader's batches (logread.h: three of at most 1 MiB of text and their
 * documents), and two documents. Calls db (public calls), legacy, logread, sort, bsonkey.
 */
#include "wr_int.h"

#include "legacy.h"
#include "logread.h"
#include "sort.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define DF_CHECK_EVERY 4096u /* records between interrupt checks */

enum { DF_DB = 1, DF_LEGACY, DF_JSONL };

typedef struct df_side {
    const char *path;
    int type;
    wr_db *db;
    wri_legacy_dir ld;
    char **names;      /* collections, sorted */
    size_t nnames;
} df_side;

typedef struct df {
    const wr_diff_opts *o;
    wr_diff_stats *st;
    df_side s[2];
    wri_sort_pool *pool;
    uint64_t ticks;
    const char *coll; /* the collection being compared */
} df;

/* One side of one collection. */
typedef struct df_coll {
    df_side *side;
    const char *name;
    wr_coll *c;          /* database */
    wri_sort *main;      /* log: the live set */
    const char **fields; /* database: its indexes; legacy: .idx names */
    size_t nfields;
    wri_sort **derived;  /* log: entries of field i, or NULL */
} df_coll;

/* Documents or index entries in key order, from a cursor or a sorter. */
typedef struct df_stream {
    wr_doc_cursor *cur;
    wri_sort_iter *it;
    const uint8_t *key, *val;
    uint32_t klen, vlen;
    bool end;
} df_stream;

/* --- comparing two documents ---------------------------------------------- */

static size_t df_path_add(char *path, size_t pathlen, size_t at,
                          const char *name)
{
    int n = snprintf(path + at, pathlen - at, "%s%s", at > 0 ? "." : "",
                     name);
    if (n < 0 || (size_t)n >= pathlen - at)
        return pathlen - 1; /* cut: the buffer is full */
    return at + (size_t)n;
}

static bool df_holds_children(const bson_iter_t *it)
{
    return BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it);
}

static void df_children(const bson_iter_t *it, bson_t *out)
{
    const uint8_t *p;
    uint32_t n;
    if (BSON_ITER_HOLDS_DOCUMENT(it))
        bson_iter_document(it, &n, &p);
    else
        bson_iter_array(it, &n, &p);
    if (!bson_init_static(out, p, n))
        bson_init(out); /* not reached on checked input */
}

/* The first difference at this level or below it: 1 (path, why) or 0. */
static int df_doc_walk(const bson_t *a, const bson_t *b, char *path,
                       size_t pathlen, size_t at, const char **why, int depth)
{
    bson_iter_t ia, ib, f;
    if (!bson_iter_init(&ia, a) || !bson_iter_init(&ib, b))
        return 0;
    for (;;) {
        bool ma = bson_iter_next(&ia), mb = bson_iter_next(&ib);
        if (!ma && !mb)
            return 0;
        if (!ma || !mb) {
            df_path_add(path, pathlen, at, bson_iter_key(ma ? &ia : &ib));
            *why = ma ? "only in A" : "only in B";
            return 1;
        }
        const char *ka = bson_iter_key(&ia), *kb = bson_iter_key(&ib);
        if (strcmp(ka, kb) != 0) {
            if (!bson_iter_init_find(&f, b, ka)) {
                df_path_add(path, pathlen, at, ka);
                *why = "only in A";
            } else if (!bson_iter_init_find(&f, a, kb)) {
                df_path_add(path, pathlen, at, kb);
                *why = "only in B";
            } else {
                df_path_add(path, pathlen, at, ka);
                *why = "field order";
            }
            return 1;
        }
        uint32_t la = ia.next_off - ia.off, lb = ib.next_off - ib.off;
        if (la == lb && memcmp(ia.raw + ia.off, ib.raw + ib.off, la) == 0)
            continue;
        size_t sub = df_path_add(path, pathlen, at, ka);
        if (bson_iter_type(&ia) != bson_iter_type(&ib)) {
            *why = "type";
            return 1;
        }
        if (df_holds_children(&ia) && depth < WRI_KEY_MAX_DEPTH) {
            bson_t sa, sb;
            df_children(&ia, &sa);
            df_children(&ib, &sb);
            if (df_doc_walk(&sa, &sb, path, pathlen, sub, why, depth + 1))
                return 1;
        }
        *why = "value";
        return 1;
    }
}

int wr_diff_doc(const uint8_t *a, uint32_t alen, const uint8_t *b,
                uint32_t blen, char *path, size_t pathlen, const char **why)
{
    bson_t da, db;
    if (alen == blen && memcmp(a, b, alen) == 0)
        return 0;
    path[0] = '\0';
    *why = "value";
    if (bson_init_static(&da, a, alen) && bson_init_static(&db, b, blen))
        df_doc_walk(&da, &db, path, pathlen, 0, why, 0);
    return 1;
}

/* --- reporting -------------------------------------------------------------- */

static int df_item(df *d, const wr_diff_item *it)
{
    switch (it->what) {
    case WR_DIFF_DOC:
        if (it->kind == WR_DIFF_ONLY_A)
            d->st->only_a++;
        else if (it->kind == WR_DIFF_ONLY_B)
            d->st->only_b++;
        else
            d->st->changed++;
        break;
    case WR_DIFF_INDEX_ENTRY:
        if (it->kind == WR_DIFF_ONLY_A)
            d->st->idx_only_a++;
        else
            d->st->idx_only_b++;
        break;
    case WR_DIFF_INDEX:
        d->st->indexes_only++;
        break;
    default:
        d->st->colls_only++;
    }
    return d->o->on_item != NULL ? d->o->on_item(it, d->o->arg) : 0;
}

static void df_note(df *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void df_note(df *d, const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    if (d->o->on_note == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    d->o->on_note(buf, d->o->arg);
}

static int df_tick(df *d, wr_errbuf *eb)
{
    if ((++d->ticks % DF_CHECK_EVERY) != 0)
        return WR_OK;
    if (d->o->interrupted != NULL && *d->o->interrupted)
        return WR_ERR(eb, WR_EINTR, "interrupted");
    if (d->o->progress != NULL && d->ticks % (16 * DF_CHECK_EVERY) == 0)
        d->o->progress(d->coll, d->ticks, d->o->arg);
    return WR_OK;
}

static const char *df_kind_name(int kind)
{
    return kind == WR_DIFF_ONLY_A   ? "only_a"
           : kind == WR_DIFF_ONLY_B ? "only_b"
                                    : "changed";
}

static int df_append_json(wri_strbuf *sb, const wr_diff_item *it)
{
    static const char *const what[] = {"document", "index_entry", "index",
                                       "collection"};
    bson_t d = BSON_INITIALIZER, k;
    bson_iter_t ki;
    int rc;
    BSON_APPEND_UTF8(&d, "collection", it->coll);
    BSON_APPEND_UTF8(&d, "what", what[it->what & 3]);
    BSON_APPEND_UTF8(&d, "kind", df_kind_name(it->kind));
    if (it->field != NULL)
        BSON_APPEND_UTF8(&d, "field", it->field);
    if (it->key != NULL && bson_init_static(&k, it->key, it->klen) &&
        bson_iter_init(&ki, &k)) {
        if (it->what == WR_DIFF_INDEX_ENTRY && bson_iter_next(&ki))
            bson_append_value(&d, "key", 3, bson_iter_value(&ki));
        if (bson_iter_next(&ki))
            bson_append_value(&d, "_id", 3, bson_iter_value(&ki));
    }
    if (it->kind == WR_DIFF_CHANGED) {
        BSON_APPEND_UTF8(&d, "path", it->path != NULL ? it->path : "");
        BSON_APPEND_UTF8(&d, "why", it->why != NULL ? it->why : "");
    }
    if (it->what == WR_DIFF_COLLECTION)
        BSON_APPEND_INT64(&d, "count", (int64_t)it->count);
    rc = wri_ejson_append(sb, bson_get_data(&d), d.len, true);
    bson_destroy(&d);
    return rc;
}

static int df_append_text(wri_strbuf *sb, const wr_diff_item *it)
{
    char head[700];
    const char *side = it->kind == WR_DIFF_ONLY_A ? "only in A"
                       : it->kind == WR_DIFF_ONLY_B ? "only in B"
                                                    : "different";
    int rc = WR_OK;
    if (it->what == WR_DIFF_INDEX_ENTRY || it->what == WR_DIFF_INDEX)
        snprintf(head, sizeof head, "%s: index %s: %s: ", it->coll,
                 it->field, side);
    else
        snprintf(head, sizeof head, "%s: %s: ", it->coll, side);
    if (wri_strbuf_add(sb, head) != 0)
        return WR_ENOMEM;
    switch (it->what) {
    case WR_DIFF_DOC:
        if (wri_strbuf_add(sb, "_id ") != 0)
            return WR_ENOMEM;
        rc = wri_ejson_append_key(sb, it->key, it->klen, true);
        if (rc == WR_OK && it->kind == WR_DIFF_CHANGED) {
            char tail[700];
            snprintf(tail, sizeof tail, ": %s (%s)",
                     it->path[0] ? it->path : "(whole document)", it->why);
            rc = wri_strbuf_add(sb, tail) != 0 ? WR_ENOMEM : WR_OK;
        }
        return rc;
    case WR_DIFF_INDEX_ENTRY:
        if (wri_strbuf_add(sb, "entry ") != 0)
            return WR_ENOMEM;
        rc = wri_ejson_append_key(sb, it->key, it->klen, true);
        if (rc == WR_OK && wri_strbuf_add(sb, " (value, _id)") != 0)
            rc = WR_ENOMEM;
        return rc;
    case WR_DIFF_INDEX:
        return wri_strbuf_add(sb, "the whole index") != 0 ? WR_ENOMEM
                                                           : WR_OK;
    default: {
        char tail[80];
        snprintf(tail, sizeof tail, "the whole collection (%llu documents)",
                 (unsigned long long)it->count);
        return wri_strbuf_add(sb, tail) != 0 ? WR_ENOMEM : WR_OK;
    }
    }
}

char *wr_diff_item_format(const wr_diff_item *it, bool json)
{
    wri_strbuf sb = {0};
    int rc = json ? df_append_json(&sb, it) : df_append_text(&sb, it);
    if (rc != WR_OK || sb.p == NULL) {
        free(sb.p);
        return NULL;
    }
    return sb.p;
}

/* --- streams ------------------------------------------------------------------ */

static int df_stream_next(df_stream *s, wr_errbuf *eb)
{
    int rc;
    if (s->it != NULL) {
        wri_sort_rec rec;
        rc = wri_sort_iter_next(s->it, &rec, eb);
        if (rc == 1) {
            s->end = true;
            return WR_OK;
        }
        s->key = rec.key;
        s->klen = rec.klen;
        s->val = rec.val;
        s->vlen = rec.vlen;
        return rc;
    }
    rc = wr_doc_cursor_next(s->cur, &s->val, &s->vlen, eb);
    if (rc == WR_ENOTFOUND) {
        wr_errbuf_clear(eb);
        s->end = true;
        return WR_OK;
    }
    if (rc == WR_OK)
        wr_doc_cursor_key(s->cur, &s->key, &s->klen);
    return rc;
}

static void df_stream_close(df_stream *s)
{
    wr_doc_cursor_close(s->cur);
    wri_sort_iter_close(s->it);
    memset(s, 0, sizeof *s);
}

/* Documents (field NULL) or the entries of an index. */
static int df_stream_open(df_coll *c, const char *field, df_stream *s,
                          wr_errbuf *eb)
{
    int rc;
    memset(s, 0, sizeof *s);
    if (c->c == NULL) {
        wri_sort *src = field == NULL ? c->main : NULL;
        for (size_t i = 0; field != NULL && i < c->nfields; i++)
            if (strcmp(c->fields[i], field) == 0)
                src = c->derived[i];
        if (src == NULL) /* not reached: df_indexes pairs derived ones */
            return WR_ERR(eb, WR_EINVAL, "no entries for index %s", field);
        rc = wri_sort_iter_open(src, &s->it, eb);
    } else if (field == NULL) {
        rc = wri_doc_cursor_open_nocheck(c->c, &s->cur, eb); /* df_check */
    } else {
        size_t i = 0, n = wr_coll_nindex(c->c);
        while (i < n && strcmp(wr_coll_index_field(c->c, i), field) != 0)
            i++;
        rc = wr_index_cursor_open(c->c, i, &s->cur, eb); /* i < n: known */
    }
    return rc != WR_OK ? rc : df_stream_next(s, eb);
}

/* --- sides ---------------------------------------------------------------------- */

static int df_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int df_push(char ***arr, size_t *n, const char *s, wr_errbuf *eb)
{
    char **na = realloc(*arr, (*n + 1) * sizeof *na);
    if (na == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    *arr = na;
    if ((na[*n] = strdup(s)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    (*n)++;
    return WR_OK;
}

/* A JSONL side's collection name: FILE's name less its extension. */
static int df_file_stem(const char *path, char **out, wr_errbuf *eb)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot != NULL && dot != base ? (size_t)(dot - base)
                                          : strlen(base);
    if ((*out = strndup(base, n)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    return WR_OK;
}

static int df_side_open(df_side *s, wr_errbuf *eb)
{
    int rc = WR_OK;
    struct stat st;
    char *cat = NULL;
    if (strcmp(s->path, "-") == 0) {
        s->type = DF_JSONL;
        return WR_OK;
    }
    if (stat(s->path, &st) != 0)
        return WR_ERR(eb, errno == ENOENT ? WR_ENOTFOUND : WR_EIO,
                      "%s: %s", s->path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        s->type = DF_JSONL;
        return WR_OK;
    }
    if ((cat = wri_path_join(s->path, WR_CATALOG_NAME)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (stat(cat, &st) == 0) {
        wr_db_opts dopt = {.readonly = true, .holder = "wr-diff"};
        s->type = DF_DB;
        if ((rc = wr_db_open(s->path, &dopt, &s->db, eb)) != WR_OK)
            goto out;
        for (size_t i = 0; i < wr_db_ncoll(s->db) && rc == WR_OK; i++)
            rc = df_push(&s->names, &s->nnames, wr_db_coll_name(s->db, i),
                         eb);
        goto out;
    }
    if ((rc = wri_legacy_scan(s->path, &s->ld, eb)) != WR_OK ||
        (rc = wri_legacy_refuse_odd(s->path, &s->ld, eb)) != WR_OK)
        goto out;
    if (s->ld.kind != WRI_DIR_LEGACY) {
        /* tree files without their catalog are a damaged database (the
         * one rule every tool gives, with the salvage hint) */
        if ((rc = wri_catalog_missing(s->path, eb)) != WR_ENOTFOUND)
            goto out;
        wr_errbuf_clear(eb);
        rc = WR_ERR(eb, WR_ENOTFOUND,
                    "%s: neither a database (no %s) nor a legacy append-log "
                    "directory (no NAME.log)",
                    s->path, WR_CATALOG_NAME);
        goto out;
    }
    s->type = DF_LEGACY;
    for (size_t i = 0; i < s->ld.ncoll && rc == WR_OK; i++)
        rc = df_push(&s->names, &s->nnames, s->ld.coll[i].name, eb);
out:
    free(cat);
    if (rc == WR_OK)
        qsort(s->names, s->nnames, sizeof *s->names, df_str_cmp);
    return rc;
}

/* Name a JSONL side's one collection (o->collection, else the other
 * side's only collection, else the file's name). */
static int df_side_name_file(df *d, int i, wr_errbuf *eb)
{
    df_side *s = &d->s[i], *other = &d->s[1 - i];
    if (d->o->collection != NULL)
        return df_push(&s->names, &s->nnames, d->o->collection, eb);
    if (other->type != DF_JSONL) {
        if (other->nnames == 1)
            return df_push(&s->names, &s->nnames, other->names[0], eb);
        return WR_ERR(eb, WR_EINVAL,
                      "%s is one collection and %s holds %zu: name it with "
                      "--collection", s->path, other->path, other->nnames);
    }
    char *stem = NULL;
    int rc = df_file_stem(d->s[0].path, &stem, eb);
    if (rc == WR_OK)
        rc = df_push(&s->names, &s->nnames, stem, eb);
    free(stem);
    return rc;
}

static void df_side_close(df_side *s)
{
    wr_db_close(s->db);
    wri_legacy_free(&s->ld);
    for (size_t i = 0; i < s->nnames; i++)
        free(s->names[i]);
    free(s->names);
}

static bool df_has(const df_side *s, const char *name)
{
    return bsearch(&name, s->names, s->nnames, sizeof *s->names,
                   df_str_cmp) != NULL;
}

/* --- one collection of one side ---------------------------------------------------- */

static int df_pool(df *d, wr_errbuf *eb)
{
    const char *dir = d->o->tmpdir;
    if (d->pool != NULL)
        return WR_OK;
    if (dir == NULL && (dir = getenv("TMPDIR")) == NULL)
        dir = "/tmp";
    return wri_sort_pool_create(d->o->memory ? d->o->memory
                                             : WR_DEFAULT_MEMORY,
                                dir, "wr-diff-run", &d->pool, eb);
}

/* The live set of one log (legacy.h rules) into c->main, its lines
 * parsed on every core (logread.h). */
static int df_read_log(df *d, df_coll *c, const char *path, wr_errbuf *eb)
{
    int rc;
    wri_logread *lr = NULL;
    wri_logread_opts lo = {.memory = d->o->memory};
    if ((rc = df_pool(d, eb)) != WR_OK ||
        (rc = wri_sort_create(d->pool, WRI_SORT_LAST_WINS, &c->main, eb)) !=
            WR_OK ||
        (rc = wri_logread_open(path, &lo, &lr, eb)) != WR_OK)
        goto out;
    for (;;) {
        const wri_jsonl_line *line;
        const bson_t *key;
        bool unparsed;
        if ((rc = df_tick(d, eb)) != WR_OK)
            goto out;
        rc = wri_logread_next(lr, &line, &key, &unparsed, eb);
        if (rc == 1)
            break;
        if (rc == WR_EBADINPUT && wri_legacy_line_torn(line, unparsed)) {
            d->st->torn++;
            df_note(d, "%s (a torn last line: dropped)", eb->msg);
            wr_errbuf_clear(eb);
            continue;
        }
        if (rc != WR_OK)
            goto out;
        if ((rc = wri_legacy_line_add(c->main, line, key, eb)) != WR_OK)
            goto out;
    }
    rc = wri_sort_finish(c->main, 0, eb);
out:
    wri_logread_close(lr);
    return rc;
}

typedef struct df_deriver {
    wri_sort *s;
    uint64_t seq;
    wr_errbuf *eb;
} df_deriver;

static int df_derive_fn(const bson_t *key, void *arg)
{
    df_deriver *x = arg;
    return wri_sort_add(x->s, bson_get_data(key), key->len, NULL, 0,
                        ++x->seq, 0, 0, x->eb);
}

/* A log side's entries for the indexes marked in want[] (one pass over
 * its live set). */
static int df_derive(df *d, df_coll *c, const bool *want, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_sort_iter *it = NULL;
    wri_sort_rec rec;
    df_deriver *x = calloc(c->nfields + 1, sizeof *x);
    if (x == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nfields && rc == WR_OK; i++)
        if (want[i] &&
            (rc = wri_sort_create(d->pool, WRI_SORT_PLAIN, &c->derived[i],
                                  eb)) == WR_OK)
            x[i] = (df_deriver){c->derived[i], 0, eb};
    if (rc != WR_OK || (rc = wri_sort_iter_open(c->main, &it, eb)) != WR_OK)
        goto out;
    while ((rc = wri_sort_iter_next(it, &rec, eb)) == WR_OK) {
        bson_t doc;
        if ((rc = df_tick(d, eb)) != WR_OK)
            goto out;
        if (!bson_init_static(&doc, rec.val, rec.vlen)) {
            rc = WR_ERR(eb, WR_ECORRUPT, "run file: bad record");
            goto out;
        }
        for (size_t i = 0; i < c->nfields && rc == WR_OK; i++)
            if (c->derived[i] != NULL)
                rc = wri_index_keys(&doc, c->fields[i], df_derive_fn, &x[i],
                                    eb);
        if (rc != WR_OK)
            goto out;
    }
    if (rc != 1)
        goto out;
    rc = WR_OK;
    for (size_t i = 0; i < c->nfields && rc == WR_OK; i++)
        if (c->derived[i] != NULL)
            rc = wri_sort_finish(c->derived[i], 0, eb);
out:
    wri_sort_iter_close(it);
    free(x);
    return rc;
}

static int df_coll_open(df *d, df_side *s, const char *name, df_coll *c,
                        wr_errbuf *eb)
{
    int rc = WR_OK;
    char *path = NULL;
    memset(c, 0, sizeof *c);
    c->side = s;
    c->name = name;
    if (s->type == DF_DB) {
        if ((rc = wr_coll_open(s->db, name, false, &c->c, eb)) != WR_OK)
            return rc;
        c->nfields = wr_coll_nindex(c->c);
        if ((c->fields = calloc(c->nfields + 1, sizeof *c->fields)) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        for (size_t i = 0; i < c->nfields; i++)
            c->fields[i] = wr_coll_index_field(c->c, i);
        qsort(c->fields, c->nfields, sizeof *c->fields, df_str_cmp);
        return WR_OK;
    }
    if (s->type == DF_LEGACY) {
        const wri_legacy_coll *lc = NULL;
        for (size_t i = 0; i < s->ld.ncoll; i++)
            if (strcmp(s->ld.coll[i].name, name) == 0)
                lc = &s->ld.coll[i];
        if (lc == NULL || (path = wri_path_join(s->path, lc->log)) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        c->nfields = lc->nfields;
        if ((c->fields = calloc(c->nfields + 1, sizeof *c->fields)) == NULL) {
            free(path);
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < c->nfields; i++)
            c->fields[i] = lc->fields[i];
    }
    rc = df_read_log(d, c, path != NULL ? path : s->path, eb);
    free(path);
    return rc;
}

static void df_coll_close(df *d, df_coll *c)
{
    wri_sort_info info;
    if (c->main != NULL) {
        wri_sort_get_info(c->main, &info);
        d->st->sort_spilled += info.spilled;
        wri_sort_destroy(c->main);
    }
    for (size_t i = 0; c->derived != NULL && i < c->nfields; i++)
        if (c->derived[i] != NULL) {
            wri_sort_get_info(c->derived[i], &info);
            d->st->sort_spilled += info.spilled;
            wri_sort_destroy(c->derived[i]);
        }
    free(c->derived);
    free(c->fields);
    memset(c, 0, sizeof *c);
}

/* --- comparing one collection ------------------------------------------------------ */

/* A database's documents as wr-verify checks them (db.c's cursor check:
 * damage is WR_ECORRUPT, never a difference). Each document read is
 * checked, but for two of the same bytes and MongoDB-equal keys one
 * check answers for both; a log side's documents are valid by
 * construction (built by our JSON reader, keyed by their _id). */
static int df_check(const df_stream *a, const df_stream *b, int c,
                    wr_errbuf *eb)
{
    int rc = WR_OK;
    bool same = c == 0 && a->vlen == b->vlen &&
                memcmp(a->val, b->val, a->vlen) == 0;
    if (c <= 0 && a->cur != NULL)
        rc = wri_doc_cursor_check(a->cur, a->val, a->vlen, eb);
    if (rc == WR_OK && c >= 0 && b->cur != NULL &&
        !(same && a->cur != NULL))
        rc = wri_doc_cursor_check(b->cur, b->val, b->vlen, eb);
    return rc;
}

/* Equal keys: same, or a CHANGED item. */
static int df_pair(df *d, const df_coll *ca, const df_stream *a,
                   const df_stream *b)
{
    char path[1024];
    const char *what;
    if (a->vlen == b->vlen && memcmp(a->val, b->val, a->vlen) == 0) {
        d->st->same++;
        return WR_OK;
    }
    wr_diff_doc(a->val, a->vlen, b->val, b->vlen, path, sizeof path, &what);
    wr_diff_item it = {.coll = ca->name, .what = WR_DIFF_DOC,
                       .kind = WR_DIFF_CHANGED, .key = a->key,
                       .klen = a->klen, .path = path, .why = what};
    return df_item(d, &it);
}

/* Does x's document with the _id of index entry key (a database side's,
 * looked up) imply that entry on field (wri_index_keys: the rule the
 * engine indexes by and wr-verify checks)? *doc_found: there is one. */
typedef struct df_implied {
    const uint8_t *key;
    uint32_t klen;
    bool yes;
} df_implied;

static int df_implied_fn(const bson_t *key, void *arg)
{
    df_implied *m = arg;
    if (wri_key_cmp(bson_get_data(key), key->len, m->key, m->klen) == 0)
        m->yes = true;
    return 0;
}

static int df_implies(df_coll *x, const char *field, const uint8_t *key,
                      uint32_t klen, bool *doc_found, bool *yes,
                      wr_errbuf *eb)
{
    int rc;
    bson_t k, id = BSON_INITIALIZER, doc;
    bson_iter_t it;
    uint8_t *d = NULL;
    uint32_t dlen = 0;
    df_implied m = {key, klen, false};
    *doc_found = *yes = false;
    if (!bson_init_static(&k, key, klen) || !bson_iter_init(&it, &k) ||
        !bson_iter_next(&it) || !bson_iter_next(&it))
        return WR_OK; /* not reached: the tree's keys are checked */
    bson_append_value(&id, "_id", 3, bson_iter_value(&it));
    rc = wr_coll_get(x->c, &id, &d, &dlen, eb);
    bson_destroy(&id);
    if (rc == WR_ENOTFOUND) {
        wr_errbuf_clear(eb);
        return WR_OK;
    }
    if (rc != WR_OK)
        return rc;
    *doc_found = true;
    /* checked when the document pass read it */
    if (bson_init_static(&doc, d, dlen))
        rc = wri_index_keys(&doc, field, df_implied_fn, &m, eb);
    free(d);
    *yes = m.yes;
    return rc;
}

/* An index entry (s's) in one side only (A if in_a) is a difference only
 * when each database side's index agrees with its own documents on it:
 * the side that holds it has the document that implies it, the other
 * side's document (if any) does not. Otherwise that index is damaged
 * (WR_ECORRUPT), which wr-verify reports in full. Two point lookups, made
 * only for entries that differ. A log side's entries are derived from its
 * documents: nothing to check there. */
static int df_entry_check(df_coll *ca, df_coll *cb, const char *field,
                          const df_stream *s, bool in_a, wr_errbuf *eb)
{
    for (int k = 0; k < 2; k++) {
        df_coll *x = k == 0 ? ca : cb;
        bool holds = (k == 0) == in_a, found, implied;
        int rc;
        if (x->c == NULL)
            continue;
        if ((rc = df_implies(x, field, s->key, s->klen, &found, &implied,
                             eb)) != WR_OK)
            return rc;
        if (implied == holds)
            continue;
        char *file = wri_tree_file_name(x->name, field);
        char *e = wri_key_to_json(s->key, s->klen), why[160];
        if (!holds)
            snprintf(why, sizeof why, "the document with its _id implies it");
        else if (found)
            snprintf(why, sizeof why, "does not match its document: field "
                     "\"%s\" of that _id gives other keys", field);
        else
            snprintf(why, sizeof why, "its _id is not in the main table");
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "%s/%s: index: %s %s: %s (the index disagrees with its "
                    "documents; wr-verify %s names the page)",
                    x->side->path, file != NULL ? file : field,
                    holds ? "entry" : "missing entry", e != NULL ? e : "?",
                    why, x->side->path);
        free(file);
        free(e);
        return rc;
    }
    return WR_OK;
}

/* Merge two streams in key order (field NULL: documents). */
static int df_merge(df *d, df_coll *ca, df_coll *cb, const char *field,
                    wr_errbuf *eb)
{
    int rc;
    df_stream a, b;
    memset(&b, 0, sizeof b);
    if ((rc = df_stream_open(ca, field, &a, eb)) != WR_OK ||
        (rc = df_stream_open(cb, field, &b, eb)) != WR_OK)
        goto out;
    while (rc == WR_OK && (!a.end || !b.end)) {
        int c = a.end   ? 1
                : b.end ? -1
                        : wri_key_cmp(a.key, a.klen, b.key, b.klen);
        df_stream *one = c < 0 ? &a : &b;
        if ((rc = df_tick(d, eb)) != WR_OK)
            break;
        if (field == NULL) {
            if ((rc = df_check(&a, &b, c, eb)) != WR_OK)
                break;
            d->st->docs_a += c <= 0;
            d->st->docs_b += c >= 0;
        } else {
            d->st->index_entries += 1 + (c == 0);
        }
        if (c == 0) {
            if (field == NULL && (rc = df_pair(d, ca, &a, &b)) != 0)
                break;
            if ((rc = df_stream_next(&a, eb)) == WR_OK)
                rc = df_stream_next(&b, eb);
            continue;
        }
        wr_diff_item it = {
            .coll = ca->name,
            .what = field == NULL ? WR_DIFF_DOC : WR_DIFF_INDEX_ENTRY,
            .kind = c < 0 ? WR_DIFF_ONLY_A : WR_DIFF_ONLY_B,
            .field = field, .key = one->key, .klen = one->klen};
        if (field != NULL &&
            (rc = df_entry_check(ca, cb, field, one, c < 0, eb)) != WR_OK)
            break;
        if ((rc = df_item(d, &it)) == WR_OK)
            rc = df_stream_next(one, eb);
    }
out:
    df_stream_close(&a);
    df_stream_close(&b);
    return rc;
}

static bool df_declares(const df_coll *c, const char *field)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i], field) == 0)
            return true;
    return false;
}

/* Can this side give the entries of an index on field? */
static bool df_can_index(const df_coll *c, const char *field)
{
    return c->c == NULL || df_declares(c, field);
}

/* A log side's fields, grown by those the other side has, and the ones to
 * derive. */
static int df_plan_derive(df *d, df_coll *log, const df_coll *other,
                          wr_errbuf *eb)
{
    int rc = WR_OK;
    bool *want = NULL;
    const char **f = realloc(log->fields, (log->nfields + other->nfields + 1) *
                                              sizeof *f);
    if (f == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    log->fields = f;
    for (size_t i = 0; i < other->nfields; i++)
        if (!df_declares(log, other->fields[i]))
            log->fields[log->nfields++] = other->fields[i];
    want = calloc(log->nfields + 1, sizeof *want);
    log->derived = calloc(log->nfields + 1, sizeof *log->derived);
    if (want == NULL || log->derived == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    bool any = false;
    for (size_t i = 0; i < log->nfields; i++)
        any |= want[i] = df_can_index(other, log->fields[i]);
    if (any)
        rc = df_derive(d, log, want, eb);
out:
    free(want);
    return rc;
}

static int df_indexes(df *d, df_coll *ca, df_coll *cb, wr_errbuf *eb)
{
    int rc = WR_OK;
    size_t n = 0;
    const char **all = calloc(ca->nfields + cb->nfields + 1, sizeof *all);
    if (all == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (size_t i = 0; i < ca->nfields; i++)
        all[n++] = ca->fields[i];
    for (size_t i = 0; i < cb->nfields; i++)
        if (!df_declares(ca, cb->fields[i]))
            all[n++] = cb->fields[i];
    qsort(all, n, sizeof *all, df_str_cmp);
    for (size_t i = 0; i < n && rc == WR_OK; i++) {
        bool ha = df_can_index(ca, all[i]), hb = df_can_index(cb, all[i]);
        if (ha && hb) {
            rc = df_merge(d, ca, cb, all[i], eb);
            continue;
        }
        wr_diff_item it = {.coll = ca->name, .what = WR_DIFF_INDEX,
                           .kind = ha ? WR_DIFF_ONLY_A : WR_DIFF_ONLY_B,
                           .field = all[i]};
        rc = df_item(d, &it);
    }
    free(all);
    return rc;
}

static int df_collection(df *d, const char *name, wr_errbuf *eb)
{
    int rc;
    df_coll a, b;
    memset(&b, 0, sizeof b);
    d->st->collections++;
    if ((rc = df_coll_open(d, &d->s[0], name, &a, eb)) != WR_OK ||
        (rc = df_coll_open(d, &d->s[1], name, &b, eb)) != WR_OK)
        goto out;
    if (a.c == NULL && (rc = df_plan_derive(d, &a, &b, eb)) != WR_OK)
        goto out;
    if (b.c == NULL && (rc = df_plan_derive(d, &b, &a, eb)) != WR_OK)
        goto out;
    if ((rc = df_merge(d, &a, &b, NULL, eb)) == WR_OK)
        rc = df_indexes(d, &a, &b, eb);
out:
    df_coll_close(d, &a);
    df_coll_close(d, &b);
    return rc;
}

/* A collection in one side only: one item, with its document count. */
static int df_lone_collection(df *d, int side, const char *name,
                              wr_errbuf *eb)
{
    int rc;
    df_coll c;
    df_stream s;
    uint64_t n = 0;
    memset(&s, 0, sizeof s);
    if ((rc = df_coll_open(d, &d->s[side], name, &c, eb)) != WR_OK)
        goto out;
    if (c.c != NULL) {
        n = wr_coll_count(c.c);
    } else {
        if ((rc = df_stream_open(&c, NULL, &s, eb)) != WR_OK)
            goto out;
        while (!s.end && rc == WR_OK) {
            n++;
            rc = df_stream_next(&s, eb);
        }
        if (rc != WR_OK)
            goto out;
    }
    wr_diff_item it = {.coll = name, .what = WR_DIFF_COLLECTION,
                       .kind = side == 0 ? WR_DIFF_ONLY_A : WR_DIFF_ONLY_B,
                       .count = n};
    rc = df_item(d, &it);
out:
    df_stream_close(&s);
    df_coll_close(d, &c);
    return rc;
}

static int df_run(df *d, wr_errbuf *eb)
{
    int rc = WR_OK;
    const char *only = d->o->collection;
    for (int i = 0; i < 2; i++)
        if ((rc = df_side_open(&d->s[i], eb)) != WR_OK)
            return rc;
    for (int i = 0; i < 2; i++)
        if (d->s[i].type == DF_JSONL &&
            (rc = df_side_name_file(d, i, eb)) != WR_OK)
            return rc;
    if (only != NULL && !df_has(&d->s[0], only) && !df_has(&d->s[1], only))
        return WR_ERR(eb, WR_EINVAL, "no collection \"%s\" in %s or %s",
                      only, d->s[0].path, d->s[1].path);
    /* the union of the sorted name lists, in order */
    size_t i = 0, j = 0;
    while (rc == WR_OK && (i < d->s[0].nnames || j < d->s[1].nnames)) {
        const char *na = i < d->s[0].nnames ? d->s[0].names[i] : NULL;
        const char *nb = j < d->s[1].nnames ? d->s[1].names[j] : NULL;
        int c = na == NULL ? 1 : nb == NULL ? -1 : strcmp(na, nb);
        const char *name = c <= 0 ? na : nb;
        i += c <= 0;
        j += c >= 0;
        if (only != NULL && strcmp(name, only) != 0)
            continue;
        d->coll = name;
        rc = c == 0 ? df_collection(d, name, eb)
                    : df_lone_collection(d, c < 0 ? 0 : 1, name, eb);
    }
    return rc;
}

int wr_diff(const wr_diff_opts *o, wr_diff_stats *st, wr_errbuf *eb)
{
    int rc;
    df d;
    memset(&d, 0, sizeof d);
    memset(st, 0, sizeof *st);
    if (o->a == NULL || o->b == NULL)
        return WR_ERR(eb, WR_EINVAL, "wr_diff: two sides needed");
    if (strcmp(o->a, "-") == 0 && strcmp(o->b, "-") == 0)
        return WR_ERR(eb, WR_EINVAL, "only one side can be standard input");
    d.o = o;
    d.st = st;
    d.s[0].path = o->a;
    d.s[1].path = o->b;
    rc = df_run(&d, eb);
    if (d.pool != NULL) {
        st->sort_peak = wri_sort_pool_peak(d.pool);
        wri_sort_pool_destroy(d.pool);
    }
    df_side_close(&d.s[0]);
    df_side_close(&d.s[1]);
    return rc;
}
