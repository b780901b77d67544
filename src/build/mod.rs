//! Building a `set_source()` module: the C glue emitted next to the user's
//! source, and completing the declarations with what the compiler measured.
//!
//! (Being written.)
