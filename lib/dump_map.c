/*
 * dump_map.c -- wr-dump --map: a picture of a tree file by file offset,
 * one cell per block in rows (like a defragmenter's map), coloured by
 * what owns the block: header slots, internal, leaf, overflow, extent-list
 * pages, avail, discard, leaked (inside the logical size, owned by
 * nothing), past the logical size, damaged (a finding names the page);
 * tree pages shaded by their checkpoint generation. A legend, the file's
 * name, size, page size and the count of blocks of each kind head it;
 * each cell has a tooltip (<title>): its address and kind, and for a tree
 * page its level, items and first key. A file of more than MAP_CELLS
 * blocks is drawn at a coarser scale: each cell a run of blocks, coloured
 * by the kind most of them have, damage always shown.
 *
 * Drawn from the page source's walks (the same as the summary's), so a
 * damaged file is drawn as far as it reads and its damage is visible.
 * Memory: one byte and one generation per block, and at the fine scale
 * one short title per tree page.
 */
#include "dump.h"

#include <inttypes.h>
#include <stdlib.h>

#define MAP_COLS 64
#define MAP_CELLS 4096 /* at most this many cells: coarser beyond */
#define MAP_CELL 12    /* pixels */
#define MAP_TOP 70     /* header and legend */
#define MAP_KEY_MAX 60 /* characters of a first key in a title */

enum {
    MK_NONE = 0, MK_SLOT, MK_INTERNAL, MK_LEAF, MK_OVERFLOW, MK_EXTLIST,
    MK_AVAIL, MK_DISCARD, MK_LEAKED, MK_PAST, MK_DAMAGED, MK_NKINDS
};

static const char *const mk_name[MK_NKINDS] = {
    "unused", "header slot", "internal", "leaf", "overflow", "extent list",
    "avail", "discard", "leaked", "past the logical size", "damaged"};
static const char *const mk_color[MK_NKINDS] = {
    "#ffffff", "#6a3d9a", "#1f78b4", "#33a02c", "#ff7f00", "#b15928",
    "#cfe8ff", "#fde68a", "#fb9a99", "#d9d9d9", "#e31a1c"};

typedef struct map_ctx {
    dctx *x;
    uint32_t P;
    uint64_t nblocks;
    uint8_t *kind;
    uint64_t *gen;
    char **title;  /* fine scale: a tree page's title, else NULL */
    uint64_t gmin, gmax;
} map_ctx;

static void mc_mark(map_ctx *m, uint64_t off, uint64_t len, int kind)
{
    if (m->P == 0)
        return;
    for (uint64_t b = off / m->P; b < m->nblocks && b * m->P < off + len;
         b++)
        if (m->kind[b] != MK_DAMAGED)
            m->kind[b] = (uint8_t)kind;
}

/* A finding's page is drawn damaged (dx_record calls this). */
static void mc_damage(void *arg, uint64_t page)
{
    map_ctx *m = arg;
    if (m->P != 0 && page / m->P < m->nblocks)
        m->kind[page / m->P] = MK_DAMAGED;
}

static int mc_list_page(void *arg, const wr_addr *a, uint32_t count,
                        const wr_addr *next)
{
    (void)count;
    (void)next;
    mc_mark(arg, a->off, a->size, MK_EXTLIST);
    return 0;
}

static int mc_list_entry(void *arg, const wr_addr *page, uint32_t i,
                         const wri_ext *e, const char *bad)
{
    (void)page;
    (void)i;
    if (bad == NULL)
        mc_mark(arg, e->off, e->len,
                e->kind == WRI_EXT_AVAIL ? MK_AVAIL : MK_DISCARD);
    return 0;
}

