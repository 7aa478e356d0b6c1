/*
 * parse.c -- a limit for migrate and load: parsing the lines of a JSONL
 * file into BSON and nothing else (no sorting, no storage), with libbson's
 * parser or (-w) with wrtools' own strict reader (wri_json_line_parse:
 * what wr-load and wr-migrate run).
 *
 *   parse [-w] [-j THREADS] FILE
 *
 * The file is mapped and cut into THREADS parts at line boundaries; each
 * thread parses each non-blank line of its part. Prints lines, BSON bytes
 * and lines refused (exit 1 if any).
 */
#include "wr_int.h"

#include <bson/bson.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct part {
    const char *p, *end;
    uint64_t lines, bson_bytes, bad;
    pthread_t tid;
} part;

static bool use_wr; /* -w: wrtools' reader */

static bool parse_line(const char *p, size_t len, bson_t *doc)
{
    bson_error_t err;
    bool del;
    char why[256];
    if (use_wr)
        return wri_json_line_parse(p, len, doc, &del, why, sizeof why) ==
               WR_OK;
    return bson_init_from_json(doc, p, (ssize_t)len, &err);
}

static void *parse_part(void *arg)
{
    part *pt = arg;
    const char *p = pt->p;
    while (p < pt->end) {
        const char *nl = memchr(p, '\n', (size_t)(pt->end - p));
        const char *e = nl ? nl : pt->end;
        size_t len = (size_t)(e - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len > 0) {
            bson_t doc;
            if (parse_line(p, len, &doc)) {
                pt->bson_bytes += doc.len;
                bson_destroy(&doc);
            } else {
                pt->bad++;
            }
            pt->lines++;
        }
        p = e + 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int nthreads = 1, opt, fd;
    struct stat st;
    part parts[64];
    const char *base;
    uint64_t lines = 0, bytes = 0, bad = 0;
    while ((opt = getopt(argc, argv, "wj:")) != -1) {
        if (opt == 'j' && atoi(optarg) >= 1 && atoi(optarg) <= 64)
            nthreads = atoi(optarg);
        else if (opt == 'w')
            use_wr = true;
        else {
            fprintf(stderr, "usage: parse [-w] [-j THREADS] FILE\n");
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: parse [-w] [-j THREADS] FILE\n");
        return 2;
    }
    fd = open(argv[optind], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "parse: %s: %s\n", argv[optind], strerror(errno));
        return 3;
    }
    if (st.st_size == 0) {
        printf("0 lines, 0 BSON bytes, 0 rejected\n");
        return 0;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
        fprintf(stderr, "parse: %s: mmap: %s\n", argv[optind],
                strerror(errno));
        return 3;
    }
    const char *end = base + st.st_size, *p = base;
    for (int i = 0; i < nthreads; i++) {
        const char *cut = i == nthreads - 1
                              ? end
                              : base + (st.st_size / nthreads) * (i + 1);
        if (cut < p)
            cut = p;
        if (cut < end) {
            const char *nl = memchr(cut, '\n', (size_t)(end - cut));
            cut = nl ? nl + 1 : end;
        }
        memset(&parts[i], 0, sizeof parts[i]);
        parts[i].p = p;
        parts[i].end = cut;
        p = cut;
    }
    for (int i = 1; i < nthreads; i++)
        if (pthread_create(&parts[i].tid, NULL, parse_part, &parts[i]) != 0) {
            fprintf(stderr, "parse: cannot start a thread\n");
            return 3;
        }
    parse_part(&parts[0]);
    for (int i = 0; i < nthreads; i++) {
        if (i > 0)
            pthread_join(parts[i].tid, NULL);
        lines += parts[i].lines;
        bytes += parts[i].bson_bytes;
        bad += parts[i].bad;
    }
    printf("%llu lines, %llu BSON bytes, %llu rejected\n",
           (unsigned long long)lines, (unsigned long long)bytes,
           (unsigned long long)bad);
    munmap((void *)base, (size_t)st.st_size);
    close(fd);
    return bad ? 1 : 0;
}
