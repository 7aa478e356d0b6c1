/*
 * helper_page.c -- see helper_page.h.
 */
#include "helper_page.h"

int page_read(wri_ps *ps, const wr_addr *a, uint8_t *buf, wr_errbuf *eb)
{
    int rc;
    ps->gen = 0;
    if ((rc = wri_ps_addr_check(ps, a, 0, UINT64_MAX, a->off, a->off, "page",
                                eb)) != WR_OK)
        return rc;
    return wri_ps_read(ps, a, buf, "page", NULL, eb);
}
