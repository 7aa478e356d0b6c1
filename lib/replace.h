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
 * Calls io (and its paths), crc, err.
 */
#ifndef WR_REPLACE_H
#define WR_REPLACE_H

#include "wr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRI_MANIFEST_NAME "MANIFEST"
#define WRI_MANIFEST_NEXT "MANIFEST.next"
#define WRI_BACKUP_PREFIX "wr-backup-"

/* CRC-32 (zlib) and size of a file's bytes. */
int wri_file_crc(const char *path, uint64_t *size_out, uint32_t *crc_out,
                 wr_errbuf *eb);

/* --- backups ------------------------------------------------------------ */

typedef struct wri_backup_file {
    char *name; /* name inside the backup (and in DIR, for originals) */
    uint64_t size;
    uint32_t crc;
} wri_backup_file;

typedef struct wri_backup {
    char *path;   /* the backup directory */
    bool reused;  /* a complete earlier backup of the same bytes was kept */
    bool created; /* this run made the directory */
    wri_backup_file *files;
    size_t nfiles;
    uint64_t bytes;
} wri_backup;

/* One file to back up: copied from path to NAME in the backup. With
 * check, the copy must have this size and CRC (what the caller saw when
 * it read the original); a difference is WR_EIO ("changed"). With share,
 * a file no tool will write again (a legacy log): on the same file system
 * the "copy" is a reflink or a hard link to it, not a second set of
 * bytes; it is fsynced and checked the same way. */
typedef struct wri_backup_src {
    const char *path;
    const char *name;
    bool check;
    uint64_t size;
    uint32_t crc;
    bool share;
} wri_backup_src;

/* Make (or reuse) a backup of src[0..n) for DIR (steps 1 above).
 * backup_dir: where; NULL for a new DIR/wr-backup-<UTC time>. An existing
 * backup_dir is used if it is empty or holds an unfinished backup of these
 * files (no MANIFEST), and kept as is if its MANIFEST lists exactly these
 * files with the same sizes and CRCs (a source without check is read to
 * learn them; see also wri_backup_expect); otherwise WR_EEXIST. A new
 * directory is created and its parent fsynced. Without
 * backup_dir the newest DIR/wr-backup-* of either kind is used the same
 * way (so a rerun after a crash does not pile up backups). */
int wri_backup_make(const char *dir, const char *backup_dir,
                    const wri_backup_src *src, size_t n, wri_backup *out,
                    wr_errbuf *eb);
/* Before a caller replaces the sources of backup_dir (made by
 * wri_backup_make for DIR): record in BACKUP/MANIFEST.next, atomically,
 * the name, size and CRC each source will have afterwards. From then on
 * wri_backup_make accepts this backup for sources that hold either their
 * backed-up bytes or these, so a rerun after a crash anywhere in the
 * replace (or after it) goes on with its own backup instead of refusing
 * it; sources holding anything else still get WR_EEXIST. */
int wri_backup_expect(const char *dir, const char *backup_dir,
                      const wri_backup_file *files, size_t n, wr_errbuf *eb);
/* Remove a backup this run made (not a reused one: WR_OK, nothing done),
 * when the run failed before replacing anything: the copies, the manifest
 * and, if this run created it, the directory. wri_backup_make does this
 * itself when it fails. */
int wri_backup_discard(const wri_backup *b, wr_errbuf *eb);
/* Read and check a backup's MANIFEST (not the copies). */
int wri_backup_read(const char *backup_dir, wri_backup *out, wr_errbuf *eb);
/* Read every copy back and compare with the manifest. */
int wri_backup_check(const wri_backup *b, wr_errbuf *eb);
const wri_backup_file *wri_backup_find(const wri_backup *b, const char *name);
void wri_backup_free(wri_backup *b);

/* --- free space ------------------------------------------------------------ */

/* What a run will write: about `bytes` into `dir` (which need not exist
 * yet: its nearest existing parent is asked). */
typedef struct wri_space_need {
    const char *dir;
    uint64_t bytes;
} wri_space_need;

/* Refuse (WR_ENOSPC, "... needs about 1.2 GB in DIR, 0.4 GB free ...")
 * when the needs that fall on one file system add up to more than it has
 * free (io.h: wri_io_free_space). */
int wri_space_check(const wri_space_need *need, size_t n, wr_errbuf *eb);
/* "1.2 GB", "340 kB", "12 B" */
void wri_fmt_bytes(uint64_t bytes, char out[24]);

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
