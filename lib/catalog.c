/*
 * catalog.c -- the catalog file (see catalog.h).
 */
#include "catalog.h"

#include "wr_int.h"

#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

static int cat_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A tree file's name ends in ".wr" after at least one character. */
static bool cat_tree_suffix(const char *name)
{
    size_t l = strlen(name);
    return l > 3 && strcmp(name + l - 3, ".wr") == 0;
}

int wri_dir_tree_files(const char *dir, char ***names_out, size_t *n_out,
                       wr_errbuf *eb)
{
    int rc = WR_OK;
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    *names_out = NULL;
    *n_out = 0;
    if (d == NULL)
        return WR_OK;
    while ((de = readdir(d)) != NULL) {
        if (!cat_tree_suffix(de->d_name) || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL) {
                rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", dir);
                break;
            }
            names = nn;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != WR_OK) {
        wri_names_free(names, n);
        return rc;
    }
    if (n > 0)
        qsort(names, n, sizeof *names, cat_name_cmp);
    *names_out = names;
    *n_out = n;
    return WR_OK;
}

void wri_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Slot i of ps as wri_block_create leaves it: never written, or a valid
 * empty tree of generation 1 whose header names the tree fname is the
 * file of. */
static bool cat_slot_uncommitted(const wri_ps *ps, int i, const char *fname)
{
    if (!ps->slots[i].valid)
        return !wri_ps_slot_damaged(ps, i);
    const wri_slot *s = &ps->slots[i].slot;
    if (s->gen > 1 || s->root.off != 0 || s->nrecords != 0 ||
        (s->role != WRI_ROLE_MAIN && s->role != WRI_ROLE_INDEX))
        return false;
    char *own = wri_tree_file_name(s->coll, s->role == WRI_ROLE_INDEX
                                                ? s->field
                                                : NULL);
    bool self = own != NULL && strcmp(own, fname) == 0;
    free(own);
    return self;
}

