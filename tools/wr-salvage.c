/*
 * wr-salvage -- the documents of a damaged database into a new one, with a
 * report of what was recovered, from where, and what was lost.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    puts("Usage: wr-salvage [OPTIONS] SOURCE DEST\n"
         "\n"
         "Recover the documents of SOURCE, a damaged database directory or a\n"
         "single main-table file, into DEST, a new database directory (it\n"
         "must not exist, or be empty). SOURCE is only read; nothing is\n"
         "repaired in place. Every page of every tree file is read; documents\n"
         "that certainly belong to the chosen checkpoint go into their\n"
         "collection, other copies found in damaged key ranges go to\n"
         "DEST/lost+found/NAME.jsonl with the generation they came from.\n"
         "Indexes are rebuilt from the recovered documents; a damaged or\n"
         "missing catalog is rebuilt from the tree files' headers. DEST is\n"
         "built under a temporary name, verified with every wr-verify check\n"
         "and renamed into place last.\n"
         "\n"
         "Options:\n"
         "  --checkpoint WHICH    latest (default): the snapshot the catalog\n"
         "                        names; previous: the one before it (when the\n"
         "                        latest is damaged and the previous verifies)\n"
         "  --collection NAME     only this collection (repeatable)\n"
         "  --dry-run             read and report; write nothing\n"
         "  --json                print one JSON object on stdout\n"
         "  -q, --quiet           no report, no progress; diagnostics only\n"
         "  --wait                if a writer holds SOURCE's directory, wait\n"
         "                        for it to finish (else exit 3 naming it)\n"
         WR_CLI_HELP_COMMON         "\n"
         "Exit status: 0 everything of the chosen checkpoint was recovered;\n"
         "1 something was lost (the report names the pages and key ranges);\n"
         "2 usage error (also: DEST exists and is not empty); 3 SOURCE cannot\n"
         "be read (or a writer holds it) or DEST cannot be written (no DEST\n"
         "is left behind); or the report cannot be written (DEST is complete:\n"
         "the data is safe).");
}

static void on_progress(const wr_salvage_progress *p, void *arg)
{
    wr_cli *cli = arg;
    char head[300];
    snprintf(head, sizeof head, "%s %s", p->phase, wr_cli_base(p->path));
    wr_cli_progress_count(cli, head, p->done, p->total,
                          strcmp(p->phase, "scanning") == 0 ? "bytes"
                                                            : "documents");
}

/* --- text ---------------------------------------------------------------- */

static void print_coll(const wr_salvage_coll *c)
{
    printf("collection %s: %llu documents recovered", c->name,
           (unsigned long long)c->recovered);
    if (c->expected_known)
        printf(" of %llu in checkpoint %llu",
               (unsigned long long)c->expected,
               (unsigned long long)c->checkpoint);
    printf(", %llu to lost+found%s\n", (unsigned long long)c->lost_found,
           c->complete ? " (complete)" : "");
    if (c->ngens > 0) {
        printf("  from generations:");
        for (size_t i = 0; i < c->ngens; i++)
            printf(" %llu (%llu)", (unsigned long long)c->gens[i].gen,
                   (unsigned long long)c->gens[i].docs);
        putchar('\n');
    }
    if (c->from_scan > 0)
        printf("  %llu of them from pages found by the scan (not reachable "
               "from the checkpoint's damaged tree)\n",
               (unsigned long long)c->from_scan);
    printf("  pages read %llu, damaged %llu; %llu documents failed the "
           "document check\n",
           (unsigned long long)c->pages_read,
           (unsigned long long)c->pages_damaged,
           (unsigned long long)c->bad_docs);
    for (size_t i = 0; i < c->nindexes; i++)
        printf("  index on %s: rebuilt\n", c->indexes[i]);
    for (size_t i = 0; i < c->nlosses; i++) {
        const wr_salvage_loss *l = &c->losses[i];
        /* a header slot gone loses no key range, only the count; in a
         * complete collection a damaged page lost nothing */
        bool slot = strcmp(l->what, "header slot") == 0;
        printf("  %s: %s page [%llu, %llu): ",
               slot          ? "not confirmed"
               : c->complete ? "damaged (nothing lost)"
                             : "lost",
               l->what,
               (unsigned long long)l->page,
               (unsigned long long)(l->page + l->length));
        if (slot)
            printf("%s", l->why);
        else if (l->key != NULL)
            printf("key %s: %s", l->key, l->why);
        else
            printf("after key %s, before key %s: %s",
                   l->after ? l->after : "(start)",
                   l->before ? l->before : "(end)", l->why);
        if (l->rescued || l->to_lost_found)
            printf(" [%llu recovered from scanned pages, %llu to lost+found]",
                   (unsigned long long)l->rescued,
                   (unsigned long long)l->to_lost_found);
        putchar('\n');
    }
    if (!c->complete && c->note[0])
        printf("  note: %s\n", c->note);
    if (c->renamed)
        printf("  renamed: its name or an index field is not valid UTF-8 in "
               "the source: each byte that starts no UTF-8 character is "
               "written %%XX\n");
}

