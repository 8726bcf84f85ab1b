//! TLS record path, client role (src/tls `TlsPipe::recv`): arbitrary bytes
//! from a "server" in arbitrary chunks, interleaved with writes. The
//! ClientHello is already out; one CA per process.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use core::time::Duration;
use std::sync::OnceLock;

use h2o::tls::{Alpn, ClientTls, Roots, SelfSigned, TlsPipe};

const NOW: Duration = Duration::from_secs(1_800_000_000);

fn ctx() -> &'static ClientTls {
    static CTX: OnceLock<ClientTls> = OnceLock::new();
    CTX.get_or_init(|| {
        let s = SelfSigned::generate(&["localhost"], NOW, 30).unwrap();
        ClientTls::builder()
            .roots(Roots::None)
            .add_ca_pem(s.ca_pem.as_bytes(), "fuzz CA")
            .alpn(&[Alpn::H2, Alpn::Http11])
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut c = common::Cursor::new(data);
    let mut pipe = TlsPipe::client(ctx(), "localhost", NOW).unwrap();
    common::drive_tls_pipe(&mut pipe, &mut c, NOW);
});
