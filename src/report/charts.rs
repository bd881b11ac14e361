//! PNG charts for the EDA, segmentation and explanation stages (SPEC §5, §6, §8).
//!
//! Every public function takes plain data and writes one PNG, atomically (`<path>.tmp`, then a
//! rename), so a reader never sees a half-written chart. Text uses DejaVu Sans embedded in the
//! binary and registered with plotters' `ab_glyph` support, so rendering needs no system fonts.
//!
//! Design choices:
//! - Logarithmic axes are plain linear axes over `log10(value)` with hand-picked ticks
//!   (decades, or 1-2-5 steps on short spans) and labels printed as the original values: plotters'
//!   own log coordinates choose awkward ticks, and this keeps every chart on one coordinate type.
//! - Values that cannot be drawn (NaN, ±inf, and zero or negative values on a log axis) are
//!   dropped and counted in a note on the chart instead of failing.
//! - Large inputs are subsampled by a fixed hash order ([`subsample_indices`]), so the same data
//!   always gives the same picture and drawing stays fast at 100k customers.
//! - The PNG is encoded here (filters + zlib via `flate2`), which lets us write the exact
//!   `<path>.tmp` name; the bitmap backend would pick the encoder from the file extension.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};
// The style traits are used by path only: importing them makes `.color()`/`.stroke_width()`
// ambiguous on plotters' colour and text types.
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

use super::figure::{Anchor, Figure, Key, Mark};
use super::figures::{shap_beeswarm, SwarmFeature};

/// Errors raised while drawing or writing a chart.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChartError {
    /// The embedded TTF could not be parsed (a corrupted build, never user input).
    #[error("the embedded chart font could not be loaded")]
    Font,
    /// plotters reported an error while drawing.
    #[error("failed to draw {chart}: {message}")]
    Draw {
        /// Which chart was being drawn.
        chart: &'static str,
        /// plotters' message.
        message: String,
    },
    /// The PNG could not be encoded or written.
    #[error("failed to write chart {}", path.display())]
    Write {
        /// The file that could not be written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result of the chart functions.
pub(crate) type Result<T, E = ChartError> = std::result::Result<T, E>;

/// Spend data for `analytics_summary.png` (SPEC §5).
pub(crate) struct SpendOverview<'a> {
    /// Total spent per customer.
    pub total_spent: &'a [f64],
    /// Average item price per customer, parallel to `total_spent`.
    pub avg_item_price: &'a [f64],
    /// High-spend outlier fence (Q3 + 1.5·IQR of `total_spent`, as the EDA computed it);
    /// a non-finite value makes the chart compute it from `total_spent`.
    pub upper_fence: f64,
    /// Top countries by number of customers, descending.
    pub countries: &'a [(String, usize)],
}

/// SHAP values of one feature over the explained customers.
pub(crate) struct FeatureShap {
    /// Feature name.
    pub feature: String,
    /// Feature value per customer (colours the beeswarm).
    pub values: Vec<f64>,
    /// SHAP value per customer, parallel to `values`.
    pub shap: Vec<f64>,
}

// ---------------------------------------------------------------------------------------------
// Public chart functions
// ---------------------------------------------------------------------------------------------

/// Draws `analytics_summary.png`: spend histogram (log x), box plot with the 1.5·IQR fence,
/// price vs spend (log–log) and the top countries, as a 2×2 panel of 1600×1100 px.
pub(crate) fn analytics_summary(path: &Path, data: &SpendOverview) -> Result<()> {
    let title = format!(
        "Customer spend overview — {} customers",
        fmt_count(data.total_spent.len())
    );
    let figures = super::overview::spend_overview(data);
    draw_figures(
        "analytics_summary",
        path,
        Some(&title),
        &figures,
        2,
        (800, 525),
    )
}

/// Draws a SHAP beeswarm like the Python shap library's `summary_plot`: one row per feature,
/// largest mean |SHAP| on top, points coloured by the feature's value (5th–95th percentile,
/// blue → red). At most `max_points_per_feature` customers are drawn, chosen by a fixed hash
/// order (0 means no limit).
pub(crate) fn shap_summary(
    path: &Path,
    features: &[FeatureShap],
    max_points_per_feature: usize,
) -> Result<()> {
    let title = "SHAP summary — impact of each feature on the predicted cashback rate";
    let height = (150 + 46 * features.len().clamp(1, 40) as u32).max(420);
    let swarm: Vec<SwarmFeature> = features
        .iter()
        .map(|f| SwarmFeature {
            feature: &f.feature,
            values: &f.values,
            shap: &f.shap,
            cluster: &[],
        })
        .collect();
    match shap_beeswarm(&swarm, 40, max_points_per_feature, &|c| format!("C{c}")) {
        Some(figure) => draw_figures(
            "shap_summary",
            path,
            Some(title),
            &[figure],
            1,
            (1300, height - 50),
        ),
        None => render("shap_summary", path, (1300, height), |root| {
            draw_no_data(root, title, "no SHAP values")
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering, fonts and PNG output
// ---------------------------------------------------------------------------------------------

/// Family name under which the embedded font is registered (every chart uses it).
pub(crate) const FONT: &str = "fluz-sans";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Most points any single scatter draws; beyond this the picture no longer changes.
pub(crate) const MAX_DRAWN_POINTS: usize = 20_000;
/// Salt of the subsampling hash, fixed so that charts are reproducible.
pub(crate) const SUBSAMPLE_SALT: u64 = 0x5EED_C4A2_75F1_0A7B;

type Area<'a> = DrawingArea<Canvas<'a>, Shift>;
type DrawResult = std::result::Result<(), Box<dyn StdError>>;
type XY = Cartesian2d<Ticked, Ticked>;
type Chart<'a, 'b> = ChartContext<'a, Canvas<'b>, XY>;

/// Parses the embedded font and registers it with plotters, once per process.
fn embedded_font() -> Result<&'static FontRef<'static>> {
    static FONT_REF: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT_REF
        .get_or_init(|| {
            // Registered as well so that anything plotters lays out itself finds the same font.
            register_font(FONT, FontStyle::Normal, FONT_BYTES).ok()?;
            FontRef::try_from_slice(FONT_BYTES).ok()
        })
        .as_ref()
        .ok_or(ChartError::Font)
}

/// The bitmap backend with its own text rendering. plotters 0.3.7's `ab_glyph` text path
/// places each glyph without its left side bearing, which leaves visible gaps inside words
/// ("total _spent"); here text is laid out with ab_glyph directly (kerning, sub-pixel advances,
/// bearings). Everything else is forwarded to `BitMapBackend`.
struct Canvas<'a> {
    inner: BitMapBackend<'a>,
    font: &'static FontRef<'static>,
}

type CanvasError<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl Canvas<'_> {
    /// Width and height of `text` at `size` px (plotters' size is the font's ascent−descent).
    fn text_box(&self, text: &str, size: f64) -> (f32, f32) {
        let scaled = self.font.as_scaled(PxScale::from(size as f32));
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                width += scaled.kern(p, id);
            }
            width += scaled.h_advance(id);
            previous = Some(id);
        }
        (width, scaled.ascent() - scaled.descent())
    }
}

