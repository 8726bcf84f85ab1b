//! Opening-handshake helpers (pure functions, no I/O): HTTP/1.1 Upgrade
//! (RFC 6455 §4.1-§4.2) and HTTP/2 extended CONNECT (RFC 8441 §4-§5).
//!
//! Adapters parse/serialize HTTP themselves and use these to compute
//! `Sec-WebSocket-Accept`, check a client's request or a server's response, and
//! build the request/response heads.

use base64::Engine as _;
use core::fmt;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use crate::conn::Protocol;

/// The GUID appended to the client key (RFC 6455 §1.3).
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why a handshake was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Request method is not GET (HTTP/1.1) or not CONNECT (HTTP/2).
    Method,
    /// Missing or wrong `Upgrade: websocket`.
    Upgrade,
    /// `Connection` does not contain the `upgrade` token.
    Connection,
    /// `Sec-WebSocket-Version` missing or not 13.
    Version,
    /// `Sec-WebSocket-Key` missing or not 16 bytes of base64.
    Key,
    /// HTTP/2: `:protocol` missing or not `websocket`.
    Protocol,
    /// Response status is not 101 (HTTP/1.1) or 2xx (HTTP/2).
    Status,
    /// `Sec-WebSocket-Accept` missing or wrong.
    Accept,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            HandshakeError::Method => "bad method",
            HandshakeError::Upgrade => "missing Upgrade: websocket",
            HandshakeError::Connection => "Connection header lacks upgrade",
            HandshakeError::Version => "Sec-WebSocket-Version is not 13",
            HandshakeError::Key => "bad Sec-WebSocket-Key",
            HandshakeError::Protocol => ":protocol is not websocket",
            HandshakeError::Status => "unexpected status",
            HandshakeError::Accept => "bad Sec-WebSocket-Accept",
        };
        f.write_str(s)
    }
}

impl std::error::Error for HandshakeError {}

/// `Sec-WebSocket-Accept` for a client key: base64(SHA-1(key + GUID)).
pub fn accept_key(client_key: &str) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(client_key.trim().as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.digest().bytes())
}

/// A client `Sec-WebSocket-Key` from 16 caller-supplied random bytes.
pub fn generate_key(nonce: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

fn key_is_valid(key: &str) -> bool {
    let key = key.trim();
    key.len() == 24
        && matches!(
            base64::engine::general_purpose::STANDARD.decode(key),
            Ok(v) if v.len() == 16
        )
}

fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// What a valid client upgrade request asked for.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientRequest {
    /// `Sec-WebSocket-Key` (HTTP/1.1 only; empty for RFC 8441).
    pub key: String,
    /// Offered subprotocols (`Sec-WebSocket-Protocol`), in order.
    pub protocols: Vec<String>,
    /// Raw `Sec-WebSocket-Extensions` offers (none are supported by the core).
    pub extensions: Vec<String>,
}

/// Checks an HTTP/1.1 upgrade request given as `(name, value)` header pairs
/// (names compared case-insensitively; the method must be GET).
pub fn verify_request_headers<'a>(
    method: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ClientRequest, HandshakeError> {
    if !method.eq_ignore_ascii_case("GET") {
        return Err(HandshakeError::Method);
    }
    let (mut upgrade, mut connection, mut version) = (false, false, false);
    let mut key = None;
    let mut req = ClientRequest::default();
    for (name, value) in headers {
        let v = value.trim();
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(v, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(v, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            version = v == "13";
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            if key.is_some() {
                return Err(HandshakeError::Key);
            }
            key = Some(v.to_string());
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            req.protocols.extend(
                v.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty()),
            );
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            req.extensions.push(v.to_string());
        }
    }
    if !upgrade {
        return Err(HandshakeError::Upgrade);
    }
    if !connection {
        return Err(HandshakeError::Connection);
    }
    if !version {
        return Err(HandshakeError::Version);
    }
    match key {
        Some(k) if key_is_valid(&k) => req.key = k,
        _ => return Err(HandshakeError::Key),
    }
    Ok(req)
}

fn header_pairs(h: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    h.iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
}

/// Checks an HTTP/1.1 upgrade request (`http::Request`).
pub fn verify_request<B>(req: &Request<B>) -> Result<ClientRequest, HandshakeError> {
    verify_request_headers(req.method().as_str(), header_pairs(req.headers()))
}

