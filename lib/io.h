/*
 * io.h -- every pread, pwrite, fsync, ftruncate, rename, unlink and
 * directory fsync of the library, and the fault-injection hook.
 *
 * Owns: file descriptors, errno translation (raw errno never escapes this
 * module; it is kept in the message), the directory lock (lock.c), and the fault
 * plan tests use to crash the process at the Nth mutating call.
 *
 * Mutating calls (pwrite, fsync, ftruncate, rename, unlink, mkdir, rmdir, dir fsync,
 * create, share) are numbered 1, 2, 3... in the order the process makes them.
 * A fault plan can:
 *   - crash at op N: the process calls _exit(WRI_IO_CRASH_EXIT) instead of
 *     doing op N (if op N is a write and tear > 0, the first `tear` bytes are
 *     written first, then the process exits: a torn write);
 *   - fail op N (or every op from N on, "sticky") with EIO or ENOSPC;
 *   - crash at op N and lose power: see "Power loss" below.
 * Plans come from wri_io_fault_set() or, for the tools, from the environment
 * variable WR_IO_FAULT, read once:
 *   WR_IO_FAULT="crash=N"            crash at op N
 *   WR_IO_FAULT="crash=N,tear=K"     write K bytes of op N, then crash
 *   WR_IO_FAULT="crash=N,power=S"    crash at op N, then a power loss drawn
 *                                    from seed S (tear=K works too)
 *   WR_IO_FAULT="fail=N,err=ENOSPC"  op N fails with ENOSPC (or err=EIO)
 *   WR_IO_FAULT="fail=N,err=EIO,sticky"  op N and every later op fail
 *
 * Power loss (lib/iopower.c). A process crash keeps every op made: the
 * page cache survives. A power loss keeps only what an fsync made durable:
 * a write or ftruncate once its file is fsynced; a create, unlink, mkdir
 * or rmdir once the directory holding the name is fsynced; a rename once
 * both directories (the source's and the target's) are fsynced after it.
 * With a power plan the io layer records every op with what undoes it;
 * at the crash it loses a subset of the ops not yet durable -- seed 0:
 * all of them; any other seed: each with probability 1/2, and a lost write
 * of more than 512 bytes is torn one time in three (a 512-byte-aligned
 * prefix stays; or, half the time when it spans several 4 KiB pieces of
 * the file, each piece stays with probability 1/2, as the page cache
 * writes a gathered run back page by page in any order) -- together with
 * the ops that depend on a lost one (a
 * later op on a name a lost op made or freed, everything inside a
 * directory whose mkdir is lost, an rmdir after a lost op inside it), puts
 * the files and names back accordingly, and exits with WRI_IO_CRASH_EXIT.
 * So the files on disk are one state the machine could come back up with.
 * WR_IO_NOSYNC does not change the model: fsyncs are counted and recorded,
 * only the system call is skipped.
 *   A crash point past the last op means "the power goes after the run":
 * a tool started with such a plan loses power at exit (exit status
 * WRI_IO_CRASH_EXIT instead of its own); a test calls wri_io_crash_now()
 * after the function under test returns. A sweep: learn the op count T
 * with WR_IO_STATS, then for N in 1..T+1 and a few seeds S (0 and some
 * others) run with "crash=N,power=S", then recover (rerun the tool),
 * verify, and compare the content with the committed versions (tests/unit
 * test_db.c, test_migrate.c, test_compact.c do this for load, migrate and
 * compact; any new writer, e.g. wr-salvage, should be swept the same way).
 * Only ops made through this module are modelled; the LOCK file's are
 * (lock.c: create, record, truncate, unlink; not the flock).
 * WR_IO_STATS=PATH makes the process write its mutating-op count to PATH
 * at exit, so a test can learn how many points to sweep; WR_IO_TRACE=PATH
 * writes a line "N WHAT PATH" per op as it is made (which op is what).
 * Production cost: two predictable branches per mutating system call.
 *
 * Calls nothing else in the library but err and iopower.
 */
