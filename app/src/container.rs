//! The files RingVault exchanges (key files, tables, results, the vault's stored columns): a
//! small container around the validated wire format.
//!
//! ```text
//! "RVFILE01" | u32 LE header length (≤ 1 MiB) | header (JSON) | count × (u64 LE length | object)
//!            | SHA-256 of everything before it (version 2)
//! ```
//! The header names the file's kind and container version, the statistics preset and
//! plaintext moduli, how many objects follow, and public metadata (column names, scales,
//! bounds). Every object is a `ringvault-core` wire object (keys, ciphertexts) and goes
//! through its validating loader; the container checks its own lengths before reading
//! anything. Version 2 (written now) ends with a SHA-256 digest of the file, so a flipped bit
//! anywhere — even one that leaves every residue below its prime — is refused: it detects
//! corruption in transit or at rest, not tampering (whoever can write a file can recompute
//! the digest). Version 1 files (no digest) are still read; the vault takes version 2 only.

use sha2::{Digest, Sha256};

use serde::{Deserialize, Serialize};

use crate::AppError;

/// The file magic.
const MAGIC: &[u8; 8] = b"RVFILE01";
/// The container format version.
pub const VERSION: u32 = 2;
/// The oldest container version read (version 1 has no digest).
pub const OLDEST_VERSION: u32 = 1;
/// Bytes of the trailing digest of a version-2 file.
const DIGEST_LEN: usize = 32;
/// Largest header accepted.
const MAX_HEADER: usize = 1 << 20;
/// Every kind of file the command line writes.
pub const KINDS: [&str; 10] = ["secret-keys", "public-keys", "evaluation-keys", "table", "stat", "scores", "stats", "rows", "totals", "row-scores"];

/// The JSON header of a file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// `secret-keys`, `public-keys`, `evaluation-keys`, `table`, `stat`, `stats` (several
    /// statistics), `scores` or `column` (one column of a vault upload, as the store keeps it).
    pub kind: String,
    /// Container version.
    pub version: u32,
    /// The statistics preset (`n4096`, `n8192`, …).
    pub preset: String,
    /// The plaintext moduli of the CRT space.
    pub moduli: Vec<u32>,
    /// Number of objects after the header.
    pub objects: usize,
    /// Kind-specific public metadata.
    #[serde(default)]
    pub meta: serde_json::Value,
}

/// The bytes of a file: magic, header, objects.
///
/// # Errors
/// [`AppError::Format`] when `header.objects` is not `objects.len()` or the header does not
/// fit the format's bound.
pub fn encode<O: AsRef<[u8]>>(header: &Header, objects: &[O]) -> Result<Vec<u8>, AppError> {
    if header.objects != objects.len() {
        return Err(AppError::Format(format!("the header declares {} objects, {} given", header.objects, objects.len())));
    }
    let mut w = Writer::in_memory(header, objects.iter().map(|o| o.as_ref().len()).sum())?;
    for o in objects {
        w.push(o.as_ref())?;
    }
    w.finish()
}

/// The bytes of a file whose objects `write` serializes from `items`, in parallel (rayon),
/// straight into one buffer sized once from `len` (each item's object length, known in
/// advance): for large answers, where building the objects apart and copying them in would
/// hold twice the file ([`Writer::push_par`]).
///
/// # Errors
/// As [`encode`]; `write`'s first error; [`AppError::Format`] when an object's length is not
/// what `len` said.
pub fn encode_par<T: Sync>(header: &Header, items: &[T], len: impl Fn(&T) -> usize, write: impl Fn(&T, &mut Vec<u8>) -> Result<(), AppError> + Sync) -> Result<Vec<u8>, AppError> {
    let lens: Vec<usize> = items.iter().map(len).collect();
    let mut w = Writer::in_memory(header, lens.iter().sum())?;
    w.push_par(items, &lens, write)?;
    w.finish()
}

