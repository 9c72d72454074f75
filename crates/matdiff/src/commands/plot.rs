//! `matdiff plot`: pictures of a loss for the seminar's geometry.
//!
//! For a variable with two free coordinates (a vector of length 2, or two coordinates
//! of a longer variable chosen with `--coords`): filled contours over a region, the
//! gradient as arrows on a grid (perpendicular to the level sets), the minimiser, and
//! the trajectory of every `--run` of the optimiser. For a scalar variable: the curve,
//! its tangent at `--at x₀` and the gap `o(h)` for `--h`.
//!
//! Output on stdout, one line per run and one for the picture:
//!
//! ```text
//! run 1: gd η=0.05: 212 iterations, ‖∇Q‖ < ε — ends at (1.98, -0.97), loss 0.0101
//! run 2: gd η=0.9: 9 iterations, diverged — ends at (-3.1e3, 2.2e3), loss 4.4e7
//! wrote paths.png
//! ```
//!
//! A diverged run is part of the picture, not a failure: the exit code is 0.

use std::path::PathBuf;

use anyhow::Result;
use matdiff::fit::{Batch, Objective, Options, Problem};

use crate::commands::minimize::{bad_input, load_data, start};
use crate::pictures::contour::{self, ContourPicture};
use crate::pictures::plane::{self, gradient_arrows, Grid, Plane, Region, Trace};
use crate::pictures::tangent::TangentPicture;
use crate::pictures::{parse_size, Format, Output};
use crate::report::Failure;

/// Arguments of `matdiff plot`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Two coordinates: filled contours of the loss over --range (default: a box around the
minimiser found by gradient descent with a line search, both axes at the same scale),
a colour bar of the contour levels (round numbers), gradient arrows along +∇Q (uphill),
the minimiser (✕) and one trajectory per --run, clipped to the box, each with its start
(●), its end (■) or the place where it leaves the box (✕, labelled `diverged` if it did).
A run is diverged when its loss turns non-finite or grows without bound, or when it
ends at its iteration or epoch limit with a loss more than 10·max(|Q(start)|, 1) above
its start. --range ends lie within ±1e300. A variable with more than two coordinates
needs --coords i,j (counting from 0, column by column for a matrix); the others are
held at --at (JSON or @FILE), or at the minimiser of the whole variable. Runs start at --at
(default: zeros).

--run METHOD[:key=value,…] with METHOD gd, sgd, minibatch, momentum, nesterov or adam and
keys lr (default 0.01), epochs (at most 10000), max_iter (at most 100000), batch,
seed — the names of minimize's flags (iterations is an older name of max_iter).
Without epochs or max_iter a full-batch run stops after 1000 iterations and a
stochastic one after 5 epochs; any run stops when ‖∇Q‖ < 1e-6. --trajectory writes every iterate as CSV:
run,method,lr,iteration,x,y,loss.

A scalar variable: the curve, the tangent f(x₀) + f'(x₀)(x − x₀) at --at x₀ (default 1)
and the gap o(h) = f(x₀ + h) − f(x₀) − f'(x₀)h shaded for --h (default 0.5), over
--range x0:x1 (default x₀ ± 2.5|h|).")]
pub struct Args {
    /// The loss (a scalar expression), or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The variable the picture is drawn over.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, 2)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// Data for a variable: a CSV with a header row (one column → vector) or a .npy file.
    #[arg(long = "data", value_name = "NAME=FILE")]
    pub data: Vec<String>,
    /// The sample dimension sliced into batches (default: the row dimension the data share).
    #[arg(long, value_name = "DIM")]
    pub samples: Option<String>,
    /// The picture, PNG or SVG by the extension.
    #[arg(short, long, value_name = "FILE.png|svg", default_value = "plot.png")]
    pub out: PathBuf,
    /// The region drawn: `x0:x1,y0:y1` (a scalar variable: `x0:x1`).
    #[arg(long, value_name = "x0:x1,y0:y1", allow_hyphen_values = true)]
    pub range: Option<String>,
    /// The two coordinates drawn, counting from 0 (column by column for a matrix).
    #[arg(long, value_name = "i,j")]
    pub coords: Option<String>,
    /// Where runs start and other coordinates are held: the variable's value as JSON
    /// (bare, or an object naming it), inline or `@FILE`; x₀ for a scalar.
    #[arg(long, value_name = "JSON|@FILE|x0", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// A run of the optimiser to draw, e.g. `gd:lr=0.1` or `minibatch:lr=0.05,batch=16`.
    #[arg(long = "run", value_name = "METHOD:key=val,…")]
    pub runs: Vec<String>,
    /// Write the trajectories as CSV (run,method,lr,iteration,x,y,loss).
    #[arg(long, value_name = "FILE.csv")]
    pub trajectory: Option<PathBuf>,
    /// The increment h of the tangent picture (a scalar variable).
    #[arg(long, value_name = "h", allow_hyphen_values = true)]
    pub h: Option<f64>,
    /// Picture size in pixels.
    #[arg(long, value_name = "WxH", default_value = "1000x800")]
    pub size: String,
    /// Print what was drawn as one JSON object instead of lines of text: the runs
    /// (method, lr, iterations, ending, end point, loss) and the picture's path, or
    /// the tangent's numbers.
    #[arg(long)]
    pub json: bool,
}

