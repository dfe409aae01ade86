//! Faults for rift tests on the local cluster, under Jepsen's names.
//!
//! # Concepts
//!
//! A **grudge** ([`Grudge`]) maps each node to the nodes it must not hear from; Jepsen's
//! builders are here under their names: [`Grudge::one`], [`Grudge::majority`],
//! [`Grudge::minority_third`], [`Grudge::majorities_ring`], [`Grudge::bridge`],
//! [`Grudge::primaries`] and [`Grudge::complete`] for explicit components. The [`Firewall`]
//! turns grudges and packet loss into nftables rules that live in **our own table**,
//! `table inet rift`, inside each node's network namespace: a node drops packets from, and to,
//! the addresses it grudges; packet loss is `numgen random mod 100 < P` on outgoing
//! non-loopback packets. Each change rewrites a node's table atomically with one `nft -f -`,
//! all namespaces concurrently; healing deletes our table and never touches anything else.
//!
//! A [`NodeSpec`] picks targets for process faults (`one`, `minority`, `minority-third`,
//! `majority`, `all`, `primaries`, a node list, or `nil` for a random non-empty subset).
//! [`LocalNemesis`] implements [`rift_core::Nemesis`] for Jepsen's combined op names:
//! `start-partition`/`stop-partition`, `kill`/`start`, `pause`/`resume`,
//! `start-packet`/`stop-packet`, `bitflip`, `truncate`, and the clock ops `reset-clock`,
//! `bump-clock`, `strobe-clock`, `check-clock-offsets`. Every completion is `info` with a value
//! saying what was done (`[:isolated {"n1" #{"n2"}}]`, `{"n2" :killed}`...). `kill` and
//! `pause` use the node's cgroup (so they reach daemons too); `start` calls
//! [`rift_core::Db::start`]. `teardown` heals partitions and packet loss and resumes paused
//! nodes, and resets clocks.
//!
//! **Clocks** ([`LocalClock`], Jepsen's `jepsen.nemesis.time`): namespaces share the host
//! clock, which we never touch; instead each node's daemons run under libfaketime (the db
//! puts [`rift_control::clock::faketime_env`] into its `DaemonSpec`) and a clock fault
//! rewrites the node's offset file. `bump-clock` (`{node delta-ms}`) adds to a node's offset,
//! `strobe-clock` (`{node {:delta ms, :period ms, :duration ms}}`) flips it between its base
//! and base + delta every period for the duration (a tokio task; a reset, a new strobe on the
//! node or healing cancels it), `reset-clock` (a node list, or `nil` for all) sets 0. Every
//! clock completion carries the offsets *measured* afterwards on every node (`date` run under
//! libfaketime inside the node, minus the real time) in the extra field `clock-offsets`
//! (`{"n1" 0.0, "n2" 60.0}`, seconds), which the report's clock plot reads. Static binaries
//! (Go: etcd, nats-server) ignore libfaketime; on real machines use the `rift-clock` helper
//! of [`rift_control::clock`] instead.
//!
//! **Packages** ([`Package`], Jepsen's `jepsen.nemesis.combined`): [`packages`] builds, for
//! each fault kind of `--nemesis partition,kill,pause,packet,file,clock` ([`parse_faults`]), a
//! generator on the nemesis thread that starts a fault (target drawn with the run's RNG),
//! stops it `interval_ns` later, starts another `interval_ns` after that, and so on; a final
//! generator that heals (`stop-partition`, `start :all`, `resume :all`, `stop-packet`,
//! `reset-clock`); and
//! the [`PerfSpec`] plots shade. [`compose`] mixes several as Jepsen does (one fault op per interval, from a package drawn at random, so faults overlap in every combination). [`rotating`] cuts time
//! into windows and runs a random subset of the packages in each, healing those that leave.
//! **Roles** ([`Roles`]) name groups of nodes (a db declares them: Kafka's `controller` and
//! `broker`): node spec `role:storage` (all of a role), `role:storage:one` (a Jepsen spec
//! among the role's nodes only, as Jepsen's `restrict-nemesis-package`), partitions
//! `between:storage,brokers` ([`Grudge::between`]) and `role:brokers:majority` (a partition
//! among the role's nodes); give them to [`LocalNemesis::with_roles`]. `--nemesis` names
//! role-scoped faults ([`parse_faults_for`], [`fault_scope`]): `kill-<role>`,
//! `pause-<role>`, `clock-<role>`, `packet-<role>` and `partition-<role>` draw Jepsen's
//! default targets among that role's nodes; `partition-<a>-<b>` cuts the two roles apart.
//!
//! # Example
//!
//! ```
//! use rand::SeedableRng;
//! use rift_nemesis::{render, Grudge, NodeRules};
//!
//! let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let g = Grudge::majority(&nodes, &mut rng);
//! // Two nodes on one side grudge three, three nodes on the other side grudge two.
//! let mut sizes: Vec<usize> = g.0.values().map(|s| s.len()).collect();
//! sizes.sort();
//! assert_eq!(sizes, vec![2, 2, 2, 3, 3]);
//! // Healing a node is deleting our table, whatever it held.
//! assert_eq!(render(&NodeRules::default()), "table inet rift\ndelete table inet rift\n");
//!
//! // `--nemesis partition,kill`: two packages, composed; unknown names are refused.
//! let faults = rift_nemesis::parse_faults("partition,kill").unwrap();
//! let opts = rift_nemesis::PackageOptions::new(faults, nodes.clone());
//! let both = rift_nemesis::compose(rift_nemesis::packages(&opts).unwrap());
//! assert_eq!(both.name, "partition+kill");
//! assert!(rift_nemesis::parse_faults("clocks").is_err());
//!
//! // Clock skew: reset, bump and strobe under Jepsen's names, healed by `reset-clock`.
//! let clock = rift_nemesis::packages(&rift_nemesis::PackageOptions::new(
//!     rift_nemesis::parse_faults("clock").unwrap(),
//!     nodes,
//! ))
//! .unwrap();
//! assert_eq!(clock[0].perf[0].start, ["bump-clock", "strobe-clock"]);
//! ```
//!
//! # Edge cases
//!
//! - `nft` missing: [`LocalNemesis`]'s setup falls back to iptables ([`Backend::Iptables`]:
//!   our own chains `RIFT-INPUT`/`RIFT-OUTPUT` and one jump to each, removed on heal; nothing
//!   else is flushed); with neither it fails with [`NemesisError::NftMissing`], whose message
//!   says what to install. `RIFT_FIREWALL=nft|iptables` forces a backend.
//! - Delay, reorder, duplication, corruption and rate limits of packets need `tc netem`
//!   ([`netem`]): rift probes each time (a no-op netem qdisc on the first target) and applies
//!   them where the kernel has `sch_netem`; this machine's kernel has none, so there
//!   `start-packet` with such a behaviour fails with [`NemesisError::Unsupported`] saying so.
//!   Loss alone always goes through nft.
//! - `nft` runs in the node's namespace but outside its cgroup, so a paused node can still be
//!   partitioned and healed.
//! - `start-partition` replaces the current partition (Jepsen's partitioner does the same);
//!   packet loss and partitions live side by side in the one table.
//! - `minority-third` isolates nobody on 3 nodes or fewer ((n - 1) / 3 = 0), as in Jepsen.
//! - `start` and `resume` with a `nil` value act on every node; `kill` and `pause` with
//!   `nil` pick a random non-empty subset.
//! - File faults have no stop and no final generator: corruption cannot be undone.
//! - The clock package starts with `check-clock-offsets`, then every interval a reset, bump
//!   (±2^2..2^18 ms) or strobe (period 8..1024 ms, up to 32 s) on a random subset of nodes,
//!   alternating with `check-clock-offsets`. A strobe op completes at once; its flips go on
//!   in the background. Strobe durations are milliseconds (Jepsen's are seconds).
//! - Clock ops need libfaketime ([`NemesisError::Control`] naming `apt-get install
//!   libfaketime` otherwise); healing never does when no clock was skewed.
//! - A rotating window drawn with no packages runs no faults (after healing the leavers);
//!   a package healed as it leaves may already have stopped its fault (a harmless second
//!   stop).
//! - Random choices come from ChaCha8 seeded by the caller: the same seed makes the same
//!   faults.

