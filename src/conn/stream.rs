//! Per-stream state (RFC 9113 §5.1): the send and receive halves of a stream,
//! the table of live streams (a slab with an id index), and a bounded memory
//! of recently closed ones so that late frames get the right treatment
//! (ignore vs STREAM_CLOSED).
//!
//! Idle streams are not stored; a stream enters the table when it opens and
//! leaves it when it is closed (both halves done) or reset. A closed stream's
//! slab slot is reused by the next stream opened (most recently freed first).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;
use slab::Slab;

use super::flow::{RecvWindow, SendWindow};
use super::Priority;
use crate::frame::StreamId;

/// Where the receive half is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvPhase {
    /// Waiting for the (final) response head (client; 1xx heads keep it here).
    Head,
    /// Head received: DATA or trailers may follow.
    Body,
    /// END_STREAM received: half-closed (remote).
    Closed,
}

/// Where the send half is (RFC 9113 §5.1 seen from our side). Transitions
/// are the methods below; a reset removes the stream instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendState {
    /// Server: no final response head queued yet (1xx heads stay here).
    Head,
    /// Head queued: DATA may be queued.
    Body,
    /// The application ended its half (with its last DATA, or by queuing
    /// trailers, kept in [`Stream::trailers`] until the DATA before them is
    /// written); the END_STREAM flag is still to be written.
    Ending,
    /// END_STREAM was written (half-closed (local), or closed).
    Closed,
}

impl SendState {
    /// The state of a new stream: a client's request head is queued when
    /// the stream opens; a server still owes the response head.
    #[inline]
    pub(crate) fn new(local: bool) -> Self {
        if local {
            SendState::Body
        } else {
            SendState::Head
        }
    }

    /// A head was queued: a final one opens the body, `end_stream` closes the
    /// half at once (the HEADERS carry END_STREAM).
    #[inline]
    pub(crate) fn head_sent(&mut self, is_final: bool, end_stream: bool) {
        if end_stream {
            *self = SendState::Closed;
        } else if is_final {
            *self = SendState::Body;
        }
    }

    /// The application ended its half.
    #[inline]
    pub(crate) fn end(&mut self) {
        *self = SendState::Ending;
    }

    /// END_STREAM was written.
    #[inline]
    pub(crate) fn end_sent(&mut self) {
        *self = SendState::Closed;
    }

    /// Still owes the response head (server).
    #[inline]
    pub(crate) fn awaits_head(&self) -> bool {
        matches!(self, SendState::Head)
    }

    /// The application ended its half (END_STREAM written or to write).
    #[inline]
    pub(crate) fn is_ended(&self) -> bool {
        matches!(self, SendState::Ending | SendState::Closed)
    }

    /// END_STREAM was written.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self, SendState::Closed)
    }
}

/// One open or half-closed stream.
#[derive(Debug)]
pub(crate) struct Stream {
    /// Its id (the table's index maps ids to slots; this maps back).
    pub id: StreamId,
    /// Opened by us.
    pub local: bool,
    // --- receive half ---
    pub recv_phase: RecvPhase,
    pub recv_window: RecvWindow,
    /// content-length of the message being received, if any.
    pub content_length: Option<u64>,
    /// DATA bytes received so far (without padding).
    pub received: u64,
    /// Client: the request was HEAD (the response has no body).
    pub head_request: bool,
    // --- send half ---
    pub send_window: SendWindow,
    /// Queued DATA payloads not yet written.
    pub queue: VecDeque<Bytes>,
    /// Sum of `queue` lengths.
    pub queued: usize,
    /// Bytes announced by `send_data_external` and not yet scheduled into a
    /// DATA frame; they follow everything in `queue`.
    pub ext_queued: u64,
    /// External bytes already scheduled (offset of the next external byte).
    pub ext_sent: u64,
    /// Where the send half is (head, body, ending, closed).
    pub send: SendState,
    /// Trailers to write once `queue` drains (the send half is `Ending`).
    /// Boxed: rare, and inline they would add a `HeaderMap` (96 bytes) to
    /// every entry of the stream table.
    pub trailers: Option<Box<http::HeaderMap>>,
    pub priority: Priority,
    /// Present in the scheduler (under `priority`).
    pub scheduled: bool,
    /// DATA credit is returned by `Connection::release_capacity`, not when
    /// the event is taken.
    pub manual_release: bool,
    /// Manual release: bytes taken but not released yet (returned to the
    /// connection window when the stream goes away).
    pub held: u32,
}

impl Stream {
    /// A fresh stream. Every field is set here (a struct literal: a field
    /// added later cannot be left over from a slot's previous stream); the
    /// connection adds pooled parts (an emptied DATA queue).
    pub(crate) fn new(id: StreamId, local: bool, send_window: u32, recv_window: u32) -> Self {
        Stream {
            id,
            local,
            recv_phase: RecvPhase::Head,
            recv_window: RecvWindow::new(recv_window, recv_window),
            content_length: None,
            received: 0,
            head_request: false,
            send_window: SendWindow::new(send_window),
            queue: VecDeque::new(),
            queued: 0,
            ext_queued: 0,
            ext_sent: 0,
            send: SendState::new(local),
            trailers: None,
            priority: Priority::default(),
            scheduled: false,
            manual_release: false,
            held: 0,
        }
    }

