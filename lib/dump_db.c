/*
 * dump_db.c -- wr_dump() and its targets: one tree file, or a database
 * directory (the catalog shown, then each file it names at the snapshot's
 * generation; without a readable catalog every *.wr file at its newest
 * checkpoint, its role read from its own header). The modes themselves
 * are dump.c and dump_page.c.
 *
 * Calls pagesrc (through dump.c), catalog.
 */
#include "dump.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>

/* --- files and databases ------------------------------------------ */

typedef struct dtarget {
    char *path;
    const char *name;  /* as shown: the file name inside a database */
    bool want_gen;
    uint64_t gen;
    bool catalog;      /* named by the catalog: role, coll, field known */
    uint32_t role;
    const char *coll;
    const char *field;
    char *own;         /* coll read from the file's header (no catalog) */
} dtarget;

/* Dump one tree file in the mode asked for; jarr (JSON) is the "files"
 * array. Errors that stop the whole dump are returned; a file that cannot
 * be read as ours inside a database is recorded and skipped. */
static int dump_target(dctx *x, const dtarget *t, bool in_db, bson_t *jarr,
                       uint64_t idx, wr_errbuf *eb)
{
    int rc;
    dump_file df;
    bson_t jf, *j = NULL;
    wr_errbuf ob = {0};
    const wr_dump_opts *o = x->o;
    dx_file_begin(x, t->path);
    x->st->files++;
    rc = df_open(x, &df, t->path, t->want_gen, t->gen, o->previous, &ob);
    if (jarr != NULL) {
        char ik[24];
        snprintf(ik, sizeof ik, "%" PRIu64, idx);
        bson_append_document_begin(jarr, ik, -1, &jf);
        j = &jf;
        j_str(j, "path", t->path);
        if (in_db)
            j_str(j, "file", t->name);
    }
    if (o->mode != WR_DUMP_DOCS)
        dx_print(x, "%sfile %s\n", in_db ? "\n" : "", t->path);
    if (rc != WR_OK) {
        if (in_db && (rc == WR_ENOTOURS || rc == WR_ECORRUPT ||
                      rc == WR_ENOTFOUND)) {
            /* the catalog names it: a file of ours that lost its header */
            dx_finding(x, WR_CHECK_HEADER, 0, 0, "a wrtools tree file", NULL,
                       "%s", ob.msg);
            rc = WR_OK;
        } else {
            wri_err_set(eb, rc, ob.src_file, ob.src_line, "%s", ob.msg);
        }
        goto out;
    }
    if (t->catalog && df.chosen >= 0) {
        const wri_slot *s = &df.cur;
        const char *field = t->field ? t->field : "";
        if (s->role != t->role || strcmp(s->coll, t->coll) != 0 ||
            strcmp(s->field, field) != 0) {
            char e[96], g[96];
            snprintf(e, sizeof e, "%s of \"%.30s\"%s%.30s",
                     t->field ? "index" : "main table", t->coll,
                     t->field ? " on " : "", field);
            snprintf(g, sizeof g, "%s of \"%.30s\"%s%.30s",
                     s->role == WRI_ROLE_INDEX ? "index" : "main table",
                     s->coll, s->field[0] ? " on " : "", s->field);
            dx_finding(x, WR_CHECK_CATALOG, 0, WRI_SLOT_ROLE, e, g,
                       "the file's header disagrees with the catalog about "
                       "what it is");
        }
    }
    /* The summary shows the slots; the modes that show one checkpoint
     * say when a damaged slot may have hidden a newer one. */
    if (o->mode == WR_DUMP_TREE || o->mode == WR_DUMP_EXTENTS ||
        o->mode == WR_DUMP_DOCS || o->mode == WR_DUMP_STATS)
        wri_ps_check_slots(df.ps, df.chosen); /* --map: to draw them */
    switch (o->mode) {
    case WR_DUMP_SUMMARY:
        rc = file_summary(x, &df, j, eb);
        break;
    case WR_DUMP_TREE:
        rc = file_tree(x, &df, j, eb);
        break;
    case WR_DUMP_EXTENTS:
        rc = file_extents(x, &df, j, eb);
        break;
    case WR_DUMP_DOCS:
        rc = file_docs(x, &df, eb);
        break;
    case WR_DUMP_STATS:
        rc = file_stats(x, &df, t->coll, t->field, j, eb);
        break;
    case WR_DUMP_MAP:
        rc = file_map(x, &df, eb);
        break;
    case WR_DUMP_PAGE:
        rc = file_page(x, &df, o->page_addr, j, eb);
        break;
    }
    df_close(&df);
out:
    if (j != NULL) {
        j_marks(x, j);
        bson_append_document_end(jarr, &jf);
    }
    return rc;
}

