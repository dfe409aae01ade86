//! Checks one history file: `check_file MODEL FILE [unsplit]`; prints the outcome.

use rift_history::{read_ops_file, History};
use rift_linear::{check_history, model_by_name, Options};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(model), Some(file)) = (args.first(), args.get(1)) else {
        eprintln!("usage: check_file MODEL FILE [unsplit]");
        std::process::exit(254);
    };
    let (ops, _) = read_ops_file(file.as_ref()).expect("read");
    let h = History::new(ops).expect("history");
    let m = model_by_name(model).expect("model");
    let opts = Options {
        split_by_key: args.get(2).map(String::as_str) != Some("unsplit"),
        ..Options::default()
    };
    let out = check_history(&h, &*m, &opts);
    println!(
        "valid? {} partitions {} prepared {:?} search {:?} elapsed {:?} reason {:?}",
        out.valid, out.partitions, out.prepared, out.search, out.elapsed, out.reason
    );
    if let (Some(c), true) = (&out.counterexample, args.iter().any(|a| a == "cex")) {
        println!(
            "{}",
            serde_json::to_string_pretty(&c.to_json(&h)).unwrap_or_default()
        );
    }
}
