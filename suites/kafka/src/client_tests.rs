//! Unit tests of the client, and a smoke test against a real broker.

use super::ops::*;
use super::*;

#[test]
fn keys_map_bijectively_to_topic_partitions() {
    for ppt in [1, 2, 3] {
        for k in -7..20 {
            let (t, p) = topic_partition(k, ppt);
            assert_eq!(key_of(&t, p, ppt), Some(k), "{k} {ppt}");
        }
    }
    assert_eq!(topic_partition(5, 2), ("t2".to_string(), 1));
    assert_eq!(topic_partition(-1, 2), ("t-1".to_string(), 1));
    assert_eq!(key_of("t3", 2, 2), None);
    assert_eq!(key_of("x3", 0, 2), None);
    assert_eq!(key_of("t", 0, 2), None);
    assert_eq!(key_of(&format!("t{}", i64::MAX), 1, 2), None);
}

#[test]
fn mops_parse_and_bad_ones_are_errors() {
    let op = Op::invoke(
        0,
        "txn",
        Value::Vector(vec![
            Value::Vector(vec![Value::kw("send"), Value::Int(1), Value::Int(5)]),
            Value::Vector(vec![Value::kw("poll")]),
        ]),
    );
    assert_eq!(parse_mops(&op).unwrap(), vec![Mop::Send(1, 5), Mop::Poll]);
    let bad = Op::invoke(
        0,
        "send",
        Value::Vector(vec![Value::Vector(vec![Value::kw("send"), Value::Int(1)])]),
    );
    assert_eq!(parse_mops(&bad).unwrap_err().kind, "bad-op");
}

#[test]
fn values_encode_as_the_checker_reads_them() {
    assert_eq!(sent(3, Some(7), 9).to_string(), "[:send 3 [7 9]]");
    assert_eq!(sent(3, None, 9).to_string(), "[:send 3 [nil 9]]");
    let recs = vec![
        (2, 5, Value::Int(10)),
        (1, 0, Value::Int(3)),
        (2, 6, Value::Int(11)),
    ];
    assert_eq!(
        polled_value(&recs).to_string(),
        "[:poll {1 [[0 3]], 2 [[5 10] [6 11]]}]"
    );
    assert_eq!(payload_value(Some(b"42")), Value::Int(42));
    assert_eq!(payload_value(Some(b"x")), Value::str("x"));
    assert_eq!(payload_value(None), Value::Nil);
}

#[test]
fn failures_complete_with_type_error_and_details() {
    let op = Op::invoke(0, "send", Value::Nil);
    let mut f = Failure::new(Outcome::Info, "timeout", "slow");
    f.abort_error = Some("fenced".into());
    let d = failed(&op, Value::Nil, &f);
    assert_eq!(d.ty, OpType::Info);
    assert_eq!(d.error, Some(Value::kw("timeout")));
    assert_eq!(d.get_extra("kafka-error"), Some(&Value::str("slow")));
    assert_eq!(d.get_extra("abort-error"), Some(&Value::kw("fenced")));
    let d = failed(
        &op,
        Value::Nil,
        &Failure::new(Outcome::Fail, "queue-full", ""),
    );
    assert_eq!(d.ty, OpType::Fail);
}

#[test]
fn configs_carry_the_options() {
    let mut o = ClientOptions::safe();
    o.extra.push(("linger.ms".into(), "1".into()));
    let p = producer_config("h:9092", &o, "c", Some("tx"));
    for (k, v) in [
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("retries", "1000"),
        ("transactional.id", "tx"),
        ("message.timeout.ms", "4000"),
        ("transaction.timeout.ms", "6000"),
        ("linger.ms", "1"),
        ("bootstrap.servers", "h:9092"),
    ] {
        assert_eq!(p.get(k), Some(v), "{k}");
    }
    let c = consumer_config("h:9092", &ClientOptions::default(), "c");
    for (k, v) in [
        ("isolation.level", "read_uncommitted"),
        ("auto.offset.reset", "latest"),
        ("enable.auto.commit", "true"),
        ("group.id", "rift-group"),
    ] {
        assert_eq!(c.get(k), Some(v), "{k}");
    }
    assert_eq!(
        producer_config("h", &ClientOptions::default(), "c", None).get("retries"),
        None
    );
}

