/*
 * reader.c -- reading a database beside writers (wr_read_begin, wr.h).
 *
 * A reader holds DIR/LOCK shared (lock.c) for as long as it reads, so no
 * writer can move a checkpoint under it (DESIGN decision 12). Without the
 * lock (WR_READ_NOLOCK) it records a signature of what it is about to
 * read: the catalog's generation and, for every *.wr file of the
 * directory (or the one tree file), the generations its two header slots
 * hold. A writer changes at least one of them at every checkpoint before
 * it may reuse a page the previous snapshot still references (decision
 * 7), so equal signatures before and after mean the reader saw one
 * snapshot throughout; different ones mean what it found may be the
 * writer's doing, and it says "changed" instead of reporting damage.
 *
 * Calls io (the lock), block (slots) and catalog.
 */
#include "wr_int.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

struct wr_read {
    wr_read_mode mode;
    char *path;  /* as given */
    char *dir;   /* the directory whose LOCK applies */
    bool is_dir; /* path is a directory */
    wri_lock *lock;
    char *sig;   /* WR_READ_NOLOCK: the signature at the start */
    char note[320];
};

/* --- signature ------------------------------------------------------------ */

typedef struct rd_buf {
    char *s;
    size_t len, cap;
    bool oom;
} rd_buf;

