//! What a contour picture shows, computed from the loss itself: the loss restricted to
//! a plane of two coordinates ([`Plane`]), its values on a grid ([`Grid`]), gradient
//! arrows from the derived gradient ([`gradient_arrows`]) and the trajectories of the
//! optimiser's real runs ([`trace`]).

use std::io::{self, Write};

use crate::optim::{
    self, Batch, History, LineSearch, Method, Objective, ObjectiveError, OptimError, Options,
    Scope, StopReason, StopRules,
};

/// The loss as a function of two coordinates of its variable, the others held fixed:
/// `q(p) = Q(w)` with `w = base` except `w[coords[0]] = p[0]`, `w[coords[1]] = p[1]`.
///
/// Its gradient is the two matching entries of `∇Q(w)`, so the optimiser's methods run
/// on the plane exactly as on the whole variable with the other coordinates frozen.
pub struct Plane<'a, O: ?Sized> {
    inner: &'a mut O,
    coords: [usize; 2],
    w: Vec<f64>,
    grad: Vec<f64>,
}

impl<'a, O: Objective + ?Sized> Plane<'a, O> {
    /// The plane of `coords` through `base` (a full parameter vector of `inner`).
    ///
    /// # Panics
    ///
    /// If `base` is not of `inner`'s dimension or a coordinate is out of range: callers
    /// check the command line first.
    pub fn new(inner: &'a mut O, base: Vec<f64>, coords: [usize; 2]) -> Self {
        assert_eq!(
            base.len(),
            inner.dim(),
            "the base point has the loss's size"
        );
        assert!(
            coords.iter().all(|&c| c < base.len()),
            "coordinates in range"
        );
        let grad = vec![0.0; base.len()];
        Plane {
            inner,
            coords,
            w: base,
            grad,
        }
    }

    fn set(&mut self, p: &[f64]) {
        self.w[self.coords[0]] = p[0];
        self.w[self.coords[1]] = p[1];
    }
}

impl<O: Objective + ?Sized> Objective for Plane<'_, O> {
    fn dim(&self) -> usize {
        2
    }

    fn samples(&self) -> usize {
        self.inner.samples()
    }

    fn loss(&mut self, p: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        self.set(p);
        self.inner.loss(&self.w, batch)
    }

    fn loss_and_gradient(
        &mut self,
        p: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        self.set(p);
        let loss = self
            .inner
            .loss_and_gradient(&self.w, batch, &mut self.grad)?;
        grad[0] = self.grad[self.coords[0]];
        grad[1] = self.grad[self.coords[1]];
        Ok(loss)
    }
}

/// A rectangle of the plane: `x.0 ≤ x ≤ x.1`, `y.0 ≤ y ≤ y.1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// The horizontal extent.
    pub x: (f64, f64),
    /// The vertical extent.
    pub y: (f64, f64),
}

impl Region {
    /// Parses `x0:x1,y0:y1`; each interval must be non-empty (`x0 < x1`).
    pub fn parse(text: &str) -> Result<Region, String> {
        let (x, y) = text.split_once(',').ok_or_else(|| {
            format!("--range `{text}` is not x0:x1,y0:y1 — write e.g. --range -1:3,-2:2")
        })?;
        Ok(Region {
            x: parse_interval(x, "--range")?,
            y: parse_interval(y, "--range")?,
        })
    }

    /// A box centred on `centre` that holds every point of `points` with a margin, its
    /// sides in the ratio `aspect` (width / height, in data units), so that a picture
    /// whose plotting area has that aspect shows both axes at the same scale — and the
    /// gradient perpendicular to the level sets.
    pub fn around(centre: [f64; 2], points: &[[f64; 2]], aspect: f64) -> Region {
        let reach = points
            .iter()
            .filter(|p| p.iter().all(|v| v.is_finite()))
            .map(|p| (p[0] - centre[0]).abs().max((p[1] - centre[1]).abs()))
            .fold(0.0, f64::max);
        let scale = centre[0].abs().max(centre[1].abs());
        let half = if reach > 1e-9 * (1.0 + scale) {
            1.25 * reach
        } else {
            // Nothing to hold but the centre: a box of its own size, at least 1.
            (0.5 * scale).max(1.0)
        };
        let (hx, hy) = if aspect >= 1.0 {
            (half * aspect, half)
        } else {
            (half, half / aspect)
        };
        Region {
            x: (centre[0] - hx, centre[0] + hx),
            y: (centre[1] - hy, centre[1] + hy),
        }
    }

