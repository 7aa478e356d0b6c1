/*
 * lock.c -- the directory lock DIR/LOCK (part of the io layer, io.h).
 *
 * Writers hold a kernel flock() on DIR/LOCK exclusively, readers a shared
 * one (DESIGN decision 12). The kernel drops the lock when the process
 * dies, so a LOCK file left behind by a crash blocks nobody: only a live
 * holder does. A writer writes "pid TOOL" into the file once it holds it
 * (so a refused caller can name it) and empties it again on release if
 * the file stays; readers write nothing.
 *
 * A writer removes LOCK on release, the one it created and the one it
 * found (left by a crash) alike; a reader removes an empty LOCK when it
 * can take it exclusively (it is the last one out: nobody else holds it),
 * whether it created it or another reader did that has ended meanwhile.
 * A LOCK holding a writer's record (a crashed writer's: it names the
 * process that died) a reader leaves to the next writer. So overlapping
 * readers leave no LOCK behind, and a writer's run none at all. That is
 * safe because every taker checks, once it holds the lock, that the file
 * it locked is still the one the name points to (an unlinked LOCK would
 * be a private lock nobody else sees) and starts again if not; a reader
 * checks it again once it holds the lock exclusively before removing it
 * (flock's shared-to-exclusive change is not atomic everywhere). The removal
 * comes before any emptying, and a removed LOCK is not emptied: whoever
 * opened it before the unlink and is refused still reads the record of
 * the writer that holds it, never an empty one. Only a writer's LOCK that
 * stays (its unlink failed) is emptied, while still held (a stale LOCK
 * never names a holder). A taker refused by a lock held exclusively with
 * no record (a writer about to record itself, the last reader out
 * removing LOCK, a writer emptying the LOCK that stays) looks again for
 * up to 0.2 s before it is told the holder is not recorded yet.
 *
 * The file's create, record, truncate and unlink go through io.c like
 * every other mutation, so the fault plans and the power-loss model cover
 * them: a power loss may take back a LOCK this run created or bring back
 * one it removed (its directory is not fsynced for it), which blocks
 * nobody (see above). Only the flock itself is a system call here.
 *
 * Calls only io.c and err.
 */
#include "wr_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct wri_lock {
    wri_file *f; /* f->fd carries the flock */
    int fd;      /* f->fd, or -1 */
    bool shared;
    bool held;    /* the flock is ours (else release must not touch it) */
    char *path;
};

/* DIR/LOCK, malloc'd (NULL: out of memory) */
static char *lk_path(const char *dir)
{
    size_t plen = strlen(dir) + sizeof "/" WR_LOCK_NAME;
    char *p = malloc(plen);
    if (p != NULL)
        snprintf(p, plen, "%s/" WR_LOCK_NAME, dir);
    return p;
}

