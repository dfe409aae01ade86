//! Serve a store without the CLI: `cargo run -p rift-web --example serve -- STORE [PORT]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let store = args.next().unwrap_or_else(|| "store".to_string());
    let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let opts = rift_web::ServeOptions {
        store: store.into(),
        port,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = rt.block_on(rift_web::serve(opts)) {
        eprintln!("rift serve: {e}");
        std::process::exit(255);
    }
}
