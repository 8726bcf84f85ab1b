//! WebSocket frame header parsing and serialization (RFC 6455 §5.2).
//!
//! Owns the wire format of the base framing protocol: FIN/RSV bits, opcodes,
//! 7/16/64-bit payload lengths and the masking key. Connection-level rules
//! (fragmentation, control-frame limits, close handshake) live in
//! [`super::conn`].

use super::{CloseCode, Error};

/// A frame opcode (RFC 6455 §5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continuation of a fragmented message.
    Continuation,
    /// 0x1: text message (UTF-8).
    Text,
    /// 0x2: binary message.
    Binary,
    /// 0x8: connection close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Decodes a 4-bit opcode; `None` for the reserved values 0x3-0x7, 0xB-0xF.
    pub fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// True for close, ping and pong (opcodes with the high bit set).
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit: last fragment of a message.
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits (RSV1 = 0b100).
    pub rsv: u8,
    /// Opcode.
    pub opcode: OpCode,
    /// Masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

/// Largest header: 2 + 8 (64-bit length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// Parses a frame header from the start of `buf`.
///
/// Returns `Ok(None)` if more bytes are needed, `Ok(Some((header, header_len)))`
/// otherwise. Rejects (with close code 1002) non-zero RSV bits, reserved
/// opcodes, a 64-bit length with the most significant bit set, and control
/// frames that are fragmented or longer than 125 bytes. Minimal length encoding
/// is not enforced.
pub fn parse_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, Error> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let b0 = buf[0];
    let b1 = buf[1];
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    if rsv != 0 {
        return Err(Error::protocol(
            "reserved bits set without a negotiated extension",
        ));
    }
    let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(Error::protocol("reserved opcode"))?;
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(Error::protocol("fragmented control frame"));
        }
        if len7 > 125 {
            return Err(Error::protocol("control frame payload over 125 bytes"));
        }
    }
    let (payload_len, mut pos) = match len7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let l = u64::from_be_bytes(b);
            if l >> 63 != 0 {
                return Err(Error::protocol("64-bit payload length with MSB set"));
            }
            (l, 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        if buf.len() < pos + 4 {
            return Ok(None);
        }
        let m = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(m)
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len,
        },
        pos,
    )))
}

/// Appends a frame header (minimal length encoding) to `out`.
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, len: u64) {
    let b0 = (if fin { 0x80 } else { 0 }) | opcode.as_u8();
    let mbit = if mask.is_some() { 0x80 } else { 0 };
    out.push(b0);
    if len < 126 {
        out.push(mbit | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(mbit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mbit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if let Some(m) = mask {
        out.extend_from_slice(&m);
    }
}

/// Appends a complete frame to `out`, masking the payload copy if `mask` is set.
pub fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    out.reserve(MAX_HEADER_LEN + payload.len());
    write_header(out, fin, opcode, mask, payload.len() as u64);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(m) = mask {
        super::mask::apply_mask(&mut out[start..], m, 0);
    }
}

/// Encodes a close payload: 2-byte code + UTF-8 reason (RFC 6455 §5.5.1).
pub fn close_payload(code: CloseCode, reason: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.0.to_be_bytes());
    p.extend_from_slice(reason.as_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_lengths() {
        for &len in &[0u64, 1, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut out = Vec::new();
                write_header(&mut out, true, OpCode::Binary, mask, len);
                let (h, n) = parse_header(&out).unwrap().unwrap();
                assert_eq!(n, out.len());
                assert_eq!(h.payload_len, len);
                assert_eq!(h.mask, mask);
                assert!(h.fin);
                for cut in 0..out.len() {
                    assert!(parse_header(&out[..cut]).unwrap().is_none());
                }
            }
        }
    }

    #[test]
    fn rejects_msb_length() {
        let mut b = vec![0x82, 127];
        b.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(
            parse_header(&b).unwrap_err().code(),
            CloseCode::PROTOCOL_ERROR
        );
    }
}
