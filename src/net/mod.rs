//! Native std-networking adapters: an epoll (mio) h2c file server ([`server`]),
//! a blocking one-request client ([`client`]), the pooling multiplexing
//! [`pool::Client`], the `h2o bench` load generator ([`bench`]) and the file
//! mapping the server uses ([`files`]). They only move bytes between
//! sockets/files and the sans-IO core; all HTTP/2 logic lives in [`crate::conn`].

pub mod bench;
pub mod client;
pub mod files;
pub mod pool;
pub mod relay;
pub mod server;
pub mod ws;
pub mod ws_client;
