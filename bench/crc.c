/*
 * crc.c -- a limit for verify: read a file (or every file of a directory)
 * and compute zlib's CRC32 over each page-sized block, as a checksum-only
 * verifier would, and nothing else.
 *
 *   crc [-b BLOCK] PATH...     (BLOCK defaults to 4096)
 *
 * Prints the number of bytes and blocks and an XOR of the block CRCs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define BUF_SIZE (1u << 20)

static uint64_t total_bytes, total_blocks;
static uint32_t crc_xor;

static int crc_file(const char *path, unsigned char *buf, size_t block)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "crc: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd, buf, BUF_SIZE);
        if (n < 0) {
            fprintf(stderr, "crc: %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        for (size_t off = 0; off < (size_t)n; off += block) {
            size_t len = (size_t)n - off < block ? (size_t)n - off : block;
            crc_xor ^= (uint32_t)crc32(0L, buf + off, (uInt)len);
            total_blocks++;
        }
        total_bytes += (uint64_t)n;
    }
    close(fd);
    return 0;
}

static int crc_path(const char *path, unsigned char *buf, size_t block)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "crc: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return crc_file(path, buf, block);
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = 0;
    if (d == NULL) {
        fprintf(stderr, "crc: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char sub[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode) &&
            crc_file(sub, buf, block) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    size_t block = 4096;
    int opt, rc = 0;
    unsigned char *buf;
    while ((opt = getopt(argc, argv, "b:")) != -1) {
        if (opt == 'b' && atol(optarg) > 0 && (size_t)atol(optarg) <= BUF_SIZE)
            block = (size_t)atol(optarg);
        else {
            fprintf(stderr, "usage: crc [-b BLOCK] PATH...\n");
            return 2;
        }
    }
    if (optind >= argc || BUF_SIZE % block != 0) {
        fprintf(stderr, "usage: crc [-b BLOCK] PATH... (BLOCK divides 1 MiB)\n");
        return 2;
    }
    buf = aligned_alloc(4096, BUF_SIZE);
    if (buf == NULL)
        return 3;
    for (int i = optind; i < argc; i++)
        if (crc_path(argv[i], buf, block) != 0)
            rc = 3;
    printf("%llu bytes, %llu blocks of %zu, crc xor %08x\n",
           (unsigned long long)total_bytes, (unsigned long long)total_blocks,
           block, crc_xor);
    free(buf);
    return rc;
}
