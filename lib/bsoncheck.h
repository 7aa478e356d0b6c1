/*
 * bsoncheck.h -- strict validation of BSON documents (bsoncheck.c): the
 * one check every reader of hostile BSON calls (verify, dump, the
 * catalog, the Extended JSON writer), never libbson's lenient
 * bson_validate. Calls nothing in the library but err and cores (the
 * memo's cache lines).
 */
#ifndef WR_BSONCHECK_H
#define WR_BSONCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validate a BSON document strictly (bsoncheck.c): structure and bounds
 * of every element, and strict UTF-8 (RFC 3629) in strings, keys and
 * regexes; NUL is allowed inside strings, not in keys. Stricter than
 * libbson 1.23's bson_validate and faster. WR_OK, or WR_ECORRUPT with the
 * byte offset in *err_off and "byte N: reason" in why. Safe on arbitrary
 * bytes. */
int wri_bson_check(const uint8_t *buf, size_t len, size_t *err_off,
                   char *why, size_t whylen);

/* The same check without its fast paths (a short ASCII key or string in
 * one load, fixed-size values and strings without the general switch):
 * tests compare the two, verdict, byte and reason. */
int wri_bson_check_plain(const uint8_t *buf, size_t len, size_t *err_off,
                         char *why, size_t whylen);

/* A memo of the shapes of the documents checked before (bsoncheck.c):
 * a caller checking many documents of one collection keeps one per
 * thread. */
typedef struct wri_bson_memo wri_bson_memo;
wri_bson_memo *wri_bson_memo_new(void);
void wri_bson_memo_free(wri_bson_memo *m);
/* Elements whose type, key and NUL matched their memo entry (tests). */
uint64_t wri_bson_memo_hits(const wri_bson_memo *m);

/* Bytes after a document a caller may let wri_bson_check_memo load: as
 * many as its fastest path loads past an element's start, so that none
 * of a padded document's elements has to ask whether it may. */
#define WRI_BSON_PAD 96

/* wri_bson_check with a memo (NULL: none): the same verdict, byte and
 * reason, faster on documents shaped like those met before. pad is 0 or
 * WRI_BSON_PAD: the check may load (never judge) that many bytes after
 * buf + len, which must be readable. */
int wri_bson_check_memo(wri_bson_memo *memo, const uint8_t *buf, size_t len,
                        size_t pad, size_t *err_off, char *why,
                        size_t whylen);

/* Are the n bytes at s strict UTF-8 (the same rule), without NUL? */
bool wri_utf8_check(const uint8_t *s, size_t n);
/* The length (1 to 4) of the one valid UTF-8 character (not NUL) at s,
 * of the n bytes there; 0 when s starts none: the byte at s is to be
 * shown some other way (every escaper of invalid bytes walks with it). */
size_t wri_utf8_seq(const uint8_t *s, size_t n);

#endif /* WR_BSONCHECK_H */
