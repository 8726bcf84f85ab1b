//! The self-contained HTML report of `h2o bench --html FILE`: a summary table
//! and two inline SVG charts drawn by `plotters` (SVG backend): latency by
//! percentile on HdrHistogram's log axis (0, 90, 99, 99.9 … %) and
//! throughput per second. No scripts, styles or images are loaded from
//! anywhere: the page views offline.

use hdrhistogram::Histogram;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::report::{percentiles, JsonLatency};
use super::{fmt_us, BenchReport};

/// Chart size in pixels.
const SIZE: (u32, u32) = (900, 420);

/// Corrected (or closed-loop) series colour, uncorrected, failures.
const BLUE: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const ORANGE: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const RED_: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The x coordinate of a percentile on the log axis: log10(1 / (1 - q)),
/// so 0 % → 0, 90 % → 1, 99 % → 2, 99.9 % → 3.
fn log_x(percentile: f64) -> f64 {
    let tail = (1.0 - percentile / 100.0).max(1e-12);
    (1.0 / tail).log10()
}

/// The label of an axis position: "0%", "90%", "99%", "99.9%" … at whole
/// numbers, nothing between them.
fn x_label(x: f64) -> String {
    let k = x.round();
    if (x - k).abs() > 1e-6 || k < 0.0 {
        return String::new();
    }
    match k as usize {
        0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        k => format!("99.{}%", "9".repeat(k - 2)),
    }
}

/// A series of (log x, ms) points of `h`, clipped at `xmax`.
fn latency_points(h: &Histogram<u64>, xmax: f64) -> Vec<(f64, f64)> {
    percentiles(h)
        .iter()
        .map(|p| (log_x(p.percentile).min(xmax), p.value as f64 / 1000.0))
        .collect()
}

fn draw_err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw the chart: {e:?}")
}

/// A chart of (x, y) `f64` points on the SVG backend.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws one line series with its legend entry.
fn line(
    chart: &mut Chart<'_, '_>,
    points: Vec<(f64, f64)>,
    style: ShapeStyle,
    label: &str,
) -> Result<(), String> {
    chart
        .draw_series(LineSeries::new(points, style))
        .map_err(draw_err)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    Ok(())
}

