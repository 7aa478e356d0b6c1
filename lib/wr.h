/*
 * wr.h -- the one public header of libwr, the wrtools engine library.
 *
 * Tools include only this file. Every fallible call returns WR_OK (0) or a
 * negative wr_err code and fills a caller-provided wr_errbuf with a message
 * that names the file, the place and the reason. The library never prints
 * and never exits.
 */
#ifndef WR_H
#define WR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_VERSION_STRING "0.1.0"
#define WR_FORMAT_VERSION 1

/* Error codes. */
typedef enum wr_err {
    WR_OK = 0,
    WR_EINVAL = -1,    /* bad argument or usage */
    WR_ECORRUPT = -2,  /* bytes on disk break an invariant */
    WR_EVERSION = -3,  /* file written by a newer format version */
    WR_EIO = -4,       /* read/write/fsync failed */
    WR_ENOSPC = -5,    /* disk full */
    WR_ENOMEM = -6,    /* out of memory */
    WR_ELOCKED = -7,   /* another process holds the directory lock */
    WR_ENOTFOUND = -8, /* no such key, file or collection */
    WR_EEXIST = -9,    /* already exists */
    WR_EBADINPUT = -10, /* malformed input line (JSON / Extended JSON) */
    WR_EINTR = -11,    /* interrupted by a signal */
    WR_ENOTSUP = -12,  /* not supported (read-only handle, old checkpoint) */
    WR_ENOTOURS = -13, /* file is not a wrtools file */
} wr_err;

/* Error buffer: the lowest level that knows the facts writes it once. */
typedef struct wr_errbuf {
    int code;
    const char *src_file; /* library source position, for debugging */
    int src_line;
    char msg[1024];
} wr_errbuf;

/* Name of an error code ("WR_ECORRUPT") and a short description. */
const char *wr_strerror(int code);
const char *wr_errname(int code);
/* Reset an error buffer to "no error". */
void wr_errbuf_clear(wr_errbuf *eb);

#endif /* WR_H */
