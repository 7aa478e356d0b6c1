/*
 * replace.c -- backups with a checksum manifest, staging, the journal,
 * commit and restart (see replace.h for the protocol and its rules).
 *
 * MANIFEST (text, one line per file, so an operator can read it):
 *   # wrtools backup manifest: CRC-32 (zlib), size in bytes, file name
 *   # source: /path/of/DIR
 *   8 hex digits, a space, the size in decimal, a space, the name
 *   # end: N files, manifest crc XXXXXXXX
 * The last line's CRC covers every byte before that line; a manifest
 * without it is not complete. Names never hold a newline (collection names
 * and field paths exclude control characters).
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
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RP_CHUNK (1u << 20)
#define RP_MANIFEST_MAX (16u << 20)
#define RP_JOURNAL_MAGIC "WRJOURN\n"
#define RP_JOURNAL_HDR 32
#define RP_JOURNAL_MAX (16u << 20)

static bool rp_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static bool rp_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

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

/* The directory that holds path (malloc'd). */
static char *rp_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int wri_file_crc(const char *path, uint64_t *size_out, uint32_t *crc_out,
                 wr_errbuf *eb)
{
    int rc;
    wri_file *f = NULL;
    uint8_t *buf = malloc(RP_CHUNK);
    uint64_t off = 0;
    uint32_t crc = 0;
    if (buf == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_io_open(path, WRI_IO_RDONLY, &f, eb)) != WR_OK)
        goto out;
    for (;;) {
        size_t got = 0;
        if ((rc = wri_io_pread_some(f, buf, RP_CHUNK, off, &got, eb)) != WR_OK)
            goto out;
        if (got == 0)
            break;
        crc = wri_crc32(crc, buf, got);
        off += got;
    }
    *size_out = off;
    *crc_out = (uint32_t)crc;
out:
    wri_io_close(f);
    free(buf);
    return rc;
}

/* --- manifest ------------------------------------------------------------- */

void wri_backup_free(wri_backup *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nfiles; i++)
        free(b->files[i].name);
    free(b->files);
    free(b->path);
    memset(b, 0, sizeof *b);
}

const wri_backup_file *wri_backup_find(const wri_backup *b, const char *name)
{
    for (size_t i = 0; i < b->nfiles; i++)
        if (strcmp(b->files[i].name, name) == 0)
            return &b->files[i];
    return NULL;
}

static int backup_push(wri_backup *b, const char *name, uint64_t size,
                       uint32_t crc)
{
    wri_backup_file *nf = realloc(b->files, (b->nfiles + 1) * sizeof *nf);
    if (nf == NULL)
        return -1;
    b->files = nf;
    if ((nf[b->nfiles].name = strdup(name)) == NULL)
        return -1;
    nf[b->nfiles].size = size;
    nf[b->nfiles].crc = crc;
    b->nfiles++;
    b->bytes += size;
    return 0;
}

/* Read a whole small file (at most max bytes). */
static int rp_slurp(const char *path, uint64_t max, uint8_t **buf_out,
                    size_t *len_out, wr_errbuf *eb)
{
    int rc;
    wri_file *f = NULL;
    uint64_t size;
    uint8_t *buf = NULL;
    if ((rc = wri_io_open(path, WRI_IO_RDONLY, &f, eb)) != WR_OK)
        return rc;
    if ((rc = wri_io_size(f, &size, eb)) != WR_OK)
        goto out;
    if (size > max) {
        rc = WR_ERR(eb, WR_ECORRUPT, "%s: %llu bytes, more than %llu", path,
                    (unsigned long long)size, (unsigned long long)max);
        goto out;
    }
    if ((buf = malloc(size + 1)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = wri_io_pread(f, buf, (size_t)size, 0, eb)) != WR_OK)
        goto out;
    buf[size] = '\0';
    *buf_out = buf;
    *len_out = (size_t)size;
    buf = NULL;
out:
    free(buf);
    wri_io_close(f);
    return rc;
}