static void rd_add(rd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void rd_add(rd_buf *b, const char *fmt, ...)
{
    va_list ap;
    for (int pass = 0; pass < 2 && !b->oom; pass++) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL,
                          b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->s != NULL && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* "NAME slots G0 G1" (0: slot not valid) or "NAME error CODE" */
static void rd_sig_file(rd_buf *b, const char *path, const char *name)
{
    wr_errbuf e = {0};
    wri_block *blk = NULL;
    int rc = wri_block_open(path, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, &blk,
                            &e);
    if (rc != WR_OK) {
        rd_add(b, "%s error %s\n", name, wr_errname(rc));
        return;
    }
    rd_add(b, "%s slots %llu %llu\n", name,
           blk->slots[0].valid ? (unsigned long long)blk->slots[0].slot.gen
                               : 0ULL,
           blk->slots[1].valid ? (unsigned long long)blk->slots[1].slot.gen
                               : 0ULL);
    wri_block_close(blk);
}

/* The signature of what rd reads (see the top); NULL: out of memory.
 * *unnamed_out (may be NULL) gets a tree file the catalog does not name,
 * if any (malloc'd). */
static char *rd_signature(const wr_read *rd, char **unnamed_out)
{
    rd_buf b = {0};
    if (unnamed_out != NULL)
        *unnamed_out = NULL;
    if (!rd->is_dir) {
        rd_sig_file(&b, rd->path, "file");
        return b.oom ? (free(b.s), NULL) : b.s;
    }
    wri_catalog cat;
    wr_errbuf e = {0};
    int crc = wri_catalog_read(rd->dir, &cat, &e);
    if (crc == WR_OK)
        rd_add(&b, "catalog generation %llu\n", (unsigned long long)cat.gen);
    else
        rd_add(&b, "catalog error %s\n", wr_errname(crc));
    size_t n = 0;
    char **names = NULL;
    if (wri_dir_tree_files(rd->dir, &names, &n, &e) != WR_OK)
        b.oom = true;
    for (size_t i = 0; i < n; i++) {
        char *p = wri_path_join(rd->dir, names[i]);
        if (p == NULL) {
            b.oom = true;
            break;
        }
        rd_sig_file(&b, p, names[i]);
        free(p);
        if (unnamed_out != NULL && *unnamed_out == NULL && crc == WR_OK &&
            !wri_catalog_file(&cat, names[i]))
            *unnamed_out = strdup(names[i]);
    }
    wri_names_free(names, n);
    if (crc == WR_OK)
        wri_catalog_free(&cat);
    if (b.s == NULL)
        rd_add(&b, "%s", "");
    return b.oom ? (free(b.s), NULL) : b.s;
}

/* The first line of a that b does not have, for the message. */
static void rd_first_diff(const char *a, const char *b, char *out, size_t len)
{
    while (*a && *b && *a == *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t la = ea ? (size_t)(ea - a) : strlen(a);
        size_t lb = eb ? (size_t)(eb - b) : strlen(b);
        if (la != lb || strncmp(a, b, la) != 0)
            break;
        a += la + (ea != NULL);
        b += lb + (eb != NULL);
    }
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (la == 0)
        snprintf(out, len, "a new tree file appeared (%.*s)", (int)lb, b);
    else if (lb == 0)
        snprintf(out, len, "a tree file went away (%.*s)", (int)la, a);
    else
        snprintf(out, len, "%.*s became %.*s", (int)la, a, (int)lb, b);
}

/* --- begin / end ------------------------------------------------------------ */

static void rd_free(wr_read *rd)
{
    if (rd == NULL)
        return;
    wri_io_unlock_dir(rd->lock);
    free(rd->path);
    free(rd->dir);
    free(rd->sig);
    free(rd);
}

static int rd_where(wr_read *rd, const char *path, wr_errbuf *eb)
{
    struct stat st;
    rd->is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if ((rd->path = strdup(path)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (rd->is_dir) {
        rd->dir = strdup(path);
    } else {
        char *copy = strdup(path);
        rd->dir = copy != NULL ? strdup(dirname(copy)) : NULL;
        free(copy);
    }
    if (rd->dir == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    return WR_OK;
}

static void rd_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        break; /* a signal: let the caller look at its flag */
}

/* The shared lock, waiting for writers if asked. */
static int rd_lock(wr_read *rd, const wr_read_opts *o, wr_errbuf *eb)
{
    const char *holder = o->holder ? o->holder : "reader";
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned polls = 0;; polls++) {
        int rc = wri_io_lock_take(rd->dir, holder, WRI_LOCK_SHARED,
                                  &rd->lock, eb);
        if (rc == WR_OK)
            return WR_OK;
        if (rc == WR_ENOTSUP) { /* read-only media: no writer either */
            snprintf(rd->note, sizeof rd->note,
                     "%.280s; reading without the lock", eb->msg);
            wr_errbuf_clear(eb);
            return WR_OK;
        }
        if (rc == WR_ENOTFOUND) { /* no such directory: the reader says */
            wr_errbuf_clear(eb);
            return WR_OK;
        }
        if (rc != WR_ELOCKED || o->mode != WR_READ_WAIT)
            return rc;
        if (o->interrupted != NULL && *o->interrupted) {
            wr_errbuf_clear(eb);
            return WR_ERR(eb, WR_EINTR, "%s: interrupted while waiting for "
                                        "the lock",
                          rd->dir);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (o->waiting != NULL && polls % 10 == 0)
            o->waiting(eb->msg, (unsigned)(now.tv_sec - t0.tv_sec), o->arg);
        wr_errbuf_clear(eb);
        rd_sleep_ms(100);
    }
}

int wr_read_begin(const char *path, const wr_read_opts *opts, wr_read **out,
                  wr_errbuf *eb)
{
    int rc;
    wr_read_opts defaults = {0};
    const wr_read_opts *o = opts != NULL ? opts : &defaults;
    wr_read *rd = calloc(1, sizeof *rd);
    *out = NULL;
    if (rd == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    rd->mode = o->mode;
    if ((rc = rd_where(rd, path, eb)) != WR_OK)
        goto fail;
    if (o->mode == WR_READ_NOLOCK) {
        if ((rd->sig = rd_signature(rd, NULL)) == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto fail;
        }
        snprintf(rd->note, sizeof rd->note,
                 "%.280s: reading without the lock", path);
    } else if ((rc = rd_lock(rd, o, eb)) != WR_OK) {
        goto fail;
    }
    *out = rd;
    return WR_OK;
fail:
    rd_free(rd);
    return rc;
}

const char *wr_read_note(const wr_read *rd)
{
    return rd != NULL && rd->note[0] ? rd->note : NULL;
}

int wr_read_check(const wr_read *rd, wr_errbuf *eb)
{
    int rc = WR_OK;
    char *now = NULL, *unnamed = NULL;
    char who[256] = "";
    if (rd == NULL || rd->mode != WR_READ_NOLOCK)
        return WR_OK;
    if ((now = rd_signature(rd, &unnamed)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    if (strcmp(now, rd->sig) != 0) {
        char what[400];
        rd_first_diff(rd->sig, now, what, sizeof what);
        rc = WR_ERR(eb, WR_ECHANGED,
                    "%s changed during the check (%s): a writer is at work, "
                    "so what was found is not judged",
                    rd->path, what);
    } else if (rd->is_dir && unnamed != NULL &&
               wri_io_lock_writer(rd->dir, who, sizeof who)) {
        rc = WR_ERR(eb, WR_ECHANGED,
                    "%s is changing: a writer (%s) holds the lock and %s is "
                    "not in the catalog yet, so what was found is not judged",
                    rd->path, who[0] ? who : "holder not recorded", unnamed);
    }
out:
    free(now);
    free(unnamed);
    return rc;
}

int wr_read_end(wr_read *rd, wr_errbuf *eb)
{
    int rc = wr_read_check(rd, eb);
    rd_free(rd);
    return rc;
}
