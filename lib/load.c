/*
 * load.c -- apply JSONL lines to a collection (wr_load, see wr.h).
 */
#include "docin.h"
#include "legacy.h"
#include "wr_int.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void load_progress(const wr_load_opts *o, wr_load_stats *st,
                          wri_docin *r, uint64_t *next)
{
    st->bytes_read = wri_docin_bytes_read(r);
    if (o->progress != NULL && st->bytes_read >= *next) {
        o->progress(st, o->progress_arg);
        *next = st->bytes_read + (64u << 10);
    }
}

/* A checkpoint committed: what the run has applied is now durable, in
 * the database's generation now (reported even if the run stops later). */
static void load_committed(wr_db *db, wr_load_stats *st)
{
    st->checkpoints++;
    st->generation = wr_db_generation(db);
    st->committed = (wr_load_counts){st->inserted, st->replaced, st->deleted,
                                     st->missing};
}

/* More than max_bad bad lines: the error that stops the run, naming the
 * last one (whose error is in eb). */
static int load_too_many(const wr_load_opts *o, wr_errbuf *eb)
{
    char msg[sizeof eb->msg];
    snprintf(msg, sizeof msg, "%s", eb->msg);
    wr_errbuf_clear(eb);
    return WR_ERR(eb, WR_EBADINPUT,
                  "more than %llu bad line%s (--max-bad); the last: %.800s",
                  (unsigned long long)o->max_bad, o->max_bad == 1 ? "" : "s",
                  msg);
}

/* A document the collection cannot store (wr_coll_put's WR_EINVAL, its
 * message in eb: too long an _id or index key) as the bad line it is. */
static int load_unstorable(const char *shown, const wri_jsonl_line *line,
                           wr_errbuf *eb)
{
    char msg[sizeof eb->msg];
    snprintf(msg, sizeof msg, "%s", eb->msg);
    wr_errbuf_clear(eb);
    return WR_ERR(eb, WR_EBADINPUT, "%s: line %llu (byte %llu): %s", shown,
                  (unsigned long long)line->lineno,
                  (unsigned long long)line->offset, msg);
}

/* Pass 1 (only with checkpoint_every and a limit on bad lines): every line
 * must parse and be a document c can store (wr_coll_check_put: what the
 * load pass can refuse), or at most max_bad may not, before anything is
 * committed. */
static int load_check_all(const wr_load_opts *o, wr_coll *c, const char *src,
                          const char *shown, wr_load_stats *st, wr_errbuf *eb)
{
    int rc;
    bool fatal = false;
    uint64_t bad = 0, next_progress = 0;
    wri_docin *r = NULL;
    wri_jsonl_line line;
    if ((rc = wri_docin_open_as(src, shown, o->format, &r, eb)) != WR_OK)
        return rc;
    st->checking = true;
    st->bytes_total = wri_docin_bytes_total(r);
    for (;;) {
        if (o->interrupted != NULL && *o->interrupted) {
            rc = WR_ERR(eb, WR_EINTR, "interrupted while checking %s", shown);
            break;
        }
        load_progress(o, st, r, &next_progress);
        fatal = false;
        rc = wri_docin_next(r, &line, &fatal, eb);
        if (rc == WR_OK && !line.is_delete &&
            (rc = wr_coll_check_put(c, &line.doc, eb)) == WR_EINVAL)
            rc = load_unstorable(shown, &line, eb);
        if (rc != WR_OK &&
            (rc != WR_EBADINPUT || fatal || ++bad > o->max_bad))
            break;
        wr_errbuf_clear(eb);
    }
    wri_docin_close(r);
    st->checking = false;
    st->bytes_read = 0;
    st->input_broken = rc == WR_EBADINPUT && fatal;
    if (rc == WR_EBADINPUT && !fatal && o->max_bad > 0)
        return load_too_many(o, eb);
    return rc == 1 ? WR_OK : rc;
}

