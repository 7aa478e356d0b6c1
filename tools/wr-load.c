/*
 * wr-load -- apply JSONL documents to a collection of a database.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    puts("Usage: wr-load [OPTIONS] DIR NAME [FILE|-]\n"
         "\n"
         "Apply documents to collection NAME of the database in DIR,\n"
         "creating both if absent: JSONL lines (one MongoDB Extended JSON\n"
         "object per line), a JSON array of such objects, or BSON documents.\n"
         "A document is an upsert by _id; {\"_id\": X, \"$deleted\": true}\n"
         "deletes X. Reads FILE, or standard input when FILE is - or absent\n"
         "(not a terminal).\n"
         "\n"
         "Options:\n"
         "  --format FORMAT       jsonl (default), json-array (mongoexport\n"
         "                        --jsonArray) or bson (mongodump .bson,\n"
         "                        bsondump input)\n"
         "  --index FIELD         create and maintain an index on FIELD (a\n"
         "                        dotted path); repeatable\n"
         "  --checkpoint-every N  commit a checkpoint every N documents (the\n"
         "                        input is checked whole first)\n"
         "  --page-size N         page size of new files: 512..65536, a power\n"
         "                        of two (default 4096)\n"
         "  --memory SIZE         memory for the trees' pages and write\n"
         "                        buffers, e.g. 64M, 1G (default 256M);\n"
         "                        past it, changed pages are written\n"
         "                        early, committed only at a checkpoint\n"
         "  --skip-bad            skip and count malformed lines (exit 1\n"
         "                        when no line is good)\n"
         "  --max-bad N           skip at most N malformed lines; one more\n"
         "                        stops the run (nothing committed)\n"
         "  --rejects FILE        where skipped lines go, one JSON object\n"
         "                        each with its line number and reason\n"
         "                        (default: DIR/NAME.rejects.jsonl)\n"
         "  --json                print one JSON object on stdout\n"
         "  -q, --quiet           no progress, no summary\n"
         WR_CLI_HELP_COMMON
         "\n"
         "Exit status: 0 loaded; 1 a bad input line (nothing of the run is\n"
         "committed); 2 usage error; 3 cannot open, read or write, the\n"
         "catalog is a symbolic link, the directory is locked, or the disk\n"
         "is full; or the summary cannot be written (the run is committed:\n"
         "the data is safe).");
}

typedef struct prog {
    wr_cli *cli;
    char head[300];  /* "loading FILE" */
    char check[300]; /* "checking FILE" */
} prog;

/* "loading people.jsonl: 12000000 of 50000000 bytes (24%), 4000000
 * bytes/s" (wr_cli_progress_count); "checking people.jsonl: ..." in the
 * --checkpoint-every check pass */
static void on_progress(const wr_load_stats *st, void *arg)
{
    prog *p = arg;
    wr_cli_progress_count(p->cli, st->checking ? p->check : p->head,
                          st->bytes_read, st->bytes_total, "bytes");
}

/* The counts are what the database holds of this run: on a failed run,
 * what its last committed checkpoint (if any) made durable. */
