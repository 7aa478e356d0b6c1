/*
 * cores.h -- how many threads the library's work may use.
 *
 * Owns the one answer every choice of threads in the library asks: the
 * cores this process may run on (sched_getaffinity, so taskset and
 * cpusets count; else those online), and the rule a two-sided hand-over
 * (ipipe, vfdocs) follows when the caller leaves the choice to it.
 *
 * Calls nothing of the library.
 */
#ifndef WR_CORES_H
#define WR_CORES_H

/* The cores this process may run on, at least 1: `taskset -c 0` runs
 * single-threaded everywhere. */
long wri_cores(void);
/* threads as asked; 0 (the library's choice): 2 where wri_cores() >= 2,
 * else 1. */
unsigned wri_threads(unsigned threads);

#endif
