/*
 * dump_map.c -- wr-dump --map: a picture of a tree file by file offset,
 * one cell per block in rows (like a defragmenter's map), coloured by
 * what owns the block: header slots, internal, leaf, overflow, extent-list
 * pages, avail, discard, leaked (inside the logical size, owned by
 * nothing), past the logical size, damaged (a finding names the page, or
 * a header slot is rejected); tree pages shaded by their checkpoint
 * generation. A legend, the file's name, size, page size and the count of
 * blocks of each kind head it; each cell has a tooltip (<title>): its
 * address and kind, for a tree page its level, items and first key, for
 * any other block of a long leaf or an overflow run where that page
 * starts (the address wr-dump --page takes), for a damaged one the
 * findings there; and an id ("b" and the offset of its
 * first block) to link to. A file of more than MAP_CELLS blocks is drawn
 * at a coarser scale: each cell a run of blocks, coloured by the kind
 * most of them have, damage always shown.
 *
 * On a database directory the picture is one HTML page (map_db_*): the
 * catalog's summary, one map per tree file (the same SVG, inline, its
 * cell ids prefixed "mN-"), and beside them wr_verify()'s findings, each
 * linked to the cell of its page. No script, no network: CSS inline.
 *
 * Drawn from the page source's walks (the same as the summary's), so a
 * damaged file is drawn as far as it reads and its damage is visible.
 * Memory: one byte and one generation per block, and at the fine scale
 * one short title per tree page and one page start per block; the page
 * streams to its output.
 */
#include "dump.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/stat.h>

#define MAP_COLS 64
#define MAP_CELLS 4096 /* at most this many cells: coarser beyond */
#define MAP_CELL 12    /* pixels */
#define MAP_TOP 70     /* header and legend (two rows) */
#define MAP_KEY_MAX 60 /* characters of a first key in a title */
#define MAP_NOTES 1000 /* findings kept for the damaged cells' titles */

enum {
    MK_NONE = 0, MK_SLOT, MK_INTERNAL, MK_LEAF, MK_OVERFLOW, MK_EXTLIST,
    MK_AVAIL, MK_DISCARD, MK_LEAKED, MK_PAST, MK_DAMAGED, MK_NKINDS
};

static const char *const mk_name[MK_NKINDS] = {
    "not reached (behind damage)", "header slot", "internal", "leaf", "overflow", "extent list",
    "avail", "discard", "leaked", "past the logical size", "damaged"};
static const char *const mk_color[MK_NKINDS] = {
    "#f0f0f0", "#6a3d9a", "#1f78b4", "#33a02c", "#ff7f00", "#b15928",
    "#cfe8ff", "#fde68a", "#fb9a99", "#d9d9d9", "#e31a1c"};

typedef struct map_note {
    uint64_t block;
    char *text; /* a finding there, as one line without the path */
} map_note;

typedef struct map_ctx {
    dctx *x;
    map_note *notes; /* the damaged cells' tooltips */
    size_t nnotes;
    uint32_t P;
    uint64_t nblocks;
    uint64_t per; /* blocks a cell */
    uint8_t *kind;
    uint64_t *gen;
    char **title;  /* fine scale: a tree page's title, else NULL */
    uint64_t *start; /* fine scale: the first block's offset of the page
                        (a long leaf, an overflow run) a block is part
                        of, for the tooltips of the others; else NULL */
    uint64_t gmin, gmax;
} map_ctx;

/* One tree file of a database's page: where its cells are. */
typedef struct mapdb_file {
    char *path;
    bool drawn;
    uint32_t P;
    uint64_t nblocks, per;
} mapdb_file;

struct map_html {
    wr_verify_report *rep;
    mapdb_file *f;
    size_t nf;
    bool open; /* the last file's section is not closed yet */
};

/* The cell that holds the page at byte off of a map of nblocks blocks of
 * P bytes, per blocks a cell: the byte offset of its first block, its id
 * after the map's prefix. false: no cell holds it. */
static bool mc_cell_of(uint32_t P, uint64_t nblocks, uint64_t per,
                       uint64_t off, uint64_t *cell_off)
{
    if (P == 0 || per == 0 || off / P >= nblocks)
        return false;
    *cell_off = off / P / per * per * P;
    return true;
}