/// Writes a file object by object (what [`encode`] writes, without holding the objects): the
/// header first, each object as it comes, the digest of everything at [`Writer::finish`].
pub struct Writer<W: std::io::Write> {
    out: W,
    hasher: Option<Sha256>,
    declared: usize,
    written: usize,
    /// What write errors name (the file's path).
    label: String,
}

impl<W: std::io::Write> Writer<W> {
    /// Starts a file of `header` (which declares how many objects follow); write errors name
    /// `label` (the file's path).
    ///
    /// # Errors
    /// [`AppError::Format`] for a header beyond the format's bound; [`AppError::Io`].
    pub fn new(out: W, header: &Header, label: &str) -> Result<Self, AppError> {
        Self::start(out, header, &header_json(header)?, label)
    }

    /// [`Self::new`] with the header already serialized (and checked) as `json`.
    fn start(out: W, header: &Header, json: &[u8], label: &str) -> Result<Self, AppError> {
        let mut w = Self { out, hasher: (header.version >= 2).then(Sha256::new), declared: header.objects, written: 0, label: label.to_string() };
        w.write(MAGIC)?;
        w.write(&(json.len() as u32).to_le_bytes())?;
        w.write(json)?;
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), AppError> {
        if let Some(h) = &mut self.hasher {
            h.update(bytes);
        }
        self.write_unhashed(bytes)
    }

    fn write_unhashed(&mut self, bytes: &[u8]) -> Result<(), AppError> {
        self.out.write_all(bytes).map_err(|e| AppError::Io { path: self.label.clone(), reason: e.to_string() })
    }

    /// Appends the next object.
    ///
    /// # Errors
    /// [`AppError::Format`] for an object beyond the count the header declares; write errors.
    pub fn push(&mut self, object: &[u8]) -> Result<(), AppError> {
        self.claim_object()?;
        self.write(&(object.len() as u64).to_le_bytes())?;
        self.write(object)
    }

    /// Counts the next object, refusing one beyond the header's count.
    fn claim_object(&mut self) -> Result<(), AppError> {
        self.claim_objects(1)
    }

    /// Counts the next `count` objects, refusing any beyond the header's count.
    fn claim_objects(&mut self, count: usize) -> Result<(), AppError> {
        if count > self.declared - self.written {
            return Err(AppError::Format(format!("the header declares {} objects, more given", self.declared)));
        }
        self.written += count;
        Ok(())
    }

    /// Ends the file with its digest and returns the output.
    ///
    /// # Errors
    /// [`AppError::Format`] when fewer objects came than the header declares; write errors.
    pub fn finish(mut self) -> Result<W, AppError> {
        if self.written != self.declared {
            return Err(AppError::Format(format!("the header declares {} objects, {} given", self.declared, self.written)));
        }
        if let Some(h) = self.hasher.take() {
            let digest = h.finalize();
            self.write_unhashed(&digest)?;
        }
        Ok(self.out)
    }
}

/// The header as JSON, within the format's bound.
fn header_json(header: &Header) -> Result<Vec<u8>, AppError> {
    let json = serde_json::to_vec(header).map_err(|e| AppError::Format(e.to_string()))?;
    if json.len() > MAX_HEADER {
        return Err(AppError::Format(format!("a header of {} bytes exceeds {MAX_HEADER}", json.len())));
    }
    Ok(json)
}

