//! What the Flink suite runs, each fetched or built once per machine into rift's cache
//! (`<cache>/flink/`), and reused by every run and by CI:
//!
//! - **Flink 2.2.1** from PyPI: the wheel `apache-flink-libraries` (platform-independent,
//!   313 MB) carries a Flink distribution's `lib/`, `opt/` and `plugins/`, which is all rift
//!   runs (it starts the JVMs itself and writes the configuration). 2.2.1 because the Kafka
//!   connector on Maven Central, `flink-connector-kafka` 5.0.0-2.2, is built for Flink 2.2.
//!   `--tarball FILE|URL` takes a Flink binary distribution instead (as the seed's).
//! - **ZooKeeper 3.9.5**: `org.apache.zookeeper:zookeeper` and its runtime jars from Maven
//!   Central (`mvn dependency:copy-dependencies`).
//! - **rift's jobs** (`suites/flink/jobs/`): compiled with `javac` against the
//!   distribution's `lib/`, with the Kafka connector and `kafka-clients` (from Maven
//!   Central) unpacked into the jar, once per source and Flink version.

use rift_kafka_suite::dist::maven_libs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Flink version of the PyPI wheel rift runs by default.
pub const FLINK_VERSION: &str = "2.2.1";
/// ZooKeeper's version.
pub const ZOOKEEPER_VERSION: &str = "3.9.5";
/// The Kafka connector's version (for Flink 2.2).
pub const KAFKA_CONNECTOR_VERSION: &str = "5.0.0-2.2";

/// The jobs' sources, compiled into the jobs jar.
pub const JOB_SOURCES: &[(&str, &str)] = &[
    (
        "rift/flink/StatefulJob.java",
        include_str!("../jobs/rift/flink/StatefulJob.java"),
    ),
    (
        "rift/flink/KafkaExactlyOnceJob.java",
        include_str!("../jobs/rift/flink/KafkaExactlyOnceJob.java"),
    ),
];

/// The stateful job's entry class.
pub const STATEFUL_JOB: &str = "rift.flink.StatefulJob";
/// The exactly-once Kafka job's entry class.
pub const KAFKA_JOB: &str = "rift.flink.KafkaExactlyOnceJob";

/// Where Flink comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The PyPI wheel of this version.
    PyPi(String),
    /// A binary distribution tarball: a file or an http(s) URL.
    Tarball(String),
}

/// An unpacked Flink: a directory with `lib/flink-dist-*.jar`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlinkDist {
    /// The directory holding `lib/`.
    pub home: PathBuf,
    /// Its version (from `flink-dist-<version>.jar`).
    pub version: String,
}

impl FlinkDist {
    /// The JVM class path of a JobManager or TaskManager: every jar of `lib/`, `flink-dist`
    /// last (as Flink's own scripts order it).
    pub fn classpath(&self) -> Result<String, String> {
        // Sorted by name; a stable sort then moves flink-dist to the end.
        let mut jars = jars_of(&self.home.join("lib"), |_| false)?;
        jars.sort_by_key(|p| p.rsplit('/').next().unwrap_or(p).starts_with("flink-dist"));
        Ok(jars.join(":"))
    }
}

/// Java 17 or later to run Flink, and a JDK (`javac`, `jar`) and `unzip` to build rift's jobs:
/// installed with apt as root when missing, else an error that says what to install.
pub fn ensure_jdk() -> Result<(), String> {
    use rift_kafka_suite::dist::{apt_or_explain, ensure_java};
    ensure_java().map_err(|e| e.to_string())?;
    let runs = |p: &str, a: &str| {
        Command::new(p)
            .arg(a)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !runs("javac", "-version") || !runs("jar", "--version") {
        apt_or_explain(
            "a JDK (javac and jar, which build rift's Flink jobs)",
            "default-jdk-headless",
        )
        .map_err(|e| e.to_string())?;
    }
    if !runs("unzip", "-v") {
        apt_or_explain("unzip (which packs rift's Flink jobs)", "unzip")
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `<cache>/flink`.
pub fn flink_cache() -> PathBuf {
    rift_control::cache_dir().join("flink")
}

fn tail(bytes: &[u8], n: usize) -> String {
    rift_control::output_tail(bytes, n, 2048)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed:\n{}{}",
            tail(&out.stdout, 5),
            tail(&out.stderr, 10)
        ))
    }
}

