//! HPACK encoder (RFC 7541 §4, §6): indexing policy, never-indexed sensitive
//! fields, Huffman when shorter, pending table size updates.
//!
//! Lookup order for a field:
//! 1. static table: the name is matched by length and first/last byte before a
//!    full comparison, exact pairs are checked only for the few static entries
//!    that have values; no hashing for fields that hit the static table;
//! 2. sensitive fields are never-indexed literals (§6.2.3, §7.1.3);
//! 3. dynamic table: two hash maps from a 64-bit hash of (name, value) and of
//!    name to the entry's absolute insertion index; a hit is verified against
//!    the entry's bytes, and evictions remove the map entries that still point
//!    to the evicted index, so the maps stay consistent with the table;
//! 4. otherwise a literal, added to the table unless the policy says not to.
//!
//! Indexing policy (literal *with* incremental indexing unless one applies):
//! - the entry would take more than half of the table (`32 + name + value >
//!   max / 2`): it would evict most of the table for a single field;
//! - values that churn: `:path` with a query string (`?`), `content-length`,
//!   `content-range`, `etag`, `age`, `if-none-match`, `if-modified-since`.
//!
//! Never-indexed literals: fields with `never_index: true`, `authorization`,
//! `proxy-authorization`, and `cookie` / `set-cookie` values shorter than 20
//! bytes (short values can be guessed by probing the compression, §7.1.3).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::primitive::{write_int, write_string};
use super::static_table::{self, idx, STATIC_TABLE};
use super::table::{DynTable, ENTRY_OVERHEAD};
use super::{HeaderField, DEFAULT_TABLE_SIZE};

/// Largest dynamic table the encoder uses, whatever the peer allows: a bigger
/// table costs memory per connection for little compression gain.
pub const MAX_ENCODER_TABLE_SIZE: usize = 64 * 1024;

/// Cookie values shorter than this are encoded never-indexed (§7.1.3).
const SHORT_COOKIE: usize = 20;

/// Encodes field blocks, keeping the dynamic table across blocks of one connection.
#[derive(Debug)]
pub struct Encoder {
    table: DynTable,
    /// (pair hash, name hash if the name is in `by_name`), one per table entry, oldest first.
    hashes: VecDeque<(u64, Option<u64>)>,
    by_pair: HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
    /// Names that are not in the static table.
    by_name: HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
    /// Smallest and last size set since the last block (§4.2).
    pending: Option<(usize, usize)>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new(DEFAULT_TABLE_SIZE)
    }
}

impl Encoder {
    /// An encoder whose dynamic table starts at `max_table_size`.
    pub fn new(max_table_size: usize) -> Self {
        Encoder {
            table: DynTable::new(max_table_size),
            hashes: VecDeque::new(),
            by_pair: HashMap::default(),
            by_name: HashMap::default(),
            pending: None,
        }
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE; the size update is emitted
    /// at the start of the next block (§4.2, §6.3). The encoder uses at most
    /// [`MAX_ENCODER_TABLE_SIZE`]. Call it between blocks only.
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(MAX_ENCODER_TABLE_SIZE);
        self.pending = Some(match self.pending {
            Some((min, _)) => (min.min(size), size),
            None => (size, size),
        });
    }

    /// Current size of the dynamic table in bytes (§4.1 accounting).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Appends the encoding of `fields` (one complete field block) to `out`.
    pub fn encode<'a, I>(&mut self, fields: I, out: &mut Vec<u8>)
    where
        I: IntoIterator<Item = HeaderField<'a>>,
    {
        self.flush_pending(out);
        for field in fields {
            self.encode_field(field, out);
        }
    }

    /// Appends the encoding of one field. A block may be built from several
    /// calls; a pending table size update is emitted before the first field
    /// after [`set_max_table_size`](Self::set_max_table_size), which is then
    /// the start of a block as long as that call happens between blocks.
    #[inline]
    pub fn encode_field(&mut self, field: HeaderField<'_>, out: &mut Vec<u8>) {
        if self.pending.is_some() {
            self.flush_pending(out);
        }
        let HeaderField {
            name,
            value,
            never_index,
        } = field;
        out.reserve(name.len() + value.len() + 8);
        let sidx = static_table::name_index(name);
        // An explicit never-indexed field stays a never-indexed literal even
        // if it matches a static entry, so that intermediaries keep it so.
        if sidx != 0 && !never_index {
            let exact = static_table::exact_index(sidx, value);
            if exact != 0 {
                write_int(out, 0x80, 7, exact);
                return;
            }
        }
        let sensitive = never_index
            || match sidx {
                idx::AUTHORIZATION | idx::PROXY_AUTHORIZATION => true,
                idx::COOKIE | idx::SET_COOKIE => value.len() < SHORT_COOKIE,
                _ => false,
            };
        let use_table = !self.table.is_empty();
        let index = !sensitive && self.should_index(sidx, name, value);
        if !use_table && !index {
            // Nothing to look up, nothing to add: skip hashing.
            let first = if sensitive { 0x10 } else { 0x00 };
            write_literal(out, first, 4, sidx, name, value);
            return;
        }
        // Static names hash by index, others by bytes.
        let name_hash = if sidx != 0 {
            mix(sidx as u64)
        } else {
            hash_bytes(0x6e61_6d65, name)
        };
        if sensitive {
            let name_idx = if sidx != 0 { sidx } else { self.dynamic_name(name_hash, name) };
            write_literal(out, 0x10, 4, name_idx, name, value);
            return;
        }
        let pair_hash = hash_bytes(name_hash, value);
        if use_table {
            if let Some(&abs) = self.by_pair.get(&pair_hash) {
                if let Some(i) = self.table.relative(abs) {
                    if self.table.get(i) == Some((name, value)) {
                        write_int(out, 0x80, 7, STATIC_TABLE.len() + 1 + i);
                        return;
                    }
                }
            }
        }
        let name_idx = if sidx != 0 { sidx } else { self.dynamic_name(name_hash, name) };
        if !index {
            write_literal(out, 0x00, 4, name_idx, name, value);
            return;
        }
        write_literal(out, 0x40, 6, name_idx, name, value);
        self.insert(name, value, pair_hash, (sidx == 0).then_some(name_hash));
    }

