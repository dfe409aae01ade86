//! Clock skew on nodes without touching the host clock.
//!
//! **Local cluster.** Network namespaces share the host's clocks, and changing the host clock
//! would skew everything on this machine (rift itself included). Instead, a node's daemons run
//! under libfaketime: [`faketime_env`] gives the environment (`LD_PRELOAD` of the library,
//! `FAKETIME_TIMESTAMP_FILE=<node_dir>/faketime`, `FAKETIME_NO_CACHE=1`) that a db author
//! puts into the node's [`crate::DaemonSpec`]; [`set_offset`] then rewrites that file
//! (`+1.250`, `-0.500`: seconds relative to the real clock) atomically, and every clock read
//! of those daemons sees the new offset at once. [`measure_offset`] verifies from the outside:
//! it runs `date` under the same environment inside the node and subtracts the real time.
//!
//! - Static binaries (Go programs such as etcd and nats-server) make system calls without
//!   the C library and ignore `LD_PRELOAD`: libfaketime cannot skew them.
//! - With libfaketime 0.9.10, `FAKETIME_DONT_FAKE_MONOTONIC=1` makes Python's `time.sleep`
//!   fail with `EINVAL` (measured here), so by default monotonic clocks are shifted too. JVMs
//!   want them left alone: [`FaketimeOptions::dont_fake_monotonic`].
//! - `FAKETIME_NO_CACHE=1` makes every clock read re-read the offset file: about 6 µs per
//!   `time.time()` in Python instead of 0.35 µs (measured here). Without it a change would
//!   take up to 10 s (libfaketime's cache) to be seen.
//!
//! **Real machines (SSH).** [`CLOCK_HELPER_C`] is a small C program of ours, `rift-clock`,
//! compiled on each node by [`install_clock_helper`]: `rift-clock now` prints
//! `CLOCK_REALTIME` as `secs.nanos`, `rift-clock bump MS` steps the clock by `MS`
//! milliseconds, `rift-clock strobe DELTA_MS PERIOD_MS DURATION_MS` flips it between `+DELTA`
//! and the original time every `PERIOD_MS` for `DURATION_MS`, then leaves it where it
//! started. [`reset_clock_cmd`] steps the clock back to true time with `ntpdate -b SERVER`,
//! or `chronyc makestep` when ntpdate is missing (chronyd must be running and have sources).
//! These change the machine's real clock: never run them against the control machine.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::daemon::write_file;
use crate::error::ControlError;
use crate::local::LocalCluster;
use crate::remote::{shell_quote, Cmd, Remote};

/// Where Debian's `libfaketime` package installs the library.
pub const FAKETIME_LIB_DEBIAN: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// An environment variable naming the library, used instead of the search when set.
pub const FAKETIME_LIB_VAR: &str = "RIFT_FAKETIME_LIB";
/// The offset file's name in a node's home directory.
pub const FAKETIME_FILE: &str = "faketime";
/// What to do when libfaketime is missing.
pub const FAKETIME_MISSING: &str = "libfaketime not found: local clock faults need it \
     (apt-get install libfaketime faketime), or set RIFT_FAKETIME_LIB to libfaketime.so.1";

/// Other places the library is commonly installed.
const FAKETIME_LIB_CANDIDATES: [&str; 4] = [
    FAKETIME_LIB_DEBIAN,
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
];

/// How daemons see the node's clock offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaketimeOptions {
    /// Shift only the wall clock (`CLOCK_REALTIME`, `gettimeofday`, `time`) through rift's
    /// own shim ([`REALTIME_SHIM_C`], built by [`realtime_shim`]) instead of libfaketime,
    /// leaving monotonic clocks and timed waits alone, as a real clock step does. JVMs need
    /// this: under libfaketime 0.9.10 with `FAKETIME_DONT_FAKE_MONOTONIC=1` their timed
    /// waits return at once (measured here: `Object.wait(5)` and `LockSupport.parkNanos`
    /// take 0 ms), and without it their monotonic clock jumps with every offset.
    pub realtime_only: bool,
}

/// The libfaketime library: `$RIFT_FAKETIME_LIB` when set (if that file exists), else the
/// first of the usual install paths that exists.
pub fn faketime_lib() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(FAKETIME_LIB_VAR).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    FAKETIME_LIB_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// [`faketime_lib`], or an error saying how to install it.
pub fn require_faketime() -> Result<PathBuf, ControlError> {
    faketime_lib().ok_or_else(|| {
        ControlError::io(
            FAKETIME_MISSING,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no libfaketime.so.1"),
        )
    })
}

