//! How every librdkafka error becomes `fail` (definitely did not take effect) or `info` (may
//! have taken effect) for each step of the queue workload's ops, and the `:error` keyword
//! recorded with it.
//!
//! # Concepts
//! An op of the queue workload runs a few **steps** against librdkafka ([`Step`]): enqueueing
//! a record, waiting for its delivery report, the transaction calls, a consumer poll, an
//! offset commit, an assign/subscribe, an admin/metadata request. Every error code
//! ([`RDKafkaErrorCode`](rdkafka::error::RDKafkaErrorCode)) belongs to one **group** ([`Group`]) that says what the code means
//! for the request that got it; the step and the group together give the [`Outcome`]. A wrong
//! `fail` is a false anomaly for the checker (an "aborted read" of a value that was in fact
//! written), so whenever a row is unsure it says `info`.
//!
//! Why delivery reports are so cautious: librdkafka retries a record until
//! `message.timeout.ms`, and the report carries only the *last* attempt's error. An earlier
//! attempt may have been appended: a leader can append, lose leadership while it waits for
//! its followers, and answer NOT_LEADER_OR_FOLLOWER although a follower already has the record
//! (KAFKA-13574, which Jepsen's suites also treat as indeterminate); librdkafka's own
//! persistence status calls that "not persisted", so this table does not use it. So a
//! delivery error is definite only when it is a property of the record or the request that
//! every attempt would have hit ([`Group::Invalid`]). A record that was never enqueued
//! ([`Step::Enqueue`]) is always definite.
//!
//! # The groups (every code librdkafka 2.12 / rdkafka 0.39 knows is listed in [`group_of`])
//! | group | codes (examples) | meaning |
//! |---|---|---|
//! | `NotAnError` | NoError, PartitionEOF, AssignPartitions, RevokePartitions, Noop, NoOffset, InProgress, Begin/End markers | events, not failures; polls skip PartitionEOF |
//! | `Local` | QueueFull, InvalidArgument, State, Conflict, NotConfigured, PreviousInProgress, ExistingSubscription, PurgeQueue, ReadOnly, NoEnt, Underflow, InvalidType | librdkafka refused the call itself: this call sent nothing |
//! | `Invalid` | MessageSizeTooLarge, InvalidMessageSize, MessageBatchTooLarge, InvalidRecord, InvalidTimestamp, InvalidRequiredAcks, InvalidTopic, UnsupportedVersion, UnsupportedForMessageFormat, UnsupportedCompressionType, BadCompression, (de)serialization, authorization and SASL failures, invalid configs, policy violations, TopicAlreadyExists | a deterministic refusal: the record or request is unacceptable, so no attempt of it can have been appended |
//! | `Rejected` | UnknownTopicOrPartition, LeaderNotAvailable, NotEnoughReplicas, BrokerNotAvailable, ReplicaNotAvailable, InvalidMessage (CRC), UnknownTopic, UnknownPartition, ISRInsufficient, FencedLeaderEpoch, OffsetOutOfRange, ConcurrentTransactions, ThrottlingQuotaExceeded, ... | the broker (or librdkafka's metadata) refused *this attempt* before applying it, for a transient reason |
//! | `Ambiguous` | NotLeaderForPartition (KAFKA-13574), RequestTimedOut, NetworkException, NotEnoughReplicasAfterAppend, DuplicateSequenceNumber, KafkaStorageError, MessageTimedOut, OperationTimedOut, TimedOutQueue, BrokerTransportFailure, AllBrokersDown, Resolve, SSL, BadMessage, Fail, Unknown, PurgeInflight, BrokerDestroy, DestroyBroker, NodeUpdate, Interrupted, Partial, Retry, Outdated, Inconsistent, Application, FileSystem, CriticalSystemResource, FeatureUpdateFailed | the request may have been applied: it was sent and the answer was lost, late, or says "appended, but" |
//! | `Coordination` | group and coordinator codes: RebalanceInProgress, IllegalGeneration, UnknownMemberId, CoordinatorNotAvailable, NotCoordinator, CoordinatorLoadInProgress, WaitingForCoordinator, UnknownGroup, PollExceeded, AssignmentLost, FencedMemberEpoch, StaleMemberEpoch, ... | consumer-group state; never touches a partition's log |
//! | `Fatal` | Fatal, Fenced, ProducerFenced, InvalidProducerEpoch, OutOfOrderSequenceNumber, InvalidProducerIdMapping, UnknownProducerId, InvalidTransactionalState, GaplessGuarantee, FencedInstanceId | the idempotent/transactional state is broken; earlier records may or may not be in the log |
//! | `Unlisted` | a code added after this table was written | treated as `Ambiguous` |
//!
//! # The outcome of each group at each step
//! | group \ step | Enqueue | Deliver | TxnBegin | TxnCommit | TxnAbort | Poll | OffsetCommit | Assign | Admin |
//! |---|---|---|---|---|---|---|---|---|---|
//! | NotAnError | fail | info | fail | info | info | fail | fail | fail | fail |
//! | Local | fail | info | fail | **fail** | info | fail | fail | fail | fail |
//! | Invalid | fail | **fail** | fail | info | info | fail | fail | fail | fail |
//! | Rejected | fail | info | fail | info | info | fail | fail | fail | fail |
//! | Ambiguous | fail | info | fail | info | info | fail | **info** | fail | fail |
//! | Coordination | fail | info | fail | info | info | fail | fail | fail | fail |
//! | Fatal | fail | info | fail | info | info | fail | fail | fail | fail |
//! | Unlisted | fail | info | fail | info | info | fail | **info** | fail | fail |
//!
//! Why, by column:
//! - **Enqueue**: `send` returned the record: nothing was queued, nothing can be written.
//! - **Deliver**: see above; only deterministic refusals are definite.
//! - **TxnBegin** (init/begin transaction, send offsets to the transaction, and any error in a
//!   transaction's body before its commit): no commit was requested, so nothing in the
//!   transaction can become visible; the client aborts it (Jepsen's `safe-abort!` with
//!   `tried-commit?` false).
//! - **TxnCommit**: the commit may have been applied unless librdkafka refused the call
//!   locally. librdkafka's flags decide first ([`TxnFlags::next`]): *fatal* => `info` (the
//!   coordinator may have committed: librdkafka even reports "commit succeeded on the broker
//!   but the transaction had already failed locally" as fatal), *abortable* => the client
//!   aborts, and a successful abort makes it `fail` (an abort the coordinator accepted means
//!   the transaction did not commit), *retriable* => the commit is retried until the op's
//!   budget is spent, then `info`. A flush that fails inside `commit_transaction` (rdkafka
//!   flushes before committing: [`KafkaError::Flush`]) is `fail`: no commit was requested.
//! - **TxnAbort**: a failed abort after a commit was requested leaves the transaction's fate
//!   unknown: `info`; the client makes it `fail` when no commit was ever requested.
//! - **Poll / Assign / Admin**: these never write to a partition's log, so the op definitely
//!   did not take effect; the records a poll returned before the error stay in the value and
//!   are checked. Connection-level and group errors do not end a poll at all ([`ends_poll`]):
//!   librdkafka delivers them through the consumer queue, recovers by itself, and the Java
//!   client's `poll` would not have raised them. A *fatal* consumer error turns a poll into `info` (the client's consumer is
//!   dead, and a fresh consumer in the same process would break per-process poll order).
//! - **OffsetCommit** (consumer offsets outside transactions): the offsets may have been
//!   committed unless the code says otherwise; the op itself stays `ok` (its polls
//!   happened), with the commit error noted, as Jepsen does.
//!
//! # Error variants without a code
//! `Canceled` (client dropped before answering) is `Ambiguous`; `ClientConfig`,
//! `ClientCreation`, `AdminOpCreation`, `Nul`, `Seek`, `Subscription`, `PauseResume` are
//! `Local`; `NoMessageReceived` and `PartitionEOF` are `NotAnError`;
//! `MessageConsumptionFatal(code)` is its code's group with [`Verdict::fatal`] set; any
//! variant added later is `Unlisted`.
//!
//! # Keywords
//! The `:error` keyword is the code's name in kebab case (`UnknownTopicOrPartition` =>
//! `:unknown-topic-or-partition`, `ISRInsufficient` => `:isr-insufficient`), except
//! `NotLeaderForPartition`, recorded as Kafka's current name `:not-leader-or-follower`.

