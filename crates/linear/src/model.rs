//! Sequential specifications ([`Model`]) and the built-in models.
//!
//! A model is a pure state machine over [`Value`] states: [`Model::step`] applies one
//! [`Call`] (the function, the invocation's argument and, when the op completed `ok`, its
//! result) and returns the next state, or the reason the call is impossible in that state (the
//! Knossos "inconsistent" message, shown in counterexamples). The search interns states and
//! memoises transitions, so `step` runs once per distinct (state, call) pair and states only
//! need `Eq + Hash`, which every [`Value`] has.

use rift_history::{Name, Op, Value};

/// One operation as a model sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Call {
    /// The function name (`read`, `write`, `cas`, `txn`, `acquire`, `get`...).
    pub f: Name,
    /// The invocation's value (the argument: the value written, `[old new]` of a cas).
    pub input: Value,
    /// The completion's value when the op completed `ok`; `None` when the outcome is unknown
    /// (`info`, or never completed): the call may have taken effect and returned anything.
    pub output: Option<Value>,
    /// The op's `:key` extra field, if any (Porcupine's kv histories carry the key there).
    pub key: Option<Value>,
}

impl Call {
    /// The call of an invocation and its completion (`ok` gives a known output; anything else
    /// an unknown one).
    pub fn of(invoke: &Op, completion: Option<&Op>) -> Call {
        Call {
            f: Name::new(invoke.f_name()),
            input: invoke.value.clone(),
            output: completion.filter(|c| c.is_ok()).map(|c| c.value.clone()),
            key: invoke.get_extra("key").cloned(),
        }
    }

    /// A call with a known output (for tests and hand-built models).
    pub fn ok(f: &str, input: Value, output: Value) -> Call {
        Call {
            f: Name::new(f),
            input,
            output: Some(output),
            key: None,
        }
    }

    /// A call whose outcome is unknown.
    pub fn unknown(f: &str, input: Value) -> Call {
        Call {
            f: Name::new(f),
            input,
            output: None,
            key: None,
        }
    }
}

/// A sequential specification: an initial state and a step function.
///
/// Implement it to check your own datatype; see the crate docs for an example.
pub trait Model: Send + Sync {
    /// The model's name (`cas-register`), reported in results.
    fn name(&self) -> &str;

    /// The initial state.
    fn init(&self) -> Value;

    /// Applies `call` to `state`: the next state, or None when the call cannot happen in
    /// `state`. A call with `output: None` may have returned anything: accept it whenever its
    /// effect is possible. Called on the hot path: keep it cheap (no formatting).
    fn step(&self, state: &Value, call: &Call) -> Option<Value>;

    /// Why `call` cannot happen in `state` (Knossos's "inconsistent" message), for
    /// counterexamples; only called when [`Model::step`] returned None.
    fn explain(&self, state: &Value, call: &Call) -> String {
        let out = call
            .output
            .as_ref()
            .map_or("?".to_string(), |v| v.to_string());
        format!(
            "{} {} -> {out} is impossible in state {state}",
            call.f, call.input
        )
    }

    /// True when the call never changes the state (a read). Such a call whose outcome is
    /// unknown constrains nothing and is dropped before the search.
    fn is_read_only(&self, _call: &Call) -> bool {
        false
    }

    /// Optional pruning, asked about the read-only call whose completion comes first among
    /// those not yet linearized: can some sequence of the `enabled` calls (the state-changing
    /// calls that may still go before it) make `read` legal in a state reached from `state`?
    /// Answering false when the answer is "never" lets the search abandon the configuration
    /// at once (kv appends only extend a string; a register read needs a pending write of its
    /// value). The default, true, never prunes. Must not answer false when the true answer is
    /// yes.
    fn may_become_legal(
        &self,
        _state: &Value,
        _read: &Call,
        _enabled: &mut dyn Iterator<Item = &Call>,
    ) -> bool {
        true
    }

    /// The partition a call belongs to, for P-compositional checking: calls of different
    /// partitions never interact, and each partition is checked on its own from
    /// [`Model::init`]. `None` (the default): the model is not partitioned.
    fn partition(&self, _call: &Call) -> Option<Value> {
        None
    }
}

