//! Cycle plots as SVG: rendered by graphviz `dot -Tsvg` when a `dot` binary is on `PATH`
//! (the graph goes in as DOT on its stdin, under a time limit), and by our own circular
//! layout when there is no `dot` or it fails in any way (cannot start, exits non-zero, times
//! out, prints something that is not SVG).

use crate::cycles::Cycle;
use crate::graph::{rel_name, RW, WR, WW};
use crate::report::Ctx;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long `dot` may take to lay out one cycle.
pub const DOT_TIMEOUT: Duration = Duration::from_secs(10);

/// Set once `dot` failed: later plots go straight to our own layout.
static DOT_BROKEN: AtomicBool = AtomicBool::new(false);

/// The colour of a relation's edges.
fn color(rel: u8) -> &'static str {
    match rel {
        RW => "#c0392b",
        WR => "#2471a3",
        WW => "#1e8449",
        _ => "#7f8c8d",
    }
}

/// A rendered plot.
#[derive(Clone, Debug)]
pub struct Plot {
    /// The SVG document.
    pub svg: String,
    /// `true` if `dot` drew it, `false` if our own layout did.
    pub by_dot: bool,
    /// Why `dot` was not used, when it was given but failed.
    pub dot_error: Option<String>,
}

/// A cycle as an SVG picture: by `dot` if it is on `PATH` and works, else by
/// [`layout_svg`]. After one failure of `dot`, later plots use our layout directly.
pub fn svg(ctx: &Ctx, c: &Cycle) -> String {
    let dot = if DOT_BROKEN.load(Ordering::Relaxed) {
        None
    } else {
        find_dot()
    };
    let p = svg_with(ctx, c, dot.as_deref());
    if p.dot_error.is_some() {
        DOT_BROKEN.store(true, Ordering::Relaxed);
    }
    p.svg
}

/// A cycle as an SVG picture, by the `dot` binary given (falling back to [`layout_svg`] on
/// any failure) or, with `None`, by our layout.
pub fn svg_with(ctx: &Ctx, c: &Cycle, dot: Option<&Path>) -> Plot {
    let dot_error = match dot.map(|d| dot_svg(d, &dot_source(ctx, c), DOT_TIMEOUT)) {
        Some(Ok(svg)) => {
            return Plot {
                svg,
                by_dot: true,
                dot_error: None,
            }
        }
        Some(Err(e)) => Some(e),
        None => None,
    };
    Plot {
        svg: layout_svg(ctx, c),
        by_dot: false,
        dot_error,
    }
}

/// The first executable file named `dot` in the directories of `PATH`.
pub fn find_dot() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("dot"))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Quotes a string for a DOT double-quoted id: `\` and `"` escaped, newlines as `\n`.
fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// At most `max` characters of `s`, with `...` when cut.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A cycle as a graphviz DOT digraph: one node per txn (name, op index, value), one edge
/// per step labelled with its relation.
pub fn dot_source(ctx: &Ctx, c: &Cycle) -> String {
    let mut s = format!(
        "digraph {} {{\n  node [shape=box, fontname=\"sans-serif\", fontsize=11];\n  \
         edge [fontname=\"sans-serif\", fontsize=10];\n",
        dot_quote(&c.ty)
    );
    for (i, &t) in c.txns.iter().enumerate() {
        let op = &ctx.history.ops()[ctx.txns.txns[t as usize].pos];
        let label = format!(
            "T{} (op {}, process {})\n{}",
            i + 1,
            op.index,
            op.process,
            truncate(&op.value.to_string(), 80)
        );
        s.push_str(&format!("  t{i} [label={}];\n", dot_quote(&label)));
    }
    let n = c.txns.len();
    for i in 0..n {
        let rel = c.rels.get(i).copied().unwrap_or(0);
        s.push_str(&format!(
            "  t{i} -> t{} [label={}, color=\"{col}\", fontcolor=\"{col}\"];\n",
            (i + 1) % n,
            dot_quote(rel_name(rel)),
            col = color(rel)
        ));
    }
    s.push_str("}\n");
    s
}

