//! Full vs resumed TLS handshake time over loopback (scripts/bench-tls.sh):
//! `tls_handshake ADDR HOST CAFILE ROUNDS`. Each round opens, per TLS version
//! (1.3, 1.2), one connection with a context that never resumes (full
//! handshake; its validation cache is warm after the first round, like a
//! pool's) and one with a context that resumes (its session store filled by
//! the previous round), interleaved. A handshake is timed from the
//! ClientHello write to the handshake's end (`net::tls_io::client_handshake`,
//! the code the pool and `h2o bench` use), TCP connect excluded. Prints the
//! medians and the resumed/full ratio per version.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use h2o::net::tls_io::{client_handshake, client_protocol, TlsIo};
use h2o::tls::{ClientTls, TlsVersion};

fn ctx(ca: &Path, v: TlsVersion, resume: bool) -> ClientTls {
    ClientTls::builder()
        .add_ca_file(ca)
        .versions(&[v])
        .session_store(if resume { 16 } else { 0 })
        .build()
        .unwrap_or_else(|e| panic!("TLS context: {e}"))
}

/// One handshake; then waits (≤200 ms, untimed) for the server's session
/// tickets so the next resumed connection has one.
fn one(addr: &str, host: &str, c: &ClientTls) -> (Duration, bool) {
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.set_nodelay(true).ok();
    let t0 = Instant::now();
    let mut io: TlsIo = client_handshake(&mut sock, c, host, t0 + Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("handshake: {e:?}"));
    let took = t0.elapsed();
    let resumed = io.pipe().is_resumed();
    io.take_early(client_protocol(io.pipe()));
    sock.set_read_timeout(Some(Duration::from_millis(20))).ok();
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let end = Instant::now() + Duration::from_millis(200);
    while Instant::now() < end {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = io.recv(&buf[..n], &mut out);
            }
        }
    }
    (took, resumed)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        eprintln!("usage: tls_handshake ADDR HOST CAFILE ROUNDS");
        std::process::exit(2);
    }
    let (addr, host, ca) = (&a[1], &a[2], Path::new(&a[3]));
    let rounds: usize = a[4].parse().expect("ROUNDS");
    for (v, name) in [
        (TlsVersion::Tls13, "TLS 1.3"),
        (TlsVersion::Tls12, "TLS 1.2"),
    ] {
        let full_ctx = ctx(ca, v, false);
        let res_ctx = ctx(ca, v, true);
        // Warm-up: fills the resuming context's store and both caches.
        one(addr, host, &full_ctx);
        one(addr, host, &res_ctx);
        let (mut full, mut res) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (t, r) = one(addr, host, &full_ctx);
            assert!(!r, "a context without a session store resumed");
            full.push(t.as_secs_f64() * 1e6);
            let (t, r) = one(addr, host, &res_ctx);
            assert!(r, "{name}: the resuming context did a full handshake");
            res.push(t.as_secs_f64() * 1e6);
        }
        let (f, r) = (median(&mut full), median(&mut res));
        println!(
            "{name}: full {f:.0} us, resumed {r:.0} us (medians of {rounds} interleaved), resumed/full {:.2}",
            r / f
        );
    }
}
