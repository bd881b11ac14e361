//! One chart layer: a chart is described once, here in Rust, as a [`Figure`] — its axes (range,
//! ticks, how ticks print), its marks (lines, points, rectangles, rules, labels) in data
//! coordinates with their colours and tooltips, and its legend. Two renderers draw the same
//! description: [`super::charts::draw_figures`] into a PNG, and the dashboard's generic
//! `figure()` function into SVG (the figure travels in the page's JSON). Neither renderer knows
//! what a chart means; the builders in [`super::figures`] do.

use serde::Serialize;

/// How an axis prints its ticks. The dashboard maps each to its locale-aware formatter, the
/// PNG renderer to [`Format::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Format {
    /// Whole numbers with thousands separators.
    Int,
    /// As many decimals as the tick step needs (the axis's `decimals`).
    Num,
    /// Compact: 1.5K, 2M.
    Compact,
    /// Money, compact (the page's currency symbol in the dashboard).
    MoneyShort,
    /// Money: two decimals below 100, whole amounts with separators above.
    Money,
    /// A fraction as a whole percentage: 0.25 → 25%.
    Pct0,
    /// Seconds: "1.5 s" (decimals from the ticks).
    Seconds,
    /// A rate: 0.075 → "7.5%" (up to two decimals, trailing zeros trimmed).
    Rate,
    /// A rate difference in percentage points: 0.0043 → "0.43 pp" (decimals from the ticks).
    Pp,
    /// Category names (the axis's `names`, at positions 0, 1, 2, ...).
    Name,
}

impl Format {
    /// The PNG's tick label for `v`.
    pub(crate) fn label(self, v: f64, decimals: usize, names: &[String]) -> String {
        match self {
            Format::Int => {
                let sign = if v < 0.0 { "-" } else { "" };
                format!("{sign}{}", crate::numfmt::grouped(v.abs().round() as u64))
            }
            Format::Num => format!("{v:.decimals$}"),
            Format::Compact | Format::MoneyShort => super::charts::fmt_compact(v),
            Format::Money if v.abs() < 100.0 => format!("{v:.2}"),
            Format::Money => {
                let sign = if v < 0.0 { "-" } else { "" };
                format!("{sign}{}", crate::numfmt::thousands(v.abs()))
            }
            Format::Pct0 => format!("{:.0}%", v * 100.0),
            Format::Seconds => format!("{v:.decimals$} s"),
            Format::Rate => crate::numfmt::rate(v),
            Format::Pp => format!("{:.*} pp", decimals.saturating_sub(2), v * 100.0),
            Format::Name => {
                let i = v.round();
                if i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }
}

/// One axis: its range in data units, labelled tick positions and how they print.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Axis {
    /// The axis title.
    pub label: String,
    /// Lower end of the drawn range.
    pub lo: f64,
    /// Upper end of the drawn range.
    pub hi: f64,
    /// Labelled tick positions.
    pub ticks: Vec<f64>,
    /// How a tick prints.
    pub format: Format,
    /// Decimals of [`Format::Num`]: enough to tell the ticks apart.
    pub decimals: usize,
    /// Positions are log10 of the values: a tick at 2 prints as the format of 100.
    pub log10: bool,
    /// Grid lines at the ticks.
    pub grid: bool,
    /// Category names for [`Format::Name`].
    pub names: Vec<String>,
}

impl Axis {
    /// A linear axis whose range is widened to round ticks (about `target` of them) covering
    /// `lo..hi`, as a person would draw it by hand.
    pub(crate) fn nice(label: &str, lo: f64, hi: f64, target: usize, format: Format) -> Axis {
        let (lo, hi, ticks) = nice_range(lo, hi, target);
        Axis::fixed(label, lo, hi, ticks, format)
    }

    /// A linear axis over exactly `lo..hi` with the given ticks.
    pub(crate) fn fixed(label: &str, lo: f64, hi: f64, ticks: Vec<f64>, format: Format) -> Axis {
        Axis {
            label: label.to_string(),
            lo,
            hi,
            decimals: decimals_of(&ticks),
            ticks,
            format,
            log10: false,
            grid: true,
            names: Vec::new(),
        }
    }