/// Runs `dot -Tsvg` with `source` on stdin: the SVG it printed, or why it failed (could not
/// start, timed out after `timeout` and was killed, exited non-zero, printed no SVG).
pub fn dot_svg(dot: &Path, source: &str, timeout: Duration) -> Result<String, String> {
    let mut child = Command::new(dot)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", dot.display()))?;
    // Feed and drain the pipes on threads, so a large graph cannot deadlock them.
    let input = source.as_bytes().to_vec();
    let mut stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(w) = stdin.as_mut() {
            let _ = w.write_all(&input);
        }
    });
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(r) = stdout.as_mut() {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    });
    let mut stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        if let Some(r) = stderr.as_mut() {
            let _ = r.read_to_string(&mut buf);
        }
        buf
    });
    // On a timeout the pipe threads are left to finish on their own (detached): something
    // that outlived the killed process may still hold the pipes.
    let status = wait_until(&mut child, Instant::now() + timeout)
        .ok_or_else(|| format!("dot timed out after {timeout:?} and was killed"))?;
    let _ = writer.join();
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("dot failed ({status}): {}", err.trim()));
    }
    let svg = String::from_utf8(out).map_err(|_| "dot printed non-UTF-8 output".to_string())?;
    if !svg.contains("<svg") {
        return Err("dot printed no SVG".into());
    }
    Ok(svg)
}

/// Waits for `child` until `deadline`; kills it if it is still running then. `None` on a
/// timeout.
fn wait_until(
    child: &mut std::process::Child,
    deadline: Instant,
) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A cycle as a standalone SVG by our own layout: transactions on a circle, edges labelled
/// with relations.
pub fn layout_svg(ctx: &Ctx, c: &Cycle) -> String {
    let n = c.txns.len().max(1);
    let r = 60.0 + 25.0 * n as f64;
    let size = 2.0 * r + 160.0;
    let cx = size / 2.0;
    let pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
            (cx + r * a.cos(), cx + r * a.sin())
        })
        .collect();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size:.0}\" height=\"{size:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"7\" refX=\"10\" refY=\"3.5\" orient=\"auto\"><polygon points=\"0 0, 10 3.5, 0 7\"/></marker></defs>\n"
    );
    for i in 0..c.txns.len() {
        let j = (i + 1) % c.txns.len();
        let ((x1, y1), (x2, y2)) = (pos[i], pos[j]);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        // Bent outwards (the curve's apex 25 px off the chord), so the two edges of a 2-cycle
        // stay apart; the label sits just outside the apex.
        let (px, py) = (uy, -ux);
        // Where the chord leaves the node's ellipse (radii 44 and 24), plus a margin.
        let gap = 4.0 + 1.0 / ((ux / 44.0).powi(2) + (uy / 24.0).powi(2)).sqrt();
        let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let rel = c.rels.get(i).copied().unwrap_or(0);
        let color = color(rel);
        s.push_str(&format!(
            "<path d=\"M {:.1} {:.1} Q {:.1} {:.1} {:.1} {:.1}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" marker-end=\"url(#arrow)\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{color}\">{}</text>\n",
            x1 + ux * gap, y1 + uy * gap, mx + px * 50.0, my + py * 50.0, x2 - ux * gap, y2 - uy * gap,
            mx + px * 38.0, my + py * 38.0 + 4.0, rel_name(rel)
        ));
    }
    for (i, &t) in c.txns.iter().enumerate() {
        let (x, y) = pos[i];
        s.push_str(&format!(
            "<ellipse cx=\"{x:.1}\" cy=\"{y:.1}\" rx=\"44\" ry=\"24\" fill=\"#fdfefe\" stroke=\"#34495e\"/>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">T{} (op {})</text>\n",
            y + 4.0,
            i + 1,
            ctx.index_of(t)
        ));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_quote_escapes() {
        assert_eq!(dot_quote("a\"b\\c\nd\r"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(truncate("abcdef", 3), "abc...");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ééé", 2), "éé...");
    }
}
