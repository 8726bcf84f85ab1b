//! Send path: opening streams and queueing heads (HPACK-encoded at call time, so
//! encoding order equals wire order), DATA queues of `Bytes`, and the output
//! writer: control frames, then HEADERS, then DATA chosen by the RFC 9218
//! scheduler within the flow-control windows (RFC 9113 §5.2, §6.1, §6.9).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::headers;
use super::stream::{ClosedHow, Stream};
use super::{priority, Connection, Event, Protocol, Role, UserError};
use crate::error::ErrorCode;
use crate::frame::encode::write_header_block;
use crate::frame::{flags, FrameHeader, StreamId, MAX_WINDOW};

/// Destination of [`Connection::write_all`].
pub(super) trait Sink {
    /// Bytes produced so far.
    fn len(&self) -> usize;
    /// Appends (copies) bytes.
    fn put(&mut self, b: &[u8]);
    /// Appends a DATA payload (no copy where the sink allows it).
    fn put_payload(&mut self, b: Bytes);
    /// True when the sink can carry [`Chunk::External`] payloads.
    fn external_ok(&self) -> bool {
        false
    }
    /// Appends an external DATA payload (only called when `external_ok`).
    fn put_external(&mut self, _stream_id: StreamId, _offset_in_body: u64, _len: u32) {}
}

/// One piece of output of [`Connection::write_chunks_ext`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes to write as they are (frames, frame headers, queued DATA payloads).
    Bytes(Bytes),
    /// A DATA payload the adapter supplies (announced with
    /// [`Connection::send_data_external`]): `len` bytes of the stream's external
    /// body starting at `offset_in_body` (counted from the first external byte of
    /// the stream). Its 9-byte DATA frame header is the end of the preceding
    /// [`Chunk::Bytes`].
    External {
        /// The stream whose body this is.
        stream_id: StreamId,
        /// Offset of the first byte within the stream's external body.
        offset_in_body: u64,
        /// Number of bytes (at most the peer's SETTINGS_MAX_FRAME_SIZE).
        len: u32,
    },
}

impl Chunk {
    /// Length in bytes on the wire.
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::External { len, .. } => *len as usize,
        }
    }

    /// True when the chunk carries no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Bytes> for Chunk {
    fn from(b: Bytes) -> Self {
        Chunk::Bytes(b)
    }
}

/// An element of vectored output: `Bytes` (for [`Connection::write_chunks`]) or
/// [`Chunk`] (for [`Connection::write_chunks_ext`], which can also carry
/// external payloads).
pub(super) trait OutChunk: From<Bytes> {
    /// Whether this type can carry external payloads.
    const EXTERNAL: bool;
    /// The external-payload element (only called when `EXTERNAL`).
    fn external(stream_id: StreamId, offset_in_body: u64, len: u32) -> Option<Self>;
}

impl OutChunk for Bytes {
    const EXTERNAL: bool = false;
    fn external(_: StreamId, _: u64, _: u32) -> Option<Self> {
        None
    }
}

impl OutChunk for Chunk {
    const EXTERNAL: bool = true;
    fn external(stream_id: StreamId, offset_in_body: u64, len: u32) -> Option<Self> {
        Some(Chunk::External {
            stream_id,
            offset_in_body,
            len,
        })
    }
}

/// DATA payloads up to this size are copied into the staging buffer with their
/// frame header: cheaper than a chunk of their own (a buffer split, a chunk,
/// an iovec and a `Bytes` drop each), and a batch of small responses leaves as
/// one chunk.
pub(super) const COPY_PAYLOAD_MAX: usize = 256;

/// Size of the staging chunk of [`ChunkSink`] (one allocation, reused in
/// place while the chunks split off it are dropped between writes).
pub(super) const STAGING_CHUNK: usize = 4096;