/* Read a manifest-format list: MANIFEST or MANIFEST.next. */
static int manifest_read(const char *backup_dir, const char *name,
                         wri_backup *out, wr_errbuf *eb)
{
    int rc;
    uint8_t *buf = NULL;
    size_t len = 0;
    char *path = wri_path_join(backup_dir, name);
    memset(out, 0, sizeof *out);
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = rp_slurp(path, RP_MANIFEST_MAX, &buf, &len, eb)) != WR_OK)
        goto out;
    if ((out->path = strdup(backup_dir)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    bool ended = false;
    size_t lineno = 0;
    uint32_t sofar = 0; /* CRC of the lines before this one */
    for (size_t pos = 0; pos < len && !ended;) {
        char *line = (char *)buf + pos;
        char *nl = memchr(line, '\n', len - pos);
        if (nl == NULL) {
            rc = WR_ERR(eb, WR_ECORRUPT, "%s: last line has no newline "
                        "(the manifest is incomplete)", path);
            goto out;
        }
        uint32_t before = sofar;
        sofar = wri_crc32(sofar, line, (size_t)(nl - line + 1));
        *nl = '\0';
        lineno++;
        if (strncmp(line, "# end: ", 7) == 0) {
            unsigned long long n;
            unsigned int crc;
            if (sscanf(line, "# end: %llu files, manifest crc %8x", &n,
                       &crc) != 2 ||
                n != out->nfiles || crc != (uint32_t)before) {
                rc = WR_ERR(eb, WR_ECORRUPT,
                            "%s: line %zu: the end line does not match the "
                            "manifest (count or CRC)", path, lineno);
                goto out;
            }
            ended = true;
        } else if (line[0] != '#') {
            unsigned int crc;
            unsigned long long size;
            int used = 0;
            if (sscanf(line, "%8x %llu %n", &crc, &size, &used) != 2 ||
                used == 0 || line[used] == '\0' ||
                wri_backup_find(out, line + used) != NULL) {
                rc = WR_ERR(eb, WR_ECORRUPT, "%s: line %zu: not \"CRC SIZE "
                            "NAME\" or a repeated name", path, lineno);
                goto out;
            }
            if (backup_push(out, line + used, size, crc) != 0) {
                rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
                goto out;
            }
        }
        pos = (size_t)(nl - (char *)buf) + 1;
    }
    if (!ended)
        rc = WR_ERR(eb, WR_ECORRUPT, "%s: no end line (the manifest is "
                    "incomplete)", path);
out:
    if (rc != WR_OK)
        wri_backup_free(out);
    free(buf);
    free(path);
    return rc;
}

int wri_backup_read(const char *backup_dir, wri_backup *out, wr_errbuf *eb)
{
    return manifest_read(backup_dir, WRI_MANIFEST_NAME, out, eb);
}

static int manifest_write(const char *dir, const wri_backup *b,
                          const char *name, wr_errbuf *eb)
{
    int rc;
    size_t cap = 256 + PATH_MAX, len = 0;
    for (size_t i = 0; i < b->nfiles; i++)
        cap += strlen(b->files[i].name) + 40;
    char *text = malloc(cap + 64);
    if (text == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    char *abs = realpath(dir, NULL);
    len += (size_t)snprintf(text + len, cap - len,
                            "# wrtools backup manifest: CRC-32 (zlib), size "
                            "in bytes, file name\n# source: %s\n",
                            abs ? abs : dir);
    free(abs);
    for (size_t i = 0; i < b->nfiles; i++)
        len += (size_t)snprintf(text + len, cap - len, "%08x %llu %s\n",
                                b->files[i].crc,
                                (unsigned long long)b->files[i].size,
                                b->files[i].name);
    uint32_t crc = wri_crc32(0, text, len);
    len += (size_t)snprintf(text + len, cap + 64 - len,
                            "# end: %zu files, manifest crc %08x\n",
                            b->nfiles, crc);
    rc = wri_io_write_atomic(b->path, name, text, len, eb);
    free(text);
    return rc;
}

/* --- backups ----------------------------------------------------------------- */

/* Copy src's bytes to dst (created or truncated), fsync; size and CRC of
 * what was copied. */
static int backup_copy_bytes(const char *src, const char *dst,
                             uint64_t *size_out, uint32_t *crc_out,
                             wr_errbuf *eb)
{
    int rc;
    wri_file *in = NULL, *out = NULL;
    uint8_t *buf = malloc(RP_CHUNK);
    uint64_t off = 0;
    uint32_t crc = 0;
    if (buf == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_io_open(src, WRI_IO_RDONLY, &in, eb)) != WR_OK ||
        (rc = wri_io_open(dst, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_TRUNC,
                          &out, eb)) != WR_OK)
        goto out;
    for (;;) {
        size_t got = 0;
        if ((rc = wri_io_pread_some(in, buf, RP_CHUNK, off, &got, eb)) !=
            WR_OK)
            goto out;
        if (got == 0)
            break;
        crc = wri_crc32(crc, buf, got);
        if ((rc = wri_io_pwrite(out, buf, got, off, eb)) != WR_OK)
            goto out;
        off += got;
    }
    if ((rc = wri_io_fsync(out, eb)) != WR_OK)
        goto out;
    *size_out = off;
    *crc_out = (uint32_t)crc;
out:
    wri_io_close(in);
    wri_io_close(out);
    free(buf);
    return rc;
}

/* Put a copy of src at dst: with share and where dst's file system
 * allows, the same bytes shared (a reflink, else a hard link: nothing is
 * written; the caller vouches no tool writes src again), else a byte
 * copy. Either way the copy is fsynced and its size and
 * CRC come from reading it, so a file that changed since the caller read
 * it is caught, and the manifest check reads it again. */
static int backup_copy(const char *src, const char *dst, bool share,
                       uint64_t *size_out, uint32_t *crc_out, wr_errbuf *eb)
{
    int rc;
    const char *how = NULL;
    wri_file *f = NULL;
    wr_errbuf sb = {0};
    if (!share)
        return backup_copy_bytes(src, dst, size_out, crc_out, eb);
    rc = wri_io_share(src, dst, &how, &sb);
    if (rc == WR_EEXIST) { /* debris of an unfinished backup */
        if ((rc = wri_io_unlink(dst, eb)) != WR_OK)
            return rc;
        rc = wri_io_share(src, dst, &how, &sb);
    }
    if (rc == WR_ENOTSUP)
        return backup_copy_bytes(src, dst, size_out, crc_out, eb);
    if (rc != WR_OK) {
        wri_err_set(eb, rc, sb.src_file, sb.src_line, "%s", sb.msg);
        return rc;
    }
    /* the original's bytes may not be on disk yet: make them durable */
    if ((rc = wri_io_open(dst, WRI_IO_RDONLY, &f, eb)) == WR_OK)
        rc = wri_io_fsync(f, eb);
    wri_io_close(f);
    if (rc != WR_OK)
        return rc;
    return wri_file_crc(dst, size_out, crc_out, eb);
}

int wri_backup_check(const wri_backup *b, wr_errbuf *eb)
{
    int rc;
    for (size_t i = 0; i < b->nfiles; i++) {
        uint64_t size;
        uint32_t crc;
        char *p = wri_path_join(b->path, b->files[i].name);
        if (p == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        rc = wri_file_crc(p, &size, &crc, eb);
        if (rc == WR_OK && (size != b->files[i].size || crc != b->files[i].crc))
            rc = WR_ERR(eb, WR_EIO,
                        "%s: the backup copy does not match its manifest "
                        "(%llu bytes, CRC %08x; the manifest says %llu "
                        "bytes, CRC %08x)",
                        p, (unsigned long long)size, crc,
                        (unsigned long long)b->files[i].size,
                        b->files[i].crc);
        free(p);
        if (rc != WR_OK)
            return rc;
    }
    return WR_OK;
}

/* Does the backup's manifest list exactly these files with the bytes the
 * sources hold (the checksums the caller expects, else read now)? A source
 * may instead hold what MANIFEST.next (wri_backup_expect) says it will
 * hold once the run that made the backup is done: a rerun after a crash
 * goes on with its own backup. */
static bool backup_same(const wri_backup *b, const wri_backup *next,
                        const wri_backup_src *src, size_t n)
{
    if (b->nfiles != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const wri_backup_file *f = wri_backup_find(b, src[i].name);
        const wri_backup_file *g = next ? wri_backup_find(next, src[i].name)
                                        : NULL;
        uint64_t size = src[i].size;
        uint32_t crc = src[i].crc;
        wr_errbuf tmp = {0};
        if (f == NULL ||
            (!src[i].check &&
             wri_file_crc(src[i].path, &size, &crc, &tmp) != WR_OK))
            return false;
        if ((f->size != size || f->crc != crc) &&
            (g == NULL || g->size != size || g->crc != crc))
            return false;
    }
    return true;
}

/* What an existing directory can be used for. */
enum { BK_NEW = 0, BK_PARTIAL, BK_SAME, BK_OTHER };

static int backup_classify(const char *path, const wri_backup_src *src,
                           size_t n)
{
    char *mp = wri_path_join(path, WRI_MANIFEST_NAME);
    bool has_manifest = mp != NULL && rp_exists(mp);
    free(mp);
    if (has_manifest) {
        wri_backup b, next;
        wr_errbuf tmp = {0};
        int kind = BK_OTHER;
        if (wri_backup_read(path, &b, &tmp) == WR_OK) {
            bool has_next =
                manifest_read(path, WRI_MANIFEST_NEXT, &next, &tmp) == WR_OK;
            if (backup_same(&b, has_next ? &next : NULL, src, n))
                kind = BK_SAME;
            if (has_next)
                wri_backup_free(&next);
            wri_backup_free(&b);
        }
        return kind;
    }
    /* unfinished: only names this backup would write */
    DIR *d = opendir(path);
    struct dirent *e;
    int kind = BK_PARTIAL;
    if (d == NULL)
        return BK_OTHER;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, WRI_MANIFEST_NAME ".tmp") == 0)
            continue;
        bool ours = false;
        for (size_t i = 0; i < n && !ours; i++)
            ours = strcmp(e->d_name, src[i].name) == 0;
        if (!ours) {
            kind = BK_OTHER;
            break;
        }
    }
    closedir(d);
    return kind;
}

