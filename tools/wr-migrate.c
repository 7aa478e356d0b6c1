/*
 * wr-migrate -- convert a legacy append-log database directory into
 * wrtools B-tree files, in place, with a verified backup.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    puts("Usage: wr-migrate [OPTIONS] DIR\n"
         "\n"
         "Convert the legacy append-log database in DIR (one NAME.log of\n"
         "JSONL per collection, NAME.FIELD.idx naming its indexes) into a\n"
         "wrtools database in place. The last line per _id wins, a line\n"
         "{\"_id\": X, \"$deleted\": true} deletes X. The legacy files are\n"
         "first copied into a backup directory with a checksum manifest and\n"
         "read back; the new files are built and verified (structure, and\n"
         "every document and index entry against the logs) before anything\n"
         "is replaced. A crash at any point leaves the old database or the\n"
         "new one; running wr-migrate again finishes the job. Migrating a\n"
         "directory that is already migrated does nothing.\n"
         "\n"
         "Options:\n"
         "  --dry-run             read, check and count; change nothing\n"
         "  --backup-dir DIR      where the legacy files go (default: a new\n"
         "                        DIR/wr-backup-<UTC time>)\n"
         "  --index NAME.FIELD    also build an index on FIELD of collection\n"
         "                        NAME; repeatable\n"
         "  --skip-bad            skip bad lines (they go to rejects.jsonl in\n"
         "                        the backup directory) instead of stopping\n"
         "  --memory SIZE         memory for sorting, e.g. 64M, 1G (default\n"
         "                        256M); larger logs spill to temporary files\n"
         "  --page-size N         page size of the new files: 512..65536, a\n"
         "                        power of two (default 4096)\n"
         "  --digest              also report each collection's content\n"
         "                        digest (SHA-256 of its documents in _id\n"
         "                        order, as wr-verify --digest's)\n"
         "  --json                print one JSON object on stdout\n"
         "  -q, --quiet           no progress, no summary\n"
         WR_CLI_HELP_COMMON         "\n"
         "Exit status:\n"
         "  0  migrated (or already migrated, or an interrupted migration\n"
         "     finished; with --dry-run: would migrate)\n"
         "  1  the data has a problem: a bad line (nothing was touched), a\n"
         "     directory holding both formats, or new files that failed\n"
         "     verification (nothing was replaced)\n"
         "  2  usage error\n"
         "  3  environment: DIR missing or holding nothing to migrate, the\n"
         "     directory locked by another tool, cannot read or write, disk\n"
         "     full (the legacy files are untouched); or the summary cannot\n"
         "     be written (the migration is committed: the data is safe)");
}

typedef struct prog {
    wr_cli *cli;
    const char *dir;
} prog;

/* "reading db: 12000000 of 50000000 bytes (24%), 4000000 bytes/s"; later
 * phases count the records they wrote or checked ("building db: 30000
 * records, 80000 records/s"), and name only themselves before the first
 * (wr_cli_progress_count) */
static void on_progress(const wr_migrate_stats *st, void *arg)
{
    prog *p = arg;
    char head[300];
    if (st->phase == NULL)
        return;
    snprintf(head, sizeof head, "%s %s", st->phase, wr_cli_base(p->dir));
    if (strcmp(st->phase, "reading") == 0)
        wr_cli_progress_count(p->cli, head, st->bytes_read, st->bytes_total,
                              "bytes");
    else
        wr_cli_progress_count(p->cli, head, st->docs_done, 0, "records");
}

static const char *state_name(const wr_migrate_stats *st, int rc)
{
    switch (st->state) {
    case WR_MIGRATE_MISSING:
        return "missing";
    case WR_MIGRATE_EMPTY:
        return "empty";
    case WR_MIGRATE_DONE:
        return "already-migrated";
    case WR_MIGRATE_MIXED:
        return "mixed";
    case WR_MIGRATE_RESUMED:
        return "resumed";
    default:
        return st->dry_run ? "dry-run" : rc == WR_OK ? "migrated" : "legacy";
    }
}

