//! Validity, check results, the context a checker runs in, and the [`Checker`] trait.

use crate::Error;
use rift_history::History;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value as Json};
use std::fmt;
use std::path::{Path, PathBuf};

/// The verdict of a check: Jepsen's `:valid?`, which is `true`, `false` or `:unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Validity {
    /// The history satisfies the property.
    True,
    /// The history violates the property.
    False,
    /// The checker could not decide (nothing to check, budget spent, malformed input).
    Unknown,
}

impl Validity {
    /// Jepsen's `merge-valid` of two verdicts: `False` beats `Unknown` beats `True`.
    pub fn merge(a: Validity, b: Validity) -> Validity {
        if a.priority() >= b.priority() {
            a
        } else {
            b
        }
    }

    /// Merges any number of verdicts; the merge of none is `True`.
    pub fn merge_all(vs: impl IntoIterator<Item = Validity>) -> Validity {
        vs.into_iter().fold(Validity::True, Validity::merge)
    }

    fn priority(self) -> u8 {
        match self {
            Validity::True => 0,
            Validity::Unknown => 1,
            Validity::False => 2,
        }
    }

    /// `True` for `true`, `False` for `false`.
    pub fn from_bool(b: bool) -> Validity {
        if b {
            Validity::True
        } else {
            Validity::False
        }
    }

    /// The JSON form: `true`, `false` or `"unknown"`.
    pub fn to_json(self) -> Json {
        match self {
            Validity::True => Json::Bool(true),
            Validity::False => Json::Bool(false),
            Validity::Unknown => Json::String("unknown".into()),
        }
    }

    /// Reads the JSON form (`"true"`/`"false"` strings and Jepsen's `":unknown"` are accepted).
    pub fn from_json(v: &Json) -> Option<Validity> {
        match v {
            Json::Bool(b) => Some(Validity::from_bool(*b)),
            Json::String(s) => match s.trim_start_matches(':') {
                "unknown" => Some(Validity::Unknown),
                "true" => Some(Validity::True),
                "false" => Some(Validity::False),
                _ => None,
            },
            _ => None,
        }
    }
}

impl FromIterator<Validity> for Validity {
    fn from_iter<I: IntoIterator<Item = Validity>>(iter: I) -> Validity {
        Validity::merge_all(iter)
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validity::True => "true",
            Validity::False => "false",
            Validity::Unknown => "unknown",
        })
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::True => s.serialize_bool(true),
            Validity::False => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Validity, D::Error> {
        let v = Json::deserialize(d)?;
        Validity::from_json(&v).ok_or_else(|| {
            serde::de::Error::custom(format!("expected true, false or \"unknown\", got {v}"))
        })
    }
}

/// What a checker found: a verdict, the anomaly types behind it, and Jepsen-style details.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// The verdict.
    pub valid: Validity,
    /// Anomaly/error type names found, e.g. `["lost", "unexpected"]`, sorted, deduplicated.
    pub anomaly_types: Vec<String>,
    /// Everything else, Jepsen-style kebab-case keys (`"lost-count"`, `"ok-count"`, ...).
    pub details: Map<String, Json>,
}

impl CheckResult {
    /// A valid result with no details.
    pub fn valid() -> CheckResult {
        CheckResult::with_validity(Validity::True)
    }

    /// An invalid result naming the anomaly types found (sorted and deduplicated here).
    pub fn invalid<S: Into<String>>(types: impl IntoIterator<Item = S>) -> CheckResult {
        let mut r = CheckResult::with_validity(Validity::False);
        r.add_anomalies(types);
        r
    }

    /// Valid when `types` is empty, else invalid with those anomaly types.
    pub fn from_anomalies<S: Into<String>>(types: Vec<S>) -> CheckResult {
        if types.is_empty() {
            CheckResult::valid()
        } else {
            CheckResult::invalid(types)
        }
    }

    /// An undecided result; the reason goes to the `"error"` detail, as Jepsen's `check-safe`.
    pub fn unknown(reason: impl Into<String>) -> CheckResult {
        CheckResult::with_validity(Validity::Unknown).with("error", reason.into())
    }

    /// A result with this verdict and nothing else.
    pub fn with_validity(valid: Validity) -> CheckResult {
        CheckResult {
            valid,
            anomaly_types: Vec::new(),
            details: Map::new(),
        }
    }

    /// Adds a detail (replacing an existing key).
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> CheckResult {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Adds anomaly type names, keeping the list sorted and deduplicated.
    pub fn add_anomalies<S: Into<String>>(&mut self, types: impl IntoIterator<Item = S>) {
        self.anomaly_types.extend(types.into_iter().map(Into::into));
        self.anomaly_types.sort();
        self.anomaly_types.dedup();
    }

    /// A detail by key.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.details.get(key)
    }

