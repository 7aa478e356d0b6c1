/*
 * cores.h -- how many threads the library's work may use.
 *
 * Owns the one answer every choice of threads in the library asks: the
 * cores this process may run on (sched_getaffinity, so taskset and
 * cpusets count; else those online), the rule a two-sided hand-over
 * (ipipe, vfdocs, verify's split) follows when the caller leaves the
 * choice to it, and memory on cache lines of its own for what threads
 * write side by side.
 *
 * Calls nothing of the library.
 */
#ifndef WR_CORES_H
#define WR_CORES_H

#include <stddef.h>

/* The cores this process may run on, at least 1: `taskset -c 0` runs
 * single-threaded everywhere. */
long wri_cores(void);
/* threads as asked; 0 (the library's choice): 2 where wri_cores() >= 2,
 * else 1. */
unsigned wri_threads(unsigned threads);
/* size bytes, zeroed, on cache lines of their own (free() frees them):
 * for what one thread writes while another runs, so that neither waits
 * on a line the other writes (a shape memo's counter beside the other
 * thread's walk cost it 14% of its time). NULL when out of memory. */
void *wri_calloc_lines(size_t size);

#endif
