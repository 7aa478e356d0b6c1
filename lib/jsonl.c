/*
 * jsonl.c -- the JSONL reader (see jsonl.h for the contract): lines and
 * files; each line is parsed by ejsonread.c.
 *
 * The reader reads with io.c's input calls (wri_io_open_input,
 * wri_io_read): reading input is not a mutating operation, so it is not
 * one of io.c's numbered, fault-injectable calls (and standard input is
 * not a file wri_io_open could open). Lines are
 * found in a buffer filled by large reads (1 MiB, grown for long lines up
 * to the line limit); a longer line is skipped to its newline and reported
 * as bad, so memory stays bounded.
 */
#include "wr_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* --- the reader --------------------------------------------------------- */

#define JR_BUF_INIT (1u << 20)              /* first buffer: 1 MiB */
#define JR_MAX_LINE ((size_t)64 << 20)      /* longest line accepted */
#define JR_HEAD 256                         /* kept of an overlong line */

struct wri_jsonl {
    int fd;
    bool close_fd;
    bool eof;
    char *name;       /* for messages: the path, or "<stdin>" */
    char *buf;
    size_t cap;
    size_t beg, end;  /* unread input is buf[beg..end) */
    size_t scan;      /* buf[beg..scan) is known to hold no '\n' */
    size_t max_line;
    uint64_t buf_off; /* input offset of buf[0] */
    uint64_t lineno;
    uint64_t consumed;
    uint64_t total;
    wri_jsonl_line *held; /* line whose doc we must destroy */
    bool raw;             /* hand out lines without parsing them */
    bool want_crc;        /* keep the CRC-32 of every byte read */
    uint32_t crc;
    uint64_t crc_bytes;
    char head[JR_HEAD];
};

void wri_jsonl_set_raw(wri_jsonl *r, bool raw)
{
    r->raw = raw;
}

void wri_jsonl_want_crc(wri_jsonl *r)
{
    r->want_crc = true;
}

bool wri_jsonl_crc(const wri_jsonl *r, uint64_t *bytes, uint32_t *crc)
{
    *bytes = r->crc_bytes;
    *crc = r->crc;
    return r->want_crc && r->eof;
}

int wri_jsonl_open(const char *path, wri_jsonl **out, wr_errbuf *eb)
{
    return wri_jsonl_open_as(path, NULL, out, eb);
}

int wri_jsonl_open_as(const char *path, const char *name, wri_jsonl **out,
                      wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_jsonl *r = NULL;
    bool is_stdin = strcmp(path, "-") == 0;
    *out = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    r->fd = -1;
    r->max_line = JR_MAX_LINE;
    r->name = strdup(name != NULL ? name : is_stdin ? "<stdin>" : path);
    r->cap = JR_BUF_INIT;
    r->buf = malloc(r->cap);
    if (r->name == NULL || r->buf == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (is_stdin) {
        r->fd = 0;
    } else {
        if ((rc = wri_io_open_input(path, &r->fd, eb)) != WR_OK)
            goto out;
        r->close_fd = true;
    }
    struct stat st;
    if (fstat(r->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            rc = WR_ERR(eb, WR_EIO, "%s: cannot open: %s", r->name,
                        strerror(EISDIR));
            goto out;
        }
        if (S_ISREG(st.st_mode))
            r->total = (uint64_t)st.st_size;
    }
    *out = r;
    r = NULL;
out:
    wri_jsonl_close(r);
    return rc;
}

static void jr_release(wri_jsonl *r)
{
    if (r->held != NULL) {
        bson_destroy(&r->held->doc);
        r->held = NULL;
    }
}

void wri_jsonl_close(wri_jsonl *r)
{
    if (r == NULL)
        return;
    jr_release(r);
    if (r->close_fd && r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r->name);
    free(r);
}

void wri_jsonl_set_max_line(wri_jsonl *r, size_t max_line)
{
    r->max_line = max_line > 0 ? max_line : JR_MAX_LINE;
}

uint64_t wri_jsonl_bytes_read(const wri_jsonl *r)
{
    return r->consumed;
}

uint64_t wri_jsonl_bytes_total(const wri_jsonl *r)
{
    return r->total;
}

/* Read more input after buf[end]. 0 at end of input (r->eof set), 1 if
 * bytes arrived, WR_EIO on error, WR_EINTR if a signal ended the wait for
 * input (wri_io_read). */
static int jr_fill(wri_jsonl *r, wr_errbuf *eb)
{
    size_t got;
    int rc = wri_io_read(r->fd, r->name, r->buf + r->end, r->cap - r->end,
                         r->buf_off + r->end, &got, eb);
    if (rc != WR_OK)
        return rc;
    if (got == 0) {
        r->eof = true;
        return 0;
    }
    if (r->want_crc) {
        r->crc = wri_crc32(r->crc, r->buf + r->end, got);
        r->crc_bytes += (uint64_t)got;
    }
    r->end += got;
    return 1;
}

/* Make room after buf[end]: slide the unread bytes to the front, grow the
 * buffer if one partial line fills it. 0, or 1 if the partial line is
 * already longer than the limit, or WR_ENOMEM. */
static int jr_room(wri_jsonl *r, wr_errbuf *eb)
{
    if (r->beg > 0) {
        size_t keep = r->end - r->beg;
        memmove(r->buf, r->buf + r->beg, keep);
        r->buf_off += r->beg;
        r->scan -= r->beg;
        r->end = keep;
        r->beg = 0;
    }
    if (r->end < r->cap)
        return 0;
    size_t limit = r->max_line + 2; /* the line, "\r\n" */
    if (r->cap >= limit)
        return 1;
    size_t ncap = r->cap * 2 < limit ? r->cap * 2 : limit;
    char *nb = realloc(r->buf, ncap);
    if (nb == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory for a %zu-byte line",
                      r->name, ncap);
    r->buf = nb;
    r->cap = ncap;
    return 0;
}

/* Skip the rest of an overlong line (its start is in buf[beg..end)). Sets
 * *torn if input ended before a newline. */
static int jr_skip_line(wri_jsonl *r, bool *torn, wr_errbuf *eb)
{
    for (;;) {
        char *nl = memchr(r->buf + r->beg, '\n', r->end - r->beg);
        if (nl != NULL) {
            r->beg = (size_t)(nl - r->buf) + 1;
            r->scan = r->beg;
            *torn = false;
            return WR_OK;
        }
        r->buf_off += r->end;
        r->beg = r->end = r->scan = 0;
        int rc = jr_fill(r, eb);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            *torn = true;
            return WR_OK;
        }
    }
}

