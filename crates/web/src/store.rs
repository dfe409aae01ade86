//! Reading the store: which runs exist, their cheap summaries (cached), and safe paths.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// The verdict of a run as the index shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `"valid?": true` in `results.json`.
    Valid,
    /// `"valid?": false`.
    Invalid,
    /// `"valid?": "unknown"` (or any other value, or an unreadable `results.json`).
    Unknown,
    /// No `results.json`: the run crashed or is still going.
    Incomplete,
}

impl Verdict {
    /// Every verdict, in the order the index counts them.
    pub const ALL: [Verdict; 4] = [
        Verdict::Valid,
        Verdict::Invalid,
        Verdict::Unknown,
        Verdict::Incomplete,
    ];

    /// The word used in pages, CSS classes and the `verdict=` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
            Verdict::Incomplete => "incomplete",
        }
    }

    /// Parses [`Verdict::as_str`]'s words, plus Jepsen's `true`/`false`.
    pub fn parse(word: &str) -> Option<Verdict> {
        match word.trim().to_ascii_lowercase().as_str() {
            "valid" | "true" => Some(Verdict::Valid),
            "invalid" | "false" => Some(Verdict::Invalid),
            "unknown" => Some(Verdict::Unknown),
            "incomplete" => Some(Verdict::Incomplete),
            _ => None,
        }
    }

    /// The verdict of a `valid?` value: `true`, `false`, anything else is unknown.
    pub fn of_valid(value: Option<&Value>) -> Verdict {
        match value {
            Some(Value::Bool(true)) => Verdict::Valid,
            Some(Value::Bool(false)) => Verdict::Invalid,
            _ => Verdict::Unknown,
        }
    }
}

/// What the index knows about one run, read from `test.json` and the top of `results.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The test name (the directory under the store).
    pub test: String,
    /// The run directory's name, `YYYYMMDDTHHMMSS.mmm`.
    pub time: String,
    /// `start-time` from `test.json`, unix milliseconds.
    pub start_time_ms: Option<i64>,
    /// `end-time` from `test.json`, unix milliseconds; absent for a crashed run.
    pub end_time_ms: Option<i64>,
    /// `op-count` from `test.json`.
    pub op_count: Option<u64>,
    /// The top-level `valid?` of `results.json`.
    pub verdict: Verdict,
    /// Why something could not be read (a broken `test.json`, an unreadable `results.json`).
    pub note: Option<String>,
}

impl RunSummary {
    /// `end-time - start-time` in milliseconds, when both are known and ordered.
    pub fn duration_ms(&self) -> Option<i64> {
        match (self.start_time_ms, self.end_time_ms) {
            (Some(s), Some(e)) if e >= s => Some(e - s),
            _ => None,
        }
    }
}

/// Why a path from a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    /// `..`, `.`, an absolute path, a backslash or a NUL: 400.
    BadPath,
    /// Missing, or (after following symlinks) outside the store: 404.
    NotFound,
}

/// A file's identity for the cache: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The store directory, with a cache of run summaries keyed by the stamps of `test.json` and
/// `results.json` (a rewritten or newly written file is read again; nothing else is).
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    cache: Mutex<HashMap<PathBuf, (Stamp, Stamp, RunSummary)>>,
}