bool wri_tree_file_debris(const char *dir, const char *fname)
{
    char *path = wri_path_join(dir, fname);
    struct stat st;
    wri_ps *ps = NULL;
    wri_ps_cfg quiet = {.tolerant = true};
    wr_errbuf e = {0};
    bool debris = false;
    if (path == NULL || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (st.st_size == 0) {
        debris = true; /* created, nothing written */
        goto out;
    }
    if (wri_ps_open(path, &quiet, &ps, &e) != WR_OK)
        goto out;
    debris = (ps->slots[0].valid || ps->slots[1].valid) &&
             cat_slot_uncommitted(ps, 0, fname) &&
             cat_slot_uncommitted(ps, 1, fname);
out:
    wri_ps_close(ps);
    free(path);
    return debris;
}

bool wr_is_tree_file(const char *path)
{
    struct stat st;
    wri_ps *ps = NULL;
    wri_ps_cfg quiet = {.tolerant = true};
    wr_errbuf e = {0};
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    if (cat_tree_suffix(path)) /* as wri_dir_tree_files lists them */
        return true;
    bool ours = wri_ps_open(path, &quiet, &ps, &e) != WR_ENOTOURS;
    wri_ps_close(ps);
    return ours;
}

int wri_dir_unnamed_files(const char *dir, const wri_catalog *cat,
                          wri_unnamed_fn fn, void *arg, wr_errbuf *eb)
{
    char **names = NULL;
    size_t n = 0;
    int rc = wri_dir_tree_files(dir, &names, &n, eb);
    for (size_t i = 0; rc == WR_OK && i < n; i++)
        if (cat == NULL || wri_catalog_file(cat, names[i]) == NULL)
            rc = fn(arg, dir, names[i], wri_tree_file_debris(dir, names[i]),
                    eb);
    wri_names_free(names, n);
    return rc;
}

static int cat_remove_debris(void *arg, const char *dir, const char *name,
                             bool debris, wr_errbuf *eb)
{
    (void)arg;
    if (!debris)
        return WR_OK;
    char *path = wri_path_join(dir, name);
    int rc = path == NULL ? WR_ERR(eb, WR_ENOMEM, "out of memory")
                          : wri_io_unlink(path, eb);
    free(path);
    return rc;
}

int wri_dir_remove_debris(const char *dir, const wri_catalog *cat,
                          wr_errbuf *eb)
{
    return wri_dir_unnamed_files(dir, cat, cat_remove_debris, NULL, eb);
}


/* wri_catalog_missing's count of the tree files no interrupted run left */
typedef struct cat_kept {
    size_t n;
    char *first;
} cat_kept;

static int cat_count_kept(void *arg, const char *dir, const char *name,
                          bool debris, wr_errbuf *eb)
{
    cat_kept *k = arg;
    (void)dir;
    if (debris || k->n++ > 0)
        return WR_OK;
    if ((k->first = strdup(name)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    return WR_OK;
}

int wri_catalog_missing(const char *dir, wr_errbuf *eb)
{
    cat_kept k = {0};
    int rc = wri_dir_unnamed_files(dir, NULL, cat_count_kept, &k, eb);
    if (rc == WR_OK && k.n > 0)
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "%s/" WR_CATALOG_NAME ": missing, in a directory holding "
                    "%zu tree file%s no interrupted run left (%s%s): the "
                    "database's catalog is lost (damage, as a zero-filled "
                    "one is); wr-salvage rebuilds it from the tree files' "
                    "headers",
                    dir, k.n, k.n == 1 ? "" : "s", k.first,
                    k.n > 1 ? ", ..." : "");
    else if (rc == WR_OK)
        rc = WR_ERR(eb, WR_ENOTFOUND,
                    "%s: not a wrtools database (no " WR_CATALOG_NAME ")",
                    dir);
    free(k.first);
    return rc;
}

const wri_cat_file *wri_catalog_file(const wri_catalog *cat,
                                     const char *file)
{
    for (size_t i = 0; i < cat->ncoll; i++) {
        if (strcmp(cat->coll[i].main.file, file) == 0)
            return &cat->coll[i].main;
        for (size_t j = 0; j < cat->coll[i].nidx; j++)
            if (strcmp(cat->coll[i].idx[j].file, file) == 0)
                return &cat->coll[i].idx[j];
    }
    return NULL;
}

/* "the main table of collection "X"" or "the index on "F" of collection
 * "X"": what a tree is, in messages */
static void cat_tree_desc(const char *coll, const char *field, char *out,
                          size_t len)
{
    if (field != NULL)
        snprintf(out, len, "the index on \"%s\" of collection \"%s\"", field,
                 coll);
    else
        snprintf(out, len, "the main table of collection \"%s\"", coll);
}

int wri_catalog_file_free(const wri_catalog *cat, const char *dir,
                          const char *coll, const char *field,
                          const char *file, wr_errbuf *eb)
{
    char want[512], have[512];
    for (size_t i = 0; i < cat->ncoll; i++) {
        const wri_cat_coll *c = &cat->coll[i];
        for (size_t j = 0; j <= c->nidx; j++) {
            const wri_cat_file *f = j ? &c->idx[j - 1] : &c->main;
            if (strcmp(f->file, file) != 0)
                continue;
            cat_tree_desc(coll, field, want, sizeof want);
            cat_tree_desc(c->name, f->field, have, sizeof have);
            return WR_ERR(eb, WR_EINVAL,
                          "%s/%s: the file %s would need is already %s; "
                          "refused, nothing changed (choose another %s)",
                          dir, file, want, have,
                          field != NULL ? "field or collection name"
                                        : "collection name");
        }
    }
    return WR_OK;
}

int wri_check_coll_name(const char *name, wr_errbuf *eb)
{
    size_t n = strlen(name);
    int rc = wri_check_coll_name_old(name, eb);
    if (rc != WR_OK)
        return rc;
    /* NAME.main.wr and NAME.idx.FIELD.wr can be told apart, and NAME and
     * FIELD read back from the file name, only if NAME never holds the
     * separator: the first ".idx." of a tree file's name is where NAME
     * ends (the collision of "c.idx.x" with the index on "x.main" of "c"
     * is gone, and wri_tree_file_parse reads the name it was given) */
    if (strstr(name, WRI_IDX_SEP) != NULL ||
        (n >= 4 && strcmp(name + n - 4, ".idx") == 0))
        return WR_ERR(eb, WR_EINVAL,
                      "collection name \"%s\" must not contain \"" WRI_IDX_SEP
                      "\" or end in \".idx\": tree file names use it to "
                      "separate a collection from an index field (e.g. "
                      "NAME" WRI_IDX_SEP "FIELD.wr), so \"%s.main.wr\" could be "
                      "another collection's index file",
                      name, name);
    return WR_OK;
}

char *wri_name_utf8(const char *name)
{
    size_t n = strlen(name), k = 0;
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t l = wri_utf8_seq((const uint8_t *)name + i, n - i);
        if (l == 0) {
            k += (size_t)sprintf(out + k, "%%%02X", (unsigned char)name[i]);
            i++;
        } else {
            memcpy(out + k, name + i, l);
            k += l, i += l;
        }
    }
    out[k] = '\0';
    return out;
}

/* Names are BSON strings in the catalog and in JSON reports: UTF-8 only
 * (the catalog reader's strict check would call anything else damage). */
static int cat_check_utf8(const char *what, const char *name, wr_errbuf *eb)
{
    if (wri_utf8_check((const uint8_t *)name, strlen(name)))
        return WR_OK;
    char *shown = wri_name_utf8(name);
    int rc = WR_ERR(eb, WR_EINVAL,
                    "%s \"%s\" (invalid bytes shown as %%XX) is not valid "
                    "UTF-8: names are stored and reported as UTF-8; convert "
                    "it (e.g. iconv -f latin1 -t utf-8)",
                    what, shown ? shown : "?");
    free(shown);
    return rc;
}

int wri_check_coll_name_old(const char *name, wr_errbuf *eb)
{
    size_t n = strlen(name);
    if (n == 0 || n > WRI_NAME_MAX)
        return WR_ERR(eb, WR_EINVAL,
                      "collection name must be 1 to %d bytes, not %zu",
                      WRI_NAME_MAX, n);
    if (cat_check_utf8("collection name", name, eb) != WR_OK)
        return WR_EINVAL;
    if (name[0] == '.')
        return WR_ERR(eb, WR_EINVAL,
                      "collection name \"%s\" must not start with '.'", name);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == '/' || ch < 0x20 || ch == 0x7f)
            return WR_ERR(eb, WR_EINVAL,
                          "collection name \"%s\": character %zu not allowed "
                          "('/' or a control character)",
                          name, i + 1);
    }
    return WR_OK;
}

