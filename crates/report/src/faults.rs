//! Fault packages for shading: which nemesis `f`s start and stop a fault, and in what colour.

use rift_history::OpType;
use serde_json::Value as Json;

/// How to find one kind of fault in the nemesis ops, and how to draw it (Jepsen's
/// `{:name "partition" :start #{:start-partition} :stop #{:stop-partition} :color "#E9DCA0"}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSpec {
    /// Legend label: `partition`, `kill`...
    pub name: String,
    /// Nemesis `f`s that begin the fault.
    pub start: Vec<String>,
    /// Nemesis `f`s that end it. Empty: every start op is an instantaneous mark (a line).
    pub stop: Vec<String>,
    /// `#RRGGBB`.
    pub color: String,
}

impl FaultSpec {
    /// A spec from string slices.
    pub fn new(name: &str, start: &[&str], stop: &[&str], color: &str) -> FaultSpec {
        FaultSpec {
            name: name.to_string(),
            start: start.iter().map(|s| s.to_string()).collect(),
            stop: stop.iter().map(|s| s.to_string()).collect(),
            color: color.to_string(),
        }
    }

    /// The defaults for Jepsen's standard nemesis `f`s: partition, kill/start, pause/resume,
    /// packet, clock (bump/strobe until reset), and file corruption as instantaneous marks.
    pub fn defaults() -> Vec<FaultSpec> {
        vec![
            FaultSpec::new(
                "partition",
                &["start-partition"],
                &["stop-partition"],
                "#E9DCA0",
            ),
            FaultSpec::new("kill", &["kill"], &["start"], "#E9A4A0"),
            FaultSpec::new("pause", &["pause"], &["resume"], "#C6B4EC"),
            FaultSpec::new("packet", &["start-packet"], &["stop-packet"], "#A4D7E9"),
            FaultSpec::new(
                "clock",
                &["bump-clock", "strobe-clock", "bump", "strobe"],
                &["reset-clock", "reset"],
                "#A6E3B8",
            ),
            FaultSpec::new("file-corruption", &["bitflip", "truncate"], &[], "#B5651D"),
        ]
    }

    /// Classic Jepsen nemeses (`partition-random-halves`...) use `:start`/`:stop`; with the
    /// default specs, [`crate::render`] adds this one (grey, `nemesis`) when a nemesis op has
    /// f `stop` (it cannot be a default: `start` also ends `kill`).
    pub fn classic() -> FaultSpec {
        FaultSpec::new("nemesis", &["start"], &["stop"], "#C8C8C8")
    }

    /// True when the spec marks instants rather than regions.
    pub fn is_instant(&self) -> bool {
        self.stop.is_empty()
    }

    /// The colour as RGB (grey when it does not parse; [`parse_specs`] validates colours).
    pub fn rgb(&self) -> (u8, u8, u8) {
        parse_color(&self.color).unwrap_or((160, 160, 160))
    }
}

/// Parses `#RRGGBB` or `#RGB`.
pub fn parse_color(s: &str) -> Option<(u8, u8, u8)> {
    let hex = s.strip_prefix('#')?;
    let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 1)?, 16).ok();
    match hex.len() {
        6 => {
            let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
            Some((byte(0)?, byte(2)?, byte(4)?))
        }
        3 => Some((digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
        _ => None,
    }
}

/// Reads fault specs from a test map: `"perf": [{"name", "start", "stop", "color"}...]` (or
/// Jepsen's `"plot": {"nemeses": [...]}`). `Ok(None)` when the test has none, or `"perf": null`
/// (use
/// [`FaultSpec::defaults`]); `Err(message)` when they are malformed. A spec without `stop` is
/// instantaneous; one without `color` gets a grey.
pub fn parse_specs(test: &Json) -> Result<Option<Vec<FaultSpec>>, String> {
    let list = match test.get("perf") {
        Some(Json::Null) => return Ok(None),
        Some(p) => p,
        None => match test.get("plot").and_then(|p| p.get("nemeses")) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let items = list
        .as_array()
        .ok_or_else(|| "\"perf\" must be an array of fault specs".to_string())?;
    let mut specs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = item
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("perf[{i}]: \"name\" must be a string"))?;
        let names = |key: &str| -> Result<Vec<String>, String> {
            match item.get(key) {
                None | Some(Json::Null) => Ok(Vec::new()),
                Some(Json::String(s)) => Ok(vec![s.clone()]),
                Some(Json::Array(xs)) => xs
                    .iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("perf[{i}]: \"{key}\" must hold strings")),
                Some(_) => Err(format!("perf[{i}]: \"{key}\" must be an array of strings")),
            }
        };
        let start = names("start")?;
        if start.is_empty() {
            return Err(format!("perf[{i}] ({name}): \"start\" is empty"));
        }
        let color = match item.get("color") {
            None | Some(Json::Null) => "#A0A0A0".to_string(),
            Some(Json::String(c)) if parse_color(c).is_some() => c.clone(),
            Some(c) => return Err(format!("perf[{i}] ({name}): bad color {c}")),
        };
        specs.push(FaultSpec {
            name: name.to_string(),
            start,
            stop: names("stop")?,
            color,
        });
    }
    Ok(Some(specs))
}

