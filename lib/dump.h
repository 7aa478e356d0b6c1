/*
 * dump.h -- what the three files of wr-dump share (dump.c: one file's
 * summary, tree, extent and document modes; dump_page.c: one page
 * decoded, --page; dump_db.c: wr_dump(), files and databases). Not a
 * public header: wr.h has wr_dump().
 *
 * Findings: every damaged place is a wr_finding (wr.h) with file, page,
 * byte and check: one line "!! page P: byte B: CHECK: detail" in the text
 * output, an object of the file's "damage" array in JSON, and a call of
 * o->finding with the whole line (so a tool can put it on stderr). The
 * findings of reading come from the page source (pagesrc.h) exactly as
 * wr-verify gets them.
 *
 * Calls pagesrc (every read), page, blockfmt, bsonkey, bsoncheck, ejson,
 * catalog.
 */
#ifndef WR_DUMP_H
#define WR_DUMP_H

#include "wr_int.h"

#include <stdio.h>

#define DUMP_JSON_MARKS 1000 /* findings kept per file in JSON */

typedef struct dctx {
    const wr_dump_opts *o;
    wr_dump_stats *st;
    FILE *out;          /* text output; NULL in JSON mode */
    bool marks_inline;  /* "!!" lines go into the text output */
    const char *cur;    /* file being dumped, prefix of findings */
    wr_finding *marks;  /* JSON: the current file's findings */
    size_t nmarks;
    uint64_t file_damage; /* findings in the current file */
    char first[768];    /* the first finding, for the error buffer */
    wri_docsout *docs;  /* --docs: the lines' writer (docsout.h) */
    struct stats_file *stats; /* --stats: each file's totals */
    size_t nstats;
    /* --map: each finding's page is drawn damaged */
    void (*map_damage)(void *arg, const wr_finding *f);
    void *map_arg;
    FILE *map_out;            /* --map: where the picture goes */
    struct wri_atomic *map_file; /* --map: out_path being written */
    struct map_html *html;    /* --map on a database: the page; its
                                 findings are wr_verify's, the dump's own
                                 only draw */
    bool mute;          /* findings are dropped (a look at the tree for
                           --page's own purpose: not what it reports) */
} dctx;

/* One tree file, read through a tolerant page source. */
typedef struct dump_file {
    wri_ps *ps;
    const char *path;
    int chosen;           /* -1: no usable checkpoint */
    char nochoice[300];   /* why, when chosen == -1 */
    bool nochoice_damage; /* ... and whether that is damage */
    wri_slot cur;
} dump_file;

