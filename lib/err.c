/*
 * err.c -- error codes, their names, and the error buffer.
 */
#include "wr_int.h"

#include <stdio.h>

static const struct {
    int code;
    const char *name;
    const char *text;
} err_table[] = {
    {WR_OK, "WR_OK", "success"},
    {WR_EINVAL, "WR_EINVAL", "invalid argument"},
    {WR_ECORRUPT, "WR_ECORRUPT", "file is corrupt"},
    {WR_EVERSION, "WR_EVERSION", "unsupported format version"},
    {WR_EIO, "WR_EIO", "I/O error"},
    {WR_ENOSPC, "WR_ENOSPC", "no space left on device"},
    {WR_ENOMEM, "WR_ENOMEM", "out of memory"},
    {WR_ELOCKED, "WR_ELOCKED", "locked by another process"},
    {WR_ENOTFOUND, "WR_ENOTFOUND", "not found"},
    {WR_EEXIST, "WR_EEXIST", "already exists"},
    {WR_EBADINPUT, "WR_EBADINPUT", "malformed input"},
    {WR_EINTR, "WR_EINTR", "interrupted"},
    {WR_ENOTSUP, "WR_ENOTSUP", "operation not supported"},
    {WR_ENOTOURS, "WR_ENOTOURS", "not a wrtools file"},
    {WR_ECHANGED, "WR_ECHANGED", "changed during the check"},
};

const char *wr_errname(int code)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == code)
            return err_table[i].name;
    return "WR_E?";
}

const char *wr_strerror(int code)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == code)
            return err_table[i].text;
    return "unknown error";
}

void wr_errbuf_clear(wr_errbuf *eb)
{
    if (eb == NULL)
        return;
    eb->code = WR_OK;
    eb->src_file = NULL;
    eb->src_line = 0;
    eb->msg[0] = '\0';
}

int wri_err_set(wr_errbuf *eb, int code, const char *src_file, int src_line,
                const char *fmt, ...)
{
    if (eb == NULL || eb->code != WR_OK)
        return code; /* the first, lowest-level message wins */
    eb->code = code;
    eb->src_file = src_file;
    eb->src_line = src_line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
    va_end(ap);
    return code;
}
