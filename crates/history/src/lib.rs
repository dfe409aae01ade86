//! Operations and histories in Jepsen's shape, and the files they live in.
//!
//! # Concepts
//! An [`Op`] is one line of a Jepsen history: an invocation (`type` `invoke`) or a completion
//! (`ok`: it happened; `fail`: it definitely did not; `info`: unknown, it may take effect at any
//! time after its invocation, or never). Its other fields keep Jepsen's meaning: `index` is the
//! dense position in the history, `time` nanoseconds since the test started, `process` the
//! logical client (an integer, or `:nemesis` for the fault injector; a client that got `info` is
//! never reused), `f` the function (`:read`, `:txn`, `:start-partition`), `value` the argument
//! on invocation and the result on completion, `error` why it failed. Any other keys are kept in
//! order in `extra`. Values are [`Value`]s, a faithful image of EDN (keywords, sets, big numbers,
//! tagged literals), and each op remembers which fields its source had and in which order
//! ([`Layout`]), so a history read and written back is the same file.
//!
//! A [`History`] is the ops in order with each invocation paired to the next completion of the
//! same process, computed once.
//!
//! # Formats
//! - JSONL (`history.jsonl`, rift's own, [`json`]): one JSON object per line; keywords are plain
//!   strings and the rest of EDN is kept with small `~`-prefixed encodings.
//! - EDN (`history.edn`, Jepsen's, [`edn`]): op maps one per line, or one vector of op maps
//!   (Knossos files), including `#jepsen.history.Op{...}` records.
//! - JSON arrays of ops (elle-cli), Jepsen's `history.txt` and Jepsen log lines ([`txt`]).
//!
//! [`Format::detect`] picks the format from the extension and the first bytes;
//! [`read_history_file`] reads any of them.
//!
//! # Example
//! ```
//! use rift_history::{edn, History, OpType, Value};
//!
//! let text = "; a register history\n\
//!             {:type :invoke, :f :write, :value 1, :process 0, :time 10}\n\
//!             {:type :invoke, :f :read, :value nil, :process 1, :time 12}\n\
//!             {:type :ok, :f :write, :value 1, :process 0, :time 20}\n\
//!             {:type :info, :f :read, :value nil, :process 1, :time 30, :error :timeout}\n";
//! let ops = edn::read_edn_bytes(text.as_bytes(), None)?;
//! assert_eq!(ops[2].index, 2); // no :index in the file: assigned from the position
//! let history = History::new(ops)?;
//! assert_eq!(history.completion(0).unwrap().ty, OpType::Ok);
//! assert_eq!(history.completion(1).unwrap().error, Some(Value::kw("timeout")));
//! // Written back, an op keeps its source's key order.
//! assert_eq!(
//!     history.ops()[2].to_string(),
//!     "{:type :ok, :f :write, :value 1, :process 0, :time 20}"
//! );
//! # Ok::<(), rift_history::Error>(())
//! ```
//!
//! # Edge cases
//! - A JSONL file whose last line was cut short by a crash (no newline, not valid JSON) reads
//!   without that line; [`json::ReadReport`] says which line was dropped. Any other bad line is an
//!   error naming file, line, column and field.
//! - Ops without `:index` get their position in the file; ops without `:time` have `time: None`
//!   (Knossos files and `history.txt` have neither). `:type` is required.
//! - `#jepsen.history.Op{...}` records read as ops with `layout.record` set and are written back
//!   as records.
//! - A process that invokes while its previous op is still open is an error of [`History::new`];
//!   a completion nobody invoked stays unpaired.
//! - Ratios (`1/3`) have no `Value` variant and are kept as the tagged value
//!   `#ratio "1/3"` (written back as `1/3`); keywords that are not readable EDN names (JSON
//!   can carry any string) are written to EDN as strings.

#![warn(missing_docs)]

mod chunked;
pub mod edn;
pub mod error;
pub mod format;
pub mod history;
pub mod json;
pub mod op;
pub mod txt;
pub mod value;
pub mod writer;

pub use edn::EdnWriter;
pub use error::{Error, Location, Result};
pub use format::{
    read_history_file, read_ops_bytes, read_ops_file, write_ops_file, Compression, Format,
};
pub use history::{History, PairingProblem};
pub use json::{JsonlReader, JsonlWriter, ReadReport};
pub use op::{Entry, Field, Layout, Op, OpType, Process};
pub use value::{Name, Value};
pub use writer::OpWriter;
