//! HPACK encoder (RFC 7541 §4, §6): indexing policy, never-indexed sensitive
//! fields, Huffman when shorter, pending table size updates.
//!
//! Lookup order for a field:
//! 1. static table: a perfect hash of (length, first byte, last byte) gives
//!    the only candidate name, confirmed by one comparison; exact pairs are
//!    checked only for the few static entries that have values;
//! 2. sensitive fields are never-indexed literals (§6.2.3, §7.1.3);
//! 3. dynamic table: for a static name, the newest entry with that name
//!    (one slot per static index) is checked first; then two small 4-way
//!    set-associative indexes (no hash map, no allocation after
//!    construction) from a 64-bit hash of (name, value)
//!    and of name to the entry's absolute insertion index; a hit is verified
//!    against the entry's bytes, and evictions clear the slots that still
//!    point to the evicted index, so the indexes stay consistent with the
//!    table. A slot lost to a collision only costs a missed compression
//!    opportunity, never a wrong index. Static names hash by their static
//!    index, so their bytes are not hashed;
//! 4. otherwise a literal, added to the table unless the policy says not to.
//!
//! Indexing policy (literal *with* incremental indexing unless one applies):
//! - the entry would take more than half of the table (`32 + name + value >
//!   max / 2`): it would evict most of the table for a single field;
//! - values that may churn — `:path` with a query string (`?`),
//!   `content-length`, `content-range`, `etag`, `age`, `if-none-match`,
//!   `if-modified-since` — are indexed only once they repeat: the first
//!   occurrence of such a (name, value) pair is a literal without indexing
//!   and its hash is remembered in a small direct-mapped filter
//!   ([`SEEN_SLOTS`] slots, no allocation); a later occurrence that finds its
//!   hash there is indexed. So a static file's `etag` and `content-length`
//!   cost a few bytes after the second response, while one-off values never
//!   evict useful entries.
//!
//! Never-indexed literals: fields with `never_index: true`, `authorization`,
//! `proxy-authorization`, and `cookie` / `set-cookie` values shorter than 20
//! bytes (short values can be guessed by probing the compression, §7.1.3).

use std::collections::VecDeque;

use super::primitive::{write_int, write_string};
use super::static_table::{self, bytes_eq, idx, STATIC_TABLE};
use super::table::{DynTable, ENTRY_OVERHEAD};
use super::{HeaderField, DEFAULT_TABLE_SIZE};

/// Largest dynamic table the encoder uses, whatever the peer allows: a bigger
/// table costs memory per connection for little compression gain.
pub const MAX_ENCODER_TABLE_SIZE: usize = 16 * 1024;

/// Cookie values shorter than this are encoded never-indexed (§7.1.3).
const SHORT_COOKIE: usize = 20;

/// Slots of the filter of churn-prone (name, value) pairs seen once.
const SEEN_SLOTS: usize = 64;

/// Encodes field blocks, keeping the dynamic table across blocks of one connection.
#[derive(Debug)]
pub struct Encoder {
    table: DynTable,
    /// (pair hash, name key), one per table entry, oldest first.
    hashes: VecDeque<(u64, NameKey)>,
    by_pair: Index,
    /// Names that are not in the static table.
    by_name: Index,
    /// For each static-table name (by static index), the truncated absolute
    /// index + 1 of the newest dynamic entry with that name (0 = none):
    /// a repeated field with a static name is found by one value comparison,
    /// without hashing. Cleared when that entry is evicted.
    by_static: [u32; STATIC_TABLE.len() + 1],
    /// Smallest and last size set since the last block (§4.2).
    pending: Option<(usize, usize)>,
    /// Pair hashes of churn-prone fields seen once (direct-mapped; 0 = empty).
    seen: [u64; SEEN_SLOTS],
    /// Fields to add to the next block (see [`Encoder::set_priming`]).
    priming: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bumped by every change of the state above (see [`Encoder::version`]).
    version: u64,
}

/// Most fields [`Encoder::set_priming`] takes.
pub const MAX_PRIMING_FIELDS: usize = 64;

impl Default for Encoder {
    fn default() -> Self {
        Self::new(DEFAULT_TABLE_SIZE)
    }
}