static void print_text(const wr_salvage_report *r, int rc)
{
    printf("salvage %s -> %s%s: catalog %s%s%s\n", r->source, r->dest,
           r->dry_run ? " (dry run: nothing written)" : "", r->catalog,
           r->catalog_note[0] ? ": " : "", r->catalog_note);
    for (size_t i = 0; i < r->ncolls; i++)
        print_coll(&r->colls[i]);
    bool lost = false;
    for (size_t i = 0; i < r->ncolls; i++)
        lost = lost || (!r->colls[i].complete && !r->colls[i].unconfirmed);
    if (r->verified)
        printf("%s: verified clean, %s\n", r->dest,
               rc == WR_OK ? "everything recovered"
               : lost      ? "some documents were lost (see above)"
                           : "every document found was recovered, but the "
                             "record count could not be confirmed (see "
                             "above)");
}

/* --- JSON ---------------------------------------------------------------- */

static void json_coll(bson_t *arr, size_t i, const wr_salvage_coll *c)
{
    bson_t d, a, x;
    char k[24];
    snprintf(k, sizeof k, "%zu", i);
    bson_append_document_begin(arr, k, -1, &d);
    BSON_APPEND_UTF8(&d, "name", c->name);
    BSON_APPEND_UTF8(&d, "file", c->file ? c->file : "");
    BSON_APPEND_INT64(&d, "checkpoint", (int64_t)c->checkpoint);
    if (c->expected_known)
        BSON_APPEND_INT64(&d, "expected", (int64_t)c->expected);
    else
        BSON_APPEND_NULL(&d, "expected");
    BSON_APPEND_INT64(&d, "recovered", (int64_t)c->recovered);
    BSON_APPEND_INT64(&d, "from_scan", (int64_t)c->from_scan);
    BSON_APPEND_INT64(&d, "lost_and_found", (int64_t)c->lost_found);
    BSON_APPEND_INT64(&d, "bad_documents", (int64_t)c->bad_docs);
    BSON_APPEND_INT64(&d, "pages_read", (int64_t)c->pages_read);
    BSON_APPEND_INT64(&d, "pages_damaged", (int64_t)c->pages_damaged);
    BSON_APPEND_BOOL(&d, "complete", c->complete);
    BSON_APPEND_BOOL(&d, "unconfirmed", c->unconfirmed);
    BSON_APPEND_BOOL(&d, "renamed", c->renamed);
    BSON_APPEND_UTF8(&d, "note", c->note);
    bson_append_array_begin(&d, "generations", -1, &a);
    for (size_t j = 0; j < c->ngens; j++) {
        snprintf(k, sizeof k, "%zu", j);
        bson_append_document_begin(&a, k, -1, &x);
        BSON_APPEND_INT64(&x, "generation", (int64_t)c->gens[j].gen);
        BSON_APPEND_INT64(&x, "documents", (int64_t)c->gens[j].docs);
        bson_append_document_end(&a, &x);
    }
    bson_append_array_end(&d, &a);
    bson_append_array_begin(&d, "indexes", -1, &a);
    for (size_t j = 0; j < c->nindexes; j++) {
        snprintf(k, sizeof k, "%zu", j);
        BSON_APPEND_UTF8(&a, k, c->indexes[j]);
    }
    bson_append_array_end(&d, &a);
    bson_append_array_begin(&d, "lost", -1, &a);
    for (size_t j = 0; j < c->nlosses; j++) {
        const wr_salvage_loss *l = &c->losses[j];
        snprintf(k, sizeof k, "%zu", j);
        bson_append_document_begin(&a, k, -1, &x);
        BSON_APPEND_UTF8(&x, "what", l->what);
        BSON_APPEND_INT64(&x, "page", (int64_t)l->page);
        BSON_APPEND_INT64(&x, "length", (int64_t)l->length);
        BSON_APPEND_UTF8(&x, "why", l->why);
        if (l->after)
            BSON_APPEND_UTF8(&x, "after_key", l->after);
        else
            BSON_APPEND_NULL(&x, "after_key");
        if (l->before)
            BSON_APPEND_UTF8(&x, "before_key", l->before);
        else
            BSON_APPEND_NULL(&x, "before_key");
        if (l->key)
            BSON_APPEND_UTF8(&x, "key", l->key);
        else
            BSON_APPEND_NULL(&x, "key");
        BSON_APPEND_INT64(&x, "recovered_from_scan", (int64_t)l->rescued);
        BSON_APPEND_INT64(&x, "to_lost_and_found", (int64_t)l->to_lost_found);
        bson_append_document_end(&a, &x);
    }
    bson_append_array_end(&d, &a);
    bson_append_document_end(arr, &d);
}

