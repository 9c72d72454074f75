//! The contour picture: filled contours of a loss over a plane, contour lines, gradient
//! arrows, the minimiser and the trajectories of runs, with a legend under the chart.

use plotters::coord::Shift;
use plotters::prelude::*;

pub use super::plane::tick;
use super::plane::{drawable, Arrows, Ending, Grid, Region, Trace};
use super::{FONT, RUN_COLOURS};

/// Everything a contour picture shows.
pub struct ContourPicture<'a> {
    /// The caption above the chart.
    pub title: String,
    /// Names of the horizontal and vertical coordinates (`w[0]`, `w[1]`).
    pub axes: [String; 2],
    /// The loss on a grid over the region shown.
    pub grid: &'a Grid,
    /// Gradient arrows.
    pub arrows: &'a Arrows,
    /// The runs, each drawn in its own colour.
    pub traces: &'a [Trace],
    /// The minimiser found by the line search, marked with a cross.
    pub minimiser: Option<[f64; 2]>,
}

/// Number of contour levels.
const LEVELS: usize = 14;
/// Height of one legend line in pixels.
const LEGEND_LINE: u32 = 26;

/// Pixels of the chart's plotting area in a picture of `size` showing `runs` runs: its
/// width / height is the aspect a region needs for both axes to have the same scale.
pub fn plot_area(size: (u32, u32), runs: usize) -> (u32, u32) {
    let mut text = String::new();
    let dims = {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        let (chart_area, _, _) = split(&root, runs);
        ChartBuilder::on(&chart_area)
            .caption("loss", (FONT, 26))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(84)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map(|chart| chart.plotting_area().dim_in_pixel())
    };
    dims.unwrap_or(size)
}

/// Width in pixels of the colour bar right of the chart, its labels included.
const COLOUR_BAR: u32 = 110;

/// The chart's area, the colour bar's area right of it, and the legend's area under
/// both.
fn split<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: usize,
) -> (
    DrawingArea<DB, Shift>,
    DrawingArea<DB, Shift>,
    DrawingArea<DB, Shift>,
) {
    let (width, height) = root.dim_in_pixel();
    let legend = LEGEND_LINE * (runs as u32 + 1) + 12;
    let (upper, lower) = root.split_vertically(height.saturating_sub(legend));
    let (chart, bar) = upper.split_horizontally(width.saturating_sub(COLOUR_BAR));
    (chart, bar, lower)
}

impl super::Picture for ContourPicture<'_> {
    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        render(root, self)
    }
}

