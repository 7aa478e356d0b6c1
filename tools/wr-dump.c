/*
 * wr-dump -- show a tree file or a database: a summary, one page, the
 * extent lists, the tree's shape, or every document.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    puts("Usage: wr-dump [OPTIONS] PATH\n"
         "\n"
         "Show what a database directory or one tree file holds. Reads only;\n"
         "on a damaged file it shows what decodes and marks each place that\n"
         "does not with a line starting \"!!\".\n"
         "\n"
         "Modes (one at most; the default is a summary: both header slots,\n"
         "page size, role, height, page counts, keys, live and free bytes,\n"
         "fill factor; for a directory the catalog first, then each file):\n"
         "  --page ADDR           one page decoded: header, every slot's key\n"
         "                        and value, free space, checksum. ADDR is a\n"
         "                        byte offset, decimal or 0x hex; 0 and the\n"
         "                        page size show the header slots. PATH must\n"
         "                        be a tree file\n"
         "  --hex                 with --page: add a hex dump of the page\n"
         "  --extents             the avail and discard lists and totals\n"
         "  --tree                one line per page, depth-first: level,\n"
         "                        address, item count, first and last key\n"
         "  --docs                every document in key order, one Extended\n"
         "                        JSON object per line: what wr-load reads\n"
         "  --stats               the analyzer: per tree and level, pages,\n"
         "                        items and fill factor (min, median, max);\n"
         "                        document (index: key) sizes; overflow\n"
         "                        waste; free space by list; a database's\n"
         "                        totals per collection and index\n"
         "  --map FILE            a block map written to FILE: of a tree file\n"
         "                        an SVG picture, one cell per block (a run of\n"
         "                        blocks for a large file) coloured by owner\n"
         "                        (slots, internal, leaf, overflow, extent\n"
         "                        list, avail, discard, leaked, past the\n"
         "                        logical size, damaged), a tooltip each; of a\n"
         "                        database directory one HTML page: the\n"
         "                        catalog's summary, a map per tree file and\n"
         "                        wr-verify's findings, each linked to its\n"
         "                        cell. An existing FILE is replaced, once the\n"
         "                        map is complete; never the file drawn nor a\n"
         "                        file inside the database directory\n"
         "  --canonical           with --docs: canonical Extended JSON, exact\n"
         "                        types (the default)\n"
         "  --relaxed             with --docs: relaxed Extended JSON\n"
         "\n"
         "Options:\n"
         "  --checkpoint WHICH    latest (default) or previous: the previous\n"
         "                        checkpoint of a file, the previous snapshot\n"
         "                        of a database\n"
         "  --collection NAME     directory: only this collection (--docs on\n"
         "                        a database of several collections needs it)\n"
         "  --json                print one JSON object on stdout (not with\n"
         "                        --docs, whose output is JSONL already)\n"
         "  -q, --quiet           no diagnostics but errors\n"
         "  --wait                if a writer (wr-load, wr-migrate,\n"
         "                        wr-compact) holds the directory, wait for it\n"
         "                        to finish (else exit 3 naming it)\n"
         "  --no-lock             read without taking the shared lock; if a\n"
         "                        writer changes the snapshot meanwhile, say so\n"
         "                        and exit 3: \"!!\" lines are then not damage\n"
         WR_CLI_HELP_COMMON         "\n"
         "Exit status: 0 everything decoded; 1 damage found (what decodes is\n"
         "still shown, each damaged place marked); 2 usage error (also\n"
         "--page on a directory, an offset past the end of the file, --docs\n"
         "on several collections without --collection, an unknown\n"
         "collection, a --map FILE it may not replace); 3 cannot open or\n"
         "read or write, a newer format version, a writer holds the\n"
         "directory, or it changed during a --no-lock dump.");
}

typedef struct finding_ctx {
    wr_cli *cli;
    uint64_t n;
} finding_ctx;

/* Findings of --docs and --json go to stderr (stdout holds results). */
static void on_finding(const char *msg, void *arg)
{
    finding_ctx *fc = arg;
    fc->n++;
    if (!fc->cli->quiet)
        wr_cli_error(fc->cli, "!! %s", msg);
}

