//! The nemesis error type.

use rift_control::ControlError;
use rift_core::RiftError;

/// What can go wrong while injecting or healing a fault.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// `nft` is not installed.
    #[error("nft not found: partitions and packet loss need nftables (apt-get install nftables), or iptables as a fallback (apt-get install iptables)")]
    NftMissing,
    /// A fault this machine cannot inject.
    #[error("{what} is not supported here ({why})")]
    Unsupported {
        /// The fault.
        what: String,
        /// Why not.
        why: String,
    },
    /// An op's value could not be understood.
    #[error("bad value for {f}: {detail}")]
    BadValue {
        /// The op's `f`.
        f: String,
        /// What is wrong.
        detail: String,
    },
    /// An op `f` this nemesis does not handle.
    #[error("unknown nemesis op {0:?}")]
    UnknownOp(String),
    /// A node name not in the cluster.
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    /// A role name not in the test's roles.
    #[error("unknown role {role:?} (known roles: {known})")]
    UnknownRole {
        /// The role asked for.
        role: String,
        /// The known roles, comma-separated.
        known: String,
    },
    /// A fault name not among the packages' (`--nemesis`).
    #[error("unknown fault {name:?} (known faults: {known}; or none)")]
    UnknownFault {
        /// The name given.
        name: String,
        /// The known fault names, comma-separated.
        known: String,
    },
    /// Package options that cannot work (a bad target, no files for `file`...).
    #[error("bad nemesis package option for {fault}: {detail}")]
    BadOption {
        /// The fault kind.
        fault: String,
        /// What is wrong.
        detail: String,
    },
    /// The db (start, primaries) failed.
    #[error("db: {0}")]
    Db(RiftError),
    /// A command or cluster operation failed.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Several nodes failed; every failure is listed.
    #[error("{}", .0.join("; "))]
    Many(Vec<String>),
}

impl NemesisError {
    /// A [`NemesisError::BadValue`].
    pub fn bad_value(f: &str, detail: impl Into<String>) -> NemesisError {
        NemesisError::BadValue {
            f: f.to_string(),
            detail: detail.into(),
        }
    }

    /// A [`NemesisError::Io`].
    pub fn io(context: impl Into<String>, source: std::io::Error) -> NemesisError {
        NemesisError::Io {
            context: context.into(),
            source,
        }
    }

    /// The short kind used in [`RiftError`]s.
    pub fn kind(&self) -> &'static str {
        match self {
            NemesisError::NftMissing => "nft-missing",
            NemesisError::Unsupported { .. } => "unsupported",
            NemesisError::BadValue { .. } => "bad-value",
            NemesisError::UnknownOp(_) => "unknown-op",
            NemesisError::UnknownNode(_) => "unknown-node",
            NemesisError::UnknownRole { .. } => "unknown-role",
            NemesisError::UnknownFault { .. } => "unknown-fault",
            NemesisError::BadOption { .. } => "bad-option",
            NemesisError::Db(_) => "db",
            NemesisError::Control(_) => "control",
            NemesisError::Io { .. } => "io",
            NemesisError::Many(_) => "nemesis",
        }
    }
}

impl From<NemesisError> for RiftError {
    fn from(e: NemesisError) -> RiftError {
        RiftError::new(e.kind(), e.to_string())
    }
}
