//! What a digit classifier sees and gets wrong, as terminal pictures: images drawn with block
//! characters, pictures side by side under captions, a confusion matrix and the misclassified
//! test images.

use super::digits::{CLASSES, PIXELS};

/// Values in [0, 1] (clamped), `width` per row, as one line of block characters per row; each
/// value is two characters wide so that a pixel comes out roughly square.
pub fn ascii_art(values: &[f32], width: usize) -> Vec<String> {
    const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
    values
        .chunks(width)
        .map(|row| {
            row.iter()
                .map(|v| {
                    let c = SHADES[(v.clamp(0.0, 1.0) * 4.0).round() as usize];
                    format!("{c}{c}")
                })
                .collect()
        })
        .collect()
}

/// Pictures (each a list of lines) in one row, each under its caption, in columns two spaces
/// apart.
pub fn side_by_side(captions: &[String], pictures: &[Vec<String>]) -> String {
    let widths: Vec<usize> = captions
        .iter()
        .zip(pictures)
        .map(|(caption, lines)| {
            lines
                .iter()
                .chain([caption])
                .map(|line| line.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let height = pictures.iter().map(Vec::len).max().unwrap_or(0);
    let line = |cells: Vec<&str>| -> String {
        let padded: String = cells
            .iter()
            .zip(&widths)
            .map(|(cell, &width)| {
                format!("{cell}{:pad$}  ", "", pad = width - cell.chars().count())
            })
            .collect();
        format!("{}\n", padded.trim_end())
    };
    let mut out = line(captions.iter().map(String::as_str).collect());
    for row in 0..height {
        out.push_str(&line(
            pictures
                .iter()
                .map(|lines| lines.get(row).map_or("", String::as_str))
                .collect(),
        ));
    }
    out
}

/// The confusion matrix of `predicted` against `labels` (rows: true digit, columns: predicted),
/// zeros shown as `·` so that the mistakes stand out.
pub fn confusion_matrix(labels: &[usize], predicted: &[usize]) -> String {
    let mut counts = [[0usize; CLASSES]; CLASSES];
    for (&label, &guess) in labels.iter().zip(predicted) {
        counts[label][guess] += 1;
    }
    let mut out = String::from("confusion matrix (rows: true digit, columns: predicted)\n");
    out.push_str(&format!(
        "      {}\n",
        (0..CLASSES).map(|d| format!("{d:>4}")).collect::<String>()
    ));
    for (digit, row) in counts.iter().enumerate() {
        let cells: String = row
            .iter()
            .map(|&n| match n {
                0 => format!("{:>4}", "·"),
                n => format!("{n:>4}"),
            })
            .collect();
        out.push_str(&format!("  {digit:>2}  {cells}\n"));
    }
    out
}

/// Up to `max` of the images whose prediction is wrong, side by side, captioned
/// `true -> predicted`; empty when there are none.
pub fn misclassified(
    images: &[[f32; PIXELS]],
    labels: &[usize],
    predicted: &[usize],
    max: usize,
) -> String {
    let wrong: Vec<usize> = (0..labels.len())
        .filter(|&i| predicted[i] != labels[i])
        .collect();
    if wrong.is_empty() {
        return String::new();
    }
    let shown = &wrong[..wrong.len().min(max)];
    let captions: Vec<String> = shown
        .iter()
        .map(|&i| format!("{} -> {}", labels[i], predicted[i]))
        .collect();
    let pictures: Vec<Vec<String>> = shown.iter().map(|&i| ascii_art(&images[i], 8)).collect();
    format!(
        "{} of {} misclassified test digits (true -> predicted):\n{}",
        shown.len(),
        wrong.len(),
        side_by_side(&captions, &pictures)
    )
}
