/*
 * backup.h -- step 1 of replace.h's protocol (DESIGN decision 9): the
 * originals copied into a backup directory, each copy fsynced, a MANIFEST
 * (CRC-32 and size of every copy) written atomically, every byte copy read
 * back and checked against it; a complete backup of the same bytes is
 * reused by a rerun. Also the free-space check a run makes before it
 * writes anything (the backup and the new files).
 *
 * Calls io (every write, and its paths), crc, err.
 */
#ifndef WR_BACKUP_H
#define WR_BACKUP_H

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
    bool shared; /* made by this run as a reflink or hard link (not in
                    the manifest) */
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

#endif /* WR_BACKUP_H */
