/*
 * cores.c -- how many threads the library's work may use (cores.h).
 */
#include "cores.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long wri_cores(void)
{
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0
                 ? CPU_COUNT(&set)
                 : sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? n : 1;
}

unsigned wri_threads(unsigned threads)
{
    if (threads != 0)
        return threads;
    return wri_cores() >= 2 ? 2 : 1;
}

void *wri_calloc_lines(size_t size)
{
    size_t n = (size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, n == 0 ? 64 : n);
    if (p != NULL)
        memset(p, 0, n == 0 ? 64 : n);
    return p;
}
