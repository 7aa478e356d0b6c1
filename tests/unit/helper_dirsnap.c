/*
 * helper_dirsnap.c -- see helper_dirsnap.h.
 */

#include "helper_dirsnap.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

int dirsnap_take(dirsnap *s, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    memset(s, 0, sizeof *s);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char *p = join(dir, e->d_name);
        struct stat st;
        FILE *f = NULL;
        if (p == NULL || lstat(p, &st) != 0 || !S_ISREG(st.st_mode) ||
            (f = fopen(p, "rb")) == NULL) {
            free(p);
            continue;
        }
        size_t k = s->n++;
        s->name = realloc(s->name, s->n * sizeof *s->name);
        s->buf = realloc(s->buf, s->n * sizeof *s->buf);
        s->len = realloc(s->len, s->n * sizeof *s->len);
        s->name[k] = strdup(e->d_name);
        s->buf[k] = malloc((size_t)st.st_size + 1);
        s->len[k] = fread(s->buf[k], 1, (size_t)st.st_size, f);
        fclose(f);
        free(p);
    }
    closedir(d);
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int dirsnap_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int dirsnap_restore(const dirsnap *s, const char *dir)
{
    if (dirsnap_remove_tree(dir) != 0 || mkdir(dir, 0755) != 0)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        char *p = join(dir, s->name[i]);
        FILE *f = p != NULL ? fopen(p, "wb") : NULL;
        free(p);
        if (f == NULL)
            return -1;
        size_t w = fwrite(s->buf[i], 1, s->len[i], f);
        if (fclose(f) != 0 || w != s->len[i])
            return -1;
    }
    return 0;
}

void dirsnap_free(dirsnap *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->name[i]);
        free(s->buf[i]);
    }
    free(s->name);
    free(s->buf);
    free(s->len);
    memset(s, 0, sizeof *s);
}
