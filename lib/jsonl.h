/*
 * jsonl.h -- the one reader of JSONL input (wr-load, wr-migrate and
 * wr-diff share it): lines and files. Each line is one MongoDB Extended
 * JSON object, parsed strictly by ejsonread.h (which says what a line may
 * hold); this module finds the lines, numbers them, skips blank ones,
 * bounds their length and names file, line and byte in its messages.
 *
 * A line is: optional whitespace, one JSON object, optional whitespace,
 * then "\n" or "\r\n" (or end of file). Blank lines are skipped.
 *
 * Calls ejsonread, io (its input calls: wri_io_open_input, wri_io_read),
 * err and libbson.
 */
#ifndef WR_JSONL_H
#define WR_JSONL_H

#include "wr.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wri_jsonl wri_jsonl;

/* A UTF-8 byte-order mark. One at byte 0 of an input (JSONL, a JSON
 * array, a legacy log) is skipped: RFC 8259 lets a reader ignore it, and
 * Windows tools write it. Anywhere else it is a bad line, named as such. */
#define WRI_UTF8_BOM "\xEF\xBB\xBF"

/* Open a file, or standard input for "-". */
int wri_jsonl_open(const char *path, wri_jsonl **out, wr_errbuf *eb);
/* The same, its messages naming the input name (NULL: path, or "<stdin>"
 * for "-"): a copy of a pipe is named as the pipe. */
int wri_jsonl_open_as(const char *path, const char *name, wri_jsonl **out,
                      wr_errbuf *eb);
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
 * reading (skip the bad line) or stop. WR_EIO on a read error; WR_EINTR
 * when a signal (SIGINT, SIGTERM) ends a wait for input (wri_io_read). */
int wri_jsonl_next(wri_jsonl *r, wri_jsonl_line *line, wr_errbuf *eb);
/* Raw mode: wri_jsonl_next returns each non-blank line's text, number,
 * offset and torn flag without parsing it (line->doc is not touched); the
 * caller runs wri_json_line_parse, e.g. on several threads. Lines longer
 * than the limit are still WR_EBADINPUT. */
void wri_jsonl_set_raw(wri_jsonl *r, bool raw);
/* Keep the CRC-32 (wri_crc32) of every byte read, as it is read: a caller
 * that needs the file's checksum (wr-migrate) reads it once. Call before
 * the first wri_jsonl_next. */
void wri_jsonl_want_crc(wri_jsonl *r);
/* The bytes read so far and their CRC-32; true once the input has been
 * read to its end (with wri_jsonl_want_crc): the whole input's. */
bool wri_jsonl_crc(const wri_jsonl *r, uint64_t *bytes, uint32_t *crc);
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
