/*
 * legacy.c -- listing and classifying a legacy directory (see legacy.h).
 *
 * Reading a directory is not a mutating operation, so it does not go
 * through io's numbered calls.
 */
#include "legacy.h"

#include "wr_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *ext)
{
    size_t n = strlen(s), e = strlen(ext);
    return n > e && strcmp(s + n - e, ext) == 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int coll_cmp(const void *a, const void *b)
{
    return strcmp(((const wri_legacy_coll *)a)->name,
                  ((const wri_legacy_coll *)b)->name);
}

static int push_str(char ***arr, size_t *n, const char *s)
{
    char **na = realloc(*arr, (*n + 1) * sizeof *na);
    if (na == NULL)
        return -1;
    *arr = na;
    if ((na[*n] = strdup(s)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

static void free_strs(char **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

void wri_legacy_free(wri_legacy_dir *ld)
{
    if (ld == NULL)
        return;
    for (size_t i = 0; i < ld->ncoll; i++) {
        free(ld->coll[i].name);
        free(ld->coll[i].log);
        free_strs(ld->coll[i].fields, ld->coll[i].nfields);
    }
    free(ld->coll);
    free_strs(ld->files, ld->nfiles);
    free(ld->sizes);
    free_strs(ld->orphans, ld->norphans);
    free_strs(ld->trees, ld->ntrees);
    free_strs(ld->links, ld->nlinks);
    free_strs(ld->odd, ld->nodd);
    free_strs(ld->ignored, ld->nignored);
    memset(ld, 0, sizeof *ld);
}

bool wri_legacy_log_readable(const char *dir, const char *log)
{
    wri_jsonl *r = NULL;
    wri_jsonl_line line;
    wr_errbuf e = {0};
    char *path = wri_path_join(dir, log);
    bool ok = path != NULL && wri_jsonl_open(path, &r, &e) == WR_OK &&
              wri_jsonl_next(r, &line, &e) == WR_OK;
    wri_jsonl_close(r);
    free(path);
    return ok;
}

static bool legacy_in(char *const *arr, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i], name) == 0)
            return true;
    return false;
}

bool wri_legacy_is_file(const wri_legacy_dir *ld, const char *name)
{
    return legacy_in(ld->files, ld->nfiles, name);
}

bool wri_legacy_is_link(const wri_legacy_dir *ld, const char *name)
{
    return legacy_in(ld->links, ld->nlinks, name);
}

/* The collection whose name is the longest prefix of stem followed by a
 * dot and at least one more byte; NULL if none. */
static wri_legacy_coll *legacy_split(wri_legacy_dir *ld, const char *stem,
                                     const char **field_out)
{
    wri_legacy_coll *best = NULL;
    size_t bl = 0, sl = strlen(stem);
    for (size_t i = 0; i < ld->ncoll; i++) {
        size_t n = strlen(ld->coll[i].name);
        if (n + 1 < sl && n > bl && strncmp(stem, ld->coll[i].name, n) == 0 &&
            stem[n] == '.') {
            best = &ld->coll[i];
            bl = n;
        }
    }
    if (best != NULL)
        *field_out = stem + bl + 1;
    return best;
}

static int legacy_add_field(wri_legacy_coll *c, const char *field,
                            wr_errbuf *eb)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i], field) == 0)
            return WR_OK;
    if (push_str(&c->fields, &c->nfields, field) != 0)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    qsort(c->fields, c->nfields, sizeof *c->fields, str_cmp);
    return WR_OK;
}

int wri_legacy_add_index(wri_legacy_dir *ld, const char *spec, wr_errbuf *eb)
{
    const char *field = NULL;
    wri_legacy_coll *c = legacy_split(ld, spec, &field);
    if (c == NULL)
        return WR_ERR(eb, WR_EINVAL,
                      "--index %s: no collection of that name here (wanted "
                      "NAME.FIELD where NAME.log exists)",
                      spec);
    if (wri_check_field_path(field, eb) != WR_OK)
        return WR_EINVAL;
    return legacy_add_field(c, field, eb);
}

/* A name a person may take for a log that is not NAME.log: a rotated
 * "NAME.log.1", "NAME.log.gz", an upper-case "NAME.LOG". */