impl<'a> DrawingBackend for Canvas<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), CanvasError<'a>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: plotters_backend::BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> std::result::Result<(u32, u32), CanvasError<'a>> {
        let (w, h) = self.text_box(text, style.size());
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<S: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> std::result::Result<(), CanvasError<'a>> {
        let colour = style.color();
        if colour.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let (width, height) = self.text_box(text, style.size());
        let anchor = style.anchor();
        // Offsets are applied before the rotation, as plotters' default implementation does.
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Right => -width,
            HPos::Center => -width / 2.0,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.inner.get_size();
        let scale = PxScale::from(style.size() as f32);
        let scaled = self.font.as_scaled(scale);
        let mut caret = 0.0f32;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                caret += scaled.kern(p, id);
            }
            previous = Some(id);
            let glyph = id
                .with_scale_and_position(scale, ab_glyph::point(caret + dx, scaled.ascent() + dy));
            caret += scaled.h_advance(id);
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue; // whitespace
            };
            let bounds = outline.px_bounds();
            let mut result = Ok(());
            let inner = &mut self.inner;
            outline.draw(|gx, gy, coverage| {
                if coverage <= 0.0 || result.is_err() {
                    return;
                }
                let x = bounds.min.x as i32 + gx as i32;
                let y = bounds.min.y as i32 + gy as i32;
                let (tx, ty) = transform.transform(x, y);
                let (px, py) = (pos.0 + tx, pos.1 + ty);
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    result = inner.draw_pixel(
                        (px, py),
                        BackendColor {
                            alpha: colour.alpha * coverage.min(1.0) as f64,
                            rgb: colour.rgb,
                        },
                    );
                }
            });
            result?;
        }
        Ok(())
    }
}

/// Draws into an RGB buffer with `draw`, then encodes and writes the PNG atomically.
fn render(
    chart: &'static str,
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area) -> DrawResult,
) -> Result<()> {
    let font = embedded_font()?;
    let draw_error = |message: String| ChartError::Draw { chart, message };
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let canvas = Canvas {
            inner: BitMapBackend::with_buffer(&mut rgb, (width, height)),
            font,
        };
        let root = canvas.into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error(e.to_string()))?;
        // A small frame so that titles and labels never touch the image edge.
        let framed = root.margin(10, 6, 6, 6);
        draw(&framed).map_err(|e| draw_error(e.to_string()))?;
        root.present().map_err(|e| draw_error(e.to_string()))?;
    }
    let write_error = |source| ChartError::Write {
        path: path.to_path_buf(),
        source,
    };
    let png = encode_png(width, height, &rgb).map_err(write_error)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &png).map_err(write_error)?;
    std::fs::rename(&tmp, path).map_err(|source| {
        // Leave no stray temporary file behind when the rename fails.
        let _ = std::fs::remove_file(&tmp);
        write_error(source)
    })
}

/// Encodes 8-bit RGB pixels as a PNG (the `png` crate, adaptive filters).
pub(crate) fn encode_png(width: u32, height: u32, rgb: &[u8]) -> std::io::Result<Vec<u8>> {
    if rgb.len() != width as usize * 3 * height as usize || width == 0 || height == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "pixel buffer of {} bytes is not {width}×{height} RGB",
                rgb.len()
            ),
        ));
    }
    let failed = |err: png::EncodingError| std::io::Error::other(err.to_string());
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(rgb).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

/// Test support: a chart's pixels clearly coloured (max − min channel > 60) — the marks, never
/// the white background, the grey axes, grid or text — and of exactly `colour`.
#[cfg(test)]
pub(crate) fn ink(path: &Path, colour: Option<RGBColor>) -> usize {
    let file = std::fs::File::open(path).expect("chart file exists");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut rgb = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).expect("PNG data decodes");
    rgb.truncate(info.buffer_size());
    rgb.chunks_exact(3)
        .filter(|p| match colour {
            Some(c) => *p == [c.0, c.1, c.2],
            None => p.iter().max().unwrap() - p.iter().min().unwrap() > 60,
        })
        .count()
}

// ---------------------------------------------------------------------------------------------
// Pure helpers: filtering, bins, quantiles, ticks, colours, subsampling, formatting
// ---------------------------------------------------------------------------------------------

/// `log10` of the finite, positive values, with how many were non-positive and non-finite.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct LogValues {
    pub(crate) logs: Vec<f64>,
    pub(crate) non_positive: usize,
    pub(crate) non_finite: usize,
}

pub(crate) fn log_values(values: &[f64]) -> LogValues {
    let mut out = LogValues {
        logs: Vec::with_capacity(values.len()),
        ..LogValues::default()
    };
    for &v in values {
        if !v.is_finite() {
            out.non_finite += 1;
        } else if v <= 0.0 {
            out.non_positive += 1;
        } else {
            out.logs.push(v.log10());
        }
    }
    out
}

/// Bin edges in log10 space: `bins` equal-width bins from `lo` to `hi` (both log10). Equal or
/// reversed bounds give one decade-wide bin around `lo`, so a constant input still draws a bar.
pub(crate) fn log_bin_edges(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi - lo < 1e-12 {
        let centre = if lo.is_finite() { lo } else { 0.0 };
        return vec![centre - 0.5, centre + 0.5];
    }
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    (0..=bins)
        .map(|i| if i == bins { hi } else { lo + width * i as f64 })
        .collect()
}

/// Counts of `values` (log10) per bin of `edges`; values outside the edges are ignored and the
/// last bin includes its right edge.
pub(crate) fn histogram_counts(values: &[f64], edges: &[f64]) -> Vec<usize> {
    if edges.len() < 2 {
        return Vec::new();
    }
    let bins = edges.len() - 1;
    let (lo, hi) = (edges[0], edges[bins]);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        if !(v >= lo && v <= hi) {
            continue;
        }
        let mut bin = (((v - lo) / width) as usize).min(bins - 1);
        // Floating error can put a value one bin off its edge; the edges are the truth.
        while bin > 0 && v < edges[bin] {
            bin -= 1;
        }
        while bin + 1 < bins && v >= edges[bin + 1] {
            bin += 1;
        }
        counts[bin] += 1;
    }
    counts
}

/// Number of histogram bins for `n` values: √n, between 5 and 50.
pub(crate) fn bin_count(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).clamp(5, 50)
}

