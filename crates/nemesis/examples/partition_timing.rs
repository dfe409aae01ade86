//! Times the local cluster and its partitions (needs root): `rift cluster up`+`down` of 5
//! nodes, and applying / healing each named grudge on 5 nodes. Prints medians of N rounds.
//!
//! `cargo run --release -p rift-nemesis --example partition_timing -- [ROUNDS]`

use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rift_control::{teardown, ClusterConfig, LocalCluster};
use rift_nemesis::{check_nft, Firewall, Grudge};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !rift_control::is_root() {
        println!("skipped: partition_timing needs root (network namespaces, nft)");
        return;
    }
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = format!("rb{}-", std::process::id() % 100_000);
    let config = ClusterConfig::new(5)
        .with_prefix(prefix.clone())
        .with_root(dir.path().join("cluster"));
    let mut up_down = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let c = LocalCluster::up(&config).expect("up");
        c.down().expect("down");
        up_down.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "cluster up+down, 5 nodes: median {:.1} ms over {rounds} rounds",
        median(up_down)
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = Arc::new(LocalCluster::up(&config).expect("up"));
    rt.block_on(async {
        check_nft().await.expect("nft");
        let nodes = cluster.nodes();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut fw = Firewall::new(cluster.clone());
        let (mut apply, mut heal) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let grudge = match round % 4 {
                0 => Grudge::majority(&nodes, &mut rng),
                1 => Grudge::one(&nodes, &mut rng),
                2 => Grudge::majorities_ring(&nodes, &mut rng),
                _ => Grudge::bridge(&nodes, &mut rng),
            };
            let t = Instant::now();
            fw.partition(&grudge).await.expect("partition");
            apply.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            fw.heal_partition().await.expect("heal");
            heal.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!("partition apply, 5 nodes: median {:.1} ms", median(apply));
        println!("partition heal, 5 nodes: median {:.1} ms", median(heal));
        fw.heal_all().await.expect("heal all");
    });
    cluster.down().expect("down");
    let _ = teardown(&dir.path().join("cluster"), &prefix);
}
