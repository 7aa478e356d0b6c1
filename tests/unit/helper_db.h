/*
 * helper_db.h -- building the unit tests' databases.
 */
#ifndef WR_HELPER_DB_H
#define WR_HELPER_DB_H

#include "wr.h"

/* End a test database's build: a last checkpoint when rc is WR_OK, the
 * error on stdout as a TAP comment ("# what: message") when not, and db
 * closed (NULL is fine). Returns rc, or the checkpoint's error. */
int db_build_end(wr_db *db, int rc, const char *what, wr_errbuf *eb);

#endif /* WR_HELPER_DB_H */
