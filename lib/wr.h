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

/* The library's version. Its major number is the shared library's soname
 * (libwr.so.MAJOR) and rises with every change of this header that breaks
 * programs built against the last one. 1.0.0 (soname libwr.so.1) against
 * 0.1.0 (libwr.so.0), every public change:
 *  - wr_digest_hex takes the digest's kind first (and prints its length);
 *  - wr_migrate_opts has a new member, digest, before progress: the
 *    members after it moved;
 *  - wr_migrate_coll.digest is "" unless opts.digest asks for SHA-256
 *    (the zeroed default, WR_DIGEST_NONE, computes none; 0.1.0 always did);
 *  - WR_FORMAT_VERSION 2 -> 4: the bulk loader (wr_migrate, wr_compact at
 *    fill 100%) writes files of format 3 or 4, which 0.1.0 refuses.
 * wr_verify_opts.digest and wr_dump_stats.map_written were in 0.1.0. */
#define WR_VERSION_STRING "1.0.0"
/* The newest tree-file format this build reads (docs/FORMAT.md): 1, 2
 * (long leaves, written by the bulk loader), 3 (value tails in long
 * leaves' cells, the same bulk loader) and 4 (overflow values shorter
 * than a block packed whole into long leaves' cells, the same). */
#define WR_FORMAT_VERSION 4

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
    WR_ECHANGED = -14, /* a writer changed what was read without the lock */
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

/* s (n bytes) made valid UTF-8: each byte that starts no valid UTF-8
 * character (RFC 3629, the rule of every BSON check) becomes U+FFFD, the
 * replacement character. A NUL-terminated copy to free(), its length in
 * *len_out (may be NULL); NULL: out of memory. The one rule for putting
 * a path or name that is not UTF-8 (an old file system, a damaged file)
 * into JSON: every --json object and rejects line goes through it. */
char *wr_utf8_replace(const char *s, size_t n, size_t *len_out);

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
    uint64_t memory;    /* heap the trees' loaded pages and their write
                           buffers (up to 256 KiB for each tree being
                           written, within a quarter of it) may hold; 0 =
                           WR_DEFAULT_MEMORY. Past it, changed pages are
                           written early (not committed: a crash still
                           leaves the last checkpoint) and pages are
                           forgotten, to be read back on demand. */
    bool old_names;     /* new collections may take the names an older
                           version allowed (holding ".idx."): wr-salvage
                           keeps its source's names. A file the catalog
                           names is still never given to another tree. */
} wr_db_opts;

/* The default of every memory budget (--memory of wr-load, wr-migrate,
 * wr-diff). */
#define WR_DEFAULT_MEMORY (256u << 20)

#define WR_CATALOG_NAME "wr.catalog"
#define WR_LOCK_NAME "LOCK"

int wr_db_open(const char *dir, const wr_db_opts *opts, wr_db **out,
               wr_errbuf *eb);
/* Whether path is a lone tree file (a regular file named *.wr, or one a
 * header slot's magic says is ours): wr-diff compares databases, not
 * single files. */
bool wr_is_tree_file(const char *path);
/* Close; changes since the last checkpoint are dropped. */
void wr_db_close(wr_db *db);
/* Commit every changed tree file, then the catalog. On failure the
 * generation (wr_db_generation) stays the one before, unless the new
 * catalog took its name and only the fsync of its directory failed: then
 * it is in place, readers see it, and the generation is its own (the
 * checkpoint counts as made; its durability is the next checkpoint's).
 * After a failed catalog write the next checkpoint writes the catalog,
 * changes or not. */
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
/* Would wr_coll_put accept doc (its size, its _id's and every index key's
 * length)? WR_OK, or WR_EINVAL with put's message; changes nothing. */
int wr_coll_check_put(wr_coll *c, const bson_t *doc, wr_errbuf *eb);
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
 * WR_ENOTFOUND at the end. Each document read from the file is checked as
 * wr-verify checks one (valid BSON, its _id equal to its key): WR_ECORRUPT
 * naming the file, page and byte when it is not. */
int wr_doc_cursor_next(wr_doc_cursor *cur, const uint8_t **doc,
                       uint32_t *len, wr_errbuf *eb);
/* The key of the entry wr_doc_cursor_next last returned: { "": _id } for
 * documents (valid as long as the document). */
void wr_doc_cursor_key(const wr_doc_cursor *cur, const uint8_t **key,
                       uint32_t *klen);
void wr_doc_cursor_close(wr_doc_cursor *cur);

/* Entries of index i in key order: each key is a BSON document
 * { "": value, "": _id }. */
