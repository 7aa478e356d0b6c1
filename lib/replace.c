/*
 * replace.c -- staging, the journal, commit and restart (see replace.h
 * for the protocol and its rules; the backup of step 1 is backup.c).
 *
 * Journal: a 32-byte header, then a BSON document (like the catalog):
 *   00-03 u32 crc32 over [4, 32 + length)
 *   04-11     magic "WRJOURN\n"
 *   12-15 u32 version (1)
 *   16-19 u32 length of the BSON document
 *   20-31     zero
 *   32-..     { tool, staging, move: [name], commit, commit_size,
 *               commit_crc, backup, remove: [{name, size, crc}] }
 */
#include "replace.h"

#include "wr_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define RP_JOURNAL_MAGIC "WRJOURN\n"
#define RP_JOURNAL_HDR 32
#define RP_JOURNAL_MAX (16u << 20)

static char *rp_join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *p = malloc(la + lb + lc + 3);
    if (p == NULL)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb);
    p[la + 1 + lb] = '/';
    memcpy(p + la + lb + 2, c, lc + 1);
    return p;
}

/* --- staging ------------------------------------------------------------------ */

/* Unlink every regular file in path; WR_EEXIST on anything else. */
static int staging_empty(const char *path, wr_errbuf *eb)
{
    int rc = WR_OK;
    DIR *d = opendir(path);
    struct dirent *e;
    struct stat st;
    if (d == NULL)
        return WR_ERR(eb, WR_EIO, "%s: cannot list: %s", path,
                      strerror(errno));
    while ((e = readdir(d)) != NULL && rc == WR_OK) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = wri_path_join(path, e->d_name);
        if (p == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            break;
        }
        if (lstat(p, &st) == 0 && !S_ISREG(st.st_mode))
            rc = WR_ERR(eb, WR_EEXIST,
                        "%s: not a regular file in the staging directory; "
                        "remove it by hand", p);
        else
            rc = wri_io_unlink(p, eb);
        free(p);
    }
    closedir(d);
    return rc;
}

int wri_staging_prepare(const char *dir, const char *staging, wr_errbuf *eb)
{
    int rc;
    char *path = wri_path_join(dir, staging);
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (wri_path_exists(path)) {
        if (!wri_path_is_dir(path))
            rc = WR_ERR(eb, WR_EEXIST, "%s: exists and is not a directory",
                        path);
        else
            rc = staging_empty(path, eb);
    } else if ((rc = wri_io_mkdir(path, eb)) == WR_OK) {
        /* durable before a journal can name it */
        rc = wri_io_fsync_dir(dir, eb);
    }
    free(path);
    return rc;
}

int wri_staging_remove(const char *dir, const char *staging, wr_errbuf *eb)
{
    int rc;
    char *path = wri_path_join(dir, staging);
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (!wri_path_exists(path)) {
        free(path);
        return WR_OK;
    }
    if ((rc = staging_empty(path, eb)) == WR_OK)
        rc = wri_io_rmdir(path, eb); /* a crash before: the next run */
    free(path);
    return rc;
}

/* --- journal ------------------------------------------------------------------- */

typedef struct rp_journal {
    char *tool;
    char *staging;
    char **move;
    size_t nmove;
    char *commit;
    uint64_t commit_size;
    uint32_t commit_crc;
    char *backup;
    wri_backup_file *remove;
    size_t nremove;
} rp_journal;

static void journal_free(rp_journal *j)
{
    free(j->tool);
    free(j->staging);
    for (size_t i = 0; i < j->nmove; i++)
        free(j->move[i]);
    free(j->move);
    free(j->commit);
    free(j->backup);
    for (size_t i = 0; i < j->nremove; i++)
        free(j->remove[i].name);
    free(j->remove);
    memset(j, 0, sizeof *j);
}

static bool rp_plain_name(const char *s)
{
    return s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL;
}

/* *renamed as wri_io_write_atomic's: the journal took its name (also when
 * the directory's fsync then failed). */