/// The version in `lib/flink-dist-<version>.jar` under `home`.
pub fn dist_version(home: &Path) -> Option<String> {
    std::fs::read_dir(home.join("lib")).ok()?.find_map(|e| {
        let n = e.ok()?.file_name().to_string_lossy().into_owned();
        n.strip_prefix("flink-dist-")?
            .strip_suffix(".jar")
            .map(str::to_string)
    })
}

fn check_version(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Flink version {v:?}: expected one such as {FLINK_VERSION}"
        ))
    }
}

/// Makes `source` available here (once) and returns it. Blocking.
pub fn ensure_flink(source: &Source) -> Result<FlinkDist, String> {
    match source {
        Source::PyPi(v) => ensure_pypi(v),
        Source::Tarball(t) => ensure_tarball(t),
    }
}

fn ensure_pypi(version: &str) -> Result<FlinkDist, String> {
    check_version(version)?;
    let root = flink_cache();
    let home = root.join(format!("flink-{version}-pypi"));
    if home.join(".complete").is_file() {
        return Ok(FlinkDist {
            home,
            version: version.to_string(),
        });
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let wheel = format!("apache-flink-libraries=={version}");
    let t = Instant::now();
    let dl = root.join(format!(".download-{version}"));
    let staged = root.join(format!(".unpack-{version}"));
    rift_control::pip_wheel(&wheel, &dl, &staged)
        .map_err(|e| format!("fetching Flink {version} from PyPI (or give --tarball): {e}"))?;
    let inner = staged.join("pyflink");
    if !inner
        .join("lib")
        .join(format!("flink-dist-{version}.jar"))
        .is_file()
    {
        return Err(format!(
            "the wheel {wheel} has no pyflink/lib/flink-dist-{version}.jar"
        ));
    }
    let _ = std::fs::remove_dir_all(&home);
    std::fs::rename(&inner, &home).map_err(|e| format!("{}: {e}", home.display()))?;
    std::fs::write(home.join(".complete"), b"").map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&staged);
    eprintln!(
        "Flink {version} ready in {:.1} s (from PyPI's {wheel}, cached in {})",
        t.elapsed().as_secs_f64(),
        home.display()
    );
    Ok(FlinkDist {
        home,
        version: version.to_string(),
    })
}

fn ensure_tarball(tarball: &str) -> Result<FlinkDist, String> {
    let safe = rift_control::cache_key(tarball);
    let root = flink_cache();
    let home_root = root.join(format!("tarball-{safe}"));
    let find_home = |dir: &Path| -> Option<PathBuf> {
        if dist_version(dir).is_some() {
            return Some(dir.to_path_buf());
        }
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| dist_version(p).is_some())
    };
    if home_root.join(".complete").is_file() {
        if let Some(home) = find_home(&home_root) {
            let version = dist_version(&home).unwrap_or_default();
            return Ok(FlinkDist { home, version });
        }
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let staged = root.join(format!(".unpack-{safe}"));
    let _ = std::fs::remove_dir_all(&staged);
    std::fs::create_dir_all(&staged).map_err(|e| e.to_string())?;
    let file = if tarball.starts_with("http://") || tarball.starts_with("https://") {
        let f = staged.join("download.tgz");
        run(
            Command::new("curl")
                .args(["-fsSL", "-o"])
                .arg(&f)
                .arg(tarball),
            &format!("--tarball {tarball}: downloading"),
        )?;
        f
    } else {
        let p = PathBuf::from(tarball.strip_prefix("file://").unwrap_or(tarball));
        if !p.is_file() {
            return Err(format!("--tarball {tarball}: no such file"));
        }
        p
    };
    run(
        Command::new("tar")
            .arg("xzf")
            .arg(&file)
            .arg("-C")
            .arg(&staged),
        &format!("--tarball {tarball}: unpacking"),
    )?;
    let Some(found) = find_home(&staged) else {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(format!(
            "--tarball {tarball}: not a Flink distribution (no lib/flink-dist-*.jar in it)"
        ));
    };
    let rel = found
        .strip_prefix(&staged)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let _ = std::fs::remove_file(staged.join("download.tgz"));
    let _ = std::fs::remove_dir_all(&home_root);
    std::fs::rename(&staged, &home_root).map_err(|e| e.to_string())?;
    std::fs::write(home_root.join(".complete"), b"").map_err(|e| e.to_string())?;
    let home = home_root.join(rel);
    let version = dist_version(&home).unwrap_or_default();
    Ok(FlinkDist { home, version })
}