use rdkafka::error::{KafkaError, RDKafkaErrorCode as C};

/// A step of an op, where an error can happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Handing a record to librdkafka (`send` returned it at once).
    Enqueue,
    /// Waiting for a record's delivery report.
    Deliver,
    /// `init_transactions`, `begin_transaction`, `send_offsets_to_transaction`, and the body
    /// of a transaction before its commit.
    TxnBegin,
    /// `commit_transaction`.
    TxnCommit,
    /// `abort_transaction`.
    TxnAbort,
    /// A consumer poll.
    Poll,
    /// Committing consumer offsets outside a transaction.
    OffsetCommit,
    /// `assign`, `subscribe`, `seek`.
    Assign,
    /// Admin and metadata requests: creating topics, partition state, watermarks.
    Admin,
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 9] = [
        Step::Enqueue,
        Step::Deliver,
        Step::TxnBegin,
        Step::TxnCommit,
        Step::TxnAbort,
        Step::Poll,
        Step::OffsetCommit,
        Step::Assign,
        Step::Admin,
    ];
}

/// What an error means for the op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Definitely did not take effect: complete the op `fail`.
    Fail,
    /// May have taken effect: complete the op `info` (the runner then replaces the process).
    Info,
}

/// What a code says about the request that got it (see the module docs for the members).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// An event, not a failure.
    NotAnError,
    /// librdkafka refused the call itself; this call sent nothing.
    Local,
    /// A deterministic refusal of the record or request.
    Invalid,
    /// The broker refused this attempt before applying it, for a transient reason.
    Rejected,
    /// The request may have been applied.
    Ambiguous,
    /// Consumer-group and coordinator state.
    Coordination,
    /// Broken idempotent/transactional producer state.
    Fatal,
    /// A code this table does not list (newer than it); treated as ambiguous.
    Unlisted,
}

