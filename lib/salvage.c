/*
 * salvage.c -- wr_salvage(): a damaged database's documents into a new one
 * (wr.h; DESIGN decision 14).
 *
 *   1. SOURCE: its catalog names the collections, their main-table files,
 *      their indexes and the generations of the snapshot; a damaged or
 *      missing catalog is rebuilt from the tree files' headers (role,
 *      collection, field), or their names when a header is gone too.
 *   2. DEST is built under .NAME.wr-salvage.tmp beside it (a leftover of
 *      an interrupted run is removed first): one collection per main
 *      table, its indexes created empty and filled as documents are put
 *      (never copied), documents from salvage_tree.c, lost+found/NAME.jsonl
 *      for what could not be placed with certainty.
 *   3. The temporary database is checkpointed, verified with every
 *      wr-verify check, and renamed to DEST; the parent directory is
 *      fsynced. Until that rename there is no DEST; a crash, a full disk
 *      or SIGINT leaves none (and the next run clears the leftover).
 *
 * Every write goes through io, so the fault sweeps reach every step.
 * Calls salvage_tree, db (wr.h), catalog, io, verify (wr_verify_simple).
 */
#include "wr_int.h"

#include "salvage.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <xxhash.h>

#define SV_CHECKPOINT_EVERY 20000 /* documents between DEST checkpoints */
#define SV_LOST_DIR "lost+found"
#define SV_TMP_SUFFIX ".wr-salvage.tmp"

/* One collection to salvage. */
typedef struct sv_src {
    char *name;
    char *path;     /* main-table file */
    uint64_t gen;   /* generation the catalog names; 0: none */
    bool missing;   /* the catalog names a file that is not there */
    char **fields;
    size_t nfields;
} sv_src;

/* The values a collection's lost+found holds, by their XXH3-128 digest
 * (seeded with valid: a document and the same bytes as bsonHex are two
 * lines): an open-addressed set, 16 bytes a line written, so that a value
 * met twice is written once. The digest zero is stored as 1 (zero marks
 * a free slot). */
typedef struct sv_held {
    XXH128_hash_t *d;
    size_t cap, n; /* cap: a power of two, or 0 */
} sv_held;

/* d's slot in h (h->cap > 0): where it is, or the free one it goes in. */
static size_t sv_held_slot(const sv_held *h, XXH128_hash_t d)
{
    size_t i = (size_t)d.low64 & (h->cap - 1);
    while ((h->d[i].low64 | h->d[i].high64) != 0 &&
           !XXH128_isEqual(h->d[i], d))
        i = (i + 1) & (h->cap - 1);
    return i;
}

/* 1 when h holds the value already, else 0 (added) or WR_ENOMEM. */
static int sv_held_add(sv_held *h, const uint8_t *val, uint32_t len,
                       bool valid)
{
    XXH128_hash_t d = XXH3_128bits_withSeed(val, len, valid);
    if ((d.low64 | d.high64) == 0)
        d.low64 = 1;
    if (2 * (h->n + 1) > h->cap) { /* at most half full */
        sv_held g = {.cap = h->cap ? 2 * h->cap : 1024, .n = h->n};
        if ((g.d = calloc(g.cap, sizeof *g.d)) == NULL)
            return WR_ENOMEM;
        for (size_t i = 0; i < h->cap; i++)
            if ((h->d[i].low64 | h->d[i].high64) != 0)
                g.d[sv_held_slot(&g, h->d[i])] = h->d[i];
        free(h->d);
        *h = g;
    }
    size_t i = sv_held_slot(h, d);
    if ((h->d[i].low64 | h->d[i].high64) != 0)
        return 1;
    h->d[i] = d;
    h->n++;
    return 0;
}

static void sv_held_clear(sv_held *h)
{
    free(h->d);
    memset(h, 0, sizeof *h);
}

