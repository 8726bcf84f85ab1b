//! Generator of the Huffman tables checked in as `table.rs` (RFC 7541 §5.2,
//! Appendix B).
//!
//! [`generate`] turns the Appendix B code list ([`CODES`]) into Rust source:
//! the encoder table (`code << 8 | bit length` per octet) and the decoder
//! finite-state machine. It performs no I/O (it builds for wasm too); the test
//! `tests/hpack_huffman_table.rs` compares its output
//! with the checked-in file and rewrites it when `H2O_REGEN=1` is set.
//!
//! Decoder FSM: a state is an internal node of the Huffman tree (256 of them,
//! the root is state 0). One lookup consumes a whole input octet:
//! `DECODE[state << 8 | octet]` is a `u32` entry holding the next state, up to
//! two decoded symbols (the shortest code is 5 bits, so 8 bits complete at most
//! two codes), how many symbols were emitted, whether the next state may end the
//! string (it is the root or an all-ones prefix of at most 7 bits, i.e. valid
//! padding), and a failure flag (the EOS code was completed). 256 × 256 entries
//! × 4 bytes = 256 KiB.

use core::fmt::Write;

/// Entry bits 0..8: next state.
pub const STATE_MASK: u32 = 0xff;
/// Entry bits 8..16: first emitted symbol.
pub const SYM1_SHIFT: u32 = 8;
/// Entry bits 16..24: second emitted symbol.
pub const SYM2_SHIFT: u32 = 16;
/// Entry bits 24..26: number of emitted symbols (0, 1 or 2).
pub const COUNT_SHIFT: u32 = 24;
/// Entry bit 26: the next state is a valid end of string (root, or ≤ 7 bits of
/// all-ones padding).
pub const ACCEPT: u32 = 1 << 26;
/// Entry bit 27: the octet completes the EOS code, which is a decoding error.
pub const FAIL: u32 = 1 << 27;

/// RFC 7541 Appendix B: `(code, bit length)` for symbols 0..=255 and EOS (256),
/// the code right-aligned as in the RFC's hex column.
#[rustfmt::skip]
pub const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28), (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28), (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12), (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11), (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8), (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7), (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7), (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5), (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7), (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20), (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23), (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23), (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21), (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27), (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21), (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27), (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),
    (0x3fffffff, 30),
];

const EOS: usize = 256;
const NONE: u16 = u16::MAX;

/// A child of a tree node: internal node id or leaf symbol.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Child {
    Unset,
    Node(u16),
    Leaf(u16),
}

/// The Huffman tree as a list of internal nodes (node 0 is the root).
fn build_tree() -> Vec<[Child; 2]> {
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Unset; 2]];
    for (sym, &(code, len)) in CODES.iter().enumerate() {
        let mut node = 0usize;
        for i in (0..len).rev() {
            let bit = ((code >> i) & 1) as usize;
            if i == 0 {
                assert!(
                    nodes[node][bit] == Child::Unset,
                    "code of {sym} is not prefix-free"
                );
                nodes[node][bit] = Child::Leaf(sym as u16);
            } else {
                node = match nodes[node][bit] {
                    Child::Node(n) => n as usize,
                    Child::Unset => {
                        nodes.push([Child::Unset; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][bit] = Child::Node(n as u16);
                        n
                    }
                    Child::Leaf(_) => panic!("code of {sym} is not prefix-free"),
                };
            }
        }
    }
    assert_eq!(
        nodes.len(),
        256,
        "a complete code over 257 symbols has 256 internal nodes"
    );
    assert!(
        nodes
            .iter()
            .all(|n| n[0] != Child::Unset && n[1] != Child::Unset),
        "the code is not complete"
    );
    nodes
}

/// One decoder FSM entry: from `state`, consume the 8 bits of `octet`.
fn transition(nodes: &[[Child; 2]], accepting: &[bool], state: usize, octet: u8) -> u32 {
    let mut node = state;
    let mut syms = [NONE; 2];
    let mut count = 0;
    for i in (0..8).rev() {
        match nodes[node][((octet >> i) & 1) as usize] {
            Child::Node(n) => node = n as usize,
            Child::Leaf(s) if s as usize == EOS => return FAIL,
            Child::Leaf(s) => {
                syms[count] = s;
                count += 1;
                node = 0;
            }
            Child::Unset => unreachable!("complete code"),
        }
    }
    let mut e = node as u32 | (count as u32) << COUNT_SHIFT;
    if count > 0 {
        e |= (syms[0] as u32) << SYM1_SHIFT;
    }
    if count > 1 {
        e |= (syms[1] as u32) << SYM2_SHIFT;
    }
    if accepting[node] {
        e |= ACCEPT;
    }
    e
}

/// The encoder table: `code << 8 | bit length` for octets 0..=255.
pub fn encode_table() -> Vec<u64> {
    CODES[..256]
        .iter()
        .map(|&(c, l)| (c as u64) << 8 | l as u64)
        .collect()
}

/// The decoder FSM: `256 × 256` entries, index `state << 8 | octet`.
pub fn decode_table() -> Vec<u32> {
    let nodes = build_tree();
    // Valid ends of string: the root, and the all-ones path up to 7 bits deep.
    let mut accepting = vec![false; nodes.len()];
    accepting[0] = true;
    let mut node = 0usize;
    for _ in 0..7 {
        match nodes[node][1] {
            Child::Node(n) => node = n as usize,
            _ => unreachable!("EOS is 30 ones"),
        }
        accepting[node] = true;
    }
    let mut table = Vec::with_capacity(256 * 256);
    for state in 0..256 {
        for octet in 0..=255u8 {
            table.push(transition(&nodes, &accepting, state, octet));
        }
    }
    table
}

/// Rust source of `table.rs`: `ENCODE: [u64; 256]` and `DECODE: [u32; 65536]`.
pub fn generate() -> String {
    let mut s = String::with_capacity(800 * 1024);
    s.push_str(
        "// @generated by `h2o::hpack::huffman::gen::generate()` from RFC 7541 Appendix B.\n\
         // DO NOT EDIT. Regenerate with:\n\
         //   H2O_REGEN=1 cargo test --test hpack_huffman_table\n\n",
    );
    s.push_str("/// Huffman encoder: `code << 8 | bit length` per octet.\n#[rustfmt::skip]\n");
    s.push_str("pub(super) static ENCODE: [u64; 256] = [\n");
    for row in encode_table().chunks(8) {
        s.push_str("   ");
        for e in row {
            let _ = write!(s, " {e:#x},");
        }
        s.push('\n');
    }
    s.push_str("];\n\n");
    s.push_str(
        "/// Huffman decoder FSM, index `state << 8 | octet`; see `gen.rs` for the entry layout.\n\
         #[rustfmt::skip]\n",
    );
    s.push_str("pub(super) static DECODE: [u32; 65536] = [\n");
    for (i, row) in decode_table().chunks(16).enumerate() {
        if i % 16 == 0 {
            let _ = writeln!(s, "    // state {}", i / 16);
        }
        s.push_str("   ");
        for e in row {
            let _ = write!(s, " {e:#x},");
        }
        s.push('\n');
    }
    s.push_str("];\n");
    s
}
