/*
 * docin.h -- documents to load, in the format the user has: JSONL (one
 * Extended JSON object per line, jsonl.h), a JSON array of such objects
 * (mongoexport --jsonArray, pretty-printed or not), or concatenated BSON
 * documents (mongodump .bson files, bsondump input). wr-load reads through
 * this module; every element goes through the same strict checks as a
 * JSONL line (wri_json_line_parse; for BSON, wri_bson_check and the same
 * _id rules).
 *
 * A bad element is reported with its line (JSON) or its ordinal (BSON) and
 * byte offset, and the reader can go on past it, except when the input's
 * structure is broken (an array missing a comma, a BSON length that runs
 * past the end): that error is fatal. When the first element of the input
 * is bad and the input looks like another format, the message says which
 * ("this looks like a JSON array: use --format json-array").
 *
 * Calls jsonl, bsoncheck, io (its input calls, as jsonl.c), err and
 * libbson.
 */
#ifndef WR_DOCIN_H
#define WR_DOCIN_H

#include "jsonl.h"

typedef struct wri_docin wri_docin;

/* Open a file, or standard input for "-", in format (wr_load_format). */
int wri_docin_open(const char *path, int format, wri_docin **out,
                   wr_errbuf *eb);
/* The same, its messages naming the input name (NULL: as above). */
int wri_docin_open_as(const char *path, const char *name, int format,
                      wri_docin **out, wr_errbuf *eb);
void wri_docin_close(wri_docin *d);

/* As wri_jsonl_next (the line struct and its doc likewise belong to the
 * reader until the next call): WR_OK, 1 at the end, WR_EBADINPUT for a bad
 * element (*fatal: nothing after it can be read), WR_EIO, WR_EINTR (a
 * signal ended a wait for input, wri_io_read). For BSON,
 * line->lineno is the document's ordinal and line->text its bytes. */
int wri_docin_next(wri_docin *d, wri_jsonl_line *line, bool *fatal,
                   wr_errbuf *eb);

/* A skipped line as one line of a rejects file (wr-load --skip-bad,
 * wr-migrate --skip-bad; the one writer of that shape): {"file", "line",
 * "offset", "torn", "reason", "text"} (or "hex" when the bytes are not
 * UTF-8), with its newline; malloc'd, its length in *len. NULL when out
 * of memory. file is the input as the messages name it; msg the reader's
 * message, whose "NAME: line N (byte O): " part (or "document N") is left
 * out of "reason": file, line and offset say it. */
char *wri_reject_json(const char *file, const wri_jsonl_line *line,
                      const char *msg, bool torn, size_t *len);

/* Does a file beginning with these n bytes hold lines wri_reject_json
 * wrote? */
bool wri_reject_head_is(const char *head, size_t n);
/* Is the file at path one a run may empty and write again: empty, or
 * holding lines wri_reject_json wrote? WR_OK with the answer in *ours, or
 * the error of opening or reading it. */
int wri_reject_file_is(const char *path, bool *ours, wr_errbuf *eb);

uint64_t wri_docin_bytes_read(const wri_docin *d);
uint64_t wri_docin_bytes_total(const wri_docin *d);

#endif /* WR_DOCIN_H */
