/*
 * migrate.c -- wr_migrate (wr.h): a legacy append-log directory becomes a
 * wrtools database in place. docs/LEGACY.md is the long form.
 *
 *   1. lock DIR ("wr-migrate"; a dry run only checks nobody holds it);
 *      finish an interrupted migration (replace.h restart rules);
 *   2. list and classify DIR (legacy.h): missing, empty, already
 *      migrated, mixed, or legacy;
 *   3. CRC-32 every legacy file but the logs, then read every NAME.log
 *      with the strict reader, its CRC-32 taken as it is read, its lines
 *      parsed on every core (logread.h; each line's key made and its sizes
 *      checked there too), into one LAST_WINS sorter per collection (sort.h:
 *      key = _id key, seq = line number, value = the document's BSON, a
 *      $deleted line a tombstone). A bad line stops everything here, with
 *      nothing touched (or, skip_bad, goes to the rejects file); a torn
 *      last line is reported and dropped. A dry run counts and stops;
 *   4. back up every legacy file and the rejects file (backup.h: copies,
 *      MANIFEST, copies read back; a copy must have the CRC seen in 3);
 *   5. build in DIR/wr-migrate.new: per collection the main table from
 *      the merged sorter (bulk loader), index keys of every live document
 *      into one PLAIN sorter per index, then each index tree; the catalog;
 *   6. verify the staged database (wr_verify, full, its index
 *      cross-check included), then check content against what step 5
 *      fed: each main table holds as many documents and the same keys
 *      and documents in _id order (the item fingerprint, wri_itemsum, the
 *      build took of the sorter's output against the one the verify took
 *      of the new file: a check against bugs, not adversaries), and each
 *      index was built and found by the verify to hold exactly the keys
 *      of its table's documents. The sorter is read once;
 *   7. check that the legacy files still have the CRC of step 3, then
 *      commit (replace.h: journal, moves, catalog last, legacy files
 *      removed, journal removed).
 */
#include "diag.h"
#include "docin.h"
#include "wr_int.h"

#include "legacy.h"
#include "logread.h"
#include "migrate.h"
#include "replace.h"
#include "sort.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MG_MAX_DOC (16u << 20)
#define MG_PROGRESS_STEP (256u << 10)
#define MG_FILL 100

typedef struct mg_coll {
    wri_legacy_coll *lc;
    wr_migrate_coll *cs;
    wri_sort *main;
    char *main_file;
    char **idx_file;
    uint64_t main_gen;
    uint64_t *idx_gen;
    /* the item fingerprint of what the main table's build fed the bulk
     * loader (keys and documents in order), for the content check */
    uint8_t fed[WR_DIGEST_LEN];
} mg_coll;

typedef struct mg {
    const wr_migrate_opts *o;
    wr_migrate_stats *st;
    const char *dir;
    char *staging;   /* DIR/wr-migrate.new */
    uint32_t psize;
    uint64_t budget; /* for the sorters: --memory less the rest */
    uint64_t read_memory; /* for the log reader's batches (logread.h) */
    wri_lock *lock;
    wri_legacy_dir ld;
    uint64_t *fsize; /* per legacy file (ld.files order): size and CRC */
    uint32_t *fcrc;
    wri_sort_pool *pool;
    mg_coll *mc;
    size_t nmc;
    wri_file *rej;   /* the rejects file being written */
    char *rej_path;
    uint64_t rej_off;
    bool staged;     /* staging directory made by this run */
    bool journaled;  /* the journal was written: never clean up staging */
    uint64_t idx_runs;    /* runs and bytes the index sorters spilled */
    uint64_t idx_spilled;
    wri_backup backup;
    uint64_t bytes_done;
    uint64_t next_progress;
} mg;

/* --- stats and notes ------------------------------------------------------ */

void wr_migrate_stats_free(wr_migrate_stats *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->ncoll; i++) {
        free(st->coll[i].name);
        for (size_t j = 0; j < st->coll[i].nindex; j++)
            free(st->coll[i].indexes[j]);
        free(st->coll[i].indexes);
    }
    free(st->coll);
    free(st->backup_dir);
    free(st->rejects);
    for (size_t i = 0; i < st->nnotes; i++)
        free(st->notes[i]);
    free(st->notes);
    memset(st, 0, sizeof *st);
}

