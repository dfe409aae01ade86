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
//! `start-packet`/`stop-packet`, `bitflip`, `truncate`. Every completion is `info` with a value
//! saying what was done (`[:isolated {"n1" #{"n2"}}]`, `{"n2" :killed}`...). `kill` and
//! `pause` use the node's cgroup (so they reach daemons too); `start` calls
//! [`rift_core::Db::start`]. `teardown` heals partitions and packet loss and resumes paused
//! nodes.
//!
//! **Packages** ([`Package`], Jepsen's `jepsen.nemesis.combined`): [`packages`] builds, for
//! each fault kind of `--nemesis partition,kill,pause,packet,file` ([`parse_faults`]), a
//! generator on the nemesis thread that starts a fault (target drawn with the run's RNG),
//! stops it `interval_ns` later, starts another `interval_ns` after that, and so on; a final
//! generator that heals (`stop-partition`, `start :all`, `resume :all`, `stop-packet`); and
//! the [`PerfSpec`] plots shade. [`compose`] runs several together. [`rotating`] cuts time
//! into windows and runs a random subset of the packages in each, healing those that leave.
//! **Roles** ([`Roles`]) name groups of nodes: node spec `role:storage`, partition
//! `between:storage,brokers` ([`Grudge::between`]); give them to
//! [`LocalNemesis::with_roles`].
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
//! assert!(rift_nemesis::parse_faults("clock").is_err());
//! ```
//!
//! # Edge cases
//!
//! - `nft` missing: [`LocalNemesis`]'s setup fails with [`NemesisError::NftMissing`], whose
//!   message says `apt-get install nftables`.
//! - Delay, reorder, duplication, corruption and rate limits of packets need `tc netem`; this
//!   kernel has no `sch_netem`, so `start-packet` with such a behaviour fails with
//!   [`NemesisError::Unsupported`] saying so. Loss works.
//! - `nft` runs in the node's namespace but outside its cgroup, so a paused node can still be
//!   partitioned and healed.
//! - `start-partition` replaces the current partition (Jepsen's partitioner does the same);
//!   packet loss and partitions live side by side in the one table.
//! - `minority-third` isolates nobody on 3 nodes or fewer ((n - 1) / 3 = 0), as in Jepsen.
//! - `start` and `resume` with a `nil` value act on every node; `kill` and `pause` with
//!   `nil` pick a random non-empty subset.
//! - File faults have no stop and no final generator: corruption cannot be undone.
//! - A rotating window drawn with no packages runs no faults (after healing the leavers);
//!   a package healed as it leaves may already have stopped its fault (a harmless second
//!   stop).
//! - Random choices come from ChaCha8 seeded by the caller: the same seed makes the same
//!   faults.

#![warn(missing_docs)]

mod corrupt;
mod error;
mod grudge;
mod nemesis;
mod net;
mod nodespec;
mod package;
mod schedule;

pub use corrupt::{bitflip, truncate, MAX_FLIPS};
pub use error::NemesisError;
pub use grudge::{majority, minority_third, Grudge};
pub use nemesis::{LocalNemesis, FS};
pub use net::{check_nft, render, Firewall, NodeRules, TABLE};
pub use nodespec::{role_nodes, NodeSpec, Roles};
pub use package::{
    compose, default_targets, packages, parse_faults, Package, PackageOptions, PerfSpec,
    DEFAULT_INTERVAL_NS, FAULTS,
};
pub use schedule::{rotating, rotating_package, ROTATING_MAX_SKIPS};
