/*
 * gen.c -- deterministic generator of the benchmark's data (issue 7).
 *
 *   gen [--shape small|mid|big] [--docs N] [--seed S] [--name NAME]
 *       [--index FIELD]... --out DIR
 *
 * writes, from one seeded PRNG (same arguments, same bytes):
 *
 *   DIR/docs.jsonl        N documents, one relaxed Extended JSON object a
 *                         line, in insertion order (_id ascending but not
 *                         strictly: several "processes" interleave)
 *   DIR/legacy/NAME.log   the same N lines, then 10% updates (a new version
 *                         of an existing _id) and 5% deletes
 *                         ({"_id": X, "$deleted": true}) appended, shuffled
 *                         together: DESIGN.md decision 8
 *   DIR/legacy/NAME.FIELD.idx   empty marker files, one per --index
 *   DIR/churn.jsonl       applied on top of docs.jsonl: deletes half the
 *                         documents and replaces a quarter (what compact
 *                         is measured after)
 *   DIR/stats.sh          shell assignments: counts, bytes of JSON, bytes of
 *                         BSON of the live documents and of their keys
 *
 * Shapes. "small": ObjectId _id, strings, int32, int64, doubles, bool,
 * dates, null, a nested object with an array, arrays of strings and ints
 * and a variable-length text field; about 400 bytes of BSON on average.
 * "big": the same fields plus an array of event subdocuments and a long
 * text body, 8-64 KiB of BSON each, so overflow pages are exercised.
 * "mid": the same with fewer events and a shorter body, 1-4 KiB each:
 * overflow values shorter than a 4 KiB block (packed whole into leaf
 * cells by the bulk loader, docs/FORMAT.md "Value tails").
 *
 * Every line is parsed back with libbson to count its BSON size, so a line
 * libbson rejects stops the generator (exit 1).
 */
#include <bson/bson.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- PRNG: splitmix64 seeding xoshiro256** ---- */

static uint64_t rng_s[4];

static uint64_t rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng_s[i] = rng_splitmix(&seed);
}

static uint64_t rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t r = rng_rotl(rng_s[1] * 5, 7) * 9;
    uint64_t t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rng_rotl(rng_s[3], 45);
    return r;
}

/* Uniform in [lo, hi]. */
static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
    return lo + rng_next() % (hi - lo + 1);
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- a growable string ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_grow(sbuf *b, size_t need)
{
    if (b->len + need + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        fprintf(stderr, "gen: out of memory\n");
        exit(3);
    }
    b->p = p;
    b->cap = cap;
}

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A JSON string; the inputs here need only quote, backslash and newline
 * escaped (every other character is printable ASCII or UTF-8). */
static void sb_jstr(sbuf *b, const char *s)
{
    sb_putn(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            char e[2] = {'\\', *s};
            sb_putn(b, e, 2);
        } else if (*s == '\n') {
            sb_putn(b, "\\n", 2);
        } else {
            sb_putn(b, s, 1);
        }
    }
    sb_putn(b, "\"", 1);
}

