//! [`ResponseHandle`]: the caller's side of one request of the pooled
//! [`super::Client`]. It owns what is needed to send the request again: once
//! more after a GOAWAY reported it unprocessed (RFC 9113 §8.7), and up to three
//! times when a connection closed before writing it; and it reports the final
//! outcome to the origin's circuit breaker exactly once.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Client, ClientError, Cmd, Origin, Progress, Reply};

/// Times a request never written to a connection is resubmitted.
const MAX_RESUBMITS: u8 = 3;

/// A request in flight; [`ResponseHandle::wait`] blocks for its response.
///
/// Dropping it abandons the request (its stream still finishes on the connection).
pub struct ResponseHandle {
    client: Client,
    origin: Arc<Origin>,
    rx: Option<Receiver<Reply>>,
    head: http::Request<()>,
    body: Bytes,
    deadline: Instant,
    retried: bool,
    resubmits: u8,
    probe: bool,
    reported: bool,
    progress: Arc<Progress>,
}

impl fmt::Debug for ResponseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseHandle")
            .field("uri", self.head.uri())
            .finish()
    }
}

impl ResponseHandle {
    /// Routes a new request; on failure the breaker hears of it at once.
    pub(super) fn start(
        client: Client,
        origin: Arc<Origin>,
        head: http::Request<()>,
        body: Bytes,
        deadline: Instant,
        probe: bool,
    ) -> Result<ResponseHandle, ClientError> {
        let mut h = ResponseHandle {
            client,
            origin,
            rx: None,
            head,
            body,
            deadline,
            retried: false,
            resubmits: 0,
            probe,
            reported: false,
            progress: Arc::new(Progress::default()),
        };
        match h.dispatch() {
            Ok(()) => Ok(h),
            Err(e) => {
                h.report(false);
                Err(e)
            }
        }
    }

    /// Hands the request to a connection (again, on retry or resubmit).
    fn dispatch(&mut self) -> Result<(), ClientError> {
        let (tx, rx) = mpsc::channel();
        self.rx = Some(rx);
        self.progress.received.store(0, Ordering::Relaxed);
        *self
            .progress
            .length
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        let cmd = Cmd {
            head: self.head.clone(),
            body: self.body.clone(),
            reply: tx,
            deadline: self.deadline,
            progress: Arc::clone(&self.progress),
        };
        self.client.route(&self.origin, cmd)
    }

    fn report(&mut self, ok: bool) {
        if !self.reported {
            self.reported = true;
            self.client.breaker_record(&self.origin, self.probe, ok);
        }
    }

    /// Body bytes received so far and the response's `content-length`, if known.
    pub fn progress(&self) -> (u64, Option<u64>) {
        let len = *self
            .progress
            .length
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (self.progress.received.load(Ordering::Relaxed), len)
    }

    /// The request's URI.
    pub fn uri(&self) -> &http::Uri {
        self.head.uri()
    }

    /// Waits up to `timeout` for the response: `None` if it is not complete yet.
    pub fn poll(
        &mut self,
        timeout: Duration,
    ) -> Option<Result<http::Response<Bytes>, ClientError>> {
        let end = Instant::now() + timeout;
        loop {
            let Some(rx) = &self.rx else {
                return Some(Err(ClientError::ResponseTaken));
            };
            let now = Instant::now();
            // The driver enforces the deadline; the grace covers a stuck driver.
            let hard = self.deadline + Duration::from_secs(1);
            let until = end.min(hard);
            let reply = match rx.recv_timeout(until.saturating_duration_since(now)) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) if Instant::now() >= hard => {
                    Reply::Done(Err(ClientError::Timeout("request")))
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => Reply::Unsent,
            };
            let res = match reply {
                Reply::Done(r) => r,
                Reply::Retry(e) if !self.retried => {
                    self.retried = true;
                    match self.dispatch() {
                        Ok(()) => continue,
                        Err(_) => Err(e),
                    }
                }
                Reply::Retry(ClientError::GoAway { .. }) => Err(ClientError::Refused),
                Reply::Retry(e) => Err(e),
                Reply::Unsent if self.resubmits < MAX_RESUBMITS => {
                    self.resubmits += 1;
                    match self.dispatch() {
                        Ok(()) => continue,
                        Err(e) => Err(e),
                    }
                }
                Reply::Unsent => Err(ClientError::Closed(
                    "connection closed before the request could be sent",
                )),
            };
            self.rx = None;
            self.report(res.is_ok());
            return Some(res);
        }
    }

    /// Blocks until the whole response arrived (or the request failed).
    pub fn wait(mut self) -> Result<http::Response<Bytes>, ClientError> {
        loop {
            if let Some(r) = self.poll(Duration::from_secs(3600)) {
                return r;
            }
        }
    }
}

impl Drop for ResponseHandle {
    fn drop(&mut self) {
        // An abandoned half-open probe counts as failed so the breaker can
        // probe again after its interval.
        if !self.reported && self.probe {
            self.report(false);
        }
    }
}
