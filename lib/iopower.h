/*
 * iopower.h -- the power-loss model behind io.c's fault plan "power"
 * (io.h documents how tests use it; only io.c calls these).
 *
 * While it is on, every mutating call io.c makes is recorded with what
 * undoes it, and with the fsync that makes it durable:
 *   data ops (pwrite, ftruncate, truncate on open): an fsync of the file;
 *   directory ops (create, unlink, mkdir, rmdir): an fsync of the
 *   directory holding the name; a rename: fsyncs of both directories
 *   (one, when they are the same) made after it.
 * At the crash, wri_pw_crash() picks a subset of the ops not yet durable
 * (all of them, or each with probability 1/2 from the seed), adds what
 * depends on a lost op (a later op on a name a lost op created or freed,
 * anything inside a directory whose mkdir is lost, an rmdir after a lost
 * op inside), tears some lost writes (a 512-byte-aligned prefix reaches
 * the disk, or a random subset of the 4 KiB pieces of the file a longer
 * write covers) and undoes them: data first, newest first, through a kept
 * descriptor of each written file; then the names, newest first.
 * Data and names are independent in the model (a file system may write
 * either first), so the order of the two passes does not matter.
 *
 * Calls nothing in the library.
 */
#ifndef WR_IOPOWER_H
#define WR_IOPOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern bool wri_pw_on;

/* Start recording (forgetting what was recorded) with this seed; stop. */
void wri_pw_start(uint64_t seed);
void wri_pw_stop(void);

/* Data ops, before the system call (an undo that restores bytes an
 * unsuccessful call never changed is harmless). */
void wri_pw_write(int fd, size_t len, uint64_t off);
void wri_pw_truncate(int fd, uint64_t size);
/* Before open(2) with O_CREAT and/or O_TRUNC. */
void wri_pw_create(const char *path, bool trunc);
void wri_pw_rename(const char *from, const char *to);
void wri_pw_unlink(const char *path);
void wri_pw_mkdir(const char *path);
void wri_pw_rmdir(const char *path);
/* After the directory op just recorded: ok false drops the record (the
 * call failed and changed nothing). */
void wri_pw_done(bool ok);
/* After a successful fsync of a file / of a directory. */
void wri_pw_fsync(int fd);
void wri_pw_fsync_dir(const char *dir);

/* The power goes: lose a subset of what is not durable (see above).
 * Returns how many ops were lost; the caller exits. */
size_t wri_pw_crash(void);
/* How many recorded ops are not durable now (tests). */
size_t wri_pw_pending(void);

#endif /* WR_IOPOWER_H */
