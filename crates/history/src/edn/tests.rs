use super::*;
use crate::op::{Field, OpType, Process};
use crate::value::Name;
use crate::vector;

fn v(text: &str) -> Value {
    parse_value(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    match parse_value(text) {
        Ok(v) => panic!("{text} parsed as {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn tagged(tag: &str, v: Value) -> Value {
    Value::Tagged(Box::new((Name::new(tag), v)))
}

#[test]
fn scalars() {
    assert!(v("nil").is_nil());
    assert_eq!(v("true"), Value::Bool(true));
    assert_eq!(v(" false "), Value::Bool(false));
    assert!(matches!(v("-12"), Value::Int(-12)));
    assert!(matches!(v("1N"), Value::BigInt(s) if s == "1"));
    assert!(matches!(v("##Inf"), Value::Float(f) if f == f64::INFINITY));
    assert!(matches!(v("##-Inf"), Value::Float(f) if f == f64::NEG_INFINITY));
    assert!(matches!(v("##NaN"), Value::Float(f) if f.is_nan()));
    assert_eq!(v(":read"), Value::kw("read"));
    assert_eq!(v(":jepsen.history/op"), Value::kw("jepsen.history/op"));
    assert_eq!(v("::local"), Value::kw(":local"));
    assert_eq!(v("foo/bar"), Value::Symbol("foo/bar".into()));
    assert_eq!(v("1/3"), tagged("ratio", Value::str("1/3")));
}

#[test]
fn strings_and_chars() {
    assert_eq!(
        v(r#""a\"b\\c\nd\te\rf\bg\fh""#),
        Value::str("a\"b\\c\nd\te\rf\u{8}g\u{c}h")
    );
    assert_eq!(v(r#""\u00e9\101\0""#), Value::str("éA\u{0}"));
    assert_eq!(v(r#""\ud83d\ude00""#), Value::str("😀"));
    assert_eq!(v("\"raw\ttab é\""), Value::str("raw\ttab é"));
    assert_eq!(v(r"\a"), Value::Char('a'));
    assert_eq!(v(r"\newline"), Value::Char('\n'));
    assert_eq!(v(r"\space"), Value::Char(' '));
    assert_eq!(v(r"\tab"), Value::Char('\t'));
    assert_eq!(v(r"\return"), Value::Char('\r'));
    assert_eq!(v(r"\formfeed"), Value::Char('\u{c}'));
    assert_eq!(v(r"\backspace"), Value::Char('\u{8}'));
    assert_eq!(v(r"\u00e9"), Value::Char('é'));
    assert_eq!(v(r"\o101"), Value::Char('A'));
    assert_eq!(v(r"\("), Value::Char('('));
    assert_eq!(
        v(r"[\a \b]"),
        Value::Vector(vec![Value::Char('a'), Value::Char('b')])
    );
    assert!(err(r#""\q""#).contains("expected one of"));
    assert!(err(r#""\ud800""#).contains("surrogate"));
    assert!(err(r"\bogus").contains("expected a character"));
    assert!(err("\"open").contains("close the string"));
}

#[test]
fn collections_and_tags() {
    assert_eq!(v("[1 2, 3]"), vector![1, 2, 3]);
    assert_eq!(
        v("(1 (2))"),
        Value::List(vec![1.into(), Value::List(vec![2.into()])])
    );
    assert_eq!(v("#{2 1}"), Value::Set(vec![1.into(), 2.into()]));
    assert_eq!(
        v("{:a 1, \"b\" [2]}"),
        Value::Map(vec![
            (Value::kw("a"), 1.into()),
            (Value::str("b"), vector![2])
        ])
    );
    assert_eq!(
        v("#inst \"2020-01-01\""),
        tagged("inst", Value::str("2020-01-01"))
    );
    assert_eq!(v("#uuid \"abc\""), tagged("uuid", Value::str("abc")));
    assert_eq!(
        v("#object[clojure.core$future 0x4bd07fe5 {:status :pending}]"),
        tagged(
            "object",
            Value::Vector(vec![
                Value::Symbol("clojure.core$future".into()),
                Value::Int(0x4bd07fe5),
                Value::Map(vec![(Value::kw("status"), Value::kw("pending"))]),
            ])
        )
    );
    assert_eq!(
        v("#error {:cause \"x\"}"),
        tagged(
            "error",
            Value::Map(vec![(Value::kw("cause"), Value::str("x"))])
        )
    );
    assert_eq!(
        v("#a.B{:x 1}"),
        tagged("a.B", Value::Map(vec![(Value::kw("x"), 1.into())]))
    );
    assert_eq!(
        v("#:ns{:a 1, :b/c 2, :_/d 3}"),
        Value::Map(vec![
            (Value::kw("ns/a"), 1.into()),
            (Value::kw("b/c"), 2.into()),
            (Value::kw("d"), 3.into())
        ])
    );
}

#[test]
fn discard_comments_metadata() {
    assert_eq!(v("[1 #_ 2 3]"), vector![1, 3]);
    assert_eq!(v("[1 #_ #_ 2 3 4]"), vector![1, 4]);
    assert_eq!(v("; comment\n[1 ; two\n 2]"), vector![1, 2]);
    assert_eq!(v("^{:tag String} [1]"), vector![1]);
    assert_eq!(
        v("[^:dynamic x]"),
        Value::Vector(vec![Value::Symbol("x".into())])
    );
    assert_eq!(v("#_ 1 2"), Value::Int(2));
    assert_eq!(
        parse_values("1 2 #_3").unwrap(),
        vec![Value::Int(1), Value::Int(2)]
    );
}

#[test]
fn errors_name_location() {
    let e = err("[1 2\n  {:a 1 :b}]");
    assert!(e.starts_with("<input>:2:11:"), "{e}");
    assert!(e.contains("even number of forms"), "{e}");
    let e = err("[1 2 (3]");
    assert!(
        e.contains("expected `)` to close the collection opened at line 1 column 6, found `]`"),
        "{e}"
    );
    let e = err("[1 2");
    assert!(e.contains("found end of input"), "{e}");
    assert!(err("]").contains("expected a value, found `]`"));
    assert!(err("1 2").contains("expected end of input"));
    assert!(err("#?(:clj 1)").contains("after `#`"));
    assert!(err("@x").contains("unexpected `@x`"));
    let deep = "[".repeat(MAX_DEPTH + 1);
    assert!(err(&deep).contains("nesting deeper"));
    let ok_deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse_value(&ok_deep).is_ok());
}

#[test]
fn history_one_op_per_line() {
    let text = "{:type :invoke, :f :read, :value nil, :process 0, :time 10, :index 0}\n\
                {:type :ok, :f :read, :value 3, :process 0, :time 20, :index 1, :node \"n1\"}\n";
    let ops = read_edn_bytes(text.as_bytes(), None).unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[1].ty, OpType::Ok);
    assert_eq!(ops[1].value, Value::Int(3));
    assert_eq!(ops[1].time, Some(20));
    assert_eq!(ops[1].process, Process::Client(0));
    assert_eq!(ops[1].get_extra("node"), Some(&Value::str("n1")));
    let fields: Vec<Field> = ops[0].layout.fields().collect();
    assert_eq!(
        fields,
        [
            Field::Type,
            Field::F,
            Field::Value,
            Field::Process,
            Field::Time,
            Field::Index
        ]
    );
    assert_eq!(op_to_edn(&ops[1]), text.lines().nth(1).unwrap());
}

#[test]
fn history_vector_with_comment_and_no_index() {
    let text = "; a knossos file\n[{:process 0, :type :invoke, :f :write, :value 1}\n {:process :nemesis, :type :info, :f :start}]\n";
    let ops = read_edn_bytes(text.as_bytes(), None).unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[1].index, 1);
    assert_eq!(ops[1].process, Process::Nemesis);
    assert_eq!(ops[1].time, None);
    assert!(!ops[1].layout.has(Field::Index));
    assert_eq!(
        op_to_edn(&ops[1]),
        "{:process :nemesis, :type :info, :f :start}"
    );
    let list = read_edn_bytes(b"({:type :ok})", None).unwrap();
    assert_eq!(list.len(), 1);
    assert!(read_edn_bytes(b"", None).unwrap().is_empty());
    assert!(read_edn_bytes(b"[]", None).unwrap().is_empty());
}

#[test]
fn record_ops() {
    let line = "#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 1, :f :txn, :value [[:append 1 2]]}";
    let op = parse_op(line).unwrap();
    assert!(op.layout.record);
    assert_eq!(
        op.value,
        Value::Vector(vec![vector![Value::kw("append"), 1, 2]])
    );
    assert_eq!(op_to_edn(&op), line);
    // The generic path (after a discard) also recognises records.
    let ops = read_edn_bytes(format!("#_ {{:x 1}} {line}").as_bytes(), None).unwrap();
    assert!(ops[0].layout.record);
}

#[test]
fn op_field_errors() {
    let e = read_edn_bytes(
        b"{:type :ok}\n{:type :bogus, :process 0}\n",
        Some(Path::new("h.edn")),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "h.edn:2:8: field type: expected :invoke, :ok, :fail or :info, found :bogus"
    );
    let e = read_edn_bytes(b"{:process 0}", None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "<input>:1:1: field type: missing (every op needs a :type)"
    );
    let e = read_edn_bytes(b"{:type :ok, :index -1}", None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("1:20: field index: expected a non-negative integer, found -1"),
        "{e}"
    );
    let e = read_edn_bytes(b"{:type :ok, :time 1.5}", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("field time: expected an integer"), "{e}");
    let e = read_edn_bytes(b"{:type :ok, :type :ok}", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("1:13: field type: appears twice"), "{e}");
    let e = read_edn_bytes(b"{:type :ok, :value [1 2}", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("field value: expected `]`"), "{e}");
    let e = read_edn_bytes(b"[{:type :ok}", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected `]` to close the vector of ops"), "{e}");
    let e = read_edn_bytes(b"[{:type :ok}] {:type :ok}", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected end of input after the vector"), "{e}");
    let e = read_edn_bytes(b"{:type :ok} 42", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected an op map"), "{e}");
}

#[test]
fn writer_streams_lines() {
    let ops = read_edn_bytes(
        b"{:type :invoke, :process 0}\n{:type :ok, :process 0}\n",
        None,
    )
    .unwrap();
    let mut w = EdnWriter::edn(Vec::new(), 8);
    for op in &ops {
        w.write(op).unwrap();
    }
    assert_eq!(w.count(), 2);
    let out = String::from_utf8(w.into_inner().unwrap()).unwrap();
    assert_eq!(
        out,
        "{:type :invoke, :process 0}\n{:type :ok, :process 0}\n"
    );
}

#[test]
fn jsonl_converts_to_edn() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("history.jsonl");
    let dst = dir.path().join("history.edn");
    std::fs::write(
        &src,
        "{\"index\":0,\"time\":1,\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",1,2]]}\n\
         {\"index\":1,\"time\":2,\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",1,2]]}\n{\"ind",
    )
    .unwrap();
    assert_eq!(jsonl_to_edn(&src, &dst).unwrap(), 2);
    let text = std::fs::read_to_string(&dst).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "{:index 0, :time 1, :type :invoke, :process 0, :f :txn, :value [[:append 1 2]]}"
    );
    assert!(!tmp_path(&dst).exists());
    assert!(jsonl_to_edn(&dir.path().join("missing.jsonl"), &dst).is_err());
}