    /// Something for the DATA scheduler: payload within the window, or a final
    /// frame (empty END_STREAM DATA or trailers) once the queue is empty.
    pub(crate) fn sendable(&self) -> bool {
        if self.send.is_closed() || self.send.awaits_head() {
            return false;
        }
        if self.queued > 0 || self.ext_queued > 0 {
            self.send_window.available() > 0
        } else {
            self.send.is_ended()
        }
    }

    /// The last DATA carries END_STREAM (the half is ending, no trailers follow).
    #[inline]
    pub(crate) fn data_ends(&self) -> bool {
        self.send == SendState::Ending && self.trailers.is_none()
    }

    /// Both halves are done.
    pub(crate) fn is_done(&self) -> bool {
        self.send.is_closed() && self.recv_phase == RecvPhase::Closed
    }
}

/// Multiplicative hasher for stream ids (no SipHash on the hot path).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Live streams: the state in a [`Slab`] (a closed stream's slot is reused
/// by the next one opened; entries never move while the stream lives) and an
/// index from stream id to slot (8-byte entries, cheap to probe and to grow).
#[derive(Debug, Default)]
pub(crate) struct StreamTable {
    slab: Slab<Stream>,
    index: HashMap<StreamId, u32, BuildHasherDefault<IdHasher>>,
}

impl StreamTable {
    #[inline]
    pub(crate) fn get(&self, id: &StreamId) -> Option<&Stream> {
        let &k = self.index.get(id)?;
        self.slab.get(k as usize)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: &StreamId) -> Option<&mut Stream> {
        let &k = self.index.get(id)?;
        self.slab.get_mut(k as usize)
    }

    #[inline]
    pub(crate) fn contains_key(&self, id: &StreamId) -> bool {
        self.index.contains_key(id)
    }

    /// Adds a stream that is not in the table (the callers check).
    pub(crate) fn insert(&mut self, id: StreamId, s: Stream) {
        debug_assert!(!self.index.contains_key(&id));
        let k = self.slab.insert(s);
        // Slots are bounded by the streams open at once (u32 ids).
        self.index.insert(id, k as u32);
    }

    pub(crate) fn remove(&mut self, id: &StreamId) -> Option<Stream> {
        let k = self.index.remove(id)?;
        self.slab.try_remove(k as usize)
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Empty table: shrinks it to room for `keep` streams if it grew beyond
    /// twice that (a burst). One reallocation per table.
    pub(crate) fn trim(&mut self, keep: usize) {
        if self.is_empty() && self.slab.capacity() > 2 * keep {
            self.slab = Slab::with_capacity(keep);
            self.index.shrink_to(keep);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (StreamId, &Stream)> {
        self.slab.iter().map(|(_, s)| (s.id, s))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (StreamId, &mut Stream)> {
        self.slab.iter_mut().map(|(_, s)| (s.id, s))
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.slab.iter_mut().map(|(_, s)| s)
    }

    /// The slab slot of an open stream (tests check slot reuse).
    #[cfg(test)]
    pub(crate) fn slot(&self, id: StreamId) -> Option<usize> {
        self.index.get(&id).map(|&k| k as usize)
    }
}

impl core::ops::Index<&StreamId> for StreamTable {
    type Output = Stream;

    /// The stream `id`, which the caller knows is open.
    fn index(&self, id: &StreamId) -> &Stream {
        self.get(id).expect("open stream")
    }
}

/// How a stream that is no longer in the table ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClosedHow {
    /// We sent RST_STREAM (or refused it): late frames are ignored.
    ResetLocal,
    /// The peer sent RST_STREAM: further frames are a STREAM_CLOSED stream error.
    ResetRemote,
    /// Both END_STREAMs: further DATA/HEADERS are a STREAM_CLOSED connection error.
    EndStream,
}

/// Bounded FIFO memory of recently closed streams.
#[derive(Debug)]
pub(crate) struct Recent {
    ring: VecDeque<(StreamId, ClosedHow)>,
    cap: usize,
}

impl Recent {
    pub(crate) fn new(cap: usize) -> Self {
        Recent {
            // Grows on demand up to `cap`: a connection that closed few
            // streams holds few entries.
            ring: VecDeque::new(),
            cap,
        }
    }

    pub(crate) fn insert(&mut self, id: StreamId, how: ClosedHow) {
        if self.ring.len() == self.cap {
            self.ring.pop_front();
        }
        self.ring.push_back((id, how));
    }

    /// Frees spare capacity (the entries stay).
    pub(crate) fn shrink(&mut self) {
        self.ring.shrink_to_fit();
    }

    pub(crate) fn get(&self, id: StreamId) -> Option<ClosedHow> {
        self.ring
            .iter()
            .rev()
            .find(|&&(i, _)| i == id)
            .map(|&(_, h)| h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_bounded() {
        let mut r = Recent::new(2);
        r.insert(1, ClosedHow::ResetLocal);
        r.insert(3, ClosedHow::EndStream);
        r.insert(5, ClosedHow::ResetRemote);
        assert_eq!(r.get(1), None);
        assert_eq!(r.get(3), Some(ClosedHow::EndStream));
        assert_eq!(r.get(5), Some(ClosedHow::ResetRemote));
    }

    #[test]
    fn sendable_rules() {
        let mut s = Stream::new(1, true, 10, 10);
        assert!(!s.sendable());
        s.queue.push_back(Bytes::from_static(b"abc"));
        s.queued = 3;
        assert!(s.sendable());
        s.send_window.consume(10);
        assert!(!s.sendable());
        s.queue.clear();
        s.queued = 0;
        s.send.end();
        assert!(s.sendable());
        s.send.end_sent();
        assert!(!s.sendable());
    }
}
