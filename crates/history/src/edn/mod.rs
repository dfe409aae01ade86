//! Jepsen EDN (`history.edn`): reading and writing. (Being written.)

use crate::error::Result;
use crate::op::Op;
use crate::value::Value;
use std::path::Path;

/// Appends a value as EDN text.
pub fn write_value(out: &mut String, v: &Value) {
    let _ = (out, v);
    todo!()
}

/// Appends an op as one EDN map (no newline).
pub fn write_op(out: &mut String, op: &Op) {
    let _ = (out, op);
    todo!()
}

/// Reads ops from EDN bytes: one op map per line, or a vector/list of op maps.
pub fn read_edn_bytes(bytes: &[u8], path: Option<&Path>) -> Result<Vec<Op>> {
    let _ = (bytes, path);
    todo!()
}
