//! Receive path: preface check (RFC 9113 §3.4), frame dispatch, stream-state
//! rules for incoming frames (§5.1, §5.1.1, §5.1.2), header-block assembly
//! (§4.3, §6.10), receive flow control (§6.9) and message checks (§8.1).

use bytes::Bytes;

use super::headers::{BlockKind, HeadBuilder, HeadKind};
use super::stream::{ClosedHow, RecvPhase};
use super::{priority, Connection, Event, Role, PREFACE};
use crate::error::{Error, ErrorCode};
use crate::frame::{Frame, Settings, StreamId};

/// Where a stream id stands for an incoming frame.
enum Lookup {
    Open,
    Idle,
    Closed(Option<ClosedHow>),
}

fn conn(code: ErrorCode, reason: &'static str) -> Error {
    Error::conn(code, reason)
}

fn protocol(reason: &'static str) -> Error {
    Error::conn(ErrorCode::PROTOCOL_ERROR, reason)
}

impl Connection {
    pub(super) fn recv_bytes(&mut self, mut data: &[u8]) -> Result<usize, Error> {
        let total = data.len();
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.dead {
            return Ok(total);
        }
        if self.preface_left > 0 {
            let off = PREFACE.len() - self.preface_left;
            let n = self.preface_left.min(data.len());
            if data[..n] != PREFACE[off..off + n] {
                let e = protocol("invalid connection preface");
                self.conn_error(e);
                return Err(e);
            }
            self.preface_left -= n;
            data = &data[n..];
        }
        if data.is_empty() {
            return Ok(total);
        }
        self.decoder.push(data);
        let mut dec = core::mem::take(&mut self.decoder);
        let mut res = Ok(());
        for item in dec.frames() {
            let r = match item {
                Ok(frame) => self.on_frame(frame),
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => {}
                Err(Error::Stream {
                    stream_id, code, ..
                }) => {
                    self.stream_error(stream_id, code);
                    // MadeYouReset (CVE-2025-8671): a reset the peer provoked
                    // costs the server as much as one the peer sent.
                    if self.role == Role::Server {
                        if let Err(e) = self.suspicious() {
                            res = Err(e);
                            break;
                        }
                    }
                }
                Err(e) => {
                    res = Err(e);
                    break;
                }
            }
        }
        self.decoder = dec;
        if res.is_ok() && self.ctrl.len() + self.heads.len() > super::CTRL_LIMIT {
            res = Err(conn(
                ErrorCode::ENHANCE_YOUR_CALM,
                "peer does not read our control frames",
            ));
        } else if res.is_ok() && self.events.len() > super::EVENTS_LIMIT {
            res = Err(conn(
                ErrorCode::ENHANCE_YOUR_CALM,
                "peer sends frames faster than they are handled",
            ));
        }
        match res {
            Ok(()) => Ok(total),
            Err(e) => {
                self.conn_error(e);
                Err(e)
            }
        }
    }

    fn lookup(&self, id: StreamId) -> Lookup {
        if self.streams.contains_key(&id) {
            return Lookup::Open;
        }
        let peer_parity = if self.role == Role::Server { 1 } else { 0 };
        let idle = if id % 2 == peer_parity {
            id > self.last_remote_id
        } else {
            id >= self.next_local_id
        };
        if idle {
            Lookup::Idle
        } else {
            Lookup::Closed(self.recent.get(id))
        }
    }

