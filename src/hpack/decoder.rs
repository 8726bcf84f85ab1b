//! HPACK decoder (RFC 7541 §3, §6).

use super::{DecodeError, HeaderField, DEFAULT_TABLE_SIZE};

/// Decodes field blocks, keeping the dynamic table across blocks of one connection.
#[derive(Debug)]
pub struct Decoder {
    max_table_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_TABLE_SIZE)
    }
}

impl Decoder {
    /// A decoder whose dynamic table may grow to `max_table_size` (our SETTINGS_HEADER_TABLE_SIZE).
    pub fn new(max_table_size: usize) -> Self {
        Decoder { max_table_size }
    }

    /// Changes the upper bound that table size updates from the peer may use.
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_table_size = size;
    }

    /// Decodes one complete field block, calling `f` for every field in order.
    /// The slices passed to `f` are valid only during the call. The whole block is
    /// always decoded on success, keeping the table in sync even if `f` ignores fields.
    pub fn decode<F>(&mut self, block: &[u8], mut f: F) -> Result<(), DecodeError>
    where
        F: FnMut(HeaderField<'_>),
    {
        let _ = (block, &mut f);
        todo!("hpack decode")
    }
}