int wr_index_cursor_open(wr_coll *c, size_t i, wr_doc_cursor **out,
                         wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Reading beside writers (reader.c; DESIGN decision 12). Writers (wr_load,
 * wr_migrate, wr_compact, wr_db_open for writing) hold DIR/LOCK
 * exclusively; readers (wr-verify, wr-dump, wr-diff, wr-salvage's source)
 * bracket their reading with wr_read_begin/wr_read_end, which hold it
 * shared. Both are kernel locks (flock) that die with their process: a
 * LOCK file left behind blocks nobody, and a run leaves no LOCK it did not
 * find. PATH is a database directory, or a tree file (the LOCK of its
 * directory applies).
 * --------------------------------------------------------------------- */
typedef enum wr_read_mode {
    WR_READ_LOCK = 0, /* shared lock; a writer holds it: WR_ELOCKED */
    WR_READ_WAIT,     /* shared lock, waiting as long as a writer holds it */
    WR_READ_NOLOCK,   /* no lock: read the snapshot the catalog names, and
                         wr_read_end says WR_ECHANGED if it moved */
} wr_read_mode;

typedef struct wr_read_opts {
    wr_read_mode mode;
    const char *holder; /* the reader's name ("wr-verify") */
    /* WR_READ_WAIT: called about every second while a writer holds the
     * lock, with who ("DIR is locked by pid N (TOOL)") and seconds waited */
    void (*waiting)(const char *who, unsigned seconds, void *arg);
    void *arg;
    volatile int *interrupted; /* set by a signal handler: WR_EINTR */
} wr_read_opts;

typedef struct wr_read wr_read;
/* Take the shared lock (or, WR_READ_NOLOCK, remember the snapshot).
 * WR_ELOCKED: a writer holds it (eb names its pid and tool). A directory
 * where LOCK is absent and cannot be created, or cannot be opened
 * (read-only media, no permission), is read without the lock: WR_OK, and
 * wr_read_note() says so. A PATH that does not exist is left to the
 * reader to report (WR_OK, no lock). */
int wr_read_begin(const char *path, const wr_read_opts *opts, wr_read **out,
                  wr_errbuf *eb);
/* A sentence worth telling the user (reading without the lock, and why),
 * or NULL. */
const char *wr_read_note(const wr_read *rd);
/* Release and free rd (NULL is fine). WR_READ_NOLOCK: WR_ECHANGED, eb
 * saying what moved, if the catalog, a tree file's checkpoint slots or the
 * set of tree files changed since wr_read_begin, or a writer holds the
 * lock while a tree file the catalog does not name is there: whatever the
 * reader found is then not to be reported as damage. Else WR_OK. */
int wr_read_end(wr_read *rd, wr_errbuf *eb);
/* wr_read_end's check alone, rd kept: before a reader commits output
 * drawn from what it read (wr-dump --map). */
int wr_read_check(const wr_read *rd, wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Loading JSONL into a collection (load.c): what wr-load does.
 * --------------------------------------------------------------------- */
typedef struct wr_load_counts {
    uint64_t inserted;
    uint64_t replaced;
    uint64_t deleted;
    uint64_t missing;    /* deletes of an _id that was not there */
} wr_load_counts;

typedef struct wr_load_stats {
    uint64_t lines;      /* non-blank lines read */
    uint64_t inserted;   /* applied (not yet committed, until the end) */
    uint64_t replaced;
    uint64_t deleted;
    uint64_t missing;    /* deletes of an _id that was not there */
    wr_load_counts committed; /* as of the last committed checkpoint: what
                                 a failed run has left in the database */
    uint64_t bad;        /* bad lines skipped (--skip-bad) */
    uint64_t rejected;   /* of them, written to the rejects file */
    uint64_t checkpoints;
    uint64_t bytes_read, bytes_total; /* of the pass under way */
    bool checking;       /* progress: the --checkpoint-every check pass (it
                            reads the input once before the load) */
    uint64_t generation; /* catalog generation of the run's last committed
                            checkpoint (0: none committed) */
    uint64_t first_bad_line;
    bool input_broken; /* the run stopped at a broken structure (a truncated
                          BSON document, an array missing a comma), which
                          no skipping gets past */
} wr_load_stats;

/* What wr_load reads (docin.h). */
typedef enum wr_load_format {
    WR_LOAD_JSONL = 0,  /* one Extended JSON object per line */
    WR_LOAD_JSON_ARRAY, /* one JSON array of them (mongoexport --jsonArray) */
    WR_LOAD_BSON,       /* concatenated BSON documents (mongodump .bson) */
} wr_load_format;

typedef struct wr_load_opts {
    const char *dir;
    const char *coll;
    const char *input; /* a file, or "-" for standard input */
    int format;        /* wr_load_format */
    const char *const *index; /* fields to index */
    size_t nindex;
    uint64_t checkpoint_every; /* documents; 0 = only at the end */
    uint64_t memory;           /* wr_db_opts.memory; 0 = the default */
    uint32_t page_size;        /* for new files; 0 = 4096 */
    bool skip_bad;
    uint64_t max_bad;    /* skip at most this many bad lines (0: skip_bad
                            says); one more stops the run */
    const char *rejects; /* skipped lines go here, one JSON object each
                            (file, line, offset, reason, text); NULL: none */
    /* called about every 64 KiB of input; may be NULL */
    void (*progress)(const wr_load_stats *st, void *arg);
    void *progress_arg;
    /* set by a signal handler: stop without committing the rest */
    volatile int *interrupted;
} wr_load_opts;

/* Apply documents (JSONL lines, JSON array elements or BSON documents) to a
 * collection (created if absent): upsert by _id, or delete on {"_id": X,
 * "$deleted": true}; checkpoint every N documents and at the end. A bad
 * line stops the run with WR_EBADINPUT (message names file, line and byte
 * offset) having committed nothing of the run: with checkpoint_every, the
 * input is first checked whole. With skip_bad (or max_bad), bad lines are
 * counted, skipped and written to the rejects file; more than max_bad, an
 * input whose structure breaks, or an input with no good line at all stops
 * the run the same way. */
int wr_load(const wr_load_opts *o, wr_load_stats *st, wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Findings (pagesrc.c): one shape for every tool. A finding names the
 * file, the page (its byte offset; header slots: 0 or P), the file offset
 * of the byte it applies to, the check it breaks, and what was expected
 * and found. wr-verify's problems, wr-dump's "damage" entries and the
 * engine's WR_ECORRUPT messages are findings, so the same damage gets the
 * same coordinates from every tool.
 * --------------------------------------------------------------------- */
typedef enum wr_check {
    WR_CHECK_HEADER = 0, /* "header" */
    WR_CHECK_CHECKSUM,   /* "checksum" */
    WR_CHECK_PAGE,       /* "page-structure" */
    WR_CHECK_ORDERING,   /* "ordering" */
    WR_CHECK_SPACE,      /* "space" */
    WR_CHECK_DOCUMENT,   /* "document" */
    WR_CHECK_INDEX,      /* "index" */
    WR_CHECK_CATALOG,    /* "catalog" */
    WR_CHECK_ORPHAN,     /* "orphan" */
    WR_CHECK_NCHECKS
} wr_check;
/* Stable name of a check ("page-structure") and one sentence on it. */
const char *wr_verify_check_name(int check);
const char *wr_verify_check_help(int check);

typedef struct wr_finding {
    const char *path; /* file it is in */
    int check;        /* wr_check */
    uint64_t gen;     /* checkpoint generation it belongs to; 0: none */
    uint64_t page;    /* page address (file offset); slots: 0 or P */
    uint64_t offset;  /* file offset of the byte it applies to */
    char detail[320];
    char expected[160]; /* "" when not applicable */
    char found[160];
} wr_finding;
typedef wr_finding wr_verify_problem;
/* One greppable line, without newline:
 * "PATH: page P: byte B: CHECK: detail (expected X, found Y)". */
void wr_verify_problem_format(const wr_finding *p, char *buf, size_t len);

/* ---------------------------------------------------------------------
 * Verification (verify.c): what wr-verify does. Migrate and compact call
 * wr_verify() (full, with the item digest they compare with what they
 * fed) on what they built before they replace anything; salvage calls
 * wr_verify_simple() on its new database.
 * --------------------------------------------------------------------- */
/* wr_verify() without a report: the full checks (with quick, those of
 * wr_verify_opts.quick: headers, checksums, structure, space) on a
 * database directory or a single tree file, no digest. WR_OK: clean.
 * WR_ECORRUPT: problems found, eb->msg names the first (file, page,
 * offset, check, expected vs found). Other codes: could not read. */
int wr_verify_simple(const char *path, bool quick, wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Content digests (digest.c): SHA-256 of a collection's documents' BSON
 * bytes concatenated in ascending _id order. Independent of page layout
 * and history: equal digests mean equal content. Feed documents in _id
 * order (as the main table holds them).
 * --------------------------------------------------------------------- */
#define WR_DIGEST_LEN 32 /* the longest kind's */
/* Which digest (wr_verify_opts.digest). A digest is a report, not a
 * check: nothing in a plain verify compares it with anything, so none is
 * computed unless asked for. */
typedef enum wr_digest_kind {
    WR_DIGEST_NONE = 0,  /* no digest (the default) */
    WR_DIGEST_SHA256,    /* SHA-256 (FIPS 180-4), 32 bytes: what wr-verify
                            --digest and wr-migrate --digest report */
    WR_DIGEST_XXH128,    /* XXH3-128 (libxxhash), 16 bytes, 10-20x faster:
                            a fingerprint against bugs, not adversaries
                            (not cryptographic) of the content, like
                            SHA-256's (compact's and migrate's item
                            fingerprint is a sum of per-item XXH3-128
                            hashes instead: wr_verify_ckpt.item_digest) */
} wr_digest_kind;
/* Bytes of a kind's digest (0: WR_DIGEST_NONE or unknown). */
size_t wr_digest_len(wr_digest_kind kind);
typedef struct wr_digest wr_digest;
/* A digest of the kind given (WR_EINVAL: none or unknown). */
int wr_digest_new_kind(wr_digest_kind kind, wr_digest **out, wr_errbuf *eb);
/* A SHA-256 digest (wr_digest_new_kind(WR_DIGEST_SHA256, ...)). */
int wr_digest_new(wr_digest **out, wr_errbuf *eb);
void wr_digest_add(wr_digest *d, const uint8_t *doc, uint32_t len);
/* Write the digest (its kind's length, zeros after it up to
 * WR_DIGEST_LEN) and reset d to empty. */
void wr_digest_final(wr_digest *d, uint8_t out[WR_DIGEST_LEN]);
void wr_digest_free(wr_digest *d);
/* The digest dg of kind in hex: 2 x wr_digest_len(kind) digits, then
 * '\0' (an empty string for WR_DIGEST_NONE). */
void wr_digest_hex(wr_digest_kind kind, const uint8_t dg[WR_DIGEST_LEN],
                   char out[2 * WR_DIGEST_LEN + 1]);
/* SHA-256 digest of a collection as its handle sees it (the open
 * snapshot). */
int wr_coll_digest(wr_coll *c, uint8_t out[WR_DIGEST_LEN],
                   uint64_t *ndocs_out, wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Verification in detail (verify.c): the report wr-verify prints.
 * wr_verify() reads a database directory (catalog, every tree file, and
 * each index against its main table) or one tree file, read-only and
 * streaming (memory does not grow with the number of documents), and
 * collects every problem under a stable check name.
 * --------------------------------------------------------------------- */
/* One checkpoint of one tree file, as verified. */
typedef struct wr_verify_ckpt {
    uint64_t gen;
    int slot;          /* 0 or 1 */
    bool latest;       /* the newer of the file's valid slots */
    bool selected;     /* the one asked for (or the catalog names) */
    uint32_t height;   /* as the slot records */
    uint64_t records;  /* as the slot records */
    uint64_t keys;     /* leaf items found */
    uint64_t pages_leaf, pages_internal, pages_overflow, pages_extlist;
    uint64_t key_bytes, value_bytes;
    uint64_t logical_size, avail_bytes, discard_bytes, leaked_bytes;
    uint64_t problems;
    bool complete;     /* every page and list could be read and decoded */
    /* with opts.digest, main table, full check, every document read: the
     * content digest (wr_digest_*) of the documents in key order */
    bool has_digest;
    uint8_t digest[WR_DIGEST_LEN];
    /* with opts.item_digest, full check, every page and value read: a
     * 16-byte fingerprint of the leaf items (each key with its value, a
     * main table's document; an index entry has none): XXH3-128 of the
     * sum of one XXH3-128 hash per item and of the item count, so the
     * same whatever order the items were read in (the tree split between
     * threads); the order is the verify's keys check. What compact and
     * migrate compare with what they wrote */
    bool has_item_digest;
    uint8_t item_digest[WR_DIGEST_LEN];
    /* index file of a database, full check: compared with its table */
    bool index_checked;
    char index_note[160]; /* why not, when not */
    uint64_t index_entries, index_expected, index_missing, index_dangling;
} wr_verify_ckpt;

typedef struct wr_verify_file {
    char *path;
    int status;        /* WR_OK, WR_ECORRUPT (problems), else not read */
    char error[512];   /* the environment error, when status says so */
    uint32_t role;     /* 1 main table, 2 index, 0 unknown */
    char coll[201], field[201];
    uint32_t page_size;
    uint64_t file_size;
    bool slot_valid[2];
    uint64_t slot_gen[2];
    char slot_why[2][256]; /* why a slot was rejected */
    wr_verify_ckpt ckpt[2];
    size_t nckpt;
    uint64_t problems;
} wr_verify_file;

typedef struct wr_verify_report {
    char *path;        /* as given */
    bool database;
    char *catalog_path; /* database: DIR/wr.catalog */
    uint64_t catalog_gen;
    int status;        /* as wr_verify returned */
    char error[1024];  /* first environment error */
    wr_verify_file *files;
    size_t nfiles;
    wr_verify_problem *problems; /* the first max_problems, in order found */
    size_t nproblems;
    uint64_t total_problems;     /* all of them */
    uint64_t pages_checked, bytes_checked;
    char **orphans;    /* database: DIR/NAME of each *.wr file the catalog
                          does not name (each an "orphan" problem) */
    size_t norphans;
    char **debris;     /* ... but those that are proven debris of a run
                          that never committed them (empty, or a new file's
                          uncommitted generation 1 only): no problem, a
                          note; the next writer removes them */
    size_t ndebris;
} wr_verify_report;

typedef struct wr_verify_progress {
    const char *phase; /* "checking", or "index cross-check" */
    const char *path;  /* file being read */
    size_t file, nfiles; /* 1-based */
    uint64_t pages_done, pages_total; /* in this checkpoint of the file
                                         (blocks: a long leaf counts its
                                         own), every thread's as it goes */
} wr_verify_progress;

typedef struct wr_verify_opts {
    bool quick;           /* headers, checksums, structure, space only */
    bool previous;        /* the previous checkpoint / snapshot */
    bool all_checkpoints; /* every valid slot of every file */
    uint32_t max_problems; /* kept in the report; 0 = 1000; all counted */
    void (*progress)(const wr_verify_progress *p, void *arg);
    void *progress_arg;
    volatile int *interrupted; /* set by a signal handler: stop, EINTR */
    /* the content digest of each main table (has_digest, digest):
     * WR_DIGEST_NONE (0, the default) computes none and starts no thread
     * for it; WR_DIGEST_SHA256 is hashed on a thread of its own where
     * there are two cores; WR_DIGEST_XXH128 inline */
    wr_digest_kind digest;
    bool item_digest;     /* fill in has_item_digest, item_digest */
    unsigned threads;     /* a second thread (0: where there are two
                             cores; 1: never) walks the second half of
                             each tree, or with a digest checks the
                             documents; the same findings either way */
} wr_verify_opts;

/* Verify a database directory or a single tree file. *out gets a report
 * (free it with wr_verify_report_free) whenever it could be allocated,
 * also on failure. Returns WR_OK (clean), WR_ECORRUPT (problems found) or
 * an environment error (cannot open/read, newer format, interrupted),
 * which wins over WR_ECORRUPT; eb holds its message. Never writes. */
int wr_verify(const char *path, const wr_verify_opts *opts,
              wr_verify_report **out, wr_errbuf *eb);
void wr_verify_report_free(wr_verify_report *r);

/* ---------------------------------------------------------------------
 * Dumping (dump.c): what wr-dump prints.
 *
 * Text (and the JSONL of WR_DUMP_DOCS) is written to the FILE * the caller
 * passes; with json set, the report is appended to the caller's document
 * instead (every mode but DOCS). The library opens nothing else for
 * output but the map's out_path. Files are read raw and read-only, never through a handle that
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
    WR_DUMP_STATS,       /* the analyzer: per tree and level pages, items
                            and fill factor (min, median, max), value size
                            histogram, overflow waste, free space by list;
                            a database's totals per collection and index */
    WR_DUMP_MAP,         /* a block map: of a tree file an SVG picture,
                            of a database directory an HTML page (the
                            catalog's summary, one map per tree file,
                            wr_verify()'s findings linked to their
                            cells), to out_path (or out) */
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
    /* WR_DUMP_MAP: the file the picture goes to, instead of out: written
     * as OUT_PATH.tmp through the io layer, then renamed over OUT_PATH
     * (replacing an older picture) only if the dump completes (also with
     * findings); refused (WR_EINVAL) if OUT_PATH is not a regular file,
     * is the tree file drawn or lies in the database directory drawn */
    const char *out_path;
    /* with out_path: the reader's bracket (may be NULL), checked before
     * the picture replaces out_path: a WR_READ_NOLOCK snapshot that moved
     * meanwhile (WR_ECHANGED) writes nothing */
    const wr_read *read;
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
    bool map_written; /* out_path was replaced: read was checked just
                         before, and what was drawn is one snapshot */
} wr_dump_stats;

/* Dump a database directory or one tree file. WR_OK: all shown.
 * WR_ECORRUPT: shown, with findings (eb names the first). WR_EINVAL: the
 * request does not fit the path (--page on a directory, an offset past the
 * end, DOCS on several collections without one chosen, an unknown
 * collection). Other codes: cannot read (wins over findings). For a lone
 * index file, DOCS writes its entries as {"key": value, "_id": id}. */
int wr_dump(const char *path, const wr_dump_opts *opts, wr_dump_stats *st,
            wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Migrating a legacy append-log directory (migrate.c): what wr-migrate
 * does. docs/LEGACY.md describes the legacy format (DESIGN decision 8)
 * and the replace protocol (decision 9): lock, read every NAME.log (last
 * version per _id wins, $deleted removes) with a bounded-memory external
 * sort, back the legacy files up with a checksum manifest, build and
 * verify the new files in a staging directory, then rename them into
 * place with the catalog last, and remove the legacy files. A crash at
 * any point leaves the old database or the new one; a rerun finishes.
 * --------------------------------------------------------------------- */
typedef enum wr_migrate_state {
    WR_MIGRATE_MISSING = 0, /* no such directory */
    WR_MIGRATE_EMPTY,       /* no NAME.log and no catalog: nothing to do */
    WR_MIGRATE_LEGACY,      /* a legacy database: migrated (dry run: would
                               be) */
    WR_MIGRATE_DONE,        /* already a wrtools database: nothing to do */
    WR_MIGRATE_MIXED,       /* a catalog and legacy files, or legacy files
                               and stray tree files: refused */
    WR_MIGRATE_RESUMED,     /* an interrupted migration was finished */
} wr_migrate_state;

typedef struct wr_migrate_coll {
    char *name;
    char **indexes;      /* fields indexed */
    size_t nindex;
    uint64_t lines;      /* non-blank lines, bad ones included */
    uint64_t puts;       /* document lines */
    uint64_t deletes;    /* {"_id": X, "$deleted": true} lines */
    uint64_t inserted;   /* puts of an _id not live at the time */
    uint64_t updated;    /* puts replacing a live version */
    uint64_t deleted;    /* deletes of a live _id */
    uint64_t missing;    /* deletes of an _id not live at the time */
    uint64_t live;       /* documents in the new main table */
    uint64_t bad;        /* bad lines (rejected with skip_bad) */
    uint64_t torn;       /* torn last line dropped (0 or 1) */
    uint64_t bytes_in;   /* size of the log */
    uint64_t bytes_out;  /* size of the new main table and index files */
    /* with opts.digest: the content digest of the live documents (as
     * wr-verify --digest's), in hex; "" without it */
    char digest[2 * WR_DIGEST_LEN + 1];
} wr_migrate_coll;

typedef struct wr_migrate_stats {
    int state;              /* wr_migrate_state */
    bool dry_run;
    wr_migrate_coll *coll;  /* one per collection, by name */
    size_t ncoll;
    /* totals over the collections */
    uint64_t lines, puts, deletes, inserted, updated, deleted, missing;
    uint64_t live, bad, torn;
    uint64_t files;         /* legacy files (logs and .idx) */
    uint64_t bytes_before;  /* their size */
    uint64_t bytes_after;   /* tree files and catalog */
    uint64_t bytes_read, bytes_total; /* progress through the logs */
    uint64_t docs_done;     /* documents written or checked in this phase */
    const char *phase;      /* "reading", "backing up", "building",
                               "verifying", "checking", "committing" */
    char *backup_dir;       /* where the legacy files went (copies) */
    bool backup_reused;     /* a complete backup of the same bytes existed */
    char *rejects;          /* the rejects file in the backup, or NULL */
    uint64_t sort_runs;     /* runs spilled to disk */
    uint64_t sort_spilled;  /* bytes written to run files */
    uint64_t sort_peak;     /* most bytes the sorters held */
    char **notes;           /* things worth saying: torn lines, orphan .idx
                               files, recovery */
    size_t nnotes;
} wr_migrate_stats;

typedef struct wr_migrate_opts {
    const char *dir;
    const char *backup_dir;   /* NULL: a new DIR/wr-backup-<UTC time> */
    const char *const *index; /* more indexes to build, "NAME.FIELD" */
    size_t nindex;
    bool dry_run;             /* read, check and count; change nothing */
    bool skip_bad;            /* bad lines go to the rejects file */
    uint64_t memory;          /* sort budget in bytes; 0 = 256 MiB */
    uint32_t page_size;       /* of the new files; 0 = 4096 */
    const char *holder;       /* lock holder; NULL = "wr-migrate" */
    /* the content digest of each collection in the stats (a report: the
     * content check does not use it): WR_DIGEST_NONE (0, the default)
     * computes none; WR_DIGEST_SHA256 has the verify of the new files
     * (a dry run: the count) compute it; any other kind is WR_EINVAL */
    wr_digest_kind digest;
    /* called about every 256 KiB of log read; may be NULL */
    void (*progress)(const wr_migrate_stats *st, void *arg);
    void *progress_arg;
    volatile int *interrupted; /* set by a signal handler: stop cleanly */
} wr_migrate_opts;

#define WR_MIGRATE_DEFAULT_MEMORY WR_DEFAULT_MEMORY

/* Migrate o->dir in place (see above); st is filled as far as it got, also
 * on failure: free it with wr_migrate_stats_free. Returns WR_OK (migrated,
 * already migrated, or an interrupted migration finished: st->state
 * says), WR_ENOTFOUND (missing or empty directory), WR_EBADINPUT (a bad
 * line, eb names file, line, byte offset and reason; nothing was
 * touched), WR_EEXIST (mixed directory: refused, nothing touched),
 * WR_ELOCKED (eb names the holder), WR_ECORRUPT (what was built failed
 * verification or the content check: nothing replaced), WR_EINVAL (bad
 * options, e.g. an --index naming no collection), WR_EINTR, or an I/O
 * error (WR_EIO, WR_ENOSPC: the legacy files are untouched; if it came
 * after the commit, eb says so and a rerun finishes). */
int wr_migrate(const wr_migrate_opts *o, wr_migrate_stats *st, wr_errbuf *eb);
void wr_migrate_stats_free(wr_migrate_stats *st);

/* ---------------------------------------------------------------------
 * Comparing two databases (diff.c): what wr-diff does. A side is a
 * database directory, a legacy append-log directory or one JSONL file;
 * a log side stands for its live set under the migrate rules (last line
 * per _id wins, $deleted deletes, a torn last line is dropped), sorted
 * within a memory budget. Both sides stream in _id order (MongoDB key
 * order: 1, 1.0 and NumberLong(1) are the same _id), so memory stays
 * bounded. Collections pair by name, indexes by field; a log side's index
 * entries are derived from its documents (for the fields the other side
 * indexes and a legacy directory's NAME.FIELD.idx files name). Databases
 * are opened read-only.
 * --------------------------------------------------------------------- */
typedef enum wr_diff_what {
    WR_DIFF_DOC = 0,      /* a document (key: { "": _id }) */
    WR_DIFF_INDEX_ENTRY,  /* an index entry (key: { "": value, "": _id }) */
    WR_DIFF_INDEX,        /* a whole index (field) is in one side only */
    WR_DIFF_COLLECTION,   /* a whole collection is in one side only */
} wr_diff_what;

typedef enum wr_diff_kind {
    WR_DIFF_ONLY_A = 1,
    WR_DIFF_ONLY_B,
    WR_DIFF_CHANGED, /* documents: same _id, different bytes */
} wr_diff_kind;

typedef struct wr_diff_item {
    const char *coll;
    int what;            /* wr_diff_what */
    int kind;            /* wr_diff_kind */
    const char *field;   /* INDEX_ENTRY, INDEX: the indexed field */
    const uint8_t *key;  /* DOC, INDEX_ENTRY: the key document */
    uint32_t klen;
    const char *path;    /* CHANGED: dotted path of the first differing
                            field ("address.city", "tags.2") */
    const char *why;     /* CHANGED: "value", "type", "only in A",
                            "only in B", "field order" */
    uint64_t count;      /* COLLECTION: its documents */
} wr_diff_item;

typedef struct wr_diff_stats {
    uint64_t collections;  /* compared (in both sides) */
    uint64_t docs_a, docs_b; /* documents read */
    uint64_t same;         /* documents equal in both */
    uint64_t only_a, only_b, changed;
    uint64_t index_entries; /* index entries compared (both sides) */
    uint64_t idx_only_a, idx_only_b;
    uint64_t indexes_only;  /* indexes in one side only */
    uint64_t colls_only;    /* collections in one side only */
    uint64_t torn;          /* torn last lines dropped from log sides */
    uint64_t sort_peak;     /* most bytes the log sides' sorters held */
    uint64_t sort_spilled;  /* bytes they wrote to run files */
} wr_diff_stats;

typedef struct wr_diff_opts {
    const char *a, *b;
    const char *collection; /* only this one; a JSONL file side is this
                               collection (default: the other side's only
                               collection, else the file's name less its
                               extension) */
    uint64_t memory;        /* sort budget of log sides; 0 = 256 MiB */
    const char *tmpdir;     /* run files; NULL: $TMPDIR or /tmp */
    /* each difference, in collection then key order; nonzero stops */
    int (*on_item)(const wr_diff_item *it, void *arg);
    /* things worth saying ("FILE: line N ...: a torn last line, dropped") */
    void (*on_note)(const char *msg, void *arg);
    /* now and then: the collection and the records (lines, documents,
       entries) read so far in all; may be NULL */
    void (*progress)(const char *coll, uint64_t records, void *arg);
    void *arg;
    volatile int *interrupted; /* set by a signal handler: stop, EINTR */
} wr_diff_opts;

/* Compare o->a with o->b, reporting every difference to o->on_item.
 * WR_OK: compared (st says whether anything differs). WR_ECORRUPT: an
 * input is damaged (a page, a document; eb names file and place), or
 * WR_EBADINPUT: a log line that is bad and not a torn last line (eb names
 * file, line and byte); the differences reported up to there stand.
 * WR_EINVAL: a --collection in neither side, a JSONL side whose
 * collection cannot be chosen. WR_ENOTFOUND: a side is neither a
 * database, a legacy directory nor a file. Other codes: cannot read. */
int wr_diff(const wr_diff_opts *o, wr_diff_stats *st, wr_errbuf *eb);

/* Compare two documents (valid BSON): 0 when equal byte for byte, else 1
 * with the dotted path of the first field that differs in path and what
 * differs in *why (as wr_diff_item.why). Fields compare in order, by
 * name, type and value: 1 and 1.0 differ ("type"), as do {a, b} and
 * {b, a} ("field order"). */
int wr_diff_doc(const uint8_t *a, uint32_t alen, const uint8_t *b,
                uint32_t blen, char *path, size_t pathlen, const char **why);

/* One difference as a text line (without newline): "COLL: only in A: _id
 * 7", "COLL: different: _id 7: address.city (value)", "COLL: index
 * age: only in B: 31, _id 7", "COLL: only in A: the whole collection (N
 * documents)", "COLL: index age: only in A: the whole index"; or, json,
 * as one relaxed Extended JSON object {"collection", "what", "kind",
 * "_id", "key", "field", "path", "why", "count"} (the fields that apply).
 * Keys are written by our Extended JSON writer. malloc'd (free() it);
 * NULL when out of memory. */
char *wr_diff_item_format(const wr_diff_item *it, bool json);

/* ---------------------------------------------------------------------
 * Compaction (compact.c): what wr-compact does. A tree file is rewritten
 * into a new file holding only the live pages of one checkpoint (the one
 * the catalog names; the latest for a file outside a database), built
 * bottom-up at a fill factor, verified (structure, and every key and
 * value compared with the original), then renamed over the original. A
 * database directory's files are compacted together and its catalog keeps
 * naming the same generations, so a crash at any instant leaves each file
 * old or new, both complete and valid. Memory does not grow with the file.
 * --------------------------------------------------------------------- */
typedef struct wr_compact_file {
    const char *path;   /* the tree file */
    /* "compacted"; "dry-run" (would be: sizes are exact); "damaged" (a
     * check found damage in it or in its rebuilt copy: nothing of its
     * PATH was replaced); "failed" (could not read or write it, or
     * interrupted: so too when writing the copy failed with an error
     * code that names damage, WR_ECORRUPT; or refused, WR_ENOTSUP: its
     * name is a symbolic link, which the rename would replace);
     * "skipped" (not compacted because something else failed: another
     * file of the same PATH, the lock, the backup; error says what) */
    const char *status;
    int rc;             /* WR_OK or why not */
    const char *error;  /* message when rc != WR_OK or skipped, else "" */
    uint64_t generation; /* checkpoint copied (the new file's only one) */
    uint64_t records;   /* keys copied */
    /* bytes the records take inside pages of the new size: each leaf
     * cell with its slot, and overflow page headers with their values
     * (the live data; the rest of a compacted file is page headers,
     * internal pages, header blocks and what no whole record fits in) */
    uint64_t live_bytes;
    uint32_t page_size_before, page_size_after;
    uint64_t size_before; /* bytes on disk before */
    uint64_t size_after;  /* bytes after (dry run: what they would be) */
    const char *backup;   /* directory holding its copy, or NULL */
} wr_compact_file;

typedef struct wr_compact_progress {
    const char *path;
    const char *phase; /* "counting", "backing up", "copying", "comparing" */
    uint64_t done, total; /* records (backing up: files) */
} wr_compact_progress;

/* The files wr_compact() calls compacted (a dry run: measured), by device
 * and inode, each as it was once its PATH was done (a compacted one is a
 * new file): give the same set to every call of a run
 * (wr_compact_opts.seen), and a file a later PATH names again, by
 * whatever path, is left out of it, so that each file is compacted,
 * reported and counted once (one that failed or was skipped is not left
 * out: its database is never compacted without it). Start it zeroed;
 * wr_compact_seen_free() releases what it holds. */
typedef struct wr_compact_seen {
    struct stat *files; /* internal */
    size_t n;
} wr_compact_seen;

void wr_compact_seen_free(wr_compact_seen *s);

typedef struct wr_compact_opts {
    bool dry_run;           /* report sizes only: no lock, no writes */
    const char *backup_dir; /* copy originals into BACKUP_DIR/NAME/ (NAME:
                               the PATH's last component) with a MANIFEST
                               of CRC-32s, and check them; NULL: no copy */
    uint32_t page_size;     /* page size of the new files; 0 = keep */
    unsigned fill_pct;      /* 10..100: how full to make pages; 0 = 100 */
    const char *holder;     /* lock holder name; NULL = "wr-compact" */
    /* each file's outcome, in catalog order, once the PATH is done; none
     * when the run stopped before it touched any (the lock not taken, a
     * plan that failed, too little free space: the error says why), nor
     * for a file an earlier call compacted (seen) */
    void (*on_file)(const wr_compact_file *f, void *arg);
    void (*progress)(const wr_compact_progress *p, void *arg);
    void *arg;
    volatile int *interrupted; /* set by a signal handler: stop, remove
                                  the new files, replace nothing */
    wr_compact_seen *seen; /* the files earlier calls compacted, and this
                              one adds to; NULL: each call on its own */
} wr_compact_opts;

/* Totals, added to by each wr_compact() call. */
typedef struct wr_compact_stats {
    uint64_t files;      /* files reported */
    uint64_t compacted;  /* replaced (dry run: that would be) */
    uint64_t size_before, size_after; /* over all files reported */
    uint64_t live_bytes; /* live data of the compacted files */
} wr_compact_stats;

/* Compact PATH: a database directory (every file its catalog names) or a
 * single tree file. Returns WR_OK; WR_ECORRUPT (a file failed the quick
 * verify, or its rebuilt copy failed verification or the comparison:
 * nothing of PATH was replaced; eb names file and problem); WR_ELOCKED (eb
 * names the holder); WR_ENOTSUP (a tree file's name is a symbolic link:
 * nothing of PATH was replaced); WR_EINVAL (bad options, or keys too long for the
 * page size asked for); WR_EINTR; WR_ENOTFOUND (no such file, not a
 * database); or an I/O error (WR_EIO, WR_ENOSPC: the originals are in
 * place; an error after the catalog commit may leave some files
 * compacted and others not, every mix being a valid database, and a rerun
 * finishes). */
int wr_compact(const char *path, const wr_compact_opts *o,
               wr_compact_stats *st, wr_errbuf *eb);

/* ---------------------------------------------------------------------
 * Salvage (salvage.c, salvage_tree.c): what wr-salvage does (DESIGN
 * decision 14). SOURCE (a database directory or one main-table file) is
 * read only; its documents are written into a new database DEST, built
 * under a temporary name (.NAME.wr-salvage.tmp beside DEST), verified
 * with every wr-verify check and renamed into place last. Per tree file:
 * the chosen checkpoint's tree is walked (every page checked against the
 * address that reaches it); where a page is damaged, the key range it
 * covered is a hole, and every page of the file is scanned by offset for
 * intact leaves of that range. A leaf found so belongs to the checkpoint
 * (and its documents to the collection) only when the checkpoint's
 * extent lists account its block as live and no other live leaf
 * overlaps it; otherwise its documents go to DEST/lost+found/NAME.jsonl
 * with the generation they came from, newest generation first (a newer
 * leaf's key range decides deletions in it). Indexes are rebuilt from the
 * recovered documents, never copied; a damaged or missing catalog is
 * rebuilt from the tree files' headers.
 * --------------------------------------------------------------------- */
typedef struct wr_salvage_loss {
    uint64_t page;     /* damaged page: [page, page + length) of the file */
    uint64_t length;
    char what[24];     /* "leaf", "internal", "overflow", "document",
                          "tree", "newer checkpoint" */
    char why[400];
    char *after;       /* last key recovered before the hole (JSON), or
                          NULL: none */
    char *before;      /* first key recovered after it, or NULL */
    char *key;         /* the one key lost (a document or an overflow
                          value, JSON), or NULL: a key range */
    uint64_t rescued;  /* documents of the range placed from scanned pages */
    uint64_t to_lost_found; /* documents of the range put in lost+found */
} wr_salvage_loss;

typedef struct wr_salvage_gen {
    uint64_t gen, docs;
} wr_salvage_gen;

typedef struct wr_salvage_coll {
    char *name;
    char *file;          /* main-table file (path) */
    uint32_t page_size;
    uint64_t checkpoint; /* generation whose tree was walked; 0: none */
    uint64_t expected;   /* records that checkpoint's header slot counts */
    bool expected_known;
    uint64_t recovered;  /* documents placed in the collection */
    uint64_t from_scan;  /* of them, from pages found by the scan */
    wr_salvage_gen *gens; /* recovered documents by page generation */
    size_t ngens;
    uint64_t lost_found; /* documents (or undecodable values) in lost+found */
    uint64_t bad_docs;   /* values that failed the document check */
    uint64_t pages_read; /* pages found by the scan (intact or not) */
    uint64_t pages_damaged; /* failing their CRC or structure, or refused
                               by the walk (zeroed, stale, misdirected) */
    wr_salvage_loss *losses;
    size_t nlosses;
    char **indexes;      /* fields indexed (rebuilt) */
    size_t nindexes;
    bool complete;       /* everything of the checkpoint was recovered */
    bool unconfirmed;    /* not complete only because no header slot
                            holds the record count: nothing known lost */
    bool renamed;        /* name or an index field is not UTF-8 in the
                            source (an older wr-load let it through): in
                            DEST each byte starting no UTF-8 character is
                            written %XX (name, indexes are DEST's) */
    char note[512];      /* why not, when not */
} wr_salvage_coll;

typedef struct wr_salvage_report {
    char *source, *dest;
    bool dry_run, previous;
    char catalog[32];    /* "intact", "rebuilt", "none" (a single file) */
    char catalog_note[512];
    wr_salvage_coll *colls;
    size_t ncolls;
    uint64_t bytes_scanned; /* bytes of SOURCE tree files read */
    bool verified;       /* DEST was built and passed verification */
    bool written;        /* DEST was renamed into place */
} wr_salvage_report;

typedef struct wr_salvage_progress {
    const char *phase; /* "scanning", "walking", "writing", "verifying" */
    const char *path;
    uint64_t done, total; /* bytes (scanning) or documents */
} wr_salvage_progress;

typedef struct wr_salvage_opts {
    bool dry_run;       /* read and report; write nothing */
    bool previous;      /* the previous checkpoint / snapshot */
    const char *const *collections; /* only these (NULL: all) */
    size_t ncollections;
    void (*progress)(const wr_salvage_progress *p, void *arg);
    void *progress_arg;
    volatile int *interrupted; /* set by a signal handler: stop, remove the
                                  temporary DEST, EINTR */
} wr_salvage_opts;

/* Salvage SOURCE into a new database DEST (see above). *out gets a
 * report whenever it could be allocated (free with
 * wr_salvage_report_free). Returns WR_OK (everything the chosen
 * checkpoint holds was recovered), WR_ECORRUPT (something was lost: the
 * report says what), WR_EINVAL (bad request: DEST exists and is not
 * empty, an unknown --collection, SOURCE is an index file), WR_ENOTFOUND
 * (no SOURCE, or no wrtools files in it), WR_EINTR, or an I/O error
 * (WR_EIO, WR_ENOSPC: no DEST is left behind). */
int wr_salvage(const char *source, const char *dest,
               const wr_salvage_opts *opts, wr_salvage_report **out,
               wr_errbuf *eb);
void wr_salvage_report_free(wr_salvage_report *r);

#endif /* WR_H */