int wri_check_field_path(const char *field, wr_errbuf *eb)
{
    size_t n = strlen(field);
    if (n == 0 || n > WRI_NAME_MAX)
        return WR_ERR(eb, WR_EINVAL, "field path must be 1 to %d bytes",
                      WRI_NAME_MAX);
    if (cat_check_utf8("field path", field, eb) != WR_OK)
        return WR_EINVAL;
    const char *part = field;
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = (unsigned char)field[i];
        if (ch == '.' || ch == '\0') {
            if (field + i == part)
                return WR_ERR(eb, WR_EINVAL,
                              "field path \"%s\" has an empty part", field);
            if (part[0] == '$')
                return WR_ERR(eb, WR_EINVAL,
                              "field path \"%s\": a part starts with '$'",
                              field);
            part = field + i + 1;
        } else if (ch == '/' || ch < 0x20) {
            return WR_ERR(eb, WR_EINVAL,
                          "field path \"%s\": '/' or control character",
                          field);
        }
    }
    return WR_OK;
}

static void cat_file_free(wri_cat_file *f)
{
    free(f->file);
    free(f->field);
    memset(f, 0, sizeof *f);
}

void wri_catalog_free(wri_catalog *cat)
{
    for (size_t i = 0; i < cat->ncoll; i++) {
        wri_cat_coll *c = &cat->coll[i];
        free(c->name);
        cat_file_free(&c->main);
        for (size_t j = 0; j < c->nidx; j++)
            cat_file_free(&c->idx[j]);
        free(c->idx);
    }
    free(cat->coll);
    memset(cat, 0, sizeof *cat);
}

static void cat_file_append(bson_t *parent, const char *key,
                            const wri_cat_file *f)
{
    bson_t d;
    bson_append_document_begin(parent, key, -1, &d);
    if (f->field)
        BSON_APPEND_UTF8(&d, "field", f->field);
    BSON_APPEND_UTF8(&d, "file", f->file);
    BSON_APPEND_INT64(&d, "gen", (int64_t)f->gen);
    BSON_APPEND_INT64(&d, "prev_gen", (int64_t)f->prev_gen);
    bson_append_document_end(parent, &d);
}

