//! The four charts: raw latency, latency quantiles, rate, clock offsets.

use crate::collect::{Data, TYPES};
use crate::faults::{FaultRegion, FaultSpec};
use crate::plot::*;
use crate::util::nice_step;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rift_history::OpType;

/// What every chart draws from.
pub struct Ctx<'a> {
    /// The collected history.
    pub data: &'a Data,
    /// Fault regions to shade.
    pub regions: &'a [FaultRegion],
    /// Their specs.
    pub specs: &'a [FaultSpec],
    /// The test's name, prefixed to titles.
    pub name: &'a str,
}

const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);
const QUANTILES: [(f64, &str, RGBColor); 4] = [
    (0.5, "p50", PALETTE[2]),
    (0.95, "p95", PALETTE[5]),
    (0.99, "p99", PALETTE[4]),
    (1.0, "max", PALETTE[1]),
];

fn title<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str) -> Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let style =
        TextStyle::from(("sans-serif", 22).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw(&Text::new(text.to_string(), (w as i32 / 2, 10), style))
        .map_err(e2s)
}

fn mesh<DB, Y>(chart: &mut TimeChart<'_, DB, Y>, y_desc: &str, log: bool) -> Result<(), String>
where
    DB: DrawingBackend,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut m = chart.configure_mesh();
    m.x_desc("time (s)")
        .y_desc(y_desc)
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
        .bold_line_style(RGBColor(0xD8, 0xD8, 0xD8));
    if log {
        m.y_label_formatter(&log_label).y_labels(20);
    }
    m.draw().map_err(e2s)
}

fn builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin(12)
        .margin_top(44)
        .x_label_area_size(44)
        .y_label_area_size(72);
    b
}

fn x_range(d: &Data) -> (f64, f64) {
    let (a, b) = d.span_ns.unwrap_or((0, 0));
    time_range(a as f64 / 1e9, b as f64 / 1e9)
}

fn f_legend(d: &Data, used: &[bool]) -> Vec<(Mark, String)> {
    (0..d.fs.len())
        .filter(|f| used[*f])
        .map(|f| (Mark::Shape(f, GREY), d.fs[f].clone()))
        .collect()
}

/// The SVG raw-latency plot keeps one ok point per cell of this many pixels square per series.
pub const OK_CELL: u32 = 4;

/// `latency-raw`: every completion's latency against its invocation time.
pub struct RawLatency<'a>(pub &'a Ctx<'a>);

impl Chart for RawLatency<'_> {
    fn stem(&self) -> &'static str {
        "latency-raw"
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        svg: bool,
    ) -> Result<(), String> {
        let c = self.0;
        let d = c.data;
        let (area, legend_area) = split(root)?;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in d.points.iter().filter(|p| !p.latency_ms.is_nan()) {
            let l = p.latency_ms as f64;
            if l > 0.0 {
                lo = lo.min(l);
            }
            hi = hi.max(l);
        }
        let y = log_range(lo, hi);
        let x = x_range(d);
        let mut chart = builder(&area)
            .build_cartesian_2d(x.0..x.1, (y.0..y.1).log_scale())
            .map_err(e2s)?;
        mesh(&mut chart, "latency (ms)", true)?;
        let faults = draw_faults(&mut chart, c.regions, c.specs, y)?;
        let (w, h) = root.dim_in_pixel();
        // Points drawn where an earlier point of the same series already sits add nothing to
        // the picture but bytes: a PNG keeps one point per pixel per series; an SVG keeps one
        // ok point per OK_CELL x OK_CELL pixels per series (its markers are wider than a cell,
        // so the cloud looks the same) and every fail and info point.
        let cell = |slot: u16| match (svg, TYPES[slot as usize]) {
            (false, _) => Some(1),
            (true, OpType::Ok) => Some(OK_CELL),
            (true, _) => None,
        };
        let mut seen = vec![0u64; (w as usize * h as usize).div_ceil(64)];
        let (mut total, mut shown) = (0usize, 0usize);
        let mut used_f = vec![false; d.fs.len()];
        let mut used_t = [false; 3];
        for slot in 0..3u16 {
            for f in 0..d.fs.len() as u16 {
                let series = f * 3 + slot;
                seen.iter_mut().for_each(|b| *b = 0);
                let mut pts = Vec::new();
                for p in d.points.iter().filter(|p| p.series == series) {
                    if p.latency_ms.is_nan() {
                        continue;
                    }
                    total += 1;
                    let v = (p.t_s as f64, (p.latency_ms as f64).clamp(y.0, y.1));
                    let (px, py) = chart.backend_coord(&v);
                    if let Some(cell) = cell(slot) {
                        if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                            let (row_len, cx, cy) = (
                                w.div_ceil(cell) as usize,
                                px as usize / cell as usize,
                                py as usize / cell as usize,
                            );
                            let i = cy * row_len + cx;
                            if seen[i / 64] & (1 << (i % 64)) != 0 {
                                continue;
                            }
                            seen[i / 64] |= 1 << (i % 64);
                        }
                    }
                    pts.push(v);
                }
                if pts.is_empty() {
                    continue;
                }
                used_f[f as usize] = true;
                used_t[slot as usize] = true;
                shown += pts.len();
                let color = type_color(TYPES[slot as usize]);
                draw_points(&mut chart, &pts, f as usize, color, 2)?;
            }
        }
        let mut text = format!("{} latency (raw)", c.name);
        if svg && shown < total {
            text += &format!(
                " - SVG shows {shown} of {total} points (ok: one per {OK_CELL}x{OK_CELL} px per series; every fail and info)"
            );
        }
        title(&area, text.trim())?;
        let mut legend = f_legend(d, &used_f);
        for (i, t) in TYPES.iter().enumerate().filter(|(i, _)| used_t[*i]) {
            let _ = i;
            legend.push((Mark::Swatch(type_color(*t), 1.0), t.as_str().to_string()));
        }
        legend.extend(faults);
        draw_legend(&legend_area, &legend)
    }
}