static bool legacy_lookalike(const char *name)
{
    size_t e = strlen(WRI_LEGACY_LOG_EXT);
    for (const char *p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.'))
        if (p != name && strncasecmp(p, WRI_LEGACY_LOG_EXT, e) == 0 &&
            (p[e] == '\0' || p[e] == '.'))
            return true;
    return false;
}

/* What a file type is, for a message. */
static const char *legacy_type_name(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a named pipe"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "not a regular file";
}

/* A legacy name (NAME.log, NAME.FIELD.idx) that is not a regular file.
 * A symbolic link to a regular file stands for it: WR_OK, *st its
 * target's, the name added to out->links. Anything else goes to
 * out->odd, "NAME (why)": WR_ENOTFOUND (ENOMEM if that fails). */
static int legacy_odd(int dfd, const char *name, struct stat *st,
                      wri_legacy_dir *out, wr_errbuf *eb)
{
    char why[PATH_MAX + 64], target[PATH_MAX];
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = '\0';
        struct stat ts;
        if (fstatat(dfd, name, &ts, 0) != 0)
            snprintf(why, sizeof why, "a symbolic link to %s, which cannot "
                     "be read: %s", target, strerror(errno));
        else if (!S_ISREG(ts.st_mode))
            snprintf(why, sizeof why, "a symbolic link to %s, which is %s",
                     target, legacy_type_name(ts.st_mode));
        else {
            *st = ts;
            return push_str(&out->links, &out->nlinks, name) == 0
                       ? WR_OK
                       : WR_ERR(eb, WR_ENOMEM, "out of memory");
        }
    } else {
        snprintf(why, sizeof why, "%s", legacy_type_name(st->st_mode));
    }
    char *s = NULL;
    if (asprintf(&s, "%s (%s)", name, why) < 0 ||
        push_str(&out->odd, &out->nodd, s) != 0) {
        free(s);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    free(s);
    return WR_ENOTFOUND;
}

int wri_legacy_refuse_odd(const char *dir, const wri_legacy_dir *ld,
                          wr_errbuf *eb)
{
    char list[700];
    size_t k = 0;
    if (ld->nodd == 0)
        return WR_OK;
    list[0] = '\0';
    for (size_t i = 0; i < ld->nodd && k < sizeof list; i++) {
        int w = snprintf(list + k, sizeof list - k, "%s%s/%s", i ? ", " : "",
                         dir, ld->odd[i]);
        k += w < 0 ? sizeof list : (size_t)w;
    }
    return WR_ERR(eb, WR_EBADINPUT,
                  "%s: a legacy file name that is not a regular file: %s; "
                  "its data (if any) cannot be read, so nothing was done: "
                  "move it away, or make it the log itself",
                  dir, list);
}

int wri_legacy_scan(const char *dir, wri_legacy_dir *out, wr_errbuf *eb)
{
    int rc = WR_OK;
    DIR *d = NULL;
    struct dirent *e;
    struct stat st;
    char **idx = NULL;
    uint64_t *idx_sizes = NULL;
    size_t nidx = 0;
    memset(out, 0, sizeof *out);
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return WR_ERR(eb, WR_ENOTFOUND, "%s: no such directory", dir);
        return WR_ERR(eb, WR_EIO, "%s: cannot stat: %s", dir,
                      strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return WR_ERR(eb, WR_EINVAL, "%s: not a directory", dir);
    if ((d = opendir(dir)) == NULL)
        return WR_ERR(eb, errno == ENOENT ? WR_ENOTFOUND : WR_EIO,
                      "%s: cannot list: %s", dir, strerror(errno));
    int dfd = dirfd(d);
    /* errno is readdir's alone: reset before each call */
    while ((errno = 0, e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (name[0] == '.')
            continue;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        bool legacy_name = ends_with(name, WRI_LEGACY_LOG_EXT) ||
                           ends_with(name, WRI_LEGACY_IDX_EXT);
        if (legacy_name && !S_ISREG(st.st_mode)) {
            if ((rc = legacy_odd(dfd, name, &st, out, eb)) == WR_ENOMEM)
                goto out;
            if (rc != WR_OK) { /* not a regular file even through a link */
                rc = WR_OK;
                continue;
            }
        } else if (!S_ISREG(st.st_mode)) {
            continue;
        } else if (!legacy_name && legacy_lookalike(name) &&
                   push_str(&out->ignored, &out->nignored, name) != 0) {
            goto nomem;
        }
        if (strcmp(name, WR_CATALOG_NAME) == 0) {
            out->has_catalog = true;
        } else if (ends_with(name, ".wr")) {
            if (push_str(&out->trees, &out->ntrees, name) != 0)
                goto nomem;
        } else if (ends_with(name, WRI_LEGACY_LOG_EXT)) {
            size_t n = strlen(name) - strlen(WRI_LEGACY_LOG_EXT);
            wri_legacy_coll *nc =
                realloc(out->coll, (out->ncoll + 1) * sizeof *nc);
            if (nc == NULL)
                goto nomem;
            out->coll = nc;
            wri_legacy_coll *c = &nc[out->ncoll];
            memset(c, 0, sizeof *c);
            c->name = strndup(name, n);
            c->log = strdup(name);
            c->size = (uint64_t)st.st_size;
            if (c->name == NULL || c->log == NULL) {
                free(c->name);
                free(c->log);
                goto nomem;
            }
            out->ncoll++;
            if (wri_check_coll_name(c->name, eb) != WR_OK) {
                char why[sizeof eb->msg];
                snprintf(why, sizeof why, "%s", eb->msg);
                wr_errbuf_clear(eb);
                rc = WR_ERR(eb, WR_EBADINPUT, "%s/%s: %s", dir, name, why);
                goto out;
            }
        } else if (ends_with(name, WRI_LEGACY_IDX_EXT)) {
            uint64_t *ns = realloc(idx_sizes, (nidx + 1) * sizeof *ns);
            if (ns == NULL)
                goto nomem;
            idx_sizes = ns;
            idx_sizes[nidx] = (uint64_t)st.st_size;
            if (push_str(&idx, &nidx, name) != 0)
                goto nomem;
        }
    }
    if (errno != 0) {
        rc = WR_ERR(eb, WR_EIO, "%s: cannot list: %s", dir, strerror(errno));
        goto out;
    }
    if (out->ncoll > 0)
        qsort(out->coll, out->ncoll, sizeof *out->coll, coll_cmp);
    if (out->ntrees > 0)
        qsort(out->trees, out->ntrees, sizeof *out->trees, str_cmp);
    /* every legacy file, with its size */
    size_t total = out->ncoll + nidx;
    out->sizes = calloc(total ? total : 1, sizeof *out->sizes);
    if (out->sizes == NULL)
        goto nomem;
    for (size_t i = 0; i < out->ncoll; i++) {
        if (push_str(&out->files, &out->nfiles, out->coll[i].log) != 0)
            goto nomem;
        out->sizes[out->nfiles - 1] = out->coll[i].size;
    }
    for (size_t i = 0; i < nidx; i++) {
        char *stem = strndup(idx[i], strlen(idx[i]) - strlen(WRI_LEGACY_IDX_EXT));
        const char *field = NULL;
        if (stem == NULL)
            goto nomem;
        wri_legacy_coll *c = legacy_split(out, stem, &field);
        if (c == NULL) {
            if (push_str(&out->orphans, &out->norphans, idx[i]) != 0) {
                free(stem);
                goto nomem;
            }
        } else if (wri_check_field_path(field, eb) != WR_OK) {
            char why[sizeof eb->msg];
            snprintf(why, sizeof why, "%s", eb->msg);
            wr_errbuf_clear(eb);
            rc = WR_ERR(eb, WR_EBADINPUT, "%s/%s: %s", dir, idx[i], why);
            free(stem);
            goto out;
        } else if ((rc = legacy_add_field(c, field, eb)) != WR_OK) {
            free(stem);
            goto out;
        }
        free(stem);
        if (push_str(&out->files, &out->nfiles, idx[i]) != 0)
            goto nomem;
        out->sizes[out->nfiles - 1] = idx_sizes[i];
    }
    /* sort files and sizes together */
    for (size_t i = 1; i < out->nfiles; i++)
        for (size_t j = i; j > 0 && strcmp(out->files[j - 1], out->files[j]) > 0;
             j--) {
            char *t = out->files[j];
            out->files[j] = out->files[j - 1];
            out->files[j - 1] = t;
            uint64_t ts = out->sizes[j];
            out->sizes[j] = out->sizes[j - 1];
            out->sizes[j - 1] = ts;
        }
    for (size_t i = 0; i < out->nfiles; i++)
        out->bytes += out->sizes[i];
    if (out->nfiles == 0)
        out->kind = out->has_catalog ? WRI_DIR_DATABASE : WRI_DIR_EMPTY;
    else
        out->kind = out->has_catalog ? WRI_DIR_MIXED : WRI_DIR_LEGACY;
    goto out;
nomem:
    rc = WR_ERR(eb, WR_ENOMEM, "out of memory listing %s", dir);
out:
    if (d != NULL)
        closedir(d);
    free_strs(idx, nidx);
    free(idx_sizes);
    if (rc != WR_OK)
        wri_legacy_free(out);
    return rc;
}

int wri_legacy_line_add(wri_sort *s, const wri_jsonl_line *line,
                        const bson_t *key, wr_errbuf *eb)
{
    if (line->is_delete)
        return wri_sort_add(s, bson_get_data(key), key->len, NULL, 0,
                            line->lineno, line->offset, WRI_SREC_DEL, eb);
    return wri_sort_add(s, bson_get_data(key), key->len,
                        bson_get_data(&line->doc), line->doc.len,
                        line->lineno, line->offset, 0, eb);
}

bool wri_legacy_line_torn(const wri_jsonl_line *line, bool unparsed)
{
    return unparsed && line->torn;
}