/// The flags librdkafka attaches to errors of its transactional API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TxnFlags {
    /// `rd_kafka_error_is_retriable`: the call may be made again.
    pub retriable: bool,
    /// `rd_kafka_error_txn_requires_abort`: the transaction must be aborted.
    pub abortable: bool,
    /// `rd_kafka_error_is_fatal`: the producer is unusable and must be rebuilt.
    pub fatal: bool,
}

/// What the client does after a failed transactional call, by its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxnNext {
    /// The producer is dead: rebuild it; the outcome is the step's `info`/`fail` by the rules.
    Fatal,
    /// Abort the transaction; a successful abort makes the op `fail`.
    Abort,
    /// Call again while the op's budget lasts.
    Retry,
    /// No flag: the code's group decides.
    ByCode,
}

impl TxnFlags {
    /// The next action: fatal first, then abortable, then retriable (librdkafka never sets
    /// more than one, but a fatal error must win).
    pub fn next(self) -> TxnNext {
        if self.fatal {
            TxnNext::Fatal
        } else if self.abortable {
            TxnNext::Abort
        } else if self.retriable {
            TxnNext::Retry
        } else {
            TxnNext::ByCode
        }
    }
}

/// The classification of one error at one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Fail or info.
    pub outcome: Outcome,
    /// The `:error` keyword's name (`"unknown-topic-or-partition"`).
    pub error: String,
    /// The code's group.
    pub group: Group,
    /// The code, when the error has one.
    pub code: Option<C>,
    /// The transactional flags, for errors of the transactional API.
    pub txn: Option<TxnFlags>,
    /// The error says the client instance that returned it is unusable (a fatal consumer
    /// error, a fatal transactional error, or the codes `Fatal` and `Fenced`).
    pub fatal: bool,
}

