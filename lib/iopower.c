/*
 * iopower.c -- the power-loss model (see iopower.h; io.h says how tests
 * use it). Test machinery: nothing here runs unless a fault plan asks for
 * a power loss, and then only in the process that will crash.
 *
 * Records live in one growing array, in the order the calls were made.
 * A data op keeps the bytes it overwrote (freed once an fsync of its file
 * makes it durable: a durable data op is never undone). A directory op
 * keeps canonical names (the real path of the parent, then the name) and
 * the parents' inodes; an unlink, or a rename over an existing file, keeps
 * a read-only descriptor of the file it removed, to put its bytes back.
 */
#include "iopower.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

bool wri_pw_on;

#define WRI_PW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define WRI_PW_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PW_PIECE 4096u /* what the page cache writes back at a time */

enum { PW_WRITE, PW_TRUNC, PW_CREATE, PW_RENAME, PW_UNLINK, PW_MKDIR,
       PW_RMDIR };

typedef struct pw_key {
    dev_t dev;
    ino_t ino;
} pw_key;

typedef struct pw_op {
    int kind;
    bool durable;
    bool lost;
    bool tentative; /* a directory op waiting for wri_pw_done */
    /* data ops */
    int file;       /* index into pw_files */
    uint64_t off;   /* write: offset; trunc: the new size */
    size_t len;
    uint64_t old_size;
    uint8_t *old;   /* write: old bytes in [off, min(off+len, old_size));
                       trunc: old bytes in [new size, old_size) */
    size_t old_len;
    /* directory ops */
    char *name, *name2; /* canonical; name2: a rename's target */
    pw_key dir, dir2;   /* parents */
    bool synced, synced2;
    int saved_fd;       /* unlink / replaced target: the removed file */
} pw_op;

typedef struct pw_file {
    pw_key key;
    int fd; /* our own descriptor, for undoing writes */
} pw_file;

static pw_op *pw_ops;
static size_t pw_nops, pw_cap;
static pw_file *pw_files;
static size_t pw_nfiles;
static uint64_t pw_rng;

static uint64_t pw_rand(void)
{
    /* xorshift64* */
    pw_rng ^= pw_rng >> 12;
    pw_rng ^= pw_rng << 25;
    pw_rng ^= pw_rng >> 27;
    return pw_rng * 2685821657736338717ull;
}

static void pw_free_op(pw_op *o)
{
    free(o->old);
    free(o->name);
    free(o->name2);
    if (o->saved_fd >= 0)
        close(o->saved_fd);
}

void wri_pw_stop(void)
{
    for (size_t i = 0; i < pw_nops; i++)
        pw_free_op(&pw_ops[i]);
    free(pw_ops);
    pw_ops = NULL;
    pw_nops = pw_cap = 0;
    for (size_t i = 0; i < pw_nfiles; i++)
        close(pw_files[i].fd);
    free(pw_files);
    pw_files = NULL;
    pw_nfiles = 0;
    wri_pw_on = false;
}

void wri_pw_start(uint64_t seed)
{
    wri_pw_stop();
    /* splitmix64 of the seed: nearby seeds give unrelated subsets */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    pw_rng = (z ^ (z >> 31)) | 1;
    /* seed 0: every op not durable is lost */
    if (seed == 0)
        pw_rng = 0;
    wri_pw_on = true;
}

/* A new record, or NULL (out of memory: the model then stops recording,
 * and the sweep notices nothing; tests run far from that). */
static pw_op *pw_push(int kind)
{
    if (pw_nops == pw_cap) {
        size_t nc = pw_cap ? 2 * pw_cap : 256;
        pw_op *n = realloc(pw_ops, nc * sizeof *n);
        if (n == NULL)
            return NULL;
        pw_ops = n;
        pw_cap = nc;
    }
    pw_op *o = &pw_ops[pw_nops++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->file = -1;
    o->saved_fd = -1;
    return o;
}

static int pw_file_of(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    for (size_t i = 0; i < pw_nfiles; i++)
        if (pw_files[i].key.dev == st.st_dev &&
            pw_files[i].key.ino == st.st_ino)
            return (int)i;
    pw_file *n = realloc(pw_files, (pw_nfiles + 1) * sizeof *n);
    if (n == NULL)
        return -1;
    pw_files = n;
    int mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mine < 0)
        return -1;
    pw_files[pw_nfiles] = (pw_file){{st.st_dev, st.st_ino}, mine};
    return (int)pw_nfiles++;
}

