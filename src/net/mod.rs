//! Native std-networking adapters (h2c + HTTP/1.1, and HTTP/2 over TLS
//! through [`tls_io`] with feature `tls`): an epoll (mio) file server
//! ([`server`], with its HTTP/1.1 connections [`h1`], output queue [`out`],
//! file mappings [`mapped`] and per-worker [`file_cache`]), a blocking
//! one-request client ([`client`]), the pooling multiplexing [`pool::Client`],
//! the WebSocket endpoint ([`ws`]) and client ([`ws_client`]), the `h2o bench`
//! load generator ([`mod@bench`]), the relay used by tests ([`relay`]) and the file
//! mapping the server uses ([`files`]). Every client connects through
//! [`tcp::connect`] and reports [`ClientError`] or [`WsError`] ([`error`]).
//! They only move bytes between sockets/files and the sans-IO core; all
//! HTTP/2 logic lives in [`crate::conn`], all HTTP/1.1 framing in [`crate::h1`].

pub mod access_log;
pub mod bench;
pub mod client;
mod conn_trace;
pub mod error;
pub mod file_cache;
pub mod files;
pub mod h1;
pub mod mapped;
pub mod out;
pub mod pool;
pub mod relay;
pub mod server;
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls_io;
pub mod ws;
pub mod ws_client;

pub use error::{ClientError, WsError};
pub use tcp::ConnectError;

/// Read buffer of the blocking and pooled HTTP/2 clients and the relay.
pub(crate) const CLIENT_READ_BUF: usize = 64 << 10;
/// Read buffer of the server, the WebSocket client and the bench client.
pub(crate) const READ_BUF: usize = 256 << 10;
/// Most bytes taken from `Connection::write_to` per call by the blocking and
/// pooled clients and the bench client (one socket write each).
pub(crate) const WRITE_CHUNK: usize = 256 << 10;
/// Output produced per connection turn before flushing (server, [`ws_client::H2Session`]).
pub(crate) const WRITE_BATCH: usize = 1 << 20;
/// Initial capacity of client write buffers; also the bound of the final
/// GOAWAY write of the blocking client.
pub(crate) const WBUF_CAP: usize = 64 << 10;
