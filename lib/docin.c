/*
 * docin.c -- JSONL, JSON-array and BSON input for wr-load (see docin.h).
 *
 * JSONL goes to the JSONL reader as it is. A JSON array and concatenated
 * BSON are read in a buffer filled by large reads, holding one element at
 * a time (grown up to DI_MAX_ELEM), so memory stays bounded whatever the
 * input's size. An array element is cut out by a scan that only tracks
 * strings and nesting; its bytes are then checked and parsed by
 * wri_json_line_parse, exactly as a JSONL line is; a BSON document by
 * wri_bson_check (bsoncheck.c) and the _id rules of a line.
 */
#include "docin.h"
#include "wr_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DI_BUF_INIT (1u << 20)
#define DI_MAX_ELEM (64u << 20) /* as the JSONL reader's longest line */

enum { DI_OPEN, DI_ELEM, DI_SEP, DI_DONE }; /* where a JSON array is */

struct wri_docin {
    int format;
    wri_jsonl *jl; /* JSONL: the reader doing the work */
    bool jl_first; /* no JSONL line returned yet */
    int fd;
    bool close_fd, eof;
    char *name; /* for messages: the path, or "<stdin>" */
    char *buf;
    size_t cap, beg, end; /* unread input is buf[beg..end) */
    uint64_t buf_off;     /* input offset of buf[0] */
    uint64_t total;
    uint64_t lineno; /* JSON: line of buf[beg]; BSON: documents read */
    uint64_t count;  /* elements returned */
    int state;
    bool broken; /* a fatal error was reported: nothing more to read */
    unsigned char head[8]; /* the input's first bytes, for format hints */
    size_t nhead;
    wri_jsonl_line *held; /* line whose doc we must destroy */
};

/* --- which format the input looks like -------------------------------- */

static const char *di_format_name(int format)
{
    return format == WR_LOAD_JSON_ARRAY ? "json-array"
           : format == WR_LOAD_BSON     ? "bson"
                                        : "jsonl";
}

/* The format the first bytes suggest, or -1. JSON text holds no NUL byte;
 * a BSON document starts with its length (little-endian, so the high bytes
 * of any plausible length are NUL) and an element type. */
static int di_guess(const unsigned char *p, size_t n)
{
    size_t i = n >= 3 && memcmp(p, WRI_UTF8_BOM, 3) == 0 ? 3 : 0;
    if (n >= 5 && memchr(p, 0, 4) != NULL) {
        uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        unsigned t = p[4];
        if (len >= 5 && len <= DI_MAX_ELEM &&
            (t <= 0x13 || t == 0x7f || t == 0xff))
            return WR_LOAD_BSON;
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
                     p[i] == '\n'))
        i++;
    if (i < n && p[i] == '[')
        return WR_LOAD_JSON_ARRAY;
    if (i < n && p[i] == '{')
        return WR_LOAD_JSONL;
    return -1;
}

/* "; this looks like X: use --format X" when the input suggests another
 * format than the one being read, else "". */
static void di_hint(const wri_docin *d, const unsigned char *p, size_t n,
                    char *out, size_t outlen)
{
    int g = di_guess(p, n);
    out[0] = '\0';
    if (g < 0 || g == d->format)
        return;
    snprintf(out, outlen, "; this looks like %s: use --format %s",
             g == WR_LOAD_JSON_ARRAY ? "a JSON array"
             : g == WR_LOAD_BSON     ? "BSON"
                                     : "JSONL",
             di_format_name(g));
}

/* --- the buffer ------------------------------------------------------------ */