fn info() -> TestInfo {
    TestInfo {
        name: "smoke".into(),
        nodes: vec!["n1".into()],
        concurrency: 1,
        seed: 1,
        store_dir: std::env::temp_dir(),
    }
}

fn mop_op(f: &str, mops: Vec<Value>) -> Op {
    Op::invoke(0, f, Value::Vector(mops))
}

/// Against a real broker: `RIFT_KAFKA_BOOTSTRAP=127.0.0.1:29092` (single node: replication
/// factor 1). Skipped (with a note) without it.
#[tokio::test]
async fn smoke_against_a_real_broker() {
    let Ok(addr) = std::env::var("RIFT_KAFKA_BOOTSTRAP") else {
        eprintln!("skipping: set RIFT_KAFKA_BOOTSTRAP=host:port to run against a broker");
        return;
    };
    for txn in [false, true] {
        let opts = ClientOptions {
            txn,
            abort_p: 0.0,
            replication_factor: 1,
            min_insync_replicas: 1,
            auto_offset_reset: "earliest".into(),
            ..ClientOptions::safe()
        };
        let k = 2 * (std::process::id() as i64 % 1000) + i64::from(txn) * 2000;
        let t = KafkaClient::new(BTreeMap::from([("n1".to_string(), addr.clone())]), opts, 7);
        let mut c = t.open(&info(), "n1").await.unwrap();
        let send = |v| Value::Vector(vec![Value::kw("send"), Value::Int(k), Value::Int(v)]);
        let d = c
            .invoke(&info(), &mop_op("send", vec![send(1), send(2)]))
            .await
            .unwrap();
        assert_eq!(d.ty, OpType::Ok, "{d}");
        let a = Op::invoke(0, "assign", Value::Vector(vec![Value::Int(k)]));
        let mut a2 = a.clone();
        a2.set_extra("seek-to-beginning?", Value::Bool(true));
        assert_eq!(c.invoke(&info(), &a2).await.unwrap().ty, OpType::Ok);
        let mut p = mop_op("poll", vec![Value::Vector(vec![Value::kw("poll")])]);
        p.set_extra("poll-ms", Value::Int(3000));
        let d = c.invoke(&info(), &p).await.unwrap();
        assert_eq!(d.ty, OpType::Ok, "{d}");
        assert!(d.value.to_string().contains(" 1] ["), "{d}");
        let dbg = Op::invoke(
            0,
            "debug-topic-partitions",
            Value::Vector(vec![Value::Int(k)]),
        );
        let d = c.invoke(&info(), &dbg).await.unwrap();
        assert!(d.value.to_string().contains(":leader"), "{d}");
        assert!(c
            .invoke(&info(), &Op::invoke(0, "crash", Value::Nil))
            .await
            .is_err());
        c.close(&info()).await.unwrap();
        let ends = end_offsets(&addr, &[k], &ClientOptions::default())
            .await
            .unwrap();
        assert!(ends[&k] >= 2, "{ends:?}");
    }
    // A deliberate abort (drawn before the first micro-op) fails the op.
    let opts = ClientOptions {
        txn: true,
        abort_p: 1.0,
        replication_factor: 1,
        min_insync_replicas: 1,
        ..ClientOptions::safe()
    };
    let t = KafkaClient::new(BTreeMap::from([("n1".to_string(), addr)]), opts, 7);
    let mut c = t.open(&info(), "n1").await.unwrap();
    let send = Value::Vector(vec![Value::kw("send"), Value::Int(1), Value::Int(1)]);
    let d = c.invoke(&info(), &mop_op("txn", vec![send])).await.unwrap();
    assert_eq!(
        (d.ty, d.error),
        (OpType::Fail, Some(Value::kw("intentional-abort")))
    );
    assert_eq!(t.stats().intentional_aborts.load(Ordering::Relaxed), 1);
    c.close(&info()).await.unwrap();
}