/// `<node_dir>/faketime`, the file holding `node`'s offset.
pub fn faketime_file(cluster: &LocalCluster, node: &str) -> Result<PathBuf, ControlError> {
    Ok(cluster.node_dir(node)?.join(FAKETIME_FILE))
}

/// The environment that runs a program on `node` under libfaketime with default options
/// (monotonic clocks shifted too); creates the offset file with `+0` when missing.
pub fn faketime_env(
    cluster: &LocalCluster,
    node: &str,
) -> Result<Vec<(String, String)>, ControlError> {
    faketime_env_with(cluster, node, FaketimeOptions::default())
}

/// [`faketime_env`] with options.
pub fn faketime_env_with(
    cluster: &LocalCluster,
    node: &str,
    opts: FaketimeOptions,
) -> Result<Vec<(String, String)>, ControlError> {
    let lib = if opts.realtime_only {
        realtime_shim()?
    } else {
        require_faketime()?
    };
    let file = faketime_file(cluster, node)?;
    if !file.exists() {
        write_atomically(&file, "+0\n")?;
    }
    let file = file.display().to_string();
    let lib = ("LD_PRELOAD".to_string(), lib.display().to_string());
    Ok(if opts.realtime_only {
        vec![lib, (SHIM_FILE_VAR.to_string(), file)]
    } else {
        vec![
            lib,
            ("FAKETIME_TIMESTAMP_FILE".to_string(), file),
            ("FAKETIME_NO_CACHE".to_string(), "1".to_string()),
        ]
    })
}

/// The wall-clock-only environment ([`FaketimeOptions::realtime_only`]) of every node of
/// `cluster`, by node: what a suite gives daemons that clock faults must reach.
pub fn realtime_envs(
    cluster: &LocalCluster,
) -> Result<std::collections::BTreeMap<String, Vec<(String, String)>>, ControlError> {
    let opts = FaketimeOptions {
        realtime_only: true,
    };
    cluster
        .nodes()
        .into_iter()
        .map(|n| faketime_env_with(cluster, &n, opts).map(|e| (n, e)))
        .collect()
}

/// The source of rift's wall-clock shim, `rift-realtime.so`: an `LD_PRELOAD` library that
/// adds the offset in `$RIFT_FAKETIME_FILE` (the same file and format as libfaketime's, so
/// [`set_offset`] drives both) to `CLOCK_REALTIME` reads only, re-reading the file every
/// `$RIFT_FAKETIME_PERIOD_MS` (5 ms): a change is seen within that, and a strobe with a
/// shorter period is sampled.
pub const REALTIME_SHIM_C: &str = include_str!("realtime_shim.c");
/// The environment variable naming the offset file for the shim.
pub const SHIM_FILE_VAR: &str = "RIFT_FAKETIME_FILE";

/// The shim's path in rift's cache directory: `rift-realtime-<hash of the source>.so`,
/// compiled there with `cc` the first time (through a temp file and a rename, so
/// concurrent builders never see half a library).
pub fn realtime_shim() -> Result<PathBuf, ControlError> {
    realtime_shim_in(&crate::cache_dir())
}

/// [`realtime_shim`] in `dir`.
pub fn realtime_shim_in(dir: &Path) -> Result<PathBuf, ControlError> {
    // FNV-1a: a new source gets a new file, without a hashing dependency.
    let hash = REALTIME_SHIM_C
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let lib = dir.join(format!("rift-realtime-{hash:016x}.so"));
    if lib.exists() {
        return Ok(lib);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ControlError::io(format!("creating {}", dir.display()), e))?;
    let tag = format!("tmp{}", std::process::id());
    let src = lib.with_extension(format!("{tag}.c"));
    let tmp = lib.with_extension(format!("{tag}.so"));
    std::fs::write(&src, REALTIME_SHIM_C)
        .map_err(|e| ControlError::io(format!("writing {}", src.display()), e))?;
    let compiler = ["cc", "gcc"]
        .into_iter()
        .find(|c| crate::ssh::program_exists(c));
    let built = match compiler {
        None => Err("no C compiler (cc or gcc) on this machine: apt-get install gcc".to_string()),
        Some(cc) => std::process::Command::new(cc)
            .args(["-O2", "-shared", "-fPIC", "-o"])
            .arg(&tmp)
            .arg(&src)
            .arg("-ldl")
            .output()
            .map_err(|e| format!("running {cc}: {e}"))
            .and_then(|out| {
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{cc} failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                }
            }),
    };
    let _ = std::fs::remove_file(&src);
    let done = built.and_then(|()| {
        std::fs::rename(&tmp, &lib).map_err(|e| format!("renaming {}: {e}", tmp.display()))
    });
    if let Err(why) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(ControlError::Prerequisite(format!(
            "building rift's wall-clock shim {} (JVM nodes need it for clock faults): {why}",
            lib.display()
        )));
    }
    Ok(lib)
}