/* "digest": absent without --digest; with it the hex digest, null where
 * none was computed (the run stopped before). */
static void report_json(const wr_cli *cli, const char *dir, bool digest,
                        const wr_migrate_stats *st, int rc, int code,
                        const wr_errbuf *eb)
{
    bson_t d, a, c, x;
    char k[16];
    const char *kp;
    wr_cli_json_begin(cli, &d);
    BSON_APPEND_UTF8(&d, "dir", dir);
    BSON_APPEND_UTF8(&d, "state", state_name(st, rc));
    BSON_APPEND_BOOL(&d, "dry_run", st->dry_run);
    BSON_APPEND_ARRAY_BEGIN(&d, "collections", &a);
    for (size_t i = 0; i < st->ncoll; i++) {
        const wr_migrate_coll *m = &st->coll[i];
        bson_uint32_to_string((uint32_t)i, &kp, k, sizeof k);
        bson_append_document_begin(&a, kp, -1, &c);
        BSON_APPEND_UTF8(&c, "name", m->name);
        BSON_APPEND_ARRAY_BEGIN(&c, "indexes", &x);
        for (size_t j = 0; j < m->nindex; j++) {
            bson_uint32_to_string((uint32_t)j, &kp, k, sizeof k);
            bson_append_utf8(&x, kp, -1, m->indexes[j], -1);
        }
        bson_append_array_end(&c, &x);
        BSON_APPEND_INT64(&c, "lines", (int64_t)m->lines);
        BSON_APPEND_INT64(&c, "documents", (int64_t)m->puts);
        BSON_APPEND_INT64(&c, "deletes", (int64_t)m->deletes);
        BSON_APPEND_INT64(&c, "inserted", (int64_t)m->inserted);
        BSON_APPEND_INT64(&c, "updated", (int64_t)m->updated);
        BSON_APPEND_INT64(&c, "deleted", (int64_t)m->deleted);
        BSON_APPEND_INT64(&c, "missing_deletes", (int64_t)m->missing);
        BSON_APPEND_INT64(&c, "live", (int64_t)m->live);
        BSON_APPEND_INT64(&c, "bad_lines", (int64_t)m->bad);
        BSON_APPEND_INT64(&c, "torn_lines", (int64_t)m->torn);
        BSON_APPEND_INT64(&c, "bytes_in", (int64_t)m->bytes_in);
        BSON_APPEND_INT64(&c, "bytes_out", (int64_t)m->bytes_out);
        if (digest && m->digest[0] != '\0')
            BSON_APPEND_UTF8(&c, "digest", m->digest);
        else if (digest)
            BSON_APPEND_NULL(&c, "digest");
        bson_append_document_end(&a, &c);
    }
    bson_append_array_end(&d, &a);
    BSON_APPEND_INT64(&d, "files", (int64_t)st->files);
    BSON_APPEND_INT64(&d, "lines", (int64_t)st->lines);
    BSON_APPEND_INT64(&d, "documents", (int64_t)st->puts);
    BSON_APPEND_INT64(&d, "deletes", (int64_t)st->deletes);
    BSON_APPEND_INT64(&d, "live", (int64_t)st->live);
    BSON_APPEND_INT64(&d, "updated", (int64_t)st->updated);
    BSON_APPEND_INT64(&d, "deleted", (int64_t)st->deleted);
    BSON_APPEND_INT64(&d, "missing_deletes", (int64_t)st->missing);
    BSON_APPEND_INT64(&d, "bad_lines", (int64_t)st->bad);
    BSON_APPEND_INT64(&d, "torn_lines", (int64_t)st->torn);
    BSON_APPEND_INT64(&d, "bytes_before", (int64_t)st->bytes_before);
    BSON_APPEND_INT64(&d, "bytes_after", (int64_t)st->bytes_after);
    if (st->backup_dir)
        BSON_APPEND_UTF8(&d, "backup_dir", st->backup_dir);
    else
        BSON_APPEND_NULL(&d, "backup_dir");
    BSON_APPEND_BOOL(&d, "backup_reused", st->backup_reused);
    if (st->rejects)
        BSON_APPEND_UTF8(&d, "rejects", st->rejects);
    else
        BSON_APPEND_NULL(&d, "rejects");
    BSON_APPEND_DOCUMENT_BEGIN(&d, "sort", &c);
    BSON_APPEND_INT64(&c, "runs", (int64_t)st->sort_runs);
    BSON_APPEND_INT64(&c, "spilled_bytes", (int64_t)st->sort_spilled);
    BSON_APPEND_INT64(&c, "peak_bytes", (int64_t)st->sort_peak);
    bson_append_document_end(&d, &c);
    BSON_APPEND_ARRAY_BEGIN(&d, "notes", &a);
    for (size_t i = 0; i < st->nnotes; i++) {
        bson_uint32_to_string((uint32_t)i, &kp, k, sizeof k);
        bson_append_utf8(&a, kp, -1, st->notes[i], -1);
    }
    bson_append_array_end(&d, &a);
    wr_cli_json_end(&d, rc == WR_OK ? "ok" : "error", code, rc,
                    rc == WR_OK ? NULL : eb->msg);
}

