//! [`Context`]: what a generator may look at: time, threads, free threads, processes, the RNG.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rift_history::Process;
use std::sync::{Arc, Mutex, MutexGuard};

/// A thread (Jepsen "worker"): client threads `0..concurrency`, plus the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Thread {
    /// Client worker thread `i`.
    Client(u32),
    /// The nemesis worker.
    Nemesis,
}

impl Thread {
    /// True for client threads.
    pub fn is_client(self) -> bool {
        matches!(self, Thread::Client(_))
    }
}

/// A set of thread indices (client thread `i` is index `i`, the nemesis is index
/// `concurrency`). Up to 128 threads live inline, so copying a set does not allocate.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ThreadSet {
    inline: [u64; 2],
    heap: Vec<u64>,
}

impl ThreadSet {
    /// An empty set able to hold indices `0..n`.
    pub fn empty(n: usize) -> ThreadSet {
        let words = n.div_ceil(64);
        ThreadSet {
            inline: [0; 2],
            heap: if words > 2 {
                vec![0; words]
            } else {
                Vec::new()
            },
        }
    }

    /// The set of all indices `0..n`.
    pub fn full(n: usize) -> ThreadSet {
        let mut s = ThreadSet::empty(n);
        for i in 0..n {
            s.insert(i);
        }
        s
    }

    fn words(&self) -> &[u64] {
        if self.heap.is_empty() {
            &self.inline
        } else {
            &self.heap
        }
    }

    fn words_mut(&mut self) -> &mut [u64] {
        if self.heap.is_empty() {
            &mut self.inline
        } else {
            &mut self.heap
        }
    }

    /// Adds index `i` (ignored when out of capacity).
    pub fn insert(&mut self, i: usize) {
        if let Some(w) = self.words_mut().get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// Removes index `i`.
    pub fn remove(&mut self, i: usize) {
        if let Some(w) = self.words_mut().get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    /// True when `i` is in the set.
    pub fn contains(&self, i: usize) -> bool {
        self.words()
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.words().iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.words().iter().all(|w| *w == 0)
    }

    /// The intersection with another set.
    pub fn intersect(&self, other: &ThreadSet) -> ThreadSet {
        let mut s = self.clone();
        let o = other.words();
        for (i, w) in s.words_mut().iter_mut().enumerate() {
            *w &= o.get(i).copied().unwrap_or(0);
        }
        s
    }

    /// The `k`-th member in increasing order.
    pub fn nth(&self, mut k: usize) -> Option<usize> {
        for (wi, &w) in self.words().iter().enumerate() {
            let c = w.count_ones() as usize;
            if k < c {
                let mut w = w;
                for _ in 0..k {
                    w &= w - 1;
                }
                return Some(wi * 64 + w.trailing_zeros() as usize);
            }
            k -= c;
        }
        None
    }

    /// Members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words().iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + b)
            })
        })
    }
}

/// What a generator sees: the current time, the threads it may use (its *visible* threads),
/// which of them are free, the process each thread currently runs as, and the run's RNG.
///
/// Combinators hand their children *restricted* views ([`Context::restrict`]): same time,
/// processes and RNG, fewer visible threads. Building one copies two small bitsets and bumps
/// two reference counts.
#[derive(Clone, Debug)]
pub struct Context {
    time_ns: i64,
    visible: ThreadSet,
    free: ThreadSet,
    run: Arc<Run>,
}

/// What every view of a run shares (copied on write when a process changes).
#[derive(Clone, Debug)]
struct Run {
    concurrency: u32,
    nemesis: bool,
    processes: Vec<i64>,
    rng: Arc<Mutex<ChaCha8Rng>>,
}