static void targets_free(dtarget *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].path);
        free(t[i].own);
    }
    free(t);
}

static int target_add(dtarget **t, size_t *n, const char *dir,
                      const char *name, wr_errbuf *eb)
{
    dtarget *nt = realloc(*t, (*n + 1) * sizeof *nt);
    if (nt == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    *t = nt;
    memset(&nt[*n], 0, sizeof nt[*n]);
    if ((nt[*n].path = wri_path_join(dir, name)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    nt[*n].name = strrchr(nt[*n].path, '/') + 1;
    (*n)++;
    return WR_OK;
}

/* Without a readable catalog: every tree file of the directory (the one
 * listing rule, wri_dir_tree_files), at its newest checkpoint, its role
 * read from its own header. */
static int targets_scan(const char *dir, dtarget **t, size_t *n,
                        wr_errbuf *eb)
{
    char **names = NULL;
    size_t nn = 0;
    int rc = wri_dir_tree_files(dir, &names, &nn, eb);
    for (size_t i = 0; i < nn && rc == WR_OK; i++)
        rc = target_add(t, n, dir, names[i], eb);
    wri_names_free(names, nn);
    return rc;
}

static void catalog_show(dctx *x, const char *dir, const wri_catalog *cat,
                         bson_t *j)
{
    char a[1024], b[1024];
    const char *only = x->o->collection;
    dx_print(x, "database %s: catalog generation %" PRIu64 ", %zu "
                "collection%s%s\n",
             dir, cat->gen, cat->ncoll, cat->ncoll == 1 ? "" : "s",
             only != NULL ? " (showing one)" : "");
    for (size_t i = 0; i < cat->ncoll; i++) {
        const wri_cat_coll *c = &cat->coll[i];
        if (only != NULL && strcmp(only, c->name) != 0)
            continue;
        safe_name(c->name, a, sizeof a);
        safe_name(c->main.file, b, sizeof b);
        dx_print(x, "  collection \"%s\": %s gen %" PRIu64 " (previous %"
                    PRIu64 ")\n",
                 a, b, c->main.gen, c->main.prev_gen);
        for (size_t k = 0; k < c->nidx; k++) {
            safe_name(c->idx[k].field, a, sizeof a);
            safe_name(c->idx[k].file, b, sizeof b);
            dx_print(x, "    index on \"%s\": %s gen %" PRIu64 " (previous %"
                        PRIu64 ")\n",
                     a, b, c->idx[k].gen, c->idx[k].prev_gen);
        }
    }
    if (j != NULL) {
        bson_t d, arr;
        BSON_APPEND_DOCUMENT_BEGIN(j, "database", &d);
        j_u64(&d, "catalog_generation", cat->gen);
        bson_append_array_begin(&d, "collections", -1, &arr);
        for (size_t i = 0, n = 0; i < cat->ncoll; i++) {
            const wri_cat_coll *c = &cat->coll[i];
            bson_t cd, ia;
            char ik[24];
            if (only != NULL && strcmp(only, c->name) != 0)
                continue;
            snprintf(ik, sizeof ik, "%zu", n++);
            bson_append_document_begin(&arr, ik, -1, &cd);
            j_str(&cd, "name", c->name);
            j_str(&cd, "file", c->main.file);
            j_u64(&cd, "gen", c->main.gen);
            j_u64(&cd, "prev_gen", c->main.prev_gen);
            bson_append_array_begin(&cd, "indexes", -1, &ia);
            for (size_t k = 0; k < c->nidx; k++) {
                bson_t id;
                snprintf(ik, sizeof ik, "%zu", k);
                bson_append_document_begin(&ia, ik, -1, &id);
                j_str(&id, "field", c->idx[k].field);
                j_str(&id, "file", c->idx[k].file);
                j_u64(&id, "gen", c->idx[k].gen);
                j_u64(&id, "prev_gen", c->idx[k].prev_gen);
                bson_append_document_end(&ia, &id);
            }
            bson_append_array_end(&cd, &ia);
            bson_append_document_end(&arr, &cd);
        }
        bson_append_array_end(&d, &arr);
        bson_append_document_end(j, &d);
    }
}

static void cat_target(dtarget *t, const wri_cat_file *f, const char *coll,
                       bool previous)
{
    t->want_gen = true;
    t->gen = previous ? f->prev_gen : f->gen;
    t->catalog = true;
    t->coll = coll;
    t->field = f->field;
    t->role = f->field ? WRI_ROLE_INDEX : WRI_ROLE_MAIN;
}

/* Pick the main table to dump documents from (--docs on a directory). */
static int docs_choose(dctx *x, const char *dir, dtarget *t, size_t n,
                       size_t *pick, wr_errbuf *eb)
{
    const char *want = x->o->collection;
    size_t nmain = 0, found = n;
    char list[1024] = "";
    size_t ll = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].role != WRI_ROLE_MAIN)
            continue;
        nmain++;
        if (ll + strlen(t[i].coll) + 4 < sizeof list)
            ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s%s",
                                   ll ? ", " : "", t[i].coll);
        if (want == NULL || strcmp(t[i].coll, want) == 0)
            found = i;
    }
    if (want != NULL && found == n)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: no collection \"%s\" (collections: %s)", dir, want,
                      nmain ? list : "none");
    if (want == NULL && nmain > 1)
        return WR_ERR(eb, WR_EINVAL,
                      "%s holds %zu collections (%s): choose one with "
                      "--collection NAME",
                      dir, nmain, list);
    *pick = found; /* n when there is none */
    return WR_OK;
}

