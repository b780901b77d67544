//! Python values to C and back: conversion (`convert`), call arguments, results and
//! temporaries (`args`) and wasm values (`wasm_values`). Above `objects`.
pub(crate) mod args;
pub(crate) mod convert;
pub(crate) mod wasm_values;
