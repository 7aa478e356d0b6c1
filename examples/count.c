/*
 * count.c -- a program built against an installed libwr through
 * pkg-config: print each collection of a database and its document count.
 *
 *   cc count.c $(pkg-config --cflags --libs wrtools) -o count
 *   ./count DIR
 */
#include <wr.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    wr_db_opts opts = {.readonly = true};
    wr_errbuf eb = {0};
    wr_db *db;
    if (argc != 2) {
        fprintf(stderr, "usage: count DIR\n");
        return 2;
    }
    if (wr_db_open(argv[1], &opts, &db, &eb) != WR_OK) {
        fprintf(stderr, "count: %s\n", eb.msg);
        return 3;
    }
    printf("libwr %s, generation %llu\n", WR_VERSION_STRING,
           (unsigned long long)wr_db_generation(db));
    for (size_t i = 0; i < wr_db_ncoll(db); i++) {
        wr_coll *c;
        const char *name = wr_db_coll_name(db, i);
        if (wr_coll_open(db, name, false, &c, &eb) != WR_OK) {
            fprintf(stderr, "count: %s\n", eb.msg);
            wr_db_close(db);
            return 1;
        }
        printf("%s: %llu documents\n", name,
               (unsigned long long)wr_coll_count(c));
    }
    wr_db_close(db);
    return 0;
}
