/*
 * ejson.h -- BSON as MongoDB Extended JSON v2 (ejson.c): our own writer,
 * used by wr-dump (documents, keys, values) and wr-diff; every document is
 * first checked with wri_bson_check (bsoncheck.h). Calls bsoncheck.
 */
#ifndef WR_EJSON_H
#define WR_EJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing text buffer (ejson.c). */
typedef struct wri_strbuf {
    char *p;
    size_t len, cap;
} wri_strbuf;
/* Append a C string: 0, or -1 when out of memory. */
int wri_strbuf_add(wri_strbuf *sb, const char *s);

/* Append a BSON document as MongoDB Extended JSON v2 (canonical, or
 * relaxed) to sb, in libbson's layout but with doubles in their shortest
 * exact form. The document is checked with wri_bson_check first:
 * WR_ECORRUPT (sb unchanged) if it is not valid, or on out of memory. */
int wri_ejson_append(wri_strbuf *sb, const uint8_t *doc, size_t len,
                     bool relaxed);

/* The same for a document that has passed wri_bson_check already (as
 * every document wri_ps_check_document accepts has): not checked again.
 * Anything else is undefined behaviour. */
int wri_ejson_append_checked(wri_strbuf *sb, const uint8_t *doc, size_t len,
                             bool relaxed);

/* Append the value(s) of a key document the same way: one element as its
 * bare value ("7", "{ "$oid" : "..." }"), several as an array
 * "[ v, w ]" (names ignored). WR_ECORRUPT (sb unchanged) if not valid. */
int wri_ejson_append_key(wri_strbuf *sb, const uint8_t *key, size_t len,
                         bool relaxed);

#endif /* WR_EJSON_H */
