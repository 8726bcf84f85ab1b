//! Conformance: decode every story of the hpack-test-case corpus (nghttp2,
//! nghttp2-change-table-size, node-http2-hpack, python-hpack) and round-trip
//! every `raw-data` story through our encoder and decoder, at the default
//! table size, with a small table (eviction) and with no table at all.
//!
//! The corpus is `tests/data/hpack-test-case` (in the repo), or
//! `$H2O_HPACK_VECTORS`. A missing corpus is a failure, not a skip.

use std::path::{Path, PathBuf};

use h2o::hpack::{Decoder, Encoder, HeaderField};
use serde_json::Value;

const DECODE_SETS: &[&str] = &[
    "nghttp2",
    "nghttp2-change-table-size",
    "node-http2-hpack",
    "python-hpack",
];

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn corpus() -> PathBuf {
    let dir = match std::env::var_os("H2O_HPACK_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hpack-test-case"),
    };
    assert!(
        dir.is_dir(),
        "HPACK test vectors not found at {} (set H2O_HPACK_VECTORS to the hpack-test-case directory)",
        dir.display()
    );
    dir
}

fn stories(set: &str) -> Vec<(PathBuf, Value)> {
    let dir = corpus().join(set);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no stories in {}", dir.display());
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, v)
        })
        .collect()
}

fn headers(case: &Value) -> Fields {
    case["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| {
            let (n, v) = h
                .as_object()
                .expect("header object")
                .iter()
                .next()
                .expect("one pair");
            let v = v.as_str().expect("string value");
            (n.as_bytes().to_vec(), v.as_bytes().to_vec())
        })
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn decode_corpus() {
    let (mut n_stories, mut n_cases) = (0, 0);
    for set in DECODE_SETS {
        let (mut s_stories, mut s_cases) = (0, 0);
        for (path, story) in stories(set) {
            let mut dec = Decoder::default();
            for case in story["cases"].as_array().expect("cases") {
                if let Some(size) = case.get("header_table_size").and_then(Value::as_u64) {
                    dec.set_max_table_size(size as usize);
                }
                let wire = unhex(case["wire"].as_str().expect("wire"));
                let mut got = Vec::new();
                dec.decode(&wire, |f| got.push((f.name.to_vec(), f.value.to_vec())))
                    .unwrap_or_else(|e| {
                        panic!("{} seqno {}: {e:?}", path.display(), case["seqno"])
                    });
                assert!(
                    got == headers(case),
                    "{} seqno {}: decoded headers differ",
                    path.display(),
                    case["seqno"]
                );
                s_cases += 1;
            }
            s_stories += 1;
        }
        println!("decoded {set}: {s_stories} stories, {s_cases} cases");
        n_stories += s_stories;
        n_cases += s_cases;
    }
    println!("decoded total: {n_stories} stories, {n_cases} cases");
    assert!(n_stories >= DECODE_SETS.len() && n_cases > 0);
}

/// Round-trips `raw-data` with both sides starting at `initial`, then (if
/// `update` is set) announcing `update` as a SETTINGS change would.
/// Returns (stories, cases, encoded bytes, raw header bytes).
fn round_trip(initial: usize, update: Option<usize>) -> (usize, usize, usize, usize) {
    let (mut n_stories, mut n_cases, mut bytes, mut raw) = (0, 0, 0, 0);
    for (path, story) in stories("raw-data") {
        let mut enc = Encoder::new(initial);
        let mut dec = Decoder::new(initial);
        if let Some(size) = update {
            enc.set_max_table_size(size);
            dec.set_max_table_size(size);
        }
        let limit = update.unwrap_or(initial);
        let mut wire = Vec::new();
        for (i, case) in story["cases"].as_array().expect("cases").iter().enumerate() {
            let want = headers(case);
            raw += want.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
            wire.clear();
            enc.encode(
                want.iter().map(|(n, v)| HeaderField {
                    name: n,
                    value: v,
                    never_index: false,
                }),
                &mut wire,
            );
            bytes += wire.len();
            let mut got = Vec::new();
            dec.decode(&wire, |f| got.push((f.name.to_vec(), f.value.to_vec())))
                .unwrap_or_else(|e| panic!("{} case {i}: {e:?}", path.display()));
            assert!(
                got == want,
                "{} case {i}: round trip differs (table {initial}, update {update:?})",
                path.display()
            );
            assert_eq!(
                enc.table_size(),
                dec.table_size(),
                "{} case {i}: tables diverge",
                path.display()
            );
            assert!(dec.table_size() <= limit);
            n_cases += 1;
        }
        n_stories += 1;
    }
    (n_stories, n_cases, bytes, raw)
}

#[test]
fn round_trip_raw_data() {
    for (initial, update) in [
        (4096, None),
        (256, None),
        (0, None),
        (4096, Some(256)),
        (4096, Some(0)),
        (4096, Some(65536)),
    ] {
        let (s, c, bytes, raw) = round_trip(initial, update);
        println!(
            "round trip raw-data, table {initial}, update {update:?}: {s} stories, {c} cases, \
             {raw} header bytes -> {bytes} bytes"
        );
        assert!(s > 0 && c > 0);
    }
}
