//! Per-connection interning of received header names, and the pool of
//! `HeaderMap`s handed back by the application.
//!
//! Names: standard names (the HPACK static table's and the other common ones
//! `http` knows, e.g. `user-agent`, `x-frame-options`) are `http`'s shared
//! constants and never allocate. Any other name costs one allocation the first
//! time it is seen; [`NameTable`] keeps it, so the same name in later blocks is
//! a reference-count increment. The table is a direct-mapped cache of
//! [`NAME_SLOTS`] entries holding names up to [`NAME_MAX_LEN`] bytes: a peer
//! sending endless distinct names only replaces entries, so the table never
//! holds more than `NAME_SLOTS` names or `NAME_SLOTS * NAME_MAX_LEN` bytes.
//! A name is checked (lowercase token, RFC 9113 §8.2.1; scalar) only on a
//! miss: a hit's bytes equal a name that passed the check.
//!
//! The table also keeps the connection's last `:authority` and `:path`
//! (slices of the value store, dropped when the store's chunk is renewed):
//! a request repeating them shares them instead of copying and parsing.

use http::header::HeaderName;
use http::uri::{Authority, PathAndQuery};
use http::HeaderMap;

/// Entries of the name table (a power of two).
pub(crate) const NAME_SLOTS: usize = 128;

/// Longest name the table keeps (longer names are built each time).
pub(crate) const NAME_MAX_LEN: usize = 64;

/// Bounded intern table of header names (see the module docs), and the
/// connection's last `:authority` and `:path`.
#[derive(Debug, Default)]
pub(crate) struct NameTable {
    /// Allocated on the first name that is not a standard one.
    slots: Vec<Option<HeaderName>>,
    /// Bytes of the names held (for the bound test).
    bytes: usize,
    /// The last `:authority` parsed: a client sends the same one on every
    /// request of a connection, so later requests share it (a
    /// reference-count increment) instead of copying and parsing it again.
    authority: Option<Authority>,
    /// The last `:path` parsed, likewise (repeated paths: polling, health
    /// checks, benchmarks; a different path costs one comparison).
    path: Option<PathAndQuery>,
}

/// `name` as a `HeaderName` if it is a lowercase token. (`http` would take
/// uppercase letters and lowercase them; HTTP/2 forbids them, §8.2.1.)
fn checked(name: &[u8]) -> Result<HeaderName, &'static str> {
    if name.iter().any(u8::is_ascii_uppercase) {
        return Err("uppercase character in a field name");
    }
    HeaderName::from_bytes(name).map_err(|_| "invalid field name")
}

/// FNV-1a over the name: cheap and good enough to spread names over slots.
#[inline]
fn slot_of(name: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    (h as usize) & (NAME_SLOTS - 1)
}

impl NameTable {
    /// The `HeaderName` for `name`, or why it is not a valid HTTP/2 field
    /// name (RFC 9113 §8.2.1: a lowercase token). A hit returns a clone of
    /// the interned name (no allocation) and needs no check: the bytes equal
    /// a name that passed it. A miss is checked, scalar: names are short
    /// and each is checked once per connection while it stays interned.
    pub(crate) fn get(&mut self, name: &[u8]) -> Result<HeaderName, &'static str> {
        if name.len() > NAME_MAX_LEN {
            return checked(name);
        }
        let i = slot_of(name);
        if let Some(Some(n)) = self.slots.get(i) {
            if n.as_str().as_bytes() == name {
                return Ok(n.clone());
            }
        }
        let n = checked(name)?;
        if self.slots.is_empty() {
            self.slots.reserve_exact(NAME_SLOTS);
            self.slots.resize(NAME_SLOTS, None);
        }
        let old = self.slots[i].replace(n.clone());
        self.bytes = self.bytes + name.len() - old.map_or(0, |o| o.as_str().len());
        Ok(n)
    }

    /// The last `:authority` kept, if its bytes are `value`. It passed
    /// every check `value` would have to pass.
    #[inline]
    pub(crate) fn authority(&self, value: &[u8]) -> Option<&Authority> {
        self.authority
            .as_ref()
            .filter(|a| a.as_str().as_bytes() == value)
    }

    /// Keeps `a` for [`authority`](Self::authority).
    pub(crate) fn keep_authority(&mut self, a: &Authority) {
        self.authority = Some(a.clone());
    }

    /// The last `:path` kept, if its bytes are `value`. It passed every
    /// check `value` would have to pass.
    #[inline]
    pub(crate) fn path(&self, value: &[u8]) -> Option<&PathAndQuery> {
        self.path
            .as_ref()
            .filter(|p| p.as_str().as_bytes() == value)
    }

    /// Keeps `p` for [`path`](Self::path).
    pub(crate) fn keep_path(&mut self, p: &PathAndQuery) {
        self.path = Some(p.clone());
    }

    /// Drops the kept `:authority` and `:path`: they are slices of the
    /// value store, whose chunk is reclaimed in place only when nothing
    /// else holds it.
    pub(crate) fn forget_pseudo(&mut self) {
        self.authority = None;
        self.path = None;
    }

    /// Names held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

