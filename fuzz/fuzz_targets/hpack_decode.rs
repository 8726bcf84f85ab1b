//! HPACK decoder (src/hpack): arbitrary field blocks in sequence on one
//! decoder (dynamic table carried across blocks), table size chosen by the
//! input; decoded fields re-encoded must decode to the same list.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use h2o::hpack::{Decoder, Encoder, HeaderField};

fuzz_target!(|data: &[u8]| {
    let mut c = common::Cursor::new(data);
    let table = (c.u16() as usize) % 65_536;
    let mut dec = Decoder::new(table);
    let mut enc = Encoder::default();
    let mut check = Decoder::new(4096);
    while !c.is_empty() {
        if c.byte().is_multiple_of(8) {
            dec.set_max_table_size((c.u16() as usize) % 65_536);
        }
        let block = c.chunk();
        let mut fields: Vec<(Vec<u8>, Vec<u8>, bool)> = Vec::new();
        let ok = dec
            .decode(block, |f| {
                fields.push((f.name.to_vec(), f.value.to_vec(), f.never_index))
            })
            .is_ok();
        if !ok {
            return;
        }
        assert!(dec.table_size() <= dec.table_max_size());
        let mut out = Vec::new();
        enc.encode(
            fields.iter().map(|(n, v, ni)| HeaderField {
                name: n,
                value: v,
                never_index: *ni,
            }),
            &mut out,
        );
        let mut again = Vec::new();
        check
            .decode(&out, |f| again.push((f.name.to_vec(), f.value.to_vec())))
            .expect("our own encoding decodes");
        let plain: Vec<_> = fields.into_iter().map(|(n, v, _)| (n, v)).collect();
        assert_eq!(again, plain);
    }
});