static int journal_write(const char *dir, const char *name, const rp_journal *j,
                         bool *renamed, wr_errbuf *eb)
{
    int rc;
    bson_t doc, arr, d;
    char k[16];
    const char *kp;
    uint8_t *buf = NULL;
    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "tool", j->tool);
    BSON_APPEND_UTF8(&doc, "staging", j->staging);
    bson_append_array_begin(&doc, "move", -1, &arr);
    for (size_t i = 0; i < j->nmove; i++) {
        bson_uint32_to_string((uint32_t)i, &kp, k, sizeof k);
        bson_append_utf8(&arr, kp, -1, j->move[i], -1);
    }
    bson_append_array_end(&doc, &arr);
    BSON_APPEND_UTF8(&doc, "commit", j->commit);
    BSON_APPEND_INT64(&doc, "commit_size", (int64_t)j->commit_size);
    BSON_APPEND_INT64(&doc, "commit_crc", (int64_t)j->commit_crc);
    BSON_APPEND_UTF8(&doc, "backup", j->backup);
    bson_append_array_begin(&doc, "remove", -1, &arr);
    for (size_t i = 0; i < j->nremove; i++) {
        bson_uint32_to_string((uint32_t)i, &kp, k, sizeof k);
        bson_append_document_begin(&arr, kp, -1, &d);
        BSON_APPEND_UTF8(&d, "name", j->remove[i].name);
        BSON_APPEND_INT64(&d, "size", (int64_t)j->remove[i].size);
        BSON_APPEND_INT64(&d, "crc", (int64_t)j->remove[i].crc);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(&doc, &arr);
    size_t len = RP_JOURNAL_HDR + doc.len;
    *renamed = false;
    if ((buf = calloc(1, len)) == NULL) {
        bson_destroy(&doc);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    memcpy(buf + 4, RP_JOURNAL_MAGIC, 8);
    wri_put32(buf + 12, 1);
    wri_put32(buf + 16, doc.len);
    memcpy(buf + RP_JOURNAL_HDR, bson_get_data(&doc), doc.len);
    wri_put32(buf, wri_crc32(0, buf + 4, len - 4));
    rc = wri_io_write_atomic(dir, name, buf, len, renamed, eb);
    bson_destroy(&doc);
    free(buf);
    return rc;
}

static int jr_str(const bson_t *doc, const char *key, char **out)
{
    bson_iter_t it;
    uint32_t n;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
        return -1;
    const char *s = bson_iter_utf8(&it, &n);
    if (n == 0 || strlen(s) != n || (*out = strdup(s)) == NULL)
        return -1;
    return 0;
}

static int jr_u64(const bson_iter_t *base, const char *key, uint64_t *out)
{
    bson_iter_t it = *base;
    if (!bson_iter_find(&it, key) || !BSON_ITER_HOLDS_INT64(&it) ||
        bson_iter_int64(&it) < 0)
        return -1;
    *out = (uint64_t)bson_iter_int64(&it);
    return 0;
}

static int journal_read(const char *dir, const char *name, rp_journal *j,
                        wr_errbuf *eb)
{
    int rc;
    uint8_t *buf = NULL;
    size_t len = 0;
    bson_t doc;
    bson_iter_t it, arr;
    char *path = wri_path_join(dir, name);
    memset(j, 0, sizeof *j);
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_io_read_whole(path, RP_JOURNAL_MAX, "a journal", &buf,
                                &len, eb)) != WR_OK)
        goto out;
    rc = WR_ECORRUPT;
    if (len < RP_JOURNAL_HDR || memcmp(buf + 4, RP_JOURNAL_MAGIC, 8) != 0 ||
        wri_get32(buf + 12) != 1 ||
        wri_get32(buf + 16) != len - RP_JOURNAL_HDR ||
        wri_get32(buf) != wri_crc32(0, buf + 4, len - 4) ||
        !bson_init_static(&doc, buf + RP_JOURNAL_HDR, len - RP_JOURNAL_HDR) ||
        !bson_validate(&doc, BSON_VALIDATE_UTF8, NULL))
        goto bad;
    uint64_t v;
    if (jr_str(&doc, "tool", &j->tool) || jr_str(&doc, "staging", &j->staging) ||
        jr_str(&doc, "commit", &j->commit) ||
        jr_str(&doc, "backup", &j->backup) || !rp_plain_name(j->staging) ||
        !rp_plain_name(j->commit))
        goto bad;
    if (!bson_iter_init(&it, &doc) || jr_u64(&it, "commit_size", &j->commit_size))
        goto bad;
    if (!bson_iter_init(&it, &doc) || jr_u64(&it, "commit_crc", &v) ||
        v > UINT32_MAX)
        goto bad;
    j->commit_crc = (uint32_t)v;
    if (!bson_iter_init_find(&it, &doc, "move") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr))
        goto bad;
    while (bson_iter_next(&arr)) {
        uint32_t n;
        if (!BSON_ITER_HOLDS_UTF8(&arr))
            goto bad;
        const char *s = bson_iter_utf8(&arr, &n);
        char **nm = realloc(j->move, (j->nmove + 1) * sizeof *nm);
        if (nm == NULL)
            goto nomem;
        j->move = nm;
        if (strlen(s) != n || !rp_plain_name(s))
            goto bad;
        if ((nm[j->nmove] = strdup(s)) == NULL)
            goto nomem;
        j->nmove++;
    }
    if (!bson_iter_init_find(&it, &doc, "remove") ||
        !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr))
        goto bad;
    while (bson_iter_next(&arr)) {
        bson_iter_t d, t;
        uint32_t n;
        uint64_t size, crc;
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &d))
            goto bad;
        t = d;
        if (!bson_iter_find(&t, "name") || !BSON_ITER_HOLDS_UTF8(&t))
            goto bad;
        const char *s = bson_iter_utf8(&t, &n);
        if (strlen(s) != n || !rp_plain_name(s) || jr_u64(&d, "size", &size) ||
            jr_u64(&d, "crc", &crc) || crc > UINT32_MAX)
            goto bad;
        wri_backup_file *nr = realloc(j->remove, (j->nremove + 1) * sizeof *nr);
        if (nr == NULL)
            goto nomem;
        j->remove = nr;
        if ((nr[j->nremove].name = strdup(s)) == NULL)
            goto nomem;
        nr[j->nremove].size = size;
        nr[j->nremove].crc = (uint32_t)crc;
        j->nremove++;
    }
    rc = WR_OK;
    goto out;