#ifndef WR_IO_H
#define WR_IO_H

#include "wr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WRI_IO_CRASH_EXIT 86 /* exit status of an injected crash */

typedef struct wri_file {
    int fd;
    bool readonly;
    char *path;
} wri_file;

enum {
    WRI_IO_RDONLY = 0,
    WRI_IO_RDWR = 1,
    WRI_IO_CREATE = 2, /* with RDWR: create if missing */
    WRI_IO_EXCL = 4,   /* with CREATE: fail with WR_EEXIST if present */
    WRI_IO_TRUNC = 8,  /* truncate to zero on open */
    WRI_IO_ROFS = 16,  /* with CREATE: a directory that cannot be written
                        * to (EROFS, EACCES, EPERM) is WR_ENOTSUP, not
                        * WR_EIO */
    WRI_IO_WRONLY = 32, /* with RDWR: open for writing only. A pipe or FIFO
                         * opened read-write would have this process for a
                         * reader too: its reader gone, writes would block
                         * for ever instead of failing with EPIPE */
};

typedef enum wri_fault_kind {
    WRI_FAULT_NONE = 0,
    WRI_FAULT_CRASH,
    WRI_FAULT_FAIL,
} wri_fault_kind;

typedef struct wri_fault_plan {
    wri_fault_kind kind;
    uint64_t at;     /* 1-based index of the mutating op */
    size_t tear;     /* CRASH: bytes of a write that reach the file first */
    int err;         /* FAIL: WR_EIO (also 0) or WR_ENOSPC; a unit test of
                        how a caller blames a failure may give any other
                        wr_err (a write failing WR_ECORRUPT) */
    bool sticky;     /* FAIL: every op from `at` on fails */
    bool power;      /* CRASH: then lose power (see above) */
    uint64_t seed;   /* power: which ops not yet durable are lost */
} wri_fault_plan;

/* Install (or clear, with NULL) a fault plan and reset the op counter. */
void wri_io_fault_set(const wri_fault_plan *plan);
/* Number of mutating ops made since the last wri_io_fault_set. */
uint64_t wri_io_op_count(void);
/* With a crash plan installed: crash now (with a power plan, losing what
 * is not durable first). Without one: nothing. */
void wri_io_crash_now(void);
/* With a power plan: how many recorded ops are not durable yet. */
size_t wri_io_power_pending(void);
/* Tests: call fn for every mutating op (its number, "pwrite"/"fsync"/...,
 * path, offset and length) before it is made; NULL turns tracing off.
 * Lets a crash sweep learn, in a dry run, which op is a write of how many
 * bytes (to tear it in half). */
typedef void (*wri_io_trace_fn)(uint64_t op, const char *what,
                                const char *path, uint64_t off, size_t len,
                                void *arg);
void wri_io_trace_set(wri_io_trace_fn fn, void *arg);

/* An open that waits (a FIFO's, for its other end) and a signal
 * interrupts (SIGINT, SIGTERM) is WR_EINTR "PATH: interrupted while
 * opening it (...)". */
int wri_io_open(const char *path, int flags, wri_file **out, wr_errbuf *eb);
/* Closes and frees f (NULL is fine). Never fails in a way callers can act on. */
void wri_io_close(wri_file *f);
/* Read exactly len bytes at off. A short read (file too small) is
 * WR_ECORRUPT naming the file, offset and sizes. */
int wri_io_pread(wri_file *f, void *buf, size_t len, uint64_t off,
                 wr_errbuf *eb);
/* A hint: f will be read front to back in large runs (the kernel reads
 * further ahead). Never fails. */
void wri_io_advise_sequential(wri_file *f);
/* A hint: the file at path will not be read again (it is about to be
 * replaced): the kernel may drop its cached pages now (dirty ones stay
 * until written). Opens it read-only; never fails. */
