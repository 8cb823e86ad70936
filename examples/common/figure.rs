//! Figures of the examples, drawn with `plotters` and saved as PNG and SVG: a [`Figure`] is a
//! title over a grid of panels, each a line chart, a contour plot with paths, a heat map or a
//! grid of small images. Every panel has a title, axis labels and a legend or colour bar;
//! series get distinct colours and marker shapes, and markers are staggered so that no series
//! hides another.
//!
//! PNG text is rendered with DejaVu Sans, shipped in `examples/assets/` (license beside it) and
//! registered with plotters on first use.

#![allow(dead_code)] // each example uses the parts it needs

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::ComposedElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

pub use plotters::chart::SeriesLabelPosition as LegendAt;

const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Tableau 10: distinct hues that stay apart for most colour-vision deficiencies.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One named series of points; its colour and marker come from its place in the chart.
#[derive(Clone)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Dashed, without markers: a reference (a theory line) rather than a measurement.
    pub dashed: bool,
    /// Colour (and marker) index to use instead of the line's place in the chart, e.g. to draw
    /// a theory line in the colour of the measurement it predicts.
    pub style: Option<usize>,
    /// Points only: a marker on every point, no line (a scatter plot).
    pub scatter: bool,
}

impl Line {
    /// A measured series, with markers.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Line {
            name: name.into(),
            points,
            dashed: false,
            style: None,
            scatter: false,
        }
    }

    /// `values[i]` at x = `first_x + i * dx`.
    pub fn from_values(name: impl Into<String>, values: &[f64], first_x: f64, dx: f64) -> Self {
        let points = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (first_x + i as f64 * dx, v))
            .collect();
        Line::new(name, points)
    }

    /// The same line, dashed (drawn under the measured ones, without markers).
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    /// The same points as a scatter plot: markers only.
    pub fn scatter(mut self) -> Self {
        self.scatter = true;
        self
    }

    /// The same line in colour `style` (an index into [`PALETTE`]).
    pub fn style(mut self, style: usize) -> Self {
        self.style = Some(style);
        self
    }
}

/// Line chart: y against x, linear or log10 y axis.
pub struct LinePlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    pub lines: Vec<Line>,
    pub legend: LegendAt,
    /// Colour and marker of the first line (to keep one method's colour across panels).
    pub first_style: usize,
}

impl LinePlot {
    pub fn new(title: &str, x_label: &str, y_label: &str, lines: Vec<Line>) -> Self {
        LinePlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: false,
            lines,
            legend: LegendAt::UpperRight,
            first_style: 0,
        }
    }

    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    pub fn legend_at(mut self, at: LegendAt) -> Self {
        self.legend = at;
        self
    }
}

/// Level sets of a function of two variables, with paths (optimizer trajectories) over them.
pub struct ContourPlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub f: Box<dyn Fn(f64, f64) -> f64>,
    /// The values of f whose level sets are drawn, increasing.
    pub levels: Vec<f64>,
    /// The legend's name for the level lines (e.g. "level sets of f").
    pub level_label: String,
    pub paths: Vec<Line>,
    pub legend: LegendAt,
}

/// A matrix of non-negative values as coloured cells (colour by the square root of the value),
/// optionally with each non-zero value written in its cell.
pub struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// What a cell's colour means, written beside the colour bar.
    pub value_label: String,
    pub rows: usize,
    pub cols: usize,
    /// Row-major, row 0 drawn at the top.
    pub values: Vec<f64>,
    pub annotate: bool,
}

/// Small images (filters, feature maps, digits) in a grid, each under its caption, coloured on
/// one scale shown by a colour bar.
pub struct ImageGrid {
    pub title: String,
    pub columns: usize,
    /// (caption, width, height, row-major values).
    pub images: Vec<(String, usize, usize, Vec<f64>)>,
    /// Values are in [-1, 1], drawn blue (negative) - white - red (positive); otherwise in
    /// [0, 1], drawn white to black.
    pub diverging: bool,
    /// What the colours mean, written beside the colour bar.
    pub value_label: String,
}

/// One bar: its height and an optional `(low, high)` whisker.
pub type Bar = (f64, Option<(f64, f64)>);

