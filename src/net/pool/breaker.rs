//! The per-origin circuit breaker: a pure function of its state, the
//! [`BreakerConfig`] and the time passed in (no clock is read here).
//!
//! Closed → (`failure_threshold` consecutive failures) → Open until
//! `open_interval` has passed → HalfOpen: exactly one request (the probe) is
//! let through; its success closes the breaker, its failure opens it again.

use std::time::Instant;

use super::BreakerConfig;

/// State of one origin's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Breaker {
    /// Requests pass; `failures` consecutive ones failed so far.
    Closed { failures: u32 },
    /// Requests are refused until `until`.
    Open { until: Instant },
    /// One probe is in flight; everything else is refused.
    HalfOpen,
}

/// Whether a new request may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// Yes, as an ordinary request.
    Pass,
    /// Yes, as the half-open probe (its outcome decides the breaker).
    Probe,
    /// No: the breaker is open (or a probe is already in flight).
    Refuse,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker::Closed { failures: 0 }
    }
}

impl Breaker {
    /// Asks to send a request at `now`: the answer and the next state.
    pub(super) fn admit(self, now: Instant) -> (Breaker, Admit) {
        match self {
            Breaker::Closed { .. } => (self, Admit::Pass),
            Breaker::Open { until } if now >= until => (Breaker::HalfOpen, Admit::Probe),
            Breaker::Open { .. } | Breaker::HalfOpen => (self, Admit::Refuse),
        }
    }

    /// The state after a request finished at `now` (`probe`: it was the
    /// half-open probe; `ok`: it succeeded).
    pub(super) fn record(
        self,
        cfg: &BreakerConfig,
        probe: bool,
        ok: bool,
        now: Instant,
    ) -> Breaker {
        let open = Breaker::Open {
            until: now + cfg.open_interval,
        };
        match (self, ok) {
            (_, true) if probe => Breaker::Closed { failures: 0 },
            (_, false) if probe => open,
            (Breaker::Closed { .. }, true) => Breaker::Closed { failures: 0 },
            (Breaker::Closed { failures }, false) => {
                if failures + 1 >= cfg.failure_threshold.max(1) {
                    open
                } else {
                    Breaker::Closed {
                        failures: failures + 1,
                    }
                }
            }
            // Requests that started before the breaker opened do not move it.
            (b, _) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            open_interval: Duration::from_secs(5),
        }
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let t0 = Instant::now();
        let c = cfg();
        let mut b = Breaker::default();
        for _ in 0..2 {
            b = b.record(&c, false, false, t0);
            assert_eq!(b.admit(t0).1, Admit::Pass);
        }
        // A success in between resets the count.
        b = b.record(&c, false, true, t0);
        assert_eq!(b, Breaker::Closed { failures: 0 });
        for _ in 0..3 {
            b = b.record(&c, false, false, t0);
        }
        assert_eq!(
            b,
            Breaker::Open {
                until: t0 + Duration::from_secs(5)
            }
        );
        assert_eq!(b.admit(t0 + Duration::from_secs(4)).1, Admit::Refuse);
    }

    #[test]
    fn one_probe_after_the_interval() {
        let t0 = Instant::now();
        let c = cfg();
        let b = Breaker::Open {
            until: t0 + Duration::from_secs(5),
        };
        let (b, a) = b.admit(t0 + Duration::from_secs(5));
        assert_eq!((b, a), (Breaker::HalfOpen, Admit::Probe));
        // Only one probe at a time.
        assert_eq!(b.admit(t0 + Duration::from_secs(6)).1, Admit::Refuse);
        // A late ordinary request does not decide a half-open breaker.
        assert_eq!(b.record(&c, false, true, t0), Breaker::HalfOpen);
        // The probe does.
        assert_eq!(
            b.record(&c, true, true, t0),
            Breaker::Closed { failures: 0 }
        );
        let t1 = t0 + Duration::from_secs(7);
        assert_eq!(
            b.record(&c, true, false, t1),
            Breaker::Open {
                until: t1 + Duration::from_secs(5)
            }
        );
    }

    #[test]
    fn zero_threshold_acts_as_one() {
        let t0 = Instant::now();
        let c = BreakerConfig {
            failure_threshold: 0,
            ..cfg()
        };
        let b = Breaker::default().record(&c, false, false, t0);
        assert!(matches!(b, Breaker::Open { .. }));
    }
}
