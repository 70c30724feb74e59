//! The `--plot` figures: SVG through plotters' SVG backend, rendered to a string and written
//! through an [`OutputFile`](pine_gguf::OutputFile).

use std::io::Write;
use std::path::Path;

use pine_gguf::OutputFile;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// A mode's colour, the same in every figure.
fn colour(mode: &str) -> RGBColor {
    match mode {
        "causal" => RGBColor(214, 39, 40),
        "pine" => RGBColor(31, 119, 180),
        _ => RGBColor(44, 160, 44),
    }
}

/// A line per mode: `(mode, [(x, y)])`, y a fraction in 0..=1.
pub fn lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), String> {
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|&(x, _)| x));
    let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(lo - 0.5..hi + 0.5, 0f64..1.05f64)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(plot_error)?;
        for (name, points) in series {
            let c = colour(name);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .map_err(plot_error)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(plot_error)?;
        }
        legend(&mut chart)?;
        root.present().map_err(plot_error)?;
    }
    write(path, &svg)
}

/// A data-set task's grouped bars ([`bars`]) as `{task}.svg` in `dir` when `--plot` gave one,
/// titled with the data file and the item count.
pub fn task_bars(
    dir: Option<&Path>,
    task: &str,
    data: &Path,
    items: usize,
    metrics: &[&str],
    series: &[(&str, Vec<f64>)],
) -> Result<(), String> {
    match dir {
        Some(dir) => bars(
            &path_in(dir, &format!("{task}.svg"))?,
            &format!("{task}: {} ({items} items)", data.display()),
            metrics,
            series,
        ),
        None => Ok(()),
    }
}

/// Grouped bars: for each metric (a group), a bar per mode; `(mode, [value per metric])`,
/// values fractions in 0..=1.
pub fn bars(
    path: &Path,
    title: &str,
    metrics: &[&str],
    series: &[(&str, Vec<f64>)],
) -> Result<(), String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5f64..metrics.len() as f64 - 0.5, 0f64..1.05f64)
            .map_err(plot_error)?;
        let label = |x: &f64| {
            let i = x.round();
            match metrics.get(i as usize) {
                Some(m) if (x - i).abs() < 1e-6 && i >= 0.0 => m.to_string(),
                _ => String::new(),
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(metrics.len() * 2 + 1)
            .x_label_formatter(&label)
            .y_desc("fraction")
            .draw()
            .map_err(plot_error)?;
        let width = 0.8 / series.len().max(1) as f64;
        for (s, (name, values)) in series.iter().enumerate() {
            let c = colour(name);
            chart
                .draw_series(values.iter().enumerate().map(|(g, &v)| {
                    let x0 = g as f64 - 0.4 + s as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.9, v)], c.filled())
                }))
                .map_err(plot_error)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], c.filled()));
        }
        legend(&mut chart)?;
        root.present().map_err(plot_error)?;
    }
    write(path, &svg)
}

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| format!("plot: {e}"))
}

fn plot_error(e: impl std::fmt::Display) -> String {
    format!("plot: {e}")
}

/// Creates `dir` if needed and returns the figure's path in it.
pub fn path_in(dir: &Path, name: &str) -> Result<std::path::PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("--plot {}: {e}", dir.display()))?;
    Ok(dir.join(name))
}

fn write(path: &Path, svg: &str) -> Result<(), String> {
    let mut out = OutputFile::create(path).map_err(|e| e.to_string())?;
    out.write_all(svg.as_bytes())
        .map_err(|e| out.error(e).to_string())?;
    out.commit().map_err(|e| e.to_string())?;
    eprintln!("pine-eval: wrote {}", path.display());
    Ok(())
}