    /// A log10 axis over the positive values `lo..hi` (in value units), widened by 3% of its
    /// span (at least 0.04 decade) so that edge points stay inside, ticks at 1, 2, 5 × 10^k
    /// (only the powers of ten over three decades or more). Marks on it are placed at log10 of
    /// their values.
    pub(crate) fn log(label: &str, lo: f64, hi: f64, format: Format) -> Axis {
        let (lo, hi) = (lo.log10(), hi.log10());
        let pad = ((hi - lo) * 0.03).max(0.04);
        let (lo, hi) = (lo - pad, hi + pad);
        let (ticks, _) = super::charts::log_ticks(lo, hi);
        Axis {
            label: label.to_string(),
            lo,
            hi,
            decimals: 0,
            ticks,
            format,
            log10: true,
            grid: true,
            names: Vec::new(),
        }
    }

    /// A tick's label.
    pub(crate) fn tick_label(&self, v: f64) -> String {
        let v = if self.log10 { 10f64.powf(v) } else { v };
        self.format.label(v, self.decimals, &self.names)
    }

    /// Categories at 0, 1, 2, ... each in a slot of width 1 (from i − 0.5 to i + 0.5).
    pub(crate) fn categories(label: &str, names: Vec<String>) -> Axis {
        let n = names.len().max(1) as f64;
        Axis {
            label: label.to_string(),
            lo: -0.5,
            hi: n - 0.5,
            ticks: (0..names.len()).map(|i| i as f64).collect(),
            format: Format::Name,
            decimals: 0,
            log10: false,
            grid: false,
            names,
        }
    }
}

/// The decimals that print every tick as itself: 0.25 needs 2, 0.5 one, 5 none (at most 6).
pub(crate) fn decimals_of(ticks: &[f64]) -> usize {
    (0..=6)
        .find(|&d| {
            ticks.iter().all(|t| {
                (format!("{t:.d$}").parse::<f64>().unwrap_or(f64::NAN) - t).abs() <= t.abs() * 1e-9
            })
        })
        .unwrap_or(6)
}

/// Round ticks covering `lo..hi`: step 1, 2 or 5 × 10^k for about `target` steps; the first
/// and last tick bound the returned range. An empty or non-finite span becomes 0..1, a zero
/// span is widened by 10%.
pub(crate) fn nice_range(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    if hi == lo {
        if lo == 0.0 {
            hi = 1.0;
        } else {
            let pad = lo.abs() * 0.1;
            lo -= pad;
            hi += pad;
        }
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let step = magnitude
        * if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
    let start = (lo / step + 1e-9).floor() as i64;
    let end = (hi / step - 1e-9).ceil() as i64;
    let ticks: Vec<f64> = (start..=end)
        .map(|i| {
            let t = i as f64 * step;
            // 0.30000000000000004 → 0.3, and no "-0".
            let t: f64 = format!("{t:.12e}").parse().unwrap_or(t);
            if t == 0.0 {
                0.0
            } else {
                t
            }
        })
        .collect();
    (ticks[0], ticks[ticks.len() - 1], ticks)
}

/// Where a label sits relative to its anchor point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Anchor {
    /// The text starts at the point.
    Start,
    /// The text is centred on the point.
    Middle,
    /// The text ends at the point.
    End,
}

/// What a figure draws, in data coordinates. Colours are `#rrggbb`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "mark", rename_all = "snake_case")]
pub(crate) enum Mark {
    /// A polyline through the points.
    Line {
        x: Vec<f64>,
        y: Vec<f64>,
        colour: String,
        width: f64,
        dashed: bool,
    },
    /// Dots (or squares), each with a tooltip (empty: none).
    Points {
        x: Vec<f64>,
        y: Vec<f64>,
        colour: String,
        radius: f64,
        square: bool,
        /// Drawn as an outline only.
        hollow: bool,
        /// Hover targets for the tooltips, marking places on a line: drawn in the page only.
        hover: bool,
        tips: Vec<String>,
        /// The segment these belong to: the page mutes them when another is selected.
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<usize>,
    },
    /// Filled rectangles from (x0, y0) to (x1, y1), each with its colour and tooltip.
    Rects {
        x0: Vec<f64>,
        x1: Vec<f64>,
        y0: Vec<f64>,
        y1: Vec<f64>,
        colours: Vec<String>,
        tips: Vec<String>,
        /// The segment these belong to: the page fades them when another is selected.
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<usize>,
    },
    /// Straight segments from (x0, y0) to (x1, y1).
    Rules {
        x0: Vec<f64>,
        y0: Vec<f64>,
        x1: Vec<f64>,
        y1: Vec<f64>,
        colour: String,
        width: f64,
        dashed: bool,
    },
    /// Text at a data point, shifted by (dx, dy) pixels (y down); drawn above every other mark.
    Text {
        x: f64,
        y: f64,
        text: String,
        anchor: Anchor,
        dx: f64,
        dy: f64,
        /// A data value (plain ink) rather than an annotation (muted, italic in the page).
        value: bool,
        /// The segment it belongs to: the page fades it when another is selected.
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<usize>,
    },
    /// Many dots, each with its own shade or size: a beeswarm, a dependence plot, bubbles.
    /// Tooltips come as text per dot, or for thousands of dots as `tip_lines` the page formats.
    Dots {
        x: Vec<f64>,
        y: Vec<f64>,
        /// The colour of every dot without a shade.
        colour: String,
        /// Per dot, a place on the low (blue) → high (red) feature-value scale of
        /// [`shade_colour`]; NaN is grey. Empty: every dot is `colour`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        shades: Vec<f64>,
        /// The radius of every dot, pixels in the page.
        radius: f64,
        /// Per dot radii, replacing `radius` when given.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        radii: Vec<f64>,
        /// Half-transparent fill with a white ring, for overlapping bubbles.
        translucent: bool,
        /// A tooltip per dot (empty: built from `tip_title` and `tip_lines`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tips: Vec<String>,
        /// The first line of every built tooltip.
        #[serde(skip_serializing_if = "String::is_empty")]
        tip_title: String,
        /// One line per entry: its label and the dot's value, formatted.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tip_lines: Vec<TipLine>,
        /// The segment these belong to: the page mutes them when another is selected.
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<usize>,
    },
}

/// One line of the tooltips of [`Mark::Dots`]: `label: value`, the value printed by `format`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TipLine {
    pub label: String,
    pub format: Format,
    /// Decimals of [`Format::Num`] and [`Format::Pp`] (as an axis's).
    pub decimals: usize,
    /// Where the values come from.
    pub of: TipOf,
}