static void sb_key(sbuf *b, const char *k)
{
    if (b->len > 0 && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
        sb_putn(b, ",", 1);
    sb_jstr(b, k);
    sb_putn(b, ":", 1);
}

/* ---- vocabulary ---- */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const first_names[] = {
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Ken", "Dennis",
    "Margaret", "Linus", "Frances", "John", "Radia", "Tim", "Katherine",
    "Niklaus", "Leslie", "Hedy", "Claude", "Sophie", "José", "Zoë", "Søren",
    "Ingrid", "Mei", "Hiroshi", "Amara", "Olu", "Priya", "Rahul", "Fatima",
    "Yusuf", "Élodie", "Mateo", "Aiko", "Björn",
};
static const char *const last_names[] = {
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth",
    "Thompson", "Ritchie", "Hamilton", "Torvalds", "Allen", "McCarthy",
    "Perlman", "Berners-Lee", "Johnson", "Wirth", "Lamport", "Lamarr",
    "Shannon", "Wilson", "García", "Müller", "Kierkegaard", "Nakamura",
    "Okafor", "Sharma", "Haddad", "Ødegaard", "Dubois", "Rossi", "Kowalski",
};
static const char *const cities[] = {
    "Berlin", "Zürich", "São Paulo", "København", "Paris", "Lagos",
    "Mumbai", "Tokyo", "東京", "New York", "Kraków", "Montréal", "Reykjavík",
    "Nairobi", "Lima", "Seoul", "Austin", "Lyon", "Porto", "Oslo",
};
static const char *const streets[] = {
    "Maple St", "Oak Avenue", "Hauptstraße", "Rue de la Paix", "High Street",
    "Elm Road", "Via Roma", "Calle Mayor", "Church Lane", "Station Road",
    "Bahnhofstraße", "Avenida Paulista", "Queen St W", "Market Square",
};
static const char *const categories[] = {
    "books", "electronics", "garden", "toys", "grocery", "music", "sports",
    "health", "automotive", "clothing", "home", "office", "pets", "tools",
    "travel", "games", "beauty", "baby", "outdoor", "software",
};
static const char *const tag_words[] = {
    "new", "sale", "featured", "gift", "eco", "premium", "limited",
    "bestseller", "clearance", "bundle", "imported", "handmade", "vintage",
    "refurbished", "exclusive", "seasonal",
};
static const char *const event_kinds[] = {
    "view", "click", "add_to_cart", "purchase", "refund", "review", "share",
    "login", "logout", "search",
};
static const char *const words[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as",
    "was", "with", "be", "by", "on", "not", "he", "this", "are", "or",
    "his", "from", "at", "which", "but", "have", "an", "had", "they", "you",
    "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no",
    "order", "shipping", "customer", "delivery", "package", "quality",
    "product", "service", "return", "warranty", "battery", "screen",
    "excellent", "arrived", "quickly", "broken", "recommend", "price",
    "value", "support", "replacement", "manual", "install", "colour",
    "size", "fits", "perfectly", "disappointed", "happy", "again", "week",
    "month", "tracking", "address", "invoice", "discount", "coupon",
    "storage", "latency", "checkpoint", "page", "tree", "index", "record",
    "über", "naïve", "café", "résumé", "façade", "smörgåsbord",
};

static const char *pick(const char *const *a, size_t n)
{
    return a[rng_next() % n];
}
#define PICK(a) pick((a), NELEM(a))

/* Text of about n bytes: words, sentences, now and then a quote or a
 * newline (escaped in the JSON). */
static void gen_text(sbuf *t, size_t n)
{
    int sentence = 0;
    t->len = 0;
    sb_grow(t, n + 32);
    t->p[0] = '\0';
    while (t->len < n) {
        const char *w = PICK(words);
        if (t->len > 0)
            sb_putn(t, " ", 1);
        if (sentence == 0 && w[0] >= 'a' && w[0] <= 'z') {
            char c = (char)(w[0] - 'a' + 'A');
            sb_putn(t, &c, 1);
            sb_puts(t, w + 1);
        } else {
            sb_puts(t, w);
        }
        sentence++;
        uint64_t r = rng_next() % 100;
        if (sentence > 4 && r < 12) {
            sb_puts(t, r < 1 ? ".\n" : r < 2 ? ".\"" : ".");
            sentence = 0;
        } else if (r < 16) {
            sb_putn(t, ",", 1);
        }
    }
}

/* ISO-8601 UTC with milliseconds: relaxed Extended JSON's $date form. */
static void sb_date(sbuf *b, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char buf[40];
    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    sb_printf(b, "{\"$date\":\"%s.%03dZ\"}", buf, (int)(ms % 1000));
}

static void sb_oid(sbuf *b, const uint8_t oid[12])
{
    static const char hex[] = "0123456789abcdef";
    char s[25];
    for (int i = 0; i < 12; i++) {
        s[2 * i] = hex[oid[i] >> 4];
        s[2 * i + 1] = hex[oid[i] & 15];
    }
    s[24] = '\0';
    sb_printf(b, "{\"$oid\":\"%s\"}", s);
}

#define DATE_LO 1420070400000ll /* 2015-01-01 */
#define DATE_HI 1735603200000ll /* 2024-12-31 */

enum shape { SHAPE_SMALL, SHAPE_MID, SHAPE_BIG };

/* One document: version 1 is the insert, later versions are updates. */
static void gen_doc(sbuf *b, sbuf *t, enum shape shape, const uint8_t oid[12],
                    int version)
{
    const char *fn = PICK(first_names), *ln = PICK(last_names);
    size_t ci = rng_next() % NELEM(cities);
    int64_t created = (int64_t)rng_range(DATE_LO, DATE_HI - 86400000ll);

    b->len = 0;
    sb_putn(b, "{", 1);
    sb_key(b, "_id");
    sb_oid(b, oid);
    sb_key(b, "name");
    sb_printf(b, "\"%s %s\"", fn, ln);
    sb_key(b, "email");
    sb_printf(b, "\"%c.%s%u@example.org\"", (char)('a' + rng_next() % 26),
              ln, (unsigned)rng_range(1, 999));
    sb_key(b, "age");
    sb_printf(b, "%u", (unsigned)rng_range(18, 90));
    sb_key(b, "active");
    sb_puts(b, rng_next() % 4 ? "true" : "false");
    sb_key(b, "balance");
    sb_printf(b, "%.2f", rng_unit() * 20000.0 - 2000.0);
    sb_key(b, "visits");
    /* above 2^31, so it is an int64 */
    sb_printf(b, "%llu", (unsigned long long)rng_range(3000000000ull,
                                                       9000000000000ull));
    sb_key(b, "created");
    sb_date(b, created);
    if (version > 1) {
        sb_key(b, "updated");
        sb_date(b, created + (int64_t)rng_range(0, 86400000ll * 300));
    }
    sb_key(b, "address");
    sb_putn(b, "{", 1);
    sb_key(b, "street");
    sb_printf(b, "\"%u %s\"", (unsigned)rng_range(1, 999), PICK(streets));
    sb_key(b, "city");
    sb_jstr(b, cities[ci]);
    sb_key(b, "zip");
    sb_printf(b, "\"%05u\"", (unsigned)rng_range(1000, 99999));
    sb_key(b, "geo");
    sb_printf(b, "[%.4f,%.4f]", rng_unit() * 360.0 - 180.0,
              rng_unit() * 180.0 - 90.0);
    sb_putn(b, "}", 1);
    sb_key(b, "category");
    sb_jstr(b, PICK(categories));
    sb_key(b, "tags");
    sb_putn(b, "[", 1);
    for (unsigned i = 0, n = (unsigned)rng_range(0, 3); i < n; i++) {
        if (i)
            sb_putn(b, ",", 1);
        sb_jstr(b, PICK(tag_words));
    }
    sb_putn(b, "]", 1);
    sb_key(b, "scores");
    sb_putn(b, "[", 1);
    for (unsigned i = 0, n = (unsigned)rng_range(0, 5); i < n; i++)
        sb_printf(b, "%s%u", i ? "," : "", (unsigned)rng_range(0, 100));
    sb_putn(b, "]", 1);
    if (rng_next() % 10 == 0) {
        sb_key(b, "ref");
        sb_puts(b, "null");
    }
    sb_key(b, "version");
    sb_printf(b, "%d", version);
    /* the variable-length text: mostly short, sometimes long */
    {
        uint64_t r = rng_next() % 100;
        size_t n = r < 40 ? 0 : r < 90 ? (size_t)rng_range(10, 100)
                                       : (size_t)rng_range(100, 400);
        if (n > 0) {
            gen_text(t, n);
            sb_key(b, "notes");
            sb_jstr(b, t->p);
        }
    }
    if (shape != SHAPE_SMALL) {
        bool big = shape == SHAPE_BIG;
        size_t target = big ? (size_t)rng_range(8192, 65536)
                            : (size_t)rng_range(1024, 4096);
        unsigned nev = big ? (unsigned)rng_range(10, 100)
                           : (unsigned)rng_range(1, 10);
        size_t base;
        sb_key(b, "events");
        sb_putn(b, "[", 1);
        for (unsigned i = 0; i < nev; i++) {
            sb_printf(b, "%s{\"t\":", i ? "," : "");
            sb_date(b, created + (int64_t)i * 60000);
            sb_printf(b, ",\"kind\":\"%s\",\"v\":%.3f}", PICK(event_kinds),
                      rng_unit() * 100.0);
        }
        sb_putn(b, "]", 1);
        /* JSON is a little longer than BSON for these fields; the body
         * makes up the rest of the target */
        base = b->len;
        gen_text(t, target > base + 64 ? target - base - 64 : 64);
        sb_key(b, "body");
        sb_jstr(b, t->p);
    }
    sb_putn(b, "}", 1);
}

/* ---- main ---- */

typedef struct doc_state {
    uint8_t oid[12];
    uint32_t size0;   /* BSON size as first inserted */
    uint32_t sizelog; /* BSON size after the legacy log; 0 = deleted */
} doc_state;

static void die(const char *what)
{
    fprintf(stderr, "gen: %s: %s\n", what, strerror(errno));
    exit(3);
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die(path);
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

/* Write a line and return its BSON size (parsed back with libbson). */
static uint32_t emit(FILE *f, FILE *g, const sbuf *b, uint64_t *json_bytes)
{
    bson_t doc;
    bson_error_t err;
    if (!bson_init_from_json(&doc, b->p, (ssize_t)b->len, &err)) {
        fprintf(stderr, "gen: libbson rejects a generated line (%s): %.200s\n",
                err.message, b->p);
        exit(1);
    }
    uint32_t n = doc.len;
    bson_destroy(&doc);
    if (fwrite(b->p, 1, b->len, f) != b->len || fputc('\n', f) == EOF)
        die("write");
    if (g != NULL &&
        (fwrite(b->p, 1, b->len, g) != b->len || fputc('\n', g) == EOF))
        die("write");
    *json_bytes += b->len + 1;
    return n;
}

static void gen_delete_line(sbuf *b, const uint8_t oid[12])
{
    b->len = 0;
    sb_puts(b, "{\"_id\":");
    sb_oid(b, oid);
    sb_puts(b, ",\"$deleted\":true}");
}

static void shuffle(uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next() % i);
        uint32_t x = a[i - 1];
        a[i - 1] = a[j];
        a[j] = x;
    }
}