/* Make buf[beg..end) hold at least want bytes, unless the input ends. */
static int di_fill(wri_docin *d, size_t want, wr_errbuf *eb)
{
    while (d->end - d->beg < want && !d->eof) {
        if (d->beg > 0) {
            memmove(d->buf, d->buf + d->beg, d->end - d->beg);
            d->buf_off += d->beg;
            d->end -= d->beg;
            d->beg = 0;
        }
        if (d->end == d->cap) {
            if (d->cap >= DI_MAX_ELEM + DI_BUF_INIT)
                return WR_ERR(eb, WR_EBADINPUT,
                              "%s: byte %llu: an element longer than %u "
                              "bytes",
                              d->name, (unsigned long long)d->buf_off,
                              DI_MAX_ELEM);
            char *nb = realloc(d->buf, d->cap * 2);
            if (nb == NULL)
                return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", d->name);
            d->buf = nb;
            d->cap *= 2;
        }
        size_t n;
        int rc = wri_io_read(d->fd, d->name, d->buf + d->end,
                             d->cap - d->end, d->buf_off + d->end, &n, eb);
        if (rc != WR_OK)
            return rc;
        if (n == 0)
            d->eof = true;
        if (d->nhead < sizeof d->head && d->buf_off + d->end == d->nhead) {
            size_t k = WRI_MIN(sizeof d->head - d->nhead, n);
            memcpy(d->head + d->nhead, d->buf + d->end, k);
            d->nhead += k;
        }
        d->end += n;
    }
    return WR_OK;
}

/* The byte at buf[beg + i]: 0..255, -1 at the end of input, or a
 * negative wr_err below -1 (as -1 - rc... kept simple: rc via *rc). */
static int di_at(wri_docin *d, size_t i, int *rc, wr_errbuf *eb)
{
    if (d->end - d->beg <= i && (*rc = di_fill(d, i + 1, eb)) != WR_OK)
        return -1;
    return d->end - d->beg > i ? (unsigned char)d->buf[d->beg + i] : -1;
}

/* A structural error: nothing after it can be read. */
static int di_broken(wri_docin *d, bool *fatal, wr_errbuf *eb,
                     const char *what)
{
    char hint[128] = "";
    d->broken = true;
    *fatal = true;
    if (d->count == 0)
        di_hint(d, d->head, d->nhead, hint, sizeof hint);
    return WR_ERR(eb, WR_EBADINPUT, "%s: %s %llu (byte %llu): %s%s",
                  d->name, d->format == WR_LOAD_BSON ? "document" : "line",
                  (unsigned long long)d->lineno,
                  (unsigned long long)(d->buf_off + d->beg), what, hint);
}

/* Skip whitespace, counting lines. */
static int di_skip_ws(wri_docin *d, wr_errbuf *eb)
{
    int rc = WR_OK, c;
    while ((c = di_at(d, 0, &rc, eb)) == ' ' || c == '\t' || c == '\r' ||
           c == '\n') {
        if (c == '\n')
            d->lineno++;
        d->beg++;
    }
    return rc;
}

/* --- open and close ---------------------------------------------------------- */

int wri_docin_open(const char *path, int format, wri_docin **out,
                   wr_errbuf *eb)
{
    return wri_docin_open_as(path, NULL, format, out, eb);
}