void wri_io_forget(const char *path);
/* [0, len) of f mapped read-only, when every page of it is in the page
 * cache (mincore, trusted only when the caller owns or may write the
 * file: anyone else is told every page is) and the mapping can be made;
 * else NULL (read it with pread then: a cold file's pages read by faults
 * are slow, and a disk error would end the reads). The mapping is guarded:
 * a read through it that faults (the file shrank under it, or a page
 * could not be read back) reads zeros instead of raising SIGBUS, and
 * wri_io_map_changed then says so; its reader asks before it trusts what
 * it read. A SIGBUS handler is installed while any mapping is (the one
 * before is called for any other SIGBUS, and restored by the last
 * unmap). */
const uint8_t *wri_io_map_cached(wri_file *f, uint64_t len);
/* The guard of mapping p (wri_io_map_cached's), valid until p is
 * unmapped: its reader keeps it, so asking is one load, not a search of
 * the guarded mappings; NULL for NULL. */
typedef struct io_map wri_io_guard;
const wri_io_guard *wri_io_map_guard(const uint8_t *p);
/* Did a read through the mapping of guard g (NULL: none) fault? *off (may
 * be NULL): where the first did, from the start of the file. */
bool wri_io_map_changed(const wri_io_guard *g, uint64_t *off);
void wri_io_unmap(const uint8_t *p, uint64_t len);
/* Read up to len bytes; *got_out gets how many (0 at or past EOF). */
/* Reads at scattered offsets of one file made together (a tree walk's
 * next leaves): where the kernel offers io_uring, a batch of them is one
 * system call that submits them and waits for them all, instead of one
 * pread each (a system call costs more than the copy of a 4 KiB page on
 * a virtual machine: the 1M-document compact's walk of its original made
 * 108,000 of them). The kernel copies from the page cache as pread does;
 * a read it must wait for is done by io_uring's worker threads, which
 * are the calling process's (their time is its time). */
typedef struct wri_io_rd {
    void *buf;
    uint32_t len;
    uint64_t off;
    int64_t got; /* out: bytes read (fewer at the end of the file), or
                    -1: not read (an error, or the batch could not be
                    made): read it again the usual way, which reports */
} wri_io_rd;
typedef struct wri_io_ring wri_io_ring;
/* A ring for batches of reads, or NULL where there is none to be had (a
 * kernel without io_uring, a sandbox that forbids it, no memory, or the
 * environment's WR_IO_BATCH=0, which tests and benchmarks use to compare
 * with the pread path). */
wri_io_ring *wri_io_ring_new(void);
void wri_io_ring_free(wri_io_ring *r);
/* Every rd[i] of f, through r; never fails as a whole: each rd[i].got
 * says what it got. A ring whose system call failed is not used again
 * (every later batch gets -1 everywhere). */
void wri_io_pread_batch(wri_io_ring *r, wri_file *f, wri_io_rd *rd,
                        size_t n);
int wri_io_pread_some(wri_file *f, void *buf, size_t len, uint64_t off,
                      size_t *got_out, wr_errbuf *eb);
int wri_io_pwrite(wri_file *f, const void *buf, size_t len, uint64_t off,
                  wr_errbuf *eb);
/* Write len bytes where the file stands: for a device or a pipe (where
 * pwrite fails), whose bytes no crash or power loss can take back (the
 * op is counted and can be failed, not modelled). A write a signal
 * interrupts (one waiting on a full pipe: SIGINT, SIGTERM) is WR_EINTR. */
int wri_io_write(wri_file *f, const void *buf, size_t len, wr_errbuf *eb);
/* Input a tool reads front to back (a file, a FIFO, <(...)): not a
 * wri_file, as standard input cannot be one, and not a mutating op.
 * open_input: *fd_out open read-only, or WR_ENOTFOUND / WR_EIO "PATH:
 * cannot open: reason". read: up to len bytes where fd stands, *got_out
 * of them (0 at the end); a failure is WR_EIO "NAME: read failed at byte
 * AT: reason" (at: the bytes read before, for the message). An open
 * waiting for a FIFO's writer, a read waiting on an empty pipe, that a
 * signal interrupts (SIGINT, SIGTERM) is WR_EINTR, as wri_io_open's and
 * wri_io_write's are. */
