/*
 * grow.h -- the growing-array helper.
 *
 * Owns the one rule a buffer of elements grows by where a module keeps
 * its own array (ipipe's batches, vfdocs' batches): doubled from 64, with
 * optional zeroed slack after the elements.
 *
 * Calls nothing of the library.
 */
#ifndef WR_GROW_H
#define WR_GROW_H

#include <stdbool.h>
#include <stddef.h>

/* An array *ptr of *cap elements of size bytes holding at least need of
 * them (doubled from 64), and slack bytes more after them (the new bytes
 * zero, so that memory checkers see only defined bytes loaded by
 * word-at-a-time readers); false, and nothing changed, when out of
 * memory. */
bool wri_grow(void **ptr, size_t *cap, size_t need, size_t size,
              size_t slack);

#endif