/// Quantile of sorted values with linear interpolation (numpy's default, as the EDA uses).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !q.is_finite() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = pos.floor() as usize;
    let above = pos.ceil() as usize;
    let frac = pos - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * frac)
}

/// Box-plot statistics with whiskers at the most extreme values within 1.5·IQR.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoxStats {
    pub(crate) q1: f64,
    pub(crate) median: f64,
    pub(crate) q3: f64,
    pub(crate) lower_fence: f64,
    pub(crate) upper_fence: f64,
    pub(crate) whisker_low: f64,
    pub(crate) whisker_high: f64,
}

pub(crate) fn box_stats(sorted: &[f64]) -> Option<BoxStats> {
    let q1 = quantile_sorted(sorted, 0.25)?;
    let median = quantile_sorted(sorted, 0.5)?;
    let q3 = quantile_sorted(sorted, 0.75)?;
    let iqr = q3 - q1;
    let lower_fence = q1 - 1.5 * iqr;
    let upper_fence = q3 + 1.5 * iqr;
    let whisker_low = sorted
        .iter()
        .copied()
        .find(|&v| v >= lower_fence)
        .unwrap_or(q1);
    let whisker_high = sorted
        .iter()
        .rev()
        .copied()
        .find(|&v| v <= upper_fence)
        .unwrap_or(q3);
    Some(BoxStats {
        q1,
        median,
        q3,
        lower_fence,
        upper_fence,
        whisker_low,
        whisker_high,
    })
}

/// Ticks for a log10 axis from `lo` to `hi` (both log10): bold (labelled) and light positions.
/// Decades on wide spans, 1-2-5 steps on one to three decades, every integer multiple below one
/// decade, and evenly spaced round values when even that gives fewer than two labels.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return (Vec::new(), Vec::new());
    }
    let span = hi - lo;
    let eps = 1e-9 * span.max(1.0);
    let mut bold = Vec::new();
    let mut light = Vec::new();
    let first = lo.floor() as i32;
    let last = hi.ceil() as i32;
    for decade in first..=last {
        for multiple in 1..=9 {
            let t = decade as f64 + (multiple as f64).log10();
            if t < lo - eps || t > hi + eps {
                continue;
            }
            let is_bold = if span >= 3.0 {
                multiple == 1
            } else if span >= 1.0 {
                matches!(multiple, 1 | 2 | 5)
            } else {
                true
            };
            if is_bold {
                bold.push(t);
            } else {
                light.push(t);
            }
        }
    }
    // Very wide spans: label every second (third, ...) decade to keep labels apart.
    if bold.len() > 9 {
        let step = bold.len().div_ceil(8);
        let thinned: Vec<f64> = bold.iter().copied().step_by(step).collect();
        light.extend(bold.iter().copied().filter(|t| !thinned.contains(t)));
        bold = thinned;
    }
    if bold.len() < 2 {
        // Less than one 1..9 step in range: use round values in value space instead.
        let (ticks, _) = nice_ticks(10f64.powf(lo), 10f64.powf(hi), 4);
        bold = ticks
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(f64::log10)
            .collect();
        light.clear();
    }
    light.sort_by(f64::total_cmp);
    (bold, light)
}

/// Round tick values ("nice numbers": 1, 2, 2.5, 5 × 10^k) covering about `target` steps
/// between `lo` and `hi`; also returns the step.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return (Vec::new(), 1.0);
    }
    let raw_step = (hi - lo) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw_step * 0.999)
        .unwrap_or(10.0 * magnitude);
    let mut ticks = Vec::new();
    let mut i = (lo / step).ceil();
    while i * step <= hi + step * 1e-9 {
        let t = i * step;
        // Avoid "-0" labels.
        ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        i += 1.0;
    }
    (ticks, step)
}

/// Colour scale of one feature as shap's summary plot builds it: the 5th–95th percentile range
/// (1st–99th, then min–max if that collapses), values clipped into it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ColourScale {
    pub(crate) low: f64,
    pub(crate) high: f64,
}

impl ColourScale {
    pub(crate) fn from_values(values: &[f64]) -> ColourScale {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let pair = |lo: f64, hi: f64| {
            (
                quantile_sorted(&sorted, lo).unwrap_or(0.0),
                quantile_sorted(&sorted, hi).unwrap_or(0.0),
            )
        };
        let (mut low, mut high) = pair(0.05, 0.95);
        if low == high {
            (low, high) = pair(0.01, 0.99);
        }
        if low == high {
            (low, high) = pair(0.0, 1.0);
        }
        ColourScale { low, high }
    }

    /// Position of `value` in [0, 1]; NaN for a missing value; 0.5 when the feature is constant.
    pub(crate) fn scale(&self, value: f64) -> f64 {
        if !value.is_finite() {
            return f64::NAN;
        }
        if self.high <= self.low {
            return 0.5;
        }
        ((value - self.low) / (self.high - self.low)).clamp(0.0, 1.0)
    }
}

/// splitmix64: a fast, well-mixed, fixed hash for deterministic ordering and jitter.
pub(crate) fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) derived from `i` and `salt`.
pub(crate) fn unit_hash(i: usize, salt: u64) -> f64 {
    (mix64(i as u64 ^ salt) >> 11) as f64 / (1u64 << 53) as f64
}

/// Indices of at most `max` of `n` items: all of them when `n <= max` (or `max` is 0, meaning
/// no limit), otherwise the `max` items first in a fixed hash order, returned ascending. The
/// same `n` always gives the same subset, so parallel arrays stay aligned across calls.
pub(crate) fn subsample_indices(n: usize, max: usize, salt: u64) -> Vec<usize> {
    if max == 0 || n <= max {
        return (0..n).collect();
    }
    let mut keyed: Vec<(u64, usize)> = (0..n).map(|i| (mix64(i as u64 ^ salt), i)).collect();
    keyed.select_nth_unstable(max - 1);
    let mut chosen: Vec<usize> = keyed[..max].iter().map(|&(_, i)| i).collect();
    chosen.sort_unstable();
    chosen
}

/// Vertical offsets of a beeswarm row, as shap's summary plot computes them: SHAP values are
/// binned into `bins` along x; within a bin, points stack alternately above and below the
/// centre line (0, +1, −1, +2, …) in a fixed hash order; the row is then scaled so that the
/// fullest bin reaches ±0.9. Offsets are in [−0.9, 0.9].
pub(crate) fn beeswarm_offsets(shap: &[f64], bins: usize, salt: u64) -> Vec<f64> {
    let Some((lo, hi)) = super::figures::min_max(shap) else {
        return vec![0.0; shap.len()];
    };
    let bins = bins.max(1) as f64;
    let bin_of = |v: f64| -> i64 {
        if v.is_finite() {
            (bins * (v - lo) / (hi - lo + 1e-8)).round() as i64
        } else {
            -1
        }
    };
    let mut order: Vec<(i64, u64, usize)> = shap
        .iter()
        .enumerate()
        .map(|(i, &v)| (bin_of(v), mix64(i as u64 ^ salt), i))
        .collect();
    order.sort_unstable();
    let mut offsets = vec![0.0; shap.len()];
    let mut layer = 0usize;
    let mut last_bin = i64::MIN;
    for &(bin, _, i) in &order {
        if bin != last_bin {
            layer = 0;
            last_bin = bin;
        }
        let height = layer.div_ceil(2) as f64;
        offsets[i] = if layer % 2 == 1 { height } else { -height };
        layer += 1;
    }
    let top = offsets.iter().fold(0.0f64, |m, v| m.max(*v)) + 1.0;
    for o in &mut offsets {
        *o *= 0.9 / top;
    }
    offsets
}

