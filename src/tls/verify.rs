//! Client certificate-validation cache: a rustls `ServerCertVerifier` that
//! wraps the webpki verifier and remembers successful path validations.
//!
//! Key: SHA-256 over the end-entity certificate, the intermediates, the
//! server name and the trust-anchor set id. An entry lives no longer than the
//! configured TTL and never past the earliest notAfter of the presented chain
//! (parsed with `x509-parser`); a chain whose dates cannot be read is never
//! cached. Only successes are cached. The cache skips path building only: the
//! handshake signature (`verify_tls12_signature` / `verify_tls13_signature`)
//! is always checked by the inner verifier. Bounded LRU (`lru` crate), hit
//! and miss counters.

use core::time::Duration;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use ring::digest;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

/// Settings of the certificate-validation cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyCacheConfig {
    /// Cache successful validations at all (default `true`).
    pub enabled: bool,
    /// Most entries kept (least recently used go first; default 1024).
    pub capacity: usize,
    /// Longest life of an entry (default one hour); never past the chain's
    /// earliest notAfter either.
    pub ttl: Duration,
}

impl Default for VerifyCacheConfig {
    fn default() -> Self {
        VerifyCacheConfig {
            enabled: true,
            capacity: 1024,
            ttl: Duration::from_secs(3600),
        }
    }
}

/// Counters of a cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to do the full work.
    pub misses: u64,
    /// Entries held now.
    pub entries: usize,
}

/// A cached successful validation.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// When it was validated (seconds since the epoch): a clock that went
    /// back before this makes the entry unusable.
    validated: u64,
    /// First second at which the entry is no longer valid.
    expires: u64,
}

/// `ServerCertVerifier` with a validation cache in front of an inner verifier
/// (normally rustls' `WebPkiServerVerifier`). See the module docs.
#[derive(Debug)]
pub struct CachingVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    anchors: [u8; 32],
    config: VerifyCacheConfig,
    cache: Mutex<LruCache<[u8; 32], Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CachingVerifier {
    /// Wraps `inner`; `anchor_set_id` identifies its trust anchors (see
    /// [`CachingVerifier::anchor_set_id`]) so caches of different root sets
    /// never share entries.
    pub fn new(
        inner: Arc<dyn ServerCertVerifier>,
        anchor_set_id: [u8; 32],
        config: VerifyCacheConfig,
    ) -> Self {
        let cap = NonZeroUsize::new(config.capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        CachingVerifier {
            inner,
            anchors: anchor_set_id,
            config,
            cache: Mutex::new(LruCache::new(cap)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// SHA-256 over a set of trust-anchor certificates (in the given order).
    pub fn anchor_set_id<'a>(anchors: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for a in anchors {
            ctx.update(&(a.len() as u64).to_be_bytes());
            ctx.update(a);
        }
        let mut out = [0; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Hit/miss counters and the current size.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.cache.lock().map(|c| c.len()).unwrap_or(0),
        }
    }

    /// Drops every entry (counters stay).
    pub fn clear(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// The settings in use.
    pub fn config(&self) -> VerifyCacheConfig {
        self.config
    }

    fn key(
        &self,
        end_entity: &[u8],
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        // Length-prefixed fields: no two different inputs hash the same bytes.
        let mut field = |b: &[u8]| {
            ctx.update(&(b.len() as u64).to_be_bytes());
            ctx.update(b);
        };
        field(&self.anchors);
        field(server_name.to_str().as_bytes());
        field(end_entity);
        for c in intermediates {
            field(c);
        }
        let mut out = [0; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

/// Earliest notAfter (seconds since the epoch) of the chain; `None` when a
/// certificate cannot be parsed or has a date before the epoch.
fn earliest_not_after(end_entity: &[u8], intermediates: &[CertificateDer<'_>]) -> Option<u64> {
    let mut min = u64::MAX;
    for der in core::iter::once(end_entity).chain(intermediates.iter().map(|c| c.as_ref())) {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let t = u64::try_from(cert.validity().not_after.timestamp()).ok()?;
        min = min.min(t);
    }
    Some(min)
}

impl ServerCertVerifier for CachingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if !self.config.enabled {
            return self.inner.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
        }
        let t = now.as_secs();
        let key = self.key(end_entity, intermediates, server_name);
        if let Ok(mut cache) = self.cache.lock() {
            match cache.get(&key) {
                Some(e) if e.validated <= t && t < e.expires => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(ServerCertVerified::assertion());
                }
                Some(_) => {
                    cache.pop(&key);
                }
                None => {}
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        // notAfter is the last valid second (RFC 5280 §4.1.2.5): the entry
        // stops being usable one second later.
        if let Some(not_after) = earliest_not_after(end_entity, intermediates) {
            let expires = t
                .saturating_add(self.config.ttl.as_secs())
                .min(not_after.saturating_add(1));
            if expires > t {
                if let Ok(mut cache) = self.cache.lock() {
                    cache.put(
                        key,
                        Entry {
                            validated: t,
                            expires,
                        },
                    );
                }
            }
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}
