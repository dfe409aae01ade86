//! Getting Kafka: its jars from Maven Central (kept in rift's cache directory, fetched once),
//! or a release tarball given with `--archive`; and the Java runtime it needs.
//!
//! The Maven route runs `mvn dependency:copy-dependencies` on the suite's own pom
//! (`resources/pom.xml`: `org.apache.kafka:kafka_2.13` and a log4j2 binding for its slf4j
//! logging) into `<cache>/kafka/maven-<version>/libs`. A lock file serialises concurrent
//! fetches (parallel tests, two runs at once); a `.complete` marker written last makes a fetch
//! that died half-way invisible. An archive (`kafka_2.13-4.x.tgz`, a local file or a URL) is
//! unpacked into `<cache>/kafka/archive-<name>/`; it must hold `libs/`.

use crate::KafkaError;
use rift_control::{cache_dir, output_tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Kafka version the suite fetches by default (KRaft only, as every 4.x).
pub const DEFAULT_VERSION: &str = "4.4.0";

/// The Java major version Kafka 4 brokers need.
pub const MIN_JAVA: u32 = 17;

/// The suite's pom, with `@KAFKA_VERSION@` for the version.
pub const POM: &str = include_str!("../resources/pom.xml");

/// The log4j2 configuration every Kafka process runs with (INFO to standard output).
pub const LOG4J2: &str = include_str!("../resources/log4j2.properties");

/// Where Kafka comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `org.apache.kafka:kafka_2.13:<version>` and its dependencies from Maven Central.
    Maven(String),
    /// A Kafka release tarball: a local file or an http(s) URL.
    Archive(String),
}

impl Source {
    /// The version this source names: the Maven version, or what the archive's file name says
    /// (`kafka_2.13-4.1.0.tgz` is `4.1.0`), else `unknown`.
    pub fn version(&self) -> String {
        match self {
            Source::Maven(v) => v.clone(),
            Source::Archive(a) => version_of_archive(a).unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// `kafka_2.13-4.1.0.tgz` -> `4.1.0`.
pub fn version_of_archive(archive: &str) -> Option<String> {
    let name = archive.rsplit('/').next()?;
    let rest = name.strip_prefix("kafka_")?;
    let (_, v) = rest.split_once('-')?;
    let v = v
        .trim_end_matches(".tgz")
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".tar");
    (!v.is_empty()).then(|| v.to_string())
}

/// An unpacked Kafka: a directory with `libs/` (every jar the server needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dist {
    /// The directory holding `libs/`.
    pub home: PathBuf,
    /// Its version.
    pub version: String,
}

impl Dist {
    /// The Java class path: `<home>/libs/*`.
    pub fn classpath(&self) -> String {
        format!("{}/libs/*", self.home.display())
    }
}

/// Where Kafka's files live in rift's cache: `<cache>/kafka`.
pub fn kafka_cache() -> PathBuf {
    cache_dir().join("kafka")
}

/// Makes `source` available on this machine (fetching or unpacking it once) and returns it.
/// Blocking: run it on a blocking thread.
pub fn fetch(source: &Source) -> Result<Dist, KafkaError> {
    match source {
        Source::Maven(v) => fetch_maven(v),
        Source::Archive(a) => unpack_archive(a),
    }
}

fn check_version(version: &str) -> Result<(), KafkaError> {
    let ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(KafkaError::Config(format!(
            "--version {version:?}: expected a Kafka version such as {DEFAULT_VERSION}"
        )))
    }
}

/// Fetches Kafka `version`'s jars from Maven Central into the cache, once.
pub fn fetch_maven(version: &str) -> Result<Dist, KafkaError> {
    check_version(version)?;
    let root = kafka_cache();
    let home = root.join(format!("maven-{version}"));
    let dist = Dist {
        home: home.clone(),
        version: version.to_string(),
    };
    if home.join(".complete").is_file() {
        return Ok(dist);
    }
    let pom = POM.replace("@KAFKA_VERSION@", version);
    let t = Instant::now();
    maven_libs(&root, &home, &pom, "kafka_2.13-*.jar").map_err(|tail| {
        KafkaError::Install(format!(
            "fetching org.apache.kafka:kafka_2.13:{version} from Maven Central failed \
             (is the version published? is Maven Central reachable?):\n{tail}"
        ))
    })?;
    eprintln!(
        "Kafka {version} jars ready in {:.1} s (cached in {})",
        t.elapsed().as_secs_f64(),
        home.display()
    );
    Ok(dist)
}

