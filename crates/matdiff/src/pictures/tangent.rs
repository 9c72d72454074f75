//! The tangent picture of a function of one variable: the curve `f`, its tangent line
//! `f(x₀) + f'(x₀)(x − x₀)` at `x₀`, and — the slide's `df = f'(x)h + o(h)` — the
//! increment `f(x₀ + h) − f(x₀)` split into the linear part `f'(x₀)h` and the gap
//! `o(h)` between the curve and the tangent, shaded over `[x₀, x₀ + h]`.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::contour::tick;
use super::plane::{drawable, Region};
use super::FONT;

/// Everything a tangent picture shows.
pub struct TangentPicture {
    /// The caption above the chart.
    pub title: String,
    /// The variable's name, for the horizontal axis.
    pub variable: String,
    /// Points `(x, f(x))` of the curve, by increasing `x` (NaN where `f` is undefined).
    pub curve: Vec<(f64, f64)>,
    /// The point of tangency `x₀`.
    pub x0: f64,
    /// `f(x₀)`.
    pub f0: f64,
    /// `f'(x₀)`, from the derived derivative.
    pub slope: f64,
    /// The increment `h`.
    pub h: f64,
    /// `f(x₀ + h)`.
    pub fh: f64,
}

impl TangentPicture {
    /// The tangent line at `x`.
    pub fn tangent(&self, x: f64) -> f64 {
        self.f0 + self.slope * (x - self.x0)
    }
}

impl super::Picture for TangentPicture {
    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        render(root, self)
    }
}

fn render<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &TangentPicture,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let finite: Vec<(f64, f64)> = finite_points(p);
    let frame = frame(p)?;
    let ((x_lo, x_hi), (y_lo, y_hi)) = (frame.x, frame.y);

    let mut chart = ChartBuilder::on(root)
        .caption(&p.title, (FONT, 26))
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(90)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .x_desc(p.variable.as_str())
        .y_desc(format!("f({})", p.variable))
        .axis_desc_style((FONT, 22))
        .label_style((FONT, 17))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(err)?;

    // The gap o(h) between curve and tangent over [x₀, x₀ + h], shaded.
    let (a, b) = if p.h >= 0.0 {
        (p.x0, p.x0 + p.h)
    } else {
        (p.x0 + p.h, p.x0)
    };
    let mut gap: Vec<(f64, f64)> = finite
        .iter()
        .copied()
        .filter(|c| c.0 > a && c.0 < b)
        .collect();
    gap.insert(0, (a, curve_at(p, a)));
    gap.push((b, curve_at(p, b)));
    let mut polygon = gap.clone();
    polygon.extend(gap.iter().rev().map(|&(x, _)| (x, p.tangent(x))));
    if polygon.iter().all(|c| c.1.is_finite()) {
        chart
            .draw_series(std::iter::once(Polygon::new(
                polygon,
                RGBColor(255, 165, 0).mix(0.35).filled(),
            )))
            .map_err(err)?
            .label("o(h): the gap between f and its tangent")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 6), (x + 24, y + 6)],
                    RGBColor(255, 165, 0).mix(0.35).filled(),
                )
            });
    }

    let pieces = finite_pieces(&p.curve);
    let curve_colour = RGBColor(31, 90, 200);
    for (k, piece) in pieces.into_iter().enumerate() {
        let series = chart
            .draw_series(LineSeries::new(piece, curve_colour.stroke_width(3)))
            .map_err(err)?;
        if k == 0 {
            series
                .label(format!("f({})", p.variable))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], curve_colour.stroke_width(3))
                });
        }
    }
    let tangent_colour = RGBColor(214, 39, 40);
    // The tangent cut at the frame's border, so that it keeps its slope and passes
    // through (x₀, f(x₀)); plotters would move ends outside the frame onto its edge.
    let line: Vec<(f64, f64)> = tangent_segment(p, &frame)
        .map(|(a, b)| vec![(a[0], a[1]), (b[0], b[1])])
        .unwrap_or_default();
    chart
        .draw_series(LineSeries::new(line, tangent_colour.stroke_width(2)))
        .map_err(err)?
        .label(format!(
            "tangent f(x₀) + f'(x₀)(x − x₀), x₀ = {}, f'(x₀) = {}",
            tick(p.x0),
            tick(p.slope)
        ))
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 24, y)], tangent_colour.stroke_width(2))
        });

    // The increment at x₀ + h: f'(x₀)h up to the tangent, o(h) on to the curve.
    let xh = p.x0 + p.h;
    let linear_colour = RGBColor(44, 150, 44);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(p.x0, p.f0), (xh, p.f0)],
            BLACK.mix(0.6).stroke_width(1),
        )))
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(xh, p.f0), (xh, p.tangent(xh))],
            linear_colour.stroke_width(4),
        )))
        .map_err(err)?
        .label(format!(
            "f'(x₀)·h = {}, h = {}",
            tick(p.slope * p.h),
            tick(p.h)
        ))
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 24, y)], linear_colour.stroke_width(4))
        });
    let gap_colour = RGBColor(230, 120, 0);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(xh, p.tangent(xh)), (xh, p.fh)],
            gap_colour.stroke_width(4),
        )))
        .map_err(err)?
        .label(format!(
            "o(h) = f(x₀+h) − f(x₀) − f'(x₀)·h = {}",
            tick(p.fh - p.tangent(xh))
        ))
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 24, y)], gap_colour.stroke_width(4))
        });
    chart
        .draw_series([(p.x0, p.f0), (xh, p.fh)].map(|c| Circle::new(c, 6, BLACK.filled())))
        .map_err(err)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 18))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .draw()
        .map_err(err)
}

