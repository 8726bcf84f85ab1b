//! Incremental UTF-8 validation for text messages (RFC 6455 §5.6, §8.1).
//!
//! Data is validated as it arrives, across frame and fragment boundaries; an
//! incomplete trailing code point (at most 3 bytes) is carried over, and an
//! invalid prefix is reported as soon as it is seen ("fail fast").

/// Streaming validator state: the bytes of an incomplete trailing code point.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Utf8Validator {
    carry: [u8; 4],
    carry_len: u8,
}

/// Outcome of checking a byte slice.
enum Check {
    Valid,
    Incomplete(usize),
    Invalid,
}

fn check(b: &[u8]) -> Check {
    if simdutf8::basic::from_utf8(b).is_ok() {
        return Check::Valid;
    }
    match simdutf8::compat::from_utf8(b) {
        Ok(_) => Check::Valid,
        Err(e) if e.error_len().is_none() => Check::Incomplete(e.valid_up_to()),
        Err(_) => Check::Invalid,
    }
}

impl Utf8Validator {
    /// Forgets any carried bytes (start of a new message).
    pub(crate) fn reset(&mut self) {
        self.carry_len = 0;
    }

    /// Feeds the next bytes of the message. `Err` as soon as the data seen so
    /// far cannot be a prefix of valid UTF-8.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), ()> {
        if self.carry_len > 0 {
            let have = self.carry_len as usize;
            let need = match self.carry[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (need - have).min(data.len());
            let mut tmp = self.carry;
            tmp[have..have + take].copy_from_slice(&data[..take]);
            match check(&tmp[..have + take]) {
                Check::Valid => {
                    self.carry_len = 0;
                    data = &data[take..];
                }
                Check::Incomplete(0) => {
                    // Still a valid prefix of one code point; data exhausted.
                    self.carry = tmp;
                    self.carry_len = (have + take) as u8;
                    return Ok(());
                }
                _ => return Err(()),
            }
        }
        match check(data) {
            Check::Valid => Ok(()),
            Check::Incomplete(n) => {
                let rest = &data[n..];
                self.carry[..rest.len()].copy_from_slice(rest);
                self.carry_len = rest.len() as u8;
                Ok(())
            }
            Check::Invalid => Err(()),
        }
    }

    /// End of message: an incomplete code point is invalid.
    pub(crate) fn finish(&self) -> Result<(), ()> {
        if self.carry_len == 0 {
            Ok(())
        } else {
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Result<(), usize> {
        let mut v = Utf8Validator::default();
        for (i, c) in chunks.iter().enumerate() {
            v.feed(c).map_err(|_| i)?;
        }
        v.finish().map_err(|_| chunks.len())
    }

    #[test]
    fn split_everywhere_valid() {
        let s = "aé€😀z".as_bytes();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                assert_eq!(run(&[&s[..i], &s[i..j], &s[j..]]), Ok(()), "{i} {j}");
            }
        }
    }

    #[test]
    fn fail_fast() {
        // 0xF4 0x90 is already out of range (> U+10FFFF): fails on chunk 1.
        assert_eq!(run(&[b"ab\xF4", b"\x90", b"\x80\x80"]), Err(1));
        // Surrogate prefix ED A0.
        assert_eq!(run(&[b"\xED", b"\xA0\x80"]), Err(1));
        // Incomplete at end.
        assert_eq!(run(&[b"ab\xE2\x82"]), Err(1));
        // Lone continuation.
        assert_eq!(run(&[b"ok", b"\x80"]), Err(1));
    }
}
