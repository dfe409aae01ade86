//! Cycle plots: graphviz `dot` when it is on PATH, our own layout otherwise or when `dot`
//! fails in any way.

use rift_elle::cycles::Cycle;
use rift_elle::graph::RW;
use rift_elle::notation::parse_history;
use rift_elle::plot::{dot_source, dot_svg, find_dot, layout_svg, svg_with};
use rift_elle::report::Ctx;
use rift_elle::{analyze, txn, Options, Workload};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Write skew: T1 and T2 each read the key the other appends to, as empty.
const SKEW: &str = "ax1 ry | ay1 rx";

fn skew_cycle() -> Cycle {
    Cycle {
        ty: "G2-item".into(),
        txns: vec![0, 1],
        rels: vec![RW, RW],
    }
}

/// A temporary executable shell script.
fn script(name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("rift-elle-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn analysis_plots_each_cycle() {
    let h = parse_history(SKEW).unwrap();
    let a = analyze(Workload::ListAppend, &h, &Options::default(), true);
    assert_eq!(a.plots.len(), 1);
    let (stem, svg) = &a.plots[0];
    assert_eq!(stem, "G2-item-0");
    assert!(svg.contains("<svg") && svg.contains("rw"), "{svg}");
}

#[test]
fn own_layout_and_dot_source() {
    let h = parse_history(SKEW).unwrap();
    let txns = txn::parse(&h).unwrap();
    let ctx = Ctx {
        history: &h,
        txns: &txns,
    };
    let c = skew_cycle();
    let svg = layout_svg(&ctx, &c);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("<path ").count(), 2);
    assert_eq!(svg.matches(">rw</text>").count(), 2);
    assert!(svg.contains(">T1 (op 2)</text>") && svg.contains(">T2 (op 3)</text>"));
    let dot = dot_source(&ctx, &c);
    assert!(dot.starts_with("digraph \"G2-item\" {"), "{dot}");
    assert!(dot.contains("t0 -> t1 [label=\"rw\""), "{dot}");
    assert!(dot.contains("t1 -> t0 [label=\"rw\""), "{dot}");
    assert!(
        dot.contains("t0 [label=\"T1 (op 2, process 0)\\n[[:append :x 1] [:r :y nil]]\"];"),
        "{dot}"
    );
    // No dot: our layout, and no error.
    let p = svg_with(&ctx, &c, None);
    assert!(!p.by_dot && p.dot_error.is_none());
    assert_eq!(p.svg, svg);
}

#[test]
fn dot_failures_fall_back_to_own_layout() {
    let src = "digraph g { a -> b }";
    let t = Duration::from_secs(5);
    let e = dot_svg(Path::new("/nonexistent/dot"), src, t).unwrap_err();
    assert!(e.starts_with("cannot start"), "{e}");
    let e = dot_svg(&script("fails", "echo boom >&2; exit 3"), src, t).unwrap_err();
    assert!(e.contains("boom") && e.contains('3'), "{e}");
    let e = dot_svg(&script("prints", "cat >/dev/null; echo hello"), src, t).unwrap_err();
    assert_eq!(e, "dot printed no SVG");
    let start = Instant::now();
    let slow = script("hangs", "exec sleep 30");
    let e = dot_svg(&slow, src, Duration::from_millis(300)).unwrap_err();
    assert!(e.contains("timed out"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(20), // the fake dot sleeps 30 s
        "{:?}",
        start.elapsed()
    );
    // A fake dot that passes its input through as "SVG" shows what we feed it.
    let echo = script("echo", "echo '<svg>'; cat");
    assert_eq!(
        dot_svg(&echo, src, t).unwrap(),
        "<svg>\ndigraph g { a -> b }"
    );
    // Through svg_with: a failing dot gives our layout plus the reason.
    let h = parse_history(SKEW).unwrap();
    let txns = txn::parse(&h).unwrap();
    let ctx = Ctx {
        history: &h,
        txns: &txns,
    };
    let p = svg_with(&ctx, &skew_cycle(), Some(&failing_dot()));
    assert!(!p.by_dot);
    assert!(p.dot_error.unwrap().contains("boom"));
    assert_eq!(p.svg, layout_svg(&ctx, &skew_cycle()));
}

fn failing_dot() -> PathBuf {
    script("fails2", "echo boom >&2; exit 1")
}

#[test]
fn graphviz_dot_draws_the_cycle() {
    let Some(dot) = find_dot() else {
        eprintln!("skipped: no `dot` binary on PATH (install graphviz to test the dot path)");
        return;
    };
    let h = parse_history(SKEW).unwrap();
    let txns = txn::parse(&h).unwrap();
    let ctx = Ctx {
        history: &h,
        txns: &txns,
    };
    let p = svg_with(&ctx, &skew_cycle(), Some(&dot));
    assert!(p.by_dot, "{:?}", p.dot_error);
    assert!(
        p.svg.contains("<svg") && p.svg.contains("graphviz"),
        "{}",
        p.svg
    );
    assert!(p.svg.contains(">T1 (op 2, process 0)</text>"), "{}", p.svg);
    assert_eq!(p.svg.matches(">rw</text>").count(), 2, "{}", p.svg);
}

/// The explanations of a write skew name the initial state the same way in both workloads.
#[test]
fn explanations_name_the_initial_state_alike() {
    for (workload, history, what) in [
        (Workload::ListAppend, SKEW, "in its initial state (empty)"),
        (
            Workload::RwRegister,
            "wx1 ry | wy1 rx",
            "in its initial state (nil)",
        ),
    ] {
        let h = parse_history(history).unwrap();
        let a = analyze(workload, &h, &Options::default(), false);
        let text = a.texts.values().flatten().cloned().collect::<String>();
        assert!(text.contains(what), "{workload:?}: {text}");
    }
}
