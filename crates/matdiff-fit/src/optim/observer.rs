//! Watching a run: per-step and per-epoch records for progress bars and history files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// What a [`Record`] describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One update of a stochastic method: loss and gradient are on the batch, at the
    /// point before the step.
    Step,
    /// The full loss and gradient at the current point: the start, after every step of a
    /// full-batch method, and after every epoch of a stochastic one.
    Epoch,
}

/// One line of a run's history.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Whether this is a stochastic step or a full evaluation.
    pub scope: Scope,
    /// Updates of `w` so far (0 at the start).
    pub iteration: usize,
    /// Completed epochs so far.
    pub epoch: usize,
    /// The loss (on the batch for [`Scope::Step`], full otherwise).
    pub loss: f64,
    /// Euclidean norm of the gradient that goes with `loss`.
    pub grad_norm: f64,
    /// `‖w_new − w_old‖` of the step (over the whole epoch for a stochastic
    /// [`Scope::Epoch`] record; 0 at the start).
    pub step_norm: f64,
    /// The step size `η` used for the step (the current one at the start).
    pub lr: f64,
    /// Wall-clock seconds since the run started.
    pub seconds: f64,
    /// The current parameters (after the step), flattened column-major.
    pub w: &'a [f64],
}

/// Receives the records of a run as it happens.
pub trait Observer {
    /// Called at the start, after each step and after each epoch.
    fn record(&mut self, record: &Record<'_>);

    /// Whether the observer looks at [`Scope::Step`] records. When it does not, the
    /// optimiser skips them (and the clock and norms they need): SGD takes a step per
    /// sample, and a record costs as much as the step itself.
    fn wants_steps(&self) -> bool {
        true
    }

    /// Whether it keeps the loss after each epoch, so that a stochastic run with
    /// [`EpochLoss::Auto`](crate::optim::EpochLoss) takes the exact full loss rather
    /// than the running average; by default, yes.
    fn wants_epoch_losses(&self) -> bool {
        true
    }
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn record(&mut self, _record: &Record<'_>) {}

    fn wants_steps(&self) -> bool {
        false
    }

    fn wants_epoch_losses(&self) -> bool {
        false
    }
}

/// A [`Record`] that owns its copy of `w` (if kept).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRecord {
    /// See [`Record::scope`].
    pub scope: Scope,
    /// See [`Record::iteration`].
    pub iteration: usize,
    /// See [`Record::epoch`].
    pub epoch: usize,
    /// See [`Record::loss`].
    pub loss: f64,
    /// See [`Record::grad_norm`].
    pub grad_norm: f64,
    /// See [`Record::step_norm`].
    pub step_norm: f64,
    /// See [`Record::lr`].
    pub lr: f64,
    /// See [`Record::seconds`].
    pub seconds: f64,
    /// The parameters, when the history keeps them.
    pub w: Option<Vec<f64>>,
}

/// Collects the records of a run: by default the full-loss ([`Scope::Epoch`]) records
/// only, without the parameters.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The records, in order.
    pub records: Vec<HistoryRecord>,
    keep_steps: bool,
    keep_weights: bool,
}

impl History {
    /// An empty history keeping full-loss records without parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also keep the per-step records of stochastic methods.
    pub fn with_steps(mut self) -> Self {
        self.keep_steps = true;
        self
    }

    /// Also keep a copy of `w` in each record (written as extra CSV columns `w0, w1, …`).
    pub fn with_weights(mut self) -> Self {
        self.keep_weights = true;
        self
    }

    /// Writes the history as CSV with the columns
    /// `iteration,epoch,loss,grad_norm,step_norm,lr,seconds` (then `w0,w1,…` if kept).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        self.write_csv_to(&mut out)?;
        out.flush()
    }

    /// Writes the history as CSV to any writer; see [`History::write_csv`].
    pub fn write_csv_to(&self, mut out: impl Write) -> io::Result<()> {
        let width = if self.keep_weights {
            self.records
                .iter()
                .map(|r| r.w.as_ref().map_or(0, Vec::len))
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        write!(out, "iteration,epoch,loss,grad_norm,step_norm,lr,seconds")?;
        for i in 0..width {
            write!(out, ",w{i}")?;
        }
        writeln!(out)?;
        for r in &self.records {
            write!(
                out,
                "{},{},{},{},{},{},{}",
                r.iteration, r.epoch, r.loss, r.grad_norm, r.step_norm, r.lr, r.seconds
            )?;
            if let Some(w) = &r.w {
                for v in w {
                    write!(out, ",{v}")?;
                }
            }
            writeln!(out)?;
        }
        Ok(())
    }
}

impl Observer for History {
    fn record(&mut self, record: &Record<'_>) {
        if record.scope == Scope::Step && !self.keep_steps {
            return;
        }
        self.records.push(HistoryRecord {
            scope: record.scope,
            iteration: record.iteration,
            epoch: record.epoch,
            loss: record.loss,
            grad_norm: record.grad_norm,
            step_norm: record.step_norm,
            lr: record.lr,
            seconds: record.seconds,
            w: self.keep_weights.then(|| record.w.to_vec()),
        });
    }

    fn wants_steps(&self) -> bool {
        self.keep_steps
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn record(&mut self, record: &Record<'_>) {
        (**self).record(record);
    }

    fn wants_steps(&self) -> bool {
        (**self).wants_steps()
    }

    fn wants_epoch_losses(&self) -> bool {
        (**self).wants_epoch_losses()
    }
}
