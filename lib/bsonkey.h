/*
 * bsonkey.h -- B-tree keys made of BSON values, compared in MongoDB order.
 *
 * A key is a BSON document whose element values, in order, form the
 * compound key; element names are ignored (written empty):
 *   main table:  { "": <_id value> }
 *   index:       { "": <field value>, "": <_id value> }
 * Comparison is element by element with wri_bsonval_cmp(); a shorter key
 * that is a prefix of a longer one sorts first.
 *
 * Value order is MongoDB's (docs: "Comparison/Sort Order"): type brackets
 *   MinKey < (undefined, null) < numbers < symbol, string < object < array
 *   < binary < ObjectId < boolean < date < timestamp < regex < MaxKey
 * (plus dbPointer, code and code-with-scope, which MongoDB places after
 * regex: dbPointer < code < code_w_scope, before MaxKey). Within the
 * null bracket undefined sorts just below null (as in the server). int32, int64, double and
 * decimal128 compare by numeric value (1 == 1.0 == NumberLong(1)); NaN
 * sorts below every other number and equals NaN; -0.0 equals 0.
 * Strings compare by bytes (simple binary collation); objects compare
 * field by field (type bracket, then name, then value); arrays element by
 * element; binary by length, then subtype, then bytes; ObjectIds by bytes;
 * false < true; dates as signed int64 ms; timestamps as unsigned (t, i);
 * regexes by pattern, then options.
 *
 * Calls err, bsoncheck, ejson (to print keys) and libbson. Safe on
 * arbitrary bytes: functions that take raw buffers validate them first.
 */
#ifndef WR_BSONKEY_H
#define WR_BSONKEY_H

#include "wr.h"

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of documents/arrays inside a key document (the key
 * document itself is level 0). wri_key_check rejects deeper keys and the
 * key builders refuse to make them; libbson's JSON parser stops at 100. */
#define WRI_KEY_MAX_DEPTH 200

/* Compare the values at two iterators (each positioned on an element):
 * <0, 0, >0. */
int wri_bsonval_cmp(const bson_iter_t *a, const bson_iter_t *b);

/* Compare two key documents (raw BSON bytes, already known valid). */
int wri_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Check that buf is a well-formed key document of exactly nelem elements
 * (1 for a main table, 2 for an index); WR_ECORRUPT with a reason in why
 * otherwise. Safe on arbitrary bytes. nelem <= 0 accepts any number of
 * elements from 1 up. Names must be empty, nesting at most
 * WRI_KEY_MAX_DEPTH. */
int wri_key_check(const uint8_t *buf, size_t len, int nelem, char *why,
                  size_t whylen);

/* Main-table key of a document: { "": _id }. WR_EINVAL (with message) if
 * the document has no _id or its _id is an array, undefined or a regex
 * (MongoDB refuses those too). key_out must be uninitialised; the caller
 * destroys it on success. */
int wri_key_from_doc(const bson_t *doc, bson_t *key_out, wr_errbuf *eb);
/* Main-table key of a bare value. */
void wri_key_from_iter(const bson_iter_t *val, bson_t *key_out);

/* Index keys of a document for a dotted path, as MongoDB's multikey
 * indexes make them: the value at the path; through arrays, one entry per
 * element (duplicates removed); a missing field or an empty array
 * indexes as null. Each key is { "": value, "": _id }. fn is called once per
 * distinct key, in key order; a nonzero return stops the walk and is
 * returned. */
typedef int (*wri_index_key_fn)(const bson_t *key, void *arg);
int wri_index_keys(const bson_t *doc, const char *path, wri_index_key_fn fn,
                   void *arg, wr_errbuf *eb);

/* Append a key (or any BSON value) as relaxed Extended JSON to a string;
 * used by dump and error messages. Never fails on valid BSON.
 * Returns a malloc'd string (free() it), NULL only when out of memory.
 * A one-element key prints as its bare value (1, "x", {"$oid": "..."}),
 * a compound key as an array ([ "x", 1 ]); a document with named
 * elements prints as that document. Bytes that are not valid BSON by our
 * strict check (wri_bson_check: a string that is not UTF-8 too) print as
 * { "$bsonHex" : "<hex>" }. Printed by our Extended JSON writer (ejson.h),
 * never libbson's. */
char *wri_key_to_json(const uint8_t *buf, size_t len);
/* The elements of a key (or any document) that passes wri_bson_check,
 * their values copied byte for byte under new names: names[i] (nnames of
 * them), or "0", "1", ... (an array's) when names is NULL. A malloc'd
 * document of *olen bytes holding *nelem elements; NULL if the bytes do
 * not pass the check, hold more elements than names, or on out of
 * memory. */
uint8_t *wri_key_renamed(const uint8_t *key, size_t len,
                         const char *const *names, size_t nnames,
                         size_t *olen, size_t *nelem);

#endif /* WR_BSONKEY_H */
