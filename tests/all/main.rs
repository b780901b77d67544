//! The one integration-test binary: one module per subject.

mod layout_resolve;
