//! The sans-IO TLS layer in memory (no sockets): full vs resumed TLS 1.3
//! handshakes between a client and a server `TlsPipe`, and server
//! certificate verification with a warm validation cache vs without one.
//! Certificates are made with rcgen (ECDSA P-256) at a fixed "now".
//!
//! `cargo bench --bench tls`; TLS 1.3 and TLS 1.2. Goals (issue 8): resumed ≤ 0.3× full,
//! warm-cache verification ≤ 0.1× uncached.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use h2o::tls::{
    CachingVerifier, CertChain, ClientTls, HandshakeKind, Roots, ServerTls, TestCa, TlsPipe,
    TlsVersion, VerifyCacheConfig,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};

/// 2027-01-15 in seconds since the Unix epoch.
const NOW: u64 = 1_800_000_000;

fn now() -> Duration {
    Duration::from_secs(NOW)
}

fn leaf(ca: &TestCa) -> CertChain {
    let (c, k) = ca
        .issue(
            &["localhost"],
            Duration::from_secs(NOW - 86_400),
            Duration::from_secs(NOW + 86_400 * 30),
        )
        .unwrap();
    CertChain::from_pem(c.as_bytes(), k.as_bytes(), "bench").unwrap()
}

/// One complete handshake in memory; returns its kind.
fn handshake(client: &ClientTls, server: &ServerTls) -> HandshakeKind {
    let mut c = TlsPipe::client(client, "localhost", now()).unwrap();
    let mut s = TlsPipe::server(server, now()).unwrap();
    let mut buf = Vec::with_capacity(8 << 10);
    let mut sink = Vec::new();
    for _ in 0..16 {
        buf.clear();
        c.write_tls(&mut buf);
        let a = !buf.is_empty();
        s.recv(now(), &buf, &mut sink).unwrap();
        buf.clear();
        s.write_tls(&mut buf);
        let b = !buf.is_empty();
        c.recv(now(), &buf, &mut sink).unwrap();
        if !a && !b {
            break;
        }
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
    c.handshake_kind().unwrap()
}

/// A server and, per TLS version, a client without resumption or
/// validation cache (full, cold) and one with both (resumed).
struct Setup {
    server: ServerTls,
    /// (version label, full client, resumed client)
    clients: Vec<(&'static str, ClientTls, ClientTls)>,
}

fn setup() -> Setup {
    let ca = TestCa::new("bench CA").unwrap();
    let server = ServerTls::builder().cert(leaf(&ca)).build().unwrap();
    let base = |v: TlsVersion| {
        ClientTls::builder()
            .roots(Roots::None)
            .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
            .versions(&[v])
    };
    let mut clients = Vec::new();
    for (label, v) in [("tls13", TlsVersion::Tls13), ("tls12", TlsVersion::Tls12)] {
        let full = base(v)
            .session_store(0)
            .verify_cache(VerifyCacheConfig {
                enabled: false,
                ..Default::default()
            })
            .build()
            .unwrap();
        let resumed = base(v).build().unwrap();
        assert_eq!(handshake(&resumed, &server), HandshakeKind::Full);
        assert_eq!(handshake(&resumed, &server), HandshakeKind::Resumed);
        assert_eq!(handshake(&full, &server), HandshakeKind::Full);
        clients.push((label, full, resumed));
    }
    Setup { server, clients }
}

fn handshakes(cr: &mut Criterion) {
    let st = setup();
    let mut g = cr.benchmark_group("tls_handshake");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    for (label, full, resumed) in &st.clients {
        g.bench_function(format!("full_{label}"), |b| {
            b.iter(|| handshake(full, &st.server))
        });
        g.bench_function(format!("resumed_{label}"), |b| {
            b.iter(|| {
                let k = handshake(resumed, &st.server);
                debug_assert_eq!(k, HandshakeKind::Resumed);
                k
            })
        });
    }
    g.finish();
}

fn verification(cr: &mut Criterion) {
    let ca = TestCa::new("bench CA").unwrap();
    let chain = leaf(&ca);
    let ee = chain.certs()[0].clone();
    let make = |enabled: bool| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).unwrap();
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        CachingVerifier::new(
            inner,
            CachingVerifier::anchor_set_id([ca.cert_der().as_ref()]),
            VerifyCacheConfig {
                enabled,
                ..Default::default()
            },
        )
    };
    let name = ServerName::try_from("localhost").unwrap();
    let t = UnixTime::since_unix_epoch(now());
    let cold = make(false);
    let warm = make(true);
    warm.verify_server_cert(&ee, &[], &name, &[], t).unwrap();
    let mut g = cr.benchmark_group("tls_verify");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    g.bench_function("uncached", |b| {
        b.iter(|| cold.verify_server_cert(&ee, &[], &name, &[], t).unwrap())
    });
    g.bench_function("warm_cache", |b| {
        b.iter(|| warm.verify_server_cert(&ee, &[], &name, &[], t).unwrap())
    });
    g.finish();
    assert!(warm.stats().hits > 0 && warm.stats().misses == 1);
}

criterion_group!(benches, handshakes, verification);

/// `TLS_N=N TLS_CASE=full_tls13|resumed_tls13|full_tls12|resumed_tls12`:
/// runs N handshakes of that kind and exits (for callgrind instruction
/// counts, which a loaded machine does not disturb: run N and 10+N and
/// divide the difference by 10).
fn main() {
    if let Ok(n) = std::env::var("TLS_N") {
        let n: usize = n.parse().expect("TLS_N: a count");
        let case = std::env::var("TLS_CASE").unwrap_or_default();
        let st = setup();
        let (label, full) = case
            .split_once('_')
            .map(|(k, v)| (v, k == "full"))
            .expect("TLS_CASE");
        let (_, f, r) = st
            .clients
            .iter()
            .find(|c| c.0 == label)
            .expect("TLS_CASE version");
        let want = if full {
            HandshakeKind::Full
        } else {
            HandshakeKind::Resumed
        };
        for _ in 0..n {
            assert_eq!(handshake(if full { f } else { r }, &st.server), want);
        }
        println!("{n} handshakes {case}");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