static void report_text(const char *dir, const wr_migrate_stats *st)
{
    if (st->state == WR_MIGRATE_DONE) {
        printf("%s: already migrated, nothing to do\n", dir);
        return;
    }
    if (st->state == WR_MIGRATE_RESUMED && st->ncoll == 0) {
        printf("%s: %s\n", dir,
               st->dry_run ? "an interrupted migration is pending; run "
                             "without --dry-run to finish it"
                           : "finished an interrupted migration");
        return;
    }
    printf("%s: %s %zu collection%s\n", dir,
           st->dry_run ? "would migrate" : "migrated", st->ncoll,
           wr_cli_plural(st->ncoll));
    for (size_t i = 0; i < st->ncoll; i++) {
        const wr_migrate_coll *c = &st->coll[i];
        printf("  %s: %llu line%s: %llu document%s, %llu delete%s, %llu "
               "bad, %llu torn; %llu live (%llu updated, %llu deleted, %llu "
               "delete%s of an absent _id); indexes:",
               c->name, (unsigned long long)c->lines, wr_cli_plural(c->lines),
               (unsigned long long)c->puts, wr_cli_plural(c->puts),
               (unsigned long long)c->deletes, wr_cli_plural(c->deletes),
               (unsigned long long)c->bad, (unsigned long long)c->torn,
               (unsigned long long)c->live, (unsigned long long)c->updated,
               (unsigned long long)c->deleted,
               (unsigned long long)c->missing, wr_cli_plural(c->missing));
        if (c->nindex == 0)
            printf(" none");
        for (size_t j = 0; j < c->nindex; j++)
            printf("%s %s", j ? "," : "", c->indexes[j]);
        printf("\n");
        if (c->digest[0] != '\0') /* --digest */
            printf("    digest sha256:%s\n", c->digest);
    }
    /* the same counts, in the same words, as each collection's line */
    printf("  total: %llu line%s: %llu document%s, %llu delete%s, %llu bad, "
           "%llu torn; %llu live (%llu updated, %llu deleted)\n",
           (unsigned long long)st->lines, wr_cli_plural(st->lines),
           (unsigned long long)st->puts, wr_cli_plural(st->puts),
           (unsigned long long)st->deletes, wr_cli_plural(st->deletes),
           (unsigned long long)st->bad,
           (unsigned long long)st->torn, (unsigned long long)st->live,
           (unsigned long long)st->updated, (unsigned long long)st->deleted);
    if (st->dry_run) {
        printf("  bytes: %llu in %llu legacy file%s\n",
               (unsigned long long)st->bytes_before,
               (unsigned long long)st->files, wr_cli_plural(st->files));
        return;
    }
    printf("  bytes: %llu before (%llu legacy file%s), %llu after\n",
           (unsigned long long)st->bytes_before,
           (unsigned long long)st->files, wr_cli_plural(st->files),
           (unsigned long long)st->bytes_after);
    if (st->backup_dir)
        printf("  backup: %s%s\n", st->backup_dir,
               st->backup_reused ? " (an earlier backup of the same bytes)"
                                 : "");
    if (st->rejects)
        printf("  rejected lines: %s\n", st->rejects);
}

