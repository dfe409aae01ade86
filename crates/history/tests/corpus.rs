//! Round trips and reads over the shared corpora in `../shared/data`.

use rift_history::{edn, read_ops_file, Format, Op};
use std::path::{Path, PathBuf};

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: corpus folder {} is missing", dir.display());
        None
    }
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()) == Some(ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn write_edn(ops: &[Op]) -> String {
    let mut s = String::new();
    for op in ops {
        edn::write_op(&mut s, op);
        s.push('\n');
    }
    s
}

#[test]
fn every_edn_file_round_trips() {
    let Some(dir) = data_dir() else { return };
    let mut files = 0;
    let mut total_ops = 0;
    for sub in ["elle", "knossos", "elle-cli"] {
        for path in files_with_ext(&dir.join(sub), "edn") {
            let (ops, _) = read_ops_file(&path).unwrap_or_else(|e| panic!("{e}"));
            let text = write_edn(&ops);
            let back = edn::read_edn_bytes(text.as_bytes(), None)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(back.len(), ops.len(), "{}", path.display());
            for (a, b) in ops.iter().zip(&back) {
                assert_eq!(a, b, "{}", path.display());
            }
            files += 1;
            total_ops += ops.len();
        }
    }
    assert_eq!(files, 139);
    assert_eq!(total_ops, 71_044);
}

/// Files printed by Clojure one op map per line write back byte for byte.
#[test]
fn clojure_printed_lines_write_back_exactly() {
    let Some(dir) = data_dir() else { return };
    let mut lines_checked = 0;
    for rel in [
        "elle/huge-scc.edn",
        "elle-cli/histories/jepsen/bank.edn",
        "elle-cli/test/test-data/counter.edn",
    ] {
        let text = std::fs::read_to_string(dir.join(rel)).unwrap();
        for (i, line) in text.lines().enumerate() {
            let op = edn::parse_op(line).unwrap_or_else(|e| panic!("{rel}:{}: {e}", i + 1));
            assert_eq!(edn::op_to_edn(&op), line, "{rel}:{}", i + 1);
            lines_checked += 1;
        }
    }
    assert!(lines_checked > 20_602, "{lines_checked}");
}

#[test]
fn huge_scc_reads_with_expected_shape() {
    let Some(dir) = data_dir() else { return };
    let (ops, _) = read_ops_file(&dir.join("elle/huge-scc.edn")).unwrap();
    assert_eq!(ops.len(), 20_602);
    assert!(ops.iter().enumerate().all(|(i, op)| op.index == i as u64));
    assert_eq!(ops[0].f_name(), "txn");
    assert_eq!(ops[0].time, Some(14532933));
}

#[test]
fn logs_and_text_histories_read() {
    let Some(dir) = data_dir() else { return };
    let logs = files_with_ext(&dir.join("porcupine/etcd"), "log");
    assert_eq!(logs.len(), 103, "etcd logs");
    let mut empty = Vec::new();
    let mut total = 0;
    for path in &logs {
        assert_eq!(Format::detect(path, b""), Format::JepsenLog);
        let (ops, _) = read_ops_file(path).unwrap_or_else(|e| panic!("{e}"));
        if ops.is_empty() {
            empty.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
        total += ops.len();
        rift_history::History::new(ops).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    assert_eq!(empty, ["etcd_095.log"]);
    assert_eq!(total, 16592 + 454);
    for path in files_with_ext(&dir.join("porcupine/kv"), "txt") {
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(Format::detect(&path, &bytes), Format::Edn);
        let (ops, _) = read_ops_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!ops.is_empty());
        assert!(ops[0].get_extra("key").is_some());
    }
}

#[test]
fn elle_cli_json_histories_read() {
    let Some(dir) = data_dir() else { return };
    let mut n = 0;
    for path in files_with_ext(&dir.join("elle-cli"), "json") {
        if path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().ends_with("-result.json"))
        {
            continue;
        }
        let (ops, _) = read_ops_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!ops.is_empty(), "{}", path.display());
        n += 1;
    }
    assert!(n > 30, "{n}");
}