fn render<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    picture: &ContourPicture<'_>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (chart_area, bar_area, legend_area) = split(root, picture.traces.len());
    let grid = picture.grid;
    let region = grid.region;
    drawable(region.x.0, region.x.1)
        .and_then(|()| drawable(region.y.0, region.y.1))
        .map_err(|e| format!("the region drawn: {e} — choose a narrower --range"))?;
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(&picture.title, (FONT, 26))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(region.x.0..region.x.1, region.y.0..region.y.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(picture.axes[0].as_str())
        .y_desc(picture.axes[1].as_str())
        .axis_desc_style((FONT, 22))
        .label_style((FONT, 17))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(err)?;

    // Filled bands: each cell takes the colour of the band its mean value falls in;
    // runs of equal cells along a row become one rectangle.
    let levels = grid.levels(LEVELS);
    let band = |v: f64| levels.iter().take_while(|&&l| l <= v).count();
    let mut rectangles = Vec::new();
    for j in 0..grid.ny - 1 {
        let mut i = 0;
        while i < grid.nx - 1 {
            let value = cell_mean(grid, i, j);
            let mut end = i + 1;
            if value.is_finite() {
                let b = band(value);
                while end < grid.nx - 1
                    && cell_mean(grid, end, j).is_finite()
                    && band(cell_mean(grid, end, j)) == b
                {
                    end += 1;
                }
                let colour = pale(b as f64 / levels.len().max(1) as f64);
                rectangles.push(Rectangle::new(
                    [(grid.x(i), grid.y(j)), (grid.x(end), grid.y(j + 1))],
                    colour.filled(),
                ));
            }
            i = end;
        }
    }
    chart.draw_series(rectangles).map_err(err)?;
    let line_style = RGBColor(30, 30, 30).mix(0.45).stroke_width(1);
    chart
        .draw_series(
            contour_segments(grid, &levels)
                .into_iter()
                .map(|(a, b)| PathElement::new(vec![(a[0], a[1]), (b[0], b[1])], line_style)),
        )
        .map_err(err)?;

    // Gradient arrows, drawn in pixels so that their heads look the same everywhere.
    let arrow_style = RGBColor(45, 45, 45).stroke_width(1);
    for arrow in &picture.arrows.arrows {
        // Centred on its grid point, an arrow stays inside its cell.
        let (half_x, half_y) = (0.5 * arrow.vector[0], 0.5 * arrow.vector[1]);
        let tail = chart.backend_coord(&(arrow.at[0] - half_x, arrow.at[1] - half_y));
        let tip = chart.backend_coord(&(arrow.at[0] + half_x, arrow.at[1] + half_y));
        for path in arrow_paths(tail, tip) {
            chart_area
                .draw(&PathElement::new(path, arrow_style))
                .map_err(err)?;
        }
    }

    // The first runs on top: a diverged run, often the last, sweeps across the picture.
    for (k, trace) in picture.traces.iter().enumerate().rev() {
        let (r, g, b) = RUN_COLOURS[k % RUN_COLOURS.len()];
        let colour = RGBColor(r, g, b);
        let points: Vec<[f64; 2]> = trace.points.iter().map(|p| p.at).collect();
        for piece in clipped(&region, &points) {
            let pixels: Vec<(i32, i32)> = piece
                .iter()
                .map(|p| chart.backend_coord(&(p[0], p[1])))
                .collect();
            // Segment by segment: plotters joins thick polylines with mitres, which
            // spike out of the picture where a noisy path turns back on itself.
            let width = if points.len() <= 300 { 2 } else { 1 };
            for pair in pixels.windows(2) {
                chart_area
                    .draw(&PathElement::new(pair.to_vec(), colour.stroke_width(width)))
                    .map_err(err)?;
            }
            if points.len() <= 300 {
                for &p in &pixels {
                    chart_area
                        .draw(&Circle::new(p, 2, colour.filled()))
                        .map_err(err)?;
                }
            }
        }
    }
    // Markers after all lines, so that no run hides another's start or end.
    for (k, trace) in picture.traces.iter().enumerate() {
        let (r, g, b) = RUN_COLOURS[k % RUN_COLOURS.len()];
        let colour = RGBColor(r, g, b);
        let points: Vec<[f64; 2]> = trace.points.iter().map(|p| p.at).collect();
        if let Some(start) = points.first().filter(|p| region.contains(**p)) {
            let at = chart.backend_coord(&(start[0], start[1]));
            chart_area
                .draw(&Circle::new(at, 7, colour.filled()))
                .map_err(err)?;
            chart_area
                .draw(&Circle::new(at, 7, BLACK.stroke_width(1)))
                .map_err(err)?;
        }
        let exit = points.iter().position(|p| !region.contains(*p));
        match (exit, &trace.ending) {
            (Some(out), _) if out > 0 => {
                // Mark where the run leaves the box: the border crossing of its segment.
                let crossing = region.clip(points[out - 1], points[out]).map(|(_, q)| q);
                if let Some(q) = crossing {
                    let at = chart.backend_coord(&(q[0], q[1]));
                    mark_exit(&chart_area, at, colour, &trace.ending)?;
                }
            }
            (None, _) => {
                if let Some(end) = points.last() {
                    let at = chart.backend_coord(&(end[0], end[1]));
                    if trace.ending == Ending::Diverged {
                        mark_exit(&chart_area, at, colour, &trace.ending)?;
                    } else {
                        let square = Rectangle::new(
                            [(at.0 - 6, at.1 - 6), (at.0 + 6, at.1 + 6)],
                            colour.filled(),
                        );
                        chart_area.draw(&square).map_err(err)?;
                        let outline = Rectangle::new(
                            [(at.0 - 6, at.1 - 6), (at.0 + 6, at.1 + 6)],
                            BLACK.stroke_width(1),
                        );
                        chart_area.draw(&outline).map_err(err)?;
                    }
                }
            }
            _ => {}
        }
    }

    if let Some(m) = picture.minimiser.filter(|m| region.contains(*m)) {
        let at = chart.backend_coord(&(m[0], m[1]));
        chart_area
            .draw(&Cross::new(at, 9, WHITE.stroke_width(5)))
            .map_err(err)?;
        chart_area
            .draw(&Cross::new(at, 8, BLACK.stroke_width(3)))
            .map_err(err)?;
    }

    let plot_height = chart.plotting_area().dim_in_pixel().1;
    let plot_top = chart.plotting_area().get_base_pixel().1 - chart_area.get_base_pixel().1;
    colour_bar(&bar_area, &levels, (plot_top, plot_height))?;
    legend(&legend_area, picture, &levels)
}

