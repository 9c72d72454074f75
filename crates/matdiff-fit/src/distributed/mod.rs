//! Data-parallel fitting across processes: every process (a *rank* `r` of `K`) holds
//! the rows `[r·N/K, (r+1)·N/K)` of the data, computes what its rows contribute, and
//! the contributions are combined in rank order, so that every rank ends with the
//! same numbers and a rerun at the same `K` gives the same bits.
//!
//! The ranks talk through [`Peers`]: point-to-point messages of `f64`s and a
//! broadcast from rank 0. The MPI implementation is `mpi::World` (feature `mpi`);
//! [`Alone`] is the one-process case, and the tests run several ranks as threads.
//! On that, [`combine`] reduces one vector per rank along a binary tree whose shape
//! depends only on `K` (rank `r` takes in rank `r + s` at stage `s = 1, 2, 4, …`),
//! so every combination joins two contiguous blocks of ranks, lower ranks on the left:
//! a merge that is exact in rank order (Chan's update of means and co-moments, the
//! QR of stacked triangles) gives the same result at every rerun.
//!
//! What is combined: for a linear regression ([`linreg`]) the means and centred
//! co-moments of `[X y]` (`8·(d+1)²` bytes per rank) and, for QR, the triangular
//! factors of the centred rows (TSQR, as many bytes); for gradient descent
//! ([`gradient`]) the loss, two flags and the gradient (`8·(d+3)` bytes per step).

pub mod gradient;
pub mod linreg;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod shard;

use std::ops::Range;

/// The processes of a distributed run, as rank `rank()` of `size()` sees them.
pub trait Peers {
    /// This process's rank, `0 ≤ rank < size`.
    fn rank(&self) -> usize;

    /// The number of processes `K`.
    fn size(&self) -> usize;

    /// Sends `values` to rank `to` (which receives them with [`Peers::receive`]).
    fn send(&self, to: usize, values: &[f64]);

    /// Receives the next message from rank `from`.
    fn receive(&self, from: usize) -> Vec<f64>;

    /// Replaces `values` on every rank by rank 0's (whatever their lengths were).
    fn broadcast(&self, values: &mut Vec<f64>);
}

/// A run of one process: rank 0 of 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Alone;

impl Peers for Alone {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn send(&self, _to: usize, _values: &[f64]) {
        unreachable!("a single process has no one to send to")
    }

    fn receive(&self, _from: usize) -> Vec<f64> {
        unreachable!("a single process has no one to receive from")
    }

    fn broadcast(&self, _values: &mut Vec<f64>) {}
}

/// The rows `[r·N/K, (r+1)·N/K)` that rank `r` of `K` holds of `N` rows: contiguous,
/// in rank order, their sizes differing by at most one.
pub fn shard_rows(rows: usize, rank: usize, size: usize) -> Range<usize> {
    let at = |r: usize| ((r as u128 * rows as u128) / size.max(1) as u128) as usize;
    at(rank)..at(rank + 1)
}

/// Combines one vector per rank with `merge(left, right)` along the binary tree of
/// the module documentation, and hands the result to every rank. `merge` is given
/// two results of contiguous blocks of ranks, the lower block on the left.
pub fn combine<P: Peers + ?Sized>(
    peers: &P,
    local: Vec<f64>,
    merge: impl Fn(Vec<f64>, Vec<f64>) -> Vec<f64>,
) -> Vec<f64> {
    let (rank, size) = (peers.rank(), peers.size());
    let mut acc = local;
    let mut stage = 1;
    while stage < size {
        if rank % (2 * stage) == stage {
            peers.send(rank - stage, &acc);
            break;
        }
        if rank + stage < size {
            let right = peers.receive(rank + stage);
            acc = merge(acc, right);
        }
        stage *= 2;
    }
    peers.broadcast(&mut acc);
    acc
}

/// Every rank's `local` vector, in rank order, on every rank.
pub fn gather<P: Peers + ?Sized>(peers: &P, local: &[f64]) -> Vec<Vec<f64>> {
    // Each piece is prefixed by its length, so that the pieces can be told apart.
    let mut framed = Vec::with_capacity(local.len() + 1);
    framed.push(local.len() as f64);
    framed.extend_from_slice(local);
    let all = combine(peers, framed, |mut left, right| {
        left.extend(right);
        left
    });
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < all.len() {
        let len = all[at] as usize;
        pieces.push(all[at + 1..at + 1 + len].to_vec());
        at += 1 + len;
    }
    pieces
}