const ZK_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- ZooKeeper's server and its runtime jars, as rift's Flink suite fetches them. Its pom
     marks the metrics library, snappy and logback optional or "provided", yet the server
     needs the first two and logs through the third (versions: ZooKeeper 3.9.5's own). -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.rift</groupId>
  <artifactId>rift-zookeeper</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.zookeeper</groupId>
      <artifactId>zookeeper</artifactId>
      <version>@VERSION@</version>
    </dependency>
    <dependency>
      <groupId>io.dropwizard.metrics</groupId>
      <artifactId>metrics-core</artifactId>
      <version>4.1.12.1</version>
    </dependency>
    <dependency>
      <groupId>org.xerial.snappy</groupId>
      <artifactId>snappy-java</artifactId>
      <version>1.1.10.5</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.logback</groupId>
      <artifactId>logback-classic</artifactId>
      <version>1.3.15</version>
    </dependency>
  </dependencies>
</project>
"#;

/// The directory of ZooKeeper's jars (`<cache>/flink/zookeeper-<v>-maven/libs`), fetched
/// once.
pub fn ensure_zookeeper() -> Result<PathBuf, String> {
    let root = flink_cache();
    let home = root.join(format!("zookeeper-{ZOOKEEPER_VERSION}-maven"));
    let t = Instant::now();
    let fresh = !home.join(".complete").is_file();
    maven_libs(
        &root,
        &home,
        &ZK_POM.replace("@VERSION@", ZOOKEEPER_VERSION),
        &format!("zookeeper-{ZOOKEEPER_VERSION}.jar"),
    )
    .map_err(|e| {
        format!("fetching org.apache.zookeeper:zookeeper:{ZOOKEEPER_VERSION} failed:\n{e}")
    })?;
    if fresh {
        eprintln!(
            "ZooKeeper {ZOOKEEPER_VERSION} jars ready in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(home.join("libs"))
}

const CONNECTOR_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- The Kafka connector for rift's exactly-once Flink job, and kafka-clients. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.rift</groupId>
  <artifactId>rift-flink-connector</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.flink</groupId>
      <artifactId>flink-connector-kafka</artifactId>
      <version>@VERSION@</version>
    </dependency>
  </dependencies>
</project>
"#;

/// The jars bundled into the jobs jar: the connector, kafka-clients and its compression
/// libraries, and the Jackson the connector was built with. Flink's own jars and slf4j come
/// from the cluster's `lib/`.
fn bundled(name: &str) -> bool {
    [
        "flink-connector-kafka-",
        "kafka-clients-",
        "lz4-java-",
        "snappy-java-",
        "zstd-jni-",
        "jackson-",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// rift's jobs jar for `dist`, built the first time for these sources and this Flink:
/// `<cache>/flink/jobs/rift-flink-jobs-<hash>.jar`. Needs a JDK (javac, jar).
pub fn ensure_jobs(dist: &FlinkDist) -> Result<PathBuf, String> {
    let mut parts: Vec<&str> = vec![&dist.version, KAFKA_CONNECTOR_VERSION];
    parts.extend(JOB_SOURCES.iter().flat_map(|(p, s)| [*p, *s]));
    let root = flink_cache();
    let dir = root.join("jobs");
    let jar = dir.join(format!("rift-flink-jobs-{:016x}.jar", fnv(&parts)));
    if jar.is_file() {
        return Ok(jar);
    }
    let t = Instant::now();
    let connector = root.join(format!("connector-{KAFKA_CONNECTOR_VERSION}"));
    maven_libs(
        &root,
        &connector,
        &CONNECTOR_POM.replace("@VERSION@", KAFKA_CONNECTOR_VERSION),
        &format!("flink-connector-kafka-{KAFKA_CONNECTOR_VERSION}.jar"),
    )
    .map_err(|e| {
        format!(
            "fetching org.apache.flink:flink-connector-kafka:{KAFKA_CONNECTOR_VERSION} failed:\n{e}"
        )
    })?;
    let libs = connector.join("libs");
    let build = dir.join(format!(".build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&build);
    let src = build.join("src");
    let classes = build.join("classes");
    for (path, text) in JOB_SOURCES {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap_or(&src)).map_err(|e| e.to_string())?;
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    std::fs::create_dir_all(&classes).map_err(|e| e.to_string())?;
    let cp = format!("{}/lib/*:{}/*", dist.home.display(), libs.display());
    let mut javac = Command::new("javac");
    javac
        .args(["--release", "17", "-nowarn", "-d"])
        .arg(&classes)
        .args(["-cp", &cp]);
    for (path, _) in JOB_SOURCES {
        javac.arg(src.join(path));
    }
    run(
        &mut javac,
        "compiling rift's Flink jobs (javac; install a JDK: apt-get install default-jdk-headless)",
    )?;
    let mut names: Vec<String> = std::fs::read_dir(&libs)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| bundled(n))
        .collect();
    names.sort();
    for n in &names {
        // Signatures and module descriptors of the bundled jars would not match the fat jar.
        let mut unzip = Command::new("unzip");
        unzip
            .args(["-qo"])
            .arg(libs.join(n))
            .args(["-x", "META-INF/*.SF", "META-INF/*.RSA", "META-INF/*.DSA"])
            .args([
                "META-INF/MANIFEST.MF",
                "module-info.class",
                "META-INF/versions/*/module-info.class",
            ])
            .arg("-d")
            .arg(&classes);
        let out = unzip
            .output()
            .map_err(|e| format!("unzip {n}: {e} (apt-get install unzip)"))?;
        // 11: "nothing matched" for an exclusion; anything else is a failure.
        if !out.status.success() && out.status.code() != Some(11) {
            return Err(format!("unzip {n}: {}", tail(&out.stderr, 5)));
        }
    }
    let manifest = build.join("manifest");
    std::fs::write(&manifest, format!("Main-Class: {STATEFUL_JOB}\n"))
        .map_err(|e| e.to_string())?;
    let tmp = build.join("jobs.jar");
    run(
        Command::new("jar")
            .arg("cfm")
            .arg(&tmp)
            .arg(&manifest)
            .arg("-C")
            .arg(&classes)
            .arg("."),
        "packing rift's Flink jobs (jar)",
    )?;
    std::fs::rename(&tmp, &jar).map_err(|e| format!("{}: {e}", jar.display()))?;
    let _ = std::fs::remove_dir_all(&build);
    eprintln!(
        "rift's Flink jobs built in {:.1} s ({})",
        t.elapsed().as_secs_f64(),
        jar.display()
    );
    Ok(jar)
}

/// Hadoop's version for HDFS (3.4.2: its server jars and the tests jar that carries the
/// NameNode's web resources resolve together on Maven Central; measured here).
pub const HADOOP_VERSION: &str = "3.4.2";

const HADOOP_SERVER_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- HDFS's NameNode and DataNode and their runtime jars, as rift's Flink suite fetches them.
     The tests jar of hadoop-hdfs carries the webapps/ resources the NameNode and DataNode
     need at start, which the main jar lacks. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.rift</groupId>
  <artifactId>rift-hdfs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-common</artifactId><version>@V@</version></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-hdfs</artifactId><version>@V@</version></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-hdfs-client</artifactId><version>@V@</version></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-hdfs</artifactId><version>@V@</version><classifier>tests</classifier></dependency>
  </dependencies>
</project>
"#;

const HADOOP_CLIENT_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Hadoop's shaded client, which Flink's hdfs:// file system needs on its class path. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.rift</groupId>
  <artifactId>rift-hadoop-client</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-client-api</artifactId><version>@V@</version></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-client-runtime</artifactId><version>@V@</version></dependency>
  </dependencies>
</project>
"#;

/// Hadoop's jars for HDFS: the servers' class path and the client jars Flink needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HadoopDist {
    /// The NameNode's and DataNode's class path (without the configuration directory): the
    /// web resources' directory, then every server jar.
    pub server_classpath: String,
    /// The client jars, `:`-joined, for Flink's class path.
    pub client_classpath: String,
}

fn jars_of(dir: &Path, skip: impl Fn(&str) -> bool) -> Result<Vec<String>, String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jar"))
        .filter(|p| !skip(&p.file_name().unwrap_or_default().to_string_lossy()))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    Ok(v)
}

/// Hadoop's jars from Maven Central (once): about 115 MB.
pub fn ensure_hadoop() -> Result<HadoopDist, String> {
    let root = flink_cache();
    let t = Instant::now();
    let server = root.join(format!("hadoop-{HADOOP_VERSION}-server"));
    let client = root.join(format!("hadoop-{HADOOP_VERSION}-client"));
    let fresh = !server.join(".complete").is_file() || !client.join(".complete").is_file();
    let fail = |what: &str, e: String| {
        format!("fetching Hadoop {HADOOP_VERSION}'s {what} jars from Maven Central failed:\n{e}")
    };
    maven_libs(
        &root,
        &server,
        &HADOOP_SERVER_POM.replace("@V@", HADOOP_VERSION),
        &format!("hadoop-hdfs-{HADOOP_VERSION}-tests.jar"),
    )
    .map_err(|e| fail("HDFS", e))?;
    maven_libs(
        &root,
        &client,
        &HADOOP_CLIENT_POM.replace("@V@", HADOOP_VERSION),
        &format!("hadoop-client-runtime-{HADOOP_VERSION}.jar"),
    )
    .map_err(|e| fail("client", e))?;
    let tests_jar = format!("hadoop-hdfs-{HADOOP_VERSION}-tests.jar");
    let web = server.join("webroot");
    if !web.join("webapps").join("hdfs").is_dir() {
        let staged = server.join(format!(".webroot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staged);
        run(
            Command::new("unzip")
                .arg("-qo")
                .arg(server.join("libs").join(&tests_jar))
                .arg("webapps/*")
                .arg("-d")
                .arg(&staged),
            "unpacking HDFS's web resources (unzip)",
        )?;
        let _ = std::fs::remove_dir_all(&web);
        std::fs::rename(&staged, &web).map_err(|e| format!("{}: {e}", web.display()))?;
    }
    // The tests jar stays off the servers' class path: its classes are HDFS's tests.
    let mut cp = vec![web.display().to_string()];
    cp.extend(jars_of(&server.join("libs"), |n| n == tests_jar)?);
    let client_jars = jars_of(&client.join("libs"), |_| false)?;
    if fresh {
        eprintln!(
            "Hadoop {HADOOP_VERSION} (HDFS) jars ready in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(HadoopDist {
        server_classpath: cp.join(":"),
        client_classpath: client_jars.join(":"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_bundles() {
        assert!(check_version("2.2.1").is_ok());
        assert!(check_version("2.2.1; rm -rf /").is_err());
        assert!(bundled("kafka-clients-4.2.0.jar") && bundled("jackson-core-2.18.2.jar"));
        assert!(!bundled("slf4j-api-1.7.36.jar") && !bundled("commons-lang3-3.18.0.jar"));
        assert_ne!(fnv(&["a", "b"]), fnv(&["ab"]));
    }

    #[test]
    fn the_classpath_puts_flink_dist_last() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("lib")).unwrap();
        for n in [
            "flink-dist-2.2.1.jar",
            "log4j-api-2.24.3.jar",
            "flink-cep-2.2.1.jar",
            "README",
        ] {
            std::fs::write(d.path().join("lib").join(n), b"").unwrap();
        }
        let dist = FlinkDist {
            home: d.path().into(),
            version: "2.2.1".into(),
        };
        let cp = dist.classpath().unwrap();
        let names: Vec<&str> = cp
            .split(':')
            .map(|p| p.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "flink-cep-2.2.1.jar",
                "log4j-api-2.24.3.jar",
                "flink-dist-2.2.1.jar"
            ]
        );
        assert_eq!(dist_version(d.path()).as_deref(), Some("2.2.1"));
    }

    #[test]
    fn a_tarball_that_is_not_flink_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("not-flink.tgz");
        std::fs::write(d.path().join("x.txt"), b"x").unwrap();
        let ok = Command::new("tar")
            .arg("czf")
            .arg(&t)
            .arg("-C")
            .arg(d.path())
            .arg("x.txt")
            .status()
            .unwrap();
        assert!(ok.success());
        // The cache is rift's; a fresh one for this test.
        let e = ensure_tarball(t.to_str().unwrap()).unwrap_err();
        assert!(e.contains("not a Flink distribution"), "{e}");
        let e = ensure_tarball("/nonexistent/flink.tgz").unwrap_err();
        assert!(e.contains("no such file"), "{e}");
    }
}
