//! The live view of `h2o bench` on a terminal: elapsed time and progress,
//! current request rate, errors and latency percentiles so far, redrawn a few
//! times a second on stderr (indicatif).
//!
//! The workers never talk to it: they publish batched counts and a copy of
//! their latency histogram every few hundred milliseconds
//! (see `PUBLISH_EVERY` in [`super`]); the main thread samples those.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{fmt_us, BenchConfig};

/// How often the main thread samples the workers and redraws.
pub const REFRESH: Duration = Duration::from_millis(250);

/// Window of the "current req/s" figure.
const WINDOW: Duration = Duration::from_secs(1);

/// Progress bar resolution (the bar's length).
const STEPS: u64 = 1000;

/// The live view of one run.
pub struct Live {
    bar: ProgressBar,
    start: Instant,
    requests: u64,
    duration: Option<Duration>,
    /// (time, requests ended) samples of the last [`WINDOW`].
    samples: VecDeque<(Instant, u64)>,
}

impl Live {
    /// A view for `cfg`'s run, which started at `start`.
    pub fn new(cfg: &BenchConfig, start: Instant) -> Live {
        let bar = ProgressBar::with_draw_target(Some(STEPS), ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Live {
            bar,
            start,
            requests: cfg.requests,
            duration: cfg.duration,
            samples: VecDeque::new(),
        }
    }

    /// Redraws with the counts and latencies so far.
    pub fn update(&mut self, done: u64, failed: u64, latency: &Histogram<u64>) {
        let now = Instant::now();
        self.samples.push_back((now, done));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > WINDOW)
        {
            self.samples.pop_front();
        }
        let rate = match self.samples.front() {
            Some(&(t, d)) if now > t => (done - d) as f64 / now.duration_since(t).as_secs_f64(),
            _ => 0.0,
        };
        self.bar.set_position(self.progress(now, done));
        self.bar
            .set_message(line(done, self.requests, rate, failed, latency));
    }

    /// Progress in [`STEPS`]: requests ended of N, or time elapsed of the
    /// duration cap, whichever is further.
    fn progress(&self, now: Instant, done: u64) -> u64 {
        let by_count = done as f64 / self.requests.max(1) as f64;
        let by_time = self.duration.map_or(0.0, |d| {
            now.duration_since(self.start).as_secs_f64() / d.as_secs_f64().max(1e-9)
        });
        (by_count.max(by_time).min(1.0) * STEPS as f64) as u64
    }

    /// Removes the view (the text summary follows).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// The view's text after the bar.
pub fn line(done: u64, total: u64, rate: f64, failed: u64, latency: &Histogram<u64>) -> String {
    let lat = if latency.is_empty() {
        "p50 -, p99 -".to_string()
    } else {
        format!(
            "p50 {}, p99 {}",
            fmt_us(latency.value_at_quantile(0.5) as f64),
            fmt_us(latency.value_at_quantile(0.99) as f64)
        )
    };
    format!("{done}/{total} done, {rate:.0} req/s, {failed} errors, {lat}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counts_rate_and_percentiles() {
        let mut h = super::super::new_hist();
        assert_eq!(
            line(0, 10, 0.0, 0, &h),
            "0/10 done, 0 req/s, 0 errors, p50 -, p99 -"
        );
        for us in 1..=100 {
            h.record(us * 100).unwrap();
        }
        assert_eq!(
            line(100, 1000, 2500.4, 3, &h),
            "100/1000 done, 2500 req/s, 3 errors, p50 5.00ms, p99 9.90ms"
        );
    }
}
