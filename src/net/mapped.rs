//! Read-only memory mappings of served files, so the output queue
//! ([`super::out`]) can hand many DATA frame headers and file ranges to the
//! kernel in one vectored write (`sendmsg` over `mmap`ed pages) instead of a
//! header write plus a `sendfile(2)` per 16 KiB frame.
//!
//! The mapping is never read from Rust: no `&[u8]` into it is ever made (the
//! file may change under us). Only raw `iovec`s pointing into it are passed
//! to `sendmsg`, so the kernel is the only reader. If the file shrinks while
//! mapped, the kernel's copy from the vanished pages fails with `EFAULT`
//! (a kernel access, not a `SIGBUS` in this process), which the output queue
//! reports as an error and the server turns into a dropped connection, as it
//! does for a short `sendfile`.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::rc::Rc;

/// Mappings up to this size are prefaulted when made.
pub const POPULATE_MAX: usize = 16 << 20;

/// A `PROT_READ`, `MAP_PRIVATE` mapping of the first `len` bytes of a file,
/// with the file it maps (unmapped on drop).
#[derive(Debug)]
pub struct MappedFile {
    file: Rc<File>,
    ptr: NonNull<libc::c_void>,
    len: usize,
}

impl MappedFile {
    /// Maps the first `len` bytes of `file`. Up to [`POPULATE_MAX`] the pages
    /// are prefaulted (`MAP_POPULATE`: the sends take no fault per page);
    /// larger files are faulted in as they are sent, so mapping a huge file
    /// does not read all of it at once. `len` must be the file's length (or
    /// less) and more than zero.
    #[allow(unsafe_code)]
    pub fn new(file: Rc<File>, len: u64) -> io::Result<MappedFile> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "mapping length"))?;
        // SAFETY: a fresh mapping (addr null: the kernel picks the place) of
        // an open descriptor; it aliases no Rust object, and Rust never reads
        // it (only the kernel does, through iovecs given to sendmsg).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                if len <= POPULATE_MAX {
                    libc::MAP_PRIVATE | libc::MAP_POPULATE
                } else {
                    libc::MAP_PRIVATE
                },
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(MappedFile { file, ptr, len })
    }

    /// The mapped file (for copies when the writer cannot use the mapping).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Mapped bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never empty (a zero-length mapping is refused by [`MappedFile::new`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// An `iovec` over `len` mapped bytes from `offset` (clamped to the
    /// mapping, so it never points past it).
    pub(crate) fn iovec(&self, offset: usize, len: usize) -> libc::iovec {
        let offset = offset.min(self.len);
        let len = len.min(self.len - offset);
        libc::iovec {
            iov_base: self.ptr.as_ptr().cast::<u8>().wrapping_add(offset).cast(),
            iov_len: len,
        }
    }
}

impl Drop for MappedFile {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly the mapping made in `new`, unmapped
        // only here; no iovec into it outlives the queue item holding this Rc.
        unsafe {
            libc::munmap(self.ptr.as_ptr(), self.len);
        }
    }
}