/// Fetches the runtime jars of the project `pom` (a `pom.xml`'s text) from Maven Central
/// into `<home>/libs` with `mvn dependency:copy-dependencies`, once: `<home>/.complete` marks
/// a finished fetch; one fetch at a time under `<root>/.lock` (the winner's result is what
/// the others find); `marker` is a glob of a jar that must be among them. The error is why
/// Maven failed (its own lines, see [`maven_reason`]).
pub fn maven_libs(root: &Path, home: &Path, pom: &str, marker: &str) -> Result<(), String> {
    if home.join(".complete").is_file() {
        return Ok(());
    }
    ensure_maven().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let name = home
        .file_name()
        .map_or_else(|| "dist".into(), |n| n.to_string_lossy());
    let pom_path = root.join(format!("pom-{name}.xml"));
    std::fs::write(&pom_path, pom).map_err(|e| format!("{}: {e}", pom_path.display()))?;
    let script = format!(
        "set -e\nexec 9>{lock}\nflock -w 1800 9\n[ -f {home}/.complete ] && exit 0\n\
         tmp=$(mktemp -d {root}/.fetch-XXXXXX)\ntrap 'rm -rf \"$tmp\"' EXIT\n\
         mvn -q -B -f {pom} dependency:copy-dependencies \
         -DincludeScope=runtime -DoutputDirectory=\"$tmp/libs\"\n\
         ls \"$tmp/libs\"/{marker} >/dev/null\n\
         rm -rf {home} && mkdir -p {home} && mv \"$tmp/libs\" {home}/libs && cp {pom} {home}/pom.xml\n\
         touch {home}/.complete",
        lock = q(&root.join(".lock")),
        home = q(home),
        root = q(root),
        pom = q(&pom_path),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .map_err(|e| format!("running mvn: {e}"))?;
    if !out.status.success() {
        let mut tail = maven_reason(&output_tail(&out.stdout, 30, 4096));
        tail.push_str(&maven_reason(&output_tail(&out.stderr, 10, 2048)));
        return Err(tail);
    }
    Ok(())
}

/// The lines of Maven's output that say why it failed: ANSI colour codes removed, Maven's
/// generic advice (`To see the full stack trace...`, help links) dropped.
pub fn maven_reason(output: &str) -> String {
    let mut clean = String::new();
    let mut chars = output.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // ESC [ ... letter
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        clean.push(c);
    }
    let mut out = String::new();
    for line in clean.lines() {
        let body = line.trim_start_matches("[ERROR]").trim();
        if body.is_empty()
            || body.starts_with("To see the full stack trace")
            || body.starts_with("Re-run Maven")
            || body.starts_with("For more information")
            || body.starts_with("[Help 1]")
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Unpacks a Kafka release archive (local file or URL) into the cache, once per file name.
pub fn unpack_archive(archive: &str) -> Result<Dist, KafkaError> {
    let safe = rift_control::cache_key(archive);
    let root = kafka_cache();
    let home = root.join(format!("archive-{safe}"));
    let dist = Dist {
        home: home.clone(),
        version: version_of_archive(archive).unwrap_or_else(|| "unknown".into()),
    };
    if home.join(".complete").is_file() {
        return Ok(dist);
    }
    let is_url = archive.starts_with("http://") || archive.starts_with("https://");
    if !is_url && !Path::new(archive).is_file() {
        return Err(KafkaError::Config(format!(
            "--archive {archive}: no such file (give a Kafka release tarball, kafka_2.13-<version>.tgz, or its URL)"
        )));
    }
    std::fs::create_dir_all(&root)
        .map_err(|e| KafkaError::Install(format!("{}: {e}", root.display())))?;
    let fetch = if is_url {
        format!(
            "curl -fsSL -o \"$tmp/a.tgz\" {a} || wget -q -O \"$tmp/a.tgz\" {a}",
            a = rift_control::shell_quote(archive)
        )
    } else {
        format!("cp {} \"$tmp/a.tgz\"", rift_control::shell_quote(archive))
    };
    let script = format!(
        "set -e\nexec 9>{lock}\nflock -w 1800 9\n[ -f {home}/.complete ] && exit 0\n\
         tmp=$(mktemp -d {root}/.unpack-XXXXXX)\ntrap 'rm -rf \"$tmp\"' EXIT\n{fetch}\n\
         mkdir \"$tmp/x\" && tar -xf \"$tmp/a.tgz\" -C \"$tmp/x\"\n\
         set -- \"$tmp/x\"/*\nif [ $# -eq 1 ] && [ -d \"$1\" ]; then src=\"$1\"; else src=\"$tmp/x\"; fi\n\
         [ -d \"$src/libs\" ] || {{ echo 'the archive has no libs/ directory: not a Kafka release' >&2; exit 3; }}\n\
         rm -rf {home} && mkdir -p {home} && cp -a \"$src\"/. {home}/ && touch {home}/.complete",
        lock = q(&root.join(".lock")),
        home = q(&home),
        root = q(&root),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .map_err(|e| KafkaError::Install(format!("unpacking {archive}: {e}")))?;
    if !out.status.success() {
        return Err(KafkaError::Install(format!(
            "--archive {archive}: {}",
            output_tail(&out.stderr, 10, 2048).trim()
        )));
    }
    Ok(dist)
}

fn q(p: &Path) -> String {
    rift_control::shell_quote(&p.display().to_string())
}

/// Whether `program --version`-style `args` runs here.
fn runs(program: &str, args: &[&str]) -> Option<std::process::Output> {
    Command::new(program).args(args).output().ok()
}

/// Installs Debian `packages` with apt as root, or says what the user must install
/// ([`rift_control::apt_or_explain`]).
pub fn apt_or_explain(what: &str, packages: &str) -> Result<(), KafkaError> {
    rift_control::apt_or_explain(what, packages).map_err(KafkaError::Install)
}

/// Makes sure `mvn` runs (Debian's `maven` as root when missing).
pub fn ensure_maven() -> Result<(), KafkaError> {
    if runs("mvn", &["-v"]).is_some_and(|o| o.status.success()) {
        return Ok(());
    }
    apt_or_explain(
        "Maven (mvn, needed to fetch Kafka's jars; or pass --archive)",
        "maven",
    )
}

/// The Java major version `java -version` reports (`17.0.15` -> 17, `1.8.0` -> 8).
pub fn java_major(version_output: &str) -> Option<u32> {
    let start = version_output.find('"')? + 1;
    let rest = &version_output[start..];
    let v = &rest[..rest.find('"')?];
    let mut parts = v.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        return parts.next()?.parse().ok();
    }
    Some(first)
}

/// Makes sure a Java runtime of at least [`MIN_JAVA`] runs here (Debian's
/// `default-jre-headless` as root when there is none); returns its major version.
pub fn ensure_java() -> Result<u32, KafkaError> {
    let probe = || {
        runs("java", &["-version"])
            .filter(|o| o.status.success())
            .and_then(|o| java_major(&String::from_utf8_lossy(&o.stderr)))
    };
    let major = match probe() {
        Some(m) => m,
        None => {
            apt_or_explain(
                "Java (a JRE to run Kafka and Flink)",
                "default-jre-headless",
            )?;
            probe().ok_or_else(|| {
                KafkaError::Install("java still does not run after installing it".into())
            })?
        }
    };
    if major < MIN_JAVA {
        return Err(KafkaError::Install(format!(
            "java is version {major}; Kafka 4 needs Java {MIN_JAVA} or later (apt-get install openjdk-17-jre-headless)"
        )));
    }
    Ok(major)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            version_of_archive("/x/kafka_2.13-4.1.0.tgz").as_deref(),
            Some("4.1.0")
        );
        assert_eq!(
            version_of_archive("https://h/p/kafka_2.13-3.9.1.tar.gz").as_deref(),
            Some("3.9.1")
        );
        assert_eq!(version_of_archive("redpanda.tgz"), None);
        assert_eq!(Source::Maven("4.4.0".into()).version(), "4.4.0");
        assert!(check_version("4.4.0").is_ok());
        assert!(check_version("4.4.0; rm -rf /").is_err());
        assert!(check_version("").is_err());
    }

    #[test]
    fn maven_failures_keep_only_the_reason() {
        let out = "\x1b[0m[ERROR] Failed to execute goal: kafka_2.13:jar:9.9.9 was not found\n\
                   [ERROR] \n[ERROR] To see the full stack trace of the errors, re-run Maven\n\
                   [ERROR] [Help 1] http://x\n\x1b[0m\x1b[0m";
        assert_eq!(
            maven_reason(out),
            "[ERROR] Failed to execute goal: kafka_2.13:jar:9.9.9 was not found\n"
        );
    }

    #[test]
    fn java_versions() {
        let out = "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment";
        assert_eq!(java_major(out), Some(17));
        assert_eq!(java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(java_major("openjdk version \"21\" 2023-09-19"), Some(21));
        assert_eq!(java_major("no quotes"), None);
    }

    #[test]
    fn the_pom_names_kafka_and_a_log_binding() {
        let pom = POM.replace("@KAFKA_VERSION@", "4.4.0");
        assert!(pom.contains("<artifactId>kafka_2.13</artifactId>"));
        assert!(pom.contains("<version>4.4.0</version>"));
        assert!(pom.contains("log4j-slf4j-impl"));
    }

    #[test]
    fn a_missing_archive_is_a_config_error() {
        let e = unpack_archive("/nonexistent/kafka_2.13-4.1.0.tgz").unwrap_err();
        assert!(matches!(e, KafkaError::Config(_)), "{e}");
        assert!(e.to_string().contains("no such file"), "{e}");
    }
}
