/*
 * peer_wt.c -- the WiredTiger peer: load the benchmark's JSONL into a
 * table `_id` -> BSON (key_format=u, value_format=u, default page sizes,
 * no compression) through a bulk cursor, or apply it line by line.
 *
 *   peer_wt load DIR FILE     parse with libbson, sort, last version wins,
 *                             bulk cursor into a new table:docs, close
 *                             (closing takes the checkpoint)
 *   peer_wt apply DIR FILE    upserts and deletes in file order
 *   peer_wt --check           exit 0 if WiredTiger is usable here
 *
 * Built only where <wiredtiger.h> exists; libwiredtiger is opened with
 * dlopen (see peer.h).
 */
#include <stdio.h>

#if defined(__has_include)
#if __has_include(<wiredtiger.h>)
#define HAVE_PEER 1
#endif
#endif

#ifndef HAVE_PEER
int main(void)
{
    fprintf(stderr, "peer_wt: peer not installed (no wiredtiger.h at build "
                    "time; make bench-peers, then make bench)\n");
    return 77;
}
#else

#include "peer.h"

#include <dlfcn.h>
#include <wiredtiger.h>

static __typeof__(wiredtiger_open) *p_open;
static __typeof__(wiredtiger_strerror) *p_strerror;
static __typeof__(wiredtiger_version) *p_version;

static int wt_dlopen(void)
{
    static const char *const names[] = {"libwiredtiger.so.0",
                                        "libwiredtiger.so"};
    void *h = NULL;
    for (size_t i = 0; i < 2 && h == NULL; i++)
        h = dlopen(names[i], RTLD_NOW);
    if (h == NULL) {
        fprintf(stderr, "peer_wt: peer not installed (%s)\n", dlerror());
        return -1;
    }
    p_open = (__typeof__(p_open))dlsym(h, "wiredtiger_open");
    p_strerror = (__typeof__(p_strerror))dlsym(h, "wiredtiger_strerror");
    p_version = (__typeof__(p_version))dlsym(h, "wiredtiger_version");
    if (p_open == NULL || p_strerror == NULL || p_version == NULL) {
        fprintf(stderr, "peer_wt: peer not installed (missing symbols)\n");
        return -1;
    }
    return 0;
}

#define WT_TRY(what, call)                                                   \
    do {                                                                     \
        int ret_ = (call);                                                   \
        if (ret_ != 0) {                                                     \
            fprintf(stderr, "peer_wt: %s: %s\n", what, p_strerror(ret_));    \
            rc = 3;                                                          \
            goto out;                                                        \
        }                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    int rc = 0;
    peer_input in = {0};
    WT_CONNECTION *conn = NULL;
    WT_SESSION *s = NULL;
    WT_CURSOR *c = NULL;
    bool load;
    double t0;
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        if (wt_dlopen() != 0)
            return PEER_EXIT_ABSENT;
        printf("%s\n", p_version(NULL, NULL, NULL));
        return 0;
    }
    if (argc != 4 || (strcmp(argv[1], "load") != 0 &&
                      strcmp(argv[1], "apply") != 0))
        return peer_usage("peer_wt");
    load = strcmp(argv[1], "load") == 0;
    if (wt_dlopen() != 0)
        return PEER_EXIT_ABSENT;
    if (mkdir(argv[2], 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "peer_wt: %s: %s\n", argv[2], strerror(errno));
        return 3;
    }
    if ((rc = peer_read(argv[3], &in)) != 0)
        goto out;
    if (load)
        peer_sort_last_wins(&in);
    t0 = peer_now();
    WT_TRY("wiredtiger_open",
           p_open(argv[2], NULL, "create,cache_size=512M", &conn));
    WT_TRY("open_session", conn->open_session(conn, NULL, NULL, &s));
    WT_TRY("create", s->create(s, "table:docs",
                               "key_format=u,value_format=u"));
    WT_TRY("open_cursor",
           s->open_cursor(s, "table:docs", NULL, load ? "bulk" : NULL, &c));
    for (size_t i = 0; i < in.n; i++) {
        WT_ITEM k = {.data = peer_key(&in, i), .size = in.rec[i].klen};
        c->set_key(c, &k);
        if (in.rec[i].vlen == 0) {
            int ret = c->remove(c);
            if (ret != 0 && ret != WT_NOTFOUND)
                WT_TRY("remove", ret);
        } else {
            WT_ITEM v = {.data = peer_val(&in, i), .size = in.rec[i].vlen};
            c->set_value(c, &v);
            WT_TRY("insert", c->insert(c));
        }
    }
    WT_TRY("cursor close", c->close(c));
    c = NULL;
    WT_TRY("close", conn->close(conn, NULL));
    conn = NULL;
    peer_report("peer_wt", argv[1], &in, peer_now() - t0);
out:
    if (conn != NULL)
        conn->close(conn, NULL);
    peer_free(&in);
    return rc;
}
#endif
