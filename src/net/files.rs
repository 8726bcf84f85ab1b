//! Static file lookup for `h2o serve`: request path → file under the document
//! root, with path-traversal refusal and a small content-type map; plus the
//! HTTP semantics of static files (RFC 9110): validators (§8.8 `etag`,
//! `last-modified`), conditional requests (§13.1.1 `if-none-match`, §13.1.3
//! `if-modified-since`, §13.1.5 `if-range`) and byte ranges (§14): one range
//! → 206 with `content-range`; several → 206 `multipart/byteranges` (§14.6,
//! [`Multipart`]) after sorting and coalescing overlapping or adjacent ranges
//! (one left → a plain 206); more than [`MAX_RANGES`] after coalescing, or
//! more than [`MAX_RANGE_SPECS`] in the header → the header is ignored (200
//! with the whole file, as nginx's `max_ranges`).
//!
//! No protocol logic here: this module maps a `:path` to a [`Lookup`] and the
//! server adapter turns that into a response through the core.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Most ranges answered (after coalescing) with `multipart/byteranges`; more
/// and the range header is ignored (200, whole representation).
pub const MAX_RANGES: usize = 16;
/// Most range specs parsed from one header; more and it is ignored.
pub const MAX_RANGE_SPECS: usize = 256;

/// A resolved regular file with the metadata a response needs.
#[derive(Debug)]
pub struct FileInfo {
    /// The opened file.
    pub file: File,
    /// Length in bytes at open time.
    pub len: u64,
    /// Modification time, when the platform reports one.
    pub modified: Option<SystemTime>,
    /// `content-type` value chosen from the extension.
    pub content_type: &'static str,
}

impl FileInfo {
    /// Strong validator `"<size hex>-<mtime nanoseconds hex>"`.
    pub fn etag(&self) -> String {
        let nanos = self
            .modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("\"{:x}-{:x}\"", self.len, nanos)
    }

    /// `last-modified` value (IMF-fixdate), when the mtime is known.
    pub fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }

    /// Modification time in whole seconds since the epoch (HTTP-date precision).
    pub fn mtime_secs(&self) -> Option<u64> {
        self.modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    }
}

/// What a `range` header asks of a representation of a given size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// No (usable) range: send the whole representation with 200. Also used
    /// for syntactically invalid headers and for more than [`MAX_RANGES`]
    /// ranges (RFC 9110 §14.2 lets a server ignore them).
    Full,
    /// One satisfiable range: `start..=end` (inclusive), answered with 206.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// Several satisfiable ranges, sorted, none overlapping or adjacent
    /// (inclusive `(start, end)` pairs, 2..=[`MAX_RANGES`]): 206
    /// `multipart/byteranges`.
    Multi(Vec<(u64, u64)>),
    /// No range selects anything: 416 with `content-range: bytes */size`.
    Unsatisfiable,
}

