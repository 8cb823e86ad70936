//! [`ShardedBatches`]: each rank's shard of every global batch, from one global shuffled order.

use ::mpi::datatype::Equivalence;

use super::trainer::Distributed;
use crate::io::ShufflerState;
use crate::optim::Optimizer;
use crate::train::{check_dataset, filled, gather, EpochReport};
use crate::{Error, Network, Result, Rng};

/// Mini-batch training over the ranks: [`MiniBatches`](crate::train::MiniBatches) for a global
/// batch of `G = B * ranks` samples, of which this rank takes the `B` at `rank * B`.
///
/// Every rank holds the whole data set, the same seed and so the same global order: each epoch
/// shuffles the previous order with the shared generator, exactly as `MiniBatches` does, and
/// global batch `j` of the epoch is the samples `order[(j * G + i) % n]` for `i` in `0..G` (the
/// last batch is completed from the start of the same epoch's order). Rank `r` trains on
/// `i = r * B .. (r + 1) * B` of it. Nothing is communicated to agree on the data.
///
/// So the batches are those of a single process running `MiniBatches` with batch `G` and the same
/// seed, whatever the number of ranks, and a checkpoint's shuffler state, epoch and step mean the
/// same global thing with any number of ranks: resuming with `p'` ranks of `B'` samples, where
/// `p' * B' = G`, continues with the same global batches.
pub struct ShardedBatches<X: Copy, Y: Copy, const B: usize> {
    order: Vec<usize>,
    inputs: Box<[X; B]>,
    targets: Box<[Y; B]>,
    rng: Rng,
    rank: usize,
    ranks: usize,
}

impl<X: Copy, Y: Copy, const B: usize> ShardedBatches<X, Y, B> {
    /// This rank's shards of batches over the whole data set `inputs`/`targets` (equal,
    /// non-zero lengths, the same on every rank), shuffled by a generator seeded with `seed`
    /// (the same on every rank), for the ranks of `distributed`.
    ///
    /// # Errors
    /// [`Error::Length`] when the lengths differ or the set is empty; [`Error::Unsupported`]
    /// when `B == 0`.
    pub fn new<T: crate::Scalar + Equivalence>(
        inputs: &[X],
        targets: &[Y],
        seed: u64,
        distributed: &Distributed<'_, T>,
    ) -> Result<Self> {
        Self::for_rank(
            inputs,
            targets,
            seed,
            distributed.rank(),
            distributed.ranks(),
        )
    }

    /// As [`new`](Self::new), for rank `rank` of `ranks` (no communicator needed).
    ///
    /// # Errors
    /// As [`new`](Self::new), and [`Error::InvalidParameter`] for `rank >= ranks`.
    pub fn for_rank(
        inputs: &[X],
        targets: &[Y],
        seed: u64,
        rank: usize,
        ranks: usize,
    ) -> Result<Self> {
        check_dataset(inputs.len(), targets.len())?;
        if B == 0 {
            return Err(Error::Unsupported {
                what: "ShardedBatches",
                reason: "the batch size B must be at least 1",
            });
        }
        if rank >= ranks {
            return Err(Error::InvalidParameter {
                name: "ShardedBatches: rank",
                value: rank as f64,
                expected: "below the number of ranks",
            });
        }
        Ok(ShardedBatches {
            order: (0..inputs.len()).collect(),
            inputs: filled(inputs[0]),
            targets: filled(targets[0]),
            rng: Rng::new(seed),
            rank,
            ranks,
        })
    }

    /// The global batch `B * ranks`.
    pub fn global_batch(&self) -> usize {
        B * self.ranks
    }