static void print_json(const wr_cli *cli, const wr_salvage_report *r,
                       int rc, int exit_code, const wr_errbuf *eb)
{
    bson_t d, a;
    wr_cli_json_begin(cli, &d);
    if (r != NULL) {
        BSON_APPEND_UTF8(&d, "source", r->source);
        BSON_APPEND_UTF8(&d, "dest", r->dest);
        BSON_APPEND_BOOL(&d, "dry_run", r->dry_run);
        BSON_APPEND_UTF8(&d, "checkpoint", r->previous ? "previous" : "latest");
        BSON_APPEND_UTF8(&d, "catalog", r->catalog);
        BSON_APPEND_UTF8(&d, "catalog_note", r->catalog_note);
        BSON_APPEND_INT64(&d, "bytes_scanned", (int64_t)r->bytes_scanned);
        BSON_APPEND_BOOL(&d, "verified", r->verified);
        bson_append_array_begin(&d, "collections", -1, &a);
        for (size_t i = 0; i < r->ncolls; i++)
            json_coll(&a, i, &r->colls[i]);
        bson_append_array_end(&d, &a);
    }
    wr_cli_json_end(&d,
                    rc == WR_OK        ? "ok"
                    : exit_code == 1   ? "lost"
                                       : "error",
                    exit_code, rc, rc == WR_OK ? NULL : eb->msg);
}

int main(int argc, char **argv)
{
    wr_cli cli;
    wr_salvage_opts o = {0};
    wr_salvage_report *r = NULL;
    wr_errbuf eb = {0};
    const char **colls = NULL;
    int opt;
    enum { O_DRY = 256, O_CKPT, O_COLL };
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, O_DRY},
        {"checkpoint", required_argument, NULL, O_CKPT},
        {"collection", required_argument, NULL, O_COLL},
        {"wait", no_argument, NULL, WR_CLI_O_WAIT},
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-salvage", argc, argv);
    if ((colls = calloc((size_t)argc + 1, sizeof *colls)) == NULL) {
        wr_cli_error(&cli, "out of memory");
        return WR_EXIT_ENV;
    }
    int ck;
    while ((opt = getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case O_DRY:
            o.dry_run = true;
            break;
        case O_CKPT:
            if ((ck = wr_cli_checkpoint_opt(&cli, optarg, &o.previous)) !=
                WR_CLI_GO_ON) {
                free(colls);
                return ck;
            }
            break;
        case O_COLL:
            colls[o.ncollections++] = optarg;
            break;
        default:
            if ((opt = wr_cli_common_opt(&cli, opt, usage)) != WR_CLI_GO_ON) {
                free(colls);
                return opt;
            }
        }
    }
    if (argc - optind != 2) {
        free(colls);
        return wr_cli_usage_error(&cli, "expected SOURCE and DEST");
    }
    o.collections = o.ncollections ? colls : NULL;
    wr_cli_ready(&cli);
    wr_cli_catch_signals_writer();
    o.progress = on_progress;
    o.progress_arg = &cli;
    o.interrupted = &wr_cli_interrupted;
    /* SOURCE under the readers' lock: no writer changes it meanwhile */
    wr_read *rd = NULL;
    int rc = wr_cli_read_begin(&cli, argv[optind], &rd, &eb);
    if (rc == WR_OK)
        rc = wr_cli_read_end(
            rd, wr_salvage(argv[optind], argv[optind + 1], &o, &r, &eb), &eb);
    wr_cli_progress_done(&cli);
    int exit_code = wr_cli_exit_code(rc);
    /* losses are the report's to tell; anything that kept DEST from
     * being made (its verification failed, say) is said here */
    bool told = r != NULL && r->ncolls > 0 && (r->written || r->dry_run);
    if (rc != WR_OK && !(rc == WR_ECORRUPT && told))
        wr_cli_error(&cli, "%s", eb.msg);
    if (cli.json)
        print_json(&cli, r, rc, exit_code, &eb);
    else if (!cli.quiet && r != NULL && r->ncolls > 0 && (rc == WR_OK || told))
        print_text(r, rc); /* never a report of a DEST not written */
    wr_salvage_report_free(r);
    free(colls);
    return wr_cli_out_done(&cli, exit_code);
}
