//! rift's Bufstream suite: jepsen.bufstream's cluster and faults.
//!
//! - [`s3`]: the slice of the S3 API the storage role needs (SigV4 over HTTP/1.1).
//! - [`store`]: the storage role (MinIO from `--minio-bin`, or s3s-fs built into the cache).
//! - [`broker`]: the bufstream role (the user's binary) and its `bufstream.yaml`.
//! - [`suite`]: the seed's roles, fault names, options and test-all sets; the run builder.

pub mod broker;
pub mod s3;
pub mod store;
pub mod suite;

pub use suite::{BufstreamArgs, BufstreamSuite};