static void mg_note(wr_migrate_stats *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void mg_note(wr_migrate_stats *st, const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nn = realloc(st->notes, (st->nnotes + 1) * sizeof *nn);
    if (nn == NULL)
        return;
    st->notes = nn;
    if ((nn[st->nnotes] = strdup(buf)) != NULL)
        st->nnotes++;
}

static void mg_progress(mg *m, bool force)
{
    if (m->o->progress == NULL)
        return;
    if (!force && m->st->bytes_read < m->next_progress)
        return;
    m->next_progress = m->st->bytes_read + MG_PROGRESS_STEP;
    m->o->progress(m->st, m->o->progress_arg);
}

static void mg_phase(mg *m, const char *phase)
{
    m->st->phase = phase;
    m->st->docs_done = 0;
    mg_progress(m, true);
}

static int mg_interrupted(mg *m, wr_errbuf *eb)
{
    if (m->o->interrupted != NULL && *m->o->interrupted)
        return WR_ERR(eb, WR_EINTR, "%s: interrupted while %s; nothing was "
                      "replaced", m->dir, m->st->phase ? m->st->phase : "starting");
    return WR_OK;
}

/* --- the lock ------------------------------------------------------------------ */

/* A dry run takes no lock (it would create DIR/LOCK) but refuses to run
 * while someone holds it. */
static int mg_probe_lock(const char *dir, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_file *f = NULL;
    char *path = wri_path_join(dir, WR_LOCK_NAME);
    struct stat st;
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (stat(path, &st) != 0)
        goto out; /* no lock file: nobody holds it */
    if ((rc = wri_io_open(path, WRI_IO_RDONLY, &f, eb)) != WR_OK)
        goto out;
    if (flock(f->fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        char text[256];
        size_t got = 0;
        long pid = 0;
        int used = 0;
        if (wri_io_pread_some(f, text, sizeof text - 1, 0, &got, NULL) != WR_OK)
            got = 0;
        text[got] = '\0';
        text[strcspn(text, "\n")] = '\0';
        if (sscanf(text, "%ld %n", &pid, &used) >= 1 && pid > 0 &&
            text[used] != '\0')
            rc = WR_ERR(eb, WR_ELOCKED, "%s is locked by pid %ld (%s)", dir,
                        pid, text + used);
        else
            rc = WR_ERR(eb, WR_ELOCKED, "%s is locked by another process",
                        dir);
    }
out:
    wri_io_close(f); /* releases a shared lock taken above */
    free(path);
    return rc;
}

/* --- rejects ------------------------------------------------------------------ */

/* One rejected line as a JSON object on a line of the rejects file, its
 * file named DIR/LOG as the messages name it. */
static int mg_reject(mg *m, const char *log, const wri_jsonl_line *line,
                     const char *reason, bool torn, wr_errbuf *eb)
{
    int rc;
    char *path;
    if (m->o->dry_run)
        return WR_OK;
    if (m->rej == NULL) {
        if ((m->rej_path = wri_path_join(m->dir, WRI_MIGRATE_REJECTS_TMP)) ==
            NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        if ((rc = wri_io_open(m->rej_path,
                              WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_TRUNC,
                              &m->rej, eb)) != WR_OK)
            return rc;
    }
    size_t len;
    char *json = (path = wri_path_join(m->dir, log)) != NULL
                     ? wri_reject_json(path, line, reason, torn, &len)
                     : NULL;
    free(path);
    if (json == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    rc = wri_io_pwrite(m->rej, json, len, m->rej_off, eb);
    m->rej_off += len;
    free(json);
    return rc;
}

/* --- reading the logs ----------------------------------------------------------- */

typedef struct mg_keycheck {
    uint32_t max;
    const char *field;
    char *why;
    size_t whylen;
} mg_keycheck;

static int mg_keycheck_fn(const bson_t *key, void *arg)
{
    mg_keycheck *k = arg;
    if (key->len > k->max) {
        snprintf(k->why, k->whylen,
                 "index on \"%s\": key of %u bytes is longer than the %u "
                 "bytes the page size allows",
                 k->field, key->len, k->max);
        return WR_EBADINPUT;
    }
    return WR_OK;
}

/* A reason cut to fit why[whylen]. */
static void mg_why_copy(char *why, size_t whylen, const char *msg)
{
    size_t n = strnlen(msg, whylen - 1);
    memcpy(why, msg, n);
    why[n] = '\0';
}

/* Check one parsed line and make its main-table key (*key, which the
 * caller destroys on WR_OK): pure, so the parse threads do it. WR_EBADINPUT
 * with a reason in why when the document cannot be stored. */
static int mg_check_line(const mg *m, const mg_coll *c,
                         const wri_jsonl_line *line, bson_t *key, char *why,
                         size_t whylen)
{
    int rc;
    wr_errbuf kb = {0};
    uint32_t maxkey = wri_page_max_key(m->psize);
    if (wri_key_from_doc(&line->doc, key, &kb) != WR_OK) {
        mg_why_copy(why, whylen, kb.msg);
        return WR_EBADINPUT;
    }
    if (key->len > maxkey) {
        snprintf(why, whylen,
                 "_id of %u bytes is longer than the %u bytes a %u-byte "
                 "page allows", key->len, maxkey, m->psize);
        rc = WR_EBADINPUT;
        goto out;
    }
    if (line->is_delete)
        return WR_OK;
    if (line->doc.len > MG_MAX_DOC) {
        snprintf(why, whylen, "document of %u bytes is over BSON's 16 MiB "
                 "limit", line->doc.len);
        rc = WR_EBADINPUT;
        goto out;
    }
    /* an index key holds a value of the document and the _id: only a
     * document this large can make one too long */
    if ((uint64_t)line->doc.len + key->len > maxkey) {
        for (size_t i = 0; i < c->lc->nfields; i++) {
            mg_keycheck k = {maxkey, c->lc->fields[i], why, whylen};
            why[0] = '\0';
            rc = wri_index_keys(&line->doc, k.field, mg_keycheck_fn, &k, &kb);
            if (rc != WR_OK) {
                if (why[0] == '\0')
                    mg_why_copy(why, whylen, kb.msg);
                rc = WR_EBADINPUT;
                goto out;
            }
        }
    }
    return WR_OK;
out:
    bson_destroy(key);
    return rc;
}

/* Add one checked line to its collection's sorter. */
static int mg_put_line(mg_coll *c, const wri_jsonl_line *line,
                       const bson_t *key, wr_errbuf *eb)
{
    int rc = wri_legacy_line_add(c->main, line, key, eb);
    if (rc == WR_OK && line->is_delete)
        c->cs->deletes++;
    else if (rc == WR_OK)
        c->cs->puts++;
    return rc;
}

/* A bad line (eb says why). A torn last line that does not parse is the
 * debris of a crash during an append: noted and dropped. Any other is
 * counted and, with --skip-bad, set aside in the rejects file (WR_OK: go
 * on); without it the migration stops (WR_EBADINPUT). */
static int mg_bad_line(mg *m, mg_coll *c, const wri_jsonl_line *line,
                       bool unparsed, wr_errbuf *eb)
{
    char reason[sizeof eb->msg];
    bool torn = wri_legacy_line_torn(line, unparsed);
    if (torn) {
        c->cs->torn++;
        mg_note(m->st, "%s (a torn last line: dropped)", eb->msg);
    } else {
        c->cs->bad++;
        if (!m->o->skip_bad)
            return WR_EBADINPUT;
    }
    snprintf(reason, sizeof reason, "%s", eb->msg);
    wr_errbuf_clear(eb);
    return mg_reject(m, c->lc->log, line, reason, torn, eb);
}

/* The check the parse threads run on each line (logread.h). */
typedef struct mg_lineck {
    const mg *m;
    const mg_coll *c;
} mg_lineck;

static int mg_check_fn(void *arg, const wri_jsonl_line *line, bson_t *key,
                       char *why, size_t whylen)
{
    const mg_lineck *k = arg;
    return mg_check_line(k->m, k->c, line, key, why, whylen);
}

/* Is this legacy file a collection's log? */
static bool mg_is_log(const mg *m, const char *file)
{
    for (size_t i = 0; i < m->nmc; i++)
        if (strcmp(m->mc[i].lc->log, file) == 0)
            return true;
    return false;
}

/* The size and CRC-32 of a log, as its one read saw them: what the backup
 * and the final check compare with. */
static int mg_note_log_crc(mg *m, const mg_coll *c, const wri_logread *lr,
                           wr_errbuf *eb)
{
    uint64_t size;
    uint32_t crc;
    if (!wri_logread_crc(lr, &size, &crc))
        return WR_ERR(eb, WR_EIO, "%s/%s: no checksum after reading it",
                      m->dir, c->lc->log);
    for (size_t i = 0; i < m->ld.nfiles; i++) {
        if (strcmp(m->ld.files[i], c->lc->log) == 0) {
            m->fsize[i] = size;
            m->fcrc[i] = crc;
        }
    }
    return WR_OK;
}

/* A log into its collection's sorter, its lines parsed on every core
 * (logread.h) and applied here in order; its CRC-32 taken on the way. */
static int mg_read_log(mg *m, mg_coll *c, wr_errbuf *eb)
{
    int rc;
    wri_logread *lr = NULL;
    mg_lineck ck = {m, c};
    wri_logread_opts lo = {.memory = m->read_memory,
                           .check = mg_check_fn,
                           .check_arg = &ck,
                           .crc = true};
    char *path = wri_path_join(m->dir, c->lc->log);
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_sort_create(m->pool, WRI_SORT_LAST_WINS, &c->main, eb)) !=
            WR_OK ||
        (rc = wri_logread_open(path, &lo, &lr, eb)) != WR_OK)
        goto out;
    for (;;) {
        const wri_jsonl_line *line;
        const bson_t *key;
        bool unparsed;
        if ((rc = mg_interrupted(m, eb)) != WR_OK)
            goto out;
        rc = wri_logread_next(lr, &line, &key, &unparsed, eb);
        if (rc == 1)
            break;
        if (rc != WR_OK && rc != WR_EBADINPUT)
            goto out;
        c->cs->lines++;
        rc = rc == WR_OK ? mg_put_line(c, line, key, eb)
                         : mg_bad_line(m, c, line, unparsed, eb);
        if (rc != WR_OK)
            goto out;
        m->st->bytes_read = m->bytes_done + wri_logread_bytes_read(lr);
        mg_progress(m, false);
    }
    rc = mg_note_log_crc(m, c, lr, eb);
    m->bytes_done += wri_logread_bytes_read(lr);
    m->st->bytes_read = m->bytes_done;
out:
    wri_logread_close(lr);
    free(path);
    return rc;
}

/* --- dry run: count what a migration would do ----------------------------------- */

static int mg_count(mg *m, mg_coll *c, wr_errbuf *eb)
{
    int rc;
    wri_sort_iter *it = NULL;
    wri_sort_rec rec;
    wr_digest *dg = NULL;
    uint8_t d[WR_DIGEST_LEN];
    if ((rc = wri_sort_finish(c->main, 0, eb)) != WR_OK ||
        (m->o->digest != WR_DIGEST_NONE &&
         (rc = wr_digest_new_kind(m->o->digest, &dg, eb)) != WR_OK) ||
        (rc = wri_sort_iter_open(c->main, &it, eb)) != WR_OK)
        goto out;
    while ((rc = wri_sort_iter_next(it, &rec, eb)) == WR_OK) {
        if (dg != NULL)
            wr_digest_add(dg, rec.val, rec.vlen);
        c->cs->live++;
    }
    if (rc != 1)
        goto out;
    rc = WR_OK;
    wri_sort_counts k;
    wri_sort_iter_counts(it, &k);
    c->cs->inserted = k.inserted;
    c->cs->updated = k.replaced;
    c->cs->deleted = k.deleted;
    c->cs->missing = k.missing;
    if (dg != NULL) {
        wr_digest_final(dg, d);
        wr_digest_hex(m->o->digest, d, c->cs->digest);
    }
out:
    wri_sort_iter_close(it);
    wr_digest_free(dg);
    return rc;
}

/* --- building --------------------------------------------------------------------- */

typedef struct mg_idxadd {
    wri_sort *s;
    uint64_t *seq;
    wr_errbuf *eb;
} mg_idxadd;

static int mg_idxadd_fn(const bson_t *key, void *arg)
{
    mg_idxadd *a = arg;
    return wri_sort_add(a->s, bson_get_data(key), key->len, NULL, 0,
                        ++*a->seq, 0, 0, a->eb);
}

static uint64_t mg_file_size(const char *dir, const char *name)
{
    struct stat st;
    char *p = wri_path_join(dir, name);
    uint64_t n = 0;
    if (p != NULL && stat(p, &st) == 0)
        n = (uint64_t)st.st_size;
    free(p);
    return n;
}

/* Bulk-load one tree file in the staging directory from a sorter. */
static int mg_build_tree(mg *m, const char *coll, const char *field,
                         const char *file, wri_sort *s, mg_idxadd *idx,
                         size_t nidx, const char *const *fields,
                         wri_itemsum *items, uint64_t *gen_out, wr_errbuf *eb)
{
    int rc;
    wri_block *blk = NULL;
    wri_bulk *bulk = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec rec;
    char *path = wri_path_join(m->staging, file);
    wri_block_cfg cfg = {.page_size = m->psize,
                         .role = field ? WRI_ROLE_INDEX : WRI_ROLE_MAIN,
                         .coll = coll,
                         .field = field};
    if (path == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_block_create(path, &cfg, &blk, eb)) != WR_OK ||
        (rc = wri_bulk_open(blk, MG_FILL, &bulk, eb)) != WR_OK ||
        (rc = wri_sort_iter_open(s, &it, eb)) != WR_OK)
        goto out;
    for (uint64_t n = 0; (rc = wri_sort_iter_next(it, &rec, eb)) == WR_OK;
         n++) {
        if ((n & 1023) == 0) {
            if ((rc = mg_interrupted(m, eb)) != WR_OK)
                goto out;
            m->st->docs_done = n;
            mg_progress(m, n % 16384 == 0);
        }
        /* an index value is empty: pass a valid pointer all the same */
        if ((rc = wri_bulk_add(bulk, rec.key, rec.klen,
                               rec.vlen ? rec.val : rec.key, rec.vlen, eb)) !=
            WR_OK)
            goto out;
        if (items != NULL)
            wri_itemsum_add(items, rec.key, rec.klen, rec.val, rec.vlen);
        if (nidx > 0) {
            bson_t doc;
            if (!bson_init_static(&doc, rec.val, rec.vlen)) {
                rc = WR_ERR(eb, WR_ECORRUPT, "%s: a sorted document is not "
                            "BSON", path);
                goto out;
            }
            for (size_t i = 0; i < nidx; i++)
                if ((rc = wri_index_keys(&doc, fields[i], mg_idxadd_fn,
                                         &idx[i], eb)) != WR_OK)
                    goto out;
        }
    }
    if (rc != 1)
        goto out;
    if (field == NULL) {
        wri_sort_counts k;
        wri_sort_iter_counts(it, &k);
        for (size_t i = 0; i < m->nmc; i++) {
            if (m->mc[i].main != s)
                continue;
            wr_migrate_coll *cs = m->mc[i].cs;
            cs->inserted = k.inserted;
            cs->updated = k.replaced;
            cs->deleted = k.deleted;
            cs->missing = k.missing;
            cs->live = wri_bulk_count(bulk);
        }
    }
    if ((rc = wri_bulk_finish(bulk, eb)) != WR_OK)
        goto out;
    *gen_out = blk->cur.gen;
out:
    wri_sort_iter_close(it);
    wri_bulk_free(bulk);
    wri_block_close(blk);
    free(path);
    return rc;
}

static int mg_build_coll(mg *m, mg_coll *c, wr_errbuf *eb)
{
    int rc;
    size_t nf = c->lc->nfields;
    wri_sort **isort = NULL;
    mg_idxadd *adds = NULL;
    uint64_t seq = 0;
    wri_itemsum fed = {0};
    if ((c->main_file = wri_tree_file_name(c->lc->name, NULL)) == NULL ||
        (nf > 0 && ((c->idx_file = calloc(nf, sizeof *c->idx_file)) == NULL ||
                    (c->idx_gen = calloc(nf, sizeof *c->idx_gen)) == NULL ||
                    (isort = calloc(nf, sizeof *isort)) == NULL ||
                    (adds = calloc(nf, sizeof *adds)) == NULL))) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nf; i++)
        if ((c->idx_file[i] = wri_tree_file_name(c->lc->name,
                                                 c->lc->fields[i])) == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto out;
        }
    /* keep a quarter of the budget for the index keys */
    if ((rc = wri_sort_finish(c->main, nf ? m->budget / 4 : 0, eb)) != WR_OK)
        goto out;
    for (size_t i = 0; i < nf; i++) {
        if ((rc = wri_sort_create(m->pool, WRI_SORT_PLAIN, &isort[i], eb)) !=
            WR_OK)
            goto out;
        adds[i] = (mg_idxadd){isort[i], &seq, eb};
    }
    if ((rc = mg_build_tree(m, c->lc->name, NULL, c->main_file, c->main, adds,
                            nf, (const char *const *)c->lc->fields, &fed,
                            &c->main_gen, eb)) != WR_OK)
        goto out;
    wri_itemsum_final(&fed, c->fed);
    c->cs->bytes_out = mg_file_size(m->staging, c->main_file);
    for (size_t i = 0; i < nf; i++) {
        if ((rc = wri_sort_finish(isort[i], 0, eb)) != WR_OK ||
            (rc = mg_build_tree(m, c->lc->name, c->lc->fields[i],
                                c->idx_file[i], isort[i], NULL, 0, NULL, NULL,
                                &c->idx_gen[i], eb)) != WR_OK)
            goto out;
        c->cs->bytes_out += mg_file_size(m->staging, c->idx_file[i]);
        wri_sort_info info;
        wri_sort_get_info(isort[i], &info);
        m->idx_runs += info.runs_written;
        m->idx_spilled += info.spilled;
        wri_sort_destroy(isort[i]);
        isort[i] = NULL;
    }
out:
    for (size_t i = 0; isort != NULL && i < nf; i++)
        wri_sort_destroy(isort[i]);
    free(isort);
    free(adds);
    return rc;
}

