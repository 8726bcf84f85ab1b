//! HPACK decoder (RFC 7541 §3, §6): every field representation (§6.1, §6.2),
//! dynamic table size updates (§6.3, §4.2), and the limits a decoder enforces
//! on peer input. Never panics: malformed input is a [`DecodeError`].
//!
//! Strings are not copied when they can be borrowed: raw literals are handed
//! out as slices of the block, indexed fields as slices of the static or
//! dynamic table, and Huffman literals are decoded into one scratch buffer
//! reused across fields and blocks, so decoding allocates nothing per field in
//! steady state.

use super::primitive::{read_int, read_string, Str};
use super::static_table::STATIC_TABLE;
use super::table::DynTable;
use super::{DecodeError, HeaderField, DEFAULT_TABLE_SIZE};

/// Default limit on the encoded length of one string literal (see
/// [`Decoder::set_max_string_len`]).
pub const DEFAULT_MAX_STRING_LEN: usize = 256 * 1024;

/// Decodes field blocks, keeping the dynamic table across blocks of one connection.
#[derive(Debug)]
pub struct Decoder {
    /// Our SETTINGS_HEADER_TABLE_SIZE: the bound for size updates.
    max_table_size: usize,
    max_string_len: usize,
    table: DynTable,
    /// Huffman-decoded strings of the current field (only grows; each field
    /// tracks how much of it is in use).
    scratch: Vec<u8>,
    /// The last short Huffman-coded value and its decoding.
    memo: HuffMemo,
}

/// Longest encoded value the [`HuffMemo`] keeps.
const MEMO_SRC: usize = 64;

/// The last Huffman-coded field value of at most [`MEMO_SRC`] encoded bytes
/// and its decoding (inline arrays: nothing allocated). A value literal equal
/// to it, byte for byte, is copied out instead of decoded again: Huffman
/// decoding is a function of the encoded bytes alone. Clients send a
/// repeated `:path` (polling, health checks, benchmarks) as the same literal
/// without indexing on every request; a different value costs one length
/// check (a comparison when the lengths match) and the memo update.
#[derive(Debug)]
struct HuffMemo {
    src: [u8; MEMO_SRC],
    src_len: usize,
    out: [u8; 2 * MEMO_SRC],
    out_len: usize,
}

impl Default for HuffMemo {
    fn default() -> Self {
        // Empty encodes empty: a valid memo to start from.
        HuffMemo {
            src: [0; MEMO_SRC],
            src_len: 0,
            out: [0; 2 * MEMO_SRC],
            out_len: 0,
        }
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_TABLE_SIZE)
    }
}

