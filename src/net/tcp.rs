//! Resolve-and-connect with a deadline, shared by every native client
//! ([`super::client`], [`super::pool`], [`super::ws_client`]).
//!
//! Every resolved address is tried in resolver order; each attempt gets an
//! equal share of the time left (the last one all of it), so one black-holed
//! address cannot use up the whole deadline while others would answer.
//! Connected sockets have `TCP_NODELAY` set (HTTP/2 and WebSocket frames are
//! small and latency-bound). Failures name the host or the address.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why no TCP connection was made.
///
/// I/O errors are kept as sources (behind an `Arc` so the error stays
/// `Clone`: the pool hands one failure to every request of a connection).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name did not resolve (`source` is `None` when the resolver
    /// returned no addresses).
    Resolve {
        /// The host as given.
        host: String,
        /// The resolver's error.
        source: Option<Arc<io::Error>>,
    },
    /// Every address failed; this is the last failure.
    Tcp {
        /// The address of the last attempt.
        addr: SocketAddr,
        /// Its error (connection refused, unreachable, ...).
        source: Arc<io::Error>,
    },
    /// The deadline passed before any address accepted.
    Timeout,
}

impl ConnectError {
    /// The I/O error kind behind this failure (`TimedOut` for [`ConnectError::Timeout`]).
    pub fn kind(&self) -> Option<io::ErrorKind> {
        match self {
            ConnectError::Resolve { source, .. } => source.as_ref().map(|e| e.kind()),
            ConnectError::Tcp { source, .. } => Some(source.kind()),
            ConnectError::Timeout => Some(io::ErrorKind::TimedOut),
        }
    }
}

impl PartialEq for ConnectError {
    /// Equal when the same kind of failure happened to the same host/address
    /// (I/O errors compare by [`io::ErrorKind`]).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                ConnectError::Resolve { host: a, source: x },
                ConnectError::Resolve { host: b, source: y },
            ) => a == b && x.as_ref().map(|e| e.kind()) == y.as_ref().map(|e| e.kind()),
            (
                ConnectError::Tcp { addr: a, source: x },
                ConnectError::Tcp { addr: b, source: y },
            ) => a == b && x.kind() == y.kind(),
            (ConnectError::Timeout, ConnectError::Timeout) => true,
            _ => false,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Resolve {
                host,
                source: Some(e),
            } => write!(f, "cannot resolve host {host:?}: {e}"),
            ConnectError::Resolve { host, source: None } => {
                write!(f, "cannot resolve host {host:?}: no addresses")
            }
            ConnectError::Tcp { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            ConnectError::Timeout => f.write_str("timed out while connecting"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Resolve { source, .. } => source
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            ConnectError::Tcp { source, .. } => Some(&**source),
            ConnectError::Timeout => None,
        }
    }
}

/// Resolves `host:port` and connects to the first address that accepts
/// before `deadline`, with `TCP_NODELAY` set (blocking socket).
pub fn connect(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, ConnectError> {
    connect_addrs(&resolve(host, port)?, deadline)
}

/// Every address of `host:port` (at least one).
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return Err(ConnectError::Resolve {
                host: host.to_string(),
                source: Some(Arc::new(e)),
            })
        }
    };
    if addrs.is_empty() {
        return Err(ConnectError::Resolve {
            host: host.to_string(),
            source: None,
        });
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` that accepts before `deadline` (each
/// attempt gets an equal share of the time left), with `TCP_NODELAY` set.
pub fn connect_addrs(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, ConnectError> {
    let mut last = None;
    let count = addrs.len();
    for (i, &addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // An equal share of what is left for each remaining address.
        let share = (left / (count - i) as u32).max(Duration::from_millis(1));
        match TcpStream::connect_timeout(&addr, share) {
            Ok(s) => {
                // Only a latency optimisation: a socket without it still works.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(e) => last = Some((addr, e)),
        }
    }
    match last {
        Some((addr, e)) => Err(ConnectError::Tcp {
            addr,
            source: Arc::new(e),
        }),
        None => Err(ConnectError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn connects_with_nodelay() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let s = connect("127.0.0.1", port, Instant::now() + Duration::from_secs(5)).unwrap();
        assert!(s.nodelay().unwrap());
    }

    #[test]
    fn refused_names_the_address() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = connect("127.0.0.1", port, Instant::now() + Duration::from_secs(5)).unwrap_err();
        match &e {
            ConnectError::Tcp { addr, source } => {
                assert_eq!(addr.port(), port);
                assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
            }
            e => panic!("unexpected {e:?}"),
        }
        assert!(e.to_string().starts_with("cannot connect to 127.0.0.1:"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn past_deadline_is_a_timeout() {
        let e = connect("127.0.0.1", 9, Instant::now()).unwrap_err();
        assert_eq!(e, ConnectError::Timeout);
    }

    #[test]
    fn unresolvable_host() {
        let e = connect(
            "no-such-host.invalid",
            80,
            Instant::now() + Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(matches!(e, ConnectError::Resolve { .. }), "{e:?}");
        assert!(e.to_string().contains("cannot resolve host"));
    }
}