/// The group of every code (the table of the module docs).
#[rustfmt::skip]
pub fn group_of(code: C) -> Group {
    use Group::*;
    match code {
        // Events, not failures.
        C::NoError | C::PartitionEOF | C::AssignPartitions | C::RevokePartitions | C::Noop
        | C::NoOffset | C::InProgress | C::Begin | C::End | C::EndAll
            => NotAnError,
        // librdkafka refused the call itself (state, arguments, full queue): nothing sent.
        C::QueueFull | C::InvalidArgument | C::State | C::Conflict | C::NotConfigured
        | C::PreviousInProgress | C::ExistingSubscription | C::PurgeQueue | C::ReadOnly
        | C::NoEnt | C::Underflow | C::InvalidType
            => Local,
        // Deterministic: the record or request itself is unacceptable (size, format, version,
        // config, authorization), so no attempt of it was appended. TopicAlreadyExists: the
        // topic-creating caller treats it as success.
        C::BadCompression | C::KeySerialization | C::ValueSerialization | C::KeyDeserialization
        | C::ValueDeserialization | C::UnsupportedFeature | C::NotImplemented
        | C::UnknownProtocol | C::Authentication | C::InvalidMessageSize
        | C::MessageSizeTooLarge | C::OffsetMetadataTooLarge | C::InvalidTopic
        | C::MessageBatchTooLarge | C::InvalidRequiredAcks | C::InvalidGroupId
        | C::InvalidSessionTimeout | C::InvalidCommitOffsetSize | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed | C::ClusterAuthorizationFailed | C::InvalidTimestamp
        | C::UnsupportedSASLMechanism | C::IllegalSASLState | C::UnsupportedVersion
        | C::TopicAlreadyExists | C::InvalidPartitions | C::InvalidReplicationFactor
        | C::InvalidReplicaAssignment | C::InvalidConfig | C::InvalidRequest
        | C::UnsupportedForMessageFormat | C::PolicyViolation | C::InvalidTransactionTimeout
        | C::TransactionalIdAuthorizationFailed | C::SecurityDisabled | C::LogDirNotFound
        | C::SaslAuthenticationFailed | C::DelegationTokenAuthDisabled
        | C::DelegationTokenNotFound | C::DelegationTokenOwnerMismatch
        | C::DelegationTokenRequestNotAllowed | C::DelegationTokenAuthorizationFailed
        | C::DelegationTokenExpired | C::InvalidPrincipalType | C::NonEmptyGroup
        | C::TopicDeletionDisabled | C::UnsupportedCompressionType | C::GroupSubscribedToTopic
        | C::InvalidRecord | C::ResourceNotFound | C::DuplicateResource
        | C::UnacceptableCredential | C::InvalidUpdateVersion
        | C::PrincipalDeserializationFailure | C::UnsupportedAssignor
            => Invalid,
        // This attempt was refused before append, for a transient reason (leadership, ISR,
        // metadata, quotas). NotEnoughReplicas is checked before the append (its sibling
        // ...AfterAppend is not); InvalidMessage (CRC) may be corruption on the wire.
        C::UnknownPartition | C::UnknownTopic | C::ISRInsufficient | C::WaitCache
        | C::UnknownBroker | C::AutoOffsetReset | C::LogTruncation | C::InvalidDifferentRecord
        | C::OffsetOutOfRange | C::InvalidMessage | C::UnknownTopicOrPartition
        | C::LeaderNotAvailable | C::BrokerNotAvailable | C::ReplicaNotAvailable
        | C::StaleControllerEpoch | C::NotEnoughReplicas | C::NotController
        | C::ConcurrentTransactions | C::TransactionCoordinatorFenced | C::OperationNotAttempted
        | C::ReassignmentInProgress | C::FetchSessionIdNotFound | C::InvalidFetchSessionEpoch
        | C::ListenerNotFound | C::FencedLeaderEpoch | C::UnknownLeaderEpoch
        | C::StaleBrokerEpoch | C::OffsetNotAvailable | C::PreferredLeaderNotAvailable
        | C::EligibleLeadersNotAvailable | C::ElectionNotNeeded | C::NoReassignmentInProgress
        | C::UnstableOffsetCommit | C::ThrottlingQuotaExceeded | C::InconsistentVoterSet
        | C::UnknownTopicId | C::UnknownSubscriptionId | C::TelemetryTooLarge
        | C::RebootstrapRequired
            => Rejected,
        // May have been applied: sent, answer lost or late (timeouts, transport), or "appended,
        // but": NotLeaderForPartition after an append (KAFKA-13574), RequestTimedOut (acks not
        // in time), NotEnoughReplicasAfterAppend, DuplicateSequenceNumber (already written),
        // KafkaStorageError (the disk failed, maybe mid-append), purged in flight.
        C::BadMessage | C::BrokerDestroy | C::Fail | C::BrokerTransportFailure
        | C::CriticalSystemResource | C::Resolve | C::MessageTimedOut | C::FileSystem
        | C::AllBrokersDown | C::OperationTimedOut | C::NodeUpdate | C::SSL | C::Outdated
        | C::TimedOutQueue | C::Interrupted | C::Partial | C::Retry | C::PurgeInflight
        | C::Inconsistent | C::Application | C::DestroyBroker | C::Unknown
        | C::NotLeaderForPartition | C::RequestTimedOut | C::NetworkException
        | C::NotEnoughReplicasAfterAppend | C::DuplicateSequenceNumber | C::KafkaStorageError
        | C::FeatureUpdateFailed
            => Ambiguous,
        // Consumer-group and coordinator state: never a partition's log.
        C::WaitingForCoordinator | C::UnknownGroup | C::PollExceeded | C::AssignmentLost
        | C::CoordinatorLoadInProgress | C::CoordinatorNotAvailable | C::NotCoordinator
        | C::IllegalGeneration | C::InconsistentGroupProtocol | C::UnknownMemberId
        | C::RebalanceInProgress | C::GroupIdNotFound | C::MemberIdRequired
        | C::GroupMaxSizeReached | C::FencedMemberEpoch | C::UnreleasedInstanceId
        | C::StaleMemberEpoch
            => Coordination,
        // Broken idempotent/transactional producer state (fenced, sequence gaps, epochs).
        C::Fatal | C::Fenced | C::GaplessGuarantee | C::OutOfOrderSequenceNumber
        | C::InvalidProducerEpoch | C::InvalidTransactionalState | C::InvalidProducerIdMapping
        | C::UnknownProducerId | C::ProducerFenced | C::FencedInstanceId
            => Fatal,
        // Newer than this table.
        _ => Unlisted,
    }
}

