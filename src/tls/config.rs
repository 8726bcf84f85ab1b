//! TLS configuration: PEM chains and keys, server and client contexts with
//! their builders, roots, and certificate generation (rcgen).
//!
//! Every failure is a one-line [`ConfigError`]; nothing here panics on bad
//! input.

use core::fmt;
use core::time::Duration;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use rustls::client::{ClientSessionMemoryCache, Resumption, Tls12Resumption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::{
    provider, Alpn, CacheStats, CachingVerifier, Clock, ConfigError, SniResolver, TlsError,
    VerifyCacheConfig,
};

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

fn versions(v: &[TlsVersion]) -> Vec<&'static SupportedProtocolVersion> {
    let mut out = Vec::new();
    if v.contains(&TlsVersion::Tls13) {
        out.push(&rustls::version::TLS13);
    }
    if v.contains(&TlsVersion::Tls12) {
        out.push(&rustls::version::TLS12);
    }
    out
}

fn alpn_ids(alpn: &[Alpn]) -> Vec<Vec<u8>> {
    alpn.iter().map(|a| a.id().to_vec()).collect()
}

/// A certificate chain (end-entity first) and its private key, parsed from
/// PEM and checked to be usable.
pub struct CertChain {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Where it came from, for error messages.
    label: String,
}

impl Clone for CertChain {
    fn clone(&self) -> Self {
        CertChain {
            certs: self.certs.clone(),
            key: self.key.clone_key(),
            label: self.label.clone(),
        }
    }
}

impl fmt::Debug for CertChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertChain")
            .field("label", &self.label)
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

/// Parses every certificate of a PEM text (at least one).
pub(crate) fn parse_certs(
    pem: &[u8],
    label: &str,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ConfigError::GarbledPem(label.to_string()))?;
    if certs.is_empty() {
        return Err(ConfigError::NoCertificate(label.to_string()));
    }
    for c in &certs {
        if x509_parser::parse_x509_certificate(c).is_err() {
            return Err(ConfigError::GarbledPem(label.to_string()));
        }
    }
    Ok(certs)
}

fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError::Io(path.display().to_string(), e))
}

impl CertChain {
    /// Parses a PEM chain (end-entity first) and a PEM private key (PKCS#8,
    /// PKCS#1 or SEC1) and checks that the key belongs to the certificate.
    /// `label` names the source in errors (e.g. the file name).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], label: &str) -> Result<Self, ConfigError> {
        let certs = parse_certs(cert_pem, label)?;
        let key = match rustls_pemfile::private_key(&mut &key_pem[..]) {
            Ok(Some(k)) => k,
            Ok(None) => return Err(ConfigError::NoKey(label.to_string())),
            Err(_) => return Err(ConfigError::GarbledPem(label.to_string())),
        };
        let chain = CertChain {
            certs,
            key,
            label: label.to_string(),
        };
        chain.certified_key(&provider())?;
        Ok(chain)
    }

    /// Reads and parses a PEM chain file and a PEM key file (they may be the
    /// same file).
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, ConfigError> {
        let c = read_file(cert)?;
        let k = read_file(key)?;
        let label = if cert == key {
            cert.display().to_string()
        } else {
            format!("{} + {}", cert.display(), key.display())
        };
        Self::from_pem(&c, &k, &label)
    }

    /// The certificates, end-entity first.
    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// Loads the key for signing and checks it matches the end-entity cert.
    pub(crate) fn certified_key(
        &self,
        provider: &CryptoProvider,
    ) -> Result<Arc<CertifiedKey>, ConfigError> {
        let signer = provider
            .key_provider
            .load_private_key(self.key.clone_key())
            .map_err(|_| ConfigError::BadKey(self.label.clone()))?;
        let ck = CertifiedKey::new(self.certs.clone(), signer);
        match ck.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(Arc::new(ck))
            }
            Err(rustls::Error::InconsistentKeys(_)) => {
                Err(ConfigError::KeyMismatch(self.label.clone()))
            }
            Err(_) => Err(ConfigError::GarbledPem(self.label.clone())),
        }
    }
}

/// A server context: one rustls `ServerConfig` (certificates by SNI,
/// ALPN, resumption) and the clock its connections share.
#[derive(Clone, Debug)]
pub struct ServerTls {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) clock: Arc<Clock>,
    resolver: Arc<SniResolver>,
}

