//! HTTP/2 connection state machine (RFC 9113 §3.4–§8), client and server roles.
//!
//! Owns: the connection preface, the SETTINGS exchange, stream states (§5.1),
//! concurrency limits, connection/stream flow control (§5.2, §6.9), PING,
//! GOAWAY, RST_STREAM, header-block assembly (HEADERS + CONTINUATION),
//! RFC 8441 extended CONNECT, RFC 9218 priorities and the send scheduler.
//!
//! API families, quinn-proto style (the call order is documented once, on
//! [`Connection`]):
//! - inputs, each with the current time: [`Connection::recv`] (peer bytes),
//!   [`Connection::handle_timeout`] (timers);
//! - application calls: [`Connection::send_request`], [`Connection::send_response`],
//!   [`Connection::send_data`], [`Connection::send_data_external`] (zero-copy
//!   payloads the adapter writes itself), [`Connection::send_trailers`], [`Connection::reset`],
//!   [`Connection::ping`], [`Connection::shutdown`], [`Connection::shutdown_graceful`]
//!   (two-phase GOAWAY);
//! - outputs: [`Connection::write_to`] (or the vectored [`Connection::write_chunks`] /
//!   [`Connection::write_chunks_ext`]), also with the current time,
//!   [`Connection::poll_timeout`], [`Connection::poll_event`].
//!
//! Time is a `Duration` since an origin of the adapter's choosing (monotonic);
//! the core never reads a clock.
//!
//! Adaptive flow control (on by default, [`Config::adaptive_window`]): the
//! receive windows we grant grow while they limit the transfer, measured by
//! PING round trips (bandwidth-delay product, `bdp.rs`). Growth is announced
//! by SETTINGS_INITIAL_WINDOW_SIZE (all streams) and a connection
//! WINDOW_UPDATE, and applies to our own accounting at once (the peer can only
//! have less credit than we grant until it reads them). Probe PINGs carry
//! [`BDP_PAYLOAD`]; their ACKs are not reported as [`Event::PingAck`]. RTTs are
//! measured with the times given to `recv` (and to the first `write_*`, for
//! the round trip of our first SETTINGS); while the time given never moves past
//! that of the first write (e.g. a simulation that does not advance its
//! clock), no probe is sent and the windows stay static.
//!
//! Stream lifecycle as seen through events: a stream ends with exactly one of
//! [`Event::Closed`] (both directions finished cleanly) or [`Event::Reset`]
//! (RST_STREAM from the peer, a stream error we detected, or refusal by a
//! GOAWAY); a stream reset by the application's own [`Connection::reset`] just
//! disappears. Taking an [`Event::Data`] with `poll_event` counts it as
//! consumed for flow control: WINDOW_UPDATEs are queued once half a window was
//! consumed, so not taking events is backpressure (up to 16 384 events not
//! taken: more after a `recv` is treated as a flood). A stream put in manual
//! release ([`Connection::set_manual_release`]) instead gets its credit back
//! only through [`Connection::release_capacity`] (like `h2`'s
//! `FlowControl::release_capacity`): e.g. an echo returns credit as its
//! answer is written, so a peer that never reads cannot grow our memory.
//!
//! HPACK presets (both optional, off by default; README has the wire details):
//! - priming ([`Config::hpack_priming`]): fields added to our first header
//!   block with incremental indexing; plain RFC 7541, any peer decodes it.
//! - shared preset ([`Config::hpack_preset`]): each end offers a preset id in
//!   its first SETTINGS with the experimental parameter
//!   SETTINGS_H2O_HPACK_PRESET (0xf2c0; peers that do not know it ignore it,
//!   RFC 9113 §6.5.2). If both first SETTINGS carry the same known id, the
//!   preset ([`hpack::preset`]) is inserted, per direction, into the sender's
//!   encoder table and the receiver's decoder table at one agreed point of
//!   that direction's frame sequence: the sender's SETTINGS ACK of the
//!   receiver's first SETTINGS. The sender applies it when it processes that
//!   SETTINGS frame and queues the ACK after every header block encoded
//!   before (so blocks encoded earlier precede the ACK on the wire and blocks
//!   encoded later follow it); the receiver applies it on reading that ACK
//!   (the first SETTINGS ACK it receives; the sender's SETTINGS, which says
//!   whether it offered the id, always arrives before). A request sent
//!   before the server's SETTINGS arrived is therefore encoded without the
//!   preset and decoded without it. Later SETTINGS frames do not change it.
//!
//! Abuse limits (SECURITY.md has the full table): an abuse score for resets
//! the peer sends or provokes and empty DATA (`ABUSE_LIMIT`), a bound on
//! unsent control and header output (`CTRL_LIMIT`) and on events not taken
//! (`EVENTS_LIMIT`); past any of them the peer gets GOAWAY(ENHANCE_YOUR_CALM).
//!
//! Modules: stream state (`stream.rs`), windows (`flow.rs`), SETTINGS
//! (`settings.rs`), RFC 9218 ([`priority`]), receive path (`recv.rs`), send path
//! and scheduler-driven writer (`send.rs`), field blocks ([`headers`]).

mod bdp;
mod flow;
pub mod headers;
mod names;
pub mod priority;
mod recv;
#[cfg(test)]
mod reuse_tests;
mod send;
mod settings;
mod stream;
pub mod validate;

use core::time::Duration;
use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::error::{Error, ErrorCode};
use crate::frame::{Frame, FrameDecoder, StreamId, MAX_WINDOW};
use crate::hpack;

use flow::{RecvWindow, SendWindow};
use priority::Scheduler;
use settings::PeerSettings;
use stream::{ClosedHow, Recent, Stream, StreamTable};

pub use bdp::BDP_PAYLOAD;
pub use headers::Protocol;
pub use send::Chunk;

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends the preface, opens odd streams.
    Client,
    /// Receives the preface, answers streams.
    Server,
}

