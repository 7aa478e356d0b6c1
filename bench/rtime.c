/*
 * rtime.c -- run a command and report what it cost, precisely:
 *
 *   rtime -o FILE COMMAND [ARG]...
 *
 * writes one line "MAXRSS_KIB USER_S SYS_S WALL_S" to FILE (microsecond
 * resolution, where GNU time prints hundredths) and exits with the
 * command's status (128 + signal if it was killed). Standard input, output
 * and error are the command's. bench/run.sh uses it for every timed run;
 * CPU time (user + system) stays meaningful when other processes compete
 * for the cores and wall time does not.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double rt_tv(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    int status;
    pid_t pid;
    double t0, t1;
    FILE *out;
    if (argc < 4 || strcmp(argv[1], "-o") != 0) {
        fprintf(stderr, "usage: rtime -o FILE COMMAND [ARG]...\n");
        return 125;
    }
    t0 = rt_now();
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "rtime: fork: %s\n", strerror(errno));
        return 125;
    }
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        fprintf(stderr, "rtime: cannot run %s: %s\n", argv[3],
                strerror(errno));
        _exit(127);
    }
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "rtime: wait4: %s\n", strerror(errno));
            return 125;
        }
    }
    t1 = rt_now();
    out = fopen(argv[2], "w");
    if (out == NULL) {
        fprintf(stderr, "rtime: %s: %s\n", argv[2], strerror(errno));
        return 125;
    }
    fprintf(out, "%ld %.6f %.6f %.6f\n", ru.ru_maxrss, rt_tv(ru.ru_utime),
            rt_tv(ru.ru_stime), t1 - t0);
    fclose(out);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
