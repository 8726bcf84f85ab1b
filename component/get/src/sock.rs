//! The socket layer of `h2o-get.wasm`: one TCP connection over `wasi:sockets`
//! through the `wasi` crate's bindings (WASI 0.2), with every wait bounded by
//! a `wasi:clocks` timer. Owns name lookup (`ip-name-lookup`; IP literals
//! need none), connecting (`start-connect` / `finish-connect`), and moving
//! bytes through the socket's `wasi:io` streams. No protocol here: the
//! bytes come from and go to the core (and the TLS layer) in `main.rs`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use wasi::clocks::monotonic_clock;
use wasi::io::poll::{self, Pollable};
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::ip_name_lookup::resolve_addresses;
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use wasi::sockets::tcp::{ShutdownType, TcpSocket};
use wasi::sockets::tcp_create_socket::create_tcp_socket;

/// Most bytes asked of the input stream per read.
const READ_CHUNK: u64 = 64 << 10;

/// Why a socket operation did not complete.
#[derive(Debug)]
pub enum SockError {
    /// The deadline passed first.
    Timeout,
    /// The peer closed its side of the connection (end of stream).
    Closed,
    /// Any other failure, in words (e.g. `connection reset`).
    Failed(String),
}

/// What one [`Sock::read`] brought.
pub enum Read {
    /// Bytes from the peer (never empty).
    Data(Vec<u8>),
    /// Nothing arrived within the wait (not the deadline: the caller's timer).
    Idle,
}

/// A connected TCP socket and its two streams.
pub struct Sock {
    // The streams are children of the socket: declared (so dropped) first.
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
    _network: Network,
}

/// Waits until `p` is ready or `wait` has passed; true if `p` is ready.
fn ready_within(p: &Pollable, wait: Duration) -> bool {
    let ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
    let timer = monotonic_clock::subscribe_duration(ns);
    poll::poll(&[p, &timer]).contains(&0)
}

/// Time left until `deadline`, or `Timeout` if none.
fn left(deadline: Instant) -> Result<Duration, SockError> {
    let d = deadline.saturating_duration_since(Instant::now());
    if d.is_zero() {
        Err(SockError::Timeout)
    } else {
        Ok(d)
    }
}

/// The words for a `wasi:sockets` error code.
fn describe(e: ErrorCode) -> String {
    match e {
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionReset => "connection reset".into(),
        ErrorCode::ConnectionAborted => "connection aborted".into(),
        ErrorCode::RemoteUnreachable => "remote unreachable".into(),
        ErrorCode::Timeout => "connection timed out".into(),
        ErrorCode::NameUnresolvable => "name does not resolve".into(),
        ErrorCode::TemporaryResolverFailure => "temporary name resolution failure".into(),
        // Also what wasmtime answers when lookups are not allowed.
        ErrorCode::PermanentResolverFailure => {
            "name resolution failure (host names need -S allow-ip-name-lookup=y)".into()
        }
        ErrorCode::AccessDenied => "access denied (run with -S inherit-network=y)".into(),
        other => other.name().replace('-', " "),
    }
}

/// The words for a stream error (`Closed` is end of stream, not an error).
fn stream_error(e: StreamError) -> SockError {
    match e {
        StreamError::Closed => SockError::Closed,
        StreamError::LastOperationFailed(err) => {
            SockError::Failed(first_line_words(&err.to_debug_string()))
        }
    }
}

/// The first line of a host's error text (wasmtime may add a backtrace),
/// a bare kind such as `ConnectionReset` spelt as words (`connection reset`).
fn first_line_words(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "unknown error".into();
    }
    if !line.chars().all(|c| c.is_ascii_alphanumeric()) {
        return line.into();
    }
    let mut words = String::new();
    for c in line.chars() {
        if c.is_ascii_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

/// One connection attempt: the socket's streams, then the socket (the
/// streams are its children and must be dropped first).
fn connect_one(
    network: &Network,
    family: IpAddressFamily,
    remote: IpSocketAddress,
    deadline: Instant,
) -> Result<(InputStream, OutputStream, TcpSocket), SockError> {
    let fail = |e: ErrorCode| SockError::Failed(describe(e));
    let socket = create_tcp_socket(family).map_err(fail)?;
    socket.start_connect(network, remote).map_err(fail)?;
    let (input, output) = {
        let ready = socket.subscribe();
        loop {
            match socket.finish_connect() {
                Ok(s) => break s,
                Err(ErrorCode::WouldBlock) => {
                    ready_within(&ready, left(deadline)?);
                }
                Err(e) => return Err(fail(e)),
            }
        }
    };
    Ok((input, output, socket))
}

/// Resolves `host` (an IP literal without brackets, or a name through
/// `wasi:sockets/ip-name-lookup`) within `deadline`.
fn resolve(network: &Network, host: &str, deadline: Instant) -> Result<Vec<IpAddress>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![match ip {
            IpAddr::V4(a) => {
                let [a, b, c, d] = a.octets();
                IpAddress::Ipv4((a, b, c, d))
            }
            IpAddr::V6(a) => {
                let [a, b, c, d, e, f, g, h] = a.segments();
                IpAddress::Ipv6((a, b, c, d, e, f, g, h))
            }
        }]);
    }
    let stream = resolve_addresses(network, host).map_err(describe)?;
    let ready = stream.subscribe();
    let mut addrs = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(a)) => addrs.push(a),
            Ok(None) => break,
            Err(ErrorCode::WouldBlock) => {
                let wait = left(deadline).map_err(|_| "timed out".to_owned())?;
                ready_within(&ready, wait);
            }
            Err(e) => return Err(describe(e)),
        }
    }
    if addrs.is_empty() {
        return Err(describe(ErrorCode::NameUnresolvable));
    }
    Ok(addrs)
}

