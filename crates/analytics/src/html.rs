//! The report as one self-contained HTML page: inline style and inline SVG
//! charts drawn here (latency over time, errors by plugin, a usage heat
//! map), no script and nothing fetched, so it reads the same offline and
//! from a mail attachment. Every string reaches the page through
//! minijinja's HTML escaping (the template's name ends in `.html`).

use minijinja::Environment;
use serde::Serialize;

use crate::report::Report;

const TEMPLATE: &str = include_str!("templates/report.html");

/// Chart sizes, in SVG user units.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;
const BAR_HEIGHT: f64 = 22.0;
const CELL: f64 = 26.0;

/// Line colours, told apart in colour and in print (the legend names them).
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

#[derive(Debug, thiserror::Error)]
#[error("the analytics page could not be drawn: {0}")]
pub struct HtmlError(#[from] minijinja::Error);

#[derive(Serialize)]
struct Line {
    plugin: String,
    colour: &'static str,
    /// The SVG path: `M x,y L x,y ...`.
    d: String,
    points: Vec<Dot>,
}

#[derive(Serialize)]
struct Dot {
    x: f64,
    y: f64,
    title: String,
}

#[derive(Serialize)]
struct Bar {
    plugin: String,
    y: f64,
    executions: u64,
    errors: u64,
    /// Widths of the whole bar (executions) and its failed part.
    width: f64,
    error_width: f64,
}

#[derive(Serialize)]
struct Cell {
    x: f64,
    y: f64,
    opacity: f64,
    title: String,
}

#[derive(Serialize)]
struct Tick {
    at: f64,
    label: String,
}

/// A time as a person reads it: `2026-12-05 01:26:09 UTC` (seconds, so
/// the two ends of a short chart read apart).
pub fn timestamp(ms: u64) -> String {
    match jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX)) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => ms.to_string(),
    }
}

fn latency_lines(report: &Report) -> (Vec<Line>, Vec<Tick>, Vec<Tick>) {
    let max = report
        .latency
        .iter()
        .map(|p| p.p50_ms)
        .fold(0.0f64, f64::max)
        .max(0.001)
        * 1.1;
    // From the first point on, as the points were bucketed.
    let start = report
        .latency
        .iter()
        .map(|p| p.at_ms)
        .min()
        .unwrap_or(report.since_ms);
    let span = report.until_ms.saturating_sub(start).max(1) as f64;
    let x = |at: u64| LEFT + (WIDTH - LEFT - 8.0) * (at.saturating_sub(start) as f64 / span);
    let y = |ms: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - ms / max);
    let mut lines: Vec<Line> = Vec::new();
    for point in &report.latency {
        if lines.last().is_none_or(|l| l.plugin != point.plugin) {
            lines.push(Line {
                plugin: point.plugin.clone(),
                colour: PALETTE[lines.len() % PALETTE.len()],
                d: String::new(),
                points: Vec::new(),
            });
        }
        if let Some(line) = lines.last_mut() {
            let (px, py) = (x(point.at_ms), y(point.p50_ms));
            let step = if line.d.is_empty() { 'M' } else { 'L' };
            line.d.push_str(&format!("{step}{px:.1},{py:.1} "));
            line.points.push(Dot {
                x: px,
                y: py,
                title: format!(
                    "{} {:.3} ms at {}",
                    point.plugin,
                    point.p50_ms,
                    timestamp(point.at_ms)
                ),
            });
        }
    }
    let y_ticks = (0..=4)
        .map(|i| {
            let value = max * f64::from(i) / 4.0;
            Tick {
                at: y(value),
                label: format!("{value:.2} ms"),
            }
        })
        .collect();
    let x_ticks = [start, report.until_ms]
        .into_iter()
        .map(|at| Tick {
            at: x(at),
            label: timestamp(at),
        })
        .collect();
    (lines, y_ticks, x_ticks)
}

