//! Sans-IO TLS layer (feature `tls`): rustls with the `ring` provider, driven
//! the way rustls itself is (`read_tls` / `process_new_packets` / `write_tls`):
//! ciphertext bytes in, plaintext out, plaintext in, ciphertext out; no
//! sockets, and time is a parameter.
//!
//! Owns:
//! - [`TlsPipe`]: a generic TLS byte pipe (client or server role) with ALPN
//!   (`h2`, `http/1.1`), the negotiated protocol, the handshake kind
//!   (full / resumed) and typed errors ([`TlsError`], peer alerts included);
//! - [`TlsH2`]: the thin composition of a pipe with the HTTP/2
//!   [`Connection`](crate::Connection) (ciphertext in → plaintext into the core;
//!   core output → ciphertext out);
//! - configuration: [`ServerTls`] / [`ClientTls`] and their builders, PEM
//!   loading ([`CertChain`]), per-SNI certificates, roots (OS store natively,
//!   webpki-roots otherwise, extra CA files), a self-signed CA + leaf maker
//!   ([`SelfSigned`], [`TestCa`]), all with one-line [`ConfigError`]s;
//! - session resumption: the server uses rustls' rotating ticketer (TLS 1.3
//!   tickets and TLS 1.2 RFC 5077 tickets) and a bounded session cache; a
//!   client context holds one bounded session store that every connection made
//!   from it (one pool) shares;
//! - caches: the client's certificate-validation cache ([`CachingVerifier`]),
//!   the server's SNI certificate cache ([`SniResolver`]) and the client's
//!   per-host parsed server names.
//!
//! Time: every input takes `now` as a `Duration`
//! since the Unix epoch (calendar time: certificate validity and ticket ages
//! need it). The layer stores it in the context's [`Clock`], which is the
//! rustls `TimeProvider`, so nothing here reads the system clock, with one
//! exception inside rustls: its ticket-key rotator (`Ticketer`) reads the
//! system clock to decide when to rotate keys (every 6 hours).

mod config;
mod h2;
mod pipe;
mod sni;
mod verify;

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::UnixTime;

pub use config::{
    CertChain, ClientTls, ClientTlsBuilder, Roots, SelfSigned, ServerTls, ServerTlsBuilder, TestCa,
    TlsVersion,
};
pub use h2::{TlsH2, TlsH2Error};
pub use pipe::TlsPipe;
pub use rustls::{AlertDescription, HandshakeKind};
pub use sni::SniResolver;
pub use verify::{CacheStats, CachingVerifier, VerifyCacheConfig};

/// An application protocol negotiated (or offered) with ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alpn {
    /// `h2`: HTTP/2 over TLS.
    H2,
    /// `http/1.1`.
    Http11,
}

impl Alpn {
    /// The ALPN protocol id on the wire.
    pub fn id(self) -> &'static [u8] {
        match self {
            Alpn::H2 => b"h2",
            Alpn::Http11 => b"http/1.1",
        }
    }

    /// Parses a wire protocol id.
    pub fn from_id(id: &[u8]) -> Option<Alpn> {
        match id {
            b"h2" => Some(Alpn::H2),
            b"http/1.1" => Some(Alpn::Http11),
            _ => None,
        }
    }
}

impl fmt::Display for Alpn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alpn::H2 => "h2",
            Alpn::Http11 => "http/1.1",
        })
    }
}

/// The layer's calendar clock, shared by a context and all its connections:
/// the rustls `TimeProvider`, fed by the `now` of every input. Unset (zero)
/// means "unknown", which rustls reports as an error rather than guessing.
#[derive(Debug, Default)]
pub struct Clock {
    /// Seconds since the Unix epoch; 0 = never set.
    secs: AtomicU64,
}

impl Clock {
    /// Sets the current time (a `Duration` since the Unix epoch).
    pub fn set(&self, now: Duration) {
        self.secs.store(now.as_secs(), Ordering::Relaxed);
    }

    /// The time last set, if any.
    pub fn get(&self) -> Option<UnixTime> {
        match self.secs.load(Ordering::Relaxed) {
            0 => None,
            s => Some(UnixTime::since_unix_epoch(Duration::from_secs(s))),
        }
    }
}

impl rustls::time_provider::TimeProvider for Clock {
    fn current_time(&self) -> Option<UnixTime> {
        self.get()
    }
}

