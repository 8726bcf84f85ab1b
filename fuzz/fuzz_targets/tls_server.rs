//! TLS record path, server role (src/tls `TlsPipe::recv`): arbitrary bytes
//! from a "client" in arbitrary chunks, interleaved with writes. One
//! self-signed certificate per process.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use core::time::Duration;
use std::sync::OnceLock;

use h2o::tls::{Alpn, SelfSigned, ServerTls, TlsPipe};

const NOW: Duration = Duration::from_secs(1_800_000_000);

fn ctx() -> &'static ServerTls {
    static CTX: OnceLock<ServerTls> = OnceLock::new();
    CTX.get_or_init(|| {
        let s = SelfSigned::generate(&["localhost"], NOW, 30).unwrap();
        ServerTls::builder()
            .cert(s.chain)
            .alpn(&[Alpn::H2, Alpn::Http11])
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut c = common::Cursor::new(data);
    let mut pipe = TlsPipe::server(ctx(), NOW).unwrap();
    common::drive_tls_pipe(&mut pipe, &mut c, NOW);
});
