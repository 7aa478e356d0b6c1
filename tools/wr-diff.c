/*
 * wr-diff -- what differs between two databases, or a database and a
 * legacy append-log directory or a JSONL file: the _ids only in one side,
 * the documents that differ (with the first differing field), the index
 * entries only in one side.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    puts("Usage: wr-diff [OPTIONS] A B\n"
         "\n"
         "Compare A with B. Each is a database directory, a legacy append-log\n"
         "directory (NAME.log files) or one JSONL file (not a lone tree\n"
         "file: give its database's directory); a log stands for its\n"
         "live set as wr-migrate reads it (the last line per _id wins,\n"
         "{\"_id\": X, \"$deleted\": true} deletes X, a torn last line is\n"
         "dropped). Collections pair by name, indexes by field; a log's index\n"
         "entries are derived from its documents. Both sides are read in _id\n"
         "order (MongoDB order: 1, 1.0 and NumberLong(1) are one _id), a log\n"
         "sorted within --memory, so memory stays bounded. Reads only.\n"
         "\n"
         "One line per difference on stdout:\n"
         "  COLL: only in A: _id ID\n"
         "  COLL: only in B: _id ID\n"
         "  COLL: different: _id ID: PATH (value|type|only in A|only in B|field order)\n"
         "  COLL: index FIELD: only in A: entry [ VALUE, ID ] (value, _id)\n"
         "  COLL: index FIELD: only in B: the whole index\n"
         "  COLL: only in A: the whole collection (N documents)\n"
         "(ID and VALUE in relaxed Extended JSON; PATH the dotted path of the\n"
         "first field that differs), then a summary line.\n"
         "\n"
         "Options:\n"
         "  --collection NAME     compare only this collection; also the name\n"
         "                        of a JSONL side (default: the other side's\n"
         "                        only collection, else the file's name)\n"
         "  --count               print only the counts, not each difference\n"
         "  --memory SIZE         sort budget for a log side (default 256M;\n"
         "                        K, M, G suffixes); run files go to $TMPDIR\n"
         "  --json                print one JSON object on stdout, with the\n"
         "                        differences in \"differences\" (also on\n"
         "                        failure)\n"
         "  -q, --quiet           only the difference lines: no summary\n"
         "  --wait                if a writer (wr-load, wr-migrate,\n"
         "                        wr-compact) holds a side's directory, wait\n"
         "                        for it to finish (else exit 3 naming it)\n"
         "  --no-lock             read without the shared lock; if a writer\n"
         "                        changes a side meanwhile, say so and exit 3\n"
         WR_CLI_HELP_COMMON         "\n"
         "Exit status: 0 identical; 1 different; 2 usage error; 3 an input\n"
         "cannot be read or is damaged (a page or document of a database, a\n"
         "bad line of a log that is not a torn last line: the message names\n"
         "file and place; differences printed before it stand), a writer\n"
         "holds a side, or one changed during a --no-lock diff.");
}

typedef struct dctx {
    wr_cli *cli;
    bool count_only;
    uint64_t printed;
    int failed; /* out of memory or stdout failed */
} dctx;

static int on_item(const wr_diff_item *it, void *arg)
{
    dctx *x = arg;
    char *line;
    if (x->count_only)
        return 0;
    if ((line = wr_diff_item_format(it, x->cli->json)) == NULL) {
        x->failed = WR_ENOMEM;
        return WR_ENOMEM;
    }
    if (x->cli->json) {
        wr_cli_json_item(x->cli, line, x->printed == 0);
    } else {
        fputs(line, stdout);
        fputc('\n', stdout);
    }
    free(line);
    x->printed++;
    if (ferror(stdout)) {
        x->failed = WR_EIO;
        return WR_EIO;
    }
    return 0;
}

static void on_progress(const char *coll, uint64_t records, void *arg)
{
    dctx *x = arg;
    wr_cli_progress_count(x->cli, coll, records, 0, "records");
}

static void on_note(const char *msg, void *arg)
{
    dctx *x = arg;
    wr_cli_note(x->cli, "%s", msg);
}

