//! Read throughput of JSONL and EDN histories (`cargo bench -p rift-history`).

use divan::counter::BytesCount;
use divan::Bencher;
use rift_history::{edn, json, Op};
use std::path::PathBuf;
use std::sync::OnceLock;

#[path = "support/gen.rs"]
mod gen;

const TARGET_BYTES: usize = 64 << 20;

struct Inputs {
    jsonl: Vec<u8>,
    edn: Vec<u8>,
}

fn write_lines(ops: &[Op], write: fn(&mut String, &Op)) -> Vec<u8> {
    let mut s = String::with_capacity(TARGET_BYTES + (1 << 20));
    for op in ops {
        write(&mut s, op);
        s.push('\n');
    }
    s.into_bytes()
}

/// The generated history, written to temporary files and read back as bytes once.
fn inputs() -> &'static Inputs {
    static INPUTS: OnceLock<Inputs> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let ops = gen::list_append_ops(TARGET_BYTES);
        let dir = tempfile::tempdir().expect("tempdir");
        let jsonl_path = dir.path().join("history.jsonl");
        let edn_path = dir.path().join("history.edn");
        std::fs::write(&jsonl_path, write_lines(&ops, json::write_op)).expect("write jsonl");
        std::fs::write(&edn_path, write_lines(&ops, edn::write_op)).expect("write edn");
        Inputs {
            jsonl: std::fs::read(&jsonl_path).expect("read jsonl"),
            edn: std::fs::read(&edn_path).expect("read edn"),
        }
    })
}

fn huge_scc() -> Option<&'static Vec<u8>> {
    static BYTES: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    BYTES
        .get_or_init(|| {
            let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/elle/huge-scc.edn");
            std::fs::read(p).ok()
        })
        .as_ref()
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn jsonl_generated(b: Bencher) {
    let bytes = &inputs().jsonl;
    b.counter(BytesCount::new(bytes.len()))
        .bench(|| json::read_jsonl_bytes(bytes, None).expect("jsonl"));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn edn_generated(b: Bencher) {
    let bytes = &inputs().edn;
    b.counter(BytesCount::new(bytes.len()))
        .bench(|| edn::read_edn_bytes(bytes, None).expect("edn"));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn edn_huge_scc(b: Bencher) {
    let Some(bytes) = huge_scc() else {
        eprintln!("skipping: huge-scc.edn is missing");
        return;
    };
    b.counter(BytesCount::new(bytes.len()))
        .bench(|| edn::read_edn_bytes(bytes, None).expect("edn"));
}

fn main() {
    divan::main();
}
