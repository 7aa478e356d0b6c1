/*
 * docsout.c -- wr-dump --docs's lines, formatted on a second thread
 * (docsout.h), through the library's item pipe (ipipe.h): the caller's
 * thread walks, checks and hands each document over; the pipe's thread
 * formats them in order into one buffer and writes it out in pieces of
 * DO_WRITE bytes.
 */
#include "wr_int.h"
#include "docsout.h"
#include "ipipe.h"

#include <errno.h>
#include <stdlib.h>

#define DO_WRITE (256u << 10) /* bytes per fwrite: larger ones into fresh
                                 page cache are slow on some VMs */

struct wri_docsout {
    FILE *out;
    bool relaxed;
    wri_ipipe *pipe;
    wri_strbuf text; /* lines not written yet (the pipe's thread's) */
    int rc;          /* WR_OK, or the failure that stopped the output */
    wr_errbuf err;   /* its message */
};

/* Write the text's whole pieces of DO_WRITE bytes (all of it: last),
 * keeping the rest at its start. */
static int do_write(wri_docsout *d, bool all, wr_errbuf *eb)
{
    size_t off = 0;
    while (d->text.len - off >= DO_WRITE || (all && off < d->text.len)) {
        size_t n = WRI_MIN(d->text.len - off, (size_t)DO_WRITE);
        errno = 0;
        if (fwrite(d->text.p + off, 1, n, d->out) != n) {
            int e = errno ? errno : EIO;
            return WR_ERR(eb, e == ENOSPC ? WR_ENOSPC : WR_EIO,
                          "writing the dump failed: %s", strerror(e));
        }
        off += n;
    }
    memmove(d->text.p, d->text.p + off, d->text.len - off);
    d->text.len -= off;
    return WR_OK;
}

/* One document's line (the pipe's thread, or the caller's inline). */
static int do_line(void *arg, const uint8_t *key, uint32_t klen,
                   const uint8_t *val, uint32_t vlen, wr_errbuf *eb)
{
    wri_docsout *d = arg;
    (void)key, (void)klen;
    if (wri_ejson_append_checked(&d->text, val, vlen, d->relaxed) != WR_OK)
        return WR_ERR(eb, WR_ENOMEM, "out of memory writing the dump");
    d->text.p[d->text.len++] = '\n'; /* the terminating NUL's place */
    return d->text.len >= DO_WRITE ? do_write(d, false, eb) : WR_OK;
}

int wri_docsout_new(FILE *out, bool relaxed, wri_docsout **dp)
{
    wri_docsout *d = calloc(1, sizeof *d);
    *dp = NULL;
    if (d == NULL)
        return WR_ENOMEM;
    d->out = out;
    d->relaxed = relaxed;
    if (wri_ipipe_new(do_line, d, 0, &d->pipe, &d->err) != WR_OK) {
        free(d);
        return WR_ENOMEM;
    }
    *dp = d;
    return WR_OK;
}

int wri_docsout_add(wri_docsout *d, const uint8_t *doc, size_t len,
                    bool checked)
{
    if (d->rc != WR_OK)
        return d->rc;
    if (!checked && wri_bson_check(doc, len, NULL, NULL, 0) != WR_OK)
        return WR_ECORRUPT;
    /* no key: the document stands in for it (never NULL), 0 bytes */
    d->rc = wri_ipipe_add(d->pipe, doc, 0, doc, (uint32_t)len, &d->err);
    return d->rc;
}

int wri_docsout_error(const wri_docsout *d, wr_errbuf *eb)
{
    if (d == NULL || d->rc == WR_OK)
        return WR_OK;
    return wri_err_set(eb, d->rc, d->err.src_file, d->err.src_line, "%s",
                       d->err.msg);
}

int wri_docsout_end(wri_docsout *d, wr_errbuf *eb)
{
    if (d == NULL)
        return WR_OK;
    int rc = wri_ipipe_finish(d->pipe, &d->err); /* its thread is idle */
    if (d->rc == WR_OK)
        d->rc = rc != WR_OK ? rc : do_write(d, true, &d->err);
    rc = wri_docsout_error(d, eb);
    wri_ipipe_free(d->pipe);
    free(d->text.p);
    free(d);
    return rc;
}
