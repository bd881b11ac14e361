//! The EDA's spend overview (`analytics_summary.png`, SPEC §5) as four [`Figure`]s: the spend
//! histogram on log bins with its median and mean, the box plot with the 1.5·IQR fence and the
//! high-spend outliers, average item price against spend (log–log) and the top countries. The
//! PNG renderer draws them like every other chart.

use super::charts::{
    bin_count, box_stats, fmt_amount, fmt_count, log_bin_edges, log_ticks, log_values, plural,
    quantile_sorted, subsample_indices, truncate_label, unit_hash, LogValues, SpendOverview,
    MAX_DRAWN_POINTS, SUBSAMPLE_SALT,
};
use super::figure::{Anchor, Axis, Figure, Format, Mark};
use super::figures::{hbars, min_max, Bar};

const STEEL: &str = "#3b6ea8";
const INK: &str = "#222222";
const FENCE_RED: &str = "#d62728";
const MEAN_ORANGE: &str = "#e67e22";
/// Bars in the country chart: the rest are summed into "Other".
const MAX_COUNTRY_BARS: usize = 12;

/// The four panels, in reading order.
pub(crate) fn spend_overview(data: &SpendOverview) -> Vec<Figure> {
    let spend = log_values(data.total_spent);
    let fence = if data.upper_fence.is_finite() {
        data.upper_fence
    } else {
        let mut sorted: Vec<f64> = data
            .total_spent
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        sorted.sort_by(f64::total_cmp);
        box_stats(&sorted).map_or(f64::NAN, |b| b.upper_fence)
    };
    vec![
        histogram(&spend),
        boxplot(data.total_spent, &spend, fence),
        price_vs_spend(data.total_spent, data.avg_item_price, fence),
        countries(data.countries, data.total_spent.len()),
    ]
}

/// A log10 axis exactly over `lo..hi` (log10 units), ticks at 1-2-5 steps or decades.
fn log_axis(label: &str, lo: f64, hi: f64) -> Axis {
    Axis {
        log10: true,
        decimals: 0,
        ..Axis::fixed(label, lo, hi, log_ticks(lo, hi).0, Format::Compact)
    }
}

/// A panel that has nothing to draw, saying why.
fn no_data(title: &str, message: &str) -> Figure {
    let none = || Axis::fixed("", 0.0, 1.0, Vec::new(), Format::Num);
    let mut figure = Figure::new(title, none(), none());
    figure.mark(text(0.5, 0.5, message, Anchor::Middle, 0.0, 0.0));
    figure
}

fn text(x: f64, y: f64, text: &str, anchor: Anchor, dx: f64, dy: f64) -> Mark {
    Mark::Text {
        x,
        y,
        text: text.to_string(),
        anchor,
        dx,
        dy,
        value: false,
        cluster: None,
    }
}

/// Notes stacked in a corner of the plot: from its top (`top`) or bottom, at the left
/// (`Anchor::Start`) or right (`Anchor::End`).
fn notes(figure: &mut Figure, lines: &[String], top: bool, anchor: Anchor) {
    let x = if anchor == Anchor::End {
        figure.x.hi
    } else {
        figure.x.lo
    };
    let dx = if anchor == Anchor::End { -8.0 } else { 8.0 };
    let n = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let (y, dy) = if top {
            (figure.y.hi, 20.0 + 18.0 * i as f64)
        } else {
            (figure.y.lo, -8.0 - 18.0 * (n - 1 - i) as f64)
        };
        figure.mark(text(x, y, line, anchor, dx, dy));
    }
}

/// What a log axis leaves out.
fn dropped_notes(what: &str, logs: &LogValues) -> Vec<String> {
    let mut notes = Vec::new();
    if logs.non_positive > 0 {
        notes.push(format!(
            "{} {what} ≤ 0 not shown (log axis)",
            fmt_count(logs.non_positive)
        ));
    }
    if logs.non_finite > 0 {
        notes.push(format!(
            "{} missing/non-finite not shown",
            fmt_count(logs.non_finite)
        ));
    }
    notes
}

/// A vertical rule over the whole plot height.
fn vertical(figure: &Figure, x: f64, colour: &str, dashed: bool) -> Mark {
    Mark::Rules {
        x0: vec![x],
        y0: vec![figure.y.lo],
        x1: vec![x],
        y1: vec![figure.y.hi],
        colour: colour.into(),
        width: 2.0,
        dashed,
    }
}