impl ServerTls {
    /// A builder with the defaults: ALPN `h2` then `http/1.1`, TLS 1.3 and
    /// 1.2, tickets on, session cache of 4096, SNI cache of 256 names.
    pub fn builder() -> ServerTlsBuilder {
        ServerTlsBuilder {
            default: None,
            sni: Vec::new(),
            alpn: vec![Alpn::H2, Alpn::Http11],
            versions: vec![TlsVersion::Tls13, TlsVersion::Tls12],
            session_cache: 4096,
            tickets: true,
            sni_cache: 256,
        }
    }

    /// SNI cache counters.
    pub fn sni_stats(&self) -> CacheStats {
        self.resolver.stats()
    }

    /// The clock shared by this context's connections.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// The underlying rustls configuration.
    pub fn rustls_config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

/// Builds a [`ServerTls`]; see [`ServerTls::builder`].
#[derive(Debug)]
pub struct ServerTlsBuilder {
    default: Option<CertChain>,
    sni: Vec<(String, CertChain)>,
    alpn: Vec<Alpn>,
    versions: Vec<TlsVersion>,
    session_cache: usize,
    tickets: bool,
    sni_cache: usize,
}

impl ServerTlsBuilder {
    /// The chain served without SNI or for names not given to `sni_cert`.
    pub fn cert(mut self, chain: CertChain) -> Self {
        self.default = Some(chain);
        self
    }

    /// The chain served to clients asking for `name` (`*.example.com` allowed).
    pub fn sni_cert(mut self, name: &str, chain: CertChain) -> Self {
        self.sni.push((name.to_string(), chain));
        self
    }

    /// ALPN protocols accepted, in server preference order (empty: no ALPN).
    pub fn alpn(mut self, alpn: &[Alpn]) -> Self {
        self.alpn = alpn.to_vec();
        self
    }

    /// TLS versions enabled.
    pub fn versions(mut self, v: &[TlsVersion]) -> Self {
        self.versions = v.to_vec();
        self
    }

    /// Size of the server-side session cache (TLS 1.2 session ids, TLS 1.3
    /// stateful resumption); 0 disables it.
    pub fn session_cache(mut self, entries: usize) -> Self {
        self.session_cache = entries;
        self
    }

    /// Issue session tickets (TLS 1.3 and RFC 5077) from rustls' rotating
    /// ticketer.
    pub fn tickets(mut self, on: bool) -> Self {
        self.tickets = on;
        self
    }

    /// Number of SNI names whose loaded certificate is kept.
    pub fn sni_cache(mut self, names: usize) -> Self {
        self.sni_cache = names;
        self
    }

    /// Checks everything and builds the context.
    pub fn build(self) -> Result<ServerTls, ConfigError> {
        let provider = provider();
        let mut resolver = SniResolver::new(provider.clone(), self.sni_cache);
        if let Some(chain) = self.default {
            resolver.set_default(chain)?;
        }
        for (name, chain) in self.sni {
            resolver.add(&name, chain)?;
        }
        if resolver.is_empty() {
            return Err(ConfigError::NoServerCertificate);
        }
        let resolver = Arc::new(resolver);
        let clock = Arc::new(Clock::default());
        let mut config = ServerConfig::builder_with_details(provider, clock.clone())
            .with_protocol_versions(&versions(&self.versions))
            .map_err(|e| ConfigError::Rustls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = alpn_ids(&self.alpn);
        config.session_storage = if self.session_cache > 0 {
            ServerSessionMemoryCache::new(self.session_cache)
        } else {
            Arc::new(NoServerSessionStorage {})
        };
        if self.tickets {
            config.ticketer = rustls::crypto::ring::Ticketer::new()
                .map_err(|e| ConfigError::Rustls(e.to_string()))?;
        }
        Ok(ServerTls {
            config: Arc::new(config),
            clock,
            resolver,
        })
    }
}

/// Where a client's trust anchors come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roots {
    /// The operating system's store natively, webpki-roots on wasm or when
    /// the OS store is empty (default).
    System,
    /// The Mozilla roots compiled in (webpki-roots).
    Webpki,
    /// None: only CAs added with `add_ca_pem` / `add_ca_file`.
    None,
}

/// A client context: one rustls `ClientConfig` (roots, ALPN, the session
/// store every connection from it shares, the validation cache) and a cache
/// of parsed server names. Share one per pool.
#[derive(Debug)]
pub struct ClientTls {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) clock: Arc<Clock>,
    verifier: Arc<CachingVerifier>,
    names: Mutex<LruCache<String, ServerName<'static>>>,
    name_hits: AtomicU64,
    name_misses: AtomicU64,
}

