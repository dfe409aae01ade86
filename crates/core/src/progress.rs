//! The live one-line progress display on a terminal: elapsed time, ops done, rate, active faults.

use rift_history::Op;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
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

    /// Redraws the line on stderr four times a second while stderr is a terminal.
    pub fn spawn_display(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if !std::io::stderr().is_terminal() {
                return;
            }
            while !self.done.load(Ordering::Relaxed) {
                eprint!("\r\x1b[2K{}", self.line());
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            eprintln!("\r\x1b[2K{}", self.line());
        })
    }
}
