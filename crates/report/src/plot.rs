//! Plot plumbing shared by every chart: PNG and SVG output of one drawing routine, the legend
//! strip, fault shading, marker shapes, palettes and axis ranges.

use crate::backend::FontBackend;
use crate::error::ReportError;
use crate::faults::{FaultRegion, FaultSpec};
use crate::util::write_atomic;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Chart area + legend strip width in pixels.
pub const LEGEND_W: u32 = 190;

/// Okabe-Ito colours (colour-blind friendly), for types, quantiles and nodes.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

/// The colour of a completion type: ok blue, info orange, fail vermillion.
pub fn type_color(ty: rift_history::OpType) -> RGBColor {
    match ty {
        rift_history::OpType::Ok => PALETTE[0],
        rift_history::OpType::Info => PALETTE[4],
        _ => PALETTE[1],
    }
}

/// A routine that draws one chart on any plotters backend.
pub trait Chart {
    /// File stem: `latency-raw`.
    fn stem(&self) -> &'static str;
    /// Draws the chart; `svg` is true for the SVG output (which may decimate and says so).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        svg: bool,
    ) -> Result<(), String>;
}

/// Which files to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Formats {
    /// Write `<stem>.png`.
    pub png: bool,
    /// Write `<stem>.svg`.
    pub svg: bool,
}

/// Draws `chart` into `dir/<stem>.png` and/or `.svg`; returns the files written.
pub fn emit<C: Chart>(
    chart: &C,
    dir: &Path,
    size: (u32, u32),
    formats: Formats,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = Vec::new();
    if formats.png {
        let path = dir.join(format!("{}.png", chart.stem()));
        let err = |message: String| ReportError::Plot {
            path: path.clone(),
            message,
        };
        let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
        {
            let root = FontBackend(BitMapBackend::with_buffer(&mut buf, size)).into_drawing_area();
            chart.draw(&root, false).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))?;
        }
        let png = encode_png(&buf, size).map_err(err)?;
        write_atomic(&path, &png)?;
        files.push(path);
    }
    if formats.svg {
        let path = dir.join(format!("{}.svg", chart.stem()));
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
            let r = chart
                .draw(&root, true)
                .and_then(|_| root.present().map_err(|e| e.to_string()));
            r.map_err(|message| ReportError::Plot {
                path: path.clone(),
                message,
            })?;
        }
        write_atomic(&path, crate::svg::compact(&text).as_bytes())?;
        files.push(path);
    }
    Ok(files)
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut wr = enc.write_header().map_err(|e| e.to_string())?;
        wr.write_image_data(rgb).map_err(|e| e.to_string())?;
        wr.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Maps a plotters error to text.
pub fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A chart area and a legend strip.
pub type Areas<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Splits the root into (chart area, legend strip) after filling it white.
pub fn split<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> Result<Areas<DB>, String> {
    root.fill(&WHITE).map_err(e2s)?;
    let (w, _) = root.dim_in_pixel();
    let (a, b) = root.split_horizontally(w.saturating_sub(LEGEND_W).max(w / 2));
    Ok((a, b))
}

/// A legend entry's mark.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    /// A filled square (types, fault regions).
    Swatch(RGBColor, f64),
    /// A marker shape (an f).
    Shape(usize, RGBColor),
    /// A short horizontal line (a quantile, a node).
    Line(RGBColor),
    /// A vertical line (an instantaneous fault).
    VLine(RGBColor),
}

/// Draws the legend entries in the strip, in a box.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(Mark, String)],
) -> Result<(), String> {
    if items.is_empty() {
        return Ok(());
    }
    let (w, h) = area.dim_in_pixel();
    let rows = ((h as i32 - 60) / 18).max(1) as usize;
    let shown = items.len().min(rows);
    let bottom = 44 + 18 * shown as i32 + 8;
    area.draw(&Rectangle::new(
        [(4, 36), (w as i32 - 8, bottom)],
        ShapeStyle::from(&RGBColor(0x88, 0x88, 0x88)).stroke_width(1),
    ))
    .map_err(e2s)?;
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    for (i, (mark, label)) in items.iter().take(shown).enumerate() {
        let y = 52 + 18 * i as i32;
        let x = 20;
        match *mark {
            Mark::Swatch(c, a) => area
                .draw(&Rectangle::new(
                    [(x - 6, y - 6), (x + 6, y + 6)],
                    c.mix(a).filled(),
                ))
                .map_err(e2s)?,
            Mark::Shape(s, c) => draw_shape(area, (x, y), s, c, 4)?,
            Mark::Line(c) => area
                .draw(&PathElement::new(
                    vec![(x - 8, y), (x + 8, y)],
                    c.stroke_width(2),
                ))
                .map_err(e2s)?,
            Mark::VLine(c) => area
                .draw(&PathElement::new(
                    vec![(x, y - 7), (x, y + 7)],
                    c.stroke_width(2),
                ))
                .map_err(e2s)?,
        }
        let mut text = label.clone();
        if text.chars().count() > 26 {
            text = text.chars().take(25).collect::<String>() + "~";
        }
        area.draw(&Text::new(text, (x + 14, y - 4), font.clone()))
            .map_err(e2s)?;
    }
    if shown < items.len() {
        let more = format!("(+{} more)", items.len() - shown);
        area.draw(&Text::new(more, (20, bottom + 6), font))
            .map_err(e2s)?;
    }
    Ok(())
}

