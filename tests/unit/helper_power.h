/*
 * helper_power.h -- what the power-loss sweeps share (io.h, "Power loss").
 *
 * A sweep first learns its write path: pw_learn runs it once, undisturbed
 * but with the power-loss model recording, and notes for every crash point
 * n (1..total+1: "+1" is a power loss after the run) how many ops are not
 * durable there. Then at each point it crashes with pw_nstates(n) plans
 * (pw_plan): none durable: one (nothing can be lost); one: that op lost
 * (seed 0) and kept (a process crash); more: seed 0 (every one lost) and
 * PW_SEEDS - 1 random subsets, torn writes among them. pw_report prints
 * the TAP comment line make test shows: states covered and the time they
 * took.
 */
#ifndef WR_HELPER_POWER_H
#define WR_HELPER_POWER_H

#include "wr_int.h"

#include <stdint.h>

#define PW_SEEDS 3 /* at most, per crash point */

typedef struct pw_learned {
    uint64_t total;     /* mutating ops of the undisturbed run */
    uint32_t *pending;  /* [n]: ops not durable at crash point n */
    double t0, c0;      /* wall and CPU (self + children) at the start */
} pw_learned;

/* Run fn(arg) (it returns a wr status) with the model recording and trace
 * (may be NULL) called for every op; fills l. Returns fn's status. */
int pw_learn(int (*fn)(void *), void *arg, wri_io_trace_fn trace,
             void *trace_arg, pw_learned *l);
int pw_nstates(const pw_learned *l, uint64_t n);
/* The k-th crash plan at point n (k < pw_nstates(l, n)). */
wri_fault_plan pw_plan(const pw_learned *l, uint64_t n, int k);
/* "# power-loss sweep of WHAT: T ops + the end, S states (DETAIL), in
 * X s (Y s CPU)" */
void pw_report(const pw_learned *l, const char *what, int states,
               const char *detail);
void pw_learned_free(pw_learned *l);

/* The directory lock's release (lock.c, at the end of a run): the unlink
 * of a LOCK, or its emptying once the holder's record was written. Best
 * effort by design: a failure there leaves a stale LOCK, which blocks
 * nobody, and the run stands, so a sweep that fails ops one by one
 * expects success there. Feed every traced op to pw_lock_note, then ask
 * pw_lock_release(op). */
typedef struct pw_lock_ops {
    uint8_t release[4096]; /* [op] */
    bool recorded;         /* a holder's record was written */
} pw_lock_ops;
void pw_lock_note(pw_lock_ops *lo, uint64_t op, const char *what,
                  const char *path);
bool pw_lock_release(const pw_lock_ops *lo, uint64_t op);

#endif