nomem:
    rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
    goto out;
bad:
    rc = WR_ERR(eb, WR_ECORRUPT,
                "%s: damaged journal (bad header, CRC or fields): an "
                "interrupted replace cannot be finished automatically; the "
                "backup directory it names holds the originals",
                path);
out:
    if (rc != WR_OK)
        journal_free(j);
    free(buf);
    free(path);
    return rc;
}

bool wri_replace_pending(const char *dir, const char *journal)
{
    char *p = wri_path_join(dir, journal);
    bool r = p != NULL && wri_path_exists(p);
    free(p);
    return r;
}

/* --- roll forward, roll back ------------------------------------------------ */

/* Does DIR/name still hold the bytes with this size and CRC? */
static int rp_matches(const char *dir, const char *name, uint64_t size,
                      uint32_t crc, bool *same, wr_errbuf *eb)
{
    int rc;
    uint64_t s;
    uint32_t c;
    char *p = wri_path_join(dir, name);
    *same = false;
    if (p == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (!wri_path_exists(p)) {
        free(p);
        return WR_OK;
    }
    rc = wri_file_crc(p, &s, &c, eb);
    *same = rc == WR_OK && s == size && c == crc;
    free(p);
    return rc;
}

/* Before the commit: how many originals changed since the backup, and how
 * many are gone. An original is only ever removed after the commit, but a
 * power loss can lose the commit rename and keep a removal made after it
 * (on a file system that does not keep the order); a gone original whose
 * copy in the backup checks against the manifest and the journal counts
 * as unchanged: its bytes are safe. One whose copy does not check is an
 * error, and nothing is touched: the staged files may be the only complete
 * copy of the data. */
static int rp_originals(const char *dir, const rp_journal *j, size_t *changed,
                        size_t *missing, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_backup bk = {0};
    bool have_backup = false;
    for (size_t i = 0; i < j->nremove && rc == WR_OK; i++) {
        const wri_backup_file *r = &j->remove[i];
        char *p = wri_path_join(dir, r->name);
        if (p == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        bool gone = !wri_path_exists(p), same = false;
        free(p);
        if (!gone) {
            if ((rc = rp_matches(dir, r->name, r->size, r->crc, &same, eb)) ==
                    WR_OK && !same)
                (*changed)++;
            continue;
        }
        if (!have_backup && (rc = wri_backup_read(j->backup, &bk, eb)) != WR_OK)
            break;
        have_backup = true;
        const wri_backup_file *copy = wri_backup_find(&bk, r->name);
        if (copy == NULL || copy->size != r->size || copy->crc != r->crc) {
            rc = WR_ERR(eb, WR_ECORRUPT, "%s: not in the backup's manifest "
                        "as the journal records it", r->name);
            break;
        }
        wri_backup one = {.path = bk.path, .files = (wri_backup_file *)copy,
                          .nfiles = 1};
        if ((rc = wri_backup_check(&one, eb)) == WR_OK)
            (*missing)++;
    }
    if (rc != WR_OK && rc != WR_ENOMEM) {
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb->msg);
        wr_errbuf_clear(eb);
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "%s: an interrupted %s left a journal and its original "
                    "files are gone or unreadable, but their backup in %s "
                    "does not check (%.600s); refusing to touch anything (the "
                    "staged files are in %s/%s)",
                    dir, j->tool, j->backup, why, dir, j->staging);
    }
    wri_backup_free(&bk);
    return rc;
}

