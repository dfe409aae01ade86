//! [`Value`]: the data model of operation values, a faithful image of EDN.
//!
//! Jepsen histories carry Clojure data: keywords, vectors, maps, sets, big numbers, tagged
//! literals. To read and write `history.edn` without losing anything, a value keeps the EDN type
//! it came with: `1` and `1N` are different values, maps and sets keep their source order, a
//! tagged literal keeps its tag.
//!
//! Equality is structural with two relaxations that match Clojure: sets compare as sets and maps
//! compare as maps (order-insensitive). Floats compare by bit pattern after normalising `-0.0`
//! and NaN, so `Value` is `Eq`, `Ord` and `Hash` and can key a `HashMap`.

use smol_str::SmolStr;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A short string that is stored inline when it is 23 bytes or shorter (keywords, most strings).
pub type Name = SmolStr;

/// One EDN value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `nil`
    #[default]
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// A 64-bit integer: `42`, `-7`.
    Int(i64),
    /// An arbitrary-precision integer, kept as its decimal digits (with sign): `1N`,
    /// `123456789012345678901234567890`.
    BigInt(Name),
    /// A double: `1.5`, `1.0E-4`, `##Inf`, `##NaN`.
    Float(f64),
    /// An arbitrary-precision decimal, kept as its text without the `M`: `1.50M`.
    BigDec(Name),
    /// A string.
    Str(Name),
    /// A character: `\a`, `\newline`, `\u00e9`.
    Char(char),
    /// A keyword, without the leading colon: `:read` is `Keyword("read")`.
    Keyword(Name),
    /// A symbol: `foo`, `clojure.core/+`.
    Symbol(Name),
    /// `[a b c]`
    Vector(Vec<Value>),
    /// `(a b c)`
    List(Vec<Value>),
    /// `#{a b c}`, in source order; compared as a set.
    Set(Vec<Value>),
    /// `{k v ...}`, in source order; compared as a map.
    Map(Vec<(Value, Value)>),
    /// A tagged literal `#tag value`: `#inst "..."`, `#object[...]`, `#error {...}`,
    /// `#jepsen.history.Op{...}` (the tag is kept without the `#`).
    Tagged(Box<(Name, Value)>),
}