impl Writer<Vec<u8>> {
    /// A file built in memory, its buffer sized once for the header, `object_bytes` of
    /// objects (their lengths summed) and the framing of the header's object count.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn in_memory(header: &Header, object_bytes: usize) -> Result<Self, AppError> {
        let json = header_json(header)?;
        let capacity = MAGIC.len() + 4 + json.len() + object_bytes + 8 * header.objects + DIGEST_LEN;
        Self::start(Vec::with_capacity(capacity), header, &json, "memory")
    }

    /// Appends the next object as `write` appends it to the buffer: serialized in place, not
    /// built apart and copied. Its length is patched in once `write` returns, then hashed
    /// with the object while both are in cache.
    ///
    /// # Errors
    /// As [`Self::push`]; `write`'s error.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> Result<(), AppError>) -> Result<(), AppError> {
        self.claim_object()?;
        let start = self.out.len();
        self.out.extend_from_slice(&[0; 8]);
        write(&mut self.out)?;
        let len = (self.out.len() - start - 8) as u64;
        self.out[start..start + 8].copy_from_slice(&len.to_le_bytes());
        if let Some(h) = &mut self.hasher {
            h.update(&self.out[start..]);
        }
        Ok(())
    }

    /// Appends one object per item, each serialized by `write` on rayon's pool into a reused
    /// per-thread scratch buffer and copied to its place in this buffer (of `lens[i]` bytes,
    /// announced in advance), then hashes them in one pass.
    ///
    /// # Errors
    /// As [`Self::push`] for more items than the header has left; `write`'s first error;
    /// [`AppError::Format`] for `lens` not one per item, or an object's length not its `lens`.
    pub fn push_par<T: Sync>(&mut self, items: &[T], lens: &[usize], write: impl Fn(&T, &mut Vec<u8>) -> Result<(), AppError> + Sync) -> Result<(), AppError> {
        use rayon::prelude::*;
        if lens.len() != items.len() {
            return Err(AppError::Format(format!("{} lengths for {} objects", lens.len(), items.len())));
        }
        self.claim_objects(items.len())?;
        let start = self.out.len();
        self.out.resize(start + lens.iter().map(|l| 8 + l).sum::<usize>(), 0);
        let mut places = Vec::with_capacity(items.len());
        let mut rest = &mut self.out[start..];
        for &l in lens {
            let (place, tail) = rest.split_at_mut(8 + l);
            places.push(place);
            rest = tail;
        }
        places.into_par_iter().zip(items).try_for_each_init(Vec::new, |scratch, (place, item)| {
            scratch.clear();
            write(item, scratch)?;
            if scratch.len() + 8 != place.len() {
                return Err(AppError::Format(format!("an object of {} bytes where {} were announced", scratch.len(), place.len() - 8)));
            }
            place[..8].copy_from_slice(&(scratch.len() as u64).to_le_bytes());
            place[8..].copy_from_slice(scratch);
            Ok(())
        })?;
        if let Some(h) = &mut self.hasher {
            h.update(&self.out[start..]);
        }
        Ok(())
    }
}

/// Reads a file object by object (what [`parse`] checks, without holding the file): the
/// header at [`Reader::new`], then [`Reader::next_object`] for each object (kept or skipped,
/// hashed either way), then [`Reader::finish`] checks the digest. Every declared length is
/// checked against the bytes the file has left before anything is allocated. Objects are
/// handed out before the digest is checked: a caller discards what it built from them when
/// [`Reader::finish`] fails.
pub struct Reader<R: std::io::Read> {
    input: R,
    header: Header,
    hasher: Option<Sha256>,
    /// Bytes of the file after what was read.
    left: u64,
    /// Objects read or skipped so far.
    seen: usize,
}