/// Grouped bars: one group per category (a workload), one bar per series (a framework) in each,
/// with an optional low-high whisker per bar (e.g. the 10th and 90th percentiles).
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    /// `(series name, one (value, whisker) per category)`; `None` where a series has no value.
    pub series: Vec<(String, Vec<Option<Bar>>)>,
    /// A horizontal reference line (e.g. 1.0 for ratios), dashed.
    pub reference: Option<f64>,
    /// A log10 y axis (values must be positive), for ratios that span orders of magnitude.
    pub log_y: bool,
    /// Each bar's value written above it, with this suffix (e.g. `"x"`), when `Some`.
    pub value_labels: Option<String>,
}

pub enum Panel {
    Lines(LinePlot),
    Bars(BarChart),
    Contour(ContourPlot),
    Heatmap(Heatmap),
    Images(ImageGrid),
}

/// A titled grid of panels, filled row by row.
pub struct Figure {
    pub title: String,
    pub columns: usize,
    pub panels: Vec<Panel>,
    /// Width and height of the whole figure, in pixels.
    pub size: (u32, u32),
}

impl Figure {
    /// One panel per cell of a grid `columns` wide; each panel takes about 640 x 480 pixels.
    pub fn new(title: &str, columns: usize, panels: Vec<Panel>) -> Self {
        let rows = panels.len().div_ceil(columns.max(1)) as u32;
        Figure {
            title: title.into(),
            columns: columns.max(1),
            panels,
            size: (640 * columns.max(1) as u32, 480 * rows + 50),
        }
    }

    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Writes `dir/name.png` and `dir/name.svg` (creating `dir`), and returns their paths.
    pub fn save(&self, dir: &Path, name: &str) -> Result<[PathBuf; 2], String> {
        static REGISTER: Once = Once::new();
        REGISTER.call_once(|| {
            // The bytes are a valid TTF (checked by every example that draws text); without it
            // PNG text drawing would fail.
            if register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_err() {
                eprintln!("warning: the bundled font could not be loaded; PNG text will fail");
            }
        });
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the figure directory {}: {e}", dir.display()))?;
        let png = dir.join(format!("{name}.png"));
        let svg = dir.join(format!("{name}.svg"));
        let failed = |path: &Path, e: String| format!("cannot draw {}: {e}", path.display());
        {
            let root = BitMapBackend::new(&png, self.size).into_drawing_area();
            self.draw(&root).map_err(|e| failed(&png, e))?;
            root.present().map_err(|e| failed(&png, e.to_string()))?;
        }
        {
            let root = SVGBackend::new(&svg, self.size).into_drawing_area();
            self.draw(&root).map_err(|e| failed(&svg, e))?;
            root.present().map_err(|e| failed(&svg, e.to_string()))?;
        }
        Ok([png, svg])
    }

    /// [`save`](Self::save), then prints where the files went.
    pub fn save_and_report(&self, dir: &Path, name: &str) -> Result<(), String> {
        let [png, svg] = self.save(dir, name)?;
        println!("figure: {} (and {})", png.display(), svg.display());
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text)?;
        let body = root.titled(&self.title, (FONT, 26)).map_err(text)?;
        let rows = self.panels.len().div_ceil(self.columns);
        let cells = body.split_evenly((rows, self.columns));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            match panel {
                Panel::Lines(plot) => draw_lines(cell, plot)?,
                Panel::Bars(chart) => draw_bars(cell, chart)?,
                Panel::Contour(plot) => draw_contour(cell, plot)?,
                Panel::Heatmap(map) => draw_heatmap(cell, map)?,
                Panel::Images(grid) => draw_images(cell, grid)?,
            }
        }
        Ok(())
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The range of `values` with a margin of `pad` of its width on each side (never empty).
fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let width = (hi - lo).max(1e-9 * hi.abs().max(1.0));
    (lo - pad * width, hi + pad * width)
}

/// A log-axis tick label: `10^k` as `1e-3`, others with two significant digits.
fn log_tick(v: &f64) -> String {
    let value = 10f64.powf(*v);
    if (v - v.round()).abs() < 1e-9 {
        format!("1e{}", v.round() as i64)
    } else {
        format!("{value:.1e}")
    }
}