/// Binary search of `key` among the keys of a flat `[k1 v1 k2 v2 ...]` vector sorted by key:
/// the pair's index, or where to insert it.
fn pair_search(flat: &[Value], key: &Value) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0, flat.len() / 2);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match flat[2 * mid].cmp(key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// True when some call of the iterator passes `pred`.
fn any_call(calls: &mut dyn Iterator<Item = &Call>, mut pred: impl FnMut(&Call) -> bool) -> bool {
    for c in calls {
        if pred(c) {
            return true;
        }
    }
    false
}

/// A failure message, built only when explaining.
fn why(explain: bool, message: impl FnOnce() -> String) -> String {
    if explain {
        message()
    } else {
        String::new()
    }
}

/// The built-in models: one function both steps (cheaply) and explains.
trait Apply: Send + Sync {
    fn name(&self) -> &str;
    fn init(&self) -> Value;
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String>;
    fn is_read_only(&self, _call: &Call) -> bool {
        false
    }
    fn partition(&self, _call: &Call) -> Option<Value> {
        None
    }
    fn may_become_legal(
        &self,
        _state: &Value,
        _read: &Call,
        _enabled: &mut dyn Iterator<Item = &Call>,
    ) -> bool {
        true
    }
}

impl<T: Apply> Model for T {
    fn may_become_legal(
        &self,
        state: &Value,
        read: &Call,
        enabled: &mut dyn Iterator<Item = &Call>,
    ) -> bool {
        Apply::may_become_legal(self, state, read, enabled)
    }
    fn name(&self) -> &str {
        Apply::name(self)
    }
    fn init(&self) -> Value {
        Apply::init(self)
    }
    fn step(&self, state: &Value, call: &Call) -> Option<Value> {
        self.apply(state, call, false).ok()
    }
    fn explain(&self, state: &Value, call: &Call) -> String {
        self.apply(state, call, true).err().unwrap_or_default()
    }
    fn is_read_only(&self, call: &Call) -> bool {
        Apply::is_read_only(self, call)
    }
    fn partition(&self, call: &Call) -> Option<Value> {
        Apply::partition(self, call)
    }
}

fn unknown_f(model: &str, call: &Call) -> String {
    format!("{model} has no function {:?}", call.f.as_str())
}

/// A read/write register (Knossos `register`): `write v`, `read` returns the value. The
/// initial value is nil unless given.
#[derive(Clone, Debug, Default)]
pub struct Register {
    /// The initial value.
    pub initial: Value,
}

impl Apply for Register {
    fn name(&self) -> &str {
        "register"
    }
    fn init(&self) -> Value {
        self.initial.clone()
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        register_step("register", state, call, false, ex)
    }
    fn may_become_legal(
        &self,
        state: &Value,
        read: &Call,
        enabled: &mut dyn Iterator<Item = &Call>,
    ) -> bool {
        register_may_become_legal(state, read, enabled)
    }
    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "read"
    }
}

/// A compare-and-set register (Knossos `cas-register`): `write v`, `read` returns the value,
/// `cas [old new]` sets `new` if the value is `old`. Initial value nil unless given.
#[derive(Clone, Debug, Default)]
pub struct CasRegister {
    /// The initial value.
    pub initial: Value,
}

impl Apply for CasRegister {
    fn name(&self) -> &str {
        "cas-register"
    }
    fn init(&self) -> Value {
        self.initial.clone()
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        register_step("cas-register", state, call, true, ex)
    }
    fn may_become_legal(
        &self,
        state: &Value,
        read: &Call,
        enabled: &mut dyn Iterator<Item = &Call>,
    ) -> bool {
        register_may_become_legal(state, read, enabled)
    }
    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "read"
    }
}

