//! Small hand-written SVG plots: per-key order views (which op saw which value at which
//! offset) and time series (unseen messages, realtime lag).

use crate::model::Model;
use crate::orders::Orders;
use std::fmt::Write;

/// Rows drawn at most in a key order plot.
const MAX_ROWS: usize = 2000;
/// Offsets drawn at most in one row.
const MAX_COLS: usize = 400;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A key's log as seen by each op that sent or polled it: one row per op (history order), a
/// cell per offset, `w` for sends and `r` for polls; offsets holding several values are
/// shaded red. Op type shows in the row outline (info orange, fail pink).
pub(crate) fn key_order_svg(m: &Model, o: &Orders, key: u32) -> String {
    let kl = &o.keys[key as usize];
    let conflict = |off: i64| -> bool {
        kl.log
            .binary_search_by_key(&off, |e| e.0)
            .map(|i| kl.log[i].2 - kl.log[i].1 > 1)
            .unwrap_or(false)
    };
    let min_off = kl.log.first().map_or(0, |e| e.0);
    let x_of = |off: i64| 60 + (off - min_off) * 28;
    let mut body = String::new();
    let (mut rows, mut max_x) = (0usize, 0i64);
    for i in 0..m.ops.len() as u32 {
        if rows >= MAX_ROWS {
            break;
        }
        let cells: Vec<(&str, i64, u32)> = m
            .writes_of(i)
            .iter()
            .map(|a| ("w", a))
            .chain(m.reads_of(i).iter().map(|a| ("r", a)))
            .filter(|(_, a)| a.key == key && a.offset >= 0)
            .map(|(c, a)| (c, a.offset, a.vid))
            .take(MAX_COLS)
            .collect();
        if cells.is_empty() {
            continue;
        }
        let y = 20 + rows as i64 * 16;
        let op = m.hop(i);
        let stroke = match op.ty {
            rift_history::OpType::Info => "#FFAA26",
            rift_history::OpType::Fail => "#FEB5DA",
            _ => "#dddddd",
        };
        let _ = write!(
            body,
            "<g><title>{}</title><text x=\"4\" y=\"{y}\" fill=\"#888\">{}</text>",
            esc(&op.to_string()),
            op.index
        );
        let (lo, hi) = cells
            .iter()
            .fold((i64::MAX, i64::MIN), |(a, b), c| (a.min(c.1), b.max(c.1)));
        let _ = write!(
            body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"14\" fill=\"none\" stroke=\"{stroke}\"/>",
            x_of(lo) - 2,
            y - 11,
            x_of(hi) - x_of(lo) + 28
        );
        for (c, off, vid) in cells {
            let x = x_of(off);
            max_x = max_x.max(x);
            if conflict(off) {
                let _ = write!(
                    body,
                    "<rect x=\"{}\" y=\"{}\" width=\"26\" height=\"14\" fill=\"#ffb3b3\"/>",
                    x - 1,
                    y - 11
                );
            }
            let _ = write!(
                body,
                "<text x=\"{x}\" y=\"{y}\">{c}{}</text>",
                esc(&m.vals[vid as usize].to_string())
            );
        }
        body.push_str("</g>\n");
        rows += 1;
    }
    let (w, h) = (max_x + 60, 30 + rows as i64 * 16);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\">\n\
         <style>text {{ font-family: Helvetica, Arial, sans-serif; font-size: 10px; }}</style>\n\
         <text x=\"4\" y=\"10\" font-weight=\"bold\">key {} (offset {min_off} at x=60)</text>\n{body}</svg>\n",
        esc(&m.keys[key as usize].to_string())
    )
}

/// A line plot of `(time_ns, y)` points with a title and a y label.
pub(crate) fn series_svg(title: &str, ylabel: &str, points: &[(i64, f64)]) -> String {
    let (w, h, left, bottom) = (800.0, 300.0, 60.0, 30.0);
    let tmax = points.iter().map(|p| p.0).max().unwrap_or(1).max(1) as f64;
    let ymax = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let px = |t: i64| left + (t as f64 / tmax) * (w - left - 20.0);
    let py = |y: f64| (h - bottom) - (y / ymax) * (h - bottom - 30.0);
    let mut path = String::new();
    for (i, &(t, y)) in points.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            px(t),
            py(y)
        );
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\">\n\
         <style>text {{ font-family: Helvetica, Arial, sans-serif; font-size: 11px; }}</style>\n\
         <text x=\"{left}\" y=\"16\" font-weight=\"bold\">{}</text>\n\
         <line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#000\"/>\n\
         <line x1=\"{left}\" y1=\"30\" x2=\"{left}\" y2=\"{b}\" stroke=\"#000\"/>\n\
         <text x=\"4\" y=\"34\">{ymax:.3}</text><text x=\"4\" y=\"{b}\">0</text>\n\
         <text x=\"4\" y=\"{mid}\">{}</text>\n\
         <text x=\"{r}\" y=\"{tb}\" text-anchor=\"end\">{:.1} s</text>\n\
         <path d=\"{path}\" fill=\"none\" stroke=\"#1f77b4\"/>\n</svg>\n",
        esc(title),
        esc(ylabel),
        tmax / 1e9,
        b = h - bottom,
        r = w - 20.0,
        tb = h - 10.0,
        mid = h / 2.0,
    )
}
