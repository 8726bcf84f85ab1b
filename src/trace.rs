//! Frame tracer: the `nghttp -nv`-style log of `h2o get --trace` and
//! `h2o serve --trace`.
//!
//! Owns the formatting of one line per HTTP/2 frame (direction, time since
//! the connection's start, type, flags, stream, length) followed by what the
//! frame carries: decoded header fields, SETTINGS parameters, window
//! increments, error codes, GOAWAY's last stream id, PING data.
//!
//! Sans-IO like the rest of the core: an adapter that traces feeds the
//! plaintext bytes of the connection in each direction (after TLS decryption,
//! before encryption) with the current time, and gets text back. Nothing here
//! re-implements the protocol: each complete frame goes through the core's
//! [`FrameDecoder`], and header blocks through one HPACK [`Decoder`] per
//! direction, which mirrors the table of the peer's encoder in that direction
//! so every block decodes as the endpoint saw it. Adapters keep an
//! `Option<FrameTracer>` and only touch it when tracing, so an untraced
//! connection pays nothing.

use std::fmt::Write as _;
use std::time::Duration;

use crate::conn::PREFACE;
use crate::frame::{flags, Frame, FrameDecoder, FrameHeader, FRAME_HEADER_LEN, MAX_MAX_FRAME_SIZE};
use crate::hpack::{Decoder, DEFAULT_TABLE_SIZE};

/// Which way the bytes go, seen from the traced endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Written by the traced endpoint.
    Send,
    /// Received from the peer.
    Recv,
}

/// One direction's reassembly and decoding state.
#[derive(Debug)]
struct Side {
    /// Bytes of the client connection preface still to skip.
    preface_left: usize,
    /// A frame not yet complete.
    buf: Vec<u8>,
    frames: FrameDecoder,
    hpack: Decoder,
    /// Field block being assembled from HEADERS/PUSH_PROMISE + CONTINUATION.
    block: Vec<u8>,
}

impl Side {
    fn new(preface: bool) -> Side {
        let mut hpack = Decoder::new(DEFAULT_TABLE_SIZE);
        // The traced endpoint enforces the real limit; the tracer follows
        // whatever size updates the encoder makes.
        hpack.set_max_table_size(u32::MAX as usize);
        Side {
            preface_left: if preface { PREFACE.len() } else { 0 },
            buf: Vec::new(),
            frames: FrameDecoder::new(MAX_MAX_FRAME_SIZE),
            hpack,
            block: Vec::new(),
        }
    }
}

/// Turns the bytes of one HTTP/2 connection into trace lines.
#[derive(Debug)]
pub struct FrameTracer {
    send: Side,
    recv: Side,
    /// Put before every line (e.g. a connection id on the server).
    prefix: String,
}

impl FrameTracer {
    /// A tracer for a client connection (it sends the connection preface).
    pub fn client() -> FrameTracer {
        FrameTracer {
            send: Side::new(true),
            recv: Side::new(false),
            prefix: String::new(),
        }
    }

    /// A tracer for a server connection (it receives the connection preface).
    pub fn server() -> FrameTracer {
        FrameTracer {
            send: Side::new(false),
            recv: Side::new(true),
            prefix: String::new(),
        }
    }

    /// Puts `prefix` before every line (for example `"c12 "`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> FrameTracer {
        self.prefix = prefix.into();
        self
    }

    /// Feeds connection bytes going in `dir` at time `now` (since the
    /// connection's start) and appends one line per complete frame to `out`
    /// (plus one indented line per header field). Partial frames wait for
    /// the rest.
    pub fn feed(&mut self, dir: Direction, now: Duration, mut data: &[u8], out: &mut String) {
        let side = match dir {
            Direction::Send => &mut self.send,
            Direction::Recv => &mut self.recv,
        };
        if side.preface_left > 0 {
            let n = side.preface_left.min(data.len());
            side.preface_left -= n;
            data = &data[n..];
        }
        side.buf.extend_from_slice(data);
        let mut pos = 0;
        while let Some(h) = side.buf.get(pos..pos + FRAME_HEADER_LEN) {
            let h: &[u8; FRAME_HEADER_LEN] = h.try_into().expect("9 bytes");
            let head = FrameHeader::parse(h);
            let end = pos + FRAME_HEADER_LEN + head.len as usize;
            if end > side.buf.len() {
                break;
            }
            let frame = side.buf[pos..end].to_vec();
            pos = end;
            frame_lines(side, &self.prefix, dir, now, &head, &frame, out);
        }
        side.buf.drain(..pos);
    }

    /// Accounts for `len` payload bytes going in `dir` that the adapter sends
    /// without copying them through user space (`sendfile`): they are part of
    /// a DATA frame whose header was fed, and their content is not shown.
    pub fn feed_opaque(&mut self, dir: Direction, now: Duration, len: usize, out: &mut String) {
        // Zeroes stand in for the file bytes: the DATA line shows lengths only.
        self.feed(dir, now, &vec![0u8; len], out);
    }
}

