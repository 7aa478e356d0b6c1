/*
 * ejsonbuild.h -- the BSON builder fed by ejsonread.c's strict scan, one
 * token at a time (private to the two). The scan validates; the builder
 * writes the bytes bson_init_from_json() writes for the same line, or
 * stops ("defers") on a wrapper of an unusual shape, leaving the line to
 * libbson. Split from the scan because they are two concerns: the grammar
 * and Extended JSON rules (what a line may be) and the BSON encoding (what
 * bytes it becomes).
 *
 * Calls ejsonread.h's types only (no scanner function): the scan calls
 * the builder, never the other way.
 */
#ifndef WR_EJSONBUILD_H
#define WR_EJSONBUILD_H

#include "ejsonread.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest container nesting accepted (the top-level object is level 1).
 * libbson's jsonsl stops at 100 levels including the innermost scalar or
 * key, so 98 containers plus one scalar is the most it can parse. */
#define JS_MAX_DEPTH 98

static inline bool js_isdigit(uint8_t b)
{
    return b >= '0' && b <= '9';
}

static inline int js_hexval(uint8_t b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

/* Four hex digits at s[i..i+4): their value, or -1. */
static inline int js_hex4(const uint8_t *s, size_t n, size_t i)
{
    if (n - i < 4)
        return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = js_hexval(s[i + (size_t)k]);
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

enum {
    JS_STR_ESC = 1, /* contains at least one escape */
    JS_STR_NUL = 2, /* contains \u0000 */
};

#define JB_STACK_BUF 4096 /* BSON built on the stack before the heap */

typedef struct jb_key { /* an element's key: input text or array index */
    size_t b, e;        /* s[b..e), escapes not decoded */
    uint32_t idx;
    bool esc;
    bool isidx;
} jb_key;

typedef struct jb_field { /* one key and value inside a wrapper */
    uint8_t name;         /* JN_* */
    uint8_t t;            /* value: 0 none yet, 's' string, 'n' number,
                           * 't'/'f'/'n' literal as 'l', 'o' object */
    uint8_t lit;          /* 't', 'f' or 'n' when t == 'l' */
    bool esc;             /* the value has escapes */
    bool kesc;            /* the key has escapes */
    size_t b, e;          /* the value's text (strings without quotes) */
    size_t kb, ke;        /* the key's text */
} jb_field;

typedef struct jb_frame {
    uint8_t kind;
    bool scope;     /* JF_DOC: the $scope of a code-with-scope */
    uint8_t nf, nbf;
    uint32_t idx;   /* JF_ARR: index of the next element */
    size_t start;   /* JF_DOC/JF_ARR: offset of the length; JF_WRAP with a
                     * $scope: offset of the code-with-scope length */
    jb_key key;     /* JF_DOC: key of the next element; JF_PEND/JF_WRAP:
                     * this element's key */
    jb_field f[2];  /* JF_WRAP/JF_BODY: the fields */
    jb_field bf[2]; /* JF_WRAP: the fields of its body */
} jb_frame;

typedef struct jb {
    const uint8_t *s;
    uint8_t *buf;
    size_t len, cap;
    bool heap;
    bool off;     /* deferred to libbson (or out of memory): stopped */
    bool done;    /* the top-level document is complete */
    int n;        /* frames in use */
    int in_scope; /* $scope documents open */
    jb_frame fr[JS_MAX_DEPTH + 1];
    uint8_t stackbuf[JB_STACK_BUF];
} jb;

/* Decode the escapes of a validated string body (see ejsonbuild.c). */
size_t wri_json_unescape(const uint8_t *s, size_t len, uint8_t *out,
                         size_t cap, bool *cut);

void wri_jb_init(jb *b, const uint8_t *s);
void wri_jb_free(jb *b);
void wri_jb_obj_open(jb *b);
void wri_jb_arr_open(jb *b);
void wri_jb_key_event(jb *b, size_t p, size_t e, unsigned fl);
void wri_jb_value(jb *b, uint8_t t, size_t p, size_t e, unsigned fl);
void wri_jb_close(jb *b);

#endif
