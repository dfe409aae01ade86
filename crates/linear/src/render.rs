//! `linear.svg`: a timeline of the ops around the failure, like Jepsen's linear.svg.
//!
//! Processes are lanes, ops are bars from invocation to completion (history order on the x
//! axis), the linearized prefix is green and numbered in linearization order, the ops that
//! could have gone next are yellow (hover for the model's answer), the op that could not be
//! linearized is red. Only a window around the failure is drawn (at most [`MAX_BARS`] ops),
//! so the file stays small whatever the history's size.

use crate::cex::{Attempt, Counterexample};
use crate::prepare::Partition;
use rift_history::{History, Process};
use rustc_hash::FxHashMap;
use std::fmt::Write;

/// At most this many ops are drawn.
pub const MAX_BARS: usize = 300;
const PREFIX_SHOWN: usize = 12;
const LANE_PX: usize = 28;
const STEP_PX: usize = 18;
const LEFT_PX: usize = 90;
const TOP_PX: usize = 70;

fn esc(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Which partition ops to draw: those overlapping the window from the last linearized ops to
/// the failing op's completion, nearest to the failing op first, at most [`MAX_BARS`].
fn window(part: &Partition, cex: &Counterexample) -> Vec<usize> {
    let end = cex.op.completion.unwrap_or(cex.op.invoke) as u32;
    let tail = &cex.prefix[cex.prefix.len().saturating_sub(PREFIX_SHOWN)..];
    let start = tail
        .iter()
        .map(|&p| p as u32)
        .chain([cex.op.invoke as u32])
        .min()
        .unwrap_or(0);
    let mut ops: Vec<usize> = (0..part.ops.len())
        .filter(|&i| {
            let o = &part.ops[i];
            o.invoke_pos <= end && o.complete_pos.is_none_or(|c| c >= start)
        })
        .collect();
    if ops.len() > MAX_BARS {
        ops.sort_by_key(|&i| part.ops[i].invoke_pos.abs_diff(cex.op.invoke as u32));
        ops.truncate(MAX_BARS);
        ops.sort_unstable();
    }
    ops
}

/// What the bars are drawn against: history, partition, counterexample, x positions, lanes.
struct Canvas<'a> {
    history: &'a History,
    part: &'a Partition,
    cex: &'a Counterexample,
    xs: Vec<u32>,
    lanes: Vec<&'a Process>,
    order: FxHashMap<usize, usize>,
    attempts: FxHashMap<usize, &'a Attempt>,
}

impl Canvas<'_> {
    fn x_of(&self, pos: u32) -> usize {
        LEFT_PX + STEP_PX * self.xs.binary_search(&pos).unwrap_or(self.xs.len())
    }

    fn right(&self) -> usize {
        self.x_of(u32::MAX) + STEP_PX
    }

    /// The fill colour and the hover note of the op invoked at `pos`.
    fn style(&self, pos: usize) -> (&'static str, String) {
        if pos == self.cex.op.invoke {
            ("#f08080", "could not be linearized".to_string())
        } else if let Some(n) = self.order.get(&pos) {
            ("#a8dca8", format!("linearized #{n}"))
        } else if let Some(a) = self.attempts.get(&pos) {
            let why = match &a.result {
                Ok(st) => format!("applies (state {st}) but no linearization follows"),
                Err(e) => e.clone(),
            };
            ("#f5d77a", why)
        } else {
            ("#dddddd", "not linearized".to_string())
        }
    }

    /// Draws partition op `i` as a bar in its process's lane.
    fn bar(&self, s: &mut String, i: usize) {
        let o = self.part.ops[i];
        let Some(inv) = self.history.get(o.invoke_pos as usize) else {
            return;
        };
        let lane = self.lanes.binary_search(&&inv.process).unwrap_or(0);
        let y = TOP_PX + lane * LANE_PX + 4;
        let x0 = self.x_of(o.invoke_pos);
        let x1 = o
            .complete_pos
            .map_or(self.right(), |c| self.x_of(c))
            .max(x0 + 8);
        let pos = o.invoke_pos as usize;
        let (fill, note) = self.style(pos);
        let label = match o.complete_pos.and_then(|c| self.history.get(c as usize)) {
            Some(c) => format!("{} {} → {}", inv.f_name(), inv.value, c.value),
            None => format!("{} {} → ?", inv.f_name(), inv.value),
        };
        let dash = if o.complete_pos.is_none() {
            r#" stroke-dasharray="4 2""#
        } else {
            ""
        };
        let stroke = if pos == self.cex.op.invoke {
            "#b00000\" stroke-width=\"2"
        } else {
            "#555"
        };
        let number = self
            .order
            .get(&pos)
            .map(|n| format!("#{n} "))
            .unwrap_or_default();
        let _ = write!(
            s,
            r#"<g><title>{} (index {}): {}</title><rect x="{x0}" y="{y}" width="{}" height="{}" rx="3" fill="{fill}" stroke="{stroke}"{dash}/><text x="{}" y="{}">{number}{}</text></g>"#,
            esc(&label, 200),
            inv.index,
            esc(&note, 300),
            x1 - x0,
            LANE_PX - 8,
            x0 + 3,
            y + 14,
            esc(&label, (x1 - x0) / 7),
        );
    }
}