static void mc_mark(map_ctx *m, uint64_t off, uint64_t len, int kind)
{
    if (m->P == 0)
        return;
    for (uint64_t b = off / m->P; b < m->nblocks && b * m->P < off + len;
         b++)
        if (m->kind[b] != MK_DAMAGED)
            m->kind[b] = (uint8_t)kind;
}

/* A page of the tree: its blocks marked, each remembering where the page
 * starts (fine scale). */
static void mc_mark_page(map_ctx *m, const wr_addr *a, int kind)
{
    mc_mark(m, a->off, a->size, kind);
    if (m->P == 0 || m->start == NULL)
        return;
    for (uint64_t b = a->off / m->P;
         b < m->nblocks && b * m->P < a->off + a->size; b++)
        m->start[b] = a->off;
}

/* A finding's page is drawn damaged (dx_record calls this). A header
 * slot's block only for a finding about the header: a finding of the
 * whole file (a truncation) is given page 0 too. */
static void mc_damage(void *arg, const wr_finding *f)
{
    map_ctx *m = arg;
    char line[1024];
    wr_finding g = *f;
    map_note *n;
    if (m->P == 0 || f->page / m->P >= m->nblocks)
        return;
    if (f->page / m->P < 2 && f->check != WR_CHECK_HEADER)
        return;
    m->kind[f->page / m->P] = MK_DAMAGED;
    /* the finding goes into the cell's tooltip (the first MAP_NOTES) */
    if (m->nnotes >= MAP_NOTES ||
        (n = realloc(m->notes, (m->nnotes + 1) * sizeof *n)) == NULL)
        return;
    m->notes = n;
    g.path = NULL;
    wr_verify_problem_format(&g, line, sizeof line);
    if ((n[m->nnotes].text = strdup(line)) != NULL)
        n[m->nnotes++].block = f->page / m->P;
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
    mc_mark_page(m, &p->addr,
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
        if (c.overflow && !wri_cell_packed(&c))
            mc_mark_page(m, &c.ovf, MK_OVERFLOW);
    }
    return 0;
}

/* XML text: &, <, >, " escaped; bytes below 0x20 dropped; a string
 * that is not UTF-8 (a path, a name from a damaged file) has its bytes
 * above 0x7f written as '?'. */
static void mc_xml(FILE *f, const char *s)
{
    bool utf8 = wri_utf8_check((const uint8_t *)s, strlen(s));
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x80 && !utf8)
                fputc('?', f);
            else if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
    }
}

/* A damaged cell's tooltip: its kind, then what was found there. */
static void mc_damage_title(const map_ctx *m, FILE *f, uint64_t b0,
                            uint64_t b1)
{
    size_t shown = 0, more = 0;
    for (size_t i = 0; i < m->nnotes; i++) {
        if (m->notes[i].block < b0 || m->notes[i].block >= b1)
            continue;
        if (shown++ < 2) {
            fputs("\n", f);
            mc_xml(f, m->notes[i].text);
        } else {
            more++;
        }
    }
    if (more > 0)
        fprintf(f, "\n(and %zu more)", more);
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

/* The picture: a whole SVG document (standalone), or an <svg> element
 * inside the HTML page with its cell ids prefixed by idp. */
static void mc_svg(map_ctx *m, FILE *f, const char *path, uint64_t fsize,
                   bool standalone, const char *idp)
{
    uint64_t per = m->per, count[MK_NKINDS];
    uint64_t ncells = (m->nblocks + per - 1) / per;
    uint64_t rows = (ncells + MAP_COLS - 1) / MAP_COLS, top;
    memset(count, 0, sizeof count);
    for (uint64_t b = 0; b < m->nblocks; b++)
        count[m->kind[b]]++;
    top = count[MK_NONE] ? MAP_TOP + 14 : MAP_TOP; /* a third legend row */
    if (standalone)
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%" PRIu64 "\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n",
            MAP_COLS * MAP_CELL + 20, top + rows * MAP_CELL + 20);
    fputs("<title>wr-dump --map ", f);
    mc_xml(f, path);
    fputs("</title>\n<text x=\"10\" y=\"16\" font-weight=\"bold\">", f);
    mc_xml(f, path);
    fprintf(f, "</text>\n<text x=\"10\" y=\"30\">%" PRIu64 " bytes, page "
               "size %u, %" PRIu64 " blocks, %" PRIu64 " block%s a cell"
               "</text>\n",
            fsize, m->P, m->nblocks, per, per == 1 ? "" : "s");
    /* the legend, with the number of blocks of each kind ("not reached"
     * last, and only when there are such blocks) */
    for (int i = 0; i < MK_NKINDS; i++) {
        int k = (i + 1) % MK_NKINDS;
        int x0 = 10 + (i % 5) * 150, y0 = 38 + (i / 5) * 14;
        if (k == MK_NONE && count[k] == 0)
            continue;
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
        fprintf(f, "<rect class=\"cell\" id=\"%sb%" PRIu64 "\" data-kind=\"%d\" "
                   "x=\"%" PRIu64 "\" y=\"%" PRIu64 "\" width=\"%d\" "
                   "height=\"%d\" fill=\"%s\" fill-opacity=\"%.2f\" "
                   "stroke=\"#fff\"><title>",
                idp, b0 * m->P, k, 10 + (c % MAP_COLS) * MAP_CELL,
                top + (c / MAP_COLS) * MAP_CELL, MAP_CELL, MAP_CELL,
                mk_color[k], shade);
        if (per == 1 && m->title != NULL && m->title[b0] != NULL &&
            k != MK_DAMAGED)
            mc_xml(f, m->title[b0]);
        else
            fprintf(f, "%s %" PRIu64 " (+%" PRIu64 "): %s",
                    per == 1 ? "block" : "blocks", b0 * m->P,
                    (b1 - b0) * m->P, mk_name[k]);
        /* an inner block of a page: where the page starts (what
         * wr-dump --page takes) */
        if (per == 1 && m->start != NULL && m->start[b0] != 0 &&
            m->start[b0] < b0 * m->P &&
            (k == MK_LEAF || k == MK_INTERNAL || k == MK_OVERFLOW))
            fprintf(f, "%s at %" PRIu64, k == MK_OVERFLOW ? " run" : "",
                    m->start[b0]);
        if (k == MK_DAMAGED)
            mc_damage_title(m, f, b0, b1);
        fputs("</title></rect>\n", f);
    }
    fputs("</svg>\n", f);
}