static int name_cmp_desc(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* The newest DIR/wr-backup-* that can be used; NULL if none. */
static char *backup_find_default(const char *dir, const wri_backup_src *src,
                                 size_t n, int *kind_out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0;
    char *found = NULL;
    if (d == NULL)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, WRI_BACKUP_PREFIX, strlen(WRI_BACKUP_PREFIX)))
            continue;
        char **nv = realloc(names, (nn + 1) * sizeof *nv);
        if (nv == NULL)
            break;
        names = nv;
        if ((names[nn] = strdup(e->d_name)) == NULL)
            break;
        nn++;
    }
    closedir(d);
    if (nn > 0)
        qsort(names, nn, sizeof *names, name_cmp_desc);
    for (size_t i = 0; i < nn && found == NULL; i++) {
        char *p = wri_path_join(dir, names[i]);
        if (p != NULL && rp_is_dir(p)) {
            int k = backup_classify(p, src, n);
            if (k == BK_SAME || k == BK_PARTIAL) {
                *kind_out = k;
                found = p;
                p = NULL;
            }
        }
        free(p);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return found;
}

/* DIR/wr-backup-YYYYmmddTHHMMSSZ[-N] that does not exist yet. */
static char *backup_new_name(const char *dir)
{
    char name[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t k = strftime(name, sizeof name, WRI_BACKUP_PREFIX "%Y%m%dT%H%M%SZ",
                        &tm);
    for (int i = 1; i < 1000; i++) {
        if (i > 1)
            snprintf(name + k, sizeof name - k, "-%d", i);
        char *p = wri_path_join(dir, name);
        if (p == NULL || !rp_exists(p))
            return p;
        free(p);
    }
    return NULL;
}

/* Unlink DIR/name if it is there. */
static int backup_remove_one(const char *dir, const char *name, wr_errbuf *eb)
{
    int rc = WR_OK;
    char *p = wri_path_join(dir, name);
    if (p == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (rp_exists(p))
        rc = wri_io_unlink(p, eb);
    free(p);
    return rc;
}

int wri_backup_make(const char *dir, const char *backup_dir,
                    const wri_backup_src *src, size_t n, wri_backup *out,
                    wr_errbuf *eb)
{
    int rc = WR_OK;
    int kind = BK_NEW;
    char *path = NULL, *parent = NULL;
    memset(out, 0, sizeof *out);
    if (backup_dir != NULL) {
        if (rp_exists(backup_dir)) {
            if (!rp_is_dir(backup_dir))
                return WR_ERR(eb, WR_EEXIST, "%s: exists and is not a "
                              "directory", backup_dir);
            kind = backup_classify(backup_dir, src, n);
            if (kind == BK_OTHER)
                return WR_ERR(eb, WR_EEXIST,
                              "%s: the backup directory holds other files "
                              "or another backup; name a new or empty one",
                              backup_dir);
        }
        path = strdup(backup_dir);
    } else {
        path = backup_find_default(dir, src, n, &kind);
        if (path == NULL) {
            kind = BK_NEW;
            path = backup_new_name(dir);
        }
    }
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    out->path = path;
    if (kind == BK_SAME) {
        /* the same bytes were backed up completely before: check them */
        wri_backup old;
        if ((rc = wri_backup_read(path, &old, eb)) != WR_OK)
            goto out;
        free(old.path);
        old.path = out->path;
        *out = old;
        out->reused = true;
        rc = wri_backup_check(out, eb);
        goto out;
    }
    if (kind == BK_NEW) {
        if ((parent = rp_parent(path)) == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = wri_io_mkdir(path, eb)) != WR_OK)
            goto out;
        out->created = true;
        if ((rc = wri_io_fsync_dir(parent, eb)) != WR_OK)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t size = 0;
        uint32_t crc = 0;
        char *dst = wri_path_join(path, src[i].name);
        if (dst == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto out;
        }
        rc = backup_copy(src[i].path, dst, src[i].share, &size, &crc, eb);
        if (rc == WR_OK && src[i].check &&
            (size != src[i].size || crc != src[i].crc))
            rc = WR_ERR(eb, WR_EIO,
                        "%s changed while it was being migrated (%llu bytes, "
                        "CRC %08x when read; %llu bytes, CRC %08x when "
                        "copied): is a legacy writer still running?",
                        src[i].path, (unsigned long long)src[i].size,
                        src[i].crc, (unsigned long long)size, crc);
        free(dst);
        if (rc != WR_OK)
            goto out;
        if (backup_push(out, src[i].name, size, crc) != 0) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = wri_io_fsync_dir(path, eb)) != WR_OK ||
        (rc = manifest_write(dir, out, WRI_MANIFEST_NAME, eb)) != WR_OK)
        goto out;
    /* read every copy back against the manifest as written on disk */
    wri_backup disk;
    if ((rc = wri_backup_read(path, &disk, eb)) != WR_OK)
        goto out;
    rc = wri_backup_check(&disk, eb);
    if (rc == WR_OK && disk.nfiles != out->nfiles)
        rc = WR_ERR(eb, WR_EIO, "%s: the manifest read back lists %zu files, "
                    "%zu were copied", path, disk.nfiles, out->nfiles);
    for (size_t i = 0; rc == WR_OK && i < out->nfiles; i++) {
        const wri_backup_file *f = wri_backup_find(&disk, out->files[i].name);
        if (f == NULL || f->crc != out->files[i].crc ||
            f->size != out->files[i].size)
            rc = WR_ERR(eb, WR_EIO, "%s: the manifest read back differs "
                        "for %s", path, out->files[i].name);
    }
    wri_backup_free(&disk);
out:
    free(parent);
    if (rc != WR_OK) {
        char *keep = out->path;
        bool created = out->created;
        if (kind != BK_SAME && keep != NULL) {
            /* leave nothing half made behind (best effort) */
            wri_backup gone = {.path = keep, .created = created};
            wr_errbuf scratch = {0};
            for (size_t i = 0; i < n; i++)
                (void)backup_remove_one(keep, src[i].name, &scratch);
            (void)wri_backup_discard(&gone, &scratch);
        }
        out->path = NULL;
        wri_backup_free(out);
        out->path = keep; /* where it went wrong, for the message */
        out->created = created;
    }
    return rc;
}