/// The colour bar right of the chart: one box per band, in the band's colour, from the
/// lowest band at the bottom to the highest at the top, each level written at the
/// border between its two bands. `plot` is the chart's plotting area (top, height) in
/// pixels, so that the bar spans the same height.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    levels: &[f64],
    plot: (i32, u32),
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    if levels.is_empty() {
        return Ok(());
    }
    let (top, height) = (plot.0, plot.1 as i32);
    let bands = levels.len() + 1;
    let (x0, x1) = (10, 30);
    let y_of = |k: usize| top + height - (height * k as i32) / bands as i32;
    for b in 0..bands {
        let colour = pale(b as f64 / levels.len() as f64);
        area.draw(&Rectangle::new(
            [(x0, y_of(b + 1)), (x1, y_of(b))],
            colour.filled(),
        ))
        .map_err(err)?;
    }
    area.draw(&Rectangle::new(
        [(x0, y_of(bands)), (x1, y_of(0))],
        BLACK.mix(0.5).stroke_width(1),
    ))
    .map_err(err)?;
    let style = TextStyle::from((FONT, 15).into_font()).color(&RGBColor(40, 40, 40));
    for (k, level) in levels.iter().enumerate() {
        let y = y_of(k + 1);
        area.draw(&PathElement::new(
            vec![(x1, y), (x1 + 5, y)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        area.draw(&Text::new(tick(*level), (x1 + 8, y - 8), style.clone()))
            .map_err(err)?;
    }
    area.draw(&Text::new("Q", (x0 + 4, (top - 22).max(0)), style))
        .map_err(err)
}

/// A big cross where a run leaves the box, labelled `diverged` if it did.
fn mark_exit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    colour: RGBColor,
    ending: &Ending,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.draw(&Cross::new(at, 10, colour.stroke_width(4)))
        .map_err(err)?;
    let text = if *ending == Ending::Diverged {
        "diverged"
    } else {
        "leaves the box"
    };
    let (w, h) = area.dim_in_pixel();
    // Keep the label inside the picture: left of the mark near the right edge.
    let x = if at.0 > w as i32 - 140 {
        at.0 - 130
    } else {
        at.0 + 12
    };
    // Above the mark, or below it near the top where the caption is.
    let y = if at.1 < 70 { at.1 + 12 } else { at.1 - 28 }.clamp(4, h as i32 - 24);
    let style = TextStyle::from((FONT, 20).into_font()).color(&colour);
    area.draw(&Text::new(text, (x, y), style)).map_err(err)
}

/// The legend under the chart: one line per run, then the key to contours and arrows.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    picture: &ContourPicture<'_>,
    levels: &[f64],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let font = (FONT, 18).into_font();
    let x0 = 110;
    for (k, trace) in picture.traces.iter().enumerate() {
        let (r, g, b) = RUN_COLOURS[k % RUN_COLOURS.len()];
        let colour = RGBColor(r, g, b);
        let y = 8 + (k as i32) * LEGEND_LINE as i32 + LEGEND_LINE as i32 / 2;
        area.draw(&PathElement::new(
            vec![(x0, y), (x0 + 40, y)],
            colour.stroke_width(3),
        ))
        .map_err(err)?;
        area.draw(&Circle::new((x0, y), 5, colour.filled()))
            .map_err(err)?;
        let mut text = trace.legend();
        if let Ending::Failed(why) = &trace.ending {
            text.push_str(&format!(" ({why})"));
        }
        area.draw(&Text::new(text, (x0 + 52, y - 10), font.clone()))
            .map_err(err)?;
    }
    let y = 8 + (picture.traces.len() as i32) * LEGEND_LINE as i32 + LEGEND_LINE as i32 / 2;
    // The arrows point along +∇Q, uphill: the legend says so, since descent runs the
    // other way.
    let mut key = String::from("● start  ■ end  ✕ minimiser  → +∇Q (uphill)");
    if picture.arrows.scale > 0.0 {
        key.push_str(&format!(" × {}", tick(picture.arrows.scale)));
    }
    if !levels.is_empty() {
        key.push_str("   contours of Q at the levels of the colour bar");
    }
    let style = TextStyle::from(font).color(&RGBColor(60, 60, 60));
    area.draw(&Text::new(key, (x0 - 8, y - 10), style))
        .map_err(err)
}