/// Produces chunks for a vectored write: frame headers and control frames are
/// staged in `buf` and split off as `Bytes`; DATA payloads larger than
/// [`COPY_PAYLOAD_MAX`] are the queued `Bytes` themselves (no copy), smaller
/// ones are staged too.
pub(super) struct ChunkSink<'a, C> {
    pub buf: &'a mut BytesMut,
    pub chunks: &'a mut Vec<C>,
    pub len: usize,
}

impl<C: OutChunk> ChunkSink<'_, C> {
    fn flush_staged(&mut self) {
        if !self.buf.is_empty() {
            self.chunks.push(C::from(self.buf.split().freeze()));
        }
    }

    /// Flushes staged bytes; returns the total length produced.
    pub(super) fn finish(&mut self) -> usize {
        self.flush_staged();
        self.len
    }
}

impl<C: OutChunk> Sink for ChunkSink<'_, C> {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }
    #[inline]
    fn put(&mut self, b: &[u8]) {
        if self.buf.capacity() - self.buf.len() < b.len() {
            self.buf.reserve(b.len().max(STAGING_CHUNK));
        }
        self.buf.extend_from_slice(b);
        self.len += b.len();
    }
    #[inline]
    fn put_payload(&mut self, b: Bytes) {
        if b.len() <= COPY_PAYLOAD_MAX {
            self.put(&b);
            return;
        }
        self.flush_staged();
        self.len += b.len();
        self.chunks.push(C::from(b));
    }
    fn external_ok(&self) -> bool {
        C::EXTERNAL
    }
    #[inline]
    fn put_external(&mut self, stream_id: StreamId, offset_in_body: u64, len: u32) {
        if let Some(chunk) = C::external(stream_id, offset_in_body, len) {
            self.flush_staged();
            self.len += len as usize;
            self.chunks.push(chunk);
        }
    }
}

/// Copies everything into one contiguous buffer.
pub(super) struct VecSink<'a>(pub &'a mut Vec<u8>);

impl Sink for VecSink<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn put(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    #[inline]
    fn put_payload(&mut self, b: Bytes) {
        self.0.extend_from_slice(&b);
    }
}

/// HPACK size (RFC 7541 §4.1) of a header map plus pseudo-header sizes.
fn list_size(pseudo: usize, n_pseudo: usize, headers: &http::HeaderMap) -> u64 {
    let mut n = (pseudo + 32 * n_pseudo) as u64;
    for (k, v) in headers {
        n += (k.as_str().len() + v.len() + 32) as u64;
    }
    n
}

/// A shared response head's field block (see
/// [`Connection::send_response_shared`]): valid while the encoder's version
/// is `version`. Holding the `Arc` keeps the map unchanged.
#[derive(Debug)]
pub(super) struct HeadMemo {
    fields: Arc<http::HeaderMap>,
    status: http::StatusCode,
    version: u64,
    /// RFC 9113 §6.5.2 list size of the head (checked against the peer's
    /// limit, which may change, at every use).
    list_size: u64,
    block: Vec<u8>,
}

/// Shared response heads a connection remembers (a page's few files
/// requested in turn all hit).
const HEAD_MEMOS: usize = 4;

const TOO_LARGE: UserError =
    UserError::InvalidHeaders("header list larger than the peer's SETTINGS_MAX_HEADER_LIST_SIZE");

impl Connection {
    /// Drops pending HPACK priming fields that would take a head of list
    /// size `size` past the peer's SETTINGS_MAX_HEADER_LIST_SIZE (priming
    /// is an optimisation: it must not make a head unsendable).
    fn check_priming(&mut self, size: u64) {
        if self.henc.priming_pending()
            && size + self.henc.priming_list_size() as u64 > self.peer.max_header_list_size as u64
        {
            self.henc.cancel_priming();
        }
    }

    fn check_open(&self) -> Result<(), UserError> {
        if self.dead {
            return Err(UserError::ConnectionClosed);
        }
        Ok(())
    }

