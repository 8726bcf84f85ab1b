//! HPACK encoder (RFC 7541 §4, §6): indexing policy, never-indexed sensitive
//! fields, Huffman when shorter, pending table size updates.

use super::{HeaderField, DEFAULT_TABLE_SIZE};

/// Encodes field blocks, keeping the dynamic table across blocks of one connection.
#[derive(Debug)]
pub struct Encoder {
    max_table_size: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new(DEFAULT_TABLE_SIZE)
    }
}

impl Encoder {
    /// An encoder whose dynamic table starts at `max_table_size`.
    pub fn new(max_table_size: usize) -> Self {
        Encoder { max_table_size }
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE; the size update is emitted
    /// at the start of the next block (§4.2, §6.3).
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_table_size = size;
    }

    /// Appends the encoding of `fields` (one complete field block) to `out`.
    pub fn encode<'a, I>(&mut self, fields: I, out: &mut Vec<u8>)
    where
        I: IntoIterator<Item = HeaderField<'a>>,
    {
        let _ = (fields.into_iter(), out);
        todo!("hpack encode")
    }
}