    /// Counts a suspicious frame; too many is a connection error.
    fn suspicious(&mut self) -> Result<(), Error> {
        self.abuse += 1;
        if self.abuse > super::ABUSE_LIMIT {
            return Err(conn(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many stream resets, stream errors or empty DATA frames",
            ));
        }
        Ok(())
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), Error> {
        if !self.seen_settings && !matches!(frame, Frame::Settings { ack: false, .. }) {
            return Err(protocol("first frame from the peer is not SETTINGS"));
        }
        if let Some((cid, _)) = self.cont {
            match frame {
                Frame::Continuation { stream_id, .. } if stream_id == cid => {}
                _ => return Err(protocol("expected CONTINUATION")),
            }
        }
        match frame {
            Frame::Data {
                stream_id,
                end_stream,
                data,
                flow_len,
            } => self.on_data(stream_id, end_stream, data, flow_len),
            Frame::Headers {
                stream_id,
                end_stream,
                end_headers,
                block,
                ..
            } => {
                if end_headers {
                    self.on_header_block(stream_id, end_stream, &block)
                } else {
                    self.cont = Some((stream_id, end_stream));
                    self.hbuf.clear();
                    self.append_fragment(&block)
                }
            }
            Frame::Continuation {
                stream_id,
                end_headers,
                block,
            } => {
                let Some((_, end_stream)) = self.cont else {
                    return Err(protocol("CONTINUATION without HEADERS"));
                };
                self.append_fragment(&block)?;
                if end_headers {
                    self.cont = None;
                    let buf = core::mem::take(&mut self.hbuf);
                    let r = self.on_header_block(stream_id, end_stream, &buf);
                    self.hbuf = buf;
                    self.hbuf.clear();
                    r
                } else {
                    Ok(())
                }
            }
            Frame::Priority { stream_id, spec } => {
                // Deprecated (RFC 9113 §5.3.2): parsed and ignored, except the
                // self-dependency rule.
                if spec.dependency == stream_id {
                    return Err(Error::stream(
                        stream_id,
                        ErrorCode::PROTOCOL_ERROR,
                        "stream depends on itself",
                    ));
                }
                Ok(())
            }
            Frame::RstStream { stream_id, code } => match self.lookup(stream_id) {
                Lookup::Open => {
                    if self.role == Role::Server {
                        // "Rapid reset" (CVE-2023-44487) is a server-side concern.
                        self.suspicious()?;
                    }
                    self.remove_stream(stream_id, ClosedHow::ResetRemote);
                    self.events.push_back(Event::Reset {
                        stream_id,
                        code,
                        remote: true,
                    });
                    Ok(())
                }
                Lookup::Idle => Err(protocol("RST_STREAM on an idle stream")),
                Lookup::Closed(_) => Ok(()),
            },
            Frame::Settings { ack, settings } => self.on_settings(ack, settings),
            Frame::PushPromise { .. } => Err(protocol("PUSH_PROMISE while push is disabled")),
            Frame::Ping { ack, data } => {
                if ack {
                    if data == super::BDP_PAYLOAD && self.bdp.in_flight() {
                        self.on_bdp_ack();
                        return Ok(());
                    }
                    if data == super::SHUTDOWN_PAYLOAD && self.graceful_deadline.is_some() {
                        self.finish_graceful();
                        return Ok(());
                    }
                    self.events.push_back(Event::PingAck(data));
                } else {
                    Frame::Ping { ack: true, data }.encode(&mut self.ctrl);
                    self.events.push_back(Event::Ping(data));
                }
                Ok(())
            }
            Frame::GoAway {
                last_stream_id,
                code,
                debug,
            } => {
                self.on_goaway(last_stream_id, code, debug);
                Ok(())
            }
            Frame::WindowUpdate {
                stream_id,
                increment,
            } => self.on_window_update(stream_id, increment),
            Frame::PriorityUpdate {
                prioritized_id,
                field_value,
            } => self.on_priority_update(prioritized_id, &field_value),
            Frame::Unknown { .. } => Ok(()),
        }
    }

    fn append_fragment(&mut self, block: &[u8]) -> Result<(), Error> {
        let cap = (self.config.max_header_list_size as usize)
            .saturating_mul(2)
            .saturating_add(16 << 10);
        if self.hbuf.len() + block.len() > cap {
            return Err(conn(ErrorCode::ENHANCE_YOUR_CALM, "field block too large"));
        }
        if self.hbuf.capacity() == 0 {
            self.hbuf.reserve(block.len() * 2);
        }
        self.hbuf.extend_from_slice(block);
        Ok(())
    }