/* Read [off, off + len) of fd, as far as the file goes. */
static uint8_t *pw_read(int fd, uint64_t off, size_t len, size_t *got)
{
    uint8_t *buf = malloc(len ? len : 1);
    *got = 0;
    if (buf == NULL)
        return NULL;
    while (*got < len) {
        ssize_t r = pread(fd, buf + *got, len - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        *got += (size_t)r;
    }
    return buf;
}

static uint64_t pw_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void wri_pw_write(int fd, size_t len, uint64_t off)
{
    int file = pw_file_of(fd);
    pw_op *o;
    if (file < 0 || (o = pw_push(PW_WRITE)) == NULL)
        return;
    o->file = file;
    o->off = off;
    o->len = len;
    o->old_size = pw_size(fd);
    if (off < o->old_size)
        o->old = pw_read(fd, off, (size_t)WRI_PW_MIN(len, o->old_size - off),
                         &o->old_len);
}

void wri_pw_truncate(int fd, uint64_t size)
{
    int file = pw_file_of(fd);
    pw_op *o;
    if (file < 0 || (o = pw_push(PW_TRUNC)) == NULL)
        return;
    o->file = file;
    o->off = size;
    o->old_size = pw_size(fd);
    if (size < o->old_size)
        o->old = pw_read(fd, size, (size_t)(o->old_size - size), &o->old_len);
}

/* parent's real path + "/" + last component; the parent's inode. */
static char *pw_canon(const char *path, pw_key *dir)
{
    char *copy = strdup(path), *copy2 = strdup(path);
    char *out = NULL;
    if (copy == NULL || copy2 == NULL)
        goto out;
    char *parent = realpath(dirname(copy), NULL);
    const char *base = basename(copy2);
    struct stat st;
    if (parent != NULL && stat(parent, &st) == 0) {
        dir->dev = st.st_dev;
        dir->ino = st.st_ino;
        size_t n = strlen(parent) + strlen(base) + 2;
        if ((out = malloc(n)) != NULL)
            snprintf(out, n, "%s/%s", strcmp(parent, "/") ? parent : "", base);
    }
    free(parent);
out:
    free(copy);
    free(copy2);
    return out;
}

static pw_op *pw_dirop(int kind, const char *path)
{
    pw_key dir = {0};
    char *name = pw_canon(path, &dir);
    pw_op *o;
    if (name == NULL || (o = pw_push(kind)) == NULL) {
        free(name);
        return NULL;
    }
    o->name = name;
    o->dir = dir;
    o->tentative = true;
    return o;
}

void wri_pw_create(const char *path, bool trunc)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        pw_dirop(PW_CREATE, path);
        return;
    }
    if (!trunc || !S_ISREG(st.st_mode) || st.st_size == 0)
        return;
    /* truncating an existing file on open: a data op */
    int fd = open(path, O_RDWR | O_CLOEXEC); /* kept writable for the undo */
    if (fd >= 0) {
        wri_pw_truncate(fd, 0);
        close(fd);
    }
}

void wri_pw_rename(const char *from, const char *to)
{
    pw_key d2 = {0};
    char *n2 = pw_canon(to, &d2);
    pw_op *o = pw_dirop(PW_RENAME, from);
    if (o == NULL) {
        free(n2);
        return;
    }
    o->name2 = n2;
    o->dir2 = d2;
    o->saved_fd = open(to, O_RDONLY | O_CLOEXEC); /* the file replaced */
}

void wri_pw_unlink(const char *path)
{
    pw_op *o = pw_dirop(PW_UNLINK, path);
    if (o != NULL)
        o->saved_fd = open(path, O_RDONLY | O_CLOEXEC);
}

void wri_pw_mkdir(const char *path)
{
    pw_dirop(PW_MKDIR, path);
}

void wri_pw_rmdir(const char *path)
{
    pw_dirop(PW_RMDIR, path);
}

void wri_pw_done(bool ok)
{
    if (pw_nops == 0 || !pw_ops[pw_nops - 1].tentative)
        return;
    if (!ok) {
        pw_free_op(&pw_ops[--pw_nops]);
        return;
    }
    pw_ops[pw_nops - 1].tentative = false;
}

