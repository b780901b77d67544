/* Value conversions at the call boundary: each function hands its argument back,
 * by value, through a pointer, and inside a struct (tests/python/test_boundary_fuzz.py). */
#include <stdint.h>
#include <stdbool.h>

#define ECHO(T, name) \
    T echo_##name(T x) { return x; } \
    T load_##name(const T *p) { return *p; } \
    void store_##name(T *p, T x) { *p = x; } \
    struct box_##name { char pad; T value; }; \
    struct box_##name box_##name(T x) { struct box_##name b = { 1, x }; return b; }

ECHO(char, char)
ECHO(signed char, schar)
ECHO(unsigned char, uchar)
ECHO(_Bool, bool)
ECHO(int8_t, i8)
ECHO(uint8_t, u8)
ECHO(int16_t, i16)
ECHO(uint16_t, u16)
ECHO(int32_t, i32)
ECHO(uint32_t, u32)
ECHO(int64_t, i64)
ECHO(uint64_t, u64)
ECHO(float, f32)
ECHO(double, f64)
