//! Shared HPACK dynamic-table presets: field lists both ends of a connection
//! insert into their tables when they agree on a preset id (negotiated by the
//! connection layer with the experimental SETTINGS parameter
//! `SETTINGS_H2O_HPACK_PRESET`, see `conn`), so that even the first header
//! blocks can refer to common fields by index.
//!
//! A preset is applied with [`Encoder::apply_preset`](super::Encoder::apply_preset)
//! on one end and [`Decoder::apply_preset`](super::Decoder::apply_preset) on
//! the other, at the same point of the block sequence: each field is inserted
//! in list order exactly as a literal with incremental indexing would insert
//! it (RFC 7541 §4.4, evicting as needed), so both tables stay identical. The
//! contents of a published id never change (that would desynchronise peers of
//! different versions); a new list gets a new id.

/// Preset 1 (`h2o-web-1`): request fields browsers and tools send and response
/// fields common servers send, none of them already exact entries of the
/// static table. 24 entries, 1 431 bytes of RFC 7541 §4.1 size.
pub const PRESET_1: &[(&str, &str)] = &[
    ("accept", "*/*"),
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("accept", "application/json"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-US,en;q=0.9"),
    ("cache-control", "no-cache"),
    ("cache-control", "max-age=0"),
    ("upgrade-insecure-requests", "1"),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-site", "same-origin"),
    ("sec-fetch-dest", "document"),
    ("content-type", "application/json"),
    ("content-type", "text/html; charset=utf-8"),
    ("content-type", "text/plain"),
    ("content-encoding", "gzip"),
    ("accept-ranges", "bytes"),
    ("vary", "accept-encoding"),
    ("cache-control", "private"),
    ("cache-control", "public, max-age=31536000"),
    ("x-content-type-options", "nosniff"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("access-control-allow-origin", "*"),
    ("server", "h2o"),
];

/// The fields of preset `id`, `None` for an id this build does not know.
pub fn preset(id: u32) -> Option<&'static [(&'static str, &'static str)]> {
    match id {
        1 => Some(PRESET_1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_1_fits_half_the_default_table_and_is_lowercase() {
        let size: usize = PRESET_1.iter().map(|(n, v)| 32 + n.len() + v.len()).sum();
        assert_eq!(PRESET_1.len(), 24);
        assert_eq!(size, 1431);
        assert!(size <= super::super::DEFAULT_TABLE_SIZE / 2);
        for (n, v) in PRESET_1 {
            assert!(!n.bytes().any(|b| b.is_ascii_uppercase()));
            let sidx = super::super::static_table::name_index(n.as_bytes());
            assert_eq!(
                super::super::static_table::exact_index(sidx, v.as_bytes()),
                0,
                "{n}: {v} is a static entry"
            );
        }
        assert!(preset(0).is_none() && preset(2).is_none());
    }
}
