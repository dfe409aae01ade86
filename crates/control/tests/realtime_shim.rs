//! rift's wall-clock shim (`rift_control::clock::realtime_shim_in`), built with the machine's C
//! compiler and run under real programs: `date` (C library clock reads) and, when Java is
//! installed, a JVM (its unified-logging timestamps read `CLOCK_REALTIME`). Each test prints
//! why it skips when the compiler or Java is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rift_control::clock::{format_offset, realtime_shim_in, SHIM_FILE_VAR};

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs `program args` under the shim with `offset_file` and returns its standard output.
fn under_shim(lib: &Path, offset_file: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("LD_PRELOAD", lib)
        .env(SHIM_FILE_VAR, offset_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `date`'s view of the clock minus the real time, in seconds.
fn date_offset(lib: &Path, file: &Path) -> f64 {
    let before = now();
    let text = under_shim(lib, file, "date", &["+%s.%N"]);
    let after = now();
    text.trim().parse::<f64>().unwrap() - (before + after) / 2.0
}

fn shim() -> Option<(tempfile::TempDir, PathBuf)> {
    if !have("cc") && !have("gcc") {
        println!("skipped: no C compiler (cc or gcc) to build the shim");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = realtime_shim_in(dir.path()).unwrap();
    Some((dir, lib))
}

#[test]
fn date_sees_the_offset_file_and_nothing_else_breaks() {
    let Some((dir, lib)) = shim() else { return };
    // Built once: the second call finds the same file.
    assert_eq!(realtime_shim_in(dir.path()).unwrap(), lib);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    let file = dir.path().join("faketime");
    // No file yet: no offset.
    assert!(date_offset(&lib, &file).abs() < 0.5);
    for (text, want) in [
        (format_offset(100.0), 100.0),
        (format_offset(-2.5), -2.5),
        ("+2m\n".to_string(), 120.0),
        ("-1h".to_string(), -3600.0),
        // Not an offset: ignored, so no offset for a fresh process.
        ("2020-01-01 00:00:00".to_string(), 0.0),
        ("garbage".to_string(), 0.0),
    ] {
        std::fs::write(&file, &text).unwrap();
        let got = date_offset(&lib, &file);
        assert!((got - want).abs() < 0.5, "{text:?}: date is off by {got} s");
    }
    // Monotonic clocks stay real: a sleep under a -1 h offset still ends (libfaketime's
    // wrapped waits are what break JVMs; the shim wraps none).
    std::fs::write(&file, "-3600").unwrap();
    let start = Instant::now();
    under_shim(&lib, &file, "sleep", &["0.2"]);
    assert!(start.elapsed().as_secs_f64() >= 0.15);
}

/// The first `[2026-12-04T18:47:26.106+0000]` timestamp of a JVM's unified log, in seconds
/// since the epoch.
fn jvm_log_time(text: &str) -> Option<f64> {
    let start = text.find('[')? + 1;
    let stamp = &text[start..start + 23];
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split([':', '.']).map(|p| p.parse::<i64>());
    let (hh, mm, ss, ms) = (
        t.next()?.ok()?,
        t.next()?.ok()?,
        t.next()?.ok()?,
        t.next()?.ok()?,
    );
    // Days from the civil date (Howard Hinnant's algorithm), UTC as the log's +0000 says.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) as f64 + ms as f64 / 1000.0)
}

#[test]
fn a_jvm_sees_the_offset() {
    if !have("java") {
        println!("skipped: no java on this machine");
        return;
    }
    let Some((dir, lib)) = shim() else { return };
    let file = dir.path().join("faketime");
    std::fs::write(&file, format_offset(-7200.0)).unwrap();
    let args = ["-Xlog:gc:stdout:time", "-XX:+UseG1GC", "-version"];
    let before = now();
    let text = under_shim(&lib, &file, "java", &args);
    let after = now();
    let seen = jvm_log_time(&text).unwrap_or_else(|| panic!("no timestamp in {text:?}"));
    let off = seen - (before + after) / 2.0;
    assert!(
        (off + 7200.0).abs() < (after - before) + 1.0,
        "the JVM's clock is off by {off} s, not -7200 s: {text:?}"
    );
}