/// A read of `v` that is not legal now needs some enabled write of `v` (or cas to `v`).
fn register_may_become_legal(
    state: &Value,
    read: &Call,
    enabled: &mut dyn Iterator<Item = &Call>,
) -> bool {
    let Some(v) = &read.output else {
        return true;
    };
    if v == state {
        return true;
    }
    any_call(enabled, |c| match c.f.as_str() {
        "write" => &c.input == v,
        "cas" => c.input.as_seq().is_some_and(|s| s.get(1) == Some(v)),
        _ => true,
    })
}

fn register_step(
    model: &str,
    state: &Value,
    call: &Call,
    cas: bool,
    ex: bool,
) -> Result<Value, String> {
    match call.f.as_str() {
        "write" => Ok(call.input.clone()),
        "read" => match call.output.as_ref() {
            None => Ok(state.clone()),
            Some(v) if v == state => Ok(state.clone()),
            Some(v) => Err(why(ex, || format!("can't read {v} from register {state}"))),
        },
        "cas" if cas => match call.input.as_seq() {
            Some([old, new]) if old == state => Ok(new.clone()),
            Some([old, new]) => Err(why(ex, || format!("can't CAS {state} from {old} to {new}"))),
            _ => Err(why(ex, || {
                format!("cas value {} is not [old new]", call.input)
            })),
        },
        _ => Err(why(ex, || unknown_f(model, call))),
    }
}

/// Registers by name, changed by transactions (Knossos `multi-register`): `txn` with a value
/// of `[[:read k v] [:write k v] ...]`. The state is a flat vector `[k1 v1 k2 v2 ...]` sorted
/// by key; a key never written reads nil unless [`MultiRegister::initial`] gives it a value.
#[derive(Clone, Debug, Default)]
pub struct MultiRegister {
    /// Initial values by key.
    pub initial: Vec<(Value, Value)>,
}

impl Apply for MultiRegister {
    fn name(&self) -> &str {
        "multi-register"
    }
    fn init(&self) -> Value {
        let mut m = self.initial.clone();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        m.dedup_by(|a, b| a.0 == b.0);
        Value::Vector(m.into_iter().flat_map(|(k, v)| [k, v]).collect())
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        if call.f != "txn" {
            return Err(why(ex, || unknown_f("multi-register", call)));
        }
        let Some(mops) = call.output.as_ref().unwrap_or(&call.input).as_seq() else {
            return Err(why(ex, || {
                format!("txn value {} is not a list", call.input)
            }));
        };
        let mut flat = state.as_seq().unwrap_or(&[]).to_vec();
        for mop in mops {
            let [f, k, v] = mop.as_seq().unwrap_or(&[]) else {
                return Err(why(ex, || format!("micro-op {mop} is not [f k v]")));
            };
            let slot = pair_search(&flat, k);
            if f.is_name("write") {
                match slot {
                    Ok(i) => flat[2 * i + 1] = v.clone(),
                    Err(i) => {
                        flat.insert(2 * i, v.clone());
                        flat.insert(2 * i, k.clone());
                    }
                }
            } else if f.is_name("read") {
                let cur = slot.map_or(&Value::Nil, |i| &flat[2 * i + 1]);
                if call.output.is_some() && cur != v {
                    return Err(why(ex, || format!("can't read {k} = {v}: it is {cur}")));
                }
            } else {
                return Err(why(ex, || format!("unknown micro-op {f}")));
            }
        }
        Ok(Value::Vector(flat))
    }
    fn is_read_only(&self, call: &Call) -> bool {
        call.input.as_seq().is_some_and(|mops| {
            mops.iter().all(|m| {
                m.as_seq()
                    .and_then(|s| s.first())
                    .is_some_and(|f| f.is_name("read"))
            })
        })
    }
}

/// A mutex (Knossos `mutex`): `acquire` succeeds only when free, `release` only when held.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

impl Apply for Mutex {
    fn name(&self) -> &str {
        "mutex"
    }
    fn init(&self) -> Value {
        Value::Bool(false)
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        let held = state.as_bool() == Some(true);
        match (call.f.as_str(), held) {
            ("acquire", false) => Ok(Value::Bool(true)),
            ("acquire", true) => Err(why(ex, || "can't acquire a held mutex".into())),
            ("release", true) => Ok(Value::Bool(false)),
            ("release", false) => Err(why(ex, || "can't release a free mutex".into())),
            _ => Err(why(ex, || unknown_f("mutex", call))),
        }
    }
}