impl Context {
    /// A fresh context at time 0: client threads `0..concurrency` running processes
    /// `0..concurrency`, plus the nemesis thread when `nemesis`, all free; RNG seeded with
    /// `seed` (ChaCha8).
    pub fn new(concurrency: u32, nemesis: bool, seed: u64) -> Context {
        let n = concurrency as usize + nemesis as usize;
        Context {
            time_ns: 0,
            visible: ThreadSet::full(n),
            free: ThreadSet::full(n),
            run: Arc::new(Run {
                concurrency,
                nemesis,
                processes: (0..concurrency as i64).collect(),
                rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))),
            }),
        }
    }

    /// Nanoseconds since the test started.
    pub fn time_ns(&self) -> i64 {
        self.time_ns
    }

    /// This context at another time.
    pub fn with_time(&self, time_ns: i64) -> Context {
        let mut c = self.clone();
        c.time_ns = time_ns;
        c
    }

    pub(crate) fn set_time(&mut self, time_ns: i64) {
        self.time_ns = time_ns;
    }

    /// The test's concurrency (number of client threads), whatever this view restricts.
    pub fn concurrency(&self) -> u32 {
        self.run.concurrency
    }

    /// Number of threads in the whole run (clients plus the nemesis, if any).
    pub fn all_thread_count(&self) -> usize {
        self.run.concurrency as usize + self.run.nemesis as usize
    }

    /// The index of a thread in [`ThreadSet`]s.
    pub fn thread_index(&self, t: Thread) -> Option<usize> {
        match t {
            Thread::Client(i) if i < self.run.concurrency => Some(i as usize),
            Thread::Nemesis if self.run.nemesis => Some(self.run.concurrency as usize),
            _ => None,
        }
    }

    /// The thread at an index.
    pub fn thread_at(&self, i: usize) -> Thread {
        if i < self.run.concurrency as usize {
            Thread::Client(i as u32)
        } else {
            Thread::Nemesis
        }
    }

    /// The visible threads, clients in order then the nemesis.
    pub fn threads(&self) -> impl Iterator<Item = Thread> + '_ {
        self.visible.iter().map(|i| self.thread_at(i))
    }

    /// The visible threads that are free.
    pub fn free_threads(&self) -> impl Iterator<Item = Thread> + '_ {
        self.free.iter().map(|i| self.thread_at(i))
    }

    /// Number of visible threads.
    pub fn thread_count(&self) -> usize {
        self.visible.len()
    }

    /// Number of visible threads that are free.
    pub fn free_thread_count(&self) -> usize {
        self.free.len()
    }

    /// True when the thread is visible in this view.
    pub fn is_visible(&self, t: Thread) -> bool {
        self.thread_index(t)
            .is_some_and(|i| self.visible.contains(i))
    }

    /// True when the thread is visible and free.
    pub fn is_free(&self, t: Thread) -> bool {
        self.thread_index(t).is_some_and(|i| self.free.contains(i))
    }

    /// The visible threads as a set.
    pub fn visible_set(&self) -> &ThreadSet {
        &self.visible
    }

    /// The process a thread currently runs as (client thread `i` starts as process `i` and
    /// becomes `i + concurrency` after each crash).
    pub fn process_of(&self, t: Thread) -> Process {
        match t {
            Thread::Client(i) => Process::Client(
                self.run
                    .processes
                    .get(i as usize)
                    .copied()
                    .unwrap_or(i as i64),
            ),
            Thread::Nemesis => Process::Nemesis,
        }
    }

    /// The thread currently running a process (whether or not it is visible here), or `None`
    /// for a process no thread runs now (an old, crashed process, or an unknown one).
    pub fn thread_of(&self, p: &Process) -> Option<Thread> {
        match p {
            Process::Client(p) if *p >= 0 && self.run.concurrency > 0 => {
                let t = (*p % self.run.concurrency as i64) as usize;
                (self.run.processes[t] == *p).then_some(Thread::Client(t as u32))
            }
            Process::Nemesis if self.run.nemesis => Some(Thread::Nemesis),
            _ => None,
        }
    }

    /// The processes of all visible threads.
    pub fn processes(&self) -> impl Iterator<Item = Process> + '_ {
        self.threads().map(|t| self.process_of(t))
    }

    /// The run's RNG (ChaCha8, seeded once per run, shared by every view). All generator
    /// randomness comes from here, so a seed reproduces a simulated run.
    pub fn rng(&self) -> MutexGuard<'_, ChaCha8Rng> {
        self.run.rng.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The process of a free visible thread, chosen uniformly with the RNG (no draw when only
    /// one is free); `None` when every visible thread is busy.
    pub fn some_free_process(&self) -> Option<Process> {
        let n = self.free.len();
        let k = match n {
            0 => return None,
            1 => 0,
            _ => self.rng().random_range(0..n),
        };
        self.free.nth(k).map(|i| self.process_of(self.thread_at(i)))
    }

    /// The set of all threads of the run satisfying `pred` (not intersected with this view).
    pub fn thread_mask(&self, pred: impl Fn(Thread) -> bool) -> ThreadSet {
        let n = self.all_thread_count();
        let mut s = ThreadSet::empty(n);
        for i in 0..n {
            if pred(self.thread_at(i)) {
                s.insert(i);
            }
        }
        s
    }

    /// This view restricted to the threads in `mask`.
    pub fn restrict(&self, mask: &ThreadSet) -> Context {
        Context {
            time_ns: self.time_ns,
            visible: self.visible.intersect(mask),
            free: self.free.intersect(mask),
            run: self.run.clone(),
        }
    }

    /// This view restricted to one thread (empty if it is not visible).
    pub fn restrict_to(&self, t: Thread) -> Context {
        let mut mask = ThreadSet::empty(self.all_thread_count());
        if let Some(i) = self.thread_index(t) {
            mask.insert(i);
        }
        self.restrict(&mask)
    }

    pub(crate) fn set_busy(&mut self, t: Thread) {
        if let Some(i) = self.thread_index(t) {
            self.free.remove(i);
        }
    }

    pub(crate) fn set_free(&mut self, t: Thread) {
        if let Some(i) = self.thread_index(t) {
            if self.visible.contains(i) {
                self.free.insert(i);
            }
        }
    }

    /// Jepsen's with-next-process: client thread `t` now runs as process + concurrency.
    pub(crate) fn next_process(&mut self, t: Thread) {
        if let Thread::Client(i) = t {
            let run = Arc::make_mut(&mut self.run);
            if let Some(x) = run.processes.get_mut(i as usize) {
                *x += run.concurrency as i64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_set_basics() {
        let mut s = ThreadSet::empty(200);
        s.insert(3);
        s.insert(64);
        s.insert(199);
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 64, 199]);
        assert_eq!(s.nth(1), Some(64));
        assert_eq!(s.nth(3), None);
        s.remove(64);
        assert!(!s.contains(64));
        let f = ThreadSet::full(5);
        assert_eq!(f.intersect(&s).iter().collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn processes_and_crashes() {
        let mut c = Context::new(3, true, 1);
        assert_eq!(c.thread_count(), 4);
        assert_eq!(c.process_of(Thread::Client(2)), Process::Client(2));
        assert_eq!(c.thread_of(&Process::Nemesis), Some(Thread::Nemesis));
        c.next_process(Thread::Client(2));
        assert_eq!(c.process_of(Thread::Client(2)), Process::Client(5));
        assert_eq!(c.thread_of(&Process::Client(5)), Some(Thread::Client(2)));
        assert_eq!(c.thread_of(&Process::Client(2)), None);
        assert_eq!(c.thread_of(&Process::Client(-1)), None);
    }

    #[test]
    fn restrict_keeps_free_subset() {
        let mut c = Context::new(4, true, 1);
        c.set_busy(Thread::Client(1));
        let r = c.restrict(&c.thread_mask(|t| t.is_client()));
        assert_eq!(r.thread_count(), 4);
        assert_eq!(r.free_thread_count(), 3);
        assert!(!r.is_visible(Thread::Nemesis));
        let one = c.restrict_to(Thread::Client(1));
        assert_eq!(one.thread_count(), 1);
        assert_eq!(one.free_thread_count(), 0);
        assert_eq!(one.some_free_process(), None);
    }
}