static int lk_open_fd(const char *path, int flags)
{
    int fd;
    do {
        fd = open(path, flags | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

/* Open DIR/LOCK, creating it if absent (an io create: modelled). Readers open an existing LOCK read-only
 * (flock needs no write access), so a LOCK they can read serves them on a
 * directory they cannot write; one they cannot create there (the create's
 * errno says: EROFS, EACCES, EPERM; WRI_IO_ROFS) is WR_ENOTSUP. */
static int lk_open(wri_lock *lk, const char *dir, wr_errbuf *eb)
{
    int rc = WR_OK;
    for (int tries = 0; tries < 100; tries++) {
        rc = wri_io_open(lk->path, lk->shared ? WRI_IO_RDONLY : WRI_IO_RDWR,
                         &lk->f, eb);
        if (rc != WR_ENOTFOUND)
            break;
        wr_errbuf_clear(eb);
        rc = wri_io_open(lk->path,
                         WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_EXCL |
                             (lk->shared ? WRI_IO_ROFS : 0),
                         &lk->f, eb);
        if (rc != WR_EEXIST)
            break;
        wr_errbuf_clear(eb);
    }
    if (rc == WR_EEXIST)
        rc = WR_ERR(eb, WR_ELOCKED, "%s: %s keeps being replaced", dir,
                    WR_LOCK_NAME);
    lk->fd = rc == WR_OK ? lk->f->fd : -1;
    return rc;
}

static int lk_flock(int fd, int op)
{
    int r;
    do {
        r = flock(fd, op);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* The lock holds only if fd is still the file the name points to. */
static bool lk_still_named(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
           wri_io_same_file(&a, &b);
}

/* Holds fd's file no writer's record? (a reader's, or a stale one
 * emptied: nothing in it says anything) */
static bool lk_empty(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_size == 0;
}

/* "pid TOOL" a writer recorded, or "" */
static void lk_recorded(int fd, char *buf, size_t len)
{
    ssize_t n;
    do {
        n = pread(fd, buf, len - 1, 0);
    } while (n < 0 && errno == EINTR);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

/* A process holding a shared flock on fd's file, from /proc/locks (Linux):
 * its pid, and its name from /proc/PID/comm. 0 if none can be named. */
static long lk_reader(int fd, char *name, size_t len)
{
    struct stat st;
    char line[256];
    long found = 0;
    name[0] = '\0';
    FILE *fp = fopen("/proc/locks", "r");
    if (fp == NULL || fstat(fd, &st) != 0) {
        if (fp != NULL)
            fclose(fp);
        return 0;
    }
    while (found == 0 && fgets(line, sizeof line, fp) != NULL) {
        char kind[16], rw[16];
        long pid;
        unsigned maj, min;
        unsigned long long ino;
        if (strstr(line, "->") != NULL || /* a waiter, not a holder */
            sscanf(line, "%*d: %15s %*s %15s %ld %x:%x:%llu", kind, rw, &pid,
                   &maj, &min, &ino) != 6)
            continue;
        if (strcmp(kind, "FLOCK") == 0 && strcmp(rw, "READ") == 0 &&
            ino == (unsigned long long)st.st_ino && maj == major(st.st_dev) &&
            min == minor(st.st_dev) && pid != (long)getpid())
            found = pid;
    }
    fclose(fp);
    if (found > 0) {
        snprintf(line, sizeof line, "/proc/%ld/comm", found);
        FILE *cf = fopen(line, "r");
        if (cf != NULL) {
            if (fgets(name, (int)len, cf) != NULL)
                name[strcspn(name, "\n")] = '\0';
            fclose(cf);
        }
    }
    return found;
}

/* Is fd's file held exclusively with no writer's record in it? That is a
 * moment, never a state: a writer between its flock and its record, or
 * the last reader out removing LOCK (see the top). A shared probe that
 * succeeds (readers hold it) is dropped with fd. */
static bool lk_held_unrecorded(int fd, bool shared)
{
    if (!shared && lk_flock(fd, LOCK_SH | LOCK_NB) == 0)
        return false;
    return lk_empty(fd);
}

/* Say who holds the lock we could not get. */
static int lk_refused(const char *dir, int fd, bool shared, wr_errbuf *eb)
{
    char text[256];
    long pid = 0;
    int used = 0;
    /* an exclusive taker refused: readers, if a shared lock is still
     * possible (the probe is dropped with fd) */
    if (!shared && lk_flock(fd, LOCK_SH | LOCK_NB) == 0) {
        pid = lk_reader(fd, text, sizeof text);
        if (pid > 0 && text[0])
            return WR_ERR(eb, WR_ELOCKED, "%s is locked by pid %ld (%s), "
                                          "a reader",
                          dir, pid, text);
        return WR_ERR(eb, WR_ELOCKED,
                      "%s is locked by a reader (another process holds a "
                      "shared lock on its LOCK)",
                      dir);
    }
    lk_recorded(fd, text, sizeof text);
    if (sscanf(text, "%ld %n", &pid, &used) >= 1 && pid > 0 &&
        text[used] != '\0')
        return WR_ERR(eb, WR_ELOCKED, "%s is locked by pid %ld (%s)", dir,
                      pid, text + used);
    if (pid > 0)
        return WR_ERR(eb, WR_ELOCKED, "%s is locked by pid %ld", dir, pid);
    return WR_ERR(eb, WR_ELOCKED,
                  "%s is locked by another process (holder not recorded "
                  "yet)",
                  dir);
}

static int lk_record(wri_lock *lk, const char *holder, wr_errbuf *eb)
{
    char line[256];
    int len = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(),
                       holder ? holder : "?");
    if (len < 0 || (size_t)len >= sizeof line)
        len = (int)strlen(line);
    int rc = wri_io_truncate(lk->f, 0, eb);
    return rc != WR_OK ? rc : wri_io_pwrite(lk->f, line, (size_t)len, 0, eb);
}

int wri_io_lock_take(const char *dir, const char *holder, int flags,
                     wri_lock **out, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_lock *lk = NULL;
    bool shared = (flags & WRI_LOCK_SHARED) != 0;
    *out = NULL;
    if ((lk = calloc(1, sizeof *lk)) == NULL ||
        (lk->path = lk_path(dir)) == NULL) {
        free(lk);
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory locking", dir);
    }
    lk->fd = -1;
    lk->shared = shared;
    for (int tries = 0, waits = 0;; tries++) {
        if ((rc = lk_open(lk, dir, eb)) != WR_OK)
            goto out;
        if (lk_flock(lk->fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
            int e = errno;
            if (e == EWOULDBLOCK && waits < 100 &&
                lk_held_unrecorded(lk->fd, shared)) {
                /* over in a moment: look again (up to 0.2 s), on the
                 * file the name then points to */
                waits++;
                tries--;
                wri_io_close(lk->f);
                lk->f = NULL;
                lk->fd = -1;
                usleep(2000);
                continue;
            }
            if (e != EWOULDBLOCK)
                rc = wri_io_errno(eb, e, lk->path, "flock");
            else
                rc = lk_refused(dir, lk->fd, shared, eb);
            goto out; /* not held: release leaves it to the holder */
        }
        if (lk_still_named(lk->fd, lk->path))
            break;
        /* the holder we waited behind removed it: start again */
        wri_io_close(lk->f);
        lk->f = NULL;
        lk->fd = -1;
        if (tries == 100) {
            rc = WR_ERR(eb, WR_ELOCKED, "%s: %s keeps being replaced", dir,
                        WR_LOCK_NAME);
            goto out;
        }
    }
    lk->held = true;
    if (!shared && (rc = lk_record(lk, holder, eb)) != WR_OK)
        goto out;
    *out = lk;
    lk = NULL;
out:
    wri_io_unlock_dir(lk);
    return rc;
}

int wri_io_lock_dir(const char *dir, const char *holder, wri_lock **out,
                    wr_errbuf *eb)
{
    return wri_io_lock_take(dir, holder, 0, out, eb);
}

bool wri_io_lock_writer(const char *dir, char *who, size_t len)
{
    bool held = false;
    char *path = lk_path(dir);
    /* held with no record: a moment (the last reader out removing LOCK,
     * a writer about to record itself), looked at again as a taker does */
    for (int waits = 0; path != NULL; waits++) {
        int fd = lk_open_fd(path, O_RDONLY);
        held = fd >= 0 && lk_flock(fd, LOCK_SH | LOCK_NB) < 0 &&
               errno == EWOULDBLOCK;
        bool again = held && waits < 100 && lk_empty(fd);
        if (held)
            lk_recorded(fd, who, len);
        if (fd >= 0)
            close(fd); /* drops the probe */
        if (!again)
            break;
        usleep(2000);
    }
    free(path);
    return held;
}

void wri_io_unlock_dir(wri_lock *lk)
{
    if (lk == NULL)
        return;
    if (lk->fd >= 0 && lk->held) {
        /* ours to remove if nobody else holds it (see the top): a
         * writer's always, a reader's if empty and still the one named */
        bool removed =
            (!lk->shared ||
             (lk_empty(lk->fd) && lk_flock(lk->fd, LOCK_EX | LOCK_NB) == 0 &&
              lk_still_named(lk->fd, lk->path) && lk_empty(lk->fd))) &&
            wri_io_unlink(lk->path, NULL) == WR_OK;
        /* a LOCK that stays is emptied (if this fails, the stale
         * "pid TOOL" names a process that is gone) */
        if (!lk->shared && !removed)
            (void)wri_io_truncate(lk->f, 0, NULL);
    }
    wri_io_close(lk->f); /* releases the flock, if held */
    free(lk->path);
    free(lk);
}
