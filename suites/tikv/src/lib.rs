//! rift-tikv: `rift test --db tikv`, the tikv/jepsen-test suite with TiKV's Rust client
//! called directly (the seed talks to it through a "client server" process per node).
//!
//! - [`dist`]: the release tarball (`--version vX.Y.Z` builds PingCAP's URL as the seed does,
//!   or `--tarball FILE|URL`), unpacked once per node; `pd-server` and `tikv-server` found in it.
//! - [`db`]: PD (`pd1..pdN`, ports 2379/2380) and TiKV (20160, status 20180) on every node,
//!   configs written by rift, the seed's start-and-wait loops (a process that crashes during
//!   start-up is started again, 300 s deadline), health on `/health` and `/status`, the PD
//!   leader from PD's API ([`pd`]), logs into the store.
//! - [`client`]: the `tikv-client` crate: the raw API for `register`, the transactional API
//!   (optimistic, as the seed) for `set` and `list-append`; one table says which errors are
//!   `fail` and which `info`.
//! - [`gen`] and [`nemesis`]: the seed's nemeses by its names (`partition-one`,
//!   `partition-pd-leader`, `kill-pd`, `pause-kv`, `shuffle-leader`, `random-merge`,
//!   `restart-kv-without-pd`, ...), its schedules (`--nemesis-schedule fixed|random`,
//!   `--nemesis-long-recovery`) and its final healing.

#![warn(missing_docs)]

use async_trait::async_trait;
use rift_core::PlugResult;

pub mod client;
pub mod db;
pub mod dist;
pub mod gen;
pub mod nemesis;
pub mod pd;
pub mod suite;

pub use suite::{TikvArgs, TikvSuite};

/// The two processes of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proc {
    /// The Placement Driver, `pd-server`.
    Pd,
    /// The store, `tikv-server`.
    Kv,
}

impl Proc {
    /// `pd` or `kv`: the seed's suffix of its op names (`kill-pd`), and the role's name.
    pub fn name(self) -> &'static str {
        match self {
            Proc::Pd => "pd",
            Proc::Kv => "kv",
        }
    }
}

/// What the nemesis does to one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// SIGKILL (the seed's `kill-pd`/`kill-kv`).
    Kill,
    /// Start it again, without waiting for it to serve (the seed's `start-pd`/`start-kv`; a
    /// process already running is left alone).
    Start,
    /// SIGSTOP (`pause-pd`/`pause-kv`).
    Pause,
    /// SIGCONT (`resume-pd`/`resume-kv`).
    Resume,
}

impl Action {
    /// `kill`, `start`, `pause`, `resume`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Kill => "kill",
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
        }
    }
}

/// What the seed's nemeses need from the cluster beyond [`rift_core::Db`]: one process of a
/// node, the PD leader, PD's schedulers. [`db::TikvDb`] implements it.
#[async_trait]
pub trait TikvControl: Send + Sync {
    /// Applies `action` to `proc` on `node`.
    async fn process(&self, node: &str, proc: Proc, action: Action) -> PlugResult<()>;
    /// The node whose PD leads (PD's `/pd/api/v1/leader`, asked of the nodes in turn).
    async fn pd_leader(&self) -> PlugResult<String>;
    /// Adds (`add`) or removes PD's scheduler `name` (`shuffle-leader-scheduler`, ...), as
    /// the seed's `pd-ctl sched add|remove` does, through PD's HTTP API on some node; returns
    /// what PD answered.
    async fn scheduler(&self, name: &str, add: bool) -> PlugResult<String>;
}