/// An offset in seconds as libfaketime reads it: `+1.250`, `-0.500` (milliseconds kept).
pub fn format_offset(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as i64;
    let sign = if ms < 0 { '-' } else { '+' };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// Parses an offset file's text: `+60s`, `-2.5`, `+1.250`, with libfaketime's suffixes
/// `s`, `m`, `h`, `d`. `None` for anything else (absolute times, garbage).
pub fn parse_offset(text: &str) -> Option<f64> {
    let t = text.trim();
    if !t.starts_with(['+', '-']) {
        return None;
    }
    let (num, scale) = match t.chars().last()? {
        's' => (&t[..t.len() - 1], 1.0),
        'm' => (&t[..t.len() - 1], 60.0),
        'h' => (&t[..t.len() - 1], 3600.0),
        'd' => (&t[..t.len() - 1], 86400.0),
        _ => (t, 1.0),
    };
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v * scale)
}

/// Sets `node`'s clock offset to `secs` seconds (from the real clock) by rewriting its offset
/// file atomically (a temp file, then rename). Daemons under [`faketime_env`] see it at their
/// next clock read. The host clock is never touched.
pub fn set_offset(cluster: &LocalCluster, node: &str, secs: f64) -> Result<(), ControlError> {
    if !secs.is_finite() || secs.abs() > 1e9 {
        return Err(ControlError::InvalidConfig(format!(
            "clock offset {secs} s for {node} is not a usable number"
        )));
    }
    let file = faketime_file(cluster, node)?;
    write_atomically(&file, &format!("{}\n", format_offset(secs)))
}

/// `node`'s offset as its file says (0 when there is no file yet).
pub fn offset(cluster: &LocalCluster, node: &str) -> Result<f64, ControlError> {
    let file = faketime_file(cluster, node)?;
    match std::fs::read_to_string(&file) {
        Ok(text) => parse_offset(&text).ok_or_else(|| ControlError::State {
            path: file.clone(),
            detail: format!("not a relative clock offset: {:?}", text.trim()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0.0),
        Err(e) => Err(ControlError::io(format!("reading {}", file.display()), e)),
    }
}

fn write_atomically(path: &Path, contents: &str) -> Result<(), ControlError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, contents)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| ControlError::io(format!("writing {}", path.display()), e))
}

/// The shell script [`measure_offset`] runs: real time, faked time, real time.
const MEASURE_SCRIPT: &str = "a=$(env -u LD_PRELOAD date +%s.%N) && b=$(date +%s.%N) && \
     c=$(env -u LD_PRELOAD date +%s.%N) && echo \"$a $b $c\"";

/// Measures `node`'s clock offset in seconds through libfaketime: inside the node, `date`
/// under [`faketime_env`] between two `date`s without it; the offset is the faked time minus
/// the mean of the two real ones (error about a millisecond, measured here).
pub async fn measure_offset(cluster: &LocalCluster, node: &str) -> Result<f64, ControlError> {
    let mut cmd = Cmd::shell(MEASURE_SCRIPT).timeout(Duration::from_secs(10));
    cmd.env = faketime_env(cluster, node)?;
    let out = cluster.exec(node, &cmd).await?;
    let text = out.stdout_str();
    let times: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match times[..] {
        [a, b, c] => Ok(b - (a + c) / 2.0),
        _ => Err(ControlError::CommandFailed {
            node: node.to_string(),
            command: MEASURE_SCRIPT.to_string(),
            exit_code: out.exit_code,
            stdout_tail: format!("expected three times, got {text:?}"),
            stderr_tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        }),
    }
}

/// The clock helper's source: `rift-clock now | bump MS | strobe DELTA_MS PERIOD_MS
/// DURATION_MS`. Every command prints `CLOCK_REALTIME` as `secs.nanos` when done.
pub const CLOCK_HELPER_C: &str = r#"/* rift-clock: read and step CLOCK_REALTIME (rift's clock nemesis). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const long long NS = 1000000000LL;

static long long now_ns(clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) { perror("clock_gettime"); exit(2); }
  return (long long)ts.tv_sec * NS + ts.tv_nsec;
}