/// Local settings and limits. Defaults are tuned for throughput, not RFC minimums.
#[derive(Clone, Debug)]
pub struct Config {
    /// SETTINGS_HEADER_TABLE_SIZE we advertise (HPACK decoder table).
    pub header_table_size: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise (streams the peer may open).
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE we advertise (per-stream receive window);
    /// the starting value when `adaptive_window` is on.
    pub initial_window_size: u32,
    /// Connection-level receive window (raised from 65535 by an initial
    /// WINDOW_UPDATE); the starting value when `adaptive_window` is on.
    pub connection_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE we advertise (largest frame we accept).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce.
    pub max_header_list_size: u32,
    /// Server: advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    pub enable_connect_protocol: bool,
    /// Advertise SETTINGS_NO_RFC7540_PRIORITIES = 1 (RFC 9218).
    pub no_rfc7540_priorities: bool,
    /// How long the peer has to ACK our SETTINGS before SETTINGS_TIMEOUT
    /// (counted from the first `write_*` call, when they leave).
    pub settings_timeout: Duration,
    /// Adaptive receive windows (BDP estimation by PING round trips, see the
    /// module docs): grow `initial_window_size` and `connection_window_size`
    /// while they limit the transfer, up to `max_adaptive_window` /
    /// `max_adaptive_connection_window`. Measured with the times passed to
    /// `recv`. `false`: static windows.
    pub adaptive_window: bool,
    /// Cap of the adaptive per-stream window (SETTINGS_INITIAL_WINDOW_SIZE).
    pub max_adaptive_window: u32,
    /// Cap of the adaptive connection-level receive window.
    pub max_adaptive_connection_window: u32,
    /// [`Connection::shutdown_graceful`]: how long to wait for the ACK of the
    /// PING that follows the first GOAWAY(2^31-1) before sending the final
    /// GOAWAY anyway.
    pub graceful_shutdown_timeout: Duration,
    /// HPACK priming ([`hpack::Encoder::set_priming`]): these fields are added
    /// to the first header block we send (a client's first request, a
    /// server's first response head), after its own fields and unless it
    /// carries the same name, with incremental indexing, so that later blocks
    /// refer to them by index. They are real fields of that message: choose
    /// ones every message may carry. Works with any peer. Connection-specific
    /// fields and `te` are left out, as are sensitive ones (`authorization`,
    /// short cookies); dropped if the first block would exceed the peer's
    /// SETTINGS_MAX_HEADER_LIST_SIZE. Default: none.
    pub hpack_priming: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Shared HPACK table preset to offer with the experimental
    /// SETTINGS_H2O_HPACK_PRESET (0xf2c0); 0 (the default) or an id this build
    /// does not know ([`hpack::preset`]) offers none. When both ends offer the
    /// same id in their first SETTINGS, each direction's tables get the
    /// preset at that direction's first SETTINGS ACK (see the module docs).
    pub hpack_preset: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            header_table_size: 4096,
            max_concurrent_streams: 100,
            initial_window_size: 1 << 20,
            connection_window_size: 16 << 20,
            max_frame_size: 16_384,
            max_header_list_size: 64 << 10,
            enable_connect_protocol: false,
            no_rfc7540_priorities: true,
            settings_timeout: Duration::from_secs(10),
            adaptive_window: true,
            max_adaptive_window: 16 << 20,
            max_adaptive_connection_window: 32 << 20,
            graceful_shutdown_timeout: Duration::from_secs(1),
            hpack_priming: Vec::new(),
            hpack_preset: 0,
        }
    }
}

/// Something the peer did, reported by [`Connection::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Server role: a request head arrived (`end_stream`: no body follows).
    /// An extended CONNECT carries its `:protocol` as a [`Protocol`] extension.
    Request {
        /// The new stream.
        stream_id: StreamId,
        /// Method, URI (scheme, authority, path), headers.
        request: http::Request<()>,
        /// No DATA follows.
        end_stream: bool,
    },
    /// Client role: a response head arrived (1xx informational heads too).
    Response {
        /// The request's stream.
        stream_id: StreamId,
        /// Status and headers.
        response: http::Response<()>,
        /// No DATA follows.
        end_stream: bool,
    },
    /// Body bytes (a slice of the read buffer, no copy).
    Data {
        /// The stream.
        stream_id: StreamId,
        /// Payload without padding.
        data: Bytes,
        /// Last DATA of the stream.
        end_stream: bool,
    },
    /// Trailing header fields; ends the stream's receive side.
    Trailers {
        /// The stream.
        stream_id: StreamId,
        /// Trailer fields.
        trailers: http::HeaderMap,
    },
    /// The stream was reset, by the peer (`remote`) or by us after a stream error.
    Reset {
        /// The stream.
        stream_id: StreamId,
        /// RST_STREAM error code.
        code: ErrorCode,
        /// True when the peer sent RST_STREAM.
        remote: bool,
    },
    /// A stream finished cleanly in both directions.
    Closed {
        /// The stream.
        stream_id: StreamId,
    },
    /// Queued data of the stream was written out and it can take more.
    SendReady {
        /// The stream.
        stream_id: StreamId,
    },
    /// The peer's SETTINGS were applied (and acknowledged).
    Settings(crate::frame::Settings),
    /// The peer acknowledged our SETTINGS.
    SettingsAcked,
    /// The peer sent PING (already answered).
    Ping([u8; 8]),
    /// The peer answered our PING.
    PingAck([u8; 8]),
    /// The peer sent GOAWAY: streams above `last_stream_id` were not processed.
    GoAway {
        /// Highest stream the peer may have processed.
        last_stream_id: StreamId,
        /// Error code.
        code: ErrorCode,
        /// Debug data.
        debug: Bytes,
    },
    /// The peer changed a stream's priority (RFC 9218 PRIORITY_UPDATE).
    PriorityUpdate {
        /// The stream.
        stream_id: StreamId,
        /// New priority.
        priority: Priority,
    },
}

/// RFC 9218 priority parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Urgency 0 (highest) ..= 7 (lowest); default 3.
    pub urgency: u8,
    /// Incremental delivery; default false.
    pub incremental: bool,
}

impl Default for Priority {
    fn default() -> Self {
        Priority {
            urgency: 3,
            incremental: false,
        }
    }
}

/// Misuse of the API by the application (not a protocol error by the peer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserError {
    /// No such stream (never opened, or already closed and forgotten).
    UnknownStream,
    /// The stream's send side is closed (END_STREAM sent, or reset).
    StreamClosed,
    /// This role cannot do that (e.g. a server calling `send_request`).
    WrongRole,
    /// The peer's MAX_CONCURRENT_STREAMS is reached: wait for a stream to close.
    StreamLimit,
    /// GOAWAY was sent or received: no new streams.
    GoingAway,
    /// The connection failed or was closed.
    ConnectionClosed,
    /// Headers that cannot be sent (connection-specific field, bad pseudo-header,
    /// larger than the peer's SETTINGS_MAX_HEADER_LIST_SIZE, …).
    InvalidHeaders(&'static str),
    /// Server: body or trailers before the final response head.
    ResponseHeadFirst,
    /// Server: a 1xx (informational) response head with `end_stream`.
    InformationalEndsStream,
    /// `send_data` with bytes while `send_data_external` bytes are pending on
    /// the stream (they would be reordered).
    ExternalDataPending,
    /// Client: extended CONNECT (RFC 8441) without the peer's
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL.
    ConnectProtocolDisabled,
}