static int mg_write_catalog(mg *m, wr_errbuf *eb)
{
    int rc;
    wri_catalog cat = {.gen = 1};
    if ((cat.coll = calloc(m->nmc ? m->nmc : 1, sizeof *cat.coll)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->nmc; i++, cat.ncoll++) {
        mg_coll *c = &m->mc[i];
        wri_cat_coll *cc = &cat.coll[i];
        size_t nf = c->lc->nfields;
        cc->name = strdup(c->lc->name);
        cc->main.file = strdup(c->main_file);
        cc->main.gen = c->main_gen;
        if (nf > 0 && (cc->idx = calloc(nf, sizeof *cc->idx)) == NULL)
            goto nomem;
        if (cc->name == NULL || cc->main.file == NULL)
            goto nomem;
        for (size_t j = 0; j < nf; j++, cc->nidx++) {
            cc->idx[j].file = strdup(c->idx_file[j]);
            cc->idx[j].field = strdup(c->lc->fields[j]);
            cc->idx[j].gen = c->idx_gen[j];
            if (cc->idx[j].file == NULL || cc->idx[j].field == NULL) {
                cc->nidx++;
                goto nomem;
            }
        }
    }
    rc = wri_catalog_write(m->staging, &cat, NULL, eb);
    wri_catalog_free(&cat);
    return rc;
nomem:
    cat.ncoll++;
    wri_catalog_free(&cat);
    return WR_ERR(eb, WR_ENOMEM, "out of memory");
}

/* Indexes built, over every collection. */
static size_t mg_nindex(const mg *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nmc; i++)
        n += m->mc[i].lc->nfields;
    return n;
}

