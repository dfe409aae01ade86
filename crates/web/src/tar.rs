//! A small streaming tar (POSIX ustar, with pax headers for long names and huge files) of one
//! run directory. Symlinks and special files are skipped; a file is sent with the length it had
//! when its header was written (bytes appended later are left out, a file that shrank is padded
//! with zeros so the archive stays well formed).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

const BLOCK: usize = 512;
/// The largest size an 11-digit octal field holds.
const MAX_OCTAL_SIZE: u64 = 0o77_777_777_777;

/// Writes a tar of the directory `dir` to `out`, every entry named under `prefix`
/// (for example `my-test/20261122T013649.717`). Entries are in name order, directories first
/// as they are met. Returns the number of files written.
pub fn write_tar(dir: &Path, prefix: &str, out: &mut dyn Write) -> io::Result<u64> {
    let mut files = 0u64;
    let mut stack: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), prefix.to_string())];
    while let Some((path, name)) = stack.pop() {
        let meta = fs::metadata(&path)?;
        write_header(out, &format!("{name}/"), &meta, b'5', 0)?;
        let mut entries: Vec<(String, fs::FileType, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&path)? {
            let entry = entry?;
            let Ok(child) = entry.file_name().into_string() else {
                continue; // non-UTF-8 names cannot be linked from the pages either
            };
            entries.push((child, entry.file_type()?, entry.path()));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (child, ft, child_path) in entries {
            let child_name = format!("{name}/{child}");
            if ft.is_dir() {
                subdirs.push((child_path, child_name));
            } else if ft.is_file() && write_file(out, &child_path, &child_name)? {
                files += 1;
            }
        }
        // Reverse so the stack pops subdirectories in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    out.write_all(&[0u8; 2 * BLOCK])?;
    out.flush()?;
    Ok(files)
}

/// One regular file; `false` when it vanished or cannot be opened (it is left out).
fn write_file(out: &mut dyn Write, path: &Path, name: &str) -> io::Result<bool> {
    let Ok(mut file) = File::open(path) else {
        return Ok(false);
    };
    let meta = file.metadata()?;
    let len = meta.len();
    write_header(out, name, &meta, b'0', len)?;
    let copied = io::copy(&mut (&mut file).take(len), out)?;
    let mut missing = len - copied;
    let zeros = [0u8; BLOCK];
    while missing > 0 {
        let n = missing.min(BLOCK as u64) as usize;
        out.write_all(&zeros[..n])?;
        missing -= n as u64;
    }
    pad(out, len)?;
    Ok(true)
}

fn pad(out: &mut dyn Write, len: u64) -> io::Result<()> {
    let rem = (len % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

/// Writes the header of `name` (a pax header first when the name or size does not fit ustar).
fn write_header(
    out: &mut dyn Write,
    name: &str,
    meta: &fs::Metadata,
    kind: u8,
    size: u64,
) -> io::Result<()> {
    let split = split_name(name);
    let mut pax = String::new();
    if split.is_none() {
        pax.push_str(&pax_record("path", name));
    }
    if size > MAX_OCTAL_SIZE {
        pax.push_str(&pax_record("size", &size.to_string()));
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let mode = meta.permissions().mode() & 0o7777;
    if !pax.is_empty() {
        let short: String = name
            .chars()
            .rev()
            .take(80)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let pax_name = format!("PaxHeaders/{}", short.trim_start_matches('/'));
        let block = header_block(("", &pax_name), 0o644, pax.len() as u64, mtime, b'x');
        out.write_all(&block)?;
        out.write_all(pax.as_bytes())?;
        pad(out, pax.len() as u64)?;
    }
    let (prefix, base) = split.unwrap_or(("", ""));
    let fallback;
    let base = if base.is_empty() {
        // Name too long for ustar: readers use the pax path; keep a truncated name anyway.
        fallback = truncate_bytes(name, 100);
        fallback.as_str()
    } else {
        base
    };
    let size_field = size.min(MAX_OCTAL_SIZE);
    let block = header_block((prefix, base), mode, size_field, mtime, kind);
    out.write_all(&block)
}

fn truncate_bytes(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Splits a name into ustar's prefix (<= 155 bytes) and name (<= 100 bytes) at a `/`.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    // A directory's trailing '/' belongs to the name part.
    let body = name.strip_suffix('/').unwrap_or(name);
    for (i, _) in body.match_indices('/') {
        let (prefix, rest) = (&name[..i], &name[i + 1..]);
        if prefix.len() <= 155 && rest.len() <= 100 && !rest.is_empty() {
            return Some((prefix, rest));
        }
    }
    None
}

/// A pax record `LEN key=value\n`, LEN counting itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    field[..width].copy_from_slice(&text.as_bytes()[text.len() - width..]);
    field[width] = 0;
}

fn header_block(
    (prefix, name): (&str, &str),
    mode: u32,
    size: u64,
    mtime: u64,
    kind: u8,
) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime.min(MAX_OCTAL_SIZE));
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"rift");
    h[297..301].copy_from_slice(b"rift");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_counts_its_own_length() {
        assert_eq!(pax_record("path", "ab"), "11 path=ab\n");
        // 99 bytes besides the length: "99 " would make 102, so the length takes 3 digits.
        let r = pax_record("path", &"x".repeat(92));
        assert_eq!(r.len(), 102);
        assert!(r.starts_with("102 path=xx"));
    }

    #[test]
    fn names_split_at_a_slash() {
        assert_eq!(split_name("a/b"), Some(("", "a/b")));
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert_eq!(split_name(&long), Some((&long[..120], &long[121..])));
        assert_eq!(split_name(&"z".repeat(300)), None);
    }

    #[test]
    fn header_checksum_and_fields() {
        let h = header_block(("", "t/r/a.txt"), 0o644, 5, 1_700_000_000, b'0');
        assert_eq!(&h[0..9], b"t/r/a.txt");
        assert_eq!(&h[124..136], b"00000000005\0");
        assert_eq!(&h[100..108], b"0000644\0");
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&h[148..156], format!("{sum:06o}\0 ").as_bytes());
    }
}
