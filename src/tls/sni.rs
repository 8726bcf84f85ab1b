//! Server SNI cache: resolves the certificate for the name a client asks for
//! (TLS SNI) through a bounded LRU of loaded certificates.
//!
//! Names are registered with their PEM chain + key ([`CertChain`], checked
//! when registered: parse errors and key/cert mismatches surface at
//! configuration time). Loading a chain into a rustls `CertifiedKey` (key
//! parsing, signer set-up) happens on first use of a name and is cached;
//! exact names win over `*.suffix` wildcards, and a client without SNI (or
//! with an unknown name) gets the default chain, if any.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{CacheStats, CertChain, ConfigError};

/// `ResolvesServerCert` with per-SNI-name certificates and a bounded cache
/// of loaded ones. See the module docs.
pub struct SniResolver {
    provider: Arc<CryptoProvider>,
    /// Exact names (lower case) and `*.suffix` wildcards -> index in `chains`.
    names: HashMap<String, usize>,
    chains: Vec<CertChain>,
    default: Option<usize>,
    /// Requested name (lower case; "" = no SNI) -> loaded chain.
    cache: Mutex<LruCache<String, Option<Arc<CertifiedKey>>>>,
    /// Chain index -> loaded chain, so names sharing a chain (wildcards,
    /// unknown names served the default) load it once.
    loaded: Mutex<LruCache<usize, Arc<CertifiedKey>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver")
            .field("names", &self.names.keys().collect::<Vec<_>>())
            .field("stats", &self.stats())
            .finish()
    }
}

impl SniResolver {
    /// An empty resolver keeping at most `capacity` loaded names.
    pub fn new(provider: Arc<CryptoProvider>, capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        SniResolver {
            provider,
            names: HashMap::new(),
            chains: Vec::new(),
            default: None,
            cache: Mutex::new(LruCache::new(cap)),
            loaded: Mutex::new(LruCache::new(cap)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Serves `chain` to clients asking for `name` (a DNS name, or
    /// `*.example.com` for any one label under it). The chain is loaded once
    /// here to report errors now.
    pub fn add(&mut self, name: &str, chain: CertChain) -> Result<(), ConfigError> {
        let lower = name.to_ascii_lowercase();
        let bare = lower.strip_prefix("*.").unwrap_or(&lower);
        if rustls::pki_types::DnsName::try_from(bare).is_err() {
            return Err(ConfigError::BadName(name.to_string()));
        }
        chain.certified_key(&self.provider)?;
        self.chains.push(chain);
        self.names.insert(lower, self.chains.len() - 1);
        Ok(())
    }

    /// Serves `chain` to clients without SNI or with a name not registered.
    pub fn set_default(&mut self, chain: CertChain) -> Result<(), ConfigError> {
        chain.certified_key(&self.provider)?;
        self.chains.push(chain);
        self.default = Some(self.chains.len() - 1);
        Ok(())
    }

    /// True when no certificate at all is configured.
    pub fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }

    /// Hit/miss counters and the number of cached names.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.cache.lock().map(|c| c.len()).unwrap_or(0),
        }
    }

    /// Which chain serves `name` (lower case): exact, then wildcard, then default.
    fn lookup(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.names.get(name) {
            return Some(i);
        }
        if let Some((_, parent)) = name.split_once('.') {
            if let Some(&i) = self.names.get(&format!("*.{parent}")) {
                return Some(i);
            }
        }
        self.default
    }

    /// The certificate for `sni` (`None`: no SNI), through the cache.
    pub fn resolve_name(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let name = sni.unwrap_or("").to_ascii_lowercase();
        if let Ok(mut cache) = self.cache.lock() {
            if let Some(hit) = cache.get(&name) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return hit.clone();
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let loaded = self.lookup(&name).and_then(|i| self.load(i));
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(name, loaded.clone());
        }
        loaded
    }
}

impl SniResolver {
    /// Chain `i` loaded, through the per-chain cache.
    fn load(&self, i: usize) -> Option<Arc<CertifiedKey>> {
        if let Ok(mut loaded) = self.loaded.lock() {
            if let Some(k) = loaded.get(&i) {
                return Some(k.clone());
            }
        }
        // Chains were checked by `add`/`set_default`, so loading succeeds.
        let key = self.chains.get(i)?.certified_key(&self.provider).ok()?;
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.put(i, key.clone());
        }
        Some(key)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.resolve_name(client_hello.server_name())
    }
}
