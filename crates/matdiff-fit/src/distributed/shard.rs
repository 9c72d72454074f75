//! The rows of the data that one rank reads: a range of a shared `.npy` file, mapped
//! (no rank reads the whole file), or a file of its own when the path names the rank
//! (`X.{rank}.npy`, the data split beforehand).

use std::ops::Range;
use std::path::{Path, PathBuf};

use matdiff_num::data::{load_npy_rows, npy_header, DataError, NpyLayout};
use matdiff_num::Stored;
use thiserror::Error;

use super::{gather, shard_rows, Peers};

/// What a path writes for the rank in a file split by rank: `X.{rank}.npy`.
pub const RANK_PLACEHOLDER: &str = "{rank}";

/// Why the ranks cannot start: one rank cannot read its rows, or the ranks' rows
/// do not fit together. Every rank sees the same error (but only the rank that
/// failed to read knows what its file said).
#[derive(Debug, Error)]
pub enum ShardError {
    /// This rank could not read its rows of a file.
    #[error("rank {rank}: {source}")]
    Read {
        /// The rank.
        rank: usize,
        /// What the file said.
        #[source]
        source: DataError,
    },
    /// The data are not `.npy` files.
    #[error("rank {rank}: {file}: a distributed run reads .npy files — convert the data with numpy.save")]
    NotNpy {
        /// The rank.
        rank: usize,
        /// The file.
        file: String,
    },
    /// The ranks' features disagree on the number of columns.
    #[error("rank {rank}: {file} has {columns} columns, but rank 0's has {expected} — every shard needs the same columns")]
    Columns {
        /// The first rank that disagrees.
        rank: usize,
        /// Its file.
        file: String,
        /// Its columns.
        columns: usize,
        /// Rank 0's.
        expected: usize,
    },
    /// A rank's target has a different number of rows than its features.
    #[error("rank {rank}: {x_file} has {x_rows} rows but {y_file} has {y_rows} — give one target value per row")]
    Rows {
        /// The rank.
        rank: usize,
        /// The features' file.
        x_file: String,
        /// Its rows.
        x_rows: usize,
        /// The target's file.
        y_file: String,
        /// Its rows.
        y_rows: usize,
    },
    /// The target is not a vector.
    #[error("rank {rank}: {file}: the target must be a vector, found {columns} columns")]
    TargetColumns {
        /// The rank.
        rank: usize,
        /// The target's file.
        file: String,
        /// Its columns.
        columns: usize,
    },
    /// Another rank could not read its rows (and said why on its own).
    #[error("rank {rank} could not read its rows of the data")]
    Elsewhere {
        /// That rank.
        rank: usize,
    },
}

impl ShardError {
    /// Whether this rank is the one the error is about, so that it alone can say
    /// why. A disagreement between the shards is known to every rank alike, and the
    /// other ranks know only which rank failed: rank 0 tells those.
    pub fn is_local(&self, rank: usize) -> bool {
        match self {
            ShardError::Read { rank: r, .. }
            | ShardError::NotNpy { rank: r, .. }
            | ShardError::Rows { rank: r, .. }
            | ShardError::TargetColumns { rank: r, .. } => *r == rank,
            ShardError::Columns { .. } | ShardError::Elsewhere { .. } => false,
        }
    }
}

/// One rank's rows of `X` and `y`, and where they sit in the whole.
#[derive(Debug, Clone)]
pub struct Shard {
    /// The rank's rows of `X`, by rows.
    pub x: Stored,
    /// The rank's entries of `y`.
    pub y: Vec<f64>,
    /// The rows of all ranks together, `N`.
    pub total_rows: usize,
    /// The global index of this rank's first row.
    pub first_row: usize,
    /// The features' file this rank read.
    pub x_file: PathBuf,
    /// The target's file this rank read.
    pub y_file: PathBuf,
}

/// The file of `rank` for a path that may name the rank (`X.{rank}.npy`), and
/// whether it does.
pub fn rank_file(path: &Path, rank: usize) -> (PathBuf, bool) {
    let text = path.to_string_lossy();
    if text.contains(RANK_PLACEHOLDER) {
        (
            PathBuf::from(text.replace(RANK_PLACEHOLDER, &rank.to_string())),
            true,
        )
    } else {
        (path.to_path_buf(), false)
    }
}