/// `HeaderMap`s kept for reuse at most (see [`HeaderPool`]): enough for a
/// client keeping 32 requests in flight (h2load `-m 32`; with the earlier
/// 16, half of the maps of such a load were allocated and freed per
/// request). Not more: a connection holds its pool between bursts
/// (`scripts/bench-rss.sh`, 1,000 connections with 100 streams each: peak
/// RSS 90 MiB with 128 maps, 56–75 MiB with 32, 50 MiB with 16).
pub(crate) const MAP_POOL: usize = 32;

/// A map whose entry capacity exceeds this is dropped instead of pooled
/// (maps of up to 48 entries are kept: the pool holds at most
/// `MAP_POOL` × 48 entries).
pub(crate) const MAP_MAX_CAPACITY: usize = 64;

/// Emptied `HeaderMap`s the application gave back with
/// `Connection::recycle_headers`; decoded heads take their maps from here, so
/// an application that recycles makes received heads allocation-free. Bounded
/// in count ([`MAP_POOL`]) and in each map's capacity ([`MAP_MAX_CAPACITY`]).
#[derive(Debug, Default)]
pub(crate) struct HeaderPool {
    maps: Vec<HeaderMap>,
}

impl HeaderPool {
    /// An empty map, pooled when one is available.
    pub(crate) fn take(&mut self) -> HeaderMap {
        self.maps.pop().unwrap_or_default()
    }

    /// Empties `map` and keeps it, unless the pool is full or the map is large.
    pub(crate) fn give(&mut self, mut map: HeaderMap) {
        if map.capacity() == 0 || map.capacity() > MAP_MAX_CAPACITY {
            return;
        }
        if self.maps.len() < MAP_POOL {
            // The list grows (by doubling) only as far as the load needs.
            map.clear();
            self.maps.push(map);
        }
    }

    /// Maps held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.maps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names_are_constants() {
        let mut t = NameTable::default();
        assert_eq!(t.get(b"user-agent"), Ok(http::header::USER_AGENT));
        assert_eq!(t.get(b"x-frame-options"), Ok(http::header::X_FRAME_OPTIONS));
        assert_eq!(t.get(b"bad name"), Err("invalid field name"));
        assert_eq!(t.get(b""), Err("invalid field name"));
        assert_eq!(t.get(b"X-Up"), Err("uppercase character in a field name"));
        let long = vec![b'A'; NAME_MAX_LEN + 1];
        assert_eq!(t.get(&long), Err("uppercase character in a field name"));
    }

    #[test]
    fn custom_names_are_interned() {
        let mut t = NameTable::default();
        let a = t.get(b"x-request-id").unwrap();
        let b = t.get(b"x-request-id").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "x-request-id");
        assert_eq!(t.len(), 1);
        // Same bytes, same shared buffer (a clone, not a new allocation).
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        let long = vec![b'a'; NAME_MAX_LEN + 1];
        assert_eq!(t.get(&long).unwrap().as_str().len(), NAME_MAX_LEN + 1);
        assert_eq!(t.len(), 1, "long names are not kept");
    }

    #[test]
    fn a_million_distinct_names_stay_bounded() {
        let mut t = NameTable::default();
        let mut name = Vec::with_capacity(NAME_MAX_LEN);
        for i in 0..1_000_000u32 {
            name.clear();
            name.extend_from_slice(b"x-");
            name.extend_from_slice(format!("{i:x}").as_bytes());
            // Up to the longest name kept.
            name.resize(2 + (i as usize % (NAME_MAX_LEN - 1)).max(8), b'z');
            let n = t.get(&name).unwrap();
            assert_eq!(n.as_str().as_bytes(), &name[..]);
            assert!(t.slots.len() <= NAME_SLOTS);
            assert!(t.bytes <= NAME_SLOTS * NAME_MAX_LEN);
        }
        assert_eq!(t.slots.capacity(), NAME_SLOTS);
        assert!(t.len() <= NAME_SLOTS);
        let held: usize = t.slots.iter().flatten().map(|n| n.as_str().len()).sum();
        assert_eq!(held, t.bytes);
    }

    #[test]
    fn header_pool_is_bounded_and_clears() {
        let mut p = HeaderPool::default();
        for _ in 0..MAP_POOL + 20 {
            let mut m = HeaderMap::new();
            m.insert(http::header::SERVER, "x".parse().unwrap());
            p.give(m);
        }
        assert_eq!(p.len(), MAP_POOL);
        let m = p.take();
        assert!(m.is_empty() && m.capacity() > 0);
        p.give(HeaderMap::with_capacity(MAP_MAX_CAPACITY + 1));
        assert_eq!(p.len(), MAP_POOL - 1, "large maps are dropped");
        p.give(HeaderMap::new());
        assert_eq!(p.len(), MAP_POOL - 1, "empty maps are not worth keeping");
    }
}
