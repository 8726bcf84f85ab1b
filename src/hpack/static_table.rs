//! The HPACK static table (RFC 7541 §2.3.1, Appendix A) and the encoder's
//! allocation-free lookups into it.

/// Appendix A: entries 1..=61 at positions 0..=60.
pub(crate) static STATIC_TABLE: [(&[u8], &[u8]); 61] = ENTRIES;

const ENTRIES: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Static indices of a few names the encoder's policy cares about.
pub(crate) mod idx {
    pub const PATH: usize = 4;
    pub const AGE: usize = 21;
    pub const AUTHORIZATION: usize = 23;
    pub const CONTENT_LENGTH: usize = 28;
    pub const CONTENT_RANGE: usize = 30;
    pub const COOKIE: usize = 32;
    pub const ETAG: usize = 34;
    pub const IF_MODIFIED_SINCE: usize = 40;
    pub const IF_NONE_MATCH: usize = 41;
    pub const PROXY_AUTHORIZATION: usize = 49;
    pub const SET_COOKIE: usize = 55;
}

/// Multiplier of a perfect hash of `(length, first byte, last byte)` over the
/// 52 distinct static names into 7 bits (found by a search; [`NAME_SLOTS`] is
/// built at compile time and the build fails if it stops being perfect).
const NAME_HASH_MUL: u32 = 0x64ad_062f;

#[inline(always)]
const fn name_hash(len: usize, first: u8, last: u8) -> usize {
    let key = (len as u32 & 0xff) | (first as u32) << 8 | (last as u32) << 16;
    (key.wrapping_mul(NAME_HASH_MUL) >> 25) as usize
}

/// `name_hash` → first static index with that name (0 = none).
static NAME_SLOTS: [u8; 128] = build_name_slots();

const fn const_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn build_name_slots() -> [u8; 128] {
    let mut slots = [0u8; 128];
    let mut i = 0;
    while i < ENTRIES.len() {
        let n = ENTRIES[i].0;
        let h = name_hash(n.len(), n[0], n[n.len() - 1]);
        if slots[h] == 0 {
            slots[h] = (i + 1) as u8;
        } else if !const_eq(ENTRIES[slots[h] as usize - 1].0, n) {
            panic!("static name hash is not perfect");
        }
        i += 1;
    }
    slots
}

/// The first static index whose name is `name`, or 0: one perfect-hash
/// lookup, then one comparison.
#[inline]
pub(crate) fn name_index(name: &[u8]) -> usize {
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return 0;
    };
    let i = NAME_SLOTS[name_hash(name.len(), first, last)] as usize;
    if i != 0 && bytes_eq(STATIC_TABLE[i - 1].0, name) {
        i
    } else {
        0
    }
}

/// Equality of byte strings with word-sized loads, cheaper than a `memcmp`
/// call for the short strings of header fields.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if load8(a, i) != load8(b, i) {
                return false;
            }
            i += 8;
        }
        load8(a, n - 8) == load8(b, n - 8)
    } else if n >= 4 {
        load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4)
    } else {
        // n <= 3: indices 0, n/2 and n-1 cover every byte (no iterator, so
        // the result does not depend on how the caller gets inlined).
        n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1])
    }
}

#[inline(always)]
fn load8(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_ne_bytes(w)
}

#[inline(always)]
fn load4(s: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[i..i + 4]);
    u32::from_ne_bytes(w)
}

/// The static index of the exact pair (`name` at `name_idx`, `value`), or 0.
#[inline]
pub(crate) fn exact_index(name_idx: usize, value: &[u8]) -> usize {
    let hit = |range: core::ops::Range<usize>| {
        // A plain loop: cheap however the caller is inlined.
        let mut i = range.start;
        while i < range.end {
            if bytes_eq(STATIC_TABLE[i - 1].1, value) {
                return i;
            }
            i += 1;
        }
        0
    };
    match name_idx {
        0 => 0,
        2 => hit(2..4),
        4 => hit(4..6),
        6 => hit(6..8),
        8 if value.len() == 3 => hit(8..15),
        8 => 0,
        16 => hit(16..17),
        _ if value.is_empty() => name_idx,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_pair_is_found() {
        for (i, &(n, v)) in STATIC_TABLE.iter().enumerate() {
            let first = STATIC_TABLE.iter().position(|e| e.0 == n).unwrap() + 1;
            assert_eq!(name_index(n), first, "{}", String::from_utf8_lossy(n));
            assert_eq!(exact_index(first, v), i + 1);
        }
        assert_eq!(name_index(b""), 0);
        assert_eq!(name_index(b"x-custom"), 0);
        assert_eq!(name_index(b"dates"), 0);
        assert_eq!(exact_index(8, b"201"), 0);
        assert_eq!(exact_index(31, b"text/html"), 0);
        // Same (length, first, last) as a static name, different middle.
        assert_eq!(name_index(b":authorit_"), 0);
        assert_eq!(name_index(b"c_ntent-type"), 0);
    }

    #[test]
    fn bytes_eq_agrees_with_slice_eq() {
        let base: Vec<u8> = (0..40u8).collect();
        for n in 0..40 {
            let a = &base[..n];
            assert!(bytes_eq(a, a));
            assert!(!bytes_eq(a, &base[..n + 1]));
            for k in 0..n {
                let mut b = a.to_vec();
                b[k] ^= 0x20;
                assert!(!bytes_eq(a, &b), "len {n} pos {k}");
            }
        }
    }
}