/// Where a field's name comes from.
#[derive(Clone, Copy)]
enum Name {
    Static(&'static [u8]),
    /// Dynamic table entry, counting from the newest.
    Dynamic(usize),
    Str(Str),
}

impl Decoder {
    /// A decoder whose dynamic table may grow to `max_table_size` (our SETTINGS_HEADER_TABLE_SIZE).
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            max_table_size,
            max_string_len: DEFAULT_MAX_STRING_LEN,
            table: DynTable::new(max_table_size),
            scratch: Vec::new(),
            memo: HuffMemo::default(),
        }
    }

    /// Changes the upper bound that table size updates from the peer may use.
    ///
    /// If the new bound is below the table's current maximum size, the next
    /// block must start with a size update (§4.2), else it fails with
    /// [`DecodeError::InvalidTableSizeUpdate`].
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_table_size = size;
    }

    /// Limits the encoded length of a single string literal; longer ones fail
    /// with [`DecodeError::StringTooLong`]. Default [`DEFAULT_MAX_STRING_LEN`].
    pub fn set_max_string_len(&mut self, len: usize) {
        self.max_string_len = len;
    }

    /// Current size of the dynamic table in bytes (§4.1 accounting).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Current maximum size of the dynamic table, as last set by the peer's
    /// size update (or the initial size).
    pub fn table_max_size(&self) -> usize {
        self.table.max_size()
    }

    /// Inserts `fields` into the dynamic table, in order, as literals with
    /// incremental indexing would (RFC 7541 §4.4): the decoder side of
    /// [`Encoder::apply_preset`](super::Encoder::apply_preset), applied at the
    /// same point of the block sequence. Call it between blocks only.
    pub fn apply_preset(&mut self, fields: &[(&str, &str)]) {
        for (n, v) in fields {
            self.table.insert(n.as_bytes(), v.as_bytes(), |_| {});
        }
    }

    /// Number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Decodes one complete field block, calling `f` for every field in order.
    /// The slices passed to `f` are valid only during the call. The whole block is
    /// always decoded on success, keeping the table in sync even if `f` ignores fields.
    pub fn decode<F>(&mut self, block: &[u8], mut f: F) -> Result<(), DecodeError>
    where
        F: FnMut(HeaderField<'_>),
    {
        let mut pos = 0;
        // §4.2: after our limit went below the table's size, the peer must
        // acknowledge it with a size update at the start of the next block.
        if self.table.max_size() > self.max_table_size
            && block.first().is_none_or(|b| b & 0xe0 != 0x20)
        {
            return Err(DecodeError::InvalidTableSizeUpdate);
        }
        // Size updates, only at the start of the block (§4.2, §6.3).
        while pos < block.len() && block[pos] & 0xe0 == 0x20 {
            let (size, p) = read_int(block, pos, 5)?;
            pos = p;
            if size > self.max_table_size {
                return Err(DecodeError::InvalidTableSizeUpdate);
            }
            self.table.set_max_size(size, |_| {});
        }
        while pos < block.len() {
            let b = block[pos];
            if b & 0x80 != 0 {
                // §6.1 indexed header field.
                let (idx, p) = read_int(block, pos, 7)?;
                pos = p;
                let (name, value) = self.lookup(idx)?;
                f(HeaderField {
                    name,
                    value,
                    never_index: false,
                });
            } else if b & 0x40 != 0 {
                // §6.2.1 literal with incremental indexing.
                pos = self.literal(block, pos, 6, true, false, &mut f)?;
            } else if b & 0x20 != 0 {
                return Err(DecodeError::LateTableSizeUpdate);
            } else {
                // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
                pos = self.literal(block, pos, 4, false, b & 0x10 != 0, &mut f)?;
            }
        }
        Ok(())
    }

    #[inline]
    fn lookup(&self, idx: usize) -> Result<(&[u8], &[u8]), DecodeError> {
        if idx == 0 {
            return Err(DecodeError::InvalidIndex);
        }
        if let Some(&(n, v)) = STATIC_TABLE.get(idx - 1) {
            return Ok((n, v));
        }
        self.table
            .get(idx - 1 - STATIC_TABLE.len())
            .ok_or(DecodeError::InvalidIndex)
    }

    /// Decodes a literal representation at `block[pos]` whose name index has
    /// a `prefix`-bit prefix; returns the position after it.
    #[inline]
    fn literal<F>(
        &mut self,
        block: &[u8],
        pos: usize,
        prefix: u32,
        index: bool,
        never_index: bool,
        f: &mut F,
    ) -> Result<usize, DecodeError>
    where
        F: FnMut(HeaderField<'_>),
    {
        let mut used = 0;
        let (idx, mut pos) = read_int(block, pos, prefix)?;
        let name = if idx == 0 {
            let (s, p) = read_string(
                block,
                pos,
                &mut self.scratch,
                &mut used,
                self.max_string_len,
            )?;
            pos = p;
            Name::Str(s)
        } else if let Some(&(n, _)) = STATIC_TABLE.get(idx - 1) {
            Name::Static(n)
        } else {
            let i = idx - 1 - STATIC_TABLE.len();
            if i >= self.table.len() {
                return Err(DecodeError::InvalidIndex);
            }
            Name::Dynamic(i)
        };
        let (value, pos) = self.read_value(block, pos, &mut used)?;
        if index {
            let name = match name {
                Name::Static(n) => n,
                Name::Str(s) => s.get(block, &self.scratch),
                Name::Dynamic(i) => {
                    // The insertion may evict the entry the name comes from
                    // (§4.4): copy it out first.
                    let (n, _) = self.table.get(i).ok_or(DecodeError::InvalidIndex)?;
                    let end = used + n.len();
                    if self.scratch.len() < end {
                        self.scratch.resize(end, 0);
                    }
                    self.scratch[used..end].copy_from_slice(n);
                    &self.scratch[used..end]
                }
            };
            let value = value.get(block, &self.scratch);
            self.table.insert(name, value, |_| {});
            f(HeaderField {
                name,
                value,
                never_index,
            });
        } else {
            let name = match name {
                Name::Static(n) => n,
                Name::Str(s) => s.get(block, &self.scratch),
                Name::Dynamic(i) => self.table.get(i).ok_or(DecodeError::InvalidIndex)?.0,
            };
            f(HeaderField {
                name,
                value: value.get(block, &self.scratch),
                never_index,
            });
        }
        Ok(pos)
    }

    /// [`read_string`] for a field value, through the [`HuffMemo`].
    #[inline]
    fn read_value(
        &mut self,
        block: &[u8],
        pos: usize,
        used: &mut usize,
    ) -> Result<(Str, usize), DecodeError> {
        let huff = block.get(pos).ok_or(DecodeError::Truncated)? & 0x80 != 0;
        if huff {
            let (len, p) = read_int(block, pos, 7)?;
            if len <= MEMO_SRC && len <= self.max_string_len {
                let end = p + len; // p <= block.len(), len <= 64: no overflow
                let src = block.get(p..end).ok_or(DecodeError::Truncated)?;
                let m = &mut self.memo;
                if src == &m.src[..m.src_len] {
                    let (start, n) = (*used, m.out_len);
                    if self.scratch.len() < start + n {
                        self.scratch.resize(start + n, 0);
                    }
                    self.scratch[start..start + n].copy_from_slice(&m.out[..n]);
                    *used = start + n;
                    return Ok((Str::Scratch(start, start + n), end));
                }
                let r = read_string(block, pos, &mut self.scratch, used, self.max_string_len)?;
                if let (Str::Scratch(s, e), _) = r {
                    // e - s <= huffman::max_decoded_len(len) = 2 * len.
                    m.src[..len].copy_from_slice(src);
                    m.src_len = len;
                    m.out[..e - s].copy_from_slice(&self.scratch[s..e]);
                    m.out_len = e - s;
                }
                return Ok(r);
            }
        }
        read_string(block, pos, &mut self.scratch, used, self.max_string_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::Encoder;

    /// The Huffman memo gives the bytes a fresh decoding gives: repeated,
    /// changed, empty, longer than the memo, indexed or not, and under a
    /// string limit lower than the memoized value's length.
    #[test]
    fn huffman_memo_matches_decoding() {
        let long = "/".to_string() + &"abcdefgh".repeat(12);
        let values = [
            "/a/b.txt", "/a/b.txt", "/other", "/a/b.txt", "", "", &long, &long, "/a/b.txt",
            "/a/b.txt",
        ];
        let mut dec = Decoder::default();
        for (i, v) in values.iter().enumerate() {
            // `:path` (static index 4) without indexing, or with incremental
            // indexing every third block; the value Huffman-coded when shorter.
            let mut block = vec![if i % 3 == 2 { 0x44 } else { 0x04 }];
            crate::hpack::primitive::write_string(&mut block, v.as_bytes());
            let mut got = Vec::new();
            dec.decode(&block, |f| got.push(f.value.to_vec())).unwrap();
            assert_eq!(got, [v.as_bytes().to_vec()], "block {i}");
            let mut fresh = Vec::new();
            Decoder::default()
                .decode(&block, |f| fresh.push(f.value.to_vec()))
                .unwrap();
            assert_eq!(got, fresh, "block {i}");
        }
        // The memo holds "/a/b.txt" (6 encoded bytes): a limit of 4 refuses it.
        let mut block = vec![0x04];
        crate::hpack::primitive::write_string(&mut block, b"/a/b.txt");
        assert!(block[1] & 0x80 != 0, "Huffman-coded");
        dec.set_max_string_len(4);
        assert_eq!(dec.decode(&block, |_| {}), Err(DecodeError::StringTooLong));
        // A truncated repeat is an error, not the memo's value.
        dec.set_max_string_len(DEFAULT_MAX_STRING_LEN);
        assert!(dec.decode(&block[..block.len() - 1], |_| {}).is_err());
    }

    /// Steady state: once the buffers have grown, decoding more blocks (with
    /// table churn and Huffman strings) does not reallocate them.
    #[test]
    fn steady_state_does_not_grow_buffers() {
        let mut enc = Encoder::default();
        let mut dec = Decoder::default();
        let mut blocks = Vec::new();
        for i in 0..400 {
            let v = format!("some-value-{i}-with-some-length");
            let path = format!("/p/{}", i % 7);
            let fields = [
                HeaderField {
                    name: b":path",
                    value: path.as_bytes(),
                    never_index: false,
                },
                HeaderField {
                    name: b"x-request-id",
                    value: v.as_bytes(),
                    never_index: false,
                },
            ];
            let mut out = Vec::new();
            enc.encode(fields.iter().copied(), &mut out);
            blocks.push(out);
        }
        let run = |dec: &mut Decoder, blocks: &[Vec<u8>]| {
            for b in blocks {
                dec.decode(b, |f| assert!(!f.name.is_empty())).unwrap();
            }
        };
        run(&mut dec, &blocks[..200]);
        let caps = (
            dec.scratch.capacity(),
            dec.table.buf_capacity(),
            dec.table.entries_capacity(),
        );
        run(&mut dec, &blocks[200..]);
        assert_eq!(
            caps,
            (
                dec.scratch.capacity(),
                dec.table.buf_capacity(),
                dec.table.entries_capacity()
            )
        );
    }
}
