//! [`Op`]: one invocation or completion, with Jepsen's fields and meaning.

use crate::value::{Name, Value};
use std::fmt;

/// Jepsen's `:type` of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpType {
    /// The operation was started.
    Invoke,
    /// It happened.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown: it may take effect at any time after its invocation, or never.
    Info,
}

impl OpType {
    /// The keyword name: `invoke`, `ok`, `fail`, `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    /// Parses a type name.
    pub fn parse(s: &str) -> Option<OpType> {
        Some(match s {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return None,
        })
    }

    /// True for ok, fail and info.
    pub fn is_completion(self) -> bool {
        self != OpType::Invoke
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Jepsen's `:process`: an integer for client processes, `:nemesis` for the fault injector, and
/// whatever else an imported history carries (kept as a value).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process. A process that crashed (`info`) is never reused.
    Client(i64),
    /// The nemesis (`:nemesis`).
    Nemesis,
    /// Any other value (an imported history's named process, or `nil` when absent).
    Other(Value),
}

impl Process {
    /// The client process number.
    pub fn client(&self) -> Option<i64> {
        match self {
            Process::Client(p) => Some(*p),
            _ => None,
        }
    }

    /// True for client processes.
    pub fn is_client(&self) -> bool {
        matches!(self, Process::Client(_))
    }

    /// The process as an EDN value.
    pub fn to_value(&self) -> Value {
        match self {
            Process::Client(p) => Value::Int(*p),
            Process::Nemesis => Value::kw("nemesis"),
            Process::Other(v) => v.clone(),
        }
    }

    /// The process of an EDN value: integers are clients, `:nemesis` (keyword or string) the
    /// nemesis.
    pub fn from_value(v: Value) -> Process {
        match v {
            Value::Int(p) => Process::Client(p),
            ref n if n.is_name("nemesis") => Process::Nemesis,
            other => Process::Other(other),
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
            Process::Other(v) => write!(f, "{v}"),
        }
    }
}

/// The standard fields of an op, as they may appear in a serialized map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `:index`
    Index = 1,
    /// `:time`
    Time = 2,
    /// `:type`
    Type = 3,
    /// `:process`
    Process = 4,
    /// `:f`
    F = 5,
    /// `:value`
    Value = 6,
    /// `:error`
    Error = 7,
    /// The next entry of [`Op::extra`].
    Extra = 8,
}

impl Field {
    /// The key name of a standard field.
    pub fn name(self) -> &'static str {
        match self {
            Field::Index => "index",
            Field::Time => "time",
            Field::Type => "type",
            Field::Process => "process",
            Field::F => "f",
            Field::Value => "value",
            Field::Error => "error",
            Field::Extra => "",
        }
    }

    /// The standard field with this key name.
    pub fn by_name(name: &str) -> Option<Field> {
        Some(match name {
            "index" => Field::Index,
            "time" => Field::Time,
            "type" => Field::Type,
            "process" => Field::Process,
            "f" => Field::F,
            "value" => Field::Value,
            "error" => Field::Error,
            _ => return None,
        })
    }

    fn from_code(c: u64) -> Option<Field> {
        Some(match c {
            1 => Field::Index,
            2 => Field::Time,
            3 => Field::Type,
            4 => Field::Process,
            5 => Field::F,
            6 => Field::Value,
            7 => Field::Error,
            8 => Field::Extra,
            _ => return None,
        })
    }
}

/// Which fields an op had in its source and in what order, so that writing it back reproduces
/// the source (Jepsen files differ: `{:type .. :f .. :value .. :process .. :time .. :index ..}`
/// in older histories, `{:index .. :time .. :type ..}` in newer ones, and some have no `:index`
/// or `:time` at all). Sixteen 4-bit slots; extras past the sixteenth slot follow in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    slots: u64,
    /// The op was written as a `#jepsen.history.Op{...}` record.
    pub record: bool,
}

impl Default for Layout {
    /// Modern Jepsen order: index, time, type, process, f, value, then error and extras.
    fn default() -> Layout {
        Layout::from_fields(&[
            Field::Index,
            Field::Time,
            Field::Type,
            Field::Process,
            Field::F,
            Field::Value,
        ])
    }
}

impl Layout {
    /// A layout with no fields; add them with [`Layout::push`].
    pub const EMPTY: Layout = Layout {
        slots: 0,
        record: false,
    };

    /// A layout listing these fields in order.
    pub fn from_fields(fields: &[Field]) -> Layout {
        let mut l = Layout::EMPTY;
        for f in fields {
            l.push(*f);
        }
        l
    }

