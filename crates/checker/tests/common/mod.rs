//! A tiny history builder for tests: each op gets the next index and a time 1 ms later.
#![allow(dead_code)]

use rift_history::{History, Op, OpType, Process, Value};

pub const MS: i64 = 1_000_000;

#[derive(Default)]
pub struct B {
    ops: Vec<Op>,
}

impl B {
    pub fn new() -> B {
        B::default()
    }

    pub fn op(mut self, ty: OpType, p: i64, f: &str, v: impl Into<Value>) -> B {
        let mut op = Op::new(ty, Process::Client(p), Value::kw(f), v.into());
        op.time = Some(self.ops.len() as i64 * MS);
        self.ops.push(op);
        self
    }

    pub fn inv(self, p: i64, f: &str, v: impl Into<Value>) -> B {
        self.op(OpType::Invoke, p, f, v)
    }
    pub fn ok(self, p: i64, f: &str, v: impl Into<Value>) -> B {
        self.op(OpType::Ok, p, f, v)
    }
    pub fn fail(self, p: i64, f: &str, v: impl Into<Value>) -> B {
        self.op(OpType::Fail, p, f, v)
    }
    pub fn info(self, p: i64, f: &str, v: impl Into<Value>) -> B {
        self.op(OpType::Info, p, f, v)
    }

    /// A nemesis invoke + info pair.
    pub fn nemesis(mut self, f: &str) -> B {
        for ty in [OpType::Invoke, OpType::Info] {
            let mut op = Op::new(ty, Process::Nemesis, Value::kw(f), Value::Nil);
            op.time = Some(self.ops.len() as i64 * MS);
            self.ops.push(op);
        }
        self
    }

    /// Pushes an arbitrary op.
    pub fn raw(mut self, mut op: Op) -> B {
        op.time = Some(self.ops.len() as i64 * MS);
        self.ops.push(op);
        self
    }

    pub fn build(self) -> History {
        History::reindexed(self.ops).expect("test history pairs")
    }
}

pub fn vec_of(xs: &[i64]) -> Value {
    Value::Vector(xs.iter().map(|&x| Value::Int(x)).collect())
}

pub fn set_of(xs: &[i64]) -> Value {
    Value::Set(xs.iter().map(|&x| Value::Int(x)).collect())
}

pub fn map_of(kv: &[(i64, Option<i64>)]) -> Value {
    Value::Map(
        kv.iter()
            .map(|&(k, v)| (Value::Int(k), v.map_or(Value::Nil, Value::Int)))
            .collect(),
    )
}