int main(int argc, char **argv)
{
    wr_cli cli;
    wr_migrate_opts o = {0};
    wr_migrate_stats st;
    wr_errbuf eb = {0};
    const char **index = NULL;
    int rc, opt;
    prog pg;
    enum { O_DRY = 256, O_BACKUP, O_INDEX, O_SKIP, O_MEMORY, O_PAGE,
           O_DIGEST };
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, O_DRY},
        {"backup-dir", required_argument, NULL, O_BACKUP},
        {"index", required_argument, NULL, O_INDEX},
        {"skip-bad", no_argument, NULL, O_SKIP},
        {"memory", required_argument, NULL, O_MEMORY},
        {"page-size", required_argument, NULL, O_PAGE},
        {"digest", no_argument, NULL, O_DIGEST},
        WR_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    wr_cli_init(&cli, "wr-migrate", argc, argv);
    while ((opt = getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case O_DRY:
            o.dry_run = true;
            break;
        case O_BACKUP:
            if (optarg[0] == '\0') {
                free(index);
                return wr_cli_usage_error(&cli, "--backup-dir wants a path");
            }
            o.backup_dir = optarg;
            break;
        case O_INDEX: {
            const char **ni = realloc(index, (o.nindex + 1) * sizeof *ni);
            if (ni == NULL) {
                free(index);
                return WR_EXIT_ENV;
            }
            index = ni;
            if (strchr(optarg, '.') == NULL) {
                free(index);
                return wr_cli_usage_error(&cli, "--index wants NAME.FIELD, "
                                          "not '%s'", optarg);
            }
            index[o.nindex++] = optarg;
            break;
        }
        case O_SKIP:
            o.skip_bad = true;
            break;
        case O_DIGEST:
            o.digest = WR_DIGEST_SHA256;
            break;
        case O_MEMORY:
            if ((opt = wr_cli_memory(&cli, optarg, &o.memory)) != 0) {
                free(index);
                return opt;
            }
            break;
        case O_PAGE:
            if ((opt = wr_cli_page_size(&cli, optarg, &o.page_size)) != 0) {
                free(index);
                return opt;
            }
            break;
        default:
            if ((opt = wr_cli_common_opt(&cli, opt, usage)) == WR_CLI_GO_ON)
                break;
            free(index);
            return opt;
        }
    }
    if (argc - optind != 1) {
        free(index);
        return wr_cli_usage_error(&cli, "expected one directory");
    }
    wr_cli_ready(&cli);
    wr_cli_catch_signals_writer();
    o.dir = argv[optind];
    o.index = index;
    o.holder = "wr-migrate";
    pg = (prog){.cli = &cli, .dir = o.dir};
    o.progress = on_progress;
    o.progress_arg = &pg;
    o.interrupted = &wr_cli_interrupted;
    rc = wr_migrate(&o, &st, &eb);
    wr_cli_progress_done(&cli);
    int code = wr_cli_exit_code(rc);
    if (rc == WR_EEXIST && st.state == WR_MIGRATE_MIXED)
        code = WR_EXIT_DATA; /* refused: the directory is inconsistent */
    if (cli.json)
        report_json(&cli, o.dir, o.digest != WR_DIGEST_NONE, &st, rc, code,
                    &eb);
    for (size_t i = 0; i < st.nnotes; i++)
        wr_cli_note(&cli, "%s", st.notes[i]);
    if (rc != WR_OK) {
        wr_cli_error(&cli, "%s", eb.msg);
        if (rc == WR_EBADINPUT && !o.skip_bad && st.files > 0) /* a line */
            wr_cli_error(&cli, "nothing was changed (use --skip-bad to set "
                               "bad lines aside and migrate the rest)");
    } else if (!cli.json && !cli.quiet) {
        report_text(o.dir, &st);
    }
    wr_migrate_stats_free(&st);
    free(index);
    return wr_cli_out_done(&cli, code);
}