    pub(super) fn open_request(
        &mut self,
        req: http::Request<()>,
        end_stream: bool,
    ) -> Result<StreamId, UserError> {
        if self.role != Role::Client {
            return Err(UserError::WrongRole);
        }
        self.check_open()?;
        if self.goaway_sent.is_some() || self.goaway_recv.is_some() {
            return Err(UserError::GoingAway);
        }
        if self.local_open >= self.peer.max_concurrent_streams {
            return Err(UserError::StreamLimit);
        }
        if self.next_local_id > MAX_WINDOW {
            return Err(UserError::GoingAway);
        }
        let protocol = req.extensions().get::<Protocol>();
        if protocol.is_some() && !self.peer.enable_connect_protocol {
            return Err(UserError::ConnectProtocolDisabled);
        }
        let uri = req.uri();
        let pseudo = req.method().as_str().len()
            + uri.scheme_str().map_or(0, str::len)
            + uri.authority().map_or(0, |a| a.as_str().len())
            + uri.path_and_query().map_or(1, |p| p.as_str().len())
            + protocol.map_or(0, |p| p.0.len());
        let size = list_size(pseudo, 5, req.headers());
        if size > self.peer.max_header_list_size as u64 {
            return Err(TOO_LARGE);
        }
        self.check_priming(size);
        self.block.clear();
        headers::encode_request(&req, &mut self.henc, &mut self.block)?;
        let id = self.next_local_id;
        self.next_local_id += 2;
        write_header_block(
            &mut self.heads,
            id,
            &self.block,
            end_stream,
            None,
            self.peer.max_frame_size,
        );
        let mut s = self.new_stream(id, true);
        s.head_request = req.method() == http::Method::HEAD;
        if let Some(p) = priority::from_headers(req.headers()) {
            s.priority = p;
        }
        if end_stream {
            s.send.end_sent();
        }
        self.streams.insert(id, s);
        self.local_open += 1;
        Ok(id)
    }

    /// Queues a response head; `shared` is `headers` itself when the caller
    /// shares the map across responses (see
    /// [`Connection::send_response_shared`]).
    pub(super) fn queue_response(
        &mut self,
        id: StreamId,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        shared: Option<&Arc<http::HeaderMap>>,
        end_stream: bool,
    ) -> Result<(), UserError> {
        if self.role != Role::Server {
            return Err(UserError::WrongRole);
        }
        self.check_open()?;
        let s = self.streams.get(&id).ok_or(UserError::UnknownStream)?;
        if !s.send.awaits_head() {
            return Err(UserError::StreamClosed);
        }
        let informational = status.is_informational();
        if informational && end_stream {
            return Err(UserError::InformationalEndsStream);
        }
        let version = self.henc.version();
        let memo = shared.and_then(|h| {
            self.head_memo.iter().position(|m| {
                m.version == version && m.status == status && Arc::ptr_eq(h, &m.fields)
            })
        });
        if let Some(i) = memo {
            // The same map and status, and the encoder as it was when they
            // last encoded without changing it: the same bytes.
            if self.head_memo[i].list_size > self.peer.max_header_list_size as u64 {
                return Err(TOO_LARGE);
            }
        } else {
            let size = list_size(3, 1, headers);
            if size > self.peer.max_header_list_size as u64 {
                return Err(TOO_LARGE);
            }
            self.check_priming(size);
            self.block.clear();
            let before = self.henc.version();
            headers::encode_response(status, headers, &mut self.henc, &mut self.block)?;
            if let Some(h) = shared {
                if self.henc.version() == before {
                    self.remember_head(h, status, before, size);
                }
            }
        }
        let block = match memo {
            Some(i) => &self.head_memo[i].block,
            None => &self.block,
        };
        write_header_block(
            &mut self.heads,
            id,
            block,
            end_stream,
            None,
            self.peer.max_frame_size,
        );
        let s = self.streams.get_mut(&id).expect("checked above");
        s.send.head_sent(!informational, end_stream);
        if end_stream {
            self.maybe_close(id);
        }
        Ok(())
    }