    /// Appends a field; returns false when the sixteen slots are full (extras then follow
    /// implicitly; a standard field cannot be recorded and is written in default position).
    pub fn push(&mut self, f: Field) -> bool {
        for i in 0..16 {
            if (self.slots >> (4 * i)) & 0xf == 0 {
                self.slots |= (f as u64) << (4 * i);
                return true;
            }
        }
        false
    }

    /// True when the field was present in the source.
    pub fn has(&self, f: Field) -> bool {
        self.fields().any(|x| x == f)
    }

    /// The recorded fields in order.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        let slots = self.slots;
        (0..16).map_while(move |i| Field::from_code((slots >> (4 * i)) & 0xf))
    }
}

/// One operation: an invocation (`invoke`) or a completion (`ok`, `fail`, `info`).
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Position in the history (dense, from 0). Assigned by readers when the source has none.
    pub index: u64,
    /// Nanoseconds since the test started, if known.
    pub time: Option<i64>,
    /// Jepsen's `:type`.
    pub ty: OpType,
    /// Who did it.
    pub process: Process,
    /// The function: `:read`, `:write`, `:txn`, `:start-partition`... (nil when absent).
    pub f: Value,
    /// The argument on invocation, the result on completion.
    pub value: Value,
    /// Why it failed or is unknown, if the client said.
    pub error: Option<Value>,
    /// Any other keys, in source order.
    pub extra: Vec<(Value, Value)>,
    /// Which fields the source had, in which order (for exact re-serialisation).
    pub layout: Layout,
}

impl Op {
    /// A new op with default layout; index and time are filled in by whoever records it.
    pub fn new(ty: OpType, process: Process, f: Value, value: Value) -> Op {
        Op {
            index: 0,
            time: Some(0),
            ty,
            process,
            f,
            value,
            error: None,
            extra: Vec::new(),
            layout: Layout::default(),
        }
    }

    /// An invocation by client process `p`: `Op::invoke(0, "read", Value::Nil)`.
    pub fn invoke(p: i64, f: &str, value: impl Into<Value>) -> Op {
        Op::new(
            OpType::Invoke,
            Process::Client(p),
            Value::kw(f),
            value.into(),
        )
    }

    /// The completion of this invocation with the given type and value (same process, f,
    /// extras; time and index left for the recorder).
    pub fn complete(&self, ty: OpType, value: Value) -> Op {
        Op {
            ty,
            value,
            error: None,
            ..self.clone()
        }
    }

    /// Sets the error (and records the field in the layout).
    pub fn with_error(mut self, error: Value) -> Op {
        if !self.layout.has(Field::Error) {
            self.layout.push(Field::Error);
        }
        self.error = Some(error);
        self
    }

    /// The name of `f` (`"read"` for `:read`).
    pub fn f_name(&self) -> &str {
        self.f.as_name().unwrap_or("")
    }

    /// True for ops of client processes.
    pub fn is_client(&self) -> bool {
        self.process.is_client()
    }

    /// True for invocations.
    pub fn is_invoke(&self) -> bool {
        self.ty == OpType::Invoke
    }

    /// True for `ok` completions.
    pub fn is_ok(&self) -> bool {
        self.ty == OpType::Ok
    }

    /// True for `fail` completions.
    pub fn is_fail(&self) -> bool {
        self.ty == OpType::Fail
    }

    /// True for `info` completions.
    pub fn is_info(&self) -> bool {
        self.ty == OpType::Info
    }

    /// The value of an extra key.
    pub fn get_extra(&self, key: &str) -> Option<&Value> {
        self.extra
            .iter()
            .find(|(k, _)| k.is_name(key))
            .map(|(_, v)| v)
    }

    /// Sets an extra key (keyword), replacing an existing one.
    pub fn set_extra(&mut self, key: &str, v: Value) {
        if let Some(slot) = self.extra.iter_mut().find(|(k, _)| k.is_name(key)) {
            slot.1 = v;
        } else {
            self.extra.push((Value::Keyword(Name::new(key)), v));
            self.layout.push(Field::Extra);
        }
    }

    /// The op as one EDN map value, keys in layout order.
    pub fn to_value(&self) -> Value {
        let mut m = Vec::with_capacity(7 + self.extra.len());
        self.for_each_field(|k, v| m.push((k, v.clone())));
        Value::Map(m)
    }

