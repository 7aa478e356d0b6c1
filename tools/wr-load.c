/*
 * wr-load -- apply JSONL documents to a collection of a database.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    puts("Usage: wr-load [OPTIONS] DIR NAME [FILE|-]\n"
         "\n"
         "Apply JSONL lines (one MongoDB Extended JSON object per line) to\n"
         "collection NAME of the database in DIR, creating both if absent.\n"
         "A document is an upsert by _id; {\"_id\": X, \"$deleted\": true}\n"
         "deletes X. Reads FILE, or standard input when FILE is - or absent.\n"
         "\n"
         "Options:\n"
         "  --index FIELD         create and maintain an index on FIELD (a\n"
         "                        dotted path); repeatable\n"
         "  --checkpoint-every N  commit a checkpoint every N documents (the\n"
         "                        input is checked whole first)\n"
         "  --page-size N         page size of new files: 512..65536, a power\n"
         "                        of two (default 4096)\n"
         "  --skip-bad            skip and count malformed lines\n"
         "  --json                print one JSON object on stdout\n"
         "  -q, --quiet           no progress, no summary\n"
         "  --help, --version\n"
         "\n"
         "Exit status: 0 loaded; 1 a bad input line (nothing of the run is\n"
         "committed); 2 usage error; 3 cannot open, read or write, the\n"
         "directory is locked, or the disk is full.");
}

static void on_progress(const wr_load_stats *st, void *arg)
{
    wr_cli *cli = arg;
    if (st->bytes_total > 0)
        wr_cli_progress(cli, "%llu lines, %.1f%% of input",
                        (unsigned long long)st->lines,
                        100.0 * (double)st->bytes_read /
                            (double)st->bytes_total);
    else
        wr_cli_progress(cli, "%llu lines", (unsigned long long)st->lines);
}

static void report_json(const wr_load_opts *o, const wr_load_stats *st,
                        int rc, const wr_errbuf *eb)
{
    bson_t d = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&d, "tool", "wr-load");
    BSON_APPEND_UTF8(&d, "status", rc == WR_OK ? "ok" : "error");
    BSON_APPEND_UTF8(&d, "dir", o->dir);
    BSON_APPEND_UTF8(&d, "collection", o->coll);
    BSON_APPEND_UTF8(&d, "input", o->input);
    BSON_APPEND_INT64(&d, "lines", (int64_t)st->lines);
    BSON_APPEND_INT64(&d, "inserted", (int64_t)st->inserted);
    BSON_APPEND_INT64(&d, "replaced", (int64_t)st->replaced);
    BSON_APPEND_INT64(&d, "deleted", (int64_t)st->deleted);
    BSON_APPEND_INT64(&d, "missing_deletes", (int64_t)st->missing);
    BSON_APPEND_INT64(&d, "bad_lines", (int64_t)st->bad);
    BSON_APPEND_INT64(&d, "checkpoints", (int64_t)st->checkpoints);
    BSON_APPEND_INT64(&d, "generation", (int64_t)st->generation);
    if (rc != WR_OK) {
        bson_t e;
        BSON_APPEND_DOCUMENT_BEGIN(&d, "error", &e);
        BSON_APPEND_UTF8(&e, "code", wr_errname(rc));
        BSON_APPEND_UTF8(&e, "message", eb->msg);
        if (st->first_bad_line)
            BSON_APPEND_INT64(&e, "line", (int64_t)st->first_bad_line);
        bson_append_document_end(&d, &e);
    }
    wr_cli_print_json(&d);
    bson_destroy(&d);
}

int main(int argc, char **argv)
{
    wr_cli cli;
    wr_load_opts o = {0};
    wr_load_stats st;
    wr_errbuf eb = {0};
    const char **index = NULL;
    uint64_t v;
    int rc, opt;
    enum { O_INDEX = 256, O_CKPT, O_PAGE, O_SKIP };
    static const struct option longopts[] = {
        {"index", required_argument, NULL, O_INDEX},
        {"checkpoint-every", required_argument, NULL, O_CKPT},
        {"page-size", required_argument, NULL, O_PAGE},
        {"skip-bad", no_argument, NULL, O_SKIP},
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-load");
    while ((opt = getopt_long(argc, argv, "q", longopts, NULL)) != -1) {
        switch (opt) {
        case O_INDEX: {
            const char **grown = realloc(index, (o.nindex + 1) * sizeof *index);
            if (grown == NULL) {
                free(index);
                return WR_EXIT_ENV;
            }
            index = grown;
            index[o.nindex++] = optarg;
            break;
        }
        case O_CKPT:
            if (wr_cli_parse_u64(optarg, &v) != 0 || v == 0)
                return wr_cli_usage_error(
                    &cli, "--checkpoint-every wants a positive number, not "
                          "'%s'",
                    optarg);
            o.checkpoint_every = v;
            break;
        case O_PAGE:
            if ((rc = wr_cli_page_size(&cli, optarg, &o.page_size)) != 0)
                return rc;
            break;
        case O_SKIP:
            o.skip_bad = true;
            break;
        default:
            if ((rc = wr_cli_common_opt(&cli, opt, usage)) == WR_CLI_NOT_COMMON)
                return wr_cli_usage_error(&cli, "unknown option");
            if (rc != WR_CLI_GO_ON) {
                free(index);
                return rc;
            }
        }
    }
    if (argc - optind < 2 || argc - optind > 3)
        return wr_cli_usage_error(&cli, "expected DIR NAME [FILE|-]");
    wr_cli_ready(&cli);
    wr_cli_catch_signals();
    o.dir = argv[optind];
    o.coll = argv[optind + 1];
    o.input = argc - optind == 3 ? argv[optind + 2] : "-";
    o.index = index;
    o.progress = on_progress;
    o.progress_arg = &cli;
    o.interrupted = &wr_cli_interrupted;
    rc = wr_load(&o, &st, &eb);
    wr_cli_progress_done(&cli);
    if (cli.json)
        report_json(&o, &st, rc, &eb);
    if (rc != WR_OK) {
        wr_cli_error(&cli, "%s", eb.msg);
        if (rc == WR_EBADINPUT && !o.skip_bad)
            wr_cli_error(&cli, "nothing of this run was committed (use "
                               "--skip-bad to skip bad lines)");
    } else if (!cli.json && !cli.quiet) {
        printf("%s -> %s/%s: %llu lines, %llu inserted, %llu replaced, "
               "%llu deleted, %llu deletes of absent _id, %llu bad lines "
               "skipped; %llu checkpoints, generation %llu\n",
               o.input, o.dir, o.coll, (unsigned long long)st.lines,
               (unsigned long long)st.inserted,
               (unsigned long long)st.replaced,
               (unsigned long long)st.deleted, (unsigned long long)st.missing,
               (unsigned long long)st.bad,
               (unsigned long long)st.checkpoints,
               (unsigned long long)st.generation);
    }
    free(index);
    return wr_cli_exit_code(rc);
}
