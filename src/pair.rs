//! Deterministic in-memory client↔server pair: two [`Connection`]s joined by
//! buffers, driven step by step. Used by unit tests, fuzzers and benchmarks.
//!
//! Model: [`Pair::step`] moves one hop each way — everything the client's
//! [`Connection::write_to`] yields (up to [`Pair::write_limit`] bytes) is fed to
//! the server's [`Connection::recv`], then the same from server to client — and
//! then drains both connections' events into [`Pair::client_events`] /
//! [`Pair::server_events`] (taking events is what releases flow-control credit,
//! so set [`Pair::auto_poll`] to `false` to let windows fill up). Errors
//! returned by `recv` are recorded in [`Pair::client_errors`] /
//! [`Pair::server_errors`] (e.g. `server_errors` holds what the *server*
//! detected). [`Pair::drive`] steps until nothing moves. Time is simulated:
//! [`Pair::advance`] adds to [`Pair::now`] and calls `handle_timeout` on both.
//! Raw bytes (e.g. frames built with `Frame::encode`) can be injected into either
//! side with [`Pair::inject_to_server`] / [`Pair::inject_to_client`].
//!
//! Timed model: [`Pair::run_link`] drives the pair over a simulated [`Link`]
//! (per direction: a paced bottleneck of `rate` bytes/s with an unbounded
//! queue, then `latency` of propagation), as a discrete-event simulation that
//! advances [`Pair::now`] to each delivery and calls `handle_timeout` before
//! every `recv`, like a real adapter.

use core::time::Duration;
use std::collections::VecDeque;

use crate::conn::{Config, Connection, Event};
use crate::error::Error;

/// A simulated network path for [`Pair::run_link`] (same in both directions).
#[derive(Clone, Copy, Debug)]
pub struct Link {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Bottleneck rate in bytes per second (the queue before it is unbounded).
    pub rate: u64,
    /// Largest chunk one `write_to` call produces (one "packet").
    pub chunk: usize,
}

impl Link {
    /// A path with `latency` one way and `rate` bytes/s, 16 KiB chunks.
    pub fn new(latency: Duration, rate: u64) -> Self {
        Link {
            latency,
            rate,
            chunk: 16 << 10,
        }
    }
}

/// One direction of a [`Link`] in flight.
#[derive(Debug, Default)]
struct Pipe {
    /// (delivery time, bytes), in delivery order.
    queue: VecDeque<(Duration, Vec<u8>)>,
    /// When the bottleneck is free again.
    free: Duration,
}

impl Pipe {
    /// Takes everything `conn` wants to write now, in `chunk`-sized pieces.
    fn fill(&mut self, conn: &mut Connection, link: &Link, now: Duration) -> u64 {
        let mut total = 0;
        loop {
            let mut buf = Vec::new();
            if conn.write_to(&mut buf, link.chunk.max(1)) == 0 {
                return total;
            }
            total += buf.len() as u64;
            let depart = self.free.max(now);
            let ns = (buf.len() as u128 * 1_000_000_000 / link.rate.max(1) as u128) as u64;
            self.free = depart + Duration::from_nanos(ns);
            self.queue.push_back((self.free + link.latency, buf));
        }
    }
}

/// A client and a server connected back to back.
#[derive(Debug)]
pub struct Pair {
    /// The client endpoint.
    pub client: Connection,
    /// The server endpoint.
    pub server: Connection,
    /// Simulated current time (starts at zero).
    pub now: Duration,
    /// Events taken from the client, in order.
    pub client_events: Vec<Event>,
    /// Events taken from the server, in order.
    pub server_events: Vec<Event>,
    /// Errors the client's `recv` returned.
    pub client_errors: Vec<Error>,
    /// Errors the server's `recv` returned.
    pub server_errors: Vec<Error>,
    /// Per-hop `write_to` limit (default 1 MiB).
    pub write_limit: usize,
    /// Take events after every step (default true).
    pub auto_poll: bool,
    /// Total bytes moved client→server.
    pub bytes_to_server: u64,
    /// Total bytes moved server→client.
    pub bytes_to_client: u64,
    buf: Vec<u8>,
    /// Bytes in flight on the simulated link (client→server, server→client),
    /// kept across [`Pair::run_link`] calls.
    pipes: [Pipe; 2],
}

