/*
 * db.c -- databases, collections and their secondary indexes (wr.h).
 *
 * Each collection has a main tree (_id key -> document) and one tree per
 * index (key { "": value, "": _id }, empty value). Every put and delete
 * keeps the indexes in step with the main tree. wr_db_checkpoint() commits
 * each changed tree file, then the catalog naming the generation of every
 * file (DESIGN decision 6): a crash before the catalog's rename leaves the
 * previous snapshot, whose generations are still in the files' slots.
 *
 * Memory: after every change the trees' loaded pages (db->mem, a running
 * total each tree moves as its own changes) and the gathered-write
 * buffers of the trees being written (db->runs, which each tree's block
 * handle moves: up to WRI_BLOCK_RUN from its first write to its commit,
 * all of them within a quarter of the budget) are weighed against
 * opts.memory; past it,
 * every tree writes its changed pages early and forgets pages, the
 * coldest first, until pages and buffers hold half the budget (db_bound),
 * so a load of any size runs in bounded memory. Early writes commit nothing
 * (btree.h): a crash leaves the last checkpoint, and without checkpoints
 * the whole run stays one atomic change.
 */
#include "diag.h"
#include "wr_int.h"


#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define WR_MAX_DOC (16u << 20) /* BSON's document size limit */

typedef struct db_tree {
    wri_cat_file *cf; /* its catalog entry */
    wri_block *blk;
    wri_btree *bt;
    bool fresh; /* created since the last checkpoint */
    bool created; /* its file was made by this handle (maybe uncommitted) */
} db_tree;

struct wr_coll {
    wr_db *db;
    size_t ci; /* index into db->cat.coll */
    db_tree main;
    db_tree *idx;
    size_t nidx;
};

struct wr_db {
    char *dir;
    wr_db_opts opts;
    bool readonly;
    wri_catalog cat;
    bool cat_dirty; /* a collection or index was added, or the last
                       catalog write failed (wr_db_checkpoint) */
    wr_coll **colls; /* parallel to cat.coll; NULL until opened */
    wri_lock *lock;
    bool made_dir; /* wr_db_open created the directory */
    uint64_t mem; /* the open trees' mem, summed as it moves (btree.h) */
    uint64_t runs; /* their blocks' gathered-write buffers (block.h held) */
};

struct wr_doc_cursor {
    wri_cursor *cur;
    bool started;
    bool keys; /* index cursor: return keys */
    bool nocheck; /* the caller checks (wri_doc_cursor_check) */
    wri_bson_memo *memo; /* documents: their shapes (NULL: none) */
};

/* --- open / close ------------------------------------------------------ */

static int db_dir_prepare(const char *dir, bool create, bool *made,
                          wr_errbuf *eb)
{
    struct stat st;
    *made = false;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return WR_ERR(eb, WR_EINVAL, "%s: not a directory", dir);
        return WR_OK;
    }
    if (errno != ENOENT || !create)
        return WR_ERR(eb, WR_ENOTFOUND, "%s: no such database directory",
                      dir);
    int rc = wri_io_mkdir(dir, eb);
    *made = rc == WR_OK;
    return rc;
}

