//! HPACK primitive types (RFC 7541 §5): prefixed integers (§5.1) and string
//! literal headers (§5.2).

use super::{huffman, DecodeError};

/// Decodes an integer with an `prefix`-bit prefix starting at `block[pos]`
/// (which must exist). Returns the value and the position after it. Values
/// above `u32::MAX`, and encodings longer than 5 continuation octets (the most
/// a `u32` needs), are [`DecodeError::IntegerOverflow`].
#[inline]
pub(crate) fn read_int(
    block: &[u8],
    pos: usize,
    prefix: u32,
) -> Result<(usize, usize), DecodeError> {
    let mask = ((1u16 << prefix) - 1) as u8;
    let first = block.get(pos).ok_or(DecodeError::Truncated)? & mask;
    if first < mask {
        return Ok((first as usize, pos + 1));
    }
    let mut value = first as u64;
    let mut shift = 0u32;
    let mut pos = pos + 1;
    loop {
        let b = *block.get(pos).ok_or(DecodeError::Truncated)?;
        pos += 1;
        value += ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return Err(DecodeError::IntegerOverflow);
        }
    }
    if value > u32::MAX as u64 {
        return Err(DecodeError::IntegerOverflow);
    }
    Ok((value as usize, pos))
}

/// Appends `value` as an integer with a `prefix`-bit prefix; `first` holds the
/// representation's flag bits above the prefix.
#[inline(always)]
pub(crate) fn write_int(out: &mut Vec<u8>, first: u8, prefix: u32, value: usize) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    write_int_long(out, first, max, value);
}

/// [`write_int`] for values that do not fit the prefix (kept out of line so
/// that the one-octet case inlines small).
#[inline(never)]
fn write_int_long(out: &mut Vec<u8>, first: u8, max: usize, value: usize) {
    out.push(first | max as u8);
    let mut v = value - max;
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a string literal, Huffman coded only when strictly shorter.
#[inline]
pub(crate) fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() < 0x7f {
        // Both lengths fit the 7-bit prefix: encode once, fall back to raw.
        let at = out.len();
        out.push(0);
        if let Some(n) = huffman::encode_shorter(s, out, s.len()) {
            out[at] = 0x80 | n as u8;
        } else {
            out[at] = s.len() as u8;
            out.extend_from_slice(s);
        }
        return;
    }
    let hlen = huffman::encoded_len(s);
    if hlen < s.len() {
        write_int(out, 0x80, 7, hlen);
        huffman::encode(s, out);
    } else {
        write_int(out, 0, 7, s.len());
        out.extend_from_slice(s);
    }
}

/// Where a decoded string lives: in the block (raw literal) or in the
/// decoder's scratch buffer (Huffman literal). Ranges are `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Str {
    /// `block[start..end]`.
    Block(usize, usize),
    /// `scratch[start..end]`.
    Scratch(usize, usize),
}

impl Str {
    #[inline]
    pub(crate) fn get<'a>(self, block: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        match self {
            Str::Block(s, e) => &block[s..e],
            Str::Scratch(s, e) => &scratch[s..e],
        }
    }
}

/// Reads a string literal at `block[pos]`; Huffman strings are decoded into
/// `scratch[*used..]` (`scratch` only grows, so its bytes are not cleared
/// again for every string) and `*used` advances. Returns the string and the
/// position after it.
#[inline]
pub(crate) fn read_string(
    block: &[u8],
    pos: usize,
    scratch: &mut Vec<u8>,
    used: &mut usize,
    max_len: usize,
) -> Result<(Str, usize), DecodeError> {
    let huff = block.get(pos).ok_or(DecodeError::Truncated)? & 0x80 != 0;
    let (len, pos) = read_int(block, pos, 7)?;
    if len > max_len {
        return Err(DecodeError::StringTooLong);
    }
    let end = pos.checked_add(len).ok_or(DecodeError::Truncated)?;
    let src = block.get(pos..end).ok_or(DecodeError::Truncated)?;
    if !huff {
        return Ok((Str::Block(pos, end), end));
    }
    let start = *used;
    let need = start + huffman::max_decoded_len(len);
    if scratch.len() < need {
        scratch.resize(need, 0);
    }
    let n = huffman::decode_into(src, &mut scratch[start..])?;
    *used = start + n;
    Ok((Str::Scratch(start, start + n), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(first: u8, prefix: u32, v: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_int(&mut out, first, prefix, v);
        out
    }

    #[test]
    fn rfc_c1_integers() {
        assert_eq!(enc(0, 5, 10), [0x0a]);
        assert_eq!(enc(0, 5, 1337), [0x1f, 0x9a, 0x0a]);
        assert_eq!(enc(0, 8, 42), [0x2a]);
        assert_eq!(read_int(&[0xea], 0, 5), Ok((10, 1)));
        assert_eq!(read_int(&[0xff, 0x9a, 0x0a], 0, 5), Ok((1337, 3)));
        assert_eq!(read_int(&[0x2a], 0, 8), Ok((42, 1)));
    }

    #[test]
    fn integer_edges() {
        for prefix in 1..=8 {
            let max = (1usize << prefix) - 1;
            for v in [
                0,
                1,
                max - 1,
                max,
                max + 1,
                127 + max,
                128 + max,
                65535,
                u32::MAX as usize,
            ] {
                let e = enc(0, prefix, v);
                assert_eq!(
                    read_int(&e, 0, prefix),
                    Ok((v, e.len())),
                    "prefix {prefix} value {v}"
                );
            }
        }
        // u32::MAX with a 5-bit prefix: 31 + 5 continuation octets.
        let e = enc(0, 5, u32::MAX as usize);
        assert_eq!(e.len(), 6);
        // One more overflows.
        let mut over = e.clone();
        over[1] += 1;
        assert_eq!(read_int(&over, 0, 5), Err(DecodeError::IntegerOverflow));
        // Overlong: 6 continuation octets, even if the value is small.
        assert_eq!(
            read_int(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 0, 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Five octets whose value exceeds u32.
        assert_eq!(
            read_int(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f], 0, 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Truncated.
        assert_eq!(read_int(&[0x1f], 0, 5), Err(DecodeError::Truncated));
        assert_eq!(read_int(&[0x1f, 0x80], 0, 5), Err(DecodeError::Truncated));
        assert_eq!(read_int(&[], 0, 5), Err(DecodeError::Truncated));
    }

    #[test]
    fn strings() {
        let mut out = Vec::new();
        write_string(&mut out, b"custom-key");
        assert_eq!(out[0], 0x88); // Huffman, 8 bytes
        let mut scratch = Vec::new();
        let mut used = 0;
        let (s, end) = read_string(&out, 0, &mut scratch, &mut used, 100).unwrap();
        assert_eq!(used, 10);
        assert_eq!(end, out.len());
        assert_eq!(s.get(&out, &scratch), b"custom-key");
        // Raw when Huffman is not shorter.
        let mut out = Vec::new();
        write_string(&mut out, b"\x00\x01");
        assert_eq!(out, [0x02, 0x00, 0x01]);
        assert_eq!(
            read_string(&out, 0, &mut scratch, &mut used, 1),
            Err(DecodeError::StringTooLong)
        );
        assert_eq!(
            read_string(&out[..2], 0, &mut scratch, &mut used, 100),
            Err(DecodeError::Truncated)
        );
    }
}
