/*
 * io.c -- every system call that touches a file, errno translation, the
 * fault-injection hook. See io.h for the contract (the directory lock is
 * in lock.c).
 *
 * Fault injection costs one predictable branch per mutating call: the op
 * counter is bumped and `io_hot` is tested. io_hot is true only until the
 * environment has been read (lazily, on the first open or mutating call)
 * and afterwards only while a fault plan or a trace is installed.
 */
#include "wr_int.h"

#include "iopower.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <linux/fs.h> /* FICLONE */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

/* --- fault plan ------------------------------------------------------- */

static wri_fault_plan io_plan;     /* the active plan (kind NONE: none) */
static uint64_t io_ops;            /* mutating ops since the last set */
static bool io_hot = true;         /* slow path needed (see above) */
static bool io_env_done;           /* WR_IO_FAULT / WR_IO_STATS consulted */
static bool io_plan_explicit;      /* wri_io_fault_set() was called */
static char *io_stats_path;        /* WR_IO_STATS */
static wri_io_trace_fn io_trace;   /* tests: see every mutating op */
static void *io_trace_arg;
static FILE *io_trace_file;        /* WR_IO_TRACE */

/* WR_IO_TRACE: one line per mutating op, "N WHAT PATH". */
static void io_trace_env(uint64_t op, const char *what, const char *path,
                         uint64_t off, size_t len, void *arg)
{
    (void)off;
    (void)len;
    fprintf((FILE *)arg, "%llu %s %s\n", (unsigned long long)op, what,
            path);
    fflush((FILE *)arg);
}

static void io_stats_write(void)
{
    if (io_stats_path == NULL)
        return;
    FILE *fp = fopen(io_stats_path, "w");
    if (fp == NULL)
        return; /* nothing useful to do at exit */
    fprintf(fp, "%llu\n", (unsigned long long)io_ops);
    fclose(fp);
}

/* Parse WR_IO_FAULT: "crash=N[,tear=K]" or "fail=N,err=EIO|ENOSPC[,sticky]".
 * A malformed value installs no plan (the library never prints). */
static void io_parse_fault(const char *s, wri_fault_plan *p)
{
    wri_fault_plan np = {.kind = WRI_FAULT_NONE, .err = WR_EIO};
    char *copy = strdup(s);
    if (copy == NULL)
        return;
    bool ok = true;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        char *val = eq ? eq + 1 : NULL;
        if (eq)
            *eq = '\0';
        char *end = NULL;
        if (strcmp(tok, "crash") == 0 && val) {
            np.kind = WRI_FAULT_CRASH;
            np.at = strtoull(val, &end, 10);
            ok = ok && *val && *end == '\0' && np.at > 0;
        } else if (strcmp(tok, "fail") == 0 && val) {
            np.kind = WRI_FAULT_FAIL;
            np.at = strtoull(val, &end, 10);
            ok = ok && *val && *end == '\0' && np.at > 0;
        } else if (strcmp(tok, "tear") == 0 && val) {
            np.tear = (size_t)strtoull(val, &end, 10);
            ok = ok && *val && *end == '\0';
        } else if (strcmp(tok, "err") == 0 && val) {
            if (strcmp(val, "EIO") == 0)
                np.err = WR_EIO;
            else if (strcmp(val, "ENOSPC") == 0)
                np.err = WR_ENOSPC;
            else
                ok = false;
        } else if (strcmp(tok, "sticky") == 0 && val == NULL) {
            np.sticky = true;
        } else if (strcmp(tok, "power") == 0 && val) {
            np.power = true;
            np.seed = strtoull(val, &end, 10);
            ok = ok && *val && *end == '\0';
        } else {
            ok = false;
        }
    }
    free(copy);
    if (ok && np.power && np.kind != WRI_FAULT_CRASH)
        ok = false;
    if (ok)
        *p = np;
}

/* WR_IO_NOSYNC=1 (tests only): fsyncs are counted, traced and can be
 * faulted like any op, but skip the system call. An injected crash kills
 * the process, not the machine, so the page cache survives either way and
 * the crash sweeps test the same thing; they just stop waiting on disks. */
static bool io_nosync;

/* The crash itself; with a power plan, first lose what is not durable. */
static void io_crash(void)
{
    if (io_plan.power)
        wri_pw_crash();
    _exit(WRI_IO_CRASH_EXIT);
}

/* A power plan whose crash point lies past the last op: the power goes
 * after the process ends (the tool's work is done and reported). */
static void io_power_at_exit(void)
{
    if (io_plan.kind == WRI_FAULT_CRASH && io_plan.power &&
        io_ops < io_plan.at) {
        fflush(NULL);
        io_crash();
    }
}