/// The `101 Switching Protocols` response for a verified request.
/// `protocol` is the selected subprotocol, if any.
pub fn response_101(client_key: &str, protocol: Option<&str>) -> Response<()> {
    let mut r = Response::new(());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept_key(client_key)) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = protocol.and_then(|p| HeaderValue::from_str(p).ok()) {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    r
}

/// The same 101 response serialized as HTTP/1.1 bytes, appended to `out`.
pub fn write_response_101(out: &mut Vec<u8>, client_key: &str, protocol: Option<&str>) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept_key(client_key).as_bytes());
    if let Some(p) = protocol {
        out.extend_from_slice(b"\r\nSec-WebSocket-Protocol: ");
        out.extend_from_slice(p.as_bytes());
    }
    out.extend_from_slice(b"\r\n\r\n");
}

/// An HTTP/1.1 client upgrade request for `uri` (must include the authority,
/// used for `Host`) with the given key (see [`generate_key`]).
pub fn client_request(uri: &str, key: &str) -> Result<Request<()>, http::Error> {
    let uri: http::Uri = uri.parse()?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::HOST, host)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, key)
        .body(())
}

/// Checks a server's HTTP/1.1 handshake response against the key we sent.
pub fn verify_response<B>(resp: &Response<B>, key: &str) -> Result<(), HandshakeError> {
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(HandshakeError::Status);
    }
    let h = resp.headers();
    let get = |n: header::HeaderName| h.get_all(n).iter().filter_map(|v| v.to_str().ok());
    if !get(header::UPGRADE).any(|v| has_token(v, "websocket")) {
        return Err(HandshakeError::Upgrade);
    }
    if !get(header::CONNECTION).any(|v| has_token(v, "upgrade")) {
        return Err(HandshakeError::Connection);
    }
    match h
        .get(header::SEC_WEBSOCKET_ACCEPT)
        .and_then(|v| v.to_str().ok())
    {
        Some(a) if a.trim() == accept_key(key) => Ok(()),
        _ => Err(HandshakeError::Accept),
    }
}

/// RFC 8441 §4: an extended CONNECT request for `uri` (scheme, authority and
/// path are carried as pseudo-headers by the HTTP/2 layer) with the
/// [`Protocol`] extension `websocket` and `sec-websocket-version: 13`. No key.
pub fn h2_connect_request(uri: &str) -> Result<Request<()>, http::Error> {
    let mut r = Request::builder()
        .method(Method::CONNECT)
        .uri(uri)
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .body(())?;
    r.extensions_mut().insert(Protocol("websocket".to_string()));
    Ok(r)
}

/// RFC 8441 §5: checks an extended CONNECT request (method CONNECT,
/// `:protocol` = websocket via the [`Protocol`] extension, version 13).
pub fn verify_h2_request<B>(req: &Request<B>) -> Result<ClientRequest, HandshakeError> {
    if req.method() != Method::CONNECT {
        return Err(HandshakeError::Method);
    }
    match req.extensions().get::<Protocol>() {
        Some(p) if p.0.eq_ignore_ascii_case("websocket") => {}
        _ => return Err(HandshakeError::Protocol),
    }
    let mut out = ClientRequest::default();
    let mut version = false;
    for (name, v) in header_pairs(req.headers()) {
        match name {
            "sec-websocket-version" => version = v.trim() == "13",
            "sec-websocket-protocol" => out.protocols.extend(
                v.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty()),
            ),
            "sec-websocket-extensions" => out.extensions.push(v.to_string()),
            _ => {}
        }
    }
    if !version {
        return Err(HandshakeError::Version);
    }
    Ok(out)
}

/// RFC 8441 §5: the `200` response accepting an extended CONNECT (no accept key).
pub fn h2_response(protocol: Option<&str>) -> Response<()> {
    let mut r = Response::new(());
    *r.status_mut() = StatusCode::OK;
    if let Some(p) = protocol.and_then(|p| HeaderValue::from_str(p).ok()) {
        r.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    r
}

/// RFC 8441: checks the server's response to an extended CONNECT (any 2xx).
pub fn verify_h2_response<B>(resp: &Response<B>) -> Result<(), HandshakeError> {
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(HandshakeError::Status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_accept_vector() {
        // RFC 6455 §1.3 (also base64(sha1(key + GUID)) computed independently).
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
