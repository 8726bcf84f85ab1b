//! The machine-readable result of `h2o bench --json`: one JSON object whose
//! key names are stable (schema version [`SCHEMA`]; README documents it).
//! Latencies and connection times are in microseconds, durations in seconds.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::BenchReport;

/// Version of the JSON layout; bumped when a key changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// The whole result.
#[derive(Debug, Serialize)]
pub struct JsonReport {
    /// [`SCHEMA`].
    pub schema: u32,
    /// `"h2o bench"`.
    pub tool: &'static str,
    /// The h2o version that ran.
    pub version: &'static str,
    /// `"closed"` (each response starts the next request) or `"rate"` (open
    /// loop at `config.rate`, latencies coordinated-omission corrected).
    pub mode: &'static str,
    /// What ran.
    pub config: JsonConfig,
    /// Wall time from the first connect to the last response.
    pub elapsed_s: f64,
    /// Request counts and traffic.
    pub totals: JsonTotals,
    /// Responses by status class.
    pub status: JsonStatus,
    /// Errors by kind (`connect`, `tls`, `protocol`, `io`, `closed`, `setup`:
    /// connections; `stream_reset`: streams); absent kinds did not occur.
    pub errors: BTreeMap<&'static str, u64>,
    /// The distinct connection error messages.
    pub error_messages: Vec<String>,
    /// Request latencies (open loop: from each request's intended start).
    pub latency_us: JsonLatency,
    /// Open loop only: latencies from each request's send (`null` otherwise).
    pub latency_uncorrected_us: Option<JsonLatency>,
    /// One entry per second of the load (the last one may be partial).
    pub throughput: Vec<JsonSecond>,
    /// Connection setup times (TCP connect + TLS handshake).
    pub connect_us: JsonLatency,
    /// TLS handshakes for `https://` (`null` for h2c).
    pub tls_handshakes: Option<JsonTls>,
}

/// The configuration of the run.
#[derive(Debug, Serialize)]
pub struct JsonConfig {
    /// Target URL.
    pub url: String,
    /// Requests asked for (N).
    pub requests: u64,
    /// Connections (C).
    pub connections: usize,
    /// Concurrent streams per connection (M).
    pub streams: usize,
    /// Threads (T).
    pub threads: usize,
    /// Duration cap in seconds (`null`: none).
    pub duration_s: Option<f64>,
    /// Open-loop target rate in requests per second (`null`: closed loop).
    pub rate: Option<f64>,
}

/// Counts and traffic.
#[derive(Debug, Serialize)]
pub struct JsonTotals {
    /// Requests asked for (N).
    pub requests: u64,
    /// Requests started.
    pub started: u64,
    /// Requests ended (response or error).
    pub done: u64,
    /// Ended with a 2xx/3xx response.
    pub succeeded: u64,
    /// Ended otherwise (includes `errored`).
    pub failed: u64,
    /// Ended without a complete response.
    pub errored: u64,
    /// `done / elapsed_s`.
    pub req_per_sec: f64,
    /// Bytes read from the sockets.
    pub bytes_in: u64,
    /// Response body bytes.
    pub data_bytes: u64,
}

/// Responses by status class.
#[derive(Debug, Serialize)]
pub struct JsonStatus {
    /// 2xx responses.
    #[serde(rename = "2xx")]
    pub s2xx: u64,
    /// 3xx responses.
    #[serde(rename = "3xx")]
    pub s3xx: u64,
    /// 4xx responses.
    #[serde(rename = "4xx")]
    pub s4xx: u64,
    /// 5xx responses.
    #[serde(rename = "5xx")]
    pub s5xx: u64,
}

/// A latency distribution summary (all values in microseconds; zeros when
/// `count` is 0).
#[derive(Debug, Serialize)]
pub struct JsonLatency {
    /// Values recorded.
    pub count: u64,
    /// Smallest value.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// Largest value.
    pub max: u64,
    /// Median.
    pub p50: u64,
    /// 75th percentile.
    pub p75: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// The percentile distribution as HdrHistogram prints it (5 steps per
    /// halving of the remaining tail), for plots.
    pub percentiles: Vec<JsonPercentile>,
}