/// The outcome of a group at a step (the matrix of the module docs).
pub fn outcome(group: Group, step: Step) -> Outcome {
    use Outcome::{Fail, Info};
    match step {
        Step::Enqueue | Step::TxnBegin | Step::Poll | Step::Assign | Step::Admin => Fail,
        Step::Deliver if group == Group::Invalid => Fail,
        Step::TxnCommit if group == Group::Local => Fail,
        Step::Deliver | Step::TxnCommit | Step::TxnAbort => Info,
        Step::OffsetCommit => match group {
            Group::Ambiguous | Group::Unlisted => Info,
            _ => Fail,
        },
    }
}

/// The `:error` keyword name of a code (kebab case of its name; see the module docs).
pub fn keyword(code: C) -> String {
    match code {
        C::NotLeaderForPartition => "not-leader-or-follower".into(),
        other => kebab(&format!("{other:?}")),
    }
}

/// `UnknownTopicOrPartition` => `unknown-topic-or-partition`, `ISRInsufficient` =>
/// `isr-insufficient`: a dash before an upper-case letter that follows a lower-case one or
/// that starts a word after an acronym.
pub(crate) fn kebab(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Whether a consumer error ends a poll. Connection-level ([`Group::Ambiguous`]) and group
/// ([`Group::Coordination`]) errors that librdkafka recovers from by itself do not (the Java
/// client's poll does not raise them either): the client notes them in the op's
/// `:consumer-errors` and keeps polling. Fatal errors and all others (a partition's fetch
/// errors, ...) end the poll.
pub fn ends_poll(v: &Verdict) -> bool {
    v.fatal || !matches!(v.group, Group::Ambiguous | Group::Coordination)
}

/// Classifies a code at a step.
pub fn classify_code(code: C, step: Step) -> Verdict {
    let group = group_of(code);
    Verdict {
        outcome: outcome(group, step),
        error: keyword(code),
        group,
        code: Some(code),
        txn: None,
        fatal: matches!(code, C::Fatal | C::Fenced),
    }
}

fn uncoded(group: Group, error: &str, step: Step) -> Verdict {
    Verdict {
        outcome: outcome(group, step),
        error: error.to_string(),
        group,
        code: None,
        txn: None,
        fatal: false,
    }
}

/// Classifies an rdkafka error at a step (codes by [`group_of`]; variants without a code as
/// the module docs say). A fatal error at a consumer step is `info`; a failed flush inside
/// `commit_transaction` is `fail`.
pub fn classify(err: &KafkaError, step: Step) -> Verdict {
    let mut v = match err {
        KafkaError::Canceled => uncoded(Group::Ambiguous, "canceled", step),
        KafkaError::ClientConfig(..) => uncoded(Group::Local, "client-config", step),
        KafkaError::ClientCreation(_) => uncoded(Group::Local, "client-creation", step),
        KafkaError::AdminOpCreation(_) => uncoded(Group::Local, "admin-op-creation", step),
        KafkaError::Nul(_) => uncoded(Group::Local, "nul", step),
        KafkaError::Seek(_) => uncoded(Group::Local, "seek", step),
        KafkaError::Subscription(_) => uncoded(Group::Local, "subscription", step),
        KafkaError::PauseResume(_) => uncoded(Group::Local, "pause-resume", step),
        KafkaError::NoMessageReceived => uncoded(Group::NotAnError, "no-message-received", step),
        KafkaError::PartitionEOF(_) => uncoded(Group::NotAnError, "partition-eof", step),
        // rdkafka's `rdkafka_error_code` gives None for admin errors, which do carry one.
        KafkaError::AdminOp(code) => classify_code(*code, step),
        KafkaError::MessageConsumptionFatal(code) => {
            let mut v = classify_code(*code, step);
            v.fatal = true;
            v
        }
        KafkaError::Transaction(e) => {
            let flags = TxnFlags {
                retriable: e.is_retriable(),
                abortable: e.txn_requires_abort(),
                fatal: e.is_fatal(),
            };
            let mut v = classify_code(e.code(), step);
            v.txn = Some(flags);
            v.fatal |= flags.fatal;
            v
        }
        other => match other.rdkafka_error_code() {
            Some(code) => classify_code(code, step),
            None => uncoded(Group::Unlisted, "unknown-kafka-error", step),
        },
    };
    if matches!(err, KafkaError::Flush(_)) && step == Step::TxnCommit {
        v.outcome = Outcome::Fail;
    }
    if v.fatal && matches!(step, Step::Poll | Step::Assign | Step::OffsetCommit) {
        v.outcome = Outcome::Info;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::types::RDKafkaRespErr;
    use Outcome::{Fail, Info};
    use Step::*;

    /// Every code librdkafka knows (all raw values that convert), so that a code added to
    /// rdkafka shows up here as unlisted.
    fn all_codes() -> Vec<C> {
        (-300..300)
            .filter_map(|i| RDKafkaRespErr::try_from(i).ok())
            .map(C::from)
            .collect()
    }

    #[test]
    fn every_known_code_has_a_group_and_a_keyword() {
        let codes = all_codes();
        assert!(codes.len() > 150, "only {} codes", codes.len());
        for c in codes {
            assert_ne!(group_of(c), Group::Unlisted, "{c:?} is not in the table");
            let k = keyword(c);
            assert!(
                !k.is_empty() && !k.contains("--") && k == k.to_lowercase(),
                "{k}"
            );
        }
    }

    #[test]
    fn enqueue_begin_poll_assign_admin_always_fail_for_every_code() {
        for c in all_codes() {
            for step in [Enqueue, TxnBegin, Poll, Assign, Admin] {
                assert_eq!(classify_code(c, step).outcome, Fail, "{c:?} at {step:?}");
            }
            assert_eq!(classify_code(c, TxnAbort).outcome, Info, "{c:?} at abort");
        }
    }

    /// (code, step, expected): the rows the rest of the client relies on.
    const CASES: &[(C, Step, Outcome)] = &[
        // A record that timed out, lost its connection or got an "appended, but" answer may
        // be in the log.
        (C::MessageTimedOut, Deliver, Info),
        (C::BrokerTransportFailure, Deliver, Info),
        (C::AllBrokersDown, Deliver, Info),
        (C::RequestTimedOut, Deliver, Info),
        (C::NetworkException, Deliver, Info),
        (C::NotEnoughReplicasAfterAppend, Deliver, Info),
        (C::DuplicateSequenceNumber, Deliver, Info),
        (C::NotLeaderForPartition, Deliver, Info),
        (C::KafkaStorageError, Deliver, Info),
        (C::PurgeInflight, Deliver, Info),
        (C::Unknown, Deliver, Info),
        // Refused before append, but an earlier attempt may have been appended.
        (C::NotEnoughReplicas, Deliver, Info),
        (C::UnknownTopicOrPartition, Deliver, Info),
        (C::LeaderNotAvailable, Deliver, Info),
        (C::UnknownTopic, Deliver, Info),
        (C::PurgeQueue, Deliver, Info),
        (C::OutOfOrderSequenceNumber, Deliver, Info),
        (C::ProducerFenced, Deliver, Info),
        // Deterministic refusals: no attempt can have been appended.
        (C::MessageSizeTooLarge, Deliver, Fail),
        (C::InvalidRecord, Deliver, Fail),
        (C::TopicAuthorizationFailed, Deliver, Fail),
        (C::InvalidRequiredAcks, Deliver, Fail),
        (C::UnsupportedForMessageFormat, Deliver, Fail),
        (C::InvalidTopic, Deliver, Fail),
        // Never queued.
        (C::QueueFull, Enqueue, Fail),
        (C::MessageTimedOut, Enqueue, Fail),
        (C::Fatal, Enqueue, Fail),
        // Commits: only a local refusal is definite.
        (C::State, TxnCommit, Fail),
        (C::Conflict, TxnCommit, Fail),
        (C::OperationTimedOut, TxnCommit, Info),
        (C::InvalidTransactionalState, TxnCommit, Info),
        (C::ProducerFenced, TxnCommit, Info),
        (C::Fenced, TxnCommit, Info),
        (C::NotCoordinator, TxnCommit, Info),
        (C::InvalidRecord, TxnCommit, Info),
        (C::NoError, TxnCommit, Info),
        // Offsets outside transactions.
        (C::RebalanceInProgress, OffsetCommit, Fail),
        (C::NoOffset, OffsetCommit, Fail),
        (C::RequestTimedOut, OffsetCommit, Info),
        (C::BrokerTransportFailure, OffsetCommit, Info),
    ];

    #[test]
    fn the_table_of_cases_holds() {
        for &(code, step, want) in CASES {
            assert_eq!(
                classify_code(code, step).outcome,
                want,
                "{code:?} at {step:?}"
            );
        }
    }

    #[test]
    fn deliver_fails_only_for_invalid_codes() {
        for c in all_codes() {
            let want = if group_of(c) == Group::Invalid {
                Fail
            } else {
                Info
            };
            assert_eq!(classify_code(c, Deliver).outcome, want, "{c:?}");
        }
    }

    /// (error, step, outcome, keyword, fatal): the variants.
    #[rustfmt::skip]
    fn variant_cases() -> Vec<(KafkaError, Step, Outcome, &'static str, bool)> {
        use KafkaError as E;
        vec![
            (E::Canceled, Deliver, Info, "canceled", false),
            (E::Canceled, Poll, Fail, "canceled", false),
            (E::MessageProduction(C::QueueFull), Enqueue, Fail, "queue-full", false),
            (E::MessageProduction(C::MessageTimedOut), Deliver, Info, "message-timed-out", false),
            (E::MessageProduction(C::NotLeaderForPartition), Deliver, Info, "not-leader-or-follower", false),
            (E::MessageProduction(C::MessageSizeTooLarge), Deliver, Fail, "message-size-too-large", false),
            (E::MessageConsumption(C::UnknownTopicOrPartition), Poll, Fail, "unknown-topic-or-partition", false),
            (E::MessageConsumptionFatal(C::FencedInstanceId), Poll, Info, "fenced-instance-id", true),
            (E::MessageConsumption(C::Fatal), Poll, Info, "fatal", true),
            (E::Flush(C::OperationTimedOut), TxnCommit, Fail, "operation-timed-out", false),
            (E::Flush(C::OperationTimedOut), Deliver, Info, "operation-timed-out", false),
            (E::ConsumerCommit(C::RequestTimedOut), OffsetCommit, Info, "request-timed-out", false),
            (E::AdminOp(C::OperationTimedOut), Admin, Fail, "operation-timed-out", false),
            (E::MetadataFetch(C::AllBrokersDown), Admin, Fail, "all-brokers-down", false),
            (E::ClientCreation("x".into()), TxnBegin, Fail, "client-creation", false),
            (E::Subscription("x".into()), Assign, Fail, "subscription", false),
            (E::Seek("x".into()), Assign, Fail, "seek", false),
            (E::PartitionEOF(1), Poll, Fail, "partition-eof", false),
            (E::NoMessageReceived, Poll, Fail, "no-message-received", false),
        ]
    }

    #[test]
    fn variants_classify_as_documented() {
        for (e, step, want, kw, fatal) in variant_cases() {
            let v = classify(&e, step);
            assert_eq!(
                (v.outcome, v.error.as_str(), v.fatal),
                (want, kw, fatal),
                "{e:?}"
            );
        }
    }

    #[test]
    fn only_recoverable_consumer_errors_let_a_poll_go_on() {
        let cases = [
            (
                KafkaError::MessageConsumption(C::BrokerTransportFailure),
                false,
            ),
            (KafkaError::MessageConsumption(C::AllBrokersDown), false),
            (
                KafkaError::MessageConsumption(C::RebalanceInProgress),
                false,
            ),
            (KafkaError::MessageConsumption(C::PollExceeded), false),
            (
                KafkaError::MessageConsumption(C::UnknownTopicOrPartition),
                true,
            ),
            (KafkaError::MessageConsumption(C::OffsetOutOfRange), true),
            (
                KafkaError::MessageConsumption(C::TopicAuthorizationFailed),
                true,
            ),
            (
                KafkaError::MessageConsumptionFatal(C::BrokerTransportFailure),
                true,
            ),
            (KafkaError::MessageConsumption(C::Fatal), true),
        ];
        for (e, ends) in cases {
            assert_eq!(ends_poll(&classify(&e, Poll)), ends, "{e:?}");
        }
    }

    #[test]
    fn txn_flags_pick_the_next_action_fatal_first() {
        let f = |retriable, abortable, fatal| TxnFlags {
            retriable,
            abortable,
            fatal,
        };
        let cases = [
            (f(false, false, false), TxnNext::ByCode),
            (f(true, false, false), TxnNext::Retry),
            (f(false, true, false), TxnNext::Abort),
            (f(true, true, false), TxnNext::Abort),
            (f(false, false, true), TxnNext::Fatal),
            (f(true, true, true), TxnNext::Fatal),
        ];
        for (flags, want) in cases {
            assert_eq!(flags.next(), want, "{flags:?}");
        }
    }

    #[test]
    fn keywords_are_kebab_case() {
        let cases = [
            (C::UnknownTopicOrPartition, "unknown-topic-or-partition"),
            (C::ISRInsufficient, "isr-insufficient"),
            (C::UnsupportedSASLMechanism, "unsupported-sasl-mechanism"),
            (C::SSL, "ssl"),
            (C::PartitionEOF, "partition-eof"),
            (C::NotLeaderForPartition, "not-leader-or-follower"),
            (C::MessageTimedOut, "message-timed-out"),
            (C::FetchSessionIdNotFound, "fetch-session-id-not-found"),
        ];
        for (c, want) in cases {
            assert_eq!(keyword(c), want);
        }
    }
}