    /// Calls `emit(key, value)` for each field in the op's layout order: the recorded fields,
    /// then any standard field present but missing from the layout, then remaining extras.
    pub fn for_each_field(&self, mut emit: impl FnMut(Value, &Value)) {
        self.for_each_entry(|e| match e {
            Entry::Extra(k, v) => emit(k.clone(), v),
            Entry::F(v) | Entry::Value(v) | Entry::Error(v) => emit(e.key(), v),
            Entry::Process(Process::Other(v)) => emit(e.key(), v),
            other => emit(other.key(), &other.scalar_value()),
        });
    }

    /// Calls `emit` for each field in the op's layout order, without building key values (what
    /// the writers use). Order: the recorded fields, then time and error if set but not
    /// recorded (a recorder stamping an op read without time, an error added to a full
    /// layout), then remaining extras.
    pub fn for_each_entry<'a>(&'a self, mut emit: impl FnMut(Entry<'a>)) {
        let mut seen = [false; 9];
        let mut extras = self.extra.iter();
        let entry = |f: Field| -> Option<Entry<'a>> {
            Some(match f {
                Field::Index => Entry::Index(self.index),
                Field::Time => Entry::Time(self.time?),
                Field::Type => Entry::Type(self.ty),
                Field::Process => Entry::Process(&self.process),
                Field::F => Entry::F(&self.f),
                Field::Value => Entry::Value(&self.value),
                Field::Error => Entry::Error(self.error.as_ref()?),
                Field::Extra => return None,
            })
        };
        for f in self.layout.fields() {
            if f == Field::Extra {
                if let Some((k, v)) = extras.next() {
                    emit(Entry::Extra(k, v));
                }
            } else if !seen[f as usize] {
                seen[f as usize] = true;
                if let Some(e) = entry(f) {
                    emit(e);
                }
            }
        }
        for f in [Field::Time, Field::Error] {
            if !seen[f as usize] {
                if let Some(e) = entry(f) {
                    emit(e);
                }
            }
        }
        for (k, v) in extras {
            emit(Entry::Extra(k, v));
        }
    }
}

/// One field of an op, as [`Op::for_each_entry`] yields it.
#[derive(Clone, Copy, Debug)]
pub enum Entry<'a> {
    /// `:index`
    Index(u64),
    /// `:time`
    Time(i64),
    /// `:type`
    Type(OpType),
    /// `:process`
    Process(&'a Process),
    /// `:f`
    F(&'a Value),
    /// `:value`
    Value(&'a Value),
    /// `:error`
    Error(&'a Value),
    /// Any other key and its value.
    Extra(&'a Value, &'a Value),
}

impl Entry<'_> {
    /// The key's name for standard fields (`"index"`...); None for extras.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Entry::Index(_) => "index",
            Entry::Time(_) => "time",
            Entry::Type(_) => "type",
            Entry::Process(_) => "process",
            Entry::F(_) => "f",
            Entry::Value(_) => "value",
            Entry::Error(_) => "error",
            Entry::Extra(..) => return None,
        })
    }

    /// The key as a value (a keyword for standard fields).
    pub fn key(&self) -> Value {
        match self {
            Entry::Extra(k, _) => (*k).clone(),
            other => Value::kw(other.name().unwrap_or_default()),
        }
    }

    /// The value of index, time, type and client/nemesis process entries, built; other
    /// entries borrow theirs (this returns nil for them).
    fn scalar_value(&self) -> Value {
        match self {
            Entry::Index(i) => Value::from(*i),
            Entry::Time(t) => Value::Int(*t),
            Entry::Type(t) => Value::kw(t.as_str()),
            Entry::Process(p) => p.to_value(),
            _ => Value::Nil,
        }
    }
}

impl fmt::Display for Op {
    /// The op as one EDN map.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::edn::write_op(&mut s, self);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_keeps_order_and_presence() {
        let l = Layout::from_fields(&[Field::Type, Field::F, Field::Value, Field::Process]);
        let v: Vec<_> = l.fields().collect();
        assert_eq!(v, vec![Field::Type, Field::F, Field::Value, Field::Process]);
        assert!(!l.has(Field::Index));
        assert!(!l.has(Field::Time));
    }

    #[test]
    fn to_value_follows_layout() {
        let mut op = Op::invoke(3, "read", Value::Nil);
        op.time = None;
        op.layout = Layout::from_fields(&[Field::Process, Field::Type, Field::F, Field::Value]);
        op.set_extra("node", Value::str("n1"));
        let m = op.to_value();
        let keys: Vec<_> = m
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_name().unwrap().to_string())
            .collect();
        assert_eq!(keys, ["process", "type", "f", "value", "node"]);
    }
}
