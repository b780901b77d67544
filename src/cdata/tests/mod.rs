//! Unit tests of the cdata layer, run against host memory and a wasm32-like `VecMemory`.
