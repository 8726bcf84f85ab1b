//! The library component: H2O's sans-IO core behind the WIT world
//! `h2o:core/library` (see `wit/`).
//!
//! Owns only the translation between WIT values and the core's Rust types:
//! no protocol logic lives here. Resources wrap the core objects in a
//! `RefCell` because WIT methods take `&self`. Every call into the core's
//! HTTP/2 [`h2o::Connection`] API is in `impl GuestConnection for Connection`
//! so that API changes of the core touch one block.

use std::cell::RefCell;
use std::time::Duration;

use bytes::Bytes;
use h2o::conn::Protocol;
use h2o::conn::UserError;
use h2o::ErrorCode;

wit_bindgen::generate!({
    world: "library",
    path: "../../wit",
});

use exports::h2o::core::connection as wc;
use exports::h2o::core::hpack as wh;
use exports::h2o::core::types as wt;
use exports::h2o::core::websocket as ww;

/// The component's export implementations.
struct Component;

export!(Component);

// ---------------------------------------------------------------- time

fn to_duration(ns: wt::Instant) -> Duration {
    Duration::from_nanos(ns)
}

fn to_instant(d: Duration) -> wt::Instant {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------- heads

fn to_header_map(fields: Vec<wt::Header>) -> Result<http::HeaderMap, wc::UserError> {
    let mut map = http::HeaderMap::with_capacity(fields.len());
    for f in fields {
        let name = http::HeaderName::from_bytes(f.name.as_bytes())
            .map_err(|_| invalid(format!("invalid header name {:?}", f.name)))?;
        let value = http::HeaderValue::from_bytes(&f.value)
            .map_err(|_| invalid(format!("invalid value of header {name}")))?;
        map.append(name, value);
    }
    Ok(map)
}

fn from_header_map(map: &http::HeaderMap) -> Vec<wt::Header> {
    map.iter()
        .map(|(n, v)| wt::Header {
            name: n.as_str().to_owned(),
            value: v.as_bytes().to_vec(),
        })
        .collect()
}

fn invalid(reason: String) -> wc::UserError {
    wc::UserError::InvalidHeaders(reason)
}

fn to_request(r: wt::Request) -> Result<http::Request<()>, wc::UserError> {
    let method = http::Method::from_bytes(r.method.as_bytes())
        .map_err(|_| invalid(format!("invalid method {:?}", r.method)))?;
    let mut uri = http::Uri::builder();
    if let Some(s) = &r.scheme {
        uri = uri.scheme(s.as_str());
    }
    if let Some(a) = &r.authority {
        uri = uri.authority(a.as_str());
    }
    if let Some(p) = &r.path {
        uri = uri.path_and_query(p.as_str());
    }
    let uri = uri
        .build()
        .map_err(|e| invalid(format!("invalid request target: {e}")))?;
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(())
        .map_err(|e| invalid(format!("invalid request: {e}")))?;
    *req.headers_mut() = to_header_map(r.headers)?;
    if let Some(p) = r.protocol {
        req.extensions_mut().insert(Protocol(p));
    }
    Ok(req)
}

fn from_request(r: &http::Request<()>) -> wt::Request {
    let uri = r.uri();
    wt::Request {
        method: r.method().as_str().to_owned(),
        scheme: uri.scheme_str().map(str::to_owned),
        authority: uri.authority().map(|a| a.as_str().to_owned()),
        path: uri.path_and_query().map(|p| p.as_str().to_owned()),
        protocol: r.extensions().get::<Protocol>().map(|p| p.0.clone()),
        headers: from_header_map(r.headers()),
    }
}

fn to_response(r: wt::Response) -> Result<http::Response<()>, wc::UserError> {
    let status = http::StatusCode::from_u16(r.status)
        .map_err(|_| invalid(format!("invalid status {}", r.status)))?;
    let mut resp = http::Response::new(());
    *resp.status_mut() = status;
    *resp.headers_mut() = to_header_map(r.headers)?;
    Ok(resp)
}

fn from_response(r: &http::Response<()>) -> wt::Response {
    wt::Response {
        status: r.status().as_u16(),
        headers: from_header_map(r.headers()),
    }
}

// ---------------------------------------------------------------- errors, events

fn from_user_error(e: UserError) -> wc::UserError {
    use wc::UserError as W;
    match e {
        UserError::UnknownStream => W::UnknownStream,
        UserError::StreamClosed => W::StreamClosed,
        UserError::WrongRole => W::WrongRole,
        UserError::StreamLimit => W::StreamLimit,
        UserError::GoingAway => W::GoingAway,
        UserError::ConnectionClosed => W::ConnectionClosed,
        UserError::InvalidHeaders(r) => W::InvalidHeaders(r.to_owned()),
        // Kinds a later core adds (its enums become `#[non_exhaustive]`).
        #[allow(unreachable_patterns)]
        e => W::Other(e.to_string()),
    }
}

fn from_protocol_error(e: h2o::Error) -> wc::ProtocolError {
    match e {
        h2o::Error::Connection { code, reason } => wc::ProtocolError {
            code: code.0,
            stream_id: None,
            reason: reason.to_owned(),
        },
        h2o::Error::Stream {
            stream_id,
            code,
            reason,
        } => wc::ProtocolError {
            code: code.0,
            stream_id: Some(stream_id),
            reason: reason.to_owned(),
        },
        #[allow(unreachable_patterns)]
        e => wc::ProtocolError {
            code: e.code().0,
            stream_id: None,
            reason: e.to_string(),
        },
    }
}

fn from_settings(s: &h2o::frame::Settings) -> wc::Settings {
    wc::Settings {
        header_table_size: s.header_table_size,
        enable_push: s.enable_push,
        max_concurrent_streams: s.max_concurrent_streams,
        initial_window_size: s.initial_window_size,
        max_frame_size: s.max_frame_size,
        max_header_list_size: s.max_header_list_size,
        enable_connect_protocol: s.enable_connect_protocol,
        no_rfc7540_priorities: s.no_rfc7540_priorities,
    }
}

/// `None` for an event kind a later core adds (skipped by `poll-event`).
fn from_event(ev: h2o::Event) -> Option<wc::Event> {
    use h2o::Event as E;
    use wc::Event as W;
    Some(match ev {
        E::Request {
            stream_id,
            request,
            end_stream,
        } => W::Request(wc::RequestEvent {
            stream_id,
            request: from_request(&request),
            end_stream,
        }),
        E::Response {
            stream_id,
            response,
            end_stream,
        } => W::Response(wc::ResponseEvent {
            stream_id,
            response: from_response(&response),
            end_stream,
        }),
        E::Data {
            stream_id,
            data,
            end_stream,
        } => W::Data(wc::DataEvent {
            stream_id,
            data: data.to_vec(),
            end_stream,
        }),
        E::Trailers {
            stream_id,
            trailers,
        } => W::Trailers(wc::TrailersEvent {
            stream_id,
            trailers: from_header_map(&trailers),
        }),
        E::Reset {
            stream_id,
            code,
            remote,
        } => W::Reset(wc::ResetEvent {
            stream_id,
            code: code.0,
            remote,
        }),
        E::Closed { stream_id } => W::Closed(stream_id),
        E::SendReady { stream_id } => W::SendReady(stream_id),
        E::Settings(s) => W::Settings(from_settings(&s)),
        E::SettingsAcked => W::SettingsAcked,
        E::Ping(d) => W::Ping(u64::from_be_bytes(d)),
        E::PingAck(d) => W::PingAck(u64::from_be_bytes(d)),
        E::GoAway {
            last_stream_id,
            code,
            debug,
        } => W::Goaway(wc::GoawayEvent {
            last_stream_id,
            code: code.0,
            debug: debug.to_vec(),
        }),
        E::PriorityUpdate {
            stream_id,
            priority,
        } => W::PriorityUpdate(wc::PriorityEvent {
            stream_id,
            priority: wc::Priority {
                urgency: priority.urgency,
                incremental: priority.incremental,
            },
        }),
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// Field by field over the defaults, so fields the core adds later keep
/// their defaults (and a `#[non_exhaustive]` `Config` still builds).
#[allow(clippy::field_reassign_with_default)]
fn to_config(c: wc::Config) -> h2o::Config {
    let mut k = h2o::Config::default();
    k.header_table_size = c.header_table_size;
    k.max_concurrent_streams = c.max_concurrent_streams;
    k.initial_window_size = c.initial_window_size;
    k.connection_window_size = c.connection_window_size;
    k.max_frame_size = c.max_frame_size;
    k.max_header_list_size = c.max_header_list_size;
    k.enable_connect_protocol = c.enable_connect_protocol;
    k.no_rfc7540_priorities = c.no_rfc7540_priorities;
    k.settings_timeout = to_duration(c.settings_timeout);
    k.adaptive_window = c.adaptive_window;
    k.max_adaptive_window = c.max_adaptive_window;
    k.max_adaptive_connection_window = c.max_adaptive_connection_window;
    k
}

// ---------------------------------------------------------------- connection

/// `connection` resource: one [`h2o::Connection`].
pub struct Connection(RefCell<h2o::Connection>);

impl wc::Guest for Component {
    type Connection = Connection;

    fn default_config() -> wc::Config {
        let c = h2o::Config::default();
        wc::Config {
            header_table_size: c.header_table_size,
            max_concurrent_streams: c.max_concurrent_streams,
            initial_window_size: c.initial_window_size,
            connection_window_size: c.connection_window_size,
            max_frame_size: c.max_frame_size,
            max_header_list_size: c.max_header_list_size,
            enable_connect_protocol: c.enable_connect_protocol,
            no_rfc7540_priorities: c.no_rfc7540_priorities,
            settings_timeout: to_instant(c.settings_timeout),
            adaptive_window: c.adaptive_window,
            max_adaptive_window: c.max_adaptive_window,
            max_adaptive_connection_window: c.max_adaptive_connection_window,
        }
    }
}

// Every call into the core's HTTP/2 connection API is in this block.
impl wc::GuestConnection for Connection {
    fn new(role: wc::Role, config: wc::Config) -> Self {
        let config = to_config(config);
        Connection(RefCell::new(match role {
            wc::Role::Client => h2o::Connection::client(config),
            wc::Role::Server => h2o::Connection::server(config),
        }))
    }

    fn recv(&self, now: wt::Instant, data: Vec<u8>) -> Result<u32, wc::ProtocolError> {
        self.0
            .borrow_mut()
            .recv(to_duration(now), &data)
            .map(|n| n as u32)
            .map_err(from_protocol_error)
    }

    fn poll_event(&self) -> Option<wc::Event> {
        let mut c = self.0.borrow_mut();
        loop {
            if let Some(ev) = from_event(c.poll_event()?) {
                return Some(ev);
            }
        }
    }

    fn take_output(&self, now: wt::Instant, limit: u32) -> Vec<u8> {
        let mut out = Vec::new();
        self.0
            .borrow_mut()
            .write_to(to_duration(now), &mut out, limit as usize);
        out
    }

    fn wants_write(&self) -> bool {
        self.0.borrow().wants_write()
    }

    fn poll_timeout(&self) -> Option<wt::Instant> {
        self.0.borrow().poll_timeout().map(to_instant)
    }

    fn handle_timeout(&self, now: wt::Instant) {
        self.0.borrow_mut().handle_timeout(to_duration(now));
    }

    fn send_request(
        &self,
        request: wt::Request,
        end_stream: bool,
    ) -> Result<wt::StreamId, wc::UserError> {
        let request = to_request(request)?;
        self.0
            .borrow_mut()
            .send_request(request, end_stream)
            .map_err(from_user_error)
    }

    fn send_response(
        &self,
        stream_id: wt::StreamId,
        response: wt::Response,
        end_stream: bool,
    ) -> Result<(), wc::UserError> {
        let response = to_response(response)?;
        self.0
            .borrow_mut()
            .send_response(stream_id, response, end_stream)
            .map_err(from_user_error)
    }

    fn send_data(
        &self,
        stream_id: wt::StreamId,
        data: Vec<u8>,
        end_stream: bool,
    ) -> Result<(), wc::UserError> {
        self.0
            .borrow_mut()
            .send_data(stream_id, Bytes::from(data), end_stream)
            .map_err(from_user_error)
    }

    fn send_trailers(
        &self,
        stream_id: wt::StreamId,
        trailers: Vec<wt::Header>,
    ) -> Result<(), wc::UserError> {
        let trailers = to_header_map(trailers)?;
        self.0
            .borrow_mut()
            .send_trailers(stream_id, trailers)
            .map_err(from_user_error)
    }

    fn reset(&self, stream_id: wt::StreamId, code: wt::ErrorCode) -> Result<(), wc::UserError> {
        self.0
            .borrow_mut()
            .reset(stream_id, ErrorCode(code))
            .map_err(from_user_error)
    }

    fn ping(&self, data: u64) {
        self.0.borrow_mut().ping(data.to_be_bytes());
    }

    fn shutdown(&self, code: wt::ErrorCode) {
        self.0.borrow_mut().shutdown(ErrorCode(code));
    }

    fn is_closed(&self) -> bool {
        self.0.borrow().is_closed()
    }

    fn open_streams(&self) -> u32 {
        self.0.borrow().open_streams() as u32
    }
}

// ---------------------------------------------------------------- hpack

fn from_decode_error(e: h2o::hpack::DecodeError) -> wh::DecodeError {
    use h2o::hpack::DecodeError as D;
    match e {
        D::Truncated => wh::DecodeError::Truncated,
        D::IntegerOverflow => wh::DecodeError::IntegerOverflow,
        D::InvalidIndex => wh::DecodeError::InvalidIndex,
        D::InvalidHuffman => wh::DecodeError::InvalidHuffman,
        D::InvalidTableSizeUpdate => wh::DecodeError::InvalidTableSizeUpdate,
        D::LateTableSizeUpdate => wh::DecodeError::LateTableSizeUpdate,
        D::StringTooLong => wh::DecodeError::StringTooLong,
        #[allow(unreachable_patterns)]
        _ => wh::DecodeError::Other,
    }
}

/// `hpack.encoder` resource.
pub struct Encoder(RefCell<h2o::hpack::Encoder>);
/// `hpack.decoder` resource.
pub struct Decoder(RefCell<h2o::hpack::Decoder>);

impl wh::Guest for Component {
    type Encoder = Encoder;
    type Decoder = Decoder;
}

impl wh::GuestEncoder for Encoder {
    fn new(max_table_size: u32) -> Self {
        Encoder(RefCell::new(h2o::hpack::Encoder::new(
            max_table_size as usize,
        )))
    }

    fn set_max_table_size(&self, size: u32) {
        self.0.borrow_mut().set_max_table_size(size as usize);
    }

    fn encode(&self, fields: Vec<wh::Field>) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.borrow_mut().encode(
            fields.iter().map(|f| h2o::hpack::HeaderField {
                name: &f.name,
                value: &f.value,
                never_index: f.never_index,
            }),
            &mut out,
        );
        out
    }
}

impl wh::GuestDecoder for Decoder {
    fn new(max_table_size: u32) -> Self {
        Decoder(RefCell::new(h2o::hpack::Decoder::new(
            max_table_size as usize,
        )))
    }

    fn set_max_table_size(&self, size: u32) {
        self.0.borrow_mut().set_max_table_size(size as usize);
    }

    fn set_max_string_len(&self, len: u32) {
        self.0.borrow_mut().set_max_string_len(len as usize);
    }

    fn decode(&self, block: Vec<u8>) -> Result<Vec<wh::Field>, wh::DecodeError> {
        let mut fields = Vec::new();
        self.0
            .borrow_mut()
            .decode(&block, |f| {
                fields.push(wh::Field {
                    name: f.name.to_vec(),
                    value: f.value.to_vec(),
                    never_index: f.never_index,
                })
            })
            .map_err(from_decode_error)?;
        Ok(fields)
    }
}

// ---------------------------------------------------------------- websocket

/// `websocket.codec` resource: one [`h2o::ws::WebSocket`].
pub struct Codec(RefCell<h2o::ws::WebSocket>);

fn from_send_error(e: h2o::ws::SendError) -> ww::SendError {
    use h2o::ws::SendError as S;
    match e {
        S::Closed => ww::SendError::Closed,
        S::ControlTooLong => ww::SendError::ControlTooLong,
        S::InvalidCloseCode => ww::SendError::InvalidCloseCode,
        // `fragment-kind` cannot name a control opcode, so NotDataOpCode is unreachable.
        S::FragmentState | S::NotDataOpCode => ww::SendError::FragmentState,
        #[allow(unreachable_patterns)]
        _ => ww::SendError::Other,
    }
}

impl ww::Guest for Component {
    type Codec = Codec;

    fn mask(mut data: Vec<u8>, key: (u8, u8, u8, u8), offset: u64) -> Vec<u8> {
        // Only the phase of `offset` matters (the key repeats every 4 bytes).
        h2o::ws::apply_mask(
            &mut data,
            [key.0, key.1, key.2, key.3],
            (offset & 3) as usize,
        );
        data
    }

    fn default_config() -> ww::Config {
        let c = h2o::ws::Config::default();
        ww::Config {
            max_frame_size: c.max_frame_size as u64,
            max_message_size: c.max_message_size as u64,
            auto_pong: c.auto_pong,
            mask_seed: c.mask_seed,
        }
    }
}

impl ww::GuestCodec for Codec {
    // Field by field over the defaults, like `to_config`.
    #[allow(clippy::field_reassign_with_default)]
    fn new(role: ww::Role, config: ww::Config) -> Self {
        let role = match role {
            ww::Role::Client => h2o::ws::Role::Client,
            ww::Role::Server => h2o::ws::Role::Server,
        };
        let mut k = h2o::ws::Config::default();
        k.max_frame_size = usize::try_from(config.max_frame_size).unwrap_or(usize::MAX);
        k.max_message_size = usize::try_from(config.max_message_size).unwrap_or(usize::MAX);
        k.auto_pong = config.auto_pong;
        k.mask_seed = config.mask_seed;
        Codec(RefCell::new(h2o::ws::WebSocket::new(role, k)))
    }

    fn recv(&self, data: Vec<u8>) -> Result<u32, ww::ProtocolError> {
        self.0
            .borrow_mut()
            .recv(&data)
            .map(|n| n as u32)
            .map_err(|e| ww::ProtocolError {
                code: e.code().0,
                reason: e.message().to_owned(),
            })
    }

    fn poll_event(&self) -> Option<ww::Event> {
        use h2o::ws::{Event as E, Message as M};
        let mut c = self.0.borrow_mut();
        loop {
            return Some(match c.poll_event()? {
                E::Message(M::Text(t)) => ww::Event::Text(t.as_str().to_owned()),
                E::Message(M::Binary(b)) => ww::Event::Binary(b.to_vec()),
                E::Ping(p) => ww::Event::Ping(p.to_vec()),
                E::Pong(p) => ww::Event::Pong(p.to_vec()),
                E::Close { code, reason } => ww::Event::Close(ww::CloseEvent {
                    code: code.0,
                    reason: reason.as_str().to_owned(),
                }),
                // Kinds a later core adds: skipped.
                #[allow(unreachable_patterns)]
                _ => continue,
            });
        }
    }

    fn take_output(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.borrow_mut().write_to(&mut out);
        out
    }

    fn send_text(&self, text: String) -> Result<(), ww::SendError> {
        self.0
            .borrow_mut()
            .send_text(&text)
            .map_err(from_send_error)
    }

    fn send_binary(&self, data: Vec<u8>) -> Result<(), ww::SendError> {
        self.0
            .borrow_mut()
            .send_binary(&data)
            .map_err(from_send_error)
    }

    fn send_fragment(
        &self,
        kind: ww::FragmentKind,
        data: Vec<u8>,
        fin: bool,
    ) -> Result<(), ww::SendError> {
        let op = match kind {
            ww::FragmentKind::Text => h2o::ws::OpCode::Text,
            ww::FragmentKind::Binary => h2o::ws::OpCode::Binary,
            ww::FragmentKind::Continuation => h2o::ws::OpCode::Continuation,
        };
        self.0
            .borrow_mut()
            .send_fragment(op, &data, fin)
            .map_err(from_send_error)
    }

    fn send_ping(&self, data: Vec<u8>) -> Result<(), ww::SendError> {
        self.0
            .borrow_mut()
            .send_ping(&data)
            .map_err(from_send_error)
    }

    fn send_pong(&self, data: Vec<u8>) -> Result<(), ww::SendError> {
        self.0
            .borrow_mut()
            .send_pong(&data)
            .map_err(from_send_error)
    }

    fn close(&self, code: u16, reason: String) -> Result<(), ww::SendError> {
        self.0
            .borrow_mut()
            .close(h2o::ws::CloseCode(code), &reason)
            .map_err(from_send_error)
    }

    fn is_closed(&self) -> bool {
        self.0.borrow().is_closed()
    }
}