/// A set (Knossos/Porcupine `set`): `add x`, `read` returns every element (any order, no
/// duplicates). The state is the sorted vector of elements.
#[derive(Clone, Copy, Debug, Default)]
pub struct Set;

impl Apply for Set {
    fn name(&self) -> &str {
        "set"
    }
    fn init(&self) -> Value {
        Value::Vector(Vec::new())
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        let elems = state.as_seq().unwrap_or(&[]);
        match call.f.as_str() {
            "add" => match elems.binary_search(&call.input) {
                Ok(_) => Ok(state.clone()),
                Err(i) => {
                    let mut v = elems.to_vec();
                    v.insert(i, call.input.clone());
                    Ok(Value::Vector(v))
                }
            },
            "read" => match &call.output {
                None => Ok(state.clone()),
                Some(out) => {
                    let mut got = out.as_seq().unwrap_or(&[]).to_vec();
                    got.sort();
                    if out.as_seq().is_some() && got == elems {
                        Ok(state.clone())
                    } else {
                        Err(why(ex, || format!("can't read {out} from set {state}")))
                    }
                }
            },
            _ => Err(why(ex, || unknown_f("set", call))),
        }
    }
    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "read"
    }
    /// Adds only grow the set: a read can become legal only if it shows every element
    /// already present.
    fn may_become_legal(
        &self,
        state: &Value,
        read: &Call,
        _enabled: &mut dyn Iterator<Item = &Call>,
    ) -> bool {
        let Some(out) = read.output.as_ref().and_then(Value::as_seq) else {
            return true;
        };
        state
            .as_seq()
            .unwrap_or(&[])
            .iter()
            .all(|e| out.contains(e))
    }
}

/// A FIFO queue (Knossos `fifo-queue`): `enqueue x`; `dequeue` returns the oldest element. A
/// dequeue that returns nil found the queue empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct FifoQueue;

impl Apply for FifoQueue {
    fn name(&self) -> &str {
        "fifo-queue"
    }
    fn init(&self) -> Value {
        Value::Vector(Vec::new())
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        queue_step("fifo-queue", state, call, true, ex)
    }
}

/// An unordered queue (Knossos `unordered-queue`): `enqueue x`; `dequeue` returns any element
/// present. A dequeue that returns nil found the queue empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct UnorderedQueue;

impl Apply for UnorderedQueue {
    fn name(&self) -> &str {
        "unordered-queue"
    }
    fn init(&self) -> Value {
        Value::Vector(Vec::new())
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        queue_step("unordered-queue", state, call, false, ex)
    }
}

fn queue_step(
    model: &str,
    state: &Value,
    call: &Call,
    fifo: bool,
    ex: bool,
) -> Result<Value, String> {
    let elems = state.as_seq().unwrap_or(&[]);
    match call.f.as_str() {
        "enqueue" => {
            let mut v = elems.to_vec();
            if fifo {
                v.push(call.input.clone());
            } else {
                let i = v.binary_search(&call.input).unwrap_or_else(|i| i);
                v.insert(i, call.input.clone());
            }
            Ok(Value::Vector(v))
        }
        "dequeue" => {
            let pos = match &call.output {
                Some(Value::Nil) if elems.is_empty() => return Ok(state.clone()),
                Some(Value::Nil) => {
                    return Err(why(ex, || format!("can't dequeue nothing from {state}")))
                }
                _ if elems.is_empty() => {
                    return Err(why(ex, || "can't dequeue from an empty queue".into()))
                }
                None => 0,
                Some(x) if fifo && &elems[0] == x => 0,
                Some(x) if fifo => {
                    return Err(why(ex, || format!("can't dequeue {x} from {state}")))
                }
                Some(x) => elems
                    .iter()
                    .position(|e| e == x)
                    .ok_or_else(|| why(ex, || format!("can't dequeue {x} from {state}")))?,
            };
            let mut v = elems.to_vec();
            v.remove(pos);
            Ok(Value::Vector(v))
        }
        _ => Err(why(ex, || unknown_f(model, call))),
    }
}

