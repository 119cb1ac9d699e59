//! Downloads over time as an inline SVG bar chart: no script, no remote
//! file, nothing the Content-Security-Policy has to allow beyond the page
//! itself. Colours are presentation attributes (not `style`), which a
//! strict `style-src` does not block.
//!
//! The chart is an image to a screen reader (`role="img"`) whose name says
//! what it shows in words, so nobody needs to see the bars.

use std::fmt::Write as _;

/// Days the chart covers, ending today.
pub(crate) const DAYS: i64 = 90;

const WIDTH: i64 = 540;
const HEIGHT: i64 = 120;

/// The chart of `counts` (`(day, downloads)`, any order, days outside the
/// window ignored) for the [`DAYS`] days ending on `today`.
pub(crate) fn downloads_svg(counts: &[(i64, u64)], today: i64) -> String {
    let first = today - DAYS + 1;
    let mut per_day = vec![0u64; usize::try_from(DAYS).unwrap_or(0)];
    for &(day, count) in counts {
        if let Some(slot) = usize::try_from(day - first)
            .ok()
            .and_then(|i| per_day.get_mut(i))
        {
            *slot += count;
        }
    }
    let total: u64 = per_day.iter().sum();
    let peak = per_day.iter().copied().max().unwrap_or(0);
    let label = if total == 0 {
        format!("No downloads in the last {DAYS} days.")
    } else if total == 1 {
        format!("1 download in the last {DAYS} days.")
    } else {
        format!("{total} downloads in the last {DAYS} days; at most {peak} on one day.")
    };
    let bar = WIDTH / DAYS;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {h}\" \
         width=\"100%\" height=\"{h}\" role=\"img\" aria-label=\"{label}\">\
         <title>{label}</title>\
         <line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" stroke=\"#555\" stroke-width=\"1\"/>",
        h = HEIGHT + 2,
    );
    if peak > 0 {
        for (i, &count) in per_day.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let Some(scaled) = count
                .saturating_mul(u64::try_from(HEIGHT - 4).unwrap_or(0))
                .checked_div(peak)
            else {
                continue;
            };
            let height = i64::try_from(scaled).unwrap_or(HEIGHT).max(1);
            let x = i64::try_from(i).unwrap_or(0) * bar;
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{height}\" fill=\"#1f5fa8\"/>",
                y = HEIGHT - height,
                w = (bar - 1).max(1),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::downloads_svg;

    #[test]
    fn bars_scale_to_the_busiest_day_and_the_label_says_it_in_words() {
        let svg = downloads_svg(&[(100, 4), (99, 2), (5, 1000)], 100);
        assert!(
            svg.contains("6 downloads in the last 90 days; at most 4 on one day."),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<rect").count(),
            2,
            "the day outside the window is left out"
        );
        assert!(
            svg.contains("height=\"116\""),
            "the busiest day fills the chart: {svg}"
        );
    }

    #[test]
    fn no_downloads_is_said_too() {
        let svg = downloads_svg(&[], 100);
        assert!(svg.contains("No downloads in the last 90 days."));
        assert!(!svg.contains("<rect"));
    }
}
