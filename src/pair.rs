//! Deterministic in-memory client↔server pair: two [`Connection`]s joined by
//! buffers, driven step by step. Used by unit tests, fuzzers and benchmarks.

#[allow(unused_imports)]
use crate::conn::Connection;
