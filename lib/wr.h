/*
 * wr.h -- the one public header of libwr, the wrtools engine library.
 *
 * Tools include only this file. Every fallible call returns WR_OK (0) or a
 * negative wr_err code and fills a caller-provided wr_errbuf with a message
 * that names the file, the place and the reason. The library never prints
 * and never exits.
 */
#ifndef WR_H
#define WR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_VERSION_STRING "0.1.0"
#define WR_FORMAT_VERSION 1

/* Error codes. */
typedef enum wr_err {
    WR_OK = 0,
    WR_EINVAL = -1,    /* bad argument or usage */
    WR_ECORRUPT = -2,  /* bytes on disk break an invariant */
    WR_EVERSION = -3,  /* file written by a newer format version */
    WR_EIO = -4,       /* read/write/fsync failed */
    WR_ENOSPC = -5,    /* disk full */
    WR_ENOMEM = -6,    /* out of memory */
    WR_ELOCKED = -7,   /* another process holds the directory lock */
    WR_ENOTFOUND = -8, /* no such key, file or collection */
    WR_EEXIST = -9,    /* already exists */
    WR_EBADINPUT = -10, /* malformed input line (JSON / Extended JSON) */
    WR_EINTR = -11,    /* interrupted by a signal */
    WR_ENOTSUP = -12,  /* not supported (read-only handle, old checkpoint) */
    WR_ENOTOURS = -13, /* file is not a wrtools file */
} wr_err;

/* Error buffer: the lowest level that knows the facts writes it once. */
typedef struct wr_errbuf {
    int code;
    const char *src_file; /* library source position, for debugging */
    int src_line;
    char msg[1024];
} wr_errbuf;

