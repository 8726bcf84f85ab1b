//! The sans-IO TLS layer (src/tls) in memory: client and server layers joined
//! by buffers, certificates made with rcgen here, time a parameter.
//! Covers ALPN, certificate failures, PEM errors, resumption (TLS 1.3 and
//! 1.2), the validation cache (hits, misses, TTL, notAfter, size bound,
//! failures never cached, signatures always checked), the SNI cache and an
//! HTTP/2 GET through `TlsH2`.
#![cfg(feature = "tls")]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2o::tls::{
    Alpn, CachingVerifier, CertChain, ClientTls, ConfigError, HandshakeKind, Roots, SelfSigned,
    ServerTls, TestCa, TlsError, TlsH2, TlsH2Error, TlsPipe, TlsVersion, VerifyCacheConfig,
};
use h2o::{Config, Event};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// "Now" of these tests: 2027-01-15, seconds since the Unix epoch.
const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

fn t(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn unix(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(t(secs))
}

/// A leaf for `names` valid `[from, until]`, signed by `ca`.
fn leaf(ca: &TestCa, names: &[&str], from: u64, until: u64) -> CertChain {
    let (c, k) = ca.issue(names, t(from), t(until)).unwrap();
    CertChain::from_pem(c.as_bytes(), k.as_bytes(), "leaf").unwrap()
}

fn valid_leaf(ca: &TestCa, names: &[&str]) -> CertChain {
    leaf(ca, names, NOW - DAY, NOW + 30 * DAY)
}

fn server(chain: CertChain) -> ServerTls {
    ServerTls::builder().cert(chain).build().unwrap()
}

fn client_for(ca: &TestCa) -> ClientTls {
    ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "test CA")
        .build()
        .unwrap()
}

/// Errors of a handshake: (client's, server's).
type Errs = (Option<TlsError>, Option<TlsError>);

/// Moves bytes between the two pipes until nothing moves (bounded).
fn handshake(c: &mut TlsPipe, s: &mut TlsPipe, now: u64) -> Result<(), Errs> {
    let (mut ce, mut se) = (None, None);
    let mut plain = Vec::new();
    for _ in 0..32 {
        let mut buf = Vec::new();
        c.write_tls(&mut buf);
        let c_sent = !buf.is_empty();
        if c_sent && se.is_none() {
            if let Err(e) = s.recv(t(now), &buf, &mut plain) {
                se = Some(e);
            }
        }
        buf.clear();
        s.write_tls(&mut buf);
        let s_sent = !buf.is_empty();
        if s_sent && ce.is_none() {
            if let Err(e) = c.recv(t(now), &buf, &mut plain) {
                ce = Some(e);
            }
        }
        if !c_sent && !s_sent {
            break;
        }
    }
    assert!(plain.is_empty(), "no application data in a bare handshake");
    if ce.is_some() || se.is_some() {
        return Err((ce, se));
    }
    assert!(
        !c.is_handshaking() && !s.is_handshaking(),
        "handshake stalled"
    );
    Ok(())
}

/// One connection from `client` to `srv` for `host` at `now`.
fn connect(
    client: &ClientTls,
    srv: &ServerTls,
    host: &str,
    now: u64,
) -> Result<(TlsPipe, TlsPipe), Errs> {
    let mut c = TlsPipe::client(client, host, t(now)).unwrap();
    let mut s = TlsPipe::server(srv, t(now)).unwrap();
    handshake(&mut c, &mut s, now)?;
    Ok((c, s))
}

fn client_err(r: Result<(TlsPipe, TlsPipe), Errs>) -> TlsError {
    match r {
        Ok(_) => panic!("handshake succeeded"),
        Err((Some(e), _)) => e,
        Err((None, s)) => panic!("client saw no error (server: {s:?})"),
    }
}

