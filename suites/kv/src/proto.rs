//! The wire protocol: one JSON object per line in each direction over TCP.
//!
//! Requests: `{"op":"read","key":1}`, `{"op":"write","key":1,"value":3}`,
//! `{"op":"cas","key":1,"from":3,"to":4}`, `{"op":"add","key":0,"value":17}` (appends to the
//! list at `key`), and between nodes `{"op":"subscribe"}` (a replica asks the primary for a
//! snapshot followed by every change). Responses: `{"ok":true,"value":...}` or
//! `{"ok":false,"definite":true,"error":"..."}`; `definite` says whether the server knows the
//! operation did not take effect (a failed compare, an unreachable primary that was never sent
//! the request) or cannot know (the primary stopped answering after it was sent).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A request from a client (or a replica).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// The value at `key` (JSON null when never written).
    Read {
        /// The key.
        key: i64,
    },
    /// Sets `key` to `value`.
    Write {
        /// The key.
        key: i64,
        /// The new value.
        value: Json,
    },
    /// Sets `key` to `to` if it holds `from`; a definite failure otherwise.
    Cas {
        /// The key.
        key: i64,
        /// The expected value.
        from: Json,
        /// The new value.
        to: Json,
    },
    /// Appends `value` to the list at `key`.
    Add {
        /// The key.
        key: i64,
        /// The element.
        value: Json,
    },
    /// Replication: a snapshot, then every change (only the primary answers).
    Subscribe,
}

impl Request {
    /// Whether the request changes state (only the primary applies those).
    pub fn is_mutation(&self) -> bool {
        !matches!(self, Request::Read { .. } | Request::Subscribe)
    }
}

/// A response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request took effect (or, for a read, returned a value).
    pub ok: bool,
    /// The value read (reads), or null.
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub value: Json,
    /// For failures: whether the request certainly did not take effect.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub definite: bool,
    /// For failures: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    /// Success with a value.
    pub fn ok(value: Json) -> Response {
        Response {
            ok: true,
            value,
            definite: false,
            error: None,
        }
    }

    /// A failure; `definite` when the request surely did not take effect.
    pub fn fail(definite: bool, error: impl Into<String>) -> Response {
        Response {
            ok: false,
            value: Json::Null,
            definite,
            error: Some(error.into()),
        }
    }
}

/// One change the primary streams to replicas: `key` now holds `value`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The key.
    pub key: i64,
    /// Its new value.
    pub value: Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_in_their_documented_shape() {
        let r: Request = serde_json::from_str(r#"{"op":"cas","key":1,"from":3,"to":4}"#).unwrap();
        assert_eq!(
            r,
            Request::Cas {
                key: 1,
                from: 3.into(),
                to: 4.into()
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Read { key: 2 }).unwrap(),
            r#"{"op":"read","key":2}"#
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"drop","key":1}"#).is_err());
        assert!(!Request::Read { key: 1 }.is_mutation());
        assert!(Request::Add {
            key: 0,
            value: 1.into()
        }
        .is_mutation());
    }

    #[test]
    fn responses_omit_empty_fields() {
        assert_eq!(
            serde_json::to_string(&Response::ok(Json::Null)).unwrap(),
            r#"{"ok":true}"#
        );
        assert_eq!(
            serde_json::to_string(&Response::fail(true, "cas-mismatch")).unwrap(),
            r#"{"ok":false,"definite":true,"error":"cas-mismatch"}"#
        );
    }
}
