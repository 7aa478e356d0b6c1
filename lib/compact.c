/*
 * compact.c -- wr_compact(): rewrite tree files so that they hold only the
 * live pages of one checkpoint, built bottom-up (what wr-compact does).
 *
 * One call handles one PATH, a "job": a database directory (every main
 * table and index its catalog names, together, so the catalog stays
 * consistent) or a single tree file. The replace protocol is DESIGN
 * decision 9; the steps, cited by tests as C1..C8:
 *
 * C1  Writers take the directory's lock and remove *.compact.tmp debris
 *     of an earlier run that crashed, and the tree files the catalog does
 *     not name that a run left before it ever committed them (catalog.h
 *     wri_tree_file_debris). A dry run takes no lock and writes nothing
 *     at all.
 * C2  Every file is quick-verified as C4 reads it (wri_verify_quick_feed:
 *     the build is fed from the check's own read, one read of the
 *     original). A file that fails is not compacted, and neither is any
 *     other file of the job: compaction never spreads damage, and the
 *     catalog never names a mix of compacted and refused files of one run.
 *     Damage ends the build: its tmp file goes, nothing else was written
 *     (the backup, C3, is made after every file is built and checked).
 *     The quick check reads every page against its checksum but leaves
 *     keys and documents to C5's full verify of the copy: when the bulk
 *     loader refuses an item, or C5 fails, the original is verified in
 *     full (wri_verify_file_gen), and damage it finds is the reason given,
 *     naming the original and the place (cpt_blame_original).
 * C3  With a backup directory, every original (and the catalog) is copied
 *     into BACKUP/NAME/ with a manifest of CRC-32s and sizes, fsynced, and
 *     each copy is read back and checked against the manifest (a new
 *     BACKUP is fsynced in its parent). Before C6, BACKUP/NAME/
 *     MANIFEST.next records the CRC-32 and size of every new file and of
 *     the new catalog, so a rerun after a crash in C6-C7 recognises its own
 *     backup (each file old or new) and goes on.
 * C4  Each file is rebuilt as FILE.compact.tmp in the same directory: the
 *     quick check's walk of the checkpoint G that the catalog names (the
 *     latest, for a lone file) streams each item, in key order, into the
 *     bulk loader as its leaf is read (the leaves of each internal page
 *     of level 1 read ahead in one batch of reads, one system call,
 *     wri_verify_feed.batch, where the kernel has io_uring; else through
 *     a mapping of the original when it is all in the page cache,
 *     wri_verify_feed.map: the lock keeps wrtools' writers out; a file
 *     that shrinks all the same (a writer that ignores the lock, a path
 *     whose lock is another directory's) is WR_EIO from the page source,
 *     not SIGBUS; else sequential run reads). The new file is
 *     created with first_gen = G, so its single checkpoint has the very
 *     generation the catalog names (block.c I12): the catalog is valid with
 *     either the old or the new file in place. The other, empty slot is
 *     zeroed. Nothing names the new file yet, so its commits skip their
 *     fsyncs (block.c I14): C5 fsyncs it whole.
 *     While C5 verifies the copy, a thread of its own fsyncs it and,
 *     once C4 has read the original for the last time (no backup to copy
 *     it, not a dry run), drops the original's cached pages
 *     (cpt_check_settling, wri_io_forget: a hint), so that C7's rename
 *     does not free them on the critical path; it is joined when C5 is
 *     done (one such thread at a time), and a failed fsync fails the
 *     file.
 * C5  Each new file is verified in full (wr_verify) and compared with
 *     what C4 wrote: its header (generation, role, names, records, no
 *     other checkpoint), its item count, and a fingerprint taken as C4
 *     fed the bulk loader and as the verify read the new file: every key
 *     with its value (document) (the item fingerprint, wri_itemsum: a
 *     sum of XXH3-128 hashes, so the verify of the new file splits its
 *     tree between two threads; their order is its keys check; the
 *     comparison is against bugs, not adversaries, so a
 *     non-cryptographic 128-bit hash is enough). The original is read
 *     once, by C2/C4, never a second time to compare. Any failure: every
 *     tmp file is removed and nothing has changed.
 * C6  Database: a new catalog is committed (generation + 1, the same file
 *     generations, prev_gen = gen for every compacted file, since their
 *     previous checkpoints are about to go) BEFORE any file is replaced.
 *     It is valid for the old files too (both hold G), so from here on
 *     every mix of old and new files is a consistent database.
 * C7  Each tmp file is renamed over its original, and the directory is
 *     fsynced. A crash at any instant leaves every file either old or new,
 *     each complete; a rerun redoes the job (C1 removes the debris).
 * C8  Memory does not grow with the files: the walk keeps one page per
 *     level and verify's bounded ownership map, the bulk loader one page
 *     per level, and the pipe between them (the loader runs on a thread of
 *     its own, ipipe.h) a ring of four 256 KiB batches.
 *
 * Before C1: a job whose catalog it would commit is refused when the
 * catalog is a symbolic link (wri_catalog_refuse_link: C6's rename would
 * replace the link). Before C2: a tree file whose name is a symbolic link
 * or that has other hard links is refused, and with it the job
 * (cpt_refuse_link: the rename of C7 would replace the link, or only this
 * name of the file); too little free space for the copies ends the job before it
 * lists any file. With wr_compact_opts.seen, a file an earlier call
 * compacted (device and inode) is left out of the job (cpt_drop_seen).
 *
 * Calls block, bulk, catalog, io, ipipe (the walk of the original and
 * the bulk loader on two threads), replace (backups) and verify
 * (wri_verify_quick_feed, wri_verify_file_gen, wr_verify).
 */
