/*
 * catalog.h -- the database directory's catalog file, the commit point of
 * a database checkpoint (DESIGN decision 6).
 *
 * wr.catalog holds a 32-byte header and a BSON document:
 *   00-03 u32 crc32 over [4, 32 + length)
 *   04-11     magic "WRCATLG\n"
 *   12-15 u32 format version
 *   16-19 u32 length of the BSON document
 *   20-27 u64 catalog generation
 *   28-31     zero
 *   32-..     { "collections": [ { "name", "file", "gen", "prev_gen",
 *                 "indexes": [ { "field", "file", "gen", "prev_gen" } ] } ] }
 * "gen" is the generation of the tree file that belongs to this snapshot;
 * "prev_gen" the one of the previous snapshot (0: the file is new). Both
 * are always one of the file's two header slots (DESIGN decision 7).
 * A new catalog is written to wr.catalog.tmp, fsynced, renamed over
 * wr.catalog, and the directory fsynced.
 *
 * Calls io, crc, bsoncheck and libbson.
 */
#ifndef WR_CATALOG_H
#define WR_CATALOG_H

#include "wr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRI_CAT_MAGIC "WRCATLG\n"
#define WRI_CAT_HDR 32u
#define WRI_CAT_VERSION 1u /* the catalog's own layout version */
#define WRI_CAT_MAX (16u << 20)

typedef struct wri_cat_file {
    char *file;  /* file name inside the database directory */
    char *field; /* index: dotted field path; NULL for a main table */
    uint64_t gen;
    uint64_t prev_gen;
} wri_cat_file;

typedef struct wri_cat_coll {
    char *name;
    wri_cat_file main;
    wri_cat_file *idx;
    size_t nidx;
} wri_cat_coll;

typedef struct wri_catalog {
    uint64_t gen;
    wri_cat_coll *coll;
    size_t ncoll;
} wri_catalog;

/* Decode a catalog file image (safe on arbitrary bytes). */
int wri_catalog_decode(const uint8_t *buf, size_t len, wri_catalog *cat,
                       char *why, size_t whylen);
/* Read DIR/wr.catalog: WR_ENOTFOUND if absent, WR_ECORRUPT if damaged
 * (a bad magic too, zero-filled say, when DIR holds *.wr files), and
 * WR_ENOTOURS for a file of another kind in a directory with no tree
 * file. */
int wri_catalog_read(const char *dir, wri_catalog *cat, wr_errbuf *eb);
/* The file image wri_catalog_write writes (malloc'd). */
int wri_catalog_encode(const wri_catalog *cat, uint8_t **buf_out,
                       size_t *len_out, wr_errbuf *eb);
/* Write atomically (tmp, fsync, rename, fsync dir): the commit point of a
 * database; refused as wri_catalog_refuse_link says. *renamed (NULL: not
 * asked): the new catalog took its name, also when the call then fails
 * (the directory's fsync): it is the one in place, its generation the
 * database's (wri_io_write_atomic). */
int wri_catalog_write(const char *dir, const wri_catalog *cat, bool *renamed,
                      wr_errbuf *eb);
/* A writer refuses a database whose DIR/wr.catalog is a symbolic link
 * (WR_ENOTSUP, naming the link and its target, io.h wri_io_refuse_link):
 * the commit's rename would replace the link with a regular file and
 * leave the file it points to stale while the database moves on. Every
 * writer that may commit over an existing catalog calls this as it
 * opens, before it changes anything (wr_db_open for writing, wr_compact,
 * dry runs too); wri_catalog_write calls it again, so no commit ever
 * replaces the link. Readers read through the link. */
int wri_catalog_refuse_link(const char *dir, wr_errbuf *eb);
void wri_catalog_free(wri_catalog *cat);
/* The catalog as a BSON document (for dump). */
int wri_catalog_to_bson(const wri_catalog *cat, bson_t *out);