/// A plain tick label, without trailing zeros.
fn plain_tick(v: &f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Vertices of marker `shape` (one of 8), centred on (0, 0), about `r` pixels in radius.
fn marker_vertices(shape: usize, r: i32) -> Vec<(i32, i32)> {
    let polygon = |n: usize, radius: f64, phase: f64| -> Vec<(i32, i32)> {
        (0..n)
            .map(|k| {
                let a = phase + k as f64 * std::f64::consts::TAU / n as f64;
                (
                    (radius * a.cos()).round() as i32,
                    (radius * a.sin()).round() as i32,
                )
            })
            .collect()
    };
    let r_f = f64::from(r);
    match shape % 8 {
        0 => polygon(12, r_f, 0.0),                                // circle
        1 => polygon(4, r_f * 1.2, std::f64::consts::FRAC_PI_4),   // square
        2 => polygon(3, r_f * 1.3, -std::f64::consts::FRAC_PI_2),  // triangle up
        3 => polygon(4, r_f * 1.3, 0.0),                           // diamond
        4 => polygon(3, r_f * 1.3, std::f64::consts::FRAC_PI_2),   // triangle down
        5 => polygon(5, r_f * 1.25, -std::f64::consts::FRAC_PI_2), // pentagon
        6 => {
            // plus
            let (a, b) = (r / 3 + 1, r + 1);
            vec![
                (-a, -b),
                (a, -b),
                (a, -a),
                (b, -a),
                (b, a),
                (a, a),
                (a, b),
                (-a, b),
                (-a, a),
                (-b, a),
                (-b, -a),
                (-a, -a),
            ]
        }
        _ => {
            // star
            (0..10)
                .map(|k| {
                    let radius = if k % 2 == 0 { r_f * 1.4 } else { r_f * 0.6 };
                    let a = -std::f64::consts::FRAC_PI_2 + k as f64 * std::f64::consts::PI / 5.0;
                    (
                        (radius * a.cos()).round() as i32,
                        (radius * a.sin()).round() as i32,
                    )
                })
                .collect()
        }
    }
}

/// A marker: a filled polygon and its outline, placed at a data point.
type Marker<DB> = ComposedElement<(f64, f64), DB, Polygon<(i32, i32)>, PathElement<(i32, i32)>>;

/// A filled marker with a dark outline, so that overlapping markers stay distinguishable.
fn marker<DB: DrawingBackend>(at: (f64, f64), shape: usize, color: RGBColor) -> Marker<DB> {
    let vertices = marker_vertices(shape, 5);
    let mut outline = vertices.clone();
    outline.push(vertices[0]);
    EmptyElement::at(at)
        + Polygon::new(vertices, color.filled())
        + PathElement::new(outline, BLACK.stroke_width(1))
}

/// Draws `line` in style `style` (colour and marker index) on `chart`, with its legend entry.
/// Markers go on about `markers` points, shifted by `stagger` (0 to 1 of the spacing; one of
/// `series` lines) so that lines drawn over each other still show each one's markers.
fn draw_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    line: &Line,
    style: usize,
    markers: usize,
    (stagger, series): (f64, usize),
) -> Result<(), String> {
    let style = line.style.unwrap_or(style);
    let color = PALETTE[style % PALETTE.len()];
    let shape = style;
    let finite: Vec<(f64, f64)> = line
        .points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    // Wide strokes over many tiny segments render thin and ragged in the bitmap backend: keep
    // at most about 300 points (the panel is only a few hundred pixels wide).
    let keep = finite.len().div_ceil(300).max(1);
    let points: Vec<(f64, f64)> = finite
        .iter()
        .enumerate()
        .filter(|(i, _)| i % keep == 0 || i + 1 == finite.len())
        .map(|(_, &p)| p)
        .collect();
    if line.dashed {
        chart
            .draw_series(DashedLineSeries::new(points, 8, 5, color.stroke_width(2)))
            .map_err(text)?
            .label(line.name.as_str())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(-13, 0), (-4, 0)], color.stroke_width(2))
                    + PathElement::new(vec![(4, 0), (13, 0)], color.stroke_width(2))
            });
        return Ok(());
    }
    if line.scatter {
        chart
            .draw_series(finite.iter().map(|&p| marker::<DB>(p, shape, color)))
            .map_err(text)?
            .label(line.name.as_str())
            .legend(move |(x, y)| {
                let vertices = marker_vertices(shape, 5);
                let mut outline = vertices.clone();
                outline.push(vertices[0]);
                EmptyElement::at((x, y))
                    + Polygon::new(vertices, color.filled())
                    + PathElement::new(outline, BLACK.stroke_width(1))
            });
        return Ok(());
    }
    chart
        // One element per segment: plotters turns a whole wide path into one polygon, which
        // pinches to a hairline at sharp turns; separate segments keep their width.
        .draw_series(
            points
                .windows(2)
                .map(|pair| PathElement::new(pair.to_vec(), color.stroke_width(2))),
        )
        .map_err(text)?
        .label(line.name.as_str())
        .legend(move |(x, y)| {
            let vertices = marker_vertices(shape, 5);
            let mut outline = vertices.clone();
            outline.push(vertices[0]);
            EmptyElement::at((x, y))
                + PathElement::new(vec![(-12, 0), (12, 0)], color.stroke_width(2))
                + Polygon::new(vertices, color.filled())
                + PathElement::new(outline, BLACK.stroke_width(1))
        });
    // At least `series` points apart, so that each series' markers have their own offset.
    let every = (points.len() / markers.max(1)).max(series).max(1);
    let offset = ((stagger * every as f64) as usize).min(every - 1);
    let marked = points
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == offset || points.len() <= markers)
        .map(|(_, &p)| marker::<DB>(p, shape, color));
    chart.draw_series(marked).map_err(text)?;
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: &LinePlot,
) -> Result<(), String> {
    let transform = |y: f64| if plot.log_y { y.log10() } else { y };
    let lines: Vec<Line> = plot
        .lines
        .iter()
        .map(|line| Line {
            points: line
                .points
                .iter()
                .filter(|(_, y)| !plot.log_y || *y > 0.0)
                .map(|&(x, y)| (x, transform(y)))
                .collect(),
            ..line.clone()
        })
        .collect();
    let (x0, x1) = padded_range(
        lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)),
        0.02,
    );
    let (y0, y1) = padded_range(
        lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)),
        0.05,
    );
    let mut chart = ChartBuilder::on(area)
        .caption(&plot.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(text)?;
    let log_formatter = log_tick;
    let plain_formatter = plain_tick;
    chart
        .configure_mesh()
        .x_desc(plot.x_label.as_str())
        .y_desc(plot.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .x_label_formatter(&plain_formatter)
        .y_label_formatter(if plot.log_y {
            &log_formatter
        } else {
            &plain_formatter
        })
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.1))
        .draw()
        .map_err(text)?;
    // Reference (dashed) lines first, so that the measurements are drawn over them.
    let measured = lines.iter().filter(|l| !l.dashed).count().max(1);
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| !lines[i].dashed);
    for i in order {
        let stagger = lines[..i].iter().filter(|l| !l.dashed).count() as f64 / measured as f64;
        draw_line(
            &mut chart,
            &lines[i],
            plot.first_style + i,
            12,
            (stagger, measured),
        )?;
    }
    draw_legend(&mut chart, plot.legend.clone())?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bars: &BarChart,
) -> Result<(), String> {
    let groups = bars.categories.len().max(1);
    let per_group = bars.series.len().max(1);
    let transform = |y: f64| if bars.log_y { y.log10() } else { y };
    let values = || {
        bars.series
            .iter()
            .flat_map(|(_, values)| values.iter().flatten())
    };
    let extremes = values().flat_map(|&(v, whisker)| {
        let (low, high) = whisker.unwrap_or((v, v));
        [v.min(low), v.max(high)]
    });
    let finite: Vec<f64> = extremes
        .chain(bars.reference)
        .filter(|v| v.is_finite() && (!bars.log_y || *v > 0.0))
        .map(transform)
        .collect();
    let (lowest, highest) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (y0, y1) = if !lowest.is_finite() {
        (0.0, 1.0)
    } else if bars.log_y {
        // Whole decades, with room above the highest bar for its label.
        ((lowest - 0.05).floor(), (highest + 0.25).ceil())
    } else {
        (0.0, highest.max(1e-12) * 1.3)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&bars.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..groups as f64, y0..y1)
        .map_err(text)?;
    let categories = bars.categories.clone();
    let category_label = move |x: &f64| {
        let i = x.floor() as usize;
        if (x - i as f64 - 0.5).abs() < 1e-6 {
            categories.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let log_formatter = |v: &f64| {
        let value = 10f64.powf(*v);
        if value >= 1.0 {
            format!("{value:.0}")
        } else {
            plain_tick(&value)
        }
    };
    let plain_formatter = plain_tick;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * groups + 1)
        .x_label_formatter(&category_label)
        .y_labels(if bars.log_y {
            (y1 - y0) as usize + 1
        } else {
            10
        })
        .y_desc(bars.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .y_label_formatter(if bars.log_y {
            &log_formatter
        } else {
            &plain_formatter
        })
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.1))
        .draw()
        .map_err(text)?;
    if let Some(y) = bars.reference {
        let y = transform(y);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, y), (groups as f64, y)],
                6,
                4,
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(text)?;
    }
    // Each group spans [g, g + 1): bars fill its middle 80%.
    let width = 0.8 / per_group as f64;
    for (s, (name, values)) in bars.series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let left = |g: usize| g as f64 + 0.1 + s as f64 * width;
        let shown = |g: usize, value: &Option<Bar>| {
            value
                .filter(|(v, _)| v.is_finite() && (!bars.log_y || *v > 0.0))
                .map(|v| (g, v))
        };
        let drawn: Vec<(usize, Bar)> = values
            .iter()
            .enumerate()
            .filter_map(|(g, value)| shown(g, value))
            .collect();
        chart
            .draw_series(drawn.iter().map(|&(g, (v, _))| {
                Rectangle::new(
                    [(left(g), y0), (left(g) + width * 0.92, transform(v))],
                    color.filled(),
                )
            }))
            .map_err(text)?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        let whiskers = drawn.iter().filter_map(|&(g, (_, whisker))| {
            let (low, high) = whisker?;
            let x = left(g) + width * 0.46;
            let clamp = |y: f64| {
                if bars.log_y && y <= 0.0 {
                    y0
                } else {
                    transform(y)
                }
            };
            Some(PathElement::new(
                [(x, clamp(low)), (x, clamp(high))],
                BLACK.stroke_width(2),
            ))
        });
        chart.draw_series(whiskers).map_err(text)?;
        if let Some(suffix) = &bars.value_labels {
            let style =
                TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
            chart
                .draw_series(drawn.iter().map(|&(g, (v, whisker))| {
                    let top = whisker.map_or(v, |(_, high)| high.max(v));
                    let label = if v >= 10.0 {
                        format!("{v:.0}{suffix}")
                    } else {
                        format!("{v:.2}{suffix}")
                    };
                    Text::new(
                        label,
                        (left(g) + width * 0.46, transform(top)),
                        style.clone(),
                    )
                }))
                .map_err(text)?;
        }
    }
    draw_legend(
        &mut chart,
        if bars.log_y {
            LegendAt::UpperLeft
        } else {
            LegendAt::UpperRight
        },
    )?;
    Ok(())
}

