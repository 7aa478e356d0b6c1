/*
 * helper_fill.c -- see helper_fill.h. Reads through the page source, as
 * every reader of a tree file does.
 */
#include "helper_fill.h"

#include "pagesrc.h"
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One tree page, in the walk's order (depth first, key order). */
typedef struct fill_page {
    uint64_t off;
    int depth;
    int leaf;
    uint32_t used, size;
    uint32_t first_item; /* leaf: bytes its first item takes */
    uint32_t first_klen; /* leaf: its first key's length */
} fill_page;

typedef struct fill_walk {
    fill_page *pg;
    size_t n, cap;
    int bad;
    uint32_t P;
    uint64_t tails, packed, ovf_waste; /* fill_report's */
} fill_walk;

static int fw_page(void *arg, const wri_ps_page *p)
{
    fill_walk *fw = arg;
    if (p->v == NULL || !p->trusted) {
        fw->bad = 1;
        return 0;
    }
    if (fw->n == fw->cap) {
        size_t cap = fw->cap ? fw->cap * 2 : 256;
        fill_page *np = realloc(fw->pg, cap * sizeof *np);
        if (np == NULL)
            return -1;
        fw->pg = np;
        fw->cap = cap;
    }
    fill_page *f = &fw->pg[fw->n++];
    memset(f, 0, sizeof *f);
    f->off = p->addr.off;
    f->depth = p->depth;
    f->leaf = p->v->type == WRI_PT_LEAF;
    f->used = p->v->size - p->v->free_bytes;
    f->size = p->v->size;
    if (f->leaf && p->v->count > 0) {
        wri_cell c;
        wri_page_cell(p->v, 0, &c);
        f->first_klen = c.klen;
        /* the cell limits are one block's, whatever the leaf's length */
        f->first_item = wri_leaf_item_size(fw->P, c.klen, c.vlen) + c.tlen;
    }
    for (uint32_t i = 0; f->leaf && i < p->v->count; i++) {
        wri_cell c;
        wri_page_cell(p->v, i, &c);
        if (!c.overflow)
            continue;
        if (wri_cell_packed(&c)) {
            fw->packed++;
            continue;
        }
        fw->tails += c.tlen > 0;
        fw->ovf_waste += c.ovf.size - WRI_PH_LEN - (c.vlen - c.tlen);
    }
    return 0;
}

/* The first key length of the leftmost leaf under page j: the next leaf
 * the depth-first walk reaches from j on. */
static uint32_t fw_sep_klen(const fill_walk *fw, size_t j)
{
    for (size_t k = j; k < fw->n; k++)
        if (fw->pg[k].leaf)
            return fw->pg[k].first_klen;
    return 0;
}

static void fw_check(const fill_walk *fw, uint32_t P, uint32_t leaf_max,
                     fill_report *r)
{
    int maxd = 0;
    for (size_t j = 0; j < fw->n; j++)
        if (fw->pg[j].depth > maxd)
            maxd = fw->pg[j].depth;
    for (int d = 0; d <= maxd; d++) {
        const fill_page *prev = NULL;
        for (size_t j = 0; j < fw->n; j++) {
            const fill_page *f = &fw->pg[j];
            if (f->depth != d)
                continue;
            if (prev != NULL) {
                uint32_t need = f->leaf
                                    ? f->first_item
                                    : wri_int_item_size(fw_sep_klen(fw, j));
                if (prev->used + need <= (f->leaf ? leaf_max : P)) {
                    if (r->not_full++ == 0)
                        snprintf(r->first, sizeof r->first,
                                 "page %llu (depth %d) uses %u of %u bytes: "
                                 "the %u-byte first item of page %llu fit",
                                 (unsigned long long)prev->off, d,
                                 prev->used, f->leaf ? leaf_max : P, need,
                                 (unsigned long long)f->off);
                }
            }
            prev = f;
        }
    }
}

int fill_check(const char *path, fill_report *r)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = false};
    fill_walk fw = {0};
    wri_ps_walk w = {.nkeyelem = 0, .page = fw_page, .arg = &fw};
    int slot = -1, rc;
    memset(r, 0, sizeof *r);
    if ((rc = wri_ps_open(path, &cfg, &ps, &eb)) == WR_OK)
        fw.P = ps->P;
    if (rc != WR_OK ||
        (rc = wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb)) != WR_OK ||
        (rc = wri_ps_begin(ps, slot, false, &eb)) != WR_OK ||
        (rc = wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb)) !=
            WR_OK ||
        fw.bad) {
        fprintf(stderr, "# fill_check %s: %s\n", path,
                fw.bad ? "a page did not read clean" : eb.msg);
        rc = -1;
    } else {
        const wri_slot *s = &ps->slots[slot].slot;
        for (size_t j = 0; j < fw.n; j++) {
            r->leaves += (uint64_t)fw.pg[j].leaf;
            r->long_leaves += fw.pg[j].leaf && fw.pg[j].size > ps->P;
            r->used += fw.pg[j].used;
            if (fw.pg[j].leaf) {
                r->leaf_bytes += fw.pg[j].size;
                r->leaf_used += fw.pg[j].used;
            }
        }
        r->pages = fw.n;
        r->tails = fw.tails;
        r->packed = fw.packed;
        r->ovf_waste = fw.ovf_waste;
        r->version = s->version;
        fw_check(&fw, ps->P, wri_leaf_max(s->version, ps->P), r);
    }
    wri_ps_walk_free(&w);
    if (ps != NULL)
        wri_ps_close(ps);
    free(fw.pg);
    return rc;
}

int fill_set_version(const char *path, uint32_t version)
{
    FILE *f = fopen(path, "r+b");
    uint8_t slot[WRI_SLOT_LEN];
    int n = 0;
    if (f == NULL)
        return -1;
    /* slot 0 says P, the offset of slot 1 (a zeroed slot 0: try each) */
    for (long off = 0; off <= (long)WRI_PAGE_MAX; off = off ? off * 2 : 512) {
        if (fseek(f, off, SEEK_SET) != 0 ||
            fread(slot, 1, sizeof slot, f) != sizeof slot)
            break;
        if (memcmp(slot + WRI_SLOT_MAGIC_OFF, WRI_SLOT_MAGIC, 8) != 0 ||
            (off != 0 && wri_get32(slot + WRI_SLOT_PAGESIZE) != (uint32_t)off))
            continue;
        wri_put32(slot + WRI_SLOT_VERSION, version);
        wri_put32(slot + WRI_SLOT_CRC,
                  wri_crc32(0, slot + 4, WRI_SLOT_LEN - 4));
        if (fseek(f, off, SEEK_SET) != 0 ||
            fwrite(slot, 1, sizeof slot, f) != sizeof slot) {
            fclose(f);
            return -1;
        }
        n++;
    }
    return fclose(f) == 0 ? n : -1;
}