/* --collection NAME (not --docs, which chooses among the files): in the
 * snapshot shown, or a usage error before anything is printed. */
static int catalog_has(const wr_dump_opts *o, const char *dir,
                       const wri_catalog *cat, wr_errbuf *eb)
{
    if (o->collection == NULL || o->mode == WR_DUMP_DOCS)
        return WR_OK;
    for (size_t i = 0; i < cat->ncoll; i++)
        if (strcmp(cat->coll[i].name, o->collection) == 0 &&
            (!o->previous || cat->coll[i].main.prev_gen != 0))
            return WR_OK;
    return WR_ERR(eb, WR_EINVAL, "%s: no collection \"%s\"%s", dir,
                  o->collection,
                  o->previous ? " in the previous snapshot" : "");
}

static int dump_dir(dctx *x, const char *dir, bson_t *root, wr_errbuf *eb)
{
    int rc;
    const wr_dump_opts *o = x->o;
    wri_catalog cat;
    wr_errbuf cb = {0};
    dtarget *t = NULL;
    size_t n = 0;
    bson_t jarr;
    bool have_cat = false;
    if (o->mode == WR_DUMP_PAGE)
        return WR_ERR(eb, WR_EINVAL,
                      "%s is a database directory: --page needs one tree "
                      "file (e.g. %s/NAME.main.wr)",
                      dir, dir);
    dx_file_begin(x, dir);
    rc = wri_catalog_read(dir, &cat, &cb);
    if (rc == WR_ENOTFOUND) {
        wr_errbuf_clear(&cb);
        rc = wri_catalog_missing(dir, &cb);
    }
    if (rc == WR_ENOTFOUND) {
        *eb = cb;
        return rc;
    } else if (rc == WR_ECORRUPT) {
        char *cp = wri_path_join(dir, WR_CATALOG_NAME);
        if (o->mode == WR_DUMP_MAP &&
            (rc = map_db_begin(x, dir, NULL, cb.msg, eb)) != WR_OK) {
            free(cp);
            goto out;
        }
        x->cur = cp != NULL ? cp : dir;
        dx_finding(x, WR_CHECK_CATALOG, 0, 0, NULL, NULL,
                   "%s; showing every *.wr file at its newest checkpoint "
                   "instead",
                   cb.msg);
        x->cur = dir;
        free(cp);
        if (root != NULL)
            j_marks(x, root);
        if ((rc = targets_scan(dir, &t, &n, eb)) != WR_OK)
            goto out;
        /* learn each file's role from its own header (quietly: the
         * file's own dump reports its damage) */
        for (size_t i = 0; i < n; i++) {
            wri_ps *ps = NULL;
            wri_ps_cfg quiet = {.tolerant = true};
            wr_errbuf ob = {0};
            int ch = -1;
            if (wri_ps_open(t[i].path, &quiet, &ps, &ob) == WR_OK &&
                wri_ps_choose(ps, WRI_PS_LATEST, 0, &ch, &ob) == WR_OK) {
                t[i].role = ps->slots[ch].slot.role;
                t[i].own = strdup(ps->slots[ch].slot.coll);
            }
            wri_ps_close(ps);
            t[i].coll = t[i].own != NULL ? t[i].own : "";
        }
    } else if (rc != WR_OK) {
        wri_err_set(eb, rc, cb.src_file, cb.src_line, "%s", cb.msg);
        return rc;
    } else {
        have_cat = true;
        if ((rc = catalog_has(o, dir, &cat, eb)) != WR_OK)
            goto out;
        if (o->mode == WR_DUMP_MAP &&
            (rc = map_db_begin(x, dir, &cat, NULL, eb)) != WR_OK)
            goto out;
        if (o->mode != WR_DUMP_DOCS)
            catalog_show(x, dir, &cat, root);
        for (size_t i = 0; i < cat.ncoll; i++) {
            const wri_cat_coll *c = &cat.coll[i];
            if (o->collection != NULL && o->mode != WR_DUMP_DOCS &&
                strcmp(o->collection, c->name) != 0)
                continue;
            if (o->previous && c->main.prev_gen == 0) {
                if (o->mode != WR_DUMP_DOCS)
                    dx_print(x, "  collection \"%s\" is not in the previous "
                                "snapshot\n", c->name);
                continue;
            }
            if ((rc = target_add(&t, &n, dir, c->main.file, eb)) != WR_OK)
                goto out;
            cat_target(&t[n - 1], &c->main, c->name, o->previous);
            for (size_t k = 0; k < c->nidx; k++) {
                if (o->previous && c->idx[k].prev_gen == 0)
                    continue;
                if ((rc = target_add(&t, &n, dir, c->idx[k].file, eb)) !=
                    WR_OK)
                    goto out;
                cat_target(&t[n - 1], &c->idx[k], c->name, o->previous);
            }
        }
    }
    if (o->mode == WR_DUMP_DOCS) {
        size_t pick = n;
        if ((rc = docs_choose(x, dir, t, n, &pick, eb)) != WR_OK)
            goto out;
        if (pick < n)
            rc = dump_target(x, &t[pick], true, NULL, 0, eb);
        goto out;
    }
    if (root != NULL)
        bson_append_array_begin(root, "files", -1, &jarr);
    for (size_t i = 0; i < n && rc == WR_OK; i++) {
        if (o->mode == WR_DUMP_MAP &&
            (rc = map_db_file(x, t[i].path, t[i].name, eb)) != WR_OK)
            break;
        rc = dump_target(x, &t[i], true, root != NULL ? &jarr : NULL, i, eb);
    }
    if (root != NULL)
        bson_append_array_end(root, &jarr);
    if (rc == WR_OK && o->mode == WR_DUMP_STATS)
        stats_totals(x, root);
out:
    rc = map_db_end(x, rc);
    if (have_cat)
        wri_catalog_free(&cat);
    targets_free(t, n);
    return rc;
}

