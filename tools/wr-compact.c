/*
 * wr-compact -- rewrite tree files offline to give freed space back.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    puts("Usage: wr-compact [OPTIONS] PATH...\n"
         "\n"
         "Rewrite each tree file of a database directory PATH (every main\n"
         "table and index its catalog names, together), or a single tree\n"
         "file, into a new file holding only the live pages of its\n"
         "checkpoint, built bottom-up. The new file is verified (structure,\n"
         "and every key and value compared with the original) before it is\n"
         "renamed over the original; a file that fails the quick verify is\n"
         "not compacted. Prints size before, size after and space given\n"
         "back per file.\n"
         "\n"
         "Options:\n"
         "  --dry-run             report what would be given back; write\n"
         "                        nothing\n"
         "  --backup-dir DIR      first copy the originals into DIR/NAME/\n"
         "                        (NAME: the last component of PATH) with a\n"
         "                        MANIFEST of CRC-32s, and check the copies\n"
         "  --page-size N         page size of the new files: 512..65536, a\n"
         "                        power of two (default: keep each file's)\n"
         "  --fill PCT            how full to make each page, 10..100\n"
         "                        (default 100: as small as the data allows)\n"
         "  --json                print one JSON object on stdout\n"
         "  -q, --quiet           no progress, no report\n"
         WR_CLI_HELP_COMMON         "\n"
         "Exit status: 0 compacted (or, with --dry-run, measured); 1 a file\n"
         "is damaged, or its rebuilt copy failed verification: nothing of\n"
         "that PATH was replaced; 2 usage error; 3 cannot open, read or\n"
         "write, a tree file or the catalog is a symbolic link, a tree\n"
         "file has other hard links, the directory is locked by another\n"
         "process, the disk is full, or interrupted; or the report cannot\n"
         "be written (the files are compacted and committed: the data is\n"
         "safe).");
}

typedef struct report {
    wr_cli *cli;
    bson_t files; /* JSON: the "files" array being built */
    uint32_t nfiles;
} report;

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* "N given back (P%)" or, when the file grew (a larger page size),
 * "grew by N": never a negative amount given back. */
static void print_change(uint64_t before, uint64_t after)
{
    if (after > before)
        printf("grew by %llu", (unsigned long long)(after - before));
    else
        printf("%llu given back (%.1f%%)",
               (unsigned long long)(before - after),
               pct(before - after, before));
}

static void json_change(bson_t *d, uint64_t before, uint64_t after)
{
    BSON_APPEND_INT64(d, "given_back",
                      before > after ? (int64_t)(before - after) : 0);
    BSON_APPEND_INT64(d, "grown_by",
                      after > before ? (int64_t)(after - before) : 0);
}

static void on_file(const wr_compact_file *f, void *arg)
{
    report *r = arg;
    if (r->cli->json) {
        char key[16];
        bson_t d;
        snprintf(key, sizeof key, "%u", r->nfiles);
        bson_append_document_begin(&r->files, key, -1, &d);
        BSON_APPEND_UTF8(&d, "path", f->path);
        BSON_APPEND_UTF8(&d, "status", f->status);
        BSON_APPEND_INT64(&d, "generation", (int64_t)f->generation);
        BSON_APPEND_INT64(&d, "records", (int64_t)f->records);
        BSON_APPEND_INT64(&d, "live_bytes", (int64_t)f->live_bytes);
        BSON_APPEND_INT32(&d, "page_size_before",
                          (int32_t)f->page_size_before);
        BSON_APPEND_INT32(&d, "page_size_after", (int32_t)f->page_size_after);
        BSON_APPEND_INT64(&d, "size_before", (int64_t)f->size_before);
        BSON_APPEND_INT64(&d, "size_after", (int64_t)f->size_after);
        json_change(&d, f->size_before, f->size_after);
        if (f->backup != NULL)
            BSON_APPEND_UTF8(&d, "backup", f->backup);
        if (f->error[0] != '\0' && f->rc != WR_OK) {
            bson_t e;
            BSON_APPEND_DOCUMENT_BEGIN(&d, "error", &e);
            BSON_APPEND_UTF8(&e, "code", wr_errname(f->rc));
            BSON_APPEND_UTF8(&e, "message", f->error);
            bson_append_document_end(&d, &e);
        } else if (f->error[0] != '\0') { /* skipped for another file */
            BSON_APPEND_UTF8(&d, "reason", f->error);
        }
        bson_append_document_end(&r->files, &d);
    } else if (!r->cli->quiet) {
        wr_cli_progress_done(r->cli);
        printf("%s: %s, %llu -> %llu bytes, ", f->path, f->status,
               (unsigned long long)f->size_before,
               (unsigned long long)f->size_after);
        print_change(f->size_before, f->size_after);
        printf(", %llu records%s%s\n", (unsigned long long)f->records,
               f->backup != NULL ? ", backup in " : "",
               f->backup != NULL ? f->backup : "");
    }
    r->nfiles++;
}