static char *mc_title(const wri_ps_page *p, const wri_page_view *v)
{
    char buf[256], *k = NULL;
    uint32_t first = v->type == WRI_PT_INTERNAL ? 1 : 0;
    if (v->count > first) {
        wri_cell c;
        wri_page_cell(v, first, &c);
        k = key_text(c.key, c.klen);
    }
    if (k != NULL && strlen(k) > MAP_KEY_MAX)
        strcpy(k + MAP_KEY_MAX - 3, "...");
    snprintf(buf, sizeof buf, "page %" PRIu64 ": %s, level %u, %u %s, gen %"
                              PRIu64 "%s%s",
             p->addr.off, type_name(v->type), v->level, v->count,
             v->type == WRI_PT_INTERNAL ? "children" : "items", v->gen,
             k != NULL ? ", first key " : "", k != NULL ? k : "");
    free(k);
    return strdup(buf);
}

static int mc_page(void *arg, const wri_ps_page *p)
{
    map_ctx *m = arg;
    const wri_page_view *v = p->v;
    uint64_t b = m->P ? p->addr.off / m->P : 0;
    if (v == NULL || !p->trusted) {
        mc_mark(m, p->addr.off, p->addr.size, MK_DAMAGED);
        return 0;
    }
    mc_mark(m, p->addr.off, p->addr.size,
            v->type == WRI_PT_INTERNAL ? MK_INTERNAL : MK_LEAF);
    if (b < m->nblocks) {
        m->gen[b] = v->gen;
        m->gmin = m->gmin == 0 || v->gen < m->gmin ? v->gen : m->gmin;
        m->gmax = WRI_MAX(m->gmax, v->gen);
        if (m->title != NULL && m->title[b] == NULL)
            m->title[b] = mc_title(p, v);
    }
    if (v->type != WRI_PT_LEAF)
        return 0;
    for (uint32_t i = 0; i < v->count; i++) {
        wri_cell c;
        wri_page_cell(v, i, &c);
        if (c.overflow)
            mc_mark(m, c.ovf.off, c.ovf.size, MK_OVERFLOW);
    }
    return 0;
}

/* XML text: &, <, >, " escaped; bytes below 0x20 dropped. */
static void mc_xml(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
    }
}

/* The kind a cell of blocks [b0, b1) is drawn as: damaged if any block
 * is, else the kind most of its blocks have. */
static int mc_cell_kind(const map_ctx *m, uint64_t b0, uint64_t b1)
{
    uint64_t n[MK_NKINDS] = {0};
    int best = MK_NONE;
    for (uint64_t b = b0; b < b1; b++) {
        if (m->kind[b] == MK_DAMAGED)
            return MK_DAMAGED;
        n[m->kind[b]]++;
    }
    for (int k = 0; k < MK_NKINDS; k++)
        if (n[k] > n[best])
            best = k;
    return best;
}

