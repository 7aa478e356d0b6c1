/*
 * wr-verify -- check database directories and tree files: every page,
 * every checksum, the free space, the documents, the indexes, the catalog.
 * One line per problem on stdout, a summary per path, or one JSON object.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(void)
{
    puts("Usage: wr-verify [OPTIONS] PATH...\n"
         "\n"
         "Check each PATH, a database directory (the catalog, every tree file,\n"
         "each index against its collection) or a single tree file. Reads\n"
         "only, never writes, and keeps going after a problem. Each problem is\n"
         "one line on stdout:\n"
         "  PATH: page OFFSET: byte OFFSET: CHECK: detail (expected X, found Y)\n"
         "(page = the page's file offset, byte = the file offset the problem\n"
         "applies to), then a summary per PATH with page and key counts.\n"
         "\n"
         "Options:\n"
         "  --quick               headers, checksums of every reachable page,\n"
         "                        page structure and space only: no keys,\n"
         "                        documents, indexes or digests\n"
         "  --checkpoint WHICH    latest (default): the newest checkpoint of a\n"
         "                        file, the snapshot the catalog names for a\n"
         "                        database; previous: the one before it\n"
         "  --all-checkpoints     also check the other valid header slot's\n"
         "                        tree of every file (and, for a database, the\n"
         "                        previous snapshot's indexes)\n"
         "  --max-problems N      list at most N problems per PATH (default\n"
         "                        1000); all are counted\n"
         "  --digest              also compute and print each collection's\n"
         "                        content digest (SHA-256, below)\n"
         "  --wait                if a writer (wr-load, wr-migrate,\n"
         "                        wr-compact) holds the directory, wait for it\n"
         "                        to finish (else exit 3 naming it)\n"
         "  --no-lock             read the snapshot the catalog names without\n"
         "                        taking the shared lock; if a writer changes\n"
         "                        it meanwhile, say so and exit 3 (never a\n"
         "                        false finding)\n"
         "  --json                print one JSON object on stdout (also on\n"
         "                        failure)\n"
         "  -q, --quiet           only the problem lines: no summary, no\n"
         "                        progress\n"
         WR_CLI_HELP_COMMON         "\n"
         "Checks (the CHECK field):");
    for (int i = 0; i < WR_CHECK_NCHECKS; i++)
        printf("  %-15s %s\n", wr_verify_check_name(i),
               wr_verify_check_help(i));
    puts("\n"
         "Digest (--digest): SHA-256 of a collection's documents (BSON) in _id\n"
         "order, independent of page layout; equal digests mean equal content.\n"
         "A report, not a check: without --digest none is computed.\n"
         "\n"
         "Exit status: 0 no problem found; 1 problems found; 2 usage error;\n"
         "3 a PATH cannot be opened or read (missing, not a database, newer\n"
         "format version, I/O error, interrupted, a writer holds it, or it\n"
         "changed during a --no-lock check). 3 wins over 1.");
}

/* "checking 1/2 people.main.wr: 1200 of 4800 pages (25%), 30000 pages/s" */
static void on_progress(const wr_verify_progress *p, void *arg)
{
    char head[300];
    snprintf(head, sizeof head, "%s %zu/%zu %s", p->phase, p->file,
             p->nfiles, wr_cli_base(p->path));
    wr_cli_progress_count(arg, head, p->pages_done, p->pages_total, "pages");
}

static const char *role_name(uint32_t role)
{
    return role == 1 ? "main" : role == 2 ? "index" : "unknown";
}

static const char *status_name(int rc)
{
    return rc == WR_OK ? "clean" : rc == WR_ECORRUPT ? "damaged" : "error";
}

static void problem_line(const wr_verify_problem *p, bool all, char *buf,
                         size_t len)
{
    wr_verify_problem q = *p;
    if (all && p->gen != 0)
        snprintf(q.detail, sizeof q.detail, "checkpoint %llu: %.270s",
                 (unsigned long long)p->gen, p->detail);
    wr_verify_problem_format(&q, buf, len);
}

/* --- human output ------------------------------------------------------ */

