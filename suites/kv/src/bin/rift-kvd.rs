//! `rift-kvd`: the rift-kv server as its own binary (the `rift` binary runs the same server as
//! `rift kv-server`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(rift_kv::main_with_args(&args));
}