impl core::fmt::Display for UserError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for UserError {}

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How many closed stream ids are remembered for late-frame handling.
const RECENT_CAP: usize = 1024;

/// Abuse score above which the peer gets GOAWAY(ENHANCE_YOUR_CALM). Suspicious
/// frames add 1: peer RST_STREAM of an open stream ("rapid reset",
/// CVE-2023-44487), empty non-final DATA (CVE-2019-9518) and, on a server,
/// every RST_STREAM the peer provoked (a stream error it caused: WINDOW_UPDATE
/// of 0, DATA on a half-closed or closed stream, bad headers, flow-control
/// violations, streams beyond MAX_CONCURRENT_STREAMS — "MadeYouReset",
/// CVE-2025-8671). Every stream completed normally removes 1. PING/SETTINGS
/// floods are bounded by [`CTRL_LIMIT`].
const ABUSE_LIMIT: u32 = 1000;

/// Unsent control and header output (`ctrl` + `heads`: PING/SETTINGS ACKs,
/// RST_STREAMs, WINDOW_UPDATEs, response heads) above which the peer is
/// considered flooding us while not reading: checked after each `recv`, so
/// what a peer that never reads can make us queue is bounded by this plus
/// what one `recv` call's input provokes.
const CTRL_LIMIT: usize = 1 << 20;

/// Events not yet taken with `poll_event` above which the peer is considered
/// flooding us (e.g. PINGs or SETTINGS, or tiny DATA frames, while the
/// adapter cannot write and so does not take events): checked after each
/// `recv`. Bounds the event queue at roughly this many entries plus what one
/// `recv` call's input produces.
const EVENTS_LIMIT: usize = 16 << 10;

/// PING payload of [`Connection::shutdown_graceful`]'s round-trip probe; its
/// ACK is not reported as [`Event::PingAck`].
pub const SHUTDOWN_PAYLOAD: [u8; 8] = *b"h2o:bye!";

/// Stream id of the first GOAWAY of a graceful shutdown (RFC 9113 §6.8).
const MAX_STREAM_ID: StreamId = (1 << 31) - 1;

/// PRIORITY_UPDATEs remembered for streams not opened yet (RFC 9218 §7.1).
const PENDING_PRIORITY_CAP: usize = 16;

/// At most this many emptied DATA queues are kept for new streams (enough
/// for the default MAX_CONCURRENT_STREAMS of 100: a connection cycling
/// bursts of 100 streams reuses them all).
const QUEUE_POOL_CAP: usize = 128;

/// A queue whose buffer grew beyond this many entries is dropped rather than
/// pooled: the pool holds at most `QUEUE_POOL_CAP * QUEUE_POOL_SLOTS` `Bytes`
/// (64 KiB on 64-bit targets, 32 KiB on wasm32).
const QUEUE_POOL_SLOTS: usize = 16;

/// One HTTP/2 connection endpoint.
///
/// # Call order
///
/// An adapter drives a connection in a loop; every call that depends on time
/// takes the current time `now` (a monotonic `Duration` since an origin of the
/// adapter's choosing), so time cannot be forgotten:
///
/// 1. Inputs: bytes read from the transport go to [`Connection::recv`]`(now, bytes)`;
///    when the deadline from step 3 has passed, call
///    [`Connection::handle_timeout`]`(now)`. Application calls
///    (`send_request`, `send_response`, `send_data`, `reset`, `ping`,
///    `shutdown`, …) may come at any point.
/// 2. Output: [`Connection::write_to`]`(now, out, limit)` (or
///    [`Connection::write_chunks`] / [`Connection::write_chunks_ext`]) until it
///    returns 0 or the transport is full; write the bytes out.
/// 3. [`Connection::poll_timeout`]: the next deadline for `handle_timeout`
///    (`None`: no timer).
/// 4. [`Connection::poll_event`] until `None`: handle each event (which may
///    queue more output: go back to step 2).
/// 5. Once [`Connection::is_closed`] is true, close the transport.
///
/// The SETTINGS-ACK timer starts at the first `write_*` call (when our
/// SETTINGS leave), so creating a connection needs no time.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    decoder: FrameDecoder,
    /// Server: bytes of the client preface still expected.
    preface_left: usize,
    /// The peer's first SETTINGS arrived.
    seen_settings: bool,
    peer: PeerSettings,
    /// Our SETTINGS frames not yet acknowledged.
    settings_unacked: u32,
    /// When SETTINGS_TIMEOUT fires (set while SETTINGS are unacknowledged).
    settings_deadline: Option<Duration>,
    /// The time given by the latest call that takes one.
    now: Duration,
    /// The time of the first `write_*` call, when our first SETTINGS left.
    started: Option<Duration>,
    /// The same, until the first SETTINGS ACK takes it as a first round-trip
    /// time for adaptive flow control.
    settings_sent_at: Option<Duration>,
    hdec: hpack::Decoder,
    henc: hpack::Encoder,
    streams: StreamTable,
    recent: Recent,
    next_local_id: StreamId,
    last_remote_id: StreamId,
    local_open: u32,
    remote_open: u32,
    /// Pending CONTINUATION: (stream, END_STREAM of the HEADERS).
    cont: Option<(StreamId, bool)>,
    /// Accumulated field block fragments (HEADERS + CONTINUATION).
    hbuf: Vec<u8>,
    conn_send: SendWindow,
    conn_recv: RecvWindow,
    /// Receive window given to new streams (ours, as the peer currently knows it).
    local_window: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE of the last SETTINGS we sent.
    announced_window: u32,
    /// Adaptive window estimator.
    bdp: bdp::Bdp,
    /// Encoded control frames (SETTINGS, ACKs, PING, RST_STREAM, WINDOW_UPDATE, GOAWAY).
    ctrl: Vec<u8>,
    /// Encoded HEADERS/CONTINUATION frames, in HPACK encoding order.
    heads: Vec<u8>,
    /// Scratch for one HPACK field block.
    block: Vec<u8>,
    /// The last few shared response heads whose encoding left the HPACK
    /// encoder unchanged (see [`Connection::send_response_shared`]).
    head_memo: Vec<send::HeadMemo>,
    /// Scratch for framing trailers at write time.
    tmp: Vec<u8>,
    /// Staging for frame headers in [`Connection::write_chunks`].
    chunk_buf: BytesMut,
    /// Backing store for decoded header values, kept across field blocks
    /// (see `HeadBuilder::share`).
    value_store: BytesMut,
    /// Interned names of received fields (bounded, see `names.rs`).
    names: names::NameTable,
    /// Maps given back with [`Connection::recycle_headers`].
    header_pool: names::HeaderPool,
    sched: Scheduler,
    /// Peer misbehaviour score (see [`ABUSE_LIMIT`]).
    abuse: u32,
    /// PRIORITY_UPDATEs received for idle streams.
    pending_priority: Vec<(StreamId, Priority)>,
    /// Emptied DATA queues of closed streams, reused by new streams (at most
    /// [`QUEUE_POOL_CAP`] of up to [`QUEUE_POOL_SLOTS`] entries each).
    deque_pool: Vec<VecDeque<Bytes>>,
    /// Events for the application, oldest first.
    events: VecDeque<Event>,
    /// For each `Event::Data` in `events`, in order: the flow-controlled
    /// length released when it is taken. Kept apart so that taking any
    /// event moves it once, straight into `poll_event`'s result.
    data_flow: VecDeque<u32>,
    /// Open streams in manual release (0: `poll_event` skips the lookup).
    manual_streams: usize,
    goaway_sent: Option<StreamId>,
    goaway_recv: Option<StreamId>,
    /// Phase one of a graceful shutdown: GOAWAY(2^31-1) and a PING are out;
    /// the final GOAWAY leaves on the PING's ACK or at this deadline.
    graceful_deadline: Option<Duration>,
    /// The connection error that ended the connection (returned by `recv` again).
    error: Option<Error>,
    /// No more processing: close once the queued output is taken.
    dead: bool,
    /// Both first SETTINGS offered the same HPACK preset (set on the peer's).
    preset_agreed: bool,
    /// The first SETTINGS ACK from the peer arrived.
    first_ack_seen: bool,
}

