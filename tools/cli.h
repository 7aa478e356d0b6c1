/*
 * cli.h -- what every wrtools front end shares: exit codes, diagnostics,
 * progress lines on a terminal, JSON output, option parsing helpers.
 * Tools include only wr.h and this file.
 */
#ifndef WR_CLI_H
#define WR_CLI_H

#include "wr.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (DESIGN.md, the command-line contract). */
enum {
    WR_EXIT_OK = 0,
    WR_EXIT_DATA = 1,  /* the data has a problem */
    WR_EXIT_USAGE = 2, /* usage error */
    WR_EXIT_ENV = 3,   /* cannot open/read/write, lock held, disk full */
};

typedef struct wr_cli {
    const char *tool; /* "wr-load" */
    int argc;
    char **argv;
    bool json; /* --json is on the command line (set by wr_cli_init, so
                  that even a usage error prints its one JSON object) */
    bool quiet;
    int progress_opt; /* -1 default, 0 --no-progress, 1 --progress */
    bool progress;    /* decided by wr_cli_ready */
    bool progress_tty; /* redraw one line in place (stderr is a terminal) */
    bool progress_shown;
    unsigned cols;        /* terminal width (TIOCGWINSZ) */
    double progress_last; /* monotonic seconds of the last line drawn */
    double progress_t0;   /* when the counted work of progress_head began
                             (the first: when wr_cli_ready ran) */
    uint64_t progress_done0; /* its count then */
    char progress_head[320]; /* the head of the last counted line */
    wr_read_mode read_mode; /* readers: --wait, --no-lock */
} wr_cli;

/* First thing in main: fills a closed fd 0, 1 or 2 with /dev/null opened
 * the other way (so using the closed stream fails, and no file the tool
 * opens takes its number); then remembers argv (for messages about it)
 * and whether --json is among the options. */
void wr_cli_init(wr_cli *cli, const char *tool, int argc, char **argv);
/* Decide on progress once options are parsed: on when stderr is a
 * terminal and neither -q nor --json is given, or as --progress /
 * --no-progress say. */