impl Encoder {
    /// An encoder whose dynamic table starts at `max_table_size` (the size
    /// both ends assume, normally [`DEFAULT_TABLE_SIZE`]; it is not capped by
    /// [`MAX_ENCODER_TABLE_SIZE`], since that would need a size update).
    pub fn new(max_table_size: usize) -> Self {
        Encoder {
            table: DynTable::new(max_table_size),
            hashes: VecDeque::new(),
            by_pair: Index::new(max_table_size),
            by_name: Index::new(max_table_size),
            by_static: [0; STATIC_TABLE.len() + 1],
            pending: None,
            seen: [0; SEEN_SLOTS],
            priming: Vec::new(),
            version: 0,
        }
    }

    /// A number that changes whenever the encoder's state changes (dynamic
    /// table, pending size update, the filter of churn-prone pairs, pending
    /// priming) and never takes an earlier value again. Encoding is a
    /// function of that state and the fields, so a block that left the
    /// version unchanged is exactly what the same fields encode to for as
    /// long as the version stays the same: a caller may re-emit those bytes
    /// instead of encoding again (the connection does so for a shared
    /// response head).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Priming: `fields` (name, value) are added to the next block encoded
    /// with [`encode`](Self::encode) (normally the connection's first) as
    /// literals *with incremental indexing*, whatever the indexing policy
    /// says, so that every later block can refer to them by index. Any HPACK
    /// decoder handles this: it is plain RFC 7541, nothing is negotiated.
    ///
    /// They are real fields of that block, appended after the block's own
    /// fields (pseudo-header fields stay first), except those whose name the
    /// block already carries (no duplicates, no changed values). A field the
    /// static or dynamic table already holds exactly is sent as an index.
    /// Sensitive fields (`authorization`, `proxy-authorization`, short
    /// cookies, see the module docs) and fields larger than half the table
    /// are left out; names must be lowercase. At most
    /// [`MAX_PRIMING_FIELDS`] are kept; later ones are dropped. Replaces any
    /// priming not yet sent.
    pub fn set_priming<N, V>(&mut self, fields: impl IntoIterator<Item = (N, V)>)
    where
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        self.version += 1;
        self.priming.clear();
        for (n, v) in fields.into_iter().take(MAX_PRIMING_FIELDS) {
            let (n, v) = (n.as_ref(), v.as_ref());
            let sidx = static_table::name_index(n);
            if is_sensitive(sidx, v)
                || self.should_index(sidx, n, v) == Some(false)
                || n.first() == Some(&b':')
            {
                continue;
            }
            self.priming.push((n.to_vec(), v.to_vec()));
        }
    }

    /// Whether priming fields wait for the next block.
    pub fn priming_pending(&self) -> bool {
        !self.priming.is_empty()
    }

    /// RFC 7541 §4.1 size (`32 + name + value` each) of the pending priming
    /// fields: what they add at most to the next block's header list size.
    pub fn priming_list_size(&self) -> usize {
        self.priming
            .iter()
            .map(|(n, v)| ENTRY_OVERHEAD + n.len() + v.len())
            .sum()
    }

    /// Inserts `fields` into the dynamic table, in order, as literals with
    /// incremental indexing would (RFC 7541 §4.4), without emitting anything:
    /// the peer's decoder must apply the same list at the same point of the
    /// block sequence ([`Decoder::apply_preset`](super::Decoder::apply_preset)),
    /// see [`preset`](super::preset). Call it between blocks only.
    pub fn apply_preset(&mut self, fields: &[(&str, &str)]) {
        for (n, v) in fields {
            let (name, value) = (n.as_bytes(), v.as_bytes());
            let sidx = static_table::name_index(name);
            let name_hash = if sidx != 0 {
                mix(sidx as u64)
            } else {
                hash_bytes(0x6e61_6d65, name)
            };
            let pair_hash = hash_bytes(name_hash, value);
            self.insert(name, value, pair_hash, name_key(sidx, name_hash));
        }
    }

    /// Drops the pending priming fields (e.g. when the next block with them
    /// would exceed the peer's header list size limit).
    pub fn cancel_priming(&mut self) {
        self.version += 1;
        self.priming = Vec::new();
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE; the size update is emitted
    /// at the start of the next block (§4.2, §6.3). The encoder uses at most
    /// [`MAX_ENCODER_TABLE_SIZE`]. Call it between blocks only.
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(MAX_ENCODER_TABLE_SIZE);
        self.version += 1;
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
        if self.priming.is_empty() {
            // `for_each` lets chained/flattened iterators run their parts in
            // turn instead of re-checking which part is current per field.
            fields
                .into_iter()
                .for_each(|field| self.encode_field(field, out));
            return;
        }
        // Names the block carries itself (bit i: priming field i).
        let mut present: u64 = 0;
        for field in fields {
            for (i, (n, _)) in self.priming.iter().enumerate() {
                if n[..] == *field.name {
                    present |= 1 << i;
                }
            }
            self.encode_field(field, out);
        }
        self.version += 1;
        let priming = core::mem::take(&mut self.priming);
        for (i, (n, v)) in priming.iter().enumerate() {
            if present & (1 << i) == 0 {
                self.encode_primed(n, v, out);
            }
        }
    }

    /// Relative index of a dynamic entry equal to `name: value` (looked up
    /// by its pair hash), if there is one.
    #[inline]
    fn dynamic_exact(&self, pair_hash: u64, name: &[u8], value: &[u8]) -> Option<usize> {
        let i = self.table.relative32(self.by_pair.get(pair_hash)?)?;
        self.table
            .get(i)
            .is_some_and(|(n, v)| bytes_eq(n, name) && bytes_eq(v, value))
            .then_some(i)
    }

    /// A priming field: indexed if a table holds it exactly, else a literal
    /// with incremental indexing (added to the table).
    fn encode_primed(&mut self, name: &[u8], value: &[u8], out: &mut Vec<u8>) {
        let sidx = static_table::name_index(name);
        if sidx != 0 {
            let exact = static_table::exact_index(sidx, value);
            if exact != 0 {
                write_int(out, 0x80, 7, exact);
                return;
            }
        }
        let name_hash = if sidx != 0 {
            mix(sidx as u64)
        } else {
            hash_bytes(0x6e61_6d65, name)
        };
        let pair_hash = hash_bytes(name_hash, value);
        if let Some(i) = self.dynamic_exact(pair_hash, name, value) {
            write_int(out, 0x80, 7, STATIC_TABLE.len() + 1 + i);
            return;
        }
        let name_idx = if sidx != 0 {
            sidx
        } else {
            self.dynamic_name(name_hash, name)
        };
        write_literal(out, 0x40, 6, name_idx, name, value);
        self.insert(name, value, pair_hash, name_key(sidx, name_hash));
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
        let sensitive = never_index || is_sensitive(sidx, value);
        let use_table = !self.table.is_empty();
        if sidx != 0 && use_table && !sensitive {
            // A repeated field with a static name is usually the newest entry
            // with that name: found by one value comparison, without hashing.
            // (A hit does not depend on the indexing policy, which only
            // decides what a miss adds.)
            let newest = self.by_static[sidx];
            if newest != 0 {
                if let Some(i) = self.table.relative32(newest.wrapping_sub(1)) {
                    if self.table.get(i).is_some_and(|(_, v)| bytes_eq(v, value)) {
                        write_int(out, 0x80, 7, STATIC_TABLE.len() + 1 + i);
                        return;
                    }
                }
            }
        }
        let index = if sensitive {
            Some(false)
        } else {
            self.should_index(sidx, name, value)
        };
        let churn = index.is_none();
        let mut index = index.unwrap_or(false);
        if !use_table && !index && !churn {
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
            let name_idx = if sidx != 0 {
                sidx
            } else {
                self.dynamic_name(name_hash, name)
            };
            write_literal(out, 0x10, 4, name_idx, name, value);
            return;
        }
        let pair_hash = hash_bytes(name_hash, value);
        if use_table {
            if let Some(i) = self.dynamic_exact(pair_hash, name, value) {
                write_int(out, 0x80, 7, STATIC_TABLE.len() + 1 + i);
                return;
            }
        }
        if churn {
            // Churn-prone: index only a pair seen before.
            let slot = &mut self.seen[(pair_hash as usize) % SEEN_SLOTS];
            let h = pair_hash | 1;
            if *slot == h {
                index = true;
            } else {
                *slot = h;
                self.version += 1;
            }
        }
        let name_idx = if sidx != 0 {
            sidx
        } else {
            self.dynamic_name(name_hash, name)
        };
        if !index {
            write_literal(out, 0x00, 4, name_idx, name, value);
            return;
        }
        write_literal(out, 0x40, 6, name_idx, name, value);
        self.insert(name, value, pair_hash, name_key(sidx, name_hash));
    }

    /// HPACK index of a dynamic entry named `name`, or 0.
    #[inline]
    fn dynamic_name(&self, name_hash: u64, name: &[u8]) -> usize {
        if let Some(abs) = self.by_name.get(name_hash) {
            if let Some(i) = self.table.relative32(abs) {
                if self.table.get(i).is_some_and(|(n, _)| bytes_eq(n, name)) {
                    return STATIC_TABLE.len() + 1 + i;
                }
            }
        }
        0
    }

    /// Indexing policy for a non-sensitive field: `Some(true)` index,
    /// `None` index only if the pair was seen before (churn-prone value),
    /// `Some(false)` never (too big for the table).
    #[inline]
    fn should_index(&self, sidx: usize, name: &[u8], value: &[u8]) -> Option<bool> {
        if ENTRY_OVERHEAD + name.len() + value.len() > self.table.max_size() / 2 {
            return Some(false);
        }
        match sidx {
            idx::PATH if value.contains(&b'?') => None,
            idx::CONTENT_LENGTH
            | idx::CONTENT_RANGE
            | idx::ETAG
            | idx::AGE
            | idx::IF_NONE_MATCH
            | idx::IF_MODIFIED_SINCE => None,
            _ => Some(true),
        }
    }

    fn insert(&mut self, name: &[u8], value: &[u8], pair_hash: u64, key: NameKey) {
        self.version += 1;
        let abs = self.table.next_abs();
        let mut ix = indexes!(self);
        let added = self.table.insert(name, value, |evicted| ix.evict(evicted));
        if added {
            self.hashes.push_back((pair_hash, key));
            self.by_pair.insert(pair_hash, abs);
            match key {
                NameKey::Hashed(h) => self.by_name.insert(h, abs),
                NameKey::Static(sidx) => {
                    self.by_static[sidx as usize] = (abs as u32).wrapping_add(1)
                }
            }
        }
    }

    fn flush_pending(&mut self, out: &mut Vec<u8>) {
        let Some((min, last)) = self.pending.take() else {
            return;
        };
        self.version += 1;
        if min < self.table.max_size() {
            write_int(out, 0x20, 5, min);
            let mut ix = indexes!(self);
            self.table.set_max_size(min, |evicted| ix.evict(evicted));
        }
        if last != self.table.max_size() {
            write_int(out, 0x20, 5, last);
            let mut ix = indexes!(self);
            self.table.set_max_size(last, |evicted| ix.evict(evicted));
        }
        if Index::buckets_for(self.table.max_size()) != self.by_pair.buckets() {
            // Resize the indexes to the new table size and re-add live entries.
            self.by_pair = Index::new(self.table.max_size());
            self.by_name = Index::new(self.table.max_size());
            let first = self.table.next_abs() - self.hashes.len() as u64;
            for (i, &(pair, name)) in self.hashes.iter().enumerate() {
                self.by_pair.insert(pair, first + i as u64);
                if let NameKey::Hashed(name) = name {
                    self.by_name.insert(name, first + i as u64);
                }
            }
        }
    }
}