static const char *status_name(int code, const wr_diff_stats *st)
{
    (void)st;
    return code == WR_EXIT_OK ? "identical"
           : code == WR_EXIT_DATA ? "different"
                                  : "error";
}

static bool differs(const wr_diff_stats *st)
{
    return st->only_a || st->only_b || st->changed || st->idx_only_a ||
           st->idx_only_b || st->indexes_only || st->colls_only;
}

static void append_counts(bson_t *d, const wr_diff_stats *st)
{
    bson_t c;
    BSON_APPEND_DOCUMENT_BEGIN(d, "counts", &c);
    BSON_APPEND_INT64(&c, "collections", (int64_t)st->collections);
    BSON_APPEND_INT64(&c, "documents_a", (int64_t)st->docs_a);
    BSON_APPEND_INT64(&c, "documents_b", (int64_t)st->docs_b);
    BSON_APPEND_INT64(&c, "identical", (int64_t)st->same);
    BSON_APPEND_INT64(&c, "only_a", (int64_t)st->only_a);
    BSON_APPEND_INT64(&c, "only_b", (int64_t)st->only_b);
    BSON_APPEND_INT64(&c, "changed", (int64_t)st->changed);
    BSON_APPEND_INT64(&c, "index_entries", (int64_t)st->index_entries);
    BSON_APPEND_INT64(&c, "index_only_a", (int64_t)st->idx_only_a);
    BSON_APPEND_INT64(&c, "index_only_b", (int64_t)st->idx_only_b);
    BSON_APPEND_INT64(&c, "indexes_one_side", (int64_t)st->indexes_only);
    BSON_APPEND_INT64(&c, "collections_one_side", (int64_t)st->colls_only);
    BSON_APPEND_INT64(&c, "torn_lines_dropped", (int64_t)st->torn);
    bson_append_document_end(d, &c);
}

/* The --json object, streamed: the differences are listed as they come. */
static void json_head(const wr_cli *cli, const wr_diff_opts *o, bool list)
{
    bson_t d;
    wr_cli_json_begin(cli, &d);
    BSON_APPEND_UTF8(&d, "a", o->a);
    BSON_APPEND_UTF8(&d, "b", o->b);
    if (o->collection != NULL)
        BSON_APPEND_UTF8(&d, "collection", o->collection);
    wr_cli_json_open(cli, &d, list ? "differences" : NULL);
}

static void json_tail(const wr_cli *cli, const wr_diff_stats *st, int code,
                      int rc, const wr_errbuf *eb, bool list)
{
    bson_t d = BSON_INITIALIZER;
    append_counts(&d, st);
    wr_cli_json_close(cli, &d, list, status_name(code, st), code, rc,
                      rc != WR_OK ? eb->msg : NULL);
}

static void print_summary(const wr_diff_stats *st)
{
    if (!differs(st)) {
        printf("identical: %llu document%s in %llu collection%s, %llu index "
               "entr%s\n",
               (unsigned long long)st->same, wr_cli_plural(st->same),
               (unsigned long long)st->collections,
               wr_cli_plural(st->collections),
               (unsigned long long)st->index_entries / 2,
               st->index_entries / 2 == 1 ? "y" : "ies");
        return;
    }
    printf("different: %llu only in A, %llu only in B, %llu different, "
           "%llu identical; index entries: %llu only in A, %llu only in B; "
           "%llu index%s and %llu collection%s in one side only\n",
           (unsigned long long)st->only_a, (unsigned long long)st->only_b,
           (unsigned long long)st->changed, (unsigned long long)st->same,
           (unsigned long long)st->idx_only_a,
           (unsigned long long)st->idx_only_b,
           (unsigned long long)st->indexes_only,
           st->indexes_only == 1 ? "" : "es",
           (unsigned long long)st->colls_only,
           wr_cli_plural(st->colls_only));
}

/* Damage in an input is not a difference: the comparison could not be
 * made, so it exits 3 like a read error. */
