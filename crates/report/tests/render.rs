//! Renders stored and generated histories and checks the files.

use rift_history::{write_ops_file, Format, Op, OpType, Process, Value};
use rift_report::{render, render_run, FaultSpec, ReportError, ReportOptions};
use std::path::Path;

/// Builds ops from `(time_ms, type, process, f, value)`; process -1 is the nemesis.
fn ops(spec: &[(i64, &str, i64, &str, Value)]) -> Vec<Op> {
    spec.iter()
        .enumerate()
        .map(|(i, (t, ty, p, f, v))| {
            let process = if *p < 0 {
                Process::Nemesis
            } else {
                Process::Client(*p)
            };
            let mut op = Op::new(OpType::parse(ty).unwrap(), process, Value::kw(f), v.clone());
            op.index = i as u64;
            op.time = Some(t * 1_000_000);
            op
        })
        .collect()
}

fn png_dims(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info.width, info.height)
}

fn names(report: &rift_report::Report, dir: &Path) -> Vec<String> {
    report
        .files
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// plotters writes SVG text as `<text ...>\nLABEL\n</text>`.
fn has_text(svg: &str, label: &str) -> bool {
    svg.contains(&format!(">\n{label}\n</text>"))
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn empty_history_renders_every_plot() {
    let dir = tempfile::tempdir().unwrap();
    let r = render(
        &[],
        &FaultSpec::defaults(),
        dir.path(),
        "empty",
        &ReportOptions::default(),
    )
    .unwrap();
    assert_eq!(
        names(&r, dir.path()),
        [
            "timeline.html",
            "latency-raw.png",
            "latency-quantiles.png",
            "rate.png",
            "latency-raw.svg",
            "latency-quantiles.svg",
            "rate.svg"
        ]
    );
    for p in ["latency-raw.png", "latency-quantiles.png", "rate.png"] {
        assert_eq!(png_dims(&dir.path().join(p)), (1200, 600));
    }
    assert!(read(dir.path(), "rate.svg").starts_with("<svg"));
    assert_eq!(r.summary["ops"], 0);
    assert_eq!(r.summary["duration-s"], 0.0);
    assert_eq!(r.summary["by-f"], serde_json::json!({}));
    assert_eq!(
        read(dir.path(), "timeline.html")
            .matches("class=\"op ")
            .count(),
        0
    );
}

#[test]
fn only_failures() {
    let h = ops(&[
        (0, "invoke", 0, "write", Value::Int(1)),
        (1, "invoke", 1, "write", Value::Int(2)),
        (5, "fail", 0, "write", Value::Int(1)),
        (9, "fail", 1, "write", Value::Int(2)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let opts = ReportOptions {
        width_px: 800,
        height_px: 500,
        ..ReportOptions::default()
    };
    let r = render(&h, &FaultSpec::defaults(), dir.path(), "fails", &opts).unwrap();
    assert_eq!(png_dims(&dir.path().join("latency-raw.png")), (800, 500));
    let w = &r.summary["by-f"]["write"];
    assert_eq!(w["invoke"], 2);
    assert_eq!(
        (w["ok"].clone(), w["fail"].clone(), w["info"].clone()),
        (0.into(), 2.into(), 0.into())
    );
    assert_eq!(
        w["latency-ms"],
        serde_json::json!({"p50": 5.0, "p95": 8.0, "p99": 8.0, "max": 8.0})
    );
    assert_eq!(w["ok-latency-ms"], serde_json::Value::Null);
    assert_eq!(w["rate-hz"], 222.222); // 2 completions in 9 ms
    let svg = read(dir.path(), "latency-raw.svg");
    assert!(has_text(&svg, "fail"), "legend has fail");
    assert!(!has_text(&svg, "ok"), "no ok series");
    assert!(has_text(&svg, "write"));
    assert!(svg.contains("fill=\"#D55E00\""), "fail colour");
}

fn offsets(pairs: &[(&str, f64)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(n, o)| (Value::str(n), Value::Float(*o)))
            .collect(),
    )
}

fn nemesis_history() -> Vec<Op> {
    let clock = Value::Map(vec![(
        Value::kw("clock-offsets"),
        offsets(&[("n1", 0.0), ("n2", 0.0)]),
    )]);
    let mut history = ops(&[
        (0, "invoke", 0, "read", Value::Nil),
        (10, "ok", 0, "read", Value::Int(1)),
        (100, "invoke", -1, "start-partition", Value::kw("majority")),
        (110, "info", -1, "start-partition", Value::Nil),
        (
            150,
            "invoke",
            1,
            "write",
            Value::str("<script>alert('x')</script>"),
        ),
        (300, "invoke", -1, "stop-partition", Value::Nil),
        (320, "info", -1, "stop-partition", Value::Nil),
        (350, "info", 1, "write", Value::Nil),
        (400, "invoke", -1, "kill", Value::Nil),
        (410, "info", -1, "kill", Value::Nil),
        (500, "invoke", -1, "start", Value::Nil),
        (520, "info", -1, "start", Value::Nil),
        (600, "invoke", -1, "bump", Value::Nil),
        (
            610,
            "info",
            -1,
            "bump",
            offsets(&[("n1", 0.25), ("n2", -1.5)]),
        ),
        (700, "invoke", -1, "bitflip", Value::Nil),
        (705, "info", -1, "bitflip", Value::Nil),
        (800, "invoke", -1, "reset", Value::Nil),
        (
            810,
            "info",
            -1,
            "reset",
            offsets(&[("n1", 0.0), ("n2", 0.0)]),
        ),
        (900, "invoke", 2, "read", Value::Nil),
        (950, "info", -1, "check-offsets", clock),
        (990, "ok", 2, "read", Value::Int(1)),
        (1000, "invoke", 0, "read", Value::Nil),
    ]);
    // As the clock nemesis records them: the op keeps its value (a bump's deltas in ms), the
    // measured offsets ride in the extra field `clock-offsets`.
    for op in history.iter_mut() {
        if op.ty == OpType::Info && (op.f_name() == "bump" || op.f_name() == "reset") {
            let measured = std::mem::replace(
                &mut op.value,
                Value::Map(vec![(Value::str("n1"), Value::Int(250))]),
            );
            op.set_extra("clock-offsets", measured);
        }
    }
    history
}

#[test]
fn a_bump_value_in_ms_is_not_an_offset() {
    // Without measured offsets, a bump's value (deltas in ms) must not be plotted as skew.
    let h = ops(&[
        (0, "invoke", -1, "bump-clock", Value::Nil),
        (10, "info", -1, "bump-clock", offsets(&[("n2", 60000.0)])),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let r = render(
        &h,
        &FaultSpec::defaults(),
        dir.path(),
        "bump",
        &ReportOptions::default(),
    )
    .unwrap();
    assert_eq!(r.summary["clock-samples"], 0);
}

#[test]
fn nemesis_packages_shade_and_clock_plots() {
    let dir = tempfile::tempdir().unwrap();
    let r = render(
        &nemesis_history(),
        &FaultSpec::defaults(),
        dir.path(),
        "faulty",
        &ReportOptions::default(),
    )
    .unwrap();
    let files = names(&r, dir.path());
    assert!(files.contains(&"clock-skew.png".to_string()), "{files:?}");
    assert!(files.contains(&"clock-skew.svg".to_string()));
    assert_eq!(png_dims(&dir.path().join("clock-skew.png")), (1200, 600));
    let faults: Vec<_> = r.summary["nemesis"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["start-s"].as_f64().unwrap(),
                f["end-s"].as_f64().unwrap(),
            )
        })
        .collect();
    let expect = [
        ("partition", 0.1, 0.32),
        ("kill", 0.4, 0.52),
        ("clock", 0.6, 0.81),
        ("file-corruption", 0.7, 0.7),
    ];
    let expect: Vec<_> = expect
        .iter()
        .map(|(n, a, b)| (n.to_string(), *a, *b))
        .collect();
    assert_eq!(faults, expect);
    assert_eq!(r.summary["clock-samples"], 6);
    assert_eq!(r.summary["nemesis-ops"], 15);
    assert_eq!(r.summary["by-f"]["read"]["pending"], 1);
    for svg in [
        "latency-raw.svg",
        "latency-quantiles.svg",
        "rate.svg",
        "clock-skew.svg",
    ] {
        let s = read(dir.path(), svg);
        for label in ["partition", "kill", "clock", "file-corruption"] {
            assert!(has_text(&s, label), "{svg} lacks {label}");
        }
        assert!(!has_text(&s, "pause"), "{svg}: pause never happened");
        for fill in ["fill=\"#E9DCA0\"", "fill=\"#E9A4A0\"", "fill=\"#A6E3B8\""] {
            assert!(s.contains(fill), "{svg} lacks shading {fill}");
        }
        assert!(
            s.contains("stroke=\"#B5651D\""),
            "{svg} lacks the bitflip mark"
        );
    }
    let clock = read(dir.path(), "clock-skew.svg");
    assert!(has_text(&clock, "n1") && has_text(&clock, "n2"));
}

#[test]
fn timeline_columns_hover_and_escaping() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReportOptions::default();
    render(
        &nemesis_history(),
        &FaultSpec::defaults(),
        dir.path(),
        "t",
        &opts,
    )
    .unwrap();
    let html = read(dir.path(), "timeline.html");
    let cols: Vec<&str> = html
        .split("<div class=\"proc\"")
        .skip(1)
        .map(|s| s.split('>').nth(1).unwrap().trim_end_matches("</div"))
        .collect();
    assert_eq!(cols, ["0", "1", "2", "nemesis"]);
    assert!(!html.contains("<script"), "values are escaped");
    assert!(
        !html.contains("src=") && !html.contains("http"),
        "self-contained"
    );
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert_eq!(html.matches("class=\"op ok\"").count(), 2);
    assert_eq!(html.matches("class=\"op info\"").count(), 9);
    assert_eq!(html.matches("class=\"op pending\"").count(), 1);
    // Hover carries invocation and completion.
    assert!(html.contains("title=\"process 0, 10.000 ms&#10;{:index 0, :time 0, :type :invoke, :process 0, :f :read, :value nil}&#10;{:index 1, :time 10000000, :type :ok, :process 0, :f :read, :value 1}\""));
}

#[test]
fn timeline_pages() {
    let mut spec = Vec::new();
    for i in 0..10 {
        spec.push((i * 10, "invoke", i % 3, "read", Value::Nil));
        spec.push((i * 10 + 5, "ok", i % 3, "read", Value::Int(i)));
    }
    let h = ops(&spec);
    let dir = tempfile::tempdir().unwrap();
    let opts = ReportOptions {
        timeline_page_ops: 4,
        formats: rift_report::Formats {
            png: false,
            svg: false,
        },
        ..ReportOptions::default()
    };
    let r = render(&h, &[], dir.path(), "paged", &opts).unwrap();
    assert_eq!(
        names(&r, dir.path()),
        [
            "timeline.html",
            "timeline/page-1.html",
            "timeline/page-2.html"
        ]
    );
    let index = read(dir.path(), "timeline.html");
    assert_eq!(index.matches("class=\"op ").count(), 4);
    assert!(index.contains("<a href=\"timeline/page-2.html\">2</a>"));
    let p1 = read(dir.path(), "timeline/page-1.html");
    assert!(
        p1.contains("href=\"../timeline.html\">&larr; previous")
            && p1.contains("href=\"page-2.html\">next")
    );
    let p2 = read(dir.path(), "timeline/page-2.html");
    assert_eq!(p2.matches("class=\"op ").count(), 2);
    assert!(!p2.contains("next &rarr;"));
}

#[test]
fn render_run_reads_store_dir_with_perf_specs() {
    let dir = tempfile::tempdir().unwrap();
    let h = ops(&[
        (0, "invoke", -1, "isolate", Value::Nil),
        (5, "invoke", 0, "read", Value::Nil),
        (15, "ok", 0, "read", Value::Int(1)),
        (50, "invoke", -1, "heal", Value::Nil),
    ]);
    write_ops_file(&dir.path().join("history.jsonl"), Format::Jsonl, &h).unwrap();
    let test = r##"{"name": "custom", "perf": [{"name": "isolation", "start": ["isolate"], "stop": ["heal"], "color": "#123456"}]}"##;
    std::fs::write(dir.path().join("test.json"), test).unwrap();
    let r = render_run(dir.path(), &ReportOptions::default()).unwrap();
    assert_eq!(r.summary["nemesis"]["faults"][0]["name"], "isolation");
    assert_eq!(r.summary["nemesis"]["faults"][0]["end-s"], 0.05);
    let svg = read(dir.path(), "rate.svg");
    assert!(svg.contains("fill=\"#123456\"") && has_text(&svg, "isolation"));
    assert!(
        has_text(&svg, "custom rate (0.001 s buckets)"),
        "title has the test name"
    );
    assert!(!dir.path().join("history.jsonl.tmp").exists());
    assert!(!dir.path().join("rate.svg.tmp").exists());
}

#[test]
fn render_run_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = render_run(dir.path(), &ReportOptions::default()).unwrap_err();
    assert!(matches!(e, ReportError::NoHistory { .. }));
    assert!(
        e.to_string().contains("no history.jsonl or history.edn"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("history.jsonl"),
        "{\"type\":\"invoke\",\"process\":0}\n{\"type\":\n{}\n",
    )
    .unwrap();
    let e = render_run(dir.path(), &ReportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("history.jsonl:"), "{e}");
    std::fs::write(dir.path().join("test.json"), "{not json").unwrap();
    let e = render_run(dir.path(), &ReportOptions::default()).unwrap_err();
    assert!(matches!(e, ReportError::Test { .. }));
    assert!(e.to_string().contains("test.json"), "{e}");
    std::fs::write(
        dir.path().join("test.json"),
        r#"{"perf": [{"name": "x", "start": ["a"], "color": "blue"}]}"#,
    )
    .unwrap();
    let e = render_run(dir.path(), &ReportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("bad color"), "{e}");
}

#[test]
fn knossos_etcd_mutex_corpus_with_classic_nemesis() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/knossos/mutex/bad/etcd.edn");
    if !src.exists() {
        panic!("corpus missing: {}", src.display());
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&src, dir.path().join("history.edn")).unwrap();
    let r = render_run(dir.path(), &ReportOptions::default()).unwrap();
    assert_eq!(r.summary["ops"], 1135);
    assert_eq!(r.summary["ops-without-time"], 0);
    let faults = r.summary["nemesis"]["faults"].as_array().unwrap();
    assert!(!faults.is_empty());
    assert_eq!(faults[0]["name"], "nemesis");
    assert_eq!(faults[0]["start-s"], 5.326);
    assert_eq!(faults[0]["end-s"], 10.329);
    let s = read(dir.path(), "latency-raw.svg");
    assert!(has_text(&s, "nemesis") && has_text(&s, "acquire") && has_text(&s, "release"));
    for p in ["latency-raw.png", "latency-quantiles.png", "rate.png"] {
        assert_eq!(png_dims(&dir.path().join(p)), (1200, 600));
    }
}

#[test]
fn untimed_knossos_history_counts_without_plotting() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/knossos/cas-register/good/cas-register-bug.edn");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&src, dir.path().join("history.edn")).unwrap();
    let r = render_run(dir.path(), &ReportOptions::default()).unwrap();
    let n = r.summary["ops"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(r.summary["ops-without-time"].as_u64(), Some(n));
    assert_eq!(r.summary["duration-s"], 0.0);
    // The timeline still shows the ops, placed by index.
    let html = read(dir.path(), "timeline.html");
    assert_eq!(html.matches("class=\"op ").count() as u64, n / 2 + n % 2);
}

/// Markers (circle, rect, polygon) drawn in `color` in an SVG, whether the colour is on the
/// element or on the group around it; the legend's 12 px swatches are not markers.
fn markers(svg: &str, color: &str) -> usize {
    let fill = format!("fill=\"{color}\"");
    let mut group_fill = false;
    let mut n = 0;
    for line in svg.lines() {
        if line.starts_with("<g") {
            group_fill = line.contains(&fill);
        } else if line.starts_with("</g>") {
            group_fill = false;
        } else if ["<circle", "<rect", "<polygon"]
            .iter()
            .any(|t| line.starts_with(t))
            && (group_fill || line.contains(&fill))
            && !line.contains("width=\"12\"")
        {
            n += 1;
        }
    }
    n
}

#[test]
fn raw_latency_svg_bins_dense_ok_points_and_keeps_every_fail_and_info() {
    // 20,000 ok reads packed into a few pixels, then 300 fails and 200 infos that all land on
    // one and the same pixel.
    let mut spec = Vec::new();
    let mut t = 0;
    for i in 0..20_000 {
        spec.push((t, "invoke", 0, "read", Value::Nil));
        spec.push((t + 5 + (i % 3), "ok", 0, "read", Value::Int(1)));
        t += 1;
    }
    for (ty, n, first) in [("fail", 300, 1_000), ("info", 200, 2_000)] {
        for p in first..first + n {
            spec.push((t, "invoke", p, "read", Value::Nil));
        }
        for p in first..first + n {
            spec.push((t + 7, ty, p, "read", Value::Nil));
        }
    }
    let h = ops(&spec);
    let dir = tempfile::tempdir().unwrap();
    render(
        &h,
        &FaultSpec::defaults(),
        dir.path(),
        "dense",
        &ReportOptions::default(),
    )
    .unwrap();
    let svg = read(dir.path(), "latency-raw.svg");
    assert_eq!(markers(&svg, "#D55E00"), 300, "every fail is drawn");
    assert_eq!(markers(&svg, "#E69F00"), 200, "every info is drawn");
    let ok = markers(&svg, "#0072B2");
    assert!(ok > 0 && ok < 2_000, "ok points binned: {ok}");
    assert!(svg.contains(&format!("SVG shows {} of 20500 points", ok + 500)));
}
