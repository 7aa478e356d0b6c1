/*
 * bulk.c -- bottom-up tree building (see bulk.h).
 */
#include "bulk.h"

#include "wr_int.h"

#include <stdlib.h>

#define BULK_MAX_LEVELS 32

typedef struct bulk_level {
    uint8_t *buf;
    wri_page_builder pb;
    uint8_t *first; /* first key of the page being built */
    uint32_t first_len;
    uint64_t written; /* pages written at this level */
    wr_addr only;     /* internal: the child of a one-child page */
} bulk_level;

struct wri_bulk {
    wri_block *blk;   /* NULL in a dry run */
    const char *path; /* for messages */
    uint64_t gen;     /* generation written into page headers */
    uint64_t bytes;   /* bytes of pages written (or counted) */
    uint32_t psize;
    uint32_t lsize; /* leaf size: long leaves (block.h) when filled to 100% */
    unsigned fill;  /* percent */
    int nlevels;
    bulk_level lv[BULK_MAX_LEVELS];
    uint8_t *last; /* previous key, for the order check */
    uint32_t last_len;
    uint64_t count;
    uint8_t *ovf;
    size_t ovfcap;
};

static int bulk_level_init(wri_bulk *b, int L, wr_errbuf *eb)
{
    bulk_level *lv = &b->lv[L];
    if (L >= BULK_MAX_LEVELS)
        return WR_ERR(eb, WR_EINVAL, "bulk load: tree taller than %d",
                      BULK_MAX_LEVELS);
    lv->buf = malloc(L == 0 ? b->lsize : b->psize);
    lv->first = malloc(wri_page_max_key(b->psize) + 1);
    if (lv->buf == NULL || lv->first == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory in the bulk loader");
    wri_pb_init(&lv->pb, lv->buf, L == 0 ? b->lsize : b->psize,
                L == 0 ? WRI_PT_LEAF : WRI_PT_INTERNAL, (uint16_t)L);
    b->nlevels = L + 1;
    return WR_OK;
}

static int bulk_new(wri_block *blk, uint32_t psize, unsigned fill_pct,
                    wri_bulk **out, wr_errbuf *eb)
{
    int rc;
    wri_bulk *b;
    if (fill_pct < 10 || fill_pct > 100)
        return WR_ERR(eb, WR_EINVAL, "fill factor %u%% not in 10..100",
                      fill_pct);
    if ((b = calloc(1, sizeof *b)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory in the bulk loader");
    b->blk = blk;
    b->path = blk != NULL ? blk->path : "(dry run)";
    b->gen = blk != NULL ? blk->building : 2;
    b->psize = psize;
    b->fill = fill_pct;
    /* Full leaves are long (format version 2): a page's tail that no next
     * item fits is wasted once per leaf, not once per block. Leaves left
     * part empty for later inserts stay one block, as the engine's are. */
    b->lsize = fill_pct == 100 ? wri_leaf_max(WRI_VERSION_LONG_LEAVES, psize)
                               : psize;
    if (blk != NULL && b->lsize > psize)
        wri_block_set_version(blk, WRI_VERSION_LONG_LEAVES);
    if ((b->last = malloc(wri_page_max_key(b->psize) + 1)) == NULL) {
        free(b);
        return WR_ERR(eb, WR_ENOMEM, "out of memory in the bulk loader");
    }
    if ((rc = bulk_level_init(b, 0, eb)) != WR_OK) {
        wri_bulk_free(b);
        return rc;
    }
    *out = b;
    return WR_OK;
}

int wri_bulk_open(wri_block *blk, unsigned fill_pct, wri_bulk **out,
                  wr_errbuf *eb)
{
    if (blk->cur.root.off != 0 || blk->readonly)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: bulk load needs a new, empty, writable tree file",
                      blk->path);
    wri_block_gather_writes(blk);
    return bulk_new(blk, blk->page_size, fill_pct, out, eb);
}

int wri_bulk_open_dry(uint32_t page_size, unsigned fill_pct, wri_bulk **out,
                      wr_errbuf *eb)
{
    if (page_size < WRI_PAGE_MIN || page_size > WRI_PAGE_MAX ||
        (page_size & (page_size - 1)) != 0)
        return WR_ERR(eb, WR_EINVAL,
                      "page size %u is not a power of two from %u to %u",
                      page_size, WRI_PAGE_MIN, WRI_PAGE_MAX);
    return bulk_new(NULL, page_size, fill_pct, out, eb);
}

void wri_bulk_free(wri_bulk *b)
{
    if (b == NULL)
        return;
    for (int i = 0; i < b->nlevels; i++) {
        free(b->lv[i].buf);
        free(b->lv[i].first);
    }
    free(b->last);
    free(b->ovf);
    free(b);
}

uint64_t wri_bulk_count(const wri_bulk *b)
{
    return b->count;
}

uint64_t wri_bulk_bytes(const wri_bulk *b)
{
    return b->bytes;
}

/* Write one page, or in a dry run only count it (the address is what the
 * page would get: pages go one after another, as into a new file). */
static int bulk_write(wri_bulk *b, uint8_t *buf, uint32_t size, wr_addr *a,
                      wr_errbuf *eb)
{
    int rc;
    if (b->blk == NULL) {
        a->off = 2 * (uint64_t)b->psize + b->bytes;
        a->size = size;
        a->crc = 0;
    } else if ((rc = wri_block_write_page(b->blk, buf, size, a, eb)) !=
               WR_OK) {
        return rc;
    }
    b->bytes += size;
    return WR_OK;
}

static int bulk_push(wri_bulk *b, int L, const uint8_t *key, uint32_t klen,
                     const wr_addr *child, wr_errbuf *eb);

/* Write the page being built at level L; a leaf takes the fewest blocks
 * that hold it. Then start the level's next page. */
static int bulk_emit(wri_bulk *b, int L, wr_addr *a, wr_errbuf *eb)
{
    int rc;
    bulk_level *lv = &b->lv[L];
    if (L == 0) {
        uint32_t used = wri_pb_used(&lv->pb);
        wri_pb_shrink(&lv->pb, (used + b->psize - 1) / b->psize * b->psize);
    }
    wri_pb_finish(&lv->pb, b->gen);
    if ((rc = bulk_write(b, lv->buf, lv->pb.size, a, eb)) != WR_OK)
        return rc;
    lv->written++;
    wri_pb_init(&lv->pb, lv->buf, L == 0 ? b->lsize : b->psize,
                L == 0 ? WRI_PT_LEAF : WRI_PT_INTERNAL, (uint16_t)L);
    return WR_OK;
}

/* Write the page being built at level L and hand it to level L + 1. */
static int bulk_flush(wri_bulk *b, int L, wr_errbuf *eb)
{
    int rc;
    bulk_level *lv = &b->lv[L];
    wr_addr a;
    if ((rc = bulk_emit(b, L, &a, eb)) != WR_OK)
        return rc;
    return bulk_push(b, L + 1, lv->first, lv->first_len, &a, eb);
}

/* Does an item of `need` bytes go on the current page of level L, or must
 * the page be written first? */
static bool bulk_full(const wri_bulk *b, int L, uint32_t need)
{
    const wri_page_builder *pb = &b->lv[L].pb;
    uint32_t used = wri_pb_used(pb);
    uint32_t min_items = L == 0 ? 1 : 2;
    if (used + need > pb->size)
        return true;
    return pb->count >= min_items &&
           used + need > (uint64_t)pb->size * b->fill / 100;
}

static int bulk_push(wri_bulk *b, int L, const uint8_t *key, uint32_t klen,
                     const wr_addr *child, wr_errbuf *eb)
{
    int rc;
    if (L >= b->nlevels && (rc = bulk_level_init(b, L, eb)) != WR_OK)
        return rc;
    bulk_level *lv = &b->lv[L];
    if (bulk_full(b, L, wri_int_item_size(lv->pb.count == 0 ? 0 : klen)) &&
        (rc = bulk_flush(b, L, eb)) != WR_OK)
        return rc;
    if (lv->pb.count == 0) {
        memcpy(lv->first, key, klen);
        lv->first_len = klen;
        lv->only = *child;
    }
    wri_pb_add_internal(&lv->pb, key, klen, child);
    return WR_OK;
}

static int bulk_overflow(wri_bulk *b, const uint8_t *val, uint32_t vlen,
                         wr_addr *a, wr_errbuf *eb)
{
    uint64_t size = wri_overflow_size(b->psize, vlen);
    if (b->ovfcap < size) {
        uint8_t *nb = realloc(b->ovf, size);
        if (nb == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory writing an overflow");
        b->ovf = nb;
        b->ovfcap = size;
    }
    wri_overflow_encode(b->ovf, (uint32_t)size, val, vlen, b->gen);
    return bulk_write(b, b->ovf, (uint32_t)size, a, eb);
}

uint64_t wri_bulk_item_live(const wri_bulk *b, uint32_t klen, uint32_t vlen)
{
    uint64_t n = wri_leaf_item_size(b->psize, klen, vlen);
    if (vlen <= wri_page_max_inline(b->psize, klen))
        return n;
    return n + vlen +
           (wri_leaf_tail(b->psize, b->lsize, klen, vlen) == vlen ? 0
                                                                : WRI_PH_LEN);
}

int wri_bulk_add(wri_bulk *b, const uint8_t *key, uint32_t klen,
                 const uint8_t *val, uint32_t vlen, wr_errbuf *eb)
{
    int rc;
    wr_addr ovf = {0};
    bool big;
    if (klen == 0 || klen > wri_page_max_key(b->psize))
        return WR_ERR(eb, WR_EINVAL,
                      "%s: key of %u bytes; keys must be 1 to %u bytes with "
                      "%u-byte pages",
                      b->path, klen, wri_page_max_key(b->psize),
                      b->psize);
    if (b->count > 0 && wri_key_cmp(b->last, b->last_len, key, klen) >= 0)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: bulk load keys out of order at key %llu",
                      b->path, (unsigned long long)b->count + 1);
    big = vlen > wri_page_max_inline(b->psize, klen);
    /* what the cell keeps beside an overflow address (page.h: in long
     * leaves a value's last part block, format 3, or all of a value
     * shorter than a block, format 4; docs/FORMAT.md "Value tails") */
    uint32_t tlen = wri_leaf_tail(b->psize, b->lsize, klen, vlen);
    if (big && tlen < vlen &&
        (rc = bulk_overflow(b, val, vlen - tlen, &ovf, eb)) != WR_OK)
        return rc;
    if (tlen > 0 && b->blk != NULL)
        wri_block_set_version(b->blk, wri_tail_version(vlen, tlen));
    bulk_level *lv = &b->lv[0];
    if (bulk_full(b, 0, wri_leaf_item_size(b->psize, klen, vlen) + tlen) &&
        (rc = bulk_flush(b, 0, eb)) != WR_OK)
        return rc;
    if (lv->pb.count == 0) {
        memcpy(lv->first, key, klen);
        lv->first_len = klen;
    }
    if (tlen > 0)
        wri_pb_add_leaf_tail(&lv->pb, key, klen, vlen, &ovf,
                             val + (vlen - tlen), tlen);
    else
        wri_pb_add_leaf(&lv->pb, key, klen, val, vlen, big ? &ovf : NULL);
    memcpy(b->last, key, klen);
    b->last_len = klen;
    b->count++;
    return WR_OK;
}

int wri_bulk_finish(wri_bulk *b, wr_errbuf *eb)
{
    int rc;
    wr_addr root = {0};
    uint32_t height = 0;
    if (b->count > 0) {
        for (int L = 0; L < b->nlevels; L++) {
            bulk_level *lv = &b->lv[L];
            bool top = L == b->nlevels - 1 && lv->written == 0;
            if (top && L > 0 && lv->pb.count == 1) {
                root = lv->only; /* a one-child root: its child is root */
                height = (uint32_t)L;
                break;
            }
            if (top) {
                if ((rc = bulk_emit(b, L, &root, eb)) != WR_OK)
                    return rc;
                height = (uint32_t)L + 1;
                break;
            }
            if (lv->pb.count > 0 && (rc = bulk_flush(b, L, eb)) != WR_OK)
                return rc;
        }
    }
    if (b->blk == NULL)
        return WR_OK; /* dry run: nothing to commit */
    return wri_block_checkpoint(b->blk, &root, b->count, height, eb);
}