/// The mean of a cell's four corners (NaN if any is NaN).
fn cell_mean(grid: &Grid, i: usize, j: usize) -> f64 {
    0.25 * (grid.value(i, j)
        + grid.value(i + 1, j)
        + grid.value(i + 1, j + 1)
        + grid.value(i, j + 1))
}

/// Contour lines by marching squares: for every level, the segments that cross each
/// cell, by linear interpolation along its edges.
pub fn contour_segments(grid: &Grid, levels: &[f64]) -> Vec<([f64; 2], [f64; 2])> {
    let mut segments = Vec::new();
    for j in 0..grid.ny - 1 {
        for i in 0..grid.nx - 1 {
            let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let values = corners.map(|(a, b)| grid.value(a, b));
            if values.iter().any(|v| !v.is_finite()) {
                continue;
            }
            for &level in levels {
                let mut crossings: Vec<[f64; 2]> = Vec::with_capacity(4);
                for e in 0..4 {
                    let (va, vb) = (values[e], values[(e + 1) % 4]);
                    if (va < level) != (vb < level) {
                        let t = (level - va) / (vb - va);
                        let (pa, pb) = (corners[e], corners[(e + 1) % 4]);
                        let (xa, ya) = (grid.x(pa.0), grid.y(pa.1));
                        let (xb, yb) = (grid.x(pb.0), grid.y(pb.1));
                        crossings.push([xa + t * (xb - xa), ya + t * (yb - ya)]);
                    }
                }
                for pair in crossings.chunks_exact(2) {
                    segments.push((pair[0], pair[1]));
                }
            }
        }
    }
    segments
}

