/*
 * legacy.h -- what a directory holds, seen by wr-migrate: the legacy
 * append-log database of DESIGN decision 8, a wrtools database, both, or
 * neither. docs/LEGACY.md describes the format.
 *
 * Legacy files are the regular files at the top of the directory (or
 * symbolic links to regular files: read through, see links below) named
 *   NAME.log         a collection: JSONL, one Extended JSON object a line
 *   NAME.FIELD.idx   an old offset-based index of NAME on FIELD: its
 *                    content is never read, its name says which index to
 *                    rebuild
 * NAME and FIELD may both contain dots; an .idx name is split at the
 * longest NAME that has a .log. An .idx whose name matches no log is an
 * orphan: it is still a legacy file (backed up and removed by a migration)
 * but no index comes of it. Names starting with '.' are not looked at.
 * The lines of the logs are read elsewhere (jsonl.h); this module lists
 * and classifies, and holds the rules that turn a log's lines into its
 * live set (for wr-migrate and wr-diff alike). Calls err, catalog (name
 * checks), jsonl (a log's first line), sort.
 */
#ifndef WR_LEGACY_H
#define WR_LEGACY_H

#include "wr.h"

#include "jsonl.h"
#include "sort.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRI_LEGACY_LOG_EXT ".log"
#define WRI_LEGACY_IDX_EXT ".idx"

typedef struct wri_legacy_coll {
    char *name;     /* collection name: NAME of NAME.log */
    char *log;      /* "NAME.log" */
    uint64_t size;  /* bytes of the log when scanned */
    char **fields;  /* indexes to build, sorted, no duplicates */
    size_t nfields;
} wri_legacy_coll;

typedef enum wri_dir_kind {
    WRI_DIR_EMPTY = 0, /* no legacy file, no catalog */
    WRI_DIR_LEGACY,    /* legacy files, no catalog */
    WRI_DIR_DATABASE,  /* a catalog, no legacy file */
    WRI_DIR_MIXED,     /* a catalog and legacy files */
} wri_dir_kind;

typedef struct wri_legacy_dir {
    wri_dir_kind kind;
    bool has_catalog;       /* wr.catalog is present (not checked here) */
    wri_legacy_coll *coll;  /* sorted by name */
    size_t ncoll;
    char **files;           /* every legacy file (logs, .idx, orphans), sorted */
    uint64_t *sizes;        /* their sizes */
    size_t nfiles;
    char **orphans;         /* .idx files that name no collection */
    size_t norphans;
    char **trees;           /* *.wr files at the top of the directory */
    size_t ntrees;
    char **links;           /* legacy files that are symbolic links to a
                             * regular file (read through; a migration
                             * backs up their bytes and removes the link) */
    size_t nlinks;
    char **odd;             /* legacy names that are not a regular file,
                             * even through a link: "NAME (why)" */
    size_t nodd;
    char **ignored;         /* regular files that look like a log but are
                             * not NAME.log ("a.log.1", "A.LOG") */
    size_t nignored;
    uint64_t bytes;         /* total size of the legacy files */
} wri_legacy_dir;

/* List and classify the directory. WR_ENOTFOUND if it does not exist (or
 * is not a directory: WR_EINVAL); WR_EBADINPUT (message names the file)
 * when a legacy file name cannot be a collection name or field path. */
int wri_legacy_scan(const char *dir, wri_legacy_dir *out, wr_errbuf *eb);
/* Add an index to rebuild, "NAME.FIELD" as on the command line (split at
 * the longest collection name, like .idx names). WR_EINVAL if no
 * collection matches or the field path is not valid. */
int wri_legacy_add_index(wri_legacy_dir *ld, const char *spec, wr_errbuf *eb);
/* Is DIR/LOG a legacy log by its content, not only its name: does its
 * first non-blank line read as wr-migrate's reader reads it
 * (wri_jsonl_next: one Extended JSON object with an _id, a byte-order
 * mark before it allowed)? A server's text log, an empty file or one that
 * cannot be read is not one. */
bool wri_legacy_log_readable(const char *dir, const char *log);
/* Does the directory hold this file name as a legacy file? */
bool wri_legacy_is_file(const wri_legacy_dir *ld, const char *name);
/* Is that legacy file a symbolic link (to a regular file)? */
bool wri_legacy_is_link(const wri_legacy_dir *ld, const char *name);
/* WR_EBADINPUT naming every legacy name that is not a regular file (a
 * dangling link, a directory, a pipe...: ld->odd), WR_OK if none. A
 * reader of the logs calls it: such a name may be a collection whose
 * data cannot be read (a log on a volume not mounted), never to be
 * skipped without a word. */
int wri_legacy_refuse_odd(const char *dir, const wri_legacy_dir *ld,
                          wr_errbuf *eb);
void wri_legacy_free(wri_legacy_dir *ld);

/* The live set of a log (DESIGN decision 8), in one place: every line goes
 * into one LAST_WINS sorter (sort.h) as key = its _id key (key, from
 * wri_key_from_doc), seq = its line number, aux = its byte offset, value =
 * the document, a {"_id": X, "$deleted": true} line as a tombstone; the
 * sorter keeps the last version of each _id and drops deleted ones. */
int wri_legacy_line_add(wri_sort *s, const wri_jsonl_line *line,
                        const bson_t *key, wr_errbuf *eb);
/* A line that does not parse and is the last of its log without a
 * newline is the debris of a crash during an append: reported and
 * dropped, never an error. */
bool wri_legacy_line_torn(const wri_jsonl_line *line, bool unparsed);

#endif /* WR_LEGACY_H */