#[test]
fn alpn_prefers_h2_and_handshake_is_full() {
    let ca = TestCa::new("ca").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let (c, s) = connect(&client_for(&ca), &srv, "localhost", NOW).unwrap();
    assert_eq!(c.alpn(), Some(Alpn::H2));
    assert_eq!(s.alpn(), Some(Alpn::H2));
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
    assert_eq!(c.version(), Some(TlsVersion::Tls13));
    assert_eq!(s.sni(), Some("localhost"));
    assert!(c.is_client() && !s.is_client());
}

#[test]
fn alpn_http11_selected_when_only_one_side_has_it() {
    let ca = TestCa::new("ca").unwrap();
    let chain = valid_leaf(&ca, &["localhost"]);
    // The client offers only http/1.1.
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .alpn(&[Alpn::Http11])
        .build()
        .unwrap();
    let (c, _) = connect(&client, &server(chain.clone()), "localhost", NOW).unwrap();
    assert_eq!(c.alpn(), Some(Alpn::Http11));
    // The server accepts only http/1.1.
    let srv = ServerTls::builder()
        .cert(chain)
        .alpn(&[Alpn::Http11])
        .build()
        .unwrap();
    let (c, s) = connect(&client_for(&ca), &srv, "localhost", NOW).unwrap();
    assert_eq!(
        (c.alpn(), s.alpn()),
        (Some(Alpn::Http11), Some(Alpn::Http11))
    );
}

#[test]
fn no_alpn_overlap_is_refused_on_both_sides() {
    let ca = TestCa::new("ca").unwrap();
    let srv = ServerTls::builder()
        .cert(valid_leaf(&ca, &["localhost"]))
        .alpn(&[Alpn::H2])
        .build()
        .unwrap();
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .alpn(&[Alpn::Http11])
        .build()
        .unwrap();
    let r = connect(&client, &srv, "localhost", NOW);
    let Err((ce, se)) = r else {
        panic!("handshake succeeded")
    };
    assert_eq!(se, Some(TlsError::NoAlpnOverlap));
    assert_eq!(ce, Some(TlsError::NoAlpnOverlap));
    assert_eq!(
        TlsError::NoAlpnOverlap.to_string(),
        "TLS: no common application protocol (ALPN) with the peer"
    );
}

#[test]
fn unknown_ca_is_refused_and_the_server_sees_the_alert() {
    let ca = TestCa::new("ca").unwrap();
    let other = TestCa::new("other").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let r = connect(&client_for(&other), &srv, "localhost", NOW);
    let Err((ce, se)) = r else {
        panic!("handshake succeeded")
    };
    assert_eq!(ce, Some(TlsError::UnknownIssuer));
    assert_eq!(
        se,
        Some(TlsError::PeerAlert(h2o::tls::AlertDescription::UnknownCA))
    );
    assert!(!se.unwrap().to_string().contains('\n'));
}

#[test]
fn expired_and_not_yet_valid_follow_the_time_parameter() {
    let ca = TestCa::new("ca").unwrap();
    let expired = server(leaf(&ca, &["localhost"], NOW - 30 * DAY, NOW - DAY));
    let future = server(leaf(&ca, &["localhost"], NOW + DAY, NOW + 30 * DAY));
    let client = client_for(&ca);
    assert_eq!(
        client_err(connect(&client, &expired, "localhost", NOW)),
        TlsError::CertExpired
    );
    assert_eq!(
        client_err(connect(&client, &future, "localhost", NOW)),
        TlsError::CertNotYetValid
    );
    // The same certificates at other times: valid.
    assert!(connect(&client, &expired, "localhost", NOW - 2 * DAY).is_ok());
    assert!(connect(&client, &future, "localhost", NOW + 2 * DAY).is_ok());
}

#[test]
fn wrong_host_is_refused() {
    let ca = TestCa::new("ca").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let e = client_err(connect(&client_for(&ca), &srv, "example.test", NOW));
    assert_eq!(e, TlsError::WrongHost("example.test".into()));
    assert_eq!(
        e.to_string(),
        "TLS: the certificate is not valid for example.test"
    );
}

