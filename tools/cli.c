/*
 * cli.c -- shared front-end helpers (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

volatile int wr_cli_interrupted;
static volatile sig_atomic_t cli_winch = 1; /* the width is to be read */

/* A closed fd 0, 1 or 2 would be the next file the tool opens (a reader's
 * LOCK, a tree file), and the stream's reads or writes would go to it:
 * fill each closed one with /dev/null opened the other way (0 write-only,
 * 1 and 2 read-only), so the stream still fails (EBADF) as it would have
 * and no file takes its number. Without /dev/null there is no safe way on:
 * exit 3. */
static void cli_fill_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (nfd != fd) { /* lower ones are open, so only on failure */
            if (nfd >= 0)
                close(nfd);
            _exit(WR_EXIT_ENV);
        }
    }
}

void wr_cli_init(wr_cli *cli, const char *tool, int argc, char **argv)
{
    cli_fill_std_fds();
    memset(cli, 0, sizeof *cli);
    cli->tool = tool;
    cli->argc = argc;
    cli->argv = argv;
    cli->progress_opt = -1;
    opterr = 0; /* wr_cli_common_opt words getopt's complaints */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        cli->json = cli->json || strcmp(argv[i], "--json") == 0;
}

static double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void cli_on_winch(int sig)
{
    (void)sig;
    cli_winch = 1;
}

void wr_cli_ready(wr_cli *cli)
{
    cli->progress_tty = isatty(2);
    if (cli->progress_opt >= 0)
        cli->progress = cli->progress_opt == 1;
    else
        cli->progress = !cli->json && !cli->quiet && cli->progress_tty;
    cli->cols = 80;
    cli->progress_t0 = cli_now();
    if (cli->progress && cli->progress_tty) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = cli_on_winch;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, NULL);
    }
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

int wr_cli_out_done(const wr_cli *cli, int code)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return code;
    wr_cli_error(cli, "writing the report failed%s%s",
                 errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
    return code == WR_EXIT_OK ? WR_EXIT_ENV : code;
}

int wr_cli_checkpoint_opt(const wr_cli *cli, const char *arg, bool *previous)
{
    if (strcmp(arg, "latest") == 0 || strcmp(arg, "previous") == 0) {
        *previous = arg[0] == 'p';
        return WR_CLI_GO_ON;
    }
    return wr_cli_usage_error(cli, "--checkpoint is 'latest' or 'previous', "
                                   "not '%s'",
                              arg);
}

int wr_cli_usage_error(const wr_cli *cli, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s (try --help)\n", cli->tool, msg);
    if (cli->json) {
        bson_t d;
        wr_cli_json_begin(cli, &d);
        wr_cli_json_end(&d, "usage", WR_EXIT_USAGE, WR_EINVAL, msg);
    }
    return WR_EXIT_USAGE;
}

static void cli_read_width(wr_cli *cli)
{
    struct winsize ws;
    cli_winch = 0;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        cli->cols = ws.ws_col;
}

void wr_cli_progress(wr_cli *cli, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;
    if (!cli->progress)
        return;
    double now = cli_now();
    if (cli->progress_shown &&
        now - cli->progress_last < (cli->progress_tty ? 0.1 : 1.0))
        return;
    cli->progress_last = now;
    n = snprintf(line, sizeof line, "%s: ", cli->tool);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (!cli->progress_tty) { /* a log: one line each time */
        fprintf(stderr, "%s\n", line);
        cli->progress_shown = true;
        return;
    }
    if (cli_winch)
        cli_read_width(cli);
    /* one column short of the width: a full line would wrap on some
     * terminals; never cut a UTF-8 sequence */
    size_t len = strlen(line), max = cli->cols > 1 ? cli->cols - 1 : 1;
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
            len--;
    }
    fprintf(stderr, "\r%.*s\033[K", (int)len, line);
    cli->progress_shown = true;
}

/* How much of unit (a plural: "pages") to print for n: "page" for 1. */
static int cli_unit_len(const char *unit, uint64_t n)
{
    size_t len = strlen(unit);
    return (int)(n == 1 && len > 1 && unit[len - 1] == 's' ? len - 1 : len);
}

