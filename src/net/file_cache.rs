//! The server's per-worker file cache: open files, their metadata, the
//! prebuilt head of the full `200` response, and the content of files up to
//! [`SMALL_FILE`] bytes, for [`super::server::ServerConfig::file_cache_ttl`].
//!
//! A hit re-checks length and mtime with `fstat` when its last check is older
//! than [`REVALIDATE`], so in-place changes show within 10 ms and a file
//! replaced by rename within the TTL. Path resolution (and its security
//! checks) is [`super::files::DocRoot::resolve`].

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};

use super::files::{DocRoot, FileInfo, Lookup};
use super::mapped::MappedFile;

/// Files up to this size have their content cached (with the metadata).
pub const SMALL_FILE: u64 = 64 << 10;
/// A cached file's length and mtime are re-checked (fstat) when its last
/// check is older than this.
pub const REVALIDATE: Duration = Duration::from_millis(10);
/// Entries of one cache (all are dropped when it is full).
const CACHE_CAP: usize = 1024;

/// Cached metadata (and, for small files, content) of one path.
pub(crate) struct CachedFile {
    pub(crate) file: Rc<File>,
    pub(crate) len: u64,
    pub(crate) etag: HeaderValue,
    pub(crate) etag_str: String,
    pub(crate) last_modified: Option<HeaderValue>,
    pub(crate) mtime_secs: Option<u64>,
    pub(crate) modified: Option<std::time::SystemTime>,
    /// Whole content, for files up to [`SMALL_FILE`].
    pub(crate) content: Option<Bytes>,
    pub(crate) at: Instant,
    /// Last time length and mtime were re-checked.
    pub(crate) checked: Instant,
    /// Header fields of the full 200 response.
    pub(crate) head200: http::HeaderMap,
    /// Read-only mapping of the whole file, made on first use
    /// ([`CachedFile::mapped`]); `None` inside when mapping failed.
    map: OnceCell<Option<Rc<MappedFile>>>,
}

impl CachedFile {
    /// The file mapped read-only (made once per entry, shared by every
    /// response from it); `None` for empty files or when `mmap` fails (the
    /// caller falls back to `sendfile`).
    pub(crate) fn mapped(&self) -> Option<Rc<MappedFile>> {
        self.map
            .get_or_init(|| {
                MappedFile::new(Rc::clone(&self.file), self.len)
                    .ok()
                    .map(Rc::new)
            })
            .clone()
    }

    fn new(info: FileInfo, now: Instant) -> io::Result<CachedFile> {
        let etag_str = info.etag();
        let content = if info.len <= SMALL_FILE {
            let mut v = vec![0u8; info.len as usize];
            info.file.read_exact_at(&mut v, 0)?;
            Some(Bytes::from(v))
        } else {
            None
        };
        let etag = HeaderValue::from_str(&etag_str).expect("etag is visible ASCII");
        let last_modified = info
            .last_modified()
            .and_then(|s| HeaderValue::from_str(&s).ok());
        let mut head200 = http::HeaderMap::with_capacity(8);
        head200.insert(header::SERVER, HeaderValue::from_static("h2o"));
        head200.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(info.content_type),
        );
        head200.insert(header::CONTENT_LENGTH, HeaderValue::from(info.len));
        head200.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        head200.insert(header::ETAG, etag.clone());
        if let Some(lm) = &last_modified {
            head200.insert(header::LAST_MODIFIED, lm.clone());
        }
        Ok(CachedFile {
            etag,
            last_modified,
            head200,
            mtime_secs: info.mtime_secs(),
            modified: info.modified,
            len: info.len,
            file: Rc::new(info.file),
            etag_str,
            content,
            at: now,
            checked: now,
            map: OnceCell::new(),
        })
    }
}

/// Path → [`CachedFile`] of one worker (not shared: `Rc` files, no locks).
#[derive(Default)]
pub(crate) struct FileCache {
    entries: HashMap<String, CachedFile>,
}

impl FileCache {
    /// Cached file for `path` (query and fragment ignored), resolved under
    /// `root` and cached on a miss or when stale; `ttl` zero disables caching.
    pub(crate) fn lookup(
        &mut self,
        root: &DocRoot,
        path: &str,
        ttl: Duration,
        now: Instant,
    ) -> Result<&CachedFile, Lookup> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        // Fresh: young enough (a file replaced by rename is seen after the TTL)
        // and unchanged in place (an fstat, at most every REVALIDATE: same
        // length and mtime).
        let fresh = ttl > Duration::ZERO
            && self.entries.get_mut(path).is_some_and(|e| {
                if now.duration_since(e.at) >= ttl {
                    return false;
                }
                if now.duration_since(e.checked) < REVALIDATE {
                    return true;
                }
                e.checked = now;
                e.file
                    .metadata()
                    .is_ok_and(|m| m.len() == e.len && m.modified().ok() == e.modified)
            });
        if !fresh {
            let info = root.resolve(path)?;
            let entry = CachedFile::new(info, now).map_err(|_| Lookup::NotFound)?;
            if self.entries.len() >= CACHE_CAP {
                self.entries.clear();
            }
            self.entries.insert(path.to_owned(), entry);
        }
        Ok(self.entries.get(path).expect("inserted above"))
    }
}