static void report_json(const wr_cli *cli, const wr_load_opts *o,
                        const wr_load_stats *st, int rc, const wr_errbuf *eb)
{
    bson_t d;
    wr_cli_json_begin(cli, &d);
    BSON_APPEND_UTF8(&d, "dir", o->dir);
    BSON_APPEND_UTF8(&d, "collection", o->coll);
    BSON_APPEND_UTF8(&d, "input", o->input);
    BSON_APPEND_INT64(&d, "lines", (int64_t)st->lines);
    BSON_APPEND_BOOL(&d, "committed", st->checkpoints > 0);
    BSON_APPEND_INT64(&d, "inserted", (int64_t)st->committed.inserted);
    BSON_APPEND_INT64(&d, "replaced", (int64_t)st->committed.replaced);
    BSON_APPEND_INT64(&d, "deleted", (int64_t)st->committed.deleted);
    BSON_APPEND_INT64(&d, "missing_deletes", (int64_t)st->committed.missing);
    BSON_APPEND_INT64(&d, "bad_lines", (int64_t)st->bad);
    if (st->rejected > 0)
        BSON_APPEND_UTF8(&d, "rejects", o->rejects);
    else
        BSON_APPEND_NULL(&d, "rejects");
    if (st->first_bad_line)
        BSON_APPEND_INT64(&d, "first_bad_line", (int64_t)st->first_bad_line);
    BSON_APPEND_INT64(&d, "checkpoints", (int64_t)st->checkpoints);
    BSON_APPEND_INT64(&d, "generation", (int64_t)st->generation);
    wr_cli_json_end(&d, rc == WR_OK ? "ok" : "error", wr_cli_exit_code(rc),
                    rc, rc == WR_OK ? NULL : eb->msg);
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
    enum { O_INDEX = 256, O_CKPT, O_PAGE, O_SKIP, O_FORMAT, O_MAXBAD,
           O_REJECTS, O_MEMORY };
    char *rejects = NULL;
    static const struct option longopts[] = {
        {"index", required_argument, NULL, O_INDEX},
        {"checkpoint-every", required_argument, NULL, O_CKPT},
        {"page-size", required_argument, NULL, O_PAGE},
        {"skip-bad", no_argument, NULL, O_SKIP},
        {"format", required_argument, NULL, O_FORMAT},
        {"max-bad", required_argument, NULL, O_MAXBAD},
        {"rejects", required_argument, NULL, O_REJECTS},
        {"memory", required_argument, NULL, O_MEMORY},
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-load", argc, argv);
    while ((opt = getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts,
                              NULL)) != -1) {
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
        case O_FORMAT:
            if (strcmp(optarg, "jsonl") == 0)
                o.format = WR_LOAD_JSONL;
            else if (strcmp(optarg, "json-array") == 0)
                o.format = WR_LOAD_JSON_ARRAY;
            else if (strcmp(optarg, "bson") == 0)
                o.format = WR_LOAD_BSON;
            else {
                free(index);
                return wr_cli_usage_error(&cli, "--format is jsonl, "
                                                "json-array or bson, not "
                                                "'%s'",
                                          optarg);
            }
            break;
        case O_MAXBAD:
            if (wr_cli_parse_u64(optarg, &v) != 0 || v == 0) {
                free(index);
                return wr_cli_usage_error(&cli, "--max-bad wants a positive "
                                                "number, not '%s'",
                                          optarg);
            }
            o.max_bad = v;
            break;
        case O_REJECTS:
            o.rejects = optarg;
            break;
        case O_MEMORY:
            if ((rc = wr_cli_memory(&cli, optarg, &o.memory)) != 0) {
                free(index);
                return rc;
            }
            break;
        default:
            if ((rc = wr_cli_common_opt(&cli, opt, usage)) != WR_CLI_GO_ON) {
                free(index);
                return rc;
            }
        }
    }
    if (argc - optind < 2 || argc - optind > 3) {
        free(index);
        return wr_cli_usage_error(&cli, "expected DIR NAME [FILE|-]");
    }
    o.dir = argv[optind];
    o.coll = argv[optind + 1];
    o.input = argc - optind == 3 ? argv[optind + 2] : "-";
    if (strcmp(o.input, "-") == 0 && isatty(0)) {
        free(index);
        return wr_cli_usage_error(&cli, "standard input is a terminal: give "
                                        "a FILE, or pipe the documents in "
                                        "(wr-load DIR NAME < FILE)");
    }
    if (o.rejects == NULL && (o.skip_bad || o.max_bad > 0)) {
        size_t n = strlen(o.dir) + strlen(o.coll) + 32;
        if ((rejects = malloc(n)) == NULL) {
            free(index);
            return WR_EXIT_ENV;
        }
        snprintf(rejects, n, "%s/%s.rejects.jsonl", o.dir, o.coll);
        o.rejects = rejects;
    }
    wr_cli_ready(&cli);
    wr_cli_catch_signals_writer();
    o.index = index;
    prog pg = {.cli = &cli};
    snprintf(pg.head, sizeof pg.head, "loading %s", wr_cli_base(o.input));
    snprintf(pg.check, sizeof pg.check, "checking %s", wr_cli_base(o.input));
    o.progress = on_progress;
    o.progress_arg = &pg;
    o.interrupted = &wr_cli_interrupted;
    rc = wr_load(&o, &st, &eb);
    wr_cli_progress_done(&cli);
    if (cli.json)
        report_json(&cli, &o, &st, rc, &eb);
    if (rc != WR_OK) {
        wr_cli_error(&cli, "%s", eb.msg);
        if (st.checkpoints > 0)
            wr_cli_error(&cli, "%llu checkpoint%s of this run %s committed "
                               "before it stopped",
                         (unsigned long long)st.checkpoints,
                         wr_cli_plural(st.checkpoints),
                         st.checkpoints == 1 ? "was" : "were");
        else if (rc == WR_EBADINPUT || rc == WR_ENOSPC || rc == WR_EINTR ||
                 st.lines > 0)
            /* a run that got under way: a bad line, a full disk, an
             * interruption (also of the wait for the first line), ... */
            wr_cli_error(&cli, "nothing of this run was committed%s",
                         rc != WR_EBADINPUT || st.input_broken ||
                                 o.skip_bad || o.max_bad
                             ? "" /* skipping would not help */
                             : " (use --skip-bad or --max-bad N to skip "
                               "bad lines)");
    } else if (!cli.json && !cli.quiet) {
        printf("%s -> %s/%s: %llu line%s, %llu inserted, %llu replaced, "
               "%llu deleted, %llu delete%s of absent _id, %llu bad line%s "
               "skipped; %llu checkpoint%s, generation %llu\n",
               o.input, o.dir, o.coll, (unsigned long long)st.lines,
               wr_cli_plural(st.lines), (unsigned long long)st.inserted,
               (unsigned long long)st.replaced,
               (unsigned long long)st.deleted, (unsigned long long)st.missing,
               wr_cli_plural(st.missing), (unsigned long long)st.bad,
               wr_cli_plural(st.bad), (unsigned long long)st.checkpoints,
               wr_cli_plural(st.checkpoints),
               (unsigned long long)st.generation);
        if (st.rejected > 0)
            printf("skipped lines: %s\n", o.rejects);
    }
    free(index);
    free(rejects);
    return wr_cli_out_done(&cli, wr_cli_exit_code(rc));
}