/* --- verify and content check ------------------------------------------------------ */

/* The selected checkpoint of a verified file (NULL: none). */
static const wr_verify_ckpt *mg_selected(const wr_verify_file *f)
{
    for (size_t k = 0; k < f->nckpt; k++)
        if (f->ckpt[k].selected)
            return &f->ckpt[k];
    return NULL;
}

/* One collection's files in the staged database's verify report hold
 * what the build fed: the main table as many documents, the same keys and
 * documents in order (its item fingerprint equals the build's), and
 * each index built and found by the verify's cross-check to hold exactly
 * the keys of those documents. */
static int mg_check_coll(const mg_coll *c, const wr_verify_report *r,
                         wr_errbuf *eb)
{
    const char *name = c->lc->name;
    size_t nmain = 0, nidx = 0;
    for (size_t i = 0; i < r->nfiles; i++) {
        const wr_verify_file *f = &r->files[i];
        const wr_verify_ckpt *ck = mg_selected(f);
        if (strcmp(f->coll, name) != 0)
            continue;
        if (ck == NULL)
            return WR_ERR(eb, WR_ECORRUPT, "content check: %s was not "
                          "verified", f->path);
        if (f->role == WRI_ROLE_MAIN) {
            nmain++;
            if (ck->keys != c->cs->live)
                return WR_ERR(eb, WR_ECORRUPT,
                              "content check: collection \"%s\": the new main "
                              "table holds %llu documents, %llu were written",
                              name, (unsigned long long)ck->keys,
                              (unsigned long long)c->cs->live);
            if (!ck->has_item_digest ||
                memcmp(ck->item_digest, c->fed, WR_DIGEST_LEN) != 0)
                return WR_ERR(eb, WR_ECORRUPT,
                              "content check: collection \"%s\": the new main "
                              "table's keys or documents differ from the live "
                              "legacy documents written (fingerprints differ)",
                              name);
            continue;
        }
        bool ours = false;
        for (size_t k = 0; k < c->lc->nfields; k++)
            ours |= f->role == WRI_ROLE_INDEX &&
                    strcmp(f->field, c->lc->fields[k]) == 0;
        if (!ours || !ck->index_checked || ck->index_missing != 0 ||
            ck->index_dangling != 0 || ck->index_expected != ck->keys)
            return WR_ERR(eb, WR_ECORRUPT,
                          "content check: collection \"%s\": %s is not an "
                          "index built for it, or does not hold exactly the "
                          "keys of its documents%s%s",
                          name, f->path, ck->index_note[0] ? ": " : "",
                          ck->index_note);
        nidx++;
    }
    if (nmain != 1 || nidx != c->lc->nfields)
        return WR_ERR(eb, WR_ECORRUPT,
                      "content check: collection \"%s\" has %zu main tables "
                      "and %zu indexes, 1 and %zu were built",
                      name, nmain, nidx, c->lc->nfields);
    return WR_OK;
}

