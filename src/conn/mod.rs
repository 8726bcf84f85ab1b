//! HTTP/2 connection state machine (RFC 9113 §3.4–§8), client and server roles.
//!
//! Owns: the connection preface, the SETTINGS exchange, stream states (§5.1),
//! concurrency limits, connection/stream flow control (§5.2, §6.9), PING,
//! GOAWAY, RST_STREAM, header-block assembly (HEADERS + CONTINUATION),
//! RFC 8441 extended CONNECT, RFC 9218 priorities and the send scheduler.
//!
//! API families, quinn-proto style:
//! - inputs: [`Connection::recv`] (peer bytes), [`Connection::handle_timeout`] (time);
//! - application calls: [`Connection::send_request`], [`Connection::send_response`],
//!   [`Connection::send_data`], [`Connection::send_trailers`], [`Connection::reset`],
//!   [`Connection::ping`], [`Connection::shutdown`];
//! - outputs, polled in this order after every input: [`Connection::write_to`],
//!   [`Connection::poll_timeout`], [`Connection::poll_event`].
//!
//! Time is a `Duration` since an origin of the adapter's choosing (monotonic);
//! the core never reads a clock.

pub mod headers;

use core::time::Duration;

use bytes::Bytes;

use crate::error::{Error, ErrorCode};
use crate::frame::StreamId;

pub use headers::Protocol;

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
    /// SETTINGS_INITIAL_WINDOW_SIZE we advertise (per-stream receive window).
    pub initial_window_size: u32,
    /// Connection-level receive window (raised from 65535 by an initial WINDOW_UPDATE).
    pub connection_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE we advertise (largest frame we accept).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce.
    pub max_header_list_size: u32,
    /// Server: advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    pub enable_connect_protocol: bool,
    /// Advertise SETTINGS_NO_RFC7540_PRIORITIES = 1 (RFC 9218).
    pub no_rfc7540_priorities: bool,
    /// How long the peer has to ACK our SETTINGS before SETTINGS_TIMEOUT.
    pub settings_timeout: Duration,
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
        }
    }
}

/// Something the peer did, reported by [`Connection::poll_event`].
#[derive(Debug)]
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
    /// Headers that cannot be sent (connection-specific field, bad pseudo-header, …).
    InvalidHeaders(&'static str),
}

impl core::fmt::Display for UserError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for UserError {}

/// One HTTP/2 connection endpoint.
#[derive(Debug)]
pub struct Connection {
    role: Role,
}

impl Connection {
    /// A client endpoint; its preface and SETTINGS are queued for `write_to`.
    pub fn client(config: Config) -> Self {
        let _ = config;
        Connection { role: Role::Client }
    }

    /// A server endpoint; its SETTINGS are queued for `write_to`.
    pub fn server(config: Config) -> Self {
        let _ = config;
        Connection { role: Role::Server }
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Feeds bytes read from the peer. Returns how many were consumed (always all
    /// of them on success: partial frames are buffered). On a connection error the
    /// GOAWAY is queued for `write_to` and the error returned; the connection then
    /// only drains output.
    pub fn recv(&mut self, data: &[u8]) -> Result<usize, Error> {
        let _ = data;
        todo!()
    }

    /// Next event, in arrival order.
    pub fn poll_event(&mut self) -> Option<Event> {
        todo!()
    }

    /// Appends pending frames to `out` (control frames first, then HEADERS, then
    /// DATA in scheduler order within flow-control windows), stopping DATA once
    /// `out.len()` reaches `limit`. Returns the number of bytes appended.
    pub fn write_to(&mut self, out: &mut Vec<u8>, limit: usize) -> usize {
        let _ = (out, limit);
        todo!()
    }

    /// True when `write_to` would append something.
    pub fn wants_write(&self) -> bool {
        todo!()
    }

    /// When `handle_timeout` should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Duration> {
        todo!()
    }

    /// Tells the connection the current time; fires expired timers.
    pub fn handle_timeout(&mut self, now: Duration) {
        let _ = now;
        todo!()
    }

    /// Client: opens a stream and queues the request head. The URI must be absolute
    /// (scheme and authority), except for CONNECT. Set a [`Protocol`] extension for
    /// RFC 8441 extended CONNECT.
    pub fn send_request(
        &mut self,
        request: http::Request<()>,
        end_stream: bool,
    ) -> Result<StreamId, UserError> {
        let _ = (request, end_stream);
        todo!()
    }

    /// Server: queues the response head (1xx heads may precede the final one).
    pub fn send_response(
        &mut self,
        stream_id: StreamId,
        response: http::Response<()>,
        end_stream: bool,
    ) -> Result<(), UserError> {
        let _ = (stream_id, response, end_stream);
        todo!()
    }

    /// Queues body bytes; they leave as DATA frames as flow control allows.
    pub fn send_data(
        &mut self,
        stream_id: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), UserError> {
        let _ = (stream_id, data, end_stream);
        todo!()
    }

    /// Queues trailers, ending the stream's send side.
    pub fn send_trailers(
        &mut self,
        stream_id: StreamId,
        trailers: http::HeaderMap,
    ) -> Result<(), UserError> {
        let _ = (stream_id, trailers);
        todo!()
    }

    /// Resets a stream with `code`.
    pub fn reset(&mut self, stream_id: StreamId, code: ErrorCode) -> Result<(), UserError> {
        let _ = (stream_id, code);
        todo!()
    }

    /// Sends a PING; the answer comes back as [`Event::PingAck`].
    pub fn ping(&mut self, data: [u8; 8]) {
        let _ = data;
        todo!()
    }

    /// Graceful shutdown: GOAWAY, no new streams, existing streams finish;
    /// then [`Connection::is_closed`] turns true.
    pub fn shutdown(&mut self, code: ErrorCode) {
        let _ = code;
        todo!()
    }

    /// True when the connection is over and all output was taken: close the socket.
    pub fn is_closed(&self) -> bool {
        todo!()
    }
}
