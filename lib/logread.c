/*
 * logread.c -- a JSONL log read with its lines parsed on every core (see
 * logread.h for the contract).
 *
 * Reading a log is mostly parsing, so lines are parsed on every core. The
 * reading thread (the caller's, inside wri_logread_next) fills batches of
 * raw lines and hands each to a pool of parse threads started once per log
 * (never one per batch); a batch is parsed in chunks of LR_CHUNK lines,
 * claimed one at a time under the lock by the pool and by the reading
 * thread while it waits. Parsing a line also runs the caller's check,
 * which makes its key. The caller then takes the lines of the oldest batch
 * in order, with no lock: it sees exactly the sequence a one-thread read
 * would give it, and the first bad line is at the same place. Up to
 * WRI_LOGREAD_RING batches are in flight; a slot is refilled when the
 * caller has taken every line of the batch it held.
 *
 * What ends the reading (the end of the log, a line the line reader
 * refuses, a read error) is kept until the batches read before it are
 * handed out, so it comes in its place.
 */
#include "wr_int.h"

#include "logread.h"
#include "cores.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define LR_BATCH_LINES 512
#define LR_BATCH_BYTES (1u << 20)
#define LR_BATCH_MIN (32u << 10)
#define LR_CHUNK 64
#define LR_MAX_THREADS 8
#define LR_NCHUNKS (LR_BATCH_LINES / LR_CHUNK)

typedef struct lr_item {
    wri_jsonl_line line; /* first: its bson_t wants 128-byte alignment */
    bson_t key;          /* when rc == WR_OK */
    size_t toff;         /* the text's offset in the batch */
    size_t doff;         /* the document's offset in its chunk's arena */
    uint32_t dlen;       /* and its length */
    int rc;              /* WR_OK: doc and key held; else why says why */
    bool unparsed;       /* the line itself is malformed */
    char *why;           /* malloc'd reason of a bad line (NULL: no memory) */
} lr_item;

/* The documents a chunk's lines parse to: copied here by the thread that
 * parsed them (line.doc is a static bson_t over these bytes), so no
 * document is malloc'd on one thread and freed on another (glibc's arena
 * locks made that 15% of a migration's CPU). Kept from batch to batch. */
typedef struct lr_arena {
    uint8_t *buf;
    size_t len, cap;
} lr_arena;

typedef struct lr_batch {
    lr_item *it;
    size_t n;
    char *text;
    size_t tlen, tcap;
    size_t nchunks, claimed, left; /* chunks; under the lock */
    lr_arena arena[LR_NCHUNKS];
} lr_batch;

struct wri_logread {
    wri_jsonl *r;
    char *name;                 /* for messages, as the line reader's */
    wri_logread_check_fn check;
    void *check_arg;
    size_t batch_bytes;
    pthread_mutex_t mu;
    pthread_cond_t work;        /* a chunk to claim, or stop */
    pthread_cond_t done;        /* a batch has no chunk left */
    lr_batch ring[WRI_LOGREAD_RING];
    size_t first, count;        /* ring[first..] submitted, not yet retired */
    bool stop;
    int nth;
    pthread_t th[LR_MAX_THREADS];
    lr_batch *fill;             /* the slot being filled (not submitted) */
    lr_batch *cur;              /* ring[first] while its lines are taken */
    size_t pos;                 /* next line of cur */
    lr_item *held;              /* the line handed out last */
    bool ended;                 /* reading stopped: end_rc, end_eb */
    int end_rc;
    wr_errbuf end_eb;
    wri_jsonl_line rline;       /* the line reader's line */
};

static void lr_item_release(lr_item *it)
{
    if (it->rc == WR_OK) {
        bson_destroy(&it->line.doc);
        bson_destroy(&it->key);
    }
    free(it->why);
    it->why = NULL;
    it->rc = 1;
}

/* What a chunk's arena may keep between batches: about twice what a
 * chunk's documents take (so the arenas hold what the documents malloc'd
 * one by one held before). */