static void shift_ms(long long delta_ms) {
  long long t = now_ns(CLOCK_REALTIME) + delta_ms * 1000000LL;
  struct timespec ts;
  ts.tv_sec = (time_t)(t / NS);
  ts.tv_nsec = (long)(t % NS);
  if (ts.tv_nsec < 0) { ts.tv_nsec += NS; ts.tv_sec -= 1; }
  if (clock_settime(CLOCK_REALTIME, &ts) != 0) {
    fprintf(stderr, "clock_settime: %s\n", strerror(errno));
    exit(3);
  }
}

static void print_now(void) {
  long long t = now_ns(CLOCK_REALTIME);
  printf("%lld.%09lld\n", t / NS, t % NS);
}

static long long arg_ll(const char *s) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || end == s) {
    fprintf(stderr, "not an integer: %s\n", s);
    exit(64);
  }
  return v;
}

static int usage(void) {
  fprintf(stderr, "usage: rift-clock now | bump MS | strobe DELTA_MS PERIOD_MS DURATION_MS\n");
  return 64;
}

static void strobe(long long delta_ms, long long period_ms, long long duration_ms) {
  struct timespec period;
  long long end = now_ns(CLOCK_MONOTONIC) + duration_ms * 1000000LL;
  int shifted = 0;
  period.tv_sec = (time_t)(period_ms / 1000);
  period.tv_nsec = (long)((period_ms % 1000) * 1000000LL);
  while (now_ns(CLOCK_MONOTONIC) < end) {
    shift_ms(shifted ? -delta_ms : delta_ms);
    shifted = !shifted;
    nanosleep(&period, NULL);
  }
  if (shifted) shift_ms(-delta_ms);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "now") == 0) {
    print_now();
  } else if (argc == 3 && strcmp(argv[1], "bump") == 0) {
    shift_ms(arg_ll(argv[2]));
    print_now();
  } else if (argc == 5 && strcmp(argv[1], "strobe") == 0) {
    long long period = arg_ll(argv[3]);
    if (period < 1) { fprintf(stderr, "period must be at least 1 ms\n"); return 64; }
    strobe(arg_ll(argv[2]), period, arg_ll(argv[4]));
    print_now();
  } else {
    return usage();
  }
  return 0;
}
"#;

/// The helper's binary name.
pub const CLOCK_HELPER_BIN: &str = "rift-clock";
/// Where [`install_clock_helper`] usually puts it (Jepsen uses `/opt/jepsen`).
pub const CLOCK_HELPER_DIR: &str = "/opt/rift";
/// The NTP server [`reset_clock_cmd`] steps from unless told otherwise.
pub const DEFAULT_NTP_SERVER: &str = "pool.ntp.org";

/// What [`install_clock_helper`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperInstall {
    /// The binary was already there; nothing was done.
    Present,
    /// The source was uploaded and compiled.
    Compiled,
}

/// `<dir>/rift-clock`.
pub fn clock_helper_path(dir: &str) -> String {
    format!("{}/{CLOCK_HELPER_BIN}", dir.trim_end_matches('/'))
}

/// Uploads [`CLOCK_HELPER_C`] to `<dir>/rift-clock.c` on `node` and compiles it to
/// `<dir>/rift-clock` with `gcc` (or `cc`); does nothing when the binary already exists.
pub async fn install_clock_helper(
    remote: &dyn Remote,
    node: &str,
    dir: &str,
) -> Result<HelperInstall, ControlError> {
    let bin = clock_helper_path(dir);
    let check = Cmd::new("test").arg("-x").arg(&bin).allow_failure();
    if remote.exec(node, &check).await?.success() {
        return Ok(HelperInstall::Present);
    }
    let src = format!("{bin}.c");
    write_file(remote, node, &src, CLOCK_HELPER_C.as_bytes()).await?;
    remote
        .exec(node, &compile_cmd(&src, &bin))
        .await
        .map(|_| HelperInstall::Compiled)
}

/// The command compiling `src` to `bin` (through a temp file, so a failed build leaves no
/// binary behind).
pub fn compile_cmd(src: &str, bin: &str) -> Cmd {
    let (s, b) = (shell_quote(src), shell_quote(bin));
    Cmd::shell(format!(
        "if command -v gcc >/dev/null 2>&1; then c=gcc; elif command -v cc >/dev/null 2>&1; then c=cc; \
         else echo 'no C compiler: apt-get install gcc' >&2; exit 127; fi\n\
         $c -O2 -o {b}.tmp {s} && mv {b}.tmp {b}"
    ))
    .timeout(Duration::from_secs(120))
}

