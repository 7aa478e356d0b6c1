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
    bool json;
    bool quiet;
    bool progress; /* stderr is a terminal and neither -q nor --json */
    bool progress_shown;
} wr_cli;

void wr_cli_init(wr_cli *cli, const char *tool);
/* Decide on progress once options are parsed. */
void wr_cli_ready(wr_cli *cli);
/* Map a wr_err to an exit code, in one place. */
int wr_cli_exit_code(int rc);
/* "wr-tool: message" on stderr. */
void wr_cli_error(const wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void wr_cli_note(const wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A bad invocation: one line and "try --help", exit code 2. */
int wr_cli_usage_error(const wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Progress line on stderr (terminal only); cleared by wr_cli_progress_done. */
void wr_cli_progress(wr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void wr_cli_progress_done(wr_cli *cli);
/* Print --version. */
void wr_cli_version(const wr_cli *cli);
/* Print a BSON report as one line of relaxed Extended JSON on stdout. */
void wr_cli_print_json(const bson_t *doc);
/* Parse a size like "4096", "64K", "256M", "2G" into bytes. */
int wr_cli_parse_size(const char *s, uint64_t *out);
/* Parse an unsigned integer. */
int wr_cli_parse_u64(const char *s, uint64_t *out);
/* The options every tool takes. Put WR_CLI_COMMON_OPTIONS at the end of a
 * getopt_long table (before its terminator) and hand every option the tool
 * does not handle itself to wr_cli_common_opt(). */
enum { WR_CLI_O_JSON = 0x1000, WR_CLI_O_HELP, WR_CLI_O_VERSION };
#define WR_CLI_COMMON_OPTIONS                                               \
    {"json", no_argument, NULL, WR_CLI_O_JSON},                             \
        {"quiet", no_argument, NULL, 'q'},                                  \
        {"help", no_argument, NULL, WR_CLI_O_HELP},                         \
        {"version", no_argument, NULL, WR_CLI_O_VERSION}
#define WR_CLI_GO_ON (-1)      /* handled: keep parsing */
#define WR_CLI_NOT_COMMON (-2) /* not a common option */
/* --json and -q set their flags (WR_CLI_GO_ON); --help (calling usage)
 * and --version print and give WR_EXIT_OK, the tool's exit code. */
int wr_cli_common_opt(wr_cli *cli, int opt, void (*usage)(void));
/* --page-size: a power of two from 512 to 65536 ("4K" allowed). 0, or
 * WR_EXIT_USAGE after saying why. */
int wr_cli_page_size(const wr_cli *cli, const char *arg, uint32_t *out);

/* A flag set by SIGINT/SIGTERM that long loops check. */
extern volatile int wr_cli_interrupted;
void wr_cli_catch_signals(void);

#endif /* WR_CLI_H */
