/*
 * grow.c -- the growing-array helper (grow.h).
 */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool wri_grow(void **ptr, size_t *cap, size_t need, size_t size,
              size_t slack)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*ptr, ncap * size + slack);
    if (np == NULL)
        return false;
    if (slack > 0)
        memset((uint8_t *)np + *cap * size, 0, (ncap - *cap) * size + slack);
    *ptr = np;
    *cap = ncap;
    return true;
}