/// The curve's points where `f` is finite.
fn finite_points(p: &TangentPicture) -> Vec<(f64, f64)> {
    p.curve
        .iter()
        .copied()
        .filter(|(_, y)| y.is_finite())
        .collect()
}

/// The region the chart shows: the curve's `x` range, and every finite value of the
/// curve, `f(x₀)`, `f(x₀ + h)` and the tangent at `x₀ + h` with 8 % padding. Refused
/// when it cannot be drawn (values past ±1e300, say).
pub fn frame(p: &TangentPicture) -> Result<Region, String> {
    let (x_lo, x_hi) = (
        p.curve.first().map_or(p.x0 - 1.0, |c| c.0),
        p.curve.last().map_or(p.x0 + 1.0, |c| c.0),
    );
    let ys = finite_points(p)
        .into_iter()
        .map(|c| c.1)
        .chain([p.f0, p.fh, p.tangent(p.x0 + p.h)]);
    let (mut y_lo, mut y_hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    if !(y_lo.is_finite() && y_hi.is_finite()) {
        return Err(
            "the function has no finite value in the range — choose another --range or --at".into(),
        );
    }
    if y_hi - y_lo < 1e-12 * (1.0 + y_hi.abs()) {
        y_lo -= 1.0;
        y_hi += 1.0;
    }
    let pad = 0.08 * (y_hi - y_lo);
    let (y_lo, y_hi) = (y_lo - pad, y_hi + pad);
    drawable(x_lo, x_hi).map_err(|e| format!("the range of x: {e}"))?;
    drawable(y_lo, y_hi)
        .map_err(|e| format!("the values of f: {e} — choose a narrower --range"))?;
    Ok(Region {
        x: (x_lo, x_hi),
        y: (y_lo, y_hi),
    })
}

/// The tangent line `f(x₀) + f'(x₀)(x − x₀)` across the frame's width, clipped to the
/// frame (Liang–Barsky): both ends stay on the line. `None` when the line misses the
/// frame, which cannot happen for a frame that holds `(x₀, f(x₀))`.
pub fn tangent_segment(p: &TangentPicture, frame: &Region) -> Option<([f64; 2], [f64; 2])> {
    let (x_lo, x_hi) = frame.x;
    frame.clip([x_lo, p.tangent(x_lo)], [x_hi, p.tangent(x_hi)])
}

/// `f` at `x` by linear interpolation of the curve's points.
fn curve_at(p: &TangentPicture, x: f64) -> f64 {
    if x == p.x0 {
        return p.f0;
    }
    if x == p.x0 + p.h {
        return p.fh;
    }
    let k = p.curve.partition_point(|c| c.0 < x);
    match (
        k.checked_sub(1).and_then(|i| p.curve.get(i)),
        p.curve.get(k),
    ) {
        (Some(a), Some(b)) if b.0 > a.0 => a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0),
        (_, Some(b)) => b.1,
        (Some(a), None) => a.1,
        (None, None) => f64::NAN,
    }
}