int wr_db_open(const char *dir, const wr_db_opts *opts, wr_db **out,
               wr_errbuf *eb)
{
    int rc;
    wr_db *db = calloc(1, sizeof *db);
    if (db == NULL || (db->dir = strdup(dir)) == NULL) {
        free(db);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    if (opts != NULL)
        db->opts = *opts;
    db->readonly = db->opts.readonly || db->opts.previous;
    if (db->opts.page_size == 0)
        db->opts.page_size = WRI_PAGE_DEFAULT;
    if (db->opts.memory == 0)
        db->opts.memory = WR_DEFAULT_MEMORY;
    if ((rc = db_dir_prepare(dir, db->opts.create && !db->readonly,
                             &db->made_dir, eb)) != WR_OK)
        goto fail;
    if (!db->readonly &&
        (rc = wri_io_lock_dir(dir, db->opts.holder ? db->opts.holder : "wrtools",
                              &db->lock, eb)) != WR_OK)
        goto fail;
    if (!db->readonly && (rc = wri_catalog_refuse_link(dir, eb)) != WR_OK)
        goto fail;
    rc = wri_catalog_read(dir, &db->cat, eb);
    if (rc == WR_ENOTFOUND) { /* a lost catalog is damage, never "new" */
        wr_errbuf_clear(eb);
        rc = wri_catalog_missing(dir, eb);
    }
    if (rc == WR_ENOTFOUND && db->opts.create && !db->readonly) {
        wr_errbuf_clear(eb);
        rc = WR_OK;
        db->cat_dirty = true; /* a new database: the catalog comes at the
                                 first checkpoint */
    } else if (rc != WR_OK) {
        goto fail;
    }
    /* under the lock: tree files a run that stopped before it committed
     * left behind (proven, wri_tree_file_debris) go */
    if (!db->readonly &&
        (rc = wri_dir_remove_debris(dir, &db->cat, eb)) != WR_OK)
        goto fail;
    if (db->cat.ncoll > 0 &&
        (db->colls = calloc(db->cat.ncoll, sizeof *db->colls)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto fail;
    }
    *out = db;
    return WR_OK;
fail:
    wr_db_close(db);
    return rc;
}

static void tree_close(db_tree *t)
{
    wri_btree_close(t->bt);
    wri_block_close(t->blk);
    t->bt = NULL;
    t->blk = NULL;
}

static void coll_free(wr_coll *c)
{
    if (c == NULL)
        return;
    tree_close(&c->main);
    for (size_t i = 0; i < c->nidx; i++)
        tree_close(&c->idx[i]);
    free(c->idx);
    free(c);
}

/* A writer that gives up (closes without committing the rest) leaves
 * what the last committed catalog describes, and nothing else: a tree
 * file it created that the catalog on disk does not name is removed, any
 * other file it wrote is cut back to its committed size (debris past both
 * slots, e.g. pages written before a full disk stopped the run). The
 * catalog is re-read: what decides is what a reader would find. */
static void tree_leave(wr_db *db, const wri_catalog *ondisk, bool known,
                       db_tree *t)
{
    wr_errbuf e = {0};
    if (t->cf == NULL)
        return;
    const wri_cat_file *named = known ? wri_catalog_file(ondisk, t->cf->file)
                                      : NULL;
    char *path = wri_path_join(db->dir, t->cf->file);
    if (t->created && known && named == NULL) {
        tree_close(t);
        if (path != NULL)
            (void)wri_io_unlink(path, &e); /* best effort: debris either way */
    } else if (named != NULL && path != NULL) {
        /* as the disk holds it: if the file committed a checkpoint the
         * catalog never named (a later file, or the catalog, failed; or
         * its last fsync did), back to the catalog's, as the next writer
         * would do (block.c I10), so those pages can go too */
        wri_block *b = NULL;
        tree_close(t);
        if (wri_block_open_gen(path, 0, named->gen, &b, &e) == WR_OK) {
            const wri_slot_state *o = &b->slots[1 - b->chosen];
            if ((!o->valid || o->slot.gen < b->cur.gen ||
                 wri_block_erase_other(b, &e) == WR_OK))
                (void)wri_block_trim(b, &e);
        }
        wri_block_close(b);
    } else if (t->blk != NULL) {
        (void)wri_block_trim(t->blk, &e);
    }
    free(path);
}

static void db_leave(wr_db *db)
{
    wri_catalog ondisk;
    wr_errbuf e = {0};
    int rc = wri_catalog_read(db->dir, &ondisk, &e);
    bool known = rc == WR_OK || rc == WR_ENOTFOUND; /* else remove nothing */
    if (rc != WR_OK)
        memset(&ondisk, 0, sizeof ondisk);
    for (size_t i = 0; i < db->cat.ncoll && db->colls; i++) {
        wr_coll *c = db->colls[i];
        if (c == NULL)
            continue;
        tree_leave(db, &ondisk, known, &c->main);
        for (size_t j = 0; j < c->nidx; j++)
            tree_leave(db, &ondisk, known, &c->idx[j]);
    }
    if (rc == WR_OK)
        wri_catalog_free(&ondisk);
}

void wr_db_close(wr_db *db)
{
    if (db == NULL)
        return;
    bool committed = db->cat.gen > 0; /* before the catalog is freed */
    if (db->lock != NULL)
        db_leave(db);
    for (size_t i = 0; i < db->cat.ncoll && db->colls; i++)
        coll_free(db->colls[i]);
    free(db->colls);
    wri_catalog_free(&db->cat);
    wri_io_unlock_dir(db->lock); /* removes LOCK if this handle made it */
    if (db->made_dir && !committed) { /* the directory this run made */
        wr_errbuf e = {0};
        (void)wri_io_rmdir(db->dir, &e);
    }
    free(db->dir);
    free(db);
}

uint64_t wr_db_generation(const wr_db *db)
{
    return db->cat.gen;
}

size_t wr_db_ncoll(const wr_db *db)
{
    return db->cat.ncoll;
}

const char *wr_db_coll_name(const wr_db *db, size_t i)
{
    return i < db->cat.ncoll ? db->cat.coll[i].name : NULL;
}

/* --- trees --------------------------------------------------------------- */

/* The tree of t's block file; its memory counts in db->mem, its block's
 * write buffer in db->runs (all within a quarter of the budget). */
static int tree_btree(wr_db *db, const wri_cat_file *cf, db_tree *t,
                      wr_errbuf *eb)
{
    int rc = wri_btree_open(t->blk, cf->field ? 2 : 1, &t->bt, eb);
    if (rc == WR_OK) {
        t->bt->total = &db->mem;
        t->blk->held = &db->runs;
        t->blk->held_max = db->opts.memory / 4;
    }
    return rc;
}

/* Open the tree file of a catalog entry at the generation the snapshot
 * names, and check its header says what the catalog says it is. */
static int tree_open(wr_db *db, const char *coll, wri_cat_file *cf,
                     db_tree *t, wr_errbuf *eb)
{
    int rc;
    uint64_t gen = db->opts.previous ? cf->prev_gen : cf->gen;
    char *path = wri_path_join(db->dir, cf->file);
    t->cf = cf;
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    rc = wri_block_open_gen(path, db->readonly ? WRI_BLOCK_RDONLY : 0, gen,
                            &t->blk, eb);
    free(path);
    if (rc != WR_OK)
        return rc;
    uint32_t role = cf->field ? WRI_ROLE_INDEX : WRI_ROLE_MAIN;
    if (t->blk->cur.role != role || strcmp(t->blk->cur.coll, coll) != 0 ||
        strcmp(t->blk->cur.field, cf->field ? cf->field : "") != 0) {
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "%s/%s: header says %s of \"%s\"%s%s, the catalog says "
                    "%s of \"%s\"",
                    db->dir, cf->file,
                    t->blk->cur.role == WRI_ROLE_INDEX ? "index" : "main table",
                    t->blk->cur.coll, t->blk->cur.field[0] ? " on " : "",
                    t->blk->cur.field, cf->field ? "index" : "main table",
                    coll);
        return rc;
    }
    return tree_btree(db, cf, t, eb);
}

/* Create a new tree file. The catalog names no file of this name
 * (db_new_file); a leftover one is removed only when it is proven debris
 * of a run that never committed it (wri_tree_file_debris), else refused:
 * it may hold the documents of a lost catalog, or be someone's copy. */
static int tree_create(wr_db *db, const char *coll, wri_cat_file *cf,
                       db_tree *t, wr_errbuf *eb)
{
    int rc;
    char *path = wri_path_join(db->dir, cf->file);
    wri_block_cfg cfg = {.page_size = db->opts.page_size,
                         .role = cf->field ? WRI_ROLE_INDEX : WRI_ROLE_MAIN,
                         .coll = coll,
                         .field = cf->field};
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (wri_tree_file_debris(db->dir, cf->file))
            rc = wri_io_unlink(path, eb);
        else
            rc = WR_ERR(eb, WR_EEXIST,
                        "%s: a file the catalog does not name is in the way "
                        "of the new %s of \"%s\", and it is not provably "
                        "debris of an interrupted run (it holds a committed "
                        "checkpoint, or is not a wrtools file of that name): "
                        "not replaced. Move it away; if it holds documents "
                        "you need, wr-salvage gets them back",
                        path, cf->field ? "index" : "main table", coll);
        if (rc != WR_OK) {
            free(path);
            return rc;
        }
    }
    /* only now is the file this handle's: a refused one is never
     * removed as its debris (tree_leave) */
    t->cf = cf;
    t->fresh = true;
    t->created = true;
    rc = wri_block_create(path, &cfg, &t->blk, eb);
    free(path);
    if (rc != WR_OK)
        return rc;
    cf->gen = t->blk->cur.gen;
    return tree_btree(db, cf, t, eb);
}

