//! Plots, timeline and perf summary of a rift (or Jepsen) test run.
//!
//! # Concepts
//! A run's store directory holds `history.jsonl` (or `history.edn`) and `test.json`.
//! [`render_run`] reads them in one streaming pass and writes, next to them:
//! - `latency-raw.png`/`.svg`: every client completion's latency (ms, log axis) against its
//!   invocation time (s); colour by type (ok blue, info orange, fail vermillion), marker shape
//!   by `f`. The SVG draws every fail and info point and one ok point per
//!   [`charts::OK_CELL`]-pixel square per `f` (the PNG one per pixel), so it stays small.
//! - `latency-quantiles.png`/`.svg`: p50, p95, p99 and max latency per `f` per time bucket.
//! - `rate.png`/`.svg`: completions per second per `f` and type (linear axis).
//! - `clock-skew.png`/`.svg`, when clock nemesis completions (`check-offsets`, `bump`,
//!   `strobe`, `reset`, or their `-clock` forms) carry a map node -> offset in seconds, bare or
//!   under `clock-offsets`.
//! - `timeline.html` (+ `timeline/page-K.html` past [`ReportOptions::timeline_page_ops`]
//!   boxes): one column per process, one box per op from invocation to completion, the full
//!   invocation and completion on hover. Self-contained HTML, no scripts.
//!
//! Every chart shades the nemesis's fault regions in the colour of the fault package and has a
//! legend strip. A region ([`FaultSpec`]) opens at a nemesis op whose `f` is in `start` and
//! closes at the next op whose `f` is in `stop`; a spec without `stop` marks instants. Specs
//! come from `test.json`'s `"perf"` array, else [`FaultSpec::defaults`].
//!
//! The returned [`Report::summary`] is meant for `results.json` under `"perf"`: op counts by
//! `f` and type, rates, latency quantiles in ms, duration, fault regions.
//!
//! Text in the PNGs is drawn with the crate's own 5x7 pixel font (no font files or fontconfig);
//! the SVGs use `<text>` with a generic `sans-serif` family.
//!
//! # Example
//! ```
//! use rift_history::{Op, OpType, Process, Value};
//! use rift_report::{render, FaultSpec, ReportOptions};
//!
//! let mut ops = Vec::new();
//! for (i, (ty, t)) in [(OpType::Invoke, 1_000_000), (OpType::Ok, 3_000_000)].iter().enumerate() {
//!     let mut op = Op::new(*ty, Process::Client(0), Value::kw("read"), Value::Nil);
//!     op.index = i as u64;
//!     op.time = Some(*t);
//!     ops.push(op);
//! }
//! let dir = tempfile::tempdir()?;
//! let report = render(&ops, &FaultSpec::defaults(), dir.path(), "demo", &ReportOptions::default())?;
//! assert!(dir.path().join("latency-raw.png").exists());
//! assert!(dir.path().join("timeline.html").exists());
//! assert_eq!(report.summary["by-f"]["read"]["ok"], 1);
//! assert_eq!(report.summary["by-f"]["read"]["latency-ms"]["p50"], 2.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Edge cases
//! - An empty history still gets every plot (empty axes) and a timeline with no boxes.
//! - Ops without `time` (Knossos files) are counted but not plotted; the timeline places them
//!   by index.
//! - Completions with no invocation count in the rate but have no latency; invocations never
//!   completed count as `pending` and show as hatched in-flight boxes.
//! - The SVG scatter keeps one point per distinct pixel per series (a 1M-op SVG would be
//!   hundreds of MB) and says so in its title; the PNG is drawn the same way, which changes
//!   nothing visible.
//! - More than 24 distinct client `f`s: the rest share the series `other`.
//! - A missing `test.json` means defaults; a corrupt one, or a corrupt history line, is a
//!   [`ReportError`] naming the file. Nothing here panics on user data.

#![warn(missing_docs)]

mod backend;
pub mod charts;
pub mod collect;
pub mod error;
pub mod faults;
pub mod font;
pub mod plot;
pub mod summary;
mod svg;
pub mod timeline;
pub mod util;

pub use error::ReportError;
pub use faults::{fault_regions, parse_specs, FaultRegion, FaultSpec, NemesisEvent};
pub use plot::Formats;

use charts::{ClockSkew, Ctx, QuantileLatency, Rate, RawLatency};
use collect::Collector;
use rift_history::Op;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use timeline::TimelineWriter;

/// What to render and how big.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// Ops (boxes) per timeline page; `timeline.html` holds the first page and the index.
    pub timeline_page_ops: usize,
    /// Write the timeline at all.
    pub timeline: bool,
    /// Image formats for the plots.
    pub formats: Formats,
    /// Plot width in pixels (the legend strip takes 190 of them).
    pub width_px: u32,
    /// Plot height in pixels.
    pub height_px: u32,
}

