//! The 8x8 handwritten digits set (UCI, as shipped with scikit-learn), embedded in the example
//! binaries so they run from any directory.

use std::io::Read;

/// Pixels per image.
pub const PIXELS: usize = 64;
/// Number of classes.
pub const CLASSES: usize = 10;

/// Images with pixel values scaled to [0, 1] (divided by 16), and their labels.
pub struct Dataset {
    pub images: Vec<[f32; PIXELS]>,
    pub labels: Vec<usize>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            images: indices.iter().map(|&i| self.images[i]).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

const GZIPPED_CSV: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Decodes the embedded CSV (`label,p0,...,p63`, 1797 rows in the original order).
pub fn load() -> Result<Dataset, String> {
    let mut csv = String::new();
    flate2::read::GzDecoder::new(GZIPPED_CSV)
        .read_to_string(&mut csv)
        .map_err(|e| format!("data/digits.csv.gz: cannot decompress: {e}"))?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (line_number, line) in csv.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(format!(
                "data/digits.csv.gz line {}: expected {} fields, found {}",
                line_number + 1,
                PIXELS + 1,
                fields.len()
            ));
        }
        let number = |i: usize| -> Result<u32, String> {
            fields[i].parse::<u32>().map_err(|e| {
                format!(
                    "data/digits.csv.gz line {} field {}: {e}",
                    line_number + 1,
                    i + 1
                )
            })
        };
        let label = number(0)? as usize;
        if label >= CLASSES {
            return Err(format!(
                "data/digits.csv.gz line {}: label {label} is not a digit",
                line_number + 1
            ));
        }
        let mut image = [0.0f32; PIXELS];
        for (p, value) in image.iter_mut().enumerate() {
            *value = number(p + 1)? as f32 / 16.0;
        }
        images.push(image);
        labels.push(label);
    }
    Ok(Dataset { images, labels })
}

/// Shuffled mini-batches of `B` samples, one step at a time: `MiniBatches::train_epoch` runs a
/// whole epoch, this lets a program act between steps (record each loss, set a learning rate).
/// Same order rule as `MiniBatches`: a fresh shuffle per epoch, the last batch completed with
/// the epoch's first samples.
#[allow(dead_code)] // not every example steps by hand
pub struct Batches<const B: usize> {
    order: Vec<usize>,
    rng: monograd::runtime::Rng,
}

#[allow(dead_code)]
impl<const B: usize> Batches<B> {
    /// Batches over a data set of `len` samples, shuffled by a generator seeded with `seed`.
    pub fn new(len: usize, seed: u64) -> Self {
        Batches {
            order: (0..len).collect(),
            rng: monograd::runtime::Rng::new(seed),
        }
    }

    pub fn per_epoch(&self) -> usize {
        self.order.len().div_ceil(B)
    }

    /// One epoch: shuffles, then calls `step` with each batch's images and labels.
    pub fn epoch<E>(
        &mut self,
        data: &Dataset,
        mut step: impl FnMut(&[[f32; PIXELS]; B], &[usize; B]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.rng.shuffle(&mut self.order);
        let mut images = [[0.0f32; PIXELS]; B];
        let mut labels = [0usize; B];
        for batch in 0..self.per_epoch() {
            for k in 0..B {
                let i = self.order[(batch * B + k) % self.order.len()];
                images[k] = data.images[i];
                labels[k] = data.labels[i];
            }
            step(&images, &labels)?;
        }
        Ok(())
    }
}

/// The split every digits example uses: a fixed shuffle by `seed`, the first 1437 samples for
/// training and the last 360 for testing.
#[allow(dead_code)]
pub fn shuffled_split(data: &Dataset, seed: u64) -> (Dataset, Dataset) {
    let mut order: Vec<usize> = (0..data.len()).collect();
    monograd::runtime::Rng::new(seed).shuffle(&mut order);
    (data.subset(&order[..TRAIN]), data.subset(&order[TRAIN..]))
}

/// The split of the `digits` example and workload W6: with `benchmark`, the rows in file order
/// (the first 1437 for training, as BENCHMARKS.md says); otherwise [`shuffled_split`] by `seed`,
/// so that train and test come from the same writers.
#[allow(dead_code)]
pub fn split(data: &Dataset, benchmark: bool, seed: u64) -> (Dataset, Dataset) {
    if benchmark {
        let order: Vec<usize> = (0..data.len()).collect();
        (data.subset(&order[..TRAIN]), data.subset(&order[TRAIN..]))
    } else {
        shuffled_split(data, seed)
    }
}

/// Training samples of [`shuffled_split`].
pub const TRAIN: usize = 1437;