int file_map(dctx *x, dump_file *df, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_ps_walk w;
    map_ctx m;
    char idp[32] = "";
    mapdb_file *db = x->html != NULL && x->html->nf > 0
                         ? &x->html->f[x->html->nf - 1]
                         : NULL;
    memset(&m, 0, sizeof m);
    memset(&w, 0, sizeof w);
    m.x = x;
    m.P = df->ps->P;
    m.nblocks = m.P ? (df->ps->fsize + m.P - 1) / m.P : 0;
    m.per = (m.nblocks + MAP_CELLS - 1) / MAP_CELLS;
    m.per = m.per ? m.per : 1;
    m.kind = calloc(m.nblocks + 1, 1);
    m.gen = calloc(m.nblocks + 1, sizeof *m.gen);
    if (m.nblocks <= MAP_CELLS) {
        m.title = calloc(m.nblocks + 1, sizeof *m.title);
        m.start = calloc(m.nblocks + 1, sizeof *m.start);
    }
    if (m.kind == NULL || m.gen == NULL ||
        (m.nblocks <= MAP_CELLS && (m.title == NULL || m.start == NULL))) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    for (uint64_t b = 0; b < 2 && b < m.nblocks; b++)
        m.kind[b] = MK_SLOT;
    x->map_damage = mc_damage;
    x->map_arg = &m;
    /* a damaged header slot is drawn as damage: its finding comes now */
    wri_ps_check_slots(df->ps, df->chosen);
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
        /* as wr-verify: behind damage, unowned space is not leaked
         * (what a damaged page pointed to was not reached): unknown */
        bool whole = !w.incomplete && !lw.incomplete;
        for (uint64_t b = 2; b < m.nblocks; b++)
            if (m.kind[b] == MK_NONE && b * m.P >= s->logical_size)
                m.kind[b] = MK_PAST;
            else if (m.kind[b] == MK_NONE && whole)
                m.kind[b] = MK_LEAKED;
            else if (b * m.P >= s->logical_size && m.kind[b] != MK_DAMAGED)
                m.kind[b] = MK_PAST;
    }
    rc = WR_OK;
    if (db != NULL) {
        snprintf(idp, sizeof idp, "m%zu-", x->html->nf - 1);
        db->drawn = true;
        db->P = m.P;
        db->nblocks = m.nblocks;
        db->per = m.per;
    }
    mc_svg(&m, x->map_out, df->path, df->ps->fsize, db == NULL, idp);