typedef struct sv_run {
    const char *source, *dest;
    const wr_salvage_opts *o;
    wr_salvage_report *rep;
    sv_src *src;
    size_t nsrc;
    char *tmp;       /* DEST's temporary name */
    char *parent;    /* the directory holding DEST */
    wr_db *db;
    wr_coll *coll;   /* collection being filled */
    wr_salvage_coll *rc; /* its report */
    uint64_t puts;
    wri_file *lf;    /* its lost+found file, once needed */
    uint64_t lf_off;
    bool lf_dir;     /* lost+found/ made */
    sv_held held;    /* the values its lost+found holds */
} sv_run;

/* --- report ---------------------------------------------------------------- */

static void sv_coll_free(wr_salvage_coll *c)
{
    free(c->name);
    free(c->file);
    free(c->gens);
    for (size_t i = 0; i < c->nlosses; i++) {
        free(c->losses[i].after);
        free(c->losses[i].before);
        free(c->losses[i].key);
    }
    free(c->losses);
    for (size_t i = 0; i < c->nindexes; i++)
        free(c->indexes[i]);
    free(c->indexes);
}

void wr_salvage_report_free(wr_salvage_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->ncolls; i++)
        sv_coll_free(&r->colls[i]);
    free(r->colls);
    free(r->source);
    free(r->dest);
    free(r);
}

/* --- 1. the source ----------------------------------------------------------- */

static void sv_src_free(sv_run *s)
{
    for (size_t i = 0; i < s->nsrc; i++) {
        free(s->src[i].name);
        free(s->src[i].path);
        for (size_t j = 0; j < s->src[i].nfields; j++)
            free(s->src[i].fields[j]);
        free(s->src[i].fields);
    }
    free(s->src);
    s->src = NULL;
    s->nsrc = 0;
}

static sv_src *sv_src_find(sv_run *s, const char *name, bool add)
{
    for (size_t i = 0; i < s->nsrc; i++)
        if (strcmp(s->src[i].name, name) == 0)
            return &s->src[i];
    if (!add)
        return NULL;
    sv_src *n = realloc(s->src, (s->nsrc + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    s->src = n;
    memset(&n[s->nsrc], 0, sizeof n[s->nsrc]);
    if ((n[s->nsrc].name = strdup(name)) == NULL)
        return NULL;
    return &n[s->nsrc++];
}

static int sv_src_field(sv_src *c, const char *field)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i], field) == 0)
            return WR_OK;
    char **n = realloc(c->fields, (c->nfields + 1) * sizeof *n);
    if (n == NULL)
        return WR_ENOMEM;
    c->fields = n;
    if ((n[c->nfields] = strdup(field)) == NULL)
        return WR_ENOMEM;
    c->nfields++;
    return WR_OK;
}