/* Steps 4-6 (see replace.h). check_originals: re-read each original
 * before removing it (restart); commit and remove only when they match. */
static int rp_forward(const char *dir, const char *journal,
                      const rp_journal *j, bool check_originals,
                      wri_replace_result *res, wr_errbuf *eb)
{
    int rc = WR_OK;
    char *from = NULL, *to = NULL, *jpath = NULL, *sdir = NULL;
    wri_backup bk = {0};
    if ((sdir = wri_path_join(dir, j->staging)) == NULL)
        goto nomem;
    /* 4: moves */
    for (size_t i = 0; i < j->nmove; i++) {
        from = wri_path_join(sdir, j->move[i]);
        to = wri_path_join(dir, j->move[i]);
        if (from == NULL || to == NULL)
            goto nomem;
        if (wri_path_exists(from)) {
            if ((rc = wri_io_rename(from, to, eb)) != WR_OK)
                goto out;
        } else if (!wri_path_exists(to)) {
            rc = WR_ERR(eb, WR_ECORRUPT,
                        "%s: the journal moves %s into place, but neither "
                        "the staged copy nor the moved file exists",
                        dir, j->move[i]);
            goto out;
        }
        free(from);
        free(to);
        from = to = NULL;
    }
    /* a rename out of the staging directory is durable once both
     * directories are fsynced */
    if ((rc = wri_io_fsync_dir(dir, eb)) != WR_OK ||
        (wri_path_is_dir(sdir) && (rc = wri_io_fsync_dir(sdir, eb)) != WR_OK))
        goto out;
    /* 5: the commit point */
    from = wri_path_join(sdir, j->commit);
    to = wri_path_join(dir, j->commit);
    if (from == NULL || to == NULL)
        goto nomem;
    if (wri_path_exists(from)) {
        if ((rc = wri_io_rename(from, to, eb)) != WR_OK)
            goto out;
    } else {
        bool same;
        if ((rc = rp_matches(dir, j->commit, j->commit_size, j->commit_crc,
                             &same, eb)) != WR_OK)
            goto out;
        if (!same) {
            rc = WR_ERR(eb, WR_ECORRUPT,
                        "%s: the journal's commit file %s is neither staged "
                        "nor in place", dir, j->commit);
            goto out;
        }
    }
    /* the commit must be durable before any original goes */
    if ((rc = wri_io_fsync_dir(dir, eb)) != WR_OK ||
        (wri_path_is_dir(sdir) && (rc = wri_io_fsync_dir(sdir, eb)) != WR_OK))
        goto out;
    /* 6: originals, journal, staging */
    bool have_backup = wri_backup_read(j->backup, &bk, eb) == WR_OK;
    if (!have_backup)
        wr_errbuf_clear(eb);
    for (size_t i = 0; i < j->nremove; i++) {
        const wri_backup_file *r = &j->remove[i];
        const wri_backup_file *copy = have_backup ? wri_backup_find(&bk, r->name)
                                                  : NULL;
        char *p = wri_path_join(dir, r->name);
        if (p == NULL)
            goto nomem;
        bool exists = wri_path_exists(p), same = true;
        if (exists && check_originals &&
            (rc = rp_matches(dir, r->name, r->size, r->crc, &same, eb)) !=
                WR_OK) {
            free(p);
            goto out;
        }
        if (exists && (!same || copy == NULL || copy->crc != r->crc ||
                       copy->size != r->size)) {
            res->kept++;
            snprintf(res->note, sizeof res->note,
                     "%s was left in place: %s", r->name,
                     !same ? "it changed after it was backed up"
                           : "its backup copy is not in the manifest");
        } else if (exists) {
            rc = wri_io_unlink(p, eb);
            res->removed++;
        }
        free(p);
        if (rc != WR_OK)
            goto out;
    }
    if ((rc = wri_io_fsync_dir(dir, eb)) != WR_OK)
        goto out;
    if ((jpath = wri_path_join(dir, journal)) == NULL)
        goto nomem;
    if ((rc = wri_io_unlink(jpath, eb)) != WR_OK ||
        (rc = wri_io_fsync_dir(dir, eb)) != WR_OK ||
        (rc = wri_staging_remove(dir, j->staging, eb)) != WR_OK)
        goto out;
    rc = wri_io_fsync_dir(dir, eb); /* no empty staging directory left */
    goto out;
nomem:
    rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
out:
    wri_backup_free(&bk);
    free(from);
    free(to);
    free(jpath);
    free(sdir);
    return rc;
}