static int coll_load(wr_db *db, size_t ci, wr_coll **out, wr_errbuf *eb)
{
    int rc;
    wri_cat_coll *cc = &db->cat.coll[ci];
    wr_coll *c = calloc(1, sizeof *c);
    if (c == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    c->db = db;
    c->ci = ci;
    if (cc->nidx > 0 && (c->idx = calloc(cc->nidx, sizeof *c->idx)) == NULL) {
        free(c);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    if ((rc = tree_open(db, cc->name, &cc->main, &c->main, eb)) != WR_OK)
        goto fail;
    for (size_t i = 0; i < cc->nidx; i++, c->nidx++)
        if ((rc = tree_open(db, cc->name, &cc->idx[i], &c->idx[i], eb)) !=
            WR_OK)
            goto fail;
    *out = c;
    return WR_OK;
fail:
    if (c->idx != NULL)
        c->nidx++; /* close the partly opened one too */
    coll_free(c);
    return rc;
}

/* The catalog arrays moved (realloc): point every open tree at its entry
 * again. */
static void coll_repoint(wr_db *db)
{
    for (size_t i = 0; i < db->cat.ncoll && db->colls != NULL; i++) {
        wr_coll *c = db->colls[i];
        if (c == NULL)
            continue;
        c->main.cf = &db->cat.coll[i].main;
        for (size_t j = 0; j < c->nidx; j++)
            c->idx[j].cf = &db->cat.coll[i].idx[j];
    }
}

/* The file name of a new tree (field NULL: coll's main table), in
 * *file_out (malloc'd), unless the catalog already names that file for
 * another tree (names older databases may hold): that file is never
 * replaced. */
static int db_new_file(wr_db *db, const char *coll, const char *field,
                       char **file_out, wr_errbuf *eb)
{
    int rc;
    char *file = wri_tree_file_name(coll, field);
    *file_out = NULL;
    if (file == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_catalog_file_free(&db->cat, db->dir, coll, field, file,
                                    eb)) != WR_OK) {
        free(file);
        return rc;
    }
    *file_out = file;
    return WR_OK;
}

int wr_coll_open(wr_db *db, const char *name, bool create, wr_coll **out,
                 wr_errbuf *eb)
{
    int rc;
    char *file = NULL;
    for (size_t i = 0; i < db->cat.ncoll; i++) {
        if (strcmp(db->cat.coll[i].name, name) != 0)
            continue;
        if (db->opts.previous && db->cat.coll[i].main.prev_gen == 0)
            return WR_ERR(eb, WR_ENOTFOUND,
                          "%s: collection \"%s\" is not in the previous "
                          "snapshot",
                          db->dir, name);
        if (db->colls[i] == NULL &&
            (rc = coll_load(db, i, &db->colls[i], eb)) != WR_OK)
            return rc;
        *out = db->colls[i];
        return WR_OK;
    }
    if (!create || db->readonly)
        return WR_ERR(eb, WR_ENOTFOUND, "%s: no collection \"%s\"", db->dir,
                      name);
    if ((rc = db->opts.old_names ? wri_check_coll_name_old(name, eb)
                                 : wri_check_coll_name(name, eb)) != WR_OK ||
        (rc = db_new_file(db, name, NULL, &file, eb)) != WR_OK)
        return rc;
    /* grow the catalog and the handle array by one */
    size_t n = db->cat.ncoll;
    wri_cat_coll *nc = realloc(db->cat.coll, (n + 1) * sizeof *nc);
    if (nc == NULL) {
        free(file);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    db->cat.coll = nc;
    coll_repoint(db);
    wr_coll **nh = realloc(db->colls, (n + 1) * sizeof *nh);
    if (nh == NULL) {
        free(file);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    db->colls = nh;
    memset(&nc[n], 0, sizeof nc[n]);
    nh[n] = NULL;
    nc[n].name = strdup(name);
    nc[n].main.file = file;
    if (nc[n].name == NULL) {
        free(file);
        nc[n].main.file = NULL;
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    db->cat.ncoll++;
    db->cat_dirty = true;
    wr_coll *c = calloc(1, sizeof *c);
    if (c == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    c->db = db;
    c->ci = n;
    nh[n] = c;
    if ((rc = tree_create(db, name, &nc[n].main, &c->main, eb)) != WR_OK)
        return rc;
    *out = c;
    return WR_OK;
}

size_t wr_coll_nindex(const wr_coll *c)
{
    return c->nidx;
}

const char *wr_coll_index_field(const wr_coll *c, size_t i)
{
    return i < c->nidx ? c->idx[i].cf->field : NULL;
}

uint64_t wr_coll_count(const wr_coll *c)
{
    return c->main.bt->nrecords;
}

/* --- memory --------------------------------------------------------------- */

/* Call fn on every open tree of the database. */
static int db_each_tree(wr_db *db, int (*fn)(db_tree *t, void *arg),
                        void *arg)
{
    int rc;
    for (size_t i = 0; i < db->cat.ncoll && db->colls != NULL; i++) {
        wr_coll *c = db->colls[i];
        if (c == NULL)
            continue;
        if ((rc = fn(&c->main, arg)) != WR_OK)
            return rc;
        for (size_t j = 0; j < c->nidx; j++)
            if ((rc = fn(&c->idx[j], arg)) != WR_OK)
                return rc;
    }
    return WR_OK;
}

uint64_t wri_db_mem(wr_db *db)
{
    return db->mem + db->runs;
}

uint64_t wri_db_runs(wr_db *db)
{
    return db->runs;
}

#ifdef WR_DIAG
static int tree_mem_add(db_tree *t, void *arg)
{
    if (t->bt != NULL)
        *(uint64_t *)arg += t->bt->mem;
    return WR_OK;
}

/* B5 summed: db->mem is the open trees' mem (every change of a tree's mem
 * moves it, btree.c). The walk is this cross-check only: the budget and
 * the tests use the running total, which the DIAG build checks here
 * after every change (every suite that writes through wr_db). */
static int db_diag_mem(wr_db *db, wr_errbuf *eb)
{
    uint64_t sum = 0;
    (void)db_each_tree(db, tree_mem_add, &sum);
    if (sum != db->mem)
        return WR_ERR(eb, WR_ECORRUPT,
                      "B5: %s: the trees hold %llu bytes, the database "
                      "counts %llu",
                      db->dir, (unsigned long long)sum,
                      (unsigned long long)db->mem);
    return WR_OK;
}
#endif

typedef struct db_shrink {
    const wri_btree *skip; /* a tree a cursor is walking: leave it */
    uint64_t total, target;
    wr_errbuf *eb;
} db_shrink;

/* Each tree keeps its share of the target, in proportion to what it
 * holds now. */
static int tree_shrink(db_tree *t, void *arg)
{
    db_shrink *s = arg;
    if (t->bt == NULL || t->bt == s->skip)
        return WR_OK;
    uint64_t keep = (uint64_t)((double)t->bt->mem * (double)s->target /
                               (double)s->total);
    return wri_btree_evict(t->bt, keep, s->eb);
}

/* Past the budget, shrink every tree (but skip) until the pages and the
 * write buffers held now fit half of it (the buffers early writes
 * allocate stay within a quarter, held_max). */
static int db_bound(wr_db *db, const wri_btree *skip, wr_errbuf *eb)
{
    WRI_DIAG(db_diag_mem, db);
    uint64_t half = db->opts.memory / 2;
    db_shrink s = {skip, db->mem, half > db->runs ? half - db->runs : 0, eb};
    if (db->mem + db->runs <= db->opts.memory)
        return WR_OK;
    return db_each_tree(db, tree_shrink, &s);
}

/* After a put, delete or get: keep the budget. One that failed without
 * changing anything (WR_ENOTFOUND, WR_EINVAL) may still have read pages. */
static int coll_done(wr_coll *c, int rc, wr_errbuf *eb)
{
    int b;
    if (rc != WR_OK && rc != WR_ENOTFOUND && rc != WR_EINVAL)
        return rc;
    if ((b = db_bound(c->db, NULL, eb)) != WR_OK)
        return b;
    return rc;
}

/* --- index maintenance --------------------------------------------------- */

typedef struct idx_op {
    wri_btree *bt;
    int mode; /* 0 check sizes, 1 insert, 2 delete */
    const char *field;
    wr_errbuf *eb;
} idx_op;

static int idx_apply_key(const bson_t *key, void *arg)
{
    idx_op *op = arg;
    switch (op->mode) {
    case 0:
        if (key->len > wri_page_max_key(op->bt->blk->page_size))
            return WR_ERR(op->eb, WR_EINVAL,
                          "index on \"%s\": key of %u bytes is longer than "
                          "the %u bytes a %u-byte page allows",
                          op->field, key->len,
                          wri_page_max_key(op->bt->blk->page_size),
                          op->bt->blk->page_size);
        return WR_OK;
    case 1:
        return wri_btree_put(op->bt, bson_get_data(key), key->len, NULL, 0,
                             NULL, op->eb);
    default: {
        int rc = wri_btree_delete(op->bt, bson_get_data(key), key->len, op->eb);
        if (rc == WR_ENOTFOUND)
            rc = WR_ERR(op->eb, WR_ECORRUPT,
                        "%s: index on \"%s\" lacks an entry the document "
                        "implies",
                        op->bt->blk->path, op->field);
        return rc;
    }
    }
}

static int idx_apply(wr_coll *c, size_t i, const bson_t *doc, int mode,
                     wr_errbuf *eb)
{
    idx_op op = {c->idx[i].bt, mode, c->idx[i].cf->field, eb};
    return wri_index_keys(doc, op.field, idx_apply_key, &op, eb);
}

static int idx_apply_all(wr_coll *c, const bson_t *doc, int mode,
                         wr_errbuf *eb)
{
    int rc;
    for (size_t i = 0; i < c->nidx; i++)
        if ((rc = idx_apply(c, i, doc, mode, eb)) != WR_OK)
            return rc;
    return WR_OK;
}

int wr_coll_add_index(wr_coll *c, const char *field, wr_errbuf *eb)
{
    int rc;
    char *file = NULL;
    wr_db *db = c->db;
    wri_cat_coll *cc = &db->cat.coll[c->ci];
    if (db->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: opened read-only", db->dir);
    for (size_t i = 0; i < c->nidx; i++)
        if (strcmp(c->idx[i].cf->field, field) == 0)
            return WR_OK;
    if ((rc = wri_check_field_path(field, eb)) != WR_OK ||
        (rc = db_new_file(db, cc->name, field, &file, eb)) != WR_OK)
        return rc;
    wri_cat_file *ni = realloc(cc->idx, (cc->nidx + 1) * sizeof *ni);
    if (ni == NULL) {
        free(file);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    cc->idx = ni;
    db_tree *nt = realloc(c->idx, (c->nidx + 1) * sizeof *nt);
    if (nt == NULL) {
        free(file);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    c->idx = nt;
    coll_repoint(db); /* the index entries moved */
    wri_cat_file *cf = &cc->idx[cc->nidx];
    memset(cf, 0, sizeof *cf);
    memset(&c->idx[c->nidx], 0, sizeof c->idx[c->nidx]);
    cf->field = strdup(field);
    cf->file = file;
    if (cf->field == NULL) {
        free(file);
        cf->file = NULL;
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    cc->nidx++;
    c->nidx++;
    db->cat_dirty = true;
    size_t i = c->nidx - 1;
    if ((rc = tree_create(db, cc->name, cf, &c->idx[i], eb)) != WR_OK)
        return rc;
    /* index what is already there */
    wr_doc_cursor *cur = NULL;
    const uint8_t *d;
    uint32_t dl;
    if ((rc = wr_doc_cursor_open(c, &cur, eb)) != WR_OK)
        return rc;
    while ((rc = wr_doc_cursor_next(cur, &d, &dl, eb)) == WR_OK) {
        bson_t doc;
        if (!bson_init_static(&doc, d, dl)) {
            rc = WR_ERR(eb, WR_ECORRUPT, "%s: a document is not BSON",
                        c->main.blk->path);
            break;
        }
        if ((rc = idx_apply(c, i, &doc, 0, eb)) != WR_OK ||
            (rc = idx_apply(c, i, &doc, 1, eb)) != WR_OK ||
            (rc = db_bound(db, c->main.bt, eb)) != WR_OK)
            break;
    }
    wr_doc_cursor_close(cur);
    return rc == WR_ENOTFOUND ? WR_OK : rc;
}

/* --- documents ----------------------------------------------------------- */

static int coll_writable(wr_coll *c, wr_errbuf *eb)
{
    if (c->db->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: opened read-only", c->db->dir);
    return WR_OK;
}

/* Remove the index entries of the stored document with this key. */
static int coll_unindex(wr_coll *c, const bson_t *key, bool *found,
                        wr_errbuf *eb)
{
    int rc;
    uint8_t *old = NULL;
    uint32_t olen = 0;
    bson_t od;
    *found = false;
    rc = wri_btree_get(c->main.bt, bson_get_data(key), key->len,
                       c->nidx ? &old : NULL, &olen, eb);
    if (rc == WR_ENOTFOUND)
        return WR_OK;
    if (rc != WR_OK)
        return rc;
    *found = true;
    if (c->nidx == 0)
        return WR_OK;
    if (!bson_init_static(&od, old, olen))
        rc = WR_ERR(eb, WR_ECORRUPT, "%s: stored document is not BSON",
                    c->main.blk->path);
    else
        rc = idx_apply_all(c, &od, 2, eb);
    free(old);
    return rc;
}

/* What a put checks before it changes anything: the document's size, its
 * _id key (made in *key, which the caller destroys on WR_OK) and every new
 * index key. */
static int coll_put_check(wr_coll *c, const bson_t *doc, bson_t *key,
                          wr_errbuf *eb)
{
    int rc;
    if (doc->len > WR_MAX_DOC)
        return WR_ERR(eb, WR_EINVAL,
                      "document of %u bytes is over BSON's 16 MiB limit",
                      doc->len);
    if ((rc = wri_key_from_doc(doc, key, eb)) != WR_OK)
        return rc;
    if (key->len > wri_page_max_key(c->main.blk->page_size))
        rc = WR_ERR(eb, WR_EINVAL,
                    "_id of %u bytes is longer than the %u bytes a %u-byte "
                    "page allows",
                    key->len, wri_page_max_key(c->main.blk->page_size),
                    c->main.blk->page_size);
    else if (c->nidx > 0)
        rc = idx_apply_all(c, doc, 0, eb);
    if (rc != WR_OK)
        bson_destroy(key);
    return rc;
}

int wr_coll_check_put(wr_coll *c, const bson_t *doc, wr_errbuf *eb)
{
    bson_t key;
    int rc = coll_put_check(c, doc, &key, eb);
    if (rc == WR_OK)
        bson_destroy(&key);
    return rc;
}

int wr_coll_put(wr_coll *c, const bson_t *doc, bool *replaced_out,
                wr_errbuf *eb)
{
    int rc;
    bson_t key;
    bool found = false;
    if ((rc = coll_writable(c, eb)) != WR_OK)
        return rc;
    if ((rc = coll_put_check(c, doc, &key, eb)) != WR_OK)
        return coll_done(c, rc, eb);
    /* without indexes the old document need not be read */
    if (c->nidx > 0 && (rc = coll_unindex(c, &key, &found, eb)) != WR_OK)
        goto out;
    if ((rc = wri_btree_put(c->main.bt, bson_get_data(&key), key.len,
                            bson_get_data(doc), doc->len,
                            c->nidx > 0 ? NULL : &found, eb)) != WR_OK ||
        (rc = idx_apply_all(c, doc, 1, eb)) != WR_OK)
        goto out;
    if (replaced_out != NULL)
        *replaced_out = found;
out:
    bson_destroy(&key);
    return coll_done(c, rc, eb);
}

int wr_coll_delete(wr_coll *c, const bson_t *id_doc, wr_errbuf *eb)
{
    int rc;
    bson_t key;
    bool found;
    if ((rc = coll_writable(c, eb)) != WR_OK)
        return rc;
    if ((rc = wri_key_from_doc(id_doc, &key, eb)) != WR_OK)
        return rc;
    if ((rc = coll_unindex(c, &key, &found, eb)) == WR_OK) {
        if (!found)
            rc = WR_ENOTFOUND;
        else
            rc = wri_btree_delete(c->main.bt, bson_get_data(&key), key.len,
                                  eb);
    }
    bson_destroy(&key);
    return coll_done(c, rc, eb);
}

int wr_coll_get(wr_coll *c, const bson_t *id_doc, uint8_t **doc_out,
                uint32_t *len_out, wr_errbuf *eb)
{
    int rc;
    bson_t key;
    if ((rc = wri_key_from_doc(id_doc, &key, eb)) != WR_OK)
        return rc;
    rc = wri_btree_get(c->main.bt, bson_get_data(&key), key.len, doc_out,
                       len_out, eb);
    bson_destroy(&key);
    int got = rc;
    if ((rc = coll_done(c, rc, eb)) != got && got == WR_OK &&
        doc_out != NULL) {
        free(*doc_out);
        *doc_out = NULL;
    }
    return rc;
}

/* --- cursors ------------------------------------------------------------- */

static int cursor_open(wri_btree *bt, bool keys, wr_doc_cursor **out,
                       wr_errbuf *eb)
{
    int rc;
    wr_doc_cursor *c = calloc(1, sizeof *c);
    if (c == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_cursor_open(bt, &c->cur, eb)) != WR_OK) {
        free(c);
        return rc;
    }
    c->keys = keys;
    if (!keys)
        c->memo = wri_bson_memo_new(); /* NULL: checks without one */
    *out = c;
    return WR_OK;
}

int wr_doc_cursor_open(wr_coll *c, wr_doc_cursor **out, wr_errbuf *eb)
{
    return cursor_open(c->main.bt, false, out, eb);
}

int wri_doc_cursor_open_nocheck(wr_coll *c, wr_doc_cursor **out,
                                wr_errbuf *eb)
{
    int rc = cursor_open(c->main.bt, false, out, eb);
    if (rc == WR_OK)
        (*out)->nocheck = true;
    return rc;
}

int wri_doc_cursor_check(wr_doc_cursor *cur, const uint8_t *doc,
                         uint32_t len, wr_errbuf *eb)
{
    return wri_cursor_check_document(cur->cur, doc, len, cur->memo, eb);
}

int wr_index_cursor_open(wr_coll *c, size_t i, wr_doc_cursor **out,
                         wr_errbuf *eb)
{
    if (i >= c->nidx)
        return WR_ERR(eb, WR_EINVAL, "no index %zu", i);
    return cursor_open(c->idx[i].bt, true, out, eb);
}

int wr_doc_cursor_next(wr_doc_cursor *cur, const uint8_t **doc,
                       uint32_t *len, wr_errbuf *eb)
{
    int rc;
    if (!cur->started) {
        cur->started = true;
        rc = wri_cursor_first(cur->cur, eb);
    } else {
        rc = wri_cursor_next(cur->cur, eb);
    }
    if (rc != WR_OK)
        return rc;
    if (cur->keys) {
        wri_cursor_key(cur->cur, doc, len);
        return WR_OK;
    }
    if ((rc = wri_cursor_value(cur->cur, doc, len, eb)) != WR_OK ||
        cur->nocheck)
        return rc;
    return wri_doc_cursor_check(cur, *doc, *len, eb);
}

void wr_doc_cursor_key(const wr_doc_cursor *cur, const uint8_t **key,
                       uint32_t *klen)
{
    wri_cursor_key(cur->cur, key, klen);
}

void wr_doc_cursor_close(wr_doc_cursor *cur)
{
    if (cur == NULL)
        return;
    wri_cursor_close(cur->cur);
    wri_bson_memo_free(cur->memo);
    free(cur);
}

/* --- checkpoint ---------------------------------------------------------- */

/* Checkpoint one tree if it changed; record its generations. */
static int tree_checkpoint(db_tree *t, bool *changed, wr_errbuf *eb)
{
    int rc;
    if (t->bt == NULL || (!t->fresh && !wri_btree_dirty(t->bt)))
        return WR_OK;
    uint64_t before = t->fresh ? 0 : t->cf->gen;
    if ((rc = wri_btree_checkpoint(t->bt, eb)) != WR_OK)
        return rc;
    t->cf->prev_gen = before;
    t->cf->gen = t->blk->cur.gen;
    t->fresh = false;
    *changed = true;
    return WR_OK;
}

int wr_db_checkpoint(wr_db *db, wr_errbuf *eb)
{
    int rc;
    bool changed = db->cat_dirty;
    if (db->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: opened read-only", db->dir);
    /* Files not changed this time keep their generation in both places. */
    for (size_t i = 0; i < db->cat.ncoll; i++) {
        wri_cat_coll *cc = &db->cat.coll[i];
        cc->main.prev_gen = cc->main.gen;
        for (size_t j = 0; j < cc->nidx; j++)
            cc->idx[j].prev_gen = cc->idx[j].gen;
    }
    for (size_t i = 0; i < db->cat.ncoll; i++) {
        wr_coll *c = db->colls[i];
        if (c == NULL)
            continue;
        if ((rc = tree_checkpoint(&c->main, &changed, eb)) != WR_OK)
            return rc;
        for (size_t j = 0; j < c->nidx; j++)
            if ((rc = tree_checkpoint(&c->idx[j], &changed, eb)) != WR_OK)
                return rc;
    }
    if (!changed)
        return WR_OK;
    db->cat.gen++;
    bool renamed = false;
    rc = wri_catalog_write(db->dir, &db->cat, &renamed, eb);
    /* after a failure the next checkpoint writes the catalog, changes or
     * not: the trees' new generations are in no durable catalog */
    db->cat_dirty = rc != WR_OK;
    if (rc != WR_OK && !renamed) { /* the old catalog is in place */
        db->cat.gen--;
        return rc;
    }
    /* the new one is (if rc: its directory's fsync failed, the next
     * checkpoint's makes it durable): its generation is the database's */
    if (rc != WR_OK)
        return rc;
    WRI_DIAG(wri_diag_db, db->dir);
    return db_bound(db, NULL, eb); /* all clean now: only forgets */
}
