/* The bandwidth suite's function: takes a buffer by pointer and reads its two
 * ends, so a call measures the copy of a bytes argument into the sandbox. */
#include <stddef.h>

size_t touch(const char *data, size_t n) {
    return n ? (unsigned char)data[0] + (unsigned char)data[n - 1] : 0;
}