#[test]
fn pem_errors_are_one_line_config_errors() {
    let ca = TestCa::new("ca").unwrap();
    let (cert, key) = ca
        .issue(&["localhost"], t(NOW - DAY), t(NOW + DAY))
        .unwrap();
    let (_, other_key) = ca
        .issue(&["localhost"], t(NOW - DAY), t(NOW + DAY))
        .unwrap();
    let check = |r: Result<CertChain, ConfigError>, want: &str| {
        let e = r.expect_err("must fail");
        let s = e.to_string();
        assert!(s.contains(want), "{s:?} should contain {want:?}");
        assert!(!s.contains('\n'), "one line: {s:?}");
    };
    check(
        CertChain::from_pem(cert.as_bytes(), other_key.as_bytes(), "mismatch.pem"),
        "mismatch.pem: the private key does not match the certificate",
    );
    check(
        CertChain::from_pem(
            b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
            key.as_bytes(),
            "bad.pem",
        ),
        "bad.pem: garbled PEM",
    );
    // Valid base64, not a certificate.
    check(
        CertChain::from_pem(
            b"-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
            key.as_bytes(),
            "notder.pem",
        ),
        "notder.pem: garbled PEM",
    );
    check(
        CertChain::from_pem(b"", key.as_bytes(), "empty.pem"),
        "empty.pem: no certificate",
    );
    check(
        CertChain::from_pem(cert.as_bytes(), cert.as_bytes(), "nokey.pem"),
        "nokey.pem: no private key",
    );
    check(
        CertChain::from_files("/nonexistent/c.pem".as_ref(), "/nonexistent/k.pem".as_ref()),
        "cannot read /nonexistent/c.pem",
    );
    // Bad CA files surface from the client builder.
    let e = ClientTls::builder()
        .add_ca_pem(
            b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
            "ca.pem",
        )
        .build()
        .unwrap_err();
    assert_eq!(e.to_string(), "ca.pem: garbled PEM");
    let e = ClientTls::builder().roots(Roots::None).build().unwrap_err();
    assert!(e.to_string().starts_with("no trust anchors"), "{e}");
    let e = ServerTls::builder().build().unwrap_err();
    assert_eq!(e.to_string(), "TLS server without a certificate");
}

fn resumption(version: TlsVersion) {
    let ca = TestCa::new("ca").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .versions(&[version])
        .build()
        .unwrap();
    let (c, s) = connect(&client, &srv, "localhost", NOW).unwrap();
    assert_eq!(c.version(), Some(version));
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::Full));
    for i in 1..5 {
        let (c, s) = connect(&client, &srv, "localhost", NOW + i).unwrap();
        assert_eq!(
            c.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "client, connection {i}"
        );
        assert_eq!(
            s.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "server, connection {i}"
        );
        assert!(c.is_resumed());
        assert_eq!(c.alpn(), Some(Alpn::H2));
    }
    // Another client context (another pool) has no session: full.
    let other = client_for(&ca);
    let (c, _) = connect(&other, &srv, "localhost", NOW).unwrap();
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
    // Resumption off: always full.
    let off = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .versions(&[version])
        .session_store(0)
        .build()
        .unwrap();
    for _ in 0..2 {
        let (c, _) = connect(&off, &srv, "localhost", NOW).unwrap();
        assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
    }
}

#[test]
fn full_then_resumed_tls13() {
    resumption(TlsVersion::Tls13);
}

#[test]
fn full_then_resumed_tls12_tickets() {
    resumption(TlsVersion::Tls12);
}

#[test]
fn tls12_resumes_by_session_id_without_tickets() {
    let ca = TestCa::new("ca").unwrap();
    let srv = ServerTls::builder()
        .cert(valid_leaf(&ca, &["localhost"]))
        .tickets(false)
        .build()
        .unwrap();
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .versions(&[TlsVersion::Tls12])
        .build()
        .unwrap();
    connect(&client, &srv, "localhost", NOW).unwrap();
    let (c, _) = connect(&client, &srv, "localhost", NOW).unwrap();
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Resumed));
}