static int sv_from_catalog(sv_run *s, const wri_catalog *cat, wr_errbuf *eb)
{
    for (size_t i = 0; i < cat->ncoll; i++) {
        const wri_cat_coll *cc = &cat->coll[i];
        uint64_t gen = s->o->previous ? cc->main.prev_gen : cc->main.gen;
        struct stat st;
        if (s->o->previous && gen == 0)
            continue; /* not in the previous snapshot */
        sv_src *c = sv_src_find(s, cc->name, true);
        if (c == NULL || (c->path = wri_path_join(s->source, cc->main.file)) ==
                             NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        c->gen = gen;
        c->missing = stat(c->path, &st) != 0;
        for (size_t j = 0; j < cc->nidx; j++)
            if (sv_src_field(c, cc->idx[j].field) != WR_OK)
                return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    return WR_OK;
}

/* What a tree file is: from its header, else from its name
 * (NAME.main.wr, NAME.idx.FIELD.wr). false: neither says. */
static bool sv_file_role(const char *path, const char *fname, char *coll,
                         char *field, uint32_t *role)
{
    wri_block *b = NULL;
    wr_errbuf e = {0};
    for (int prev = 0; prev < 2 && b == NULL; prev++)
        if (wri_block_open(path,
                           WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT |
                               (prev ? WRI_BLOCK_PREVIOUS : 0),
                           &b, &e) != WR_OK)
            b = NULL;
    if (b != NULL) {
        *role = b->cur.role;
        snprintf(coll, WRI_NAME_MAX + 1, "%s", b->cur.coll);
        snprintf(field, WRI_NAME_MAX + 1, "%s", b->cur.field);
        wri_block_close(b);
        return coll[0] != '\0';
    }
    int r = wri_tree_file_parse(fname, coll, field);
    *role = r == 1 ? WRI_ROLE_MAIN : WRI_ROLE_INDEX;
    return r != 0;
}

/* A catalog rebuilt from the tree files' headers. */
static int sv_from_headers(sv_run *s, wr_errbuf *eb)
{
    int rc;
    char **names = NULL;
    size_t n = 0;
    if ((rc = wri_dir_tree_files(s->source, &names, &n, eb)) != WR_OK)
        return rc;
    for (size_t i = 0; i < n && rc == WR_OK; i++) {
        char coll[WRI_NAME_MAX + 1], field[WRI_NAME_MAX + 1];
        uint32_t role = 0;
        char *path = wri_path_join(s->source, names[i]);
        if (path == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            break;
        }
        if (sv_file_role(path, names[i], coll, field, &role)) {
            sv_src *c = sv_src_find(s, coll, true);
            if (c == NULL)
                rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            else if (role == WRI_ROLE_INDEX && field[0] != '\0')
                rc = sv_src_field(c, field) == WR_OK
                         ? WR_OK
                         : WR_ERR(eb, WR_ENOMEM, "out of memory");
            else if (role == WRI_ROLE_MAIN && c->path == NULL)
                c->path = path, path = NULL;
        }
        free(path);
    }
    wri_names_free(names, n);
    if (rc != WR_OK)
        return rc;
    /* an index whose collection's main table is gone: nothing to rebuild */
    for (size_t i = 0; i < s->nsrc; i++)
        s->src[i].missing = s->src[i].path == NULL;
    return WR_OK;
}

static int sv_src_load(sv_run *s, wr_errbuf *eb)
{
    int rc;
    struct stat st;
    wr_salvage_report *r = s->rep;
    if (stat(s->source, &st) != 0)
        return WR_ERR(eb, WR_ENOTFOUND, "%s: %s", s->source, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        char coll[WRI_NAME_MAX + 1], field[WRI_NAME_MAX + 1];
        uint32_t role = 0;
        const char *base = strrchr(s->source, '/');
        snprintf(r->catalog, sizeof r->catalog, "none");
        if (!sv_file_role(s->source, base ? base + 1 : s->source, coll, field,
                          &role))
            return WR_ERR(eb, WR_ENOTOURS,
                          "%s: neither its header nor its name says which "
                          "collection it holds",
                          s->source);
        if (role != WRI_ROLE_MAIN)
            return WR_ERR(eb, WR_EINVAL,
                          "%s is an index file (of \"%s\" on \"%s\"): it "
                          "holds no documents; salvage the collection's "
                          "main table or its directory",
                          s->source, coll, field);
        sv_src *c = sv_src_find(s, coll, true);
        if (c == NULL || (c->path = strdup(s->source)) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        return WR_OK;
    }
    wri_catalog cat;
    wr_errbuf ce = {0};
    rc = wri_catalog_read(s->source, &cat, &ce);
    if (rc == WR_OK) {
        snprintf(r->catalog, sizeof r->catalog, "intact");
        rc = sv_from_catalog(s, &cat, eb);
        wri_catalog_free(&cat);
        return rc;
    }
    if (rc == WR_EVERSION) {
        *eb = ce;
        return rc;
    }
    if (rc != WR_ECORRUPT && rc != WR_ENOTFOUND && rc != WR_ENOTOURS) {
        *eb = ce;
        return rc;
    }
    snprintf(r->catalog, sizeof r->catalog, "rebuilt");
    snprintf(r->catalog_note, sizeof r->catalog_note,
             "%.400s; collections and indexes taken from the tree files' "
             "headers",
             rc == WR_ENOTFOUND ? "no " WR_CATALOG_NAME : ce.msg);
    if ((rc = sv_from_headers(s, eb)) != WR_OK)
        return rc;
    if (s->nsrc == 0)
        return WR_ERR(eb, WR_ENOTFOUND,
                      "%s: no catalog and no tree files: not a wrtools "
                      "database",
                      s->source);
    return WR_OK;
}

/* Keep only the collections asked for. */
static int sv_src_filter(sv_run *s, wr_errbuf *eb)
{
    const wr_salvage_opts *o = s->o;
    if (o->collections == NULL || o->ncollections == 0)
        return WR_OK;
    for (size_t i = 0; i < o->ncollections; i++)
        if (sv_src_find(s, o->collections[i], false) == NULL)
            return WR_ERR(eb, WR_EINVAL, "%s: no collection \"%s\"",
                          s->source, o->collections[i]);
    size_t k = 0;
    for (size_t i = 0; i < s->nsrc; i++) {
        bool want = false;
        for (size_t j = 0; j < o->ncollections && !want; j++)
            want = strcmp(s->src[i].name, o->collections[j]) == 0;
        if (want) {
            sv_src tmp = s->src[k];
            s->src[k++] = s->src[i];
            s->src[i] = tmp;
        }
    }
    sv_run keep = *s; /* free the rest */
    keep.src = s->src + k;
    keep.nsrc = s->nsrc - k;
    for (size_t i = 0; i < keep.nsrc; i++) {
        free(keep.src[i].name);
        free(keep.src[i].path);
        for (size_t j = 0; j < keep.src[i].nfields; j++)
            free(keep.src[i].fields[j]);
        free(keep.src[i].fields);
    }
    s->nsrc = k;
    return WR_OK;
}

/* --- 2. DEST ------------------------------------------------------------------- */

/* Remove a directory this tool made (regular files and lost+found/). */
static int sv_rmtree(const char *dir, int depth, wr_errbuf *eb)
{
    int rc = WR_OK;
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d == NULL)
        return errno == ENOENT ? WR_OK
                               : WR_ERR(eb, WR_EIO, "%s: cannot list: %s",
                                        dir, strerror(errno));
    while (rc == WR_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *p = wri_path_join(dir, de->d_name);
        if (p == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            break;
        }
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (depth > 0 || strcmp(de->d_name, SV_LOST_DIR) != 0)
                rc = WR_ERR(eb, WR_EEXIST,
                            "%s: not left by wr-salvage (holds a directory "
                            "%s); remove it yourself",
                            dir, de->d_name);
            else
                rc = sv_rmtree(p, depth + 1, eb);
        } else {
            rc = wri_io_unlink(p, eb);
        }
        free(p);
    }
    closedir(d);
    if (rc == WR_OK)
        rc = wri_io_rmdir(dir, eb);
    return rc;
}

/* DEST must not exist, or be an empty directory. */
static int sv_dest_check(sv_run *s, wr_errbuf *eb)
{
    struct stat st;
    if (stat(s->dest, &st) != 0)
        return WR_OK;
    if (!S_ISDIR(st.st_mode))
        return WR_ERR(eb, WR_EINVAL, "%s exists and is not a directory",
                      s->dest);
    DIR *d = opendir(s->dest);
    struct dirent *de;
    bool empty = true;
    if (d == NULL)
        return WR_ERR(eb, WR_EIO, "%s: cannot list: %s", s->dest,
                      strerror(errno));
    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    if (!empty)
        return WR_ERR(eb, WR_EINVAL,
                      "%s exists and is not empty: salvage writes a new "
                      "database, never into an existing one",
                      s->dest);
    return WR_OK;
}

static int sv_names(sv_run *s, wr_errbuf *eb)
{
    const char *d = s->dest;
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/')
        n--;
    const char *slash = memrchr(d, '/', n);
    const char *base = slash ? slash + 1 : d;
    size_t bl = (size_t)(d + n - base);
    size_t pl = slash ? (size_t)(slash - d) : 0;
    if (bl == 0 || (bl == 1 && base[0] == '.') ||
        (bl == 2 && base[0] == '.' && base[1] == '.'))
        return WR_ERR(eb, WR_EINVAL, "%s: not a name for a new directory", d);
    s->parent = slash == NULL ? strdup(".")
                : pl == 0     ? strdup("/")
                              : strndup(d, pl);
    size_t tl = (s->parent ? strlen(s->parent) : 0) + bl + 32;
    if (s->parent == NULL || (s->tmp = malloc(tl)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    snprintf(s->tmp, tl, "%s/.%.*s" SV_TMP_SUFFIX, s->parent, (int)bl, base);
    return WR_OK;
}

static int sv_lost_open(sv_run *s, wr_errbuf *eb)
{
    int rc;
    char *dir = NULL, *name = NULL, *path = NULL;
    if ((dir = wri_path_join(s->tmp, SV_LOST_DIR)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (!s->lf_dir && (rc = wri_io_mkdir(dir, eb)) != WR_OK)
        goto out;
    s->lf_dir = true;
    size_t n = strlen(s->rc->name) + 8;
    if ((name = malloc(n)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(name, n, "%s.jsonl", s->rc->name);
    if ((path = wri_path_join(dir, name)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    rc = wri_io_open(path, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_TRUNC, &s->lf,
                     eb);
    s->lf_off = 0;
out:
    free(dir);
    free(name);
    free(path);
    return rc;
}

/* One lost+found line: {"generation", "page", "why", "document"} in
 * canonical Extended JSON (the document round-trips exactly), or
 * "bsonHex" for a value that is not a valid document; WRI_SV_HELD when
 * one holds the value already (s->held). */
static int sv_sink_lost(void *arg, const uint8_t *val, uint32_t len,
                        bool valid, uint64_t gen, uint64_t page,
                        const char *why, wr_errbuf *eb)
{
    int rc;
    sv_run *s = arg;
    bson_t line = BSON_INITIALIZER, doc;
    wri_strbuf sb = {0};
    if ((rc = sv_held_add(&s->held, val, len, valid)) != 0)
        return rc == 1 ? WRI_SV_HELD
                       : WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (s->db == NULL) /* dry run: counted only */
        return WR_OK;
    if (s->lf == NULL && (rc = sv_lost_open(s, eb)) != WR_OK)
        return rc;
    BSON_APPEND_INT64(&line, "generation", (int64_t)gen);
    BSON_APPEND_INT64(&line, "page", (int64_t)page);
    BSON_APPEND_UTF8(&line, "why", why);
    if (valid && bson_init_static(&doc, val, len)) {
        BSON_APPEND_DOCUMENT(&line, "document", &doc);
    } else {
        char *hex = malloc(2 * (size_t)len + 1);
        if (hex == NULL) {
            bson_destroy(&line);
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < len; i++)
            snprintf(hex + 2 * i, 3, "%02x", val[i]);
        hex[2 * (size_t)len] = '\0';
        BSON_APPEND_UTF8(&line, "bsonHex", hex);
        free(hex);
    }
    if (wri_ejson_append(&sb, bson_get_data(&line), line.len, false) !=
        WR_OK) {
        bson_destroy(&line);
        free(sb.p);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    bson_destroy(&line);
    sb.p[sb.len++] = '\n'; /* the buffer keeps room for its NUL */
    rc = wri_io_pwrite(s->lf, sb.p, sb.len, s->lf_off, eb);
    s->lf_off += sb.len;
    free(sb.p);
    return rc;
}

static int sv_lost_close(sv_run *s, wr_errbuf *eb)
{
    int rc = WR_OK;
    sv_held_clear(&s->held);
    if (s->lf != NULL) {
        rc = wri_io_fsync(s->lf, eb);
        wri_io_close(s->lf);
        s->lf = NULL;
    }
    return rc;
}

/* A document for the collection; WRI_SV_TO_LOST when it had to go to
 * lost+found instead (the engine refuses its _id), WRI_SV_HELD when that
 * holds it already. */
static int sv_sink_keep(void *arg, const uint8_t *val, uint32_t len,
                        wr_errbuf *eb)
{
    int rc;
    sv_run *s = arg;
    bson_t doc;
    bool replaced = false;
    if (s->db == NULL)
        return WR_OK;
    if (!bson_init_static(&doc, val, len))
        return WR_ERR(eb, WR_ECORRUPT, "a checked document is not BSON");
    rc = wr_coll_put(s->coll, &doc, &replaced, eb);
    if (rc == WR_EINVAL) {
        char why[1100];
        snprintf(why, sizeof why, "the engine refuses it: %s", eb->msg);
        wr_errbuf_clear(eb);
        if ((rc = sv_sink_lost(arg, val, len, true, 0, 0, why, eb)) < 0)
            return rc;
        return rc == WRI_SV_HELD ? rc : WRI_SV_TO_LOST;
    }
    if (rc != WR_OK)
        return rc;
    if (replaced)
        return WR_ERR(eb, WR_ECORRUPT,
                      "%s: a key was recovered twice (salvage bug)",
                      s->rc->name);
    if (++s->puts % SV_CHECKPOINT_EVERY == 0)
        rc = wr_db_checkpoint(s->db, eb);
    return rc;
}

static int sv_dest_open(sv_run *s, wr_errbuf *eb)
{
    int rc;
    struct stat st;
    uint32_t P = WRI_PAGE_DEFAULT;
    for (size_t i = 0; i < s->nsrc; i++) {
        wri_block *b = NULL;
        wr_errbuf e = {0};
        if (s->src[i].path != NULL &&
            wri_block_open(s->src[i].path, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT,
                           &b, &e) == WR_OK) {
            P = WRI_MAX(P, b->page_size);
            wri_block_close(b);
        }
    }
    if (stat(s->tmp, &st) == 0 && (rc = sv_rmtree(s->tmp, 0, eb)) != WR_OK)
        return rc;
    wr_db_opts dopts = {.create = true, .page_size = P,
                        .holder = "wr-salvage", .old_names = true};
    return wr_db_open(s->tmp, &dopts, &s->db, eb);
}

/* --- 3. per collection ------------------------------------------------------- */

static void sv_progress_fwd(const wr_salvage_progress *p, void *arg)
{
    const wr_salvage_opts *o = arg;
    o->progress(p, o->progress_arg);
}

/* The whole collection is lost: one loss naming every key. */
static int sv_loss_tree(wr_salvage_coll *c)
{
    wr_salvage_loss *l = calloc(1, sizeof *l);
    if (l == NULL)
        return WR_ENOMEM;
    snprintf(l->what, sizeof l->what, "tree");
    snprintf(l->why, sizeof l->why, "%.390s", c->note);
    free(c->losses);
    c->losses = l;
    c->nlosses = 1;
    return WR_OK;
}

static int sv_one(sv_run *s, sv_src *src, wr_salvage_coll *c, wr_errbuf *eb)
{
    int rc;
    wri_sv_sink sink = {sv_sink_keep, sv_sink_lost, s};
    wri_sv_tree_opts to = {.gen = src->gen,
                           .previous = s->o->previous,
                           .sink = &sink,
                           .progress = s->o->progress ? sv_progress_fwd : NULL,
                           .progress_arg = (void *)s->o,
                           .interrupted = s->o->interrupted};
    /* a name that is not UTF-8 (an older wr-load let one through) gets
     * its stray bytes written %XX: DEST's catalog holds only UTF-8 */
    if ((c->name = wri_name_utf8(src->name)) == NULL ||
        (src->path != NULL && (c->file = strdup(src->path)) == NULL))
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    c->renamed = strcmp(c->name, src->name) != 0;
    if (c->renamed && sv_src_find(s, c->name, false) != NULL)
        return WR_ERR(eb, WR_EEXIST,
                      "%s: a collection whose name is not UTF-8 would be "
                      "salvaged as \"%s\", a name the source has too; "
                      "salvage it alone (--collection) into another DEST",
                      s->source, c->name);
    if (src->nfields > 0 &&
        (c->indexes = calloc(src->nfields, sizeof *c->indexes)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (size_t i = 0; i < src->nfields; i++, c->nindexes++) {
        if ((c->indexes[i] = wri_name_utf8(src->fields[i])) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        c->renamed = c->renamed || strcmp(c->indexes[i], src->fields[i]);
    }
    s->rc = c;
    if (s->db != NULL) {
        if ((rc = wr_coll_open(s->db, c->name, true, &s->coll, eb)) != WR_OK)
            return rc;
        for (size_t i = 0; i < c->nindexes; i++)
            if ((rc = wr_coll_add_index(s->coll, c->indexes[i], eb)) != WR_OK)
                return rc;
    }
    if (src->missing || src->path == NULL) {
        snprintf(c->note, sizeof c->note, "%s",
                 src->path ? "its main-table file is missing"
                           : "no main-table file: only indexes remain");
        return sv_loss_tree(c) == WR_OK
                   ? WR_OK
                   : WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    rc = wri_salvage_tree(src->path, &to, c, &s->rep->bytes_scanned, eb);
    if (rc == WR_ENOTOURS) { /* nothing to read at all: a loss, not an
                                environment problem */
        snprintf(c->note, sizeof c->note, "%.500s", eb->msg);
        wr_errbuf_clear(eb);
        if ((rc = sv_loss_tree(c)) != WR_OK)
            return WR_ERR(eb, rc, "out of memory");
    }
    if (rc == WR_OK)
        rc = sv_lost_close(s, eb);
    return rc;
}

static int sv_finish(sv_run *s, wr_errbuf *eb)
{
    int rc;
    char *lost = NULL;
    if ((rc = wr_db_checkpoint(s->db, eb)) != WR_OK)
        return rc;
    wr_db_close(s->db);
    s->db = NULL;
    if (s->lf_dir) {
        if ((lost = wri_path_join(s->tmp, SV_LOST_DIR)) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        rc = wri_io_fsync_dir(lost, eb);
        free(lost);
        if (rc != WR_OK || (rc = wri_io_fsync_dir(s->tmp, eb)) != WR_OK)
            return rc;
    }
    if (s->o->progress != NULL) {
        wr_salvage_progress p = {"verifying", s->tmp, 0, 0};
        s->o->progress(&p, s->o->progress_arg);
    }
    wr_errbuf ve = {0};
    if ((rc = wr_verify_simple(s->tmp, false, &ve)) != WR_OK)
        return WR_ERR(eb, rc == WR_ECORRUPT ? WR_ECORRUPT : rc,
                      "the salvaged database failed verification, nothing "
                      "was named %s: %s",
                      s->dest, ve.msg);
    s->rep->verified = true;
    if ((rc = wri_io_rename(s->tmp, s->dest, eb)) != WR_OK)
        return rc;
    s->rep->written = true;
    return wri_io_fsync_dir(s->parent, eb);
}

/* A main-table file of a newer format is refused before DEST is made, as
 * a newer catalog is: its pages are not this build's to judge, so reading
 * it would report a loss that is not one. The page source's open is every
 * tool's rule (FORMAT.md "Choosing a slot on open", step 2: a slot whose
 * CRC holds says a newer version); anything else it finds is the
 * salvage's to report. */
static int sv_src_versions(const sv_run *s, wr_errbuf *eb)
{
    wri_ps_cfg cfg = {.tolerant = true};
    for (size_t i = 0; i < s->nsrc; i++) {
        const sv_src *c = &s->src[i];
        wri_ps *ps = NULL;
        wr_errbuf pe = {0};
        if (c->missing || c->path == NULL)
            continue;
        int rc = wri_ps_open(c->path, &cfg, &ps, &pe);
        wri_ps_close(ps);
        if (rc == WR_EVERSION) {
            *eb = pe;
            return rc;
        }
    }
    return WR_OK;
}

static int sv_run_all(sv_run *s, wr_errbuf *eb)
{
    int rc;
    wr_salvage_report *r = s->rep;
    if ((rc = sv_src_load(s, eb)) != WR_OK ||
        (rc = sv_src_filter(s, eb)) != WR_OK ||
        (rc = sv_src_versions(s, eb)) != WR_OK)
        return rc;
    if ((r->colls = calloc(s->nsrc ? s->nsrc : 1, sizeof *r->colls)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (!s->o->dry_run && (rc = sv_dest_open(s, eb)) != WR_OK)
        return rc;
    for (size_t i = 0; i < s->nsrc; i++) {
        r->ncolls++;
        if ((rc = sv_one(s, &s->src[i], &r->colls[i], eb)) != WR_OK)
            return rc;
    }
    if (!s->o->dry_run && (rc = sv_finish(s, eb)) != WR_OK)
        return rc;
    for (size_t i = 0; i < r->ncolls; i++)
        if (!r->colls[i].complete)
            return WR_ERR(eb, WR_ECORRUPT,
                          "%s: collection \"%s\": not everything could be "
                          "recovered (the report says what)",
                          s->source, r->colls[i].name);
    return WR_OK;
}

int wr_salvage(const char *source, const char *dest,
               const wr_salvage_opts *opts, wr_salvage_report **out,
               wr_errbuf *eb)
{
    int rc;
    wr_salvage_opts none = {0};
    sv_run s;
    memset(&s, 0, sizeof s);
    s.source = source;
    s.dest = dest;
    s.o = opts != NULL ? opts : &none;
    *out = NULL;
    if ((s.rep = calloc(1, sizeof *s.rep)) == NULL ||
        (s.rep->source = strdup(source)) == NULL ||
        (s.rep->dest = strdup(dest)) == NULL) {
        wr_salvage_report_free(s.rep);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    s.rep->dry_run = s.o->dry_run;
    s.rep->previous = s.o->previous;
    *out = s.rep;
    if ((rc = sv_names(&s, eb)) == WR_OK &&
        (rc = sv_dest_check(&s, eb)) == WR_OK)
        rc = sv_run_all(&s, eb);
    if (s.lf != NULL) {
        wri_io_close(s.lf);
        s.lf = NULL;
    }
    sv_held_clear(&s.held);
    wr_db_close(s.db);
    s.db = NULL;
    if (rc != WR_OK && rc != WR_ECORRUPT && !s.o->dry_run && s.tmp != NULL) {
        wr_errbuf scratch = {0};
        size_t n = strnlen(eb->msg, sizeof eb->msg - 1);
        (void)sv_rmtree(s.tmp, 0, &scratch); /* best effort: no DEST */
        if (rc != WR_EINVAL) /* a refused request was never begun */
            snprintf(eb->msg + n, sizeof eb->msg - n, "; %s",
                     s.rep->written
                         ? "DEST is in place, complete and verified, but "
                           "its directory could not be synced"
                         : "nothing was written (no DEST)");
    }
    if (rc == WR_ECORRUPT && !s.rep->verified && !s.o->dry_run &&
        s.tmp != NULL) {
        wr_errbuf scratch = {0};
        (void)sv_rmtree(s.tmp, 0, &scratch);
    }
    sv_src_free(&s);
    free(s.tmp);
    free(s.parent);
    return rc;
}
