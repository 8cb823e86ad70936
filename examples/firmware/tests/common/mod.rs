//! The digits data and the train/test split, shared by the `train` example and the tests, so that
//! the tests measure accuracy on images the stored parameters were not trained on.

#[path = "../../../common/digits.rs"]
#[allow(
    dead_code,
    reason = "the digits example's loader; only `load` and `Dataset` are needed here"
)]
mod digits;

pub use digits::Dataset;
use monograd::prelude::Rng;

/// The digits example's split: the 1797 images shuffled with seed 0, the first 1437 to train on
/// and the other 360 to test on.
pub fn split() -> Result<(Dataset, Dataset), String> {
    let data = digits::load()?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    Rng::new(0).shuffle(&mut order);
    Ok((data.subset(&order[..1437]), data.subset(&order[1437..])))
}