void wr_cli_ready(wr_cli *cli);
/* Map a wr_err to an exit code, in one place. */
int wr_cli_exit_code(int rc);
/* "wr-tool: message" on stderr. */
void wr_cli_error(const wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void wr_cli_note(const wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Last thing before a tool that writes a report on stdout returns code:
 * a report that did not reach stdout (closed, full disk) is said on
 * stderr, "writing the report failed: reason", whatever the code; it is
 * no clean bill, so an exit 0 becomes 3; any other code is kept (1: the
 * damage found is still seen by a script that reads only the code). */
int wr_cli_out_done(const wr_cli *cli, int code);
/* A bad invocation: one line "wr-tool: message (try --help)" on stderr,
 * with --json also the one JSON object on stdout; gives exit code 2. */
int wr_cli_usage_error(const wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Progress on stderr: on a terminal one line cut to its width (refreshed
 * on SIGWINCH) and redrawn at most 10 times a second; forced onto a
 * non-terminal (--progress), one plain line a second. Cleared by
 * wr_cli_progress_done, which every report calls first. */
void wr_cli_progress(wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void wr_cli_progress_done(wr_cli *cli);
/* The progress line of counted work, in the one form every tool uses:
 * "HEAD: DONE of TOTAL UNIT (P%), R UNIT/s" (TOTAL 0: not known, "HEAD:
 * DONE UNIT, ..."; nothing counted yet and no TOTAL: "HEAD" alone). HEAD
 * is the phase and the file ("checking 1/2 people.main.wr"); the rate is
 * of that head's work, since it began (a new head, or a count that went
 * back, starts it again), shown once a second of it has passed (before,
 * a rate says nothing). UNIT is a plural ("pages"), said in the singular
 * for a count of 1 ("1 page", "1 of 1 page"). */
void wr_cli_progress_count(wr_cli *cli, const char *head, uint64_t done,
                           uint64_t total, const char *unit);
/* The last component of a path, for progress lines. */
const char *wr_cli_base(const char *path);
/* "s" after a count other than 1 ("%llu file%s"), else "". */
const char *wr_cli_plural(uint64_t n);
/* Print --version. */
void wr_cli_version(const wr_cli *cli);
/* The one --json object of a run: wr_cli_json_begin starts it with the
 * fields every tool prints first ("tool", "version"); the tool appends
 * its own; wr_cli_json_end adds "status", "exit" and, when message is not
 * NULL, "error": {"code": wr_errname(rc), "message": message}, prints it
 * and frees it. docs/json/TOOL.schema.json describes each tool's object. */
void wr_cli_json_begin(const wr_cli *cli, bson_t *doc);
void wr_cli_json_end(bson_t *doc, const char *status, int exit_code, int rc,
                     const char *message);
/* The same object, streamed when it holds a list too long to keep (wr-diff's
 * differences): wr_cli_json_open prints doc (from wr_cli_json_begin) still
 * open and, when array is not NULL, opens that array; wr_cli_json_item
 * prints one element (JSON text); wr_cli_json_close closes the array and
 * appends doc's fields, then status, exit and error as wr_cli_json_end
 * does. Both docs are freed. */
void wr_cli_json_open(const wr_cli *cli, bson_t *doc, const char *array);
void wr_cli_json_item(const wr_cli *cli, const char *json, bool first);
void wr_cli_json_close(const wr_cli *cli, bson_t *doc, bool array,
                       const char *status, int exit_code, int rc,
                       const char *message);
/* Parse a size like "4096", "64K", "256M", "2G" into bytes. */
int wr_cli_parse_size(const char *s, uint64_t *out);
/* Parse an unsigned integer. */
int wr_cli_parse_u64(const char *s, uint64_t *out);
/* The options every tool takes. Parse with
 *   getopt_long(argc, argv, WR_CLI_SHORTOPTS, longopts, NULL)
 * put WR_CLI_COMMON_OPTIONS at the end of the longopts table (before its
 * terminator) and hand every option the tool does not handle itself
 * (the default: branch) to wr_cli_common_opt(). */
enum {
    WR_CLI_O_JSON = 0x1000, WR_CLI_O_PROGRESS, WR_CLI_O_NO_PROGRESS
};
#define WR_CLI_SHORTOPTS ":qhV" /* ':' reports a missing argument */
#define WR_CLI_COMMON_OPTIONS                                               \
    {"json", no_argument, NULL, WR_CLI_O_JSON},                             \
        {"quiet", no_argument, NULL, 'q'},                                  \
        {"progress", no_argument, NULL, WR_CLI_O_PROGRESS},                 \
        {"no-progress", no_argument, NULL, WR_CLI_O_NO_PROGRESS},           \
        {"help", no_argument, NULL, 'h'},                                   \
        {"version", no_argument, NULL, 'V'}
#define WR_CLI_GO_ON (-1) /* handled: keep parsing */
/* The --help lines of the options every tool shares but --json and -q
 * (whose meaning each tool words itself). */
#define WR_CLI_HELP_COMMON                                                  \
    "  --progress, --no-progress\n"                                         \
    "                        show the progress line, or not (default: on\n" \
    "                        a terminal, without -q and --json)\n"          \
    "  -h, --help            show this help\n"                              \
    "  -V, --version         show the versions of the tool, the library,\n" \
    "                        the file format and libbson\n"
/* --json, -q, --progress, --no-progress set their flags (WR_CLI_GO_ON);
 * -h/--help (calling usage)
 * and -V/--version print and give WR_EXIT_OK; an unknown option, a
 * missing argument or anything else is a usage error (WR_EXIT_USAGE, said
 * in one line). A result other than WR_CLI_GO_ON is the tool's exit code. */
int wr_cli_common_opt(wr_cli *cli, int opt, void (*usage)(void));
/* --checkpoint latest|previous: sets *previous and gives WR_CLI_GO_ON, or
 * reports the usage error and gives its exit code. */
int wr_cli_checkpoint_opt(const wr_cli *cli, const char *arg, bool *previous);
/* --page-size: a power of two from 512 to 65536 ("4K" allowed). 0, or
 * WR_EXIT_USAGE after saying why. */
int wr_cli_page_size(const wr_cli *cli, const char *arg, uint32_t *out);
/* --memory SIZE (wr-load, wr-migrate, wr-diff): at least 1M ("64M",
 * "2G"). 0, or WR_EXIT_USAGE after saying why. */
int wr_cli_memory(const wr_cli *cli, const char *arg, uint64_t *out);

/* Readers (wr-verify, wr-dump, ...): --wait and --no-lock. Put
 * WR_CLI_READ_OPTIONS in the getopt_long table beside
 * WR_CLI_COMMON_OPTIONS; wr_cli_common_opt() handles them (both at once:
 * a usage error). */
enum { WR_CLI_O_WAIT = 0x1100, WR_CLI_O_NOLOCK };
#define WR_CLI_READ_OPTIONS                                                 \
    {"wait", no_argument, NULL, WR_CLI_O_WAIT},                             \
        {"no-lock", no_argument, NULL, WR_CLI_O_NOLOCK}
/* wr_read_begin() on PATH in the mode the options chose: waiting shows a
 * progress line on a terminal (a note otherwise), a note says when PATH
 * is read without the lock, and a refusal tells about --wait and
 * --no-lock. */
int wr_cli_read_begin(wr_cli *cli, const char *path, wr_read **out,
                      wr_errbuf *eb);
/* wr_read_end(): rc as the reading left it, or WR_ECHANGED (eb then says
 * what moved) when a --no-lock read saw a writer change it. */
int wr_cli_read_end(wr_read *rd, int rc, wr_errbuf *eb);

/* A flag set by SIGINT/SIGTERM that long loops check. */
extern volatile int wr_cli_interrupted;
void wr_cli_catch_signals(void);
/* The same for a tool that writes a database (wr-load, wr-migrate,
 * wr-compact, wr-salvage), with SIGPIPE ignored: its report on a pipe
 * whose reader has gone (`| head -1`, `| true`), or wr-load's --rejects
 * pipe, is EPIPE, a write error the tool reports once its job is done or
 * stopped cleanly (wr_cli_out_done: "writing the report failed", exit 3
 * where it would be 0), never a death mid-run that leaves its temporary
 * files and says nothing. */
void wr_cli_catch_signals_writer(void);

#endif /* WR_CLI_H */