void wri_pw_fsync(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;
    for (size_t i = 0; i < pw_nops; i++) {
        pw_op *o = &pw_ops[i];
        if (o->file < 0 || o->durable)
            continue;
        pw_key k = pw_files[o->file].key;
        if (k.dev == st.st_dev && k.ino == st.st_ino) {
            o->durable = true;
            free(o->old);
            o->old = NULL;
        }
    }
}

void wri_pw_fsync_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return;
    for (size_t i = 0; i < pw_nops; i++) {
        pw_op *o = &pw_ops[i];
        if (o->file >= 0 || o->durable)
            continue;
        if (o->dir.dev == st.st_dev && o->dir.ino == st.st_ino)
            o->synced = true;
        if (o->kind == PW_RENAME && o->dir2.dev == st.st_dev &&
            o->dir2.ino == st.st_ino)
            o->synced2 = true;
        o->durable = o->synced && (o->kind != PW_RENAME || o->synced2);
    }
}

size_t wri_pw_pending(void)
{
    size_t n = 0;
    for (size_t i = 0; i < pw_nops; i++)
        n += !pw_ops[i].durable;
    return n;
}

/* --- the crash ----------------------------------------------------------- */

/* Names an op makes appear, and names it makes go. */
static const char *pw_made(const pw_op *o)
{
    switch (o->kind) {
    case PW_CREATE:
    case PW_MKDIR:
        return o->name;
    case PW_RENAME:
        return o->name2;
    default:
        return NULL;
    }
}

static const char *pw_gone(const pw_op *o)
{
    switch (o->kind) {
    case PW_UNLINK:
    case PW_RMDIR:
    case PW_RENAME:
        return o->name;
    default:
        return NULL;
    }
}

static bool pw_same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Is name inside directory dir? */
static bool pw_inside(const char *name, const char *dir)
{
    size_t n = strlen(dir);
    return name != NULL && strncmp(name, dir, n) == 0 && name[n] == '/';
}

/* Must op j be lost because op i (earlier, lost) is? */
static bool pw_depends(const pw_op *j, const pw_op *i)
{
    if (j->file >= 0 || i->file >= 0)
        return false; /* data and names are independent */
    const char *names_j[2] = {j->name, j->name2};
    for (int k = 0; k < 2; k++) {
        const char *n = names_j[k];
        if (n == NULL)
            continue;
        /* j uses or replaces a name i made, or makes a name i freed */
        if (pw_same(n, pw_made(i)) || pw_same(n, pw_gone(i)))
            return true;
        /* j works inside a directory i made */
        if (i->kind == PW_MKDIR && pw_inside(n, i->name))
            return true;
    }
    /* an rmdir after a lost op inside the directory */
    return j->kind == PW_RMDIR &&
           (pw_inside(i->name, j->name) || pw_inside(i->name2, j->name));
}

static void pw_copy_back(int from, const char *to)
{
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    uint8_t buf[65536];
    uint64_t off = 0;
    if (fd < 0)
        return;
    for (;;) {
        ssize_t r = pread(from, buf, sizeof buf, (off_t)off);
        if (r <= 0 || write(fd, buf, (size_t)r) != r)
            break;
        off += (uint64_t)r;
    }
    close(fd);
}

/* rm -r of a directory a lost mkdir made (what is in it went with it). */
static void pw_remove_tree(const char *path)
{
    char cmd[PATH_MAX + 32];
    if (rmdir(path) == 0 || errno != ENOTEMPTY)
        return;
    if (strchr(path, '\'') != NULL)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        return; /* nothing more to do in a crashing process */
}

/* Bytes [off + a, off + b) of write o go back to what they were: the
 * old bytes below the file's old size, zeros past it (a hole, where a
 * later piece that reached the disk made the file longer). */
static void pw_restore(const pw_op *o, int fd, size_t a, size_t b)
{
    static const uint8_t zero[PW_PIECE];
    if (o->old != NULL && a < o->old_len) {
        size_t e = WRI_PW_MIN(b, o->old_len);
        if (pwrite(fd, o->old + a, e - a, (off_t)(o->off + a)) < 0)
            return;
        a = e;
    }
    if (o->off + a < o->old_size)
        a = (size_t)(o->old_size - o->off); /* not read back: keep */
    while (a < b) {
        size_t n = WRI_PW_MIN(b - a, sizeof zero);
        if (pwrite(fd, zero, n, (off_t)(o->off + a)) < 0)
            return;
        a += n;
    }
}

