//! Adaptive receive windows: bandwidth-delay product (BDP) estimation by PING
//! round trips (RFC 9113 §6.7 PING, §6.9 flow control, §6.5.2
//! SETTINGS_INITIAL_WINDOW_SIZE, §6.9.2 initial window changes).
//!
//! Owns the estimator only; the connection sends the probe PINGs, filters
//! their ACKs and applies the window growth (see `Connection::on_bdp_ack`).
//!
//! Algorithm (the approach of hyper's `proto/h2/ping.rs`, with a minimum-RTT
//! correction against queueing delay):
//!
//! 1. When DATA arrives, no probe is in flight and the back-off delay has
//!    passed, a PING with the payload [`BDP_PAYLOAD`] is sent and the
//!    flow-controlled DATA bytes received from then on are counted.
//! 2. On its ACK, `rtt = now − sent`. The bytes counted during that round trip
//!    are what the peer could deliver in one RTT. Scaled by `min_rtt / rtt`
//!    (so a path whose buffers fill up, inflating the RTT, does not look like
//!    more capacity), that is the BDP estimate. The RTT floor also takes the
//!    round trip of our first SETTINGS (sent at the first write, ACKed before
//!    any DATA can have queued up), so a first probe stuck behind a large
//!    initial window's queue does not set it.
//! 3. Credit comes back in batches of half a window (`flow.rs`), so a
//!    window carries about `2 × est` per round trip only when it is at least
//!    twice the estimate. hyper grows when the sample reaches 2/3 of the
//!    window; with that batching accounted for, we grow when
//!    `2 × est ≥ 2/3 × window` (`3 × est ≥ window`), to `4 × est` (twice what
//!    the estimate needs, so the ramp is fast), up to the configured cap.
//!    Otherwise the sample is "stable". Because `est` never exceeds
//!    rate × min RTT, windows settle at 2–4 × the path's BDP.
//! 4. Probing backs off: after a growth the next probe starts with the next
//!    DATA; each stable sample doubles the wait (min RTT · 2^n, at most
//!    [`MAX_PROBE_INTERVAL`]); DATA arriving after at least [`IDLE_RESET`] of
//!    silence (a new transfer) resets the back-off.
//!
//! Time comes from the `now` the adapter passes to `Connection::recv`; a zero
//! RTT (a clock that stands still) is discarded, so without a moving clock the
//! estimator never grows anything.

use core::time::Duration;

/// Payload of our BDP probe PINGs; ACKs carrying it are not reported to the
/// application as `Event::PingAck` while a probe is in flight.
pub const BDP_PAYLOAD: [u8; 8] = *b"h2o\0bdp\x01";

/// Longest wait between two probes on a stable connection.
pub const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(10);

/// DATA after this much silence resets the probe back-off.
pub const IDLE_RESET: Duration = Duration::from_secs(1);

/// Windows to apply after a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Growth {
    /// New SETTINGS_INITIAL_WINDOW_SIZE (unchanged when not grown).
    pub stream: u32,
    /// New connection receive window (unchanged when not grown).
    pub conn: u32,
}

/// The estimator state of one connection.
#[derive(Clone, Debug)]
pub(crate) struct Bdp {
    enabled: bool,
    stream_cap: u32,
    conn_cap: u32,
    /// Send time of the probe in flight.
    sent_at: Option<Duration>,
    /// Flow-controlled bytes received since the probe was sent.
    bytes: u64,
    /// No probe before this time.
    next_at: Duration,
    /// Smallest RTT seen.
    min_rtt: Option<Duration>,
    /// Consecutive samples without growth.
    stable: u32,
    /// Time of the last DATA.
    last_data: Option<Duration>,
    /// Samples taken (for tests and diagnostics).
    samples: u32,
}

impl Bdp {
    /// `stream_cap`/`conn_cap`: largest windows growth may reach.
    pub(crate) fn new(enabled: bool, stream_cap: u32, conn_cap: u32) -> Self {
        Bdp {
            enabled,
            stream_cap,
            conn_cap,
            sent_at: None,
            bytes: 0,
            next_at: Duration::ZERO,
            min_rtt: None,
            stable: 0,
            last_data: None,
            samples: 0,
        }
    }

    /// A probe is in flight.
    pub(crate) fn in_flight(&self) -> bool {
        self.sent_at.is_some()
    }

