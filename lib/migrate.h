/*
 * migrate.h -- the migration's file names (wr_migrate in wr.h is its
 * entry). wr_db_open never migrates: db sits below migrate, and only
 * migrate calls db (issue 11: no cycle).
 */
#ifndef WR_MIGRATE_H
#define WR_MIGRATE_H

#include "wr.h"

#define WRI_MIGRATE_JOURNAL "wr-migrate.journal"
#define WRI_MIGRATE_STAGING "wr-migrate.new"
#define WRI_MIGRATE_REJECTS_TMP "wr-migrate.rejects.tmp"
#define WRI_MIGRATE_REJECTS "rejects.jsonl"

#endif /* WR_MIGRATE_H */
