//! `clv_holdout.png`: the classic BG/NBD check — mean purchases per customer in the holdout,
//! actual beside expected, by the number of repeat purchases in the calibration period
//! (0 … 6, 7+). Self-contained (plotters over an RGB buffer, the embedded DejaVu Sans),
//! written atomically; it renders plain data, so it ports to a shared chart layer unchanged.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::charts::{font_ready, FONT};
const ACTUAL: RGBColor = RGBColor(0x3b, 0x6e, 0xa8);
const EXPECTED: RGBColor = RGBColor(0xe6, 0x7e, 0x22);

/// Draws the chart. `bars` holds (calibration frequency label, actual mean, expected mean)
/// in display order; `duration` is the holdout's length in `unit`.
pub(crate) fn holdout_chart(
    path: &Path,
    bars: &[(String, f64, f64)],
    duration: f64,
    unit: &str,
) -> Result<()> {
    font_ready()?;
    let (width, height) = (900u32, 560u32);
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    let draw_error = |e: &dyn std::fmt::Display| anyhow!("failed to draw clv_holdout.png: {e}");
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error(&e))?;
        let top = bars
            .iter()
            .flat_map(|(_, a, e)| [*a, *e])
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.15;
        let n = bars.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .caption(
                format!("Holdout purchases per customer: actual vs BG/NBD expected ({duration:.1} {unit})"),
                (FONT, 20).into_font(),
            )
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..n, 0.0..top)
            .map_err(|e| draw_error(&e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_desc("repeat purchases in the calibration period")
            .y_desc("mean purchases per customer in the holdout")
            .label_style((FONT, 14).into_font())
            .axis_desc_style((FONT, 15).into_font())
            .draw()
            .map_err(|e| draw_error(&e))?;
        // Category labels under the middle of each pair of bars.
        let label_style =
            TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, b) in bars.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(b.0.clone(), (px, py + 6), label_style.clone()))
                .map_err(|e| draw_error(&e))?;
        }
        let bar = |i: usize, value: f64, offset: f64, color: RGBColor| {
            let x = i as f64 + offset;
            Rectangle::new([(x, 0.0), (x + 0.36, value.max(0.0))], color.filled())
        };
        chart
            .draw_series(
                bars.iter()
                    .enumerate()
                    .map(|(i, b)| bar(i, b.1, 0.12, ACTUAL)),
            )
            .map_err(|e| draw_error(&e))?
            .label("actual")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], ACTUAL.filled()));
        chart
            .draw_series(
                bars.iter()
                    .enumerate()
                    .map(|(i, b)| bar(i, b.2, 0.52, EXPECTED)),
            )
            .map_err(|e| draw_error(&e))?
            .label("expected (BG/NBD)")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], EXPECTED.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14).into_font())
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| draw_error(&e))?;
        root.present().map_err(|e| draw_error(&e))?;
    }
    let png = super::charts::encode_png(width, height, &rgb)?;
    super::write_atomic(path, &png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clv_holdout.png");
        let bars: Vec<(String, f64, f64)> = (0..8)
            .map(|i| {
                (
                    if i == 7 {
                        "7+".to_string()
                    } else {
                        i.to_string()
                    },
                    i as f64 * 0.9,
                    i as f64,
                )
            })
            .collect();
        holdout_chart(&path, &bars, 39.0, "weeks").unwrap();
        // Fifteen non-empty bars: actual in steel, expected in orange.
        let (actual, expected) = (
            super::super::charts::ink(&path, Some(ACTUAL)),
            super::super::charts::ink(&path, Some(EXPECTED)),
        );
        assert!(
            actual > 7 * 300 && expected > 7 * 300,
            "{actual} {expected}"
        );
        // Taller expected bars than actual ones (expected = actual / 0.9).
        assert!(expected > actual);
    }
}