fn type_name(ty: u8) -> Option<&'static str> {
    Some(match ty {
        0x0 => "DATA",
        0x1 => "HEADERS",
        0x2 => "PRIORITY",
        0x3 => "RST_STREAM",
        0x4 => "SETTINGS",
        0x5 => "PUSH_PROMISE",
        0x6 => "PING",
        0x7 => "GOAWAY",
        0x8 => "WINDOW_UPDATE",
        0x9 => "CONTINUATION",
        0x10 => "PRIORITY_UPDATE",
        _ => return None,
    })
}

/// The names of the flags set in `f` that the frame type defines.
fn flag_names(ty: u8, f: u8) -> String {
    let known: &[(u8, &str)] = match ty {
        0x0 => &[(flags::END_STREAM, "END_STREAM"), (flags::PADDED, "PADDED")],
        0x1 => &[
            (flags::END_STREAM, "END_STREAM"),
            (flags::END_HEADERS, "END_HEADERS"),
            (flags::PADDED, "PADDED"),
            (flags::PRIORITY, "PRIORITY"),
        ],
        0x4 | 0x6 => &[(flags::ACK, "ACK")],
        0x5 => &[
            (flags::END_HEADERS, "END_HEADERS"),
            (flags::PADDED, "PADDED"),
        ],
        0x9 => &[(flags::END_HEADERS, "END_HEADERS")],
        _ => &[],
    };
    let names: Vec<&str> = known
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    names.join(" | ")
}

fn error_name(code: crate::error::ErrorCode) -> String {
    match code.name() {
        Some(n) => format!("{n}(0x{:02x})", code.0),
        None => format!("UNKNOWN(0x{:02x})", code.0),
    }
}

/// Formats one complete frame (`bytes`: header + payload).
fn frame_lines(
    side: &mut Side,
    prefix: &str,
    dir: Direction,
    now: Duration,
    h: &FrameHeader,
    bytes: &[u8],
    out: &mut String,
) {
    let d = match dir {
        Direction::Send => "send",
        Direction::Recv => "recv",
    };
    let ty = match type_name(h.ty) {
        Some(n) => n.to_string(),
        None => format!("UNKNOWN(0x{:02x})", h.ty),
    };
    let _ = write!(
        out,
        "{prefix}[{:8.3}] {d} {ty} frame <length={}, flags=0x{:02x}, stream_id={}>",
        now.as_secs_f64(),
        h.len,
        h.flags,
        h.stream_id
    );
    let names = flag_names(h.ty, h.flags);
    if !names.is_empty() {
        let _ = write!(out, " ; {names}");
    }
    if side.frames.is_poisoned() {
        side.frames = FrameDecoder::new(MAX_MAX_FRAME_SIZE);
    }
    side.frames.push(bytes);
    let mut fields = None;
    let items: Vec<_> = side.frames.frames().collect();
    for item in items {
        match item {
            Ok(f) => fields = details(side, &f, out).or(fields),
            Err(e) => {
                let _ = write!(out, " ; invalid: {e}");
            }
        }
    }
    out.push('\n');
    if let Some(list) = fields {
        for line in list {
            let _ = writeln!(out, "{prefix}          {line}");
        }
    }
}