impl ClientTls {
    /// A builder with the defaults: system roots, ALPN `h2` then `http/1.1`,
    /// TLS 1.3 and 1.2, a session store of 256 servers, the validation cache
    /// on ([`VerifyCacheConfig::default`]), 256 cached server names.
    pub fn builder() -> ClientTlsBuilder {
        ClientTlsBuilder {
            roots: Roots::System,
            extra: Vec::new(),
            error: None,
            alpn: vec![Alpn::H2, Alpn::Http11],
            versions: vec![TlsVersion::Tls13, TlsVersion::Tls12],
            session_store: 256,
            verify_cache: VerifyCacheConfig::default(),
            host_cache: 256,
        }
    }

    /// The parsed server name for `host` (DNS name or IP literal), through
    /// the per-host cache.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        if let Ok(mut names) = self.names.lock() {
            if let Some(n) = names.get(host) {
                self.name_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(n.clone());
            }
        }
        self.name_misses.fetch_add(1, Ordering::Relaxed);
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| TlsError::InvalidHost(host.to_string()))?;
        if let Ok(mut names) = self.names.lock() {
            names.put(host.to_string(), name.clone());
        }
        Ok(name)
    }

    /// Certificate-validation cache counters.
    pub fn verify_stats(&self) -> CacheStats {
        self.verifier.stats()
    }

    /// Server-name cache counters.
    pub fn name_stats(&self) -> CacheStats {
        CacheStats {
            hits: self.name_hits.load(Ordering::Relaxed),
            misses: self.name_misses.load(Ordering::Relaxed),
            entries: self.names.lock().map(|n| n.len()).unwrap_or(0),
        }
    }

    /// The validation cache itself.
    pub fn verifier(&self) -> &Arc<CachingVerifier> {
        &self.verifier
    }

    /// The clock shared by this context's connections.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// The underlying rustls configuration.
    pub fn rustls_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

/// Builds a [`ClientTls`]; see [`ClientTls::builder`].
#[derive(Debug)]
pub struct ClientTlsBuilder {
    roots: Roots,
    extra: Vec<CertificateDer<'static>>,
    /// First error of `add_ca_*`, reported by `build`.
    error: Option<ConfigError>,
    alpn: Vec<Alpn>,
    versions: Vec<TlsVersion>,
    session_store: usize,
    verify_cache: VerifyCacheConfig,
    host_cache: usize,
}

impl ClientTlsBuilder {
    /// Where the trust anchors come from (default [`Roots::System`]).
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Also trusts the CA certificates of a PEM text (`--cacert`); errors
    /// are reported by `build`.
    pub fn add_ca_pem(mut self, pem: &[u8], label: &str) -> Self {
        match parse_certs(pem, label) {
            Ok(c) => self.extra.extend(c),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Also trusts the CA certificates of a PEM file (`--cacert FILE`).
    pub fn add_ca_file(self, path: &Path) -> Self {
        match read_file(path) {
            Ok(pem) => self.add_ca_pem(&pem, &path.display().to_string()),
            Err(e) => {
                let mut s = self;
                s.error.get_or_insert(e);
                s
            }
        }
    }

    /// ALPN protocols offered, in preference order (empty: no ALPN).
    pub fn alpn(mut self, alpn: &[Alpn]) -> Self {
        self.alpn = alpn.to_vec();
        self
    }

    /// TLS versions enabled.
    pub fn versions(mut self, v: &[TlsVersion]) -> Self {
        self.versions = v.to_vec();
        self
    }

    /// Servers whose sessions are kept for resumption; 0 disables resumption.
    pub fn session_store(mut self, servers: usize) -> Self {
        self.session_store = servers;
        self
    }

    /// Certificate-validation cache settings.
    pub fn verify_cache(mut self, config: VerifyCacheConfig) -> Self {
        self.verify_cache = config;
        self
    }

    /// Number of parsed server names kept.
    pub fn host_cache(mut self, hosts: usize) -> Self {
        self.host_cache = hosts;
        self
    }

    /// Loads the roots, checks everything and builds the context.
    pub fn build(self) -> Result<ClientTls, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let provider = provider();
        let mut store = RootCertStore::empty();
        match self.roots {
            Roots::System => {
                add_system_roots(&mut store);
                if store.is_empty() {
                    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                }
            }
            Roots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Roots::None => {}
        }
        let (added, _) = store.add_parsable_certificates(self.extra.iter().cloned());
        if added < self.extra.len() {
            return Err(ConfigError::NoRoots(
                "a CA certificate is not a usable trust anchor".into(),
            ));
        }
        if store.is_empty() {
            return Err(ConfigError::NoRoots(
                "no root certificates configured".into(),
            ));
        }
        let anchor_id = CachingVerifier::anchor_set_id(
            store
                .roots
                .iter()
                .flat_map(|ta| [ta.subject.as_ref(), ta.subject_public_key_info.as_ref()]),
        );
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(store),
            provider.clone(),
        )
        .build()
        .map_err(|e| ConfigError::NoRoots(e.to_string()))?;
        let verifier = Arc::new(CachingVerifier::new(inner, anchor_id, self.verify_cache));
        let clock = Arc::new(Clock::default());
        let mut config = ClientConfig::builder_with_details(provider, clock.clone())
            .with_protocol_versions(&versions(&self.versions))
            .map_err(|e| ConfigError::Rustls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn_ids(&self.alpn);
        config.resumption = if self.session_store > 0 {
            Resumption::store(Arc::new(ClientSessionMemoryCache::new(self.session_store)))
                .tls12_resumption(Tls12Resumption::SessionIdOrTickets)
        } else {
            Resumption::disabled()
        };
        let cap = NonZeroUsize::new(self.host_cache.max(1)).unwrap_or(NonZeroUsize::MIN);
        Ok(ClientTls {
            config: Arc::new(config),
            clock,
            verifier,
            names: Mutex::new(LruCache::new(cap)),
            name_hits: AtomicU64::new(0),
            name_misses: AtomicU64::new(0),
        })
    }
}

/// Adds the OS store's certificates (unusable ones are skipped).
#[cfg(not(target_arch = "wasm32"))]
fn add_system_roots(store: &mut RootCertStore) {
    let found = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(found.certs);
}

/// No OS store on wasm: the caller falls back to webpki-roots.
#[cfg(target_arch = "wasm32")]
fn add_system_roots(_store: &mut RootCertStore) {}

fn gen_err(e: rcgen::Error) -> ConfigError {
    ConfigError::Generate(e.to_string())
}

fn datetime(t: Duration) -> Result<time::OffsetDateTime, ConfigError> {
    let secs = i64::try_from(t.as_secs()).map_err(|_| ConfigError::Generate("date".into()))?;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| ConfigError::Generate(e.to_string()))
}

