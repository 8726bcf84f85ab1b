//! Adaptive flow control (BDP estimation by PING round trips, RFC 9113 §6.7,
//! §6.9) on the in-memory pair over a simulated path with latency and a
//! bottleneck rate ([`h2o::pair::Link`]): windows grow under a window-limited
//! transfer, stay put when the window is not the limit, stay static when
//! disabled, and probe PINGs never surface as `Event::PingAck`.

mod common;
use common::*;

use std::time::Duration;

use h2o::conn::{Config, Event, BDP_PAYLOAD};
use h2o::pair::{Link, Pair};

const MS: Duration = Duration::from_millis(1);

fn small(adaptive: bool) -> Config {
    Config {
        initial_window_size: 65_535,
        connection_window_size: 65_535,
        adaptive_window: adaptive,
        ..Config::default()
    }
}

struct Run {
    pair: Pair,
    /// Simulated time the download took.
    took: Duration,
    id: u32,
}

/// Downloads `len` bytes over `link`; the client has `client` config.
fn download(client: Config, server: Config, link: Link, len: usize) -> Run {
    let mut p = Pair::new(client, server);
    let id = p.client.send_request(get("/big"), true).unwrap();
    // Handshake and request over the path too (the SETTINGS round trip is the
    // first RTT sample).
    let asked = |p: &Pair| request_ids(&p.server_events).contains(&id);
    assert!(p.run_link(&link, Duration::from_secs(1), asked));
    p.server.send_response(id, ok(), false).unwrap();
    p.server.send_data(id, pattern(len), true).unwrap();
    let start = p.now;
    let done = p.run_link(&link, start + Duration::from_secs(120), |p| {
        p.client.open_streams() == 0
    });
    assert!(done, "download did not finish");
    assert!(p.client_errors.is_empty(), "{:?}", p.client_errors);
    assert!(p.server_errors.is_empty(), "{:?}", p.server_errors);
    let (got, end) = body_of(&p.client_events, id);
    assert!(end && got.len() == len && got[..] == pattern(len)[..]);
    Run {
        took: p.now - start,
        pair: p,
        id,
    }
}

fn pings(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Ping(d) if *d == BDP_PAYLOAD))
        .count()
}

fn ping_acks(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::PingAck(_)))
        .count()
}

/// 25 ms each way, 25 MB/s: BDP 1.25 MB, far above a 64 KiB window.
fn long_fat() -> Link {
    Link::new(25 * MS, 25_000_000)
}

#[test]
fn window_limited_download_grows_client_windows() {
    let len = 16 << 20;
    let fixed = download(small(false), Config::default(), long_fat(), len);
    let adaptive = download(small(true), Config::default(), long_fat(), len);
    let c = &adaptive.pair.client;
    println!(
        "fixed {:?}, adaptive {:?}; windows stream {} conn {}, min rtt {:?}, samples {}",
        fixed.took,
        adaptive.took,
        c.stream_recv_window(),
        c.connection_recv_window(),
        c.min_rtt(),
        c.bdp_samples()
    );
    // Fixed: ~64 KiB per 50 ms round trip.
    assert!(fixed.took > Duration::from_secs(10), "{:?}", fixed.took);
    // Adaptive: the windows outgrow the 1.25 MB BDP and the transfer runs near
    // the 25 MB/s bottleneck (0.67 s for 16 MiB) after a short ramp.
    assert!(
        adaptive.took < Duration::from_millis(1600),
        "{:?}",
        adaptive.took
    );
    assert!(c.stream_recv_window() >= 1_250_000);
    assert!(c.connection_recv_window() >= c.stream_recv_window());
    // ...but not without bound: RTT inflation by the queue is not capacity.
    assert!(
        c.stream_recv_window() <= 4 * 1_250_000 + (1 << 20),
        "{}",
        c.stream_recv_window()
    );
    let rtt = c.min_rtt().unwrap();
    assert!(rtt >= 50 * MS && rtt < 60 * MS, "{rtt:?}");
    // Probes are PINGs the server sees (and answers); their ACKs stay internal.
    assert!(pings(&adaptive.pair.server_events) > 0);
    assert_eq!(ping_acks(&adaptive.pair.client_events), 0);
    // The server learned the new stream window from SETTINGS: its send window
    // agrees with the client's accounting (no FLOW_CONTROL_ERROR above), and
    // the client's SETTINGS were all acknowledged.
    assert!(adaptive
        .pair
        .server_events
        .iter()
        .any(|e| matches!(e, Event::Settings(s) if s.initial_window_size.is_some())));
    assert!(c.poll_timeout().is_none(), "SETTINGS left unacknowledged");
    let _ = adaptive.id;
}