/// The latency-by-percentile chart (SVG text).
pub fn latency_chart(rep: &BenchReport) -> Result<String, String> {
    // The axis ends where the data runs out of resolution: 1 / count.
    let n = rep.latency.len().max(1) as f64;
    let xmax = n.log10().ceil().clamp(2.0, 6.0);
    let corrected = latency_points(&rep.latency, xmax);
    let uncorrected = rep
        .latency_uncorrected
        .as_ref()
        .map(|h| latency_points(h, xmax));
    let ymax = corrected
        .iter()
        .chain(uncorrected.iter().flatten())
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(0.001)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Latency by percentile", ("sans-serif", 20))
            .margin(12)
            .margin_right(40)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_labels(xmax as usize + 1)
            .x_label_formatter(&|x| x_label(*x))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .x_desc("percentile (log scale of 1/(1-p))")
            .y_desc("latency (ms)")
            .draw()
            .map_err(draw_err)?;
        let label = if uncorrected.is_some() {
            "corrected (from intended start)"
        } else {
            "latency"
        };
        line(&mut chart, corrected, BLUE.stroke_width(2), label)?;
        if let Some(u) = uncorrected {
            line(
                &mut chart,
                u,
                ORANGE.stroke_width(2),
                "uncorrected (from send)",
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Steps of (seconds, req/s): each second's count over its length (the last
/// second is usually partial: it runs to the end of the run).
fn rate_steps(rep: &BenchReport, failed: bool) -> Vec<(f64, f64)> {
    let end = rep.elapsed.as_secs_f64();
    let mut v = Vec::new();
    for (t, s) in rep.series.iter().enumerate() {
        let x0 = t as f64;
        let x1 = (x0 + 1.0).min(end.max(x0 + 0.05));
        let n = if failed { s.failed } else { s.done };
        let r = n as f64 / (x1 - x0);
        v.push((x0, r));
        v.push((x1, r));
    }
    v
}

/// The throughput-over-time chart (SVG text).
pub fn throughput_chart(rep: &BenchReport) -> Result<String, String> {
    let done = rate_steps(rep, false);
    let failed = rate_steps(rep, true);
    let any_failed = rep.series.iter().any(|s| s.failed > 0);
    let xmax = done.last().map_or(1.0, |p| p.0).max(1.0);
    let ymax = done
        .iter()
        .map(|p| p.1)
        .chain(rep.config.rate)
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Throughput over time", ("sans-serif", 20))
            .margin(12)
            .margin_right(40)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the load started")
            .y_desc("requests ended per second")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(draw_err)?;
        if let Some(r) = rep.config.rate {
            let target = vec![(0.0, r), (xmax, r)];
            line(&mut chart, target, GREY.stroke_width(3), "target rate")?;
        }
        line(&mut chart, done, BLUE.stroke_width(2), "req/s")?;
        if any_failed {
            line(&mut chart, failed, RED_.stroke_width(2), "failed/s")?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// One table row per latency summary.
fn latency_row(name: &str, h: &Histogram<u64>) -> String {
    let l = JsonLatency::of(h);
    let f = |v: u64| fmt_us(v as f64);
    format!(
        "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        esc(name),
        f(l.min),
        fmt_us(l.mean),
        f(l.p50),
        f(l.p90),
        f(l.p99),
        f(l.p99_9),
        f(l.max),
        l.count
    )
}

/// The whole page.
pub fn page(rep: &BenchReport) -> Result<String, String> {
    let cfg = &rep.config;
    let lat = latency_chart(rep)?;
    let thr = throughput_chart(rep)?;
    let mut rows = String::new();
    let mut kv = |k: &str, v: String| {
        rows.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            esc(k),
            esc(&v)
        ));
    };
    kv("target", cfg.url.clone());
    kv("mode", rep.mode_line());
    kv(
        "load",
        format!(
            "{} requests, {} connections x {} streams, {} threads, {}",
            cfg.requests,
            cfg.connections.max(1),
            cfg.streams.max(1),
            cfg.threads.clamp(1, cfg.connections.max(1)),
            cfg.duration.map_or("no time cap".into(), |d| format!(
                "{:.1} s cap",
                d.as_secs_f64()
            ))
        ),
    );
    kv(
        "result",
        format!(
            "{} done in {:.2} s: {:.1} req/s; {} succeeded, {} failed, {} errored",
            rep.done,
            rep.elapsed.as_secs_f64(),
            rep.req_per_sec(),
            rep.succeeded,
            rep.failed,
            rep.errored
        ),
    );
    kv(
        "status codes",
        format!(
            "{} 2xx, {} 3xx, {} 4xx, {} 5xx",
            rep.status[0], rep.status[1], rep.status[2], rep.status[3]
        ),
    );
    kv(
        "traffic",
        format!("{} bytes in, {} body bytes", rep.bytes_in, rep.data_bytes),
    );
    if !rep.errors.is_empty() {
        let list: Vec<String> = rep.errors.iter().map(|(k, n)| format!("{n} {k}")).collect();
        kv("errors", list.join(", "));
    }
    for e in &rep.conn_errors {
        kv("connection error", e.clone());
    }
    let mut lat_rows = String::new();
    let main = if rep.latency_uncorrected.is_some() {
        "request (corrected)"
    } else {
        "request"
    };
    lat_rows.push_str(&latency_row(main, &rep.latency));
    if let Some(h) = &rep.latency_uncorrected {
        lat_rows.push_str(&latency_row("request (uncorrected)", h));
    }
    lat_rows.push_str(&latency_row("connect", &rep.connect_times));
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>h2o bench report: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 18px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; }}
th {{ background: #f3f3f3; }}
figure {{ margin: 0 0 18px 0; }}
</style>
</head>
<body>
<h1>h2o bench report</h1>
<table>
{rows}</table>
<h2>Latency</h2>
<table>
<tr><th></th><th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>count</th></tr>
{lat_rows}</table>
<figure id="latency">
{lat}
</figure>
<h2>Throughput</h2>
<figure id="throughput">
{thr}
</figure>
<p>h2o {version}, report schema {schema}.</p>
</body>
</html>
"#,
        title = esc(&cfg.url),
        version = env!("CARGO_PKG_VERSION"),
        schema = super::report::SCHEMA,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis() {
        assert_eq!(log_x(0.0), 0.0);
        assert!((log_x(90.0) - 1.0).abs() < 1e-9);
        assert!((log_x(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(x_label(0.0), "0%");
        assert_eq!(x_label(1.0), "90%");
        assert_eq!(x_label(2.0), "99%");
        assert_eq!(x_label(4.0), "99.99%");
        assert_eq!(x_label(1.5), "");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