static bool jr_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

int wri_jsonl_next(wri_jsonl *r, wri_jsonl_line *line, wr_errbuf *eb)
{
    int rc;
    char why[512];
    jr_release(r);
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
        size_t stop; /* the line is buf[beg..stop) */
        bool torn = false;
        if (nl != NULL) {
            stop = (size_t)(nl - r->buf);
        } else if (r->eof) {
            if (r->beg == r->end)
                return 1;
            stop = r->end;
            torn = true;
        } else {
            r->scan = r->end;
            rc = jr_room(r, eb);
            if (rc < 0)
                return rc;
            if (rc == 1) { /* longer than the limit: report and skip it */
                size_t keep = WRI_MIN(r->end - r->beg, sizeof r->head);
                memcpy(r->head, r->buf + r->beg, keep);
                line->lineno = ++r->lineno;
                line->offset = r->buf_off + r->beg;
                line->text = r->head;
                line->len = keep;
                line->is_delete = false;
                if ((rc = jr_skip_line(r, &line->torn, eb)) != WR_OK)
                    return rc;
                r->consumed = r->buf_off + r->beg;
                return WR_ERR(eb, WR_EBADINPUT,
                              "%s: line %llu (byte %llu): line is longer "
                              "than %zu bytes",
                              r->name, (unsigned long long)line->lineno,
                              (unsigned long long)line->offset, r->max_line);
            }
            if ((rc = jr_fill(r, eb)) < 0)
                return rc;
            continue;
        }
        const char *text = r->buf + r->beg;
        size_t len = stop - r->beg;
        uint64_t off = r->buf_off + r->beg;
        r->lineno++;
        r->beg = r->scan = torn ? stop : stop + 1;
        r->consumed = r->buf_off + r->beg;
        if (len > 0 && text[len - 1] == '\r')
            len--;
        if (off == 0 && len >= 3 && memcmp(text, WRI_UTF8_BOM, 3) == 0) {
            text += 3; /* a byte-order mark opens the input: skipped */
            len -= 3;
            off = 3;
        }
        if (jr_blank(text, len))
            continue;
        line->lineno = r->lineno;
        line->offset = off;
        line->text = text;
        line->len = len;
        line->torn = torn;
        line->is_delete = false;
        if (len > r->max_line) {
            return WR_ERR(eb, WR_EBADINPUT,
                          "%s: line %llu (byte %llu): line is longer than "
                          "%zu bytes",
                          r->name, (unsigned long long)line->lineno,
                          (unsigned long long)off, r->max_line);
        }
        if (r->raw) /* the caller parses (wri_json_line_parse) */
            return WR_OK;
        if (wri_json_line_parse(text, len, &line->doc, &line->is_delete, why,
                                sizeof why) != WR_OK)
            return WR_ERR(eb, WR_EBADINPUT, "%s: line %llu (byte %llu): %s",
                          r->name, (unsigned long long)line->lineno,
                          (unsigned long long)off,
                          len >= 3 && memcmp(text, WRI_UTF8_BOM, 3) == 0
                              ? "the line starts with a UTF-8 byte-order "
                                "mark (EF BB BF; only the input's first "
                                "bytes may be one)"
                              : why);
        r->held = line;
        return WR_OK;
    }
}