#[test]
fn not_window_limited_does_not_grow_and_backs_off() {
    // 1 MB/s with 25 ms each way: BDP 50 KB, well below the 1 MiB default.
    let link = Link::new(25 * MS, 1_000_000);
    let r = download(Config::default(), Config::default(), link, 8 << 20);
    let c = &r.pair.client;
    println!(
        "took {:?}, windows {} / {}, samples {}, probes {}",
        r.took,
        c.stream_recv_window(),
        c.connection_recv_window(),
        c.bdp_samples(),
        pings(&r.pair.server_events)
    );
    assert_eq!(
        c.stream_recv_window(),
        Config::default().initial_window_size
    );
    assert_eq!(
        c.connection_recv_window(),
        Config::default().connection_window_size
    );
    assert!(c.bdp_samples() >= 3, "probing happened");
    // ~8.4 s of transfer at one probe per RTT would be ~160 probes; the
    // back-off (doubling up to 10 s) keeps it to a handful.
    assert!(pings(&r.pair.server_events) <= 12);
}

#[test]
fn disabled_keeps_static_windows_and_sends_no_pings() {
    let r = download(small(false), small(false), long_fat(), 2 << 20);
    let c = &r.pair.client;
    assert_eq!(c.stream_recv_window(), 65_535);
    assert_eq!(c.connection_recv_window(), 65_535);
    assert_eq!(c.bdp_samples(), 0);
    assert_eq!(pings(&r.pair.server_events), 0);
    assert!(r
        .pair
        .server_events
        .iter()
        .all(|e| !matches!(e, Event::Ping(_))));
}

#[test]
fn no_clock_means_no_probes() {
    // The plain pair never advances time: adaptive is on but inert.
    let mut p = Pair::new(small(true), Config::default());
    p.drive();
    let id = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    p.server.send_response(id, ok(), false).unwrap();
    p.server.send_data(id, pattern(1 << 20), true).unwrap();
    p.drive();
    assert_eq!(body_of(&p.client_events, id).0.len(), 1 << 20);
    assert_eq!(pings(&p.server_events), 0);
    assert_eq!(p.client.stream_recv_window(), 65_535);
}

#[test]
fn server_adapts_for_uploads() {
    let len = 8 << 20;
    let mut p = Pair::new(Config::default(), small(true));
    let id = p.client.send_request(post("/up"), false).unwrap();
    p.client.send_data(id, pattern(len), true).unwrap();
    let start = p.now;
    let got = |p: &Pair| body_of(&p.server_events, id).1;
    assert!(p.run_link(&long_fat(), start + Duration::from_secs(60), got));
    assert!(p.server_errors.is_empty() && p.client_errors.is_empty());
    assert_eq!(body_of(&p.server_events, id).0.len(), len);
    let took = p.now - start;
    println!(
        "upload {:?}, server window {}",
        took,
        p.server.stream_recv_window()
    );
    assert!(p.server.stream_recv_window() >= 1_250_000);
    // A fixed 64 KiB window would need ~6.4 s for 8 MiB.
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn user_pings_still_acked_during_probing() {
    let mut p = Pair::new(small(true), Config::default());
    let id = p.client.send_request(get("/big"), true).unwrap();
    let asked = |p: &Pair| request_ids(&p.server_events).contains(&id);
    assert!(p.run_link(&long_fat(), Duration::from_secs(1), asked));
    p.server.send_response(id, ok(), false).unwrap();
    p.server.send_data(id, pattern(4 << 20), true).unwrap();
    let mut pinged = false;
    let done = p.run_link(&long_fat(), Duration::from_secs(30), |p| {
        p.client.open_streams() == 0
    });
    assert!(done);
    // A user PING with the probe payload while no probe is in flight is the
    // user's: it comes back as PingAck, like any other payload.
    p.client.ping(*b"userping");
    p.client.ping(BDP_PAYLOAD);
    p.run_link(&long_fat(), p.now + Duration::from_secs(1), |p| {
        ping_acks(&p.client_events) == 2
    });
    for d in [*b"userping", BDP_PAYLOAD] {
        pinged |= p
            .client_events
            .iter()
            .any(|e| matches!(e, Event::PingAck(x) if *x == d));
    }
    assert!(pinged);
    assert_eq!(ping_acks(&p.client_events), 2);
}
