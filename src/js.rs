//! The npm package's adapter (feature `js`, wasm32 only): wasm-bindgen classes
//! over the sans-IO core, used by `js/` (the Node high-level API) and by anyone
//! who brings their own transport.
//!
//! Owns only type conversion and byte moving: JS arrays of `[name, value]`
//! pairs <-> `http` heads, `Uint8Array` <-> `Bytes`, milliseconds <->
//! `Duration`, core errors -> JS `Error`s with a `code`. Every protocol decision
//! (framing, HPACK, flow control, stream states, WebSocket framing, handshake
//! checks) is made by [`crate::conn`], [`crate::hpack`] and [`crate::ws`].
//!
//! Header values cross the boundary as Latin-1 strings (one char per byte,
//! like Node's `http2`), so any byte survives a round trip; a char above
//! U+00FF in an outgoing value is refused (`ERR_H2O_INVALID_ARG`).
//!
//! Every call into [`Connection`](crate::conn::Connection) is in the `impl
//! Connection` block below (the merge point for core API changes).

use core::time::Duration;

use bytes::Bytes;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::conn::{self, Config, Event, Protocol, Role, UserError};
use crate::error::{Error as H2Error, ErrorCode};
use crate::hpack::{self, HeaderField};
use crate::ws::{self, handshake, CloseCode};

// ---------------------------------------------------------------------------
// Errors

/// A JS `Error` with `code` (e.g. `ERR_H2O_PROTOCOL`) and optional extra props.
fn js_error(code: &str, message: &str, extra: &[(&str, JsValue)]) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = Reflect::set(&e, &"code".into(), &code.into());
    for (k, v) in extra {
        let _ = Reflect::set(&e, &(*k).into(), v);
    }
    e.into()
}

fn invalid_arg(message: &str) -> JsValue {
    js_error("ERR_H2O_INVALID_ARG", message, &[])
}

fn code_name(code: ErrorCode) -> JsValue {
    match code.name() {
        Some(n) => n.into(),
        None => format!("0x{:x}", code.0).into(),
    }
}

fn h2_error(e: H2Error) -> JsValue {
    js_error(
        "ERR_H2O_PROTOCOL",
        &e.to_string(),
        &[("h2Code", code_name(e.code()))],
    )
}

fn user_error(e: UserError) -> JsValue {
    let (code, msg): (&str, String) = match e {
        UserError::UnknownStream => ("ERR_H2O_INVALID_STREAM", "no such stream".into()),
        UserError::StreamClosed => ("ERR_H2O_STREAM_CLOSED", "stream send side closed".into()),
        UserError::WrongRole => ("ERR_H2O_INVALID_ARG", "not allowed in this role".into()),
        UserError::StreamLimit => (
            "ERR_H2O_STREAM_LIMIT",
            "peer's MAX_CONCURRENT_STREAMS reached".into(),
        ),
        UserError::GoingAway => ("ERR_H2O_GOAWAY", "connection is going away".into()),
        UserError::ConnectionClosed => ("ERR_H2O_CONNECTION_CLOSED", "connection closed".into()),
        UserError::InvalidHeaders(why) => {
            ("ERR_H2O_INVALID_ARG", format!("invalid headers: {why}"))
        }
        e @ (UserError::ResponseHeadFirst
        | UserError::InformationalEndsStream
        | UserError::ExternalDataPending
        | UserError::ConnectProtocolDisabled) => ("ERR_H2O_INVALID_ARG", e.to_string()),
    };
    js_error(code, &msg, &[])
}

// ---------------------------------------------------------------------------
// Conversions

fn ms(now_ms: f64) -> Result<Duration, JsValue> {
    if now_ms.is_finite() && now_ms >= 0.0 {
        Ok(Duration::from_secs_f64(now_ms / 1000.0))
    } else {
        Err(invalid_arg(
            "time must be a finite number of milliseconds >= 0",
        ))
    }
}

