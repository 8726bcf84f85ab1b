//! WebSocket frame header parser (src/ws/frame): arbitrary bytes; a parsed
//! header written back with `write_header` parses to the same header.
#![no_main]
use libfuzzer_sys::fuzz_target;

use h2o::ws::frame::{parse_header, write_header};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((h, used))) = parse_header(data) {
        assert!(used <= data.len() && used >= 2);
        let mut buf = Vec::new();
        write_header(&mut buf, h.fin, h.opcode, h.mask, h.payload_len);
        let (h2, used2) = parse_header(&buf).unwrap().unwrap();
        assert_eq!(used2, buf.len());
        assert_eq!(
            (h2.fin, h2.opcode, h2.mask, h2.payload_len),
            (h.fin, h.opcode, h.mask, h.payload_len)
        );
    }
});