static void on_progress(const wr_compact_progress *p, void *arg)
{
    report *r = arg;
    char head[300];
    snprintf(head, sizeof head, "%s %s", p->phase, wr_cli_base(p->path));
    wr_cli_progress_count(r->cli, head, p->done, p->total,
                          strcmp(p->phase, "backing up") == 0 ? "files"
                                                              : "records");
}

/* Report the less trustworthy outcome of two (3 over 1 over 2 over 0). */
static int worse(int a, int b)
{
    static const int rank[4] = {0, 2, 1, 3};
    return rank[b] > rank[a] ? b : a;
}

int main(int argc, char **argv)
{
    wr_cli cli;
    wr_compact_opts o = {0};
    wr_compact_stats st = {0};
    wr_compact_seen seen = {0};
    wr_errbuf eb = {0}, first = {0};
    report r = {0};
    uint64_t v;
    int opt, exit_code = WR_EXIT_OK, first_rc = WR_OK;
    enum { O_DRY = 256, O_BACKUP, O_PAGE, O_FILL };
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, O_DRY},
        {"backup-dir", required_argument, NULL, O_BACKUP},
        {"page-size", required_argument, NULL, O_PAGE},
        {"fill", required_argument, NULL, O_FILL},
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-compact", argc, argv);
    while ((opt = getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case O_DRY:
            o.dry_run = true;
            break;
        case O_BACKUP:
            if (optarg[0] == '\0')
                return wr_cli_usage_error(&cli, "--backup-dir wants a "
                                                "directory");
            o.backup_dir = optarg;
            break;
        case O_PAGE:
            if ((opt = wr_cli_page_size(&cli, optarg, &o.page_size)) != 0)
                return opt;
            break;
        case O_FILL:
            if (wr_cli_parse_u64(optarg, &v) != 0 || v < 10 || v > 100)
                return wr_cli_usage_error(
                    &cli, "--fill must be a percentage from 10 to 100, not "
                          "'%s'",
                    optarg);
            o.fill_pct = (unsigned)v;
            break;
        default:
            if ((opt = wr_cli_common_opt(&cli, opt, usage)) != WR_CLI_GO_ON)
                return opt;
        }
    }
    if (optind >= argc)
        return wr_cli_usage_error(&cli, "expected at least one PATH");
    if (o.dry_run && o.backup_dir != NULL)
        return wr_cli_usage_error(&cli, "--dry-run writes nothing: it takes "
                                        "no --backup-dir");
    wr_cli_ready(&cli);
    wr_cli_catch_signals_writer();
    r.cli = &cli;
    bson_init(&r.files);
    o.holder = "wr-compact";
    o.on_file = on_file;
    o.progress = on_progress;
    o.arg = &r;
    o.interrupted = &wr_cli_interrupted;
    o.seen = &seen; /* a file named again is done once */
    for (int i = optind; i < argc; i++) {
        wr_errbuf_clear(&eb);
        int rc = wr_compact(argv[i], &o, &st, &eb);
        wr_cli_progress_done(&cli);
        if (rc == WR_OK)
            continue;
        wr_cli_error(&cli, "%s", eb.msg);
        exit_code = worse(exit_code, wr_cli_exit_code(rc));
        if (first_rc == WR_OK) {
            first_rc = rc;
            first = eb;
        }
        if (rc == WR_EINTR)
            break;
    }
    if (cli.json) {
        bson_t d;
        wr_cli_json_begin(&cli, &d);
        BSON_APPEND_BOOL(&d, "dry_run", o.dry_run);
        BSON_APPEND_ARRAY(&d, "files", &r.files);
        BSON_APPEND_INT64(&d, "compacted", (int64_t)st.compacted);
        BSON_APPEND_INT64(&d, "size_before", (int64_t)st.size_before);
        BSON_APPEND_INT64(&d, "size_after", (int64_t)st.size_after);
        json_change(&d, st.size_before, st.size_after);
        BSON_APPEND_INT64(&d, "live_bytes", (int64_t)st.live_bytes);
        wr_cli_json_end(&d, first_rc == WR_OK ? "ok" : "error", exit_code,
                        first_rc, first_rc == WR_OK ? NULL : first.msg);
    } else if (!cli.quiet && st.files > 0) {
        printf("total: %llu of %llu file%s %s, %llu -> %llu bytes, ",
               (unsigned long long)st.compacted,
               (unsigned long long)st.files, wr_cli_plural(st.files),
               o.dry_run ? "would be compacted" : "compacted",
               (unsigned long long)st.size_before,
               (unsigned long long)st.size_after);
        print_change(st.size_before, st.size_after);
        printf("\n");
    }
    bson_destroy(&r.files);
    wr_compact_seen_free(&seen);
    return wr_cli_out_done(&cli, exit_code);
}
