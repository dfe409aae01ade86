//! Operations and histories (essay to come).

pub mod edn;
pub mod error;
pub mod history;
pub mod json;
pub mod op;
pub mod value;

pub use error::{Error, Location, Result};
pub use history::History;
pub use op::{Field, Layout, Op, OpType, Process};
pub use value::{Name, Value};