impl Store {
    /// A store at `root`; nothing is read yet.
    pub fn new(root: PathBuf) -> Store {
        Store {
            root,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The directory as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All runs, newest first (by run directory name, then test name). Symlinks (`latest`),
    /// hidden entries and plain files are skipped; unreadable directories are skipped too.
    pub fn runs(&self) -> io::Result<Vec<RunSummary>> {
        let mut dirs = Vec::new();
        for test in real_dirs(&self.root)? {
            let Ok(times) = real_dirs(&self.root.join(&test)) else {
                continue;
            };
            dirs.extend(times.into_iter().map(|time| (test.clone(), time)));
        }
        dirs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(dirs.len());
        let mut seen = HashMap::with_capacity(dirs.len());
        for (test, time) in dirs {
            let dir = self.root.join(&test).join(&time);
            let summary = cached_summary(&mut cache, &dir, test, time);
            seen.insert(dir, ());
            out.push(summary);
        }
        cache.retain(|k, _| seen.contains_key(k));
        Ok(out)
    }

    /// The summary of one run, or `None` when its directory does not exist (or is refused).
    pub fn run(&self, test: &str, time: &str) -> Option<RunSummary> {
        let dir = self.run_dir(test, time).ok()?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        Some(cached_summary(
            &mut cache,
            &dir,
            test.to_string(),
            time.to_string(),
        ))
    }

    /// The directory of one run, checked like [`Store::resolve`] and required to be a directory.
    pub fn run_dir(&self, test: &str, time: &str) -> Result<PathBuf, PathRefusal> {
        if test.contains('/') || time.contains('/') {
            return Err(PathRefusal::BadPath);
        }
        let dir = self.resolve(&format!("{test}/{time}"))?;
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(PathRefusal::NotFound)
        }
    }

    /// Maps a relative path from a URL (already percent-decoded) to a path inside the store.
    /// Refuses `..`, `.`, absolute paths, backslashes and NULs ([`PathRefusal::BadPath`]), and
    /// anything missing or whose real path (symlinks followed) leaves the store
    /// ([`PathRefusal::NotFound`]).
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, PathRefusal> {
        if rel.starts_with('/') || rel.contains('\\') || rel.contains('\0') {
            return Err(PathRefusal::BadPath);
        }
        let mut path = self.root.clone();
        for seg in rel.split('/').filter(|s| !s.is_empty()) {
            if seg == ".." || seg == "." {
                return Err(PathRefusal::BadPath);
            }
            path.push(seg);
        }
        let root = self
            .root
            .canonicalize()
            .map_err(|_| PathRefusal::NotFound)?;
        let real = path.canonicalize().map_err(|_| PathRefusal::NotFound)?;
        if real.starts_with(&root) {
            Ok(real)
        } else {
            Err(PathRefusal::NotFound)
        }
    }
}

/// Names of the real (not symlinked), non-hidden subdirectories of `dir`, unsorted.
pub fn real_dirs(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let Ok(ft) = entry.file_type() else { continue };
        if !ft.is_dir() {
            continue; // symlinks report is_symlink, not is_dir
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.starts_with('.') {
            out.push(name);
        }
    }
    Ok(out)
}

fn cached_summary(
    cache: &mut HashMap<PathBuf, (Stamp, Stamp, RunSummary)>,
    dir: &Path,
    test: String,
    time: String,
) -> RunSummary {
    let test_stamp = stamp(&dir.join("test.json"));
    let results_stamp = stamp(&dir.join("results.json"));
    if let Some((t, r, summary)) = cache.get(dir) {
        if *t == test_stamp && *r == results_stamp {
            return summary.clone();
        }
    }
    let summary = read_summary(dir, test, time);
    cache.insert(
        dir.to_path_buf(),
        (test_stamp, results_stamp, summary.clone()),
    );
    summary
}

/// Finds the top-level `valid?` of a results document and stops reading there: rift writes it
/// as the first key, so only the first buffer of a multi-megabyte `results.json` is read. Keys
/// before it are skipped without being built.
struct FindValid<'a>(&'a mut Option<Value>);

impl<'de> Visitor<'de> for FindValid<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "valid?" {
                *self.0 = Some(map.next_value::<Value>()?);
                return Ok(());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// The top-level `valid?` of a results document read from `reader` (`Ok(None)` when the
/// object has none), reading no further than that key.
pub fn read_valid<R: io::Read>(reader: R) -> Result<Option<Value>, serde_json::Error> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    // Stopping early leaves the parser inside the object, so it reports the object as
    // unfinished; what was found before that stands.
    let result = serde::Deserializer::deserialize_map(&mut de, FindValid(&mut found));
    match (found, result) {
        (Some(v), _) => Ok(Some(v)),
        (None, Ok(())) => Ok(None),
        (None, Err(e)) => Err(e),
    }
}

