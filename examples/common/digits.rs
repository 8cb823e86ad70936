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