#![warn(missing_docs)]

mod clock;
mod corrupt;
mod error;
mod grudge;
mod nemesis;
mod net;
pub mod netem;
mod nodespec;
mod package;
mod remote_clock;
mod schedule;

pub use clock::{
    offsets_value, parse_bumps, parse_strobes, LocalClock, Strobe, CLOCK_FS, MIN_STROBE_PERIOD_MS,
};
pub use corrupt::{bitflip, truncate, MAX_FLIPS};
pub use error::NemesisError;
pub use grudge::{majority, minority_third, Grudge};
pub use nemesis::{LocalNemesis, FS};
pub use net::{
    check_nft, detect_backend, render, render_iptables, Backend, Firewall, NodeRules, BACKEND_VAR,
    IPTABLES_CHAINS, TABLE,
};
pub use nodespec::{role_nodes, NodeSpec, Roles};
pub use package::{
    compose, default_targets, fault_kinds, fault_scope, known_faults, packages, parse_faults,
    parse_faults_for, test_phase, FaultScope, Package, PackageOptions, PerfSpec,
    CLOCK_MAX_DELTA_MS, CLOCK_MAX_STROBE_MS, CLOCK_STROBE_PERIODS_MS, DEFAULT_INTERVAL_NS, FAULTS,
    ROLE_FAULTS,
};
pub use remote_clock::RemoteClock;
pub use schedule::{rotating, rotating_package, ROTATING_MAX_SKIPS};