    /// HPACK index of a dynamic entry named `name`, or 0.
    #[inline]
    fn dynamic_name(&self, name_hash: u64, name: &[u8]) -> usize {
        if let Some(&abs) = self.by_name.get(&name_hash) {
            if let Some(i) = self.table.relative(abs) {
                if self.table.get(i).is_some_and(|(n, _)| n == name) {
                    return STATIC_TABLE.len() + 1 + i;
                }
            }
        }
        0
    }

    #[inline]
    fn should_index(&self, sidx: usize, name: &[u8], value: &[u8]) -> bool {
        if ENTRY_OVERHEAD + name.len() + value.len() > self.table.max_size() / 2 {
            return false;
        }
        match sidx {
            idx::PATH => !value.contains(&b'?'),
            idx::CONTENT_LENGTH
            | idx::CONTENT_RANGE
            | idx::ETAG
            | idx::AGE
            | idx::IF_NONE_MATCH
            | idx::IF_MODIFIED_SINCE => false,
            _ => true,
        }
    }

    fn insert(&mut self, name: &[u8], value: &[u8], pair_hash: u64, name_hash: Option<u64>) {
        let abs = self.table.next_abs();
        let (hashes, by_pair, by_name) = (&mut self.hashes, &mut self.by_pair, &mut self.by_name);
        let added = self.table.insert(name, value, |evicted| {
            evict_hashes(hashes, by_pair, by_name, evicted);
        });
        if added {
            self.hashes.push_back((pair_hash, name_hash));
            self.by_pair.insert(pair_hash, abs);
            if let Some(h) = name_hash {
                self.by_name.insert(h, abs);
            }
        }
    }

    fn flush_pending(&mut self, out: &mut Vec<u8>) {
        let Some((min, last)) = self.pending.take() else {
            return;
        };
        let (hashes, by_pair, by_name) = (&mut self.hashes, &mut self.by_pair, &mut self.by_name);
        if min < self.table.max_size() {
            write_int(out, 0x20, 5, min);
            self.table
                .set_max_size(min, |evicted| evict_hashes(hashes, by_pair, by_name, evicted));
        }
        if last != self.table.max_size() {
            write_int(out, 0x20, 5, last);
            self.table
                .set_max_size(last, |evicted| evict_hashes(hashes, by_pair, by_name, evicted));
        }
    }
}

/// Drops the map entries of the evicted entry `abs` (the oldest), unless a
/// newer entry with the same key took them over.
fn evict_hashes(
    hashes: &mut VecDeque<(u64, Option<u64>)>,
    by_pair: &mut HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
    by_name: &mut HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
    abs: u64,
) {
    if let Some((pair, name)) = hashes.pop_front() {
        if by_pair.get(&pair) == Some(&abs) {
            by_pair.remove(&pair);
        }
        if let Some(name) = name {
            if by_name.get(&name) == Some(&abs) {
                by_name.remove(&name);
            }
        }
    }
}

#[inline]
fn write_literal(out: &mut Vec<u8>, first: u8, prefix: u32, name_idx: usize, name: &[u8], value: &[u8]) {
    write_int(out, first, prefix, name_idx);
    if name_idx == 0 {
        write_string(out, name);
    }
    write_string(out, value);
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// Finaliser (murmur3 fmix64): spreads every input bit over the output, as
/// the hash map uses both the low and the high bits.
#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// 64-bit hash of `s`, 8 bytes per step. Not keyed: hits are verified against
/// the table, and the table holds at most `MAX_ENCODER_TABLE_SIZE / 32` entries.
#[inline]
fn hash_bytes(seed: u64, s: &[u8]) -> u64 {
    let mut h = seed ^ (s.len() as u64).wrapping_mul(K);
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    mix(h)
}

/// The keys are already hashes.
#[derive(Default, Clone, Copy, Debug)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(K);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}
