//! WebSockets over HTTP/2 streams (RFC 8441): sans-IO glue between one
//! [`WebSocket`] and one stream of a [`Connection`].
//!
//! RFC 8441 §4-§5: the client opens a stream with an extended CONNECT
//! (`:protocol websocket`), the server answers 2xx, and from then on the
//! stream's DATA carries WebSocket frames both ways (§5: frames keep their RFC
//! 6455 masking rules). RFC 8441 §6: an orderly WebSocket close ends the stream
//! with END_STREAM (here: once both close frames were exchanged, or the
//! WebSocket failed; its close frame goes out first).
//!
//! [`WsStream`] does no I/O: the adapter feeds it the stream's
//! [`crate::conn::Event::Data`] with [`WsStream::on_data`], takes
//! WebSocket events with [`WsStream::poll_event`], queues messages on
//! [`WsStream::websocket`] and calls [`WsStream::flush`] to hand the produced
//! frames to [`Connection::send_data`]. Native, JS and WASI adapters share it.

use bytes::Bytes;

use super::handshake::{self, ClientRequest, HandshakeError};
use super::{Config, Event, Role, WebSocket};
use crate::conn::{Connection, UserError};
use crate::frame::StreamId;

/// One WebSocket carried by one HTTP/2 stream.
#[derive(Debug)]
pub struct WsStream {
    ws: WebSocket,
    stream_id: StreamId,
    end_sent: bool,
    end_received: bool,
    /// Client: the 2xx response to the CONNECT arrived.
    established: bool,
}

impl WsStream {
    /// Wraps an already established WebSocket on `stream_id`.
    pub fn new(stream_id: StreamId, ws: WebSocket) -> WsStream {
        WsStream {
            ws,
            stream_id,
            end_sent: false,
            end_received: false,
            established: true,
        }
    }

    /// Server: checks an extended CONNECT request (`verify_h2_request`) and, if
    /// valid, queues the `200` response (RFC 8441 §5) and returns the stream.
    /// On error nothing is queued: the caller answers (e.g. 400) itself.
    pub fn accept<B>(
        conn: &mut Connection,
        stream_id: StreamId,
        request: &http::Request<B>,
        config: Config,
    ) -> Result<(WsStream, ClientRequest), HandshakeError> {
        let req = handshake::verify_h2_request(request)?;
        conn.send_response(stream_id, handshake::h2_response(None), false)
            .map_err(|_| HandshakeError::Status)?;
        let ws = WebSocket::new(Role::Server, config);
        Ok((WsStream::new(stream_id, ws), req))
    }

    /// Client: opens a stream with an extended CONNECT for `uri` (absolute:
    /// `http://host:port/path` gives `:scheme http`). The peer must have sent
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 already. Messages may be queued at
    /// once; they are sent after the response arrives ([`WsStream::on_response`]).
    pub fn connect(conn: &mut Connection, uri: &str, ws: WebSocket) -> Result<WsStream, UserError> {
        let req = handshake::h2_connect_request(uri)
            .map_err(|_| UserError::InvalidHeaders("invalid websocket URI"))?;
        let stream_id = conn.send_request(req, false)?;
        let mut s = WsStream::new(stream_id, ws);
        s.established = false;
        Ok(s)
    }

    /// Client: the response to our CONNECT (any 2xx accepts, RFC 8441 §5).
    /// On error the caller should reset the stream.
    pub fn on_response<B>(&mut self, response: &http::Response<B>) -> Result<(), HandshakeError> {
        handshake::verify_h2_response(response)?;
        self.established = true;
        Ok(())
    }

    /// True once the WebSocket is open: server side, or a client whose CONNECT
    /// got its 2xx.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// The stream carrying the WebSocket.
    pub fn stream_id(&self) -> StreamId {
        self.stream_id
    }

    /// The WebSocket (to send messages, ping, close).
    pub fn websocket(&mut self) -> &mut WebSocket {
        &mut self.ws
    }

    /// The stream's DATA (and END_STREAM flag) arrived: feeds the WebSocket
    /// and flushes what is due (automatic pongs and close replies wait until
    /// the events before them were taken: [`super::conn`] module doc). A protocol
    /// violation queues the close frame and returns the error (the stream then
    /// ends after it: RFC 6455 §7.1.7 "fail the connection").
    pub fn on_data(
        &mut self,
        conn: &mut Connection,
        data: &[u8],
        end_stream: bool,
    ) -> Result<(), super::Error> {
        let r = if data.is_empty() {
            Ok(())
        } else {
            self.ws.recv(data).map(drop)
        };
        if end_stream {
            self.end_received = true;
        }
        let _ = self.flush(conn);
        r
    }

