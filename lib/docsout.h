/*
 * docsout.h -- the output of wr-dump --docs (docsout.c): documents as
 * lines of Extended JSON, formatted and written on a second thread in the
 * order they were given, in writes of 256 KiB. Calls ipipe (the thread),
 * ejson and bsoncheck.
 *
 * The caller (the tree walk) hands each document over with
 * wri_docsout_add, which copies it into the item pipe's batches; the
 * pipe's thread formats them, one line each, and writes, so the walk (reads
 * and checks) has one core and the formatting the other. The text is
 * exactly what wri_ejson_append writes for each document, one per line.
 * With one core to run on (taskset -c 0 ...), or if the thread cannot be
 * started, the same happens on the caller's thread: the same text.
 */
#ifndef WR_DOCSOUT_H
#define WR_DOCSOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct wri_docsout wri_docsout;

/* A writer of lines to out (canonical or relaxed Extended JSON):
 * WR_OK, or WR_ENOMEM. */
int wri_docsout_new(FILE *out, bool relaxed, wri_docsout **d);

/* Queue one document for a line. checked: it passed wri_bson_check
 * already (wri_ps_check_document); else it is checked here and, if not
 * valid, left out (returns WR_ECORRUPT, nothing queued). After a failed
 * write (full disk, ...) or out of memory, returns that failure
 * (WR_ENOSPC, WR_EIO, WR_ENOMEM), and wri_docsout_error says why. */
int wri_docsout_add(wri_docsout *d, const uint8_t *doc, size_t len,
                    bool checked);

/* The failure that stopped the output, as an error in eb ("writing the
 * dump failed: No space left on device"), or WR_OK. */
int wri_docsout_error(const wri_docsout *d, wr_errbuf *eb);

/* Format and write everything queued, in order; stop the thread; free d
 * (NULL is fine). WR_OK, or the first failure in eb. */
int wri_docsout_end(wri_docsout *d, wr_errbuf *eb);

#endif /* WR_DOCSOUT_H */