/// A nemesis op as the shading needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisEvent {
    /// Seconds since the test started.
    pub time_s: f64,
    /// The op's `f`.
    pub f: String,
    /// Its type.
    pub ty: OpType,
}

/// One shaded region (or, for instantaneous specs, one mark with `start_s == end_s`).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRegion {
    /// Index into the specs.
    pub spec: usize,
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// True when no stop op came before the end of the history.
    pub open_at_end: bool,
}

/// Finds the fault regions: a region opens at the first op whose `f` is in a spec's `start`
/// and closes at the next op whose `f` is in its `stop` (extended to that stop's completion),
/// or at `end_s`. Instantaneous specs give one mark per start invocation (or per completion
/// that has no invocation before it).
pub fn fault_regions(events: &[NemesisEvent], specs: &[FaultSpec], end_s: f64) -> Vec<FaultRegion> {
    let mut out = Vec::new();
    for (si, spec) in specs.iter().enumerate() {
        let is_start = |f: &str| spec.start.iter().any(|s| s == f);
        let is_stop = |f: &str| spec.stop.iter().any(|s| s == f);
        if spec.is_instant() {
            let mut prev: Option<&NemesisEvent> = None;
            for ev in events {
                let invoked = prev.is_some_and(|p| p.ty == OpType::Invoke && p.f == ev.f);
                if is_start(&ev.f) && (ev.ty == OpType::Invoke || !invoked) {
                    out.push(FaultRegion {
                        spec: si,
                        start_s: ev.time_s,
                        end_s: ev.time_s,
                        open_at_end: false,
                    });
                }
                prev = Some(ev);
            }
            continue;
        }
        let mut open: Option<f64> = None;
        let mut closing: Option<usize> = None;
        for ev in events {
            if is_start(&ev.f) {
                closing = None;
                open.get_or_insert(ev.time_s);
            } else if is_stop(&ev.f) {
                if let Some(s) = open.take() {
                    out.push(FaultRegion {
                        spec: si,
                        start_s: s,
                        end_s: ev.time_s,
                        open_at_end: false,
                    });
                    closing = Some(out.len() - 1);
                } else if let Some(i) = closing {
                    out[i].end_s = out[i].end_s.max(ev.time_s);
                }
            } else {
                closing = None;
            }
        }
        if let Some(s) = open {
            out.push(FaultRegion {
                spec: si,
                start_s: s,
                end_s: end_s.max(s),
                open_at_end: true,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: f64, f: &str, ty: OpType) -> NemesisEvent {
        NemesisEvent {
            time_s: t,
            f: f.to_string(),
            ty,
        }
    }

    #[test]
    fn regions_open_close_and_extend_to_stop_completion() {
        use OpType::*;
        let evs = [
            ev(1.0, "start-partition", Invoke),
            ev(1.5, "start-partition", Info),
            ev(3.0, "stop-partition", Invoke),
            ev(3.25, "stop-partition", Info),
            ev(4.0, "kill", Invoke),
            ev(4.5, "kill", Info),
            ev(5.0, "bitflip", Invoke),
            ev(5.5, "bitflip", Info),
            ev(6.0, "truncate", Info),
        ];
        let r = fault_regions(&evs, &FaultSpec::defaults(), 10.0);
        let got: Vec<_> = r
            .iter()
            .map(|r| (r.spec, r.start_s, r.end_s, r.open_at_end))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 1.0, 3.25, false),
                (1, 4.0, 10.0, true),
                (5, 5.0, 5.0, false),
                (5, 6.0, 6.0, false),
            ]
        );
    }

    #[test]
    fn specs_parse_from_test_json() {
        let t: Json = serde_json::json!({"perf": [
            {"name": "p", "start": ["a"], "stop": ["b"], "color": "#E9DCA0"},
            {"name": "m", "start": "x", "color": "#abc"}
        ]});
        let s = parse_specs(&t).unwrap().unwrap();
        assert_eq!(s[0], FaultSpec::new("p", &["a"], &["b"], "#E9DCA0"));
        assert!(s[1].is_instant());
        assert_eq!(s[1].rgb(), (0xaa, 0xbb, 0xcc));
        assert_eq!(
            parse_specs(&serde_json::json!({"name": "x"})).unwrap(),
            None
        );
        let e = parse_specs(&serde_json::json!({"perf": [{"name": "p", "start": []}]}));
        assert_eq!(e.unwrap_err(), "perf[0] (p): \"start\" is empty");
        let e = parse_specs(
            &serde_json::json!({"perf": [{"name": "p", "start": ["a"], "color": "red"}]}),
        );
        assert_eq!(e.unwrap_err(), "perf[0] (p): bad color \"red\"");
        assert_eq!(parse_color("#E9DCA0"), Some((0xE9, 0xDC, 0xA0)));
        assert_eq!(parse_color("E9DCA0"), None);
    }
}