#[test]
fn validation_cache_hits_on_the_second_connection() {
    let ca = TestCa::new("ca").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .session_store(0) // full handshakes: the certificate is verified each time
        .build()
        .unwrap();
    connect(&client, &srv, "localhost", NOW).unwrap();
    let s = client.verify_stats();
    assert_eq!((s.hits, s.misses, s.entries), (0, 1, 1));
    connect(&client, &srv, "localhost", NOW + 10).unwrap();
    let s = client.verify_stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 1, 1));
    // Host name parsed once.
    assert_eq!(client.name_stats().misses, 1);
    assert_eq!(client.name_stats().hits, 1);
}

#[test]
fn refusals_right_after_a_valid_certificate_was_cached() {
    let ca = TestCa::new("ca").unwrap();
    let other = TestCa::new("other").unwrap();
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .session_store(0)
        .build()
        .unwrap();
    let good = server(valid_leaf(&ca, &["localhost"]));
    connect(&client, &good, "localhost", NOW).unwrap();
    connect(&client, &good, "localhost", NOW).unwrap();
    assert_eq!(client.verify_stats().hits, 1);
    let expired = server(leaf(&ca, &["localhost"], NOW - 30 * DAY, NOW - DAY));
    assert_eq!(
        client_err(connect(&client, &expired, "localhost", NOW)),
        TlsError::CertExpired
    );
    let wrong = server(valid_leaf(&ca, &["other.test"]));
    assert_eq!(
        client_err(connect(&client, &wrong, "localhost", NOW)),
        TlsError::WrongHost("localhost".into())
    );
    let unknown = server(valid_leaf(&other, &["localhost"]));
    assert_eq!(
        client_err(connect(&client, &unknown, "localhost", NOW)),
        TlsError::UnknownIssuer
    );
    // The good one still hits; failures were never cached.
    connect(&client, &good, "localhost", NOW).unwrap();
    let s = client.verify_stats();
    assert_eq!((s.hits, s.entries), (2, 1));
}

/// A resolver serving a chain with a key that is not its own: the handshake
/// signature cannot verify.
#[derive(Debug)]
struct WrongKey(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for WrongKey {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[test]
fn handshake_signature_is_checked_even_on_a_cache_hit() {
    let ca = TestCa::new("ca").unwrap();
    let (cert, key) = ca
        .issue(&["localhost"], t(NOW - DAY), t(NOW + DAY))
        .unwrap();
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "ca")
        .session_store(0)
        .build()
        .unwrap();
    let good = server(CertChain::from_pem(cert.as_bytes(), key.as_bytes(), "good").unwrap());
    connect(&client, &good, "localhost", NOW).unwrap();
    assert_eq!(client.verify_stats().entries, 1);
    // Same certificate, another key: an impostor without the private key.
    let (_, impostor_key) = ca
        .issue(&["localhost"], t(NOW - DAY), t(NOW + DAY))
        .unwrap();
    let provider = rustls::crypto::ring::default_provider();
    let der = rustls_pemfile::private_key(&mut impostor_key.as_bytes())
        .unwrap()
        .unwrap();
    let signer = provider.key_provider.load_private_key(der).unwrap();
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let ck = Arc::new(rustls::sign::CertifiedKey::new(certs, signer));
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(WrongKey(ck)));
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let mut c = TlsPipe::client(&client, "localhost", t(NOW)).unwrap();
    let mut s = rustls::ServerConnection::new(Arc::new(cfg)).unwrap();
    let mut err = None;
    for _ in 0..16 {
        let mut buf = Vec::new();
        c.write_tls(&mut buf);
        let mut rd = &buf[..];
        while !rd.is_empty() && s.read_tls(&mut rd).unwrap() > 0 {}
        let _ = s.process_new_packets();
        let mut back = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut back).unwrap();
        }
        if back.is_empty() && buf.is_empty() {
            break;
        }
        if let Err(e) = c.recv(t(NOW), &back, &mut Vec::new()) {
            err = Some(e);
            break;
        }
    }
    let before = client.verify_stats();
    assert_eq!(before.hits, 1, "the chain itself was a cache hit");
    let err = err.expect("impostor accepted");
    assert!(
        matches!(err, TlsError::BadCertificate(_) | TlsError::Protocol(_)),
        "{err:?}"
    );
}

