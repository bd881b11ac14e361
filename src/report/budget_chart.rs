//! `budget_curve.png`: the value-vs-budget curve of the targeted allocation with every
//! flat-rate policy as a point on the same axes, and the chosen budget marked. Self-contained
//! (plotters on an RGB buffer, DejaVu Sans registered under a name of its own, the PNG encoded
//! by [`super::charts::encode_png`] and written atomically).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::charts::{font_ready, FONT};

/// What the chart shows; money on both axes in the values' currency.
pub(crate) struct BudgetChart<'a> {
    /// Curve points (expected cashback spent, expected incremental profit), by budget.
    pub curve: &'a [(f64, f64)],
    /// Flat policies: (label, cost, value).
    pub flat: &'a [(String, f64, f64)],
    /// The chosen budget's integer allocation: (cost, value).
    pub chosen: (f64, f64),
    /// Title line.
    pub title: &'a str,
}

/// Draws the chart into `path` (1200×800 px).
pub(crate) fn budget_curve(path: &Path, data: &BudgetChart) -> Result<()> {
    font_ready()?;
    let (width, height) = (1200u32, 800u32);
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    draw(&mut rgb, (width, height), data)
        .map_err(|e| anyhow!("failed to draw budget_curve: {e}"))?;
    let png = super::charts::encode_png(width, height, &rgb)?;
    super::write_atomic(path, &png)
}

fn draw(
    rgb: &mut [u8],
    size: (u32, u32),
    data: &BudgetChart,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE)?;
    let finite = |v: f64| v.is_finite();
    let xs = data
        .curve
        .iter()
        .map(|p| p.0)
        .chain(data.flat.iter().map(|f| f.1))
        .chain([data.chosen.0])
        .filter(|&v| finite(v));
    let ys = data
        .curve
        .iter()
        .map(|p| p.1)
        .chain(data.flat.iter().map(|f| f.2))
        .chain([data.chosen.1])
        .filter(|&v| finite(v));
    let (x_max, _) = xs.fold((0.0f64, 0.0), |(hi, _), v| (hi.max(v), 0.0));
    let (y_min, y_max) = ys.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let x_pad = (x_max * 0.04).max(1e-9);
    let y_pad = ((y_max - y_min) * 0.06).max(1e-9);
    let mut chart = ChartBuilder::on(&root)
        .margin(18)
        .caption(data.title, (FONT, 24))
        .x_label_area_size(60)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..x_max + x_pad, y_min - y_pad..y_max + y_pad)?;
    chart
        .configure_mesh()
        .x_desc("expected cashback spent (budget)")
        .y_desc("expected incremental profit")
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&|v| short_number(*v))
        .y_label_formatter(&|v| short_number(*v))
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(230, 120, 20);
    chart
        .draw_series(LineSeries::new(
            data.curve
                .iter()
                .copied()
                .filter(|p| finite(p.0) && finite(p.1)),
            ShapeStyle::from(&blue).stroke_width(2),
        ))?
        .label("targeted allocation (LP optimum at each budget)")
        .legend(move |(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 24, y)],
                ShapeStyle::from(&blue).stroke_width(3),
            )
        });
    chart
        .draw_series(
            data.flat
                .iter()
                .filter(|f| finite(f.1) && finite(f.2))
                .map(|f| Circle::new((f.1, f.2), 6, ShapeStyle::from(&orange).filled())),
        )?
        .label("flat policy: every customer on one rate")
        .legend(move |(x, y)| Circle::new((x + 12, y), 6, ShapeStyle::from(&orange).filled()));
    for (label, cost, value) in data.flat.iter().filter(|f| finite(f.1) && finite(f.2)) {
        chart.draw_series(std::iter::once(Text::new(
            label.clone(),
            (*cost, *value),
            (FONT, 15).into_font().color(&BLACK),
        )))?;
    }
    let (cost, value) = data.chosen;
    if finite(cost) && finite(value) {
        chart
            .draw_series(std::iter::once(Cross::new(
                (cost, value),
                9,
                ShapeStyle::from(&RED).stroke_width(3),
            )))?
            .label("chosen budget (integer allocation)")
            .legend(|(x, y)| Cross::new((x + 12, y), 6, ShapeStyle::from(&RED).stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    root.present()?;
    Ok(())
}

/// `1.5M`, `250k`, `12.5`: axis labels that fit.
fn short_number(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = format!("{scaled:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_numbers() {
        assert_eq!(super::short_number(8_000_000.0), "8M");
        assert_eq!(super::short_number(-2_500.0), "-2.5k");
        assert_eq!(super::short_number(0.0), "0");
        assert_eq!(super::short_number(12.345), "12.35");
    }

    use super::*;

    #[test]
    fn writes_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("budget_curve.png");
        let curve = [(0.0, 0.0), (10.0, 50.0), (30.0, 80.0), (60.0, 90.0)];
        let flat = [
            ("flat 1%".to_string(), 20.0, 40.0),
            ("flat 2%".to_string(), 40.0, 60.0),
        ];
        budget_curve(
            &path,
            &BudgetChart {
                curve: &curve,
                flat: &flat,
                chosen: (40.0, 85.0),
                title: "Budget",
            },
        )
        .unwrap();
        // The curve, the flat points and the chosen point are coloured marks.
        let drawn = super::super::charts::ink(&path, None);
        assert!(drawn > 2_000, "{drawn} coloured pixels");
    }
}