impl Pair {
    /// A connected pair; the clocks of both start at zero.
    pub fn new(client_cfg: Config, server_cfg: Config) -> Self {
        let mut p = Pair {
            client: Connection::client(client_cfg),
            server: Connection::server(server_cfg),
            now: Duration::ZERO,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_errors: Vec::new(),
            server_errors: Vec::new(),
            write_limit: 1 << 20,
            auto_poll: true,
            bytes_to_server: 0,
            bytes_to_client: 0,
            buf: Vec::with_capacity(1 << 16),
            pipes: Default::default(),
        };
        p.client.handle_timeout(p.now);
        p.server.handle_timeout(p.now);
        p
    }

    /// A pair with default configs, driven through the SETTINGS exchange, events cleared.
    pub fn connected() -> Self {
        let mut p = Self::new(Config::default(), Config::default());
        p.drive();
        p.client_events.clear();
        p.server_events.clear();
        p
    }

    /// Moves one hop of output each way and takes events. Returns whether any
    /// byte moved or either side has output pending.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        self.buf.clear();
        if self.client.write_to(&mut self.buf, self.write_limit) > 0 {
            moved = true;
            self.bytes_to_server += self.buf.len() as u64;
            if let Err(e) = self.server.recv(&self.buf) {
                self.server_errors.push(e);
            }
        }
        self.buf.clear();
        if self.server.write_to(&mut self.buf, self.write_limit) > 0 {
            moved = true;
            self.bytes_to_client += self.buf.len() as u64;
            if let Err(e) = self.client.recv(&self.buf) {
                self.client_errors.push(e);
            }
        }
        if self.auto_poll {
            self.poll_events();
            // Taking events may have queued WINDOW_UPDATEs.
            moved |= self.client.wants_write() || self.server.wants_write();
        }
        moved
    }

    /// Takes all pending events of both sides into the event vectors.
    pub fn poll_events(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    /// Steps until nothing moves (at most 100 000 steps). Returns the step count.
    pub fn drive(&mut self) -> usize {
        for i in 0..100_000 {
            if !self.step() {
                return i;
            }
        }
        100_000
    }

    /// Feeds raw bytes to the server as if the client sent them; records the error.
    pub fn inject_to_server(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let r = self.server.recv(bytes);
        if let Err(e) = r {
            self.server_errors.push(e);
        }
        r
    }

    /// Feeds raw bytes to the client as if the server sent them; records the error.
    pub fn inject_to_client(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let r = self.client.recv(bytes);
        if let Err(e) = r {
            self.client_errors.push(e);
        }
        r
    }

    /// Drives the pair over `link` until `done(self)` is true, nothing is in
    /// flight or pending, or [`Pair::now`] would pass `deadline`. Events are
    /// taken after every delivery when [`Pair::auto_poll`] is set. Bytes still
    /// in flight stay on the link for the next call (plain [`Pair::step`]s do
    /// not see them). Returns whether `done` became true.
    pub fn run_link(
        &mut self,
        link: &Link,
        deadline: Duration,
        mut done: impl FnMut(&Pair) -> bool,
    ) -> bool {
        let [mut up, mut down] = core::mem::take(&mut self.pipes);
        let done = self.run_pipes(link, deadline, &mut done, &mut up, &mut down);
        self.pipes = [up, down];
        done
    }

    fn run_pipes(
        &mut self,
        link: &Link,
        deadline: Duration,
        done: &mut impl FnMut(&Pair) -> bool,
        up: &mut Pipe,
        down: &mut Pipe,
    ) -> bool {
        loop {
            if self.auto_poll {
                self.poll_events();
            }
            self.bytes_to_server += up.fill(&mut self.client, link, self.now);
            self.bytes_to_client += down.fill(&mut self.server, link, self.now);
            if done(self) {
                return true;
            }
            let next = match (up.queue.front(), down.queue.front()) {
                (Some(a), Some(b)) => a.0.min(b.0),
                (Some(a), None) => a.0,
                (None, Some(b)) => b.0,
                (None, None) => return false,
            };
            if next > deadline {
                return false;
            }
            if next > self.now {
                self.advance(next - self.now);
            }
            while up.queue.front().is_some_and(|c| c.0 <= self.now) {
                let (_, bytes) = up.queue.pop_front().expect("front exists");
                if let Err(e) = self.server.recv(&bytes) {
                    self.server_errors.push(e);
                }
            }
            while down.queue.front().is_some_and(|c| c.0 <= self.now) {
                let (_, bytes) = down.queue.pop_front().expect("front exists");
                if let Err(e) = self.client.recv(&bytes) {
                    self.client_errors.push(e);
                }
            }
        }
    }

    /// Advances simulated time by `d` and fires both sides' timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }
}