/// Direct verifier tests: a webpki verifier for `ca` behind a cache.
fn caching(ca: &TestCa, config: VerifyCacheConfig) -> CachingVerifier {
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
        config,
    )
}

fn name(s: &str) -> ServerName<'static> {
    ServerName::try_from(s.to_string()).unwrap()
}

#[test]
fn cache_ttl_and_not_after_bound_entries() {
    let ca = TestCa::new("ca").unwrap();
    let chain = leaf(&ca, &["a.test", "b.test"], NOW - DAY, NOW + 100);
    let ee = &chain.certs()[0];
    let v = caching(
        &ca,
        VerifyCacheConfig {
            ttl: t(60),
            ..Default::default()
        },
    );
    let verify = |n: &str, at: u64| v.verify_server_cert(ee, &[], &name(n), &[], unix(at));
    verify("a.test", NOW).unwrap();
    verify("a.test", NOW + 59).unwrap();
    assert_eq!((v.stats().hits, v.stats().misses), (1, 1));
    // Past the TTL: verified again.
    verify("a.test", NOW + 61).unwrap();
    assert_eq!((v.stats().hits, v.stats().misses), (1, 2));
    // Another server name: a miss.
    verify("b.test", NOW + 61).unwrap();
    assert_eq!(v.stats().misses, 3);
    // A long TTL is still cut at notAfter (NOW + 100).
    let v = caching(
        &ca,
        VerifyCacheConfig {
            ttl: t(3600),
            ..Default::default()
        },
    );
    let verify = |at: u64| v.verify_server_cert(ee, &[], &name("a.test"), &[], unix(at));
    verify(NOW).unwrap();
    verify(NOW + 100).unwrap();
    assert_eq!(v.stats().hits, 1);
    let e = verify(NOW + 101).unwrap_err();
    assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e:?}");
    assert_eq!(
        (v.stats().hits, v.stats().misses, v.stats().entries),
        (1, 2, 0)
    );
    // A clock that went back before the validation does not hit either.
    verify(NOW + 50).unwrap();
    verify(NOW + 10).unwrap();
    assert_eq!(v.stats().hits, 1);
    // Disabled: never a hit.
    let v = caching(
        &ca,
        VerifyCacheConfig {
            enabled: false,
            ..Default::default()
        },
    );
    for _ in 0..3 {
        v.verify_server_cert(ee, &[], &name("a.test"), &[], unix(NOW))
            .unwrap();
    }
    assert_eq!((v.stats().hits, v.stats().entries), (0, 0));
}

#[test]
fn failures_are_never_cached() {
    let ca = TestCa::new("ca").unwrap();
    let chain = valid_leaf(&ca, &["a.test"]);
    let ee = &chain.certs()[0];
    let v = caching(&ca, VerifyCacheConfig::default());
    for _ in 0..3 {
        assert!(v
            .verify_server_cert(ee, &[], &name("wrong.test"), &[], unix(NOW))
            .is_err());
    }
    let s = v.stats();
    assert_eq!((s.hits, s.misses, s.entries), (0, 3, 0));
}

/// Accepts every chain: lets the size test run 100,000 distinct keys fast.
#[derive(Debug)]
struct AcceptAll;

impl ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("unused".into()))
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("unused".into()))
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        Vec::new()
    }
}