fn error_bars(report: &Report) -> Vec<Bar> {
    let most = report
        .plugins
        .iter()
        .map(|p| p.executions)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    // Room on the right for the longest bar's label.
    let room = WIDTH - 340.0;
    report
        .plugins
        .iter()
        .enumerate()
        .map(|(i, p)| Bar {
            plugin: p.plugin.clone(),
            y: TOP + i as f64 * (BAR_HEIGHT + 6.0),
            executions: p.executions,
            errors: p.errors,
            width: (room * p.executions as f64 / most).max(1.0),
            // A plugin with failures shows at least a sliver of red.
            error_width: if p.errors == 0 {
                0.0
            } else {
                (room * p.errors as f64 / most).max(2.0)
            },
        })
        .collect()
}

fn heat_cells(report: &Report) -> Vec<Cell> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let most = report
        .heat
        .iter()
        .map(|c| c.calls)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    report
        .heat
        .iter()
        .map(|c| Cell {
            x: 40.0 + f64::from(c.hour) * CELL,
            y: 18.0 + f64::from(c.weekday) * CELL,
            // Empty hours stay faintly visible, so the grid reads as one.
            opacity: if c.calls == 0 {
                0.04
            } else {
                0.15 + 0.85 * c.calls as f64 / most
            },
            title: format!(
                "{} {:02}:00 UTC: {} calls",
                DAYS[usize::from(c.weekday) % 7],
                c.hour,
                c.calls
            ),
        })
        .collect()
}

/// The page for `report`.
pub fn render(report: &Report) -> Result<String, HtmlError> {
    let mut env = Environment::new();
    env.add_filter("time", |ms: u64| timestamp(ms));
    env.add_template("report.html", TEMPLATE)?;
    let (lines, y_ticks, x_ticks) = latency_lines(report);
    let bars = error_bars(report);
    let page = env.get_template("report.html")?.render(minijinja::context! {
        report => report,
        since => timestamp(report.since_ms),
        until => timestamp(report.until_ms),
        width => WIDTH,
        height => HEIGHT,
        left => LEFT,
        plot_bottom => HEIGHT - BOTTOM,
        lines => lines,
        y_ticks => y_ticks,
        x_ticks => x_ticks,
        bars_height => TOP + bars.len().max(1) as f64 * (BAR_HEIGHT + 6.0),
        bar_height => BAR_HEIGHT,
        bars => bars,
        cells => heat_cells(report),
        cell => CELL - 2.0,
        hours => (0..24).step_by(3).map(|h| (40.0 + f64::from(h) * CELL, h)).collect::<Vec<_>>(),
        days => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            .iter()
            .enumerate()
            .map(|(i, d)| (18.0 + i as f64 * CELL + CELL / 2.0, *d))
            .collect::<Vec<_>>(),
    })?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use lord_manifest::PluginId;
    use lord_perf::{CallRow, EntryKind, Outcome};

    use super::*;
    use crate::health::{Check, Finding};

    #[test]
    fn the_page_is_self_contained_and_escapes_what_plugins_wrote() {
        let rows: Vec<CallRow> = (0..30u64)
            .map(|i| CallRow {
                at_ms: 1_760_000_000_000 + i * 60_000,
                session: 3,
                plugin: PluginId::new(if i % 2 == 0 { "alpha" } else { "beta" }).expect("id"),
                kind: EntryKind::Command,
                name: "<script>alert(1)</script>".to_owned(),
                outcome: if i % 5 == 0 {
                    Outcome::Trap
                } else {
                    Outcome::Ok
                },
                wall_ns: 1_000_000 + i * 10_000,
                input_bytes: i * 100,
            })
            .collect();
        let health = vec![Finding {
            plugin: "alpha".to_owned(),
            check: Check::Stale,
            detail: "\"><img src=x onerror=alert(1)>".to_owned(),
        }];
        let report = Report::new(
            &rows,
            1_760_000_000_000,
            1_760_000_000_000 + 30 * 60_000,
            health,
        );
        let page = render(&report).expect("page");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("<script"), "no script, and none let in");
        assert!(!page.contains("<img"), "plugin text is escaped");
        assert!(page.contains("&lt;script&gt;"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "nothing fetched"
        );
        assert_eq!(
            page.matches("class=\"series\"").count(),
            2,
            "a line per plugin"
        );
        assert_eq!(page.matches("class=\"heat\"").count(), 168);
        assert!(page.contains("class=\"bar-errors\""));
    }
}