static void io_env_init(void)
{
    if (io_env_done)
        return;
    io_env_done = true;
    const char *ns = getenv("WR_IO_NOSYNC");
    io_nosync = ns != NULL && *ns != '\0' && strcmp(ns, "0") != 0;
    const char *st = getenv("WR_IO_STATS");
    if (st != NULL && *st != '\0') {
        io_stats_path = strdup(st);
        if (io_stats_path != NULL)
            atexit(io_stats_write);
    }
    const char *tr = getenv("WR_IO_TRACE");
    if (tr != NULL && *tr != '\0' && io_trace == NULL &&
        (io_trace_file = fopen(tr, "w")) != NULL) {
        io_trace = io_trace_env;
        io_trace_arg = io_trace_file;
    }
    if (!io_plan_explicit) {
        const char *f = getenv("WR_IO_FAULT");
        if (f != NULL && *f != '\0')
            io_parse_fault(f, &io_plan);
        if (io_plan.power) {
            wri_pw_start(io_plan.seed);
            atexit(io_power_at_exit);
        }
    }
}

/* Written only when it changes: an open or read on two threads at once
 * (compact's C5: the copy's fsync on a side thread while it is verified)
 * then only reads it, as the ops do. */
static void io_rehot(void)
{
    bool hot = !io_env_done || io_plan.kind != WRI_FAULT_NONE || io_trace;
    if (io_hot != hot)
        io_hot = hot;
}

void wri_io_fault_set(const wri_fault_plan *plan)
{
    io_plan_explicit = true;
    io_env_init();
    if (plan != NULL)
        io_plan = *plan;
    else
        memset(&io_plan, 0, sizeof io_plan);
    if (io_plan.power && io_plan.kind == WRI_FAULT_CRASH)
        wri_pw_start(io_plan.seed);
    else
        wri_pw_stop();
    io_ops = 0;
    io_rehot();
}

void wri_io_crash_now(void)
{
    if (io_plan.kind == WRI_FAULT_CRASH)
        io_crash();
}

size_t wri_io_power_pending(void)
{
    return wri_pw_pending();
}

uint64_t wri_io_op_count(void)
{
    return io_ops;
}

void wri_io_trace_set(wri_io_trace_fn fn, void *arg)
{
    io_env_init();
    io_trace = fn;
    io_trace_arg = arg;
    io_rehot();
}

static const char *io_errtag(int err)
{
    return err == WR_ENOSPC ? "ENOSPC" : err == WR_EIO ? "EIO" : wr_errname(err);
}

/* The slow path of a mutating op (io_ops already counts it). Returns WR_OK
 * to go on, or an injected error; a crash never returns. For a write,
 * fd/buf/len/off let a torn crash put its first bytes on disk. */
static int io_fault(const char *what, const char *path, int fd,
                    const void *buf, size_t len, uint64_t off, wr_errbuf *eb)
{
    io_env_init();
    io_rehot();
    if (io_trace != NULL)
        io_trace(io_ops, what, path, off, len, io_trace_arg);
    if (io_plan.kind == WRI_FAULT_CRASH && io_ops == io_plan.at) {
        if (buf != NULL && io_plan.tear > 0) {
            size_t n = WRI_MIN(io_plan.tear, len);
            const uint8_t *p = buf;
            if (wri_pw_on)
                wri_pw_write(fd, n, off);
            while (n > 0) {
                ssize_t w = pwrite(fd, p, n, (off_t)off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    break;
                p += w;
                n -= (size_t)w;
                off += (uint64_t)w;
            }
        }
        io_crash();
    }
    if (io_plan.kind == WRI_FAULT_FAIL &&
        (io_ops == io_plan.at || (io_plan.sticky && io_ops > io_plan.at))) {
        int code = io_plan.err < 0 ? io_plan.err : WR_EIO;
        if (buf != NULL)
            return WR_ERR(eb, code,
                          "%s: %s of %zu bytes at offset %llu failed: "
                          "injected %s (fault plan, op %llu)",
                          path, what, len, (unsigned long long)off,
                          io_errtag(code), (unsigned long long)io_ops);
        return WR_ERR(eb, code, "%s: %s failed: injected %s (fault plan, op %llu)",
                      path, what, io_errtag(code), (unsigned long long)io_ops);
    }
    return WR_OK;
}

/* Count a mutating op; the one branch production pays. */
#define IO_MUTATE(what, path, fd, buf, len, off, eb)                         \
    do {                                                                     \
        io_ops++;                                                            \
        if (__builtin_expect(io_hot, 0)) {                                   \
            int frc_ = io_fault((what), (path), (fd), (buf), (len), (off),   \
                                (eb));                                       \
            if (frc_ != WR_OK)                                               \
                return frc_;                                                 \
        }                                                                    \
    } while (0)

/* --- errno translation ------------------------------------------------ */

static int io_code(int e)
{
    switch (e) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return WR_ENOSPC;
    case ENOENT:
        return WR_ENOTFOUND;
    case EEXIST:
        return WR_EEXIST;
    case EINVAL:
        return WR_EINVAL;
    case ENOMEM:
        return WR_ENOMEM;
    default:
        return WR_EIO;
    }
}

static int io_errno(wr_errbuf *eb, int e, const char *path, const char *what)
{
    return WR_ERR(eb, io_code(e), "%s: %s failed: %s", path, what,
                  strerror(e));
}

int wri_io_errno(wr_errbuf *eb, int e, const char *path, const char *what)
{
    return io_errno(eb, e, path, what);
}