/// The values of a [`TipLine`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TipOf {
    /// The dot's x in data units (10^x on a log10 axis).
    X,
    /// The dot's y in data units.
    Y,
    /// A value per dot.
    Values(Vec<f64>),
}

/// The feature-value colour scale of SHAP plots: blue (#008bfb) at 0 to red (#ff0052) at 1,
/// grey (#9a9a9a) for NaN, as `#rrggbb`. The page mixes the same two colours.
pub(crate) fn shade_colour(t: f64) -> (u8, u8, u8) {
    if !t.is_finite() {
        return (0x9a, 0x9a, 0x9a);
    }
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    (mix(0x00, 0xff), mix(0x8b, 0x00), mix(0xfb, 0x52))
}

/// A legend entry: a line sample or a filled square.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Key {
    pub label: String,
    pub colour: String,
    pub line: bool,
    /// The segment it names: muted in the page when another is selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<usize>,
}

/// A whole chart.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figure {
    /// What the chart shows: the PNG panel's caption, the SVG's accessible name, and the key
    /// a dashboard selector lists.
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub marks: Vec<Mark>,
    pub legend: Vec<Key>,
    /// Height in the dashboard, pixels.
    pub height: u32,
    /// Room left of the plot for the y tick labels in the dashboard, pixels.
    pub left: u32,
}

impl Figure {
    /// An empty figure on the given axes.
    pub(crate) fn new(title: impl Into<String>, x: Axis, y: Axis) -> Figure {
        Figure {
            title: title.into(),
            x,
            y,
            marks: Vec::new(),
            legend: Vec::new(),
            height: 300,
            left: 64,
        }
    }

    /// Widens the x axis to the right by `frac` of its span (room for long value labels at
    /// the bars' ends), with round ticks again.
    pub(crate) fn widen_x(&mut self, frac: f64) -> &mut Figure {
        let span = self.x.hi - self.x.lo;
        let (lo, hi, ticks) = nice_range(self.x.lo, self.x.hi + span * frac, 5);
        self.x.lo = lo;
        self.x.hi = hi;
        self.x.decimals = decimals_of(&ticks);
        self.x.ticks = ticks;
        self
    }

    /// Adds a mark.
    pub(crate) fn mark(&mut self, mark: Mark) -> &mut Figure {
        self.marks.push(mark);
        self
    }

    /// Adds a legend entry.
    pub(crate) fn key(
        &mut self,
        label: impl Into<String>,
        colour: &str,
        line: bool,
    ) -> &mut Figure {
        self.legend.push(Key {
            label: label.into(),
            colour: colour.to_string(),
            line,
            cluster: None,
        });
        self
    }
}