#[test]
fn cache_size_stays_bounded_under_100k_distinct_chains() {
    let ca = TestCa::new("ca").unwrap();
    let chain = valid_leaf(&ca, &["a.test"]);
    let ee = &chain.certs()[0];
    let cap = 1000;
    let v = CachingVerifier::new(
        Arc::new(AcceptAll),
        [7; 32],
        VerifyCacheConfig {
            capacity: cap,
            ..Default::default()
        },
    );
    for i in 0..100_000u32 {
        // Distinct (intermediate, name) pairs: 100,000 distinct keys.
        let inter = [ee.clone()];
        let n = name(&format!("h{i}.test"));
        v.verify_server_cert(ee, &inter, &n, &[], unix(NOW))
            .unwrap();
        assert!(v.stats().entries <= cap);
    }
    let s = v.stats();
    assert_eq!((s.misses, s.hits, s.entries), (100_000, 0, cap));
    // The most recent ones are still there, the oldest are gone.
    v.verify_server_cert(
        ee,
        std::slice::from_ref(ee),
        &name("h99999.test"),
        &[],
        unix(NOW),
    )
    .unwrap();
    v.verify_server_cert(
        ee,
        std::slice::from_ref(ee),
        &name("h0.test"),
        &[],
        unix(NOW),
    )
    .unwrap();
    assert_eq!((v.stats().hits, v.stats().misses), (1, 100_001));
}

#[test]
fn sni_selects_certificates_through_a_cache() {
    let ca = TestCa::new("ca").unwrap();
    let a = valid_leaf(&ca, &["a.test"]);
    let b = valid_leaf(&ca, &["x.b.test", "y.b.test"]);
    let d = valid_leaf(&ca, &["default.test"]);
    let srv = ServerTls::builder()
        .cert(d.clone())
        .sni_cert("a.test", a.clone())
        .sni_cert("*.b.test", b.clone())
        .build()
        .unwrap();
    let client = client_for(&ca);
    for (host, want) in [
        ("a.test", &a),
        ("x.b.test", &b),
        ("y.b.test", &b),
        ("A.TEST", &a),
        ("default.test", &d),
    ] {
        let (c, s) = connect(&client, &srv, host, NOW).unwrap();
        assert_eq!(c.peer_certs().unwrap()[0], want.certs()[0], "{host}");
        assert_eq!(
            s.sni().map(|s| s.to_ascii_lowercase()),
            Some(host.to_ascii_lowercase())
        );
    }
    let st = srv.sni_stats();
    // a.test twice (second time in upper case), others once.
    assert_eq!((st.misses, st.hits, st.entries), (4, 1, 4));
    let e = ServerTls::builder()
        .sni_cert("bad name!", d)
        .build()
        .unwrap_err();
    assert_eq!(e.to_string(), "invalid SNI name \"bad name!\"");
    let (cp, kp) = ca.issue(&["k.test"], t(NOW), t(NOW + DAY)).unwrap();
    let (_, other) = ca.issue(&["k.test"], t(NOW), t(NOW + DAY)).unwrap();
    assert!(CertChain::from_pem(cp.as_bytes(), kp.as_bytes(), "k").is_ok());
    assert!(matches!(
        CertChain::from_pem(cp.as_bytes(), other.as_bytes(), "k"),
        Err(ConfigError::KeyMismatch(_))
    ));
}

#[test]
fn plain_bytes_are_not_tls() {
    let ca = TestCa::new("ca").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let mut s = TlsPipe::server(&srv, t(NOW)).unwrap();
    let e = s
        .recv(
            t(NOW),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &mut Vec::new(),
        )
        .unwrap_err();
    assert_eq!(e, TlsError::NotTls);
    assert_eq!(
        s.recv(t(NOW), b"\x16\x03\x01", &mut Vec::new())
            .unwrap_err(),
        TlsError::NotTls
    );
    let mut s = TlsPipe::server(&srv, t(NOW)).unwrap();
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert_eq!(
        s.recv(t(NOW), preface, &mut Vec::new()).unwrap_err(),
        TlsError::NotTls
    );
    // A client talking to an h2c server gets its SETTINGS frame back.
    let mut c = TlsPipe::client(&client_for(&ca), "localhost", t(NOW)).unwrap();
    c.write_tls(&mut Vec::new());
    let settings = [0u8, 0, 0, 4, 0, 0, 0, 0, 0];
    assert_eq!(
        c.recv(t(NOW), &settings, &mut Vec::new()).unwrap_err(),
        TlsError::NotTls
    );
    assert!(matches!(
        TlsPipe::client(&client_for(&ca), "bad host!", t(NOW)),
        Err(TlsError::InvalidHost(_))
    ));
}