/// p50, p95, p99 and max lines of one f.
pub type QuantileSeries = [Vec<(f64, f64)>; 4];

/// Latency quantiles per f and time bucket: `lines[f][q]` = (bucket middle s, latency ms).
pub fn quantile_lines(d: &Data, x: (f64, f64)) -> (f64, Vec<QuantileSeries>) {
    let dt = nice_step((x.1 - x.0) / 40.0).max(1e-6);
    let nb = (((x.1 - x.0) / dt).ceil() as usize).max(1);
    let mut keyed: Vec<(u32, f32)> = d
        .points
        .iter()
        .filter(|p| !p.latency_ms.is_nan())
        .map(|p| {
            let b = (((p.t_s as f64 - x.0) / dt) as usize).min(nb - 1);
            ((p.f() * nb + b) as u32, p.latency_ms)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut lines: Vec<QuantileSeries> = vec![Default::default(); d.fs.len()];
    let mut i = 0;
    while i < keyed.len() {
        let key = keyed[i].0;
        let j = i + keyed[i..].partition_point(|k| k.0 == key);
        let group = &keyed[i..j];
        let (f, b) = (key as usize / nb, key as usize % nb);
        let mid = x.0 + (b as f64 + 0.5) * dt;
        for (qi, (q, _, _)) in QUANTILES.iter().enumerate() {
            let v = group[crate::summary::rank(group.len(), *q)].1 as f64;
            lines[f][qi].push((mid, v));
        }
        i = j;
    }
    (dt, lines)
}

/// `latency-quantiles`: p50, p95, p99 and max latency per f per time bucket.
pub struct QuantileLatency<'a>(pub &'a Ctx<'a>);

impl Chart for QuantileLatency<'_> {
    fn stem(&self) -> &'static str {
        "latency-quantiles"
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _svg: bool,
    ) -> Result<(), String> {
        let c = self.0;
        let d = c.data;
        let (area, legend_area) = split(root)?;
        let x = x_range(d);
        let (dt, lines) = quantile_lines(d, (x.0, d.end_s().max(x.0)));
        let all = lines.iter().flat_map(|l| l.iter().flatten());
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (if p.1 > 0.0 { lo.min(p.1) } else { lo }, hi.max(p.1))
        });
        let y = log_range(lo, hi);
        let mut chart = builder(&area)
            .build_cartesian_2d(x.0..x.1, (y.0..y.1).log_scale())
            .map_err(e2s)?;
        mesh(&mut chart, "latency (ms)", true)?;
        let faults = draw_faults(&mut chart, c.regions, c.specs, y)?;
        let mut used_f = vec![false; d.fs.len()];
        for (f, qs) in lines.iter().enumerate() {
            for (qi, pts) in qs.iter().enumerate() {
                if pts.is_empty() {
                    continue;
                }
                used_f[f] = true;
                let pts: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1.clamp(y.0, y.1))).collect();
                let color = QUANTILES[qi].2;
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(e2s)?;
                draw_points(&mut chart, &pts, f, color, 3)?;
            }
        }
        let dt_text = crate::util::fmt_tick(dt, dt);
        title(
            &area,
            format!("{} latency quantiles ({dt_text} s buckets)", c.name).trim(),
        )?;
        let mut legend: Vec<(Mark, String)> = QUANTILES
            .iter()
            .map(|(_, n, c)| (Mark::Line(*c), n.to_string()))
            .collect();
        legend.extend(f_legend(d, &used_f));
        legend.extend(faults);
        draw_legend(&legend_area, &legend)
    }
}

