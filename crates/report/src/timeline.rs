//! `timeline.html`: one column per process, one box per operation from invocation to
//! completion, coloured by type, the full ops on hover. Written in pages of a fixed number of
//! ops (in completion order) so that 100k-op histories stay usable: `timeline.html` holds the
//! page index and the first page, `timeline/page-K.html` the others. Plain HTML and CSS, no
//! scripts, no external resources; every value is escaped.

use crate::error::ReportError;
use crate::util::{nice_step, write_atomic};
use rift_history::OpType;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One op as the timeline draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineBox {
    /// The process label (`3`, `nemesis`).
    pub process: String,
    /// Invocation time (ns; the op index when the history has no times).
    pub start: i64,
    /// Completion time; None while in flight (never completed).
    pub end: Option<i64>,
    /// Completion type; None while in flight.
    pub ty: Option<OpType>,
    /// The op's f.
    pub f: String,
    /// The invocation as EDN (empty when there was none).
    pub invoke: String,
    /// The completion as EDN (empty while in flight).
    pub complete: String,
}

struct PageInfo {
    start: i64,
    end: i64,
    count: usize,
}

/// A page for the worker thread to render and write.
struct Job {
    k: usize,
    boxes: Vec<TimelineBox>,
    has_next: bool,
}

type WorkerResult = Result<(Option<String>, Vec<PathBuf>), ReportError>;

/// Streams boxes into pages; a worker thread renders and writes them.
pub struct TimelineWriter {
    out_dir: PathBuf,
    page_ops: usize,
    title: String,
    current: Vec<TimelineBox>,
    pages: Vec<PageInfo>,
    tx: Option<std::sync::mpsc::SyncSender<Job>>,
    worker: Option<std::thread::JoinHandle<WorkerResult>>,
}

const COL_W: i64 = 110;
const GUTTER_W: i64 = 80;

impl TimelineWriter {
    /// A writer for `out_dir/timeline.html` with `page_ops` boxes per page (at least 1).
    pub fn new(out_dir: &Path, page_ops: usize, title: &str) -> TimelineWriter {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(2);
        let (dir, t) = (out_dir.to_path_buf(), title.to_string());
        let worker = std::thread::spawn(move || -> WorkerResult {
            let mut first = None;
            let mut files = Vec::new();
            for job in rx {
                let (start, end) = span(&job.boxes);
                let body = page_body(&job.boxes, start, end);
                if job.k == 0 {
                    first = Some(body);
                    continue;
                }
                let info = PageInfo {
                    start,
                    end,
                    count: job.boxes.len(),
                };
                files.push(write_page(&dir, &t, job.k, &info, &body, job.has_next)?);
            }
            Ok((first, files))
        });
        TimelineWriter {
            out_dir: out_dir.to_path_buf(),
            page_ops: page_ops.max(1),
            title: title.to_string(),
            current: Vec::new(),
            pages: Vec::new(),
            tx: Some(tx),
            worker: Some(worker),
        }
    }

    /// Adds a box; hands a full page to the worker when the next box arrives.
    pub fn add(&mut self, b: TimelineBox) -> Result<(), ReportError> {
        if self.current.len() >= self.page_ops {
            self.close_page(true)?;
        }
        self.current.push(b);
        Ok(())
    }

    fn close_page(&mut self, has_next: bool) -> Result<(), ReportError> {
        let boxes = std::mem::take(&mut self.current);
        let (start, end) = span(&boxes);
        self.pages.push(PageInfo {
            start,
            end,
            count: boxes.len(),
        });
        let job = Job {
            k: self.pages.len() - 1,
            boxes,
            has_next,
        };
        let sent = self.tx.as_ref().map(|tx| tx.send(job).is_ok());
        if sent != Some(true) {
            // The worker stopped: it failed; join it for its error.
            return self.join().map(|_| ());
        }
        Ok(())
    }

    fn join(&mut self) -> WorkerResult {
        self.tx = None;
        let dead = || ReportError::Plot {
            path: PathBuf::from("timeline"),
            message: "timeline worker panicked".into(),
        };
        match self.worker.take() {
            Some(w) => w.join().map_err(|_| dead())?,
            None => Err(dead()),
        }
    }