out:
    x->map_damage = NULL;
    x->map_arg = NULL;
    for (uint64_t b = 0; m.title != NULL && b < m.nblocks; b++)
        free(m.title[b]);
    free(m.title);
    free(m.start);
    for (size_t i = 0; i < m.nnotes; i++)
        free(m.notes[i].text);
    free(m.notes);
    free(m.kind);
    free(m.gen);
    wri_ps_walk_free(&w);
    return rc;
}

/* --- a database: one HTML page -------------------------------------- */

static const char mapdb_css[] =
    "body{font:13px/1.4 sans-serif;margin:0;color:#222}"
    "header{padding:8px 16px;background:#f3f3f3;border-bottom:1px solid #ccc}"
    "h1{font-size:18px;margin:0}h2{font-size:14px;margin:12px 0 4px}"
    ".page{display:grid;grid-template-columns:minmax(0,auto) 30em;"
    "gap:16px;padding:0 16px;align-items:start}"
    "aside{position:sticky;top:0;max-height:100vh;overflow-y:auto}"
    "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;"
    "border-bottom:1px solid #ddd}td.n{text-align:right}"
    "td.idx{padding-left:24px}"
    "ol{padding-left:1.5em}li{margin:4px 0;word-break:break-word}"
    "li a{color:#b00;text-decoration:none}li a:hover{text-decoration:"
    "underline}.ok{color:#2a7}.bad{color:#b00}"
    "rect.cell:target{stroke:#000;stroke-width:3}"
    "section:target h2{background:#fde68a}";

static void mapdb_close_section(dctx *x)
{
    map_html *h = x->html;
    if (!h->open)
        return;
    if (!h->f[h->nf - 1].drawn)
        fputs("<p class=\"bad\">Not drawn: the file cannot be read as a "
              "tree file (see the findings).</p>\n",
              x->map_out);
    fputs("</section>\n", x->map_out);
    h->open = false;
}

/* The verify report's entry for path, and its checkpoint that was
 * checked (NULL: none). */
static const wr_verify_ckpt *mapdb_ckpt(const wr_verify_report *r,
                                        const char *path)
{
    for (size_t i = 0; i < r->nfiles; i++) {
        if (strcmp(r->files[i].path, path) != 0)
            continue;
        for (size_t k = 0; k < r->files[i].nckpt; k++)
            if (r->files[i].ckpt[k].selected)
                return &r->files[i].ckpt[k];
    }
    return NULL;
}

static uint64_t mapdb_findings(const wr_verify_report *r, const char *path)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->nproblems; i++)
        n += strcmp(r->problems[i].path, path) == 0;
    return n;
}

/* One row of the catalog's summary. */
static void mapdb_row(dctx *x, const char *dir, const char *name,
                      const wri_cat_file *cf)
{
    FILE *f = x->map_out;
    const wr_verify_report *r = x->html->rep;
    char *path = wri_path_join(dir, cf->file);
    const wr_verify_ckpt *c = path != NULL ? mapdb_ckpt(r, path) : NULL;
    uint64_t gen = x->o->previous ? cf->prev_gen : cf->gen;
    uint64_t nf = path != NULL ? mapdb_findings(r, path) : 0;
    fputs(cf->field != NULL ? "<tr><td class=\"idx\">index on " :
                              "<tr><td>collection ", f);
    mc_xml(f, name);
    fputs("</td><td>", f);
    mc_xml(f, cf->file);
    fprintf(f, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">", gen);
    if (c == NULL)
        fputs("?", f);
    else if (c->keys == c->records)
        fprintf(f, "%" PRIu64, c->keys);
    else
        fprintf(f, "%" PRIu64 " (the slot says %" PRIu64 ")", c->keys,
                c->records);
    fprintf(f, "</td><td class=\"n %s\">%" PRIu64 "</td></tr>\n",
            nf ? "bad" : "ok", nf);
    free(path);
}