int wri_docin_open_as(const char *path, const char *name, int format,
                      wri_docin **out, wr_errbuf *eb)
{
    int rc = WR_OK;
    bool is_stdin = strcmp(path, "-") == 0;
    wri_docin *d = calloc(1, sizeof *d);
    *out = NULL;
    if (d == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
    d->format = format;
    d->fd = -1;
    d->lineno = format == WR_LOAD_BSON ? 0 : 1;
    d->jl_first = true;
    if (format == WR_LOAD_JSONL) {
        if ((rc = wri_jsonl_open_as(path, name, &d->jl, eb)) != WR_OK)
            goto out;
        *out = d;
        return WR_OK;
    }
    d->name = strdup(name != NULL ? name : is_stdin ? "<stdin>" : path);
    d->cap = DI_BUF_INIT;
    d->buf = malloc(d->cap);
    if (d->name == NULL || d->buf == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (is_stdin) {
        d->fd = 0;
    } else if ((rc = wri_io_open_input(path, &d->fd, eb)) != WR_OK) {
        goto out;
    } else {
        d->close_fd = true;
    }
    struct stat st;
    if (fstat(d->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            rc = WR_ERR(eb, WR_EIO, "%s: cannot open: %s", d->name,
                        strerror(EISDIR));
            goto out;
        }
        if (S_ISREG(st.st_mode))
            d->total = (uint64_t)st.st_size;
    }
    *out = d;
    d = NULL;
out:
    wri_docin_close(d);
    return rc;
}

static void di_release(wri_docin *d)
{
    if (d->held != NULL) {
        bson_destroy(&d->held->doc);
        d->held = NULL;
    }
}

void wri_docin_close(wri_docin *d)
{
    if (d == NULL)
        return;
    di_release(d);
    wri_jsonl_close(d->jl);
    if (d->close_fd)
        close(d->fd);
    free(d->name);
    free(d->buf);
    free(d);
}

uint64_t wri_docin_bytes_read(const wri_docin *d)
{
    return d->jl ? wri_jsonl_bytes_read(d->jl) : d->buf_off + d->beg;
}

uint64_t wri_docin_bytes_total(const wri_docin *d)
{
    return d->jl ? wri_jsonl_bytes_total(d->jl) : d->total;
}

/* A path or a message naming one may hold any bytes: JSON gets UTF-8. */
static bool dc_append_text(bson_t *d, const char *key, const char *s)
{
    char *c = wr_utf8_replace(s, strlen(s), NULL);
    bool ok = c != NULL && bson_append_utf8(d, key, -1, c, -1);
    free(c);
    return ok;
}

/* The reason of a reader's message about line: what follows its
 * "NAME: line N (byte O): " (O is line's offset), or the whole message. */
static const char *dc_reject_reason(const char *msg,
                                    const wri_jsonl_line *line)
{
    char at[48];
    snprintf(at, sizeof at, " (byte %llu): ",
             (unsigned long long)line->offset);
    const char *p = strstr(msg, at);
    return p != NULL ? p + strlen(at) : msg;
}

char *wri_reject_json(const char *file, const wri_jsonl_line *line,
                      const char *msg, bool torn, size_t *len)
{
    bson_t d = BSON_INITIALIZER;
    char *json, *out = NULL;
    size_t n;
    const char *reason = dc_reject_reason(msg, line);
    if (!dc_append_text(&d, "file", file)) {
        bson_destroy(&d);
        return NULL;
    }
    BSON_APPEND_INT64(&d, "line", (int64_t)line->lineno);
    BSON_APPEND_INT64(&d, "offset", (int64_t)line->offset);
    BSON_APPEND_BOOL(&d, "torn", torn);
    if (!dc_append_text(&d, "reason", reason)) {
        bson_destroy(&d);
        return NULL;
    }
    if (line->text != NULL &&
        bson_utf8_validate(line->text, line->len, false)) {
        bson_append_utf8(&d, "text", -1, line->text, (int)line->len);
    } else if (line->text != NULL) {
        char *hex = malloc(2 * line->len + 1);
        if (hex == NULL) {
            bson_destroy(&d);
            return NULL;
        }
        for (size_t i = 0; i < line->len; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)line->text[i]);
        hex[2 * line->len] = '\0';
        BSON_APPEND_UTF8(&d, "hex", hex);
        free(hex);
    }
    json = bson_as_relaxed_extended_json(&d, &n);
    bson_destroy(&d);
    if (json != NULL && (out = malloc(n + 1)) != NULL) {
        memcpy(out, json, n);
        out[n] = '\n';
        *len = n + 1;
    }
    bson_free(json);
    return out;
}

/* What every line of wri_reject_json begins with (libbson's relaxed
 * Extended JSON of a document whose first field is "file"). */
#define DI_REJECT_HEAD "{ \"file\" : \""

bool wri_reject_head_is(const char *head, size_t n)
{
    return n >= sizeof DI_REJECT_HEAD - 1 &&
           memcmp(head, DI_REJECT_HEAD, sizeof DI_REJECT_HEAD - 1) == 0;
}

int wri_reject_file_is(const char *path, bool *ours, wr_errbuf *eb)
{
    char head[sizeof DI_REJECT_HEAD];
    size_t got = 0, n = 1;
    int fd, rc;
    if ((rc = wri_io_open_input(path, &fd, eb)) != WR_OK)
        return rc;
    while (rc == WR_OK && n > 0 && got < sizeof head)
        if ((rc = wri_io_read(fd, path, head + got, sizeof head - got, got,
                              &n, eb)) == WR_OK)
            got += n;
    close(fd);
    if (rc == WR_OK)
        *ours = got == 0 || wri_reject_head_is(head, got);
    return rc;
}

/* --- JSONL ------------------------------------------------------------------- */

static int di_next_jsonl(wri_docin *d, wri_jsonl_line *line, bool *fatal,
                         wr_errbuf *eb)
{
    int rc = wri_jsonl_next(d->jl, line, eb);
    bool first = d->jl_first;
    d->jl_first = false;
    if (rc == WR_EBADINPUT && first && line->text != NULL) {
        char hint[128];
        di_hint(d, (const unsigned char *)line->text, line->len, hint,
                sizeof hint);
        if (hint[0] != '\0') {
            char msg[sizeof eb->msg];
            snprintf(msg, sizeof msg, "%s", eb->msg);
            wr_errbuf_clear(eb);
            rc = WR_ERR(eb, WR_EBADINPUT, "%.900s%s", msg, hint);
        }
    }
    *fatal = rc != WR_OK && rc != WR_EBADINPUT && rc != 1;
    return rc;
}

/* The element at buf[beg], len bytes, into line (consumed); true if it is
 * the input's first. */
static bool di_take(wri_docin *d, wri_jsonl_line *line, size_t len)
{
    line->lineno = d->lineno;
    line->offset = d->buf_off + d->beg;
    line->text = d->buf + d->beg;
    line->len = len;
    line->torn = false;
    line->is_delete = false;
    d->beg += len;
    return d->count++ == 0;
}

/* --- a JSON array ----------------------------------------------------------- */

/* The length of the element at buf[beg] ('{'), its newlines in *nl. */
static int di_element_len(wri_docin *d, size_t *len, uint64_t *nl,
                          wr_errbuf *eb)
{
    int rc = WR_OK, c, depth = 0;
    bool in_str = false, esc = false;
    *nl = 0;
    for (size_t i = 0;; i++) {
        if ((c = di_at(d, i, &rc, eb)) < 0)
            return rc != WR_OK ? rc : 1; /* 1: the input ended inside */
        if (c == '\n')
            (*nl)++;
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            *len = i + 1;
            return WR_OK;
        }
    }
}

