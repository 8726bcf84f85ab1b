//! Static file lookup for `h2o serve`: request path → file under the document
//! root, with path-traversal refusal and a small content-type map.
//!
//! No protocol logic here: this module maps a `:path` to a [`Lookup`] and the
//! server adapter turns that into a response through the core.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Outcome of resolving a request path against the document root.
#[derive(Debug)]
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
        let segments = match split_path(request_path) {
            Some(s) => s,
            None => return Lookup::BadRequest,
        };
        let mut candidate = self.root.clone();
        for seg in &segments {
            candidate.push(seg);
        }
        // Canonicalize to resolve symlinks, then require the result to stay
        // under the root.
        let mut real = match candidate.canonicalize() {
            Ok(p) => p,
            Err(_) => return Lookup::NotFound,
        };
        if !real.starts_with(&self.root) {
            return Lookup::NotFound;
        }
        if real.is_dir() {
            real.push("index.html");
            real = match real.canonicalize() {
                Ok(p) if p.starts_with(&self.root) => p,
                _ => return Lookup::NotFound,
            };
        }
        let file = match File::open(&real) {
            Ok(f) => f,
            Err(_) => return Lookup::NotFound,
        };
        let meta = match file.metadata() {
            Ok(m) if m.is_file() => m,
            _ => return Lookup::NotFound,
        };
        Lookup::Found {
            file,
            len: meta.len(),
            content_type: content_type(&real),
        }
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