    /// The result as a JSON object: `"valid?"`, then `"anomaly-types"` (omitted when empty),
    /// then the details. The keys are inserted in that order; a `serde_json::Map` keeps it only
    /// when serde_json's `preserve_order` feature is on, so use [`CheckResult::to_json_string`]
    /// or [`CheckResult::to_json_pretty`] for text that always starts with `"valid?"`.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("valid?".into(), self.valid.to_json());
        if !self.anomaly_types.is_empty() {
            m.insert("anomaly-types".into(), self.anomaly_types.clone().into());
        }
        for (k, v) in &self.details {
            if k != "valid?" && k != "anomaly-types" {
                m.insert(k.clone(), v.clone());
            }
        }
        Json::Object(m)
    }

    /// Compact JSON text; in every object (nested results too) `"valid?"` comes first and
    /// `"anomaly-types"` second.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(&Ordered(&self.to_json())).unwrap_or_default()
    }

    /// Indented JSON text, ordered like [`CheckResult::to_json_string`] (for `results.json`).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&Ordered(&self.to_json())).unwrap_or_default()
    }

    /// Reads a result back from its JSON object (`results.json`, elle-cli output).
    pub fn from_json(v: &Json) -> Result<CheckResult, Error> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::BadResult(format!("expected a JSON object, got {v}")))?;
        let valid = obj
            .get("valid?")
            .ok_or_else(|| Error::BadResult("no \"valid?\" key".into()))?;
        let valid = Validity::from_json(valid)
            .ok_or_else(|| Error::BadResult(format!("bad \"valid?\" value {valid}")))?;
        let mut r = CheckResult::with_validity(valid);
        if let Some(types) = obj.get("anomaly-types") {
            let types = types
                .as_array()
                .ok_or_else(|| Error::BadResult("\"anomaly-types\" is not an array".into()))?;
            let names = types.iter().map(|t| match t {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
            r.add_anomalies(names);
        }
        for (k, v) in obj {
            if k != "valid?" && k != "anomaly-types" {
                r.details.insert(k.clone(), v.clone());
            }
        }
        Ok(r)
    }

    /// Parses result JSON text.
    pub fn from_json_str(text: &str) -> Result<CheckResult, Error> {
        let v: Json = serde_json::from_str(text).map_err(|e| Error::BadResult(e.to_string()))?;
        CheckResult::from_json(&v)
    }
}

/// Serialises JSON with `"valid?"` and `"anomaly-types"` first in every object.
struct Ordered<'a>(&'a Json);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Json::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for first in ["valid?", "anomaly-types"] {
                    if let Some(v) = m.get(first) {
                        map.serialize_entry(first, &Ordered(v))?;
                    }
                }
                for (k, v) in m {
                    if k != "valid?" && k != "anomaly-types" {
                        map.serialize_entry(k, &Ordered(v))?;
                    }
                }
                map.end()
            }
            Json::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Ordered(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Where a checker runs: the directory it may write files into, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckContext {
    /// Where a checker may write files (plots, per-key results); None: write nothing.
    pub dir: Option<PathBuf>,
}

impl CheckContext {
    /// A context in which checkers write nothing.
    pub fn none() -> CheckContext {
        CheckContext { dir: None }
    }

    /// A context writing into `dir` (created only when a checker writes).
    pub fn in_dir(dir: impl Into<PathBuf>) -> CheckContext {
        CheckContext {
            dir: Some(dir.into()),
        }
    }

    /// The context of a sub-checker: `dir/name` (nothing is created until a checker writes).
    pub fn subdir(&self, name: &str) -> CheckContext {
        CheckContext {
            dir: self.dir.as_ref().map(|d| d.join(name)),
        }
    }

    /// Writes a file into the context's directory (creating it; writing a temporary file and
    /// renaming it). Returns the path written, or None when the context writes nothing.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<Option<PathBuf>, Error> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let io = |path: &Path, e: std::io::Error| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        Ok(Some(path))
    }
}

/// Checks a history for one property.
///
/// A checker never panics on user data: input it cannot interpret gives a
/// [`Validity::Unknown`] result with a reason.
pub trait Checker: Send + Sync {
    /// Checks the history.
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult;
}

impl<C: Checker + ?Sized> Checker for Box<C> {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        (**self).check(ctx, history)
    }
}

/// A checker that runs named checkers and merges their verdicts (Jepsen's `compose`).
///
/// The result is `{"valid?": merged, "<name>": sub-result, ...}`. With more than one checker
/// they run in parallel on scoped threads. Each gets the same context, as in Jepsen, so that
/// files land where users look for them (`elle/`, `independent/<key>/` in the run's
/// directory); checkers name their files so they do not collide. A checker that
/// panics yields `{"valid?": "unknown", "error": "..."}` for its name (Jepsen's `check-safe`).
pub struct Compose {
    checkers: Vec<(String, Box<dyn Checker>)>,
}

impl Compose {
    /// Composes these named checkers, in this order.
    pub fn new<S: Into<String>>(checkers: Vec<(S, Box<dyn Checker>)>) -> Compose {
        Compose {
            checkers: checkers.into_iter().map(|(n, c)| (n.into(), c)).collect(),
        }
    }

    /// Runs every checker and returns the named sub-results in order.
    pub fn check_each(&self, ctx: &CheckContext, history: &History) -> Vec<(String, CheckResult)> {
        let run = |_name: &str, c: &dyn Checker| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.check(ctx, history)))
                .unwrap_or_else(|p| CheckResult::unknown(panic_message(&*p)))
        };
        if self.checkers.len() <= 1 {
            return self
                .checkers
                .iter()
                .map(|(n, c)| (n.clone(), run(n, &**c)))
                .collect();
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .checkers
                .iter()
                .map(|(n, c)| (n, s.spawn(move || run(n, &**c))))
                .collect();
            handles
                .into_iter()
                .map(|(n, h)| {
                    let r = h
                        .join()
                        .unwrap_or_else(|p| CheckResult::unknown(panic_message(&*p)));
                    (n.clone(), r)
                })
                .collect()
        })
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("checker panicked: {msg}")
}

impl Checker for Compose {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        let results = self.check_each(ctx, history);
        let mut r = CheckResult::with_validity(results.iter().map(|(_, r)| r.valid).collect());
        for (name, sub) in results {
            r.details.insert(name, sub.to_json());
        }
        r
    }
}
