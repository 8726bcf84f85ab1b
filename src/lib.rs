//! H2O: a sans-IO HTTP/2 (RFC 9113) + HPACK (RFC 7541) protocol engine.
//!
//! The core modules ([`frame`], [`hpack`], [`conn`], and the HTTP/1.1 codec
//! [`h1`]) perform no I/O and read no
//! clock: bytes go in through `recv`-style calls, come out through
//! `write_to`/`poll_*`-style calls, and time is passed in as a parameter. The
//! same code builds for native targets, `wasm32-unknown-unknown` and
//! `wasm32-wasip2`. Native adapters (sockets, files, CLI) live behind the
//! `native` feature.
//!
//! `unsafe` is denied crate-wide; the only exceptions, each marked with
//! `#[allow(unsafe_code)]` and a `// SAFETY:` note per block, are the SIMD
//! masking kernels (`ws::mask`), the SIMD field value scan
//! (`conn::validate`) and the unchecked `http::HeaderValue` constructor it
//! makes sound for received values (`conn::headers`), and the native
//! server's syscalls
//! (`sendmsg`/`sendfile`/`mmap` in `net`).
#![deny(unsafe_code)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod conn;
pub mod error;
pub mod frame;
pub mod h1;
pub mod hpack;
pub mod pair;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trace;
pub mod ws;

#[cfg(feature = "native")]
pub mod cli;
#[cfg(all(feature = "js", target_arch = "wasm32"))]
pub mod js;
#[cfg(feature = "native")]
pub mod net;

pub use conn::{Config, Connection, Event, Role};
pub use error::{Error, ErrorCode};
#[cfg(feature = "native")]
pub use net::pool::{
    AppProtocol, BreakerConfig, Client, ClientConfig, ClientError, ResponseHandle,
};