    /// Whether `p` lies in the region (its border included).
    pub fn contains(&self, p: [f64; 2]) -> bool {
        (self.x.0..=self.x.1).contains(&p[0]) && (self.y.0..=self.y.1).contains(&p[1])
    }

    /// The part of the segment `a → b` inside the region (Liang–Barsky), if any.
    pub fn clip(&self, a: [f64; 2], b: [f64; 2]) -> Option<([f64; 2], [f64; 2])> {
        let d = [b[0] - a[0], b[1] - a[1]];
        let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
        let edges = [
            (-d[0], a[0] - self.x.0),
            (d[0], self.x.1 - a[0]),
            (-d[1], a[1] - self.y.0),
            (d[1], self.y.1 - a[1]),
        ];
        for (p, q) in edges {
            if !(p.is_finite() && q.is_finite()) {
                return None;
            }
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        (t0 <= t1).then(|| {
            // Clamped only against rounding: a point cut at the border lies on it.
            let at = |t: f64| {
                [
                    (a[0] + t * d[0]).clamp(self.x.0, self.x.1),
                    (a[1] + t * d[1]).clamp(self.y.0, self.y.1),
                ]
            };
            (at(t0), at(t1))
        })
    }
}

/// Parses `x0:x1` with `x0 < x1`; `option` names the flag in messages. Both ends lie
/// within ±[`MAX_COORDINATE`], so that the width and every point sampled in it are
/// finite.
pub fn parse_interval(text: &str, option: &str) -> Result<(f64, f64), String> {
    let (a, b) = text
        .split_once(':')
        .ok_or_else(|| format!("{option} `{text}` is not an interval x0:x1 — write e.g. -1:3"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{option}: `{}` is not a number", s.trim()))
    };
    let (ta, tb) = (a.trim(), b.trim());
    let (a, b) = (number(a)?, number(b)?);
    if a.abs().max(b.abs()) > MAX_COORDINATE {
        return Err(format!(
            "{option}: the interval {ta}:{tb} reaches past ±{MAX_COORDINATE:e}, the largest coordinate a picture draws — choose a narrower interval"
        ));
    }
    if a == b {
        return Err(format!(
            "{option}: the interval {ta}:{tb} is empty — give two different ends, e.g. {ta}:{}",
            tick(a + a.abs().max(1.0))
        ));
    }
    if a > b {
        return Err(format!(
            "{option}: the interval {ta}:{tb} is empty — write the smaller end first, e.g. {tb}:{ta}"
        ));
    }
    drawable(a, b).map_err(|_| {
        format!("{option}: the interval {ta}:{tb} is too narrow to draw — widen it")
    })?;
    Ok((a, b))
}

/// The largest coordinate a picture draws: widths, paddings and tick steps of axes
/// within ±1e300 stay finite.
pub const MAX_COORDINATE: f64 = 1e300;

/// Whether the axis `lo..hi` can be drawn: finite, within ±[`MAX_COORDINATE`], and
/// wide enough for distinct points (a few units in the last place of its ends).
pub fn drawable(lo: f64, hi: f64) -> Result<(), String> {
    if !(lo.is_finite() && hi.is_finite() && (hi - lo).is_finite()) {
        return Err(format!(
            "the interval {}:{} has no finite width",
            tick(lo),
            tick(hi)
        ));
    }
    if lo.abs().max(hi.abs()) > MAX_COORDINATE {
        return Err(format!(
            "the interval {}:{} reaches past ±{MAX_COORDINATE:e}, the largest coordinate a picture draws",
            tick(lo),
            tick(hi)
        ));
    }
    if hi - lo <= 16.0 * f64::EPSILON * lo.abs().max(hi.abs()) {
        return Err(format!(
            "the interval {}:{} is too narrow to draw",
            tick(lo),
            tick(hi)
        ));
    }
    Ok(())
}

/// The loss on a grid of `nx × ny` nodes spanning a region, corners included; NaN
/// where it cannot be evaluated (outside its domain).
#[derive(Clone, Debug)]
pub struct Grid {
    /// The region the grid spans.
    pub region: Region,
    /// Nodes across.
    pub nx: usize,
    /// Nodes up.
    pub ny: usize,
    /// The loss at node `(i, j)` is `values[i + j * nx]`.
    pub values: Vec<f64>,
}

impl Grid {
    /// Evaluates the full loss of `objective` (a function of two parameters) at every
    /// node; `nx, ny ≥ 2`.
    pub fn sample<O: Objective + ?Sized>(
        objective: &mut O,
        region: Region,
        nx: usize,
        ny: usize,
    ) -> Grid {
        let (nx, ny) = (nx.max(2), ny.max(2));
        let mut grid = Grid {
            region,
            nx,
            ny,
            values: Vec::with_capacity(nx * ny),
        };
        for j in 0..ny {
            for i in 0..nx {
                let p = [grid.x(i), grid.y(j)];
                let value = objective.loss(&p, Batch::All).unwrap_or(f64::NAN);
                grid.values
                    .push(if value.is_finite() { value } else { f64::NAN });
            }
        }
        grid
    }

    /// The abscissa of column `i`.
    pub fn x(&self, i: usize) -> f64 {
        let (a, b) = self.region.x;
        a + (b - a) * i as f64 / (self.nx - 1) as f64
    }

    /// The ordinate of row `j`.
    pub fn y(&self, j: usize) -> f64 {
        let (a, b) = self.region.y;
        a + (b - a) * j as f64 / (self.ny - 1) as f64
    }

    /// The loss at node `(i, j)`.
    pub fn value(&self, i: usize, j: usize) -> f64 {
        self.values[i + j * self.nx]
    }

    /// `count` contour levels near evenly spaced quantiles of the finite values, each
    /// rounded to two significant digits (`0.37`, `1.2e3`), without repeats: each band
    /// between two levels covers about the same area, whatever the loss's range, and
    /// the labels are round numbers.
    pub fn levels(&self, count: usize) -> Vec<f64> {
        let mut finite: Vec<f64> = self
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if finite.is_empty() {
            return Vec::new();
        }
        finite.sort_by(f64::total_cmp);
        let mut levels: Vec<f64> = (1..=count)
            .map(|k| {
                let q = k as f64 / (count + 1) as f64;
                round_level(finite[((finite.len() - 1) as f64 * q).round() as usize])
            })
            .collect();
        levels.dedup();
        levels
    }
}

/// `v` rounded to two significant digits.
pub fn round_level(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let exponent = v.abs().log10().floor() as i32 - 1;
    // Dividing by a power of ten (not multiplying by its inverse) keeps `0.37` exact.
    if exponent >= 0 {
        let p = 10f64.powi(exponent);
        (v / p).round() * p
    } else {
        let p = 10f64.powi(-exponent);
        (v * p).round() / p
    }
}

/// One gradient arrow: the derived gradient at a point and the arrow drawn for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrow {
    /// The grid point the arrow is drawn centred on.
    pub at: [f64; 2],
    /// `∇q` at that point, from the derived gradient.
    pub gradient: [f64; 2],
    /// The arrow, `scale · ∇q`, in data units.
    pub vector: [f64; 2],
}

/// Gradient arrows on a grid, all with the same scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrows {
    /// Factor from gradient to arrow: the longest arrow spans 0.9 grid cells.
    pub scale: f64,
    /// The arrows, row by row from the bottom left; points where the gradient cannot
    /// be evaluated have none.
    pub arrows: Vec<Arrow>,
}