fn histogram(spend: &LogValues) -> Figure {
    let title = "Distribution of total spend (log scale)";
    let logs = &spend.logs;
    let Some((lo, hi)) = min_max(logs) else {
        return no_data(title, "no customers with positive spend");
    };
    let edges = log_bin_edges(lo, hi, bin_count(logs.len()));
    let counts = super::charts::histogram_counts(logs, &edges);
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut figure = Figure::new(
        title,
        log_axis(
            "Total spent per customer (log scale)",
            edges[0],
            edges[edges.len() - 1],
        ),
        Axis::nice("Customers", 0.0, top * 1.15, 6, Format::Compact),
    );
    let n = counts.len();
    figure.mark(Mark::Rects {
        x0: edges[..n].to_vec(),
        x1: edges[1..].to_vec(),
        y0: vec![0.0; n],
        y1: counts.iter().map(|&c| c as f64).collect(),
        colours: vec![STEEL.into(); n],
        tips: Vec::new(),
        cluster: None,
    });
    let mut values: Vec<f64> = logs.iter().map(|l| 10f64.powf(*l)).collect();
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let median = quantile_sorted(&values, 0.5).unwrap_or(mean);
    for (label, v, colour) in [("median", median, INK), ("mean", mean, MEAN_ORANGE)] {
        figure.mark(vertical(&figure, v.log10(), colour, true));
        figure.key(format!("{label} {}", fmt_amount(v)), colour, true);
    }
    let mut lines = vec![format!(
        "{}, {}",
        plural(logs.len(), "customer"),
        plural(n, "bin")
    )];
    lines.extend(dropped_notes("with spend", spend));
    notes(&mut figure, &lines, true, Anchor::End);
    figure
}

fn boxplot(total_spent: &[f64], spend: &LogValues, fence: f64) -> Figure {
    let title = "Total spend: box plot and high-spend outliers";
    let mut sorted: Vec<f64> = spend.logs.iter().map(|l| 10f64.powf(*l)).collect();
    sorted.sort_by(f64::total_cmp);
    let Some(stats) = box_stats(&sorted) else {
        return no_data(title, "no customers with positive spend");
    };
    let fence = if fence.is_finite() {
        fence
    } else {
        stats.upper_fence
    };
    // Whiskers end at the last customer inside the fences; the upper fence is the EDA's.
    let whisker_high = sorted
        .iter()
        .rev()
        .copied()
        .find(|&v| v <= fence)
        .unwrap_or(stats.q3);
    let outliers_high = total_spent
        .iter()
        .filter(|v| v.is_finite() && **v > fence)
        .count();
    let finite = total_spent.iter().filter(|v| v.is_finite()).count().max(1);
    let (mut lo, mut hi) = (sorted[0].log10(), sorted[sorted.len() - 1].log10());
    if fence > 0.0 {
        (lo, hi) = (lo.min(fence.log10()), hi.max(fence.log10()));
    }
    let pad = ((hi - lo) * 0.03).max(0.04);
    let mut figure = Figure::new(
        title,
        log_axis("Total spent per customer (log scale)", lo - pad, hi + pad),
        Axis::fixed("", 0.0, 1.0, Vec::new(), Format::Num),
    );
    figure.y.grid = false;
    let lg = |v: f64| v.max(sorted[0]).log10();
    let (box_lo, box_hi, mid) = (0.4, 0.64, 0.52);
    figure.mark(Mark::Rects {
        x0: vec![lg(stats.q1)],
        x1: vec![lg(stats.q3)],
        y0: vec![box_lo],
        y1: vec![box_hi],
        colours: vec!["#b1c5dc".into()],
        tips: Vec::new(),
        cluster: None,
    });
    let (w_lo, w_hi) = (lg(stats.whisker_low), lg(whisker_high));
    let (q1, q3, median) = (lg(stats.q1), lg(stats.q3), lg(stats.median));
    figure.mark(Mark::Rules {
        x0: vec![median, w_lo, q3, w_lo, w_hi],
        y0: vec![box_lo, mid, mid, mid - 0.05, mid - 0.05],
        x1: vec![median, q1, w_hi, w_lo, w_hi],
        y1: vec![box_hi, mid, mid, mid + 0.05, mid + 0.05],
        colour: INK.into(),
        width: 2.0,
        dashed: false,
    });
    // Outliers (beyond either whisker), jittered vertically so that dense runs stay visible.
    let outliers: Vec<(usize, f64)> = sorted
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, v)| v > fence || v < stats.lower_fence)
        .collect();
    let keep = subsample_indices(outliers.len(), MAX_DRAWN_POINTS, SUBSAMPLE_SALT);
    figure.mark(Mark::Dots {
        x: keep.iter().map(|&k| outliers[k].1.log10()).collect(),
        y: keep
            .iter()
            .map(|&k| mid + (unit_hash(outliers[k].0, SUBSAMPLE_SALT) - 0.5) * 0.16)
            .collect(),
        colour: FENCE_RED.into(),
        shades: Vec::new(),
        radius: 2.2,
        radii: Vec::new(),
        translucent: keep.len() > 500,
        tips: Vec::new(),
        tip_title: String::new(),
        tip_lines: Vec::new(),
        cluster: None,
    });
    if fence > 0.0 {
        let x = fence.log10();
        figure.mark(Mark::Rules {
            x0: vec![x],
            y0: vec![0.18],
            x1: vec![x],
            y1: vec![0.86],
            colour: FENCE_RED.into(),
            width: 2.0,
            dashed: true,
        });
        // Anchored on the side where the label fits inside the plot.
        let at = (x - figure.x.lo) / (figure.x.hi - figure.x.lo);
        let anchor = if at > 0.75 {
            Anchor::End
        } else if at < 0.25 {
            Anchor::Start
        } else {
            Anchor::Middle
        };
        let label = format!("upper fence {}", fmt_amount(fence));
        figure.mark(text(x, 0.88, &label, anchor, 0.0, 0.0));
    }
    let mut lines = vec![
        format!(
            "median {}   Q1 {}   Q3 {}",
            fmt_amount(stats.median),
            fmt_amount(stats.q1),
            fmt_amount(stats.q3)
        ),
        format!(
            "{} high-spend outliers above Q3 + 1.5·IQR ({:.1}% of customers)",
            fmt_count(outliers_high),
            100.0 * outliers_high as f64 / finite as f64
        ),
    ];
    lines.extend(dropped_notes("with spend", spend));
    notes(&mut figure, &lines, false, Anchor::Start);
    figure
}