/// Runs `matdiff plot`.
pub fn run(args: Args) -> Result<()> {
    Format::of(&args.out).map_err(Failure::BadInput)?;
    let size = parse_size(&args.size).map_err(Failure::BadInput)?;
    let function = crate::input::load(&args.expr, args.decls.as_deref())?;
    let data = load_data(&args.data, &function)?;
    let mut problem = matdiff::fit::problem(&function, &args.wrt, data, args.samples.as_deref())
        .map_err(bad_input)?;
    let title = match args.expr.strip_prefix('@') {
        Some(_) => problem.loss_text(),
        None => args.expr.clone(),
    };
    if problem.dim() == 1 && args.coords.is_none() {
        return one_dimensional(&args, &mut problem, &title, size);
    }
    if args.h.is_some() {
        return Err(bad(format!(
            "--h is the increment of the tangent picture of a scalar variable, and `{}` is {}",
            args.wrt,
            problem.variable_declaration()
        )));
    }
    let coords = coordinates(&problem, args.coords.as_deref())?;
    let range = args
        .range
        .as_deref()
        .map(Region::parse)
        .transpose()
        .map_err(Failure::BadInput)?;
    let runs = args
        .runs
        .iter()
        .map(|text| plane::parse_run(text))
        .collect::<Result<Vec<Options>, String>>()
        .map_err(Failure::BadInput)?;
    if runs.iter().any(|o| o.effective_batch(usize::MAX).is_some()) {
        if problem.sample_dimension().is_none() {
            return Err(bad(
                "a stochastic --run draws batches of samples, but no data variable has a named row dimension — declare one, e.g. `X: matrix(N, 2)`".into(),
            ));
        }
        problem.check_batches().map_err(bad_input)?;
    }
    let given = args
        .at
        .as_deref()
        .map(|at| start(&problem, &function, at, 0))
        .transpose()?;
    let base = match &given {
        Some(w) => w.clone(),
        None => default_base(&mut problem),
    };
    let origin = match &given {
        Some(w) => [w[coords[0]], w[coords[1]]],
        None => [0.0, 0.0],
    };
    // Runs need a start where the loss is defined; a picture alone does not.
    if !runs.is_empty() {
        let mut first = base.clone();
        first[coords[0]] = origin[0];
        first[coords[1]] = origin[1];
        problem.loss(&first, Batch::All).map_err(|e| {
            bad(format!(
                "the runs start where the loss cannot be evaluated: {e} — give another start with --at"
            ))
        })?;
    }
    let axes = coords.map(|c| coordinate_name(&problem, c));
    let request = PlaneRequest {
        coords,
        base,
        origin,
        runs: &runs,
        range,
        title: format!("Q = {title}"),
        axes,
        out: Output::File(&args.out),
        size,
    };
    let traces = draw_plane(&mut problem, request)
        .map_err(|e| bad(format!("cannot draw `{}`: {e}", args.out.display())))?;
    if let Some(path) = &args.trajectory {
        let file = std::fs::File::create(path)
            .map_err(|e| bad(format!("cannot write `{}`: {e}", path.display())))?;
        plane::write_traces_csv(&traces, std::io::BufWriter::new(file))
            .map_err(|e| bad(format!("cannot write `{}`: {e}", path.display())))?;
    }
    if args.json {
        let runs: Vec<serde_json::Value> = traces.iter().map(trace_json).collect();
        let object = serde_json::json!({"runs": runs, "out": args.out.display().to_string()});
        println!("{}", serde_json::to_string_pretty(&object)?);
        return Ok(());
    }
    for (k, trace) in traces.iter().enumerate() {
        println!("run {}: {}", k + 1, summary(trace));
    }
    println!("wrote {}", args.out.display());
    Ok(())
}