/// A TLS failure on a connection, one line each (`Display`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// The peer's certificate has expired.
    CertExpired,
    /// The peer's certificate is not valid yet.
    CertNotYetValid,
    /// The peer's certificate chains to no trusted root.
    UnknownIssuer,
    /// The peer's certificate is not valid for the name we connected to.
    WrongHost(String),
    /// Another certificate problem (bad signature, bad encoding, ...).
    BadCertificate(String),
    /// Client and server share no ALPN protocol.
    NoAlpnOverlap,
    /// The peer sent a fatal TLS alert.
    PeerAlert(AlertDescription),
    /// The peer does not speak TLS (e.g. plain HTTP or an h2c preface).
    NotTls,
    /// The host name is not a valid DNS name or IP address.
    InvalidHost(String),
    /// Any other TLS protocol failure.
    Protocol(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::CertExpired => f.write_str("TLS: the server certificate has expired"),
            TlsError::CertNotYetValid => {
                f.write_str("TLS: the server certificate is not valid yet")
            }
            TlsError::UnknownIssuer => {
                f.write_str("TLS: the certificate is signed by an unknown CA")
            }
            TlsError::WrongHost(h) => write!(f, "TLS: the certificate is not valid for {h}"),
            TlsError::BadCertificate(e) => write!(f, "TLS: bad certificate: {e}"),
            TlsError::NoAlpnOverlap => {
                f.write_str("TLS: no common application protocol (ALPN) with the peer")
            }
            TlsError::PeerAlert(a) => write!(f, "TLS: the peer sent the alert {a:?}"),
            TlsError::NotTls => f.write_str("TLS: the peer does not speak TLS (plain bytes)"),
            TlsError::InvalidHost(h) => write!(f, "TLS: invalid server name {h:?}"),
            TlsError::Protocol(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    /// Maps a rustls error; `host` names the server for `WrongHost`.
    pub(crate) fn from_rustls(e: rustls::Error, host: &str) -> TlsError {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::Expired | C::ExpiredContext { .. } => TlsError::CertExpired,
                C::NotValidYet | C::NotValidYetContext { .. } => TlsError::CertNotYetValid,
                C::UnknownIssuer => TlsError::UnknownIssuer,
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    TlsError::WrongHost(host.to_string())
                }
                other => TlsError::BadCertificate(format!("{other:?}")),
            },
            rustls::Error::NoApplicationProtocol
            | rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol) => {
                TlsError::NoAlpnOverlap
            }
            rustls::Error::AlertReceived(a) => TlsError::PeerAlert(a),
            other => TlsError::Protocol(other.to_string()),
        }
    }
}

/// A configuration failure (certificates, keys, roots), one line each.
#[derive(Debug)]
pub enum ConfigError {
    /// A file could not be read.
    Io(String, std::io::Error),
    /// The PEM text could not be parsed.
    GarbledPem(String),
    /// The PEM text holds no certificate.
    NoCertificate(String),
    /// The PEM text holds no private key.
    NoKey(String),
    /// The private key is not usable (unsupported algorithm or bad encoding).
    BadKey(String),
    /// The private key does not belong to the certificate.
    KeyMismatch(String),
    /// A server was configured without any certificate.
    NoServerCertificate,
    /// An SNI name is not a valid DNS name.
    BadName(String),
    /// No trust anchors could be loaded.
    NoRoots(String),
    /// Generating a certificate failed.
    Generate(String),
    /// rustls refused the configuration.
    Rustls(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io(p, e) => write!(f, "cannot read {p}: {e}"),
            ConfigError::GarbledPem(s) => write!(f, "{s}: garbled PEM"),
            ConfigError::NoCertificate(s) => write!(f, "{s}: no certificate in PEM"),
            ConfigError::NoKey(s) => write!(f, "{s}: no private key in PEM"),
            ConfigError::BadKey(s) => write!(f, "{s}: unusable private key"),
            ConfigError::KeyMismatch(s) => {
                write!(f, "{s}: the private key does not match the certificate")
            }
            ConfigError::NoServerCertificate => f.write_str("TLS server without a certificate"),
            ConfigError::BadName(n) => write!(f, "invalid SNI name {n:?}"),
            ConfigError::NoRoots(s) => write!(f, "no trust anchors: {s}"),
            ConfigError::Generate(s) => write!(f, "certificate generation failed: {s}"),
            ConfigError::Rustls(s) => write!(f, "TLS configuration refused: {s}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The `ring` crypto provider, the only one this layer uses. On wasm32 its
/// ChaCha20-Poly1305 suites come first ([`chacha_first`]).
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    let p = rustls::crypto::ring::default_provider();
    #[cfg(target_arch = "wasm32")]
    let p = chacha_first(p);
    std::sync::Arc::new(p)
}

/// Moves the ChaCha20-Poly1305 suites ahead of the others (stable order
/// otherwise). For wasm32: it has no AES instructions and ring's portable
/// AES-GCM is several times slower there than its ChaCha20-Poly1305
/// (BENCHMARKS.md, `h2o-get.wasm https://`); servers that follow the
/// client's order (nginx's default) then pick ChaCha20.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn chacha_first(mut p: rustls::crypto::CryptoProvider) -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite as C;
    p.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            C::TLS13_CHACHA20_POLY1305_SHA256
                | C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                | C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        )
    });
    p
}

#[cfg(test)]
mod provider_tests {
    use rustls::CipherSuite as C;

    #[test]
    fn chacha_first_keeps_the_set_and_the_rest_of_the_order() {
        let names = |p: &rustls::crypto::CryptoProvider| -> Vec<C> {
            p.cipher_suites.iter().map(|s| s.suite()).collect()
        };
        let before = names(&rustls::crypto::ring::default_provider());
        let after = names(&super::chacha_first(
            rustls::crypto::ring::default_provider(),
        ));
        let is_chacha = |c: &C| format!("{c:?}").contains("CHACHA20");
        let n = before.iter().filter(|c| is_chacha(c)).count();
        assert!(n >= 1, "{before:?}");
        assert!(after[..n].iter().all(is_chacha), "{after:?}");
        assert_eq!(after[0], C::TLS13_CHACHA20_POLY1305_SHA256);
        let rest = |v: &[C]| -> Vec<C> { v.iter().copied().filter(|c| !is_chacha(c)).collect() };
        assert_eq!(rest(&before), rest(&after));
        assert_eq!(before.len(), after.len());
    }
}
