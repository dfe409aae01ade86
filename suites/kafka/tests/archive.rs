//! `--archive`: a Kafka release tarball is unpacked once into the cache and used as the
//! distribution. Built here from the jars Maven fetched (a release tarball has the same
//! `kafka_2.13-<version>/libs/` layout), in a cache directory of the test's own.

use rift_kafka_suite::dist::{fetch, Source};

#[test]
fn an_archive_unpacks_into_the_cache_and_serves_as_the_distribution() {
    // The jars from Maven (fetched into rift's cache once, as the suite does).
    let jars = match rift_kafka_suite::dist::fetch_maven("4.4.0") {
        Ok(d) => d,
        Err(e) => {
            println!("skipped: no Kafka jars to build an archive from: {e}");
            return;
        }
    };
    let maven = jars.home.join("libs");
    let work = tempfile::tempdir().unwrap();
    let top = work.path().join("kafka_2.13-4.4.0");
    std::fs::create_dir_all(&top).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&maven)
        .arg(top.join("libs"))
        .status()
        .unwrap();
    assert!(status.success());
    let tgz = work.path().join("kafka_2.13-4.4.0.tgz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tgz)
        .arg("-C")
        .arg(work.path())
        .arg("kafka_2.13-4.4.0")
        .status()
        .unwrap();
    assert!(status.success());
    let cache = tempfile::tempdir().unwrap();
    // This test binary is its own process: setting the variable races nothing else.
    std::env::set_var(rift_control::CACHE_VAR, cache.path());
    let source = Source::Archive(tgz.display().to_string());
    assert_eq!(source.version(), "4.4.0");
    let d = fetch(&source).unwrap();
    assert_eq!(d.version, "4.4.0");
    assert!(d.home.starts_with(cache.path()), "{}", d.home.display());
    assert!(d.home.join("libs/kafka_2.13-4.4.0.jar").is_file());
    assert!(d.home.join(".complete").is_file());
    // Once unpacked, the archive is not needed again.
    std::fs::remove_file(&tgz).unwrap();
    assert_eq!(fetch(&source).unwrap(), d);
    // Not a Kafka release: no libs/.
    let bad_top = work.path().join("kafka_2.13-9.9.9");
    std::fs::create_dir_all(bad_top.join("bin")).unwrap();
    let bad = work.path().join("kafka_2.13-9.9.9.tgz");
    std::process::Command::new("tar")
        .arg("-czf")
        .arg(&bad)
        .arg("-C")
        .arg(work.path())
        .arg("kafka_2.13-9.9.9")
        .status()
        .unwrap();
    let e = fetch(&Source::Archive(bad.display().to_string())).unwrap_err();
    assert!(e.to_string().contains("no libs/ directory"), "{e}");
}