/// One run as data: the method, η, the batch, the updates it made, how it ended, where
/// it ended and the loss there.
fn trace_json(trace: &Trace) -> serde_json::Value {
    let end = trace.points.last();
    let (ending, stop_reason, reason) = match &trace.ending {
        plane::Ending::Stopped(stop) => ("stopped", Some(stop.name()), None),
        plane::Ending::Diverged => ("diverged", None, None),
        plane::Ending::Failed(why) => ("failed", None, Some(why.clone())),
    };
    let finite = |v: f64| serde_json::Number::from_f64(v).map(serde_json::Value::Number);
    serde_json::json!({
        "method": trace.method,
        "lr": trace.lr,
        "batch": trace.batch,
        "iterations": trace.iterations(),
        "ending": ending,
        "stop_reason": stop_reason,
        "reason": reason,
        "end": end.map(|p| [finite(p.at[0]), finite(p.at[1])]),
        "loss": end.and_then(|p| finite(p.loss)),
    })
}

/// A contour picture over two coordinates of a problem's variable.
pub struct PlaneRequest<'a> {
    /// The two coordinates drawn (indices into the flattened variable).
    pub coords: [usize; 2],
    /// Where the other coordinates are held: a full value of the variable.
    pub base: Vec<f64>,
    /// Where the runs start, in the two coordinates.
    pub origin: [f64; 2],
    /// The runs to draw.
    pub runs: &'a [Options],
    /// The region drawn; `None` for a box around the minimiser and the start, both
    /// axes at the same scale.
    pub range: Option<Region>,
    /// The caption.
    pub title: String,
    /// Names of the two coordinates.
    pub axes: [String; 2],
    /// Where the picture goes: a file (PNG or SVG by the extension) or SVG text.
    pub out: Output<'a>,
    /// Pixels.
    pub size: (u32, u32),
}

/// Runs the optimiser for every run on the plane of `request.coords` and draws the
/// contour picture: filled contours, gradient arrows, the minimiser and the
/// trajectories. Returns the trajectories.
pub fn draw_plane(problem: &mut Problem, request: PlaneRequest<'_>) -> Result<Vec<Trace>, String> {
    if let Output::File(path) = &request.out {
        Format::of(path)?;
    }
    let origin = request.origin;
    let mut plane = Plane::new(problem, request.base, request.coords);
    let minimiser = plane::minimiser(&mut plane, &origin).map(|m| [m[0], m[1]]);
    let traces: Vec<Trace> = request
        .runs
        .iter()
        .map(|options| plane::trace(&mut plane, origin, options))
        .collect();
    let area = contour::plot_area(request.size, traces.len());
    let region = request.range.unwrap_or_else(|| {
        let aspect = area.0 as f64 / area.1.max(1) as f64;
        match minimiser {
            Some(m) => Region::around(m, &[origin], aspect),
            None => Region::around(origin, &[], aspect),
        }
    });
    let grid = Grid::sample(
        &mut plane,
        region,
        (area.0 / 4).max(2) as usize,
        (area.1 / 4).max(2) as usize,
    );
    let arrows = gradient_arrows(
        &mut plane,
        region,
        (area.0 / 52).max(2) as usize,
        (area.1 / 52).max(2) as usize,
    );
    let picture = ContourPicture {
        title: request.title,
        axes: request.axes,
        grid: &grid,
        arrows: &arrows,
        traces: &traces,
        minimiser,
    };
    crate::pictures::draw(&picture, request.out, request.size)?;
    Ok(traces)
}