/// Bytes of a Latin-1 JS string; `None` if a char is above U+00FF.
fn latin1_bytes(s: &str) -> Option<Vec<u8>> {
    if s.is_ascii() {
        return Some(s.as_bytes().to_vec());
    }
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// One header as owned name and value bytes.
type Pair = (Vec<u8>, Vec<u8>);

/// `[[name, value], ...]` -> owned byte pairs.
fn pairs(headers: &JsValue) -> Result<Vec<Pair>, JsValue> {
    if headers.is_undefined() || headers.is_null() {
        return Ok(Vec::new());
    }
    if !Array::is_array(headers) {
        return Err(invalid_arg(
            "headers must be an array of [name, value] pairs",
        ));
    }
    let arr = Array::from(headers);
    let mut out = Vec::with_capacity(arr.length() as usize);
    for entry in arr.iter() {
        let bad = || invalid_arg("each header must be a [name, value] pair of strings");
        if !Array::is_array(&entry) {
            return Err(bad());
        }
        let pair = Array::from(&entry);
        let (Some(n), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
            return Err(bad());
        };
        let (Some(n), Some(v)) = (latin1_bytes(&n), latin1_bytes(&v)) else {
            return Err(invalid_arg(
                "header names and values must be Latin-1 strings",
            ));
        };
        out.push((n, v));
    }
    Ok(out)
}

fn header_map(headers: &JsValue) -> Result<http::HeaderMap, JsValue> {
    let mut map = http::HeaderMap::new();
    for (n, v) in pairs(headers)? {
        let name = http::HeaderName::from_bytes(&n).map_err(|_| {
            invalid_arg(&format!(
                "invalid header name {:?}",
                String::from_utf8_lossy(&n)
            ))
        })?;
        let value = http::HeaderValue::from_bytes(&v)
            .map_err(|_| invalid_arg(&format!("invalid value for header {name}")))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Builds a plain object from `(key, value)` pairs.
fn obj(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

fn bytes_js(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

fn get_opt(options: &JsValue, key: &str) -> Option<JsValue> {
    if !options.is_object() {
        return None;
    }
    Reflect::get(options, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn opt_u32(options: &JsValue, key: &str) -> Result<Option<u32>, JsValue> {
    match get_opt(options, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(f) if f >= 0.0 && f <= u32::MAX as f64 && f.fract() == 0.0 => Ok(Some(f as u32)),
            _ => Err(invalid_arg(&format!(
                "option {key} must be an integer 0..2^32-1"
            ))),
        },
    }
}

fn opt_bool(options: &JsValue, key: &str) -> Result<Option<bool>, JsValue> {
    match get_opt(options, key) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| invalid_arg(&format!("option {key} must be a boolean"))),
    }
}

fn error_code(code: Option<u32>) -> ErrorCode {
    ErrorCode(code.unwrap_or(0))
}

// ---------------------------------------------------------------------------
// HTTP/2 connection

/// One HTTP/2 connection endpoint (client or server) over a transport the
/// caller supplies: feed it the peer's bytes with `receive`, send what
/// `takeOutput` returns, handle `pollEvent` events, and call `handleTimeout`
/// at the time `pollTimeout` asks for.
#[wasm_bindgen]
pub struct Connection {
    inner: conn::Connection,
    out: Vec<u8>,
}

#[wasm_bindgen]
impl Connection {
    /// `role`: `"client"` or `"server"`. `options` (all optional):
    /// `maxConcurrentStreams`, `initialWindowSize`, `connectionWindowSize`,
    /// `maxFrameSize`, `maxHeaderListSize`, `headerTableSize`,
    /// `enableConnectProtocol` (server, RFC 8441), `adaptiveWindow`.
    #[wasm_bindgen(constructor)]
    pub fn new(role: &str, options: JsValue) -> Result<Connection, JsValue> {
        let mut c = Config::default();
        if let Some(v) = opt_u32(&options, "maxConcurrentStreams")? {
            c.max_concurrent_streams = v;
        }
        if let Some(v) = opt_u32(&options, "initialWindowSize")? {
            c.initial_window_size = v;
        }
        if let Some(v) = opt_u32(&options, "connectionWindowSize")? {
            c.connection_window_size = v;
        }
        if let Some(v) = opt_u32(&options, "maxFrameSize")? {
            c.max_frame_size = v;
        }
        if let Some(v) = opt_u32(&options, "maxHeaderListSize")? {
            c.max_header_list_size = v;
        }
        if let Some(v) = opt_u32(&options, "headerTableSize")? {
            c.header_table_size = v;
        }
        if let Some(v) = opt_bool(&options, "enableConnectProtocol")? {
            c.enable_connect_protocol = v;
        }
        if let Some(v) = opt_bool(&options, "adaptiveWindow")? {
            c.adaptive_window = v;
        }
        let inner = match role {
            "client" => conn::Connection::client(c),
            "server" => conn::Connection::server(c),
            _ => return Err(invalid_arg("role must be \"client\" or \"server\"")),
        };
        Ok(Connection {
            inner,
            out: Vec::new(),
        })
    }

    /// This endpoint's role: `"client"` or `"server"`.
    #[wasm_bindgen(getter)]
    pub fn role(&self) -> String {
        match self.inner.role() {
            Role::Client => "client".into(),
            Role::Server => "server".into(),
        }
    }

    /// Feeds bytes read from the peer, at time `nowMs` (monotonic
    /// milliseconds, e.g. `performance.now()`; needed for adaptive windows
    /// and timers). Throws `ERR_H2O_PROTOCOL` (with `h2Code`) on a connection
    /// error; the GOAWAY is then waiting in `takeOutput()`.
    pub fn receive(&mut self, bytes: &[u8], now_ms: f64) -> Result<(), JsValue> {
        self.inner
            .recv(ms(now_ms)?, bytes)
            .map(|_| ())
            .map_err(h2_error)
    }

    /// Tells the connection the time (milliseconds); fires expired timers.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now_ms: f64) -> Result<(), JsValue> {
        self.inner.handle_timeout(ms(now_ms)?);
        Ok(())
    }

    /// When (milliseconds, same clock as `receive`) `handleTimeout` should
    /// next be called, or `undefined`.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout().map(|d| d.as_secs_f64() * 1000.0)
    }

    /// Bytes to send to the peer (empty when there is nothing) at time
    /// `nowMs` (same clock as `receive`), at most about `limit` bytes of DATA
    /// (default 1 MiB) per call.
    #[wasm_bindgen(js_name = takeOutput)]
    pub fn take_output(&mut self, now_ms: f64, limit: Option<u32>) -> Result<Vec<u8>, JsValue> {
        self.out.clear();
        let limit = limit.map_or(1 << 20, |l| l as usize);
        self.inner.write_to(ms(now_ms)?, &mut self.out, limit);
        Ok(core::mem::take(&mut self.out))
    }

    /// True when `takeOutput` would return bytes.
    #[wasm_bindgen(js_name = wantsWrite)]
    pub fn wants_write(&self) -> bool {
        self.inner.wants_write()
    }

    /// The next event, or `undefined`. Shapes (`type` first):
    /// `request {streamId, method, url, protocol?, headers, endStream}`,
    /// `response {streamId, status, headers, endStream}`,
    /// `data {streamId, data: Uint8Array, endStream}`,
    /// `trailers {streamId, headers}`, `reset {streamId, code, remote}`,
    /// `closed {streamId}`, `sendReady {streamId}`, `settings`,
    /// `settingsAcked`, `ping {data}`, `pingAck {data}`,
    /// `goaway {lastStreamId, code, debug}`,
    /// `priorityUpdate {streamId, urgency, incremental}`.
    /// Taking a `data` event returns its bytes to the flow-control window, so
    /// not polling is backpressure.
    #[wasm_bindgen(js_name = pollEvent)]
    pub fn poll_event(&mut self) -> JsValue {
        let Some(ev) = self.inner.poll_event() else {
            return JsValue::UNDEFINED;
        };
        event_js(ev)
    }

    /// Client: opens a stream. `url` is absolute (`http://host:port/path`);
    /// `headers` is `[[name, value], ...]`; `protocol` sets RFC 8441's
    /// `:protocol` (then `method` must be `CONNECT`). Returns the stream id.
    pub fn request(
        &mut self,
        method: &str,
        url: &str,
        headers: JsValue,
        end_stream: bool,
        protocol: Option<String>,
    ) -> Result<u32, JsValue> {
        let method = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| invalid_arg(&format!("invalid method {method:?}")))?;
        let uri: http::Uri = url.parse().map_err(|e| {
            js_error(
                "ERR_H2O_INVALID_URL",
                &format!("invalid URL {url:?}: {e}"),
                &[],
            )
        })?;
        let mut req = http::Request::new(());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = header_map(&headers)?;
        if let Some(p) = protocol {
            req.extensions_mut().insert(Protocol(p));
        }
        self.inner.send_request(req, end_stream).map_err(user_error)
    }

    /// Client: opens an RFC 8441 WebSocket stream (extended CONNECT) for
    /// `url`; its response arrives as a `response` event (2xx = accepted,
    /// check with `WebSocketCodec.verifyH2Response`).
    #[wasm_bindgen(js_name = requestWebSocket)]
    pub fn request_websocket(&mut self, url: &str) -> Result<u32, JsValue> {
        let req = handshake::h2_connect_request(url).map_err(|e| {
            js_error(
                "ERR_H2O_INVALID_URL",
                &format!("invalid URL {url:?}: {e}"),
                &[],
            )
        })?;
        self.inner.send_request(req, false).map_err(user_error)
    }

    /// Server: queues a response head.
    pub fn respond(
        &mut self,
        stream_id: u32,
        status: u16,
        headers: JsValue,
        end_stream: bool,
    ) -> Result<(), JsValue> {
        let mut resp = http::Response::new(());
        *resp.status_mut() = http::StatusCode::from_u16(status)
            .map_err(|_| invalid_arg(&format!("invalid status {status}")))?;
        *resp.headers_mut() = header_map(&headers)?;
        self.inner
            .send_response(stream_id, resp, end_stream)
            .map_err(user_error)
    }

    /// Queues body bytes (copied); they leave as flow control allows.
    #[wasm_bindgen(js_name = sendData)]
    pub fn send_data(
        &mut self,
        stream_id: u32,
        data: &[u8],
        end_stream: bool,
    ) -> Result<(), JsValue> {
        self.inner
            .send_data(stream_id, Bytes::copy_from_slice(data), end_stream)
            .map_err(user_error)
    }

    /// Queues trailers, ending the stream's send side.
    #[wasm_bindgen(js_name = sendTrailers)]
    pub fn send_trailers(&mut self, stream_id: u32, headers: JsValue) -> Result<(), JsValue> {
        let map = header_map(&headers)?;
        self.inner.send_trailers(stream_id, map).map_err(user_error)
    }

    /// Resets a stream (`code` default CANCEL = 8).
    pub fn reset(&mut self, stream_id: u32, code: Option<u32>) -> Result<(), JsValue> {
        self.inner
            .reset(stream_id, ErrorCode(code.unwrap_or(8)))
            .map_err(user_error)
    }

    /// Sends a PING with 8 bytes of payload.
    pub fn ping(&mut self, data: &[u8]) -> Result<(), JsValue> {
        let d: [u8; 8] = data
            .try_into()
            .map_err(|_| invalid_arg("PING payload must be 8 bytes"))?;
        self.inner.ping(d);
        Ok(())
    }

    /// GOAWAY: `code` 0 (default) lets open streams finish; any other code
    /// closes once the GOAWAY is written.
    pub fn shutdown(&mut self, code: Option<u32>) {
        self.inner.shutdown(error_code(code));
    }

    /// True when the connection is over and all output was taken.
    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Number of open (or half-closed) streams.
    #[wasm_bindgen(js_name = openStreams)]
    pub fn open_streams(&self) -> u32 {
        self.inner.open_streams() as u32
    }

    /// Bytes queued by `sendData` on a stream and not yet written
    /// (`undefined` for an unknown stream).
    #[wasm_bindgen(js_name = queuedLength)]
    pub fn queued_len(&self, stream_id: u32) -> Option<f64> {
        self.inner.queued_len(stream_id).map(|n| n as f64)
    }
}

/// Strings for one JS call: concatenated Latin-1 text plus each piece's length
/// (in chars = bytes), so that all of them cross the boundary as one string.
#[derive(Default)]
struct Strs {
    text: String,
    lens: Vec<u32>,
}

impl Strs {
    fn with_capacity(bytes: usize, pieces: usize) -> Strs {
        Strs {
            text: String::with_capacity(bytes),
            lens: Vec::with_capacity(pieces),
        }
    }

    fn push(&mut self, b: &[u8]) {
        match core::str::from_utf8(b) {
            Ok(s) if b.is_ascii() => self.text.push_str(s),
            _ => self.text.extend(b.iter().map(|&c| c as char)),
        }
        self.lens.push(b.len() as u32);
    }

    fn headers(&mut self, map: &http::HeaderMap) {
        for (n, v) in map {
            self.push(n.as_str().as_bytes());
            self.push(v.as_bytes());
        }
    }
}

/// JS side of the event factory: builds the event object with literal keys
/// from (kind, id, number, flag, pieces, data); `pieces` are the strings
/// split by their lengths (headers as consecutive name/value pairs).
const MAKE_EVENT_JS: &str = r#"
const p = new Array(l.length);
for (let i = 0, o = 0; i < l.length; i++) { p[i] = s.slice(o, o + l[i]); o += l[i]; }
const pairs = (from) => { const h = []; for (let i = from; i + 1 < p.length; i += 2) h.push([p[i], p[i + 1]]); return h; };
switch (k) {
  case 0: return { type: 'request', streamId: id, method: p[0], url: p[1], protocol: n ? p[2] : undefined, headers: pairs(3), endStream: f };
  case 1: return { type: 'response', streamId: id, status: n, headers: pairs(0), endStream: f };
  case 2: return { type: 'data', streamId: id, data: d, endStream: f };
  case 3: return { type: 'trailers', streamId: id, headers: pairs(0) };
  case 4: return { type: 'reset', streamId: id, code: n, codeName: p[0], remote: f };
  case 5: return { type: 'closed', streamId: id };
  case 6: return { type: 'sendReady', streamId: id };
  case 7: return { type: 'settings' };
  case 8: return { type: 'settingsAcked' };
  case 9: return { type: 'ping', data: d };
  case 10: return { type: 'pingAck', data: d };
  case 11: return { type: 'goaway', lastStreamId: id, code: n, codeName: p[0], debug: p[1] };
  default: return { type: 'priorityUpdate', streamId: id, urgency: n, incremental: f };
}
"#;

/// JS side of the header splitter: `[[name, value], ...]` from one string.
const SPLIT_PAIRS_JS: &str = r#"
const h = new Array(l.length >> 1);
for (let i = 0, j = 0, o = 0; i + 1 < l.length; i += 2, j++) {
  const a = o + l[i], b = a + l[i + 1];
  h[j] = [s.slice(o, a), s.slice(a, b)];
  o = b;
}
return h;
"#;

thread_local! {
    static MAKE_EVENT: js_sys::Function =
        js_sys::Function::new_with_args("k, id, n, f, s, l, d", MAKE_EVENT_JS);
    static SPLIT_PAIRS: js_sys::Function = js_sys::Function::new_with_args("s, l", SPLIT_PAIRS_JS);
}

#[wasm_bindgen]
extern "C" {
    /// The factories above, called with typed arguments (one boundary crossing;
    /// `l` is a view of wasm memory used only during the call).
    #[wasm_bindgen(extends = js_sys::Function)]
    type Factory;
    #[wasm_bindgen(method, js_name = call)]
    #[allow(clippy::too_many_arguments)]
    fn make(
        this: &Factory,
        ctx: &JsValue,
        k: u32,
        id: u32,
        n: f64,
        f: bool,
        s: &str,
        l: &[u32],
        d: &JsValue,
    ) -> JsValue;
    #[wasm_bindgen(method, js_name = call)]
    fn split(this: &Factory, ctx: &JsValue, s: &str, l: &[u32]) -> JsValue;
}

fn make_event(k: u32, id: u32, n: f64, f: bool, strs: &Strs, data: Option<&[u8]>) -> JsValue {
    let d = data.map_or(JsValue::UNDEFINED, bytes_js);
    MAKE_EVENT.with(|mk| {
        mk.unchecked_ref::<Factory>()
            .make(&JsValue::NULL, k, id, n, f, &strs.text, &strs.lens, &d)
    })
}

fn split_pairs(strs: &Strs) -> JsValue {
    SPLIT_PAIRS.with(|f| {
        f.unchecked_ref::<Factory>()
            .split(&JsValue::NULL, &strs.text, &strs.lens)
    })
}

fn code_str(code: ErrorCode) -> String {
    match code.name() {
        Some(n) => n.to_string(),
        None => format!("0x{:x}", code.0),
    }
}

fn event_js(ev: Event) -> JsValue {
    let mut st = Strs::with_capacity(512, 24);
    match ev {
        Event::Request {
            stream_id,
            request,
            end_stream,
        } => {
            st.push(request.method().as_str().as_bytes());
            st.push(request.uri().to_string().as_bytes());
            let proto = request.extensions().get::<Protocol>();
            st.push(proto.map_or(&b""[..], |p| p.0.as_bytes()));
            st.headers(request.headers());
            let has = if proto.is_some() { 1.0 } else { 0.0 };
            make_event(0, stream_id, has, end_stream, &st, None)
        }
        Event::Response {
            stream_id,
            response,
            end_stream,
        } => {
            st.headers(response.headers());
            let status = f64::from(response.status().as_u16());
            make_event(1, stream_id, status, end_stream, &st, None)
        }
        Event::Data {
            stream_id,
            data,
            end_stream,
        } => make_event(2, stream_id, 0.0, end_stream, &st, Some(&data)),
        Event::Trailers {
            stream_id,
            trailers,
        } => {
            st.headers(&trailers);
            make_event(3, stream_id, 0.0, false, &st, None)
        }
        Event::Reset {
            stream_id,
            code,
            remote,
        } => {
            st.push(code_str(code).as_bytes());
            make_event(4, stream_id, f64::from(code.0), remote, &st, None)
        }
        Event::Closed { stream_id } => make_event(5, stream_id, 0.0, false, &st, None),
        Event::SendReady { stream_id } => make_event(6, stream_id, 0.0, false, &st, None),
        Event::Settings(_) => make_event(7, 0, 0.0, false, &st, None),
        Event::SettingsAcked => make_event(8, 0, 0.0, false, &st, None),
        Event::Ping(d) => make_event(9, 0, 0.0, false, &st, Some(&d)),
        Event::PingAck(d) => make_event(10, 0, 0.0, false, &st, Some(&d)),
        Event::GoAway {
            last_stream_id,
            code,
            debug,
        } => {
            st.push(code_str(code).as_bytes());
            st.push(&debug);
            make_event(11, last_stream_id, f64::from(code.0), false, &st, None)
        }
        Event::PriorityUpdate {
            stream_id,
            priority,
        } => make_event(
            12,
            stream_id,
            f64::from(priority.urgency),
            priority.incremental,
            &st,
            None,
        ),
    }
}

// ---------------------------------------------------------------------------
// HPACK

/// RFC 7541 encoder: `encode([[name, value], ...])` -> a field block.
#[wasm_bindgen]
pub struct HpackEncoder {
    inner: hpack::Encoder,
}

#[wasm_bindgen]
impl HpackEncoder {
    /// An encoder whose dynamic table may use `maxTableSize` bytes (default 4096).
    #[wasm_bindgen(constructor)]
    pub fn new(max_table_size: Option<u32>) -> HpackEncoder {
        HpackEncoder {
            inner: hpack::Encoder::new(max_table_size.unwrap_or(4096) as usize),
        }
    }

    /// Encodes one field block. Names should be lowercase (HTTP/2).
    pub fn encode(&mut self, headers: JsValue) -> Result<Vec<u8>, JsValue> {
        let fields = pairs(&headers)?;
        let mut out = Vec::new();
        self.inner.encode(
            fields.iter().map(|(n, v)| HeaderField {
                name: n,
                value: v,
                never_index: false,
            }),
            &mut out,
        );
        Ok(out)
    }

    /// Changes the table size (a size update starts the next block).
    #[wasm_bindgen(js_name = setMaxTableSize)]
    pub fn set_max_table_size(&mut self, size: u32) {
        self.inner.set_max_table_size(size as usize);
    }
}

/// RFC 7541 decoder: `decode(block)` -> `[[name, value], ...]`.
#[wasm_bindgen]
pub struct HpackDecoder {
    inner: hpack::Decoder,
}

#[wasm_bindgen]
impl HpackDecoder {
    /// A decoder accepting a dynamic table of up to `maxTableSize` bytes (default 4096).
    #[wasm_bindgen(constructor)]
    pub fn new(max_table_size: Option<u32>) -> HpackDecoder {
        HpackDecoder {
            inner: hpack::Decoder::new(max_table_size.unwrap_or(4096) as usize),
        }
    }

    /// Decodes one complete field block; throws `ERR_H2O_COMPRESSION`.
    pub fn decode(&mut self, block: &[u8]) -> Result<Array, JsValue> {
        // Decoded fields are usually no more than ~3x the block (indexing, Huffman).
        let mut st = Strs::with_capacity(block.len() * 3 + 64, 32);
        self.inner
            .decode(block, |f| {
                st.push(f.name);
                st.push(f.value);
            })
            .map_err(|e| js_error("ERR_H2O_COMPRESSION", &format!("HPACK: {e}"), &[]))?;
        Ok(split_pairs(&st).unchecked_into())
    }

    /// Decodes one block and returns only the number of fields (the table is
    /// updated as by `decode`; for benchmarks of the decoder itself).
    #[wasm_bindgen(js_name = decodeCount)]
    pub fn decode_count(&mut self, block: &[u8]) -> Result<u32, JsValue> {
        let mut n = 0u32;
        self.inner
            .decode(block, |_| n += 1)
            .map_err(|e| js_error("ERR_H2O_COMPRESSION", &format!("HPACK: {e}"), &[]))?;
        Ok(n)
    }

    /// Changes the accepted table size (SETTINGS_HEADER_TABLE_SIZE).
    #[wasm_bindgen(js_name = setMaxTableSize)]
    pub fn set_max_table_size(&mut self, size: u32) {
        self.inner.set_max_table_size(size as usize);
    }
}

// ---------------------------------------------------------------------------
// WebSocket

/// `n` bytes from `globalThis.crypto.getRandomValues` (Node >= 19, browsers).
fn random_bytes(n: u32) -> Result<Vec<u8>, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
    let f: js_sys::Function = Reflect::get(&crypto, &"getRandomValues".into())?
        .dyn_into()
        .map_err(|_| {
            js_error(
                "ERR_H2O_NO_RANDOM",
                "globalThis.crypto.getRandomValues missing",
                &[],
            )
        })?;
    let buf = Uint8Array::new_with_length(n);
    f.call1(&crypto, &buf)?;
    Ok(buf.to_vec())
}