static int parse_addr(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    /* strtoull base 0 reads a leading 0 as octal: decimal it is */
    if ((s[0] == '0' && s[1] != 'x' && s[1] != 'X' && s[1] != '\0'))
        v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    wr_cli cli;
    wr_dump_opts o = {0};
    wr_dump_stats st = {0};
    wr_errbuf eb = {0};
    finding_ctx fc = {0};
    bson_t report;
    int rc, opt, nmodes = 0;
    bool hex = false, canonical = false, relaxed = false;
    const char *path, *map_path = NULL;
    enum {
        O_PAGE = 256, O_HEX, O_EXTENTS, O_TREE, O_DOCS, O_CANON, O_RELAXED,
        O_CKPT, O_COLL, O_STATS, O_MAP
    };
    static const struct option longopts[] = {
        {"page", required_argument, NULL, O_PAGE},
        {"hex", no_argument, NULL, O_HEX},
        {"extents", no_argument, NULL, O_EXTENTS},
        {"tree", no_argument, NULL, O_TREE},
        {"docs", no_argument, NULL, O_DOCS},
        {"stats", no_argument, NULL, O_STATS},
        {"map", required_argument, NULL, O_MAP},
        {"canonical", no_argument, NULL, O_CANON},
        {"relaxed", no_argument, NULL, O_RELAXED},
        {"checkpoint", required_argument, NULL, O_CKPT},
        {"collection", required_argument, NULL, O_COLL},
        WR_CLI_READ_OPTIONS,
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-dump", argc, argv);
    int ck;
    while ((opt = getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case O_PAGE:
            if (parse_addr(optarg, &o.page_addr) != 0)
                return wr_cli_usage_error(
                    &cli, "--page wants a byte offset (decimal or 0x hex), "
                          "not '%s'",
                    optarg);
            o.mode = WR_DUMP_PAGE;
            nmodes++;
            break;
        case O_HEX:
            hex = true;
            break;
        case O_EXTENTS:
            o.mode = WR_DUMP_EXTENTS;
            nmodes++;
            break;
        case O_TREE:
            o.mode = WR_DUMP_TREE;
            nmodes++;
            break;
        case O_DOCS:
            o.mode = WR_DUMP_DOCS;
            nmodes++;
            break;
        case O_STATS:
            o.mode = WR_DUMP_STATS;
            nmodes++;
            break;
        case O_MAP:
            o.mode = WR_DUMP_MAP;
            map_path = optarg;
            nmodes++;
            break;
        case O_CANON:
            canonical = true;
            break;
        case O_RELAXED:
            relaxed = true;
            break;
        case O_CKPT:
            if ((ck = wr_cli_checkpoint_opt(&cli, optarg, &o.previous)) !=
                WR_CLI_GO_ON)
                return ck;
            break;
        case O_COLL:
            o.collection = optarg;
            break;
        default:
            if ((opt = wr_cli_common_opt(&cli, opt, usage)) != WR_CLI_GO_ON)
                return opt;
        }
    }
    if (argc - optind != 1)
        return wr_cli_usage_error(&cli, "expected one PATH (a database "
                                        "directory or a tree file)");
    if (nmodes > 1)
        return wr_cli_usage_error(&cli, "--page, --extents, --tree, --docs, "
                                        "--stats and --map exclude each "
                                        "other");
    if (hex && o.mode != WR_DUMP_PAGE)
        return wr_cli_usage_error(&cli, "--hex goes with --page");
    if ((canonical || relaxed) && o.mode != WR_DUMP_DOCS)
        return wr_cli_usage_error(&cli, "--canonical and --relaxed go with "
                                        "--docs");
    if (canonical && relaxed)
        return wr_cli_usage_error(&cli, "--canonical or --relaxed, not both");
    if (cli.json && o.mode == WR_DUMP_DOCS)
        return wr_cli_usage_error(&cli, "--json does not go with --docs (its "
                                        "output is JSONL already)");
    if (cli.json && o.mode == WR_DUMP_MAP)
        return wr_cli_usage_error(&cli, "--json does not go with --map (its "
                                        "output is the picture)");
    wr_cli_ready(&cli);
    wr_cli_catch_signals();
    path = argv[optind];
    o.hex = hex;
    o.relaxed = relaxed;
    o.out = stdout;
    o.interrupted = &wr_cli_interrupted;
    fc.cli = &cli;
    o.out_path = map_path; /* written by the library, atomically */
    if (cli.json || o.mode == WR_DUMP_DOCS || o.mode == WR_DUMP_MAP) {
        /* text mode shows findings inline in stdout */
        o.finding = on_finding;
        o.finding_arg = &fc;
    }
    if (cli.json) {
        wr_cli_json_begin(&cli, &report);
        o.json = &report;
    }
    wr_read *rd = NULL;
    rc = wr_cli_read_begin(&cli, path, &rd, &eb);
    o.read = rd; /* a --map of a moved --no-lock snapshot is not written */
    if (rc == WR_OK) {
        rc = wr_dump(path, &o, &st, &eb);
        if (st.map_written) /* checked just before: one snapshot drawn */
            (void)wr_read_end(rd, NULL);
        else /* "!!" lines of a changed read are no damage */
            rc = wr_cli_read_end(rd, rc, &eb);
    }
    if (cli.json) {
        BSON_APPEND_INT64(&report, "findings", (int64_t)st.damaged);
        wr_cli_json_end(&report,
                        rc == WR_OK         ? "ok"
                        : rc == WR_ECORRUPT ? "damaged"
                                            : "error",
                        wr_cli_exit_code(rc), rc,
                        rc == WR_OK ? NULL : eb.msg);
    }
    if (rc == WR_ECORRUPT) {
        if (!cli.quiet)
            wr_cli_error(&cli, "%s: %llu damaged place%s (marked !!)", path,
                         (unsigned long long)st.damaged,
                         wr_cli_plural(st.damaged));
    } else if (rc != WR_OK) {
        wr_cli_error(&cli, "%s", eb.msg);
    }
    /* the dump itself is checked as it is written ("writing the dump
     * failed", exit 3); --json's object is written last */
    return cli.json ? wr_cli_out_done(&cli, wr_cli_exit_code(rc))
                    : wr_cli_exit_code(rc);
}