/// Where the coordinates not drawn rest when no start is given: at the minimiser of
/// the whole variable (found by gradient descent with a line search from zeros), or at
/// zeros for a variable of two coordinates.
fn default_base(problem: &mut Problem) -> Vec<f64> {
    let zeros = problem.zeros();
    if problem.dim() > 2 {
        plane::minimiser(problem, &zeros).unwrap_or(zeros)
    } else {
        zeros
    }
}

/// One line on a run: its legend, where it ended and the loss there.
pub fn summary(trace: &Trace) -> String {
    let mut line = trace.legend();
    if let Some(end) = trace.points.last() {
        line.push_str(&format!(
            " — ends at ({}, {}), loss {}",
            contour::tick(end.at[0]),
            contour::tick(end.at[1]),
            contour::tick(end.loss)
        ));
    }
    if let plane::Ending::Failed(why) = &trace.ending {
        line.push_str(&format!(" ({why})"));
    }
    line
}

/// The two coordinates drawn: `--coords i,j`, or both of a two-coordinate variable.
fn coordinates(problem: &Problem, coords: Option<&str>) -> Result<[usize; 2]> {
    let dim = problem.dim();
    let name = problem.variable();
    let Some(text) = coords else {
        if dim == 2 {
            return Ok([0, 1]);
        }
        return Err(bad(format!(
            "`{name}` has {dim} coordinates, a contour picture needs two — choose them with --coords i,j (counting from 0)"
        )));
    };
    let parsed: Vec<Option<usize>> = text.split(',').map(|s| s.trim().parse().ok()).collect();
    let [Some(i), Some(j)] = parsed[..] else {
        return Err(bad(format!(
            "--coords `{text}` is not two indices i,j — write e.g. --coords 0,1"
        )));
    };
    if i == j {
        return Err(bad(format!(
            "--coords `{text}` names one coordinate twice — choose two"
        )));
    }
    if i.max(j) >= dim {
        return Err(bad(format!(
            "--coords `{text}`: `{name}` has coordinates 0 to {} only",
            dim - 1
        )));
    }
    Ok([i, j])
}

/// The name of coordinate `k` of the variable: `w[k]` for a vector, `W[i,j]` for a
/// matrix (column-major `k`), the name for a scalar.
pub fn coordinate_name(problem: &Problem, k: usize) -> String {
    let name = problem.variable();
    match problem.shape() {
        (1, 1) => name.to_owned(),
        (rows, 1) if rows > 1 => format!("{name}[{k}]"),
        (1, _) => format!("{name}[{k}]"),
        (rows, _) => format!("{name}[{},{}]", k % rows, k / rows),
    }
}

/// The tangent picture of a function of one scalar.
fn one_dimensional(
    args: &Args,
    problem: &mut Problem,
    title: &str,
    size: (u32, u32),
) -> Result<()> {
    let name = problem.variable().to_owned();
    if !args.runs.is_empty() || args.trajectory.is_some() {
        return Err(bad(format!(
            "--run and --trajectory draw paths on a plane, and `{name}` has one coordinate — give a variable with two"
        )));
    }
    let x0 = match &args.at {
        None => DEFAULT_X0,
        Some(text) => scalar_point(text)
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                bad(format!(
                    "--at `{text}`: `{name}` is a scalar, so --at is the point x₀ — write e.g. --at 1.5"
                ))
            })?,
    };
    let h = args.h.unwrap_or(DEFAULT_H);
    let range = args
        .range
        .as_deref()
        .map(|text| plane::parse_interval(text, "--range"))
        .transpose()
        .map_err(Failure::BadInput)?;
    let picture = tangent_picture(problem, title, x0, h, range, size)?;
    crate::pictures::draw(&picture, Output::File(&args.out), size)
        .map_err(|e| bad(format!("cannot draw `{}`: {e}", args.out.display())))?;
    if args.json {
        let p = &picture;
        let object = serde_json::json!({
            "x0": p.x0,
            "f": p.f0,
            "slope": p.slope,
            "h": p.h,
            "f_h": p.fh,
            "o_h": p.fh - p.f0 - p.slope * p.h,
            "out": args.out.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&object)?);
        return Ok(());
    }
    println!("{}", tangent_summary(&picture));
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The point of tangency x₀ when none is given.
pub const DEFAULT_X0: f64 = 1.0;
/// The increment h of the tangent picture when none is given.
pub const DEFAULT_H: f64 = 0.5;