/// `#rrggbb` → (r, g, b); anything else is mid grey.
pub(crate) fn rgb(colour: &str) -> (u8, u8, u8) {
    let hex = colour.trim_start_matches('#');
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    match (hex.len(), channel(0), channel(2), channel(4)) {
        (6, Some(r), Some(g), Some(b)) => (r, g, b),
        _ => (128, 128, 128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ranges_cover_the_data_with_round_ticks() {
        let (lo, hi, ticks) = nice_range(0.0, 1.37, 5);
        assert_eq!((lo, hi), (0.0, 1.5));
        assert_eq!(ticks, vec![0.0, 0.5, 1.0, 1.5]);
        let (_, _, ticks) = nice_range(0.0, 0.7, 5);
        assert_eq!(ticks, vec![0.0, 0.2, 0.4, 0.6, 0.8]);
        let (lo, hi, ticks) = nice_range(-12.0, 48.0, 5);
        assert_eq!((lo, hi), (-20.0, 60.0));
        assert_eq!(ticks.len(), 5);
        // A zero span is widened, an empty one becomes 0..1.
        assert_eq!(nice_range(0.0, 0.0, 5).1, 1.0);
        assert_eq!(nice_range(f64::NAN, 3.0, 5).0, 0.0);
        let (lo, hi, _) = nice_range(50.0, 50.0, 4);
        assert!(lo < 50.0 && hi > 50.0);
    }

    #[test]
    fn tick_labels() {
        assert_eq!(Format::Int.label(-12_345.4, 0, &[]), "-12,345");
        assert_eq!(Format::Num.label(0.125, 2, &[]), "0.12");
        assert_eq!(Format::Compact.label(1_500_000.0, 0, &[]), "1.5M");
        assert_eq!(Format::MoneyShort.label(-2_500.0, 0, &[]), "-2.5k");
        assert_eq!(Format::Pct0.label(0.25, 0, &[]), "25%");
        assert_eq!(Format::Money.label(25.0, 0, &[]), "25.00");
        assert_eq!(Format::Money.label(-1_250.0, 0, &[]), "-1,250");
        assert_eq!(Format::Pp.label(0.005, 3, &[]), "0.5 pp");
        assert_eq!(Format::Num.label(0.25, 1, &[]), "0.2");
        assert_eq!(decimals_of(&[0.8, 0.85, 0.9]), 2);
        assert_eq!(decimals_of(&[0.0, 0.5, 1.0]), 1);
        assert_eq!(decimals_of(&[0.0, 500.0, 1000.0]), 0);
        // Each Num axis carries the decimals its ticks need.
        assert_eq!(Axis::nice("", 0.8, 1.0, 5, Format::Num).decimals, 2);
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(Format::Name.label(1.0, 0, &names), "b");
        assert_eq!(Format::Name.label(2.0, 0, &names), "");
        assert_eq!(Format::Compact.label(0.0, 0, &[]), "0");
        assert_eq!(Format::Compact.label(12.5, 0, &[]), "12.5");
        assert_eq!(Format::Compact.label(8_000_000.0, 0, &[]), "8M");
    }

    #[test]
    fn shades_run_from_blue_to_red() {
        assert_eq!(shade_colour(0.0), (0x00, 0x8b, 0xfb));
        assert_eq!(shade_colour(1.0), (0xff, 0x00, 0x52));
        assert_eq!(shade_colour(-3.0), (0x00, 0x8b, 0xfb), "clamped below");
        assert_eq!(shade_colour(7.0), (0xff, 0x00, 0x52), "clamped above");
        assert_eq!(shade_colour(0.5), (0x80, 0x46, 0xa7));
        assert_eq!(shade_colour(f64::NAN), (0x9a, 0x9a, 0x9a));
    }

    #[test]
    fn colours_parse() {
        assert_eq!(rgb("#2563eb"), (0x25, 0x63, 0xeb));
        assert_eq!(rgb("blue"), (128, 128, 128));
    }

    #[test]
    fn figures_serialise_with_tagged_marks() {
        let mut f = Figure::new(
            "t",
            Axis::nice("x", 0.0, 1.0, 5, Format::Pct0),
            Axis::categories("y", vec!["a".into()]),
        );
        f.mark(Mark::Text {
            x: 0.5,
            y: 0.0,
            text: "hi".into(),
            anchor: Anchor::End,
            dx: 0.0,
            dy: 0.0,
            value: false,
            cluster: None,
        });
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains(r#""mark":"text""#), "{json}");
        assert!(json.contains(r#""format":"pct0""#), "{json}");
        assert!(json.contains(r#""anchor":"end""#), "{json}");
    }
}