static void print_ckpt(const wr_verify_file *f, const wr_verify_ckpt *ck)
{
    printf("    checkpoint %llu (%s, slot %d%s): height %u, %llu records, "
           "%llu leaf + %llu internal + %llu overflow + %llu extent-list "
           "pages, %llu bytes leaked, %llu problem%s%s\n",
           (unsigned long long)ck->gen, ck->latest ? "latest" : "previous",
           ck->slot, ck->selected ? "" : ", also checked", ck->height,
           (unsigned long long)ck->records,
           (unsigned long long)ck->pages_leaf,
           (unsigned long long)ck->pages_internal,
           (unsigned long long)ck->pages_overflow,
           (unsigned long long)ck->pages_extlist,
           (unsigned long long)ck->leaked_bytes,
           (unsigned long long)ck->problems, wr_cli_plural(ck->problems),
           ck->complete ? "" : " (not every page could be read)");
    if (ck->has_digest) {
        char hex[2 * WR_DIGEST_LEN + 1];
        wr_digest_hex(WR_DIGEST_SHA256, ck->digest, hex);
        printf("      digest sha256:%s (%llu documents)\n", hex,
               (unsigned long long)ck->keys);
    }
    if (f->role == 2 && ck->index_checked)
        printf("      index vs main table: %llu entries, %llu expected, "
               "%llu missing, %llu dangling\n",
               (unsigned long long)ck->index_entries,
               (unsigned long long)ck->index_expected,
               (unsigned long long)ck->index_missing,
               (unsigned long long)ck->index_dangling);
    else if (f->role == 2 && ck->index_note[0])
        printf("      index %s\n", ck->index_note);
}

static void print_summary(const wr_verify_report *r, int rc)
{
    if (rc != WR_OK && rc != WR_ECORRUPT && r->nfiles == 0 &&
        r->total_problems == 0) {
        printf("%s: not checked: %s\n", r->path, r->error);
        return;
    }
    if (r->database)
        printf("%s: database, catalog generation %llu, %zu file%s: %s",
               r->path, (unsigned long long)r->catalog_gen, r->nfiles,
               wr_cli_plural(r->nfiles), status_name(rc));
    else
        printf("%s: tree file: %s", r->path, status_name(rc));
    if (r->total_problems > 0)
        printf(", %llu problem%s", (unsigned long long)r->total_problems,
               wr_cli_plural(r->total_problems));
    printf(" (%llu pages checked)\n", (unsigned long long)r->pages_checked);
    for (size_t i = 0; i < r->nfiles; i++) {
        const wr_verify_file *f = &r->files[i];
        const char *base = strrchr(f->path, '/');
        base = r->database && base ? base + 1 : f->path;
        printf("  %s: ", base);
        if (f->role == 1)
            printf("main table of \"%s\"", f->coll);
        else if (f->role == 2)
            printf("index on \"%s\" of \"%s\"", f->field, f->coll);
        else if (f->status == WR_ENOTOURS)
            printf("not a wrtools file");
        else
            printf("unreadable header");
        if (f->page_size != 0)
            printf(", page size %u", f->page_size);
        printf(", %llu bytes: %s", (unsigned long long)f->file_size,
               status_name(f->status));
        if (f->status != WR_OK && f->status != WR_ECORRUPT)
            printf(": %s", f->error);
        else if (f->problems > 0)
            printf(", %llu problem%s", (unsigned long long)f->problems,
                   wr_cli_plural(f->problems));
        printf("\n");
        for (int s = 0; s < 2; s++)
            if (!f->slot_valid[s] && f->slot_why[s][0])
                printf("    slot %d not used: %s\n", s, f->slot_why[s]);
        for (size_t k = 0; k < f->nckpt; k++)
            print_ckpt(f, &f->ckpt[k]);
    }
}

/* --- JSON output --------------------------------------------------------- */

/* "digest": the hex digest, null when it could not be computed (damage,
 * --quick); absent without --digest. */
static void json_digest(bson_t *d, bool asked, const wr_verify_ckpt *ck)
{
    if (!asked)
        return;
    if (ck->has_digest) {
        char hex[2 * WR_DIGEST_LEN + 1];
        wr_digest_hex(WR_DIGEST_SHA256, ck->digest, hex);
        BSON_APPEND_UTF8(d, "digest", hex);
    } else {
        BSON_APPEND_NULL(d, "digest");
    }
}