#[test]
fn application_bytes_and_close_notify() {
    let ca = TestCa::new("ca").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let (mut c, mut s) = connect(&client_for(&ca), &srv, "localhost", NOW).unwrap();
    let msg = vec![0xabu8; 100_000];
    let mut sent = 0;
    let mut got = Vec::new();
    while sent < msg.len() {
        sent += c.send(&msg[sent..]);
        let mut wire = Vec::new();
        c.write_tls(&mut wire);
        s.recv(t(NOW), &wire, &mut got).unwrap();
    }
    assert_eq!(got, msg);
    c.close();
    let mut wire = Vec::new();
    c.write_tls(&mut wire);
    s.recv(t(NOW), &wire, &mut got).unwrap();
    assert!(s.peer_closed());
}

#[test]
fn self_signed_set_up_is_trusted_through_its_ca() {
    let ss = SelfSigned::generate(&["localhost", "127.0.0.1"], t(NOW), 30).unwrap();
    assert!(ss.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let srv = server(ss.chain.clone());
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ss.ca_pem.as_bytes(), "ca")
        .build()
        .unwrap();
    connect(&client, &srv, "localhost", NOW).unwrap();
    connect(&client, &srv, "127.0.0.1", NOW).unwrap();
    assert_eq!(
        client_err(connect(&client, &srv, "localhost", NOW + 31 * DAY)),
        TlsError::CertExpired
    );
}

/// Drives two `TlsH2` ends until nothing moves (bounded).
fn pump(
    c: &mut TlsH2,
    s: &mut TlsH2,
    now: u64,
    server_events: &mut Vec<Event>,
    client_events: &mut Vec<Event>,
) {
    for _ in 0..64 {
        let mut moved = false;
        let mut buf = Vec::new();
        c.write_tls(t(now), &mut buf, 1 << 20).unwrap();
        if !buf.is_empty() {
            moved = true;
            s.recv(t(now), &buf).unwrap();
        }
        while let Some(e) = s.connection().poll_event() {
            server_events.push(e);
        }
        buf.clear();
        s.write_tls(t(now), &mut buf, 1 << 20).unwrap();
        if !buf.is_empty() {
            moved = true;
            c.recv(t(now), &buf).unwrap();
        }
        while let Some(e) = c.connection().poll_event() {
            client_events.push(e);
        }
        if !moved {
            return;
        }
    }
    panic!("pump did not settle");
}

