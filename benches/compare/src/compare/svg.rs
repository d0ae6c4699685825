//! The `compare.svg` charts (one per build), written by hand: two panels,
//! throughput and peak RSS, each with one group of bars per case and one bar
//! per allocator, the allocator's median divided by the system allocator's
//! (1.0 = system; higher throughput and lower RSS are better), with a
//! legend, y axes, value labels and a dashed line at 1.0.

use std::fmt::Write as _;

use super::report::{Meta, Summary};
use super::{Build, Entrant};
use crate::dispatch::Alloc;

const BAR_W: f64 = 18.0;
const GAP: f64 = 26.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 78.0;
const PLOT_H: f64 = 300.0;
const BOTTOM: f64 = 90.0;

fn colour(e: Entrant) -> &'static str {
    match e {
        Entrant::Alloc(Alloc::Hakmem) => "#d62728",
        Entrant::Alloc(Alloc::System) => "#8c8c8c",
        Entrant::Alloc(Alloc::Mimalloc) => "#1f77b4",
        Entrant::Alloc(Alloc::Jemalloc) => "#2ca02c",
        Entrant::Secure => "#ff9896",
        Entrant::HakmemEnv(_) => "#9467bd",
        Entrant::Floor => "#000000",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A tick step giving 4..=8 ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    let mut step = 0.25;
    for s in [0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0] {
        step = s;
        if max / s <= 8.0 {
            break;
        }
    }
    step
}

/// One panel of bars: per case, per allocator, `value(case, entrant)`;
/// `(top, width)`: where it starts and how wide the chart is.
fn panel(
    o: &mut String,
    (top, width): (f64, f64),
    title: &str,
    axis: &str,
    cases: &[&'static str],
    allocs: &[Entrant],
    value: &dyn Fn(&str, Entrant) -> Option<f64>,
) {
    let group_w = allocs.len() as f64 * BAR_W + GAP;
    let peak = cases.iter().flat_map(|id| allocs.iter().filter_map(move |&e| value(id, e))).fold(1.2_f64, f64::max);
    let step = tick_step(peak);
    let ymax = (peak / step).ceil() * step;
    let y_of = |v: f64| top + PLOT_H - v / ymax * PLOT_H;
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="{:.0}" font-size="13" font-weight="bold">{}</text>"#,
        top - 12.0,
        escape(title)
    );
    let mut t = 0.0;
    while t <= ymax + 1e-9 {
        let y = y_of(t);
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.0}" y="{:.1}" text-anchor="end">{t:.2}</text>"##,
            width - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
        t += step;
    }
    let _ = writeln!(o, r#"<line x1="{LEFT}" x2="{LEFT}" y1="{top}" y2="{:.1}" stroke="black"/>"#, top + PLOT_H);
    let _ = writeln!(
        o,
        r#"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/>"#,
        width - RIGHT,
        top + PLOT_H,
        top + PLOT_H
    );
    let _ = writeln!(
        o,
        r#"<text transform="translate(16 {:.0}) rotate(-90)" text-anchor="middle">{}</text>"#,
        top + PLOT_H / 2.0,
        escape(axis)
    );
    for (gi, id) in cases.iter().enumerate() {
        let gx = LEFT + gi as f64 * group_w + GAP / 2.0;
        for (ai, &e) in allocs.iter().enumerate() {
            let x = gx + ai as f64 * BAR_W;
            let cx = x + BAR_W / 2.0;
            match value(id, e) {
                Some(v) => {
                    let y = y_of(v);
                    let _ = writeln!(
                        o,
                        r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {v:.3}</title></rect>"#,
                        BAR_W - 2.0,
                        top + PLOT_H - y,
                        colour(e),
                        escape(id),
                        escape(e.name())
                    );
                    let _ = writeln!(
                        o,
                        r#"<text transform="translate({:.1} {:.1}) rotate(-90)" font-size="9">{v:.2}</text>"#,
                        cx + 2.0,
                        y - 3.0
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        r##"<text transform="translate({:.1} {:.1}) rotate(-90)" font-size="9" fill="#c00">n/a</text>"##,
                        cx + 2.0,
                        top + PLOT_H - 3.0
                    );
                }
            }
        }
        let lx = gx + allocs.len() as f64 * BAR_W / 2.0;
        let _ = writeln!(
            o,
            r#"<text transform="translate({lx:.1} {:.1}) rotate(-35)" text-anchor="end">{}</text>"#,
            top + PLOT_H + 14.0,
            escape(id)
        );
    }
    let y1 = y_of(1.0);
    let _ = writeln!(
        o,
        r#"<line x1="{LEFT}" x2="{:.1}" y1="{y1:.1}" y2="{y1:.1}" stroke="black" stroke-dasharray="5 4"/>"#,
        width - RIGHT
    );
}

/// Renders the chart of one build: throughput relative to the system
/// allocator (higher is better) above peak RSS relative to it (lower is
/// better).
pub fn chart(s: &Summary, meta: &Meta, build: Build) -> String {
    let cases = s.case_ids();
    let mut allocs: Vec<Entrant> = Vec::new();
    for r in &s.rows {
        if r.entrant != Entrant::Floor && !allocs.contains(&r.entrant) {
            allocs.push(r.entrant);
        }
    }
    let base = if allocs.contains(&Entrant::Alloc(Alloc::System)) {
        Entrant::Alloc(Alloc::System)
    } else {
        allocs.first().copied().unwrap_or(Entrant::Alloc(Alloc::System))
    };
    let speed = |id: &str, e: Entrant| -> Option<f64> {
        let b = s.median(id, base)?;
        let v = s.median(id, e)?;
        (b > 0.0).then_some(v / b)
    };
    let rss = |id: &str, e: Entrant| -> Option<f64> {
        let b = s.row(id, base)?.stat.rss_kib?;
        let v = s.row(id, e)?.stat.rss_kib?;
        (b > 0.0).then_some(v / b)
    };
    let group_w = allocs.len() as f64 * BAR_W + GAP;
    let width = (LEFT + cases.len() as f64 * group_w + RIGHT).max(640.0);
    let panel_h = PLOT_H + BOTTOM + 40.0;
    let height = TOP + 2.0 * panel_h;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{} (median of {} runs{}); 1.0 = {}</text>"#,
        escape(build.label()),
        meta.runs,
        if meta.quick { ", quick" } else { "" },
        base.name()
    );
    for (i, &e) in allocs.iter().enumerate() {
        let x = LEFT + i as f64 * 130.0;
        let _ = writeln!(
            o,
            r#"<rect x="{x}" y="36" width="12" height="12" fill="{}"/><text x="{:.0}" y="46">{}</text>"#,
            colour(e),
            x + 16.0,
            escape(e.name())
        );
    }
    let speed_axis = format!("rate ÷ {} rate", base.name());
    let rss_axis = format!("peak RSS ÷ {} peak RSS", base.name());
    panel(&mut o, (TOP + 20.0, width), "Throughput (higher is better)", &speed_axis, &cases, &allocs, &speed);
    panel(&mut o, (TOP + 20.0 + panel_h, width), "Peak RSS (lower is better)", &rss_axis, &cases, &allocs, &rss);
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_few() {
        for max in [1.2, 2.0, 3.7, 12.0, 90.0] {
            let step = tick_step(max);
            assert!(max / step <= 8.0, "{max} {step}");
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b&c"), "a&lt;b&amp;c");
    }
}
