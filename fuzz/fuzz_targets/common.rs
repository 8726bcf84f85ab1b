//! Shared by the fuzz targets: a cursor that turns the fuzzer's input into
//! choices (API calls, chunk sizes) and payloads.
#![allow(dead_code)]

/// Reads choices and byte strings off the fuzzer input; yields zeros/empty
/// slices once exhausted.
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    /// A length-prefixed chunk: a big-endian u16 length (mod 16 385), then
    /// up to that many bytes (the seed generator, examples/fuzz_seeds.rs,
    /// writes this format).
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = self.u16() as usize % 16_385;
        self.take(n)
    }
}

/// The TLS targets' loop: the input's chunks go to `pipe.recv` (once an error
/// was returned, every later `recv` must fail too), interleaved with writes.
pub fn drive_tls_pipe(pipe: &mut h2o::tls::TlsPipe, c: &mut Cursor, now: core::time::Duration) {
    let mut plain = Vec::new();
    let mut out = Vec::new();
    let mut failed = false;
    while !c.is_empty() {
        match c.byte() % 4 {
            0..=2 => {
                let r = pipe.recv(now, c.chunk(), &mut plain);
                if failed {
                    assert!(r.is_err());
                }
                failed |= r.is_err();
            }
            _ => {
                out.clear();
                pipe.send(b"hello");
                pipe.write_tls(&mut out);
            }
        }
    }
    out.clear();
    pipe.write_tls(&mut out);
}