    fn on_data(
        &mut self,
        id: StreamId,
        end_stream: bool,
        data: Bytes,
        flow_len: u32,
    ) -> Result<(), Error> {
        if self.conn_recv.recv(flow_len).is_err() {
            return Err(conn(
                ErrorCode::FLOW_CONTROL_ERROR,
                "DATA beyond the connection window",
            ));
        }
        if flow_len > 0 {
            self.bdp_on_data(flow_len);
        }
        let stream_err = match self.lookup(id) {
            Lookup::Idle => return Err(protocol("DATA on an idle stream")),
            Lookup::Closed(Some(ClosedHow::ResetLocal)) => {
                // Late frames after our RST_STREAM: ignore, but keep the
                // connection window moving.
                self.release(id, flow_len);
                return Ok(());
            }
            Lookup::Closed(Some(ClosedHow::EndStream)) => {
                return Err(conn(ErrorCode::STREAM_CLOSED, "DATA on a closed stream"))
            }
            Lookup::Closed(_) => Some((ErrorCode::STREAM_CLOSED, "DATA on a closed stream")),
            Lookup::Open => {
                let s = self.streams.get_mut(&id).expect("open stream");
                match s.recv_phase {
                    RecvPhase::Closed => Some((ErrorCode::STREAM_CLOSED, "DATA after END_STREAM")),
                    RecvPhase::Head => Some((ErrorCode::PROTOCOL_ERROR, "DATA before HEADERS")),
                    RecvPhase::Body => {
                        if s.recv_window.recv(flow_len).is_err() {
                            Some((
                                ErrorCode::FLOW_CONTROL_ERROR,
                                "DATA beyond the stream window",
                            ))
                        } else {
                            s.received += data.len() as u64;
                            let cl_bad = match s.content_length {
                                Some(cl) => s.received > cl || (end_stream && s.received != cl),
                                None => false,
                            };
                            if cl_bad {
                                Some((ErrorCode::PROTOCOL_ERROR, "content-length mismatch"))
                            } else {
                                if end_stream {
                                    s.recv_phase = RecvPhase::Closed;
                                }
                                None
                            }
                        }
                    }
                }
            }
        };
        if let Some((code, reason)) = stream_err {
            self.release(id, flow_len);
            return Err(Error::stream(id, code, reason));
        }
        if data.is_empty() && !end_stream {
            self.suspicious()?;
            self.release(id, flow_len);
            return Ok(());
        }
        self.events.push_back(Event::Data {
            stream_id: id,
            data,
            end_stream,
        });
        self.data_flow.push_back(flow_len);
        if end_stream {
            self.maybe_close(id);
        }
        Ok(())
    }

    /// Decodes a complete field block (always, to keep the HPACK table in sync).
    /// `kind: None` decodes and discards.
    fn decode_block(
        &mut self,
        kind: Option<BlockKind>,
        id: StreamId,
        block: &[u8],
    ) -> Result<Option<Result<super::headers::Head, Error>>, Error> {
        match kind {
            None => {
                self.hdec
                    .decode(block, |_| {})
                    .map_err(|_| conn(ErrorCode::COMPRESSION_ERROR, "HPACK decoding failed"))?;
                Ok(None)
            }
            Some(kind) => self
                .decode_with(kind, id, block, |_, b| b.finish())
                .map(Some),
        }
    }

    /// Decodes a complete field block of `kind` into a builder and hands the
    /// builder to `then` (which builds the head from it by reference: the
    /// builder is not moved, and a request can go straight into its event).
    fn decode_with<R>(
        &mut self,
        kind: BlockKind,
        id: StreamId,
        block: &[u8],
        then: impl FnOnce(&mut Self, &mut HeadBuilder) -> R,
    ) -> Result<R, Error> {
        let connect = self.role == Role::Server && self.config.enable_connect_protocol;
        let mut b = HeadBuilder::lent(
            kind,
            id,
            self.config.max_header_list_size,
            connect,
            core::mem::take(&mut self.value_store),
            core::mem::take(&mut self.names),
            self.header_pool.take(),
        );
        let r = self.hdec.decode(block, |f| b.field(f));
        self.value_store = b.take_store();
        self.names = b.take_names();
        if r.is_err() {
            self.header_pool.give(b.take_headers());
        }
        r.map_err(|_| conn(ErrorCode::COMPRESSION_ERROR, "HPACK decoding failed"))?;
        Ok(then(self, &mut b))
    }