/* Undo lost write o but for what of it reached the disk before the power
 * went: nothing, or (torn) a 512-byte-aligned prefix, or (torn in
 * pieces) each of the PW_PIECE-aligned pieces of the file it covers with
 * probability 1/2 -- the page cache writes a run back page by page, in
 * any order. */
static void pw_undo_write(const pw_op *o, bool torn)
{
    int fd = pw_files[o->file].fd;
    size_t kept = 0; /* end of the last byte kept, from o->off */
    uint64_t first_end = (o->off / PW_PIECE + 1) * PW_PIECE;
    if (torn && o->off + o->len > first_end && (pw_rand() >> 63)) {
        for (size_t a = 0, b; a < o->len; a = b) {
            b = (size_t)WRI_PW_MIN(o->len,
                                   (o->off + a) / PW_PIECE * PW_PIECE +
                                       PW_PIECE - o->off);
            if (pw_rand() >> 63)
                kept = b;
            else
                pw_restore(o, fd, a, b);
        }
    } else {
        if (torn)
            kept = (size_t)(pw_rand() % (o->len / 512)) * 512;
        pw_restore(o, fd, kept, o->len);
    }
    if (o->off + o->len > o->old_size &&
        ftruncate(fd, (off_t)WRI_PW_MAX(o->old_size, o->off + kept)) != 0)
        return;
}

static void pw_undo_trunc(const pw_op *o)
{
    int fd = pw_files[o->file].fd;
    if (ftruncate(fd, (off_t)o->old_size) != 0)
        return;
    if (o->old != NULL && pwrite(fd, o->old, o->old_len, (off_t)o->off) < 0)
        return;
}

static void pw_undo_name(const pw_op *o)
{
    switch (o->kind) {
    case PW_CREATE:
        unlink(o->name);
        break;
    case PW_RENAME:
        if (rename(o->name2, o->name) == 0 && o->saved_fd >= 0)
            pw_copy_back(o->saved_fd, o->name2);
        break;
    case PW_UNLINK:
        if (o->saved_fd >= 0)
            pw_copy_back(o->saved_fd, o->name);
        break;
    case PW_MKDIR:
        pw_remove_tree(o->name);
        break;
    case PW_RMDIR:
        mkdir(o->name, 0755);
        break;
    default:
        break;
    }
}

/* WR_IO_POWER_DEBUG set: every record and its fate on stderr. */
static void pw_dump(void)
{
    static const char *const kind[] = {"write", "trunc", "create", "rename",
                                       "unlink", "mkdir", "rmdir"};
    for (size_t j = 0; j < pw_nops; j++) {
        const pw_op *o = &pw_ops[j];
        fprintf(stderr, "power: %-6s %s%s%s%s %s\n", kind[o->kind],
                o->name ? o->name : "", o->name2 ? " -> " : "",
                o->name2 ? o->name2 : "", o->file >= 0 ? "(data)" : "",
                o->lost ? "LOST" : o->durable ? "durable" : "kept");
    }
}

size_t wri_pw_crash(void)
{
    size_t lost = 0;
    if (!wri_pw_on)
        return 0;
    for (size_t j = 0; j < pw_nops; j++) {
        pw_op *o = &pw_ops[j];
        if (o->tentative)
            continue; /* the call never returned: nothing happened */
        o->lost = !o->durable && (pw_rng == 0 || (pw_rand() >> 63));
        for (size_t i = 0; i < j && !o->lost; i++)
            o->lost = pw_ops[i].lost && pw_depends(o, &pw_ops[i]);
        lost += o->lost;
    }
    if (getenv("WR_IO_POWER_DEBUG") != NULL)
        pw_dump();
    for (size_t j = pw_nops; j-- > 0;) {
        pw_op *o = &pw_ops[j];
        if (!o->lost || o->file < 0)
            continue;
        if (o->kind == PW_TRUNC)
            pw_undo_trunc(o);
        else /* one lost write of more than a sector in three is torn */
            pw_undo_write(o, o->len > 512 && pw_rng != 0 &&
                                 pw_rand() % 3 == 0);
    }
    for (size_t j = pw_nops; j-- > 0;)
        if (pw_ops[j].lost && pw_ops[j].file < 0)
            pw_undo_name(&pw_ops[j]);
    return lost;
}