/// Appends the frame's decoded content to the frame line; returns the header
/// fields when a field block completed.
fn details(side: &mut Side, f: &Frame, out: &mut String) -> Option<Vec<String>> {
    match f {
        Frame::Data { data, flow_len, .. } => {
            if *flow_len as usize != data.len() {
                let _ = write!(out, " (padlen={})", *flow_len as usize - data.len() - 1);
            }
            None
        }
        Frame::Headers {
            end_headers,
            priority,
            block,
            ..
        } => {
            if let Some(p) = priority {
                let _ = write!(
                    out,
                    " (dep_stream_id={}, weight={}, exclusive={})",
                    p.dependency,
                    p.weight as u32 + 1,
                    p.exclusive as u8
                );
            }
            side.block.clear();
            side.block.extend_from_slice(block);
            end_headers.then(|| decode_block(side))
        }
        Frame::PushPromise {
            end_headers,
            promised_id,
            block,
            ..
        } => {
            let _ = write!(out, " (promised_stream_id={promised_id})");
            side.block.clear();
            side.block.extend_from_slice(block);
            end_headers.then(|| decode_block(side))
        }
        Frame::Continuation {
            end_headers, block, ..
        } => {
            side.block.extend_from_slice(block);
            end_headers.then(|| decode_block(side))
        }
        Frame::Priority { spec, .. } => {
            let _ = write!(
                out,
                " (dep_stream_id={}, weight={}, exclusive={})",
                spec.dependency,
                spec.weight as u32 + 1,
                spec.exclusive as u8
            );
            None
        }
        Frame::RstStream { code, .. } => {
            let _ = write!(out, " (error_code={})", error_name(*code));
            None
        }
        Frame::Settings { ack, settings } => {
            if !ack {
                let list: Vec<String> = settings
                    .iter()
                    .map(|(id, v)| format!("[{}(0x{:02x}):{v}]", setting_name(id), id as u16))
                    .collect();
                let _ = write!(out, " (niv={}) {}", list.len(), list.join(" "));
            }
            None
        }
        Frame::Ping { data, .. } => {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            let _ = write!(out, " (opaque_data={hex})");
            None
        }
        Frame::GoAway {
            last_stream_id,
            code,
            debug,
        } => {
            let _ = write!(
                out,
                " (last_stream_id={last_stream_id}, error_code={}, opaque_data({})=[{}])",
                error_name(*code),
                debug.len(),
                String::from_utf8_lossy(debug).escape_debug()
            );
            None
        }
        Frame::WindowUpdate { increment, .. } => {
            let _ = write!(out, " (window_size_increment={increment})");
            None
        }
        Frame::PriorityUpdate {
            prioritized_id,
            field_value,
        } => {
            let _ = write!(
                out,
                " (prioritized_stream_id={prioritized_id}, priority_field_value={})",
                String::from_utf8_lossy(field_value).escape_debug()
            );
            None
        }
        Frame::Unknown { .. } => None,
    }
}

fn setting_name(id: crate::frame::SettingId) -> &'static str {
    use crate::frame::SettingId as S;
    match id {
        S::HeaderTableSize => "SETTINGS_HEADER_TABLE_SIZE",
        S::EnablePush => "SETTINGS_ENABLE_PUSH",
        S::MaxConcurrentStreams => "SETTINGS_MAX_CONCURRENT_STREAMS",
        S::InitialWindowSize => "SETTINGS_INITIAL_WINDOW_SIZE",
        S::MaxFrameSize => "SETTINGS_MAX_FRAME_SIZE",
        S::MaxHeaderListSize => "SETTINGS_MAX_HEADER_LIST_SIZE",
        S::EnableConnectProtocol => "SETTINGS_ENABLE_CONNECT_PROTOCOL",
        S::NoRfc7540Priorities => "SETTINGS_NO_RFC7540_PRIORITIES",
        S::HpackPreset => "SETTINGS_H2O_HPACK_PRESET",
    }
}

