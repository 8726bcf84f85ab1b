//! RFC 7541 Appendix C examples (decode and, where our policy produces the
//! same choices, encode), every `DecodeError` variant, size update rules
//! (§4.2, §6.3), sensitive fields (§7.1.3), the indexing policy, and property
//! tests: arbitrary input never panics, arbitrary header lists round-trip.

use h2o::hpack::{DecodeError, Decoder, Encoder, HeaderField};
use proptest::prelude::*;

type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(dec: &mut Decoder, block: &[u8]) -> Result<Fields, DecodeError> {
    let mut got = Vec::new();
    dec.decode(block, |f| {
        got.push((f.name.to_vec(), f.value.to_vec(), f.never_index))
    })?;
    Ok(got)
}

fn fields(list: &[(&str, &str)]) -> Fields {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec(), false))
        .collect()
}

fn hf<'a>(name: &'a str, value: &'a str) -> HeaderField<'a> {
    HeaderField {
        name: name.as_bytes(),
        value: value.as_bytes(),
        never_index: false,
    }
}

fn encode(enc: &mut Encoder, list: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    enc.encode(list.iter().map(|&(n, v)| hf(n, v)), &mut out);
    out
}

#[test]
fn c2_field_representations() {
    // C.2.1 literal with indexing.
    let mut dec = Decoder::default();
    let got = decode(
        &mut dec,
        &unhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"),
    )
    .unwrap();
    assert_eq!(got, fields(&[("custom-key", "custom-header")]));
    assert_eq!((dec.table_len(), dec.table_size()), (1, 55));
    // C.2.2 literal without indexing.
    let mut dec = Decoder::default();
    let got = decode(&mut dec, &unhex("040c2f73616d706c652f70617468")).unwrap();
    assert_eq!(got, fields(&[(":path", "/sample/path")]));
    assert_eq!(dec.table_len(), 0);
    // C.2.3 never indexed.
    let mut dec = Decoder::default();
    let got = decode(&mut dec, &unhex("100870617373776f726406736563726574")).unwrap();
    assert_eq!(got, vec![(b"password".to_vec(), b"secret".to_vec(), true)]);
    assert_eq!(dec.table_len(), 0);
    // C.2.4 indexed.
    let mut dec = Decoder::default();
    assert_eq!(
        decode(&mut dec, &[0x82]).unwrap(),
        fields(&[(":method", "GET")])
    );
    assert_eq!(dec.table_len(), 0);
}

const REQ1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const RESP1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    (
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ),
];

const C3: [&str; 3] = [
    "828684410f7777772e6578616d706c652e636f6d",
    "828684be58086e6f2d6361636865",
    "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
];
const C4: [&str; 3] = [
    "828684418cf1e3c2e5f23a6ba0ab90f4ff",
    "828684be5886a8eb10649cbf",
    "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
];
const C5: [&str; 3] = [
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    "4803333037c1c0bf",
    "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
];
const C6: [&str; 3] = [
    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
    "4883640effc1c0bf",
    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
];

fn check_sequence(table: usize, wires: [&str; 3], want: [&[(&str, &str)]; 3], sizes: [usize; 3]) {
    let mut dec = Decoder::new(table);
    for i in 0..3 {
        let got = decode(&mut dec, &unhex(wires[i])).unwrap();
        assert_eq!(got, fields(want[i]), "block {i}");
        assert_eq!(dec.table_size(), sizes[i], "table size after block {i}");
    }
}

#[test]
fn c3_c4_requests_decode() {
    check_sequence(4096, C3, [REQ1, REQ2, REQ3], [57, 110, 164]);
    check_sequence(4096, C4, [REQ1, REQ2, REQ3], [57, 110, 164]);
}

#[test]
fn c5_c6_responses_decode() {
    check_sequence(256, C5, [RESP1, RESP2, RESP3], [222, 222, 215]);
    check_sequence(256, C6, [RESP1, RESP2, RESP3], [222, 222, 215]);
}