    /// Writes the last page and `timeline.html`; returns every file written.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, ReportError> {
        if !self.current.is_empty() || self.pages.is_empty() {
            self.close_page(false)?;
        }
        let (first_body, mut page_files) = self.join()?;
        let mut nav = String::from("<nav>");
        if self.pages.len() > 1 {
            nav.push_str("<a href=\"timeline/page-1.html\">next &rarr;</a><table class=\"pages\">");
            nav.push_str("<tr><th>page</th><th>boxes</th><th>time</th></tr>");
            for (k, p) in self.pages.iter().enumerate() {
                let href = if k == 0 {
                    "timeline.html".to_string()
                } else {
                    format!("timeline/page-{k}.html")
                };
                let _ = write!(
                    nav,
                    "<tr><td><a href=\"{href}\">{k}</a></td><td>{}</td><td>{}</td></tr>",
                    p.count,
                    range_text(p.start, p.end)
                );
            }
            nav.push_str("</table>");
        }
        nav.push_str("</nav>");
        let html = document(&self.title, &nav, &first_body.unwrap_or_default());
        let path = self.out_dir.join("timeline.html");
        write_atomic(&path, html.as_bytes())?;
        let mut files = vec![path];
        files.append(&mut page_files);
        Ok(files)
    }
}

fn write_page(
    dir: &Path,
    title: &str,
    k: usize,
    info: &PageInfo,
    body: &str,
    has_next: bool,
) -> Result<PathBuf, ReportError> {
    let mut nav = String::from("<nav>");
    let prev = if k == 1 {
        "../timeline.html".to_string()
    } else {
        format!("page-{}.html", k - 1)
    };
    let _ = write!(nav, "<a href=\"{prev}\">&larr; previous</a> | ");
    let _ = write!(nav, "<a href=\"../timeline.html\">index</a>");
    if has_next {
        let _ = write!(nav, " | <a href=\"page-{}.html\">next &rarr;</a>", k + 1);
    }
    let _ = write!(
        nav,
        " &nbsp; page {k}: {} boxes, {}</nav>",
        info.count,
        range_text(info.start, info.end)
    );
    let html = document(&format!("{title} (page {k})"), &nav, body);
    let sub = dir.join("timeline");
    std::fs::create_dir_all(&sub).map_err(|e| ReportError::io(&sub, e))?;
    let path = sub.join(format!("page-{k}.html"));
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

fn span(boxes: &[TimelineBox]) -> (i64, i64) {
    let start = boxes.iter().map(|b| b.start).min().unwrap_or(0);
    let end = boxes
        .iter()
        .map(|b| b.end.unwrap_or(b.start))
        .max()
        .unwrap_or(0);
    (start, end.max(start))
}

fn range_text(start: i64, end: i64) -> String {
    format!("{:.3} s to {:.3} s", start as f64 / 1e9, end as f64 / 1e9)
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            b'\n' => "&#10;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Orders process labels: clients by number, then other names, `nemesis` last.
fn process_order(label: &str) -> (u8, i64, &str) {
    match label.parse::<i64>() {
        Ok(n) => (0, n, label),
        Err(_) if label == "nemesis" => (2, 0, label),
        Err(_) => (1, 0, label),
    }
}

fn page_body(boxes: &[TimelineBox], start: i64, end: i64) -> String {
    let mut procs: Vec<&str> = boxes.iter().map(|b| b.process.as_str()).collect();
    procs.sort_unstable_by_key(|p| process_order(p));
    procs.dedup();
    let col_of = |p: &str| {
        procs
            .binary_search_by_key(&process_order(p), |x| process_order(x))
            .unwrap_or(0) as i64
    };
    let per_col = boxes.len() / procs.len().max(1) + 1;
    let height_px = (per_col as i64 * 16).clamp(400, 400_000);
    let dt = (end - start).max(1) as f64;
    let y_of = |t: i64| ((t - start) as f64 / dt * height_px as f64).round() as i64;
    let width = GUTTER_W + COL_W * procs.len() as i64;
    let mut s = String::with_capacity(boxes.len() * 400 + 4096);
    let _ = write!(
        s,
        "<div class=\"tl\" style=\"width:{width}px;height:{}px\">",
        height_px + 40
    );
    for (i, p) in procs.iter().enumerate() {
        let _ = write!(
            s,
            "<div class=\"proc\" style=\"left:{}px\">",
            GUTTER_W + COL_W * i as i64
        );
        escape_html(&mut s, p);
        s.push_str("</div>");
    }
    time_ticks(&mut s, start, end, height_px);
    for b in boxes {
        let top = y_of(b.start);
        let bottom = y_of(b.end.unwrap_or(end));
        let h = (bottom - top).max(3);
        let class = b.ty.map_or("pending", |t| t.as_str());
        let left = GUTTER_W + COL_W * col_of(&b.process);
        let _ = write!(
            s,
            "<div class=\"op {class}\" style=\"left:{left}px;top:{}px;height:{h}px\" title=\"",
            top + 30
        );
        box_title(&mut s, b);
        s.push_str("\">");
        if h >= 12 {
            escape_html(&mut s, &b.f);
        }
        s.push_str("</div>\n");
    }
    s.push_str("</div>");
    s
}

fn box_title(s: &mut String, b: &TimelineBox) {
    s.push_str("process ");
    escape_html(s, &b.process);
    if let Some(e) = b.end {
        if !b.invoke.is_empty() {
            let _ = write!(s, ", {:.3} ms", (e - b.start) as f64 / 1e6);
        }
    } else {
        s.push_str(", in flight (never completed)");
    }
    for text in [&b.invoke, &b.complete] {
        if !text.is_empty() {
            s.push_str("&#10;");
            escape_html(s, text);
        }
    }
}

fn time_ticks(s: &mut String, start: i64, end: i64, height_px: i64) {
    let span_s = (end - start).max(1) as f64 / 1e9;
    let ticks = (height_px / 100).max(2) as f64;
    let step = nice_step(span_s / ticks);
    let t0 = start as f64 / 1e9;
    let mut k = (t0 / step).ceil();
    let mut n = 0;
    while k * step <= end as f64 / 1e9 && n < 100_000 {
        let y = ((k * step - t0) / span_s * height_px as f64).round() as i64 + 30;
        let _ = write!(
            s,
            "<div class=\"tick\" style=\"top:{y}px\">{} s</div>",
            crate::util::fmt_tick(k * step, step)
        );
        k += 1.0;
        n += 1;
    }
}

const STYLE: &str = "body{font:13px sans-serif;margin:8px;color:#222}\
nav{margin:4px 0 8px}table.pages td,table.pages th{padding:0 8px;text-align:right}\
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border:1px solid #999}\
.tl{position:relative}\
.proc{position:absolute;top:0;width:106px;height:24px;text-align:center;font-weight:bold;\
background:#eee;border:1px solid #bbb;overflow:hidden}\
.tick{position:absolute;left:0;width:76px;font:11px monospace;color:#555;\
border-top:1px solid #ccc}\
.op{position:absolute;width:106px;box-sizing:border-box;overflow:hidden;font:10px monospace;\
border:1px solid rgba(0,0,0,.3);border-radius:2px;white-space:nowrap;padding-left:2px}\
.op:hover{outline:2px solid #000;z-index:10}\
.ok{background:#9ECAE9}.fail{background:#F4A582}.info{background:#F3D27A}\
.pending{background:repeating-linear-gradient(45deg,#ddd,#ddd 4px,#f6f6f6 4px,#f6f6f6 8px)}";

fn document(title: &str, nav: &str, body: &str) -> String {
    let mut s = String::with_capacity(body.len() + 4096);
    s.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    escape_html(&mut s, title);
    let _ = write!(s, "</title><style>{STYLE}</style></head><body><h1>");
    escape_html(&mut s, title);
    s.push_str("</h1><div class=\"legend\"><span class=\"ok\">ok</span>");
    s.push_str("<span class=\"info\">info</span><span class=\"fail\">fail</span>");
    s.push_str("<span class=\"pending\">in flight</span> hover a box for its ops</div>");
    s.push_str(nav);
    s.push_str(body);
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_dangerous() {
        let mut s = String::new();
        escape_html(&mut s, "<script>alert(\"x\" & 'y')</script>\n");
        assert_eq!(
            s,
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;&#10;"
        );
    }

    #[test]
    fn processes_order_numerically_then_nemesis() {
        let mut v = vec!["nemesis", "10", "x", "2"];
        v.sort_by_key(|p| process_order(p));
        assert_eq!(v, ["2", "10", "x", "nemesis"]);
    }
}