/* The rejects file of a run (o->rejects), opened at the first skipped
 * line. The rule (load_rej_check, before anything is written): it is
 * never the input, nor a file of the database (in DIR only a name ending
 * in .rejects.jsonl, as the default DIR/NAME.rejects.jsonl); a regular
 * file is created new (created: then a run that commits nothing removes
 * it), or is one a run wrote before (or empty), emptied and written again
 * and kept; a character device or a pipe (/dev/null, >(gzip >r.gz)) is
 * a stream, written in order and never fsynced or removed. Anything else
 * is refused. */
typedef struct {
    wri_file *f;
    uint64_t off;
    bool created;
    bool stream;
} load_rej;

#define LOAD_REJ_SUFFIX ".rejects.jsonl"

/* Is path's directory DIR itself? */
static bool load_in_dir(const char *path, const struct stat *dir)
{
    struct stat pd;
    char *copy = strdup(path);
    bool in = copy != NULL && stat(dirname(copy), &pd) == 0 &&
              wri_io_same_file(&pd, dir);
    free(copy);
    return in;
}

static int load_rej_check(const wr_load_opts *o, const char *input,
                          load_rej *rj, wr_errbuf *eb)
{
    int rc;
    bool ours;
    struct stat rs, is, ds;
    const char *r = o->rejects;
    bool exists = stat(r, &rs) == 0;
    bool in_ok = strcmp(input, "-") == 0 ? fstat(0, &is) == 0
                                         : stat(input, &is) == 0;
    if (exists && in_ok && wri_io_same_file(&rs, &is))
        return WR_ERR(eb, WR_EINVAL, "--rejects %s: that is the input "
                      "%s; name another file for the skipped lines: nothing "
                      "was written", r,
                      strcmp(input, "-") == 0 ? "(standard input)" : input);
    if (stat(o->dir, &ds) == 0 && load_in_dir(r, &ds)) {
        size_t n = strlen(r), k = sizeof LOAD_REJ_SUFFIX - 1;
        const char *base = strrchr(r, '/') ? strrchr(r, '/') + 1 : r;
        if (strlen(base) <= k || strcmp(r + n - k, LOAD_REJ_SUFFIX) != 0)
            return WR_ERR(eb, WR_EINVAL, "--rejects %s: inside the database "
                          "directory %s, where a rejects file is named "
                          "NAME" LOAD_REJ_SUFFIX " (so it is never one of "
                          "the database's files): nothing was written",
                          r, o->dir);
    }
    if (!exists)
        return WR_OK;
    if (S_ISCHR(rs.st_mode) || S_ISFIFO(rs.st_mode)) {
        rj->stream = true;
        return WR_OK;
    }
    if (!S_ISREG(rs.st_mode))
        return WR_ERR(eb, WR_EINVAL, "--rejects %s: not a regular file, a "
                      "character device or a pipe: nothing was written", r);
    if ((rc = wri_reject_file_is(r, &ours, eb)) != WR_OK)
        return rc;
    if (!ours)
        return WR_ERR(eb, WR_EINVAL, "--rejects %s: the file exists and is "
                      "not a rejects file (a run empties only an empty file "
                      "or one holding skipped lines): remove it or name "
                      "another; nothing was written", r);
    return WR_OK;
}

/* Open o->rejects: a stream as it is; a regular file created new if it is
 * missing (remembered), else the file that is there, emptied. */
static int load_rej_open(const char *path, load_rej *rj, wr_errbuf *eb)
{
    int rc;
    if (rj->stream) /* write-only: its reader's end is the only one */
        return wri_io_open(path, WRI_IO_RDWR | WRI_IO_WRONLY, &rj->f, eb);
    rc = wri_io_open(path, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_EXCL,
                     &rj->f, eb);
    if (rc == WR_EEXIST) {
        wr_errbuf_clear(eb);
        rc = wri_io_open(path, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_TRUNC,
                         &rj->f, eb);
        return rc;
    }
    rj->created = rc == WR_OK;
    return rc;
}

/* An error of the rejects file (its own message in eb, naming it), said
 * as one: what stops the run is the rejects file, not the bad line. */
static int load_rej_failed(int rc, const char *what, wr_errbuf *eb)
{
    char msg[sizeof eb->msg];
    snprintf(msg, sizeof msg, "%s", eb->msg);
    wr_errbuf_clear(eb);
    return WR_ERR(eb, rc,
                  "cannot %s the rejects file for the skipped lines "
                  "(--rejects): %.900s",
                  what, msg);
}

