/*
 * replace.h -- replacing the files of a directory with no way to lose data
 * (DESIGN decision 9). wr-migrate uses it; wr-compact can.
 *
 * The protocol, for a directory DIR whose lock the caller holds:
 *
 *   1. Backup. The originals are copied into a backup directory (default
 *      a new DIR/wr-backup-YYYYmmddTHHMMSSZ), each copy fsynced, then a
 *      MANIFEST (CRC-32 and size of every copy) is written to
 *      MANIFEST.tmp, fsynced and renamed, and the backup directory
 *      fsynced. Then every copy is read back and checked against the
 *      manifest (and against the checksum the caller saw when it read the
 *      original, so what was backed up is what was converted).
 *   2. Staging. The new files are built in a staging directory inside DIR
 *      (same file system, so renames work), fsynced and verified there as
 *      a whole (a staged database can be verified like any other).
 *   3. Journal. DIR/<journal> records the plan: which staged files move
 *      into DIR, which file moves last (the commit point: wr.catalog), the
 *      CRC of that file, the backup directory, and the originals to remove
 *      with their size and CRC. Written to <journal>.tmp, fsynced, renamed,
 *      DIR fsynced. From here on a rerun rolls the plan forward.
 *   4. Moves. Each staged file is renamed into DIR; DIR and the staging
 *      directory fsynced (a rename between two directories is durable only
 *      once both are). Before the commit point these files are invisible:
 *      legacy tools do not read them and wrtools reads nothing without a
 *      catalog.
 *   5. Commit. The last file (the catalog) is renamed into DIR; DIR and
 *      the staging directory fsynced. Before this rename DIR is the old
 *      database, after it the new one: a rename is atomic.
 *   6. Cleanup, only once the commit is durable. The originals are
 *      removed (their copies are in the backup); DIR fsynced; the journal
 *      removed; DIR fsynced; the staging directory removed; DIR fsynced.
 *
 * Restart rules (wri_replace_recover, run by the next writer after taking
 * the lock): no journal: nothing to do here (leftover staging files are
 * debris of a run that never got to step 3). A journal and the commit
 * file in DIR with the journal's CRC: finish step 6, removing only the
 * originals that still match their checksum and whose copy the backup
 * manifest lists. A journal, no commit yet: if every original still
 * matches its checksum, roll forward (steps 4-6); an original that is
 * gone counts as matching when its copy in the backup checks against the
 * manifest and the journal (a power loss on a file system that does not
 * keep the order of operations can lose the commit and keep a removal);
 * a gone original whose copy does not check: refuse, touch nothing (the
 * staged files may be the only complete copy). If an original changed
 * since the backup (someone wrote to it) and none is gone, roll back:
 * remove what was moved in and the staging files, leaving the originals
 * as they are; changed and gone ones together: refuse. A commit file with
 * another CRC: refuse, touch nothing. A recovery never deletes the only
 * complete copy of the data.
 *
 * Every write, fsync, rename and unlink goes through io, so the fault
 * sweep reaches every step; the one exception is removing the (empty)
 * staging directory, which io has no call for: a crash just before it
 * leaves an empty directory that the next run removes.
 *
 * backup.c makes step 1 (backup.h), replace.c the rest and the restart.
 * Calls backup, io (and its paths), crc, err.
 */
#ifndef WR_REPLACE_H
#define WR_REPLACE_H

#include "wr.h"

#include "backup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- staging, journal, commit --------------------------------------------- */

/* Create DIR/staging, or empty it if it is there (debris of an earlier
 * run: regular files only, else WR_EEXIST). */
int wri_staging_prepare(const char *dir, const char *staging, wr_errbuf *eb);
/* Remove DIR/staging and the files in it (absent: fine). */
int wri_staging_remove(const char *dir, const char *staging, wr_errbuf *eb);

typedef struct wri_replace_plan {
    const char *tool;          /* written into the journal */
    const char *staging;       /* staging directory name inside DIR */
    const char *const *move;   /* staged names moved into DIR, in order */
    size_t nmove;
    const char *commit;        /* staged name moved last: the commit point */
    const wri_backup *backup;  /* where the originals' copies are */
    const char *const *remove; /* originals removed after the commit; each
                                  must be in the backup */
    size_t nremove;
} wri_replace_plan;

typedef struct wri_replace_result {
    int outcome;       /* wri_recover_outcome */
    size_t removed;    /* originals removed */
    size_t kept;       /* originals left in place (changed since backup) */
    bool journaled;    /* commit: the journal was written (from then on a
                          rerun finishes; never undo anything) */
    char note[512];    /* what recovery did, or why something was kept */
} wri_replace_result;

typedef enum wri_recover_outcome {
    WRI_RECOVER_NONE = 0,     /* no journal */
    WRI_RECOVER_FORWARD,      /* an interrupted replace rolled forward */
    WRI_RECOVER_FINISHED,     /* it had committed: cleanup finished */
    WRI_RECOVER_BACK,         /* the originals changed: rolled back */
} wri_recover_outcome;

/* Steps 3-6 for a staged set of files whose backup is made and checked.
 * The caller has checked just before that the originals still match
 * their backup. On an error before the commit rename, a rerun with
 * wri_replace_recover rolls forward. */
int wri_replace_commit(const char *dir, const char *journal,
                       const wri_replace_plan *plan, wri_replace_result *res,
                       wr_errbuf *eb);
/* The restart rules above. res->outcome tells what was done. */
int wri_replace_recover(const char *dir, const char *journal,
                        wri_replace_result *res, wr_errbuf *eb);
/* Is there a journal in DIR? */
bool wri_replace_pending(const char *dir, const char *journal);

#endif /* WR_REPLACE_H */
