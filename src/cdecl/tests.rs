//! Unit tests of the cdef front end.

use super::*;

fn cdef(src: &str) -> Declarations {
    let mut d = Declarations::new();
    parse_cdef(&mut d, src, &CdefOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    d
}

#[test]
fn smoke() {
    let d = cdef("typedef struct { int x, y; ...; } point_t;\nint add(int, int);\ndouble norm(point_t *p);\nextern \"Python\" int progress(int);");
    let s = dump(&d);
    assert!(
        s.contains("function add: int(*)(int, int)") || s.contains("function add: int(int, int)"),
        "{s}"
    );
}