/// Completions per second per series (`f * 3 + type slot`) per bucket.
pub fn rate_lines(d: &Data, x: (f64, f64)) -> (f64, Vec<Vec<(f64, f64)>>) {
    let dt = nice_step((x.1 - x.0) / 60.0).max(1e-6);
    let nb = (((x.1 - x.0) / dt).ceil() as usize).max(1);
    let mut counts = vec![0u32; d.fs.len() * 3 * nb];
    for p in &d.points {
        let b = (((p.end_s() as f64 - x.0) / dt).max(0.0) as usize).min(nb - 1);
        counts[p.series as usize * nb + b] += 1;
    }
    let lines = counts
        .chunks(nb)
        .map(|c| {
            if c.iter().all(|n| *n == 0) {
                return Vec::new();
            }
            let mid = |b: usize| x.0 + (b as f64 + 0.5) * dt;
            c.iter()
                .enumerate()
                .map(|(b, n)| (mid(b), *n as f64 / dt))
                .collect()
        })
        .collect();
    (dt, lines)
}

/// `rate`: throughput per f and type.
pub struct Rate<'a>(pub &'a Ctx<'a>);

impl Chart for Rate<'_> {
    fn stem(&self) -> &'static str {
        "rate"
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _svg: bool,
    ) -> Result<(), String> {
        let c = self.0;
        let d = c.data;
        let (area, legend_area) = split(root)?;
        let x = x_range(d);
        let (dt, lines) = rate_lines(d, (x.0, d.end_s().max(x.0)));
        let max = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
        let y = (0.0, if max > 0.0 { max * 1.1 } else { 1.0 });
        let mut chart = builder(&area)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(e2s)?;
        mesh(&mut chart, "throughput (ops/s)", false)?;
        let faults = draw_faults(&mut chart, c.regions, c.specs, y)?;
        let mut used_f = vec![false; d.fs.len()];
        let mut used_t = [false; 3];
        for (series, pts) in lines.iter().enumerate() {
            if pts.is_empty() {
                continue;
            }
            let (f, slot) = (series / 3, series % 3);
            used_f[f] = true;
            used_t[slot] = true;
            let color = type_color(TYPES[slot]);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(e2s)?;
            draw_points(&mut chart, pts, f, color, 3)?;
        }
        let dt_text = crate::util::fmt_tick(dt, dt);
        title(
            &area,
            format!("{} rate ({dt_text} s buckets)", c.name).trim(),
        )?;
        let mut legend = f_legend(d, &used_f);
        for (_, t) in TYPES.iter().enumerate().filter(|(i, _)| used_t[*i]) {
            legend.push((Mark::Swatch(type_color(*t), 1.0), t.as_str().to_string()));
        }
        legend.extend(faults);
        draw_legend(&legend_area, &legend)
    }
}

/// `clock-skew`: each node's clock offset over time, from clock nemesis completions.
pub struct ClockSkew<'a>(pub &'a Ctx<'a>);

impl Chart for ClockSkew<'_> {
    fn stem(&self) -> &'static str {
        "clock-skew"
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _svg: bool,
    ) -> Result<(), String> {
        let c = self.0;
        let d = c.data;
        let (area, legend_area) = split(root)?;
        let mut nodes: Vec<&str> = d.clock.iter().map(|s| s.node.as_str()).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let (lo, hi) = d.clock.iter().fold((0.0f64, 0.0f64), |(lo, hi), s| {
            (lo.min(s.offset_s), hi.max(s.offset_s))
        });
        let y = lin_range(lo, hi);
        let x = x_range(d);
        let mut chart = builder(&area)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(e2s)?;
        mesh(&mut chart, "clock offset (s)", false)?;
        let mut legend = Vec::new();
        let faults = draw_faults(&mut chart, c.regions, c.specs, y)?;
        for (i, node) in nodes.iter().enumerate() {
            let pts: Vec<(f64, f64)> = d
                .clock
                .iter()
                .filter(|s| s.node == *node)
                .map(|s| (s.time_s, s.offset_s))
                .collect();
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(e2s)?;
            draw_points(&mut chart, &pts, i / PALETTE.len() * 4, color, 3)?;
            legend.push((Mark::Line(color), node.to_string()));
        }
        title(&area, format!("{} clock offsets", c.name).trim())?;
        legend.extend(faults);
        draw_legend(&legend_area, &legend)
    }
}