/// `f(x₀) = …, f'(x₀) = …, h = …: f'·h = …, o(h) = …`.
pub fn tangent_summary(p: &TangentPicture) -> String {
    format!(
        "f({}) = {}, f'({}) = {}, h = {}: f'·h = {}, o(h) = {}",
        p.x0,
        p.f0,
        p.x0,
        p.slope,
        p.h,
        p.slope * p.h,
        p.fh - p.f0 - p.slope * p.h
    )
}

/// What the tangent picture of a function of one scalar shows: the curve over `range`
/// (default x₀ ± 2.5|h|), the tangent at `x0` and the increment `h`.
pub fn tangent_picture(
    problem: &mut Problem,
    title: &str,
    x0: f64,
    h: f64,
    range: Option<(f64, f64)>,
    size: (u32, u32),
) -> Result<TangentPicture> {
    let name = problem.variable().to_owned();
    if !(h.is_finite() && h != 0.0) {
        return Err(bad("--h must be a non-zero number, e.g. --h 0.5".into()));
    }
    let (lo, hi) = match range {
        Some(range) => range,
        None => {
            let (lo, hi) = (x0 - 2.5 * h.abs(), x0 + 2.5 * h.abs());
            plane::drawable(lo, hi).map_err(|e| {
                bad(format!(
                    "the default range x₀ ± 2.5|h|: {e} — choose another --h or give --range"
                ))
            })?;
            (lo, hi)
        }
    };
    let mut grad = [0.0];
    let f0 = problem
        .loss_and_gradient(&[x0], Batch::All, &mut grad)
        .ok()
        .filter(|f| f.is_finite() && grad[0].is_finite())
        .ok_or_else(|| {
            bad(format!(
                "the function or its derivative is not finite at {name} = {} — choose another --at",
                contour::tick(x0)
            ))
        })?;
    let fh = problem.loss(&[x0 + h], Batch::All).unwrap_or(f64::NAN);
    if !fh.is_finite() {
        return Err(bad(format!(
            "the function is not finite at {name} = x₀ + h = {} — choose a smaller --h",
            contour::tick(x0 + h)
        )));
    }
    let samples = (size.0 as usize / 2).clamp(200, 1000);
    let curve = (0..=samples)
        .map(|k| {
            let x = lo + (hi - lo) * k as f64 / samples as f64;
            let y = problem.loss(&[x], Batch::All).unwrap_or(f64::NAN);
            (x, if y.is_finite() { y } else { f64::NAN })
        })
        .collect();
    Ok(TangentPicture {
        title: format!("f({name}) = {title}"),
        variable: name,
        curve,
        x0,
        f0,
        slope: grad[0],
        h,
        fh,
    })
}

/// x₀ of the tangent picture: a number, or `@FILE` holding one (bare or as the only
/// value of a one-key object).
fn scalar_point(text: &str) -> Option<f64> {
    let text = match text.strip_prefix('@') {
        Some(_) => crate::input::read_point("--at", text).ok()?.0,
        None => text.to_owned(),
    };
    match serde_json::from_str::<serde_json::Value>(text.trim()).ok()? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Object(o) if o.len() == 1 => o.values().next()?.as_f64(),
        _ => None,
    }
}

fn bad(message: String) -> anyhow::Error {
    Failure::BadInput(message).into()
}

/// A picture of a function given without data, as `matdiff serve` draws it: every
/// variable but `wrt` takes random values honouring its declaration (seeded), the
/// dimensions of `wrt` have size 2 and the others [`SKETCH_SAMPLES`].
pub struct SketchRequest<'a> {
    /// The function (a scalar).
    pub function: matdiff::Function,
    /// The variable drawn over.
    pub wrt: &'a str,
    /// The two coordinates of a variable with more than two (default: the first two).
    pub coords: Option<[usize; 2]>,
    /// The point of tangency of a scalar variable (default [`DEFAULT_X0`]).
    pub x0: Option<f64>,
    /// The increment of the tangent picture (default [`DEFAULT_H`]).
    pub h: Option<f64>,
    /// The learning rate of the gradient-descent run drawn on a plane.
    pub lr: f64,
    /// The seed of the random values.
    pub seed: u64,
    /// Pixels.
    pub size: (u32, u32),
}

