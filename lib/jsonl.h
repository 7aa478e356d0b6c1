/*
 * jsonl.h -- the one reader of JSONL input (wr-load and wr-migrate share
 * it): one MongoDB Extended JSON object per line, strictly.
 *
 * libbson's parser alone is too lenient (see
 * ../shared/corpora/bson-corpus/README.md): it accepts two documents on one
 * line (dropping the second), NaN/Infinity literals, a top-level array, a
 * top-level {"$oid": ...}, a 24-character non-hex $oid, malformed
 * $numberDecimal strings (stored as NaN), and cuts $code strings at an
 * embedded NUL. This module runs a strict RFC 8259 scan of each line that
 * checks the Extended JSON wrappers itself, so every such line is a bad
 * line, never silently changed data, and writes the BSON in the same pass:
 * the bytes libbson's parser writes for the line, except that a $code
 * string keeps its NUL and {"$regex": {...}} (the query operator) is a
 * document, both of which libbson gets wrong. Legacy mongoexport forms
 * that real logs contain ({"$date": <number>}) are accepted. A wrapper of
 * an unusual shape ($dbPointer, the $type query operator, repeated keys,
 * ...) is left to libbson's parser, after the same scan.
 *
 * A line is: optional whitespace, one JSON object, optional whitespace,
 * then "\n" or "\r\n" (or end of file). Blank lines are skipped. The
 * object must have an _id (not an array, undefined or regex). A line
 * {"_id": X, "$deleted": true} is a delete of X.
 *
 * Calls err and libbson. Input is read with plain open/read, not io.c:
 * reading is not a mutating operation (see jsonl.c).
 */
#ifndef WR_JSONL_H
#define WR_JSONL_H

#include "wr.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse one line (without its newline) strictly into *doc (initialised by
 * this call; destroyed by the caller on WR_OK only). On a bad line returns
 * WR_EBADINPUT with a short reason in why ("column 17: NaN is not JSON",
 * "missing _id", "$oid is not 24 hex digits", ...). *is_delete tells a
 * {"_id": X, "$deleted": true} line. */
int wri_json_line_parse(const char *line, size_t len, bson_t *doc,
                        bool *is_delete, char *why, size_t whylen);

/* How wri_json_line_parse_mode builds the document after the strict scan:
 * WRI_JSON_BUILDER is what wri_json_line_parse does (our one-pass
 * builder; the rare line it defers goes to libbson's JSON parser);
 * WRI_JSON_LIBBSON always uses libbson's parser (the former path: the
 * differential tests and fuzz/fuzz_ejson.c compare the two);
 * WRI_JSON_BUILDER_ONLY returns WR_ENOTSUP instead of deferring. */
enum { WRI_JSON_BUILDER, WRI_JSON_LIBBSON, WRI_JSON_BUILDER_ONLY };
int wri_json_line_parse_mode(const char *line, size_t len, bson_t *doc,
                             bool *is_delete, char *why, size_t whylen,
                             int mode);
/* Lines the builder has deferred to libbson so far (all threads). */
unsigned long wri_json_defers(void);

typedef struct wri_jsonl wri_jsonl;

/* Open a file, or standard input for "-". */
int wri_jsonl_open(const char *path, wri_jsonl **out, wr_errbuf *eb);
void wri_jsonl_close(wri_jsonl *r);

typedef struct wri_jsonl_line {
    uint64_t lineno;  /* 1-based line number */
    uint64_t offset;  /* byte offset of the line's first byte */
    const char *text; /* the raw line, valid until the next call */
    size_t len;       /* without the newline */
    bool torn;        /* last line of the input, no newline at the end */
    bool is_delete;
    bson_t doc;       /* parsed document (valid when next returned WR_OK) */
} wri_jsonl_line;

/* Next non-blank line: WR_OK with line->doc initialised (the reader
 * destroys it on the next call or on close), 1 at end of input, or
 * WR_EBADINPUT with eb->msg "FILE: line N (byte O): reason" and
 * line->{lineno,offset,text,len,torn} set, after which the caller may go on
 * reading (skip the bad line) or stop. WR_EIO on a read error. */
int wri_jsonl_next(wri_jsonl *r, wri_jsonl_line *line, wr_errbuf *eb);
/* Raw mode: wri_jsonl_next returns each non-blank line's text, number,
 * offset and torn flag without parsing it (line->doc is not touched); the
 * caller runs wri_json_line_parse, e.g. on several threads. Lines longer
 * than the limit are still WR_EBADINPUT. */
void wri_jsonl_set_raw(wri_jsonl *r, bool raw);
/* Bytes consumed so far and total input size (0 if unknown, e.g. a pipe),
 * for progress lines. */
uint64_t wri_jsonl_bytes_read(const wri_jsonl *r);
uint64_t wri_jsonl_bytes_total(const wri_jsonl *r);
/* The reader destroys the document of the last line struct it filled, so
 * the caller keeps that struct alive (passing the same one each time is
 * simplest) until the next call or wri_jsonl_close(). */

/* Longest line accepted, in bytes without the newline (default and 0:
 * 64 MiB). A longer line is skipped to its newline without being held in
 * memory and reported as WR_EBADINPUT; line->text then holds only its
 * first bytes. Lowered by tests. */
void wri_jsonl_set_max_line(wri_jsonl *r, size_t max_line);

#endif /* WR_JSONL_H */