void wr_cli_progress_count(wr_cli *cli, const char *head, uint64_t done,
                           uint64_t total, const char *unit)
{
    char rate[64] = "";
    if (!cli->progress)
        return;
    double now = cli_now();
    /* a new head (phase or file), or a count that went back: its own rate */
    bool first = cli->progress_head[0] == '\0';
    if (strncmp(head, cli->progress_head, sizeof cli->progress_head - 1) !=
            0 ||
        done < cli->progress_done0) {
        snprintf(cli->progress_head, sizeof cli->progress_head, "%s", head);
        if (!first || done < cli->progress_done0) { /* else: since ready */
            cli->progress_t0 = now;
            cli->progress_done0 = done;
        }
    }
    double s = now - cli->progress_t0;
    if (s >= 1.0)
        snprintf(rate, sizeof rate, ", %.0f %s/s",
                 (double)(done - cli->progress_done0) / s, unit);
    if (total > 0)
        wr_cli_progress(cli, "%s: %llu of %llu %.*s (%.0f%%)%s", head,
                        (unsigned long long)done, (unsigned long long)total,
                        cli_unit_len(unit, total), unit,
                        100.0 * (double)done / (double)total, rate);
    else if (done > 0)
        wr_cli_progress(cli, "%s: %llu %.*s%s", head, (unsigned long long)done,
                        cli_unit_len(unit, done), unit, rate);
    else
        wr_cli_progress(cli, "%s", head);
}

const char *wr_cli_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

const char *wr_cli_plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

void wr_cli_progress_done(wr_cli *cli)
{
    if (cli->progress_shown && cli->progress_tty)
        fputs("\r\033[K", stderr);
    cli->progress_shown = false;
}

void wr_cli_version(const wr_cli *cli)
{
    if (cli->json) {
        bson_t d;
        wr_cli_json_begin(cli, &d);
        BSON_APPEND_UTF8(&d, "libwr", WR_VERSION_STRING);
        BSON_APPEND_INT32(&d, "format_version", WR_FORMAT_VERSION);
        BSON_APPEND_UTF8(&d, "libbson", bson_get_version());
        wr_cli_json_end(&d, "ok", WR_EXIT_OK, WR_OK, NULL);
        return;
    }
    printf("%s (wrtools) %s, libwr %s, file format %d, libbson %s\n",
           cli->tool, WR_VERSION_STRING, WR_VERSION_STRING, WR_FORMAT_VERSION,
           bson_get_version());
}

/* --help; with --json the text goes into the one object as "help". */
static void cli_help(const wr_cli *cli, void (*usage)(void))
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = stdout, *mem;
    if (!cli->json || (mem = open_memstream(&text, &len)) == NULL) {
        usage();
        return;
    }
    stdout = mem;
    usage();
    fclose(mem);
    stdout = out;
    bson_t d;
    wr_cli_json_begin(cli, &d);
    if (text != NULL && bson_utf8_validate(text, len, false))
        BSON_APPEND_UTF8(&d, "help", text);
    wr_cli_json_end(&d, "ok", WR_EXIT_OK, WR_OK, NULL);
    free(text);
}

/* The test suite validates every --json object the tools print against
 * docs/json/ (tests/json/validate.py): with WR_TEST_JSON_DIR set, what a
 * run prints as JSON is also appended to a file of its own there,
 * DIR/TOOL.PID.K.json (K: the first free number, as pids are reused). */
static void cli_json_out(const char *tool, const char *s, size_t len)
{
    static char path[4096];
    const char *dir = getenv("WR_TEST_JSON_DIR");
    int fd = -1;
    fwrite(s, 1, len, stdout);
    if (dir == NULL || *dir == '\0')
        return;
    if (path[0] != '\0') {
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    } else {
        for (int k = 0; k < 1000 && fd < 0; k++) {
            snprintf(path, sizeof path, "%s/%s.%ld.%d.json", dir, tool,
                     (long)getpid(), k);
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
                      0644);
            if (fd < 0 && errno != EEXIST)
                break;
        }
    }
    if (fd >= 0) {
        if (write(fd, s, len) != (ssize_t)len)
            path[0] = '\0'; /* a test file: the validation will say so */
        close(fd);
    }
}

/* src into out (begun), every key and string made valid UTF-8
 * (wr_utf8_replace); false: out of memory. */
