//! Loss curves of `matdiff minimize`: one run (`--plot`), or one curve per learning
//! rate with a legend (`--lr-sweep`).

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::Failure;

/// The image formats, parsed once for every picture the command line draws.
pub(super) use crate::pictures::Format as PlotFormat;

/// The format of a `--plot` file, by its extension.
pub(super) fn plot_format(path: &Path) -> Result<PlotFormat> {
    PlotFormat::of(path).map_err(|_| {
        Failure::BadInput(format!(
            "--plot `{}`: use a .png or .svg file",
            path.display()
        ))
        .into()
    })
}

/// One loss curve: `(iteration, loss)` points with finite losses, and its legend entry
/// (none for a single run).
pub(super) struct Curve {
    pub label: Option<String>,
    pub points: Vec<(f64, f64)>,
}

/// Plot size in pixels.
const PLOT_SIZE: (u32, u32) = (1000, 600);

/// Line colours, in order (matplotlib's tab10, so that neighbours differ clearly).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Draws the curves against the iteration into the file `path` (PNG or SVG by its
/// extension): on a log scale when every loss is positive, else on a linear one. A
/// legend appears when the curves have labels.
pub(super) fn plot(curves: &[Curve], path: &Path) -> Result<(), String> {
    crate::pictures::draw(
        &Losses(curves),
        crate::pictures::Output::File(path),
        PLOT_SIZE,
    )
}

/// The loss curves of one or more runs, as a picture.
struct Losses<'a>(&'a [Curve]);

impl crate::pictures::Picture for Losses<'_> {
    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self.0)
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, curves: &[Curve]) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let points = || curves.iter().flat_map(|c| c.points.iter());
    let x_max = points().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = points()
        .map(|p| p.1)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (1.0, 1.0) };
    let mut builder = ChartBuilder::on(root);
    builder
        .caption("loss", ("sans-serif", 28))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90);
    if lo > 0.0 {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        let mut chart = builder
            .build_cartesian_2d(0.0..x_max, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("loss (log scale)")
            .draw()
            .map_err(err)?;
        series(&mut chart, curves).map_err(err)
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-12);
        let mut chart = builder
            .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("loss")
            .draw()
            .map_err(err)?;
        series(&mut chart, curves).map_err(err)
    }
}

/// Draws the curves on a chart of either scale, then the legend if there are labels.
fn series<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    curves: &[Curve],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64>,
{
    for (i, curve) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let drawn = chart.draw_series(LineSeries::new(
            curve.points.iter().copied(),
            color.stroke_width(2),
        ))?;
        if let Some(label) = &curve.label {
            drawn.label(label.as_str()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 24, y)], color.stroke_width(2))
            });
        }
    }
    if curves.iter().any(|c| c.label.is_some()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 18))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}