/* Undo moves made before the commit: the originals changed meanwhile. */
static int rp_back(const char *dir, const char *journal, const rp_journal *j,
                   wr_errbuf *eb)
{
    int rc = WR_OK;
    char *sdir = wri_path_join(dir, j->staging);
    char *jpath = wri_path_join(dir, journal);
    if (sdir == NULL || jpath == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < j->nmove && rc == WR_OK; i++) {
        char *from = wri_path_join(sdir, j->move[i]);
        char *to = wri_path_join(dir, j->move[i]);
        if (from == NULL || to == NULL)
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        else if (!wri_path_exists(from) && wri_path_exists(to))
            rc = wri_io_unlink(to, eb); /* moved in by us */
        free(from);
        free(to);
    }
    if (rc != WR_OK || (rc = wri_io_fsync_dir(dir, eb)) != WR_OK ||
        (rc = wri_io_unlink(jpath, eb)) != WR_OK ||
        (rc = wri_io_fsync_dir(dir, eb)) != WR_OK)
        goto out;
    rc = wri_staging_remove(dir, j->staging, eb);
out:
    free(sdir);
    free(jpath);
    return rc;
}

int wri_replace_commit(const char *dir, const char *journal,
                       const wri_replace_plan *plan, wri_replace_result *res,
                       wr_errbuf *eb)
{
    int rc;
    rp_journal j = {0};
    char *cpath = NULL;
    memset(res, 0, sizeof *res);
    j.tool = (char *)plan->tool;
    j.staging = (char *)plan->staging;
    j.move = (char **)plan->move;
    j.nmove = plan->nmove;
    j.commit = (char *)plan->commit;
    j.backup = plan->backup->path;
    j.nremove = plan->nremove;
    if (plan->nremove > 0 &&
        (j.remove = calloc(plan->nremove, sizeof *j.remove)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (size_t i = 0; i < plan->nremove; i++) {
        const wri_backup_file *f = wri_backup_find(plan->backup, plan->remove[i]);
        if (f == NULL) {
            rc = WR_ERR(eb, WR_EINVAL, "%s/%s: not in the backup; refusing "
                        "to plan its removal", dir, plan->remove[i]);
            goto out;
        }
        j.remove[i] = *f;
    }
    cpath = rp_join3(dir, plan->staging, plan->commit);
    if (cpath == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = wri_file_crc(cpath, &j.commit_size, &j.commit_crc, eb)) != WR_OK)
        goto out;
    /* 3: from here a rerun rolls forward */
    bool renamed;
    rc = journal_write(dir, journal, &j, &renamed, eb);
    /* a failed write may still have renamed the journal into place */
    res->journaled = rc == WR_OK || renamed;
    if (rc != WR_OK)
        goto out;
    if ((rc = rp_forward(dir, journal, &j, false, res, eb)) == WR_OK)
        res->outcome = WRI_RECOVER_FORWARD;
out:
    free(j.remove); /* the rest belongs to the plan */
    free(cpath);
    return rc;
}

int wri_replace_recover(const char *dir, const char *journal,
                        wri_replace_result *res, wr_errbuf *eb)
{
    int rc;
    rp_journal j;
    memset(res, 0, sizeof *res);
    char *tmpname = malloc(strlen(journal) + 8);
    if (tmpname == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    sprintf(tmpname, "%s.tmp", journal);
    char *tmp = wri_path_join(dir, tmpname);
    free(tmpname);
    if (tmp == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (!wri_replace_pending(dir, journal)) {
        /* a journal.tmp alone is debris of step 3 not done */
        rc = wri_path_exists(tmp) ? wri_io_unlink(tmp, eb) : WR_OK;
        free(tmp);
        return rc;
    }
    if (wri_path_exists(tmp) && (rc = wri_io_unlink(tmp, eb)) != WR_OK) {
        free(tmp);
        return rc;
    }
    free(tmp);
    if ((rc = journal_read(dir, journal, &j, eb)) != WR_OK)
        return rc;
    bool committed = false, staged;
    char *sc = rp_join3(dir, j.staging, j.commit);
    char *pc = wri_path_join(dir, j.commit);
    if (sc == NULL || pc == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    staged = wri_path_exists(sc);
    if (wri_path_exists(pc)) {
        if ((rc = rp_matches(dir, j.commit, j.commit_size, j.commit_crc,
                             &committed, eb)) != WR_OK)
            goto out;
        if (!committed && staged) {
            rc = WR_ERR(eb, WR_EEXIST,
                        "%s: an interrupted %s left a journal, but %s is not "
                        "the one it was committing; refusing to touch "
                        "anything (the backup is in %s)",
                        dir, j.tool, j.commit, j.backup);
            goto out;
        }
    }
    if (committed) {
        rc = rp_forward(dir, journal, &j, true, res, eb);
        res->outcome = WRI_RECOVER_FINISHED;
        if (res->note[0] == '\0')
            snprintf(res->note, sizeof res->note,
                     "an interrupted %s had committed; its cleanup is "
                     "finished (backup in %s)", j.tool, j.backup);
        goto out;
    }
    if (!staged) {
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "%s: an interrupted %s left a journal but neither a "
                    "staged nor a committed %s; refusing to guess (the "
                    "backup is in %s)", dir, j.tool, j.commit, j.backup);
        goto out;
    }
    /* not committed: forward if the originals are as backed up */
    size_t changed = 0, missing = 0;
    if ((rc = rp_originals(dir, &j, &changed, &missing, eb)) != WR_OK)
        goto out;
    if (changed > 0 && missing > 0) {
        rc = WR_ERR(eb, WR_EEXIST,
                    "%s: an interrupted %s left a journal; some original "
                    "files changed after they were backed up and others are "
                    "gone; refusing to touch anything (the staged files are "
                    "in %s/%s, the backup is in %s)",
                    dir, j.tool, dir, j.staging, j.backup);
        goto out;
    }
    if (changed == 0) {
        rc = rp_forward(dir, journal, &j, false, res, eb);
        res->outcome = WRI_RECOVER_FORWARD;
        if (res->note[0] == '\0' && missing > 0)
            snprintf(res->note, sizeof res->note,
                     "an interrupted %s was rolled forward (%zu original "
                     "files were gone already; their copies in %s check)",
                     j.tool, missing, j.backup);
        else if (res->note[0] == '\0')
            snprintf(res->note, sizeof res->note,
                     "an interrupted %s was rolled forward (backup in %s)",
                     j.tool, j.backup);
    } else {
        rc = rp_back(dir, journal, &j, eb);
        res->outcome = WRI_RECOVER_BACK;
        snprintf(res->note, sizeof res->note,
                 "an interrupted %s was rolled back: the original files "
                 "changed after they were backed up", j.tool);
    }
out:
    free(sc);
    free(pc);
    journal_free(&j);
    return rc;
}