static void mapdb_catalog(dctx *x, const char *dir, const wri_catalog *cat,
                          const char *why)
{
    FILE *f = x->map_out;
    const wr_verify_report *r = x->html->rep;
    fputs("<section id=\"catalog\"><h2>Catalog</h2>\n", f);
    if (cat == NULL) {
        fputs("<p class=\"bad\">The catalog cannot be read (", f);
        mc_xml(f, why);
        fputs("): every *.wr file is drawn at its newest checkpoint.</p>\n",
              f);
    } else {
        fprintf(f, "<p>Catalog generation %" PRIu64 ", %zu collection%s; "
                   "%s snapshot.</p>\n<table><tr><th>collection / index</th>"
                   "<th>file</th><th>checkpoint</th><th>documents / "
                   "entries</th><th>findings</th></tr>\n",
                cat->gen, cat->ncoll, cat->ncoll == 1 ? "" : "s",
                x->o->previous ? "the previous" : "the latest");
        for (size_t i = 0; i < cat->ncoll; i++) {
            const wri_cat_coll *c = &cat->coll[i];
            if (x->o->previous && c->main.prev_gen == 0)
                continue;
            mapdb_row(x, dir, c->name, &c->main);
            for (size_t k = 0; k < c->nidx; k++)
                if (!x->o->previous || c->idx[k].prev_gen != 0)
                    mapdb_row(x, dir, c->idx[k].field, &c->idx[k]);
        }
        fputs("</table>\n", f);
    }
    for (size_t i = 0; i < r->norphans; i++) {
        fputs("<p class=\"bad\">Not in the catalog: ", f);
        mc_xml(f, r->orphans[i]);
        fputs("</p>\n", f);
    }
    fputs("</section>\n", f);
}

int map_db_begin(dctx *x, const char *dir, const wri_catalog *cat,
                 const char *why, wr_errbuf *eb)
{
    int rc;
    FILE *f = x->map_out;
    map_html *h = calloc(1, sizeof *h);
    wr_verify_opts vo = {.previous = x->o->previous,
                         .interrupted = x->o->interrupted};
    wr_errbuf ve = {0};
    if (h == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    x->html = h;
    /* its findings are not our error: eb keeps room for one */
    rc = wr_verify(dir, &vo, &h->rep, &ve);
    if (rc != WR_OK && rc != WR_ECORRUPT)
        return wri_err_set(eb, rc, ve.src_file, ve.src_line, "%s", ve.msg);
    /* the page's findings are wr-verify's: these are the ones counted */
    for (size_t i = 0; i < h->rep->nproblems; i++) {
        char line[1024];
        wr_verify_problem_format(&h->rep->problems[i], line, sizeof line);
        if (i == 0)
            snprintf(x->first, sizeof x->first, "%.767s", line);
        if (x->o->finding != NULL)
            x->o->finding(line, x->o->finding_arg);
    }
    x->st->damaged += h->rep->total_problems;
    fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" "
          "lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>wr-dump "
          "--map ",
          f);
    mc_xml(f, dir);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<header><h1>",
            mapdb_css);
    mc_xml(f, dir);
    fprintf(f, "</h1><p>%s; %" PRIu64 " finding%s (wr-verify's checks%s)."
               "</p></header>\n<div class=\"page\">\n<main>\n",
            x->o->previous ? "the previous snapshot" : "the latest snapshot",
            h->rep->total_problems, h->rep->total_problems == 1 ? "" : "s",
            x->o->previous ? ", --checkpoint previous" : "");
    mapdb_catalog(x, dir, cat, why);
    return WR_OK;
}