/// A key-value map of strings, as in Porcupine's kv tests: `get` returns the key's value (""
/// when never written), `put` sets it, `append` appends to it. The key is the op's `:key`
/// field. Partitioned by key; with partitioning off the state is the whole map. States are
/// flat vectors `[k1 v1 k2 v2 ...]` sorted by key (cheaper to hash than maps).
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

impl Apply for Kv {
    fn name(&self) -> &str {
        "kv"
    }
    fn init(&self) -> Value {
        Value::Vector(Vec::new())
    }
    fn apply(&self, state: &Value, call: &Call, ex: bool) -> Result<Value, String> {
        let key = call.key.as_ref().unwrap_or(&Value::Nil);
        let flat = state.as_seq().unwrap_or(&[]);
        let slot = pair_search(flat, key);
        let cur = slot.map_or("", |i| flat[2 * i + 1].as_name().unwrap_or(""));
        let new = match call.f.as_str() {
            "get" => {
                return match &call.output {
                    Some(out) if out.as_name().unwrap_or("") != cur => Err(why(ex, || {
                        format!("can't get {out} for key {key}: it is {cur:?}")
                    })),
                    _ => Ok(state.clone()),
                };
            }
            "put" => call.input.as_name().unwrap_or("").to_string(),
            "append" => format!("{cur}{}", call.input.as_name().unwrap_or("")),
            _ => return Err(why(ex, || unknown_f("kv", call))),
        };
        let mut m = flat.to_vec();
        match slot {
            Ok(i) => m[2 * i + 1] = Value::str(&new),
            Err(i) => {
                m.insert(2 * i, Value::str(&new));
                m.insert(2 * i, key.clone());
            }
        }
        Ok(Value::Vector(m))
    }
    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "get"
    }
    /// Appends only extend the value: a get of `o` can become legal only if the current value
    /// is a prefix of `o`, or some enabled put writes a prefix of `o`.
    fn may_become_legal(
        &self,
        state: &Value,
        read: &Call,
        enabled: &mut dyn Iterator<Item = &Call>,
    ) -> bool {
        let Some(out) = read.output.as_ref().map(|o| o.as_name().unwrap_or("")) else {
            return true;
        };
        let flat = state.as_seq().unwrap_or(&[]);
        let key = read.key.as_ref().unwrap_or(&Value::Nil);
        let cur = pair_search(flat, key).map_or("", |i| flat[2 * i + 1].as_name().unwrap_or(""));
        out.starts_with(cur)
            || any_call(enabled, |c| {
                c.key.as_ref().unwrap_or(&Value::Nil) == key
                    && match c.f.as_str() {
                        "put" => out.starts_with(c.input.as_name().unwrap_or("")),
                        "append" => false,
                        _ => true,
                    }
            })
    }
    fn partition(&self, call: &Call) -> Option<Value> {
        Some(call.key.clone().unwrap_or_default())
    }
}

const NAMES: &[&str] = &[
    "register",
    "cas-register",
    "multi-register",
    "mutex",
    "set",
    "fifo-queue",
    "unordered-queue",
    "kv",
];

/// The names [`model_by_name`] knows (it also takes `queue` for `fifo-queue`).
pub fn model_names() -> &'static [&'static str] {
    NAMES
}

/// A built-in model by name, with nil/empty initial state.
pub fn model_by_name(name: &str) -> Option<Box<dyn Model>> {
    Some(match name {
        "register" => Box::new(Register::default()),
        "cas-register" => Box::new(CasRegister::default()),
        "multi-register" => Box::new(MultiRegister::default()),
        "mutex" => Box::new(Mutex),
        "set" => Box::new(Set),
        "fifo-queue" | "queue" => Box::new(FifoQueue),
        "unordered-queue" => Box::new(UnorderedQueue),
        "kv" => Box::new(Kv),
        _ => return None,
    })
}