/// The gradient of `objective` (two parameters) at the centres of an `nx × ny` grid of
/// cells over `region`, as arrows `scale · ∇q` with one scale for all: the longest
/// spans 0.9 of the smaller cell side. The gradient is perpendicular to the level sets
/// and points uphill.
pub fn gradient_arrows<O: Objective + ?Sized>(
    objective: &mut O,
    region: Region,
    nx: usize,
    ny: usize,
) -> Arrows {
    let (nx, ny) = (nx.max(1), ny.max(1));
    let dx = (region.x.1 - region.x.0) / nx as f64;
    let dy = (region.y.1 - region.y.0) / ny as f64;
    let mut found = Vec::with_capacity(nx * ny);
    let mut grad = [0.0; 2];
    for j in 0..ny {
        for i in 0..nx {
            let at = [
                region.x.0 + (i as f64 + 0.5) * dx,
                region.y.0 + (j as f64 + 0.5) * dy,
            ];
            let ok = objective
                .loss_and_gradient(&at, Batch::All, &mut grad)
                .is_ok_and(|l| l.is_finite());
            if ok && grad.iter().all(|g| g.is_finite()) {
                found.push((at, grad));
            }
        }
    }
    let longest = found
        .iter()
        .map(|(_, g)| g[0].hypot(g[1]))
        .fold(0.0, f64::max);
    let scale = if longest > 0.0 {
        0.9 * dx.min(dy) / longest
    } else {
        0.0
    };
    Arrows {
        scale,
        arrows: found
            .into_iter()
            .map(|(at, g)| Arrow {
                at,
                gradient: g,
                vector: [scale * g[0], scale * g[1]],
            })
            .collect(),
    }
}