/// `rift-clock now`: prints the node's real time.
pub fn now_cmd(dir: &str) -> Cmd {
    Cmd::new(clock_helper_path(dir)).arg("now")
}

/// `rift-clock bump DELTA_MS`: steps the node's real clock.
pub fn bump_cmd(dir: &str, delta_ms: i64) -> Cmd {
    Cmd::new(clock_helper_path(dir))
        .arg("bump")
        .arg(delta_ms.to_string())
}

/// `rift-clock strobe DELTA_MS PERIOD_MS DURATION_MS`: flips the node's real clock; the
/// command lasts `duration_ms` (its timeout allows that plus a minute).
pub fn strobe_cmd(dir: &str, delta_ms: i64, period_ms: u64, duration_ms: u64) -> Cmd {
    Cmd::new(clock_helper_path(dir))
        .args([
            "strobe".to_string(),
            delta_ms.to_string(),
            period_ms.to_string(),
            duration_ms.to_string(),
        ])
        .timeout(Duration::from_millis(duration_ms.saturating_add(60_000)))
}

/// Steps the node's clock back to true time: `ntpdate -b SERVER`, or `chronyc makestep` when
/// ntpdate is missing; fails (exit 127) naming both when neither is installed.
pub fn reset_clock_cmd(ntp_server: &str) -> Cmd {
    Cmd::shell(format!(
        "if command -v ntpdate >/dev/null 2>&1; then ntpdate -b {}; \
         elif command -v chronyc >/dev/null 2>&1; then chronyc makestep; \
         else echo 'resetting the clock needs ntpdate or chronyc (apt-get install ntpdate)' >&2; exit 127; fi",
        shell_quote(ntp_server)
    ))
    .timeout(Duration::from_secs(60))
}

/// Seconds since the epoch printed as `secs.nanos`, minus this machine's time: the offset
/// of a node that printed `text` (from [`now_cmd`] and friends) at `local`.
pub fn offset_from(text: &str, local: SystemTime) -> Option<f64> {
    let remote: f64 = text.trim().lines().last()?.trim().parse().ok()?;
    let local = local.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    Some(remote - local)
}