int wri_catalog_to_bson(const wri_catalog *cat, bson_t *out)
{
    bson_t arr;
    char k[16];
    const char *kp;
    bson_init(out);
    BSON_APPEND_INT64(out, "generation", (int64_t)cat->gen);
    bson_append_array_begin(out, "collections", -1, &arr);
    for (size_t i = 0; i < cat->ncoll; i++) {
        const wri_cat_coll *c = &cat->coll[i];
        bson_t d, ia;
        bson_uint32_to_string((uint32_t)i, &kp, k, sizeof k);
        bson_append_document_begin(&arr, kp, -1, &d);
        BSON_APPEND_UTF8(&d, "name", c->name);
        BSON_APPEND_UTF8(&d, "file", c->main.file);
        BSON_APPEND_INT64(&d, "gen", (int64_t)c->main.gen);
        BSON_APPEND_INT64(&d, "prev_gen", (int64_t)c->main.prev_gen);
        bson_append_array_begin(&d, "indexes", -1, &ia);
        for (size_t j = 0; j < c->nidx; j++) {
            bson_uint32_to_string((uint32_t)j, &kp, k, sizeof k);
            cat_file_append(&ia, kp, &c->idx[j]);
        }
        bson_append_array_end(&d, &ia);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(out, &arr);
    return WR_OK;
}

/* --- decoding: every field is checked, the input is hostile ------------ */

static int cat_str(bson_iter_t *doc, const char *key, char **out, char *why,
                   size_t wl)
{
    bson_iter_t it;
    uint32_t n;
    if (!bson_iter_find_descendant(doc, key, &it) || !BSON_ITER_HOLDS_UTF8(&it)) {
        snprintf(why, wl, "field \"%s\" missing or not a string", key);
        return WR_ECORRUPT;
    }
    const char *s = bson_iter_utf8(&it, &n);
    if (n == 0 || n > WRI_NAME_MAX + 32 || strlen(s) != n) {
        snprintf(why, wl, "field \"%s\" has a bad length", key);
        return WR_ECORRUPT;
    }
    if ((*out = strdup(s)) == NULL) {
        snprintf(why, wl, "out of memory");
        return WR_ENOMEM;
    }
    return WR_OK;
}

static int cat_gen(bson_iter_t *doc, const char *key, uint64_t *out,
                   char *why, size_t wl)
{
    bson_iter_t it;
    if (!bson_iter_find_descendant(doc, key, &it) ||
        !BSON_ITER_HOLDS_INT64(&it) || bson_iter_int64(&it) < 0) {
        snprintf(why, wl, "field \"%s\" missing or not a generation", key);
        return WR_ECORRUPT;
    }
    *out = (uint64_t)bson_iter_int64(&it);
    return WR_OK;
}

static int cat_file_decode(const bson_iter_t *at, bool is_index,
                           wri_cat_file *f, char *why, size_t wl)
{
    int rc;
    bson_iter_t d, tmp;
    if (!BSON_ITER_HOLDS_DOCUMENT(at) || !bson_iter_recurse(at, &d)) {
        snprintf(why, wl, "catalog entry is not a document");
        return WR_ECORRUPT;
    }
    tmp = d;
    if ((rc = cat_str(&tmp, "file", &f->file, why, wl)) != WR_OK)
        return rc;
    if (strchr(f->file, '/') != NULL || f->file[0] == '.') {
        snprintf(why, wl, "file name \"%s\" is not a plain name", f->file);
        return WR_ECORRUPT;
    }
    tmp = d;
    if (is_index && (rc = cat_str(&tmp, "field", &f->field, why, wl)) != WR_OK)
        return rc;
    tmp = d;
    if ((rc = cat_gen(&tmp, "gen", &f->gen, why, wl)) != WR_OK)
        return rc;
    tmp = d;
    return cat_gen(&tmp, "prev_gen", &f->prev_gen, why, wl);
}

static int cat_coll_decode(const bson_iter_t *at, wri_cat_coll *c, char *why,
                           size_t wl)
{
    int rc;
    bson_iter_t d, tmp, ia, arr;
    if ((rc = cat_file_decode(at, false, &c->main, why, wl)) != WR_OK)
        return rc;
    bson_iter_recurse(at, &d);
    tmp = d;
    if ((rc = cat_str(&tmp, "name", &c->name, why, wl)) != WR_OK)
        return rc;
    tmp = d;
    if (!bson_iter_find(&tmp, "indexes") || !BSON_ITER_HOLDS_ARRAY(&tmp) ||
        !bson_iter_recurse(&tmp, &ia)) {
        snprintf(why, wl, "collection \"%s\": indexes missing", c->name);
        return WR_ECORRUPT;
    }
    arr = ia;
    size_t n = 0;
    while (bson_iter_next(&arr))
        n++;
    if (n > 1000) {
        snprintf(why, wl, "collection \"%s\": %zu indexes", c->name, n);
        return WR_ECORRUPT;
    }
    if (n > 0 && (c->idx = calloc(n, sizeof *c->idx)) == NULL) {
        snprintf(why, wl, "out of memory");
        return WR_ENOMEM;
    }
    while (bson_iter_next(&ia)) {
        if ((rc = cat_file_decode(&ia, true, &c->idx[c->nidx++], why, wl)) !=
            WR_OK)
            return rc;
    }
    return WR_OK;
}

int wri_catalog_decode(const uint8_t *buf, size_t len, wri_catalog *cat,
                       char *why, size_t wl)
{
    int rc = WR_ECORRUPT;
    bson_t doc;
    bson_iter_t it, arr;
    size_t off;
    memset(cat, 0, sizeof *cat);
    /* without our magic it may be anyone's file (WR_ENOTOURS: the caller
     * knows whether tree files stand beside it) */
    bool ours = len >= 12 && memcmp(buf + 4, WRI_CAT_MAGIC, 8) == 0;
    if (len < WRI_CAT_HDR) {
        snprintf(why, wl, "%zu bytes, shorter than the %u-byte header", len,
                 WRI_CAT_HDR);
        return ours ? WR_ECORRUPT : WR_ENOTOURS;
    }
    if (!ours) {
        size_t z = 0;
        while (z < len && buf[z] == 0)
            z++;
        snprintf(why, wl, "bad magic: not a wrtools catalog%s",
                 z == len ? " (every byte is zero, as a crash can leave a "
                            "file)"
                          : "");
        return WR_ENOTOURS;
    }
    /* The CRC first: a flipped bit anywhere, the version field included,
     * is damage (WR_ECORRUPT), never "a newer format" (issue 11 bug 1).
     * Only a catalog whose CRC holds can say it is newer. */
    uint32_t crc = wri_crc32(0, buf + 4, len - 4);
    if (crc != wri_get32(buf)) {
        snprintf(why, wl, "CRC mismatch: stored 0x%08x, computed 0x%08x",
                 wri_get32(buf), crc);
        return WR_ECORRUPT;
    }
    uint32_t version = wri_get32(buf + 12), blen = wri_get32(buf + 16);
    if (version == 0) {
        snprintf(why, wl, "format version 0");
        return WR_ECORRUPT;
    }
    if (version > WRI_CAT_VERSION) {
        snprintf(why, wl, "format version %u, this build reads up to %u",
                 version, WRI_CAT_VERSION);
        return WR_EVERSION;
    }
    if (blen != len - WRI_CAT_HDR) {
        snprintf(why, wl, "header says %u bytes of BSON, the file holds %zu",
                 blen, len - WRI_CAT_HDR);
        return WR_ECORRUPT;
    }
    if (wri_get32(buf + 28) != 0) {
        snprintf(why, wl, "reserved bytes 28-31 are not zero");
        return WR_ECORRUPT;
    }
    cat->gen = wri_get64(buf + 20);
    char bwhy[160] = "";
    if (wri_bson_check(buf + WRI_CAT_HDR, blen, &off, bwhy, sizeof bwhy) !=
            WR_OK ||
        !bson_init_static(&doc, buf + WRI_CAT_HDR, blen)) {
        /* the CRC holds: these are the bytes a writer meant. A name that
         * is not UTF-8 is what a wr-load before the check could write */
        const char *utf = strstr(bwhy, "UTF-8");
        snprintf(why, wl, "catalog document is not valid BSON (byte %zu%s%s)%s",
                 WRI_CAT_HDR + off, utf ? ": " : "", utf ? utf : "",
                 utf ? ", with its CRC holding: a collection name or index "
                       "field that is not UTF-8, as an older wr-load let "
                       "through; wr-salvage recovers every collection "
                       "(that one renamed)"
                     : "");
        return WR_ECORRUPT;
    }
    if (!bson_iter_init_find(&it, &doc, "collections") ||
        !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) {
        snprintf(why, wl, "no collections array");
        return WR_ECORRUPT;
    }
    bson_iter_t cnt = arr;
    size_t n = 0;
    while (bson_iter_next(&cnt))
        n++;
    if (n > 0 && (cat->coll = calloc(n, sizeof *cat->coll)) == NULL) {
        snprintf(why, wl, "out of memory");
        return WR_ENOMEM;
    }
    while (bson_iter_next(&arr)) {
        if ((rc = cat_coll_decode(&arr, &cat->coll[cat->ncoll++], why, wl)) !=
            WR_OK)
            goto fail;
    }
    return WR_OK;
fail:
    wri_catalog_free(cat);
    return rc;
}

int wri_catalog_read(const char *dir, wri_catalog *cat, wr_errbuf *eb)
{
    int rc;
    char *path = wri_path_join(dir, WR_CATALOG_NAME);
    uint8_t *buf = NULL;
    size_t size;
    char why[512];
    memset(cat, 0, sizeof *cat);
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_io_read_whole(path, WRI_CAT_MAX, "a catalog", &buf, &size,
                                eb)) != WR_OK)
        goto out;
    rc = wri_catalog_decode(buf, size, cat, why, sizeof why);
    if (rc == WR_ENOTOURS) {
        /* beside tree files it is our catalog, damaged (a zero-filled
         * one is what a crash leaves): not "not a database" */
        char **names = NULL;
        size_t n = 0;
        if ((rc = wri_dir_tree_files(dir, &names, &n, eb)) != WR_OK)
            goto out;
        if (n > 0) {
            size_t l = strlen(why);
            snprintf(why + l, sizeof why - l,
                     ", in a directory holding %zu tree file%s (%s%s)", n,
                     n == 1 ? "" : "s", names[0], n > 1 ? ", ..." : "");
        }
        rc = n > 0 ? WR_ECORRUPT : WR_ENOTOURS;
        wri_names_free(names, n);
    }
    if (rc != WR_OK)
        rc = WR_ERR(eb, rc, "%s: %s", path, why);
