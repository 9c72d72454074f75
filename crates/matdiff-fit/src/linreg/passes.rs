//! Passes over the rows of the data, block by block, without copying the data.
//!
//! The normal equations need `WᵀW` for a matrix `W` that is a cheap function of the
//! data (the centred, scaled features next to the centred target): materialising it
//! would mean writing as many bytes as the data has, and for a tall matrix that costs
//! more than the product itself. Instead the rows are split into blocks; each block of
//! `W` is formed in a small scratch buffer that stays in cache and added to the Gram
//! matrix by a lower-triangle rank-`b` update. When `W` is just `[X y]` (no intercept,
//! no scaling, no constant column) the blocks of `X` are multiplied where they lie.
//!
//! The rows are split into parts by the problem's size alone, never by the number of
//! threads: every part is summed by one task in a fixed order of blocks, and the
//! parts' sums are added in order, so the result is bitwise the same on one thread or
//! on sixty-four.

use std::ops::Range;

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, ColMut, ColRef, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Entries of `W` a block holds at most (1 MiB of f64), unless a block needs more to
/// keep [`MIN_BLOCK_ROWS`].
const BLOCK_ENTRIES: usize = 1 << 17;

/// The fewest rows a block has: each block adds a rank-`b` update to the Gram
/// matrix, and below a few hundred rows reading and writing the Gram matrix would
/// cost as much as the update.
const MIN_BLOCK_ROWS: usize = 256;

/// The most parts the rows are split into: enough to keep many cores busy.
const MAX_PARTS: usize = 32;

/// Memory the parts' partial Gram matrices may take together (64 MiB), which limits
/// the number of parts when `W` is wide.
const PARTIAL_BYTES: usize = 64 << 20;

/// How the rows `0..n` of an `n × m` matrix are split: into parts of whole blocks,
/// by the size alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowSplit {
    rows: usize,
    block: usize,
    blocks_per_part: usize,
}

impl RowSplit {
    /// The split for an `n × m` Gram pass.
    pub fn for_gram(n: usize, m: usize) -> Self {
        let block = (BLOCK_ENTRIES / m.max(1)).max(MIN_BLOCK_ROWS).min(n.max(1));
        let blocks = n.div_ceil(block);
        let gram_bytes = m * m * std::mem::size_of::<f64>();
        let parts = blocks
            .min(MAX_PARTS)
            .min((PARTIAL_BYTES / gram_bytes.max(1)).max(1))
            .max(1);
        Self {
            rows: n,
            block,
            blocks_per_part: blocks.div_ceil(parts).max(1),
        }
    }

    /// Rows per block (the last block of the matrix may have fewer).
    pub fn block_rows(&self) -> usize {
        self.block
    }

    /// The parts, each a contiguous range of rows.
    pub fn parts(&self) -> Vec<Range<usize>> {
        let part = self.block * self.blocks_per_part;
        (0..self.rows.div_ceil(part))
            .map(|p| p * part..((p + 1) * part).min(self.rows))
            .collect()
    }

    /// The blocks of a part, in order.
    pub fn blocks(&self, part: Range<usize>) -> impl Iterator<Item = Range<usize>> {
        let block = self.block;
        part.clone()
            .step_by(block)
            .map(move |start| start..(start + block).min(part.end))
    }
}

/// The tall matrix of the normal equations, described and never stored:
/// `W = [(X_S − 1μᵀ) / s   y − ȳ]`, the columns `S` of `X` shifted and scaled, and the
/// shifted target as its last column.
pub(crate) struct Stacked<'a> {
    /// The data.
    pub x: MatRef<'a, f64>,
    /// The columns `S` of `X` in `W`, in order.
    pub columns: &'a [usize],
    /// `μ`, one per column of `X`.
    pub shift: &'a [f64],
    /// `s`, one per column of `X`.
    pub scale: &'a [f64],
    /// The target.
    pub y: ColRef<'a, f64>,
    /// `ȳ`.
    pub y_shift: f64,
}