/// Fields encoded never-indexed whatever the caller says (see the module docs).
#[inline]
fn is_sensitive(sidx: usize, value: &[u8]) -> bool {
    match sidx {
        idx::AUTHORIZATION | idx::PROXY_AUTHORIZATION => true,
        idx::COOKIE | idx::SET_COOKIE => value.len() < SHORT_COOKIE,
        _ => false,
    }
}

/// How a table entry's name is indexed: by its static index (`by_static`)
/// or by its hash (`by_name`).
#[derive(Debug, Clone, Copy)]
enum NameKey {
    Static(u8),
    Hashed(u64),
}

#[inline]
fn name_key(sidx: usize, name_hash: u64) -> NameKey {
    if sidx != 0 {
        NameKey::Static(sidx as u8)
    } else {
        NameKey::Hashed(name_hash)
    }
}

/// The lookup structures of encoder `$e` that follow its table's evictions
/// (field by field, so that the table stays borrowable).
macro_rules! indexes {
    ($e:expr) => {
        Indexes {
            hashes: &mut $e.hashes,
            by_pair: &mut $e.by_pair,
            by_name: &mut $e.by_name,
            by_static: &mut $e.by_static,
        }
    };
}
use indexes;

/// The encoder's lookup structures, borrowed apart from its table so that
/// the table's eviction callback can update them.
struct Indexes<'a> {
    hashes: &'a mut VecDeque<(u64, NameKey)>,
    by_pair: &'a mut Index,
    by_name: &'a mut Index,
    by_static: &'a mut [u32; STATIC_TABLE.len() + 1],
}