/// The legend of a chart's labelled series, in one style for every panel.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    at: LegendAt,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font((FONT, 14))
        .legend_area_size(30)
        .draw()
        .map_err(text)
}

/// Mixes `a` and `b`: `t = 0` is `a`, `t = 1` is `b`.
fn mix(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let channel = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * t).round() as u8;
    RGBColor(channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
}

/// Light colours for the bands between contour levels (low = pale blue, high = pale yellow).
fn band_color(t: f64) -> RGBColor {
    mix(RGBColor(210, 226, 245), RGBColor(252, 244, 214), t)
}

/// Segments where `f` crosses `level` on a `n x n` grid over the ranges (marching squares).
fn level_segments(
    f: &dyn Fn(f64, f64) -> f64,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    n: usize,
    level: f64,
) -> Vec<[(f64, f64); 2]> {
    let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
    let values: Vec<Vec<f64>> = (0..=n)
        .map(|j| {
            (0..=n)
                .map(|i| f(x0 + i as f64 * dx, y0 + j as f64 * dy) - level)
                .collect()
        })
        .collect();
    let mut segments = Vec::new();
    for j in 0..n {
        for i in 0..n {
            // Corners counter-clockwise from the lower left, and the crossings on each edge.
            let corners = [
                (i, j, values[j][i]),
                (i + 1, j, values[j][i + 1]),
                (i + 1, j + 1, values[j + 1][i + 1]),
                (i, j + 1, values[j + 1][i]),
            ];
            let mut crossings = Vec::new();
            for e in 0..4 {
                let (ia, ja, va) = corners[e];
                let (ib, jb, vb) = corners[(e + 1) % 4];
                if (va < 0.0) != (vb < 0.0) {
                    let t = va / (va - vb);
                    let x = x0 + (ia as f64 + t * (ib as f64 - ia as f64)) * dx;
                    let y = y0 + (ja as f64 + t * (jb as f64 - ja as f64)) * dy;
                    crossings.push((x, y));
                }
            }
            for pair in crossings.chunks_exact(2) {
                segments.push([pair[0], pair[1]]);
            }
        }
    }
    segments
}