static void usage(void)
{
    puts("Usage: gen [--shape small|mid|big] [--docs N] [--seed S] [--name NAME]\n"
         "           [--index FIELD]... --out DIR\n"
         "Writes DIR/docs.jsonl, DIR/legacy/NAME.log (+10% updates, 5%\n"
         "deletes), DIR/churn.jsonl (delete half, replace a quarter) and\n"
         "DIR/stats.sh, deterministically from the seed.");
}

int main(int argc, char **argv)
{
    enum shape shape = SHAPE_SMALL;
    uint64_t ndocs = 100000, seed = 42;
    const char *out = NULL, *name = "docs";
    const char *index[16];
    size_t nindex = 0;
    enum { O_SHAPE = 256, O_DOCS, O_SEED, O_NAME, O_INDEX, O_OUT, O_HELP };
    static const struct option longopts[] = {
        {"shape", required_argument, NULL, O_SHAPE},
        {"docs", required_argument, NULL, O_DOCS},
        {"seed", required_argument, NULL, O_SEED},
        {"name", required_argument, NULL, O_NAME},
        {"index", required_argument, NULL, O_INDEX},
        {"out", required_argument, NULL, O_OUT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case O_SHAPE:
            if (strcmp(optarg, "small") == 0)
                shape = SHAPE_SMALL;
            else if (strcmp(optarg, "mid") == 0)
                shape = SHAPE_MID;
            else if (strcmp(optarg, "big") == 0)
                shape = SHAPE_BIG;
            else
                goto bad;
            break;
        case O_DOCS:
            ndocs = strtoull(optarg, NULL, 10);
            break;
        case O_SEED:
            seed = strtoull(optarg, NULL, 10);
            break;
        case O_NAME:
            name = optarg;
            break;
        case O_INDEX:
            if (nindex == NELEM(index))
                goto bad;
            index[nindex++] = optarg;
            break;
        case O_OUT:
            out = optarg;
            break;
        case O_HELP:
            usage();
            return 0;
        default:
            goto bad;
        }
    }
    if (out == NULL || optind != argc || ndocs < 4 || ndocs > 100000000)
        goto bad;

    char path[4096];
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        die(out);
    snprintf(path, sizeof path, "%s/legacy", out);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die(path);
    for (size_t i = 0; i < nindex; i++) {
        char mk[512];
        snprintf(mk, sizeof mk, "legacy/%s.%s.idx", name, index[i]);
        fclose(open_out(out, mk));
    }
    char logname[512];
    snprintf(logname, sizeof logname, "legacy/%s.log", name);
    FILE *fdocs = open_out(out, "docs.jsonl");
    FILE *flog = open_out(out, logname);
    FILE *fchurn = open_out(out, "churn.jsonl");

    rng_seed(seed);
    doc_state *ds = calloc(ndocs, sizeof *ds);
    sbuf b = {0}, t = {0};
    if (ds == NULL)
        die("calloc");

    /* ObjectIds: time ascends over about two years; four "processes" with
     * their own 5-byte id and counter interleave within a second. */
    uint8_t proc[4][5];
    uint32_t counter[4];
    for (int p = 0; p < 4; p++) {
        uint64_t r = rng_next();
        memcpy(proc[p], &r, 5);
        counter[p] = (uint32_t)(rng_next() & 0xffffff);
    }
    uint32_t ts0 = 1609459200u; /* 2021-01-01 */
    uint64_t span = 2ull * 365 * 86400;
    uint64_t docs_json = 0, docs_bson = 0, log_json = 0;

    for (uint64_t i = 0; i < ndocs; i++) {
        uint8_t *o = ds[i].oid;
        uint32_t ts = ts0 + (uint32_t)(i * span / ndocs);
        int p = (int)(rng_next() & 3);
        uint32_t c = counter[p]++ & 0xffffff;
        o[0] = (uint8_t)(ts >> 24);
        o[1] = (uint8_t)(ts >> 16);
        o[2] = (uint8_t)(ts >> 8);
        o[3] = (uint8_t)ts;
        memcpy(o + 4, proc[p], 5);
        o[9] = (uint8_t)(c >> 16);
        o[10] = (uint8_t)(c >> 8);
        o[11] = (uint8_t)c;
        gen_doc(&b, &t, shape, o, 1);
        uint64_t jb = 0;
        ds[i].size0 = ds[i].sizelog = emit(fdocs, flog, &b, &jb);
        docs_json += jb;
        docs_bson += ds[i].size0;
    }
    log_json = docs_json;

    /* The legacy log's tail: 10% updates and 5% deletes of distinct
     * random documents (a document may be updated, then deleted). */
    uint32_t *perm = malloc(ndocs * sizeof *perm);
    if (perm == NULL)
        die("malloc");
    uint64_t nupd = ndocs / 10, ndel = ndocs / 20;
    uint64_t nops = nupd + ndel;
    uint32_t *ops = malloc(nops * sizeof *ops); /* doc index | 1<<31 = del */
    if (ops == NULL)
        die("malloc");
    for (uint64_t i = 0; i < ndocs; i++)
        perm[i] = (uint32_t)i;
    shuffle(perm, ndocs);
    for (uint64_t i = 0; i < nupd; i++)
        ops[i] = perm[i];
    shuffle(perm, ndocs);
    for (uint64_t i = 0; i < ndel; i++)
        ops[nupd + i] = perm[i] | 0x80000000u;
    shuffle(ops, nops);
    uint64_t log_updates = 0, log_deletes = 0;
    for (uint64_t k = 0; k < nops; k++) {
        uint32_t i = ops[k] & 0x7fffffffu;
        if (ops[k] & 0x80000000u) {
            gen_delete_line(&b, ds[i].oid);
            emit(flog, NULL, &b, &log_json);
            ds[i].sizelog = 0;
            log_deletes++;
        } else {
            /* an update of a document deleted earlier in the log
             * re-inserts it, as the legacy format says */
            gen_doc(&b, &t, shape, ds[i].oid, 2);
            ds[i].sizelog = emit(flog, NULL, &b, &log_json);
            log_updates++;
        }
    }

    /* Churn on top of docs.jsonl: delete half, replace a quarter. */
    uint64_t cdel = ndocs / 2, crep = ndocs / 4;
    uint64_t churn_json = 0, churn_live_bson = 0;
    shuffle(perm, ndocs);
    uint32_t *cops = malloc((cdel + crep) * sizeof *cops);
    uint32_t *csize = malloc(ndocs * sizeof *csize);
    if (cops == NULL || csize == NULL)
        die("malloc");
    for (uint64_t i = 0; i < ndocs; i++)
        csize[i] = ds[i].size0;
    for (uint64_t i = 0; i < cdel; i++)
        cops[i] = perm[i] | 0x80000000u;
    for (uint64_t i = 0; i < crep; i++)
        cops[cdel + i] = perm[cdel + i];
    shuffle(cops, cdel + crep);
    for (uint64_t k = 0; k < cdel + crep; k++) {
        uint32_t i = cops[k] & 0x7fffffffu;
        if (cops[k] & 0x80000000u) {
            gen_delete_line(&b, ds[i].oid);
            emit(fchurn, NULL, &b, &churn_json);
            csize[i] = 0;
        } else {
            gen_doc(&b, &t, shape, ds[i].oid, 3);
            csize[i] = emit(fchurn, NULL, &b, &churn_json);
        }
    }

    uint64_t live = 0, live_bson = 0, churn_live = 0;
    for (uint64_t i = 0; i < ndocs; i++) {
        if (ds[i].sizelog) {
            live++;
            live_bson += ds[i].sizelog;
        }
        if (csize[i]) {
            churn_live++;
            churn_live_bson += csize[i];
        }
    }
    if (fclose(fdocs) != 0 || fclose(flog) != 0 || fclose(fchurn) != 0)
        die("close");

    FILE *fs = open_out(out, "stats.sh");
    fprintf(fs,
            "# written by bench/gen: sizes in bytes; keys count 12 bytes\n"
            "# per ObjectId _id\n"
            "GEN_SHAPE=%s\nGEN_DOCS=%llu\nGEN_SEED=%llu\nGEN_NAME=%s\n"
            "DOCS_JSON_BYTES=%llu\nDOCS_BSON_BYTES=%llu\n"
            "DOCS_KEY_BYTES=%llu\n"
            "LOG_LINES=%llu\nLOG_BYTES=%llu\nLOG_UPDATES=%llu\n"
            "LOG_DELETES=%llu\nLIVE_DOCS=%llu\nLIVE_BSON_BYTES=%llu\n"
            "LIVE_KEY_BYTES=%llu\n"
            "CHURN_LINES=%llu\nCHURN_BYTES=%llu\nCHURN_DELETES=%llu\n"
            "CHURN_REPLACES=%llu\nCHURN_LIVE_DOCS=%llu\n"
            "CHURN_LIVE_BSON_BYTES=%llu\nCHURN_LIVE_KEY_BYTES=%llu\n",
            shape == SHAPE_BIG   ? "big"
            : shape == SHAPE_MID ? "mid"
                                 : "small",
            (unsigned long long)ndocs,
            (unsigned long long)seed, name, (unsigned long long)docs_json,
            (unsigned long long)docs_bson, (unsigned long long)(ndocs * 12),
            (unsigned long long)(ndocs + nops), (unsigned long long)log_json,
            (unsigned long long)log_updates, (unsigned long long)log_deletes,
            (unsigned long long)live, (unsigned long long)live_bson,
            (unsigned long long)(live * 12),
            (unsigned long long)(cdel + crep),
            (unsigned long long)churn_json, (unsigned long long)cdel,
            (unsigned long long)crep, (unsigned long long)churn_live,
            (unsigned long long)churn_live_bson,
            (unsigned long long)(churn_live * 12));
    if (fclose(fs) != 0)
        die("close");
    free(ds);
    free(perm);
    free(ops);
    free(cops);
    free(csize);
    free(b.p);
    free(t.p);
    return 0;
bad:
    fprintf(stderr, "gen: bad arguments; try --help\n");
    return 2;
}