void dx_print(dctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Record a finding of the current file (the page source's sink, too). */
void dx_record(dctx *x, const wr_finding *f);
/* Make one: at (page, off) under check, in the current file. */
void dx_finding(dctx *x, int check, uint64_t page, uint64_t off,
                const char *expected, const char *found, const char *fmt,
                ...) __attribute__((format(printf, 7, 8)));
bool dx_stop(const dctx *x);

void j_str(bson_t *p, const char *name, const char *s);
void j_u64(bson_t *p, const char *name, uint64_t v);
void j_addr(bson_t *p, const char *name, const wr_addr *a);
void j_hex(bson_t *p, const char *name, const uint8_t *b, size_t n);
void j_key(bson_t *p, const char *name, const uint8_t *k, uint32_t kl);
/* A key for text output (malloc'd, never NULL unless out of memory). */
char *key_text(const uint8_t *k, uint32_t kl);
void print_addr(dctx *x, const char *what, const wr_addr *a);
const char *type_name(uint8_t t);
int df_nkeyelem(const dump_file *df);
/* One header slot: a text line (and raw fields of a rejected one), or an
 * element of jarr. */
void slot_summary(dctx *x, dump_file *df, int i, bson_t *jarr);

const char *role_name(uint32_t role);

/* Is there a checkpoint to show, and can it be read? 1 yes (the page
 * source is set up for it), 0 no (recorded as damage), or WR_ENOTFOUND
 * (the file has none of the kind asked for). */
int file_checkpoint(dctx *x, dump_file *df, wr_errbuf *eb);

/* The extent lists of the chosen checkpoint, totalled (and, print, shown
 * in text or in j's "extents" and "list_pages"). */
typedef struct ext_totals {
    dctx *x;
    const wri_slot *s;
    bool print;
    bson_t *jpages, *jext; /* JSON being built (print into j), else NULL */
    bson_t jpages_doc, jext_doc;
    uint64_t idx;
    uint64_t pages;
    uint64_t avail_n, avail_bytes;
    uint64_t discard_n, discard_bytes;
    uint64_t reusable_bytes; /* discard with gen <= G - 1: avail on open */
    bool incomplete;         /* a list page or entry could not be used */
} ext_totals;
int ext_walk(dctx *x, dump_file *df, bool print, bson_t *j,
             ext_totals *t, wr_errbuf *eb);
/* The tree of the chosen checkpoint through the page source's walk, with
 * the checks wr-verify makes. */
int tree_walk(dctx *x, dump_file *df, wri_ps_walk *w, wr_errbuf *eb);

/* --stats (dump_stats.c): one file's analysis, recorded for the
 * database's totals; then the totals of a directory. */
int file_stats(dctx *x, dump_file *df, const char *coll, const char *field,
               bson_t *j, wr_errbuf *eb);
void stats_totals(dctx *x, bson_t *root);
void stats_free(dctx *x);

/* --map (dump_map.c): one tree file as an SVG picture on x->map_out
 * (inside the database's page when x->html is set). */
int file_map(dctx *x, dump_file *df, wr_errbuf *eb);
/* --map on a database directory: the HTML page around the files' maps.
 * begin runs wr_verify() (whose findings the page lists, reports and
 * counts) and writes the head and the catalog's summary (cat NULL: the
 * catalog could not be read, why says so); file opens each file's
 * section before dump_target draws it; end (always called once begin
 * was) writes the findings beside the maps if rc is WR_OK, frees, and
 * returns rc. */
typedef struct map_html map_html;
/* Where the picture goes: o->out_path (replaced atomically through the
 * io layer; refused, WR_EINVAL, if it is not a regular file, is the file
 * drawn, or lies inside the database directory drawn) or else o->out.
 * close commits it if rc is WR_OK (else removes it) and returns rc or
 * the commit's error. */
int map_out_open(dctx *x, const char *path, bool dir, wr_errbuf *eb);
int map_out_close(dctx *x, int rc, wr_errbuf *eb);
int map_db_begin(dctx *x, const char *dir, const wri_catalog *cat,
                 const char *why, wr_errbuf *eb);
int map_db_file(dctx *x, const char *path, const char *name, wr_errbuf *eb);
int map_db_end(dctx *x, int rc);

/* dump.c, for dump_db.c: a file's findings begin; its "damage" array;
 * opening a file (findings to x) at the checkpoint asked for; the modes. */
void dx_file_begin(dctx *x, const char *path);
void j_marks(dctx *x, bson_t *p);
int df_open(dctx *x, dump_file *df, const char *path, bool want_gen,
            uint64_t gen, bool previous, wr_errbuf *eb);
void df_close(dump_file *df);
void safe_name(const char *s, char *out, size_t n);
void role_text(const wri_slot *s, char *out, size_t n);
int file_summary(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb);
int file_tree(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb);
int file_extents(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb);
int file_docs(dctx *x, dump_file *df, wr_errbuf *eb);
/* --docs: write the lines still queued and stop the writer; WR_OK or
 * the output's failure (in eb). */
int docs_end(dctx *x, wr_errbuf *eb);

/* --page ADDR (dump_page.c). */
int file_page(dctx *x, dump_file *df, uint64_t addr, bson_t *j,
              wr_errbuf *eb);

#endif /* WR_DUMP_H */