/// The width the header's legend needs.
const LEGEND_PX: usize = 860;

/// Renders the counterexample of one partition as SVG text.
pub fn render_svg(
    history: &History,
    part: &Partition,
    cex: &Counterexample,
    model: &str,
) -> String {
    let ops = window(part, cex);
    let mut xs: Vec<u32> = Vec::new();
    for &i in &ops {
        xs.push(part.ops[i].invoke_pos);
        xs.extend(part.ops[i].complete_pos);
    }
    xs.sort_unstable();
    xs.dedup();
    let mut lanes: Vec<&Process> = ops
        .iter()
        .filter_map(|&i| {
            history
                .get(part.ops[i].invoke_pos as usize)
                .map(|o| &o.process)
        })
        .collect();
    lanes.sort();
    lanes.dedup();
    let canvas = Canvas {
        history,
        part,
        cex,
        xs,
        lanes,
        order: cex
            .prefix
            .iter()
            .enumerate()
            .map(|(n, &p)| (p, n + 1))
            .collect(),
        attempts: cex.attempts.iter().map(|a| (a.op.invoke, a)).collect(),
    };
    let height = TOP_PX + LANE_PX * canvas.lanes.len() + 20;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="11">"#,
        // Wide enough for the legend line (about 125 monospace characters).
        (canvas.right() + 20).max(LEGEND_PX)
    );
    header(&mut s, cex, model);
    for (l, p) in canvas.lanes.iter().enumerate() {
        let y = TOP_PX + l * LANE_PX;
        let _ = write!(
            s,
            r#"<text x="4" y="{}">process {}</text>"#,
            y + 16,
            esc(&p.to_string(), 10)
        );
    }
    for &i in &ops {
        canvas.bar(&mut s, i);
    }
    s.push_str("</svg>\n");
    s
}

fn header(s: &mut String, cex: &Counterexample, model: &str) {
    let key = cex
        .key
        .as_ref()
        .map(|k| format!(" key {k}"))
        .unwrap_or_default();
    let states: Vec<String> = cex.states.iter().map(|v| v.to_string()).collect();
    let _ = write!(
        s,
        r#"<text x="4" y="16" font-size="13" font-weight="bold">Not linearizable ({}{}): {} ops linearized, then the red op cannot be</text><text x="4" y="34">model state(s) after the prefix: {}</text><text x="4" y="52">green: linearized (numbered), yellow: could go next (hover: why not), red: could not be linearized, dashed: outcome unknown</text>"#,
        esc(model, 40),
        esc(&key, 60),
        cex.prefix.len(),
        esc(&states.join(" | "), 200),
    );
}