static void json_ckpt(bson_t *arr, size_t k, const wr_verify_file *f,
                      const wr_verify_ckpt *ck, bool digest)
{
    bson_t d, sub;
    char key[16];
    const char *kp;
    bson_uint32_to_string((uint32_t)k, &kp, key, sizeof key);
    bson_append_document_begin(arr, kp, -1, &d);
    BSON_APPEND_INT64(&d, "generation", (int64_t)ck->gen);
    BSON_APPEND_INT32(&d, "slot", ck->slot);
    BSON_APPEND_UTF8(&d, "which", ck->latest ? "latest" : "previous");
    BSON_APPEND_BOOL(&d, "selected", ck->selected);
    BSON_APPEND_BOOL(&d, "complete", ck->complete);
    BSON_APPEND_INT32(&d, "height", (int32_t)ck->height);
    BSON_APPEND_INT64(&d, "records", (int64_t)ck->records);
    BSON_APPEND_INT64(&d, "keys", (int64_t)ck->keys);
    BSON_APPEND_DOCUMENT_BEGIN(&d, "pages", &sub);
    BSON_APPEND_INT64(&sub, "leaf", (int64_t)ck->pages_leaf);
    BSON_APPEND_INT64(&sub, "internal", (int64_t)ck->pages_internal);
    BSON_APPEND_INT64(&sub, "overflow", (int64_t)ck->pages_overflow);
    BSON_APPEND_INT64(&sub, "extent_list", (int64_t)ck->pages_extlist);
    bson_append_document_end(&d, &sub);
    BSON_APPEND_DOCUMENT_BEGIN(&d, "bytes", &sub);
    BSON_APPEND_INT64(&sub, "logical", (int64_t)ck->logical_size);
    BSON_APPEND_INT64(&sub, "keys", (int64_t)ck->key_bytes);
    BSON_APPEND_INT64(&sub, "values", (int64_t)ck->value_bytes);
    BSON_APPEND_INT64(&sub, "avail", (int64_t)ck->avail_bytes);
    BSON_APPEND_INT64(&sub, "discard", (int64_t)ck->discard_bytes);
    BSON_APPEND_INT64(&sub, "leaked", (int64_t)ck->leaked_bytes);
    bson_append_document_end(&d, &sub);
    BSON_APPEND_INT64(&d, "problems", (int64_t)ck->problems);
    json_digest(&d, digest, ck);
    if (f->role == 2) {
        BSON_APPEND_DOCUMENT_BEGIN(&d, "index", &sub);
        BSON_APPEND_BOOL(&sub, "checked", ck->index_checked);
        if (ck->index_note[0])
            BSON_APPEND_UTF8(&sub, "note", ck->index_note);
        BSON_APPEND_INT64(&sub, "entries", (int64_t)ck->index_entries);
        BSON_APPEND_INT64(&sub, "expected", (int64_t)ck->index_expected);
        BSON_APPEND_INT64(&sub, "missing", (int64_t)ck->index_missing);
        BSON_APPEND_INT64(&sub, "dangling", (int64_t)ck->index_dangling);
        bson_append_document_end(&d, &sub);
    }
    bson_append_document_end(arr, &d);
}

static void json_file(bson_t *arr, size_t i, const wr_verify_file *f,
                      bool digest)
{
    bson_t d, a, s;
    char key[16];
    const char *kp;
    bson_uint32_to_string((uint32_t)i, &kp, key, sizeof key);
    bson_append_document_begin(arr, kp, -1, &d);
    BSON_APPEND_UTF8(&d, "path", f->path);
    BSON_APPEND_UTF8(&d, "status", status_name(f->status));
    if (f->status != WR_OK && f->status != WR_ECORRUPT)
        BSON_APPEND_UTF8(&d, "error", f->error);
    BSON_APPEND_UTF8(&d, "role", role_name(f->role));
    BSON_APPEND_UTF8(&d, "collection", f->coll);
    if (f->role == 2)
        BSON_APPEND_UTF8(&d, "field", f->field);
    BSON_APPEND_INT32(&d, "page_size", (int32_t)f->page_size);
    BSON_APPEND_INT64(&d, "file_size", (int64_t)f->file_size);
    BSON_APPEND_INT64(&d, "problems", (int64_t)f->problems);
    BSON_APPEND_ARRAY_BEGIN(&d, "slots", &a);
    for (int k = 0; k < 2; k++) {
        bson_uint32_to_string((uint32_t)k, &kp, key, sizeof key);
        bson_append_document_begin(&a, kp, -1, &s);
        BSON_APPEND_INT32(&s, "slot", k);
        BSON_APPEND_BOOL(&s, "valid", f->slot_valid[k]);
        if (f->slot_valid[k])
            BSON_APPEND_INT64(&s, "generation", (int64_t)f->slot_gen[k]);
        else
            BSON_APPEND_UTF8(&s, "rejected", f->slot_why[k]);
        bson_append_document_end(&a, &s);
    }
    bson_append_array_end(&d, &a);
    BSON_APPEND_ARRAY_BEGIN(&d, "checkpoints", &a);
    for (size_t k = 0; k < f->nckpt; k++)
        json_ckpt(&a, k, f, &f->ckpt[k], digest);
    bson_append_array_end(&d, &a);
    bson_append_document_end(arr, &d);
}