/// Decodes the assembled field block: one `name: value` per field.
fn decode_block(side: &mut Side) -> Vec<String> {
    let mut lines = Vec::new();
    let block = std::mem::take(&mut side.block);
    let r = side.hpack.decode(&block, |f| {
        lines.push(format!(
            "{}: {}",
            String::from_utf8_lossy(f.name),
            String::from_utf8_lossy(f.value)
        ));
    });
    if let Err(e) = r {
        lines.push(format!("(HPACK error: {e}; later blocks may decode wrong)"));
    }
    side.block = block;
    side.block.clear();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Config, Connection};

    /// Runs a client and a server core against each other, tracing both
    /// ends, and checks each side saw the other's frames mirrored.
    #[test]
    fn traces_a_request_on_both_ends() {
        let mut c = Connection::client(Config::default());
        let mut s = Connection::server(Config::default());
        let (mut tc, mut ts) = (
            FrameTracer::client(),
            FrameTracer::server().with_prefix("c1 "),
        );
        let (mut oc, mut os) = (String::new(), String::new());
        let t = Duration::from_millis(1500);
        let req = http::Request::get("http://example.com/x").body(()).unwrap();
        c.send_request(req, true).unwrap();
        for _ in 0..4 {
            let mut buf = Vec::new();
            c.write_to(t, &mut buf, 1 << 20);
            tc.feed(Direction::Send, t, &buf, &mut oc);
            ts.feed(Direction::Recv, t, &buf, &mut os);
            s.recv(t, &buf).unwrap();
            while let Some(ev) = s.poll_event() {
                if let crate::conn::Event::Request { stream_id, .. } = ev {
                    let resp = http::Response::builder().status(204).body(()).unwrap();
                    s.send_response(stream_id, resp, true).unwrap();
                }
            }
            let mut buf = Vec::new();
            s.write_to(t, &mut buf, 1 << 20);
            ts.feed(Direction::Send, t, &buf, &mut os);
            tc.feed(Direction::Recv, t, &buf, &mut oc);
            c.recv(t, &buf).unwrap();
            while c.poll_event().is_some() {}
        }
        assert!(
            oc.contains("[   1.500] send SETTINGS frame <length="),
            "{oc}"
        );
        assert!(oc.contains("send HEADERS frame <length="), "{oc}");
        assert!(oc.contains("; END_STREAM | END_HEADERS"), "{oc}");
        assert!(oc.contains("          :path: /x\n"), "{oc}");
        assert!(oc.contains("          :status: 204\n"), "{oc}");
        assert!(os.contains("c1 [   1.500] recv HEADERS frame"), "{os}");
        assert!(
            os.contains("c1           :authority: example.com\n"),
            "{os}"
        );
        // Every frame the client sent, the server received, in order.
        let sent: Vec<&str> = oc
            .lines()
            .filter_map(|l| l.split_once("] send ").map(|x| x.1))
            .collect();
        let got: Vec<&str> = os
            .lines()
            .filter_map(|l| l.split_once("] recv ").map(|x| x.1))
            .collect();
        assert_eq!(sent, got);
        assert!(sent
            .iter()
            .any(|l| l.starts_with("SETTINGS frame") && l.contains("ACK")));
    }

    #[test]
    fn split_input_goaway_and_errors() {
        let mut t = FrameTracer::server();
        let mut out = String::new();
        let now = Duration::ZERO;
        // Preface, then a GOAWAY split over two feeds.
        let mut bytes = PREFACE.to_vec();
        let mut g = Vec::new();
        crate::frame::write_goaway(
            &mut g,
            3,
            crate::error::ErrorCode::ENHANCE_YOUR_CALM,
            b"slow",
        );
        bytes.extend_from_slice(&g);
        let (a, b) = bytes.split_at(30);
        t.feed(Direction::Recv, now, a, &mut out);
        assert_eq!(out, "");
        t.feed(Direction::Recv, now, b, &mut out);
        assert_eq!(
            out,
            "[   0.000] recv GOAWAY frame <length=12, flags=0x00, stream_id=0> \
             (last_stream_id=3, error_code=ENHANCE_YOUR_CALM(0x0b), opaque_data(4)=[slow])\n"
        );
        // A WINDOW_UPDATE of 0 is invalid: the line says why.
        out.clear();
        let mut w = Vec::new();
        crate::frame::write_window_update(&mut w, 1, 0);
        t.feed(Direction::Recv, now, &w, &mut out);
        assert!(
            out.contains("WINDOW_UPDATE frame <length=4, flags=0x00, stream_id=1> ; invalid:"),
            "{out}"
        );
    }
}