/// Runs `cmd` (one of [`now_cmd`], [`bump_cmd`], [`strobe_cmd`]) on `node` and returns the
/// node's offset from this machine in seconds, from the time it printed (the local time taken
/// is the midpoint of the command, so a slow link adds half its round trip as error).
pub async fn remote_offset(
    remote: &dyn Remote,
    node: &str,
    cmd: &Cmd,
) -> Result<f64, ControlError> {
    let before = SystemTime::now();
    let out = remote.exec(node, cmd).await?;
    let after = SystemTime::now();
    let mid = before + after.duration_since(before).unwrap_or_default() / 2;
    let text = out.stdout_str();
    offset_from(&text, mid).ok_or_else(|| ControlError::CommandFailed {
        node: node.to_string(),
        command: cmd.to_string(),
        exit_code: out.exit_code,
        stdout_tail: format!("expected secs.nanos, got {text:?}"),
        stderr_tail: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Output;
    use async_trait::async_trait;

    #[test]
    fn offsets_format_and_parse() {
        assert_eq!(format_offset(1.25), "+1.250");
        assert_eq!(format_offset(-0.5), "-0.500");
        assert_eq!(format_offset(0.0), "+0.000");
        assert_eq!(format_offset(-0.0001), "+0.000");
        assert_eq!(format_offset(-262.144), "-262.144");
        assert_eq!(format_offset(60.0), "+60.000");
        assert_eq!(parse_offset("+60s"), Some(60.0));
        assert_eq!(parse_offset("-2.5"), Some(-2.5));
        assert_eq!(parse_offset("+1.5s\n"), Some(1.5));
        assert_eq!(parse_offset("+0"), Some(0.0));
        assert_eq!(parse_offset("+2m"), Some(120.0));
        assert_eq!(parse_offset("-1d"), Some(-86400.0));
        assert_eq!(parse_offset("2020-01-01 00:00:00"), None);
        assert_eq!(parse_offset("+"), None);
        assert_eq!(parse_offset(""), None);
        assert_eq!(parse_offset("+inf"), None);
        for secs in [0.001, -7.5, 131.072, -0.004] {
            assert_eq!(parse_offset(&format_offset(secs)), Some(secs));
        }
    }

    #[test]
    fn offset_from_printed_time() {
        let local = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let off = offset_from("1700000060.750000000\n", local).unwrap();
        assert!((off - 60.5).abs() < 1e-6, "{off}");
        assert_eq!(offset_from("garbage", local), None);
        assert_eq!(offset_from("", local), None);
    }

    #[test]
    fn helper_command_lines() {
        assert_eq!(clock_helper_path("/opt/rift/"), "/opt/rift/rift-clock");
        assert_eq!(now_cmd("/opt/rift").to_string(), "/opt/rift/rift-clock now");
        assert_eq!(
            bump_cmd("/opt/rift", -4096).to_string(),
            "/opt/rift/rift-clock bump -4096"
        );
        let s = strobe_cmd("/opt/rift", 200, 10, 5000);
        assert_eq!(s.to_string(), "/opt/rift/rift-clock strobe 200 10 5000");
        assert_eq!(s.timeout, Some(Duration::from_millis(65_000)));
        assert_eq!(
            reset_clock_cmd("ntp.example").to_string(),
            "if command -v ntpdate >/dev/null 2>&1; then ntpdate -b ntp.example; \
             elif command -v chronyc >/dev/null 2>&1; then chronyc makestep; \
             else echo 'resetting the clock needs ntpdate or chronyc (apt-get install ntpdate)' >&2; exit 127; fi"
        );
        assert!(reset_clock_cmd("a b")
            .to_string()
            .contains("ntpdate -b 'a b';"));
        let c = compile_cmd("/opt/rift/rift-clock.c", "/opt/rift/rift-clock").to_string();
        assert!(c.ends_with(
            "$c -O2 -o /opt/rift/rift-clock.tmp /opt/rift/rift-clock.c && mv /opt/rift/rift-clock.tmp /opt/rift/rift-clock"
        ), "{c}");
    }

    #[test]
    fn missing_library_says_how_to_install() {
        let e = ControlError::io(
            FAKETIME_MISSING,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no libfaketime.so.1"),
        );
        assert!(e.to_string().contains("apt-get install libfaketime"), "{e}");
    }

    /// Runs commands with `sh` in a directory of this machine: enough to install the helper
    /// and read the time (never to step the clock).
    struct Shell(PathBuf);

    #[async_trait]
    impl Remote for Shell {
        async fn exec(&self, node: &str, cmd: &Cmd) -> Result<Output, ControlError> {
            let mut c = tokio::process::Command::new("sh");
            c.arg("-c").arg(cmd.script()).current_dir(&self.0);
            c.stdin(std::process::Stdio::piped());
            let mut child = c
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| ControlError::io("spawning sh", e))?;
            let mut stdin = child.stdin.take().unwrap();
            if let Some(bytes) = &cmd.stdin {
                tokio::io::AsyncWriteExt::write_all(&mut stdin, bytes)
                    .await
                    .unwrap();
            }
            drop(stdin);
            let out = child
                .wait_with_output()
                .await
                .map_err(|e| ControlError::io("waiting for sh", e))?;
            Output {
                exit_code: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            }
            .checked(node, cmd)
        }
        async fn upload(&self, _: &str, _: &Path, _: &str) -> Result<(), ControlError> {
            unimplemented!("not used")
        }
        async fn download(&self, _: &str, _: &str, _: &Path) -> Result<(), ControlError> {
            unimplemented!("not used")
        }
    }

    #[test]
    fn helper_compiles_and_tells_the_time() {
        if std::process::Command::new("gcc")
            .arg("--version")
            .output()
            .is_err()
        {
            println!("skipped: no gcc");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("bin").display().to_string();
        let shell = Shell(dir.path().to_path_buf());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let first = install_clock_helper(&shell, "here", &d).await.unwrap();
            assert_eq!(first, HelperInstall::Compiled);
            let again = install_clock_helper(&shell, "here", &d).await.unwrap();
            assert_eq!(again, HelperInstall::Present);
            let off = remote_offset(&shell, "here", &now_cmd(&d)).await.unwrap();
            assert!(off.abs() < 1.0, "rift-clock now is {off} s off");
            // Bad arguments are refused before touching anything.
            for args in [
                vec!["bump", "12x"],
                vec!["strobe", "1", "0", "10"],
                vec!["fly"],
            ] {
                let cmd = Cmd::new(clock_helper_path(&d)).args(args).allow_failure();
                let out = shell.exec("here", &cmd).await.unwrap();
                assert_eq!(out.exit_code, Some(64), "{cmd}");
            }
        });
    }
}