/// One point of a percentile distribution.
#[derive(Debug, Serialize)]
pub struct JsonPercentile {
    /// Percentile, 0 to 100.
    pub percentile: f64,
    /// Latency at or below which that percentage of requests fell (µs).
    pub value: u64,
}

/// One second of the run.
#[derive(Debug, Serialize)]
pub struct JsonSecond {
    /// Seconds since the load started (the bucket is [t, t+1)).
    pub t: u64,
    /// Requests ended in that second.
    pub done: u64,
    /// Of those, failed.
    pub failed: u64,
}

/// TLS handshake counts.
#[derive(Debug, Serialize)]
pub struct JsonTls {
    /// Full handshakes.
    pub full: u64,
    /// Resumed handshakes.
    pub resumed: u64,
}

/// The percentile points of `h`: HdrHistogram's quantile iteration with 5
/// ticks per half distance, ending at 100.
pub fn percentiles(h: &Histogram<u64>) -> Vec<JsonPercentile> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<JsonPercentile> = h
        .iter_quantiles(5)
        .map(|it| JsonPercentile {
            percentile: it.quantile_iterated_to() * 100.0,
            value: h.highest_equivalent(it.value_iterated_to()),
        })
        .collect();
    v.dedup_by(|b, a| a.percentile == b.percentile);
    v
}

impl JsonLatency {
    /// The summary of `h`.
    pub fn of(h: &Histogram<u64>) -> JsonLatency {
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        JsonLatency {
            count: h.len(),
            min: if h.is_empty() { 0 } else { h.min() },
            mean: if h.is_empty() { 0.0 } else { h.mean() },
            stdev: if h.is_empty() { 0.0 } else { h.stdev() },
            max: if h.is_empty() { 0 } else { h.max() },
            p50: q(0.5),
            p75: q(0.75),
            p90: q(0.9),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            percentiles: percentiles(h),
        }
    }
}

impl JsonReport {
    /// The JSON view of `rep`.
    pub fn of(rep: &BenchReport) -> JsonReport {
        let cfg = &rep.config;
        JsonReport {
            schema: SCHEMA,
            tool: "h2o bench",
            version: env!("CARGO_PKG_VERSION"),
            mode: if cfg.rate.is_some() { "rate" } else { "closed" },
            config: JsonConfig {
                url: cfg.url.clone(),
                requests: cfg.requests,
                connections: cfg.connections.max(1),
                streams: cfg.streams.max(1),
                threads: cfg.threads.clamp(1, cfg.connections.max(1)),
                duration_s: cfg.duration.map(|d| d.as_secs_f64()),
                rate: cfg.rate,
            },
            elapsed_s: rep.elapsed.as_secs_f64(),
            totals: JsonTotals {
                requests: rep.total,
                started: rep.started,
                done: rep.done,
                succeeded: rep.succeeded,
                failed: rep.failed,
                errored: rep.errored,
                req_per_sec: rep.req_per_sec(),
                bytes_in: rep.bytes_in,
                data_bytes: rep.data_bytes,
            },
            status: JsonStatus {
                s2xx: rep.status[0],
                s3xx: rep.status[1],
                s4xx: rep.status[2],
                s5xx: rep.status[3],
            },
            errors: rep.errors.clone(),
            error_messages: rep.conn_errors.clone(),
            latency_us: JsonLatency::of(&rep.latency),
            latency_uncorrected_us: rep.latency_uncorrected.as_ref().map(JsonLatency::of),
            throughput: rep
                .series
                .iter()
                .enumerate()
                .map(|(t, s)| JsonSecond {
                    t: t as u64,
                    done: s.done,
                    failed: s.failed,
                })
                .collect(),
            connect_us: JsonLatency::of(&rep.connect_times),
            tls_handshakes: rep
                .tls_handshakes
                .map(|(full, resumed)| JsonTls { full, resumed }),
        }
    }
}

impl BenchReport {
    /// The report as pretty-printed JSON (see [`JsonReport`]).
    pub fn to_json(&self) -> String {
        // Serializing plain structs of numbers and strings cannot fail.
        serde_json::to_string_pretty(&JsonReport::of(self)).unwrap_or_default() + "\n"
    }
}