/// A certificate authority made with rcgen (ECDSA P-256), issuing leaf
/// certificates with chosen names and validity: for `--self-signed` and
/// tests.
#[derive(Debug)]
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
    der: CertificateDer<'static>,
}

impl TestCa {
    /// A new CA named `common_name`, valid from 1975 to 4096.
    pub fn new(common_name: &str) -> Result<Self, ConfigError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().map_err(gen_err)?;
        let cert = params.self_signed(&key).map_err(gen_err)?;
        Ok(TestCa {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// The CA certificate in PEM (what a client trusts, e.g. `--cacert`).
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate in DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// Issues a leaf for `names` (DNS names or IP literals), valid from
    /// `not_before` to `not_after` (times since the Unix epoch). Returns the
    /// leaf certificate PEM and its private key PEM.
    pub fn issue(
        &self,
        names: &[&str],
        not_before: Duration,
        not_after: Duration,
    ) -> Result<(String, String), ConfigError> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names.clone()).map_err(gen_err)?;
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, first.as_str());
        }
        params.not_before = datetime(not_before)?;
        params.not_after = datetime(not_after)?;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().map_err(gen_err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(gen_err)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// A self-signed set-up for `h2o serve --self-signed`: a fresh CA and a leaf
/// for the given names signed by it.
#[derive(Clone, Debug)]
pub struct SelfSigned {
    /// The CA certificate (PEM) clients must trust; the CLI writes it to a
    /// file and prints where.
    pub ca_pem: String,
    /// The leaf certificate (PEM).
    pub cert_pem: String,
    /// The leaf's private key (PEM).
    pub key_pem: String,
    /// The leaf chain, ready for [`ServerTlsBuilder::cert`].
    pub chain: CertChain,
}

impl SelfSigned {
    /// A CA and a leaf for `names`, valid from one hour before `now` for
    /// `days` days (`now` since the Unix epoch).
    pub fn generate(names: &[&str], now: Duration, days: u64) -> Result<Self, ConfigError> {
        let ca = TestCa::new("h2o self-signed CA")?;
        let from = now.saturating_sub(Duration::from_secs(3600));
        let until = now + Duration::from_secs(days.saturating_mul(86_400));
        let (cert_pem, key_pem) = ca.issue(names, from, until)?;
        let chain = CertChain::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), "self-signed")?;
        Ok(SelfSigned {
            ca_pem: ca.cert_pem().to_string(),
            cert_pem,
            key_pem,
            chain,
        })
    }
}