/* The one rule for a system call that waits (a FIFO's open, for its other
 * end; a pipe's read, for input; a pipe's write, for room) and fails with
 * EINTR: a signal asking the process to stop interrupted it (the tools
 * catch SIGINT and SIGTERM without SA_RESTART; every other signal restarts
 * the call), so it is WR_EINTR, "PATH: interrupted while DOING", never
 * retried: a retry would wait on for ever, the stop asked for unseen. A
 * call that does not wait (a regular file's read) is never interrupted. */
static int io_interrupted(wr_errbuf *eb, const char *path, const char *doing)
{
    return WR_ERR(eb, WR_EINTR, "%s: interrupted while %s", path, doing);
}

static int io_errno_at(wr_errbuf *eb, int e, const char *path,
                       const char *what, size_t len, uint64_t off)
{
    return WR_ERR(eb, io_code(e), "%s: %s of %zu bytes at offset %llu failed: %s",
                  path, what, len, (unsigned long long)off, strerror(e));
}

/* --- files ------------------------------------------------------------ */

#define IO_OPEN_WAIT "opening it (waiting for the other end of a pipe)"

int wri_io_open(const char *path, int flags, wri_file **out, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_file *f = NULL;
    int oflags = O_CLOEXEC;
    *out = NULL;
    io_env_init();
    io_rehot();
    if (path == NULL)
        return WR_ERR(eb, WR_EINVAL, "open: no path given");
    if (flags & WRI_IO_RDWR) {
        oflags |= flags & WRI_IO_WRONLY ? O_WRONLY : O_RDWR;
        if (flags & WRI_IO_CREATE)
            oflags |= O_CREAT;
        if (flags & WRI_IO_EXCL)
            oflags |= O_EXCL;
        if (flags & WRI_IO_TRUNC)
            oflags |= O_TRUNC;
        if (flags & (WRI_IO_CREATE | WRI_IO_TRUNC)) {
            IO_MUTATE("create", path, -1, NULL, 0, 0, eb);
            if (wri_pw_on)
                wri_pw_create(path, flags & WRI_IO_TRUNC);
        }
    } else {
        oflags |= O_RDONLY;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory opening", path);
        goto out;
    }
    f->readonly = !(flags & WRI_IO_RDWR);
    f->fd = open(path, oflags, 0644); /* EINTR: io_interrupted */
    if (wri_pw_on)
        wri_pw_done(f->fd >= 0);
    if (f->fd < 0) {
        int e = errno;
        if (e == EINTR)
            rc = io_interrupted(eb, path, IO_OPEN_WAIT);
        else if (e == EEXIST)
            rc = WR_ERR(eb, WR_EEXIST, "%s: already exists", path);
        else if (e == ENOENT)
            rc = WR_ERR(eb, WR_ENOTFOUND, "%s: no such file or directory",
                        path);
        else if ((flags & WRI_IO_ROFS) && (flags & WRI_IO_CREATE) &&
                 (e == EROFS || e == EACCES || e == EPERM))
            rc = WR_ERR(eb, WR_ENOTSUP, "%s: cannot create: %s", path,
                        strerror(e));
        else
            rc = io_errno(eb, e, path, "open");
        goto out;
    }
    *out = f;
    f = NULL;
out:
    if (f != NULL) {
        free(f->path);
        free(f);
    }
    return rc;
}

void wri_io_close(wri_file *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f);
}