int wri_backup_discard(const wri_backup *b, wr_errbuf *eb)
{
    int rc = WR_OK;
    static const char *const extra[] = {WRI_MANIFEST_NAME,
                                        WRI_MANIFEST_NAME ".tmp",
                                        WRI_MANIFEST_NEXT,
                                        WRI_MANIFEST_NEXT ".tmp"};
    if (b->path == NULL || b->reused)
        return WR_OK;
    for (size_t i = 0; i < b->nfiles && rc == WR_OK; i++)
        rc = backup_remove_one(b->path, b->files[i].name, eb);
    for (size_t i = 0; i < 4 && rc == WR_OK; i++)
        rc = backup_remove_one(b->path, extra[i], eb);
    if (rc == WR_OK && b->created) {
        char *parent = rp_parent(b->path);
        if (parent == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        if ((rc = wri_io_rmdir(b->path, eb)) == WR_OK)
            rc = wri_io_fsync_dir(parent, eb);
        free(parent);
    } else if (rc == WR_OK && rp_is_dir(b->path)) {
        rc = wri_io_fsync_dir(b->path, eb);
    }
    return rc;
}

/* --- free space ------------------------------------------------------------ */

void wri_fmt_bytes(uint64_t bytes, char out[24])
{
    static const char *const unit[] = {"kB", "MB", "GB", "TB", "PB"};
    if (bytes < 1000) {
        snprintf(out, 24, "%llu B", (unsigned long long)bytes);
        return;
    }
    double v = (double)bytes / 1000.0;
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    snprintf(out, 24, v < 10.0 ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* The nearest existing directory at or above path (malloc'd). */
static char *rp_existing(const char *path)
{
    char *p = strdup(path);
    while (p != NULL && !rp_is_dir(p)) {
        char *up = rp_parent(p);
        if (up != NULL && strcmp(up, p) == 0) {
            free(up);
            break;
        }
        free(p);
        p = up;
    }
    return p;
}

int wri_space_check(const wri_space_need *need, size_t n, wr_errbuf *eb)
{
    int rc = WR_OK;
    uint64_t *fs = calloc(n + 1, sizeof *fs), *avail = calloc(n + 1, sizeof *avail);
    if (fs == NULL || avail == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && rc == WR_OK; i++) {
        char *d = rp_existing(need[i].dir);
        if (d == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            break;
        }
        rc = wri_io_free_space(d, &avail[i], &fs[i], eb);
        free(d);
    }
    for (size_t i = 0; i < n && rc == WR_OK; i++) {
        uint64_t total = 0;
        bool first = true;
        for (size_t k = 0; k < n; k++) {
            if (fs[k] != fs[i])
                continue;
            first = first && k >= i;
            total += need[k].bytes;
        }
        if (!first || total <= avail[i])
            continue;
        char nb[24], fb[24];
        wri_fmt_bytes(total, nb);
        wri_fmt_bytes(avail[i], fb);
        rc = WR_ERR(eb, WR_ENOSPC,
                    "not enough free space: needs about %s in %s, %s free "
                    "there; nothing was changed (free some space%s)",
                    nb, need[i].dir, fb,
                    n > 1 ? ", or put the backup on another file system"
                          : "");
    }
out:
    free(fs);
    free(avail);
    return rc;
}

int wri_backup_expect(const char *dir, const char *backup_dir,
                      const wri_backup_file *files, size_t n, wr_errbuf *eb)
{
    wri_backup next = {.path = (char *)backup_dir,
                       .files = (wri_backup_file *)files, .nfiles = n};
    return manifest_write(dir, &next, WRI_MANIFEST_NEXT, eb);
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
    if (rp_exists(path)) {
        if (!rp_is_dir(path))
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
    if (!rp_exists(path)) {
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

static int journal_write(const char *dir, const char *name, const rp_journal *j,
                         wr_errbuf *eb)
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
    if ((buf = calloc(1, len)) == NULL) {
        bson_destroy(&doc);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    memcpy(buf + 4, RP_JOURNAL_MAGIC, 8);
    wri_put32(buf + 12, 1);
    wri_put32(buf + 16, doc.len);
    memcpy(buf + RP_JOURNAL_HDR, bson_get_data(&doc), doc.len);
    wri_put32(buf, wri_crc32(0, buf + 4, len - 4));
    rc = wri_io_write_atomic(dir, name, buf, len, eb);
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
    if ((rc = rp_slurp(path, RP_JOURNAL_MAX, &buf, &len, eb)) != WR_OK)
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
    bool r = p != NULL && rp_exists(p);
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
    if (!rp_exists(p)) {
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
        bool gone = !rp_exists(p), same = false;
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
        if (rp_exists(from)) {
            if ((rc = wri_io_rename(from, to, eb)) != WR_OK)
                goto out;
        } else if (!rp_exists(to)) {
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
        (rp_is_dir(sdir) && (rc = wri_io_fsync_dir(sdir, eb)) != WR_OK))
        goto out;
    /* 5: the commit point */
    from = wri_path_join(sdir, j->commit);
    to = wri_path_join(dir, j->commit);
    if (from == NULL || to == NULL)
        goto nomem;
    if (rp_exists(from)) {
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
        (rp_is_dir(sdir) && (rc = wri_io_fsync_dir(sdir, eb)) != WR_OK))
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
        bool exists = rp_exists(p), same = true;
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
        else if (!rp_exists(from) && rp_exists(to))
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
    rc = journal_write(dir, journal, &j, eb);
    /* a failed write may still have renamed the journal into place */
    res->journaled = rc == WR_OK || wri_replace_pending(dir, journal);
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
        rc = rp_exists(tmp) ? wri_io_unlink(tmp, eb) : WR_OK;
        free(tmp);
        return rc;
    }
    if (rp_exists(tmp) && (rc = wri_io_unlink(tmp, eb)) != WR_OK) {
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
    staged = rp_exists(sc);
    if (rp_exists(pc)) {
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