/// `1234567` → `"1,234,567"`.
pub(crate) fn fmt_count(n: usize) -> String {
    crate::numfmt::grouped(n as u64)
}

/// `"1 customer"`, `"4,338 customers"`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", fmt_count(n))
    }
}

/// An amount with thousands separators: no decimals from 100 up, two below.
pub(crate) fn fmt_amount(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    if a >= 100.0 {
        format!("{sign}{}", fmt_count(a.round() as usize))
    } else {
        format!("{sign}{a:.2}")
    }
}

/// Up to three significant digits with k/M/B suffixes: 1500 → "1.5k", 0.05 → "0.05".
pub(crate) fn fmt_compact(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", fmt_sig(scaled, 3))
}

/// `v` with `digits` significant digits, trailing zeros removed.
pub(crate) fn fmt_sig(v: f64, digits: i32) -> String {
    trim_zeros(fmt_sig_exact(v, digits))
}

/// `v` with exactly `digits` significant digits ("0.00480"), so that a column of values
/// reads with the same precision.
pub(crate) fn fmt_sig_exact(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let decimals = (digits - 1 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{v:.decimals$}")
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `name` cut to `max_chars` characters with an ellipsis, so long labels cannot push a plot
/// off the image.
pub(crate) fn truncate_label(name: &str, max_chars: usize) -> String {
    if name.chars().count() <= max_chars {
        name.to_string()
    } else {
        let kept: String = name.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", kept.trim_end())
    }
}

// ---------------------------------------------------------------------------------------------
// Axes and panel scaffolding
// ---------------------------------------------------------------------------------------------

/// A figure axis as plotters' coordinate: its range and labelled ticks.
fn ticked(axis: &super::figure::Axis) -> Ticked {
    Ticked {
        lo: axis.lo,
        hi: axis.hi,
        bold: axis.ticks.clone(),
        light: Vec::new(),
    }
}

/// A linear f64 coordinate with fixed tick positions. plotters' own `with_key_points` wrapper
/// loses the f64 label formatter in 0.3.7, so the mesh could not be drawn with it.
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span == 0.0 || !span.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let t = (value - self.lo) / span;
        let pixels = (limit.1 - limit.0) as f64;
        // Far-off values are clamped so that the i32 cast cannot overflow.
        let offset = (pixels * t).clamp(-1e7, 1e7);
        limit.0 + offset.round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
}

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
const STEEL: RGBColor = RGBColor(0x3b, 0x6e, 0xa8);

/// What a panel shows around its plotting area.
struct PanelSpec<'s> {
    title: &'s str,
    x_desc: &'s str,
    y_desc: &'s str,
    x: &'s super::figure::Axis,
    y: &'s super::figure::Axis,
    /// Draw vertical grid lines at x ticks.
    x_grid: bool,
    /// Draw horizontal grid lines at y ticks.
    y_grid: bool,
}