impl Stacked<'_> {
    /// Whether `W = [X y]`: every column in order, none shifted or scaled, so blocks
    /// of `X` can be multiplied where they lie, without forming them.
    fn is_plain(&self) -> bool {
        self.y_shift == 0.0
            && self.columns.len() == self.x.ncols()
            && self
                .columns
                .iter()
                .enumerate()
                .all(|(k, &j)| k == j && self.shift[j] == 0.0 && self.scale[j] == 1.0)
    }

    /// Writes the rows `rows` of `W` into the column-major `block`.
    fn fill(&self, rows: Range<usize>, mut block: MatMut<'_, f64>) {
        let (start, len) = (rows.start, rows.len());
        for (k, &j) in self.columns.iter().enumerate() {
            let target = as_slice(block.as_mut().col_mut(k));
            shifted_copy(
                self.x.col(j).subrows(start, len),
                target,
                self.shift[j],
                self.scale[j],
            );
        }
        let target = as_slice(block.as_mut().col_mut(self.columns.len()));
        shifted_copy(self.y.subrows(start, len), target, self.y_shift, 1.0);
    }
}

/// `WᵀW` (both triangles) of the `n × (k + 1)` matrix `W` that `stacked` describes.
/// Deterministic: see the module documentation.
pub(crate) fn gram(stacked: &Stacked<'_>) -> Mat<f64> {
    let (n, k) = (stacked.x.nrows(), stacked.columns.len());
    let m = k + 1;
    let plain = stacked.is_plain();
    let split = RowSplit::for_gram(n, m);
    let partials: Vec<Mat<f64>> = split
        .parts()
        .into_par_iter()
        .map(|part| {
            let mut sum = Mat::<f64>::zeros(m, m);
            // X stored by rows is copied a block at a time into columns, so that the
            // products see the same operands, and give the same bits, as on X stored
            // by columns.
            let by_rows = stacked.x.ncols() > 1 && stacked.x.col_stride() == 1;
            let mut scratch = if plain && !by_rows {
                Vec::new()
            } else {
                vec![0.0; split.block_rows() * m]
            };
            for rows in split.blocks(part) {
                if plain {
                    // `[X y]ᵀ[X y]` by blocks of X where they lie: the lower triangle of
                    // `XᵀX`, then the row `yᵀX` and the corner `yᵀy`.
                    let x = stacked.x.subrows(rows.start, rows.len());
                    let x = if by_rows {
                        let len = rows.len();
                        MatMut::from_column_major_slice_mut(&mut scratch[..len * k], len, k)
                            .copy_from(x);
                        MatRef::from_column_major_slice(&scratch[..len * k], len, k)
                    } else {
                        x
                    };
                    let y = stacked.y.subrows(rows.start, rows.len()).as_mat();
                    lower_product(sum.as_mut().submatrix_mut(0, 0, k, k), x);
                    let mut last = sum.as_mut().subrows_mut(k, 1);
                    matmul(
                        last.as_mut().subcols_mut(0, k),
                        Accum::Add,
                        y.transpose(),
                        x,
                        1.0,
                        Par::Seq,
                    );
                    matmul(
                        last.subcols_mut(k, 1),
                        Accum::Add,
                        y.transpose(),
                        y,
                        1.0,
                        Par::Seq,
                    );
                } else {
                    let len = rows.len();
                    let mut block =
                        MatMut::from_column_major_slice_mut(&mut scratch[..len * m], len, m);
                    stacked.fill(rows, block.as_mut());
                    lower_product(sum.as_mut(), block.as_ref());
                }
            }
            sum
        })
        .collect();
    let mut partials = partials.into_iter();
    let mut total = partials.next().unwrap_or_else(|| Mat::zeros(m, m));
    for partial in partials {
        for j in 0..m {
            for i in j..m {
                total[(i, j)] += partial[(i, j)];
            }
        }
    }
    for j in 1..m {
        for i in 0..j {
            total[(i, j)] = total[(j, i)];
        }
    }
    total
}