/* Names: a collection name is 1-200 bytes of valid UTF-8 without '/',
 * NUL or control characters, does not start with '.', and neither holds
 * WRI_IDX_SEP (".idx.") nor ends in ".idx" (block.h wri_tree_file_name);
 * a field path is 1-200 bytes of valid UTF-8, non-empty dot-separated
 * parts not starting with '$'. wri_check_coll_name_old: the rule before
 * ".idx." was reserved (the names older databases may hold; UTF-8 was
 * always needed to read them back, so it is required there too). */
int wri_check_coll_name(const char *name, wr_errbuf *eb);
int wri_check_coll_name_old(const char *name, wr_errbuf *eb);
/* A new tree (field NULL: the main table of coll) may take file in dir:
 * WR_OK if the catalog names no such file, else WR_EINVAL naming both
 * owners. Names older databases hold (a collection "c.idx.x" before
 * wri_check_coll_name refused it) can collide with a new index's file;
 * this keeps such a file from ever being replaced. */
int wri_catalog_file_free(const wri_catalog *cat, const char *dir,
                          const char *coll, const char *field,
                          const char *file, wr_errbuf *eb);
int wri_check_field_path(const char *field, wr_errbuf *eb);
/* name, every byte that starts no valid UTF-8 character written as %XX
 * (a copy to free; NULL: out of memory): how salvage names a collection
 * or field an older wr-load let through, and how messages show one. */
char *wri_name_utf8(const char *name);
/* The tree files of a directory: the names ending in ".wr" (not starting
 * with '.'), sorted, in *names_out (free with wri_names_free). A directory
 * that cannot be read has none. WR_OK or WR_ENOMEM. */
int wri_dir_tree_files(const char *dir, char ***names_out, size_t *n_out,
                       wr_errbuf *eb);
void wri_names_free(char **names, size_t n);
/* Whether DIR/fname is a tree file no catalog can ever have named: empty
 * (created, nothing written), or each of its slots either never written
 * or a valid empty tree of generation 1 whose header names the tree this
 * is the file of (block.h wri_tree_file_name) -- what wri_block_create
 * leaves. A catalog names a file only after its first checkpoint
 * (generation 2 or more), so this is the debris of a run that stopped
 * before it committed, whatever pages it wrote early: removing it loses
 * no document any snapshot held. Anything else (a torn slot, records, a
 * later generation, a foreign header) is not proven debris. */
bool wri_tree_file_debris(const char *dir, const char *fname);
/* Every tree file of dir (wri_dir_tree_files) that cat (NULL: none) does
 * not name, in name order: fn gets its name and whether
 * wri_tree_file_debris proves it debris. The first fn that does not
 * return WR_OK stops the walk with its code. WR_OK, WR_ENOMEM or fn's. */
typedef int (*wri_unnamed_fn)(void *arg, const char *dir, const char *name,
                              bool debris, wr_errbuf *eb);
int wri_dir_unnamed_files(const char *dir, const wri_catalog *cat,
                          wri_unnamed_fn fn, void *arg, wr_errbuf *eb);
/* A writer under the directory's lock: remove every *.wr file cat (NULL:
 * none) does not name that wri_tree_file_debris proves is debris. */
int wri_dir_remove_debris(const char *dir, const wri_catalog *cat,
                          wr_errbuf *eb);
/* What a directory without wr.catalog is (wri_catalog_read said
 * WR_ENOTFOUND): beside a tree file that is not proven debris, a
 * database whose catalog is lost, WR_ECORRUPT (damage, exit 1, as a
 * zero-filled catalog is: check each file, wr-salvage), the message
 * naming it; else WR_ENOTFOUND "DIR: not a wrtools database". One rule
 * for every tool. */
int wri_catalog_missing(const char *dir, wr_errbuf *eb);
/* The catalog's entry for this file (a main table or an index), or NULL
 * if the catalog does not name it. */
const wri_cat_file *wri_catalog_file(const wri_catalog *cat,
                                     const char *file);

#endif /* WR_CATALOG_H */
