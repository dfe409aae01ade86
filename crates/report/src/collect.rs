//! One streaming pass over the ops: compact points for the plots, nemesis events, clock
//! samples, counts, and timeline boxes handed to the timeline writer as ops complete.

use crate::error::ReportError;
use crate::faults::NemesisEvent;
use crate::timeline::{TimelineBox, TimelineWriter};
use rift_history::{Op, OpType, Process, Value};
use std::collections::{BTreeMap, HashMap};

/// At most this many distinct client `f`s get their own series; the rest share `other`.
pub const MAX_FS: usize = 24;

/// Nemesis `f`s whose completions may carry clock offsets.
pub const CLOCK_FS: [&str; 8] = [
    "check-offsets",
    "check-clock-offsets",
    "bump",
    "bump-clock",
    "strobe",
    "strobe-clock",
    "reset",
    "reset-clock",
];

/// The completion types drawn, in drawing order (ok first so failures stay visible on top).
pub const TYPES: [OpType; 3] = [OpType::Ok, OpType::Info, OpType::Fail];

/// The slot of a completion type in [`TYPES`].
pub fn type_slot(ty: OpType) -> Option<u16> {
    TYPES.iter().position(|t| *t == ty).map(|i| i as u16)
}

/// One client completion: invocation time, latency (NaN when nobody invoked it) and series
/// (`f * 3 + type slot`). Twelve bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Invocation time (completion time when there is no invocation), seconds.
    pub t_s: f32,
    /// Completion time minus invocation time, milliseconds.
    pub latency_ms: f32,
    /// `f_id * 3 + type slot`.
    pub series: u16,
}

impl Point {
    /// The interned f.
    pub fn f(&self) -> usize {
        (self.series / 3) as usize
    }

    /// The completion type.
    pub fn ty(&self) -> OpType {
        TYPES[(self.series % 3) as usize]
    }

    /// Completion time, seconds.
    pub fn end_s(&self) -> f32 {
        if self.latency_ms.is_nan() {
            self.t_s
        } else {
            self.t_s + self.latency_ms / 1000.0
        }
    }
}

/// A clock offset of one node at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockSample {
    /// Seconds since the test started.
    pub time_s: f64,
    /// The node.
    pub node: String,
    /// Its clock offset, seconds.
    pub offset_s: f64,
}

/// Everything the plots and the summary need.
#[derive(Debug, Default)]
pub struct Data {
    /// Interned client `f` names.
    pub fs: Vec<String>,
    /// Client completions.
    pub points: Vec<Point>,
    /// Client invocations per f.
    pub invokes_by_f: Vec<u64>,
    /// Client invocations never completed, per f.
    pub pending_by_f: Vec<u64>,
    /// Nemesis ops with a time.
    pub nemesis: Vec<NemesisEvent>,
    /// Nemesis ops by f.
    pub nemesis_counts: BTreeMap<String, u64>,
    /// Clock offsets from clock nemesis completions.
    pub clock: Vec<ClockSample>,
    /// All ops seen.
    pub ops: u64,
    /// Ops without a time (not plotted).
    pub untimed: u64,
    /// Earliest and latest op time, ns.
    pub span_ns: Option<(i64, i64)>,
}

impl Data {
    /// Seconds from the earliest to the latest op.
    pub fn duration_s(&self) -> f64 {
        self.span_ns.map_or(0.0, |(a, b)| (b - a) as f64 / 1e9)
    }

    /// The latest op time, seconds (0 for an empty history).
    pub fn end_s(&self) -> f64 {
        self.span_ns.map_or(0.0, |(_, b)| b as f64 / 1e9)
    }
}

struct Open {
    time_ns: Option<i64>,
    pos: i64,
    f: u16,
    text: Option<String>,
}

/// The streaming pass.
pub struct Collector<'a> {
    data: Data,
    f_ids: HashMap<String, u16>,
    open: HashMap<Process, Open>,
    timeline: Option<&'a mut TimelineWriter>,
}

fn f_text(f: &Value) -> String {
    match f.as_name() {
        Some(n) => n.to_string(),
        None => f.to_string(),
    }
}