static bool cli_json_clean(const bson_t *src, bson_t *out)
{
    bson_iter_t it;
    bool ok = bson_iter_init(&it, src);
    while (ok && bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        uint32_t n = 0;
        char *key = wr_utf8_replace(k, strlen(k), NULL), *v = NULL;
        bson_t sub, in;
        const uint8_t *data;
        if (key == NULL)
            return false;
        if (BSON_ITER_HOLDS_UTF8(&it)) {
            const char *str = bson_iter_utf8(&it, &n);
            size_t vl = 0;
            ok = (v = wr_utf8_replace(str, n, &vl)) != NULL &&
                 bson_append_utf8(out, key, -1, v, (int)vl);
        } else if (BSON_ITER_HOLDS_DOCUMENT(&it) ||
                   BSON_ITER_HOLDS_ARRAY(&it)) {
            bool arr = BSON_ITER_HOLDS_ARRAY(&it);
            if (arr)
                bson_iter_array(&it, &n, &data);
            else
                bson_iter_document(&it, &n, &data);
            ok = bson_init_static(&in, data, n) &&
                 (arr ? bson_append_array_begin(out, key, -1, &sub)
                      : bson_append_document_begin(out, key, -1, &sub)) &&
                 cli_json_clean(&in, &sub) &&
                 (arr ? bson_append_array_end(out, &sub)
                      : bson_append_document_end(out, &sub));
        } else {
            ok = bson_append_value(out, key, -1, bson_iter_value(&it));
        }
        free(v);
        free(key);
    }
    return ok;
}

/* doc as relaxed Extended JSON, less skip_head bytes at the start and
 * skip_tail at the end (to stream an object in parts), then end. A path
 * or name that is not UTF-8 (libbson then makes no JSON at all) is
 * printed with U+FFFD for each stray byte: one object in every case. */
static void cli_json_part(const char *tool, const bson_t *doc,
                          size_t skip_head, size_t skip_tail,
                          const char *end)
{
    size_t len;
    char *s = bson_as_relaxed_extended_json(doc, &len);
    if (s == NULL) {
        bson_t clean = BSON_INITIALIZER;
        if (cli_json_clean(doc, &clean))
            s = bson_as_relaxed_extended_json(&clean, &len);
        bson_destroy(&clean);
    }
    if (s != NULL && len >= skip_head + skip_tail)
        cli_json_out(tool, s + skip_head, len - skip_head - skip_tail);
    cli_json_out(tool, end, strlen(end));
    bson_free(s);
}

/* One line of relaxed Extended JSON on stdout. */
static void cli_print_json(const bson_t *doc)
{
    bson_iter_t it;
    const char *tool = "wr-unknown";
    if (bson_iter_init_find(&it, doc, "tool") && BSON_ITER_HOLDS_UTF8(&it))
        tool = bson_iter_utf8(&it, NULL);
    cli_json_part(tool, doc, 0, 0, "\n");
}

void wr_cli_json_begin(const wr_cli *cli, bson_t *doc)
{
    bson_init(doc);
    BSON_APPEND_UTF8(doc, "tool", cli->tool);
    BSON_APPEND_UTF8(doc, "version", WR_VERSION_STRING);
}

/* status, exit and (with a message) error, as every tool's object ends */
static void cli_json_status(bson_t *doc, const char *status, int exit_code,
                            int rc, const char *message)
{
    BSON_APPEND_UTF8(doc, "status", status);
    BSON_APPEND_INT32(doc, "exit", exit_code);
    if (message != NULL) {
        bson_t e;
        /* one that quotes a name that is not UTF-8 is made so when the
         * object is printed (cli_json_part) */
        BSON_APPEND_DOCUMENT_BEGIN(doc, "error", &e);
        BSON_APPEND_UTF8(&e, "code", wr_errname(rc));
        bson_append_utf8(&e, "message", -1, message, -1);
        bson_append_document_end(doc, &e);
    }
}

void wr_cli_json_end(bson_t *doc, const char *status, int exit_code, int rc,
                     const char *message)
{
    cli_json_status(doc, status, exit_code, rc, message);
    cli_print_json(doc);
    bson_destroy(doc);
}

void wr_cli_json_open(const wr_cli *cli, bson_t *doc, const char *array)
{
    char head[256];
    /* "{ ... }" less its closing " }" */
    cli_json_part(cli->tool, doc, 0, 2, "");
    if (array != NULL) {
        snprintf(head, sizeof head, ", \"%s\" : [", array);
        cli_json_out(cli->tool, head, strlen(head));
    }
    bson_destroy(doc);
}

void wr_cli_json_item(const wr_cli *cli, const char *json, bool first)
{
    cli_json_out(cli->tool, first ? " " : ", ", first ? 1 : 2);
    cli_json_out(cli->tool, json, strlen(json));
}