/* A skipped line (its error in eb, which this clears), as a line of the
 * rejects file (opened at the first). A pipe whose reader has gone is
 * EPIPE here, not a SIGPIPE death (the tool ignores the signal). */
static int load_reject(const wr_load_opts *o, load_rej *rj,
                       const char *input, const wri_jsonl_line *line,
                       wr_errbuf *eb)
{
    int rc;
    char *json;
    size_t len;
    char bad[sizeof eb->msg]; /* the skipped line's message */
    snprintf(bad, sizeof bad, "%s", eb->msg);
    wr_errbuf_clear(eb); /* an error of the rejects file is its own */
    if (o->rejects == NULL)
        return WR_OK;
    if (rj->f == NULL && (rc = load_rej_open(o->rejects, rj, eb)) != WR_OK)
        return load_rej_failed(rc, "open", eb);
    if ((json = wri_reject_json(input, line, bad, line->torn, &len)) ==
        NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    rc = rj->stream ? wri_io_write(rj->f, json, len, eb)
                    : wri_io_pwrite(rj->f, json, len, rj->off, eb);
    rj->off += len;
    free(json);
    return rc != WR_OK ? load_rej_failed(rc, "write", eb) : WR_OK;
}

/* The first log of ld that is one by its content (wri_legacy_log_readable),
 * or NULL. */
static const char *load_legacy_log(const char *dir, const wri_legacy_dir *ld)
{
    for (size_t i = 0; i < ld->ncoll; i++)
        if (wri_legacy_log_readable(dir, ld->coll[i].log))
            return ld->coll[i].log;
    return NULL;
}

/* A directory of legacy append logs (NAME.log, no catalog) is
 * wr-migrate's to convert: a database written beside the logs would be a
 * directory it refuses (docs/LEGACY.md "What a directory can be"). A
 * NAME.log is such a log only if its content says so: a server's
 * server.log beside a new database is no reason to refuse it. */
static int load_check_dir(const char *dir, wr_errbuf *eb)
{
    wri_legacy_dir ld;
    wr_errbuf e = {0};
    const char *log;
    int rc = wri_legacy_scan(dir, &ld, &e);
    if (rc == WR_EBADINPUT) /* a log whose name is refused: logs all the same */
        return WR_ERR(eb, WR_ENOTOURS,
                      "%s holds legacy append logs, not a wrtools database "
                      "(%.700s); wr-migrate converts them, wr-load writes "
                      "only to a wrtools database: nothing was written",
                      dir, e.msg);
    if (rc != WR_OK) /* no such directory, or unreadable: wr_db_open says */
        return WR_OK;
    if (ld.kind == WRI_DIR_LEGACY && (log = load_legacy_log(dir, &ld)) != NULL)
        rc = WR_ERR(eb, WR_ENOTOURS,
                    "%s holds legacy append logs (%s%s), not a wrtools "
                    "database: migrate it first (wr-migrate %s); wr-load "
                    "writes only to a wrtools database: nothing was written",
                    dir, log, ld.nfiles > 1 ? ", ..." : "", dir);
    wri_legacy_free(&ld);
    return rc;
}

/* An input read twice (the check pass, then the load) that cannot be
 * read again -- standard input, a FIFO, <(zcat x.gz), /dev/stdin -- is
 * copied to a file in DIR first; a regular file (or a directory, which
 * the reader refuses) is read where it is. */
static bool load_must_spool(const char *input)
{
    struct stat st;
    if (strcmp(input, "-") == 0)
        return true;
    return stat(input, &st) == 0 && !S_ISREG(st.st_mode) &&
           !S_ISDIR(st.st_mode);
}

/* Copy what fd holds (the input named shown) to a file in dir. */
static int load_spool(const char *dir, int fd, const char *shown,
                      char **path_out, wr_errbuf *eb)
{
    int rc = WR_OK;
    char *path = wri_path_join(dir, "wr-load.stdin.tmp");
    wri_file *f = NULL;
    char *buf = malloc(1 << 20);
    uint64_t off = 0;
    if (path == NULL || buf == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = wri_io_open(path, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_TRUNC,
                          &f, eb)) != WR_OK)
        goto out;
    for (;;) {
        size_t n;
        if ((rc = wri_io_read(fd, shown, buf, 1 << 20, off, &n, eb)) !=
            WR_OK)
            goto out;
        if (n == 0)
            break;
        if ((rc = wri_io_pwrite(f, buf, n, off, eb)) != WR_OK)
            goto out;
        off += n;
    }
    *path_out = path;
    path = NULL;
out:
    if (path != NULL)
        (void)wri_io_unlink(path, NULL);
    wri_io_close(f);
    free(path);
    free(buf);
    return rc;
}