/* A tree file the catalog does not name that no catalog ever named. */
#define DEBRIS_NOTE                                                          \
    "debris of a run that stopped before it committed this file (no part "   \
    "of the database, no document of any snapshot in it); the next writer " \
    "removes it"

/* Damage beyond tree files the catalog does not name (orphans: no part of
 * the database, which is intact): then wr-salvage is the way back. */
static bool needs_salvage(const wr_verify_report *r, int rc)
{
    return rc == WR_ECORRUPT && r->total_problems > r->norphans;
}

/* The wr-salvage command that gets the documents of a damaged PATH into
 * a new database beside it, quoted for a POSIX shell. */
static void salvage_command(const char *path, char *buf, size_t len)
{
    char q[2][680];
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    for (int k = 0; k < 2; k++) {
        size_t o = 0;
        q[k][o++] = '\'';
        for (size_t j = 0; j < n && o + 8 < sizeof q[k]; j++) {
            if (path[j] == '\'') {
                memcpy(q[k] + o, "'\\''", 4);
                o += 4;
            } else {
                q[k][o++] = path[j];
            }
        }
        q[k][o] = '\0';
        snprintf(q[k] + o, sizeof q[k] - o, "%s'", k ? ".salvaged" : "");
    }
    snprintf(buf, len, "wr-salvage %s %s", q[0], q[1]);
}

static void json_report(bson_t *arr, size_t i, const wr_verify_report *r,
                        int rc, const wr_verify_opts *o)
{
    bson_t d, a, p;
    char key[16], line[1400];
    const char *kp;
    bson_uint32_to_string((uint32_t)i, &kp, key, sizeof key);
    bson_append_document_begin(arr, kp, -1, &d);
    BSON_APPEND_UTF8(&d, "path", r->path);
    BSON_APPEND_UTF8(&d, "kind", r->database ? "database" : "file");
    BSON_APPEND_UTF8(&d, "status", status_name(rc));
    if (rc != WR_OK && rc != WR_ECORRUPT)
        BSON_APPEND_UTF8(&d, "error", r->error);
    if (r->database)
        BSON_APPEND_INT64(&d, "catalog_generation", (int64_t)r->catalog_gen);
    BSON_APPEND_INT64(&d, "pages_checked", (int64_t)r->pages_checked);
    BSON_APPEND_INT64(&d, "problems_total", (int64_t)r->total_problems);
    BSON_APPEND_INT64(&d, "problems_shown", (int64_t)r->nproblems);
    BSON_APPEND_ARRAY_BEGIN(&d, "problems", &a);
    for (size_t k = 0; k < r->nproblems; k++) {
        const wr_verify_problem *q = &r->problems[k];
        bson_uint32_to_string((uint32_t)k, &kp, key, sizeof key);
        bson_append_document_begin(&a, kp, -1, &p);
        BSON_APPEND_UTF8(&p, "file", q->path);
        BSON_APPEND_UTF8(&p, "check", wr_verify_check_name(q->check));
        BSON_APPEND_INT64(&p, "generation", (int64_t)q->gen);
        BSON_APPEND_INT64(&p, "page", (int64_t)q->page);
        BSON_APPEND_INT64(&p, "offset", (int64_t)q->offset);
        BSON_APPEND_UTF8(&p, "detail", q->detail);
        BSON_APPEND_UTF8(&p, "expected", q->expected);
        BSON_APPEND_UTF8(&p, "found", q->found);
        problem_line(q, o->all_checkpoints, line, sizeof line);
        BSON_APPEND_UTF8(&p, "line", line);
        bson_append_document_end(&a, &p);
    }
    bson_append_array_end(&d, &a);
    BSON_APPEND_ARRAY_BEGIN(&d, "files", &a);
    for (size_t k = 0; r != NULL && k < r->nfiles; k++)
        json_file(&a, k, &r->files[k], o->digest != WR_DIGEST_NONE);
    bson_append_array_end(&d, &a);
    /* collections: the selected checkpoint of each main table */
    BSON_APPEND_ARRAY_BEGIN(&d, "collections", &a);
    size_t n = 0;
    for (size_t k = 0; k < r->nfiles; k++) {
        const wr_verify_file *f = &r->files[k];
        if (f->role != 1 || f->nckpt == 0)
            continue;
        const wr_verify_ckpt *ck = &f->ckpt[0];
        bson_uint32_to_string((uint32_t)n++, &kp, key, sizeof key);
        bson_append_document_begin(&a, kp, -1, &p);
        BSON_APPEND_UTF8(&p, "name", f->coll);
        BSON_APPEND_INT64(&p, "documents", (int64_t)ck->keys);
        json_digest(&p, o->digest != WR_DIGEST_NONE, ck);
        bson_append_document_end(&a, &p);
    }
    bson_append_array_end(&d, &a);
    if (r->database) {
        BSON_APPEND_ARRAY_BEGIN(&d, "debris", &a);
        for (size_t k = 0; k < r->ndebris; k++) {
            bson_uint32_to_string((uint32_t)k, &kp, key, sizeof key);
            BSON_APPEND_UTF8(&a, kp, r->debris[k]);
        }
        bson_append_array_end(&d, &a);
    }
    if (needs_salvage(r, rc)) {
        salvage_command(r->path, line, sizeof line);
        BSON_APPEND_UTF8(&d, "salvage_command", line);
    }
    bson_append_document_end(arr, &d);
}