/// Parses a run of `--run METHOD[:key=value,…]`: the method (`gd`, `sgd`, `minibatch`,
/// `momentum`, `nesterov`, `adam`) and the keys `lr` (η, default 0.01), `epochs`,
/// `max_iter` (or its older name `iterations`), `batch` (minibatch: default 32;
/// momentum, nesterov and adam become stochastic with it) and `seed`: the names of
/// [`StopSpec`](crate::spec::StopSpec) and of the fit's options. Without `epochs` or
/// `max_iter` a full-batch run
/// stops after 1000 iterations and a stochastic one after 5 epochs; any run stops
/// earlier when `‖∇Q‖ < 1e-6`.
pub fn parse_run(text: &str) -> Result<Options, String> {
    let (name, keys) = text.split_once(':').unwrap_or((text, ""));
    let mut method = match name.trim() {
        "gd" => Method::Gd,
        "sgd" => Method::Sgd,
        "minibatch" => Method::MiniBatch { batch: 32 },
        "momentum" => Method::MOMENTUM,
        "nesterov" => Method::NESTEROV,
        "adam" => Method::ADAM,
        other => {
            return Err(format!(
                "unknown method `{other}` in --run `{text}` — use gd, sgd, minibatch, momentum, nesterov or adam"
            ))
        }
    };
    let mut options = Options {
        method,
        stop: StopRules {
            max_epochs: None,
            ..StopRules::default()
        },
        ..Options::default()
    };
    let mut epochs = None;
    let mut iterations = None;
    for pair in keys.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            format!("--run `{text}`: `{pair}` is not key=value — write e.g. gd:lr=0.1,max_iter=50")
        })?;
        let (key, value) = (key.trim(), value.trim());
        let number = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| format!("--run `{text}`: {key} must be a positive number"))
        };
        let at_most = |n: usize, limit: usize| {
            if n <= limit {
                Ok(n)
            } else {
                Err(format!(
                    "--run `{text}`: {key} is at most {limit} in a picture, which records every iterate"
                ))
            }
        };
        let count = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| format!("--run `{text}`: {key} must be a positive whole number"))
        };
        match key {
            "lr" => options.lr = number()?,
            "epochs" => epochs = Some(at_most(count()?, MAX_EPOCHS)?),
            // `iterations` is the older spelling of `max_iter`, kept so that scripts work.
            "max_iter" | "iterations" => iterations = Some(at_most(count()?, MAX_ITERATIONS)?),
            "seed" => {
                options.seed = value
                    .parse()
                    .map_err(|_| format!("--run `{text}`: seed must be a whole number"))?;
            }
            "batch" => match method {
                Method::MiniBatch { .. } => {
                    method = Method::MiniBatch { batch: count()? };
                    options.method = method;
                }
                Method::Momentum { .. } | Method::Nesterov { .. } | Method::Adam { .. } => {
                    options.batch = Some(count()?);
                }
                Method::Gd | Method::Sgd => {
                    // The suggestion must itself be valid: a batch of at least 1.
                    let batch = count()?;
                    return Err(format!(
                        "--run `{text}`: {} takes no batch — use minibatch:batch={batch}",
                        method.name()
                    ));
                }
            },
            other => {
                return Err(format!(
                "--run `{text}`: unknown key `{other}` — use lr, epochs, max_iter, batch or seed"
            ))
            }
        }
    }
    let stochastic = options.effective_batch(usize::MAX).is_some();
    options.stop.max_epochs = epochs;
    options.stop.max_iter = iterations;
    if epochs.is_none() && iterations.is_none() {
        if stochastic {
            options.stop.max_epochs = Some(5);
        } else {
            options.stop.max_iter = Some(1000);
        }
    }
    options
        .validate()
        .map_err(|e| format!("--run `{text}`: {e}"))?;
    Ok(options)
}

/// The most iterations of a traced run: every iterate is kept and drawn.
pub const MAX_ITERATIONS: usize = 100_000;
/// The most epochs of a traced stochastic run.
pub const MAX_EPOCHS: usize = 10_000;