int wri_io_open_input(const char *path, int *fd_out, wr_errbuf *eb);
int wri_io_read(int fd, const char *name, void *buf, size_t len,
                uint64_t at, size_t *got_out, wr_errbuf *eb);
int wri_io_fsync(wri_file *f, wr_errbuf *eb);
/* A hint: start writing [off, off + len) of f back to the disk now,
 * without waiting (so that a later fsync finds it mostly done). No
 * durability promise, not a mutating op (nothing to fault: only fsync
 * makes writes durable), never fails; nothing with WR_IO_NOSYNC. */
void wri_io_writeback(wri_file *f, uint64_t off, uint64_t len);
int wri_io_truncate(wri_file *f, uint64_t size, wr_errbuf *eb);
int wri_io_size(wri_file *f, uint64_t *size_out, wr_errbuf *eb);
int wri_io_rename(const char *from, const char *to, wr_errbuf *eb);
/* Make dst (which must not exist) hold the bytes of src without copying
 * them: a reflink (FICLONE: shared until either is written) where the file
 * system has them, else a hard link (the same file). One mutating op.
 * WR_OK with *how "reflink" or "link"; WR_ENOTSUP when neither can be
 * made here (another file system, no links: copy instead); WR_EEXIST if
 * dst exists; another error otherwise. */
int wri_io_share(const char *src, const char *dst, const char **how,
                 wr_errbuf *eb);
int wri_io_unlink(const char *path, wr_errbuf *eb);
/* fsync the directory that holds path (or path itself if a directory). */
int wri_io_fsync_dir(const char *dir, wr_errbuf *eb);
int wri_io_mkdir(const char *path, wr_errbuf *eb);
/* Replace DIR/NAME with len bytes, atomically: write DIR/NAME.tmp, fsync
 * it, rename it over DIR/NAME, fsync DIR. A crash leaves the old file or
 * the new one (and perhaps a stray NAME.tmp); a failure removes NAME.tmp.
 * *renamed (NULL: not asked) says whether the rename took effect: a
 * failure with it true is the directory's fsync, after it, so the new
 * file is the one in place (the one readers see, and the one that stays
 * unless the power goes before the directory reaches the disk), not the
 * old one: a caller that counts commits (a catalog's generation) counts
 * this one. */
int wri_io_write_atomic(const char *dir, const char *name, const void *buf,
                        size_t len, bool *renamed, wr_errbuf *eb);
/* The same protocol for output written piece by piece (wr-dump --map):
 * open creates PATH.tmp (truncated if a crash left one); write appends;
 * stream gives a stdio stream whose writes go through write (buffered,
 * so memory stays bounded; NULL if out of memory); commit flushes the
 * stream, fsyncs PATH.tmp, renames it over PATH and fsyncs PATH's
 * directory, then frees the handle (*renamed as wri_io_write_atomic's);
 * abort (or a failed commit) removes PATH.tmp and frees it. A crash
 * leaves the old PATH or the new one. */
typedef struct wri_atomic wri_atomic;
int wri_io_atomic_open(const char *path, wri_atomic **out, wr_errbuf *eb);
int wri_io_atomic_write(wri_atomic *a, const void *buf, size_t len,
                        wr_errbuf *eb);
FILE *wri_io_atomic_stream(wri_atomic *a);
int wri_io_atomic_commit(wri_atomic *a, bool *renamed, wr_errbuf *eb);
void wri_io_atomic_abort(wri_atomic *a);
/* Remove an empty directory; an absent one is not an error. */
int wri_io_rmdir(const char *path, wr_errbuf *eb);