    /// Keeps the shared head just encoded (in `self.block`) without changing
    /// the encoder at `version`, in the slot of an entry that can no longer
    /// match (an older version: versions never come back, or the same map
    /// and status), else a free one, else the last.
    fn remember_head(
        &mut self,
        fields: &Arc<http::HeaderMap>,
        status: http::StatusCode,
        version: u64,
        list_size: u64,
    ) {
        let memos = &mut self.head_memo;
        let i = memos.iter().position(|m| {
            m.version != version || (m.status == status && Arc::ptr_eq(&m.fields, fields))
        });
        let m = match i {
            Some(i) => &mut memos[i],
            None if memos.len() < HEAD_MEMOS => {
                memos.push(HeadMemo {
                    fields: Arc::clone(fields),
                    status,
                    version,
                    list_size,
                    block: Vec::new(),
                });
                memos.last_mut().expect("just pushed")
            }
            None => memos.last_mut().expect("full"),
        };
        if !Arc::ptr_eq(&m.fields, fields) {
            m.fields = Arc::clone(fields);
        }
        m.status = status;
        m.version = version;
        m.list_size = list_size;
        m.block.clear();
        m.block.extend_from_slice(&self.block);
    }

    fn sendable_stream(&mut self, id: StreamId) -> Result<&mut Stream, UserError> {
        if self.dead {
            return Err(UserError::ConnectionClosed);
        }
        let s = self.streams.get_mut(&id).ok_or(UserError::UnknownStream)?;
        if s.send.is_ended() {
            return Err(UserError::StreamClosed);
        }
        if s.send.awaits_head() {
            return Err(UserError::ResponseHeadFirst);
        }
        Ok(s)
    }

    pub(super) fn queue_data(
        &mut self,
        id: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), UserError> {
        let s = self.sendable_stream(id)?;
        if s.ext_queued > 0 && !data.is_empty() {
            return Err(UserError::ExternalDataPending);
        }
        if !data.is_empty() {
            s.queued += data.len();
            s.queue.push_back(data);
        }
        if end_stream {
            s.send.end();
        }
        self.schedule(id);
        Ok(())
    }

    pub(super) fn queue_external(
        &mut self,
        id: StreamId,
        len: u64,
        end_stream: bool,
    ) -> Result<(), UserError> {
        let s = self.sendable_stream(id)?;
        s.ext_queued += len;
        if end_stream {
            s.send.end();
        }
        self.schedule(id);
        Ok(())
    }

    pub(super) fn queue_trailers(
        &mut self,
        id: StreamId,
        trailers: http::HeaderMap,
    ) -> Result<(), UserError> {
        let max = self.peer.max_header_list_size as u64;
        let s = self.sendable_stream(id)?;
        if list_size(0, 0, &trailers) > max {
            return Err(TOO_LARGE);
        }
        s.trailers = Some(Box::new(trailers));
        s.send.end();
        self.schedule(id);
        Ok(())
    }