impl Connection {
    /// A client endpoint; its preface and SETTINGS are queued for `write_to`.
    pub fn client(config: Config) -> Self {
        Self::new(Role::Client, config)
    }

    /// A server endpoint; its SETTINGS are queued for `write_to`.
    pub fn server(config: Config) -> Self {
        Self::new(Role::Server, config)
    }

    fn new(role: Role, config: Config) -> Self {
        let max_frame = config.max_frame_size.clamp(
            crate::frame::DEFAULT_MAX_FRAME_SIZE,
            crate::frame::MAX_MAX_FRAME_SIZE,
        );
        let conn_target = config.connection_window_size.clamp(65_535, MAX_WINDOW);
        let local_window = if config.initial_window_size >= 65_535 {
            config.initial_window_size.min(MAX_WINDOW)
        } else {
            65_535
        };
        let mut c = Connection {
            role,
            decoder: FrameDecoder::new(max_frame),
            preface_left: if role == Role::Server {
                PREFACE.len()
            } else {
                0
            },
            seen_settings: false,
            peer: PeerSettings::default(),
            settings_unacked: 1,
            settings_deadline: None,
            now: Duration::ZERO,
            started: None,
            settings_sent_at: None,
            hdec: hpack::Decoder::new(config.header_table_size.max(4096) as usize),
            henc: hpack::Encoder::default(),
            // Grows on demand: a connection with few concurrent streams
            // holds a small table (a slot is about 130 bytes, its index entry 9).
            streams: StreamTable::default(),
            recent: Recent::new(RECENT_CAP),
            next_local_id: if role == Role::Client { 1 } else { 2 },
            last_remote_id: 0,
            local_open: 0,
            remote_open: 0,
            cont: None,
            hbuf: Vec::new(),
            conn_send: SendWindow::new(65_535),
            conn_recv: RecvWindow::new(conn_target, conn_target),
            local_window,
            announced_window: config.initial_window_size.min(MAX_WINDOW),
            bdp: bdp::Bdp::new(
                config.adaptive_window,
                config
                    .max_adaptive_window
                    .max(config.initial_window_size)
                    .min(MAX_WINDOW),
                config
                    .max_adaptive_connection_window
                    .max(conn_target)
                    .min(MAX_WINDOW),
            ),
            ctrl: Vec::with_capacity(256),
            heads: Vec::new(),
            block: Vec::new(),
            head_memo: Vec::new(),
            tmp: Vec::new(),
            chunk_buf: BytesMut::new(),
            value_store: BytesMut::new(),
            names: names::NameTable::default(),
            header_pool: names::HeaderPool::default(),
            sched: Scheduler::default(),
            deque_pool: Vec::new(),
            abuse: 0,
            pending_priority: Vec::new(),
            events: VecDeque::with_capacity(16),
            data_flow: VecDeque::new(),
            manual_streams: 0,
            goaway_sent: None,
            goaway_recv: None,
            graceful_deadline: None,
            error: None,
            dead: false,
            preset_agreed: false,
            first_ack_seen: false,
            config,
        };
        let priming = c
            .config
            .hpack_priming
            .iter()
            .filter(|(n, _)| !headers::is_connection_specific(n) && *n != http::header::TE);
        c.henc
            .set_priming(priming.map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())));
        if role == Role::Client {
            c.ctrl.extend_from_slice(PREFACE);
        }
        Frame::Settings {
            ack: false,
            settings: settings::local_settings(&c.config, role),
        }
        .encode(&mut c.ctrl);
        if conn_target > 65_535 {
            Frame::WindowUpdate {
                stream_id: 0,
                increment: conn_target - 65_535,
            }
            .encode(&mut c.ctrl);
        }
        c
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The local configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds bytes read from the peer at time `now`. Returns how many were
    /// consumed (always all of them on success: partial frames are buffered).
    /// On a connection error the GOAWAY is queued for `write_to` and the error
    /// returned; the connection then only drains output.
    pub fn recv(&mut self, now: Duration, data: &[u8]) -> Result<usize, Error> {
        self.now = now;
        self.recv_bytes(data)
    }

    /// Gives a received head's `HeaderMap` (from [`Event::Request`],
    /// [`Event::Response`] or [`Event::Trailers`]) back once the application
    /// is done with it: it is emptied and reused for a later received head, so
    /// that head's fields need no allocation. Optional; at most 32 maps of up
    /// to 48 entries are kept, others are dropped.
    pub fn recycle_headers(&mut self, headers: http::HeaderMap) {
        self.header_pool.give(headers);
    }

    /// Next event, in arrival order. Taking a [`Event::Data`] returns its bytes to
    /// the flow-control windows (WINDOW_UPDATEs are batched).
    /// On a stream in manual release only the padding is returned; the data
    /// bytes wait for [`Connection::release_capacity`].
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(Event::Data {
            stream_id, data, ..
        }) = self.events.front()
        {
            let (stream_id, data_len) = (*stream_id, data.len() as u32);
            let mut flow_len = self.data_flow.pop_front().unwrap_or(0);
            if flow_len > 0 {
                let manual = if self.manual_streams > 0 {
                    self.streams.get_mut(&stream_id)
                } else {
                    None
                };
                if let Some(s) = manual {
                    if s.manual_release {
                        // flow_len = data + padding; data.len() <= flow_len.
                        let n = data_len.min(flow_len);
                        s.held = s.held.saturating_add(n);
                        flow_len -= n;
                    }
                }
                if flow_len > 0 {
                    self.release(stream_id, flow_len);
                }
            }
        }
        // Popped last, as the result: the (large) event is moved once.
        self.events.pop_front()
    }

    /// Puts a stream in manual release: the DATA bytes of its events taken
    /// from now on return credit (stream and connection windows) only when
    /// given back with [`Connection::release_capacity`]. Bytes still held when
    /// the stream ends go back to the connection window.
    pub fn set_manual_release(&mut self, stream_id: StreamId) -> Result<(), UserError> {
        let s = self
            .streams
            .get_mut(&stream_id)
            .ok_or(UserError::UnknownStream)?;
        if !s.manual_release {
            s.manual_release = true;
            self.manual_streams += 1;
        }
        Ok(())
    }

    /// Returns `n` consumed DATA bytes of a stream in manual release to the
    /// flow-control windows (WINDOW_UPDATEs batched as usual). At most what
    /// the stream holds is released; an unknown (ended) stream is ignored.
    pub fn release_capacity(&mut self, stream_id: StreamId, n: usize) {
        let Some(s) = self.streams.get_mut(&stream_id) else {
            return;
        };
        let n = (n.min(u32::MAX as usize) as u32).min(s.held);
        if n > 0 {
            s.held -= n;
            self.release(stream_id, n);
        }
    }

    /// DATA bytes of a stream in manual release taken but not yet released.
    pub fn held_capacity(&self, stream_id: StreamId) -> usize {
        self.streams.get(&stream_id).map_or(0, |s| s.held as usize)
    }

    /// Appends pending frames to `out` (control frames first, then HEADERS, then
    /// DATA in scheduler order within flow-control windows), stopping DATA once
    /// `out.len()` reaches `limit`. Returns the number of bytes appended. `now`
    /// is the current time (the first call starts the SETTINGS-ACK timer).
    pub fn write_to(&mut self, now: Duration, out: &mut Vec<u8>, limit: usize) -> usize {
        self.on_write(now);
        let start = out.len();
        let mut sink = send::VecSink(out);
        self.write_all(&mut sink, limit);
        out.len() - start
    }

    /// Vectored variant of [`Connection::write_to`] for one `writev`: pushes the
    /// output as `Bytes` chunks. Frame headers and control frames are staged in an
    /// internal buffer split into chunks; DATA payloads are the queued `Bytes`
    /// themselves (no copy), except payloads of at most 256 bytes, which are
    /// staged with their frame header (cheaper than a chunk each). DATA stops
    /// once `limit` bytes were produced by this call. Returns the number of
    /// bytes pushed.
    pub fn write_chunks(&mut self, now: Duration, chunks: &mut Vec<Bytes>, limit: usize) -> usize {
        self.write_vectored(now, chunks, limit)
    }

    /// Like [`Connection::write_chunks`], but also carries DATA payloads
    /// announced with [`Connection::send_data_external`] as
    /// [`Chunk::External`] (the frame header is the tail of the preceding
    /// [`Chunk::Bytes`]); the adapter writes those bytes itself, e.g. with
    /// `sendfile(2)`. Payload bytes count toward `limit`. This is the only
    /// writer that emits external data: `write_to`/`write_chunks` stop at a
    /// stream whose next payload is external.
    pub fn write_chunks_ext(
        &mut self,
        now: Duration,
        chunks: &mut Vec<Chunk>,
        limit: usize,
    ) -> usize {
        self.write_vectored(now, chunks, limit)
    }

    /// The vectored writers' shared body.
    fn write_vectored<C: send::OutChunk>(
        &mut self,
        now: Duration,
        chunks: &mut Vec<C>,
        limit: usize,
    ) -> usize {
        self.on_write(now);
        let mut buf = core::mem::take(&mut self.chunk_buf);
        // Renew a nearly used-up staging chunk now, before this call's
        // chunks share it: when the adapter dropped the previous call's
        // chunks, `reserve` reclaims it in place (renewed mid-call, while
        // this call's chunks hold it, a new one would be allocated).
        if buf.capacity() < send::STAGING_CHUNK / 2 {
            buf.reserve(send::STAGING_CHUNK);
        }
        let mut sink = send::ChunkSink {
            buf: &mut buf,
            chunks,
            len: 0,
        };
        self.write_all(&mut sink, limit);
        let n = sink.finish();
        self.chunk_buf = buf;
        n
    }

    /// True when `write_to` would append something.
    pub fn wants_write(&self) -> bool {
        !self.ctrl.is_empty()
            || (!self.dead
                && (!self.heads.is_empty()
                    || (!self.sched.is_empty() && self.conn_send.available() > 0)))
    }

    /// When `handle_timeout` should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.dead {
            return None;
        }
        let settings = if self.settings_unacked == 0 {
            None
        } else {
            self.settings_deadline
        };
        match (settings, self.graceful_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Tells the connection the current time; fires expired timers:
    /// SETTINGS_TIMEOUT (fails the connection with a GOAWAY) and the wait for
    /// the ACK of [`Connection::shutdown_graceful`]'s PING (sends the final
    /// GOAWAY). Call it when the deadline from [`Connection::poll_timeout`]
    /// has passed; extra calls are harmless.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        if self.dead {
            return;
        }
        if self.graceful_deadline.is_some_and(|d| now >= d) {
            self.finish_graceful();
        }
        if self.settings_unacked == 0 {
            return;
        }
        if self.settings_deadline.is_some_and(|d| now >= d) {
            self.conn_error(Error::conn(
                ErrorCode::SETTINGS_TIMEOUT,
                "SETTINGS not acknowledged in time",
            ));
        }
    }

    /// The time given by the latest call that takes one (`recv`,
    /// `handle_timeout`, `write_*`); zero before any.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Client: opens a stream and queues the request head. The URI must be absolute
    /// (scheme and authority), except for CONNECT. Set a [`Protocol`] extension for
    /// RFC 8441 extended CONNECT.
    pub fn send_request(
        &mut self,
        request: http::Request<()>,
        end_stream: bool,
    ) -> Result<StreamId, UserError> {
        self.open_request(request, end_stream)
    }

    /// Server: queues the response head (1xx heads may precede the final one).
    pub fn send_response(
        &mut self,
        stream_id: StreamId,
        response: http::Response<()>,
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.queue_response(
            stream_id,
            response.status(),
            response.headers(),
            None,
            end_stream,
        )
    }

    /// Server: [`Connection::send_response`] from a status and a borrowed
    /// field map, so a prebuilt head (e.g. a cached file's) is encoded
    /// without building, cloning or dropping a `Response` per request.
    pub fn send_response_head(
        &mut self,
        stream_id: StreamId,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.queue_response(stream_id, status, headers, None, end_stream)
    }

    /// Server: [`Connection::send_response_head`] for a field map shared by
    /// many responses (e.g. a cached file's prebuilt head). The same bytes go
    /// on the wire; what differs is the cost. When the last call with this
    /// very map (the same `Arc`) and status left the HPACK encoder unchanged
    /// (every field was an index: the usual case from the third response of
    /// a file on), and the encoder has not changed since, its field block is
    /// copied instead of encoded again — exactly what encoding would give,
    /// since encoding depends only on the encoder's state and the fields
    /// (see [`hpack::Encoder::version`]). The connection keeps clones of the
    /// last few such `Arc`s (four), so a map cannot change under it.
    pub fn send_response_shared(
        &mut self,
        stream_id: StreamId,
        status: http::StatusCode,
        headers: &std::sync::Arc<http::HeaderMap>,
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.queue_response(stream_id, status, headers, Some(headers), end_stream)
    }

    /// Queues body bytes; they leave as DATA frames as flow control allows.
    pub fn send_data(
        &mut self,
        stream_id: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.queue_data(stream_id, data, end_stream)
    }

    /// Queues `len` body bytes that the adapter supplies itself at write time
    /// (zero-copy, e.g. `sendfile(2)` from a file): they leave as DATA frames
    /// within the flow-control windows and show up in
    /// [`Connection::write_chunks_ext`] as [`Chunk::External`] with their offset
    /// in the stream's external body. External bytes follow the stream's
    /// queued `send_data` bytes; `send_data` with a non-empty payload while
    /// external bytes are pending is refused.
    pub fn send_data_external(
        &mut self,
        stream_id: StreamId,
        len: u64,
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.queue_external(stream_id, len, end_stream)
    }

    /// Queues trailers, ending the stream's send side.
    pub fn send_trailers(
        &mut self,
        stream_id: StreamId,
        trailers: http::HeaderMap,
    ) -> Result<(), UserError> {
        self.queue_trailers(stream_id, trailers)
    }

    /// Resets a stream with `code`.
    pub fn reset(&mut self, stream_id: StreamId, code: ErrorCode) -> Result<(), UserError> {
        if !self.streams.contains_key(&stream_id) {
            return Err(UserError::UnknownStream);
        }
        self.remove_stream(stream_id, ClosedHow::ResetLocal);
        self.queue_rst(stream_id, code);
        Ok(())
    }

    /// Sends a PING; the answer comes back as [`Event::PingAck`].
    pub fn ping(&mut self, data: [u8; 8]) {
        if self.dead {
            return;
        }
        Frame::Ping { ack: false, data }.encode(&mut self.ctrl);
    }

    /// Client: changes the priority of a stream we opened; sends an RFC 9218
    /// PRIORITY_UPDATE and reschedules our own DATA for it.
    pub fn set_priority(
        &mut self,
        stream_id: StreamId,
        priority: Priority,
    ) -> Result<(), UserError> {
        if self.role != Role::Client {
            return Err(UserError::WrongRole);
        }
        if !self.streams.contains_key(&stream_id) {
            return Err(UserError::UnknownStream);
        }
        if self.dead {
            return Err(UserError::ConnectionClosed);
        }
        self.reprioritize(stream_id, priority);
        let mut v = Vec::with_capacity(8);
        priority::write(priority, &mut v);
        Frame::PriorityUpdate {
            prioritized_id: stream_id,
            field_value: Bytes::from(v),
        }
        .encode(&mut self.ctrl);
        Ok(())
    }

    /// Graceful shutdown: GOAWAY, no new streams, existing streams finish;
    /// then [`Connection::is_closed`] turns true. A `code` other than
    /// `NO_ERROR` closes immediately once the GOAWAY is written.
    pub fn shutdown(&mut self, code: ErrorCode) {
        if self.dead {
            return;
        }
        if code != ErrorCode::NO_ERROR {
            self.dead = true;
        }
        self.graceful_deadline = None;
        if self.goaway_sent.is_some() && code == ErrorCode::NO_ERROR {
            return;
        }
        self.goaway_sent = Some(self.last_remote_id);
        Frame::GoAway {
            last_stream_id: self.last_remote_id,
            code,
            debug: Bytes::new(),
        }
        .encode(&mut self.ctrl);
    }

    /// Two-phase graceful shutdown (RFC 9113 §6.8): queues GOAWAY(2^31-1,
    /// NO_ERROR) and a PING. Streams the peer opens meanwhile are still
    /// served (they may have been in flight). On the PING's ACK — or after
    /// [`Config::graceful_shutdown_timeout`], through
    /// [`Connection::poll_timeout`] — the final GOAWAY with the last stream
    /// id actually received follows; streams above it are refused, those at
    /// or below it finish, then [`Connection::is_closed`] turns true. A no-op
    /// once a GOAWAY was sent or the connection failed.
    pub fn shutdown_graceful(&mut self, now: Duration) {
        self.now = now;
        if self.dead || self.goaway_sent.is_some() || self.graceful_deadline.is_some() {
            return;
        }
        Frame::GoAway {
            last_stream_id: MAX_STREAM_ID,
            code: ErrorCode::NO_ERROR,
            debug: Bytes::new(),
        }
        .encode(&mut self.ctrl);
        Frame::Ping {
            ack: false,
            data: SHUTDOWN_PAYLOAD,
        }
        .encode(&mut self.ctrl);
        self.graceful_deadline = Some(now + self.config.graceful_shutdown_timeout);
    }

    /// True between [`Connection::shutdown_graceful`] and its final GOAWAY.
    pub fn is_shutting_down(&self) -> bool {
        self.graceful_deadline.is_some()
    }

    /// Phase two of a graceful shutdown: the final GOAWAY.
    fn finish_graceful(&mut self) {
        if self.graceful_deadline.take().is_some() {
            self.shutdown(ErrorCode::NO_ERROR);
        }
    }

    /// True when the connection is over and all output was taken: close the socket.
    pub fn is_closed(&self) -> bool {
        let over = self.dead
            || ((self.goaway_sent.is_some() || self.goaway_recv.is_some())
                && self.streams.is_empty());
        over && self.ctrl.is_empty() && (self.dead || self.heads.is_empty())
    }

    /// Between bursts: when the stream table and the event queue are empty
    /// and a burst grew either beyond twice `keep` entries, shrinks it to
    /// room for `keep`. Cheap when there is nothing to do; the cost is the
    /// regrowth (a few reallocations) on the next large burst. Adapters
    /// serving many connections call it after each turn so that a
    /// connection waiting between bursts of 100 requests does not hold
    /// tables sized for 100 (about 30 KiB of events and 18 KiB of streams).
    /// The pooled DATA queues stay (at most 128, of at most 16 entries
    /// each): the next burst reuses them; [`Connection::release_idle_memory`]
    /// frees them.
    pub fn trim(&mut self, keep: usize) {
        self.streams.trim(keep);
        if self.events.is_empty() && self.events.capacity() > 2 * keep {
            self.events.shrink_to(keep);
        }
        if self.data_flow.is_empty() && self.data_flow.capacity() > 2 * keep {
            self.data_flow.shrink_to(keep);
        }
    }

    /// Gives back the memory of buffers sized for past bursts when the
    /// connection is idle: no open stream, no event waiting, no output
    /// queued, no partial frame or field block buffered. Returns false (and
    /// does nothing) otherwise. The buffers grow again on demand; what is
    /// kept is state (HPACK tables, settings, windows, closed-stream memory).
    /// Adapters call it when a connection has been quiet for a while, not
    /// after every exchange (regrowing costs allocations).
    pub fn release_idle_memory(&mut self) -> bool {
        if !self.streams.is_empty()
            || !self.events.is_empty()
            || !self.ctrl.is_empty()
            || !self.heads.is_empty()
            || self.cont.is_some()
            || self.decoder.buffered() > 0
        {
            return false;
        }
        self.streams = StreamTable::default();
        self.events = VecDeque::new();
        self.data_flow = VecDeque::new();
        self.ctrl = Vec::new();
        self.heads = Vec::new();
        self.hbuf = Vec::new();
        self.block = Vec::new();
        self.tmp = Vec::new();
        self.chunk_buf = BytesMut::new();
        // Values handed out keep their own reference to the old store.
        self.value_store = BytesMut::new();
        self.deque_pool = Vec::new();
        self.header_pool = names::HeaderPool::default();
        self.pending_priority.shrink_to_fit();
        self.sched.shrink();
        self.recent.shrink();
        self.decoder.release_buffer();
        true
    }

    /// Number of open (or half-closed) streams.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Bytes queued by `send_data` (and `send_data_external`) on `stream_id`
    /// and not yet written.
    pub fn queued_len(&self, stream_id: StreamId) -> Option<usize> {
        self.streams.get(&stream_id).map(|s| {
            s.queued
                .saturating_add(s.ext_queued.min(usize::MAX as u64) as usize)
        })
    }

    /// Current send window of a stream (bytes we may send now, ignoring the
    /// connection window).
    pub fn send_window(&self, stream_id: StreamId) -> Option<u32> {
        self.streams
            .get(&stream_id)
            .map(|s| s.send_window.available())
    }

    /// Current connection-level send window.
    pub fn connection_send_window(&self) -> u32 {
        self.conn_send.available()
    }

    /// Receive window given to each stream (our SETTINGS_INITIAL_WINDOW_SIZE as
    /// currently applied; grows with adaptive flow control).
    pub fn stream_recv_window(&self) -> u32 {
        self.local_window
    }

    /// Size of the connection-level receive window we keep granting (grows with
    /// adaptive flow control).
    pub fn connection_recv_window(&self) -> u32 {
        self.conn_recv.target()
    }

    /// Smallest round-trip time measured by adaptive flow control's PINGs.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.bdp.min_rtt()
    }

    /// Number of BDP samples (acknowledged probe PINGs with a measurable RTT).
    pub fn bdp_samples(&self) -> u32 {
        self.bdp.samples()
    }

    /// The peer may still open streams / we may still open streams (no GOAWAY, no error).
    pub fn is_accepting_streams(&self) -> bool {
        !self.dead && self.goaway_sent.is_none() && self.goaway_recv.is_none()
    }

    /// The peer's MAX_CONCURRENT_STREAMS (`u32::MAX` until it says otherwise).
    pub fn peer_max_concurrent_streams(&self) -> u32 {
        self.peer.max_concurrent_streams
    }

    // ---- shared internals ----

    /// Queues a RST_STREAM after any queued HEADERS (so a stream is never reset
    /// before the peer saw it open).
    fn queue_rst(&mut self, stream_id: StreamId, code: ErrorCode) {
        let out = if self.heads.is_empty() {
            &mut self.ctrl
        } else {
            &mut self.heads
        };
        Frame::RstStream { stream_id, code }.encode(out);
    }

    /// Removes a stream from the table and the scheduler, remembering how it ended.
    fn remove_stream(&mut self, id: StreamId, how: ClosedHow) -> Option<Stream> {
        let mut s = self.streams.remove(&id)?;
        if s.manual_release {
            self.manual_streams -= 1;
        }
        if s.held > 0 && !self.dead {
            // Manual release: what the application still holds is returned
            // to the connection (the stream's own window is gone).
            if let Some(inc) = self.conn_recv.release(s.held) {
                Frame::WindowUpdate {
                    stream_id: 0,
                    increment: inc,
                }
                .encode(&mut self.ctrl);
            }
            s.held = 0;
        }
        if s.queue.capacity() > 0
            && s.queue.capacity() <= QUEUE_POOL_SLOTS
            && self.deque_pool.len() < QUEUE_POOL_CAP
        {
            let mut q = core::mem::take(&mut s.queue);
            q.clear();
            self.deque_pool.push(q);
        }
        if s.scheduled {
            self.sched.remove(id, s.priority);
        }
        if s.local {
            self.local_open -= 1;
        } else {
            self.remote_open -= 1;
        }
        self.recent.insert(id, how);
        Some(s)
    }

    /// A new stream with the current windows, reusing a pooled DATA queue.
    fn new_stream(&mut self, id: StreamId, local: bool) -> Stream {
        let mut s = Stream::new(id, local, self.peer.initial_window_size, self.local_window);
        if let Some(q) = self.deque_pool.pop() {
            s.queue = q;
        }
        s
    }

    /// Closes the stream if both halves are done.
    fn maybe_close(&mut self, id: StreamId) {
        if self.streams.get(&id).is_some_and(|s| s.is_done()) {
            self.remove_stream(id, ClosedHow::EndStream);
            self.abuse = self.abuse.saturating_sub(1);
            self.events.push_back(Event::Closed { stream_id: id });
        }
    }

    /// Puts the stream in the scheduler if it has something to send.
    fn schedule(&mut self, id: StreamId) {
        if let Some(s) = self.streams.get_mut(&id) {
            if !s.scheduled && s.sendable() {
                s.scheduled = true;
                self.sched.insert(id, s.priority);
            }
        }
    }

    fn reprioritize(&mut self, id: StreamId, p: Priority) {
        if let Some(s) = self.streams.get_mut(&id) {
            if s.scheduled {
                self.sched.remove(id, s.priority);
                self.sched.insert(id, p);
            }
            s.priority = p;
        }
    }

    /// Returns consumed DATA bytes to the windows, batching WINDOW_UPDATEs.
    fn release(&mut self, id: StreamId, n: u32) {
        if let Some(inc) = self.conn_recv.release(n) {
            Frame::WindowUpdate {
                stream_id: 0,
                increment: inc,
            }
            .encode(&mut self.ctrl);
        }
        if let Some(s) = self.streams.get_mut(&id) {
            if s.recv_phase != stream::RecvPhase::Closed {
                if let Some(inc) = s.recv_window.release(n) {
                    Frame::WindowUpdate {
                        stream_id: id,
                        increment: inc,
                    }
                    .encode(&mut self.ctrl);
                }
            }
        }
    }

    /// Takes the time of a `write_*` call; the first one sends our first
    /// SETTINGS, which starts their ACK timer and round-trip measurement.
    #[inline]
    fn on_write(&mut self, now: Duration) {
        self.now = now;
        if self.started.is_none() {
            self.started = Some(now);
            self.settings_sent_at = Some(now);
            if self.settings_unacked > 0 {
                self.settings_deadline = Some(now + self.config.settings_timeout);
            }
        }
    }

    /// Our first SETTINGS were acknowledged: their round trip is a first RTT
    /// floor for adaptive flow control (one taken before DATA can queue up).
    fn settings_rtt(&mut self) {
        if let Some(sent) = self.settings_sent_at.take() {
            if self.now > sent {
                self.bdp.rtt_hint(self.now - sent);
            }
        }
    }

    /// Adaptive flow control: `n` flow-controlled DATA bytes arrived; maybe
    /// starts a probe. Only once time has moved since our first write: an RTT
    /// cannot be measured on a clock that stands still.
    fn bdp_on_data(&mut self, n: u32) {
        if self.started.is_some_and(|t| self.now > t) && self.bdp.on_data(n, self.now) {
            Frame::Ping {
                ack: false,
                data: BDP_PAYLOAD,
            }
            .encode(&mut self.ctrl);
        }
    }

    /// Adaptive flow control: the probe's ACK arrived; grows the windows if the
    /// sample says they limited the transfer.
    fn on_bdp_ack(&mut self) {
        let now = self.now;
        let Some(g) = self
            .bdp
            .on_ack(now, self.local_window, self.conn_recv.target())
        else {
            return;
        };
        if g.stream > self.local_window {
            // The peer adds the delta to every stream window when it applies
            // the SETTINGS (RFC 9113 §6.9.2); until then it has less credit than
            // we account for, which is safe for a receiver.
            let delta = g.stream as i64 - self.local_window as i64;
            self.local_window = g.stream;
            self.announced_window = g.stream;
            for s in self.streams.values_mut() {
                s.recv_window.adjust(delta, g.stream);
            }
            let settings = crate::frame::Settings {
                initial_window_size: Some(g.stream),
                ..Default::default()
            };
            Frame::Settings {
                ack: false,
                settings,
            }
            .encode(&mut self.ctrl);
            if self.settings_unacked == 0 {
                self.settings_deadline = Some(now + self.config.settings_timeout);
            }
            self.settings_unacked += 1;
        }
        if let Some(inc) = self.conn_recv.grow(g.conn) {
            Frame::WindowUpdate {
                stream_id: 0,
                increment: inc,
            }
            .encode(&mut self.ctrl);
        }
    }

    /// Records a connection error: GOAWAY queued, no further processing.
    fn conn_error(&mut self, e: Error) {
        if self.dead && self.error.is_some() {
            return;
        }
        let (code, reason) = match e {
            Error::Connection { code, reason } => (code, reason),
            Error::Stream { code, reason, .. } => (code, reason),
        };
        self.error = Some(e);
        self.dead = true;
        self.cont = None;
        self.heads.clear();
        self.goaway_sent = Some(self.last_remote_id);
        Frame::GoAway {
            last_stream_id: self.last_remote_id,
            code,
            debug: Bytes::from_static(reason.as_bytes()),
        }
        .encode(&mut self.ctrl);
    }

    /// Handles a stream error: RST_STREAM, and `Event::Reset` if the stream was live.
    fn stream_error(&mut self, id: StreamId, code: ErrorCode) {
        if self.remove_stream(id, ClosedHow::ResetLocal).is_some() {
            self.events.push_back(Event::Reset {
                stream_id: id,
                code,
                remote: false,
            });
        } else if self.recent.get(id) != Some(ClosedHow::ResetLocal) {
            self.recent.insert(id, ClosedHow::ResetLocal);
        }
        self.queue_rst(id, code);
    }
}