/// Width in pixels of the widest `labels` in `style`, so label areas fit long names.
fn widest(area: &Area, labels: impl IntoIterator<Item = String>, style: &TextStyle) -> u32 {
    labels
        .into_iter()
        .map(|l| {
            area.estimate_text_size(&l, style)
                .map(|(w, _)| w)
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

/// Builds a chart with caption, axes, tick labels and grid in `area`.
fn build_panel<'a, 'b>(
    area: &'a Area<'b>,
    spec: &PanelSpec,
) -> std::result::Result<Chart<'a, 'b>, Box<dyn StdError>> {
    let tick_style = font(15.0).color(&INK);
    let y_labels: Vec<String> = spec.y.ticks.iter().map(|v| spec.y.tick_label(*v)).collect();
    let y_label_width = widest(area, y_labels, &tick_style);
    let y_area = if spec.y_desc.is_empty() {
        y_label_width + 18
    } else {
        y_label_width + 44
    };
    let x_area = if spec.x_desc.is_empty() { 34 } else { 58 };
    let mut builder = ChartBuilder::on(area);
    if !spec.title.is_empty() {
        builder.caption(spec.title, font(21.0).color(&INK));
    }
    let mut chart = builder
        .margin_top(12)
        .margin_bottom(10)
        .margin_left(14)
        .margin_right(22)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(ticked(spec.x), ticked(spec.y))?;
    let x_fmt = |v: &f64| spec.x.tick_label(*v);
    let y_fmt = |v: &f64| spec.y.tick_label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(tick_style.clone())
        .axis_desc_style(font(17.0).color(&INK))
        .bold_line_style(BLACK.mix(0.13))
        .light_line_style(BLACK.mix(0.05))
        .axis_style(BLACK.mix(0.6));
    if !spec.x_grid {
        mesh.disable_x_mesh();
    }
    if !spec.y_grid {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// Draws a titled, framed "no data" placeholder.
fn draw_no_data(area: &Area, title: &str, message: &str) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    area.draw(&Text::new(
        title.to_string(),
        (w / 2, 14),
        font(21.0)
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    area.draw(&Rectangle::new(
        [(24, 52), ((w - 24).max(25), (h - 24).max(53))],
        BLACK.mix(0.25),
    ))?;
    area.draw(&Text::new(
        message.to_string(),
        (w / 2, (h + 28) / 2),
        font(19.0)
            .color(&MUTED)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Figures: the PNG renderer of the shared chart description (report/figure.rs)
// ---------------------------------------------------------------------------------------------

/// Draws `figures` as panels of `panel` pixels, `columns` to a row, under an optional title,
/// into one PNG (atomically).
pub(crate) fn draw_figures(
    chart: &'static str,
    path: &Path,
    title: Option<&str>,
    figures: &[Figure],
    columns: usize,
    (width, height): (u32, u32),
) -> Result<()> {
    let columns = columns.clamp(1, figures.len().max(1));
    let rows = figures.len().div_ceil(columns).max(1);
    let title_height = if title.is_some() { 50 } else { 0 };
    let size = (width * columns as u32, height * rows as u32 + title_height);
    render(chart, path, size, |root| {
        let body = match title {
            Some(title) => root.titled(title, font(28.0).color(&INK))?,
            None => root.clone(),
        };
        for (figure, area) in figures.iter().zip(body.split_evenly((rows, columns))) {
            draw_figure(&area, figure)?;
        }
        Ok(())
    })
}

fn colour_of(hex: &str) -> RGBColor {
    let (r, g, b) = super::figure::rgb(hex);
    RGBColor(r, g, b)
}

/// One figure in one panel: axes, marks in order, then the legend in the top-left corner.
fn draw_figure(area: &Area, figure: &Figure) -> DrawResult {
    let mut chart = build_panel(
        area,
        &PanelSpec {
            title: &figure.title,
            x_desc: &figure.x.label,
            y_desc: &figure.y.label,
            x: &figure.x,
            y: &figure.y,
            x_grid: figure.x.grid,
            y_grid: figure.y.grid,
        },
    )?;
    let finite = |x: f64, y: f64| x.is_finite() && y.is_finite();
    // Labels last, above every line they might cross.
    let is_text = |m: &&Mark| matches!(m, Mark::Text { .. });
    let marks = figure.marks.iter().filter(|m| !is_text(m));
    for mark in marks.chain(figure.marks.iter().filter(is_text)) {
        match mark {
            Mark::Line {
                x,
                y,
                colour,
                width,
                dashed,
            } => {
                let style = colour_of(colour).stroke_width(width.round().max(1.0) as u32 + 1);
                let points: Vec<(f64, f64)> = x
                    .iter()
                    .zip(y)
                    .map(|(&x, &y)| (x, y))
                    .filter(|&(x, y)| finite(x, y))
                    .collect();
                if *dashed {
                    chart.draw_series(DashedLineSeries::new(points, 8, 5, style))?;
                } else {
                    chart.draw_series(LineSeries::new(points, style))?;
                }
            }
            Mark::Points {
                x,
                y,
                colour,
                radius,
                square,
                hollow,
                hover,
                ..
            } => {
                if *hover {
                    continue;
                }
                let colour = colour_of(colour);
                let style = if *hollow {
                    colour.stroke_width(2)
                } else {
                    colour.filled()
                };
                let r = (radius * 1.4).round() as i32;
                for (&px, &py) in x.iter().zip(y).filter(|&(&x, &y)| finite(x, y)) {
                    if *square {
                        chart.draw_series(std::iter::once(
                            EmptyElement::at((px, py)) + Rectangle::new([(-r, -r), (r, r)], style),
                        ))?;
                    } else {
                        chart.draw_series(std::iter::once(Circle::new((px, py), r, style)))?;
                    }
                }
            }
            Mark::Dots {
                x,
                y,
                colour,
                shades,
                radius,
                radii,
                translucent,
                ..
            } => {
                let base = colour_of(colour);
                chart.draw_series((0..x.len().min(y.len())).filter_map(|i| {
                    if !finite(x[i], y[i]) {
                        return None;
                    }
                    let colour = shades.get(i).map_or(base, |&t| {
                        let (r, g, b) = super::figure::shade_colour(t);
                        RGBColor(r, g, b)
                    });
                    let r = (radii.get(i).unwrap_or(radius) * 1.4).round().max(1.0) as i32;
                    let style = if *translucent {
                        colour.mix(0.5).filled()
                    } else {
                        colour.filled()
                    };
                    Some(Circle::new((x[i], y[i]), r, style))
                }))?;
            }
            Mark::Rects {
                x0,
                x1,
                y0,
                y1,
                colours,
                ..
            } => {
                for i in 0..x0.len().min(x1.len()).min(y0.len()).min(y1.len()) {
                    if finite(x0[i], y0[i]) && finite(x1[i], y1[i]) {
                        let colour = colours.get(i).map_or(STEEL, |c| colour_of(c));
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(x0[i], y0[i]), (x1[i], y1[i])],
                            colour.filled(),
                        )))?;
                    }
                }
            }
            Mark::Rules {
                x0,
                y0,
                x1,
                y1,
                colour,
                width,
                dashed,
            } => {
                let style = colour_of(colour).stroke_width(width.round().max(1.0) as u32);
                for i in 0..x0.len().min(x1.len()).min(y0.len()).min(y1.len()) {
                    let ends = vec![(x0[i], y0[i]), (x1[i], y1[i])];
                    if !(finite(x0[i], y0[i]) && finite(x1[i], y1[i])) {
                        continue;
                    }
                    if *dashed {
                        chart.draw_series(DashedLineSeries::new(ends, 8, 5, style))?;
                    } else {
                        chart.draw_series(LineSeries::new(ends, style))?;
                    }
                }
            }
            Mark::Text {
                x,
                y,
                text,
                anchor,
                dx,
                dy,
                value,
                ..
            } => {
                if finite(*x, *y) {
                    let h = match anchor {
                        Anchor::Start => HPos::Left,
                        Anchor::Middle => HPos::Center,
                        Anchor::End => HPos::Right,
                    };
                    let pos = Pos::new(h, VPos::Bottom);
                    let (ox, oy) = ((dx * 1.3).round() as i32, (dy * 1.3).round() as i32);
                    // A white halo first, so the label reads where it crosses a line.
                    let halo = font(15.0).color(&WHITE).pos(pos);
                    for (hx, hy) in [
                        (-2, 0),
                        (2, 0),
                        (0, -2),
                        (0, 2),
                        (-1, -1),
                        (1, 1),
                        (-1, 1),
                        (1, -1),
                    ] {
                        chart.draw_series(std::iter::once(
                            EmptyElement::at((*x, *y))
                                + Text::new(text.clone(), (ox + hx, oy + hy), halo.clone()),
                        ))?;
                    }
                    let style = font(15.0)
                        .color(if *value { &INK } else { &MUTED })
                        .pos(pos);
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((*x, *y)) + Text::new(text.clone(), (ox, oy), style),
                    ))?;
                }
            }
        }
    }
    draw_keys(area, &chart, &figure.legend)
}

/// The legend: a line sample or a square per entry, on a translucent box in the top-left
/// corner of the plotting area.
fn draw_keys(area: &Area, chart: &Chart, keys: &[Key]) -> DrawResult {
    if keys.is_empty() {
        return Ok(());
    }
    let style = font(15.0).color(&INK);
    let (line_height, pad, sample) = (22, 8, 26);
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let (bx, by) = area.get_base_pixel();
    let width = widest(area, keys.iter().map(|k| k.label.clone()), &style) as i32 + sample + 8;
    let (left, top) = (xs.start + 10 - bx, ys.start + 10 - by);
    area.draw(&Rectangle::new(
        [
            (left, top),
            (
                left + width + 2 * pad,
                top + line_height * keys.len() as i32 + 2 * pad,
            ),
        ],
        WHITE.mix(0.88).filled(),
    ))?;
    for (i, key) in keys.iter().enumerate() {
        let (x, y) = (
            left + pad,
            top + pad + i as i32 * line_height + line_height / 2,
        );
        let colour = colour_of(&key.colour);
        if key.line {
            area.draw(&PathElement::new(
                vec![(x, y), (x + sample - 4, y)],
                colour.stroke_width(3),
            ))?;
        } else {
            area.draw(&Rectangle::new(
                [(x + 6, y - 7), (x + 20, y + 7)],
                colour.filled(),
            ))?;
        }
        area.draw(&Text::new(
            key.label.clone(),
            (x + sample + 4, y),
            style.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// analytics_summary
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// The fence and outliers of the spend overview (`overview::FENCE_RED`).
    const FENCE_RED: RGBColor = RGBColor(0xd6, 0x27, 0x28);

    /// A fresh directory for one test, removed when dropped unless FLUZ_KEEP_TEST_CHARTS is
    /// set (to look at the edge-case charts).
    struct TestDir(PathBuf);

    impl TestDir {
        fn join(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            if std::env::var_os("FLUZ_KEEP_TEST_CHARTS").is_none() {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn out_dir(name: &str) -> TestDir {
        let dir =
            std::env::temp_dir().join(format!("fluz-charts-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create test dir");
        TestDir(dir)
    }

    /// Decodes a chart with the `png` crate: its size and RGB pixels.
    fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
        let file = std::fs::File::open(path).expect("chart file exists");
        let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
        let mut rgb = vec![0u8; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).expect("PNG data decodes");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        rgb.truncate(info.buffer_size());
        (info.width, info.height, rgb)
    }

    /// Checks the chart decodes at `width`×`height` and the temporary file is gone; returns
    /// its pixels.
    fn assert_png(path: &Path, width: u32, height: u32) -> Vec<u8> {
        let (w, h, rgb) = read_png(path);
        assert_eq!((w, h), (width, height));
        assert!(
            !path.with_extension("png.tmp").exists(),
            "temporary file removed"
        );
        rgb
    }

    fn png_size(path: &Path) -> (u32, u32) {
        let (w, h, _) = read_png(path);
        (w, h)
    }

    /// Pixels of clearly coloured ink (max − min channel > 60): the marks, never the white
    /// background, the grey axes, grid or text.
    fn coloured(rgb: &[u8]) -> usize {
        rgb.chunks_exact(3)
            .filter(|p| {
                let (hi, lo) = (p.iter().max().unwrap(), p.iter().min().unwrap());
                hi - lo > 60
            })
            .count()
    }

    /// Pixels of exactly `colour` (an opaque fill).
    fn exactly(rgb: &[u8], colour: RGBColor) -> usize {
        rgb.chunks_exact(3)
            .filter(|p| p == &[colour.0, colour.1, colour.2])
            .count()
    }

    /// Smallest and largest x and y of non-white pixels.
    fn ink_bounds(rgb: &[u8], width: usize) -> Option<(usize, usize, usize, usize)> {
        let mut bounds: Option<(usize, usize, usize, usize)> = None;
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            if px.iter().all(|&c| c > 200) {
                continue;
            }
            let (x, y) = (i % width, i / width);
            bounds = Some(match bounds {
                None => (x, x, y, y),
                Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
            });
        }
        bounds
    }

    fn render_text(
        text: &str,
        anchor: Pos,
        transform: FontTransform,
        at: (i32, i32),
    ) -> (Vec<u8>, (u32, u32)) {
        let embedded = embedded_font().expect("embedded font parses");
        let mut rgb = vec![255u8; 300 * 300 * 3];
        let style = font(20.0).color(&BLACK).pos(anchor).transform(transform);
        let size;
        {
            let canvas = Canvas {
                inner: BitMapBackend::with_buffer(&mut rgb, (300, 300)),
                font: embedded,
            };
            let root = canvas.into_drawing_area();
            size = root.estimate_text_size(text, &style).unwrap();
            root.draw(&Text::new(text.to_string(), at, style)).unwrap();
            root.present().unwrap();
        }
        (rgb, size)
    }

    #[test]
    fn canvas_text_honours_anchor() {
        let (rgb, (w, h)) = render_text(
            "total_spent",
            Pos::new(HPos::Right, VPos::Top),
            FontTransform::None,
            (250, 50),
        );
        let (x0, x1, y0, y1) = ink_bounds(&rgb, 300).expect("text drawn");
        assert!(w > 80 && h >= 19, "layout box {w}×{h}");
        assert!(
            (240..=250).contains(&x1),
            "right edge at the anchor, got {x1}"
        );
        assert!(
            x0 + 2 >= 250 - w as usize,
            "ink starts inside the box, got {x0}"
        );
        assert!(
            y0 >= 50 && y1 <= 50 + h as usize,
            "ink inside the line box, got {y0}..{y1}"
        );
    }

    #[test]
    fn canvas_text_rotates_about_the_anchor() {
        let (rgb, (w, _)) = render_text(
            "Feature value",
            Pos::new(HPos::Center, VPos::Center),
            FontTransform::Rotate270,
            (150, 150),
        );
        let (x0, x1, y0, y1) = ink_bounds(&rgb, 300).expect("text drawn");
        assert!(
            y1 - y0 > 3 * (x1 - x0),
            "vertical text, got x {x0}..{x1}, y {y0}..{y1}"
        );
        assert!(y1 - y0 + 4 >= w as usize && y1 - y0 <= w as usize + 2);
        let (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2);
        assert!(
            cx.abs_diff(150) <= 6 && cy.abs_diff(150) <= 6,
            "centred, got ({cx}, {cy})"
        );
    }

    #[test]
    fn png_encoder_round_trips_pixels() {
        let (w, h) = (7usize, 5usize);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let png = encode_png(w as u32, h as u32, &rgb).unwrap();
        let dir = out_dir("round-trip");
        let path = dir.join("pixels.png");
        std::fs::write(&path, png).unwrap();
        assert_eq!(read_png(&path), (w as u32, h as u32, rgb));
    }

    #[test]
    fn png_encoder_rejects_wrong_buffer_size() {
        assert!(encode_png(4, 4, &[0u8; 10]).is_err());
        assert!(encode_png(0, 4, &[]).is_err());
    }

    #[test]
    fn log_values_counts_dropped() {
        let v = log_values(&[100.0, 0.0, -5.0, f64::NAN, f64::INFINITY, 10.0]);
        assert_eq!(v.logs, vec![2.0, 1.0]);
        assert_eq!(v.non_positive, 2);
        assert_eq!(v.non_finite, 2);
    }

    #[test]
    fn log_bin_edges_are_evenly_spaced_in_log() {
        let edges = log_bin_edges(0.0, 3.0, 6);
        assert_eq!(edges.len(), 7);
        for (i, e) in edges.iter().enumerate() {
            assert!((e - 0.5 * i as f64).abs() < 1e-12);
        }
        assert_eq!(edges[6], 3.0, "last edge exactly the maximum");
    }

    #[test]
    fn log_bin_edges_constant_input_gives_one_bin() {
        let edges = log_bin_edges(2.0, 2.0, 10);
        assert_eq!(edges, vec![1.5, 2.5]);
        assert_eq!(histogram_counts(&[2.0, 2.0, 2.0], &edges), vec![3]);
    }

    #[test]
    fn histogram_counts_include_both_ends() {
        let edges = log_bin_edges(0.0, 2.0, 4);
        let counts = histogram_counts(&[0.0, 0.49, 0.5, 1.99, 2.0, 2.5, -1.0], &edges);
        assert_eq!(counts, vec![2, 1, 0, 2]);
    }

    #[test]
    fn bin_count_is_bounded() {
        assert_eq!(bin_count(0), 5);
        assert_eq!(bin_count(400), 20);
        assert_eq!(bin_count(1_000_000), 50);
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&sorted, 0.25), Some(1.75));
        assert_eq!(quantile_sorted(&sorted, 0.5), Some(2.5));
        assert_eq!(quantile_sorted(&sorted, 0.75), Some(3.25));
        assert_eq!(quantile_sorted(&sorted, 1.0), Some(4.0));
        assert_eq!(quantile_sorted(&[7.0], 0.3), Some(7.0));
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }

    #[test]
    fn box_stats_whiskers_stop_at_fences() {
        let mut v: Vec<f64> = (1..=20).map(f64::from).collect();
        v.push(1000.0);
        let s = box_stats(&v).unwrap();
        assert_eq!(s.q1, 6.0);
        assert_eq!(s.q3, 16.0);
        assert_eq!(s.upper_fence, 31.0);
        assert_eq!(
            s.whisker_high, 20.0,
            "the 1000 outlier is beyond the whisker"
        );
        assert_eq!(s.whisker_low, 1.0);
    }

    #[test]
    fn log_ticks_use_decades_on_wide_spans() {
        let (bold, light) = log_ticks(0.0, 5.0);
        assert_eq!(bold, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!(light.contains(&2f64.log10()));
        assert_eq!(light.len(), 5 * 8);
    }

    #[test]
    fn log_ticks_use_1_2_5_on_short_spans() {
        let (bold, _) = log_ticks(0.0, 2.0);
        let values: Vec<f64> = bold
            .iter()
            .map(|t| (10f64.powf(*t) * 1e6).round() / 1e6)
            .collect();
        assert_eq!(values, vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);
    }

    #[test]
    fn log_ticks_fall_back_to_round_values_on_tiny_spans() {
        let (bold, _) = log_ticks(100f64.log10(), 150f64.log10());
        assert!(bold.len() >= 2, "got {bold:?}");
        for t in &bold {
            let v = 10f64.powf(*t);
            assert!((100.0 - 1e-9..=150.0 + 1e-9).contains(&v));
        }
    }

    #[test]
    fn log_ticks_thin_very_wide_spans() {
        let (bold, _) = log_ticks(-6.0, 12.0);
        assert!(bold.len() <= 9 && bold.len() >= 5, "got {bold:?}");
    }

    #[test]
    fn nice_ticks_are_round() {
        let (ticks, step) = nice_ticks(0.0, 10.0, 5);
        assert_eq!(step, 2.0);
        assert_eq!(ticks, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let (ticks, step) = nice_ticks(0.3, 0.45, 6);
        assert_eq!(step, 0.025);
        assert_eq!(ticks.len(), 7);
        assert!(nice_ticks(1.0, 1.0, 5).0.is_empty());
    }

    #[test]
    fn colour_scale_clips_to_5th_95th_percentile() {
        let values: Vec<f64> = (0..=100).map(f64::from).collect();
        let scale = ColourScale::from_values(&values);
        assert_eq!(scale.low, 5.0);
        assert_eq!(scale.high, 95.0);
        assert_eq!(scale.scale(0.0), 0.0);
        assert_eq!(scale.scale(50.0), 0.5);
        assert_eq!(scale.scale(1e9), 1.0);
        assert!(scale.scale(f64::NAN).is_nan());
    }

    #[test]
    fn colour_scale_of_constant_feature_is_neutral() {
        let scale = ColourScale::from_values(&[3.0; 50]);
        assert_eq!(scale.scale(3.0), 0.5);
    }

    #[test]
    fn colour_scale_widens_when_percentiles_collapse() {
        // 96% zeros: p5 = p95 = 0, so shap falls back to p1..p99 / min..max.
        let mut values = vec![0.0; 96];
        values.extend([1.0, 2.0, 3.0, 4.0]);
        let scale = ColourScale::from_values(&values);
        assert!(scale.high > scale.low);
        assert_eq!(scale.scale(0.0), 0.0);
    }

    #[test]
    fn subsample_keeps_everything_when_small() {
        assert_eq!(subsample_indices(5, 10, 1), vec![0, 1, 2, 3, 4]);
        assert_eq!(
            subsample_indices(5, 0, 1),
            vec![0, 1, 2, 3, 4],
            "0 means no limit"
        );
    }

    #[test]
    fn subsample_is_deterministic_sorted_and_sized() {
        let a = subsample_indices(100_000, 20_000, 42);
        let b = subsample_indices(100_000, 20_000, 42);
        assert_eq!(a, b);
        assert_eq!(a.len(), 20_000);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        // Spread over the whole range, not just a prefix.
        assert!(a.iter().filter(|&&i| i >= 50_000).count() > 9_000);
    }

    #[test]
    fn beeswarm_offsets_stack_alternately_within_bounds() {
        let shap = vec![0.0; 5];
        let offsets = beeswarm_offsets(&shap, 100, 1);
        let mut sorted = offsets.clone();
        sorted.sort_by(f64::total_cmp);
        // layers 0, +1, -1, +2, -2 scaled by 0.9 / (2 + 1)
        let expected = [-0.6, -0.3, 0.0, 0.3, 0.6];
        for (o, e) in sorted.iter().zip(expected) {
            assert!((o - e).abs() < 1e-12, "{sorted:?}");
        }
        let spread: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
        let offsets = beeswarm_offsets(&spread, 100, 1);
        assert!(offsets.iter().all(|o| o.abs() <= 0.9 + 1e-12));
        assert_eq!(offsets, beeswarm_offsets(&spread, 100, 1), "deterministic");
    }

    #[test]
    fn beeswarm_offsets_of_empty_or_nan_input() {
        assert!(beeswarm_offsets(&[], 100, 1).is_empty());
        assert_eq!(
            beeswarm_offsets(&[f64::NAN, f64::NAN], 100, 1),
            vec![0.0, 0.0]
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_count(4338), "4,338");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_count(12), "12");
        assert_eq!(plural(1, "bin"), "1 bin");
        assert_eq!(plural(4338, "customer"), "4,338 customers");
        assert_eq!(fmt_amount(2038.84), "2,039");
        assert_eq!(fmt_amount(12.345), "12.35");
        assert_eq!(fmt_compact(1000.0), "1k");
        assert_eq!(fmt_compact(2500.0), "2.5k");
        assert_eq!(fmt_compact(123_456.0), "123k");
        assert_eq!(fmt_compact(0.05), "0.05");
        assert_eq!(fmt_compact(20.0), "20");
        assert_eq!(fmt_compact(3e6), "3M");
        assert_eq!(fmt_sig(0.012345, 3), "0.0123");
        assert_eq!(fmt_sig(-2.0, 3), "-2");
        assert_eq!(fmt_sig_exact(0.0048, 3), "0.00480");
        assert_eq!(fmt_sig_exact(123.4, 3), "123");
    }

    #[test]
    fn truncate_label_adds_ellipsis() {
        assert_eq!(truncate_label("short", 10), "short");
        let long = truncate_label("a very long feature name indeed", 12);
        assert_eq!(long.chars().count(), 12);
        assert!(long.ends_with('…'));
    }

    fn spend_fixture(n: usize) -> (Vec<f64>, Vec<f64>) {
        let spend: Vec<f64> = (0..n)
            .map(|i| 10f64.powf(1.0 + 3.0 * unit_hash(i, 1)))
            .collect();
        let price: Vec<f64> = (0..n)
            .map(|i| 10f64.powf(0.3 * unit_hash(i, 2) + 0.2))
            .collect();
        (spend, price)
    }

    #[test]
    fn analytics_summary_writes_png() {
        let dir = out_dir("analytics");
        let path = dir.join("analytics_summary.png");
        let (spend, price) = spend_fixture(500);
        let countries = vec![
            ("United Kingdom".to_string(), 450),
            ("France".to_string(), 50),
        ];
        let data = SpendOverview {
            total_spent: &spend,
            avg_item_price: &price,
            upper_fence: 3000.0,
            countries: &countries,
        };
        analytics_summary(&path, &data).unwrap();
        let drawn = assert_png(&path, 1600, 1100);
        // Histogram bars, box, points and country bars are coloured; the fence and the
        // outliers are red.
        assert!(
            coloured(&drawn) > 20_000,
            "{} coloured pixels",
            coloured(&drawn)
        );
        assert!(exactly(&drawn, FENCE_RED) > 200);
    }

    #[test]
    fn analytics_summary_empty_input() {
        let dir = out_dir("analytics-empty");
        let path = dir.join("empty.png");
        let data = SpendOverview {
            total_spent: &[],
            avg_item_price: &[],
            upper_fence: f64::NAN,
            countries: &[],
        };
        analytics_summary(&path, &data).unwrap();
        let empty = assert_png(&path, 1600, 1100);
        assert!(
            coloured(&empty) < 500,
            "{} coloured pixels",
            coloured(&empty)
        );
    }

    #[test]
    fn analytics_summary_degenerate_values() {
        let dir = out_dir("analytics-degenerate");
        let path = dir.join("degenerate.png");
        // All equal, with zeros, negatives, NaN and inf, and mismatched lengths.
        let spend = vec![50.0, 50.0, 50.0, 0.0, -3.0, f64::NAN, f64::INFINITY, 50.0];
        let price = vec![2.0, 2.0, 2.0, 2.0];
        let countries = vec![(
            "A country with an extraordinarily long official name".to_string(),
            3,
        )];
        let data = SpendOverview {
            total_spent: &spend,
            avg_item_price: &price,
            upper_fence: f64::INFINITY,
            countries: &countries,
        };
        analytics_summary(&path, &data).unwrap();
        assert_png(&path, 1600, 1100);
    }

    #[test]
    fn analytics_summary_many_countries_are_grouped() {
        let dir = out_dir("analytics-countries");
        let path = dir.join("countries.png");
        let (spend, price) = spend_fixture(50);
        let countries: Vec<(String, usize)> =
            (0..40).map(|i| (format!("Country {i}"), 40 - i)).collect();
        let data = SpendOverview {
            total_spent: &spend,
            avg_item_price: &price,
            upper_fence: 500.0,
            countries: &countries,
        };
        analytics_summary(&path, &data).unwrap();
        assert_png(&path, 1600, 1100);
    }

    fn shap_fixture(n_features: usize, n: usize) -> Vec<FeatureShap> {
        (0..n_features)
            .map(|f| FeatureShap {
                feature: format!("feature_{f}"),
                values: (0..n).map(|i| unit_hash(i, f as u64)).collect(),
                shap: (0..n)
                    .map(|i| (unit_hash(i, f as u64) - 0.5) * (f + 1) as f64 * 0.01)
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn shap_summary_writes_png() {
        let dir = out_dir("shap");
        let path = dir.join("shap_summary.png");
        shap_summary(&path, &shap_fixture(14, 800), 500).unwrap();
        let drawn = assert_png(&path, 1300, 150 + 46 * 14);
        // 14 rows of 500 dots coloured from blue to red by feature value.
        assert!(
            coloured(&drawn) > 30_000,
            "{} coloured pixels",
            coloured(&drawn)
        );
        let empty = dir.join("empty.png");
        shap_summary(&empty, &[], 100).unwrap();
        let blank = assert_png(&empty, 1300, 420);
        assert!(
            coloured(&blank) < 2_000,
            "{} coloured pixels",
            coloured(&blank)
        );
    }

    #[test]
    fn shap_summary_edge_cases() {
        let dir = out_dir("shap-edge");
        let empty = dir.join("empty.png");
        shap_summary(&empty, &[], 100).unwrap();
        assert_png(&empty, 1300, 420);
        // Constant SHAP, NaN feature values, a NaN-only feature and a long name.
        let features = vec![
            FeatureShap {
                feature: "x".repeat(80),
                values: vec![f64::NAN; 10],
                shap: vec![0.0; 10],
            },
            FeatureShap {
                feature: "all_nan".to_string(),
                values: vec![1.0; 3],
                shap: vec![f64::NAN; 3],
            },
        ];
        let odd = dir.join("odd.png");
        shap_summary(&odd, &features, 0).unwrap();
        assert_eq!(png_size(&odd), (1300, 420));
    }

    #[test]
    fn writing_into_a_missing_directory_is_an_error() {
        let path = std::env::temp_dir().join("fluz-no-such-dir-for-charts/x/chart.png");
        let err = draw_figures("x", &path, None, &[], 1, (100, 100)).unwrap_err();
        assert!(matches!(err, ChartError::Write { .. }), "{err}");
    }
}