impl<R: std::io::Read> Reader<R> {
    /// Reads the header of a file of `len` bytes, which must be one of `kinds`.
    ///
    /// # Errors
    /// As [`parse`]; read errors.
    pub fn new(mut input: R, len: u64, kinds: &[&str]) -> Result<Self, String> {
        let io = |e: std::io::Error| format!("truncated or unreadable: {e}");
        let mut start = vec![0u8; 12];
        if len < 12 {
            return Err("not a RingVault file (bad magic)".into());
        }
        input.read_exact(&mut start).map_err(io)?;
        let header_len = u32::from_le_bytes([start[8], start[9], start[10], start[11]]) as u64;
        if &start[..8] == MAGIC && header_len <= MAX_HEADER as u64 && 12 + header_len <= len {
            start.resize(12 + header_len as usize, 0);
            input.read_exact(&mut start[12..]).map_err(io)?;
        }
        let (header, used) = peek_header(&start)?;
        if !kinds.contains(&header.kind.as_str()) {
            return Err(format!("expected a {} file, found {}", kinds.join(" or "), header.kind));
        }
        let mut hasher = (header.version >= 2).then(Sha256::new);
        if let Some(h) = &mut hasher {
            h.update(&start);
        }
        let tail = if header.version >= 2 { DIGEST_LEN as u64 } else { 0 };
        let left = len.checked_sub(used as u64 + tail).ok_or("truncated: no room for the file's digest")?;
        // Every object needs at least its 8-byte length.
        if header.objects as u64 > left / 8 {
            return Err(format!("{} objects declared in {left} bytes", header.objects));
        }
        Ok(Self { input, header, hasher, left, seen: 0 })
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Objects read or skipped so far (of [`Header::objects`]).
    pub fn objects_seen(&self) -> usize {
        self.seen
    }

    fn read_hashed(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.input.read_exact(buf).map_err(|e| format!("truncated or unreadable: {e}"))?;
        if let Some(h) = &mut self.hasher {
            h.update(&*buf);
        }
        Ok(())
    }

    /// The next object's bytes (`keep`), or `None` after reading past it unkept.
    ///
    /// # Errors
    /// Every declared object already read; a length beyond the file; read errors.
    pub fn next_object(&mut self, keep: bool) -> Result<Option<Vec<u8>>, String> {
        let i = self.seen;
        if i == self.header.objects {
            return Err(format!("the header declares {} objects, more asked", self.header.objects));
        }
        if self.left < 8 {
            return Err(format!("object {i}: truncated length"));
        }
        let mut n = [0u8; 8];
        self.read_hashed(&mut n)?;
        let n = u64::from_le_bytes(n);
        self.left -= 8;
        if n > self.left {
            return Err(format!("object {i}: {n} bytes declared, {} left", self.left));
        }
        self.left -= n;
        self.seen += 1;
        if keep {
            let mut o = vec![0u8; n as usize];
            self.read_hashed(&mut o)?;
            return Ok(Some(o));
        }
        // Read past: into the hash (or nowhere, for a file without a digest).
        let mut part = std::io::Read::take(&mut self.input, n);
        let copied = match &mut self.hasher {
            Some(h) => std::io::copy(&mut part, h),
            None => std::io::copy(&mut part, &mut std::io::sink()),
        };
        match copied {
            Ok(c) if c == n => Ok(None),
            Ok(c) => Err(format!("truncated or unreadable: object {i} ends after {c} of its {n} bytes")),
            Err(e) => Err(format!("truncated or unreadable: {e}")),
        }
    }

    /// Reads what is left (every object not read yet, skipped) and checks the file's digest
    /// and length.
    ///
    /// # Errors
    /// A digest that does not match; trailing bytes; read errors.
    pub fn finish(mut self) -> Result<(), String> {
        while self.seen < self.header.objects {
            self.next_object(false)?;
        }
        if self.left > 0 {
            return Err(format!("{} trailing bytes", self.left));
        }
        if let Some(h) = self.hasher.take() {
            let mut digest = [0u8; DIGEST_LEN];
            self.input.read_exact(&mut digest).map_err(|e| format!("truncated or unreadable: {e}"))?;
            if h.finalize().as_slice() != digest {
                return Err("the file's SHA-256 digest does not match its content (corrupted or truncated)".into());
            }
        }
        Ok(())
    }

    /// `error`, unless the rest of the file shows it corrupted: then that (a flipped bit is
    /// reported as such, not as whatever the loader made of it).
    pub fn explain(self, error: AppError) -> AppError {
        self.finish().map_or_else(AppError::Format, |()| error)
    }
}

/// Parses container bytes of one of `kinds`: header and objects, every length checked first.
///
/// # Errors
/// A message naming what was expected and found: a wrong magic, version or kind, a digest
/// that does not match, lengths that do not add up.
pub fn parse<'a>(bytes: &'a [u8], kinds: &[&str]) -> Result<Parsed<'a>, String> {
    parse_inner(bytes, kinds, false).map(|(p, _)| p)
}