void wr_cli_json_close(const wr_cli *cli, bson_t *doc, bool array,
                       const char *status, int exit_code, int rc,
                       const char *message)
{
    if (array)
        cli_json_out(cli->tool, " ]", 2);
    cli_json_status(doc, status, exit_code, rc, message);
    cli_json_out(cli->tool, ", ", 2);
    /* "{ ... }" less its opening "{ " */
    cli_json_part(cli->tool, doc, 2, 0, "\n");
    bson_destroy(doc);
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

/* The option getopt stopped at, as the user wrote it (up to any '='). */
static void cli_bad_opt(const wr_cli *cli, char *buf, size_t len)
{
    if (optopt > 0 && optopt < 256) {
        snprintf(buf, len, "-%c", optopt);
        return;
    }
    const char *arg = optind > 0 && optind <= cli->argc
                          ? cli->argv[optind - 1]
                          : "?";
    snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
}

int wr_cli_common_opt(wr_cli *cli, int opt, void (*usage)(void))
{
    char name[128];
    switch (opt) {
    case WR_CLI_O_JSON:
        cli->json = true;
        return WR_CLI_GO_ON;
    case 'q':
        cli->quiet = true;
        return WR_CLI_GO_ON;
    case WR_CLI_O_PROGRESS:
        cli->progress_opt = 1;
        return WR_CLI_GO_ON;
    case WR_CLI_O_NO_PROGRESS:
        cli->progress_opt = 0;
        return WR_CLI_GO_ON;
    case 'h':
        cli_help(cli, usage);
        return WR_EXIT_OK;
    case 'V':
        wr_cli_version(cli);
        return WR_EXIT_OK;
    case WR_CLI_O_WAIT:
    case WR_CLI_O_NOLOCK: {
        wr_read_mode m = opt == WR_CLI_O_WAIT ? WR_READ_WAIT : WR_READ_NOLOCK;
        if (cli->read_mode != WR_READ_LOCK && cli->read_mode != m)
            return wr_cli_usage_error(cli, "--wait and --no-lock exclude "
                                           "each other");
        cli->read_mode = m;
        return WR_CLI_GO_ON;
    }
    case ':':
        cli_bad_opt(cli, name, sizeof name);
        return wr_cli_usage_error(cli, "option '%s' wants an argument",
                                  name);
    default: /* '?': unknown, or a long option's ambiguous abbreviation */
        cli_bad_opt(cli, name, sizeof name);
        return wr_cli_usage_error(cli, "unknown option '%s'", name);
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

int wr_cli_memory(const wr_cli *cli, const char *arg, uint64_t *out)
{
    uint64_t v;
    if (wr_cli_parse_size(arg, &v) != 0 || v < (1u << 20))
        return wr_cli_usage_error(cli, "--memory wants a size of at least 1M "
                                       "(like 64M or 2G), not '%s'",
                                  arg);
    *out = v;
    return 0;
}

typedef struct cli_wait {
    wr_cli *cli;
    const char *path;
    bool told;
} cli_wait;

static void cli_on_wait(const char *who, unsigned seconds, void *arg)
{
    cli_wait *w = arg;
    if (w->cli->progress) {
        wr_cli_progress(w->cli, "%s; waiting for it to finish: %u s", who,
                        seconds);
    } else if (!w->told) {
        wr_cli_note(w->cli, "%s; waiting for it to finish", who);
        w->told = true;
    }
}

int wr_cli_read_begin(wr_cli *cli, const char *path, wr_read **out,
                      wr_errbuf *eb)
{
    cli_wait w = {cli, path, false};
    wr_read_opts o = {.mode = cli->read_mode,
                      .holder = cli->tool,
                      .waiting = cli_on_wait,
                      .arg = &w,
                      .interrupted = &wr_cli_interrupted};
    int rc = wr_read_begin(path, &o, out, eb);
    wr_cli_progress_done(cli);
    if (rc == WR_ELOCKED) {
        char msg[sizeof eb->msg];
        snprintf(msg, sizeof msg, "%s", eb->msg);
        snprintf(eb->msg, sizeof eb->msg,
                 "%.900s: a writer is at work (--wait to wait for it, "
                 "--no-lock to read the last committed snapshot)",
                 msg);
    }
    if (rc == WR_OK && wr_read_note(*out) != NULL &&
        cli->read_mode != WR_READ_NOLOCK)
        wr_cli_note(cli, "%s", wr_read_note(*out));
    return rc;
}

int wr_cli_read_end(wr_read *rd, int rc, wr_errbuf *eb)
{
    wr_errbuf e = {0};
    if (wr_read_end(rd, &e) != WR_ECHANGED)
        return rc;
    *eb = e; /* what was found may be the writer's doing: not judged */
    return WR_ECHANGED;
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

void wr_cli_catch_signals_writer(void)
{
    wr_cli_catch_signals();
    signal(SIGPIPE, SIG_IGN);
}