#[test]
fn http2_get_through_the_composition() {
    let ca = TestCa::new("ca").unwrap();
    let srv = server(valid_leaf(&ca, &["localhost"]));
    let client = client_for(&ca);
    let body = Bytes::from(
        (0..200_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    for round in 0..2 {
        let mut c = TlsH2::new(
            TlsPipe::client(&client, "localhost", t(NOW)).unwrap(),
            Config::default(),
            t(NOW),
        );
        let mut s = TlsH2::new(
            TlsPipe::server(&srv, t(NOW)).unwrap(),
            Config::default(),
            t(NOW),
        );
        // The request is queued before the handshake; it leaves after it.
        let req = http::Request::get("https://localhost/file")
            .body(())
            .unwrap();
        let id = c.connection().send_request(req, true).unwrap();
        let (mut sev, mut cev) = (Vec::new(), Vec::new());
        pump(&mut c, &mut s, NOW, &mut sev, &mut cev);
        let sid = sev
            .iter()
            .find_map(|e| match e {
                Event::Request {
                    stream_id, request, ..
                } => {
                    assert_eq!(request.uri().path(), "/file");
                    Some(*stream_id)
                }
                _ => None,
            })
            .expect("request arrived");
        s.connection()
            .send_response(sid, http::Response::new(()), false)
            .unwrap();
        s.connection().send_data(sid, body.clone(), true).unwrap();
        pump(&mut c, &mut s, NOW, &mut sev, &mut cev);
        let mut got = Vec::new();
        let mut status = None;
        let mut ended = false;
        for e in cev {
            match e {
                Event::Response {
                    stream_id,
                    response,
                    ..
                } if stream_id == id => status = Some(response.status()),
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } if stream_id == id => {
                    got.extend_from_slice(&data);
                    ended |= end_stream;
                }
                _ => {}
            }
        }
        assert_eq!(status, Some(http::StatusCode::OK));
        assert!(ended);
        assert_eq!(got, body, "byte-exact body");
        let kind = if round == 0 {
            HandshakeKind::Full
        } else {
            HandshakeKind::Resumed
        };
        assert_eq!(c.tls().handshake_kind(), Some(kind));
        assert_eq!(c.tls().alpn(), Some(Alpn::H2));
    }
}

#[test]
fn composition_reports_a_non_h2_protocol() {
    let ca = TestCa::new("ca").unwrap();
    let srv = ServerTls::builder()
        .cert(valid_leaf(&ca, &["localhost"]))
        .alpn(&[Alpn::Http11])
        .build()
        .unwrap();
    let mut c = TlsH2::new(
        TlsPipe::client(&client_for(&ca), "localhost", t(NOW)).unwrap(),
        Config::default(),
        t(NOW),
    );
    let mut s = TlsPipe::server(&srv, t(NOW)).unwrap();
    let mut res = Ok(());
    for _ in 0..8 {
        let mut buf = Vec::new();
        if let Err(e) = c.write_tls(t(NOW), &mut buf, 1 << 16) {
            res = Err(e);
            break;
        }
        s.recv(t(NOW), &buf, &mut Vec::new()).unwrap();
        buf.clear();
        s.write_tls(&mut buf);
        if let Err(e) = c.recv(t(NOW), &buf) {
            res = Err(e);
            break;
        }
    }
    let e = res.unwrap_err();
    assert!(matches!(e, TlsH2Error::NotH2(Some(Alpn::Http11))), "{e:?}");
    assert_eq!(e.to_string(), "TLS: the peer chose http/1.1, not h2");
    let (pipe, _) = c.into_parts();
    assert_eq!(pipe.alpn(), Some(Alpn::Http11));
}

#[test]
fn system_and_webpki_roots_load() {
    for roots in [Roots::System, Roots::Webpki] {
        let c = ClientTls::builder().roots(roots).build().unwrap();
        assert_eq!(c.verify_stats().entries, 0);
        // A public name parses; an IP literal too.
        assert!(c.server_name("example.com").is_ok());
        assert!(c.server_name("127.0.0.1").is_ok());
    }
}

#[test]
fn cacert_and_chain_files() {
    let dir = std::env::temp_dir().join(format!("h2o-tls-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new("ca").unwrap();
    let (cert, key) = ca
        .issue(&["localhost"], t(NOW - DAY), t(NOW + DAY))
        .unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let both = dir.join("both.pem");
    std::fs::write(&both, format!("{cert}{key}")).unwrap();
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_file(&ca_path)
        .build()
        .unwrap();
    for chain in [
        CertChain::from_files(&cert_path, &key_path).unwrap(),
        CertChain::from_files(&both, &both).unwrap(),
    ] {
        connect(&client, &server(chain), "localhost", NOW).unwrap();
    }
    let e = ClientTls::builder()
        .add_ca_file(&dir.join("missing.pem"))
        .build()
        .unwrap_err();
    assert!(
        e.to_string().starts_with("cannot read ") && e.to_string().contains("missing.pem"),
        "{e}"
    );
    let e = CertChain::from_files(&key_path, &key_path).unwrap_err();
    assert!(
        e.to_string().ends_with("key.pem: no certificate in PEM"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