    /// A complete header block (HEADERS + CONTINUATIONs) on stream `id`.
    fn on_header_block(
        &mut self,
        id: StreamId,
        end_stream: bool,
        block: &[u8],
    ) -> Result<(), Error> {
        match self.lookup(id) {
            Lookup::Idle => {
                if self.role == Role::Server && id % 2 == 1 {
                    self.open_remote(id, end_stream, block)
                } else {
                    self.decode_block(None, id, block)?;
                    Err(protocol("HEADERS on an idle stream the peer cannot open"))
                }
            }
            Lookup::Closed(how) => {
                // Decoded anyway: the HPACK context is shared by all streams.
                self.decode_block(None, id, block)?;
                match how {
                    Some(ClosedHow::ResetLocal) => Ok(()),
                    Some(ClosedHow::ResetRemote) => Err(Error::stream(
                        id,
                        ErrorCode::STREAM_CLOSED,
                        "HEADERS on a reset stream",
                    )),
                    Some(ClosedHow::EndStream) => {
                        Err(conn(ErrorCode::STREAM_CLOSED, "HEADERS on a closed stream"))
                    }
                    None => Err(protocol("HEADERS on a closed or skipped stream id")),
                }
            }
            Lookup::Open => self.on_open_stream_block(id, end_stream, block),
        }
    }

    /// A header block on an open stream: a response head (client) or
    /// trailers, depending on how far the stream's receive side got.
    fn on_open_stream_block(
        &mut self,
        id: StreamId,
        end_stream: bool,
        block: &[u8],
    ) -> Result<(), Error> {
        let kind = match self.streams[&id].recv_phase {
            RecvPhase::Closed => None,
            RecvPhase::Head => Some(BlockKind::Response),
            RecvPhase::Body => Some(BlockKind::Trailers),
        };
        let Some(head) = self.decode_block(kind, id, block)? else {
            return Err(Error::stream(
                id,
                ErrorCode::STREAM_CLOSED,
                "HEADERS after END_STREAM",
            ));
        };
        let head = head?;
        let event = match head.kind {
            HeadKind::Response(response) => {
                self.on_response_head(id, &response, head.content_length, end_stream)?;
                Event::Response {
                    stream_id: id,
                    response,
                    end_stream,
                }
            }
            HeadKind::Trailers(trailers) => {
                self.on_trailers(id, end_stream)?;
                Event::Trailers {
                    stream_id: id,
                    trailers,
                }
            }
            HeadKind::Request(_) => {
                return Err(Error::stream(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    "unexpected request head",
                ))
            }
        };
        self.events.push_back(event);
        if end_stream {
            self.maybe_close(id);
        }
        Ok(())
    }

    /// Client: checks a response head against the stream (§8.1: 1xx heads
    /// never end the stream; content-length vs END_STREAM) and advances its
    /// receive phase past the final head.
    fn on_response_head(
        &mut self,
        id: StreamId,
        response: &http::Response<()>,
        content_length: Option<u64>,
        end_stream: bool,
    ) -> Result<(), Error> {
        let s = self.streams.get_mut(&id).expect("open stream");
        let status = response.status();
        if status.is_informational() {
            if end_stream {
                return Err(Error::stream(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    "1xx response with END_STREAM",
                ));
            }
            return Ok(());
        }
        let no_body = s.head_request
            || status == http::StatusCode::NO_CONTENT
            || status == http::StatusCode::NOT_MODIFIED;
        s.content_length = if no_body { None } else { content_length };
        if end_stream && s.content_length.is_some_and(|cl| cl != 0) {
            return Err(Error::stream(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "content-length mismatch",
            ));
        }
        s.recv_phase = if end_stream {
            RecvPhase::Closed
        } else {
            RecvPhase::Body
        };
        Ok(())
    }

    /// Trailers must end the stream and complete the announced content-length.
    fn on_trailers(&mut self, id: StreamId, end_stream: bool) -> Result<(), Error> {
        let s = self.streams.get_mut(&id).expect("open stream");
        if !end_stream {
            return Err(Error::stream(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "trailers without END_STREAM",
            ));
        }
        if s.content_length.is_some_and(|cl| cl != s.received) {
            return Err(Error::stream(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "content-length mismatch",
            ));
        }
        s.recv_phase = RecvPhase::Closed;
        Ok(())
    }

