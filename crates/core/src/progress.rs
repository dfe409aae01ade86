//! Progress while a test runs: on a terminal a live line (indicatif) with elapsed time, ops
//! done, rate and active faults, log lines printed above it; otherwise a plain log line every
//! 10 seconds.

use rift_history::Op;
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters the interpreter updates and the display reads.
pub struct Progress {
    start: Instant,
    ops: AtomicU64,
    faults: Mutex<BTreeSet<String>>,
    done: AtomicBool,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::new()
    }
}

impl Progress {
    /// New counters.
    pub fn new() -> Progress {
        Progress {
            start: Instant::now(),
            ops: AtomicU64::new(0),
            faults: Mutex::new(BTreeSet::new()),
            done: AtomicBool::new(false),
        }
    }

    /// Counts a completion; nemesis completions update the set of active faults, following
    /// Jepsen's op names (`start-partition`/`stop-partition`, `kill`/`start`, `pause`/`resume`).
    pub fn completed(&self, op: &Op) {
        if op.is_client() {
            self.ops.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let f = op.f_name();
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(x) = f.strip_prefix("start-") {
            faults.insert(x.to_string());
        } else if let Some(x) = f.strip_prefix("stop-") {
            faults.remove(x);
        } else {
            match f {
                "kill" | "pause" => {
                    faults.insert(f.to_string());
                }
                "start" => {
                    faults.remove("kill");
                }
                "resume" => {
                    faults.remove("pause");
                }
                _ => {}
            }
        }
    }

    /// The status line.
    pub fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64();
        let ops = self.ops.load(Ordering::Relaxed);
        let rate = if secs > 0.0 { ops as f64 / secs } else { 0.0 };
        let faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let faults = if faults.is_empty() {
            "none".to_string()
        } else {
            faults.iter().cloned().collect::<Vec<_>>().join(",")
        };
        format!("[{secs:7.1}s] {ops} ops done, {rate:.0} ops/s, faults: {faults}")
    }

    /// Stops the display.
    pub fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    /// On a terminal, redraws the line on stderr four times a second (indicatif, with log
    /// lines printed above it); otherwise logs it every 10 s.
    pub fn spawn_display(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if !std::io::stderr().is_terminal() {
                let mut last = Instant::now();
                while !self.done.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    if last.elapsed() >= Duration::from_secs(10) {
                        tracing::info!("progress: {}", self.line());
                        last = Instant::now();
                    }
                }
                return;
            }
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr_with_hz(4),
            )
            .with_style(indicatif::ProgressStyle::default_spinner());
            crate::log::set_bar(Some(bar.clone()));
            while !self.done.load(Ordering::Relaxed) {
                bar.set_message(self.line());
                bar.tick();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            crate::log::set_bar(None);
            bar.finish_and_clear();
            eprintln!("{}", self.line());
        })
    }
}