void wri_io_advise_sequential(wri_file *f)
{
    (void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

void wri_io_forget(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

/* The pages of [0, len) all in the page cache? mincore over the mapping,
 * 64 MiB at a time, stopping at the first page that is not. */
static bool io_all_cached(const uint8_t *p, uint64_t len)
{
    enum { IO_MINCORE_CHUNK = 64u << 20 };
    long ps = sysconf(_SC_PAGESIZE);
    unsigned char *vec;
    bool all = ps > 0 &&
               (vec = malloc(IO_MINCORE_CHUNK / (size_t)ps + 1)) != NULL;
    if (!all)
        return false;
    for (uint64_t at = 0; at < len && all; at += IO_MINCORE_CHUNK) {
        size_t n = (size_t)WRI_MIN(len - at, (uint64_t)IO_MINCORE_CHUNK);
        size_t pages = (n + (size_t)ps - 1) / (size_t)ps;
        if (mincore((void *)(p + at), n, vec) != 0)
            all = false;
        for (size_t i = 0; i < pages && all; i++)
            all = (vec[i] & 1) != 0;
    }
    free(vec);
    return all;
}

/* mincore tells the truth only to who owns or may write the file (Linux
 * >= 5.0, can_do_mincore): anyone else sees every page resident. */
static bool io_mincore_trusted(const wri_file *f)
{
    struct stat st;
    uid_t me = geteuid();
    if (fstat(f->fd, &st) != 0)
        return false;
    return me == 0 || me == st.st_uid ||
           faccessat(AT_FDCWD, f->path, W_OK, AT_EACCESS) == 0;
}

/* --- the mapping guard ------------------------------------------------------
 * A read through a file's mapping past its new end (another process
 * truncated it) or of a page the disk fails to return raises SIGBUS. While
 * a mapping is registered here, a SIGBUS handler is installed: a fault
 * inside a registered mapping gets zero pages mapped over the rest of it
 * (the read goes on, on whichever thread it is) and the mapping is marked
 * changed at that offset, which its reader asks (wri_io_map_changed, of
 * the slot wri_io_map_guard names) before it trusts what it read; any other SIGBUS goes to the handler that was
 * there before (the default: the process dies as it would have). The last
 * mapping's unmap restores that handler. */
enum { IO_MAPS = 8 };

typedef struct io_map {
    _Atomic(uintptr_t) start; /* 0: free */
    _Atomic(uintptr_t) len;
    _Atomic(uintptr_t) fault; /* 0: no fault; else 1 + the offset */
} io_map;

static io_map io_maps[IO_MAPS];
static pthread_mutex_t io_maps_mu = PTHREAD_MUTEX_INITIALIZER;
static int io_maps_n;
static struct sigaction io_bus_prev;
static _Atomic(uintptr_t) io_pagesize;

/* the handler that was there before, as the kernel would have called it */
static void io_bus_chain(int sig, siginfo_t *si, void *uc)
{
    if (io_bus_prev.sa_flags & SA_SIGINFO) {
        io_bus_prev.sa_sigaction(sig, si, uc);
    } else if (io_bus_prev.sa_handler != SIG_DFL &&
               io_bus_prev.sa_handler != SIG_IGN) {
        io_bus_prev.sa_handler(sig);
    } else { /* die of it: pending until this handler returns */
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

/* The handler calls mmap, which POSIX does not list as async-signal-safe.
 * Kept on purpose: glibc's mmap on Linux is the bare system call (no
 * lock, no allocation; errno is saved and restored here), and the fault
 * it answers interrupts only our own reads of the mapping, never the C
 * library. The alternatives, tried:
 *  - siglongjmp out of the fault: mapped bytes are read in many places
 *    and on other threads (compact's loader reads them after the walk),
 *    under no single sigsetjmp;
 *  - a fixer thread that maps the zeros, the handler asking it through a
 *    pipe (write and read are async-signal-safe): correct, but slower.
 *    Made and joined per mapping it cost about 0.25 ms of CPU per mapped
 *    file (wri_ps_open + close of a cached 4 MB file, perf stat
 *    task-clock); kept for the process's life, wr-compact of a cached
 *    3-file, 63 MB database took 199.7 ms of CPU against 176.7 (10 rounds
 *    each, alternated, perf stat; load average 18-20) with 530 more page
 *    faults every run (the live thread changed how the C library reuses
 *    thread stacks and malloc arenas for compact's worker threads). */
static void io_bus(int sig, siginfo_t *si, void *uc)
{
    int saved = errno; /* the interrupted code's, whatever mmap does */
    uintptr_t a = (uintptr_t)si->si_addr;
    uintptr_t pg = atomic_load(&io_pagesize);
    /* si_code > 0: the kernel's, a fault; kill, raise, sigqueue: <= 0 */
    for (int i = 0; i < IO_MAPS && si->si_code > 0; i++) {
        uintptr_t s = atomic_load(&io_maps[i].start);
        uintptr_t n = atomic_load(&io_maps[i].len);
        if (s == 0 || a < s || a - s >= n)
            continue;
        uintptr_t from = a & ~(pg - 1), end = (s + n + pg - 1) & ~(pg - 1);
        if (mmap((void *)from, end - from, PROT_READ,
                 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0) == MAP_FAILED)
            break;
        uintptr_t none = 0;
        atomic_compare_exchange_strong(&io_maps[i].fault, &none, 1 + a - s);
        errno = saved;
        return;
    }
    errno = saved;
    io_bus_chain(sig, si, uc);
}

/* register [p, p + len): false when every place is taken */
static bool io_guard(const uint8_t *p, uint64_t len)
{
    bool ok = false;
    pthread_mutex_lock(&io_maps_mu);
    atomic_store(&io_pagesize, (uintptr_t)sysconf(_SC_PAGESIZE));
    if (io_maps_n == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = io_bus;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &io_bus_prev) != 0)
            goto out;
    }
    for (int i = 0; i < IO_MAPS && !ok; i++) {
        if (atomic_load(&io_maps[i].start) != 0)
            continue;
        atomic_store(&io_maps[i].fault, 0);
        atomic_store(&io_maps[i].len, (uintptr_t)len);
        atomic_store(&io_maps[i].start, (uintptr_t)p);
        ok = true;
    }
    if (ok)
        io_maps_n++;
    else if (io_maps_n == 0)
        sigaction(SIGBUS, &io_bus_prev, NULL);
out:
    pthread_mutex_unlock(&io_maps_mu);
    return ok;
}

static io_map *io_guard_find(const uint8_t *p)
{
    for (int i = 0; i < IO_MAPS && p != NULL; i++)
        if (atomic_load(&io_maps[i].start) == (uintptr_t)p)
            return &io_maps[i];
    return NULL;
}

static void io_unguard(const uint8_t *p)
{
    pthread_mutex_lock(&io_maps_mu);
    io_map *m = io_guard_find(p);
    if (m != NULL) {
        atomic_store(&m->start, 0);
        if (--io_maps_n == 0)
            sigaction(SIGBUS, &io_bus_prev, NULL);
    }
    pthread_mutex_unlock(&io_maps_mu);
}

const wri_io_guard *wri_io_map_guard(const uint8_t *p)
{
    return io_guard_find(p);
}

bool wri_io_map_changed(const wri_io_guard *g, uint64_t *off)
{
    uintptr_t fault = g != NULL ? atomic_load(&g->fault) : 0;
    if (fault != 0 && off != NULL)
        *off = fault - 1;
    return fault != 0;
}

const uint8_t *wri_io_map_cached(wri_file *f, uint64_t len)
{
    if (len == 0 || len > (uint64_t)SIZE_MAX || !io_mincore_trusted(f))
        return NULL;
    void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (!io_all_cached(p, len) || !io_guard(p, len)) {
        munmap(p, (size_t)len);
        return NULL;
    }
    return p;
}

void wri_io_unmap(const uint8_t *p, uint64_t len)
{
    if (p == NULL)
        return;
    io_unguard(p);
    munmap((void *)(uintptr_t)p, (size_t)len);
}

int wri_io_pread_some(wri_file *f, void *buf, size_t len, uint64_t off,
                      size_t *got_out, wr_errbuf *eb)
{
    uint8_t *p = buf;
    size_t got = 0;
    *got_out = 0;
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return WR_ERR(eb, WR_EINVAL, "%s: read of %zu bytes at offset %llu "
                      "is out of range", f->path, len, (unsigned long long)off);
    while (got < len) {
        ssize_t r = pread(f->fd, p + got, len - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return io_errno_at(eb, errno, f->path, "pread", len, off);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *got_out = got;
    return WR_OK;
}

int wri_io_pread(wri_file *f, void *buf, size_t len, uint64_t off,
                 wr_errbuf *eb)
{
    size_t got = 0;
    int rc = wri_io_pread_some(f, buf, len, off, &got, eb);
    if (rc != WR_OK)
        return rc;
    if (got < len)
        return WR_ERR(eb, WR_ECORRUPT,
                      "%s: short read: wanted %zu bytes at offset %llu, "
                      "the file ends at %llu",
                      f->path, len, (unsigned long long)off,
                      (unsigned long long)(off + got));
    return WR_OK;
}

int wri_io_pwrite(wri_file *f, const void *buf, size_t len, uint64_t off,
                  wr_errbuf *eb)
{
    const uint8_t *p = buf;
    size_t done = 0;
    if (f->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: pwrite on a read-only file",
                      f->path);
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return WR_ERR(eb, WR_EINVAL, "%s: write of %zu bytes at offset %llu "
                      "is out of range", f->path, len, (unsigned long long)off);
    IO_MUTATE("pwrite", f->path, f->fd, buf, len, off, eb);
    if (wri_pw_on)
        wri_pw_write(f->fd, len, off);
    while (done < len) {
        ssize_t w = pwrite(f->fd, p + done, len - done, (off_t)(off + done));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return io_errno_at(eb, errno, f->path, "pwrite", len, off);
        }
        if (w == 0) /* should not happen for regular files; treat as full */
            return io_errno_at(eb, ENOSPC, f->path, "pwrite", len, off);
        done += (size_t)w;
    }
    return WR_OK;
}

int wri_io_write(wri_file *f, const void *buf, size_t len, wr_errbuf *eb)
{
    const uint8_t *p = buf;
    size_t done = 0;
    if (f->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: write on a read-only file",
                      f->path);
    IO_MUTATE("write", f->path, -1, NULL, len, 0, eb);
    while (done < len) {
        ssize_t w = write(f->fd, p + done, len - done);
        if (w < 0) {
            if (errno == EINTR) /* a pipe's, full, its reader idle */
                return io_interrupted(eb, f->path, "writing (waiting for "
                                      "the other end of a pipe to read)");
            return WR_ERR(eb, io_code(errno), "%s: write of %zu bytes "
                          "failed: %s", f->path, len, strerror(errno));
        }
        if (w == 0)
            return WR_ERR(eb, WR_ENOSPC, "%s: write of %zu bytes failed: %s",
                          f->path, len, strerror(ENOSPC));
        done += (size_t)w;
    }
    return WR_OK;
}

int wri_io_open_input(const char *path, int *fd_out, wr_errbuf *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC); /* EINTR: io_interrupted */
    *fd_out = fd;
    if (fd >= 0)
        return WR_OK;
    int e = errno;
    if (e == EINTR)
        return io_interrupted(eb, path, IO_OPEN_WAIT);
    return WR_ERR(eb, e == ENOENT ? WR_ENOTFOUND : WR_EIO,
                  "%s: cannot open: %s", path, strerror(e));
}

int wri_io_read(int fd, const char *name, void *buf, size_t len,
                uint64_t at, size_t *got_out, wr_errbuf *eb)
{
    ssize_t n = read(fd, buf, len);
    *got_out = 0;
    if (n >= 0) {
        *got_out = (size_t)n;
        return WR_OK;
    }
    if (errno == EINTR) /* a pipe's, empty, its writer idle */
        return io_interrupted(eb, name, "reading it (waiting for input)");
    return WR_ERR(eb, WR_EIO, "%s: read failed at byte %llu: %s", name,
                  (unsigned long long)at, strerror(errno));
}

int wri_io_fsync(wri_file *f, wr_errbuf *eb)
{
    IO_MUTATE("fsync", f->path, f->fd, NULL, 0, 0, eb);
    int r = 0;
    while (!io_nosync && (r = fsync(f->fd)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return io_errno(eb, errno, f->path, "fsync");
    if (wri_pw_on)
        wri_pw_fsync(f->fd);
    return WR_OK;
}

void wri_io_writeback(wri_file *f, uint64_t off, uint64_t len)
{
    io_env_init();
    if (io_nosync || f->readonly || off > (uint64_t)INT64_MAX ||
        len > (uint64_t)INT64_MAX - off)
        return;
    (void)sync_file_range(f->fd, (off_t)off, (off_t)len,
                          SYNC_FILE_RANGE_WRITE);
}

int wri_io_truncate(wri_file *f, uint64_t size, wr_errbuf *eb)
{
    if (f->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: truncate of a read-only file",
                      f->path);
    if (size > (uint64_t)INT64_MAX)
        return WR_ERR(eb, WR_EINVAL, "%s: truncate to %llu: out of range",
                      f->path, (unsigned long long)size);
    IO_MUTATE("ftruncate", f->path, f->fd, NULL, 0, size, eb);
    if (wri_pw_on)
        wri_pw_truncate(f->fd, size);
    int r;
    do {
        r = ftruncate(f->fd, (off_t)size);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return WR_ERR(eb, io_code(errno), "%s: ftruncate to %llu bytes failed: %s",
                      f->path, (unsigned long long)size, strerror(errno));
    return WR_OK;
}

int wri_io_size(wri_file *f, uint64_t *size_out, wr_errbuf *eb)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return io_errno(eb, errno, f->path, "fstat");
    *size_out = (uint64_t)st.st_size;
    return WR_OK;
}

int wri_io_rename(const char *from, const char *to, wr_errbuf *eb)
{
    IO_MUTATE("rename", from, -1, NULL, 0, 0, eb);
    if (wri_pw_on)
        wri_pw_rename(from, to);
    int r = rename(from, to);
    if (wri_pw_on)
        wri_pw_done(r == 0);
    if (r < 0) {
        int e = errno;
        return WR_ERR(eb, io_code(e), "%s: rename to %s failed: %s", from, to,
                      strerror(e));
    }
    return WR_OK;
}

/* FICLONE from src into a new dst; false (dst gone again) if the file
 * system cannot. */
static bool io_reflink(const char *src, const char *dst)
{
#ifdef FICLONE
    bool ok = false;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return false;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out >= 0) {
        ok = ioctl(out, FICLONE, in) == 0;
        close(out);
        if (!ok)
            unlink(dst);
    }
    close(in);
    return ok;
#else
    (void)src;
    (void)dst;
    return false;
#endif
}

int wri_io_share(const char *src, const char *dst, const char **how,
                 wr_errbuf *eb)
{
    IO_MUTATE("share", dst, -1, NULL, 0, 0, eb);
    if (access(dst, F_OK) == 0)
        return WR_ERR(eb, WR_EEXIST, "%s: already exists", dst);
    /* for the power-loss model a new name, like a create: durable once
     * its directory is fsynced (the caller fsyncs the file too) */
    if (wri_pw_on)
        wri_pw_create(dst, false);
    bool ok = io_reflink(src, dst);
    if (ok)
        *how = "reflink";
    else if ((ok = link(src, dst) == 0))
        *how = "link";
    int e = errno;
    if (wri_pw_on)
        wri_pw_done(ok);
    if (ok)
        return WR_OK;
    if (e == EXDEV || e == EPERM || e == EOPNOTSUPP || e == EMLINK ||
        e == ENOSYS)
        return WR_ERR(eb, WR_ENOTSUP, "%s: cannot link to %s: %s", dst, src,
                      strerror(e));
    if (e == EEXIST)
        return WR_ERR(eb, WR_EEXIST, "%s: already exists", dst);
    return WR_ERR(eb, io_code(e), "%s: link to %s failed: %s", dst, src,
                  strerror(e));
}

int wri_io_unlink(const char *path, wr_errbuf *eb)
{
    IO_MUTATE("unlink", path, -1, NULL, 0, 0, eb);
    if (wri_pw_on)
        wri_pw_unlink(path);
    int r = unlink(path);
    if (wri_pw_on)
        wri_pw_done(r == 0);
    if (r < 0)
        return io_errno(eb, errno, path, "unlink");
    return WR_OK;
}

int wri_io_fsync_dir(const char *path, wr_errbuf *eb)
{
    int rc = WR_OK;
    char *copy = NULL;
    const char *dir = path;
    int fd = -1;
    struct stat st;
    IO_MUTATE("fsync-dir", path, -1, NULL, 0, 0, eb);
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        if ((copy = strdup(path)) == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
            goto out;
        }
        dir = dirname(copy);
    }
    do {
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        rc = io_errno(eb, errno, dir, "open directory for fsync");
        goto out;
    }
    int r = 0;
    while (!io_nosync && (r = fsync(fd)) < 0 && errno == EINTR)
        ;
    if (r < 0 && errno != EINVAL) /* some file systems refuse: harmless */
        rc = io_errno(eb, errno, dir, "directory fsync");
    else if (wri_pw_on)
        wri_pw_fsync_dir(dir);
out:
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

int wri_io_mkdir(const char *path, wr_errbuf *eb)
{
    IO_MUTATE("mkdir", path, -1, NULL, 0, 0, eb);
    if (wri_pw_on)
        wri_pw_mkdir(path);
    int r = mkdir(path, 0755);
    if (wri_pw_on)
        wri_pw_done(r == 0);
    if (r < 0) {
        int e = errno;
        if (e == EEXIST)
            return WR_ERR(eb, WR_EEXIST, "%s: already exists", path);
        return io_errno(eb, e, path, "mkdir");
    }
    return WR_OK;
}

#define WRI_ATOMIC_BUF (1 << 16) /* a stream's writes, in pieces of */

struct wri_atomic {
    wri_file *f;
    char *path, *tmp;
    uint64_t off;  /* bytes written so far */
    FILE *fp;      /* the stream, once asked for */
    char *sbuf;    /* its buffer */
    int rc;        /* the stream's first write error (message in eb) */
    wr_errbuf eb;
    bool made;     /* PATH.tmp is ours to remove */
};

int wri_io_atomic_open(const char *path, wri_atomic **out, wr_errbuf *eb)
{
    int rc;
    size_t l = strlen(path);
    wri_atomic *a = calloc(1, sizeof *a);
    *out = NULL;
    if (a == NULL || (a->path = strdup(path)) == NULL ||
        (a->tmp = malloc(l + 5)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    snprintf(a->tmp, l + 5, "%s.tmp", path);
    if ((rc = wri_io_open(a->tmp, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_TRUNC,
                          &a->f, eb)) != WR_OK)
        goto fail;
    a->made = true;
    *out = a;
    return WR_OK;
fail:
    wri_io_atomic_abort(a);
    return rc;
}

int wri_io_atomic_write(wri_atomic *a, const void *buf, size_t len,
                        wr_errbuf *eb)
{
    int rc = wri_io_pwrite(a->f, buf, len, a->off, eb);
    if (rc == WR_OK)
        a->off += len;
    return rc;
}

static ssize_t atomic_cookie_write(void *arg, const char *buf, size_t len)
{
    wri_atomic *a = arg;
    if (a->rc == WR_OK)
        a->rc = wri_io_atomic_write(a, buf, len, &a->eb);
    return a->rc == WR_OK ? (ssize_t)len : 0;
}

FILE *wri_io_atomic_stream(wri_atomic *a)
{
    cookie_io_functions_t fns = {.write = atomic_cookie_write};
    if (a->fp != NULL)
        return a->fp;
    if ((a->sbuf = malloc(WRI_ATOMIC_BUF)) == NULL ||
        (a->fp = fopencookie(a, "w", fns)) == NULL)
        return NULL;
    (void)setvbuf(a->fp, a->sbuf, _IOFBF, WRI_ATOMIC_BUF);
    return a->fp;
}

int wri_io_atomic_commit(wri_atomic *a, bool *renamed, wr_errbuf *eb)
{
    int rc = WR_OK;
    if (renamed != NULL)
        *renamed = false;
    if (a->fp != NULL) {
        int closed = fclose(a->fp);
        a->fp = NULL;
        if (a->rc != WR_OK)
            rc = wri_err_set(eb, a->rc, a->eb.src_file, a->eb.src_line, "%s",
                             a->eb.msg);
        else if (closed != 0)
            rc = wri_io_errno(eb, errno, a->tmp, "write");
        if (rc != WR_OK)
            goto out;
    }
    if ((rc = wri_io_fsync(a->f, eb)) != WR_OK)
        goto out;
    wri_io_close(a->f);
    a->f = NULL;
    if ((rc = wri_io_rename(a->tmp, a->path, eb)) != WR_OK)
        goto out;
    free(a->tmp);
    a->tmp = NULL; /* renamed: nothing to remove */
    if (renamed != NULL)
        *renamed = true;
    rc = wri_io_fsync_dir(a->path, eb);
out:
    wri_io_atomic_abort(a);
    return rc;
}

void wri_io_atomic_abort(wri_atomic *a)
{
    if (a == NULL)
        return;
    if (a->fp != NULL)
        (void)fclose(a->fp);
    free(a->sbuf);
    wri_io_close(a->f);
    if (a->made && a->tmp != NULL)
        (void)unlink(a->tmp); /* a failed run leaves no PATH.tmp */
    free(a->path);
    free(a->tmp);
    free(a);
}

int wri_io_write_atomic(const char *dir, const char *name, const void *buf,
                        size_t len, bool *renamed, wr_errbuf *eb)
{
    int rc;
    wri_atomic *a = NULL;
    char *path = wri_path_join(dir, name);
    if (renamed != NULL)
        *renamed = false;
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s/%s: out of memory", dir, name);
    if ((rc = wri_io_atomic_open(path, &a, eb)) == WR_OK) {
        if ((rc = wri_io_atomic_write(a, buf, len, eb)) == WR_OK)
            rc = wri_io_atomic_commit(a, renamed, eb);
        else
            wri_io_atomic_abort(a);
    }
    free(path);
    return rc;
}

int wri_io_rmdir(const char *path, wr_errbuf *eb)
{
    IO_MUTATE("rmdir", path, -1, NULL, 0, 0, eb);
    if (wri_pw_on)
        wri_pw_rmdir(path);
    int r = rmdir(path);
    if (wri_pw_on)
        wri_pw_done(r == 0);
    if (r < 0 && errno != ENOENT)
        return io_errno(eb, errno, path, "rmdir");
    return WR_OK;
}

/* --- free space -------------------------------------------------------- */

int wri_io_free_space(const char *path, uint64_t *free_out, uint64_t *fs_out,
                      wr_errbuf *eb)
{
    struct statvfs vfs;
    struct stat st;
    if (statvfs(path, &vfs) != 0 || stat(path, &st) != 0)
        return io_errno(eb, errno, path, "statvfs");
    *free_out = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    *fs_out = (uint64_t)st.st_dev;
    const char *fake = getenv("WR_IO_FREE_SPACE");
    if (fake != NULL && *fake != '\0') {
        char *end = NULL;
        unsigned long long v = strtoull(fake, &end, 10);
        if (end != NULL && *end == '\0')
            *free_out = v;
    }
    return WR_OK;
}

/* --- paths ---------------------------------------------------------------- */

char *wri_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = malloc(dl + nl + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

bool wri_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

bool wri_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int wri_io_refuse_link(const char *path, const char *job, const char *dir,
                       const char *what, const char *why, wr_errbuf *eb)
{
    struct stat ls;
    char target[4096];
    if (lstat(path, &ls) != 0 || !S_ISLNK(ls.st_mode))
        return WR_OK;
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = '\0';
    return WR_ERR(eb, WR_ENOTSUP,
                  "%s is a symbolic link (to %s): %s, nor is anything else "
                  "of %s (%s). Move the file back into %s, or link the "
                  "whole directory instead of its files",
                  path, target, what, job, why, dir);
}

bool wri_io_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* path as a real path: its longest existing prefix resolved (links,
 * "..", "."), the rest appended as given; NULL: out of memory, or no
 * prefix resolves. */
static char *io_path_real(const char *path)
{
    char *head = strdup(path), *rest = strdup(""), *out = NULL;
    while (head != NULL && rest != NULL && out == NULL) {
        size_t n = strlen(head);
        while (n > 1 && head[n - 1] == '/')
            head[--n] = '\0';
        char *real = realpath(n ? head : ".", NULL);
        if (real != NULL) {
            size_t rl = strlen(real), tl = strlen(rest);
            if ((out = malloc(rl + tl + 2)) != NULL)
                snprintf(out, rl + tl + 2, "%s%s%s", real,
                         tl && strcmp(real, "/") ? "/" : "", rest);
            free(real);
            break;
        }
        char *slash = strrchr(head, '/');
        if (errno != ENOENT)
            break;
        const char *last = slash ? slash + 1 : head;
        char *nr = malloc(strlen(last) + strlen(rest) + 2);
        if (nr != NULL)
            sprintf(nr, "%s%s%s", last, *rest ? "/" : "", rest);
        free(rest);
        rest = nr;
        if (slash == head)
            head[1] = '\0'; /* resolve "/" next */
        else if (slash != NULL)
            *slash = '\0';
        else
            head[0] = '\0'; /* resolve "." next */
    }
    free(head);
    free(rest);
    return out;
}

bool wri_path_within(const char *path, const char *dir)
{
    char *p = io_path_real(path), *d = io_path_real(dir);
    size_t dl = d ? strlen(d) : 0;
    bool in = p != NULL && d != NULL && strncmp(p, d, dl) == 0 &&
              (p[dl] == '\0' || p[dl] == '/' || strcmp(d, "/") == 0);
    free(p);
    free(d);
    return in;
}

/* --- whole small files ------------------------------------------------------ */

int wri_io_read_whole(const char *path, uint64_t max, const char *what,
                      uint8_t **buf_out, size_t *len_out, wr_errbuf *eb)
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
        rc = WR_ERR(eb, WR_ECORRUPT, "%s: %llu bytes, too large for %s",
                    path, (unsigned long long)size, what);
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