/// The runs of finite points of a curve, so that a gap in its domain is not bridged.
fn finite_pieces(curve: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut pieces = vec![Vec::new()];
    for &c in curve {
        if c.1.is_finite() {
            pieces.last_mut().expect("never empty").push(c);
        } else if !pieces.last().expect("never empty").is_empty() {
            pieces.push(Vec::new());
        }
    }
    pieces.retain(|p| !p.is_empty());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The picture of `f` with derivative `df` at `x0` over `x0 ± 2.5|h|`, as
    /// `matdiff plot` samples it.
    fn picture(f: fn(f64) -> f64, df: fn(f64) -> f64, x0: f64, h: f64) -> TangentPicture {
        let (lo, hi) = (x0 - 2.5 * h.abs(), x0 + 2.5 * h.abs());
        let curve = (0..=400)
            .map(|k| {
                let x = lo + (hi - lo) * k as f64 / 400.0;
                (x, f(x))
            })
            .collect();
        TangentPicture {
            title: String::new(),
            variable: "x".into(),
            curve,
            x0,
            f0: f(x0),
            slope: df(x0),
            h,
            fh: f(x0 + h),
        }
    }

    /// The drawn tangent's ends lie on y = f(x₀) + f'(x₀)(x − x₀) within a pixel of the
    /// default 1000 × 800 picture, inside the frame, on both sides of x₀.
    #[test]
    fn the_tangent_passes_through_the_point_of_tangency() {
        type Function = fn(f64) -> f64;
        let cases: [(Function, Function, f64, f64); 4] = [
            (|x| x * x * x - 2.0 * x, |x| 3.0 * x * x - 2.0, 1.0, 0.5),
            (|x| x * x, |x| 2.0 * x, 1.0, 0.5),
            (|x| x.exp(), |x| x.exp(), 0.0, -2.0),
            (|x| x.sin(), |x| x.cos(), 0.3, 0.1),
        ];
        for (f, df, x0, h) in cases {
            let p = picture(f, df, x0, h);
            let frame = frame(&p).unwrap();
            let (a, b) = tangent_segment(&p, &frame).expect("the tangent crosses the frame");
            // One pixel of the plotting area (at most 1000 × 800 pixels).
            let pixel_y = (frame.y.1 - frame.y.0) / 800.0;
            let pixel_x = (frame.x.1 - frame.x.0) / 1000.0;
            for end in [a, b] {
                let expected = f(x0) + df(x0) * (end[0] - x0);
                assert!((end[1] - expected).abs() <= pixel_y, "x0 = {x0}: {end:?}");
                assert!(frame.contains(end), "x0 = {x0}: {end:?} outside {frame:?}");
            }
            assert!(
                a[0] <= x0 + pixel_x && x0 - pixel_x <= b[0],
                "x0 = {x0}: {a:?} {b:?}"
            );
        }
    }

    #[test]
    fn frames_past_the_largest_coordinate_are_refused() {
        let p = picture(|x| x * x * x, |x| 3.0 * x * x, -1e102, 1e101);
        let error = frame(&p).unwrap_err();
        assert!(error.contains("narrower --range"), "{error}");
    }
}