/// How a traced run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// A stop rule fired.
    Stopped(StopReason),
    /// The loss grew without bound (or turned NaN/Inf): the optimiser said so, or the
    /// run ended at its iteration or epoch limit by the rule of [`grew_away`].
    Diverged,
    /// The loss could not be evaluated along the way.
    Failed(String),
}

/// A point of a trajectory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TracePoint {
    /// Updates of the variable before this point (0 at the start).
    pub iteration: usize,
    /// The point.
    pub at: [f64; 2],
    /// The full loss there (NaN where it cannot be evaluated).
    pub loss: f64,
}

/// The trajectory of one run of the optimiser on the plane.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The method's name (`gd`, `sgd`, …).
    pub method: &'static str,
    /// The learning rate η.
    pub lr: f64,
    /// The batch size of a stochastic run.
    pub batch: Option<usize>,
    /// Every iterate, from the start.
    pub points: Vec<TracePoint>,
    /// How the run ended.
    pub ending: Ending,
}

impl Trace {
    /// Updates of the variable the run made.
    pub fn iterations(&self) -> usize {
        self.points.last().map_or(0, |p| p.iteration)
    }

    /// The run for a legend: `gd η=0.05`, `minibatch(32) η=0.1`.
    pub fn name(&self) -> String {
        let method = match (self.method, self.batch) {
            ("sgd", _) | (_, None) => self.method.to_owned(),
            (m, Some(b)) => format!("{m}({b})"),
        };
        // `{}` writes 1e308 with all its 309 digits: large and tiny rates in `e` form.
        let lr = if self.lr != 0.0 && !(1e-4..1e6).contains(&self.lr.abs()) {
            format!("{:e}", self.lr)
        } else {
            format!("{}", self.lr)
        };
        format!("{method} η={lr}")
    }

    /// How it ended, briefly: `diverged`, `‖∇Q‖ < ε`, `iteration limit`.
    pub fn ending_text(&self) -> String {
        match &self.ending {
            Ending::Diverged => "diverged".to_owned(),
            Ending::Failed(_) => "failed".to_owned(),
            Ending::Stopped(reason) => match reason {
                StopReason::StepSize => "step < ε",
                StopReason::LossChange => "loss change < ε",
                StopReason::GradientNorm => "‖∇Q‖ < ε",
                StopReason::MaxIterations => "iteration limit",
                StopReason::MaxEpochs => "epoch limit",
                StopReason::NoImprovement => "no improvement",
                StopReason::LineSearchFailed => "line search stalled",
            }
            .to_owned(),
        }
    }

    /// The legend entry: name, iterations and how the run ended.
    pub fn legend(&self) -> String {
        format!(
            "{}: {} iterations, {}",
            self.name(),
            self.iterations(),
            self.ending_text()
        )
    }
}

/// Runs the optimiser with `options` on `objective` (two parameters) from `start`,
/// recording every iterate — each step of a stochastic method too. A diverged run is a
/// trace like any other, ending in [`Ending::Diverged`].
pub fn trace<O: Objective + ?Sized>(
    objective: &mut O,
    start: [f64; 2],
    options: &Options,
) -> Trace {
    let mut history = History::new().with_steps().with_weights();
    let result = optim::minimize(objective, &start, options, &mut history);
    let mut points: Vec<TracePoint> = Vec::with_capacity(history.records.len());
    for record in &history.records {
        let Some(w) = record.w.as_deref().filter(|w| w.len() == 2) else {
            continue;
        };
        // A step record's loss is the batch loss before the step; the full loss after
        // it comes with the epoch record at the same iteration, or is computed below.
        let loss = match record.scope {
            Scope::Epoch => record.loss,
            Scope::Step => f64::NAN,
        };
        match points.last_mut() {
            Some(last) if last.iteration == record.iteration => {
                if record.scope == Scope::Epoch {
                    last.loss = loss;
                }
            }
            _ => points.push(TracePoint {
                iteration: record.iteration,
                at: [w[0], w[1]],
                loss,
            }),
        }
    }
    for point in points.iter_mut().filter(|p| p.loss.is_nan()) {
        point.loss = objective
            .loss(&point.at, Batch::All)
            .ok()
            .filter(|l| l.is_finite())
            .unwrap_or(f64::NAN);
    }
    let ending = match result {
        Ok(outcome)
            if matches!(
                outcome.stop,
                StopReason::MaxIterations | StopReason::MaxEpochs
            ) && grew_away(&points) =>
        {
            Ending::Diverged
        }
        Ok(outcome) => Ending::Stopped(outcome.stop),
        Err(OptimError::Diverged { .. }) => Ending::Diverged,
        Err(e) => Ending::Failed(e.to_string()),
    };
    Trace {
        method: options.method.name(),
        lr: options.lr,
        batch: options.effective_batch(usize::MAX),
        points,
        ending,
    }
}