    /// Server: a client opens stream `id` (§5.1.1, §5.1.2).
    fn open_remote(&mut self, id: StreamId, end_stream: bool, block: &[u8]) -> Result<(), Error> {
        self.last_remote_id = id;
        let refuse =
            self.goaway_sent.is_some() || self.remote_open >= self.config.max_concurrent_streams;
        if refuse {
            self.decode_block(None, id, block)?;
            self.recent.insert(id, ClosedHow::ResetLocal);
            self.queue_rst(id, ErrorCode::REFUSED_STREAM);
            if self.goaway_sent.is_none() && self.settings_unacked == 0 {
                // Opening streams beyond the MAX_CONCURRENT_STREAMS the peer
                // acknowledged provokes a reset too (MadeYouReset).
                self.suspicious()?;
            }
            return Ok(());
        }
        self.decode_with(BlockKind::Request, id, block, |this, b| {
            this.accept_request(id, end_stream, b)
        })?
    }

    /// The decoded request block `b` of a new stream `id`: its checks, the
    /// stream, and `Event::Request` (the request built straight into it).
    fn accept_request(
        &mut self,
        id: StreamId,
        end_stream: bool,
        b: &mut HeadBuilder,
    ) -> Result<(), Error> {
        let request = b.finish_request()?;
        let content_length = b.content_length();
        if end_stream && content_length.is_some_and(|cl| cl != 0) {
            return Err(Error::stream(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "content-length mismatch",
            ));
        }
        let mut s = self.new_stream(id, false);
        s.content_length = content_length;
        s.recv_phase = if end_stream {
            RecvPhase::Closed
        } else {
            RecvPhase::Body
        };
        if b.has_priority() {
            if let Some(p) = priority::from_headers(request.headers()) {
                s.priority = p;
            }
        }
        if let Some(i) = self.pending_priority.iter().position(|&(pid, _)| pid == id) {
            // A PRIORITY_UPDATE that arrived first takes precedence (RFC 9218 §7.1).
            s.priority = self.pending_priority.swap_remove(i).1;
        }
        self.streams.insert(id, s);
        self.remote_open += 1;
        self.events.push_back(Event::Request {
            stream_id: id,
            request,
            end_stream,
        });
        Ok(())
    }

    fn on_settings(&mut self, ack: bool, settings: Settings) -> Result<(), Error> {
        if ack {
            if self.settings_unacked == 0 {
                return Err(protocol("unexpected SETTINGS ACK"));
            }
            self.settings_unacked -= 1;
            self.settings_rtt();
            if !self.first_ack_seen {
                self.first_ack_seen = true;
                // The peer's encoder applied the agreed preset right before
                // this ACK (module docs): so does our decoder, here.
                if self.preset_agreed {
                    if let Some(p) = crate::hpack::preset(self.config.hpack_preset) {
                        self.hdec.apply_preset(p);
                    }
                }
            }
            if self.settings_unacked == 0 {
                self.settings_deadline = None;
                // Our advertised limits now fully apply.
                self.hdec
                    .set_max_table_size(self.config.header_table_size as usize);
                // The last window we announced (adaptive growth already
                // applied its own increases when it announced them).
                let target = self.announced_window;
                if target != self.local_window {
                    let delta = target as i64 - self.local_window as i64;
                    self.local_window = target;
                    for s in self.streams.values_mut() {
                        s.recv_window.adjust(delta, target);
                    }
                }
            }
            self.events.push_back(Event::SettingsAcked);
            return Ok(());
        }
        let first = !self.seen_settings;
        self.seen_settings = true;
        let delta = self.peer.apply(&settings, self.role)?;
        if let Some(v) = settings.header_table_size {
            self.henc.set_max_table_size((v as usize).min(64 << 10));
        }
        // Shared HPACK preset: agreed when the peer's first SETTINGS offers
        // the id we offered; our encoder applies it now, before the ACK
        // queued below (placed after any header block already encoded).
        let mut preset_now = false;
        if first
            && settings
                .hpack_preset
                .is_some_and(|p| p == self.config.hpack_preset)
        {
            if let Some(p) = crate::hpack::preset(self.config.hpack_preset) {
                self.henc.apply_preset(p);
                self.preset_agreed = true;
                preset_now = true;
            }
        }
        if delta != 0 {
            let mut overflow = false;
            let mut wake = Vec::new();
            for (id, s) in self.streams.iter_mut() {
                if s.send_window.adjust(delta).is_err() {
                    overflow = true;
                }
                if delta > 0 && !s.scheduled && s.sendable() {
                    wake.push(id);
                }
            }
            if overflow {
                return Err(conn(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
                ));
            }
            for id in wake {
                self.schedule(id);
            }
        }
        // Field blocks already encoded/framed for the old HEADER_TABLE_SIZE or
        // MAX_FRAME_SIZE must reach the peer before our ACK lets it apply the new
        // values (RFC 9113 §6.5.3, RFC 7541 §4.2).
        let out = if (settings.header_table_size.is_some()
            || settings.max_frame_size.is_some()
            || preset_now)
            && !self.heads.is_empty()
        {
            &mut self.heads
        } else {
            &mut self.ctrl
        };
        Frame::Settings {
            ack: true,
            settings: Settings::default(),
        }
        .encode(out);
        self.events.push_back(Event::Settings(settings));
        Ok(())
    }

