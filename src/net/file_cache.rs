//! The server's per-worker file cache: open files, their metadata, the
//! prebuilt head of the full `200` response, and the content of files up to
//! [`SMALL_FILE`] bytes, for [`super::server::ServerConfig::file_cache_ttl`].
//!
//! A hit re-checks length and mtime with `fstat` when its last check is older
//! than [`REVALIDATE`], so in-place changes show within 10 ms and a file
//! replaced by rename within the TTL. Path resolution (and its security
//! checks) is [`super::files::DocRoot::resolve`].
//!
//! Also the worker's reusable buffers for copied body pieces ([`read_piece`]):
//! a fresh 256 KiB allocation per piece made the allocator grow and trim the
//! heap around every piece (a `brk` pair and page faults per piece).

use std::cell::{OnceCell, RefCell};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::Arc;
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
    /// When the entry stops being fresh (cached + the TTL given then;
    /// `None`: never within an `Instant`'s range).
    stale_at: Option<Instant>,
    /// When length and mtime are next re-checked (last check + [`REVALIDATE`]).
    recheck_at: Instant,
    /// Header fields of the full 200 response, shared by every reply from
    /// this entry (an `Arc` clone instead of a `HeaderMap` clone and drop;
    /// an `Arc` because the HTTP/2 connection may keep the last one, see
    /// `Connection::send_response_shared`, and connections stay `Send`).
    pub(crate) head200: Arc<http::HeaderMap>,
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

    fn new(info: FileInfo, now: Instant, ttl: Duration) -> io::Result<CachedFile> {
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
            head200: Arc::new(head200),
            mtime_secs: info.mtime_secs(),
            modified: info.modified,
            len: info.len,
            file: Rc::new(info.file),
            etag_str,
            content,
            stale_at: now.checked_add(ttl),
            recheck_at: now + REVALIDATE,
            map: OnceCell::new(),
        })
    }
}

/// Path → [`CachedFile`] of one worker (not shared: `Rc` files, no locks).
#[derive(Default)]
pub(crate) struct FileCache {
    /// Keyed by the client's path, so the hasher is foldhash's seeded one
    /// (`fast::RandomState`: a random seed per map; cheaper than std's
    /// SipHash for short keys) rather than an unkeyed hash an attacker could
    /// collide; the map is also bounded ([`CACHE_CAP`]) and holds only paths
    /// that resolved to a file.
    entries: foldhash::HashMap<String, CachedFile>,
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
        // A byte scan: cheaper than `split` with a char pattern (UTF-8 decoding).
        let path = match path.bytes().position(|b| b == b'?' || b == b'#') {
            Some(end) => &path[..end],
            None => path,
        };
        // Fresh: young enough (a file replaced by rename is seen after the
        // TTL it was cached with) and unchanged in place (an fstat, at most
        // every REVALIDATE: same length and mtime). Deadlines are stored, so
        // a hit compares instants instead of subtracting them.
        let fresh = ttl > Duration::ZERO
            && self.entries.get_mut(path).is_some_and(|e| {
                if e.stale_at.is_some_and(|t| now >= t) {
                    return false;
                }
                if now < e.recheck_at {
                    return true;
                }
                e.recheck_at = now + REVALIDATE;
                e.file
                    .metadata()
                    .is_ok_and(|m| m.len() == e.len && m.modified().ok() == e.modified)
            });
        if !fresh {
            let info = root.resolve(path)?;
            let entry = CachedFile::new(info, now, ttl).map_err(|_| Lookup::NotFound)?;
            if self.entries.len() >= CACHE_CAP {
                self.entries.clear();
            }
            self.entries.insert(path.to_owned(), entry);
        }
        Ok(self.entries.get(path).expect("inserted above"))
    }
}

/// Idle piece buffers kept per thread (at most this many).
const POOL_CAP: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A piece buffer that goes back to its thread's pool when the last `Bytes`
/// over it is dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        // During thread teardown the pool may be gone: then the buffer is freed.
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                if p.len() < POOL_CAP {
                    p.push(buf);
                }
            }
        });
    }
}

/// Reads exactly `len` bytes of `file` from `offset` into a pooled buffer
/// (reused once the returned `Bytes` and its slices are dropped). A file
/// shorter than that is an `UnexpectedEof` error.
pub(crate) fn read_piece(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut buf = POOL
        .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
        .ok()
        .flatten()
        .unwrap_or_default();
    buf.clear();
    let res = pread_exact(file, &mut buf, offset, len);
    let piece = Pooled(buf);
    res?;
    Ok(Bytes::from_owner(piece))
}

/// Appends exactly `len` bytes of `file` from `offset` to the empty `buf`
/// with `pread(2)` straight into its spare capacity (no zero-filling of the
/// 256 KiB first, as `read_exact_at` on a zeroed buffer would need).
#[allow(unsafe_code)]
fn pread_exact(file: &File, buf: &mut Vec<u8>, offset: u64, len: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    buf.reserve(len);
    while buf.len() < len {
        let done = buf.len();
        let spare = buf.spare_capacity_mut();
        let want = (len - done).min(spare.len());
        let at = libc::off_t::try_from(offset + done as u64)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset"))?;
        // SAFETY: the kernel writes at most `want` bytes at `spare`'s start,
        // which is `want` or more bytes of this Vec's allocation that no one
        // else references; the descriptor is open (borrowed `file`).
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), want, at) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shorter than announced",
            ));
        }
        // SAFETY: pread initialized the first `n` (<= want) spare bytes.
        unsafe { buf.set_len(done + n as usize) };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_pieces_are_the_files_bytes_and_are_reused() {
        let dir = std::env::temp_dir().join(format!("h2o-pieces-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = File::open(&path).unwrap();
        let a = read_piece(&file, 0, 262_144).unwrap();
        assert_eq!(&a[..], &content[..262_144]);
        let tail = a.slice(100..200);
        let ptr = a.as_ptr();
        drop(a);
        // A slice still holds the buffer: a new piece gets another one.
        let b = read_piece(&file, 1000, 5000).unwrap();
        assert_eq!(&b[..], &content[1000..6000]);
        assert_eq!(&tail[..], &content[100..200]);
        drop(tail);
        drop(b);
        // Both buffers are back; the next piece reuses one, with new content.
        let c = read_piece(&file, 262_144, 37_856).unwrap();
        assert_eq!(&c[..], &content[262_144..]);
        let d = read_piece(&file, 7, 262_144).unwrap();
        assert_eq!(&d[..], &content[7..262_151]);
        assert!(
            c.as_ptr() == ptr || d.as_ptr() == ptr,
            "a pooled buffer was reused"
        );
        // Cross-check against read_exact_at at odd offsets and lengths.
        for (off, len) in [(0usize, 1usize), (1, 4095), (4097, 65_537), (299_999, 1)] {
            let mut want = vec![0u8; len];
            file.read_exact_at(&mut want, off as u64).unwrap();
            assert_eq!(&read_piece(&file, off as u64, len).unwrap()[..], &want[..]);
        }
        // Past the end: an error, and the buffer is not lost to the pool.
        assert_eq!(
            read_piece(&file, 299_000, 5000).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
