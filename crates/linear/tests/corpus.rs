//! Verdicts on the known corpora (`../shared/data` beside the repository, or `RIFT_DATA`): Porcupine's 102 etcd
//! logs and 6 kv files, and every Knossos history (good = linearizable, bad = not).

use rift_checker::Validity;
use rift_history::{read_ops_file, History, Value};
use rift_linear::{check_history, model_by_name, CasRegister, Model, MultiRegister, Options};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    std::env::var_os("RIFT_DATA").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")),
        PathBuf::from,
    )
}

fn load(path: &Path) -> History {
    let (ops, _) = read_ops_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    History::new(ops).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn verdicts(tsv: &Path) -> Vec<(String, bool)> {
    std::fs::read_to_string(tsv)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (f, v) = l.split_once('\t')?;
            Some((f.to_string(), v.trim() == "true"))
        })
        .collect()
}

fn check(path: &Path, model: &dyn Model, opts: &Options) -> Validity {
    check_history(&load(path), model, opts).valid
}

#[test]
fn porcupine_etcd_all_102() {
    let dir = data().join("porcupine/etcd");
    let expected = verdicts(&dir.join("VERDICTS.tsv"));
    assert_eq!(expected.len(), 102);
    let model = model_by_name("cas-register").unwrap();
    let mut wrong = Vec::new();
    for (file, ok) in &expected {
        let got = check(&dir.join(file), &*model, &Options::default());
        if got != Validity::from_bool(*ok) {
            wrong.push(format!("{file}: expected {ok}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(expected.iter().filter(|(_, ok)| *ok).count(), 23);
}

#[test]
fn porcupine_etcd_095_is_empty_and_valid() {
    let h = load(&data().join("porcupine/etcd/etcd_095.log"));
    assert!(h.is_empty());
    let model = model_by_name("cas-register").unwrap();
    assert_eq!(
        check_history(&h, &*model, &Options::default()).valid,
        Validity::True
    );
}

#[test]
fn porcupine_kv_split_by_key() {
    let dir = data().join("porcupine/kv");
    let expected = verdicts(&dir.join("VERDICTS.tsv"));
    assert_eq!(expected.len(), 6);
    let model = model_by_name("kv").unwrap();
    for (file, ok) in &expected {
        let out = check_history(&load(&dir.join(file)), &*model, &Options::default());
        assert_eq!(out.valid, Validity::from_bool(*ok), "{file}");
        let keys = if file == "c01-bad.txt" { 8 } else { 10 };
        assert_eq!(out.partitions, keys, "{file}");
    }
}

#[test]
fn porcupine_kv_small_unsplit() {
    let dir = data().join("porcupine/kv");
    let model = model_by_name("kv").unwrap();
    let opts = Options {
        split_by_key: false,
        ..Options::default()
    };
    for (file, ok) in [("c01-ok.txt", true), ("c01-bad.txt", false)] {
        let out = check_history(&load(&dir.join(file)), &*model, &opts);
        assert_eq!(out.valid, Validity::from_bool(ok), "{file}");
        assert_eq!(out.partitions, 1);
    }
}

fn knossos_files(sub: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data().join("knossos").join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn knossos_cas_register_good_and_bad() {
    let model = CasRegister::default();
    let mut wrong = Vec::new();
    for (sub, ok) in [("cas-register/good", true), ("cas-register/bad", false)] {
        let files = knossos_files(sub);
        assert!(files.len() >= 7, "{sub}");
        for f in files {
            let got = check(&f, &model, &Options::default());
            if got != Validity::from_bool(ok) {
                wrong.push(format!("{}: expected {ok}, got {got}", f.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn knossos_multi_register_good() {
    let model = MultiRegister {
        initial: vec![
            (Value::kw("x"), Value::Int(0)),
            (Value::kw("y"), Value::Int(0)),
        ],
    };
    for f in knossos_files("multi-register/good") {
        assert_eq!(
            check(&f, &model, &Options::default()),
            Validity::True,
            "{}",
            f.display()
        );
    }
}

#[test]
fn knossos_mutex_bad() {
    let model = model_by_name("mutex").unwrap();
    for f in knossos_files("mutex/bad") {
        let out = check_history(&load(&f), &*model, &Options::default());
        assert_eq!(out.valid, Validity::False, "{}", f.display());
        assert!(out.counterexample.is_some());
    }
}

/// Knossos's own tests name the op that cannot be linearized in two of its bad histories.
/// (Knossos checks cas-failure from 0 with nil reads matching any value; from nil with strict
/// reads, as here, the failing op is the same.)
#[test]
fn knossos_bad_histories_name_the_same_op_as_knossos() {
    let dir = data().join("knossos/cas-register/bad");
    for (file, initial, index, process, value) in [
        ("rethink-fail-minimal.edn", Value::Nil, 4, 1, 3),
        ("cas-failure.edn", Value::Nil, 491, 70, 0),
    ] {
        let h = load(&dir.join(file));
        let model = CasRegister { initial };
        let out = check_history(&h, &model, &Options::default());
        assert_eq!(out.valid, Validity::False, "{file}");
        let cex = out.counterexample.unwrap();
        let op = &h.ops()[cex.op.completion.unwrap()];
        assert_eq!(op.index, index, "{file}");
        assert_eq!(op.process.client(), Some(process), "{file}");
        assert_eq!(op.value, Value::Int(value), "{file}");
    }
}
