/*
 * logread.h -- a JSONL log read with its lines parsed on every core
 * (wr-migrate's logs, wr-diff's log and JSONL sides).
 *
 * The caller sees what a one-thread read gives: each non-blank line in
 * order, parsed (ejsonread.h) and with its _id key made, or refused with
 * the reason, exactly as wri_jsonl_next() reports it. Behind that, the
 * reading thread fills batches of raw lines and hands each to a pool of
 * parse threads started once per log (one fewer than the cores; the
 * reading thread parses too while it waits); up to WRI_LOGREAD_RING
 * batches are in flight, so reading, parsing and applying overlap.
 *
 * Calls jsonl, ejsonread, bsonkey, err, cores and libbson.
 */
#ifndef WR_LOGREAD_H
#define WR_LOGREAD_H

#include "wr.h"

#include "jsonl.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRI_LOGREAD_RING 3 /* batches in flight */

/* Check one parsed line and make its key (*key, which the check destroys
 * unless it returns WR_OK). Runs on the parse threads: it must not touch
 * shared state. WR_EBADINPUT with a reason in why[whylen] refuses the
 * line; any other error stops the read. */
typedef int (*wri_logread_check_fn)(void *arg, const wri_jsonl_line *line,
                                    bson_t *key, char *why, size_t whylen);

typedef struct wri_logread_opts {
    /* memory the batches may hold (their text and the documents parsed
     * from it): a batch takes a 48th of it, 32 KiB to 1 MiB; 0: 1 MiB */
    uint64_t memory;
    /* NULL: the key is wri_key_from_doc()'s */
    wri_logread_check_fn check;
    void *check_arg;
    /* longest line (wri_jsonl_set_max_line); 0: the line reader's */
    size_t max_line;
    /* keep the CRC-32 of the log's bytes as they are read
     * (wri_logread_crc) */
    bool crc;
} wri_logread_opts;

typedef struct wri_logread wri_logread;

/* Open a log (a file, or standard input for "-") and start the parse
 * threads (none where they cannot be had: the reading thread parses). */
int wri_logread_open(const char *path, const wri_logread_opts *o,
                     wri_logread **out, wr_errbuf *eb);
/* Stop and join the parse threads; free everything. NULL is fine. */
void wri_logread_close(wri_logread *lr);

/* The next non-blank line, in order, as *line (valid until the next call
 * or close):
 *   WR_OK: line->doc and *key hold the document and its key;
 *   WR_EBADINPUT: the line is refused, eb->msg "FILE: line N (byte O):
 *     reason" and line->{lineno,offset,text,len,torn} set; *unparsed says
 *     whether the line itself is malformed (or too long) rather than
 *     refused by the check; the caller may go on reading or stop;
 *   1 at the end of the log; another error (read error, memory) stops. */
int wri_logread_next(wri_logread *lr, const wri_jsonl_line **line,
                     const bson_t **key, bool *unparsed, wr_errbuf *eb);

/* Bytes of the log read so far (lines handed out may lag behind by the
 * batches in flight). */
uint64_t wri_logread_bytes_read(const wri_logread *lr);
/* With opts.crc: once wri_logread_next has returned 1, the log's size and
 * CRC-32 as read (true); false before the end. */
bool wri_logread_crc(const wri_logread *lr, uint64_t *bytes, uint32_t *crc);

#endif /* WR_LOGREAD_H */
