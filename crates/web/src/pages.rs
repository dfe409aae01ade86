//! HTML pages (maud escapes every interpolated string).

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

use crate::results::Rendered;
use crate::store::{pretty_duration, pretty_time, RunSummary, Verdict};

const CSS: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f7f8fa}
header{background:#1d2a3a;color:#fff;padding:.6em 1.5em}header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:1em 1.5em;max-width:1200px}
a{color:#0b5cad}h1{font-size:1.4em;margin:.4em 0}h2{font-size:1.15em;margin:1.4em 0 .5em}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{padding:.3em .6em;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05em .55em;border-radius:.8em;font-size:.85em;font-weight:600;color:#fff}
.valid{background:#1f8a4c}.invalid{background:#c62828}.unknown{background:#d08b00}.incomplete{background:#6b7580}
.banner{padding:.7em 1em;border-radius:.3em;color:#fff;font-size:1.2em;font-weight:600;margin:.5em 0}
.filters{display:flex;gap:.6em;align-items:center;flex-wrap:wrap;margin:.6em 0}
.filters input[type=search]{padding:.3em .5em;min-width:18em}
.muted{color:#6b7580}.note{color:#8a5a00;font-size:.85em}
pre.json{background:#fff;border:1px solid #e3e6ea;padding:.8em;overflow:auto;font-size:13px;line-height:1.35}
.k{color:#3b4b5c}.s{color:#0a6b3d}.n{color:#174ea6}.b,.z{color:#7b3fa0}
.good{color:#fff;background:#1f8a4c;padding:0 .3em;border-radius:.2em}
.bad{color:#fff;background:#c62828;padding:0 .3em;border-radius:.2em}
.unk{color:#fff;background:#d08b00;padding:0 .3em;border-radius:.2em}
.hot{color:#c62828;font-weight:700}
.plots img{max-width:100%;border:1px solid #e3e6ea;background:#fff;margin:.3em 0}
ul.flat{padding-left:1.2em}.pager{margin:.8em 0;display:flex;gap:1em}
"#;

const FILTER_JS: &str = r#"
const box=document.getElementById('filter');
box.addEventListener('input',()=>{const v=box.value.toLowerCase();let n=0;
for(const r of document.querySelectorAll('#runs tbody tr')){const hit=r.dataset.name.includes(v);r.hidden=!hit;if(hit)n++;}
document.getElementById('shown').textContent=n;});
"#;

/// Percent-encodes one URL path segment (everything but unreserved characters).
pub fn enc(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a relative path segment by segment, keeping the slashes.
pub fn enc_path(path: &str) -> String {
    path.split('/').map(enc).collect::<Vec<_>>().join("/")
}

/// The URL of a file or directory under the store.
pub fn file_url(rel: &str) -> String {
    format!("/files/{}", enc_path(rel))
}

/// The URL of a run's page.
pub fn run_url(test: &str, time: &str) -> String {
    format!("/run/{}/{}", enc(test), enc(time))
}

/// Bytes for people: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn pretty_size(len: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if len < 1024 {
        return format!("{len} B");
    }
    let mut v = len as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " - rift" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header { a href="/" { "rift store" } }
                main { (body) }
            }
        }
    }
}

/// The value, or a muted dash when unknown.
fn or_dash<T: maud::Render>(value: Option<T>) -> Markup {
    html! { @if let Some(v) = value { (v) } @else { span class="muted" { "-" } } }
}

fn badge(v: Verdict) -> Markup {
    html! { span class={ "badge " (v.as_str()) } { (v.as_str()) } }
}

/// An error page body (404, 400, a missing store).
pub fn error_page(title: &str, detail: &str) -> Markup {
    layout(
        title,
        html! { h1 { (title) } p { (detail) } p { a href="/" { "Back to the index" } } },
    )
}

/// What the index was asked for.
#[derive(Debug, Clone, Default)]
pub struct IndexView {
    /// The name substring filter (`q=`).
    pub query: String,
    /// The verdict filter (`verdict=`).
    pub verdict: Option<Verdict>,
    /// 0-based page number.
    pub page: usize,
    /// How many runs match the filters.
    pub matching: usize,
    /// Runs in the whole store, per verdict in [`Verdict::ALL`]'s order.
    pub counts: [usize; 4],
    /// Runs per page.
    pub per_page: usize,
}

fn index_url(query: &str, verdict: Option<Verdict>, page: usize) -> String {
    let mut parts = Vec::new();
    if !query.is_empty() {
        parts.push(format!("q={}", enc(query)));
    }
    if let Some(v) = verdict {
        parts.push(format!("verdict={}", v.as_str()));
    }
    if page > 0 {
        parts.push(format!("page={}", page + 1));
    }
    if parts.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", parts.join("&"))
    }
}

fn index_filters(view: &IndexView, total: usize) -> Markup {
    html! {
        form class="filters" method="get" action="/" {
            input id="filter" type="search" name="q" value=(view.query)
                placeholder="test name contains... (Enter searches all pages)";
            @if let Some(v) = view.verdict { input type="hidden" name="verdict" value=(v.as_str()); }
            a href=(index_url(&view.query, None, 0)) { "all (" (total) ")" }
            @for (i, v) in Verdict::ALL.iter().enumerate() {
                a href=(index_url(&view.query, Some(*v), 0)) { (badge(*v)) " " (view.counts[i]) }
            }
        }
    }
}

fn pager(view: &IndexView) -> Markup {
    let pages = view.matching.div_ceil(view.per_page.max(1)).max(1);
    html! {
        div class="pager" {
            @if view.page > 0 {
                a rel="prev" href=(index_url(&view.query, view.verdict, view.page - 1)) { "« newer" }
            }
            span class="muted" { "page " (view.page + 1) " of " (pages) }
            @if view.page + 1 < pages {
                a rel="next" href=(index_url(&view.query, view.verdict, view.page + 1)) { "older »" }
            }
        }
    }
}

/// The index: filters, counts, one page of runs, a pager.
pub fn index_page(view: &IndexView, runs: &[RunSummary]) -> Markup {
    let total: usize = view.counts.iter().sum();
    let body = html! {
        h1 { "Test runs" }
        (index_filters(view, total))
        p class="muted" {
            span id="shown" { (runs.len()) } " shown of " (view.matching) " matching"
            @if let Some(v) = view.verdict { " (verdict " (v.as_str()) ")" }
        }
        @if runs.is_empty() {
            p { @if total == 0 { "The store has no runs yet." } @else { "No run matches." } }
        } @else {
            table id="runs" {
                thead { tr {
                    th { "Test" } th { "Time" } th { "Verdict" }
                    th class="num" { "Duration" } th class="num" { "Ops" }
                } }
                tbody {
                    @for r in runs {
                        tr data-name=(r.test.to_lowercase()) {
                            td { a class="run-link" href=(run_url(&r.test, &r.time)) { (r.test) }
                                 @if let Some(n) = &r.note { br; span class="note" { (n) } } }
                            td { (pretty_time(&r.time)) }
                            td { (badge(r.verdict)) }
                            td class="num" { (or_dash(r.duration_ms().map(pretty_duration))) }
                            td class="num" { (or_dash(r.op_count)) }
                        }
                    }
                }
            }
        }
        (pager(view))
        script { (PreEscaped(FILTER_JS)) }
    };
    layout("Test runs", body)
}

/// The results part of a run page.
#[derive(Debug)]
pub enum ResultsView {
    /// No `results.json` (an incomplete run).
    Missing,
    /// Too large to render inline; the raw file is linked. The size in bytes.
    TooBig(u64),
    /// Not valid JSON; the parser's message.
    Unreadable(String),
    /// Rendered.
    Shown(Rendered),
}

/// Everything a run page shows besides the summary.
#[derive(Debug)]
pub struct RunView {
    /// The run's summary (verdict, times, op count).
    pub summary: RunSummary,
    /// `test.json`, if readable.
    pub test_json: Option<Value>,
    /// `results.json`.
    pub results: ResultsView,
    /// Top-level `.png` plots, known names first.
    pub plots: Vec<String>,
    /// Top-level regular files: name and size.
    pub files: Vec<(String, u64)>,
    /// Subdirectories: node log directories first, then `elle/`, `independent/` and others.
    pub dirs: Vec<DirListing>,
}

/// A subdirectory of a run and some of the files under it.
#[derive(Debug)]
pub struct DirListing {
    /// Its name in the run directory.
    pub name: String,
    /// Files under it (paths relative to it, sizes), at most a hundred.
    pub files: Vec<(String, u64)>,
    /// Whether more files were left out.
    pub cut: bool,
}

fn meta_table(view: &RunView) -> Markup {
    let s = &view.summary;
    let t = view.test_json.as_ref();
    let field = |k: &str| {
        t.and_then(|t| t.get(k)).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    html! {
        table {
            tr { th { "Test" } td { (s.test) } }
            tr { th { "Started" } td { (pretty_time(&s.time)) } }
            tr { th { "Duration" } td {
                @if let Some(d) = s.duration_ms() { (pretty_duration(d)) }
                @else { "no end-time (the run did not finish)" }
            } }
            tr { th { "Operations" } td { (or_dash(s.op_count)) } }
            @for k in ["nodes", "concurrency", "seed", "argv", "spec", "rift-version"] {
                @if let Some(v) = field(k) { tr { th { (k) } td { code { (v) } } } }
            }
            @if let Some(n) = &s.note { tr { th { "Note" } td class="note" { (n) } } }
        }
    }
}

fn results_section(view: &RunView, base: &str) -> Markup {
    html! {
        h2 id="results" { "Results" }
        @match &view.results {
            ResultsView::Missing => p {
                "No results.json: the run is incomplete (it crashed, was killed, or is still running)."
            },
            ResultsView::TooBig(n) => p {
                "results.json is " (pretty_size(*n)) ", too large to show here: "
                a href=(file_url(&format!("{base}/results.json"))) { "open it raw" } "."
            },
            ResultsView::Unreadable(e) => p class="note" { "results.json is not valid JSON: " (e) },
            ResultsView::Shown(r) => {
                @if !r.anomaly_types.is_empty() {
                    p {
                        "Anomaly types: "
                        @for a in &r.anomaly_types { span class="badge invalid" { (a) } " " }
                    }
                }
                @if !r.flagged.is_empty() {
                    p { "Checkers that are not valid:" }
                    ul class="flat" id="flagged" {
                        @for f in &r.flagged {
                            li { (badge(f.verdict)) " " a href={ "#" (f.anchor) } { code { (f.path) } } }
                        }
                    }
                }
                pre class="json" { (PreEscaped(&r.html)) }
            }
        }
    }
}

fn files_section(view: &RunView, base: &str) -> Markup {
    let has = |n: &str| view.files.iter().any(|(f, _)| f == n);
    let url = |rel: &str| file_url(&format!("{base}/{rel}"));
    html! {
        h2 { "Files" }
        ul class="flat" {
            @if has("timeline.html") {
                li { a id="timeline" href=(url("timeline.html")) { "Timeline" } }
            }
            @if has("results.json") {
                li { a id="results-raw" href=(url("results.json")) { "results.json" } " (raw)" }
            }
            @for (name, kind) in [("history.jsonl", "JSONL"), ("history.edn", "EDN")] {
                @if has(name) {
                    li { "History (" (kind) "): " a download=(name) href=(url(name)) { (name) } }
                }
            }
            @if has("rift.log") { li { a href=(url("rift.log")) { "rift.log" } } }
            li { a id="tar" href={ "/tar/" (enc_path(base)) } { "Download the whole run (.tar)" } }
        }
        table {
            thead { tr { th { "File" } th { "Size" } } }
            tbody {
                @for (name, len) in &view.files {
                    tr { td { a href=(url(name)) { (name) } } td class="num" { (pretty_size(*len)) } }
                }
                @for DirListing { name: dir, files: entries, cut } in &view.dirs {
                    tr { td { a href={ (url(dir)) "/" } { strong { (dir) "/" } } } td {} }
                    @for (rel, len) in entries {
                        tr {
                            td { "\u{a0}\u{a0}" a href=(url(&format!("{dir}/{rel}"))) { (dir) "/" (rel) } }
                            td class="num" { (pretty_size(*len)) }
                        }
                    }
                    @if *cut {
                        tr {
                            td class="muted" { "\u{a0}\u{a0}... more in " a href={ (url(dir)) "/" } { (dir) "/" } }
                            td {}
                        }
                    }
                }
            }
        }
    }
}

/// A run's page: verdict banner, metadata, failing checkers, plots, files, results.
pub fn run_page(view: &RunView) -> Markup {
    let s = &view.summary;
    let base = format!("{}/{}", s.test, s.time);
    let url = |rel: &str| file_url(&format!("{base}/{rel}"));
    let svg_of = |png: &str| {
        let svg = format!("{}.svg", png.trim_end_matches(".png"));
        view.files.iter().any(|(f, _)| *f == svg).then_some(svg)
    };
    let body = html! {
        h1 { (s.test) " " span class="muted" { (pretty_time(&s.time)) } }
        div class={ "banner " (s.verdict.as_str()) } id="verdict" {
            @match s.verdict {
                Verdict::Valid => "Everything looks good!",
                Verdict::Invalid => "Analysis invalid!",
                Verdict::Unknown => "Errors occurred during analysis, but no anomalies found (unknown).",
                Verdict::Incomplete => "Incomplete: no results.json.",
            }
        }
        (meta_table(view))
        @if let ResultsView::Shown(r) = &view.results {
            @if !r.flagged.is_empty() {
                p { a href="#flagged" { (r.flagged.len()) " checker result(s) not valid" } }
            }
        }
        @if !view.plots.is_empty() {
            h2 { "Plots" }
            div class="plots" {
                @for p in &view.plots {
                    figure {
                        a href=(url(p)) { img src=(url(p)) alt=(p) loading="lazy"; }
                        figcaption class="muted" {
                            (p)
                            @if let Some(svg) = svg_of(p) { " (" a href=(url(&svg)) { "svg" } ")" }
                        }
                    }
                }
            }
        }
        (files_section(view, &base))
        (results_section(view, &base))
    };
    layout(&format!("{} {}", s.test, s.time), body)
}

/// A directory under the store: its entries (symlinks skipped), directories first.
pub fn dir_page(rel: &str, entries: &[(String, bool, u64)]) -> Markup {
    let rel = rel.trim_matches('/');
    let parent = rel.rsplit_once('/').map(|(p, _)| p);
    let join = |name: &str| {
        if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        }
    };
    let body = html! {
        h1 { "/" (rel) }
        p {
            @if let Some(p) = parent { a href={ (file_url(p)) "/" } { "up" } }
            @else { a href="/" { "index" } }
        }
        @if entries.is_empty() { p class="muted" { "Empty." } }
        @else {
            table {
                thead { tr { th { "Name" } th { "Size" } } }
                tbody {
                    @for (name, is_dir, len) in entries {
                        tr {
                            @if *is_dir { td { a href={ (file_url(&join(name))) "/" } { (name) "/" } } td {} }
                            @else {
                                td { a href=(file_url(&join(name))) { (name) } }
                                td class="num" { (pretty_size(*len)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(&format!("/{rel}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_sizes() {
        assert_eq!(enc("a b/c%"), "a%20b%2Fc%25");
        assert_eq!(
            enc_path("t/20261122T013649.717/n 1"),
            "t/20261122T013649.717/n%201"
        );
        assert_eq!(pretty_size(512), "512 B");
        assert_eq!(pretty_size(1536), "1.5 KiB");
        assert_eq!(pretty_size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(
            index_url("a&b", Some(Verdict::Invalid), 2),
            "/?q=a%26b&verdict=invalid&page=3"
        );
        assert_eq!(index_url("", None, 0), "/");
    }
}
