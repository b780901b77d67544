/* String parsing: a CSV text of order records
 *     id,"name with ""quotes"", maybe",quantity,price\n
 * parsed field by field (integers, quoted strings with escapes, fixed-point
 * decimals) into running totals, as a data loader does; PARSE_PASSES times. */
#include "common.h"

#define PARSE_PASSES 4

static char *parse_text;
static size_t parse_len;

static char *parse_put_uint(char *p, uint64_t v) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

int parse_setup(unsigned n, unsigned seed) {
    static const char *const words[] = {"bolt", "nut", "gear", "spring", "valve", "pump", "axle", "cam"};
    uint64_t state = seed;
    char *p;
    free(parse_text);
    parse_text = malloc((size_t)n + 128);
    if (!parse_text)
        return -1;
    p = parse_text;
    for (uint64_t id = 1; (size_t)(p - parse_text) < n; id++) {
        uint64_t r = bench_next(&state);
        p = parse_put_uint(p, id * 7919);
        *p++ = ',';
        *p++ = '"';
        for (int w = 0; w < 1 + (int)(r % 3); w++) {
            const char *word = words[(r >> (8 + 3 * w)) & 7];
            if (w)
                *p++ = (r >> (20 + w)) & 1 ? ',' : ' ';
            memcpy(p, word, strlen(word));
            p += strlen(word);
        }
        if ((r >> 30) % 5 == 0) {   /* an escaped quote now and then */
            memcpy(p, " \"\"x\"\"", 6);
            p += 6;
        }
        *p++ = '"';
        *p++ = ',';
        if ((r >> 33) & 1)
            *p++ = '-';
        p = parse_put_uint(p, (r >> 34) % 1000);
        *p++ = ',';
        p = parse_put_uint(p, (r >> 44) % 100000);
        *p++ = '.';
        *p++ = (char)('0' + (r >> 52) % 10);
        *p++ = (char)('0' + (r >> 56) % 10);
        *p++ = '\n';
    }
    parse_len = (size_t)(p - parse_text);
    return 0;
}

static const char *parse_int(const char *p, int64_t *out) {
    int negative = *p == '-';
    int64_t v = 0;
    p += negative;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    *out = negative ? -v : v;
    return p;
}

/* A decimal with up to two fraction digits, in hundredths. */
static const char *parse_cents(const char *p, int64_t *out) {
    int64_t whole, frac = 0;
    int digits = 0;
    p = parse_int(p, &whole);
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits++ < 2)
                frac = frac * 10 + (*p - '0');
            p++;
        }
    }
    while (digits++ < 2)
        frac *= 10;
    *out = whole * 100 + (whole < 0 ? -frac : frac);
    return p;
}

/* A quoted field ("" is a quote); hashes its unescaped bytes. */
static const char *parse_quoted(const char *p, uint64_t *hash, size_t *len) {
    uint64_t h = 0xCBF29CE484222325ULL;
    size_t n = 0;
    p++;
    for (;;) {
        char c = *p++;
        if (c == '"') {
            if (*p != '"')
                break;
            p++;
        }
        h = (h ^ (unsigned char)c) * 0x100000001B3ULL;
        n++;
    }
    *hash = h;
    *len = n;
    return p;
}

static uint64_t parse_pass(void) {
    const char *p = parse_text, *end = parse_text + parse_len;
    int64_t total = 0, max_id = 0;
    uint64_t names = 0, records = 0;
    size_t name_bytes = 0;
    while (p < end) {
        int64_t id, quantity, cents;
        uint64_t h;
        size_t len;
        p = parse_int(p, &id);
        p = parse_quoted(p + 1, &h, &len);
        p = parse_int(p + 1, &quantity);
        p = parse_cents(p + 1, &cents);
        p++;   /* newline */
        total += quantity * cents;
        names ^= h;
        name_bytes += len;
        max_id = id > max_id ? id : max_id;
        records++;
    }
    return bench_mix(bench_mix(bench_mix((uint64_t)total, names), name_bytes), records ^ (uint64_t)max_id << 20);
}

unsigned long long parse_run(void) {
    uint64_t sum = 0;
    for (int pass = 0; pass < PARSE_PASSES; pass++)
        sum = bench_mix(sum, parse_pass());
    return sum;
}
