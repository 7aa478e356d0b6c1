/*
 * helper_page.h -- read one page of a tree file as every reader does:
 * through the page source (pagesrc.h), strict: its address checked
 * against the file, then its bytes against the address (CRC, header size).
 */
#ifndef WR_HELPER_PAGE_H
#define WR_HELPER_PAGE_H

#include "wr_int.h"

/* The page at a (a->size bytes) into buf, from a page source opened
 * strict (a zero wri_ps_cfg): WR_OK, or WR_ECORRUPT naming the file, the
 * place and the reason. */
int page_read(wri_ps *ps, const wr_addr *a, uint8_t *buf, wr_errbuf *eb);

#endif /* WR_HELPER_PAGE_H */
