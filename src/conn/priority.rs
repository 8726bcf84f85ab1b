//! RFC 9218 extensible priorities: parsing/serialising the `priority` field value
//! (`u=N, i`, a Structured Fields dictionary, RFC 8941 §3.2) and the DATA
//! scheduler (§10): lowest urgency first; within an urgency, non-incremental
//! streams one at a time in stream-id order, then incremental streams round-robin
//! one frame each.

use std::collections::VecDeque;

use super::Priority;
use crate::frame::StreamId;

/// The RFC 9218 `priority` field's name, built once (a `&str` lookup would
/// parse the name on every request).
pub(crate) const PRIORITY: http::HeaderName = http::HeaderName::from_static("priority");

/// The `priority` field of `headers`, parsed; `None` when absent or invalid.
#[inline]
pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Priority> {
    if headers.is_empty() {
        return None;
    }
    headers.get(&PRIORITY).and_then(|v| parse(v.as_bytes()))
}

/// Parses a `priority` field value. Unknown keys are ignored; an invalid value for
/// a known key leaves that parameter at its default (§4). Returns `None` when the
/// value is not a syntactically valid dictionary.
pub fn parse(value: &[u8]) -> Option<Priority> {
    let mut p = Priority::default();
    for member in value.split(|&b| b == b',') {
        let member = trim(member);
        if member.is_empty() {
            return None;
        }
        // Drop parameters (";...") of the member: not used by RFC 9218.
        let member = match member.iter().position(|&b| b == b';') {
            Some(i) => &member[..i],
            None => member,
        };
        let (key, val) = match member.iter().position(|&b| b == b'=') {
            Some(i) => (&member[..i], Some(&member[i + 1..])),
            None => (member, None),
        };
        if key.is_empty()
            || !(key[0].is_ascii_lowercase() || key[0] == b'*')
            || !key
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b))
        {
            return None;
        }
        match key {
            b"u" => {
                if let Some([d @ b'0'..=b'7']) = val {
                    p.urgency = d - b'0';
                }
            }
            b"i" => match val {
                None | Some(b"?1") => p.incremental = true,
                Some(b"?0") => p.incremental = false,
                _ => {}
            },
            _ => {}
        }
    }
    Some(p)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Appends the field value for `p` (e.g. `u=1, i`), omitting defaults.
pub fn write(p: Priority, out: &mut Vec<u8>) {
    out.extend_from_slice(b"u=");
    out.push(b'0' + p.urgency.min(7));
    if p.incremental {
        out.extend_from_slice(b", i");
    }
}

/// Streams with DATA (or a final frame) ready to send, by priority.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    /// Non-incremental streams per urgency, sorted by stream id.
    seq: [Vec<StreamId>; 8],
    /// Incremental streams per urgency, in round-robin order.
    inc: [VecDeque<StreamId>; 8],
    len: usize,
}

impl Scheduler {
    /// Frees the per-urgency lists' memory (called when empty and idle).
    pub(crate) fn shrink(&mut self) {
        for v in &mut self.seq {
            v.shrink_to_fit();
        }
        for v in &mut self.inc {
            v.shrink_to_fit();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn insert(&mut self, id: StreamId, p: Priority) {
        let u = p.urgency.min(7) as usize;
        if p.incremental {
            self.inc[u].push_back(id);
        } else {
            let v = &mut self.seq[u];
            match v.binary_search(&id) {
                Ok(_) => return,
                Err(i) => v.insert(i, id),
            }
        }
        self.len += 1;
    }

    pub(crate) fn remove(&mut self, id: StreamId, p: Priority) {
        let u = p.urgency.min(7) as usize;
        if p.incremental {
            let q = &mut self.inc[u];
            if let Some(i) = q.iter().position(|&x| x == id) {
                q.remove(i);
                self.len -= 1;
            }
        } else if let Ok(i) = self.seq[u].binary_search(&id) {
            self.seq[u].remove(i);
            self.len -= 1;
        }
    }

    /// The stream to serve next.
    pub(crate) fn peek(&self) -> Option<StreamId> {
        if self.len == 0 {
            return None;
        }
        for u in 0..8 {
            if let Some(&id) = self.seq[u].first() {
                return Some(id);
            }
            if let Some(&id) = self.inc[u].front() {
                return Some(id);
            }
        }
        None
    }

    /// After one frame of `id`: incremental streams go to the back of their round.
    pub(crate) fn served(&mut self, id: StreamId, p: Priority) {
        if p.incremental {
            let q = &mut self.inc[p.urgency.min(7) as usize];
            if q.front() == Some(&id) {
                q.rotate_left(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(u: u8, i: bool) -> Priority {
        Priority {
            urgency: u,
            incremental: i,
        }
    }

    #[test]
    fn parse_values() {
        assert_eq!(parse(b"u=1, i"), Some(pr(1, true)));
        assert_eq!(parse(b"u=5"), Some(pr(5, false)));
        assert_eq!(parse(b"i"), Some(pr(3, true)));
        assert_eq!(parse(b"i=?0,u=0"), Some(pr(0, false)));
        assert_eq!(parse(b"u=9"), Some(pr(3, false)));
        assert_eq!(parse(b"u=1, foo=bar;x, i"), Some(pr(1, true)));
        assert_eq!(parse(b"U=1"), None);
        assert_eq!(parse(b"u=1,,i"), None);
        let mut out = Vec::new();
        write(pr(2, true), &mut out);
        assert_eq!(out, b"u=2, i");
        assert_eq!(parse(&out), Some(pr(2, true)));
    }

    #[test]
    fn scheduler_order() {
        let mut s = Scheduler::default();
        s.insert(7, pr(3, false));
        s.insert(5, pr(3, false));
        s.insert(9, pr(1, true));
        s.insert(11, pr(1, true));
        assert_eq!(s.peek(), Some(9));
        s.served(9, pr(1, true));
        assert_eq!(s.peek(), Some(11));
        s.remove(11, pr(1, true));
        s.remove(9, pr(1, true));
        assert_eq!(s.peek(), Some(5));
        s.remove(5, pr(3, false));
        assert_eq!(s.peek(), Some(7));
        s.remove(7, pr(3, false));
        assert!(s.is_empty());
        assert_eq!(s.peek(), None);
    }
}
