//! Latency relay: a userspace TCP forwarder that emulates a long, fat path on
//! loopback, for testing and benchmarking flow control (RFC 9113 §5.2, §6.9)
//! where HTTP/2 windows, not TCP, are the limit.
//!
//! Every accepted connection is forwarded to a target address. Per direction
//! one reader thread timestamps each chunk it reads into an unbounded queue,
//! and one writer thread sends each chunk `delay` after its arrival, paced to
//! `rate` bytes per second (a bottleneck with an unbounded buffer before it,
//! in 16 KiB slices). End of stream is forwarded as a write shutdown after the
//! queued bytes; errors close both sockets. Used by `h2o relay` (hidden CLI
//! subcommand) and by `tests/longpath.rs` through [`Relay::start`].

use super::CLIENT_READ_BUF;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Path parameters (the same in both directions).
#[derive(Clone, Copy, Debug)]
pub struct RelayConfig {
    /// One-way delay added to every chunk.
    pub delay: Duration,
    /// Bottleneck rate in bytes per second; 0 = unlimited.
    pub rate: u64,
}

impl RelayConfig {
    /// `delay_ms` one way, `rate_mbit` megabits per second (0 = unlimited).
    pub fn new(delay_ms: u64, rate_mbit: f64) -> Self {
        RelayConfig {
            delay: Duration::from_millis(delay_ms),
            rate: (rate_mbit.max(0.0) * 1e6 / 8.0) as u64,
        }
    }
}

/// Largest slice written (and paced) at once.
const SLICE: usize = 16 << 10;

/// A relay running in background threads; stops accepting when dropped
/// (connections already relayed finish on their own).
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Listens on `127.0.0.1:0` and forwards every connection to `to`.
    pub fn start(to: SocketAddr, config: RelayConfig) -> io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        thread::Builder::new()
            .name("relay-accept".into())
            .spawn(move || accept_loop(listener, to, config, &flag))?;
        Ok(Relay { addr, stop })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Forwards every connection accepted on `listener` to `to`, forever.
pub fn run(listener: TcpListener, to: SocketAddr, config: RelayConfig) -> io::Result<()> {
    accept_loop(listener, to, config, &AtomicBool::new(false));
    Ok(())
}

fn accept_loop(listener: TcpListener, to: SocketAddr, config: RelayConfig, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = conn else { continue };
        let _ = thread::Builder::new()
            .name("relay-conn".into())
            .spawn(move || {
                if let Err(e) = relay_connection(client, to, config) {
                    eprintln!("relay: {e}");
                }
            });
    }
}

fn relay_connection(client: TcpStream, to: SocketAddr, config: RelayConfig) -> io::Result<()> {
    let server = TcpStream::connect(to)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    direction(client.try_clone()?, server.try_clone()?, config)?;
    direction(server, client, config)?;
    Ok(())
}

/// Starts the reader and writer threads moving `from` → `to`.
fn direction(mut from: TcpStream, mut to: TcpStream, config: RelayConfig) -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let from2 = from.try_clone()?;
    thread::Builder::new()
        .name("relay-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; CLIENT_READ_BUF];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            // Dropping `tx` tells the writer: end of stream after the queue.
        })?;
    thread::Builder::new()
        .name("relay-write".into())
        .spawn(move || {
            let mut free = Instant::now();
            let mut ok = true;
            while let Ok((arrived, chunk)) = rx.recv() {
                for slice in chunk.chunks(SLICE) {
                    let at = (arrived + config.delay).max(free);
                    let now = Instant::now();
                    if at > now {
                        thread::sleep(at - now);
                    }
                    if config.rate > 0 {
                        let ns = slice.len() as u128 * 1_000_000_000 / config.rate as u128;
                        free = at + Duration::from_nanos(ns as u64);
                    }
                    if to.write_all(slice).is_err() {
                        ok = false;
                        break;
                    }
                }
                if !ok {
                    break;
                }
            }
            if ok {
                let _ = to.shutdown(Shutdown::Write);
            } else {
                let _ = to.shutdown(Shutdown::Both);
                let _ = from2.shutdown(Shutdown::Both);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_paces_both_ways() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let echo_addr = echo.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut buf = vec![0u8; CLIENT_READ_BUF];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => s.write_all(&buf[..n]).unwrap(),
                }
            }
        });
        // 20 ms each way, 8 Mbit/s = 1 MB/s.
        let relay = Relay::start(echo_addr, RelayConfig::new(20, 8.0)).unwrap();
        let mut c = TcpStream::connect(relay.addr()).unwrap();
        let t = Instant::now();
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).unwrap();
        let rtt = t.elapsed();
        assert_eq!(&b, b"ping");
        assert!(rtt >= Duration::from_millis(40), "{rtt:?}");
        // 200 KB at 1 MB/s: at least ~0.2 s on the way there alone.
        let data = vec![7u8; 200_000];
        let t = Instant::now();
        let mut w = c.try_clone().unwrap();
        let writer = thread::spawn(move || w.write_all(&data).unwrap());
        let mut got = vec![0u8; 200_000];
        c.read_exact(&mut got).unwrap();
        writer.join().unwrap();
        let took = t.elapsed();
        assert!(got.iter().all(|&x| x == 7));
        assert!(took >= Duration::from_millis(220), "{took:?}");
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.read(&mut b).unwrap(), 0, "EOF forwarded");
    }
}