/// Reads this rank's rows of `X` (`x`) and `y` (`y`), `.npy` files, and checks with
/// the other ranks that the shards fit together. A path with `{rank}` is a file per
/// rank, read whole; otherwise the rank reads its rows `[r·N/K, (r+1)·N/K)` of the
/// one file. Every rank returns the same error when any rank fails.
pub fn load<P: Peers + ?Sized>(peers: &P, x: &Path, y: &Path) -> Result<Shard, ShardError> {
    let rank = peers.rank();
    let local = read(rank, peers.size(), x, y);
    // What every rank learns of every other: how many rows it read, and how many
    // columns its file had.
    let (mut shard, all) = settle(peers, local, |shard: &Shard| {
        vec![shard.x.nrows() as f64, shard.x.ncols() as f64]
    })?;
    let expected = all[0][1] as usize;
    if let Some(other) = all.iter().position(|s| s[1] as usize != expected) {
        return Err(ShardError::Columns {
            rank: other,
            file: rank_file(x, other).0.display().to_string(),
            columns: all[other][1] as usize,
            expected,
        });
    }
    let rows: Vec<usize> = all.iter().map(|s| s[0] as usize).collect();
    shard.total_rows = rows.iter().sum();
    shard.first_row = rows[..rank].iter().sum();
    Ok(shard)
}

/// The ranks compare notes on reading their rows: when every rank read them, this
/// rank's result with every rank's `summary` of its rows, in rank order; else, on
/// every rank, the error of the first rank that could not (its own words on that
/// rank, which rank it was on the others). No rank goes on while another has failed.
pub(crate) fn settle<T, E: From<ShardError>>(
    peers: &(impl Peers + ?Sized),
    local: Result<T, E>,
    summary: impl Fn(&T) -> Vec<f64>,
) -> Result<(T, Vec<Vec<f64>>), E> {
    let mut note = vec![if local.is_ok() { 1.0 } else { 0.0 }];
    if let Ok(value) = &local {
        note.extend(summary(value));
    }
    let all = gather(peers, &note);
    if let Some(failed) = all.iter().position(|s| s[0] == 0.0) {
        return Err(match local {
            Err(error) if failed == peers.rank() => error,
            _ => ShardError::Elsewhere { rank: failed }.into(),
        });
    }
    let value = local.ok().expect("every rank read its rows");
    Ok((value, all.into_iter().map(|s| s[1..].to_vec()).collect()))
}

/// The `.npy` file that rank `rank` of `size` reads for `path` (its own file where
/// `path` names `{rank}`, else the shared one), the file's header, the rows the rank
/// reads there (all of its own file, its share of a shared one), and whether the file
/// is its own.
pub(crate) fn rank_rows(
    path: &Path,
    rank: usize,
    size: usize,
) -> Result<(PathBuf, NpyLayout, Range<usize>, bool), ShardError> {
    let (file, own) = rank_file(path, rank);
    let npy = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if !npy {
        return Err(ShardError::NotNpy {
            rank,
            file: file.display().to_string(),
        });
    }
    let header = npy_header(&file).map_err(|source| ShardError::Read { rank, source })?;
    let rows = if own {
        0..header.rows
    } else {
        shard_rows(header.rows, rank, size)
    };
    Ok((file, header, rows, own))
}

/// This rank's rows, before the ranks compare notes.
fn read(rank: usize, size: usize, x: &Path, y: &Path) -> Result<Shard, ShardError> {
    let (x_file, _, x_rows, _) = rank_rows(x, rank, size)?;
    let (y_file, y_header, y_rows, _) = rank_rows(y, rank, size)?;
    let failed = |source: DataError| ShardError::Read { rank, source };
    if y_header.cols != 1 {
        return Err(ShardError::TargetColumns {
            rank,
            file: y_file.display().to_string(),
            columns: y_header.cols,
        });
    }
    if x_rows.len() != y_rows.len() {
        return Err(ShardError::Rows {
            rank,
            x_file: x_file.display().to_string(),
            x_rows: x_rows.len(),
            y_file: y_file.display().to_string(),
            y_rows: y_rows.len(),
        });
    }
    let first_row = x_rows.start;
    let x_stored = load_npy_rows(&x_file, x_rows).map_err(failed)?;
    let y_stored = load_npy_rows(&y_file, y_rows).map_err(failed)?;
    let y_values = y_stored.view().col(0).iter().copied().collect();
    Ok(Shard {
        x: x_stored,
        y: y_values,
        total_rows: 0,
        first_row,
        x_file,
        y_file,
    })
}
