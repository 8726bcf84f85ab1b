//! Huffman coding of HPACK string literals (RFC 7541 §5.2, Appendix B).

use super::DecodeError;

/// Number of bytes the Huffman encoding of `src` takes.
pub fn encoded_len(src: &[u8]) -> usize {
    let _ = src;
    todo!("huffman")
}

/// Appends the Huffman encoding of `src` to `out` (padded with EOS-prefix ones).
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    let _ = (src, out);
    todo!("huffman")
}

/// Appends the decoding of `src` to `out`.
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let _ = (src, out);
    todo!("huffman")
}