impl Value {
    /// A keyword value: `Value::kw("read")` is `:read`.
    pub fn kw(name: &str) -> Value {
        Value::Keyword(Name::new(name))
    }

    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Name::new(s))
    }

    /// True for `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The integer, for `Int` and for a `BigInt` that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::BigInt(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The number as a double, for any numeric value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::BigInt(s) | Value::BigDec(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The text of a keyword, string or symbol. Jepsen code and JSON histories use keywords and
    /// strings interchangeably for names (`:read` vs `"read"`), so checkers match on this.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Value::Keyword(s) | Value::Str(s) | Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// True when this is a keyword, string or symbol with the given text.
    pub fn is_name(&self, name: &str) -> bool {
        self.as_name() == Some(name)
    }

    /// The elements of a vector, list or set.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Vector(v) | Value::List(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The entries of a map, in source order.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks up a key in a map value (linear scan: values carry small maps). A name key matches
    /// keyword, string and symbol keys with the same text.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.is_name(key))
            .map(|(_, v)| v)
    }

    /// Looks up a key that is itself a value (`{1 [..]}` style maps).
    pub fn get_value(&self, key: &Value) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The boolean of `true`/`false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A rank used to order values of different types.
    fn rank(&self) -> u8 {
        match self {
            Value::Nil => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::BigInt(_) | Value::Float(_) | Value::BigDec(_) => 2,
            Value::Char(_) => 3,
            Value::Str(_) => 4,
            Value::Keyword(_) => 5,
            Value::Symbol(_) => 6,
            Value::Vector(_) => 7,
            Value::List(_) => 8,
            Value::Set(_) => 9,
            Value::Map(_) => 10,
            Value::Tagged(_) => 11,
        }
    }
}

fn float_key(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else if f == 0.0 {
        0
    } else {
        f.to_bits()
    }
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// Numbers of different EDN types are ordered numerically where both sides have an exact
/// `i64`, and by `f64` otherwise; ties between types break by type so the order stays total.
fn cmp_numbers(a: &Value, b: &Value) -> Ordering {
    fn sub_rank(v: &Value) -> u8 {
        match v {
            // Clojure: (= 1 1N) is true, (= 1 1.0) is false.
            Value::Int(_) | Value::BigInt(_) => 0,
            Value::Float(_) => 1,
            _ => 2,
        }
    }
    let by_value = match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let x = a.as_f64().unwrap_or(f64::NAN);
            let y = b.as_f64().unwrap_or(f64::NAN);
            if x == y {
                Ordering::Equal // also 0.0 == -0.0
            } else {
                x.total_cmp(&y)
            }
        }
    };
    by_value
        .then_with(|| sub_rank(a).cmp(&sub_rank(b)))
        .then_with(|| match (a, b) {
            (Value::BigInt(x), Value::BigInt(y)) | (Value::BigDec(x), Value::BigDec(y)) => x.cmp(y),
            (Value::Float(x), Value::Float(y)) => float_key(*x).cmp(&float_key(*y)),
            _ => Ordering::Equal,
        })
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Char(a), Char(b)) => a.cmp(b),
            (Str(a), Str(b)) | (Keyword(a), Keyword(b)) | (Symbol(a), Symbol(b)) => a.cmp(b),
            (Vector(a), Vector(b)) | (List(a), List(b)) => a.cmp(b),
            (Set(a), Set(b)) => {
                if a.len() != b.len() {
                    a.len().cmp(&b.len())
                } else {
                    sorted(a).cmp(&sorted(b))
                }
            }
            (Map(a), Map(b)) => {
                if a.len() != b.len() {
                    a.len().cmp(&b.len())
                } else {
                    sorted(a).cmp(&sorted(b))
                }
            }
            (Tagged(a), Tagged(b)) => a.cmp(b),
            _ if self.rank() == 2 && other.rank() == 2 => cmp_numbers(self, other),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        use Value::*;
        self.rank().hash(state);
        match self {
            Nil => {}
            Bool(b) => b.hash(state),
            Int(_) | BigInt(_) | Float(_) | BigDec(_) => match self.as_i64() {
                // Values that compare equal must hash equal: hash numbers by their i64 when
                // they have one, else by their double.
                Some(i) => i.hash(state),
                None => float_key(self.as_f64().unwrap_or(f64::NAN)).hash(state),
            },
            Char(c) => c.hash(state),
            Str(s) | Keyword(s) | Symbol(s) => s.hash(state),
            Vector(v) | List(v) => v.hash(state),
            Set(v) => {
                // Order-insensitive: combine element hashes commutatively.
                let mut acc = 0u64;
                for x in v {
                    acc = acc.wrapping_add(hash_one(x));
                }
                (v.len(), acc).hash(state)
            }
            Map(m) => {
                let mut acc = 0u64;
                for kv in m {
                    acc = acc.wrapping_add(hash_one(kv));
                }
                (m.len(), acc).hash(state)
            }
            Tagged(t) => t.hash(state),
        }
    }
}

fn hash_one<T: Hash>(x: &T) -> u64 {
    use std::collections::hash_map::DefaultHasher;
    let mut h = DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

impl fmt::Display for Value {
    /// Writes the value as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::edn::write_value(&mut s, self);
        f.write_str(&s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i as i64)
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Value {
        Value::Int(i as i64)
    }
}

impl From<usize> for Value {
    fn from(i: usize) -> Value {
        Value::Int(i as i64)
    }
}

impl From<u64> for Value {
    fn from(i: u64) -> Value {
        match i64::try_from(i) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(Name::new(i.to_string())),
        }
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    /// A Rust string becomes an EDN string; use [`Value::kw`] for keywords.
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Name::new(s))
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Vector(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Nil, Into::into)
    }
}

/// Builds a vector value: `vector![Value::kw("append"), 1, 2]`.
#[macro_export]
macro_rules! vector {
    ($($x:expr),* $(,)?) => {
        $crate::Value::Vector(vec![$($crate::Value::from($x)),*])
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn sets_and_maps_compare_unordered() {
        let a = Value::Set(vec![1.into(), 2.into()]);
        let b = Value::Set(vec![2.into(), 1.into()]);
        assert_eq!(a, b);
        let m1 = Value::Map(vec![(Value::kw("a"), 1.into()), (Value::kw("b"), 2.into())]);
        let m2 = Value::Map(vec![(Value::kw("b"), 2.into()), (Value::kw("a"), 1.into())]);
        assert_eq!(m1, m2);
        let mut h = HashSet::new();
        h.insert(a);
        assert!(h.contains(&b));
        h.insert(m1);
        assert!(h.contains(&m2));
    }

    #[test]
    fn numbers_compare_across_types_and_hash_alike() {
        let big = Value::BigInt("1".into());
        assert_eq!(Value::Int(1), big);
        assert_ne!(Value::Int(1), Value::Float(1.5));
        assert!(Value::Int(1) < Value::Float(1.5));
        let mut h = HashSet::new();
        h.insert(Value::Int(1));
        assert!(h.contains(&big));
        assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_eq!(Value::Float(0.0), Value::Float(-0.0));
    }

    #[test]
    fn names_match_keywords_and_strings() {
        assert!(Value::kw("read").is_name("read"));
        assert!(Value::str("read").is_name("read"));
        assert_ne!(Value::kw("read"), Value::str("read"));
        let m = Value::Map(vec![(Value::kw("key"), 3.into())]);
        assert_eq!(m.get("key"), Some(&Value::Int(3)));
    }
}