/* A PATH whose report cannot stand: a writer holds it, it changed under
 * a --no-lock read, or out of memory. */
static void json_not_checked(bson_t *arr, size_t i, const char *path, int rc,
                             const char *msg)
{
    bson_t d, a;
    char key[16];
    const char *kp;
    struct stat st;
    bson_uint32_to_string((uint32_t)i, &kp, key, sizeof key);
    bson_append_document_begin(arr, kp, -1, &d);
    BSON_APPEND_UTF8(&d, "path", path);
    BSON_APPEND_UTF8(&d, "kind", stat(path, &st) == 0 && S_ISDIR(st.st_mode)
                                     ? "database"
                                     : "file");
    BSON_APPEND_UTF8(&d, "status", "error");
    BSON_APPEND_UTF8(&d, "error_code", wr_errname(rc));
    BSON_APPEND_UTF8(&d, "error", msg);
    BSON_APPEND_INT64(&d, "pages_checked", 0);
    BSON_APPEND_INT64(&d, "problems_total", 0);
    BSON_APPEND_INT64(&d, "problems_shown", 0);
    BSON_APPEND_ARRAY_BEGIN(&d, "problems", &a);
    bson_append_array_end(&d, &a);
    BSON_APPEND_ARRAY_BEGIN(&d, "files", &a);
    bson_append_array_end(&d, &a);
    BSON_APPEND_ARRAY_BEGIN(&d, "collections", &a);
    bson_append_array_end(&d, &a);
    bson_append_document_end(arr, &d);
}

/* Verify one PATH under the readers' lock (or, --no-lock, checking that
 * nothing moved). *out stays NULL when the report cannot stand: a writer
 * holds the lock, or it changed what was read (eb says which). */