/// Draws marker shape `s` (circle, triangle, square, cross, then hollow versions) at a pixel.
pub fn draw_shape<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    s: usize,
    c: RGBColor,
    size: i32,
) -> Result<(), String> {
    let style = shape_style(s, c);
    let r = match s % 4 {
        0 => area.draw(&Circle::new(at, size, style)),
        1 => area.draw(&TriangleMarker::new(at, size + 1, style)),
        2 => area.draw(&Rectangle::new(
            [(at.0 - size, at.1 - size), (at.0 + size, at.1 + size)],
            style,
        )),
        _ => area.draw(&Cross::new(at, size, style)),
    };
    r.map_err(e2s)
}

/// Shapes 0-3 filled, 4-7 hollow, and so on.
pub fn shape_style(s: usize, c: RGBColor) -> ShapeStyle {
    ShapeStyle {
        color: c.to_rgba(),
        filled: (s / 4) & 1 == 0 && s % 4 != 3,
        stroke_width: 1,
    }
}

/// A 2D chart with a linear time axis (seconds) and any f64 y axis.
pub type TimeChart<'a, DB, Y> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>;

/// Draws points of one shape and colour in data coordinates.
pub fn draw_points<DB, Y>(
    chart: &mut TimeChart<'_, DB, Y>,
    pts: &[(f64, f64)],
    s: usize,
    c: RGBColor,
    size: i32,
) -> Result<(), String>
where
    DB: DrawingBackend,
    Y: Ranged<ValueType = f64>,
{
    let style = shape_style(s, c);
    let it = pts.iter().copied();
    let r =
        match s % 4 {
            0 => chart.draw_series(it.map(|p| Circle::new(p, size, style))),
            1 => chart.draw_series(it.map(|p| TriangleMarker::new(p, size + 1, style))),
            2 => chart.draw_series(it.map(|p| {
                EmptyElement::at(p) + Rectangle::new([(-size, -size), (size, size)], style)
            })),
            _ => chart.draw_series(it.map(|p| Cross::new(p, size, style))),
        };
    r.map(|_| ()).map_err(e2s)
}

/// Shades fault regions (and draws instantaneous marks) over the full y range; returns the
/// legend entries of the specs that occur.
pub fn draw_faults<DB, Y>(
    chart: &mut TimeChart<'_, DB, Y>,
    regions: &[FaultRegion],
    specs: &[FaultSpec],
    y: (f64, f64),
) -> Result<Vec<(Mark, String)>, String>
where
    DB: DrawingBackend,
    Y: Ranged<ValueType = f64>,
{
    let mut used = vec![false; specs.len()];
    for r in regions {
        let Some(spec) = specs.get(r.spec) else {
            continue;
        };
        used[r.spec] = true;
        let (cr, cg, cb) = spec.rgb();
        let c = RGBColor(cr, cg, cb);
        if spec.is_instant() {
            let line =
                PathElement::new(vec![(r.start_s, y.0), (r.start_s, y.1)], c.stroke_width(2));
            chart.draw_series(std::iter::once(line)).map_err(e2s)?;
        } else {
            let rect = Rectangle::new([(r.start_s, y.0), (r.end_s, y.1)], c.mix(0.6).filled());
            chart.draw_series(std::iter::once(rect)).map_err(e2s)?;
        }
    }
    let mut legend = Vec::new();
    for (i, spec) in specs.iter().enumerate().filter(|(i, _)| used[*i]) {
        let (cr, cg, cb) = spec.rgb();
        let c = RGBColor(cr, cg, cb);
        let mark = if specs[i].is_instant() {
            Mark::VLine(c)
        } else {
            Mark::Swatch(c, 0.6)
        };
        legend.push((mark, spec.name.clone()));
    }
    Ok(legend)
}

/// The x range of a run: from 0 (or the first time, if negative) to the end, padded by 2%.
pub fn time_range(t_min_s: f64, t_max_s: f64) -> (f64, f64) {
    let lo = t_min_s.min(0.0);
    let hi = if t_max_s > lo { t_max_s } else { lo + 1.0 };
    (lo, hi + (hi - lo) * 0.02)
}

/// A log range that covers `[min, max]` in whole decades (0.1 to 1000 when empty).
pub fn log_range(min: f64, max: f64) -> (f64, f64) {
    if !(min.is_finite() && max.is_finite() && min > 0.0 && max >= min) {
        return (0.1, 1000.0);
    }
    let lo = 10f64.powf(min.log10().floor());
    let mut hi = 10f64.powf(max.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    // A hair below the decade, so that plotters labels the bottom decade too.
    (lo * 0.98, hi)
}

/// A linear range covering `[min, max]` with 5% padding (and a unit span when flat).
pub fn lin_range(min: f64, max: f64) -> (f64, f64) {
    if !(min.is_finite() && max.is_finite()) || max < min {
        return (0.0, 1.0);
    }
    if max == min {
        return (min - 0.5, max + 0.5);
    }
    let pad = (max - min) * 0.05;
    (min - pad, max + pad)
}

/// A label for a log-axis value: `0.01`, `1`, `1000`.
pub fn log_label(v: &f64) -> String {
    if *v >= 1.0 {
        format!("{}", v.round())
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(log_range(0.3, 45.0), (0.098, 100.0));
        assert_eq!(log_range(1.0, 1.0), (0.98, 10.0));
        assert_eq!(log_range(f64::NAN, 1.0), (0.1, 1000.0));
        assert_eq!(lin_range(2.0, 2.0), (1.5, 2.5));
        assert_eq!(lin_range(0.0, 10.0), (-0.5, 10.5));
        assert_eq!(time_range(0.0, 0.0), (0.0, 1.02));
        assert_eq!(log_label(&0.01), "0.01");
        assert_eq!(log_label(&1000.0), "1000");
    }
}