static void mc_svg(map_ctx *m, FILE *f, const char *path, uint64_t fsize)
{
    uint64_t per = (m->nblocks + MAP_CELLS - 1) / MAP_CELLS, count[MK_NKINDS];
    uint64_t ncells, rows;
    per = per ? per : 1;
    ncells = (m->nblocks + per - 1) / per;
    rows = (ncells + MAP_COLS - 1) / MAP_COLS;
    memset(count, 0, sizeof count);
    for (uint64_t b = 0; b < m->nblocks; b++)
        count[m->kind[b]]++;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%" PRIu64 "\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n",
            MAP_COLS * MAP_CELL + 20, MAP_TOP + rows * MAP_CELL + 20);
    fputs("<title>wr-dump --map ", f);
    mc_xml(f, path);
    fputs("</title>\n<text x=\"10\" y=\"16\" font-weight=\"bold\">", f);
    mc_xml(f, path);
    fprintf(f, "</text>\n<text x=\"10\" y=\"30\">%" PRIu64 " bytes, page "
               "size %u, %" PRIu64 " blocks, %" PRIu64 " block%s a cell"
               "</text>\n",
            fsize, m->P, m->nblocks, per, per == 1 ? "" : "s");
    /* the legend, with the number of blocks of each kind */
    for (int k = 1, i = 0; k < MK_NKINDS; k++, i++) {
        int x0 = 10 + (i % 5) * 150, y0 = 38 + (i / 5) * 14;
        fprintf(f, "<g class=\"legend\" data-kind=\"%d\"><rect x=\"%d\" "
                   "y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\" "
                   "stroke=\"#888\"/><text x=\"%d\" y=\"%d\">%s: %" PRIu64
                   "</text></g>\n",
                k, x0, y0, mk_color[k], x0 + 14, y0 + 9, mk_name[k],
                count[k]);
    }
    for (uint64_t c = 0; c < ncells; c++) {
        uint64_t b0 = c * per, b1 = WRI_MIN(b0 + per, m->nblocks);
        int k = mc_cell_kind(m, b0, b1);
        double shade = 1.0;
        if ((k == MK_LEAF || k == MK_INTERNAL) && m->gmax > m->gmin)
            shade = 0.45 + 0.55 * (double)(m->gen[b0] - m->gmin) /
                               (double)(m->gmax - m->gmin);
        fprintf(f, "<rect class=\"cell\" data-kind=\"%d\" x=\"%" PRIu64
                   "\" y=\"%" PRIu64 "\" width=\"%d\" height=\"%d\" "
                   "fill=\"%s\" fill-opacity=\"%.2f\" stroke=\"#fff\"><title>",
                k, 10 + (c % MAP_COLS) * MAP_CELL,
                MAP_TOP + (c / MAP_COLS) * MAP_CELL, MAP_CELL, MAP_CELL,
                mk_color[k], shade);
        if (per == 1 && m->title != NULL && m->title[b0] != NULL &&
            k != MK_DAMAGED)
            mc_xml(f, m->title[b0]);
        else
            fprintf(f, "%s %" PRIu64 " (+%" PRIu64 "): %s",
                    per == 1 ? "block" : "blocks", b0 * m->P,
                    (b1 - b0) * m->P, mk_name[k]);
        fputs("</title></rect>\n", f);
    }
    fputs("</svg>\n", f);
}

int file_map(dctx *x, dump_file *df, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_ps_walk w;
    map_ctx m;
    memset(&m, 0, sizeof m);
    memset(&w, 0, sizeof w);
    m.x = x;
    m.P = df->ps->P;
    m.nblocks = m.P ? (df->ps->fsize + m.P - 1) / m.P : 0;
    m.kind = calloc(m.nblocks + 1, 1);
    m.gen = calloc(m.nblocks + 1, sizeof *m.gen);
    if (m.nblocks <= MAP_CELLS)
        m.title = calloc(m.nblocks + 1, sizeof *m.title);
    if (m.kind == NULL || m.gen == NULL ||
        (m.nblocks <= MAP_CELLS && m.title == NULL)) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    for (uint64_t b = 0; b < 2 && b < m.nblocks; b++)
        m.kind[b] = MK_SLOT;
    x->map_damage = mc_damage;
    x->map_arg = &m;
    if ((rc = file_checkpoint(x, df, eb)) < 0)
        goto out;
    if (rc > 0) {
        const wri_slot *s = &df->cur;
        wri_ps_lists lw = {.page = mc_list_page, .entry = mc_list_entry,
                           .arg = &m, .slot = df->chosen};
        if ((rc = wri_ps_walk_lists(df->ps, s, &lw, eb)) < 0)
            goto out;
        w.page = mc_page;
        w.arg = &m;
        if ((rc = tree_walk(x, df, &w, eb)) != WR_OK)
            goto out;
        for (uint64_t b = 2; b < m.nblocks; b++)
            if (m.kind[b] == MK_NONE)
                m.kind[b] = b * m.P < s->logical_size ? MK_LEAKED : MK_PAST;
            else if (b * m.P >= s->logical_size && m.kind[b] != MK_DAMAGED)
                m.kind[b] = MK_PAST;
    }
    rc = WR_OK;
    mc_svg(&m, x->o->out, df->path, df->ps->fsize);
out:
    x->map_damage = NULL;
    x->map_arg = NULL;
    for (uint64_t b = 0; m.title != NULL && b < m.nblocks; b++)
        free(m.title[b]);
    free(m.title);
    free(m.kind);
    free(m.gen);
    wri_ps_walk_free(&w);
    return rc;
}
