//! Deterministic in-memory client↔server pair: two [`Connection`]s joined by
//! buffers, driven step by step. Used by unit tests, fuzzers and benchmarks.
//!
//! Model: [`Pair::step`] fires the timers that are due at [`Pair::now`]
//! (`poll_timeout` → `handle_timeout`), then moves one hop each way —
//! everything the client's [`Connection::write_to`] yields (up to
//! [`Pair::write_limit`] bytes) is fed to the server's [`Connection::recv`],
//! then the same from server to client — and then drains both connections'
//! events into [`Pair::client_events`] / [`Pair::server_events`] (taking events
//! is what releases flow-control credit, so set [`Pair::auto_poll`] to `false`
//! to let windows fill up). Errors returned by `recv` are recorded in
//! [`Pair::client_errors`] / [`Pair::server_errors`] (e.g. `server_errors`
//! holds what the *server* detected). Raw bytes (e.g. frames built with
//! `Frame::encode`) can be injected into either side with
//! [`Pair::inject_to_server`] / [`Pair::inject_to_client`].
//!
//! Time is simulated, like quinn-proto's test pair: [`Pair::drive`] steps until
//! nothing moves, then jumps [`Pair::now`] to the earliest timer of either side
//! and goes on, so timeouts fire deterministically in memory (bounded by a step
//! count and by [`Pair::time_limit`]). [`Pair::advance`] moves time by hand.
//!
//! Timed model: [`Pair::run_link`] drives the pair over a simulated [`Link`]
//! (per direction: a paced bottleneck of `rate` bytes/s with an unbounded
//! queue, then `latency` of propagation), as a discrete-event simulation that
//! advances [`Pair::now`] to each delivery or timer, whichever comes first.

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
            if conn.write_to(now, &mut buf, link.chunk.max(1)) == 0 {
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
    /// [`Pair::drive`] does not jump to timers later than this (default one
    /// hour of simulated time), so a timer that re-arms forever cannot spin.
    pub time_limit: Duration,
    buf: Vec<u8>,
    /// Bytes in flight on the simulated link (client→server, server→client),
    /// kept across [`Pair::run_link`] calls.
    pipes: [Pipe; 2],
}

impl Pair {
    /// A connected pair; the clocks of both start at zero.
    pub fn new(client_cfg: Config, server_cfg: Config) -> Self {
        Pair {
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
            time_limit: Duration::from_secs(3600),
            buf: Vec::with_capacity(1 << 16),
            pipes: Default::default(),
        }
    }

    /// A pair with default configs, driven through the SETTINGS exchange, events cleared.
    pub fn connected() -> Self {
        let mut p = Self::new(Config::default(), Config::default());
        p.drive();
        p.client_events.clear();
        p.server_events.clear();
        p
    }

    /// Fires due timers, moves one hop of output each way and takes events.
    /// Returns whether any byte moved or either side has output pending.
    pub fn step(&mut self) -> bool {
        self.fire_timers();
        let now = self.now;
        let mut moved = false;
        self.buf.clear();
        if self.client.write_to(now, &mut self.buf, self.write_limit) > 0 {
            moved = true;
            self.bytes_to_server += self.buf.len() as u64;
            if let Err(e) = self.server.recv(now, &self.buf) {
                self.server_errors.push(e);
            }
        }
        self.buf.clear();
        if self.server.write_to(now, &mut self.buf, self.write_limit) > 0 {
            moved = true;
            self.bytes_to_client += self.buf.len() as u64;
            if let Err(e) = self.client.recv(now, &self.buf) {
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

    /// Calls `handle_timeout` on each side whose timer is due at [`Pair::now`].
    fn fire_timers(&mut self) {
        let now = self.now;
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.handle_timeout(now);
        }
    }

    /// The earliest timer of either side.
    pub fn next_timeout(&self) -> Option<Duration> {
        match (self.client.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Steps until nothing moves; then, if a timer is pending no later than
    /// [`Pair::time_limit`], sets [`Pair::now`] to it (never backwards) and
    /// steps on. At most 100 000 steps. Returns the step count.
    pub fn drive(&mut self) -> usize {
        for i in 0..100_000 {
            if !self.step() {
                match self.next_timeout() {
                    Some(t) if t <= self.time_limit => self.now = self.now.max(t),
                    _ => return i,
                }
            }
        }
        100_000
    }

    /// Steps until nothing moves, without advancing time (timers already due
    /// still fire). At most 100 000 steps. Returns the step count.
    pub fn drive_now(&mut self) -> usize {
        for i in 0..100_000 {
            if !self.step() {
                return i;
            }
        }
        100_000
    }

    /// Feeds raw bytes to the server as if the client sent them; records the error.
    pub fn inject_to_server(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let r = self.server.recv(self.now, bytes);
        if let Err(e) = r {
            self.server_errors.push(e);
        }
        r
    }

    /// Feeds raw bytes to the client as if the server sent them; records the error.
    pub fn inject_to_client(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let r = self.client.recv(self.now, bytes);
        if let Err(e) = r {
            self.client_errors.push(e);
        }
        r
    }

    /// Drives the pair over `link` until `done(self)` is true, nothing is in
    /// flight, pending or timed, or [`Pair::now`] would pass `deadline`. Time
    /// jumps to the next delivery or timer, whichever is earlier. Events are
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
            let next = [
                up.queue.front().map(|c| c.0),
                down.queue.front().map(|c| c.0),
                self.next_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else {
                return false;
            };
            if next > deadline {
                return false;
            }
            self.now = self.now.max(next);
            self.fire_timers();
            let now = self.now;
            while up.queue.front().is_some_and(|c| c.0 <= now) {
                let (_, bytes) = up.queue.pop_front().expect("front exists");
                if let Err(e) = self.server.recv(now, &bytes) {
                    self.server_errors.push(e);
                }
            }
            while down.queue.front().is_some_and(|c| c.0 <= now) {
                let (_, bytes) = down.queue.pop_front().expect("front exists");
                if let Err(e) = self.client.recv(now, &bytes) {
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
