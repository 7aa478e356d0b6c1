/*
 * helper_power.c -- see helper_power.h.
 */
#include "helper_power.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

typedef struct pw_ctx {
    pw_learned *l;
    size_t cap;
    wri_io_trace_fn trace;
    void *trace_arg;
} pw_ctx;

static void pw_note(pw_ctx *c, uint64_t n)
{
    pw_learned *l = c->l;
    if (n >= c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 1024;
        while (nc <= n)
            nc *= 2;
        uint32_t *p = realloc(l->pending, nc * sizeof *p);
        if (p == NULL)
            return;
        for (size_t i = c->cap; i < nc; i++)
            p[i] = 0;
        l->pending = p;
        c->cap = nc;
    }
    l->pending[n] = (uint32_t)wri_io_power_pending();
}

static void pw_trace(uint64_t op, const char *what, const char *path,
                     uint64_t off, size_t len, void *arg)
{
    pw_ctx *c = arg;
    pw_note(c, op); /* before op n is made: what a crash at n leaves */
    if (c->trace != NULL)
        c->trace(op, what, path, off, len, c->trace_arg);
}

static double pw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double pw_cpu(void)
{
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec +
                    b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec +
                    b.ru_utime.tv_usec + b.ru_stime.tv_usec) / 1e6;
}

int pw_learn(int (*fn)(void *), void *arg, wri_io_trace_fn trace,
             void *trace_arg, pw_learned *l)
{
    pw_ctx c = {l, 0, trace, trace_arg};
    memset(l, 0, sizeof *l);
    l->t0 = pw_now();
    l->c0 = pw_cpu();
    wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = UINT64_MAX,
                        .power = true, .seed = 0};
    wri_io_fault_set(&p);
    wri_io_trace_set(pw_trace, &c);
    int rc = fn(arg);
    l->total = wri_io_op_count();
    pw_note(&c, l->total + 1);
    wri_io_trace_set(NULL, NULL);
    wri_io_fault_set(NULL);
    return rc;
}

static uint32_t pw_pending_at(const pw_learned *l, uint64_t n)
{
    return l->pending != NULL && n <= l->total + 1 ? l->pending[n] : 2;
}

int pw_nstates(const pw_learned *l, uint64_t n)
{
    uint32_t p = pw_pending_at(l, n);
    return p == 0 ? 1 : p == 1 ? 2 : PW_SEEDS;
}

wri_fault_plan pw_plan(const pw_learned *l, uint64_t n, int k)
{
    wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = n, .power = true,
                        .seed = k == 0 ? 0 : n * 7919 + (uint64_t)k};
    if (k > 0 && pw_pending_at(l, n) == 1)
        p.power = false; /* the one op kept: a process crash */
    return p;
}

void pw_report(const pw_learned *l, const char *what, int states,
               const char *detail)
{
    printf("# power-loss sweep of %s: %llu ops + the end, %d states (%s), "
           "in %.1f s (%.1f s CPU)\n",
           what, (unsigned long long)l->total, states, detail,
           pw_now() - l->t0, pw_cpu() - l->c0);
}

void pw_learned_free(pw_learned *l)
{
    free(l->pending);
    memset(l, 0, sizeof *l);
}

void pw_lock_note(pw_lock_ops *lo, uint64_t op, const char *what,
                  const char *path)
{
    size_t n = strlen(path), t = strlen("/" WR_LOCK_NAME);
    if (n < t || strcmp(path + n - t, "/" WR_LOCK_NAME) != 0)
        return;
    if (strcmp(what, "pwrite") == 0)
        lo->recorded = true;
    else if (op < sizeof lo->release &&
             (strcmp(what, "unlink") == 0 ||
              (strcmp(what, "ftruncate") == 0 && lo->recorded))) {
        lo->release[op] = 1;
        lo->recorded = false; /* a later lock records anew */
    }
}

bool pw_lock_release(const pw_lock_ops *lo, uint64_t op)
{
    return op < sizeof lo->release && lo->release[op];
}