    /// Smallest RTT measured so far.
    pub(crate) fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// A round-trip time measured otherwise (our first SETTINGS and their
    /// ACK, before any DATA could queue up on the path): lowers the RTT floor.
    pub(crate) fn rtt_hint(&mut self, rtt: Duration) {
        if self.enabled && !rtt.is_zero() {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
    }

    /// Samples taken so far.
    pub(crate) fn samples(&self) -> u32 {
        self.samples
    }

    /// Accounts `n` flow-controlled DATA bytes received at `now`. Returns true
    /// when a probe PING must be sent now.
    pub(crate) fn on_data(&mut self, n: u32, now: Duration) -> bool {
        if !self.enabled {
            return false;
        }
        if let Some(last) = self.last_data {
            if now.saturating_sub(last) >= IDLE_RESET && self.sent_at.is_none() {
                self.stable = 0;
                self.next_at = now;
            }
        }
        self.last_data = Some(now);
        if self.sent_at.is_some() {
            self.bytes += n as u64;
            return false;
        }
        if now < self.next_at {
            return false;
        }
        self.sent_at = Some(now);
        self.bytes = n as u64;
        true
    }

    /// The probe's ACK arrived at `now`; `stream`/`conn` are the current
    /// receive windows. Returns the new windows when one of them grows.
    pub(crate) fn on_ack(&mut self, now: Duration, stream: u32, conn: u32) -> Option<Growth> {
        let sent = self.sent_at.take()?;
        let bytes = core::mem::take(&mut self.bytes);
        let rtt = now.saturating_sub(sent);
        if rtt.is_zero() {
            // No time passed: the adapter does not report time. Wait for a
            // clock that moves before probing again.
            self.next_at = now + Duration::from_nanos(1);
            return None;
        }
        self.samples += 1;
        let min_rtt = self.min_rtt.map_or(rtt, |m| m.min(rtt));
        self.min_rtt = Some(min_rtt);
        // Bytes deliverable in one un-queued round trip.
        let est = (bytes as u128 * min_rtt.as_nanos() / rtt.as_nanos()) as u64;
        let grow = |cur: u32, cap: u32| -> u32 {
            if cur < cap && est * 3 >= cur as u64 {
                (est * 4).clamp(cur as u64, cap as u64) as u32
            } else {
                cur
            }
        };
        let new_stream = grow(stream, self.stream_cap);
        let mut new_conn = grow(conn, self.conn_cap);
        if new_stream > stream {
            // One stream alone must not be held back by the connection window.
            new_conn = new_conn.max(new_stream.min(self.conn_cap));
        }
        if new_stream > stream || new_conn > conn {
            self.stable = 0;
            self.next_at = now;
            Some(Growth {
                stream: new_stream,
                conn: new_conn,
            })
        } else {
            self.stable = self.stable.saturating_add(1);
            let wait = min_rtt
                .saturating_mul(1 << self.stable.min(16))
                .min(MAX_PROBE_INTERVAL);
            self.next_at = now + wait;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn window_limited_sample_doubles() {
        let mut b = Bdp::new(true, 16 << 20, 32 << 20);
        assert!(b.on_data(1000, MS * 10));
        assert!(!b.on_data(60_000, MS * 20));
        // 61 000 bytes in 50 ms with a 65 535 window: window-limited.
        let g = b.on_ack(MS * 60, 65_535, 65_535).unwrap();
        assert_eq!(g.stream, 244_000);
        assert_eq!(g.conn, 244_000);
        assert_eq!(b.min_rtt(), Some(MS * 50));
        // The next probe starts with the next DATA.
        assert!(b.on_data(10, MS * 61));
        // 30 000 bytes per RTT with a 244 000 window: not the limit.
        b.bytes = 30_000;
        assert_eq!(b.on_ack(MS * 111, 244_000, 244_000), None);
    }

    #[test]
    fn not_window_limited_is_stable_and_backs_off() {
        let mut b = Bdp::new(true, 16 << 20, 32 << 20);
        let mut t = MS * 10;
        let mut gaps = Vec::new();
        let mut last_probe = t;
        for _ in 0..6 {
            // Advance until a probe starts.
            while !b.on_data(1000, t) {
                t += MS * 10;
            }
            gaps.push(t - last_probe);
            last_probe = t;
            t += MS * 50;
            assert_eq!(b.on_ack(t, 1 << 20, 16 << 20), None);
        }
        assert!(gaps.windows(2).skip(1).all(|w| w[1] > w[0]), "{gaps:?}");
        assert_eq!(b.samples(), 6);
    }

    #[test]
    fn queueing_delay_does_not_grow() {
        let mut b = Bdp::new(true, 16 << 20, 32 << 20);
        assert!(b.on_data(65_535, MS));
        assert!(b.on_ack(MS * 51, 65_535, 1 << 20).is_some());
        // A full 4 MiB window delivered, but the RTT is 4x the minimum: the
        // path holds ~1 MiB, which is below a third of the window.
        b.next_at = Duration::ZERO;
        assert!(b.on_data(1, MS * 100));
        assert_eq!(b.on_ack(MS * 300, 4 << 20, 8 << 20), None);
    }

    #[test]
    fn caps_and_disabled_and_no_clock() {
        let mut b = Bdp::new(true, 100_000, 200_000);
        assert!(b.on_data(1, MS));
        b.bytes = 1 << 20;
        let g = b.on_ack(MS * 2, 65_535, 65_535).unwrap();
        assert_eq!((g.stream, g.conn), (100_000, 200_000));

        let mut off = Bdp::new(false, 1 << 24, 1 << 25);
        assert!(!off.on_data(1000, MS));
        assert_eq!(off.on_ack(MS * 9, 65_535, 65_535), None);

        let mut frozen = Bdp::new(true, 1 << 24, 1 << 25);
        assert!(frozen.on_data(100_000, MS));
        assert_eq!(frozen.on_ack(MS, 65_535, 65_535), None);
        assert!(!frozen.on_data(100_000, MS), "no probe until time moves");
        assert_eq!(frozen.samples(), 0);
    }
}