/// Parses a `range` header value (`bytes=` and a comma-separated list of
/// `a-b`, `a-`, `-n`) against a representation of `size` bytes. Unsatisfiable
/// specs in a list are dropped (§14.2: satisfiable if any one is); the rest
/// are sorted and coalesced when they overlap or touch.
pub fn parse_range(value: &[u8], size: u64) -> RangeSpec {
    let Ok(v) = std::str::from_utf8(value) else {
        return RangeSpec::Full;
    };
    let v = v.trim();
    let Some(unit) = v.get(..6) else {
        return RangeSpec::Full;
    };
    if !unit.eq_ignore_ascii_case("bytes=") {
        return RangeSpec::Full;
    }
    let specs = &v[6..];
    if !specs.contains(',') {
        return parse_one(specs.trim(), size);
    }
    let mut ranges = Vec::new();
    let mut any = false;
    for (i, spec) in specs.split(',').enumerate() {
        if i >= MAX_RANGE_SPECS {
            return RangeSpec::Full;
        }
        let spec = spec.trim();
        if spec.is_empty() {
            continue; // RFC 9110 §5.6.1: empty list elements are ignored
        }
        match parse_one(spec, size) {
            RangeSpec::Partial { start, end } => ranges.push((start, end)),
            RangeSpec::Unsatisfiable => {}
            _ => return RangeSpec::Full, // a malformed spec: ignore the header
        }
        any = true;
    }
    if !any {
        return RangeSpec::Full;
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    match merged.len() {
        0 => RangeSpec::Unsatisfiable,
        1 => RangeSpec::Partial {
            start: merged[0].0,
            end: merged[0].1,
        },
        n if n > MAX_RANGES => RangeSpec::Full,
        _ => RangeSpec::Multi(merged),
    }
}

/// One range spec (`a-b`, `a-`, `-n`; no unit).
fn parse_one(spec: &str, size: u64) -> RangeSpec {
    let Some((a, b)) = spec.split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if a.is_empty() {
        // Suffix range: the last n bytes.
        let Some(n) = num(b) else {
            return RangeSpec::Full;
        };
        if n == 0 || size == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Partial {
            start: size - n.min(size),
            end: size - 1,
        };
    }
    let Some(start) = num(a) else {
        return RangeSpec::Full;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match num(b) {
            Some(e) if e >= start => e,
            _ => return RangeSpec::Full,
        }
    };
    if start >= size {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Partial {
        start,
        end: end.min(size - 1),
    }
}

/// A `multipart/byteranges` body (RFC 9110 §14.6): the part headers and the
/// ranges they introduce, and the exact length of the whole body.
#[derive(Clone, Debug)]
pub struct Multipart {
    /// The `content-type` of the response (`multipart/byteranges; boundary=…`).
    pub content_type: String,
    /// In order: the delimiter and headers before each range, then the range
    /// (`(start, len)`); the last element is the closing delimiter with no range.
    pub parts: Vec<(String, Option<(u64, u64)>)>,
    /// Total body length (the response's `content-length`).
    pub len: u64,
}

impl Multipart {
    /// Lays out the body for `ranges` (inclusive, from [`RangeSpec::Multi`])
    /// of a representation of `size` bytes and type `content_type`. The
    /// boundary is 32 random hex digits (no collision with the content in
    /// practice).
    pub fn new(ranges: &[(u64, u64)], size: u64, content_type: &str) -> Multipart {
        let rs = std::collections::hash_map::RandomState::new();
        let mut h = rs.build_hasher();
        h.write_u64(size);
        let a = h.finish();
        h.write_u64(a);
        let boundary = format!("{a:016x}{:016x}", h.finish());
        let mut parts = Vec::with_capacity(ranges.len() + 1);
        let mut len = 0u64;
        for (i, &(s, e)) in ranges.iter().enumerate() {
            let head = format!(
                "{}--{boundary}\r\ncontent-type: {content_type}\r\ncontent-range: bytes {s}-{e}/{size}\r\n\r\n",
                if i == 0 { "" } else { "\r\n" }
            );
            len += head.len() as u64 + (e - s + 1);
            parts.push((head, Some((s, e - s + 1))));
        }
        let tail = format!("\r\n--{boundary}--\r\n");
        len += tail.len() as u64;
        parts.push((tail, None));
        Multipart {
            content_type: format!("multipart/byteranges; boundary={boundary}"),
            parts,
            len,
        }
    }
}

/// True when an `if-none-match` value matches `etag` (weak comparison,
/// RFC 9110 §13.1.2): `*` or any listed tag equal once `W/` is dropped.
pub fn none_match(value: &[u8], etag: &str) -> bool {
    let Ok(v) = std::str::from_utf8(value) else {
        return false;
    };
    let v = v.trim();
    if v == "*" {
        return true;
    }
    let want = etag.strip_prefix("W/").unwrap_or(etag);
    v.split(',').any(|t| {
        let t = t.trim();
        t.strip_prefix("W/").unwrap_or(t) == want
    })
}

/// True when an `if-modified-since` value says the client's copy is current:
/// a valid HTTP-date not older than the mtime (seconds precision).
pub fn not_modified_since(value: &[u8], mtime_secs: u64) -> bool {
    let Ok(v) = std::str::from_utf8(value) else {
        return false;
    };
    match httpdate::parse_http_date(v.trim()) {
        Ok(t) => t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() >= mtime_secs)
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Outcome of resolving a request path against the document root.
#[derive(Debug)]
#[non_exhaustive]
pub enum Lookup {
    /// A regular file: open handle, its length and its content type.
    Found {
        /// The opened file.
        file: File,
        /// Length in bytes at open time.
        len: u64,
        /// `content-type` value chosen from the extension.
        content_type: &'static str,
    },
    /// Nothing servable at that path (missing, escaping the root, not a regular file).
    NotFound,
    /// The path itself is malformed (bad percent-encoding, `..` segment, encoded `/`, NUL).
    BadRequest,
}

/// A document root, canonicalized once.
#[derive(Debug, Clone)]
pub struct DocRoot {
    root: PathBuf,
}

impl DocRoot {
    /// Canonicalizes `root`; fails when it does not exist or is not a directory.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(DocRoot { root })
    }

    /// The canonical root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Resolves a request `:path` (may carry a query) to a file under the root.
    pub fn lookup(&self, request_path: &str) -> Lookup {
        match self.resolve(request_path) {
            Ok(f) => Lookup::Found {
                file: f.file,
                len: f.len,
                content_type: f.content_type,
            },
            Err(l) => l,
        }
    }

    /// Like [`DocRoot::lookup`], with the file's metadata; `Err` is
    /// [`Lookup::NotFound`] or [`Lookup::BadRequest`].
    pub fn resolve(&self, request_path: &str) -> Result<FileInfo, Lookup> {
        let segments = match split_path(request_path) {
            Some(s) => s,
            None => return Err(Lookup::BadRequest),
        };
        let mut candidate = self.root.clone();
        for seg in &segments {
            candidate.push(seg);
        }
        // Canonicalize to resolve symlinks, then require the result to stay
        // under the root.
        let mut real = match candidate.canonicalize() {
            Ok(p) => p,
            Err(_) => return Err(Lookup::NotFound),
        };
        if !real.starts_with(&self.root) {
            return Err(Lookup::NotFound);
        }
        if real.is_dir() {
            real.push("index.html");
            real = match real.canonicalize() {
                Ok(p) if p.starts_with(&self.root) => p,
                _ => return Err(Lookup::NotFound),
            };
        }
        let file = match File::open(&real) {
            Ok(f) => f,
            Err(_) => return Err(Lookup::NotFound),
        };
        let meta = match file.metadata() {
            Ok(m) if m.is_file() => m,
            _ => return Err(Lookup::NotFound),
        };
        Ok(FileInfo {
            file,
            len: meta.len(),
            modified: meta.modified().ok(),
            content_type: content_type(&real),
        })
    }
}

/// Splits an origin-form path into decoded segments, dropping empty and `.`
/// segments. `None` when the path is malformed or tries to climb (`..`, also
/// percent-encoded), or carries an encoded `/`, `\` or NUL.
pub fn split_path(request_path: &str) -> Option<Vec<String>> {
    let path = request_path
        .split(['?', '#'])
        .next()
        .unwrap_or(request_path);
    if !path.starts_with('/') {
        return None;
    }
    let mut out = Vec::new();
    for raw in path.split('/') {
        let seg = percent_decode(raw)?;
        if seg.is_empty() || seg == "." {
            continue;
        }
        if seg == ".." || seg.contains(['/', '\\', '\0']) {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Content type by file extension (small built-in map; default octet-stream).
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html") | Some("htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("css") => "text/css",
        Some("js") | Some("mjs") => "text/javascript",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("mp4") => "video/mp4",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rejects_traversal() {
        assert_eq!(split_path("/a/b.txt?x=1").unwrap(), vec!["a", "b.txt"]);
        assert_eq!(split_path("/./a//b").unwrap(), vec!["a", "b"]);
        assert!(split_path("/../etc/passwd").is_none());
        assert!(split_path("/a/%2e%2e/b").is_none());
        assert!(split_path("/a/%2E%2e/b").is_none());
        assert!(split_path("/a%2fb").is_none());
        assert!(split_path("/a%00b").is_none());
        assert!(split_path("/a%zz").is_none());
        assert!(split_path("relative").is_none());
        assert_eq!(split_path("/sp%20ace").unwrap(), vec!["sp ace"]);
    }

    #[test]
    fn ranges() {
        use RangeSpec::*;
        let p = |v: &str, n| parse_range(v.as_bytes(), n);
        assert_eq!(p("bytes=0-0", 10), Partial { start: 0, end: 0 });
        assert_eq!(p("bytes=2-5", 10), Partial { start: 2, end: 5 });
        assert_eq!(p("bytes=2-50", 10), Partial { start: 2, end: 9 });
        assert_eq!(p("bytes=7-", 10), Partial { start: 7, end: 9 });
        assert_eq!(p("bytes=-3", 10), Partial { start: 7, end: 9 });
        assert_eq!(p("bytes=-30", 10), Partial { start: 0, end: 9 });
        assert_eq!(p("BYTES=1-1", 10), Partial { start: 1, end: 1 });
        assert_eq!(p("bytes=10-", 10), Unsatisfiable);
        assert_eq!(p("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(p("bytes=-0", 10), Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Unsatisfiable);
        assert_eq!(p("bytes=-5", 0), Unsatisfiable);
        assert_eq!(p("bytes=0-1,3-4", 10), Multi(vec![(0, 1), (3, 4)]));
        // Sorted, overlapping and adjacent ranges coalesced.
        assert_eq!(
            p("bytes=0-9,100-199,50-120", 1000),
            Multi(vec![(0, 9), (50, 199)])
        );
        assert_eq!(p("bytes=5-6,0-4", 10), Partial { start: 0, end: 6 });
        assert_eq!(p("bytes=0-3,2-5,-2", 10), Multi(vec![(0, 5), (8, 9)]));
        // Unsatisfiable members dropped; none left → 416.
        assert_eq!(p("bytes=0-1,50-60", 10), Partial { start: 0, end: 1 });
        assert_eq!(p("bytes=20-30,50-", 10), Unsatisfiable);
        // A malformed member, or too many ranges: the header is ignored.
        assert_eq!(p("bytes=0-1,x-3", 10), Full);
        assert_eq!(p("bytes=0-1, ,4-5", 10), Multi(vec![(0, 1), (4, 5)]));
        let many: Vec<String> = (0..17).map(|i| format!("{}-{}", i * 3, i * 3)).collect();
        assert_eq!(p(&format!("bytes={}", many.join(",")), 100), Full);
        let sixteen = many[..16].join(",");
        assert!(matches!(p(&format!("bytes={sixteen}"), 100), Multi(v) if v.len() == 16));
        let specs = vec!["0-0"; MAX_RANGE_SPECS + 1].join(",");
        assert_eq!(p(&format!("bytes={specs}"), 100), Full);
        assert_eq!(p("bytes=5-2", 10), Full);
        assert_eq!(p("bytes=x-2", 10), Full);
        assert_eq!(p("bytes=+1-2", 10), Full);
        assert_eq!(p("items=0-1", 10), Full);
        assert_eq!(p("bytes=", 10), Full);
        assert_eq!(p("bytes=99999999999999999999999-", 10), Full);
    }

    #[test]
    fn multipart_layout() {
        let m = Multipart::new(&[(0, 1), (5, 9)], 10, "text/plain");
        assert!(m
            .content_type
            .starts_with("multipart/byteranges; boundary="));
        let b = &m.content_type[31..];
        assert_eq!(b.len(), 32);
        assert_eq!(m.parts.len(), 3);
        assert!(m.parts[0].0.starts_with(&format!("--{b}\r\n")));
        assert!(m.parts[0].0.contains("content-range: bytes 0-1/10\r\n\r\n"));
        assert!(m.parts[1].0.starts_with(&format!("\r\n--{b}\r\n")));
        assert_eq!(m.parts[1].1, Some((5, 5)));
        assert_eq!(m.parts[2], (format!("\r\n--{b}--\r\n"), None));
        let total: u64 = m
            .parts
            .iter()
            .map(|(h, r)| h.len() as u64 + r.map_or(0, |r| r.1))
            .sum();
        assert_eq!(m.len, total);
    }

    #[test]
    fn validators() {
        let e = "\"5-abc\"";
        assert!(none_match(b"\"5-abc\"", e));
        assert!(none_match(b"W/\"5-abc\"", e));
        assert!(none_match(b"\"x\", \"5-abc\"", e));
        assert!(none_match(b"*", e));
        assert!(!none_match(b"\"5-abd\"", e));
        assert!(!none_match(b"", e));
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777
        let d = b"Sun, 06 Nov 1994 08:49:37 GMT";
        assert!(not_modified_since(d, 784_111_777));
        assert!(not_modified_since(d, 784_111_000));
        assert!(!not_modified_since(d, 784_111_778));
        assert!(!not_modified_since(b"garbage", 0));
        let dir = std::env::temp_dir().join(format!("h2o-files-v-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.txt"), b"hello").unwrap();
        let d = DocRoot::new(&dir).unwrap();
        let f = d.resolve("/f.txt").unwrap();
        assert!(f.etag().starts_with("\"5-"), "{}", f.etag());
        let lm = f.last_modified().unwrap();
        assert!(lm.ends_with(" GMT"), "{lm}");
        assert!(not_modified_since(lm.as_bytes(), f.mtime_secs().unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lookup_stays_under_root() {
        let dir = std::env::temp_dir().join(format!("h2o-files-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), b"hello").unwrap();
        std::fs::write(root.join("sub/index.html"), b"<p>").unwrap();
        std::fs::write(dir.join("secret"), b"no").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("secret"), root.join("link")).unwrap();
        let d = DocRoot::new(&root).unwrap();
        match d.lookup("/a.txt") {
            Lookup::Found {
                len, content_type, ..
            } => {
                assert_eq!(len, 5);
                assert!(content_type.starts_with("text/plain"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(d.lookup("/sub/"), Lookup::Found { len: 3, .. }));
        assert!(matches!(d.lookup("/"), Lookup::NotFound));
        assert!(matches!(d.lookup("/missing"), Lookup::NotFound));
        assert!(matches!(d.lookup("/../secret"), Lookup::BadRequest));
        #[cfg(unix)]
        assert!(matches!(d.lookup("/link"), Lookup::NotFound));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