/* Name of an error code ("WR_ECORRUPT") and a short description. */
const char *wr_strerror(int code);
const char *wr_errname(int code);
/* Reset an error buffer to "no error". */
void wr_errbuf_clear(wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Databases and collections (catalog.c)
 *
 * A database is a directory: a catalog file (wr.catalog) naming each
 * collection, its main-table file and its index files, and one file per
 * B-tree. Changes become durable at wr_db_checkpoint(), which commits every
 * changed tree file and then the catalog (the single commit point).
 * --------------------------------------------------------------------- */
#include <bson/bson.h>

typedef struct wr_db wr_db;
typedef struct wr_coll wr_coll;

typedef struct wr_db_opts {
    bool create;        /* create the directory and catalog if absent */
    bool readonly;      /* never write, take no lock */
    bool previous;      /* open the previous snapshot (implies readonly) */
    uint32_t page_size; /* page size of new tree files; 0 = 4096 */
    const char *holder; /* tool name written into the lock file */
} wr_db_opts;

#define WR_CATALOG_NAME "wr.catalog"
#define WR_LOCK_NAME "LOCK"

int wr_db_open(const char *dir, const wr_db_opts *opts, wr_db **out,
               wr_errbuf *eb);
/* Close; changes since the last checkpoint are dropped. */
void wr_db_close(wr_db *db);
/* Commit every changed tree file, then the catalog. */
int wr_db_checkpoint(wr_db *db, wr_errbuf *eb);
/* Catalog generation of the open snapshot. */
uint64_t wr_db_generation(const wr_db *db);
size_t wr_db_ncoll(const wr_db *db);
const char *wr_db_coll_name(const wr_db *db, size_t i);

/* Collection handles belong to the database; no need to close them. */
int wr_coll_open(wr_db *db, const char *name, bool create, wr_coll **out,
                 wr_errbuf *eb);
/* Create an index on a dotted field path (built from the documents
 * already there); a no-op if it exists. */
int wr_coll_add_index(wr_coll *c, const char *field, wr_errbuf *eb);
size_t wr_coll_nindex(const wr_coll *c);
const char *wr_coll_index_field(const wr_coll *c, size_t i);
uint64_t wr_coll_count(const wr_coll *c);
/* Insert or replace by _id, keeping every index in step. */
int wr_coll_put(wr_coll *c, const bson_t *doc, bool *replaced_out,
                wr_errbuf *eb);
/* Delete the document whose _id equals the _id of id_doc: WR_OK or
 * WR_ENOTFOUND. */
int wr_coll_delete(wr_coll *c, const bson_t *id_doc, wr_errbuf *eb);
/* Fetch by the _id of id_doc: a malloc'd copy of the document's BSON
 * (free() it), or WR_ENOTFOUND. */
int wr_coll_get(wr_coll *c, const bson_t *id_doc, uint8_t **doc_out,
                uint32_t *len_out, wr_errbuf *eb);

/* Documents in _id order. */
typedef struct wr_doc_cursor wr_doc_cursor;
int wr_doc_cursor_open(wr_coll *c, wr_doc_cursor **out, wr_errbuf *eb);
/* WR_OK with the next document (valid until the next call), or
 * WR_ENOTFOUND at the end. */
int wr_doc_cursor_next(wr_doc_cursor *cur, const uint8_t **doc,
                       uint32_t *len, wr_errbuf *eb);
void wr_doc_cursor_close(wr_doc_cursor *cur);

/* Entries of index i in key order: each key is a BSON document
 * { "": value, "": _id }. */
int wr_index_cursor_open(wr_coll *c, size_t i, wr_doc_cursor **out,
                         wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Loading JSONL into a collection (load.c): what wr-load does.
 * --------------------------------------------------------------------- */
typedef struct wr_load_stats {
    uint64_t lines;      /* non-blank lines read */
    uint64_t inserted;
    uint64_t replaced;
    uint64_t deleted;
    uint64_t missing;    /* deletes of an _id that was not there */
    uint64_t bad;        /* bad lines skipped (--skip-bad) */
    uint64_t checkpoints;
    uint64_t bytes_read, bytes_total;
    uint64_t generation; /* catalog generation at the end */
    uint64_t first_bad_line;
} wr_load_stats;

typedef struct wr_load_opts {
    const char *dir;
    const char *coll;
    const char *input; /* a file, or "-" for standard input */
    const char *const *index; /* fields to index */
    size_t nindex;
    uint64_t checkpoint_every; /* documents; 0 = only at the end */
    uint32_t page_size;        /* for new files; 0 = 4096 */
    bool skip_bad;
    /* called about every 64 KiB of input; may be NULL */
    void (*progress)(const wr_load_stats *st, void *arg);
    void *progress_arg;
    /* set by a signal handler: stop without committing the rest */
    volatile int *interrupted;
} wr_load_opts;

/* Apply JSONL lines to a collection (created if absent): upsert by _id, or
 * delete on {"_id": X, "$deleted": true}; checkpoint every N documents and
 * at the end. A bad line stops the run with WR_EBADINPUT (message names
 * file, line and byte offset) having committed nothing of the run: with
 * checkpoint_every, the input is first checked whole. With skip_bad, bad
 * lines are counted and skipped. */
int wr_load(const wr_load_opts *o, wr_load_stats *st, wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Verification (verify.c): what wr-verify does. Migrate and compact call
 * wr_verify_simple() on what they built before they replace anything.
 * --------------------------------------------------------------------- */
/* Run the full checks (or only header + checksums with quick) on a
 * database directory or a single tree file. WR_OK: clean. WR_ECORRUPT:
 * problems found, eb->msg names the first (file, page, offset, check,
 * expected vs found). Other codes: could not read. */
int wr_verify_simple(const char *path, bool quick, wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Dumping (dump.c): what wr-dump prints.
 *
 * Text (and the JSONL of WR_DUMP_DOCS) is written to the FILE * the caller
 * passes; with json set, the report is appended to the caller's document
 * instead (every mode but DOCS). The library opens nothing else for
 * output. Files are read raw and read-only, never through a handle that
 * refuses damage: on a damaged file the dump shows what decodes and
 * reports each place that does not as a finding ("!! ..." lines in text,
 * a "damage" array per file in JSON, and the finding callback), then
 * keeps going. Memory stays bounded: one page per tree level plus one
 * value; documents stream.
 * --------------------------------------------------------------------- */
#include <stdio.h>

typedef enum wr_dump_mode {
    WR_DUMP_SUMMARY = 0, /* header slots, role, height, page counts, bytes */
    WR_DUMP_PAGE,        /* one page decoded (page_addr; hex) */
    WR_DUMP_EXTENTS,     /* avail and discard lists, totals */
    WR_DUMP_TREE,        /* one line per page, depth-first */
    WR_DUMP_DOCS,        /* every document in key order, JSONL */
} wr_dump_mode;

typedef struct wr_dump_opts {
    wr_dump_mode mode;
    bool previous;          /* the previous checkpoint / snapshot */
    uint64_t page_addr;     /* WR_DUMP_PAGE: byte offset (0 or P: a slot) */
    bool hex;               /* WR_DUMP_PAGE: add the raw bytes */
    bool relaxed;           /* WR_DUMP_DOCS: relaxed, not canonical, EJSON */
    const char *collection; /* directory: only this collection; DOCS on a
                               directory of several collections needs it */
    FILE *out;              /* text or JSONL output */
    bson_t *json;           /* non-NULL: append the report here instead */
    /* called with each finding, "PATH: what" (may be NULL) */
    void (*finding)(const char *msg, void *arg);
    void *finding_arg;
    volatile int *interrupted; /* set by a signal handler: stop, EINTR */
} wr_dump_opts;

typedef struct wr_dump_stats {
    uint64_t files;   /* tree files dumped */
    uint64_t pages;   /* tree pages reached */
    uint64_t docs;    /* documents (or index entries) written */
    uint64_t damaged; /* findings */
} wr_dump_stats;

/* Dump a database directory or one tree file. WR_OK: all shown.
 * WR_ECORRUPT: shown, with findings (eb names the first). WR_EINVAL: the
 * request does not fit the path (--page on a directory, an offset past the
 * end, DOCS on several collections without one chosen, an unknown
 * collection). Other codes: cannot read (wins over findings). For a lone
 * index file, DOCS writes its entries as {"key": value, "_id": id}. */
int wr_dump(const char *path, const wr_dump_opts *opts, wr_dump_stats *st,
            wr_errbuf *eb);

#endif /* WR_H */
