//! `ffi.errno`: the `errno` of the last C call made by this thread, handed back
//! to the next one (CFFI saves and restores it around every call).

use std::cell::Cell;

thread_local! {
    static SAVED: Cell<i32> = const { Cell::new(0) };
}

/// The `errno` saved after this thread's last C call (or set by the user).
pub fn saved() -> i32 {
    SAVED.with(Cell::get)
}

/// Sets the value the next C call of this thread starts with.
pub fn set_saved(value: i32) {
    SAVED.with(|s| s.set(value));
}

/// Puts the saved value into the C `errno` (just before a C call).
pub(super) fn restore() {
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for the thread's life.
    unsafe { *libc::__errno_location() = saved() };
}

/// Saves the C `errno` (just after a C call).
pub(super) fn save() {
    // SAFETY: as in `restore`.
    set_saved(unsafe { *libc::__errno_location() });
}