/// A parsed container: its header and its objects (borrowed from the bytes).
pub type Parsed<'a> = (Header, Vec<&'a [u8]>);

/// [`parse`], and the SHA-256 of all of `bytes` (the digest included) from the same pass
/// that checks the file's digest: a caller that names a file by its hash (the vault's
/// idempotent uploads) reads it once.
///
/// # Errors
/// As [`parse`].
pub fn parse_hashed<'a>(bytes: &'a [u8], kinds: &[&str]) -> Result<(Parsed<'a>, [u8; 32]), String> {
    let (p, whole) = parse_inner(bytes, kinds, true)?;
    Ok((p, whole.unwrap_or_else(|| Sha256::digest(bytes).into())))
}

fn parse_inner<'a>(bytes: &'a [u8], kinds: &[&str], whole: bool) -> Result<(Parsed<'a>, Option<[u8; 32]>), String> {
    let (header, start) = peek_header(bytes)?;
    if !kinds.contains(&header.kind.as_str()) {
        return Err(format!("expected a {} file, found {}", kinds.join(" or "), header.kind));
    }
    let mut sha = None;
    let end = if header.version >= 2 {
        let end = bytes.len().checked_sub(DIGEST_LEN).filter(|&e| e >= start).ok_or("truncated: no room for the file's digest")?;
        let mut h = Sha256::new();
        h.update(&bytes[..end]);
        if h.clone().finalize().as_slice() != &bytes[end..] {
            return Err("the file's SHA-256 digest does not match its content (corrupted or truncated)".into());
        }
        if whole {
            h.update(&bytes[end..]);
            sha = Some(h.finalize().into());
        }
        end
    } else {
        bytes.len()
    };
    let mut rest = &bytes[start..end];
    // Every object needs at least its 8-byte length: bound the count before allocating.
    if header.objects > rest.len() / 8 {
        return Err(format!("{} objects declared in {} bytes", header.objects, rest.len()));
    }
    let mut objects = Vec::with_capacity(header.objects);
    for i in 0..header.objects {
        if rest.len() < 8 {
            return Err(format!("object {i}: truncated length"));
        }
        let mut n = [0u8; 8];
        n.copy_from_slice(&rest[..8]);
        let n = u64::from_le_bytes(n);
        rest = &rest[8..];
        if n > rest.len() as u64 {
            return Err(format!("object {i}: {n} bytes declared, {} left", rest.len()));
        }
        let (o, r) = rest.split_at(n as usize);
        objects.push(o);
        rest = r;
    }
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    Ok(((header, objects), sha))
}

/// The header of container bytes and the offset where its objects start, without reading
/// the objects (any kind).
///
/// # Errors
/// As [`parse`].
pub fn peek_header(bytes: &[u8]) -> Result<(Header, usize), String> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err("not a RingVault file (bad magic)".into());
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if len > MAX_HEADER || 12 + len > bytes.len() {
        return Err(format!("header length {len} exceeds the file"));
    }
    let header: Header = serde_json::from_slice(&bytes[12..12 + len]).map_err(|e| format!("bad header: {e}"))?;
    if !(OLDEST_VERSION..=VERSION).contains(&header.version) {
        return Err(format!("container version {} (this build reads {OLDEST_VERSION} to {VERSION})", header.version));
    }
    Ok((header, 12 + len))
}