impl Indexes<'_> {
    /// Clears the index slots of the evicted entry `abs` (the oldest), unless
    /// a newer entry with the same key took them over.
    fn evict(&mut self, abs: u64) {
        if let Some((pair, name)) = self.hashes.pop_front() {
            self.by_pair.remove(pair, abs);
            match name {
                NameKey::Hashed(name) => self.by_name.remove(name, abs),
                NameKey::Static(sidx) => {
                    let slot = &mut self.by_static[sidx as usize];
                    if *slot == (abs as u32).wrapping_add(1) {
                        *slot = 0;
                    }
                }
            }
        }
    }
}

/// A 4-way set-associative map from a key hash to the absolute index of the
/// newest table entry with that key. A slot holds `(tag, abs + 1)` in 32 bits
/// each (tag = high half of the hash, `abs + 1` truncated, 0 = empty), so a
/// bucket is half a cache line. There are two slots per entry that can fit in
/// the table, so collisions are rare; when all the slots of a bucket are taken
/// the oldest entry loses its slot (a missed compression opportunity, never a
/// wrong index: the caller checks the entry is live and its bytes match).
#[derive(Debug)]
struct Index {
    slots: Vec<[(u32, u32); WAYS]>,
    /// Bucket count − 1 (a power of two − 1).
    mask: usize,
}