static int load_apply(wr_coll *c, const wri_jsonl_line *line,
                      wr_load_stats *st, wr_errbuf *eb)
{
    int rc;
    if (line->is_delete) {
        rc = wr_coll_delete(c, &line->doc, eb);
        if (rc == WR_ENOTFOUND) {
            st->missing++;
            return WR_OK;
        }
        if (rc == WR_OK)
            st->deleted++;
        return rc;
    }
    bool replaced = false;
    if ((rc = wr_coll_put(c, &line->doc, &replaced, eb)) != WR_OK)
        return rc;
    if (replaced)
        st->replaced++;
    else
        st->inserted++;
    return WR_OK;
}

/* A bad line (its error in eb): WR_OK to skip it, or the error that stops
 * the run (no skipping, more than max_bad, or a broken input). */
static int load_bad(const wr_load_opts *o, wr_load_stats *st,
                    const wri_jsonl_line *line, bool fatal, char *first_bad,
                    wr_errbuf *eb)
{
    st->lines++;
    if (st->first_bad_line == 0) {
        st->first_bad_line = line->lineno;
        snprintf(first_bad, sizeof eb->msg, "%s", eb->msg);
    }
    st->input_broken = fatal;
    if (fatal || !(o->skip_bad || o->max_bad > 0))
        return eb->code != WR_OK ? eb->code : WR_EBADINPUT;
    if (o->max_bad > 0 && st->bad + 1 > o->max_bad)
        return load_too_many(o, eb);
    st->bad++;
    return WR_OK;
}

/* Commit a checkpoint, the skipped lines of a regular rejects file made
 * durable first (a stream cannot be fsynced). One that failed after its
 * catalog took the name (the directory's fsync) moved the generation
 * (wr_db_checkpoint): committed all the same, and said so (DIR, the
 * rejects file kept). */
static int load_checkpoint(wr_db *db, const load_rej *rj, wr_load_stats *st,
                           wr_errbuf *eb)
{
    int rc;
    uint64_t gen = wr_db_generation(db);
    if (rj->f != NULL && !rj->stream &&
        (rc = wri_io_fsync(rj->f, eb)) != WR_OK)
        return rc;
    rc = wr_db_checkpoint(db, eb);
    if (rc == WR_OK || wr_db_generation(db) > gen)
        load_committed(db, st);
    return rc;
}

