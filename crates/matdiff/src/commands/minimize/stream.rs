//! `matdiff minimize --stream`: the data files are read chunk by chunk, so that data
//! larger than memory can be fitted; the report adds the peak memory of the process.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use matdiff_core::{Dim, Function, Graph, Kind, Sym};
use matdiff_fit::optim::{self, History, Sampling};
use matdiff_fit::stream::StreamedProblem;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::{
    bad_input, optim_failure_at, options, progress_bar, read_json_value, render, standard_normal,
    write_history_and_plot, Args, Progress, DEFAULT_CHUNK_ROWS, INIT_SCALE, INIT_STREAM,
};
use crate::report::Failure;

/// Runs `minimize` with `--stream`.
pub(super) fn run(args: &Args, function: Function) -> Result<()> {
    // A bad plot name is an error before the run, not after it.
    args.plot.as_deref().map(super::plot_format).transpose()?;
    let options = options(args);
    options
        .validate()
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    let chunk_rows = match options.sampling {
        Sampling::Chunks { rows } => rows,
        Sampling::Shuffle => args.chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS),
        Sampling::Replace if options.effective_batch(usize::MAX).is_some() => {
            return Err(Failure::BadInput(
                "--stream reads the data chunk by chunk, so batches are drawn chunk by chunk too — use --sampling shuffle (within chunks), not replace".to_owned(),
            )
            .into())
        }
        Sampling::Replace => args.chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS),
    };
    if crate::input::csv_header() == matdiff_num::data::CsvHeader::Absent {
        return Err(Failure::BadInput(
            "--stream reads CSV files with a header row only — add one (names for the columns), or drop --no-header and --stream".to_owned(),
        )
        .into());
    }
    if let Some(batch) = options.effective_batch(usize::MAX) {
        if batch > chunk_rows {
            return Err(Failure::BadInput(format!(
                "a batch of {batch} samples does not fit in a chunk of {chunk_rows} rows — raise --chunk-rows to at least {batch}"
            ))
            .into());
        }
    }
    let (streamed, whole) = split_data(&args.data, &function.graph, args.samples.as_deref())?;
    let graph = function.graph.clone();
    let mut problem = StreamedProblem::new(
        function,
        &args.wrt,
        streamed,
        whole,
        args.samples.as_deref(),
        chunk_rows,
    )
    .map_err(bad_input)?;
    if args.verbose {
        let form = problem.linear_form();
        eprintln!(
            "streamed in chunks of {chunk_rows} rows: per-sample loss {}, slope {}",
            form.texts.sample, form.texts.slope
        );
    }
    let dim = optim::Objective::dim(&problem);
    let w0 = match args.init.as_str() {
        "zeros" => vec![0.0; dim],
        "random" => {
            let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
            rng.set_stream(INIT_STREAM);
            (0..dim)
                .map(|_| INIT_SCALE * standard_normal(&mut rng))
                .collect()
        }
        file => {
            let value = read_json_value(file, &args.wrt, &graph)?;
            if value.nrows() * value.ncols() != dim {
                return Err(Failure::BadInput(format!(
                    "{file}: the starting point has {} entries, `{}` has {dim}",
                    value.nrows() * value.ncols(),
                    args.wrt
                ))
                .into());
            }
            (0..value.ncols())
                .flat_map(|j| value.col_as_slice(j).to_vec())
                .collect()
        }
    };
    let mut observer = Progress {
        history: History::new(),
        bar: (!args.quiet && std::io::stderr().is_terminal()).then(|| progress_bar(&options)),
        by_epoch: options.stop.max_epochs.is_some(),
    };
    let result = optim::minimize(&mut problem, &w0, &options, &mut observer);
    if let Some(bar) = &observer.bar {
        bar.finish_and_clear();
    }
    write_history_and_plot(args, &observer.history)?;
    let outcome = result.map_err(|e| optim_failure_at(e, problem.non_finite()))?;
    if !args.quiet && !outcome.stop.converged() {
        eprintln!(
            "note: no tolerance was met ({}); raise --epochs/--max-iter or loosen --tol-grad, --tol-step or --tol-loss",
            outcome.stop.description()
        );
    }
    print!(
        "{}",
        render(
            problem.variable(),
            json!(outcome.w),
            &outcome,
            args.json,
            peak_rss_bytes()
        )
    );
    Ok(())
}

/// The `--data` files of variables that span the sample dimension, to be streamed,
/// and the values of the others, loaded whole.
#[allow(clippy::type_complexity)]
fn split_data(
    specs: &[String],
    graph: &Graph,
    samples: Option<&str>,
) -> Result<(Vec<(String, PathBuf)>, Vec<(String, faer::Mat<f64>)>)> {
    // The sample dimension: the one named, else the named row dimension most data
    // variables share (the first on ties), as the problem chooses it.
    let row_dim = |spec: &String| {
        let name = spec.split_once('=')?.0.trim();
        let v = graph.variable_named(name)?;
        match v.shape.rows {
            Dim::Named(s) if v.kind != Kind::Scalar => Some(s),
            _ => None,
        }
    };
    let dims: Vec<Sym> = specs.iter().filter_map(row_dim).collect();
    let sample = match samples {
        Some(name) => graph
            .dims()
            .iter()
            .copied()
            .find(|&d| graph.name(d) == name),
        None => dims
            .iter()
            .rev()
            .copied()
            .max_by_key(|&d| dims.iter().filter(|&&e| e == d).count()),
    };
    let mut streamed = Vec::new();
    let mut whole_specs = Vec::new();
    for spec in specs {
        let Some((name, file)) = spec
            .split_once('=')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty())
        else {
            // The loader gives the message for a malformed spec.
            whole_specs.push(spec.clone());
            continue;
        };
        let name = name.trim();
        if sample.is_some() && row_dim(spec) == sample {
            streamed.push((name.to_owned(), PathBuf::from(file)));
        } else {
            whole_specs.push(spec.clone());
        }
    }
    let whole = super::load_data(&whole_specs, graph)?;
    Ok((streamed, whole))
}

/// The peak resident memory of this process (`VmHWM` of `/proc/self/status`), where
/// the system reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