impl<'a> Collector<'a> {
    /// A collector feeding `timeline` if given.
    pub fn new(timeline: Option<&'a mut TimelineWriter>) -> Collector<'a> {
        Collector {
            data: Data::default(),
            f_ids: HashMap::new(),
            open: HashMap::new(),
            timeline,
        }
    }

    fn intern(&mut self, f: &Value) -> u16 {
        let name = f.as_name().map(str::to_string).unwrap_or_else(|| f_text(f));
        if let Some(id) = self.f_ids.get(&name) {
            return *id;
        }
        let key = if self.data.fs.len() >= MAX_FS {
            "other".to_string()
        } else {
            name.clone()
        };
        let id = match self.data.fs.iter().position(|x| *x == key) {
            Some(i) => i as u16,
            None => {
                self.data.fs.push(key);
                self.data.invokes_by_f.push(0);
                self.data.pending_by_f.push(0);
                (self.data.fs.len() - 1) as u16
            }
        };
        self.f_ids.insert(name, id);
        id
    }

    /// Takes one op (ops must come in history order).
    pub fn push(&mut self, op: &Op) -> Result<(), ReportError> {
        let d = &mut self.data;
        d.ops += 1;
        match op.time {
            Some(t) => {
                let (a, b) = d.span_ns.get_or_insert((t, t));
                *a = (*a).min(t);
                *b = (*b).max(t);
            }
            None => d.untimed += 1,
        }
        let nemesis = op.process == Process::Nemesis;
        if nemesis {
            self.nemesis_op(op);
        }
        let pos = op.time.unwrap_or(op.index as i64);
        let f = if nemesis { 0 } else { self.intern(&op.f) };
        if op.ty == OpType::Invoke {
            if !nemesis {
                self.data.invokes_by_f[f as usize] += 1;
            }
            let text = self.timeline.as_ref().map(|_| op.to_string());
            let open = Open {
                time_ns: op.time,
                pos,
                f,
                text,
            };
            if let Some(prev) = self.open.insert(op.process.clone(), open) {
                self.flush_open(&op.process, prev, !nemesis)?;
            }
            return Ok(());
        }
        let inv = self.open.remove(&op.process);
        if !nemesis {
            if let (Some(t), Some(slot)) = (op.time, type_slot(op.ty)) {
                let (t0, lat) = match inv.as_ref().and_then(|i| i.time_ns) {
                    Some(t0) => (t0, (t - t0) as f64 / 1e6),
                    None => (t, f64::NAN),
                };
                self.data.points.push(Point {
                    t_s: (t0 as f64 / 1e9) as f32,
                    latency_ms: lat as f32,
                    series: f * 3 + slot,
                });
            }
        }
        if let Some(tl) = self.timeline.as_deref_mut() {
            let (start, invoke) = match inv {
                Some(i) => (i.pos, i.text.unwrap_or_default()),
                None => (pos, String::new()),
            };
            tl.add(TimelineBox {
                process: op.process.to_string(),
                start,
                end: Some(pos),
                ty: Some(op.ty),
                f: f_text(&op.f),
                invoke,
                complete: op.to_string(),
            })?;
        }
        Ok(())
    }

    fn nemesis_op(&mut self, op: &Op) {
        let f = f_text(&op.f);
        *self.data.nemesis_counts.entry(f.clone()).or_insert(0) += 1;
        let Some(t) = op.time else { return };
        let time_s = t as f64 / 1e9;
        if op.ty != OpType::Invoke && CLOCK_FS.contains(&f.as_str()) {
            // Offsets ride on the op (Jepsen's `:clock-offsets` key, an extra field here), or
            // inside the value; a bare map value is offsets only for the check ops (a
            // bump's value is its deltas in ms, not offsets).
            let offsets = op
                .get_extra("clock-offsets")
                .or_else(|| op.value.get("clock-offsets"))
                .or(f.starts_with("check-").then_some(&op.value));
            let entries = offsets.and_then(|o| o.as_map()).unwrap_or(&[]);
            for (k, v) in entries {
                if let Some(offset_s) = v.as_f64() {
                    let node = k.as_name().map(str::to_string).unwrap_or(k.to_string());
                    self.data.clock.push(ClockSample {
                        time_s,
                        node,
                        offset_s,
                    });
                }
            }
        }
        self.data.nemesis.push(NemesisEvent {
            time_s,
            f,
            ty: op.ty,
        });
    }

    /// An invocation that never completed: counted as pending, drawn in flight.
    fn flush_open(&mut self, p: &Process, o: Open, client: bool) -> Result<(), ReportError> {
        if client {
            self.data.pending_by_f[o.f as usize] += 1;
        }
        if let Some(tl) = self.timeline.as_deref_mut() {
            let invoke = o.text.unwrap_or_default();
            let f = if client {
                self.data.fs[o.f as usize].clone()
            } else {
                f_of_text(&invoke)
            };
            tl.add(TimelineBox {
                process: p.to_string(),
                start: o.pos,
                end: None,
                ty: None,
                f,
                invoke,
                complete: String::new(),
            })?;
        }
        Ok(())
    }

    /// Ends the pass: open invocations become pending; returns the data.
    pub fn finish(mut self) -> Result<Data, ReportError> {
        let mut open: Vec<(Process, Open)> = self.open.drain().collect();
        open.sort_by_key(|(_, o)| o.pos);
        for (p, o) in open {
            let client = p != Process::Nemesis;
            self.flush_open(&p, o, client)?;
        }
        Ok(self.data)
    }
}

/// The `:f` of an op's EDN text (for nemesis boxes left in flight).
fn f_of_text(text: &str) -> String {
    let Some(i) = text.find(":f ") else {
        return String::new();
    };
    let rest = text[i + 3..].trim_start_matches(':');
    rest.split([',', ' ', '}']).next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(i: u64, t: i64, ty: OpType, p: Process, f: &str, v: Value) -> Op {
        let mut o = Op::new(ty, p, Value::kw(f), v);
        o.index = i;
        o.time = Some(t);
        o
    }

    #[test]
    fn collects_points_pending_and_clock() {
        use OpType::*;
        let c = Process::Client;
        let offsets = Value::Map(vec![
            (Value::str("n1"), Value::Float(0.5)),
            (Value::kw("n2"), Value::Int(-2)),
        ]);
        let wrapped = Value::Map(vec![(Value::kw("clock-offsets"), offsets.clone())]);
        let ops = [
            op(0, 1_000_000, Invoke, c(0), "read", Value::Nil),
            op(1, 2_000_000, Invoke, c(1), "write", Value::Int(1)),
            op(2, 4_000_000, Ok, c(0), "read", Value::Int(1)),
            op(3, 5_000_000, Invoke, Process::Nemesis, "bump", Value::Nil),
            {
                // As the clock nemesis records a bump: the deltas (ms) as the value, the
                // measured offsets beside it.
                let mut b = op(
                    4,
                    6_000_000,
                    Info,
                    Process::Nemesis,
                    "bump",
                    Value::Map(vec![(Value::str("n1"), Value::Int(500))]),
                );
                b.set_extra("clock-offsets", offsets);
                b
            },
            op(
                5,
                7_000_000,
                Info,
                Process::Nemesis,
                "check-offsets",
                wrapped,
            ),
            op(6, 8_000_000, Fail, c(2), "write", Value::Nil),
            op(7, 9_000_000, Invoke, c(0), "read", Value::Nil),
        ];
        let mut col = Collector::new(None);
        ops.iter().for_each(|o| col.push(o).unwrap());
        let d = col.finish().unwrap();
        assert_eq!(d.fs, ["read", "write"]);
        assert_eq!(d.invokes_by_f, [2, 1]);
        assert_eq!(d.pending_by_f, [1, 1]);
        assert_eq!(d.points.len(), 2);
        assert_eq!((d.points[0].latency_ms, d.points[0].ty()), (3.0, Ok));
        assert!(d.points[1].latency_ms.is_nan());
        assert_eq!((d.points[1].f(), d.points[1].ty()), (1, Fail));
        let clock: Vec<_> = d
            .clock
            .iter()
            .map(|s| (s.time_s, s.node.as_str(), s.offset_s))
            .collect();
        assert_eq!(
            clock,
            [
                (0.006, "n1", 0.5),
                (0.006, "n2", -2.0),
                (0.007, "n1", 0.5),
                (0.007, "n2", -2.0)
            ]
        );
        assert_eq!(d.nemesis.len(), 3);
        assert_eq!(d.span_ns, Some((1_000_000, 9_000_000)));
        assert_eq!(f_of_text("{:type :invoke, :f :kill, :value nil}"), "kill");
    }
}