out:
    free(buf);
    free(path);
    return rc;
}

int wri_catalog_encode(const wri_catalog *cat, uint8_t **buf_out,
                       size_t *len_out, wr_errbuf *eb)
{
    bson_t doc;
    uint8_t *buf;
    wri_catalog_to_bson(cat, &doc);
    size_t len = WRI_CAT_HDR + doc.len;
    if ((buf = calloc(1, len)) == NULL) {
        bson_destroy(&doc);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    memcpy(buf + 4, WRI_CAT_MAGIC, 8);
    wri_put32(buf + 12, WRI_CAT_VERSION);
    wri_put32(buf + 16, doc.len);
    wri_put64(buf + 20, cat->gen);
    memcpy(buf + WRI_CAT_HDR, bson_get_data(&doc), doc.len);
    wri_put32(buf, wri_crc32(0, buf + 4, len - 4));
    bson_destroy(&doc);
    *buf_out = buf;
    *len_out = len;
    return WR_OK;
}

int wri_catalog_refuse_link(const char *dir, wr_errbuf *eb)
{
    char *path = wri_path_join(dir, WR_CATALOG_NAME);
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    int rc = wri_io_refuse_link(path, dir, dir, "not written",
                                "a new catalog would replace the link, not "
                                "the file it points to, which would be left "
                                "stale while the database moves on",
                                eb);
    free(path);
    return rc;
}

int wri_catalog_write(const char *dir, const wri_catalog *cat, bool *renamed,
                      wr_errbuf *eb)
{
    int rc;
    uint8_t *buf;
    size_t len;
    if (renamed != NULL)
        *renamed = false;
    if ((rc = wri_catalog_refuse_link(dir, eb)) != WR_OK ||
        (rc = wri_catalog_encode(cat, &buf, &len, eb)) != WR_OK)
        return rc;
    rc = wri_io_write_atomic(dir, WR_CATALOG_NAME, buf, len, renamed, eb);
    free(buf);
    return rc;
}
