//! Reading a big one-op-per-line history on every core: the bytes are cut at line ends into
//! pieces, each piece is read on its own, and the ops are joined in order. This is only the
//! fast path: when any piece does not read cleanly on its own (an error, a value spanning the
//! cut, a torn last line), the caller reads the whole input in one pass instead, so errors and
//! reports name the same line and column as ever and the result never differs from one pass.

use crate::op::Op;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Inputs smaller than this are read in one pass.
pub const MIN_BYTES: usize = 8 << 20;

/// Pieces per thread: small pieces keep the threads busy to the end and keep the joined
/// vector's extra memory small.
const PIECES_PER_THREAD: usize = 8;

/// The threads to read with (at most 8).
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(8)
}

/// Cuts `bytes` into about `n` ranges, each ending right after a `\n` (the last one at the
/// end of the input); together they cover the input in order.
pub fn line_pieces(bytes: &[u8], n: usize) -> Vec<Range<usize>> {
    let n = n.max(1);
    let step = bytes.len().div_ceil(n).max(1);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < bytes.len() {
        let want = (start + step).min(bytes.len());
        let end = match bytes[want..].iter().position(|&b| b == b'\n') {
            Some(i) => want + i + 1,
            None => bytes.len(),
        };
        out.push(start..end);
        start = end;
    }
    out
}

/// How to read an input of `len` bytes in pieces: (threads, pieces), or None to read it in
/// one pass (a small input, or one core).
pub fn plan(len: usize) -> Option<(usize, usize)> {
    let threads = threads();
    (threads >= 2 && len >= MIN_BYTES).then_some((threads, threads * PIECES_PER_THREAD))
}

/// Reads about `pieces` pieces of `bytes` (cut at line ends) with `read`, given each piece's
/// range, on `threads` threads, and joins their ops in order; None when any piece did not
/// read cleanly (`read` returned None). Ops whose source had no index keep `u64::MAX` for the
/// caller ([`number_unindexed`]).
pub fn read_pieces<F>(bytes: &[u8], threads: usize, pieces: usize, read: F) -> Option<Vec<Op>>
where
    F: Fn(Range<usize>) -> Option<Vec<Op>> + Sync,
{
    let ranges = line_pieces(bytes, pieces);
    let results: Vec<Mutex<Option<Vec<Op>>>> = ranges.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads.min(ranges.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ranges.len() || failed.load(Ordering::Relaxed) {
                    break;
                }
                match read(ranges[i].clone()) {
                    Some(ops) => {
                        if let Ok(mut slot) = results[i].lock() {
                            *slot = Some(ops);
                        }
                    }
                    None => failed.store(true, Ordering::Relaxed),
                }
            });
        }
    });
    if failed.load(Ordering::Relaxed) {
        return None;
    }
    let mut pieces = Vec::with_capacity(results.len());
    for r in results {
        pieces.push(r.into_inner().ok()??);
    }
    let total: usize = pieces.iter().map(Vec::len).sum();
    let mut pieces = pieces.into_iter();
    let mut ops = pieces.next().unwrap_or_default();
    ops.reserve_exact(total - ops.len());
    for p in pieces {
        ops.extend(p);
    }
    Some(ops)
}

/// Gives ops that had no index in their source (`u64::MAX`) their position.
pub fn number_unindexed(ops: &mut [Op]) {
    for (i, op) in ops.iter_mut().enumerate() {
        if op.index == u64::MAX {
            op.index = i as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_input_and_end_at_line_ends() {
        let text = b"a\nbb\nccc\n\ndddd\neeeee";
        for n in 1..10 {
            let ps = line_pieces(text, n);
            assert_eq!(ps.first().map(|r| r.start), Some(0));
            assert_eq!(ps.last().map(|r| r.end), Some(text.len()));
            for w in ps.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(text[w[0].end - 1], b'\n', "{n}: {ps:?}");
            }
        }
        assert!(line_pieces(b"", 4).is_empty());
        assert_eq!(line_pieces(b"no newline", 4), vec![0..10]);
    }
}
