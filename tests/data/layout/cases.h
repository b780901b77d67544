/* Layout cases checked against gcc (x86-64), zig clang (wasm32-wasi) and cffi.
   Also fed to parse_cdef by tests/all/layout_oracle.rs, line by line: keep one declaration
   per line, `__attribute__((packed))` only right after `struct`, and `#pragma pack` lines
   alone. Dumps: cases.<target>.txt */
enum e_small { ES_A, ES_B };
enum e_neg { EN_A = -1, EN_B };
enum e_big { EB_A = 0x100000000 };
enum e_bigneg { EBN_A = -1, EBN_B = 0x80000000 };
struct enums { char c; enum e_small a; char d; enum e_neg b; char e; enum e_big f; char g; enum e_bigneg h; };
struct plain { char a; int b; short c; double d; char e; };
struct ptrs { char a; void *p; char *q[2]; int (*cb)(int, ...); struct plain *next; char z; };
struct nested { char a; struct plain p; struct plain arr[2]; char z; };
struct multi { int m[2][3]; char c[5][7]; long double ld; char tail; };
struct cplx { char a; float _Complex f; char b; double _Complex d; char c; wchar_t w; char16_t c16; char32_t c32; };
struct anon { int a; union { int b; char c; struct { short d, e; }; }; struct { int f; union { int g; long h; }; }; int i; };
union u1 { char a; int b; double c; char d[13]; };
union u2 { struct { char a, b, c; } s; short x; };
struct bits1 { int a:3, b:5, :0, c:30, d:4; char e; long long f:40; long long g:30; short h:9, i:9; };
struct bits2 { char a; int b:24; char c; };
struct bits3 { char a; int b:31; };
struct bits4 { char c; int :0; char d; };
struct bits5 { char a; long long :60; };
struct bits6 { _Bool a:1; char b:7; unsigned char c:4; signed char d:4; unsigned short e:15; unsigned int f:17, g:17; };
struct bits7 { int a:3; int :4; int b:2; };
struct bits8 { char a; enum e_small b:3; unsigned long long c:33; unsigned long long d:31; };
union ubits { int a:3; char b:2; long long c:5; };
struct bits9 { char a; int b:4; union { int c:5; short d:3; }; int e:20; };
struct bits10 { short a:9; short b:9; short c:9; char d; long e:3; int64_t f:63; uint8_t g:1; };
struct __attribute__((packed)) pk1 { char a; int b; double c; long double d; };
struct __attribute__((packed)) pk2 { char a; int b:24; char c; };
struct __attribute__((packed)) pk3 { char a:3; short b:7; char c; long long d; };
struct __attribute__((packed)) pk4 { char a; struct plain p; short s; };
struct pk5 { char a; struct pk1 p; };
#pragma pack(push, 2)
struct pp2 { char a; int b; double c; long double d; char e; };
struct pp2b { char a; int b:24; char c; long long d:40; };
struct pp2c { char a; struct plain p; };
#pragma pack(pop)
#pragma pack(push, 4)
struct pp4 { char a; long long b; long double c; short d:3; };
#pragma pack(pop)
#pragma pack(push, 1)
struct pp1 { char a; int b; short c:5; short d:5; };
#pragma pack(pop)
struct flex1 { int y; int x[]; };
struct flex2 { char y; double x[]; };
struct flex3 { char c; struct flex1 f; };
struct flex4 { short n; char c[][3]; };
