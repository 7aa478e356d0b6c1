/*
 * shrink_shim.c -- an LD_PRELOAD library for the command-line tests:
 * another process shrinks a file while a tool reads it, at a moment the
 * test chooses. The file named by $WR_SHRINK_FILE is truncated to
 * $WR_SHRINK_TO bytes, once, at the first of:
 *   - a pwrite of more than 64 KiB into a file whose name ends in
 *     ".compact.tmp" (a gathered run of wr-compact's bulk loader, written
 *     while the walk of the original, mapped or not, still feeds it);
 *   - with $WR_SHRINK_READ = N, the Nth pread of $WR_SHRINK_FILE itself
 *     (a tool reading it by pread: wr-verify, wr-compact --dry-run),
 *     before that read.
 * Test code only: it is compiled by the test, never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);

static int done;

/* fd's path into path (len bytes); its length, or 0 */
static size_t fd_path(int fd, char *path, size_t len)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, len - 1);
    if (k <= 0)
        return 0;
    path[k] = '\0';
    return (size_t)k;
}

static void shrink_now(const char *file, const char *to)
{
    done = 1;
    if (truncate(file, (off_t)strtoll(to, NULL, 10)) != 0)
        perror("shrink_shim: truncate");
    else
        fprintf(stderr, "shrink_shim: %s truncated to %s bytes\n", file, to);
}

static void shrink_maybe(int fd, size_t n)
{
    char path[4096];
    const char *tail = ".compact.tmp", *file = getenv("WR_SHRINK_FILE"),
               *to = getenv("WR_SHRINK_TO");
    if (done || n <= 65536 || file == NULL || to == NULL)
        return;
    size_t len = fd_path(fd, path, sizeof path), tl = strlen(tail);
    if (len < tl || strcmp(path + len - tl, tail) != 0)
        return;
    shrink_now(file, to);
}

static void shrink_at_read(int fd)
{
    static long reads;
    char path[4096], want[4096];
    const char *file = getenv("WR_SHRINK_FILE"), *to = getenv("WR_SHRINK_TO"),
               *nth = getenv("WR_SHRINK_READ");
    if (done || file == NULL || to == NULL || nth == NULL ||
        fd_path(fd, path, sizeof path) == 0 ||
        realpath(file, want) == NULL || strcmp(path, want) != 0)
        return;
    if (++reads == strtol(nth, NULL, 10))
        shrink_now(file, to);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    pwrite_fn real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    shrink_maybe(fd, n);
    return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    pwrite_fn real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
    shrink_maybe(fd, n);
    return real(fd, buf, n, off);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    pread_fn real = (pread_fn)dlsym(RTLD_NEXT, "pread");
    shrink_at_read(fd);
    return real(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    pread_fn real = (pread_fn)dlsym(RTLD_NEXT, "pread64");
    shrink_at_read(fd);
    return real(fd, buf, n, off);
}