impl Sock {
    /// Connects to `host:port`, trying each address of `host` in turn, all
    /// within `deadline`. The error is one phrase: `cannot resolve HOST: …`
    /// or the reason the last address failed (`connection refused`, …).
    pub fn connect(host: &str, port: u16, deadline: Instant) -> Result<Sock, ConnectError> {
        let network = instance_network();
        let addrs = resolve(&network, host, deadline).map_err(ConnectError::Resolve)?;
        let mut last = SockError::Failed("no address".into());
        for ip in addrs {
            let (family, remote) = match ip {
                IpAddress::Ipv4(address) => (
                    IpAddressFamily::Ipv4,
                    IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address }),
                ),
                IpAddress::Ipv6(address) => (
                    IpAddressFamily::Ipv6,
                    IpSocketAddress::Ipv6(Ipv6SocketAddress {
                        port,
                        flow_info: 0,
                        address,
                        scope_id: 0,
                    }),
                ),
            };
            match connect_one(&network, family, remote, deadline) {
                Ok((input, output, socket)) => {
                    return Ok(Sock {
                        input,
                        output,
                        socket,
                        _network: network,
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(ConnectError::Connect(last))
    }

    /// Writes all of `data` and waits until it is flushed, within `deadline`.
    pub fn write_all(&self, mut data: &[u8], deadline: Instant) -> Result<(), SockError> {
        while !data.is_empty() {
            let n = self.writable(deadline)?;
            let k = usize::try_from(n).unwrap_or(usize::MAX).min(data.len());
            self.output.write(&data[..k]).map_err(stream_error)?;
            data = &data[k..];
        }
        self.output.flush().map_err(stream_error)?;
        self.writable(deadline).map(|_| ())
    }

    /// Waits until the output stream takes bytes (a flush in progress
    /// completes first); returns how many.
    fn writable(&self, deadline: Instant) -> Result<u64, SockError> {
        let ready = self.output.subscribe();
        loop {
            match self.output.check_write().map_err(stream_error)? {
                0 => {
                    ready_within(&ready, left(deadline)?);
                }
                n => return Ok(n),
            }
        }
    }

    /// Waits up to `wait` (cut to `deadline`) for bytes from the peer.
    /// `Timeout` once `deadline` has passed, `Closed` at end of stream.
    pub fn read(&self, wait: Duration, deadline: Instant) -> Result<Read, SockError> {
        let wait = wait.min(left(deadline)?);
        let ready = self.input.subscribe();
        if !ready_within(&ready, wait) {
            left(deadline)?;
            return Ok(Read::Idle);
        }
        drop(ready);
        let data = self.input.read(READ_CHUNK).map_err(stream_error)?;
        Ok(if data.is_empty() {
            Read::Idle
        } else {
            Read::Data(data)
        })
    }

    /// Shuts both directions down (best effort: the connection is over).
    pub fn shutdown(&self) {
        let _ = self.socket.shutdown(ShutdownType::Both);
    }
}

/// Why [`Sock::connect`] failed.
#[derive(Debug)]
pub enum ConnectError {
    /// The host name did not resolve (the words say why).
    Resolve(String),
    /// No address of the host took the connection (the last one's reason).
    Connect(SockError),
}

#[cfg(test)]
mod tests {
    use super::first_line_words;

    #[test]
    fn host_error_text() {
        assert_eq!(first_line_words("ConnectionReset"), "connection reset");
        assert_eq!(
            first_line_words("BrokenPipe\nStack backtrace:\n   0: x"),
            "broken pipe"
        );
        assert_eq!(
            first_line_words("Connection reset by peer (os error 104)\n"),
            "Connection reset by peer (os error 104)"
        );
        assert_eq!(first_line_words(""), "unknown error");
    }
}