/// Every object of `data` through [`Reader`] (what [`parse`] returns, owned).
#[cfg(any(test, feature = "testing"))]
fn read_all(data: &[u8]) -> Result<(Header, Vec<Vec<u8>>), String> {
    let mut r = Reader::new(data, data.len() as u64, &KINDS)?;
    let objects = (0..r.header().objects).map(|_| r.next_object(true)?.ok_or_else(|| "an object kept was not returned".to_string())).collect::<Result<Vec<_>, _>>()?;
    let header = r.header().clone();
    r.finish()?;
    Ok((header, objects))
}

/// Small files of every kind (real headers, short stand-in objects): the fuzz target
/// `container`'s seeds (`fuzz/corpus/container/`). Feature `testing`.
#[cfg(any(test, feature = "testing"))]
pub fn sample_files() -> Vec<(String, Vec<u8>)> {
    KINDS
        .iter()
        .enumerate()
        .filter_map(|(i, kind)| {
            let meta = match *kind {
                "table" => serde_json::json!({"columns": [{"name": "body mass index", "decimals": 2, "count": 3}]}),
                "stat" => serde_json::json!({"stat": "mean", "column": "bmi", "count": 442, "decimals": 1}),
                _ => serde_json::json!({}),
            };
            let objects: Vec<Vec<u8>> = (0..i % 3).map(|j| vec![j as u8; j * 5]).collect();
            let header = Header { kind: (*kind).into(), version: VERSION, preset: "n4096".into(), moduli: vec![65537, 114689], objects: objects.len(), meta };
            encode(&header, &objects).ok().map(|b| (format!("seed-{kind}"), b))
        })
        .collect()
}