/// `sum += blockᵀ block`, lower triangle only (half the multiply-adds, like BLAS
/// `syrk`), on this thread.
fn lower_product(sum: MatMut<'_, f64>, block: MatRef<'_, f64>) {
    triangular::matmul(
        sum,
        BlockStructure::TriangularLower,
        Accum::Add,
        block.transpose(),
        BlockStructure::Rectangular,
        block,
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

/// The entries of a column of a column-major matrix allocated here.
pub(crate) fn as_slice(column: ColMut<'_, f64>) -> &mut [f64] {
    column
        .try_as_col_major_mut()
        .map(|c| c.as_slice_mut())
        .unwrap_or_default()
}

/// Writes `(source − shift) / scale` into `target`, reading `source` as a slice when
/// it is contiguous.
pub(crate) fn shifted_copy(source: ColRef<'_, f64>, target: &mut [f64], shift: f64, scale: f64) {
    match (source.try_as_col_major(), shift == 0.0 && scale == 1.0) {
        (Some(source), true) => target.copy_from_slice(source.as_slice()),
        (Some(source), false) => {
            for (t, &s) in target.iter_mut().zip(source.as_slice()) {
                *t = (s - shift) / scale;
            }
        }
        (None, _) => {
            for (t, &s) in target.iter_mut().zip(source.iter()) {
                *t = (s - shift) / scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, m: usize, seed: u64) -> Mat<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Mat::from_fn(n, m, |_, _| rng.random_range(-1.0..1.0) + 0.5)
    }

    /// `W = [X_S − 1μᵀ  y]` written out, and its Gram matrix computed blockwise:
    /// plainly when nothing is shifted, through scratch blocks otherwise.
    fn both(x: &Mat<f64>, y: &Mat<f64>, shifted: bool) -> (Mat<f64>, Mat<f64>) {
        let d = x.ncols();
        let columns: Vec<usize> = if shifted {
            (0..d).rev().collect()
        } else {
            (0..d).collect()
        };
        let shift: Vec<f64> = (0..d)
            .map(|j| if shifted { 0.25 * j as f64 } else { 0.0 })
            .collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| if shifted { 1.0 + j as f64 } else { 1.0 })
            .collect();
        let stacked = Stacked {
            x: x.as_ref(),
            columns: &columns,
            shift: &shift,
            scale: &scale,
            y: y.col(0),
            y_shift: if shifted { 0.5 } else { 0.0 },
        };
        assert_eq!(stacked.is_plain(), !shifted);
        let w = Mat::from_fn(x.nrows(), d + 1, |i, k| match columns.get(k) {
            Some(&j) => (x[(i, j)] - shift[j]) / scale[j],
            None => y[(i, 0)] - stacked.y_shift,
        });
        (gram(&stacked), w.transpose() * &w)
    }

    #[test]
    fn the_split_covers_every_row_once_in_order() {
        // (n, m): one block, a ragged last block, more blocks than parts, a wide W.
        for (n, m) in [(1, 3), (1000, 7), (100_003, 5), (70_001, 1001)] {
            let split = RowSplit::for_gram(n, m);
            let rows: Vec<usize> = split
                .parts()
                .into_iter()
                .flat_map(|part| split.blocks(part))
                .flatten()
                .collect();
            assert_eq!(rows, (0..n).collect::<Vec<_>>(), "n = {n}, m = {m}");
            assert!(split.parts().len() <= MAX_PARTS);
        }
    }

    #[test]
    fn the_blockwise_gram_equals_the_plain_product() {
        // Row counts that are not multiples of the block: the last block is short.
        for (n, d, seed) in [(5, 3, 1), (3001, 4, 2), (20_011, 9, 3), (1283, 130, 4)] {
            let (x, y) = (random(n, d, seed), random(n, 1, seed + 100));
            for shifted in [false, true] {
                let (blockwise, plain) = both(&x, &y, shifted);
                let error = (&blockwise - &plain).norm_max() / plain.norm_max();
                assert!(
                    error < 1e-12,
                    "n = {n}, d = {d}, shifted = {shifted}: relative error {error:e}"
                );
                assert_eq!(blockwise, blockwise.transpose().to_owned(), "symmetric");
            }
        }
    }

    #[test]
    fn the_gram_is_bitwise_the_same_on_one_and_two_threads() {
        let (x, y) = (random(40_009, 10, 5), random(40_009, 1, 6));
        assert!(RowSplit::for_gram(40_009, 11).parts().len() > 2);
        for shifted in [false, true] {
            let on = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| both(&x, &y, shifted).0)
            };
            let (one, two, three) = (on(1), on(2), on(3));
            assert_eq!(one, two, "shifted = {shifted}");
            assert_eq!(one, three, "shifted = {shifted}");
        }
    }
}
