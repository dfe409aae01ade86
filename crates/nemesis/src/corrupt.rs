//! File corruption: flip random bits, or cut the end off a file (Jepsen's `bitflip` and
//! `truncate-file`). Works on local paths; for a [`rift_control::LocalCluster`] node, resolve
//! the node's path first (`LocalCluster::resolve_path`).

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rand::Rng;

use crate::error::NemesisError;

/// At most this many bits are flipped in one call, whatever the probability and file size.
pub const MAX_FLIPS: u64 = 1 << 20;

/// Flips every bit of the file at `path` independently with probability `probability`
/// (0 < p <= 1), in place, without reading the whole file: positions are drawn with geometric
/// gaps. Returns the bit offsets flipped (at most [`MAX_FLIPS`]).
pub fn bitflip<R: Rng>(
    path: &Path,
    probability: f64,
    rng: &mut R,
) -> Result<Vec<u64>, NemesisError> {
    if !(probability > 0.0 && probability <= 1.0) {
        return Err(NemesisError::bad_value(
            "bitflip",
            format!("probability must be in (0, 1], got {probability}"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| NemesisError::io(format!("opening {}", path.display()), e))?;
    let len_bits = file
        .metadata()
        .map_err(|e| NemesisError::io(format!("stat {}", path.display()), e))?
        .len()
        .saturating_mul(8);
    let mut flipped = Vec::new();
    let mut pos = next_gap(probability, rng);
    while pos < len_bits && (flipped.len() as u64) < MAX_FLIPS {
        let mut byte = [0u8; 1];
        let at = pos / 8;
        file.read_exact_at(&mut byte, at)
            .map_err(|e| NemesisError::io(format!("reading {}", path.display()), e))?;
        byte[0] ^= 1 << (pos % 8);
        file.write_all_at(&byte, at)
            .map_err(|e| NemesisError::io(format!("writing {}", path.display()), e))?;
        flipped.push(pos);
        pos = pos
            .saturating_add(1)
            .saturating_add(next_gap(probability, rng));
    }
    file.sync_all()
        .map_err(|e| NemesisError::io(format!("syncing {}", path.display()), e))?;
    Ok(flipped)
}

/// The number of untouched bits before the next flip: geometric with success `p`.
fn next_gap<R: Rng>(p: f64, rng: &mut R) -> u64 {
    if p >= 1.0 {
        return 0;
    }
    let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let gap = (u.ln() / (1.0 - p).ln()).floor();
    if gap.is_finite() && gap < u64::MAX as f64 {
        gap as u64
    } else {
        u64::MAX
    }
}

/// Cuts `drop_bytes` off the end of the file at `path` (all of it when the file is shorter).
/// Returns the lengths before and after.
pub fn truncate(path: &Path, drop_bytes: u64) -> Result<(u64, u64), NemesisError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| NemesisError::io(format!("opening {}", path.display()), e))?;
    let before = file
        .metadata()
        .map_err(|e| NemesisError::io(format!("stat {}", path.display()), e))?
        .len();
    let after = before.saturating_sub(drop_bytes);
    file.set_len(after)
        .map_err(|e| NemesisError::io(format!("truncating {}", path.display()), e))?;
    file.sync_all()
        .map_err(|e| NemesisError::io(format!("syncing {}", path.display()), e))?;
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn differing_bits(a: &[u8], b: &[u8]) -> u64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x ^ y).count_ones() as u64)
            .sum()
    }

    #[test]
    fn bitflip_flips_exactly_the_reported_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let original = vec![0xA5u8; 4096];
        std::fs::write(&path, &original).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let flipped = bitflip(&path, 0.01, &mut rng).unwrap();
        let now = std::fs::read(&path).unwrap();
        assert_eq!(now.len(), 4096);
        assert_eq!(differing_bits(&original, &now), flipped.len() as u64);
        // 32768 bits at 1%: about 328; far outside [200, 460] would mean a broken sampler.
        assert!((200..460).contains(&flipped.len()), "{}", flipped.len());
        assert!(flipped.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn bitflip_all_bits_and_bad_probability() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [0x0Fu8, 0xFF]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(bitflip(&path, 1.0, &mut rng).unwrap().len(), 16);
        assert_eq!(std::fs::read(&path).unwrap(), vec![0xF0, 0x00]);
        assert!(bitflip(&path, 0.0, &mut rng).is_err());
        assert!(bitflip(&path, 1.5, &mut rng).is_err());
        let missing = bitflip(&dir.path().join("nope"), 0.5, &mut rng).unwrap_err();
        assert!(missing.to_string().starts_with("opening "), "{missing}");
    }

    #[test]
    fn truncate_drops_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(truncate(&path, 3).unwrap(), (10, 7));
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456");
        assert_eq!(truncate(&path, 100).unwrap(), (7, 0));
        assert!(truncate(&dir.path().join("nope"), 1).is_err());
    }
}