    fn on_goaway(&mut self, last: StreamId, code: ErrorCode, debug: Bytes) {
        let prev = self.goaway_recv.unwrap_or(u32::MAX);
        self.goaway_recv = Some(last.min(prev));
        self.events.push_back(Event::GoAway {
            last_stream_id: last,
            code,
            debug,
        });
        // Streams we opened above `last` were not processed: report them refused
        // so the application can retry them elsewhere.
        let mut refused: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|&(id, s)| s.local && id > last)
            .map(|(id, _)| id)
            .collect();
        refused.sort_unstable();
        for id in refused {
            self.remove_stream(id, ClosedHow::ResetRemote);
            self.events.push_back(Event::Reset {
                stream_id: id,
                code: ErrorCode::REFUSED_STREAM,
                remote: true,
            });
        }
    }

    fn on_window_update(&mut self, id: StreamId, inc: u32) -> Result<(), Error> {
        if id == 0 {
            return self.conn_send.adjust(inc as i64).map_err(|_| {
                conn(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    "connection window above 2^31-1",
                )
            });
        }
        match self.lookup(id) {
            Lookup::Open => {
                let s = self.streams.get_mut(&id).expect("open stream");
                if s.send_window.adjust(inc as i64).is_err() {
                    return Err(Error::stream(
                        id,
                        ErrorCode::FLOW_CONTROL_ERROR,
                        "stream window above 2^31-1",
                    ));
                }
                self.schedule(id);
                Ok(())
            }
            Lookup::Idle => Err(protocol("WINDOW_UPDATE on an idle stream")),
            Lookup::Closed(_) => Ok(()),
        }
    }

    fn on_priority_update(&mut self, id: StreamId, value: &[u8]) -> Result<(), Error> {
        if self.role == Role::Client {
            return Err(protocol("PRIORITY_UPDATE sent by a server"));
        }
        if id == 0 || id % 2 == 0 {
            return Err(protocol("PRIORITY_UPDATE for a non-request stream"));
        }
        let Some(p) = priority::parse(value) else {
            return Ok(());
        };
        if self.streams.contains_key(&id) {
            self.reprioritize(id, p);
            self.events.push_back(Event::PriorityUpdate {
                stream_id: id,
                priority: p,
            });
        } else if id > self.last_remote_id {
            // Idle: remember it (bounded) for when the stream opens.
            if let Some(e) = self.pending_priority.iter_mut().find(|e| e.0 == id) {
                e.1 = p;
            } else if self.pending_priority.len() < super::PENDING_PRIORITY_CAP {
                self.pending_priority.push((id, p));
            }
        }
        Ok(())
    }
}