fn ws_send(r: Result<(), ws::SendError>) -> Result<(), JsValue> {
    r.map_err(|e| {
        let code = match e {
            ws::SendError::Closed => "ERR_H2O_WS_CLOSED",
            _ => "ERR_H2O_INVALID_ARG",
        };
        js_error(code, &format!("WebSocket: {e}"), &[])
    })
}

/// An RFC 6455 WebSocket after the opening handshake: `receive` bytes,
/// `pollEvent`, `sendText`/`sendBinary`/`ping`/`close`, `takeOutput`.
/// Static helpers build and check the HTTP/1.1 and RFC 8441 handshakes.
#[wasm_bindgen]
pub struct WebSocketCodec {
    inner: ws::WebSocket,
    out: Vec<u8>,
}

#[wasm_bindgen]
impl WebSocketCodec {
    /// `role`: `"client"` (masks its frames with keys from a generator seeded
    /// by `crypto.getRandomValues`) or `"server"`. `options`:
    /// `maxFrameSize`, `maxMessageSize` (bytes), `autoPong` (default true).
    #[wasm_bindgen(constructor)]
    pub fn new(role: &str, options: JsValue) -> Result<WebSocketCodec, JsValue> {
        let mut c = ws::Config::default();
        if let Some(v) = opt_u32(&options, "maxFrameSize")? {
            c.max_frame_size = v as usize;
        }
        if let Some(v) = opt_u32(&options, "maxMessageSize")? {
            c.max_message_size = v as usize;
        }
        if let Some(v) = opt_bool(&options, "autoPong")? {
            c.auto_pong = v;
        }
        let role = match role {
            "client" => {
                let seed = random_bytes(8)?;
                c.mask_seed = u64::from_ne_bytes(seed.try_into().unwrap_or([1; 8]));
                ws::Role::Client
            }
            "server" => ws::Role::Server,
            _ => return Err(invalid_arg("role must be \"client\" or \"server\"")),
        };
        Ok(WebSocketCodec {
            inner: ws::WebSocket::new(role, c),
            out: Vec::new(),
        })
    }