    /// Global batches (steps) per epoch: `ceil(samples / global_batch)`.
    pub fn batches_per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.global_batch())
    }

    /// Shuffles the global order for the next epoch (every rank does, alike).
    pub fn shuffle(&mut self) {
        self.rng.shuffle(&mut self.order);
    }

    /// This rank's shard of global batch `batch` of the current epoch's order.
    ///
    /// # Errors
    /// [`Error::Length`] when `inputs`/`targets` do not have the length given to `new`.
    pub fn shard(
        &mut self,
        batch: usize,
        inputs: &[X],
        targets: &[Y],
    ) -> Result<(&[X; B], &[Y; B])> {
        crate::error::check_len("ShardedBatches: inputs", self.order.len(), inputs.len())?;
        crate::error::check_len("ShardedBatches: targets", self.order.len(), targets.len())?;
        let start = batch * self.global_batch() + self.rank * B;
        gather(
            &self.order,
            start,
            (inputs, targets),
            (&mut self.inputs, &mut self.targets),
        );
        Ok((&self.inputs, &self.targets))
    }

    /// One epoch: shuffle, then one [`Distributed::train_step`] per global batch on this rank's
    /// shard. Every rank must call it alike. Stops at the first error, which every rank
    /// reports (with local SGD, see [`Distributed::train_step`]).
    ///
    /// # Errors
    /// [`Error::Length`] for data of another length than given to `new`, and any error of
    /// `train_step`.
    pub fn train_epoch<const P: usize, N, O>(
        &mut self,
        distributed: &mut Distributed<'_, N::Element>,
        net: &mut N,
        tape: &mut N::Tape<B>,
        optimizer: &mut O,
        inputs: &[X],
        targets: &[Y],
    ) -> Result<EpochReport>
    where
        N: Network<P, Input = X, Target = Y>,
        N::Element: Equivalence,
        O: Optimizer<N::Element, P>,
    {
        crate::error::check_len("train_epoch: inputs", self.order.len(), inputs.len())?;
        crate::error::check_len("train_epoch: targets", self.order.len(), targets.len())?;
        self.shuffle();
        let batches = self.batches_per_epoch();
        let mut total = 0.0;
        for batch in 0..batches {
            self.shard(batch, inputs, targets)?;
            let loss = distributed.train_step(net, tape, &self.inputs, &self.targets, optimizer)?;
            total += crate::Scalar::to_f64(loss);
        }
        Ok(EpochReport {
            mean_loss: total / batches as f64,
            steps: batches,
        })
    }
}

/// Checkpoints save the global order and generator, which every rank holds alike.
impl<X: Copy, Y: Copy, const B: usize> ShufflerState for ShardedBatches<X, Y, B> {
    fn shuffler_state(&self) -> (&Rng, &[usize]) {
        (&self.rng, &self.order)
    }
    fn restore_checked(&mut self, rng: Rng, order: &[usize]) {
        self.rng = rng;
        self.order.copy_from_slice(order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shards of every rank, concatenated, are the single-process batch of `G` samples.
    #[test]
    fn shards_concatenate_to_the_global_batch() {
        let inputs: Vec<usize> = (0..11).collect();
        let mut single =
            ShardedBatches::<usize, usize, 6>::for_rank(&inputs, &inputs, 9, 0, 1).unwrap();
        let mut ranks: Vec<_> = (0..3)
            .map(|r| {
                ShardedBatches::<usize, usize, 2>::for_rank(&inputs, &inputs, 9, r, 3).unwrap()
            })
            .collect();
        for _epoch in 0..3 {
            single.shuffle();
            ranks.iter_mut().for_each(|r| r.shuffle());
            assert_eq!(single.batches_per_epoch(), 2);
            for batch in 0..2 {
                let whole = *single.shard(batch, &inputs, &inputs).unwrap().0;
                let mut joined = Vec::new();
                for rank in ranks.iter_mut() {
                    joined.extend_from_slice(rank.shard(batch, &inputs, &inputs).unwrap().0);
                }
                assert_eq!(joined, whole);
            }
        }
    }

    /// The order is that of `MiniBatches` with the same seed (a checkpoint's shuffler state is
    /// interchangeable between the two).
    #[test]
    fn the_order_is_that_of_mini_batches() {
        let inputs: Vec<usize> = (0..10).collect();
        let mut sharded =
            ShardedBatches::<usize, usize, 2>::for_rank(&inputs, &inputs, 4, 1, 2).unwrap();
        let mut rng = Rng::new(4);
        let mut order: Vec<usize> = (0..10).collect();
        for _ in 0..2 {
            sharded.shuffle();
            rng.shuffle(&mut order);
            assert_eq!(sharded.shuffler_state().1, &order[..]);
            // Rank 1 of 2 with B = 2: samples 2..4 of each global batch of 4; batch 2 wraps.
            let shard = *sharded.shard(2, &inputs, &inputs).unwrap().0;
            assert_eq!(shard, [order[(8 + 2) % 10], order[(8 + 3) % 10]]);
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let inputs = [1.0f32; 4];
        assert!(matches!(
            ShardedBatches::<f32, f32, 2>::for_rank(&inputs, &inputs[..3], 0, 0, 1),
            Err(Error::Length { .. })
        ));
        assert!(matches!(
            ShardedBatches::<f32, f32, 2>::for_rank(&inputs, &inputs, 0, 2, 2),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            ShardedBatches::<f32, f32, 0>::for_rank(&inputs, &inputs, 0, 0, 1),
            Err(Error::Unsupported { .. })
        ));
        let mut batches =
            ShardedBatches::<f32, f32, 2>::for_rank(&inputs, &inputs, 0, 0, 1).unwrap();
        assert!(matches!(
            batches.shard(0, &inputs[..2], &inputs),
            Err(Error::Length { .. })
        ));
    }
}