/* The full checks of wr_verify() on the staged database, its index
 * cross-check included; with opts.digest, the digest verify computes of
 * each main table becomes the collection's reported digest. Then the
 * content check (mg_check_coll), from the report: the files hold what the
 * build fed. */
static int mg_verify(mg *m, wr_errbuf *eb)
{
    int rc;
    wr_verify_report *r = NULL;
    wr_verify_opts vo = {.max_problems = 1,
                         .digest = m->o->digest,
                         .item_digest = true,
                         .interrupted = m->o->interrupted};
    rc = wr_verify(m->staging, &vo, &r, eb);
    if (rc == WR_ECORRUPT) {
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb->msg);
        wr_errbuf_clear(eb);
        rc = WR_ERR(eb, WR_ECORRUPT, "the new files failed verification, "
                    "nothing was replaced: %s", why);
    }
    for (size_t i = 0; rc == WR_OK && r != NULL && i < r->nfiles; i++) {
        const wr_verify_file *f = &r->files[i];
        const wr_verify_ckpt *ck = mg_selected(f);
        if (f->role != WRI_ROLE_MAIN || ck == NULL || !ck->has_digest)
            continue;
        for (size_t j = 0; j < m->nmc; j++)
            if (strcmp(m->mc[j].lc->name, f->coll) == 0)
                wr_digest_hex(vo.digest, ck->digest,
                              m->mc[j].cs->digest);
    }
    for (size_t j = 0; rc == WR_OK && vo.digest != WR_DIGEST_NONE &&
                       j < m->nmc; j++)
        if (m->mc[j].cs->digest[0] == '\0')
            rc = WR_ERR(eb, WR_ECORRUPT, "verification of %s gave no content "
                        "digest for collection \"%s\"", m->staging,
                        m->mc[j].lc->name);
    if (rc == WR_OK) {
        mg_phase(m, "checking");
        rc = mg_interrupted(m, eb);
    }
    if (rc == WR_OK && r->nfiles != m->nmc + mg_nindex(m))
        rc = WR_ERR(eb, WR_ECORRUPT, "content check: %zu files staged, %zu "
                    "built", r->nfiles, m->nmc + mg_nindex(m));
    for (size_t j = 0; rc == WR_OK && j < m->nmc; j++)
        rc = mg_check_coll(&m->mc[j], r, eb);
    wr_verify_report_free(r);
    return rc;
}

/* --- the whole operation ----------------------------------------------------------------- */

static const char *mg_list(const wri_legacy_dir *ld, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ld->nfiles && k + 1 < len; i++) {
        int w = snprintf(buf + k, len - k, "%s%s", i ? ", " : "",
                         ld->files[i]);
        if (w < 0 || (size_t)w >= len - k) {
            snprintf(buf + (len > 5 ? len - 5 : 0), 5, "...");
            break;
        }
        k += (size_t)w;
    }
    return buf;
}

