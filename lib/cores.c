/*
 * cores.c -- how many threads the library's work may use (cores.h).
 */
#include "cores.h"

#include <sched.h>
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
