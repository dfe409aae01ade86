//! rift's nisshi suite: nisshi brokers on one PostgreSQL, Bufstream's shape (stateless brokers
//! on shared storage) with a system that can be had here.
//!
//! - [`dist`]: nisshi and PostgreSQL 16, once into rift's cache.
//! - [`db`]: the two roles as daemons.
//! - [`suite`]: roles, options, the run builder, the Suite.

pub mod db;
pub mod dist;
pub mod suite;

pub use suite::{NisshiArgs, NisshiSuite};
