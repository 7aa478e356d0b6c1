/*
 * ejsonread.h -- one line of MongoDB Extended JSON into BSON, strictly, in
 * one pass (the decoder under jsonl.h; fuzz/fuzz_ejson.c drives it against
 * libbson's parser). ejson.h is the other direction.
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
 * The object must have an _id (not an array, undefined or regex). A line
 * {"_id": X, "$deleted": true} is a delete of X.
 *
 * Calls err and libbson (its JSON parser for the rare deferred line).
 */
#ifndef WR_EJSONREAD_H
#define WR_EJSONREAD_H

#include "wr.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

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

#endif /* WR_EJSONREAD_H */
