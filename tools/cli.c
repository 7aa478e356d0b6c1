/*
 * cli.c -- shared front-end helpers (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile int wr_cli_interrupted;

void wr_cli_init(wr_cli *cli, const char *tool)
{
    memset(cli, 0, sizeof *cli);
    cli->tool = tool;
}

void wr_cli_ready(wr_cli *cli)
{
    cli->progress = !cli->json && !cli->quiet && isatty(2);
}

int wr_cli_exit_code(int rc)
{
    switch (rc) {
    case WR_OK:
        return WR_EXIT_OK;
    case WR_ECORRUPT:
    case WR_EBADINPUT:
        return WR_EXIT_DATA;
    case WR_EINVAL:
        return WR_EXIT_USAGE;
    default: /* EIO, ENOSPC, ENOMEM, ELOCKED, ENOTFOUND, EVERSION, ... */
        return WR_EXIT_ENV;
    }
}

static void cli_vmsg(const wr_cli *cli, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", cli->tool);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void wr_cli_error(const wr_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmsg(cli, fmt, ap);
    va_end(ap);
}

void wr_cli_note(const wr_cli *cli, const char *fmt, ...)
{
    va_list ap;
    if (cli->quiet)
        return;
    va_start(ap, fmt);
    cli_vmsg(cli, fmt, ap);
    va_end(ap);
}

int wr_cli_usage_error(const wr_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmsg(cli, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", cli->tool);
    return WR_EXIT_USAGE;
}

void wr_cli_progress(wr_cli *cli, const char *fmt, ...)
{
    va_list ap;
    if (!cli->progress)
        return;
    fprintf(stderr, "\r%s: ", cli->tool);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\033[K", stderr);
    cli->progress_shown = true;
}

void wr_cli_progress_done(wr_cli *cli)
{
    if (cli->progress_shown)
        fputs("\r\033[K", stderr);
    cli->progress_shown = false;
}

void wr_cli_version(const wr_cli *cli)
{
    printf("%s (wrtools) %s, libwr %s, file format %d, libbson %s\n",
           cli->tool, WR_VERSION_STRING, WR_VERSION_STRING, WR_FORMAT_VERSION,
           bson_get_version());
}

void wr_cli_print_json(const bson_t *doc)
{
    size_t len;
    char *s = bson_as_relaxed_extended_json(doc, &len);
    if (s != NULL) {
        fwrite(s, 1, len, stdout);
        fputc('\n', stdout);
        bson_free(s);
    }
}

int wr_cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int wr_cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    default:
        return -1;
    }
    if (*end != '\0' && end[1] != '\0' &&
        !((end[1] == 'B' || end[1] == 'b' || end[1] == 'i') &&
          (end[2] == '\0' || (end[1] == 'i' && end[2] == 'B' && end[3] == 0))))
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int wr_cli_common_opt(wr_cli *cli, int opt, void (*usage)(void))
{
    switch (opt) {
    case WR_CLI_O_JSON:
        cli->json = true;
        return WR_CLI_GO_ON;
    case 'q':
        cli->quiet = true;
        return WR_CLI_GO_ON;
    case WR_CLI_O_HELP:
        usage();
        return WR_EXIT_OK;
    case WR_CLI_O_VERSION:
        wr_cli_version(cli);
        return WR_EXIT_OK;
    default:
        return WR_CLI_NOT_COMMON;
    }
}

int wr_cli_page_size(const wr_cli *cli, const char *arg, uint32_t *out)
{
    uint64_t v;
    if (wr_cli_parse_size(arg, &v) != 0 || v < 512 || v > 65536 ||
        (v & (v - 1)) != 0)
        return wr_cli_usage_error(cli, "--page-size must be a power of two "
                                       "from 512 to 65536, not '%s'",
                                  arg);
    *out = (uint32_t)v;
    return 0;
}

static void cli_on_signal(int sig)
{
    (void)sig;
    wr_cli_interrupted = 1;
}

void wr_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cli_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