static int di_next_array(wri_docin *d, wri_jsonl_line *line, bool *fatal,
                         wr_errbuf *eb)
{
    int rc, c;
    for (;;) {
        if ((rc = di_skip_ws(d, eb)) != WR_OK)
            return rc;
        c = di_at(d, 0, &rc, eb);
        if (rc != WR_OK)
            return rc;
        switch (d->state) {
        case DI_OPEN:
            if (c == 0xEF && d->buf_off + d->beg == 0 &&
                di_at(d, 1, &rc, eb) == 0xBB && di_at(d, 2, &rc, eb) == 0xBF) {
                d->beg += 3; /* a byte-order mark opens it (jsonl.h) */
                continue;
            }
            if (rc != WR_OK)
                return rc;
            if (c != '[')
                return di_broken(d, fatal, eb,
                                 "the input is not a JSON array (no '[')");
            d->beg++;
            d->state = DI_ELEM;
            continue;
        case DI_SEP:
            if (c == ',') {
                d->beg++;
                d->state = DI_ELEM;
                continue;
            }
            if (c == ']') {
                d->beg++;
                d->state = DI_DONE;
                continue;
            }
            return di_broken(d, fatal, eb,
                             c < 0 ? "the array is not closed (no ']')"
                                   : "expected ',' or ']' after an element");
        case DI_DONE:
            if (c < 0)
                return 1;
            return di_broken(d, fatal, eb, "data after the array's ']'");
        default: /* DI_ELEM */
            break;
        }
        if (c == ']' && d->count == 0) { /* [] */
            d->beg++;
            d->state = DI_DONE;
            continue;
        }
        if (c == ']')
            return di_broken(d, fatal, eb,
                             "a trailing comma: ']' right after ',' (JSON "
                             "allows none)");
        if (c != '{')
            return di_broken(d, fatal, eb,
                             c < 0 ? "the array is not closed (no ']')"
                                   : "an element that is not an object");
        size_t len = 0;
        uint64_t nl = 0;
        if ((rc = di_element_len(d, &len, &nl, eb)) != WR_OK)
            return rc == 1 ? di_broken(d, fatal, eb,
                                       "the input ends inside an element")
                           : rc;
        char why[512];
        bool first = di_take(d, line, len);
        d->lineno += nl;
        d->state = DI_SEP;
        if (wri_json_line_parse(line->text, len, &line->doc,
                                &line->is_delete, why, sizeof why) != WR_OK) {
            char hint[128] = "";
            if (first)
                di_hint(d, d->head, d->nhead, hint, sizeof hint);
            return WR_ERR(eb, WR_EBADINPUT,
                          "%s: line %llu (byte %llu): element %llu: %s%s",
                          d->name, (unsigned long long)line->lineno,
                          (unsigned long long)line->offset,
                          (unsigned long long)d->count, why, hint);
        }
        d->held = line;
        return WR_OK;
    }
}

