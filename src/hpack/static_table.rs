//! The HPACK static table (RFC 7541 §2.3.1, Appendix A) and the encoder's
//! allocation-free lookups into it.

/// Appendix A: entries 1..=61 at positions 0..=60.
pub(crate) static STATIC_TABLE: [(&[u8], &[u8]); 61] = [
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

/// First static index of every distinct name, grouped by name length.
fn candidates(len: usize) -> &'static [u8] {
    match len {
        3 => &[21, 60],
        4 => &[33, 34, 37, 38, 45, 59],
        5 => &[4, 22, 50],
        6 => &[19, 32, 35, 54],
        7 => &[2, 6, 8, 36, 51, 52],
        8 => &[39, 42, 46],
        10 => &[1, 55, 58],
        11 => &[53],
        12 => &[31, 47],
        13 => &[18, 23, 24, 30, 41, 44],
        14 => &[15, 28],
        15 => &[16, 17],
        16 => &[26, 27, 29, 61],
        17 => &[40, 57],
        18 => &[48],
        19 => &[25, 43, 49],
        25 => &[56],
        27 => &[20],
        _ => &[],
    }
}

/// The first static index whose name is `name`, or 0.
#[inline]
pub(crate) fn name_index(name: &[u8]) -> usize {
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return 0;
    };
    for &i in candidates(name.len()) {
        let n = STATIC_TABLE[i as usize - 1].0;
        // Cheap filters before the full comparison.
        if n[0] == first && n[n.len() - 1] == last && n == name {
            return i as usize;
        }
    }
    0
}

/// The static index of the exact pair (`name` at `name_idx`, `value`), or 0.
#[inline]
pub(crate) fn exact_index(name_idx: usize, value: &[u8]) -> usize {
    let hit = |range: core::ops::Range<usize>| {
        range
            .into_iter()
            .find(|&i| STATIC_TABLE[i - 1].1 == value)
            .unwrap_or(0)
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
    }
}
