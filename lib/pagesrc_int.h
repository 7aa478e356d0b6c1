/*
 * pagesrc_int.h -- what the two files of the page source share
 * (pagesrc.c: opening, slots, reads, findings, the map, values;
 * pagesrc_walk.c: the walks). Not for other modules: pagesrc.h is the API.
 */
#ifndef WR_PAGESRC_INT_H
#define WR_PAGESRC_INT_H

#include "wr_int.h"

/* Stop at the first environment error (< 0); go on past a finding. */
#define PS_TRY(expr)                                                           \
    do {                                                                       \
        int r_ = (expr);                                                       \
        if (r_ < 0) {                                                          \
            rc = r_;                                                           \
            goto out;                                                          \
        }                                                                      \
    } while (0)

const char *wri_ps_u64(char *buf, uint64_t v);
const char *wri_ps_hex32(char *buf, uint32_t v);
/* JSON of a key, cut to fit buf. */
const char *wri_ps_json(char *buf, size_t len, const uint8_t *k,
                        size_t klen);
bool wri_ps_stop(const wri_ps *ps);
/* A SPACE finding: [off, off+len) of `what` overlaps owner old. */
int wri_ps_overlap(wri_ps *ps, uint64_t off, uint64_t len, int old,
                   const char *what, wr_errbuf *eb);
/* Up to len bytes at off, through the run buffer (see pagesrc.h). */
int wri_ps_pread(wri_ps *ps, void *buf, size_t len, uint64_t off,
                 size_t *got, wr_errbuf *eb);

#endif /* WR_PAGESRC_INT_H */
