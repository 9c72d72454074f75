//! Passes over the rows of the data, block by block, without copying the data.
//!
//! The normal equations need `WᵀW` for a matrix `W` that is a cheap function of the
//! data (the centred, scaled features next to the centred target): materialising it
//! would mean writing as many bytes as the data has, and for a tall matrix that costs
//! more than the product itself. Instead the rows are split into blocks; each block of
//! `W` is formed in a small scratch buffer that stays in cache and added to the Gram
//! matrix by a lower-triangle rank-`b` update.
//!
//! The rows are split into parts by the problem's size alone, never by the number of
//! threads: every part is summed by one task in a fixed order of blocks, and the
//! parts' sums are added in order, so the result is bitwise the same on one thread or
//! on sixty-four.

use std::ops::Range;

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, ColRef, Mat, MatMut, Par};
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

/// `WᵀW` (both triangles) of an `n × m` matrix `W` that is never stored:
/// `fill(rows, block)` writes the rows `rows` of `W` into the column-major `block`
/// (`rows.len() × m`). Deterministic: see the module documentation.
pub(crate) fn gram<F>(n: usize, m: usize, fill: F) -> Mat<f64>
where
    F: Fn(Range<usize>, MatMut<'_, f64>) + Sync,
{
    let split = RowSplit::for_gram(n, m);
    let partials: Vec<Mat<f64>> = split
        .parts()
        .into_par_iter()
        .map(|part| {
            let mut sum = Mat::<f64>::zeros(m, m);
            let mut scratch = vec![0.0; split.block_rows() * m];
            for rows in split.blocks(part) {
                let len = rows.len();
                let mut block =
                    MatMut::from_column_major_slice_mut(&mut scratch[..len * m], len, m);
                fill(rows, block.as_mut());
                // Only the lower triangle is multiplied out, like BLAS `syrk`.
                triangular::matmul(
                    sum.as_mut(),
                    BlockStructure::TriangularLower,
                    Accum::Add,
                    block.as_ref().transpose(),
                    BlockStructure::Rectangular,
                    block.as_ref(),
                    BlockStructure::Rectangular,
                    1.0,
                    Par::Seq,
                );
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

    fn gram_of(w: &Mat<f64>) -> Mat<f64> {
        gram(w.nrows(), w.ncols(), |rows, mut block| {
            for j in 0..w.ncols() {
                let target = block.as_mut().col_mut(j).try_as_col_major_mut().unwrap();
                shifted_copy(
                    w.col(j).subrows(rows.start, rows.len()),
                    target.as_slice_mut(),
                    0.0,
                    1.0,
                );
            }
        })
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
        for (n, m, seed) in [(5, 3, 1), (3001, 4, 2), (20_011, 9, 3), (1283, 130, 4)] {
            let w = random(n, m, seed);
            let plain = w.transpose() * &w;
            let blockwise = gram_of(&w);
            let scale = plain.norm_max();
            let error = (&blockwise - &plain).norm_max() / scale;
            assert!(error < 1e-12, "n = {n}, m = {m}: relative error {error:e}");
            assert_eq!(blockwise, blockwise.transpose().to_owned(), "symmetric");
        }
    }

    #[test]
    fn the_gram_is_bitwise_the_same_on_one_and_two_threads() {
        let w = random(40_009, 11, 5);
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| gram_of(&w))
        };
        let (one, two, three) = (on(1), on(2), on(3));
        assert!(RowSplit::for_gram(40_009, 11).parts().len() > 2);
        assert_eq!(one, two);
        assert_eq!(one, three);
    }
}
