//! Property tests: every value and op survives EDN and JSON; no reader panics on any input.

use proptest::prelude::*;
use rift_history::{edn, json, txt, Field, Layout, Name, Op, OpType, Process, Value};

fn name_strategy() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9?!*-]{0,8}(/[a-z][a-z0-9.-]{0,6})?"
}

fn symbol_strategy() -> impl Strategy<Value = String> {
    name_strategy().prop_filter("not a literal", |s| {
        !matches!(s.as_str(), "nil" | "true" | "false")
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        "-?[1-9][0-9]{0,30}".prop_map(|s| Value::BigInt(Name::new(s))),
        any::<f64>().prop_map(Value::Float),
        prop_oneof![
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(-0.0)
        ]
        .prop_map(Value::Float),
        "-?[0-9]{1,6}(\\.[0-9]{1,6})?".prop_map(|s| Value::BigDec(Name::new(s))),
        any::<String>().prop_map(|s| Value::Str(Name::new(s))),
        any::<char>().prop_map(Value::Char),
        name_strategy().prop_map(|s| Value::Keyword(Name::new(s))),
        symbol_strategy().prop_map(|s| Value::Symbol(Name::new(s))),
    ]
}

fn value_strategy() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Vector),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            prop::collection::vec((inner.clone(), inner.clone()), 0..5).prop_map(Value::Map),
            ("[a-z][a-z0-9.-]{0,8}", inner)
                .prop_map(|(t, v)| Value::Tagged(Box::new((Name::new(t), v)))),
        ]
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let process = prop_oneof![
        (0i64..1000).prop_map(Process::Client),
        Just(Process::Nemesis),
        Just(Process::Other(Value::Nil)),
        "n[0-9]".prop_map(|s| Process::Other(Value::kw(&s))),
    ];
    let ty = prop_oneof![
        Just(OpType::Invoke),
        Just(OpType::Ok),
        Just(OpType::Fail),
        Just(OpType::Info)
    ];
    (
        (
            0u64..i64::MAX as u64,
            prop::option::of(any::<i64>()),
            ty,
            process,
        ),
        (
            name_strategy(),
            value_strategy(),
            prop::option::of(value_strategy()),
        ),
        prop::collection::vec(("x[a-z]{0,5}", value_strategy()), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |((index, time, ty, process), (f, value, error), extra, reversed, record)| {
                let mut fields = vec![Field::Index];
                fields.extend(time.map(|_| Field::Time));
                fields.extend([Field::Type, Field::Process, Field::F, Field::Value]);
                fields.extend(error.as_ref().map(|_| Field::Error));
                let mut extras = Vec::new();
                for (k, v) in extra {
                    if !extras.iter().any(|(x, _): &(Value, Value)| x.is_name(&k)) {
                        extras.push((Value::kw(&k), v));
                        fields.push(Field::Extra);
                    }
                }
                if reversed {
                    fields.reverse();
                }
                let mut layout = Layout::from_fields(&fields);
                layout.record = record;
                Op {
                    index,
                    time,
                    ty,
                    process,
                    f: Value::kw(&f),
                    value,
                    error,
                    extra: extras,
                    layout,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn value_edn_round_trip(v in value_strategy()) {
        let text = edn::value_to_edn(&v);
        let back = edn::parse_value(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &v, "{}", text);
        prop_assert_eq!(edn::value_to_edn(&back), text);
    }

    #[test]
    fn value_json_round_trip(v in value_strategy()) {
        let text = json::value_to_json(&v);
        let back = json::parse_value(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &v, "{}", text);
    }

    #[test]
    fn op_round_trips(op in op_strategy()) {
        let line = edn::op_to_edn(&op);
        let back = edn::parse_op(&line).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        prop_assert_eq!(&back, &op, "{}", line);
        let mut plain = op.clone();
        plain.layout.record = false; // JSON has no records
        let line = json::op_to_json(&plain);
        let back = json::parse_op(&line).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        prop_assert_eq!(&back, &plain, "{}", line);
    }
}

fn read_all(bytes: &[u8]) {
    let _ = edn::read_edn_bytes(bytes, None);
    let _ = json::read_jsonl_bytes(bytes, None);
    let _ = json::read_json_array_bytes(bytes, None);
    let _ = txt::read_txt_bytes(bytes, None);
    let _ = txt::read_jepsen_log_bytes(bytes, None);
    if let Ok(s) = std::str::from_utf8(bytes) {
        let _ = edn::parse_value(s);
        let _ = edn::parse_op(s);
    }
}

const SAMPLE_EDN: &str = "; sample\n[{:index 0, :time 1, :type :invoke, :process 0, :f :txn, :value [[:append 1 2] [:r 1 nil]]}\n\
    #jepsen.history.Op{:index 1, :time 2, :type :ok, :process 0, :f :txn, :value [[:append 1 2] [:r 1 [1 2]]], :x #{\\a 1N 2.5M}}\n\
    {:type :info, :process :nemesis, :f :start, :value #object[x 0x1 {:s \"a\\nb\\u00e9\"}], :error #error {:cause ##NaN}}\n\
    {:type :fail, :process 1, :f :cas, :value ^:m (1/3 -0x1F 2r101 017 #_ 3 #:ns{:a 1}), :time -5}]\n";
const SAMPLE_JSONL: &str = "{\"index\":0,\"time\":1,\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",1,2]]}\n\
    {\"type\":\"ok\",\"process\":\"nemesis\",\"value\":{\"~set\":[\"~s1\",\"~n5\",\"~finf\"]},\"x\":{\"~tag\":\"inst\",\"~val\":\"~s2020\"}}\n";
const SAMPLE_TXT: &str = "0\t:invoke\t:read\tnil\n0\t:ok\t:read\t[1 2]\t:err\n:nemesis\t:info\t:start\tnil\tboom\nmore\n\
    INFO  jepsen.util - 3   :ok     :read   4\n";

fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    for &(at, kind, byte) in edits {
        let i = if b.is_empty() { 0 } else { at % (b.len() + 1) };
        match kind % 4 {
            0 => b.insert(i, byte),
            1 if i < b.len() => {
                b.remove(i);
            }
            2 if i < b.len() => b[i] = byte,
            _ => b.truncate(i),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn readers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        read_all(&bytes);
    }

    #[test]
    fn readers_never_panic_on_mutations(
        which in 0usize..3,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), prop_oneof![
            any::<u8>(),
            prop::sample::select(b"[]{}()#\\\":;^,_ \t\n0-+.eENM/xr".to_vec()),
        ]), 1..6),
    ) {
        let base = [SAMPLE_EDN, SAMPLE_JSONL, SAMPLE_TXT][which];
        read_all(&mutate(base, &edits));
    }
}

#[test]
fn samples_are_valid() {
    assert_eq!(
        edn::read_edn_bytes(SAMPLE_EDN.as_bytes(), None)
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        json::read_jsonl_bytes(SAMPLE_JSONL.as_bytes(), None)
            .unwrap()
            .0
            .len(),
        2
    );
    assert_eq!(
        txt::read_txt_bytes(
            &SAMPLE_TXT.as_bytes()[..SAMPLE_TXT.find("INFO").unwrap()],
            None
        )
        .unwrap()
        .len(),
        3
    );
    assert_eq!(
        txt::read_jepsen_log_bytes(SAMPLE_TXT.as_bytes(), None)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "[".repeat(100_000);
    assert!(edn::parse_value(&deep).is_err());
    let deep_json = format!("{{\"type\":\"ok\",\"value\":{}}}\n", "[".repeat(100_000));
    assert!(json::read_jsonl_bytes(deep_json.as_bytes(), None).is_err());
}