#[test]
fn c4_c6_encode_exactly() {
    // Our encoder uses Huffman whenever it is shorter, and its indexing
    // choices match the RFC's on these examples, so C.4 and C.6 come out
    // byte for byte (C.3 and C.5 are the same blocks without Huffman).
    let mut enc = Encoder::new(4096);
    for (i, req) in [REQ1, REQ2, REQ3].into_iter().enumerate() {
        assert_eq!(encode(&mut enc, req), unhex(C4[i]), "C.4 request {i}");
    }
    assert_eq!(enc.table_size(), 164);
    let mut enc = Encoder::new(256);
    for (i, resp) in [RESP1, RESP2, RESP3].into_iter().enumerate() {
        // "307" is 3 octets raw and Huffman: we only use Huffman when strictly
        // shorter, which gives C.5's block here.
        let want = if i == 1 { C5[i] } else { C6[i] };
        assert_eq!(encode(&mut enc, resp), unhex(want), "C.6 response {i}");
    }
    assert_eq!(enc.table_size(), 215);
}

#[test]
fn error_variants() {
    use DecodeError::*;
    let cases: &[(&[u8], DecodeError)] = &[
        // Literal with indexing, new name, but no name length.
        (&[0x40], Truncated),
        // Name says 5 bytes, 1 present.
        (&[0x40, 0x05, b'a'], Truncated),
        // Integer continuation missing.
        (&[0xff], Truncated),
        (&[0xff, 0x80], Truncated),
        // Value missing entirely.
        (&[0x40, 0x01, b'a'], Truncated),
        // Indexed field beyond u32.
        (&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], IntegerOverflow),
        // Overlong integer.
        (&[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], IntegerOverflow),
        // String length beyond u32.
        (&[0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f], IntegerOverflow),
        // Index 0.
        (&[0x80], InvalidIndex),
        // Index 62 with an empty dynamic table.
        (&[0xbe], InvalidIndex),
        // Literal whose name index is 62 (empty table), with and without indexing.
        (&[0x7e, 0x00], InvalidIndex),
        (&[0x0f, 0x2f, 0x00], InvalidIndex),
        (&[0x1f, 0x2f, 0x00], InvalidIndex),
        // Huffman name of one 0xff octet: 8 bits of padding.
        (&[0x00, 0x81, 0xff, 0x00], InvalidHuffman),
        // Huffman value with padding that is not all ones ('a' = 00011 + 000).
        (&[0x04, 0x81, 0x18], InvalidHuffman),
        // Huffman EOS.
        (&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], InvalidHuffman),
        // Size update 4097 > 4096.
        (&[0x3f, 0xe2, 0x1f], InvalidTableSizeUpdate),
        // Size update after a field.
        (&[0x82, 0x20], LateTableSizeUpdate),
        (&[0x20, 0x82, 0x3f, 0xe1, 0x1f], LateTableSizeUpdate),
    ];
    for &(block, want) in cases {
        let mut dec = Decoder::default();
        assert_eq!(decode(&mut dec, block), Err(want), "block {block:02x?}");
    }
    // Index just past the dynamic table.
    let mut dec = Decoder::default();
    decode(&mut dec, &unhex(C4[0])).unwrap();
    assert_eq!(
        decode(&mut dec, &[0xbe]).unwrap(),
        fields(&[(":authority", "www.example.com")])
    );
    assert_eq!(decode(&mut dec, &[0xbf]), Err(InvalidIndex));
    // String longer than the configured limit (raw and Huffman).
    let mut dec = Decoder::default();
    dec.set_max_string_len(3);
    assert_eq!(
        decode(&mut dec, &[0x04, 0x03, b'a', b'b', b'c'])
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        decode(&mut dec, &[0x04, 0x04, b'a', b'b', b'c', b'd']),
        Err(StringTooLong)
    );
    assert_eq!(
        decode(&mut dec, &[0x00, 0x84, 0, 0, 0, 0, 0x00]),
        Err(StringTooLong)
    );
    // Every variant has a message.
    for e in [
        Truncated,
        IntegerOverflow,
        InvalidIndex,
        InvalidHuffman,
        InvalidTableSizeUpdate,
        LateTableSizeUpdate,
        StringTooLong,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

fn size_update(size: usize) -> Vec<u8> {
    // Encoded by an encoder whose peer announced `size`.
    let mut enc = Encoder::new(1 << 20);
    enc.set_max_table_size(1 << 16); // cap of the encoder, below the start
    enc.set_max_table_size(size);
    let mut out = Vec::new();
    enc.encode([], &mut out);
    out
}

#[test]
fn size_update_rules() {
    // Several updates at the start of a block are fine; the last one wins.
    let mut dec = Decoder::default();
    decode(&mut dec, &unhex(C4[0])).unwrap();
    let block = [&[0x20][..], &[0x3f, 0xe1, 0x1f], &[0x82]].concat();
    assert_eq!(
        decode(&mut dec, &block).unwrap(),
        fields(&[(":method", "GET")])
    );
    assert_eq!((dec.table_len(), dec.table_max_size()), (0, 4096));
    // An update to 0 evicts everything; a later one re-enables the table.
    let mut dec = Decoder::default();
    decode(&mut dec, &unhex(C4[0])).unwrap();
    assert_eq!(dec.table_len(), 1);
    decode(&mut dec, &[0x20]).unwrap();
    assert_eq!((dec.table_len(), dec.table_size()), (0, 0));
    assert_eq!(decode(&mut dec, &[0xbe]), Err(DecodeError::InvalidIndex));
    // Lowering our limit: the next block must start with an update...
    let mut dec = Decoder::default();
    dec.set_max_table_size(100);
    assert_eq!(
        decode(&mut dec, &[0x82]),
        Err(DecodeError::InvalidTableSizeUpdate)
    );
    assert_eq!(
        decode(&mut dec, &[]),
        Err(DecodeError::InvalidTableSizeUpdate)
    );
    // ...not above the new limit...
    assert_eq!(
        decode(&mut dec, &[0x3f, 0x46, 0x82]),
        Err(DecodeError::InvalidTableSizeUpdate)
    );
    // ...and once done, later blocks need none.
    assert_eq!(decode(&mut dec, &[0x3f, 0x45, 0x82]).unwrap().len(), 1); // 100
    assert_eq!(dec.table_max_size(), 100);
    assert_eq!(decode(&mut dec, &[0x82]).unwrap().len(), 1);
    // Raising the limit needs no update, and allows one up to the new limit.
    dec.set_max_table_size(8192);
    assert_eq!(decode(&mut dec, &[0x82]).unwrap().len(), 1);
    assert_eq!(decode(&mut dec, &size_update(8192)).unwrap().len(), 0);
    assert_eq!(dec.table_max_size(), 8192);
    assert_eq!(
        decode(&mut dec, &size_update(8193)),
        Err(DecodeError::InvalidTableSizeUpdate)
    );
}

#[test]
fn encoder_pending_size_updates() {
    // Smallest then final size, at the start of the next block only.
    let mut enc = Encoder::new(4096);
    let mut dec = Decoder::new(4096);
    let first = encode(&mut enc, REQ1);
    decode(&mut dec, &first).unwrap();
    enc.set_max_table_size(100);
    enc.set_max_table_size(50);
    enc.set_max_table_size(3000);
    dec.set_max_table_size(3000);
    let block = encode(&mut enc, REQ2);
    // 50 = 31 + 19, then 3000 = 31 + 0x19 + (0x17 << 7).
    assert_eq!(&block[..5], &[0x3f, 0x13, 0x3f, 0x99, 0x17]);
    assert_eq!(decode(&mut dec, &block).unwrap(), fields(REQ2));
    assert_eq!(dec.table_max_size(), 3000);
    assert_eq!(enc.table_size(), dec.table_size());
    // No update on the following block.
    let block = encode(&mut enc, REQ3);
    assert_ne!(block[0] & 0xe0, 0x20);
    assert_eq!(decode(&mut dec, &block).unwrap(), fields(REQ3));
    // Unchanged size: nothing emitted; an empty block still carries an update.
    enc.set_max_table_size(3000);
    assert_eq!(encode(&mut enc, &[]), Vec::<u8>::new());
    enc.set_max_table_size(0);
    assert_eq!(encode(&mut enc, &[]), vec![0x20]);
    assert_eq!(enc.table_len(), 0);
    // encode_field emits the pending update before the first field.
    enc.set_max_table_size(10);
    let mut out = Vec::new();
    enc.encode_field(hf(":method", "GET"), &mut out);
    assert_eq!(out, [0x2a, 0x82]);
}

#[test]
fn sensitive_fields_are_never_indexed() {
    let mut enc = Encoder::default();
    let mut dec = Decoder::default();
    let sensitive = [
        (
            "authorization",
            "Bearer a-very-long-token-value-that-is-long",
        ),
        ("proxy-authorization", "Basic dXNlcjpwYXNz"),
        ("cookie", "sid=1234567"),
        ("set-cookie", "a=b; Secure"),
    ];
    for _ in 0..2 {
        let mut out = Vec::new();
        enc.encode(sensitive.iter().map(|&(n, v)| hf(n, v)), &mut out);
        let got = decode(&mut dec, &out).unwrap();
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|f| f.2), "{got:?}");
        assert_eq!(out[0] & 0xf0, 0x10);
        assert_eq!(enc.table_len(), 0);
        assert_eq!(dec.table_len(), 0);
    }
    // Explicit flag, also for a name that is in neither table.
    let mut out = Vec::new();
    enc.encode_field(
        HeaderField {
            name: b"x-secret",
            value: b"hunter2",
            never_index: true,
        },
        &mut out,
    );
    assert_eq!(out[0], 0x10);
    assert_eq!(
        decode(&mut dec, &out).unwrap(),
        vec![(b"x-secret".to_vec(), b"hunter2".to_vec(), true)]
    );
    // A long cookie is indexed like any other field.
    let long = "session=0123456789abcdef0123456789abcdef";
    let first = encode(&mut enc, &[("cookie", long)]);
    assert_eq!(first[0] & 0xc0, 0x40);
    assert_eq!(enc.table_len(), 1);
    assert_eq!(encode(&mut enc, &[("cookie", long)]), [0xbe]);
}

