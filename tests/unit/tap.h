/*
 * tap.h -- a tiny TAP harness for the unit tests. One test function per
 * behaviour; each becomes one "ok N - name" / "not ok N - name" line.
 *
 *   static void test_extent_best_fit(void) { CHECK(x == 1); ... }
 *   int main(void) { RUN(test_extent_best_fit); return tap_done(); }
 *
 * CHECK* record a failure (with file:line and the values) and keep going;
 * REQUIRE* record it and return from the test function. TAP_SKIP(why)
 * then return: the test could not run here ("ok N - name # SKIP why"),
 * which tests/run.sh counts apart, never as passed.
 */
#ifndef WR_TAP_H
#define WR_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed_tests, tap_cur_failed;
static char tap_cur_skip[200]; /* why the current test did not run */

#define TAP_FAIL(...)                                                        \
    do {                                                                     \
        tap_cur_failed = 1;                                                  \
        printf("#   %s:%d: ", __FILE__, __LINE__);                           \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)
#define TAP_SKIP(...)                                                        \
    snprintf(tap_cur_skip, sizeof tap_cur_skip, __VA_ARGS__)

#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c))                                                            \
            TAP_FAIL("check failed: %s", #c);                                \
    } while (0)
#define REQUIRE(c)                                                           \
    do {                                                                     \
        if (!(c)) {                                                          \
            TAP_FAIL("required: %s", #c);                                    \
            return;                                                          \
        }                                                                    \
    } while (0)
#define CHECK_EQ(a, b)                                                       \
    do {                                                                     \
        long long va_ = (long long)(a), vb_ = (long long)(b);                \
        if (va_ != vb_)                                                      \
            TAP_FAIL("%s == %s: %lld != %lld", #a, #b, va_, vb_);            \
    } while (0)
#define REQUIRE_EQ(a, b)                                                     \
    do {                                                                     \
        long long va_ = (long long)(a), vb_ = (long long)(b);                \
        if (va_ != vb_) {                                                    \
            TAP_FAIL("%s == %s: %lld != %lld", #a, #b, va_, vb_);            \
            return;                                                          \
        }                                                                    \
    } while (0)
/* rc must be WR_OK; on failure prints the error buffer's message. */
#define REQUIRE_OK(expr, eb)                                                 \
    do {                                                                     \
        int rc_ = (expr);                                                    \
        if (rc_ != 0) {                                                      \
            TAP_FAIL("%s -> %d: %s", #expr, rc_, (eb)->msg);                 \
            return;                                                          \
        }                                                                    \
    } while (0)

/* WR_TEST_SKIP="NAME ...": those tests are not run, and not counted
 * (tests/run.sh: the slow ones of the ThreadSanitizer run). */
static inline int tap_skipped(const char *name)
{
    const char *s = getenv("WR_TEST_SKIP");
    size_t n = strlen(name);
    for (const char *p = s; p != NULL && (p = strstr(p, name)) != NULL;
         p += n)
        if ((p == s || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) {
            printf("# %s not run (WR_TEST_SKIP)\n", name);
            return 1;
        }
    return 0;
}

#define RUN(fn)                                                              \
    do {                                                                     \
        if (tap_skipped(#fn))                                                \
            break;                                                           \
        tap_cur_failed = 0;                                                  \
        tap_cur_skip[0] = '\0';                                              \
        fn();                                                                \
        tap_n++;                                                             \
        printf("%s %d - %s%s%s\n", tap_cur_failed ? "not ok" : "ok", tap_n,  \
               #fn, tap_cur_skip[0] ? " # SKIP " : "", tap_cur_skip);        \
        fflush(stdout);                                                      \
        tap_failed_tests += tap_cur_failed;                                  \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed_tests ? 1 : 0;
}

/* A fresh scratch directory for a test binary: $TMPDIR/wrtest.XXXXXX. */
static inline const char *tap_tmpdir(void)
{
    static char dir[256];
    if (dir[0] == '\0') {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/wrtest.XXXXXX", t ? t : "/tmp");
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

/* tap_tmpdir()/name, malloc'd, with nothing there (whatever an earlier
 * test left under that name is removed). */
static inline char *tap_fresh_path(const char *name)
{
    char *p = malloc(512);
    char cmd[600];
    if (p == NULL)
        exit(2);
    snprintf(p, 512, "%s/%s", tap_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0)
        exit(2);
    return p;
}

#endif /* WR_TAP_H */