static size_t lr_arena_keep(const wri_logread *lr)
{
    return WRI_MAX(lr->batch_bytes / LR_NCHUNKS * 2, (size_t)64u << 10);
}

static void lr_batch_reset(lr_batch *b, size_t keep)
{
    for (size_t i = 0; i < b->n; i++)
        lr_item_release(&b->it[i]);
    for (size_t i = 0; i < LR_NCHUNKS; i++) {
        lr_arena *a = &b->arena[i];
        a->len = 0;
        if (a->cap > keep) { /* after a huge document: give it back */
            free(a->buf);
            a->buf = NULL;
            a->cap = 0;
        }
    }
    b->n = 0;
    b->tlen = 0;
    b->nchunks = b->claimed = b->left = 0;
}

/* Copy a raw line into the batch. */
static int lr_batch_add(lr_batch *b, const wri_jsonl_line *line,
                        wr_errbuf *eb)
{
    if (b->tlen + line->len + 1 > b->tcap) {
        size_t cap = b->tcap ? b->tcap * 2 : 64u << 10;
        while (cap < b->tlen + line->len + 1)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (t == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        b->text = t;
        b->tcap = cap;
    }
    lr_item *it = &b->it[b->n++];
    memcpy(b->text + b->tlen, line->text, line->len);
    it->line = *line; /* number, offset, length, torn; no doc yet */
    it->toff = b->tlen;
    it->rc = 1;
    it->why = NULL;
    b->tlen += line->len + 1;
    return WR_OK;
}

static int lr_default_check(void *arg, const wri_jsonl_line *line,
                            bson_t *key, char *why, size_t whylen)
{
    wr_errbuf kb = {0};
    int rc = wri_key_from_doc(&line->doc, key, &kb);
    (void)arg;
    if (rc != WR_OK)
        snprintf(why, whylen, "%s", kb.msg);
    return rc;
}

/* Move a parsed document into the arena (same thread: freed where it was
 * allocated). false when out of memory. */
static bool lr_arena_take(lr_arena *a, lr_item *it)
{
    uint32_t len = it->line.doc.len;
    if (a->cap - a->len < len) {
        size_t cap = a->cap ? a->cap * 2 : 64u << 10;
        while (cap - a->len < len)
            cap *= 2;
        uint8_t *nb = realloc(a->buf, cap);
        if (nb == NULL)
            return false;
        a->buf = nb;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, bson_get_data(&it->line.doc), len);
    bson_destroy(&it->line.doc);
    it->doff = a->len;
    it->dlen = len;
    a->len += len;
    return true;
}

/* Parse and check lines [from, to) of b: one chunk, whose documents go
 * into the chunk's arena. */
static void lr_parse_range(const wri_logread *lr, lr_batch *b, size_t from,
                           size_t to)
{
    char why[512];
    lr_arena *a = &b->arena[from / LR_CHUNK];
    for (size_t i = from; i < to; i++) {
        lr_item *it = &b->it[i];
        it->line.text = b->text + it->toff;
        it->unparsed = wri_json_line_parse(it->line.text, it->line.len,
                                           &it->line.doc, &it->line.is_delete,
                                           why, sizeof why) != WR_OK;
        if (it->unparsed)
            it->rc = WR_EBADINPUT;
        else if ((it->rc = lr->check(lr->check_arg, &it->line, &it->key, why,
                                     sizeof why)) != WR_OK)
            bson_destroy(&it->line.doc);
        else if (!lr_arena_take(a, it)) {
            bson_destroy(&it->line.doc);
            bson_destroy(&it->key);
            snprintf(why, sizeof why, "out of memory");
            it->rc = WR_ENOMEM;
        }
        if (it->rc != WR_OK)
            it->why = strdup(why);
    }
    /* the arena has stopped moving: point the documents into it */
    for (size_t i = from; i < to; i++) {
        lr_item *it = &b->it[i];
        if (it->rc == WR_OK &&
            !bson_init_static(&it->line.doc, a->buf + it->doff, it->dlen))
            it->rc = WR_ENOMEM; /* cannot happen: the bytes were a document */
    }
}

/* Under the lock: claim the oldest unclaimed chunk of a submitted batch. */
static bool lr_claim(wri_logread *lr, lr_batch **bo, size_t *chunk)
{
    for (size_t k = 0; k < lr->count; k++) {
        lr_batch *b = &lr->ring[(lr->first + k) % WRI_LOGREAD_RING];
        if (b->claimed < b->nchunks) {
            *bo = b;
            *chunk = b->claimed++;
            return true;
        }
    }
    return false;
}

/* Parse a claimed chunk (lock not held), then count it done (lock
 * held again on return). */
static void lr_run_chunk(wri_logread *lr, lr_batch *b, size_t chunk)
{
    size_t from = chunk * LR_CHUNK;
    pthread_mutex_unlock(&lr->mu);
    lr_parse_range(lr, b, from, WRI_MIN(from + LR_CHUNK, b->n));
    pthread_mutex_lock(&lr->mu);
    if (--b->left == 0)
        pthread_cond_broadcast(&lr->done);
}

/* Under the lock: parse one chunk if there is one, else wait on cv. */
static void lr_help(wri_logread *lr, pthread_cond_t *cv)
{
    lr_batch *b;
    size_t chunk;
    if (lr_claim(lr, &b, &chunk))
        lr_run_chunk(lr, b, chunk);
    else
        pthread_cond_wait(cv, &lr->mu);
}

static void *lr_parse_worker(void *arg)
{
    wri_logread *lr = arg;
    pthread_mutex_lock(&lr->mu);
    while (!lr->stop)
        lr_help(lr, &lr->work);
    pthread_mutex_unlock(&lr->mu);
    return NULL;
}

/* Parts of libbson's JSON reader fill a static table on first use (the
 * ISO-8601 date parser, the base64 decoder): make those uses here, on one
 * thread, before any worker runs (helgrind saw the races). The lines the
 * Extended JSON builder leaves to libbson's parser still get there. */
static void lr_warm_libbson(void)
{
    static const char json[] =
        "{\"d\": {\"$date\": \"2000-01-01T00:00:00.5Z\"}, "
        "\"e\": {\"$date\": {\"$numberLong\": \"1\"}}, \"f\": {\"$date\": 1}, "
        "\"b\": {\"$binary\": {\"base64\": \"AAEC\", \"subType\": \"00\"}}, "
        "\"g\": {\"$binary\": \"AAEC\", \"$type\": \"00\"}, "
        "\"u\": {\"$uuid\": \"73ffd264-44b3-4c69-90e8-e7d1dfc035d4\"}, "
        "\"o\": {\"$oid\": \"000102030405060708090a0b\"}, "
        "\"n\": {\"$numberDecimal\": \"1.5\"}, \"l\": {\"$numberLong\": \"7\"}, "
        "\"i\": {\"$numberInt\": \"7\"}, \"x\": {\"$numberDouble\": \"1.5\"}, "
        "\"r\": {\"$regularExpression\": {\"pattern\": \"a\", \"options\": \"i\"}}, "
        "\"t\": {\"$timestamp\": {\"t\": 1, \"i\": 2}}, "
        "\"c\": {\"$code\": \"f\"}, \"w\": {\"$code\": \"f\", \"$scope\": {}}, "
        "\"s\": {\"$symbol\": \"s\"}, \"k\": {\"$minKey\": 1}, "
        "\"m\": {\"$maxKey\": 1}, \"z\": {\"$undefined\": true}, "
        "\"p\": {\"$dbPointer\": {\"$ref\": \"a.b\", "
        "\"$id\": {\"$oid\": \"000102030405060708090a0b\"}}}}";
    bson_t d;
    bson_error_t err;
    if (bson_init_from_json(&d, json, (ssize_t)sizeof json - 1, &err))
        bson_destroy(&d);
}

void wri_logread_close(wri_logread *lr)
{
    if (lr == NULL)
        return;
    pthread_mutex_lock(&lr->mu);
    lr->stop = true;
    pthread_cond_broadcast(&lr->work);
    pthread_mutex_unlock(&lr->mu);
    for (int i = 0; i < lr->nth; i++)
        pthread_join(lr->th[i], NULL);
    for (int i = 0; i < WRI_LOGREAD_RING; i++) {
        lr_batch_reset(&lr->ring[i], 0);
        free(lr->ring[i].it);
        free(lr->ring[i].text);
    }
    pthread_cond_destroy(&lr->work);
    pthread_cond_destroy(&lr->done);
    pthread_mutex_destroy(&lr->mu);
    wri_jsonl_close(lr->r);
    free(lr->name);
    free(lr);
}

/* Set up the batches and start the parse threads: one fewer than the
 * cores (the reading thread parses too), none if none can be had. */
int wri_logread_open(const char *path, const wri_logread_opts *o,
                     wri_logread **out, wr_errbuf *eb)
{
    int rc;
    wri_logread *lr = calloc(1, sizeof *lr);
    uint64_t mem = o != NULL ? o->memory : 0;
    *out = NULL;
    if (lr == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
    pthread_mutex_init(&lr->mu, NULL);
    pthread_cond_init(&lr->work, NULL);
    pthread_cond_init(&lr->done, NULL);
    lr->check = o != NULL && o->check != NULL ? o->check : lr_default_check;
    lr->check_arg = o != NULL ? o->check_arg : NULL;
    lr->batch_bytes =
        mem == 0 ? LR_BATCH_BYTES
                 : (size_t)WRI_MIN(WRI_MAX(mem / 16 / WRI_LOGREAD_RING,
                                           (uint64_t)LR_BATCH_MIN),
                                   (uint64_t)LR_BATCH_BYTES);
    lr->name = strdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
    if (lr->name == NULL) {
        wri_logread_close(lr);
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < WRI_LOGREAD_RING; i++) {
        lr->ring[i].it =
            aligned_alloc(128, LR_BATCH_LINES * sizeof(lr_item));
        if (lr->ring[i].it == NULL) {
            wri_logread_close(lr);
            return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
        }
    }
    if ((rc = wri_jsonl_open(path, &lr->r, eb)) != WR_OK) {
        wri_logread_close(lr);
        return rc;
    }
    wri_jsonl_set_raw(lr->r, true);
    if (o != NULL && o->crc)
        wri_jsonl_want_crc(lr->r);
    if (o != NULL && o->max_line != 0)
        wri_jsonl_set_max_line(lr->r, o->max_line);
    lr_warm_libbson();
    int want = (int)WRI_MIN(wri_cores() - 1, (long)LR_MAX_THREADS);
    while (lr->nth < want &&
           pthread_create(&lr->th[lr->nth], NULL, lr_parse_worker, lr) == 0)
        lr->nth++;
    *out = lr;
    return WR_OK;
}

/* Hand the filled slot to the parse threads. */
static void lr_submit(wri_logread *lr)
{
    lr_batch *b = lr->fill;
    lr->fill = NULL;
    pthread_mutex_lock(&lr->mu);
    b->nchunks = b->left = (b->n + LR_CHUNK - 1) / LR_CHUNK;
    b->claimed = 0;
    lr->count++;
    pthread_cond_broadcast(&lr->work);
    pthread_mutex_unlock(&lr->mu);
}

/* Read lines into free slots until all are in flight or reading stops. */
static void lr_read(wri_logread *lr)
{
    while (!lr->ended) {
        int rc;
        if (lr->fill == NULL) {
            if (lr->count == WRI_LOGREAD_RING)
                return;
            lr->fill = &lr->ring[(lr->first + lr->count) % WRI_LOGREAD_RING];
        }
        rc = wri_jsonl_next(lr->r, &lr->rline, &lr->end_eb);
        if (rc == WR_OK)
            rc = lr_batch_add(lr->fill, &lr->rline, &lr->end_eb);
        if (rc == WR_OK) {
            if (lr->fill->n == LR_BATCH_LINES ||
                lr->fill->tlen >= lr->batch_bytes)
                lr_submit(lr);
            continue;
        }
        /* the end, a line the line reader refused, or an error: after
         * the lines before it */
        if (lr->fill->n > 0)
            lr_submit(lr);
        lr->fill = NULL;
        lr->ended = true;
        lr->end_rc = rc;
    }
}

/* Wait until the oldest batch is parsed, parsing chunks meanwhile. */
static lr_batch *lr_oldest(wri_logread *lr)
{
    lr_batch *b = &lr->ring[lr->first];
    pthread_mutex_lock(&lr->mu);
    while (b->left > 0)
        lr_help(lr, &lr->done);
    pthread_mutex_unlock(&lr->mu);
    return b;
}

/* Every line of the oldest batch is taken: free its slot. */
static void lr_retire(wri_logread *lr)
{
    lr_batch *b = lr->cur;
    /* out of the parse threads' sight first (they read the fields of
     * submitted batches under the lock), then emptied */
    pthread_mutex_lock(&lr->mu);
    lr->first = (lr->first + 1) % WRI_LOGREAD_RING;
    lr->count--;
    pthread_mutex_unlock(&lr->mu);
    lr_batch_reset(b, lr_arena_keep(lr));
    lr->cur = NULL;
}

/* What stopped the reading, once the lines before it are taken. */
static int lr_end(wri_logread *lr, const wri_jsonl_line **line,
                  bool *unparsed, wr_errbuf *eb)
{
    const wr_errbuf *e = &lr->end_eb;
    int rc = lr->end_rc;
    if (rc == 1)
        return 1;
    wri_err_set(eb, rc, e->src_file, e->src_line, "%s", e->msg);
    if (rc == WR_EBADINPUT) { /* the caller may read on */
        *line = &lr->rline;
        *unparsed = true;
        lr->ended = false;
        wr_errbuf_clear(&lr->end_eb);
    }
    return rc;
}

int wri_logread_next(wri_logread *lr, const wri_jsonl_line **line,
                     const bson_t **key, bool *unparsed, wr_errbuf *eb)
{
    *line = NULL;
    *key = NULL;
    *unparsed = false;
    if (lr->held != NULL) {
        lr_item_release(lr->held);
        lr->held = NULL;
    }
    for (;;) {
        if (lr->cur != NULL && lr->pos == lr->cur->n)
            lr_retire(lr);
        if (lr->cur == NULL) {
            lr_read(lr);
            if (lr->count == 0)
                return lr_end(lr, line, unparsed, eb);
            lr->cur = lr_oldest(lr);
            lr->pos = 0;
            continue;
        }
        lr_item *it = &lr->cur->it[lr->pos++];
        lr->held = it;
        *line = &it->line;
        if (it->rc == WR_OK) {
            *key = &it->key;
            return WR_OK;
        }
        *unparsed = it->unparsed;
        return WR_ERR(eb, it->rc, "%s: line %llu (byte %llu): %s", lr->name,
                      (unsigned long long)it->line.lineno,
                      (unsigned long long)it->line.offset,
                      it->why != NULL ? it->why
                                      : "(out of memory for the reason)");
    }
}

uint64_t wri_logread_bytes_read(const wri_logread *lr)
{
    return wri_jsonl_bytes_read(lr->r);
}

bool wri_logread_crc(const wri_logread *lr, uint64_t *bytes, uint32_t *crc)
{
    return lr->ended && lr->end_rc == 1 && lr->count == 0 &&
           wri_jsonl_crc(lr->r, bytes, crc);
}