    /// Feeds received bytes. Throws `ERR_H2O_WS_PROTOCOL` (with `closeCode`
    /// 1002/1007/1009) when the peer broke the protocol; the close frame is
    /// then waiting in `takeOutput()`.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        self.inner.recv(bytes).map(|_| ()).map_err(|e| {
            js_error(
                "ERR_H2O_WS_PROTOCOL",
                &e.to_string(),
                &[("closeCode", e.code().0.into())],
            )
        })
    }

    /// The next event or `undefined`: `message {data: string | Uint8Array,
    /// binary}`, `ping {data}`, `pong {data}`, `close {code, reason}`.
    #[wasm_bindgen(js_name = pollEvent)]
    pub fn poll_event(&mut self) -> JsValue {
        match self.inner.poll_event() {
            None => JsValue::UNDEFINED,
            Some(ws::Event::Message(ws::Message::Text(t))) => obj(&[
                ("type", "message".into()),
                ("data", t.as_str().into()),
                ("binary", false.into()),
            ]),
            Some(ws::Event::Message(ws::Message::Binary(b))) => obj(&[
                ("type", "message".into()),
                ("data", bytes_js(&b)),
                ("binary", true.into()),
            ]),
            Some(ws::Event::Ping(d)) => obj(&[("type", "ping".into()), ("data", bytes_js(&d))]),
            Some(ws::Event::Pong(d)) => obj(&[("type", "pong".into()), ("data", bytes_js(&d))]),
            Some(ws::Event::Close { code, reason }) => obj(&[
                ("type", "close".into()),
                ("code", code.0.into()),
                ("reason", reason.as_str().into()),
            ]),
        }
    }

    /// Queues a text message.
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(&mut self, text: &str) -> Result<(), JsValue> {
        ws_send(self.inner.send_text(text))
    }

    /// Queues a binary message.
    #[wasm_bindgen(js_name = sendBinary)]
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), JsValue> {
        ws_send(self.inner.send_binary(data))
    }

    /// Queues a ping (≤ 125 bytes).
    pub fn ping(&mut self, data: &[u8]) -> Result<(), JsValue> {
        ws_send(self.inner.send_ping(data))
    }

    /// Starts (or answers) the close handshake; `code` default 1000, 1005 =
    /// empty close payload.
    pub fn close(&mut self, code: Option<u16>, reason: Option<String>) -> Result<(), JsValue> {
        ws_send(self.inner.close(
            CloseCode(code.unwrap_or(1000)),
            reason.as_deref().unwrap_or(""),
        ))
    }

    /// Frames to send (empty when none).
    #[wasm_bindgen(js_name = takeOutput)]
    pub fn take_output(&mut self) -> Vec<u8> {
        self.out.clear();
        self.inner.write_to(&mut self.out);
        core::mem::take(&mut self.out)
    }

    /// True when both close frames were exchanged or the connection failed.
    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// True once we queued a close frame.
    #[wasm_bindgen(getter, js_name = closeSent)]
    pub fn close_sent(&self) -> bool {
        self.inner.close_sent()
    }

    /// True once the peer's close frame arrived.
    #[wasm_bindgen(getter, js_name = closeReceived)]
    pub fn close_received(&self) -> bool {
        self.inner.close_received()
    }

    /// HTTP/1.1 Upgrade request for `url` (`ws://host[:port]/path` or
    /// `http://…`): `{ request: Uint8Array, key }`; pass `key` to
    /// `parseHandshakeResponse`.
    #[wasm_bindgen(js_name = clientHandshake)]
    pub fn client_handshake(url: &str) -> Result<JsValue, JsValue> {
        let bad = |why: String| {
            js_error(
                "ERR_H2O_INVALID_URL",
                &format!("invalid URL {url:?}: {why}"),
                &[],
            )
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
        let authority = uri
            .authority()
            .ok_or_else(|| bad("no host".into()))?
            .to_string();
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let nonce: [u8; 16] = random_bytes(16)?.try_into().unwrap_or([7; 16]);
        let key = handshake::generate_key(nonce);
        let req = handshake::client_request(&format!("http://{authority}{path}"), &key)
            .map_err(|e| bad(e.to_string()))?;
        let mut head = format!("GET {path} HTTP/1.1\r\n").into_bytes();
        for (k, v) in req.headers() {
            head.extend_from_slice(k.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        Ok(obj(&[("request", bytes_js(&head)), ("key", key.into())]))
    }

    /// Parses and checks the server's HTTP/1.1 handshake response at the
    /// start of `bytes`: returns the length of the response head (bytes after
    /// it are WebSocket frames) or 0 if the head is incomplete. Throws
    /// `ERR_H2O_WS_HANDSHAKE` (with `status`) if the upgrade was refused.
    #[wasm_bindgen(js_name = parseHandshakeResponse)]
    pub fn parse_handshake_response(bytes: &[u8], key: &str) -> Result<u32, JsValue> {
        let fail = |msg: String, status: u16| {
            js_error("ERR_H2O_WS_HANDSHAKE", &msg, &[("status", status.into())])
        };
        let mut hdrs = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut hdrs);
        match r.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => {
                let status = r.code.unwrap_or(0);
                let mut b = http::Response::builder().status(status);
                for h in r.headers.iter() {
                    b = b.header(h.name, h.value);
                }
                let resp = b
                    .body(())
                    .map_err(|e| fail(format!("bad handshake response: {e}"), status))?;
                handshake::verify_response(&resp, key).map_err(|e| {
                    fail(
                        format!("WebSocket handshake failed: {e} (status {status})"),
                        status,
                    )
                })?;
                Ok(n as u32)
            }
            Ok(httparse::Status::Partial) if bytes.len() < 64 << 10 => Ok(0),
            Ok(httparse::Status::Partial) => {
                Err(fail("handshake response head too large".into(), 0))
            }
            Err(e) => Err(fail(format!("bad handshake response: {e}"), 0)),
        }
    }

    /// RFC 8441: throws `ERR_H2O_WS_HANDSHAKE` unless `status` accepts an
    /// extended CONNECT.
    #[wasm_bindgen(js_name = verifyH2Response)]
    pub fn verify_h2_response(status: u16) -> Result<(), JsValue> {
        let mut resp = http::Response::new(());
        *resp.status_mut() =
            http::StatusCode::from_u16(status).map_err(|_| invalid_arg("invalid status"))?;
        handshake::verify_h2_response(&resp).map_err(|e| {
            js_error(
                "ERR_H2O_WS_HANDSHAKE",
                &format!("WebSocket over HTTP/2 refused: {e} (status {status})"),
                &[("status", status.into())],
            )
        })
    }
}

/// Masks or unmasks `bytes` in place with the 4-byte `key` (RFC 6455 §5.3);
/// `offset` is the position of `bytes[0]` in the frame payload (default 0).
/// Uses the core's simd128 path when built with `+simd128`.
#[wasm_bindgen]
pub fn mask(bytes: &mut [u8], key: &[u8], offset: Option<u32>) -> Result<(), JsValue> {
    let key: [u8; 4] = key
        .try_into()
        .map_err(|_| invalid_arg("mask key must be 4 bytes"))?;
    ws::apply_mask(bytes, key, offset.unwrap_or(0) as usize);
    Ok(())
}

/// True when this build's masking uses wasm `simd128`.
#[wasm_bindgen(js_name = maskUsesSimd128)]
pub fn mask_uses_simd128() -> bool {
    // `ws::apply_mask` takes its simd128 kernel exactly when the build enables it.
    cfg!(all(target_arch = "wasm32", target_feature = "simd128"))
}