int wr_dump(const char *path, const wr_dump_opts *o, wr_dump_stats *st,
            wr_errbuf *eb)
{
    int rc;
    struct stat sb;
    dctx x;
    wr_dump_stats local;
    memset(&x, 0, sizeof x);
    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof *st);
    if (o == NULL || path == NULL ||
        (o->out == NULL && o->json == NULL &&
         (o->mode != WR_DUMP_MAP || o->out_path == NULL)) ||
        (o->mode == WR_DUMP_DOCS && o->out == NULL))
        return WR_ERR(eb, WR_EINVAL, "wr_dump: no output");
    x.o = o;
    x.st = st;
    /* text around the results; documents are written by docs_emit */
    x.out = o->mode != WR_DUMP_DOCS && o->mode != WR_DUMP_MAP &&
                    o->json == NULL
                ? o->out
                : NULL;
    x.marks_inline = x.out != NULL;
    if (stat(path, &sb) != 0)
        return WR_ERR(eb, errno == ENOENT ? WR_ENOTFOUND : WR_EIO,
                      "%s: %s", path, strerror(errno));
    if (o->mode == WR_DUMP_MAP &&
        (rc = map_out_open(&x, path, S_ISDIR(sb.st_mode), eb)) != WR_OK)
        return rc;
    if (o->json != NULL && o->mode != WR_DUMP_DOCS)
        j_str(o->json, "path", path);
    if (S_ISDIR(sb.st_mode)) {
        rc = dump_dir(&x, path, o->mode == WR_DUMP_DOCS ? NULL : o->json, eb);
    } else {
        dtarget t = {.path = (char *)path, .name = path};
        bson_t jarr;
        bson_t *j = o->mode == WR_DUMP_DOCS ? NULL : o->json;
        if (j != NULL && o->mode != WR_DUMP_PAGE)
            bson_append_array_begin(j, "files", -1, &jarr);
        if (o->mode == WR_DUMP_PAGE && j != NULL) {
            /* the page goes at the top level: {"path", "page": {...}} */
            x.marks_inline = false;
            dx_file_begin(&x, path);
            dump_file df;
            wr_errbuf ob = {0};
            st->files++;
            rc = df_open(&x, &df, path, false, 0, o->previous, &ob);
            if (rc != WR_OK) {
                wri_err_set(eb, rc, ob.src_file, ob.src_line, "%s", ob.msg);
            } else {
                j_u64(j, "page_size", df.ps->P);
                rc = file_page(&x, &df, o->page_addr, j, eb);
                df_close(&df);
            }
            j_marks(&x, j);
        } else {
            rc = dump_target(&x, &t, false, j != NULL ? &jarr : NULL, 0, eb);
        }
        if (j != NULL && o->mode != WR_DUMP_PAGE)
            bson_append_array_end(j, &jarr);
    }
    free(x.marks);
    stats_free(&x);
    wr_errbuf deb = {0};
    int drc = docs_end(&x, &deb);
    if (drc != WR_OK) /* the output is incomplete: that comes first */
        rc = wri_err_set(eb, drc, deb.src_file, deb.src_line, "%s", deb.msg);
    if (o->mode == WR_DUMP_MAP)
        rc = map_out_close(&x, rc, eb);
    if (o->out != NULL && (fflush(o->out) != 0 || ferror(o->out)) &&
        rc == WR_OK)
        rc = WR_ERR(eb, WR_EIO, "writing the dump failed: %s",
                    strerror(errno));
    if (rc == WR_OK && st->damaged > 0)
        rc = WR_ERR(eb, WR_ECORRUPT, "%" PRIu64 " damaged place%s; the first: "
                                     "%s",
                    st->damaged, st->damaged == 1 ? "" : "s", x.first);
    return rc;
}