/// Reads a run's summary from its directory, never failing: problems become notes.
pub fn read_summary(dir: &Path, test: String, time: String) -> RunSummary {
    let mut summary = RunSummary {
        test,
        time,
        start_time_ms: None,
        end_time_ms: None,
        op_count: None,
        verdict: Verdict::Incomplete,
        note: None,
    };
    let mut notes = Vec::new();
    match fs::read(dir.join("test.json")) {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => {
                summary.start_time_ms = v.get("start-time").and_then(Value::as_i64);
                summary.end_time_ms = v.get("end-time").and_then(Value::as_i64);
                summary.op_count = v.get("op-count").and_then(Value::as_u64);
            }
            Err(e) => notes.push(format!("test.json unreadable: {e}")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => notes.push("no test.json".into()),
        Err(e) => notes.push(format!("test.json unreadable: {e}")),
    }
    match fs::File::open(dir.join("results.json")) {
        Ok(file) => {
            let reader = BufReader::with_capacity(64 * 1024, file);
            match read_valid(reader) {
                Ok(v) => summary.verdict = Verdict::of_valid(v.as_ref()),
                Err(e) => {
                    summary.verdict = Verdict::Unknown;
                    notes.push(format!("results.json unreadable: {e}"));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            summary.verdict = Verdict::Unknown;
            notes.push(format!("results.json unreadable: {e}"));
        }
    }
    if !notes.is_empty() {
        summary.note = Some(notes.join("; "));
    }
    summary
}

/// `20261122T013649.717` as `2026-11-22 01:36:49.717`; any other name unchanged.
pub fn pretty_time(name: &str) -> String {
    let b = name.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() >= 15 && digits(0..8) && b[8] == b'T' && digits(9..15) {
        format!(
            "{}-{}-{} {}:{}:{}{}",
            &name[0..4],
            &name[4..6],
            &name[6..8],
            &name[9..11],
            &name[11..13],
            &name[13..15],
            &name[15..]
        )
    } else {
        name.to_string()
    }
}

/// A duration for people: `850 ms`, `3.02 s`, `2 min 5 s`, `1 h 3 min`.
pub fn pretty_duration(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.2} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            pretty_time("20261122T013649.717"),
            "2026-11-22 01:36:49.717"
        );
        assert_eq!(pretty_time("odd-name"), "odd-name");
        assert_eq!(pretty_duration(850), "850 ms");
        assert_eq!(pretty_duration(3022), "3.02 s");
        assert_eq!(pretty_duration(125_000), "2 min 5 s");
        assert_eq!(pretty_duration(3_780_000), "1 h 3 min");
    }

    #[test]
    fn valid_is_read_without_reading_the_rest() {
        let first = "{\"valid?\": false, \"elle\": {\"valid?\": true}, this is not json";
        assert_eq!(
            read_valid(first.as_bytes()).unwrap(),
            Some(Value::Bool(false))
        );
        let last =
            "{\"a\": {\"valid?\": true, \"x\": [1, {\"y\": null}]}, \"valid?\": \"unknown\"}";
        assert_eq!(
            read_valid(last.as_bytes()).unwrap(),
            Some(Value::from("unknown"))
        );
        assert_eq!(read_valid("{\"a\": 1}".as_bytes()).unwrap(), None);
        assert!(read_valid("{\"a\": ".as_bytes()).is_err());
        assert!(read_valid("[true]".as_bytes()).is_err());
    }

    #[test]
    fn verdict_words() {
        assert_eq!(Verdict::parse("false"), Some(Verdict::Invalid));
        assert_eq!(Verdict::parse(" Valid "), Some(Verdict::Valid));
        assert_eq!(Verdict::parse("nope"), None);
        let unknown = Value::String("unknown".into());
        assert_eq!(Verdict::of_valid(Some(&unknown)), Verdict::Unknown);
        assert_eq!(Verdict::of_valid(None), Verdict::Unknown);
    }
}