/// The sum of one vector per rank (all of the same length), added in the tree's
/// order: the same bits on every rank and at every rerun with the same `K`.
pub fn sum<P: Peers + ?Sized>(peers: &P, local: Vec<f64>) -> Vec<f64> {
    combine(peers, local, |mut left, right| {
        for (l, r) in left.iter_mut().zip(right) {
            *l += r;
        }
        left
    })
}

#[cfg(test)]
pub(crate) mod threads {
    //! Ranks as threads of one process, talking over channels: the algorithms of
    //! this module tested at several `K` without MPI.

    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::{Arc, Barrier, Mutex};

    use super::Peers;

    /// One rank of a group of threads.
    pub struct Thread {
        rank: usize,
        size: usize,
        to: Vec<Sender<Vec<f64>>>,
        from: Vec<Receiver<Vec<f64>>>,
        shared: Arc<(Mutex<Vec<f64>>, Barrier)>,
    }

    impl Peers for Thread {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn send(&self, to: usize, values: &[f64]) {
            self.to[to].send(values.to_vec()).unwrap();
        }

        fn receive(&self, from: usize) -> Vec<f64> {
            self.from[from].recv().unwrap()
        }

        fn broadcast(&self, values: &mut Vec<f64>) {
            let (slot, barrier) = &*self.shared;
            if self.rank == 0 {
                *slot.lock().unwrap() = values.clone();
            }
            barrier.wait();
            if self.rank != 0 {
                *values = slot.lock().unwrap().clone();
            }
            barrier.wait();
        }
    }

    /// Runs `work` on `size` ranks, each a thread; the results in rank order.
    pub fn run<T: Send>(size: usize, work: impl Fn(&Thread) -> T + Sync) -> Vec<T> {
        // channels[a][b]: from rank a to rank b.
        let mut senders: Vec<Vec<Option<Sender<Vec<f64>>>>> = Vec::new();
        let mut receivers: Vec<Vec<Option<Receiver<Vec<f64>>>>> = (0..size)
            .map(|_| (0..size).map(|_| None).collect())
            .collect();
        for a in 0..size {
            let mut row = Vec::new();
            for receiver_row in receivers.iter_mut() {
                let (tx, rx) = channel();
                row.push(Some(tx));
                receiver_row[a] = Some(rx);
            }
            senders.push(row);
        }
        let shared = Arc::new((Mutex::new(Vec::new()), Barrier::new(size)));
        let threads: Vec<Thread> = (0..size)
            .map(|rank| Thread {
                rank,
                size,
                to: senders[rank]
                    .iter_mut()
                    .map(|s| s.take().unwrap())
                    .collect(),
                from: receivers[rank]
                    .iter_mut()
                    .map(|r| r.take().unwrap())
                    .collect(),
                shared: Arc::clone(&shared),
            })
            .collect();
        let work = &work;
        std::thread::scope(|scope| {
            let handles: Vec<_> = threads
                .into_iter()
                .map(|thread| scope.spawn(move || work(&thread)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_rows_in_order() {
        for (rows, size) in [(10, 3), (16, 1), (2, 4), (1_000_003, 7)] {
            let mut next = 0;
            for rank in 0..size {
                let range = shard_rows(rows, rank, size);
                assert_eq!(range.start, next);
                assert!(range.len() <= rows.div_ceil(size));
                next = range.end;
            }
            assert_eq!(next, rows);
        }
    }

    #[test]
    fn gather_and_sum_follow_rank_order() {
        for size in 1..=5 {
            let results = threads::run(size, |peers| {
                let mine = vec![peers.rank() as f64; peers.rank() + 1];
                (
                    gather(peers, &mine),
                    sum(peers, vec![1.0, peers.rank() as f64]),
                )
            });
            for (pieces, total) in results {
                let expected: Vec<Vec<f64>> = (0..size).map(|r| vec![r as f64; r + 1]).collect();
                assert_eq!(pieces, expected);
                assert_eq!(total, vec![size as f64, (size * (size - 1) / 2) as f64]);
            }
        }
    }
}