const WAYS: usize = 4;

impl Index {
    /// Bucket count for a table of `table_size` bytes (sized for at most
    /// [`MAX_ENCODER_TABLE_SIZE`]: a larger table given to [`Encoder::new`]
    /// works, with more collisions).
    fn buckets_for(table_size: usize) -> usize {
        let size = table_size.min(MAX_ENCODER_TABLE_SIZE);
        (size / ENTRY_OVERHEAD * 2 / WAYS)
            .max(1)
            .next_power_of_two()
    }

    fn new(table_size: usize) -> Self {
        let buckets = Self::buckets_for(table_size);
        Index {
            slots: vec![[(0, 0); WAYS]; buckets],
            mask: buckets - 1,
        }
    }

    fn buckets(&self) -> usize {
        self.mask + 1
    }

    #[inline]
    fn split(&self, hash: u64) -> (usize, u32) {
        (hash as usize & self.mask, (hash >> 32) as u32)
    }

    /// Truncated absolute index of the entry stored for `hash`.
    #[inline]
    fn get(&self, hash: u64) -> Option<u32> {
        let (b, tag) = self.split(hash);
        self.slots[b]
            .iter()
            .find(|&&(t, a)| t == tag && a != 0)
            .map(|&(_, a)| a.wrapping_sub(1))
    }

    #[inline]
    fn insert(&mut self, hash: u64, abs: u64) {
        let (b, tag) = self.split(hash);
        let new = (abs as u32).wrapping_add(1);
        let bucket = &mut self.slots[b];
        // Same key, else an empty slot, else the oldest entry's slot.
        let i = match bucket.iter().position(|&(t, a)| t == tag && a != 0) {
            Some(i) => i,
            None => match bucket.iter().position(|&(_, a)| a == 0) {
                Some(i) => i,
                None => {
                    let mut oldest = 0;
                    for i in 1..WAYS {
                        if new.wrapping_sub(bucket[i].1) > new.wrapping_sub(bucket[oldest].1) {
                            oldest = i;
                        }
                    }
                    oldest
                }
            },
        };
        bucket[i] = (tag, new);
    }