/// The fuzz property of [`parse`]: any input returns (never panics), and an input that parses
/// re-encodes to bytes that parse to the same header and objects; every object then goes
/// through the wire format's header check. Panics when the property fails (it is the fuzz
/// target's oracle). Feature `testing`.
#[cfg(any(test, feature = "testing"))]
pub fn check_fuzz_input(data: &[u8]) {
    let streamed = read_all(data);
    let Ok((header, objects)) = parse(data, &KINDS) else {
        assert!(streamed.is_err(), "Reader accepts a file parse refuses");
        return;
    };
    let streamed = streamed.unwrap_or_else(|e| panic!("Reader refuses a file parse accepts: {e}"));
    assert!(streamed.0 == header && streamed.1.iter().map(Vec::as_slice).eq(objects.iter().copied()), "Reader reads other objects than parse");
    let again = encode(&header, &objects).unwrap_or_else(|e| panic!("a parsed file does not re-encode: {e}"));
    let reparsed = parse(&again, &KINDS).unwrap_or_else(|e| panic!("a re-encoded file does not parse: {e}"));
    assert!(reparsed == (header, objects), "the re-encoded file parses differently");
    for o in &reparsed.1 {
        let _ = ringvault_core::wire::inspect(o);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

    fn fuzz_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz")
    }

    /// The committed seeds are [`sample_files`] (`RINGVAULT_WRITE_FUZZ_CORPUS=1` rewrites
    /// them); they and every committed regression input satisfy the fuzz property.
    #[test]
    fn fuzz_seeds_and_regressions_of_the_container() {
        let dir = fuzz_dir().join("corpus").join("container");
        let write = std::env::var("RINGVAULT_WRITE_FUZZ_CORPUS").is_ok_and(|v| v == "1");
        for (name, bytes) in sample_files() {
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(&name), &bytes).unwrap();
            }
            assert_eq!(std::fs::read(dir.join(&name)).unwrap(), bytes, "{name} is stale: rerun with RINGVAULT_WRITE_FUZZ_CORPUS=1");
            let (h, o) = parse(&bytes, &KINDS).unwrap();
            assert_eq!(encode(&h, &o).unwrap(), bytes);
            check_fuzz_input(&bytes);
        }
        if let Ok(entries) = std::fs::read_dir(fuzz_dir().join("regressions").join("container")) {
            for e in entries {
                check_fuzz_input(&std::fs::read(e.unwrap().path()).unwrap());
            }
        }
    }

    #[test]
    fn truncations_and_bad_lengths_are_errors() {
        let (_, bytes) = sample_files().into_iter().find(|(n, _)| n == "seed-evaluation-keys").unwrap();
        for cut in 0..bytes.len() {
            assert!(parse(&bytes[..cut], &KINDS).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(parse(&long, &KINDS).unwrap_err().contains("digest does not match"));
        // Every single bit flip is caught by the digest, wherever it falls.
        for at in (0..bytes.len()).step_by(3) {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << (at % 8);
            assert!(parse(&flipped, &KINDS).is_err(), "flip at {at}");
        }
        // The streaming reader agrees with parse on every cut and flip.
        for cut in 0..bytes.len() {
            check_fuzz_input(&bytes[..cut]);
        }
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << (at % 8);
            check_fuzz_input(&flipped);
        }
        check_fuzz_input(&bytes);
        // Version 1 (no digest) is still read; its trailing bytes are refused.
        let h1 = Header { version: 1, ..parse(&bytes, &KINDS).unwrap().0 };
        let v1 = encode(&h1, &parse(&bytes, &KINDS).unwrap().1).unwrap();
        assert!(!v1.ends_with(&bytes[bytes.len() - 32..]));
        assert!(parse(&v1, &KINDS).is_ok());
        // parse_hashed: what parse gives, and the SHA-256 of all the bytes, either version.
        for file in [&bytes, &v1] {
            let ((h, o), sha) = parse_hashed(file, &KINDS).unwrap();
            assert_eq!((h, o), parse(file, &KINDS).unwrap());
            assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(file.as_slice())));
        }
        assert_eq!(parse_hashed(&bytes[..bytes.len() - 1], &KINDS).unwrap_err(), parse(&bytes[..bytes.len() - 1], &KINDS).unwrap_err());
        let mut long = v1.clone();
        long.push(0);
        assert!(parse(&long, &KINDS).unwrap_err().contains("trailing"));
        let mut huge = bytes.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge, &KINDS).unwrap_err().contains("header length"));
        assert!(parse(&bytes, &["table"]).unwrap_err().contains("expected a table file"));
        let h = Header { kind: "stat".into(), version: VERSION, preset: "n4096".into(), moduli: vec![], objects: 2, meta: serde_json::Value::Null };
        assert!(encode(&h, &[vec![1]]).is_err());
    }

    /// The in-place writers give [`encode`]'s bytes, either version; a wrong announced
    /// length or count is an error, not a shifted file.
    #[test]
    fn in_place_writers_equal_encode() {
        let objects: Vec<Vec<u8>> = (0..37).map(|i| (0..(i * 977 % 5000)).map(|j| (i * 31 + j) as u8).collect()).collect();
        for version in [1, VERSION] {
            let h = Header { kind: "rows".into(), version, preset: "n4096".into(), moduli: vec![65537], objects: objects.len(), meta: serde_json::json!({"x": 1}) };
            let expected = encode(&h, &objects).unwrap();
            let par = encode_par(&h, &objects, Vec::len, |o, out| {
                out.extend_from_slice(o);
                Ok(())
            });
            assert!(par.unwrap() == expected, "encode_par differs at version {version}");
            let mut w = Writer::in_memory(&h, objects.iter().map(Vec::len).sum()).unwrap();
            for o in &objects {
                w.push_with(|out| {
                    out.extend_from_slice(o);
                    Ok(())
                })
                .unwrap();
            }
            assert!(w.push_with(|_| Ok(())).is_err(), "an object beyond the count");
            assert!(w.finish().unwrap() == expected, "push_with differs at version {version}");
            assert!(encode_par(&h, &objects, |o| o.len() + 1, |o, out| {
                out.extend_from_slice(o);
                Ok(())
            })
            .unwrap_err()
            .to_string()
            .contains("announced"));
            assert!(encode_par(&h, &objects[1..], Vec::len, |_, _| Ok(())).is_err());
        }
    }
}