impl Default for ReportOptions {
    /// 10,000 ops per timeline page, PNG and SVG, 1200 x 600 pixels.
    fn default() -> ReportOptions {
        ReportOptions {
            timeline_page_ops: 10_000,
            timeline: true,
            formats: Formats {
                png: true,
                svg: true,
            },
            width_px: 1200,
            height_px: 600,
        }
    }
}

/// What a rendering wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
    /// The perf summary (for `results.json` under `"perf"`).
    pub summary: serde_json::Value,
}

/// Renders the report of a stored run: reads `dir/history.jsonl` (streamed; else
/// `dir/history.edn`) and `dir/test.json` (name, `"perf"` fault specs; optional) and writes
/// every file into `dir`.
pub fn render_run(dir: &Path, opts: &ReportOptions) -> Result<Report, ReportError> {
    let test_path = dir.join("test.json");
    let (name, specs) = match std::fs::read(&test_path) {
        Ok(bytes) => {
            let bad = |message: String| ReportError::Test {
                path: test_path.clone(),
                message,
            };
            let test: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
            let specs = parse_specs(&test).map_err(bad)?;
            let name = test.get("name").and_then(|n| n.as_str()).unwrap_or("");
            (name.to_string(), specs.unwrap_or_else(FaultSpec::defaults))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (String::new(), FaultSpec::defaults())
        }
        Err(e) => return Err(ReportError::io(test_path, e)),
    };
    let jsonl = dir.join("history.jsonl");
    let edn = dir.join("history.edn");
    if jsonl.exists() {
        let file = std::fs::File::open(&jsonl).map_err(|e| ReportError::io(&jsonl, e))?;
        let reader =
            rift_history::JsonlReader::new(BufReader::with_capacity(1 << 20, file), Some(jsonl));
        render_with(&specs, dir, &name, opts, |col| {
            for op in reader {
                col.push(&op?)?;
            }
            Ok(())
        })
    } else if edn.exists() {
        let ops = rift_history::edn::read_edn_file(&edn)?;
        render(&ops, &specs, dir, &name, opts)
    } else {
        Err(ReportError::NoHistory {
            dir: dir.to_path_buf(),
        })
    }
}

/// Renders ops already in memory (in history order) into `out_dir`; `name` prefixes the plot
/// titles.
pub fn render(
    ops: &[Op],
    specs: &[FaultSpec],
    out_dir: &Path,
    name: &str,
    opts: &ReportOptions,
) -> Result<Report, ReportError> {
    render_with(specs, out_dir, name, opts, |col| {
        ops.iter().try_for_each(|op| col.push(op))
    })
}

fn render_with(
    specs: &[FaultSpec],
    out_dir: &Path,
    name: &str,
    opts: &ReportOptions,
    feed: impl FnOnce(&mut Collector<'_>) -> Result<(), ReportError>,
) -> Result<Report, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let title = if name.is_empty() {
        "timeline".to_string()
    } else {
        format!("{name} timeline")
    };
    let mut tl = opts
        .timeline
        .then(|| TimelineWriter::new(out_dir, opts.timeline_page_ops, &title));
    let mut col = Collector::new(tl.as_mut());
    feed(&mut col)?;
    let data = col.finish()?;
    let mut files = Vec::new();
    if let Some(tl) = tl {
        files.extend(tl.finish()?);
    }
    let mut specs = specs.to_vec();
    if specs == FaultSpec::defaults() && data.nemesis.iter().any(|e| e.f == "stop") {
        specs.push(FaultSpec::classic());
    }
    let specs = &specs[..];
    let regions = fault_regions(&data.nemesis, specs, data.end_s());
    let ctx = Ctx {
        data: &data,
        regions: &regions,
        specs,
        name,
    };
    let size = (opts.width_px.max(400), opts.height_px.max(200));
    let pngs = Formats {
        png: opts.formats.png,
        svg: false,
    };
    let svgs = Formats {
        png: false,
        svg: opts.formats.svg,
    };
    // PNGs here, SVGs on a second thread.
    let (png_files, svg_files) = std::thread::scope(|s| {
        let svg = s.spawn(|| emit_all(&ctx, out_dir, size, svgs));
        let png = emit_all(&ctx, out_dir, size, pngs);
        (png, svg.join())
    });
    files.extend(png_files?);
    files.extend(svg_files.map_err(|_| ReportError::Plot {
        path: out_dir.to_path_buf(),
        message: "SVG rendering panicked".into(),
    })??);
    let summary = summary::summary(&data, &regions, specs);
    Ok(Report { files, summary })
}

fn emit_all(
    ctx: &Ctx<'_>,
    out_dir: &Path,
    size: (u32, u32),
    f: Formats,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = plot::emit(&RawLatency(ctx), out_dir, size, f)?;
    files.extend(plot::emit(&QuantileLatency(ctx), out_dir, size, f)?);
    files.extend(plot::emit(&Rate(ctx), out_dir, size, f)?);
    if !ctx.data.clock.is_empty() {
        files.extend(plot::emit(&ClockSkew(ctx), out_dir, size, f)?);
    }
    Ok(files)
}