#include "diag.h"
#include "wr_int.h"

#include "ipipe.h"
#include "replace.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CPT_TMP_SUFFIX ".compact.tmp"
#define CPT_TICK 1024 /* records between progress and interrupt checks */

typedef struct cpt_file {
    char *path;       /* DIR/NAME */
    char *tmp;        /* DIR/NAME.compact.tmp */
    wri_cat_file *cf; /* its catalog entry; NULL for a lone file */
    uint64_t gen;     /* checkpoint to copy; 0 = the latest */
    bool built;       /* tmp is ours: remove it unless renamed */
    /* what was written, as the new file's full verify must find it (C5):
     * the original checkpoint's header and the items' fingerprint */
    wri_slot orig;
    uint8_t want_items[WR_DIGEST_LEN];
    bool replaced;
    /* a check found damage: the original's (its header, C2, C4's walk,
     * its full verify) or the copy's (C5): its status is "damaged",
     * whatever the error code; any other failure (the copy's writes, the
     * environment) is "failed", even one that says WR_ECORRUPT */
    bool damage;
    char err[1024];
    wr_compact_file rep;
} cpt_file;

typedef struct cpt_job {
    const wr_compact_opts *o;
    const char *path; /* as given */
    char *dir;        /* directory holding the files */
    bool database;    /* PATH is a database directory */
    bool have_cat;    /* the files are named by dir's catalog */
    wri_catalog cat;
    cpt_file *f;
    size_t nf;
    wri_lock *lock;
    uint32_t fill;
    char *backup_path; /* where the originals were copied */
    wri_backup bk;     /* that backup (C3) */
    bool made_top;     /* this run created o->backup_dir */
    bool committing;   /* C6 began: the backup stays, whatever happens */
} cpt_job;

/* --- helpers ------------------------------------------------------------ */

static bool cpt_interrupted(const cpt_job *j)
{
    return j->o->interrupted != NULL && *j->o->interrupted != 0;
}

static int cpt_eintr(const char *path, wr_errbuf *eb)
{
    return WR_ERR(eb, WR_EINTR, "%s: interrupted; nothing was replaced",
                  path);
}

static void cpt_progress(const cpt_job *j, const char *path,
                         const char *phase, uint64_t done, uint64_t total)
{
    if (j->o->progress == NULL)
        return;
    wr_compact_progress p = {.path = path, .phase = phase, .done = done,
                             .total = total};
    j->o->progress(&p, j->o->arg);
}

static int cpt_file_size(const char *path, uint64_t *size, wr_errbuf *eb)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return WR_ERR(eb, e == ENOENT ? WR_ENOTFOUND : WR_EIO,
                      "%s: cannot stat: %s", path, strerror(e));
    }
    *size = (uint64_t)st.st_size;
    return WR_OK;
}

static char *cpt_strcat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);
    if (p != NULL) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

/* Remove a file we made, when the run gives up (best effort: the next run
 * removes what is left, C1). */
static void cpt_remove_tmp(cpt_file *f)
{
    wr_errbuf scratch = {0};
    if (!f->built)
        return;
    if (wri_io_unlink(f->tmp, &scratch) == WR_OK ||
        scratch.code == WR_ENOTFOUND)
        f->built = false;
}

/* Did an earlier PATH of the run compact (dry run: measure) path's file?
 * Only those: a file that failed there, or was skipped, is done again
 * with a later PATH's job, which it refuses (or is refused) all over:
 * else the rest of its database would be compacted without it. */
static bool cpt_seen_has(const wr_compact_seen *seen, const char *path)
{
    struct stat ps;
    if (seen == NULL || stat(path, &ps) != 0)
        return false;
    for (size_t i = 0; i < seen->n; i++)
        if (wri_io_same_file(&seen->files[i], &ps))
            return true;
    return false;
}

/* Record path's file as it is now, once compacted (a new file) or
 * measured (best effort: a file that cannot be recorded is only not
 * recognised when named again). */
static void cpt_seen_add(wr_compact_seen *seen, const char *path)
{
    struct stat ps;
    if (seen == NULL || stat(path, &ps) != 0)
        return;
    struct stat *nf = realloc(seen->files, (seen->n + 1) * sizeof *nf);
    if (nf == NULL)
        return;
    seen->files = nf;
    nf[seen->n++] = ps;
}

void wr_compact_seen_free(wr_compact_seen *s)
{
    if (s == NULL)
        return;
    free(s->files);
    s->files = NULL;
    s->n = 0;
}

/* A tree file whose name is a symbolic link is refused (WR_ENOTSUP): its
 * new copy would be renamed over the link, not over the file it points
 * to, which would stay whole on its volume while DIR's took the copy.
 * Building the copy beside the target instead would put it, and the
 * debris of a crash, in a directory the lock does not cover and the
 * sweep of C1 does not look in. So is one with other hard links: the
 * rename would replace this name only, the others would keep the old
 * file (its blocks all still in use: no space given back) and the names,
 * one file until then, would silently hold two. */