fn price_vs_spend(total_spent: &[f64], avg_item_price: &[f64], fence: f64) -> Figure {
    let title = "Average item price vs total spend (log–log)";
    let n = total_spent.len().min(avg_item_price.len());
    let mut pairs = Vec::with_capacity(n);
    let mut dropped = LogValues::default();
    for i in 0..n {
        let (s, p) = (total_spent[i], avg_item_price[i]);
        if !(s.is_finite() && p.is_finite()) {
            dropped.non_finite += 1;
        } else if s <= 0.0 || p <= 0.0 {
            dropped.non_positive += 1;
        } else {
            pairs.push((s, p));
        }
    }
    let spends: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let prices: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) = (min_max(&spends), min_max(&prices)) else {
        return no_data(title, "no customers with positive spend and price");
    };
    let mut figure = Figure::new(
        title,
        Axis::log(
            "Total spent per customer (log scale)",
            x_lo,
            x_hi,
            Format::Compact,
        ),
        Axis::log(
            "Average item price (log scale)",
            y_lo,
            y_hi,
            Format::Compact,
        ),
    );
    let keep = subsample_indices(pairs.len(), MAX_DRAWN_POINTS, SUBSAMPLE_SALT);
    figure.mark(Mark::Dots {
        x: keep.iter().map(|&i| pairs[i].0.log10()).collect(),
        y: keep.iter().map(|&i| pairs[i].1.log10()).collect(),
        colour: STEEL.into(),
        shades: Vec::new(),
        radius: 1.5,
        radii: Vec::new(),
        translucent: keep.len() > 4_000,
        tips: Vec::new(),
        tip_title: String::new(),
        tip_lines: Vec::new(),
        cluster: None,
    });
    let fence_log = fence.log10();
    let fence_on_right = fence > 0.0 && fence_log > figure.x.lo && fence_log < figure.x.hi;
    if fence_on_right {
        figure.mark(vertical(&figure, fence_log, FENCE_RED, true));
        figure.key(
            format!("upper fence {}", fmt_amount(fence)),
            FENCE_RED,
            true,
        );
    }
    let mut lines = vec![if keep.len() < pairs.len() {
        format!(
            "{} of {} customers drawn",
            fmt_count(keep.len()),
            fmt_count(pairs.len())
        )
    } else {
        format!("{} customers", fmt_count(pairs.len()))
    }];
    lines.extend(dropped_notes("with spend or price", &dropped));
    notes(&mut figure, &lines, false, Anchor::End);
    figure
}

fn countries(countries: &[(String, usize)], n_customers: usize) -> Figure {
    let title = "Top countries by number of customers";
    let mut rows: Vec<(String, usize)> = countries
        .iter()
        .filter(|(_, c)| *c > 0)
        .map(|(name, c)| (truncate_label(name, 24), *c))
        .collect();
    if rows.is_empty() {
        return no_data(title, "no country data");
    }
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let listed: usize = rows.iter().map(|r| r.1).sum();
    if rows.len() > MAX_COUNTRY_BARS {
        let rest = rows.split_off(MAX_COUNTRY_BARS - 1);
        let other: usize = rest.iter().map(|r| r.1).sum();
        rows.push((format!("Other ({} countries)", rest.len()), other));
    }
    // Shares are of all customers (not only of the listed countries) when that is known.
    let denominator = if n_customers > 0 { n_customers } else { listed } as f64;
    let bars: Vec<Bar> = rows
        .iter()
        .map(|(name, c)| Bar {
            label: name.clone(),
            value: *c as f64,
            text: format!(
                "{} ({:.1}%)",
                fmt_count(*c),
                100.0 * *c as f64 / denominator
            ),
            tip: String::new(),
            colour: STEEL.into(),
            cluster: None,
        })
        .collect();
    let mut figure = hbars(title, "Customers", &bars, Format::Int, 160);
    figure.widen_x(0.2);
    figure
}
