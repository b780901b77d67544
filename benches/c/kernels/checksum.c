/* Checksums: CRC-32 (IEEE, table driven, slicing by 4) and Adler-32 over one
 * buffer, as a zip or PNG writer computes them. */
#include "common.h"

static unsigned char *checksum_data;
static size_t checksum_len;
static uint32_t checksum_crc_table[4][256];

int checksum_setup(unsigned n, unsigned seed) {
    uint64_t state = seed;
    free(checksum_data);
    checksum_len = n;
    checksum_data = malloc(checksum_len);
    if (!checksum_data)
        return -1;
    for (size_t i = 0; i < checksum_len; i += 8) {
        uint64_t r = bench_next(&state);
        memcpy(checksum_data + i, &r, checksum_len - i < 8 ? checksum_len - i : 8);
    }
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        checksum_crc_table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int t = 1; t < 4; t++) {
            uint32_t prev = checksum_crc_table[t - 1][b];
            checksum_crc_table[t][b] = (prev >> 8) ^ checksum_crc_table[0][prev & 0xFF];
        }
    return 0;
}

static uint32_t checksum_crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFU;
    while (n >= 4) {
        c ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        c = checksum_crc_table[3][c & 0xFF] ^ checksum_crc_table[2][(c >> 8) & 0xFF]
            ^ checksum_crc_table[1][(c >> 16) & 0xFF] ^ checksum_crc_table[0][c >> 24];
        p += 4;
        n -= 4;
    }
    while (n--)
        c = checksum_crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFU;
}

static uint32_t checksum_adler32(const unsigned char *p, size_t n) {
    uint32_t a = 1, b = 0;
    while (n) {
        size_t block = n < 5552 ? n : 5552;   /* the most bytes before b can overflow */
        n -= block;
        while (block--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

unsigned long long checksum_run(void) {
    return (uint64_t)checksum_crc32(checksum_data, checksum_len) << 32
           | checksum_adler32(checksum_data, checksum_len);
}