int wr_load(const wr_load_opts *o, wr_load_stats *st, wr_errbuf *eb)
{
    int rc;
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wri_docin *r = NULL;
    load_rej rej = {NULL, 0, false, false};
    bool fatal = false, skip = o->skip_bad || o->max_bad > 0;
    char first_bad[sizeof eb->msg] = "";
    char *spool = NULL;
    int in_fd = -1; /* an input to copy to spool first */
    /* input: the user's name (the rejects' "file"); src: the file read,
     * input or its copy; shown: the name messages give */
    const char *input = o->input ? o->input : "-", *src = input;
    const char *shown = strcmp(input, "-") == 0 ? "<stdin>" : input;
    bool twice = o->checkpoint_every > 0 && (!o->skip_bad || o->max_bad > 0);
    wri_jsonl_line line;
    uint64_t since = 0, next_progress = 0;
    wr_db_opts dbo = {.create = true, .page_size = o->page_size,
                      .holder = "wr-load", .memory = o->memory};
    memset(st, 0, sizeof *st);
    /* an input that cannot be read is refused before DIR is touched */
    if (twice && load_must_spool(input)) {
        if (strcmp(input, "-") == 0)
            in_fd = 0;
        else if ((rc = wri_io_open_input(input, &in_fd, eb)) != WR_OK)
            goto out;
    } else if (strcmp(input, "-") != 0 &&
               (rc = wri_docin_open(input, o->format, &r, eb)) != WR_OK) {
        goto out;
    }
    if ((rc = load_check_dir(o->dir, eb)) != WR_OK ||
        (rc = wr_db_open(o->dir, &dbo, &db, eb)) != WR_OK ||
        (o->rejects != NULL &&
         (rc = load_rej_check(o, input, &rej, eb)) != WR_OK))
        goto out;
    if ((rc = wr_coll_open(db, o->coll, true, &c, eb)) != WR_OK)
        goto out;
    for (size_t i = 0; i < o->nindex; i++)
        if ((rc = wr_coll_add_index(c, o->index[i], eb)) != WR_OK)
            goto out;
    if (twice) {
        if (in_fd >= 0) {
            if ((rc = load_spool(o->dir, in_fd, shown, &spool, eb)) != WR_OK)
                goto out;
            src = spool;
        }
        if ((rc = load_check_all(o, c, src, shown, st, eb)) != WR_OK)
            goto out;
    }
    if (r == NULL && (rc = wri_docin_open_as(src, shown, o->format, &r,
                                             eb)) != WR_OK)
        goto out;
    st->bytes_total = wri_docin_bytes_total(r);
    for (;;) {
        if (o->interrupted != NULL && *o->interrupted) {
            rc = WR_ERR(eb, WR_EINTR, "interrupted after %llu line%s",
                        (unsigned long long)st->lines,
                        st->lines == 1 ? "" : "s");
            goto out;
        }
        rc = wri_docin_next(r, &line, &fatal, eb);
        if (rc == 1)
            break;
        if (rc == WR_EBADINPUT) {
            if ((rc = load_bad(o, st, &line, fatal, first_bad, eb)) != WR_OK ||
                (rc = load_reject(o, &rej, input, &line, eb)) !=
                    WR_OK)
                goto out;
            st->rejected += o->rejects != NULL;
            continue;
        }
        if (rc != WR_OK)
            goto out;
        st->lines++;
        if ((rc = load_apply(c, &line, st, eb)) != WR_OK) {
            if (rc == WR_EINVAL) { /* the document cannot be stored */
                (void)load_unstorable(shown, &line, eb);
                if ((rc = load_bad(o, st, &line, false, first_bad, eb)) !=
                        WR_OK ||
                    (rc = load_reject(o, &rej, input, &line, eb)) !=
                        WR_OK)
                    goto out;
                st->rejected += o->rejects != NULL;
                continue;
            }
            goto out;
        }
        load_progress(o, st, r, &next_progress);
        if (o->checkpoint_every > 0 && ++since >= o->checkpoint_every) {
            if ((rc = load_checkpoint(db, &rej, st, eb)) != WR_OK)
                goto out;
            since = 0;
        }
    }
    if (skip && st->bad > 0 && st->bad == st->lines) {
        rc = WR_ERR(eb, WR_EBADINPUT,
                    "%s: every line is bad (%llu); nothing was loaded. The "
                    "first: %.700s",
                    shown, (unsigned long long)st->bad, first_bad);
        goto out;
    }
    if ((rc = load_checkpoint(db, &rej, st, eb)) != WR_OK)
        goto out;
    st->bytes_read = wri_docin_bytes_read(r);
out:
    wri_io_close(rej.f);
    /* a run that committed nothing leaves no rejects file it made either
     * (nor keeps DIR, which the close removes if it made it) */
    if (rej.created && rc != WR_OK && st->checkpoints == 0)
        (void)wri_io_unlink(o->rejects, NULL);
    wri_docin_close(r);
    if (in_fd > 0)
        close(in_fd);
    if (spool != NULL) { /* before the close, which may remove DIR */
        (void)wri_io_unlink(spool, NULL);
        free(spool);
    }
    wr_db_close(db);
    return rc;
}
