/*
 * backup.c -- step 1 of replace.h's protocol: copies of the originals
 * with a checksum manifest, read back and checked, reused by a rerun when
 * complete; and the free-space check a run makes before any of it (see
 * backup.h).
 *
 * MANIFEST (text, one line per file, so an operator can read it):
 *   # wrtools backup manifest: CRC-32 (zlib), size in bytes, file name
 *   # source: /path/of/DIR
 *   8 hex digits, a space, the size in decimal, a space, the name
 *   # end: N files, manifest crc XXXXXXXX
 * The last line's CRC covers every byte before that line; a manifest
 * without it is not complete. Names never hold a newline (collection names
 * and field paths exclude control characters).
 */
#include "backup.h"

#include "wr_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RP_CHUNK (1u << 20)
#define RP_MANIFEST_MAX (16u << 20)

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
    nf[b->nfiles].shared = false;
    b->nfiles++;
    b->bytes += size;
    return 0;
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
    if ((rc = wri_io_read_whole(path, RP_MANIFEST_MAX, "a manifest", &buf,
                                &len, eb)) != WR_OK)
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
    rc = wri_io_write_atomic(b->path, name, text, len, NULL, eb);
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
 * written; the caller vouches no tool writes src again; *shared set),
 * else a byte copy. Either way the copy is fsynced. A shared copy's size
 * and CRC come from reading it, so a file that changed since the caller
 * read it is caught; a byte copy's from reading src as it is copied, and
 * the manifest check reads the copy back. */
static int backup_copy(const char *src, const char *dst, bool share,
                       uint64_t *size_out, uint32_t *crc_out, bool *shared,
                       wr_errbuf *eb)
{
    int rc;
    const char *how = NULL;
    wri_file *f = NULL;
    wr_errbuf sb = {0};
    *shared = false;
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
    *shared = true;
    return wri_file_crc(dst, size_out, crc_out, eb);
}

/* Read the copy of f in backup directory dir: f's size and CRC? */
static int backup_check_one(const char *dir, const wri_backup_file *f,
                            wr_errbuf *eb)
{
    int rc;
    uint64_t size;
    uint32_t crc;
    char *p = wri_path_join(dir, f->name);
    if (p == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    rc = wri_file_crc(p, &size, &crc, eb);
    if (rc == WR_OK && (size != f->size || crc != f->crc))
        rc = WR_ERR(eb, WR_EIO,
                    "%s: the backup copy does not match its manifest "
                    "(%llu bytes, CRC %08x; the manifest says %llu bytes, "
                    "CRC %08x)",
                    p, (unsigned long long)size, crc,
                    (unsigned long long)f->size, f->crc);
    free(p);
    return rc;
}

int wri_backup_check(const wri_backup *b, wr_errbuf *eb)
{
    int rc;
    for (size_t i = 0; i < b->nfiles; i++)
        if ((rc = backup_check_one(b->path, &b->files[i], eb)) != WR_OK)
            return rc;
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
    bool has_manifest = mp != NULL && wri_path_exists(mp);
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
        if (p != NULL && wri_path_is_dir(p)) {
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
        if (p == NULL || !wri_path_exists(p))
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
    if (wri_path_exists(p))
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
        if (wri_path_exists(backup_dir)) {
            if (!wri_path_is_dir(backup_dir))
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
        bool shared = false;
        char *dst = wri_path_join(path, src[i].name);
        if (dst == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto out;
        }
        rc = backup_copy(src[i].path, dst, src[i].share, &size, &crc, &shared,
                         eb);
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
        out->files[out->nfiles - 1].shared = shared;
    }
    if ((rc = wri_io_fsync_dir(path, eb)) != WR_OK ||
        (rc = manifest_write(dir, out, WRI_MANIFEST_NAME, eb)) != WR_OK)
        goto out;
    /* read every byte copy back against the manifest as written on disk.
     * A shared copy is not read again: nothing of ours wrote it, and
     * backup_copy has just read it whole, after its fsync, for the very
     * CRC compared below with the manifest on disk (a hard link is the
     * legacy file itself, which migrate reads once more just before its
     * commit, mg_check_unchanged; a reflink is a frozen copy nothing
     * writes). Reading it again here checked the same bytes against the
     * same CRC a second time: for a hard-linked log, a whole pass over
     * the log (docs/LEGACY.md step 6). */
    wri_backup disk;
    if ((rc = wri_backup_read(path, &disk, eb)) != WR_OK)
        goto out;
    for (size_t i = 0; rc == WR_OK && i < disk.nfiles; i++) {
        const wri_backup_file *f = wri_backup_find(out, disk.files[i].name);
        if (f == NULL || !f->shared)
            rc = backup_check_one(path, &disk.files[i], eb);
    }
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
    } else if (rc == WR_OK && wri_path_is_dir(b->path)) {
        rc = wri_io_fsync_dir(b->path, eb);
    }
    return rc;
}

/* --- free space ------------------------------------------------------------ */

/* "1.2 GB", "340 kB", "12 B" */
static void fmt_bytes(uint64_t bytes, char out[24])
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
    while (p != NULL && !wri_path_is_dir(p)) {
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
        fmt_bytes(total, nb);
        fmt_bytes(avail[i], fb);
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
