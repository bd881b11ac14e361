//! `qini.png`: the held-out Qini curve of every uplift learner, one panel per arm vs the
//! control and outcome, with the random-targeting diagonal. A small self-contained plotters
//! chart (to be ported to the shared chart layer).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::charts::{font_ready, FONT};

/// One panel: a title and `(learner, [(fraction, gain)])` series (described by the uplift stage).
pub(crate) use crate::uplift::tables::QiniPanel;

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws the panels (two per row) into `path`, atomically.
pub(crate) fn draw(path: &Path, panels: &[QiniPanel]) -> Result<()> {
    font_ready()?;
    let columns = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(2).max(1);
    let (width, height) = (560 * columns as u32, 420 * rows as u32);
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("qini.png: {e}"))?;
        let areas = root.split_evenly((rows, columns));
        for (panel, area) in panels.iter().zip(areas) {
            draw_panel(&area, panel).map_err(|e| anyhow!("qini.png: {e}"))?;
        }
        root.present().map_err(|e| anyhow!("qini.png: {e}"))?;
    }
    let png = super::charts::encode_png(width, height, &rgb)?;
    super::write_atomic(path, &png)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &QiniPanel,
) -> std::result::Result<(), Box<dyn std::error::Error + 'static>>
where
    DB::ErrorType: 'static,
{
    let values = panel
        .series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|&(_, g)| g));
    let (mut low, mut high) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if high <= low {
        high = low + 1.0;
    }
    let pad = (high - low) * 0.08;
    low -= pad;
    high += pad;
    let inner = area.margin(8, 8, 8, 8);
    let mut chart = ChartBuilder::on(&inner)
        .caption(&panel.title, (FONT, 17))
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0f64..1.0f64, low..high)?;
    chart
        .configure_mesh()
        .x_desc("fraction of customers targeted (by predicted effect)")
        .y_desc("Qini: incremental outcome")
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    if let Some((_, points)) = panel.series.first() {
        let end = points.last().map_or(0.0, |&(_, g)| g);
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, end)],
                ShapeStyle {
                    color: RGBColor(150, 150, 150).to_rgba(),
                    filled: false,
                    stroke_width: 1,
                },
            ))?
            .label("random")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(150, 150, 150)));
    }
    for (index, (name, points)) in panel.series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                ShapeStyle {
                    color: colour.to_rgba(),
                    filled: false,
                    stroke_width: 2,
                },
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qini.png");
        let panel = QiniPanel {
            title: "2% vs 0% — spend".into(),
            series: vec![
                ("t_learner".into(), vec![(0.0, 0.0), (0.5, 3.0), (1.0, 2.0)]),
                ("x_learner".into(), vec![(0.0, 0.0), (0.5, 1.0), (1.0, 2.0)]),
            ],
        };
        draw(&path, &[panel]).unwrap();
        // Two learners' curves in their colours.
        for colour in &COLOURS[..2] {
            let drawn = super::super::charts::ink(&path, Some(*colour));
            assert!(drawn > 300, "{drawn} pixels of {colour:?}");
        }
    }
}