#[test]
fn indexing_policy() {
    let mut enc = Encoder::default();
    let mut dec = Decoder::default();
    let mut roundtrip = |enc: &mut Encoder, list: &[(&str, &str)]| {
        let out = encode(enc, list);
        assert_eq!(decode(&mut dec, &out).unwrap(), fields(list));
        out
    };
    // A repeated custom field becomes one octet.
    roundtrip(&mut enc, &[("x-request-kind", "prefetch")]);
    assert_eq!(
        roundtrip(&mut enc, &[("x-request-kind", "prefetch")]),
        [0xbe]
    );
    // Same name, new value: literal with the dynamic name index.
    let out = roundtrip(&mut enc, &[("x-request-kind", "other")]);
    assert_eq!(out[0], 0x40 | 62);
    // Churning values are not indexed.
    let before = enc.table_len();
    roundtrip(
        &mut enc,
        &[
            (":path", "/search?q=1"),
            ("content-length", "1234"),
            ("etag", "\"abc\""),
        ],
    );
    assert_eq!(enc.table_len(), before);
    // A plain path is.
    roundtrip(&mut enc, &[(":path", "/style.css")]);
    assert_eq!(enc.table_len(), before + 1);
    // Huge values (more than half the table) are not.
    let huge = "v".repeat(3000);
    let out = roundtrip(&mut enc, &[("x-huge", &huge)]);
    assert_eq!(out[0], 0x00);
    assert_eq!(enc.table_len(), before + 1);
    assert_eq!(enc.table_size(), dec.table_size());
}