/// The size of every dimension not of the drawn variable in a [`SketchRequest`]: the
/// number of samples of a loss over data.
pub const SKETCH_SAMPLES: usize = 40;

/// What [`sketch`] drew.
pub struct Sketch {
    /// `tangent` or `contour`.
    pub kind: &'static str,
    /// The picture.
    pub svg: String,
    /// One line per run (or the tangent's numbers), as `matdiff plot` prints them.
    pub lines: Vec<String>,
    /// Whether the gradient-descent run diverged.
    pub diverged: bool,
}

/// Draws the tangent picture of a scalar variable, or the contours of two coordinates
/// with one gradient-descent run from zeros, into SVG text: the pictures of
/// `matdiff plot`, on random values instead of data.
pub fn sketch(request: SketchRequest<'_>) -> Result<Sketch> {
    let function = request.function;
    let wrt = request.wrt;
    let variable = function
        .variables()
        .into_iter()
        .find(|v| v.name == wrt)
        .ok_or_else(|| bad(format!("unknown variable `{wrt}`")))?;
    let own: Vec<String> = variable
        .shape
        .iter()
        .filter_map(|d| match d {
            matdiff::ShapeEntry::Named(name) => Some(name.clone()),
            matdiff::ShapeEntry::Size(_) => None,
        })
        .collect();
    let sizes: Vec<(String, usize)> = function
        .summary()
        .dims
        .into_iter()
        .map(|d| {
            let n = if own.contains(&d) { 2 } else { SKETCH_SAMPLES };
            (d, n)
        })
        .collect();
    let data: Vec<_> = function
        .sample_values(&sizes, request.seed)
        .map_err(|e| bad(e.to_string()))?
        .into_iter()
        .filter(|(name, _)| name != wrt)
        .collect();
    let title = function.to_string();
    let mut problem = matdiff::fit::problem(&function, wrt, data, None).map_err(bad_input)?;
    let mut svg = String::new();
    if problem.dim() == 1 {
        let x0 = request.x0.unwrap_or(DEFAULT_X0);
        let h = request.h.unwrap_or(DEFAULT_H);
        let picture = tangent_picture(&mut problem, &title, x0, h, None, request.size)?;
        crate::pictures::draw(&picture, Output::Svg(&mut svg), request.size).map_err(bad)?;
        return Ok(Sketch {
            kind: "tangent",
            svg,
            lines: vec![tangent_summary(&picture)],
            diverged: false,
        });
    }
    let coords = match request.coords {
        Some([i, j]) => coordinates(&problem, Some(&format!("{i},{j}")))?,
        None => [0, 1],
    };
    let run = plane::parse_run(&format!("gd:lr={}", request.lr)).map_err(Failure::BadInput)?;
    let runs = [run];
    // As `matdiff plot` without --at: the run starts at zeros in the two coordinates.
    let origin = [0.0, 0.0];
    let base = default_base(&mut problem);
    let mut first = base.clone();
    first[coords[0]] = origin[0];
    first[coords[1]] = origin[1];
    problem.loss(&first, Batch::All).map_err(|e| {
        bad(format!(
            "the loss cannot be evaluated where the run starts: {e}"
        ))
    })?;
    let axes = coords.map(|c| coordinate_name(&problem, c));
    let plane_request = PlaneRequest {
        coords,
        base,
        origin,
        runs: &runs,
        range: None,
        title: format!("Q = {title}"),
        axes,
        out: Output::Svg(&mut svg),
        size: request.size,
    };
    let traces = draw_plane(&mut problem, plane_request).map_err(bad)?;
    Ok(Sketch {
        kind: "contour",
        svg,
        diverged: traces
            .iter()
            .any(|t| matches!(t.ending, plane::Ending::Diverged)),
        lines: traces.iter().map(summary).collect(),
    })
}