static int exit_code(int rc, const wr_diff_stats *st)
{
    if (rc == WR_ECORRUPT || rc == WR_EBADINPUT)
        return WR_EXIT_ENV;
    if (rc != WR_OK)
        return wr_cli_exit_code(rc);
    return differs(st) ? WR_EXIT_DATA : WR_EXIT_OK;
}

int main(int argc, char **argv)
{
    wr_cli cli;
    wr_diff_opts o = {0};
    wr_diff_stats st;
    wr_errbuf eb = {0};
    dctx x = {0};
    int rc, opt, code;
    enum { O_COLL = 256, O_COUNT, O_MEMORY };
    static const struct option longopts[] = {
        {"collection", required_argument, NULL, O_COLL},
        {"count", no_argument, NULL, O_COUNT},
        {"memory", required_argument, NULL, O_MEMORY},
        WR_CLI_READ_OPTIONS,
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-diff", argc, argv);
    while ((opt = getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case O_COLL:
            o.collection = optarg;
            break;
        case O_COUNT:
            x.count_only = true;
            break;
        case O_MEMORY:
            if ((rc = wr_cli_memory(&cli, optarg, &o.memory)) != 0)
                return rc;
            break;
        default:
            if ((rc = wr_cli_common_opt(&cli, opt, usage)) != WR_CLI_GO_ON)
                return rc;
        }
    }
    if (argc - optind != 2)
        return wr_cli_usage_error(&cli, "expected two paths, A and B");
    wr_cli_ready(&cli);
    wr_cli_catch_signals();
    x.cli = &cli;
    o.a = argv[optind];
    o.b = argv[optind + 1];
    for (int i = 0; i < 2; i++)
        if (wr_is_tree_file(argv[optind + i]))
            return wr_cli_usage_error(
                &cli,
                "%s is a single tree file: wr-diff compares databases (a "
                "database directory, a legacy append-log directory or a "
                "JSONL file); give the directory of its database, or use "
                "wr-dump --docs on the file",
                argv[optind + i]);
    o.on_item = on_item;
    o.on_note = on_note;
    o.progress = on_progress;
    o.arg = &x;
    o.interrupted = &wr_cli_interrupted;
    if (cli.json)
        json_head(&cli, &o, !x.count_only);
    /* both sides under the readers' lock (a legacy directory or a JSONL
     * file: the LOCK of its directory, which wr-migrate holds) */
    wr_read *ra = NULL, *rb = NULL;
    memset(&st, 0, sizeof st);
    rc = wr_cli_read_begin(&cli, o.a, &ra, &eb);
    if (rc == WR_OK && (rc = wr_cli_read_begin(&cli, o.b, &rb, &eb)) != WR_OK)
        (void)wr_cli_read_end(ra, rc, &eb);
    if (rc == WR_OK) {
        rc = wr_diff(&o, &st, &eb);
        /* B first: when both sides share a directory, A's reader made its
         * LOCK and removes it only once no other lock is held on it */
        rc = wr_cli_read_end(rb, rc, &eb);
        rc = wr_cli_read_end(ra, rc, &eb);
    }
    wr_cli_progress_done(&cli);
    if (x.failed == WR_EIO && rc == WR_EIO) {
        /* stdout failed at a difference: A and B differ (exit 1), the
         * rest of the report is lost and wr_cli_out_done says why */
        if (cli.json)
            json_tail(&cli, &st, WR_EXIT_DATA, WR_OK, &eb, !x.count_only);
        return wr_cli_out_done(&cli, WR_EXIT_DATA);
    }
    if (x.failed == WR_ENOMEM && rc == x.failed && eb.msg[0] == '\0')
        snprintf(eb.msg, sizeof eb.msg, "out of memory");
    code = exit_code(rc, &st);
    if (cli.json)
        json_tail(&cli, &st, code, rc, &eb, !x.count_only);
    if (rc != WR_OK)
        wr_cli_error(&cli, "%s", eb.msg);
    if (rc == WR_OK && !cli.json && (!cli.quiet || x.count_only))
        print_summary(&st);
    return wr_cli_out_done(&cli, code);
}
