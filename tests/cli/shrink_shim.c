/*
 * shrink_shim.c -- an LD_PRELOAD library for wr-compact.bats: another
 * process shrinks the original while wr-compact reads it, at a moment the
 * test chooses. At the first pwrite of more than 64 KiB into a file whose
 * name ends in ".compact.tmp" (a gathered run of the bulk loader, written
 * while the walk of the original still feeds it), the file named by
 * $WR_SHRINK_FILE is truncated to $WR_SHRINK_TO bytes, then the write goes
 * on. Test code only: it is compiled by the test, never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static void shrink_maybe(int fd, size_t n)
{
    static int done;
    char link[64], path[4096];
    const char *tail = ".compact.tmp", *file = getenv("WR_SHRINK_FILE"),
               *to = getenv("WR_SHRINK_TO");
    if (done || n <= 65536 || file == NULL || to == NULL)
        return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k <= 0)
        return;
    path[k] = '\0';
    size_t len = (size_t)k, tl = strlen(tail);
    if (len < tl || strcmp(path + len - tl, tail) != 0)
        return;
    done = 1;
    if (truncate(file, (off_t)strtoll(to, NULL, 10)) != 0)
        perror("shrink_shim: truncate");
    else
        fprintf(stderr, "shrink_shim: %s truncated to %s bytes\n", file, to);
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