    #[inline]
    fn remove(&mut self, hash: u64, abs: u64) {
        let (b, tag) = self.split(hash);
        let old = (abs as u32).wrapping_add(1);
        for slot in &mut self.slots[b] {
            if *slot == (tag, old) {
                *slot = (0, 0);
            }
        }
    }
}

#[inline]
fn write_literal(
    out: &mut Vec<u8>,
    first: u8,
    prefix: u32,
    name_idx: usize,
    name: &[u8],
    value: &[u8],
) {
    write_int(out, first, prefix, name_idx);
    if name_idx == 0 {
        write_string(out, name);
    }
    write_string(out, value);
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// Finaliser (murmur3 fmix64): spreads every input bit over the low bits
/// that select an index bucket.
#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// 64-bit hash of `s`: two independent multiply-rotate lanes over 16-byte
/// steps (so the multiply latency of one lane overlaps the other's), short
/// tails read as overlapping words. Not keyed: hits are verified against the
/// table, and a collision only costs an index slot.
#[inline]
fn hash_bytes(seed: u64, s: &[u8]) -> u64 {
    const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;
    let n = s.len();
    let mut a = seed ^ (n as u64).wrapping_mul(K);
    let mut b = seed.rotate_left(32) ^ K2;
    if n >= 8 {
        let mut chunks = s.chunks_exact(16);
        for c in &mut chunks {
            a = (a.rotate_left(23) ^ word8(c, 0)).wrapping_mul(K);
            b = (b.rotate_left(23) ^ word8(c, 8)).wrapping_mul(K2);
        }
        let rest = chunks.remainder();
        if rest.len() > 8 {
            a = (a.rotate_left(23) ^ word8(rest, 0)).wrapping_mul(K);
        }
        if !rest.is_empty() {
            // The last 8 bytes of `s`, overlapping what came before.
            b = (b.rotate_left(23) ^ word8(s, n - 8)).wrapping_mul(K2);
        }
    } else if n >= 4 {
        a = (a ^ ((word4(s, 0) as u64) << 32 | word4(s, n - 4) as u64)).wrapping_mul(K);
    } else if n > 0 {
        a = (a ^ (s[0] as u64 | (s[n / 2] as u64) << 8 | (s[n - 1] as u64) << 16)).wrapping_mul(K);
    }
    mix(a ^ b.rotate_left(29))
}

#[inline(always)]
fn word8(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn word4(s: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[i..i + 4]);
    u32::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hf<'a>(name: &'a str, value: &'a str) -> HeaderField<'a> {
        HeaderField {
            name: name.as_bytes(),
            value: value.as_bytes(),
            never_index: false,
        }
    }

    /// Priming adds the fields the first block lacks, after its own fields,
    /// with incremental indexing; the next block refers to them by index.
    #[test]
    fn priming_inserts_missing_fields_on_the_first_block() {
        let mut enc = Encoder::default();
        enc.set_priming([
            ("accept", "text/html"),
            ("x-app", "demo"),
            ("content-length", "12"),
            ("authorization", "secret"),
            (":path", "/x"),
        ]);
        assert!(enc.priming_pending());
        assert_eq!(
            enc.priming_list_size(),
            (32 + 6 + 9) + (32 + 5 + 4) + (32 + 14 + 2)
        );
        let mut dec = crate::hpack::Decoder::default();
        let mut out = Vec::new();
        enc.encode([hf(":method", "GET"), hf("accept", "*/*")], &mut out);
        assert!(!enc.priming_pending());
        let mut got = Vec::new();
        dec.decode(&out, |f| {
            got.push((
                String::from_utf8(f.name.to_vec()).unwrap(),
                String::from_utf8(f.value.to_vec()).unwrap(),
            ))
        })
        .unwrap();
        let want = [
            (":method", "GET"),
            ("accept", "*/*"),
            ("x-app", "demo"),
            ("content-length", "12"),
        ];
        assert_eq!(got.len(), want.len());
        for ((n, v), (wn, wv)) in got.iter().zip(want) {
            assert_eq!((n.as_str(), v.as_str()), (wn, wv));
        }
        // Both primed fields are in the table (content-length despite its
        // churn policy); the second block carries them as one byte each.
        out.clear();
        enc.encode([hf("x-app", "demo"), hf("content-length", "12")], &mut out);
        assert_eq!(out.len(), 2);
        dec.decode(&out, |_| {}).unwrap();
    }

    /// Churn-prone fields are indexed on their second occurrence, and then
    /// encoded as one index byte; a one-off value never enters the table.
    #[test]
    fn churn_prone_fields_indexed_when_repeated() {
        let mut enc = Encoder::default();
        let mut dec = crate::hpack::Decoder::default();
        let field = |v: &'static [u8]| HeaderField {
            name: b"etag",
            value: v,
            never_index: false,
        };
        let mut sizes = Vec::new();
        for v in [&b"\"abc-1\""[..], b"\"abc-1\"", b"\"abc-1\"", b"\"other\""] {
            let mut out = Vec::new();
            enc.encode([field(v)], &mut out);
            let mut got = Vec::new();
            dec.decode(&out, |f| got.push(f.value.to_vec())).unwrap();
            assert_eq!(got, [v.to_vec()]);
            sizes.push((out.len(), enc.table_len()));
        }
        assert_eq!(sizes[0].1, 0, "first occurrence not indexed");
        assert_eq!(sizes[1].1, 1, "second occurrence indexed");
        assert_eq!(sizes[2], (1, 1), "third is one index byte");
        assert_eq!(sizes[3].1, 1, "a new value is not indexed");
    }

    /// Steady state: with table churn, the encoder's buffers stop growing.
    #[test]
    fn steady_state_does_not_grow_buffers() {
        let mut enc = Encoder::default();
        let mut out = Vec::new();
        let mut run = |enc: &mut Encoder, range: core::ops::Range<usize>| {
            for i in range {
                let v = format!("some-value-{i}-with-some-length");
                out.clear();
                enc.encode(
                    [
                        HeaderField {
                            name: b"x-request-id",
                            value: v.as_bytes(),
                            never_index: false,
                        },
                        HeaderField {
                            name: b"user-agent",
                            value: b"test/1.0",
                            never_index: false,
                        },
                    ],
                    &mut out,
                );
            }
        };
        run(&mut enc, 0..300);
        let caps = (
            enc.table.buf_capacity(),
            enc.table.entries_capacity(),
            enc.hashes.capacity(),
            enc.by_pair.slots.capacity(),
        );
        run(&mut enc, 300..1000);
        assert_eq!(
            caps,
            (
                enc.table.buf_capacity(),
                enc.table.entries_capacity(),
                enc.hashes.capacity(),
                enc.by_pair.slots.capacity(),
            )
        );
    }

    #[test]
    fn static_name_slot_follows_newest_and_eviction() {
        use crate::hpack::Decoder;
        // Room for two entries of 32 + 10 + 5 bytes.
        let mut enc = Encoder::new(100);
        let mut dec = Decoder::new(100);
        let ua = static_table::name_index(b"user-agent");
        fn round(enc: &mut Encoder, dec: &mut Decoder, v: &str) -> Vec<u8> {
            let mut out = Vec::new();
            enc.encode([hf("user-agent", v)], &mut out);
            let mut got = Vec::new();
            dec.decode(&out, |f| got.push((f.name.to_vec(), f.value.to_vec())))
                .unwrap();
            assert_eq!(got, vec![(b"user-agent".to_vec(), v.as_bytes().to_vec())]);
            out
        }
        round(&mut enc, &mut dec, "aaaaa");
        assert_eq!(round(&mut enc, &mut dec, "aaaaa"), [0x80 | 62]); // newest entry, by slot
        round(&mut enc, &mut dec, "bbbbb");
        // "aaaaa" is no longer the newest user-agent: found by its hash.
        assert_eq!(round(&mut enc, &mut dec, "aaaaa"), [0x80 | 63]);
        assert_eq!(round(&mut enc, &mut dec, "bbbbb"), [0x80 | 62]);
        // A third value evicts "aaaaa"; then "bbbbb" is evicted by "aaaaa".
        round(&mut enc, &mut dec, "ccccc");
        round(&mut enc, &mut dec, "aaaaa");
        assert_eq!(enc.table_len(), 2);
        let newest = enc.by_static[ua];
        assert_eq!(enc.table.relative32(newest.wrapping_sub(1)), Some(0));
        // Shrinking the table to nothing clears the slot.
        enc.set_max_table_size(0);
        dec.set_max_table_size(0);
        round(&mut enc, &mut dec, "aaaaa");
        assert_eq!(enc.by_static[ua], 0);
    }

    #[test]
    fn index_keeps_newest_and_forgets_evicted() {
        let mut ix = Index::new(128); // 2 buckets of 4 ways
        ix.insert(5, 10);
        assert_eq!(ix.get(5), Some(10));
        ix.insert(5, 11); // same key: replaced by the newer entry
        assert_eq!(ix.get(5), Some(11));
        ix.remove(5, 10); // stale eviction leaves the newer entry alone
        assert_eq!(ix.get(5), Some(11));
        ix.remove(5, 11);
        assert_eq!(ix.get(5), None);
        // A full bucket gives up the oldest slot.
        let bucket_keys: Vec<u64> = (0..5u64).map(|k| (k << 32) | 1).collect();
        for (abs, &k) in bucket_keys.iter().enumerate() {
            ix.insert(k, abs as u64);
        }
        assert_eq!(ix.get(bucket_keys[0]), None);
        for (abs, &k) in bucket_keys.iter().enumerate().skip(1) {
            assert_eq!(ix.get(k), Some(abs as u32));
        }
    }

    /// [`Encoder::version`]: whenever an encode leaves the version as it
    /// was, encoding the same block again at that version (however much
    /// later, after other blocks that did not change it) gives the same
    /// bytes and leaves it unchanged again. Random blocks from a pool with
    /// static and custom names, churn-prone values, a sensitive field and
    /// one too big to index, with table size updates and priming between
    /// blocks; every block is also decoded, so the bytes are right too.
    #[test]
    fn same_version_same_bytes() {
        let big = "x".repeat(3000);
        let pool: [(&str, &str); 12] = [
            (":status", "200"),
            ("server", "h2o"),
            ("content-type", "text/plain"),
            ("content-length", "12"),
            ("content-length", "13"),
            ("etag", "\"a-1\""),
            ("etag", "\"b-2\""),
            ("accept-ranges", "bytes"),
            ("x-custom", "one"),
            ("x-custom", "two"),
            ("authorization", "secret"),
            ("x-big", &big),
        ];
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        // A few fixed blocks, so that the same block recurs often.
        let blocks: Vec<Vec<usize>> = (0..6)
            .map(|_| {
                (0..1 + next(7))
                    .map(|_| next(pool.len() as u64) as usize)
                    .collect()
            })
            .collect();
        let mut enc = Encoder::default();
        let mut dec = crate::hpack::Decoder::default();
        let mut memo: Vec<(u64, usize, Vec<u8>)> = Vec::new();
        let (mut pure, mut checked) = (0, 0);
        for _ in 0..4000 {
            match next(40) {
                0 => enc.set_max_table_size([0, 100, 300, 4096][next(4) as usize]),
                1 => enc.set_priming([("x-primed", "p"), ("etag", "\"a-1\"")]),
                _ => {}
            }
            let b = next(blocks.len() as u64) as usize;
            let fields = blocks[b].iter().map(|&i| hf(pool[i].0, pool[i].1));
            let before = enc.version();
            let mut out = Vec::new();
            enc.encode(fields, &mut out);
            let mut got = 0;
            dec.decode(&out, |_| got += 1).unwrap();
            assert!(got >= blocks[b].len());
            if let Some((_, _, bytes)) = memo.iter().find(|(v, mb, _)| *v == before && *mb == b) {
                assert!(
                    out == *bytes,
                    "block {b} at version {before}: {} bytes, {} before",
                    out.len(),
                    bytes.len()
                );
                assert_eq!(enc.version(), before);
                checked += 1;
            }
            if enc.version() == before {
                pure += 1;
                memo.push((before, b, out));
            }
        }
        assert!(
            pure > 100 && checked > 100,
            "pure {pure}, checked {checked}"
        );
    }
}
