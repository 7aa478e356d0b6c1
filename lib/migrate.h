/*
 * migrate.h -- library-internal entry of the migration (wr_migrate in
 * wr.h is the public one): what wr_db_open runs when opened with
 * wr_db_opts.auto_migrate. Calls legacy, replace and wr_migrate.
 */
#ifndef WR_MIGRATE_H
#define WR_MIGRATE_H

#include "wr.h"

#define WRI_MIGRATE_JOURNAL "wr-migrate.journal"
#define WRI_MIGRATE_STAGING "wr-migrate.new"
#define WRI_MIGRATE_REJECTS_TMP "wr-migrate.rejects.tmp"
#define WRI_MIGRATE_REJECTS "rejects.jsonl"

/* If dir holds a legacy database, a mixed one, or an interrupted
 * migration, run wr_migrate on it with default options (page_size for
 * the new files, holder for the lock); otherwise (missing, empty, already
 * a database) do nothing. Errors are wr_migrate's. */
int wri_migrate_auto(const char *dir, uint32_t page_size, const char *holder,
                     wr_errbuf *eb);

#endif /* WR_MIGRATE_H */