fn draw_contour<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: &ContourPlot,
) -> Result<(), String> {
    let (x0, x1) = plot.x_range;
    let (y0, y1) = plot.y_range;
    let mut chart = ChartBuilder::on(area)
        .caption(&plot.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(text)?;
    let plain_formatter = plain_tick;
    chart
        .configure_mesh()
        .x_desc(plot.x_label.as_str())
        .y_desc(plot.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .x_label_formatter(&plain_formatter)
        .y_label_formatter(&plain_formatter)
        .disable_mesh()
        .draw()
        .map_err(text)?;

    // Bands between levels as a coarse background, then the level lines.
    let cells = 90;
    let (dx, dy) = ((x1 - x0) / cells as f64, (y1 - y0) / cells as f64);
    let levels = &plot.levels;
    let band = |v: f64| levels.iter().filter(|&&l| l < v).count() as f64 / levels.len() as f64;
    chart
        .draw_series((0..cells).flat_map(|j| {
            (0..cells).map(move |i| {
                let (x, y) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
                let v = (plot.f)(x + dx / 2.0, y + dy / 2.0);
                Rectangle::new([(x, y), (x + dx, y + dy)], band_color(band(v)).filled())
            })
        }))
        .map_err(text)?;
    let level_style = RGBColor(120, 120, 140).stroke_width(1);
    for (k, &level) in levels.iter().enumerate() {
        let segments = level_segments(&*plot.f, plot.x_range, plot.y_range, 160, level);
        let series = chart
            .draw_series(
                segments
                    .into_iter()
                    .map(|s| PathElement::new(s.to_vec(), level_style)),
            )
            .map_err(text)?;
        if k == 0 {
            series
                .label(plot.level_label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x - 12, y), (x + 12, y)], level_style)
                });
        }
    }
    for (i, path) in plot.paths.iter().enumerate() {
        let clipped = Line {
            points: path
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| x >= x0 && x <= x1 && y >= y0 && y <= y1)
                .collect(),
            ..path.clone()
        };
        draw_line(
            &mut chart,
            &clipped,
            i,
            15,
            (i as f64 / plot.paths.len() as f64, plot.paths.len()),
        )?;
    }
    draw_legend(&mut chart, plot.legend.clone())?;
    Ok(())
}