int map_db_file(dctx *x, const char *path, const char *name, wr_errbuf *eb)
{
    map_html *h = x->html;
    mapdb_file *nf;
    mapdb_close_section(x);
    if ((nf = realloc(h->f, (h->nf + 1) * sizeof *nf)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    h->f = nf;
    memset(&nf[h->nf], 0, sizeof nf[h->nf]);
    if ((nf[h->nf].path = strdup(path)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    fprintf(x->map_out, "<section class=\"map\" id=\"m%zu\"><h2>", h->nf);
    mc_xml(x->map_out, name);
    fputs("</h2>\n", x->map_out);
    h->nf++;
    h->open = true;
    return WR_OK;
}

/* The anchor a finding links to: its page's cell in its file's map; the
 * file's section when the map has no such cell or was not drawn; the
 * catalog for a finding of no tree file drawn (the catalog, an orphan,
 * a file of another collection). */
static void mapdb_anchor(const map_html *h, const wr_finding *p, char *out,
                         size_t n)
{
    for (size_t i = 0; i < h->nf; i++) {
        const mapdb_file *mf = &h->f[i];
        uint64_t cell;
        if (strcmp(mf->path, p->path) != 0)
            continue;
        if (mf->drawn && mc_cell_of(mf->P, mf->nblocks, mf->per, p->page,
                                    &cell))
            snprintf(out, n, "m%zu-b%" PRIu64, i, cell);
        else
            snprintf(out, n, "m%zu", i);
        return;
    }
    snprintf(out, n, "catalog");
}

int map_db_end(dctx *x, int rc)
{
    map_html *h = x->html;
    FILE *f = x->map_out;
    if (h == NULL)
        return rc;
    if (rc == WR_OK && h->rep != NULL) {
        const wr_verify_report *r = h->rep;
        mapdb_close_section(x);
        fprintf(f, "</main>\n<aside id=\"findings\"><h2>Findings: %" PRIu64
                   "</h2>\n",
                r->total_problems);
        if (r->total_problems == 0)
            fputs("<p class=\"ok\">None: wr-verify finds this snapshot "
                  "intact.</p>\n",
                  f);
        fputs("<ol>\n", f);
        for (size_t i = 0; i < r->nproblems; i++) {
            char line[1024], anchor[64];
            mapdb_anchor(h, &r->problems[i], anchor, sizeof anchor);
            wr_verify_problem_format(&r->problems[i], line, sizeof line);
            fprintf(f, "<li><a href=\"#%s\">", anchor);
            mc_xml(f, line);
            fputs("</a></li>\n", f);
        }
        fputs("</ol>\n", f);
        if (r->total_problems > r->nproblems)
            fprintf(f, "<p>... and %" PRIu64 " more (run wr-verify for "
                       "all).</p>\n",
                    r->total_problems - r->nproblems);
        fputs("</aside>\n</div>\n</body>\n</html>\n", f);
    }
    wr_verify_report_free(h->rep);
    for (size_t i = 0; i < h->nf; i++)
        free(h->f[i].path);
    free(h->f);
    free(h);
    x->html = NULL;
    return rc;
}

/* --- the output file ------------------------------------------------ */

/* Is out (which may not exist yet) one the map may replace? */
static int map_out_check(const char *path, bool dir, const char *out,
                         wr_errbuf *eb)
{
    struct stat in, os, od;
    char *copy;
    int rc = WR_OK;
    if (stat(path, &in) != 0)
        return WR_ERR(eb, WR_EIO, "%s: %s", path, strerror(errno));
    if (stat(out, &os) == 0) {
        if (!S_ISREG(os.st_mode))
            return WR_ERR(eb, WR_EINVAL, "--map %s: not a regular file (the "
                          "map replaces only a file)", out);
        if (wri_io_same_file(&os, &in))
            return WR_ERR(eb, WR_EINVAL, "--map %s: that is the file being "
                          "drawn", out);
    }
    if (!dir)
        return WR_OK;
    if ((copy = strdup(out)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if (stat(dirname(copy), &od) == 0 && wri_io_same_file(&od, &in))
        rc = WR_ERR(eb, WR_EINVAL, "--map %s: inside the database directory "
                    "%s; write the map elsewhere", out, path);
    free(copy);
    return rc;
}

int map_out_open(dctx *x, const char *path, bool dir, wr_errbuf *eb)
{
    int rc;
    const char *out = x->o->out_path;
    if (out == NULL) {
        x->map_out = x->o->out;
        return WR_OK;
    }
    if ((rc = map_out_check(path, dir, out, eb)) != WR_OK ||
        (rc = wri_io_atomic_open(out, &x->map_file, eb)) != WR_OK)
        return rc;
    if ((x->map_out = wri_io_atomic_stream(x->map_file)) == NULL) {
        wri_io_atomic_abort(x->map_file);
        x->map_file = NULL;
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", out);
    }
    return WR_OK;
}

int map_out_close(dctx *x, int rc, wr_errbuf *eb)
{
    wri_atomic *a = x->map_file;
    x->map_file = NULL;
    x->map_out = NULL;
    if (a == NULL)
        return rc;
    if (rc == WR_OK) /* --no-lock: not a picture of a moving snapshot */
        rc = wr_read_check(x->o->read, eb);
    if (rc != WR_OK) {
        wri_io_atomic_abort(a); /* no half picture; the old one stays */
        return rc;
    }
    if ((rc = wri_io_atomic_commit(a, NULL, eb)) == WR_OK)
        x->st->map_written = true;
    return rc;
}