/* --- concatenated BSON ---------------------------------------------------- */

/* The _id and "$deleted" rules of a JSONL line, on a BSON document:
 * NULL if it is a document to load, else why not. */
static const char *di_bson_check(const bson_t *b, bool *is_delete)
{
    bson_iter_t it;
    int nid = 0, ndel = 0;
    *is_delete = false;
    if (!bson_iter_init(&it, b))
        return "not a BSON document";
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "_id") == 0) {
            bson_type_t t = bson_iter_type(&it);
            if (t == BSON_TYPE_ARRAY || t == BSON_TYPE_UNDEFINED ||
                t == BSON_TYPE_REGEX)
                return "_id is an array, undefined or a regular expression";
            nid++;
        } else if (strcmp(k, "$deleted") == 0) {
            if (!BSON_ITER_HOLDS_BOOL(&it) || !bson_iter_bool(&it))
                return "$deleted must be true";
            ndel++;
        } else if (k[0] == '$') {
            return "a top-level key starts with '$'";
        }
    }
    if (nid != 1)
        return nid == 0 ? "missing _id" : "more than one _id";
    if (ndel > 1)
        return "more than one $deleted";
    *is_delete = ndel == 1;
    return NULL;
}

static int di_next_bson(wri_docin *d, wri_jsonl_line *line, bool *fatal,
                        wr_errbuf *eb)
{
    int rc;
    if ((rc = di_fill(d, 4, eb)) != WR_OK)
        return rc;
    if (d->end == d->beg)
        return 1;
    if (d->end - d->beg < 4)
        return di_broken(d, fatal, eb, "the input ends inside a document "
                                       "length");
    const unsigned char *p = (const unsigned char *)d->buf + d->beg;
    uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                   (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    d->lineno++; /* the document's ordinal, for messages */
    if (len < 5 || len > DI_MAX_ELEM)
        return di_broken(d, fatal, eb, "not a BSON document length");
    if ((rc = di_fill(d, len, eb)) != WR_OK)
        return rc;
    if (d->end - d->beg < len)
        return di_broken(d, fatal, eb, "the input ends inside a document");
    bool first = di_take(d, line, len);
    bson_t b;
    size_t err_off = 0;
    char bad[256];
    const char *why = NULL;
    if (wri_bson_check((const uint8_t *)line->text, len, &err_off, bad,
                       sizeof bad) != WR_OK)
        why = bad;
    else if (!bson_init_static(&b, (const uint8_t *)line->text, len))
        why = "not a BSON document";
    else
        why = di_bson_check(&b, &line->is_delete);
    if (why != NULL) {
        char hint[128] = "";
        if (first)
            di_hint(d, d->head, d->nhead, hint, sizeof hint);
        return WR_ERR(eb, WR_EBADINPUT, "%s: document %llu (byte %llu): %s%s",
                      d->name, (unsigned long long)line->lineno,
                      (unsigned long long)line->offset, why, hint);
    }
    if (line->is_delete) {
        bson_iter_t it;
        bson_init(&line->doc);
        if (bson_iter_init_find(&it, &b, "_id"))
            bson_append_iter(&line->doc, "_id", 3, &it);
    } else {
        bson_copy_to(&b, &line->doc);
    }
    d->held = line;
    return WR_OK;
}

int wri_docin_next(wri_docin *d, wri_jsonl_line *line, bool *fatal,
                   wr_errbuf *eb)
{
    int rc;
    *fatal = false;
    di_release(d);
    if (d->jl != NULL)
        return di_next_jsonl(d, line, fatal, eb);
    if (d->broken)
        return 1;
    rc = d->format == WR_LOAD_BSON ? di_next_bson(d, line, fatal, eb)
                                   : di_next_array(d, line, fatal, eb);
    if (rc != WR_OK && rc != 1 && rc != WR_EBADINPUT)
        *fatal = true;
    return rc;
}
