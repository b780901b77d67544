/* Hashing: a 64-bit multiply-rotate hash of variable-length keys (8..64 bytes)
 * cut from a random buffer, each inserted into an open-addressing table, as a
 * hash map's insert path does. */
#include "common.h"

static unsigned char *hash_data;
static size_t hash_len;
static uint64_t *hash_table;
static size_t hash_mask;

static inline uint64_t hash_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t hash_key(const unsigned char *p, size_t n) {
    uint64_t h = 0x27D4EB2F165667C5ULL ^ (n * 0x9E3779B97F4A7C15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hash_rotl(h ^ (w * 0xC2B2AE3D27D4EB4FULL), 31) * 0x9E3779B97F4A7C15ULL;
        p += 8;
        n -= 8;
    }
    while (n--)
        h = hash_rotl(h ^ (*p++ * 0x165667B19E3779F9ULL), 11) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 29;
    return h;
}

int hash_setup(unsigned n, unsigned seed) {
    uint64_t state = seed;
    size_t slots = 1;
    free(hash_data);
    free(hash_table);
    hash_len = n;
    hash_data = malloc(hash_len + 64);
    while (slots < hash_len / 8)
        slots <<= 1;
    hash_table = malloc(slots * sizeof *hash_table);
    if (!hash_data || !hash_table)
        return -1;
    hash_mask = slots - 1;
    for (size_t i = 0; i < hash_len + 64; i++)
        hash_data[i] = (unsigned char)(bench_next(&state) % 16 + 'a');  /* a small alphabet: repeated keys */
    return 0;
}

unsigned long long hash_run(void) {
    uint64_t sum = 0, distinct = 0;
    memset(hash_table, 0, (hash_mask + 1) * sizeof *hash_table);
    for (size_t pos = 0, i = 0; pos < hash_len; i++) {
        size_t n = 8 + (i * 7) % 57;
        uint64_t h = hash_key(hash_data + pos, n) | 1;   /* 0 marks an empty slot */
        size_t slot = h & hash_mask;
        while (hash_table[slot] && hash_table[slot] != h)
            slot = (slot + 1) & hash_mask;
        if (!hash_table[slot]) {
            hash_table[slot] = h;
            distinct++;
        }
        sum += h;
        pos += n / 2;   /* keys overlap, as substrings of a text do */
    }
    return bench_mix(sum, distinct);
}