/// White to dark blue, for counts and magnitudes in [0, 1].
fn sequential(t: f64) -> RGBColor {
    mix(RGBColor(255, 255, 255), RGBColor(8, 48, 107), t)
}

/// Blue (-1) - white (0) - red (+1).
fn diverging(t: f64) -> RGBColor {
    if t < 0.0 {
        mix(RGBColor(255, 255, 255), RGBColor(33, 102, 172), -t)
    } else {
        mix(RGBColor(255, 255, 255), RGBColor(178, 24, 43), t)
    }
}

/// A vertical colour bar from `lo` to `hi`, each value `v` drawn `color(v)`, with `label`
/// along it.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (lo, hi): (f64, f64),
    color: impl Fn(f64) -> RGBColor,
    label: &str,
) -> Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(55)
        .margin_right(10)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(text)?;
    let plain_formatter = plain_tick;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .disable_y_mesh()
        .y_desc(label)
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 12))
        .y_label_formatter(&plain_formatter)
        .y_labels(6)
        .draw()
        .map_err(text)?;
    let steps = 100;
    let dv = (hi - lo) / steps as f64;
    chart
        .draw_series((0..steps).map(|k| {
            let v = lo + k as f64 * dv;
            Rectangle::new([(0.0, v), (1.0, v + dv)], color(v + dv / 2.0).filled())
        }))
        .map_err(text)?;
    Ok(())
}

fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    map: &Heatmap,
) -> Result<(), String> {
    let (width, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(width.saturating_sub(110));
    let max = map.values.iter().fold(0.0f64, |m, &v| m.max(v)).max(1e-12);
    // Colour by the square root of the value, so that small counts (the mistakes of a
    // confusion matrix) stand out against zero.
    let color = move |v: f64| sequential((v.max(0.0) / max).sqrt());
    let (rows, cols) = (map.rows as f64, map.cols as f64);
    let mut chart = ChartBuilder::on(&main)
        .caption(&map.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5..cols - 0.5, -0.5..rows - 0.5)
        .map_err(text)?;
    // Row 0 at the top: y is drawn as `rows - 1 - row`, and labelled back.
    let x_ticks = |v: &f64| format!("{}", v.round());
    let y_ticks = move |v: &f64| format!("{}", (rows - 1.0 - v).round());
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(map.x_label.as_str())
        .y_desc(map.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .x_labels(map.cols)
        .y_labels(map.rows)
        .x_label_formatter(&x_ticks)
        .y_label_formatter(&y_ticks)
        .draw()
        .map_err(text)?;
    let cell = |r: usize, c: usize| {
        let y = rows - 1.0 - r as f64;
        let x = c as f64;
        ((x - 0.5, y - 0.5), (x + 0.5, y + 0.5))
    };
    chart
        .draw_series((0..map.rows).flat_map(|r| {
            (0..map.cols).map(move |c| {
                let (a, b) = cell(r, c);
                let v = map.values[r * map.cols + c];
                Rectangle::new([a, b], color(v).filled())
            })
        }))
        .map_err(text)?;
    if map.annotate {
        for r in 0..map.rows {
            for c in 0..map.cols {
                let v = map.values[r * map.cols + c];
                if v == 0.0 {
                    continue; // blank, so that the non-zero cells stand out
                }
                let color = if (v / max).sqrt() > 0.6 { WHITE } else { BLACK };
                let style = TextStyle::from((FONT, 14).into_font())
                    .color(&color)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let y = rows - 1.0 - r as f64;
                chart
                    .draw_series(std::iter::once(Text::new(
                        plain_tick(&v),
                        (c as f64, y),
                        style,
                    )))
                    .map_err(text)?;
            }
        }
    }
    colour_bar(&bar, (0.0, max), color, &map.value_label)
}

fn draw_images<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &ImageGrid,
) -> Result<(), String> {
    let (width, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(width.saturating_sub(110));
    let main = main.titled(&grid.title, (FONT, 20)).map_err(text)?;
    let main = main.margin(5, 5, 10, 10);
    let rows = grid.images.len().div_ceil(grid.columns.max(1));
    let cells = main.split_evenly((rows.max(1), grid.columns.max(1)));
    let caption_style =
        TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for ((caption, w, h, values), cell) in grid.images.iter().zip(&cells) {
        let (cw, ch) = cell.dim_in_pixel();
        let caption_height = 20;
        // Square pixels, as large as fit under the caption.
        let side = ((cw as usize - 6) / w)
            .min((ch as usize).saturating_sub(caption_height + 6) / h)
            .max(1) as i32;
        let (iw, ih) = (side * *w as i32, side * *h as i32);
        let left = (cw as i32 - iw) / 2;
        let top = caption_height as i32 + 2;
        cell.draw_text(caption, &caption_style, (cw as i32 / 2, 2))
            .map_err(text)?;
        for (k, &v) in values.iter().enumerate() {
            let (x, y) = (left + (k % w) as i32 * side, top + (k / w) as i32 * side);
            let color = if grid.diverging {
                diverging(v)
            } else {
                mix(WHITE, BLACK, v)
            };
            cell.draw(&Rectangle::new(
                [(x, y), (x + side, y + side)],
                color.filled(),
            ))
            .map_err(text)?;
        }
        cell.draw(&Rectangle::new(
            [(left - 1, top - 1), (left + iw, top + ih)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .map_err(text)?;
    }
    if grid.diverging {
        colour_bar(&bar, (-1.0, 1.0), diverging, &grid.value_label)
    } else {
        colour_bar(
            &bar,
            (0.0, 1.0),
            |t| mix(WHITE, BLACK, t),
            &grid.value_label,
        )
    }
}
