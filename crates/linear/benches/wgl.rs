//! Divan benchmarks of the linearizability checker on the shared corpora (parsing excluded):
//! `cargo bench -p rift-linear`. `bench/linear` prints per-corpus CPU times next to Porcupine's.

use rift_history::{read_ops_file, History};
use rift_linear::{check_history, model_by_name, Options};
use std::path::Path;

fn main() {
    divan::main();
}

fn load(rel: &str) -> History {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel);
    History::new(read_ops_file(&path).expect("corpus file").0).expect("history")
}

#[divan::bench(args = ["etcd_002.log", "etcd_007.log", "etcd_099.log"])]
fn etcd(bencher: divan::Bencher, file: &str) {
    let h = load(&format!("porcupine/etcd/{file}"));
    let model = model_by_name("cas-register").unwrap();
    bencher.bench(|| check_history(&h, &*model, &Options::default()).valid);
}

#[divan::bench(args = ["c50-ok.txt", "c50-bad.txt"])]
fn kv_split(bencher: divan::Bencher, file: &str) {
    let h = load(&format!("porcupine/kv/{file}"));
    let model = model_by_name("kv").unwrap();
    bencher.bench(|| check_history(&h, &*model, &Options::default()).valid);
}

#[divan::bench(args = ["c10-ok.txt", "c10-bad.txt"], sample_count = 10)]
fn kv_unsplit(bencher: divan::Bencher, file: &str) {
    let h = load(&format!("porcupine/kv/{file}"));
    let model = model_by_name("kv").unwrap();
    let opts = Options {
        split_by_key: false,
        ..Options::default()
    };
    bencher.bench(|| check_history(&h, &*model, &opts).valid);
}