/// The rule that calls a run stopped by its limit diverged: its last loss is not finite,
/// or it exceeds the starting loss by more than ten times `max(|Q(start)|, 1)`
/// (`2.29 → 282`, say). A descent that is merely slow never rises that far.
pub fn grew_away(points: &[TracePoint]) -> bool {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return false;
    };
    if !first.loss.is_finite() {
        return false;
    }
    !last.loss.is_finite() || last.loss - first.loss > DIVERGED_GROWTH * first.loss.abs().max(1.0)
}

/// How many times `max(|Q(start)|, 1)` a run's loss must grow to be called diverged.
pub const DIVERGED_GROWTH: f64 = 10.0;

/// Where the loss is lowest near `start`: a short gradient descent with a line search
/// (at most 500 steps). `None` when the run fails or diverges.
pub fn minimiser<O: Objective + ?Sized>(objective: &mut O, start: &[f64]) -> Option<Vec<f64>> {
    let options = Options {
        method: Method::Gd,
        lr: 1.0,
        line_search: Some(LineSearch::default()),
        stop: StopRules {
            tol_grad: Some(1e-9),
            max_iter: Some(500),
            max_epochs: None,
            ..StopRules::default()
        },
        ..Options::default()
    };
    optim::minimize(objective, start, &options, &mut optim::NoObserver)
        .ok()
        .map(|outcome| outcome.w)
        .filter(|w| w.iter().all(|v| v.is_finite()))
}

/// Writes the trajectories as CSV: `run,method,lr,iteration,x,y,loss`, `run` counting
/// from 1 in the order of the runs. Numbers are written in full precision.
pub fn write_traces_csv(traces: &[Trace], mut out: impl Write) -> io::Result<()> {
    writeln!(out, "run,method,lr,iteration,x,y,loss")?;
    for (k, trace) in traces.iter().enumerate() {
        for p in &trace.points {
            writeln!(
                out,
                "{},{},{},{},{},{},{}",
                k + 1,
                trace.method,
                trace.lr,
                p.iteration,
                p.at[0],
                p.at[1],
                p.loss
            )?;
        }
    }
    Ok(())
}