static int cpt_refuse_link(const cpt_job *j, const cpt_file *f,
                           wr_errbuf *eb)
{
    struct stat st;
    int rc = wri_io_refuse_link(f->path, j->path, j->dir, "not compacted",
                                "its new copy would replace the link, not "
                                "the file it points to, which would keep "
                                "its size",
                                eb);
    if (rc != WR_OK || lstat(f->path, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_nlink < 2)
        return rc;
    uintmax_t others = (uintmax_t)st.st_nlink - 1;
    return WR_ERR(eb, WR_ENOTSUP,
                  "%s has %ju other hard link%s: not compacted, nor is "
                  "anything else of %s (its new copy would replace this "
                  "name only; the other name%s would keep the old file, so "
                  "compaction would give no space back and split them "
                  "into two files). Remove the other link%s first (find / "
                  "-xdev -samefile %s lists them)",
                  f->path, others, others == 1 ? "" : "s", j->path,
                  others == 1 ? "" : "s", others == 1 ? "" : "s", f->path);
}

/* --- planning ------------------------------------------------------------ */

/* name: inside the job's directory; path: as given (a lone file). */
static int cpt_add_file(cpt_job *j, const char *name, const char *path,
                        wri_cat_file *cf, wr_errbuf *eb)
{
    cpt_file *nf = realloc(j->f, (j->nf + 1) * sizeof *nf);
    if (nf == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    j->f = nf;
    cpt_file *f = &j->f[j->nf];
    memset(f, 0, sizeof *f);
    f->path = path != NULL ? strdup(path) : wri_path_join(j->dir, name);
    f->tmp = f->path ? cpt_strcat(f->path, CPT_TMP_SUFFIX) : NULL;
    j->nf++; /* freed with the job even if half made */
    if (f->path == NULL || f->tmp == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    f->cf = cf;
    f->gen = cf != NULL ? cf->gen : 0;
    f->rep.path = f->path;
    f->rep.status = "skipped";
    f->rep.generation = f->gen;
    return WR_OK;
}

/* Which files, at which generations: a database directory's catalog names
 * them all; a lone file is looked up in its directory's catalog, if there
 * is one naming it (then the catalog's generation is the one to keep). */
static int cpt_plan(cpt_job *j, wr_errbuf *eb)
{
    int rc;
    struct stat st;
    char *copy = NULL;
    if (stat(j->path, &st) != 0) {
        int e = errno;
        return WR_ERR(eb, e == ENOENT ? WR_ENOTFOUND : WR_EIO,
                      "%s: cannot open: %s", j->path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        j->database = true;
        if ((j->dir = strdup(j->path)) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        for (size_t n = strlen(j->dir); n > 1 && j->dir[n - 1] == '/'; n--)
            j->dir[n - 1] = '\0'; /* "db/" names files "db/x.wr" */
        rc = wri_catalog_read(j->dir, &j->cat, eb);
        if (rc == WR_ENOTFOUND) {
            wr_errbuf_clear(eb);
            rc = wri_catalog_missing(j->dir, eb);
        }
        if (rc != WR_OK)
            return rc;
        j->have_cat = true;
        for (size_t i = 0; i < j->cat.ncoll; i++) {
            wri_cat_coll *cc = &j->cat.coll[i];
            rc = cpt_add_file(j, cc->main.file, NULL, &cc->main, eb);
            for (size_t k = 0; rc == WR_OK && k < cc->nidx; k++)
                rc = cpt_add_file(j, cc->idx[k].file, NULL, &cc->idx[k], eb);
            if (rc != WR_OK)
                return rc;
        }
        return WR_OK;
    }
    if (!S_ISREG(st.st_mode))
        return WR_ERR(eb, WR_EINVAL,
                      "%s: neither a database directory nor a tree file",
                      j->path);
    if ((copy = strdup(j->path)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    j->dir = strdup(dirname(copy));
    free(copy);
    if ((copy = strdup(j->path)) == NULL || j->dir == NULL) {
        free(copy);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    char *name = basename(copy);
    wri_cat_file *cf = NULL;
    rc = wri_catalog_read(j->dir, &j->cat, eb);
    if (rc == WR_ENOTFOUND) {
        wr_errbuf_clear(eb);
        rc = WR_OK;
    } else if (rc == WR_OK) {
        j->have_cat = true;
        for (size_t i = 0; i < j->cat.ncoll && cf == NULL; i++) {
            wri_cat_coll *cc = &j->cat.coll[i];
            if (strcmp(cc->main.file, name) == 0)
                cf = &cc->main;
            for (size_t k = 0; k < cc->nidx && cf == NULL; k++)
                if (strcmp(cc->idx[k].file, name) == 0)
                    cf = &cc->idx[k];
        }
        if (cf == NULL) { /* not the database's: a file of its own */
            wri_catalog_free(&j->cat);
            j->have_cat = false;
        }
    } else {
        char msg[sizeof eb->msg];
        snprintf(msg, sizeof msg, "%s", eb->msg);
        wr_errbuf_clear(eb);
        WR_ERR(eb, rc,
               "%s lies in a database directory whose catalog cannot be "
               "read: %.900s",
               j->path, msg);
    }
    if (rc == WR_OK)
        rc = cpt_add_file(j, name, j->path, cf, eb);
    free(copy);
    return rc;
}

/* Leave out the files an earlier PATH of the run compacted (o->seen):
 * each file is compacted, listed and counted once. *all_out: every file
 * of the job was left out (there were some). */
static void cpt_drop_seen(cpt_job *j, bool *all_out)
{
    size_t kept = 0, n = j->nf;
    for (size_t i = 0; i < n; i++) {
        if (cpt_seen_has(j->o->seen, j->f[i].path)) {
            free(j->f[i].path);
            free(j->f[i].tmp);
        } else {
            j->f[kept++] = j->f[i];
        }
    }
    j->nf = kept;
    *all_out = n > 0 && kept == 0;
}

/* C1: debris of an earlier run. In a database directory every
 * *.compact.tmp, and the tree files of a run that never committed them
 * (wri_dir_remove_debris); for a lone file only its own. */
static int cpt_sweep(cpt_job *j, wr_errbuf *eb)
{
    int rc = WR_OK;
    if (!j->database) {
        struct stat st;
        for (size_t i = 0; i < j->nf && rc == WR_OK; i++)
            if (lstat(j->f[i].tmp, &st) == 0)
                rc = wri_io_unlink(j->f[i].tmp, eb);
        return rc;
    }
    DIR *d = opendir(j->dir);
    if (d == NULL)
        return WR_ERR(eb, WR_EIO, "%s: cannot list the directory: %s",
                      j->dir, strerror(errno));
    size_t sl = strlen(CPT_TMP_SUFFIX);
    struct dirent *de;
    while (rc == WR_OK && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n <= sl || strcmp(de->d_name + n - sl, CPT_TMP_SUFFIX) != 0)
            continue;
        char *p = wri_path_join(j->dir, de->d_name);
        if (p == NULL)
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        else
            rc = wri_io_unlink(p, eb);
        free(p);
    }
    closedir(d);
    if (rc == WR_OK)
        rc = wri_dir_remove_debris(j->dir, &j->cat, eb);
    return rc;
}

/* --- copying ------------------------------------------------------------- */

/* A verify's finding (in eb) as the reason for what it means. */
static int cpt_damage(const char *what, wr_errbuf *eb)
{
    char msg[sizeof eb->msg];
    snprintf(msg, sizeof msg, "%s", eb->msg);
    wr_errbuf_clear(eb);
    return WR_ERR(eb, WR_ECORRUPT, "%s: %.800s", what, msg);
}

/* The original f is damaged (C2): the finding in eb names its place. */
static int cpt_damaged(const cpt_job *j, cpt_file *f, wr_errbuf *eb)
{
    char what[1100];
    f->damage = true;
    snprintf(what, sizeof what,
             "%s is damaged, not compacted (nothing of %s was changed)",
             f->path, j->path);
    return cpt_damage(what, eb);
}

/* The build refused an item it read from f (C4), or the copy failed C5
 * (rc, eb): the quick check of C2 reads every page against its checksum
 * but does not judge keys or documents (the copy's full verify does).
 * If the original's own full verify finds damage, that is the reason,
 * naming the original and the place; else rc and eb stand. Runs only
 * when something already failed. */
static int cpt_blame_original(const cpt_job *j, cpt_file *f, int rc,
                              wr_errbuf *eb)
{
    wr_errbuf oe = {0};
    if (wri_verify_file_gen(f->path, f->orig.gen, j->o->interrupted, &oe) !=
        WR_ECORRUPT)
        return rc;
    *eb = oe;
    return cpt_damaged(j, f, eb);
}

/* What C4 feeds the bulk loader, item by item: the walk of the original
 * counts each item and hands it over the pipe; the loader's thread puts
 * it into the new file and the fingerprint (cpt_load). */
typedef struct cpt_feed {
    cpt_job *j;
    cpt_file *f;
    wri_ipipe *pipe;
    wri_bulk *bk;     /* the loader's thread's, until the pipe is done */
    wri_itemsum items; /* likewise */
    uint64_t n, live, total;
    bool dry;
    bool load_failed; /* the error is the loader's (set on its thread,
                         read after the pipe returned it) */
} cpt_feed;

static int cpt_load(void *arg, const uint8_t *k, uint32_t kl,
                    const uint8_t *v, uint32_t vl, wr_errbuf *eb)
{
    int rc;
    cpt_feed *fd = arg;
    if (fd->bk != NULL && (rc = wri_bulk_add(fd->bk, k, kl, v, vl, eb)) !=
                              WR_OK) {
        fd->load_failed = true;
        return rc;
    }
    if (!fd->dry)
        wri_itemsum_add(&fd->items, k, kl, v, vl);
    return WR_OK;
}

static int cpt_item(void *arg, const uint8_t *k, uint32_t kl,
                    const uint8_t *v, uint32_t vl, wr_errbuf *eb)
{
    cpt_feed *fd = arg;
    fd->n++;
    if (fd->bk != NULL) /* reads only what the loader's open set */
        fd->live += wri_bulk_item_live(fd->bk, kl, vl);
    if (fd->n % CPT_TICK == 0)
        cpt_progress(fd->j, fd->f->path, fd->dry ? "counting" : "copying",
                     fd->n, fd->total);
    return wri_ipipe_add(fd->pipe, k, kl, v, vl, eb);
}

/* C2 and C4: stream the old checkpoint into the bulk loader (dry: only
 * count) through its quick check, so the original is read once, its
 * pages checked as they are read (checksums, structure, extent lists,
 * space); damage anywhere ends the build and is WR_ECORRUPT. Fills in
 * the report's sizes. */
static int cpt_build(cpt_job *j, cpt_file *f, wr_errbuf *eb)
{
    int rc;
    wri_block *ob = NULL, *nb = NULL;
    cpt_feed fd = {.j = j, .f = f, .dry = j->o->dry_run};
    bool dry = j->o->dry_run;
    rc = f->gen != 0 ? wri_block_open_gen(f->path, WRI_BLOCK_NOEXT, f->gen,
                                          &ob, eb)
                     : wri_block_open(f->path, WRI_BLOCK_NOEXT, &ob, eb);
    if (rc != WR_OK) {
        f->damage = rc == WR_ECORRUPT; /* it reads the original only */
        goto out;
    }
    uint64_t G = ob->cur.gen;
    f->orig = ob->cur;
    uint32_t P = j->o->page_size ? j->o->page_size : ob->page_size;
    fd.total = ob->cur.nrecords;
    f->rep.generation = G;
    f->rep.page_size_before = ob->page_size;
    f->rep.page_size_after = P;
    if (G < 2 && ob->cur.root.off != 0) {
        f->damage = true;
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "%s: generation 1 holds a tree, but a file's first "
                    "generation is always empty",
                    f->path);
        goto out;
    }
    if (dry) {
        rc = wri_bulk_open_dry(P, j->fill, &fd.bk, eb);
    } else {
        wri_block_cfg cfg = {.page_size = P,
                             .role = ob->cur.role,
                             .coll = ob->cur.coll,
                             .field = ob->cur.field,
                             .first_gen = G >= 2 ? G : 0,
                             .defer_sync = true};
        if ((rc = wri_block_create(f->tmp, &cfg, &nb, eb)) != WR_OK)
            goto out;
        f->built = true;
        if (G >= 2)
            rc = wri_bulk_open(nb, j->fill, &fd.bk, eb);
    }
    if (rc != WR_OK ||
        (rc = wri_ipipe_new(cpt_load, &fd, 0, &fd.pipe, eb)) != WR_OK)
        goto out;
    /* a real run holds the directory's lock: no wrtools writer changes
     * the original while it is mapped (a dry run takes no lock: pread);
     * one that shrinks it all the same is WR_EIO, not SIGBUS */
    wri_verify_feed feed = {.gen = G, .item = cpt_item, .arg = &fd,
                            .map = !dry, .batch = true};
    rc = wri_verify_quick_feed(f->path, &feed, j->o->interrupted, eb);
    if (rc == WR_OK) /* every item in the loader, or its error */
        rc = wri_ipipe_finish(fd.pipe, eb);
    /* who failed decides: the walk's damage is the original's; the
     * loader refusing an item (WR_EINVAL) may be, if its full verify says
     * so; the loader's other errors (its disk, memory) stand */
    if (fd.load_failed && rc == WR_EINVAL)
        rc = cpt_blame_original(j, f, rc, eb);
    else if (!fd.load_failed && rc == WR_ECORRUPT)
        rc = cpt_damaged(j, f, eb);
    if (rc != WR_OK)
        goto out;
    if (fd.n != ob->cur.nrecords) {
        f->damage = true;
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "%s: checkpoint %llu records %llu keys, its tree holds "
                    "%llu",
                    f->path, (unsigned long long)G,
                    (unsigned long long)ob->cur.nrecords,
                    (unsigned long long)fd.n);
        goto out;
    }
    if (fd.bk != NULL && (rc = wri_bulk_finish(fd.bk, eb)) != WR_OK)
        goto out;
    f->rep.records = fd.n;
    f->rep.live_bytes = fd.live;
    if (dry) {
        f->rep.size_after = 2 * (uint64_t)P + wri_bulk_bytes(fd.bk);
        goto out;
    }
    if (G >= 2 && (rc = wri_block_erase_other(nb, eb)) != WR_OK)
        goto out;
    wri_block_close(nb);
    nb = NULL;
    wri_itemsum_final(&fd.items, f->want_items);
    rc = cpt_file_size(f->tmp, &f->rep.size_after, eb);
out:
    wri_ipipe_free(fd.pipe); /* the loader's thread stops first */
    wri_bulk_free(fd.bk);
    wri_block_close(ob);
    wri_block_close(nb);
    return rc;
}

/* C5: the new file verified in full, and what its verify read equal to
 * what the build wrote from the original: its header holds the original's
 * checkpoint (same generation, role, names and record count) and no
 * other, as many items, the same keys, value lengths and documents in the
 * same order (item digest). The original is not read again. */
static int cpt_check_new(cpt_job *j, cpt_file *f, wr_errbuf *eb)
{
    int rc;
    wr_verify_opts o = {.max_problems = 1,
                        .item_digest = true,
                        .interrupted = j->o->interrupted};
    wr_verify_report *r = NULL;
    rc = wr_verify(f->tmp, &o, &r, eb);
    if (rc == WR_ECORRUPT) { /* the copy fails a check */
        char what[1100];
        f->damage = true;
        snprintf(what, sizeof what,
                 "%s: the compacted copy fails verification, not replaced",
                 f->path);
        rc = cpt_blame_original(j, f, cpt_damage(what, eb), eb);
    }
    if (rc != WR_OK)
        goto out;
    const wr_verify_file *nf = r->nfiles == 1 ? &r->files[0] : NULL;
    const wr_verify_ckpt *ck = nf != NULL && nf->nckpt == 1 ? &nf->ckpt[0]
                                                            : NULL;
    const wri_slot *o0 = &f->orig;
    const char *why = NULL;
    if (ck == NULL || nf->slot_valid[1 - ck->slot])
        why = "not one checkpoint";
    else if (ck->gen != o0->gen || nf->role != o0->role ||
             strcmp(nf->coll, o0->coll) != 0 ||
             strcmp(nf->field, o0->field) != 0 || ck->records != o0->nrecords)
        why = "its header's generation, role, names or record count";
    else if (ck->keys != f->rep.records)
        why = "one file has more records";
    else if (!ck->has_item_digest ||
             memcmp(ck->item_digest, f->want_items, WR_DIGEST_LEN) != 0)
        why = "keys, value lengths or values differ";
    if (why != NULL) {
        f->damage = true;
        rc = cpt_blame_original(
            j, f,
            WR_ERR(eb, WR_ECORRUPT,
                   "%s: differs from the original's checkpoint (%s)", f->tmp,
                   why),
            eb);
    }
out:
    wr_verify_report_free(r);
    return rc;
}

/* --- backup (C3) ------------------------------------------------------- */

/* A directory just made is durable once its parent is fsynced. */
static int cpt_fsync_parent(const char *path, wr_errbuf *eb)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    int rc = wri_io_fsync_dir(dirname(copy), eb);
    free(copy);
    return rc;
}

/* Before C6: the backup records what every backed-up file will hold once
 * the job is done (the tmp files, the new catalog), so that a rerun after
 * a crash anywhere in C6-C7 goes on with this backup (replace.h,
 * wri_backup_expect). */
static int cpt_backup_expect(cpt_job *j, wr_errbuf *eb)
{
    int rc = WR_OK;
    size_t n = 0;
    uint8_t *cbuf = NULL;
    size_t clen = 0;
    wri_backup_file *files = calloc(j->nf + 1, sizeof *files);
    if (files == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    for (; n < j->nf && rc == WR_OK; n++) {
        const char *slash = strrchr(j->f[n].path, '/');
        files[n].name = (char *)(slash ? slash + 1 : j->f[n].path);
        rc = wri_file_crc(j->f[n].tmp, &files[n].size, &files[n].crc, eb);
    }
    if (rc == WR_OK && j->have_cat &&
        (rc = wri_catalog_encode(&j->cat, &cbuf, &clen, eb)) == WR_OK) {
        files[n].name = (char *)WR_CATALOG_NAME;
        files[n].size = clen;
        files[n++].crc = wri_crc32(0, cbuf, clen);
    }
    if (rc == WR_OK)
        rc = wri_backup_expect(j->dir, j->backup_path, files, n, eb);
    free(cbuf);
    free(files);
    return rc;
}

/* The bytes the compacted copy of f will take, about: the pages its
 * checkpoint uses (the file's logical size less its free extents), more
 * when pages are left part empty (fill), or the file size if the extent
 * lists cannot be read. */
static uint64_t cpt_estimate(const cpt_job *j, const cpt_file *f)
{
    wri_block *b = NULL;
    wr_errbuf scratch = {0};
    uint64_t est = f->rep.size_before;
    int rc = f->gen != 0
                 ? wri_block_open_gen(f->path, WRI_BLOCK_RDONLY, f->gen, &b,
                                      &scratch)
                 : wri_block_open(f->path, WRI_BLOCK_RDONLY, &b, &scratch);
    if (rc == WR_OK && b->em != NULL) {
        wri_extent_stats es;
        wri_extent_stats_get(b->em, &es);
        uint64_t ls = wri_extent_logical_size(b->em);
        uint64_t freeb = es.avail_bytes + es.discard_bytes;
        if (ls > freeb)
            est = WRI_MIN(est, ls - freeb + 2 * (uint64_t)b->page_size);
    }
    wri_block_close(b);
    return est * 100 / j->fill;
}

/* Before anything is written: room for the compacted copies beside the
 * originals (all of them exist until C7) and, with --backup-dir, for a
 * copy of every file. */
static int cpt_space_check(cpt_job *j, wr_errbuf *eb)
{
    wri_space_need need[2] = {{j->dir, 0}, {j->o->backup_dir, 0}};
    for (size_t i = 0; i < j->nf; i++) {
        need[0].bytes += cpt_estimate(j, &j->f[i]);
        need[1].bytes += j->f[i].rep.size_before;
    }
    if (j->have_cat) {
        char *cp = wri_path_join(j->dir, WR_CATALOG_NAME);
        uint64_t cs = 0;
        if (cp == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        if (cpt_file_size(cp, &cs, eb) == WR_OK)
            need[1].bytes += cs;
        wr_errbuf_clear(eb);
        free(cp);
    }
    return wri_space_check(need, j->o->backup_dir ? 2 : 1, eb);
}

/* C3: BACKUP/NAME/ (NAME: the last component of PATH) gets a copy of every
 * file of the job, and of the catalog, through backup.c's backup: copies
 * fsynced, a MANIFEST of CRC-32s and sizes, every copy read back against
 * it. A complete backup of the same bytes from an earlier run that
 * crashed is checked and kept; anything else there is WR_EEXIST. */
static int cpt_backup(cpt_job *j, wr_errbuf *eb)
{
    int rc = WR_OK;
    char *real = NULL, *target = NULL, *catpath = NULL;
    size_t n = j->nf + (j->have_cat ? 1 : 0);
    wri_backup_src *src = NULL;
    struct stat st;
    if ((real = realpath(j->path, NULL)) == NULL) {
        rc = WR_ERR(eb, WR_EIO, "%s: cannot resolve the path: %s", j->path,
                    strerror(errno));
        goto out;
    }
    if (stat(j->o->backup_dir, &st) != 0) {
        if ((rc = wri_io_mkdir(j->o->backup_dir, eb)) != WR_OK)
            goto out;
        j->made_top = true;
        if ((rc = cpt_fsync_parent(j->o->backup_dir, eb)) != WR_OK)
            goto out;
    }
    if ((target = wri_path_join(j->o->backup_dir, basename(real))) == NULL ||
        (catpath = wri_path_join(j->dir, WR_CATALOG_NAME)) == NULL ||
        (src = calloc(n + 1, sizeof *src)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = i < j->nf ? j->f[i].path : catpath;
        const char *slash = strrchr(p, '/');
        src[i].path = p;
        src[i].name = slash ? slash + 1 : p;
    }
    cpt_progress(j, j->path, "backing up", 0, n);
    rc = wri_backup_make(j->dir, target, src, n, &j->bk, eb);
    if (rc == WR_OK) {
        j->backup_path = strdup(j->bk.path);
        for (size_t i = 0; i < j->nf; i++)
            j->f[i].rep.backup = j->backup_path;
    }
out:
    free(src);
    free(catpath);
    free(target);
    free(real);
    return rc;
}

/* A run that fails before C6 changed nothing: the backup it made goes,
 * and the backup directory if it made that too and it is empty (best
 * effort; a failure here leaves what the message of the run names). */
static void cpt_backup_discard(cpt_job *j)
{
    wr_errbuf scratch = {0};
    if (j->bk.path == NULL && !j->made_top)
        return;
    if (j->bk.path != NULL && wri_backup_discard(&j->bk, &scratch) != WR_OK)
        return;
    if (j->made_top && wri_io_rmdir(j->o->backup_dir, &scratch) == WR_OK)
        (void)cpt_fsync_parent(j->o->backup_dir, &scratch);
    for (size_t i = 0; i < j->nf; i++)
        j->f[i].rep.backup = NULL;
}

/* --- one job ------------------------------------------------------------- */

/* A file's failure: record it; the job's other files are skipped. */
static int cpt_fail(cpt_file *f, const char *status, int rc,
                    const wr_errbuf *feb, wr_errbuf *eb)
{
    f->rep.status = status;
    f->rep.rc = rc;
    snprintf(f->err, sizeof f->err, "%s", feb->msg);
    if (eb != feb)
        *eb = *feb;
    return rc;
}

static void cpt_job_free(cpt_job *j)
{
    for (size_t i = 0; i < j->nf; i++) {
        free(j->f[i].path);
        free(j->f[i].tmp);
    }
    free(j->f);
    if (j->have_cat || j->database)
        wri_catalog_free(&j->cat);
    wri_io_unlock_dir(j->lock);
    free(j->backup_path);
    wri_backup_free(&j->bk);
    free(j->dir);
}

/* C5's side work, on a thread of its own while the copy is verified:
 * the copy made durable (its commits skipped their fsyncs, block.c I14:
 * the verify reads what the page cache holds either way, and the device
 * writes while it runs), then, once f's original is read for the last
 * time (no backup to copy it), its cached pages dropped (a hint: else
 * the rename that replaces the original frees them, on the critical
 * path; a failure traced back to the original reads it again, from the
 * disk). */
typedef struct cpt_settle {
    const char *tmp;
    const char *forget; /* NULL: keep its pages */
    int rc;             /* the fsync's */
    wr_errbuf eb;
} cpt_settle;

static void *cpt_settle_run(void *arg)
{
    cpt_settle *s = arg;
    wri_file *fh = NULL;
    s->rc = wri_io_open(s->tmp, WRI_IO_RDONLY, &fh, &s->eb);
    if (s->rc == WR_OK)
        s->rc = wri_io_fsync(fh, &s->eb);
    wri_io_close(fh);
    if (s->forget != NULL)
        wri_io_forget(s->forget);
    return NULL;
}

/* C5 with its side work (cpt_settle), joined before it returns: a run has
 * one such thread at a time, never one per file, and nothing goes on to
 * C6 before the copy is durable. Where no thread can be had, the side
 * work is done first. */
static int cpt_check_settling(cpt_job *j, cpt_file *f, wr_errbuf *eb)
{
    pthread_t th;
    cpt_settle s = {.tmp = f->tmp,
                    .forget = j->o->backup_dir == NULL ? f->path : NULL};
    bool threaded = pthread_create(&th, NULL, cpt_settle_run, &s) == 0;
    if (!threaded)
        cpt_settle_run(&s);
    int rc = cpt_check_new(j, f, eb);
    if (threaded)
        pthread_join(th, NULL);
    if (rc == WR_OK && s.rc != WR_OK) {
        *eb = s.eb;
        rc = s.rc;
    }
    return rc;
}

/* Every file's size, then none a symbolic link nor with other hard links
 * (stops at the first that fails: that file "failed", the others
 * skipped). */
static int cpt_measure(cpt_job *j, wr_errbuf *eb)
{
    int rc;
    for (size_t i = 0; i < j->nf; i++) {
        cpt_file *f = &j->f[i];
        wr_errbuf feb = {0};
        if ((rc = cpt_file_size(f->path, &f->rep.size_before, &feb)) != WR_OK)
            return cpt_fail(f, "failed", rc, &feb, eb);
    }
    for (size_t i = 0; i < j->nf; i++) {
        wr_errbuf feb = {0};
        if ((rc = cpt_refuse_link(j, &j->f[i], &feb)) != WR_OK)
            return cpt_fail(&j->f[i], "failed", rc, &feb, eb);
    }
    return WR_OK;
}

/* C2, C4, C5 for every file (stops at the first that fails), then C3. */
static int cpt_build_all(cpt_job *j, wr_errbuf *eb)
{
    int rc;
    for (size_t i = 0; i < j->nf; i++) {
        cpt_file *f = &j->f[i];
        wr_errbuf feb = {0};
        if (cpt_interrupted(j)) {
            cpt_eintr(j->path, &feb);
            return cpt_fail(f, "failed", WR_EINTR, &feb, eb);
        }
        rc = cpt_build(j, f, &feb);
        if (rc == WR_OK && !j->o->dry_run)
            rc = cpt_check_settling(j, f, &feb);
        if (rc != WR_OK)
            return cpt_fail(f, f->damage ? "damaged" : "failed", rc, &feb,
                            eb);
        f->rep.status = j->o->dry_run ? "dry-run" : "built";
    }
    if (j->o->backup_dir != NULL && !j->o->dry_run &&
        (rc = cpt_backup(j, eb)) != WR_OK)
        return rc;
    return WR_OK;
}

/* C6, C7: the commit. Returns the first error; files renamed so far stay
 * renamed (every mix is consistent, C6). */
static int cpt_replace_all(cpt_job *j, wr_errbuf *eb)
{
    int rc;
    if (j->have_cat && j->nf > 0) {
        for (size_t i = 0; i < j->nf; i++)
            j->f[i].cf->prev_gen = j->f[i].cf->gen;
        j->cat.gen++;
    }
    if (j->backup_path != NULL && (rc = cpt_backup_expect(j, eb)) != WR_OK) {
        for (size_t i = 0; i < j->nf; i++)
            cpt_fail(&j->f[i], "failed", rc, eb, eb);
        return rc;
    }
    j->committing = true;
    if (j->have_cat && j->nf > 0) {
        /* a write that fails before its rename changed nothing, and the
         * run counts as not begun (C6); after it (the directory's fsync)
         * the new catalog is in place: committing */
        bool renamed = false;
        if ((rc = wri_catalog_write(j->dir, &j->cat, &renamed, eb)) !=
            WR_OK) {
            j->committing = renamed;
            for (size_t i = 0; i < j->nf; i++)
                cpt_fail(&j->f[i], "failed", rc, eb, eb);
            return rc;
        }
    }
    for (size_t i = 0; i < j->nf; i++) {
        cpt_file *f = &j->f[i];
        wr_errbuf feb = {0};
        if ((rc = wri_io_rename(f->tmp, f->path, &feb)) != WR_OK)
            return cpt_fail(f, "failed", rc, &feb, eb);
        f->built = false;
        f->replaced = true;
        f->rep.status = "compacted";
        if ((rc = wri_io_fsync_dir(j->dir, &feb)) != WR_OK)
            return cpt_fail(f, "compacted", rc, &feb, eb);
    }
    if (j->have_cat && j->nf > 0)
        WRI_DIAG(wri_diag_db, j->dir); /* C6, C7: old or new, consistent */
    return WR_OK;
}

int wr_compact(const char *path, const wr_compact_opts *o,
               wr_compact_stats *st, wr_errbuf *eb)
{
    int rc;
    bool all_seen = false;
    cpt_job j = {0};
    wr_compact_opts dflt = {0};
    j.o = o != NULL ? o : &dflt;
    j.path = path;
    j.fill = j.o->fill_pct ? j.o->fill_pct : 100;
    if (j.fill < 10 || j.fill > 100) {
        rc = WR_ERR(eb, WR_EINVAL, "fill factor %u%% not in 10..100",
                    j.fill);
        goto out;
    }
    if (j.o->page_size != 0 &&
        (j.o->page_size < WRI_PAGE_MIN || j.o->page_size > WRI_PAGE_MAX ||
         (j.o->page_size & (j.o->page_size - 1)) != 0)) {
        rc = WR_ERR(eb, WR_EINVAL,
                    "page size %u is not a power of two from %u to %u",
                    j.o->page_size, WRI_PAGE_MIN, WRI_PAGE_MAX);
        goto out;
    }
    if ((rc = cpt_plan(&j, eb)) != WR_OK)
        goto out;
    cpt_drop_seen(&j, &all_seen);
    if (all_seen)
        goto out; /* compacted and reported by an earlier PATH */
    if (j.have_cat && (rc = wri_catalog_refuse_link(j.dir, eb)) != WR_OK)
        goto out; /* no file touched: none to report (eb says why) */
    if (!j.o->dry_run) {
        if ((rc = wri_io_lock_dir(j.dir,
                                  j.o->holder ? j.o->holder : "wr-compact",
                                  &j.lock, eb)) != WR_OK ||
            (rc = cpt_sweep(&j, eb)) != WR_OK)
            goto out; /* no file touched: none to report (eb says why) */
    }
    if ((rc = cpt_measure(&j, eb)) != WR_OK)
        goto cleanup;
    if (!j.o->dry_run && (rc = cpt_space_check(&j, eb)) != WR_OK)
        goto out; /* no file touched: none to report (eb says why) */
    if ((rc = cpt_build_all(&j, eb)) != WR_OK)
        goto cleanup;
    if (j.o->dry_run)
        goto report;
    if (cpt_interrupted(&j)) {
        rc = cpt_eintr(j.path, eb);
        goto cleanup;
    }
    rc = cpt_replace_all(&j, eb);
cleanup:
    for (size_t i = 0; i < j.nf; i++)
        cpt_remove_tmp(&j.f[i]);
    if (rc != WR_OK && !j.committing)
        cpt_backup_discard(&j);
report:
    for (size_t i = 0; i < j.nf; i++) {
        cpt_file *f = &j.f[i];
        /* a dry run that failed anywhere would compact nothing either */
        bool done = f->replaced || (j.o->dry_run && rc == WR_OK);
        if (!done && f->rep.rc == WR_OK) {
            f->rep.status = "skipped";
            snprintf(f->err, sizeof f->err, "not compacted: %.900s", eb->msg);
        }
        if (!done)
            f->rep.size_after = f->rep.size_before;
        if (st != NULL) {
            st->files++;
            if (done) {
                st->compacted++;
                st->live_bytes += f->rep.live_bytes;
            }
            st->size_before += f->rep.size_before;
            st->size_after += f->rep.size_after;
        }
        f->rep.error = f->err; /* j.f may have moved while planning */
        if (j.o->on_file != NULL)
            j.o->on_file(&f->rep, j.o->arg);
        if (done)
            cpt_seen_add(j.o->seen, f->path);
    }
out:
    cpt_job_free(&j);
    return rc;
}
