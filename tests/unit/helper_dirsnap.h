/*
 * helper_dirsnap.h -- the crash and power-loss sweeps put a directory back
 * to a known state hundreds of times; doing it in-process (no shell, no cp)
 * keeps them fast under ASan, where every fork of a big process costs.
 */
#ifndef WR_HELPER_DIRSNAP_H
#define WR_HELPER_DIRSNAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct dirsnap {
    size_t n;
    char **name;
    uint8_t **buf;
    size_t *len;
} dirsnap;

/* The regular files directly in dir (subdirectories are not taken). */
int dirsnap_take(dirsnap *s, const char *dir);
/* dir := exactly the snapshot: everything else in it (recursively) goes. */
int dirsnap_restore(const dirsnap *s, const char *dir);
/* rm -r */
int dirsnap_remove_tree(const char *path);
void dirsnap_free(dirsnap *s);

#endif