    /// Next WebSocket event (messages, pings, pongs, close).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.ws.poll_event()
    }

    /// Moves the frames the WebSocket produced into the stream as DATA, and
    /// ends the stream (END_STREAM) once the WebSocket is closed — or once the
    /// peer ended its side without a close handshake (abnormal closure).
    pub fn flush(&mut self, conn: &mut Connection) -> Result<(), UserError> {
        if self.end_sent || !self.established {
            return Ok(());
        }
        // The pieces go in as they are (an echoed payload is queued by
        // reference, [`WebSocket::send`]); DATA frames are cut across them,
        // so the frame header and its payload still share one DATA frame.
        // The last piece is held back to carry END_STREAM.
        let mut last: Option<Bytes> = None;
        while let Some(b) = self.ws.next_write() {
            if let Some(prev) = last.replace(b) {
                conn.send_data(self.stream_id, prev, false)?;
            }
        }
        let end = self.ws.is_closed() || self.end_received;
        let Some(data) = last.or_else(|| end.then(Bytes::new)) else {
            return Ok(());
        };
        self.end_sent = end;
        conn.send_data(self.stream_id, data, end)
    }

    /// True once END_STREAM was queued (the WebSocket is over on our side).
    pub fn is_finished(&self) -> bool {
        self.end_sent
    }

    /// True once the peer ended the stream (END_STREAM received).
    pub fn peer_finished(&self) -> bool {
        self.end_received
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Event as H2Event;
    use crate::pair::Pair;
    use crate::ws::{CloseCode, Message};

    fn pair() -> Pair {
        let server = crate::conn::Config {
            enable_connect_protocol: true,
            ..Default::default()
        };
        let mut p = Pair::new(crate::conn::Config::default(), server);
        p.drive();
        p
    }

    #[test]
    fn echo_and_close_over_a_stream() {
        let mut p = pair();
        let cws = WebSocket::new(Role::Client, Config::default());
        let mut c = WsStream::connect(&mut p.client, "http://x/echo", cws).unwrap();
        c.websocket().send_text("hi").unwrap();
        p.drive();
        let mut s = None;
        for ev in p.server_events.drain(..) {
            if let H2Event::Request {
                stream_id, request, ..
            } = ev
            {
                assert_eq!(request.uri().path(), "/echo");
                s = Some(
                    WsStream::accept(&mut p.server, stream_id, &request, Config::default())
                        .unwrap()
                        .0,
                );
            }
        }
        let mut s = s.expect("CONNECT arrived");
        p.drive();
        for ev in p.client_events.drain(..) {
            if let H2Event::Response { response, .. } = ev {
                c.on_response(&response).unwrap();
            }
        }
        c.flush(&mut p.client).unwrap();
        p.drive();
        let mut got = Vec::new();
        for ev in p.server_events.drain(..) {
            if let H2Event::Data {
                data, end_stream, ..
            } = ev
            {
                s.on_data(&mut p.server, &data, end_stream).unwrap();
            }
        }
        while let Some(ev) = s.poll_event() {
            got.push(ev);
        }
        assert_eq!(got, [Event::Message(Message::Text("hi".into()))]);
        // Close from the client: the server replies and both ends finish.
        c.websocket().close(CloseCode::NORMAL, "").unwrap();
        c.flush(&mut p.client).unwrap();
        p.drive();
        for ev in p.server_events.drain(..) {
            if let H2Event::Data {
                data, end_stream, ..
            } = ev
            {
                s.on_data(&mut p.server, &data, end_stream).unwrap();
            }
        }
        // The close reply goes out once the Close event was taken.
        assert!(!s.is_finished());
        while s.poll_event().is_some() {}
        s.flush(&mut p.server).unwrap();
        assert!(
            s.is_finished(),
            "server ended the stream after the close reply"
        );
        p.drive();
        for ev in p.client_events.drain(..) {
            if let H2Event::Data {
                data, end_stream, ..
            } = ev
            {
                c.on_data(&mut p.client, &data, end_stream).unwrap();
            }
        }
        assert!(c.websocket().is_closed());
        assert!(c.is_finished() && c.peer_finished());
        p.drive();
        assert!(p
            .server_events
            .iter()
            .any(|e| matches!(e, H2Event::Closed { .. })));
    }

    /// A client stream connected to `uri` and the server's accepted one.
    fn connected(uri: &str) -> (Pair, WsStream, WsStream) {
        let mut p = pair();
        let cws = WebSocket::new(Role::Client, Config::default());
        let c = WsStream::connect(&mut p.client, uri, cws).unwrap();
        p.drive();
        let req = p
            .server_events
            .drain(..)
            .find_map(|e| match e {
                H2Event::Request { request, .. } => Some(request),
                _ => None,
            })
            .unwrap();
        let (s, _) =
            WsStream::accept(&mut p.server, c.stream_id(), &req, Config::default()).unwrap();
        (p, c, s)
    }

    #[test]
    fn protocol_error_closes_and_ends_stream() {
        let (mut p, _c, mut s) = connected("http://x/");
        // An unmasked text frame from the "client" is a protocol error.
        let err = s.on_data(&mut p.server, b"\x81\x02hi", false).unwrap_err();
        assert_eq!(err.code(), CloseCode::PROTOCOL_ERROR);
        assert!(s.is_finished());
    }

    #[test]
    fn large_echo_by_reference_in_data_frames() {
        let (mut p, mut c, mut s) = connected("http://x/echo");
        p.drive();
        for ev in p.client_events.drain(..) {
            if let H2Event::Response { response, .. } = ev {
                c.on_response(&response).unwrap();
            }
        }
        let payload: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        c.websocket().send_binary(&payload).unwrap();
        c.flush(&mut p.client).unwrap();
        let mut echoed = Vec::new();
        for _ in 0..20 {
            p.drive();
            for ev in p.server_events.drain(..) {
                if let H2Event::Data { data, .. } = ev {
                    s.on_data(&mut p.server, &data, false).unwrap();
                }
            }
            while let Some(ev) = s.poll_event() {
                if let Event::Message(m) = ev {
                    s.websocket().send(m).unwrap(); // by reference
                }
            }
            s.flush(&mut p.server).unwrap();
            p.drive();
            for ev in p.client_events.drain(..) {
                if let H2Event::Data { data, .. } = ev {
                    c.on_data(&mut p.client, &data, false).unwrap();
                }
            }
            while let Some(ev) = c.poll_event() {
                echoed.push(ev);
            }
            if !echoed.is_empty() {
                break;
            }
        }
        assert_eq!(
            echoed,
            [Event::Message(Message::Binary(Bytes::from(payload)))]
        );
    }
}