static int mg_setup_stats(mg *m, wr_errbuf *eb)
{
    wr_migrate_stats *st = m->st;
    wri_legacy_dir *ld = &m->ld;
    st->files = ld->nfiles;
    st->bytes_before = ld->bytes;
    if ((st->coll = calloc(ld->ncoll ? ld->ncoll : 1, sizeof *st->coll)) ==
            NULL ||
        (m->mc = calloc(ld->ncoll ? ld->ncoll : 1, sizeof *m->mc)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (size_t i = 0; i < ld->ncoll; i++, st->ncoll++, m->nmc++) {
        wri_legacy_coll *lc = &ld->coll[i];
        wr_migrate_coll *cs = &st->coll[i];
        if ((cs->name = strdup(lc->name)) == NULL ||
            (lc->nfields > 0 &&
             (cs->indexes = calloc(lc->nfields, sizeof *cs->indexes)) == NULL))
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        for (size_t j = 0; j < lc->nfields; j++, cs->nindex++)
            if ((cs->indexes[j] = strdup(lc->fields[j])) == NULL)
                return WR_ERR(eb, WR_ENOMEM, "out of memory");
        cs->bytes_in = lc->size;
        st->bytes_total += lc->size;
        m->mc[i].lc = lc;
        m->mc[i].cs = cs;
    }
    for (size_t i = 0; i < ld->norphans; i++)
        mg_note(st, "%s/%s names no collection (no matching .log): it is "
                "backed up and removed, no index comes of it",
                m->dir, ld->orphans[i]);
    for (size_t i = 0; i < ld->nlinks; i++)
        mg_note(st, "%s/%s is a symbolic link: it is read through, its "
                "target's bytes are copied into the backup, and the link "
                "(not its target) is removed",
                m->dir, ld->links[i]);
    for (size_t i = 0; i < ld->nignored; i++)
        mg_note(st, "%s/%s ignored: not NAME.log (only NAME.log files are "
                "collections)", m->dir, ld->ignored[i]);
    return WR_OK;
}

static void mg_totals(mg *m)
{
    wr_migrate_stats *st = m->st;
    st->lines = st->puts = st->deletes = st->inserted = st->updated = 0;
    st->deleted = st->missing = st->live = st->bad = st->torn = 0;
    for (size_t i = 0; i < st->ncoll; i++) {
        wr_migrate_coll *c = &st->coll[i];
        st->lines += c->lines;
        st->puts += c->puts;
        st->deletes += c->deletes;
        st->inserted += c->inserted;
        st->updated += c->updated;
        st->deleted += c->deleted;
        st->missing += c->missing;
        st->live += c->live;
        st->bad += c->bad;
        st->torn += c->torn;
    }
    if (m->pool != NULL)
        st->sort_peak = wri_sort_pool_peak(m->pool);
    st->sort_runs = m->idx_runs;
    st->sort_spilled = m->idx_spilled;
    for (size_t i = 0; i < m->nmc; i++) {
        wri_sort_info info;
        if (m->mc[i].main == NULL)
            continue;
        wri_sort_get_info(m->mc[i].main, &info);
        st->sort_runs += info.runs_written;
        st->sort_spilled += info.spilled;
    }
}

/* Before anything is written: room for the backup (the legacy files'
 * size), the new files (about 1.5 times that: page headers and indexes)
 * and, when the logs do not fit the sort budget, the sorted runs. */
static int mg_space_check(mg *m, wr_errbuf *eb)
{
    uint64_t legacy = 0;
    for (size_t i = 0; i < m->ld.nfiles; i++)
        legacy += m->fsize[i];
    wri_space_need need[2] = {
        {m->o->backup_dir ? m->o->backup_dir : m->dir, legacy},
        {m->dir, legacy + legacy / 2 + (legacy > m->budget ? legacy : 0)},
    };
    return wri_space_check(need, 2, eb);
}

/* Back up every legacy file and the rejects file. */
static int mg_backup(mg *m, wr_errbuf *eb)
{
    int rc;
    wri_legacy_dir *ld = &m->ld;
    size_t n = ld->nfiles;
    wri_backup_src *src = calloc(n + 1, sizeof *src);
    char **paths = calloc(n + 1, sizeof *paths);
    uint64_t rsize = 0;
    uint32_t rcrc = 0;
    if (src == NULL || paths == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((paths[i] = wri_path_join(m->dir, ld->files[i])) == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto out;
        }
        /* a legacy log is only ever read by wrtools: share its bytes;
         * not a link's target, which stays where it is once the link is
         * removed (a hard link would copy the link, not the bytes) */
        src[i] = (wri_backup_src){
            .path = paths[i], .name = ld->files[i], .check = true,
            .size = m->fsize[i], .crc = m->fcrc[i],
            .share = !wri_legacy_is_link(ld, ld->files[i])};
    }
    if (m->rej != NULL) {
        wri_io_close(m->rej);
        m->rej = NULL;
        if ((rc = wri_file_crc(m->rej_path, &rsize, &rcrc, eb)) != WR_OK)
            goto out;
        src[n++] = (wri_backup_src){m->rej_path, WRI_MIGRATE_REJECTS, true,
                                    rsize, rcrc, true};
    }
    rc = wri_backup_make(m->dir, m->o->backup_dir, src, n, &m->backup, eb);
    if (m->backup.path != NULL) {
        char *abs = realpath(m->backup.path, NULL);
        if (abs != NULL) {
            free(m->backup.path);
            m->backup.path = abs;
        }
        m->st->backup_dir = strdup(m->backup.path);
    }
    if (rc != WR_OK)
        goto out;
    m->st->backup_reused = m->backup.reused;
    if (m->rej_path != NULL) {
        m->st->rejects = wri_path_join(m->backup.path, WRI_MIGRATE_REJECTS);
        /* the copy is in the backup now */
        if ((rc = wri_io_unlink(m->rej_path, eb)) != WR_OK)
            goto out;
        free(m->rej_path);
        m->rej_path = NULL;
    }
out:
    for (size_t i = 0; paths != NULL && i < ld->nfiles; i++)
        free(paths[i]);
    free(paths);
    free(src);
    return rc;
}

/* The legacy files must still be what was read and backed up. */
static int mg_check_unchanged(mg *m, wr_errbuf *eb)
{
    int rc;
    for (size_t i = 0; i < m->ld.nfiles; i++) {
        uint64_t size;
        uint32_t crc;
        char *p = wri_path_join(m->dir, m->ld.files[i]);
        if (p == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        rc = wri_file_crc(p, &size, &crc, eb);
        if (rc == WR_OK && (size != m->fsize[i] || crc != m->fcrc[i]))
            rc = WR_ERR(eb, WR_EIO,
                        "%s changed during the migration (%llu bytes, CRC "
                        "%08x, now %llu bytes, CRC %08x): is a legacy writer "
                        "still running? Nothing was replaced",
                        p, (unsigned long long)m->fsize[i], m->fcrc[i],
                        (unsigned long long)size, crc);
        free(p);
        if (rc != WR_OK)
            return rc;
    }
    return WR_OK;
}

static int mg_commit(mg *m, wr_errbuf *eb)
{
    int rc;
    size_t nmove = 0;
    for (size_t i = 0; i < m->nmc; i++)
        nmove += 1 + m->mc[i].lc->nfields;
    const char **move = calloc(nmove ? nmove : 1, sizeof *move);
    if (move == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    nmove = 0;
    for (size_t i = 0; i < m->nmc; i++) {
        move[nmove++] = m->mc[i].main_file;
        for (size_t j = 0; j < m->mc[i].lc->nfields; j++)
            move[nmove++] = m->mc[i].idx_file[j];
    }
    wri_replace_plan plan = {
        .tool = "wr-migrate",
        .staging = WRI_MIGRATE_STAGING,
        .move = move,
        .nmove = nmove,
        .commit = WR_CATALOG_NAME,
        .backup = &m->backup,
        .remove = (const char *const *)m->ld.files,
        .nremove = m->ld.nfiles,
    };
    wri_replace_result res;
    m->journaled = true; /* from the journal on, staging is the plan's */
    rc = wri_replace_commit(m->dir, WRI_MIGRATE_JOURNAL, &plan, &res, eb);
    if (rc == WR_OK) {
        m->st->bytes_after = mg_file_size(m->dir, WR_CATALOG_NAME);
        for (size_t i = 0; i < nmove; i++)
            m->st->bytes_after += mg_file_size(m->dir, move[i]);
        if (res.kept > 0)
            mg_note(m->st, "%s", res.note);
    } else if (!res.journaled) {
        m->journaled = false; /* the journal never landed: plain abort */
    }
    free(move);
    return rc;
}

static int mg_run(mg *m, wr_errbuf *eb)
{
    int rc;
    const wr_migrate_opts *o = m->o;
    wr_migrate_stats *st = m->st;
    struct stat sb;
    char list[400];
    wri_replace_result res = {0};
    bool resumed = false;

    if (o->dir == NULL || o->dir[0] == '\0')
        return WR_ERR(eb, WR_EINVAL, "no directory given");
    m->dir = o->dir;
    m->psize = o->page_size ? o->page_size : WRI_PAGE_DEFAULT;
    if (m->psize < WRI_PAGE_MIN || m->psize > WRI_PAGE_MAX ||
        (m->psize & (m->psize - 1)) != 0)
        return WR_ERR(eb, WR_EINVAL, "page size %u: must be a power of two "
                      "from %u to %u", m->psize, WRI_PAGE_MIN, WRI_PAGE_MAX);
    if (o->digest != WR_DIGEST_NONE && o->digest != WR_DIGEST_SHA256)
        return WR_ERR(eb, WR_EINVAL, "digest kind %d: a migration reports "
                      "none or SHA-256", (int)o->digest);
    /* --memory bounds the whole process: the sorters get what is left
     * after the rest of a migration's working set (reader buffer, one page
     * per tree level, verify's page caches, libbson), about 5 MiB, and the
     * bulk loader's gathered-write buffer (one tree is built at a time) */
    m->budget = o->memory ? o->memory : WR_MIGRATE_DEFAULT_MEMORY;
    m->read_memory = m->budget;
    m->budget = m->budget > (10u << 20)
                    ? m->budget - (5u << 20) - WRI_BLOCK_RUN
                    : m->budget / 2;
    if (stat(m->dir, &sb) != 0) {
        st->state = WR_MIGRATE_MISSING;
        return WR_ERR(eb, WR_ENOTFOUND, "%s: no such directory: %s", m->dir,
                      strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) {
        st->state = WR_MIGRATE_MISSING;
        return WR_ERR(eb, WR_ENOTFOUND, "%s: not a directory", m->dir);
    }
    if ((m->staging = wri_path_join(m->dir, WRI_MIGRATE_STAGING)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    /* the run builds in the staging directory and removes it whole: a
     * backup made there would be gone, and the originals with it */
    if (o->backup_dir != NULL && wri_path_within(o->backup_dir, m->staging))
        return WR_ERR(eb, WR_EINVAL,
                      "--backup-dir %s: inside %s, the staging directory "
                      "this migration builds in and then removes; name a "
                      "directory outside it (nothing was done)",
                      o->backup_dir, m->staging);

    /* 1: the lock, and what an interrupted run left */
    if (o->dry_run) {
        if ((rc = mg_probe_lock(m->dir, eb)) != WR_OK)
            return rc;
        if (wri_replace_pending(m->dir, WRI_MIGRATE_JOURNAL)) {
            st->state = WR_MIGRATE_RESUMED;
            mg_note(st, "%s: an interrupted migration left %s: a real run "
                    "finishes it first", m->dir, WRI_MIGRATE_JOURNAL);
            return WR_OK;
        }
    } else {
        if ((rc = wri_io_lock_dir(m->dir, o->holder ? o->holder : "wr-migrate",
                                  &m->lock, eb)) != WR_OK)
            return rc;
        /* (without a journal this only removes a journal.tmp) */
        if ((rc = wri_replace_recover(m->dir, WRI_MIGRATE_JOURNAL, &res,
                                      eb)) != WR_OK) {
            if (rc == WR_EEXIST)
                st->state = WR_MIGRATE_MIXED; /* someone else's catalog */
            return rc;
        }
        if (res.outcome != WRI_RECOVER_NONE) {
            mg_note(st, "%s", res.note);
            resumed = res.outcome != WRI_RECOVER_BACK;
        }
        /* debris of a run that never wrote its journal */
        char *rej = wri_path_join(m->dir, WRI_MIGRATE_REJECTS_TMP);
        if (rej == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        rc = stat(rej, &sb) == 0 ? wri_io_unlink(rej, eb) : WR_OK;
        free(rej);
        if (rc != WR_OK ||
            (rc = wri_staging_remove(m->dir, WRI_MIGRATE_STAGING, eb)) != WR_OK)
            return rc;
    }

    /* 2: what is here */
    if ((rc = wri_legacy_scan(m->dir, &m->ld, eb)) != WR_OK ||
        (rc = wri_legacy_refuse_odd(m->dir, &m->ld, eb)) != WR_OK)
        return rc;
    switch (m->ld.kind) {
    case WRI_DIR_EMPTY:
        st->state = WR_MIGRATE_EMPTY;
        return WR_ERR(eb, WR_ENOTFOUND, "%s: nothing to migrate: no NAME.log "
                      "file and no " WR_CATALOG_NAME, m->dir);
    case WRI_DIR_DATABASE:
        st->state = resumed ? WR_MIGRATE_RESUMED : WR_MIGRATE_DONE;
        if (!resumed)
            mg_note(st, "%s is already a wrtools database (" WR_CATALOG_NAME
                    " present, no legacy files): nothing to do", m->dir);
        return WR_OK;
    case WRI_DIR_MIXED:
        st->state = WR_MIGRATE_MIXED;
        return WR_ERR(eb, WR_EEXIST,
                      "%s holds a wrtools database (" WR_CATALOG_NAME ") and "
                      "legacy files (%s)%s; refusing to touch either: move "
                      "the legacy files or the database elsewhere",
                      m->dir, mg_list(&m->ld, list, sizeof list),
                      resumed ? " that changed after they were backed up" : "");
    case WRI_DIR_LEGACY:
        break;
    }
    if (m->ld.ncoll == 0) {
        st->state = WR_MIGRATE_EMPTY;
        return WR_ERR(eb, WR_ENOTFOUND, "%s: nothing to migrate: no NAME.log "
                      "file, only index files that name no collection (%s)",
                      m->dir, mg_list(&m->ld, list, sizeof list));
    }
    if (m->ld.ntrees > 0) {
        st->state = WR_MIGRATE_MIXED;
        return WR_ERR(eb, WR_EEXIST,
                      "%s holds legacy logs and tree files (%s%s) but no "
                      WR_CATALOG_NAME "; refusing to touch either: move the "
                      "tree files elsewhere",
                      m->dir, m->ld.trees[0], m->ld.ntrees > 1 ? ", ..." : "");
    }
    st->state = WR_MIGRATE_LEGACY;
    for (size_t i = 0; i < o->nindex; i++)
        if ((rc = wri_legacy_add_index(&m->ld, o->index[i], eb)) != WR_OK)
            return rc;
    if ((rc = mg_setup_stats(m, eb)) != WR_OK)
        return rc;
    mg_phase(m, "reading");

    /* 3: checksums (a log's as it is read), then every log into its
     * sorter */
    if ((m->fsize = calloc(m->ld.nfiles, sizeof *m->fsize)) == NULL ||
        (m->fcrc = calloc(m->ld.nfiles, sizeof *m->fcrc)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->ld.nfiles; i++) {
        char *p = wri_path_join(m->dir, m->ld.files[i]);
        if (p == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        if (mg_is_log(m, m->ld.files[i]))
            rc = stat(p, &sb) == 0
                     ? WR_OK
                     : WR_ERR(eb, WR_EIO, "%s: cannot stat: %s", p,
                              strerror(errno));
        else
            rc = wri_file_crc(p, &m->fsize[i], &m->fcrc[i], eb);
        if (rc == WR_OK && mg_is_log(m, m->ld.files[i]))
            m->fsize[i] = (uint64_t)sb.st_size; /* until it is read */
        free(p);
        if (rc != WR_OK)
            return rc;
    }
    if (!o->dry_run && (rc = mg_space_check(m, eb)) != WR_OK)
        return rc;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "wr-migrate.%ld.sort", (long)getpid());
    if ((rc = wri_sort_pool_create(m->budget, m->dir, prefix, &m->pool, eb)) !=
        WR_OK)
        return rc;
    for (size_t i = 0; i < m->nmc; i++)
        if ((rc = mg_read_log(m, &m->mc[i], eb)) != WR_OK)
            return rc;
    if (o->dry_run) {
        for (size_t i = 0; i < m->nmc; i++)
            if ((rc = mg_count(m, &m->mc[i], eb)) != WR_OK)
                return rc;
        return WR_OK;
    }

    /* 4: backup */
    mg_phase(m, "backing up");
    if ((rc = mg_backup(m, eb)) != WR_OK)
        return rc;

    /* 5: build in the staging directory */
    mg_phase(m, "building");
    if ((rc = wri_staging_prepare(m->dir, WRI_MIGRATE_STAGING, eb)) != WR_OK)
        return rc;
    m->staged = true;
    for (size_t i = 0; i < m->nmc; i++) {
        if ((rc = mg_build_coll(m, &m->mc[i], eb)) != WR_OK)
            return rc;
        st->bytes_after += m->mc[i].cs->bytes_out;
    }
    if ((rc = mg_write_catalog(m, eb)) != WR_OK)
        return rc;

    /* 6: verify, then compare content */
    mg_phase(m, "verifying");
    if ((rc = mg_verify(m, eb)) != WR_OK)
        return rc;

    /* 7: commit */
    mg_phase(m, "committing");
    if ((rc = mg_interrupted(m, eb)) != WR_OK ||
        (rc = mg_check_unchanged(m, eb)) != WR_OK)
        return rc;
    if ((rc = mg_commit(m, eb)) != WR_OK) {
        if (m->journaled) {
            char why[sizeof eb->msg];
            snprintf(why, sizeof why, "%s", eb->msg);
            wr_errbuf_clear(eb);
            rc = WR_ERR(eb, rc, "%s; the migration was interrupted after its "
                        "journal was written: run wr-migrate on %s again to "
                        "finish it (the backup is in %s)",
                        why, m->dir, m->backup.path);
        }
        return rc;
    }
    WRI_DIAG(wri_diag_db, m->dir); /* M3: DIR is the new, verified database */
    if (resumed)
        mg_note(st, "an earlier interrupted migration had been rolled back "
                "first");
    return WR_OK;
}

int wr_migrate(const wr_migrate_opts *o, wr_migrate_stats *st, wr_errbuf *eb)
{
    int rc;
    mg m;
    memset(&m, 0, sizeof m);
    memset(st, 0, sizeof *st);
    m.o = o;
    m.st = st;
    st->dry_run = o->dry_run;
    rc = mg_run(&m, eb);
    mg_totals(&m);
    /* undo what an unfinished run made (never after the journal) */
    if (rc != WR_OK && !m.journaled) {
        wr_errbuf scratch = {0};
        if (m.staged)
            (void)wri_staging_remove(m.dir, WRI_MIGRATE_STAGING, &scratch);
        (void)wri_backup_discard(&m.backup, &scratch);
        wri_io_close(m.rej);
        m.rej = NULL;
        if (m.rej_path != NULL)
            (void)wri_io_unlink(m.rej_path, &scratch);
    }
    wri_io_close(m.rej);
    free(m.rej_path);
    for (size_t i = 0; i < m.nmc; i++) {
        mg_coll *c = &m.mc[i];
        wri_sort_destroy(c->main);
        free(c->main_file);
        for (size_t j = 0; c->idx_file != NULL && j < c->lc->nfields; j++)
            free(c->idx_file[j]);
        free(c->idx_file);
        free(c->idx_gen);
    }
    free(m.mc);
    wri_sort_pool_destroy(m.pool);
    wri_backup_free(&m.backup);
    wri_legacy_free(&m.ld);
    free(m.fsize);
    free(m.fcrc);
    free(m.staging);
    wri_io_unlock_dir(m.lock);
    return rc;
}
