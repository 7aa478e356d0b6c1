/*
 * helper_db.c -- see helper_db.h.
 */
#include "helper_db.h"

#include <stdio.h>

int db_build_end(wr_db *db, int rc, const char *what, wr_errbuf *eb)
{
    if (rc == WR_OK)
        rc = wr_db_checkpoint(db, eb);
    if (rc != WR_OK)
        printf("# %s: %s\n", what, eb->msg);
    wr_db_close(db);
    return rc;
}