/// A tick label: short, plain for ordinary numbers, in scientific notation otherwise.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_owned()
    } else if (1e-3..1e5).contains(&a) {
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_owned()
        } else {
            text.to_owned()
        }
    } else {
        format!("{v:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `q(p) = ½ pᵀ H p − bᵀ p` with `H = [[a, c], [c, d]]`, the textbook quadratic.
    struct Quadratic {
        h: [[f64; 2]; 2],
        b: [f64; 2],
    }

    impl Objective for Quadratic {
        fn dim(&self) -> usize {
            2
        }
        fn samples(&self) -> usize {
            0
        }
        fn loss(&mut self, p: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
            self.loss_and_gradient(p, batch, &mut [0.0; 2])
        }
        fn loss_and_gradient(
            &mut self,
            p: &[f64],
            _batch: Batch<'_>,
            grad: &mut [f64],
        ) -> Result<f64, ObjectiveError> {
            let hp = [
                self.h[0][0] * p[0] + self.h[0][1] * p[1],
                self.h[1][0] * p[0] + self.h[1][1] * p[1],
            ];
            grad[0] = hp[0] - self.b[0];
            grad[1] = hp[1] - self.b[1];
            Ok(0.5 * (p[0] * hp[0] + p[1] * hp[1]) - self.b[0] * p[0] - self.b[1] * p[1])
        }
    }

    #[test]
    fn regions_parse_clip_and_hold_their_points() {
        let r = Region::parse("-1:3, -2:2").unwrap();
        assert_eq!(
            r,
            Region {
                x: (-1.0, 3.0),
                y: (-2.0, 2.0)
            }
        );
        for bad in ["1:1,0:1", "0:1,2:-2", "0:1", "a:1,0:1", "0-1,0:1"] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
        assert!(Region::parse("1:1,0:1").unwrap_err().contains("empty"));
        // A segment leaving the box is cut at the border; one outside has no part.
        assert_eq!(
            r.clip([0.0, 0.0], [6.0, 0.0]),
            Some(([0.0, 0.0], [3.0, 0.0]))
        );
        assert_eq!(r.clip([4.0, 3.0], [5.0, 3.0]), None);
        let around = Region::around([1.0, 1.0], &[[0.0, 0.0]], 2.0);
        assert!(around.contains([0.0, 0.0]));
        assert!((around.x.1 - around.x.0 - 2.0 * (around.y.1 - around.y.0)).abs() < 1e-12);
    }

    #[test]
    fn arrows_are_the_gradient_scaled_by_one_factor() {
        let mut q = Quadratic {
            h: [[3.0, 1.0], [1.0, 2.0]],
            b: [1.0, -1.0],
        };
        let region = Region {
            x: (-2.0, 2.0),
            y: (-1.0, 1.0),
        };
        let arrows = gradient_arrows(&mut q, region, 8, 4);
        assert_eq!(arrows.arrows.len(), 32);
        let mut longest: f64 = 0.0;
        for a in &arrows.arrows {
            let expected = [3.0 * a.at[0] + a.at[1] - 1.0, a.at[0] + 2.0 * a.at[1] + 1.0];
            for (k, want) in expected.into_iter().enumerate() {
                assert!((a.gradient[k] - want).abs() < 1e-12, "{a:?}");
                assert!((a.vector[k] - arrows.scale * want).abs() < 1e-12, "{a:?}");
            }
            longest = longest.max(a.vector[0].hypot(a.vector[1]));
        }
        // Cells are 0.5 × 0.5: the longest arrow spans 0.9 of a cell.
        assert!((longest - 0.45).abs() < 1e-12, "{longest}");
    }

    #[test]
    fn arrows_on_a_plane_of_a_loss_are_its_derived_gradient_scaled() {
        use crate::problem::Problem;
        use faer::Mat;
        // Q(w) = 1/N‖Xw − y‖² over w ∈ ℝ³, drawn over (w[0], w[2]) with w[1] = 0.5:
        // ∇Q = 2/N Xᵀ(Xw − y), of which the arrows show entries 0 and 2.
        let x = Mat::from_fn(5, 3, |i, j| ((i * 3 + j) as f64 * 0.7).sin());
        let y = Mat::from_fn(5, 1, |i, _| i as f64 - 2.0);
        let function = matdiff_core::parse_function("1/N*norm2(X*w - y)^2", "X: matrix(N,3)")
            .expect("the loss parses");
        let data = vec![("X".to_owned(), x.clone()), ("y".to_owned(), y.clone())];
        let mut problem = Problem::new(function, "w", data, None).unwrap();
        let mut plane = Plane::new(&mut problem, vec![0.0, 0.5, 0.0], [0, 2]);
        let region = Region {
            x: (-1.0, 2.0),
            y: (-3.0, 1.0),
        };
        let arrows = gradient_arrows(&mut plane, region, 6, 5);
        assert_eq!(arrows.arrows.len(), 30);
        for a in &arrows.arrows {
            let w = [a.at[0], 0.5, a.at[1]];
            let residual: Vec<f64> = (0..5)
                .map(|i| (0..3).map(|j| x[(i, j)] * w[j]).sum::<f64>() - y[(i, 0)])
                .collect();
            for (k, j) in [0, 2].into_iter().enumerate() {
                let expected = 2.0 / 5.0 * (0..5).map(|i| x[(i, j)] * residual[i]).sum::<f64>();
                assert!((a.gradient[k] - expected).abs() < 1e-12, "{a:?}");
                assert!(
                    (a.vector[k] - arrows.scale * expected).abs() < 1e-12,
                    "{a:?}"
                );
            }
        }
    }

    #[test]
    fn runs_are_parsed_with_their_keys_or_refused() {
        let o = parse_run("gd:lr=0.5,iterations=7").unwrap();
        assert_eq!(
            (o.method, o.lr, o.stop.max_iter),
            (Method::Gd, 0.5, Some(7))
        );
        let o = parse_run("minibatch:lr=0.1,batch=16,epochs=3,seed=4").unwrap();
        assert_eq!(o.method, Method::MiniBatch { batch: 16 });
        assert_eq!((o.stop.max_epochs, o.seed), (Some(3), 4));
        assert_eq!(parse_run("sgd").unwrap().stop.max_epochs, Some(5));
        assert_eq!(parse_run("adam:batch=8").unwrap().batch, Some(8));
        let refused = [
            ("newton:lr=1", "unknown method `newton`"),
            ("gd:lr=-1", "lr must be a positive number"),
            ("gd:lr", "not key=value"),
            ("gd:speed=3", "unknown key `speed`"),
            ("sgd:batch=4", "use minibatch"),
        ];
        for (text, message) in refused {
            let error = parse_run(text).unwrap_err();
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn traces_record_every_iterate_and_divergence() {
        let mut q = Quadratic {
            h: [[2.0, 0.0], [0.0, 1.0]],
            b: [0.0, 0.0],
        };
        let good = trace(
            &mut q,
            [1.0, 1.0],
            &parse_run("gd:lr=0.25,iterations=3").unwrap(),
        );
        let xs: Vec<[f64; 2]> = good.points.iter().map(|p| p.at).collect();
        assert_eq!(
            xs,
            [[1.0, 1.0], [0.5, 0.75], [0.25, 0.5625], [0.125, 0.421875]]
        );
        assert_eq!(good.ending, Ending::Stopped(StopReason::MaxIterations));
        let bad = trace(&mut q, [1.0, 1.0], &parse_run("gd:lr=1.5").unwrap());
        assert_eq!(bad.ending, Ending::Diverged);
        assert!(bad.legend().ends_with("diverged"), "{}", bad.legend());
        // gd with η = 1.1 on q = x² + y²/2 grows by 1.2² a step: at its iteration
        // limit the loss is far above the start, so the run is called diverged.
        let growing = trace(
            &mut q,
            [1.0, 1.0],
            &parse_run("gd:lr=1.1,iterations=15").unwrap(),
        );
        let (first, last) = (growing.points[0].loss, growing.points[15].loss);
        assert!(last > 100.0 * first, "{first} -> {last}");
        assert_eq!(growing.ending, Ending::Diverged, "{}", growing.legend());
        assert!(growing.legend().ends_with("diverged"));
    }

    #[test]
    fn levels_are_round_numbers() {
        let cases = [
            (0.3712, 0.37),
            (1234.5, 1200.0),
            (-0.0456, -0.046),
            (9.96, 10.0),
            (0.0, 0.0),
        ];
        for (v, want) in cases {
            assert_eq!(round_level(v), want, "{v}");
        }
        let grid = Grid {
            region: Region {
                x: (0.0, 1.0),
                y: (0.0, 1.0),
            },
            nx: 4,
            ny: 4,
            values: (0..16).map(|k| 0.1234 * k as f64 + 0.0371).collect(),
        };
        for level in grid.levels(5) {
            assert_eq!(level, round_level(level), "{level}");
            let text = super::tick(level);
            assert!(text.len() <= 4, "{text}");
        }
    }

    #[test]
    fn the_divergence_rule_is_growth_past_ten_times_the_start() {
        let run = |losses: &[f64]| -> Vec<TracePoint> {
            losses
                .iter()
                .enumerate()
                .map(|(iteration, &loss)| TracePoint {
                    iteration,
                    at: [0.0, 0.0],
                    loss,
                })
                .collect()
        };
        assert!(grew_away(&run(&[2.29, 10.0, 282.0])));
        assert!(grew_away(&run(&[0.0, 11.5])));
        assert!(grew_away(&run(&[1.0, f64::NAN])));
        assert!(!grew_away(&run(&[2.29, 20.0])));
        assert!(!grew_away(&run(&[5.0, 1.0])));
        assert!(!grew_away(&run(&[0.0, 9.0])));
    }

    #[test]
    fn ranges_that_cannot_be_drawn_are_refused() {
        let cases = [
            ("-1e308:1e308", "past ±1e300"),
            ("-1e308:0", "past ±1e300"),
            ("0:0", "give two different ends, e.g. 0:1"),
            ("2:1", "e.g. 1:2"),
            ("1:1.0000000000000002", "too narrow"),
        ];
        for (text, message) in cases {
            let error = parse_interval(text, "--range").unwrap_err();
            assert!(error.contains(message), "{text}: {error}");
        }
        assert!(drawable(-1e300, 1e300).is_ok());
        assert!(drawable(f64::NEG_INFINITY, 0.0).is_err());
        let refused = ["gd:iterations=100001", "sgd:epochs=1000000"];
        for text in refused {
            assert!(parse_run(text).unwrap_err().contains("at most"), "{text}");
        }
    }
}
