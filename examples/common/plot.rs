//! Terminal pictures: line charts of learning curves, drawn with Unicode braille dots.

/// One named series of y values, plotted against their index (epoch).
pub struct Series<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
    /// One character used in the legend and for this series' points.
    pub mark: char,
}

/// A `width` x `height` character chart of the series (shared axes), with a legend and the y
/// range. Points of different series in one cell show the later series' mark.
pub fn line_chart(title: &str, series: &[Series], width: usize, height: usize) -> String {
    let all = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let longest = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let mut grid = vec![vec![' '; width]; height];
    for s in series {
        for (i, &v) in s.values.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let col = i * (width - 1) / (longest - 1);
            let row = ((hi - v) / (hi - lo) * (height - 1) as f64).round() as usize;
            grid[row.min(height - 1)][col] = s.mark;
        }
    }
    let mut out = format!("{title}\n");
    for (r, row) in grid.iter().enumerate() {
        let label = if r == 0 {
            format!("{hi:>8.3} ┤")
        } else if r == height - 1 {
            format!("{lo:>8.3} ┤")
        } else {
            format!("{:>8} │", "")
        };
        out.push_str(&label);
        out.extend(row.iter());
        out.push('\n');
    }
    out.push_str(&format!("{:>8} └{}\n", "", "─".repeat(width)));
    out.push_str(&format!("{:>10}1{:>w$}\n", "", longest, w = width - 1));
    let legend: Vec<String> = series
        .iter()
        .map(|s| format!("{} {}", s.mark, s.name))
        .collect();
    out.push_str(&format!("{:>10}{}\n", "", legend.join("   ")));
    out
}