static int verify_path(wr_cli *cli, const char *path, const wr_verify_opts *o,
                       wr_verify_report **out, wr_errbuf *eb)
{
    wr_read *rd = NULL;
    *out = NULL;
    int rc = wr_cli_read_begin(cli, path, &rd, eb);
    if (rc != WR_OK)
        return rc;
    rc = wr_verify(path, o, out, eb);
    wr_cli_progress_done(cli);
    if ((rc = wr_cli_read_end(rd, rc, eb)) == WR_ECHANGED) {
        wr_verify_report_free(*out); /* the writer's doing, not damage */
        *out = NULL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    wr_cli cli;
    wr_verify_opts o = {0};
    uint64_t v;
    int opt, worst = WR_EXIT_OK;
    enum { O_QUICK = 256, O_CKPT, O_ALL, O_MAX, O_DIGEST };
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, O_QUICK},
        {"checkpoint", required_argument, NULL, O_CKPT},
        {"all-checkpoints", no_argument, NULL, O_ALL},
        {"max-problems", required_argument, NULL, O_MAX},
        {"digest", no_argument, NULL, O_DIGEST},
        WR_CLI_READ_OPTIONS,
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-verify", argc, argv);
    int ck;
    while ((opt = getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case O_QUICK:
            o.quick = true;
            break;
        case O_CKPT:
            if ((ck = wr_cli_checkpoint_opt(&cli, optarg, &o.previous)) !=
                WR_CLI_GO_ON)
                return ck;
            break;
        case O_ALL:
            o.all_checkpoints = true;
            break;
        case O_DIGEST:
            o.digest = WR_DIGEST_SHA256;
            break;
        case O_MAX:
            if (wr_cli_parse_u64(optarg, &v) != 0 || v == 0 ||
                v > 1000000)
                return wr_cli_usage_error(&cli, "--max-problems wants a "
                                                "number from 1 to 1000000, "
                                                "not '%s'",
                                          optarg);
            o.max_problems = (uint32_t)v;
            break;
        default:
            if ((opt = wr_cli_common_opt(&cli, opt, usage)) != WR_CLI_GO_ON)
                return opt;
        }
    }
    if (optind >= argc)
        return wr_cli_usage_error(&cli, "expected at least one PATH");
    wr_cli_ready(&cli);
    wr_cli_catch_signals();
    o.interrupted = &wr_cli_interrupted;
    o.progress = on_progress;
    o.progress_arg = &cli;
    bson_t out = BSON_INITIALIZER, arr;
    int first_rc = WR_OK; /* the worst path's error, for "error" */
    char first_msg[1400] = "";
    if (cli.json) {
        bson_destroy(&out);
        wr_cli_json_begin(&cli, &out);
        BSON_APPEND_BOOL(&out, "quick", o.quick);
        BSON_APPEND_UTF8(&out, "checkpoint", o.previous ? "previous"
                                                        : "latest");
        BSON_APPEND_BOOL(&out, "all_checkpoints", o.all_checkpoints);
        BSON_APPEND_ARRAY_BEGIN(&out, "paths", &arr);
    }
    uint64_t total = 0;
    for (int i = optind; i < argc; i++) {
        wr_errbuf eb = {0};
        wr_verify_report *r = NULL;
        int rc = verify_path(&cli, argv[i], &o, &r, &eb);
        int code = rc == WR_OK         ? WR_EXIT_OK
                   : rc == WR_ECORRUPT ? WR_EXIT_DATA
                                       : WR_EXIT_ENV;
        if ((code == WR_EXIT_ENV && worst != WR_EXIT_ENV) ||
            (code == WR_EXIT_DATA && worst == 0)) {
            worst = code;
            first_rc = rc;
            snprintf(first_msg, sizeof first_msg, "%s",
                     r != NULL && r->error[0] ? r->error : eb.msg);
        }
        if (r == NULL) { /* locked, changed, or out of memory */
            wr_cli_error(&cli, "%s", eb.msg);
            if (cli.json)
                json_not_checked(&arr, (size_t)(i - optind), argv[i], rc,
                                 eb.msg);
            else if (!cli.quiet)
                printf("%s: not checked: %s\n", argv[i], eb.msg);
            if (wr_cli_interrupted)
                break;
            continue;
        }
        total += r->total_problems;
        if (cli.json) {
            json_report(&arr, (size_t)(i - optind), r, rc, &o);
        } else {
            char line[1400];
            for (size_t k = 0; k < r->nproblems; k++) {
                problem_line(&r->problems[k], o.all_checkpoints, line,
                             sizeof line);
                puts(line);
            }
            if (r->total_problems > r->nproblems)
                printf("%s: %llu more problem%s not listed "
                       "(--max-problems)\n",
                       argv[i],
                       (unsigned long long)(r->total_problems -
                                            r->nproblems),
                       wr_cli_plural(r->total_problems - r->nproblems));
            if (rc != WR_OK && rc != WR_ECORRUPT)
                wr_cli_error(&cli, "%s", r->error);
            for (size_t k = 0; k < r->ndebris; k++)
                wr_cli_note(&cli, "%s: " DEBRIS_NOTE, r->debris[k]);
            if (!cli.quiet)
                print_summary(r, rc);
            if (!cli.quiet && needs_salvage(r, rc)) {
                salvage_command(argv[i], line, sizeof line);
                printf("%s: to get its documents back into a new database "
                       "(the original is only read):\n  %s\n",
                       argv[i], line);
            }
        }
        wr_verify_report_free(r);
        if (wr_cli_interrupted)
            break;
    }
    if (cli.json) {
        bson_append_array_end(&out, &arr);
        BSON_APPEND_INT64(&out, "problems_total", (int64_t)total);
        wr_cli_json_end(&out,
                        worst == WR_EXIT_OK     ? "clean"
                        : worst == WR_EXIT_DATA ? "damaged"
                                                : "error",
                        worst, first_rc,
                        worst == WR_EXIT_OK ? NULL : first_msg);
    } else {
        bson_destroy(&out);
    }
    return wr_cli_out_done(&cli, worst);
}