#[test]
fn decoder_reuses_table_name_during_eviction() {
    // §4.4: a literal with indexing whose name refers to the entry that the
    // insertion evicts.
    let mut dec = Decoder::new(60);
    decode(
        &mut dec,
        &unhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"),
    )
    .unwrap();
    assert_eq!(dec.table_size(), 55);
    // Name index 62, value "x": size 32 + 10 + 1 = 43, evicts the only entry.
    let got = decode(&mut dec, &[0x7e, 0x01, b'x']).unwrap();
    assert_eq!(got, fields(&[("custom-key", "x")]));
    assert_eq!((dec.table_len(), dec.table_size()), (1, 43));
    assert_eq!(
        decode(&mut dec, &[0xbe]).unwrap(),
        fields(&[("custom-key", "x")])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_blocks_never_panic(
        blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..96), 1..6),
        size in prop_oneof![Just(0usize), Just(64), Just(4096)],
    ) {
        let mut dec = Decoder::new(size);
        // Seed the table so that dynamic indices can hit.
        let _ = dec.decode(&unhex(C4[0]), |_| {});
        for b in &blocks {
            let _ = dec.decode(b, |f| { let _ = (f.name.len(), f.value.len()); });
            prop_assert!(dec.table_size() <= dec.table_max_size());
        }
    }

    #[test]
    fn arbitrary_fields_round_trip(
        blocks in prop::collection::vec(
            prop::collection::vec(
                (
                    prop_oneof![
                        Just(b":path".to_vec()),
                        Just(b"cookie".to_vec()),
                        Just(b"x-a".to_vec()),
                        Just(b"user-agent".to_vec()),
                        prop::collection::vec(any::<u8>(), 0..12),
                    ],
                    prop_oneof![
                        Just(b"/".to_vec()),
                        Just(b"GET".to_vec()),
                        prop::collection::vec(any::<u8>(), 0..40),
                    ],
                    any::<bool>(),
                ),
                0..10,
            ),
            1..8,
        ),
        sizes in prop::collection::vec(prop_oneof![Just(None), Just(Some(0usize)), (0usize..600).prop_map(Some)], 8),
    ) {
        let mut enc = Encoder::new(256);
        let mut dec = Decoder::new(256);
        for (block, size) in blocks.iter().zip(sizes) {
            if let Some(size) = size {
                enc.set_max_table_size(size);
                dec.set_max_table_size(size);
            }
            let mut out = Vec::new();
            enc.encode(block.iter().map(|(n, v, s)| HeaderField { name: n, value: v, never_index: *s }), &mut out);
            let got = decode(&mut dec, &out).unwrap();
            prop_assert_eq!(got.len(), block.len());
            for (g, w) in got.iter().zip(block) {
                prop_assert_eq!(&g.0, &w.0);
                prop_assert_eq!(&g.1, &w.1);
                if w.2 { prop_assert!(g.2); }
            }
            prop_assert_eq!(enc.table_size(), dec.table_size());
        }
    }
}

#[test]
fn huge_initial_table_is_cheap_and_works() {
    // Index memory is capped; a table larger than the cap still round-trips.
    let mut enc = Encoder::new(1 << 30);
    let mut dec = Decoder::new(1 << 30);
    for i in 0..2000 {
        let v = format!("value-{i}");
        let list = [("x-k", v.as_str()), ("x-k", v.as_str())];
        let out = encode(&mut enc, &list);
        assert_eq!(decode(&mut dec, &out).unwrap(), fields(&list));
        assert_eq!(*out.last().unwrap(), 0xbe, "second copy is indexed");
    }
    assert_eq!(enc.table_len(), 2000);
    assert_eq!(enc.table_size(), dec.table_size());
    // The peer's limit above our cap: we announce the cap.
    enc.set_max_table_size(1 << 20);
    let out = encode(&mut enc, &[]);
    let mut dec = Decoder::new(1 << 20);
    decode(&mut dec, &out).unwrap();
    assert_eq!(dec.table_max_size(), h2o::hpack::MAX_ENCODER_TABLE_SIZE);
}
