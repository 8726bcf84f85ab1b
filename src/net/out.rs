//! The server's output queue: what a connection turn produced, waiting for
//! the socket. Consecutive `Bytes` leave in one vectored write (`sendmsg`,
//! at most [`MAX_IOV`] slices), file ranges (zero-copy DATA payloads) with
//! `sendfile(2)`; short writes keep the rest for the next writable event.
//! Used by the HTTP/2 server ([`super::server`]) and the HTTP/1.1 / raw
//! WebSocket path ([`super::ws`]); [`WriteSide`] lets tests count calls and
//! force short writes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use bytes::{Buf, Bytes};

/// At most this many slices per `writev`.
pub const MAX_IOV: usize = 128;

/// The write side of a socket, as the output queue uses it (a trait so tests
/// can count calls and force short writes).
pub trait WriteSide {
    /// One vectored write; `more`: further output follows right away
    /// (`MSG_MORE`, so a frame header and its `sendfile` payload share segments).
    fn writev(&mut self, bufs: &[IoSlice<'_>], more: bool) -> io::Result<usize>;
    /// Writes up to `len` bytes of `file` from `offset` (`sendfile(2)`).
    fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize>;
}

/// One queued piece of output.
#[derive(Debug)]
pub enum Out {
    /// Bytes to write.
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset`, sent with `sendfile`.
    File {
        /// The file.
        file: Rc<File>,
        /// Position in the file.
        offset: u64,
        /// Bytes left.
        len: usize,
    },
}

/// Outcome of [`OutQueue::flush`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Everything was written.
    Done,
    /// The socket is full; the rest stays queued.
    Blocked,
}

/// Output waiting for the socket: `Bytes` slices are gathered into one
/// `writev`, file ranges go out with `sendfile`.
#[derive(Debug, Default)]
pub struct OutQueue {
    items: VecDeque<Out>,
    len: usize,
}

impl OutQueue {
    /// Queued bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends bytes.
    pub fn push_bytes(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.items.push_back(Out::Bytes(b));
        }
    }

    /// Appends a file range.
    pub fn push_file(&mut self, file: Rc<File>, offset: u64, len: usize) {
        if len > 0 {
            self.len += len;
            self.items.push_back(Out::File { file, offset, len });
        }
    }

    /// Writes as much as the socket takes: consecutive `Bytes` in one
    /// `writev`, file ranges with `sendfile`. Short writes keep the rest.
    /// A file that ends early is an `UnexpectedEof` error (the frame header
    /// promised those bytes: the connection must be dropped).
    pub fn flush<W: WriteSide>(&mut self, w: &mut W) -> io::Result<Flush> {
        loop {
            let res = match self.items.front() {
                None => return Ok(Flush::Done),
                Some(Out::File { file, offset, len }) => w.sendfile(file, *offset, *len),
                Some(Out::Bytes(_)) => {
                    let mut iov = [IoSlice::new(&[]); MAX_IOV];
                    let mut n = 0;
                    for it in &self.items {
                        match it {
                            Out::Bytes(b) if n < MAX_IOV => {
                                iov[n] = IoSlice::new(b);
                                n += 1;
                            }
                            _ => break,
                        }
                    }
                    let more = self.items.len() > n;
                    w.writev(&iov[..n], more)
                }
            };
            let mut n = match res {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(match self.items.front() {
                    Some(Out::File { .. }) => {
                        io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than announced")
                    }
                    _ => io::Error::new(io::ErrorKind::WriteZero, "socket took no bytes"),
                });
            }
            self.len -= n;
            while n > 0 {
                let front = self.items.front_mut().expect("wrote queued bytes");
                match front {
                    Out::Bytes(b) => {
                        if b.len() <= n {
                            n -= b.len();
                            self.items.pop_front();
                        } else {
                            b.advance(n);
                            n = 0;
                        }
                    }
                    Out::File { offset, len, .. } => {
                        if *len <= n {
                            n -= *len;
                            self.items.pop_front();
                        } else {
                            *offset += n as u64;
                            *len -= n;
                            n = 0;
                        }
                    }
                }
            }
        }
    }
}

/// [`WriteSide`] of a raw socket descriptor (`sendmsg` + `sendfile`).
pub(crate) struct SockWriter(pub(crate) RawFd);

// The only syscalls of the output path; each block has its SAFETY note.
#[allow(unsafe_code)]
impl WriteSide for SockWriter {
    fn writev(&mut self, bufs: &[IoSlice<'_>], more: bool) -> io::Result<usize> {
        // SAFETY: an all-zero msghdr is valid (no name, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len() as _;
        let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
        // SAFETY: IoSlice is ABI-compatible with iovec (std guarantees it on
        // unix); the slices outlive the call; msg points to no other memory;
        // self.0 is an open socket owned by the caller for the whole call.
        let n = unsafe { libc::sendmsg(self.0, &msg, flags) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut off = offset as libc::off_t;
        // SAFETY: both descriptors are open for the whole call (`file` is
        // borrowed, the socket is owned by the caller); `off` is a valid,
        // exclusively borrowed off_t the kernel updates.
        let n = unsafe { libc::sendfile(self.0, file.as_raw_fd(), &mut off, len.min(0x7fff_f000)) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Chunk, Config};
    use std::os::unix::fs::FileExt;

    /// Records every call; accepts at most `cap` bytes per call.
    struct Fake {
        cap: usize,
        calls: Vec<&'static str>,
        data: Vec<u8>,
        block_after: Option<usize>,
    }

    impl Fake {
        fn new(cap: usize) -> Fake {
            Fake {
                cap,
                calls: Vec::new(),
                data: Vec::new(),
                block_after: None,
            }
        }
        fn gate(&mut self) -> io::Result<()> {
            if self.block_after.is_some_and(|n| self.calls.len() >= n) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        }
    }

    impl WriteSide for Fake {
        fn writev(&mut self, bufs: &[IoSlice<'_>], _more: bool) -> io::Result<usize> {
            self.gate()?;
            self.calls.push("writev");
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.cap - n);
                self.data.extend_from_slice(&b[..take]);
                n += take;
                if n == self.cap {
                    break;
                }
            }
            Ok(n)
        }
        fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
            self.gate()?;
            self.calls.push("sendfile");
            let mut v = vec![0u8; len.min(self.cap)];
            let n = file.read_at(&mut v, offset)?;
            self.data.extend_from_slice(&v[..n]);
            Ok(n)
        }
    }

    #[test]
    fn many_frames_leave_in_one_writev() {
        let mut p = crate::pair::Pair::new(Config::default(), Config::default());
        p.drive();
        let id = p
            .client
            .send_request(http::Request::get("http://x/").body(()).unwrap(), true)
            .unwrap();
        p.drive();
        let s = &mut p.server;
        s.send_response(id, http::Response::new(()), false).unwrap();
        for i in 0..20u8 {
            s.send_data(id, Bytes::from(vec![i; 100]), i == 19).unwrap();
        }
        s.ping([1; 8]);
        let mut chunks = Vec::new();
        let total = s.write_chunks_ext(
            std::time::Duration::ZERO,
            &mut chunks,
            crate::net::WRITE_BATCH,
        );
        assert!(chunks.len() > 3, "{}", chunks.len());
        let mut q = OutQueue::default();
        for ch in chunks {
            match ch {
                Chunk::Bytes(b) => q.push_bytes(b),
                Chunk::External { .. } => panic!("no external data queued"),
            }
        }
        let mut f = Fake::new(usize::MAX);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        assert_eq!(f.calls, ["writev"]);
        assert_eq!(f.data.len(), total);
        // Same bytes as the contiguous writer would give.
        assert!(q.is_empty());
    }

    #[test]
    fn short_writes_resume_exactly() {
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        for i in 0..50u8 {
            let b = vec![i; 1 + i as usize * 3];
            want.extend_from_slice(&b);
            q.push_bytes(Bytes::from(b));
        }
        // 7 bytes per call, and the socket "fills up" after 5 calls.
        let mut f = Fake::new(7);
        f.block_after = Some(5);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Blocked);
        assert_eq!(f.calls.len(), 5);
        assert_eq!(q.len(), want.len() - 35);
        f.block_after = None;
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        assert_eq!(f.data, want);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn file_ranges_interleave_with_bytes() {
        let dir = std::env::temp_dir().join(format!("h2o-outq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = Rc::new(File::open(&path).unwrap());
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        for k in 0..4u64 {
            let hdr = vec![0xA0 + k as u8; 9];
            want.extend_from_slice(&hdr);
            q.push_bytes(Bytes::from(hdr));
            let off = 100 + k * 2000;
            want.extend_from_slice(&content[off as usize..off as usize + 1500]);
            q.push_file(Rc::clone(&file), off, 1500);
        }
        let mut f = Fake::new(usize::MAX);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        assert_eq!(f.calls, ["writev", "sendfile"].repeat(4));
        assert_eq!(f.data, want);
        // Short writes inside files too.
        let mut q2 = OutQueue::default();
        q2.push_bytes(Bytes::from_static(b"head"));
        q2.push_file(Rc::clone(&file), 0, 10_000);
        q2.push_bytes(Bytes::from_static(b"tail"));
        let mut f = Fake::new(999);
        assert_eq!(q2.flush(&mut f).unwrap(), Flush::Done);
        let mut w2 = b"head".to_vec();
        w2.extend_from_slice(&content);
        w2.extend_from_slice(b"tail");
        assert_eq!(f.data, w2);
        // A file shorter than announced is an error, not a hang.
        let mut q3 = OutQueue::default();
        q3.push_file(file, 9_990, 20);
        let mut f = Fake::new(usize::MAX);
        assert_eq!(
            q3.flush(&mut f).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