/* Free space for an unprivileged writer on the file system holding path
 * (an existing file or directory), and an id of that file system (two
 * paths with the same id share their free space). Tests only:
 * WR_IO_FREE_SPACE=BYTES replaces the figure for every path, so the
 * free-space checks of migrate and compact can be tested without filling
 * a disk. */
int wri_io_free_space(const char *path, uint64_t *free_out, uint64_t *fs_out,
                      wr_errbuf *eb);

/* DIR/NAME (malloc'd; NULL when out of memory). */
char *wri_path_join(const char *dir, const char *name);
/* Is there anything at path (lstat: a dangling link counts)? Is path a
 * directory (stat)? */
bool wri_path_exists(const char *path);
bool wri_path_is_dir(const char *path);
/* A writer that replaces path by a rename refuses a symbolic link there:
 * the rename would replace the link, not the file it points to, which
 * would keep what it holds. WR_ENOTSUP "PATH is a symbolic link (to
 * TARGET): WHAT, nor is anything else of JOB (WHY). Move the file back
 * into DIR, or link the whole directory instead of its files"; WR_OK when
 * path is no link (or nothing is there). */
int wri_io_refuse_link(const char *path, const char *job, const char *dir,
                       const char *what, const char *why, wr_errbuf *eb);
struct stat;
/* Are a and b (from stat, lstat or fstat) the same file: the same device
 * and inode, whatever the paths or descriptors they were taken through? */
bool wri_io_same_file(const struct stat *a, const struct stat *b);
/* Is path dir itself or inside it? Real paths are compared (links and
 * ".." resolved as far as each path exists, so either may be still to
 * be made); false when either cannot be resolved at all. */
bool wri_path_within(const char *path, const char *dir);
/* Read a whole small file into *buf_out (malloc'd, NUL-terminated after
 * its *len_out bytes); WR_ECORRUPT "PATH: N bytes, too large for WHAT"
 * when it holds more than max bytes. */
int wri_io_read_whole(const char *path, uint64_t max, const char *what,
                      uint8_t **buf_out, size_t *len_out, wr_errbuf *eb);

/* errno e as a wr_err, with "PATH: WHAT failed: reason" in eb. */
int wri_io_errno(wr_errbuf *eb, int e, const char *path, const char *what);

/* Directory lock (lock.c): DIR/LOCK held with flock(), which the kernel
 * drops when the process dies, so a LOCK file left behind blocks nobody.
 * Writers take it exclusively and record "pid TOOL" in it (emptied on
 * release) so a refused caller can name them; readers (WRI_LOCK_SHARED)
 * take it shared and write nothing. On release a writer removes LOCK, and
 * a reader an empty LOCK if nobody else holds it (the last reader out,
 * whoever created it); a crashed writer's record only a writer removes.
 * WR_ELOCKED, naming the holder (a writer's record, or a reader's pid and
 * name), if held in a conflicting mode. Shared only: WR_ENOTSUP
 * if LOCK is absent and cannot be created or cannot be opened (read-only
 * directory or file system, no permission). */
typedef struct wri_lock wri_lock;
enum { WRI_LOCK_SHARED = 1 };
int wri_io_lock_take(const char *dir, const char *holder, int flags,
                     wri_lock **out, wr_errbuf *eb);
/* wri_io_lock_take() exclusive: what writers call. */
int wri_io_lock_dir(const char *dir, const char *holder, wri_lock **out,
                    wr_errbuf *eb);
void wri_io_unlock_dir(wri_lock *lk);
/* Is DIR/LOCK held exclusively right now (a writer at work)? If so, who
 * gets the writer's "pid TOOL" record (maybe ""). Held with no record is
 * looked at again for up to 0.2 s, as a taker does (the last reader out
 * removing LOCK holds it so for a moment). */
bool wri_io_lock_writer(const char *dir, char *who, size_t len);

#endif /* WR_IO_H */