    /// Writes control frames, then HEADERS, then DATA until `limit`.
    pub(super) fn write_all<S: Sink>(&mut self, sink: &mut S, limit: usize) {
        if !self.ctrl.is_empty() {
            sink.put(&self.ctrl);
            self.ctrl.clear();
        }
        if self.dead {
            return;
        }
        if !self.heads.is_empty() {
            sink.put(&self.heads);
            self.heads.clear();
        }
        while sink.len() < limit {
            let Some(id) = self.sched.peek() else { break };
            let Some(s) = self.streams.get_mut(&id) else {
                // Cannot happen: removal also unschedules. Be defensive.
                self.sched.remove(id, Default::default());
                break;
            };
            if s.queued > 0 || s.ext_queued > 0 {
                if s.queued == 0 && !sink.external_ok() {
                    // External payloads need `write_chunks_ext`.
                    break;
                }
                if self.conn_send.available() == 0 {
                    break;
                }
                let max_frame = self.peer.max_frame_size;
                if write_data(s, id, &mut self.conn_send, max_frame, sink, limit) {
                    self.sched.served(id, s.priority);
                }
            } else if let Some(t) = s.trailers.take() {
                self.block.clear();
                if headers::encode_trailers(&t, &mut self.henc, &mut self.block).is_err() {
                    self.reset_unencodable(id, sink);
                    continue;
                }
                self.tmp.clear();
                let max_frame = self.peer.max_frame_size;
                write_header_block(&mut self.tmp, id, &self.block, true, None, max_frame);
                sink.put(&self.tmp);
                s.send.end_sent();
            } else {
                // The body ended without a payload left: an empty END_STREAM DATA.
                let hdr = FrameHeader {
                    len: 0,
                    ty: 0,
                    flags: flags::END_STREAM,
                    stream_id: id,
                };
                sink.put(&hdr.to_bytes());
                s.send.end_sent();
            }
            if !s.sendable() {
                s.scheduled = false;
                self.sched.remove(id, s.priority);
                if s.queued == 0 && s.ext_queued == 0 && !s.send.is_ended() {
                    self.events.push_back(Event::SendReady { stream_id: id });
                }
            }
            if s.send.is_closed() {
                self.maybe_close(id);
            }
        }
    }

    /// Trailers that cannot be encoded: the stream is reset (INTERNAL_ERROR)
    /// and the application told so.
    fn reset_unencodable<S: Sink>(&mut self, id: StreamId, sink: &mut S) {
        self.remove_stream(id, ClosedHow::ResetLocal);
        self.events.push_back(Event::Reset {
            stream_id: id,
            code: ErrorCode::INTERNAL_ERROR,
            remote: false,
        });
        self.tmp.clear();
        crate::frame::Frame::RstStream {
            stream_id: id,
            code: ErrorCode::INTERNAL_ERROR,
        }
        .encode(&mut self.tmp);
        sink.put(&self.tmp);
    }
}

/// Writes one DATA frame of stream `id` (queued `Bytes` or an external
/// payload) within the stream and connection windows, the peer's frame size
/// and the room left before `limit`; END_STREAM when it carries the last byte
/// and no trailers follow. Returns false when the stream window is empty.
#[inline]
fn write_data<S: Sink>(
    s: &mut Stream,
    id: StreamId,
    conn_send: &mut super::flow::SendWindow,
    max_frame: u32,
    sink: &mut S,
    limit: usize,
) -> bool {
    let room = (limit - sink.len()).min(u32::MAX as usize) as u32;
    let max = s
        .send_window
        .available()
        .min(conn_send.available())
        .min(max_frame)
        .min(room.max(1));
    if max == 0 {
        return false;
    }
    let external = s.queued == 0;
    let pending = if external {
        s.ext_queued
    } else {
        s.queued as u64
    };
    let n = pending.min(max as u64) as u32;
    let end = n as u64 == pending && (external || s.ext_queued == 0) && s.data_ends();
    let hdr = FrameHeader {
        len: n,
        ty: 0,
        flags: if end { flags::END_STREAM } else { 0 },
        stream_id: id,
    };
    sink.put(&hdr.to_bytes());
    if external {
        sink.put_external(id, s.ext_sent, n);
        s.ext_sent += n as u64;
        s.ext_queued -= n as u64;
    } else {
        let mut left = n as usize;
        while left > 0 {
            let front = s.queue.front_mut().expect("queued > 0");
            if front.len() <= left {
                left -= front.len();
                let b = s.queue.pop_front().expect("non-empty");
                sink.put_payload(b);
            } else {
                sink.put_payload(front.split_to(left));
                left = 0;
            }
        }
        s.queued -= n as usize;
    }
    s.send_window.consume(n);
    conn_send.consume(n);
    if end {
        s.send.end_sent();
    }
    true
}