/// The pieces of the polyline through `points` that lie inside `region`.
pub fn clipped(region: &Region, points: &[[f64; 2]]) -> Vec<Vec<[f64; 2]>> {
    let mut pieces: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut current: Vec<[f64; 2]> = Vec::new();
    if points.len() == 1 && region.contains(points[0]) {
        return vec![points.to_vec()];
    }
    for pair in points.windows(2) {
        match region.clip(pair[0], pair[1]) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    if current.len() > 1 {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(a);
                }
                current.push(b);
            }
            None => {
                if current.len() > 1 {
                    pieces.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() > 1 {
        pieces.push(current);
    }
    pieces
}

/// The shaft and the two barbs of an arrow from `tail` to `tip` in pixels; nothing for
/// an arrow shorter than 2 pixels.
fn arrow_paths(tail: (i32, i32), tip: (i32, i32)) -> Vec<Vec<(i32, i32)>> {
    let (dx, dy) = ((tip.0 - tail.0) as f64, (tip.1 - tail.1) as f64);
    let length = dx.hypot(dy);
    if length < 2.0 {
        return Vec::new();
    }
    let head = (0.35 * length).min(9.0);
    let (ux, uy) = (dx / length, dy / length);
    let barb = |angle: f64| {
        let (s, c) = angle.sin_cos();
        let (bx, by) = (-(ux * c - uy * s), -(ux * s + uy * c));
        (
            tip.0 + (head * bx).round() as i32,
            tip.1 + (head * by).round() as i32,
        )
    };
    vec![vec![tail, tip], vec![barb(0.45), tip, barb(-0.45)]]
}

/// A pale colour of the viridis map at `t ∈ [0, 1]`: dark blue for low losses to
/// yellow for high ones, mixed with white so that arrows and runs stand out.
fn pale(t: f64) -> RGBColor {
    const VIRIDIS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let k = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |x: f64, y: f64| (0.5 * (x + f * (y - x)) + 0.5 * 255.0).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        let cases = [
            (0.0, "0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e6, "1.00e6"),
            (12.0, "12"),
            (1e-5, "1.00e-5"),
        ];
        for (v, text) in cases {
            assert_eq!(tick(v), text);
        }
    }

    #[test]
    fn contour_lines_of_a_plane_are_straight_and_polylines_are_clipped() {
        let region = Region {
            x: (0.0, 1.0),
            y: (0.0, 1.0),
        };
        // q(x, y) = x on a 3 × 3 grid: the level 0.25 is the line x = 0.25.
        let grid = Grid {
            region,
            nx: 3,
            ny: 3,
            values: vec![0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.0, 0.5, 1.0],
        };
        let segments = contour_segments(&grid, &[0.25]);
        assert_eq!(segments.len(), 2);
        for (a, b) in segments {
            assert!((a[0] - 0.25).abs() < 1e-12 && (b[0] - 0.25).abs() < 1e-12);
        }
        let pieces = clipped(&region, &[[0.5, 0.5], [0.75, 0.5], [3.0, 0.5], [4.0, 4.0]]);
        assert_eq!(pieces, vec![vec![[0.5, 0.5], [0.75, 0.5], [1.0, 0.5]]]);
    }

    /// A path that leaves the box and comes back, as a diverging run's does: every
    /// point drawn lies inside the box, each piece's points are on the path, and no
    /// point is moved onto the border except where a segment crosses it.
    #[test]
    fn every_drawn_path_point_lies_inside_the_plot_area() {
        let region = Region {
            x: (-1.0, 1.0),
            y: (-2.0, 2.0),
        };
        // An oscillation growing by 1.2 a step, as gd with η = 1.1 on x² + y².
        let path: Vec<[f64; 2]> = (0..40)
            .map(|k| {
                let r = 0.1 * 1.2f64.powi(k);
                let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
                [sign * r, 0.5 * sign * r + 0.3]
            })
            .collect();
        let pieces = clipped(&region, &path);
        assert!(!pieces.is_empty());
        for piece in &pieces {
            for p in piece {
                assert!(region.contains(*p), "{p:?}");
            }
            // Each drawn segment lies on a segment of the path (the clipping cuts, it
            // does not move): its points are collinear with some segment of the path.
            for pair in piece.windows(2) {
                let on_path = path.windows(2).any(|s| {
                    let cross = |p: [f64; 2]| {
                        (s[1][0] - s[0][0]) * (p[1] - s[0][1])
                            - (s[1][1] - s[0][1]) * (p[0] - s[0][0])
                    };
                    let scale = (s[1][0] - s[0][0]).hypot(s[1][1] - s[0][1]);
                    cross(pair[0]).abs() <= 1e-9 * scale && cross(pair[1]).abs() <= 1e-9 * scale
                });
                assert!(on_path, "{pair:?}");
            }
        }
    }
}
