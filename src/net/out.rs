//! The server's output queue: what a connection turn produced, waiting for
//! the socket. Consecutive `Bytes` and mapped file ranges ([`MappedFile`]:
//! DATA payloads pointing into a read-only mapping of the file) leave in one
//! vectored write (`sendmsg`, at most [`MAX_IOV`] slices), so a 1 MiB body
//! in 16 KiB frames is one system call, not a header write plus a
//! `sendfile(2)` per frame; plain file ranges go out with `sendfile`.
//! Short writes keep the rest for the next writable event.
//! Used by the HTTP/2 server ([`super::server`]) and the HTTP/1.1 / raw
//! WebSocket path ([`super::ws`]); [`WriteSide`] lets tests count calls and
//! force short writes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use bytes::{Buf, Bytes};

use super::mapped::MappedFile;

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
    /// One vectored write of bytes and mapped file ranges (`segs` is not
    /// empty). The default writes the leading run of bytes with
    /// [`WriteSide::writev`], or copies a leading mapped range out of its
    /// file (`pread`) and writes that: correct for any writer, one system
    /// call only where the writer overrides it ([`SockWriter`]).
    fn write_segs(&mut self, segs: &[Seg<'_>], more: bool) -> io::Result<usize> {
        let mut iov = [IoSlice::new(&[]); MAX_IOV];
        let mut n = 0;
        for s in segs.iter().take(MAX_IOV) {
            match s {
                Seg::Bytes(b) => {
                    iov[n] = IoSlice::new(b);
                    n += 1;
                }
                Seg::Mapped { .. } => break,
            }
        }
        if n > 0 {
            return self.writev(&iov[..n], more || n < segs.len());
        }
        let Some(Seg::Mapped { map, offset, len }) = segs.first() else {
            return Ok(0);
        };
        let mut buf = vec![0u8; (*len).min(COPY_PIECE)];
        let got = std::os::unix::fs::FileExt::read_at(map.file(), &mut buf, *offset as u64)?;
        if got == 0 {
            return Ok(0); // the file shrank: the queue reports UnexpectedEof
        }
        self.writev(&[IoSlice::new(&buf[..got])], more || segs.len() > 1)
    }
}

/// Largest copy the default [`WriteSide::write_segs`] makes of a mapped range.
const COPY_PIECE: usize = 256 << 10;

/// One piece of a vectored write ([`WriteSide::write_segs`]).
#[derive(Clone, Copy, Debug)]
pub enum Seg<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// `len` bytes of a mapped file from `offset`.
    Mapped {
        /// The mapping.
        map: &'a MappedFile,
        /// Position in the file.
        offset: usize,
        /// Byte count.
        len: usize,
    },
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
    /// `len` bytes of a mapped file from `offset`, gathered into the
    /// vectored write with the bytes around them.
    Mapped {
        /// The mapping.
        map: Rc<MappedFile>,
        /// Position in the file (and the mapping).
        offset: usize,
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

    /// Frees the item list's memory when nothing is queued (an idle
    /// connection); it grows again on the next push.
    pub fn release_idle_memory(&mut self) {
        if self.items.is_empty() {
            self.items = VecDeque::new();
        }
    }

    /// Shrinks the item list to room for `keep` items when nothing is queued
    /// and a burst grew it beyond twice that.
    pub fn trim(&mut self, keep: usize) {
        if self.items.is_empty() && self.items.capacity() > 2 * keep {
            self.items.shrink_to(keep);
        }
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

    /// Appends a range of a mapped file (clamped to the mapping).
    pub fn push_mapped(&mut self, map: Rc<MappedFile>, offset: u64, len: usize) {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(map.len());
        let len = len.min(map.len() - offset);
        if len > 0 {
            self.len += len;
            self.items.push_back(Out::Mapped { map, offset, len });
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
                Some(_) => {
                    let mut segs = [Seg::Bytes(&[]); MAX_IOV];
                    let mut n = 0;
                    for it in self.items.iter().take(MAX_IOV) {
                        segs[n] = match it {
                            Out::Bytes(b) => Seg::Bytes(b),
                            Out::Mapped { map, offset, len } => Seg::Mapped {
                                map,
                                offset: *offset,
                                len: *len,
                            },
                            Out::File { .. } => break,
                        };
                        n += 1;
                    }
                    let more = self.items.len() > n;
                    w.write_segs(&segs[..n], more)
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
                    Some(Out::File { .. } | Out::Mapped { .. }) => {
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
                    Out::Mapped { offset, len, .. } => {
                        if *len <= n {
                            n -= *len;
                            self.items.pop_front();
                        } else {
                            *offset += n;
                            *len -= n;
                            n = 0;
                        }
                    }
                }
            }
        }
    }
}

/// [`WriteSide`] of a raw socket descriptor (`sendmsg` + `sendfile`;
/// mapped ranges go into the same `sendmsg` as the bytes around them).
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

    fn write_segs(&mut self, segs: &[Seg<'_>], more: bool) -> io::Result<usize> {
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut iov = [empty; MAX_IOV];
        let n = segs.len().min(MAX_IOV);
        for (v, s) in iov.iter_mut().zip(&segs[..n]) {
            *v = match s {
                Seg::Bytes(b) => libc::iovec {
                    iov_base: b.as_ptr() as *mut libc::c_void,
                    iov_len: b.len(),
                },
                Seg::Mapped { map, offset, len } => map.iovec(*offset, *len),
            };
        }
        // SAFETY: an all-zero msghdr is valid (no name, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = n as _;
        let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
        // Every iovec points into a borrowed byte slice or into a live
        // mapping (`MappedFile::iovec` stays inside it), all borrowed for the
        // whole call; the kernel only reads them (a mapped page that vanished
        // with a truncated file makes the call fail with EFAULT).
        // SAFETY: iovecs valid for reads (above); self.0 an open socket we own.
        let r = unsafe { libc::sendmsg(self.0, &msg, flags) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
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

/// Send buffer size asked for on loopback connections ([`size_send_buffer`];
/// Linux doubles it for bookkeeping: 512 KiB of socket memory).
pub const LOOPBACK_SNDBUF: usize = 256 << 10;

/// Fixes the send buffer of a socket whose peer is on a loopback address at
/// [`LOOPBACK_SNDBUF`]; other sockets keep the kernel's autotuning. On
/// loopback the round trip is microseconds, so 512 KiB of socket memory
/// covers the bandwidth-delay product many times over, while the autotuned
/// buffer grows to 4 MiB (`tcp_wmem`) and cycles more memory than the CPU
/// caches hold: with it, both the server's copy into the socket and the
/// receiver's copy out of it ran from colder memory (BENCHMARKS.md, issue
/// 12: 1 MiB responses took 0.13 instead of 0.19 s of server CPU per GB and
/// h2load 0.17 instead of 0.23). Remote peers are left alone: a fixed
/// buffer would cap a long-distance transfer at buffer / round trip.
/// Returns whether the buffer was set.
pub(crate) fn size_send_buffer(sock: &impl AsRawFd, peer: Option<std::net::SocketAddr>) -> bool {
    if !peer.is_some_and(|p| p.ip().is_loopback()) {
        return false;
    }
    let v = LOOPBACK_SNDBUF as libc::c_int;
    #[allow(unsafe_code)]
    // SAFETY: `v` is a live c_int and the length passed is its size; the
    // descriptor is borrowed open for the call; SO_SNDBUF only reads `v`.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    r == 0
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
        fn write_segs(&mut self, segs: &[Seg<'_>], more: bool) -> io::Result<usize> {
            if !segs.iter().any(|s| matches!(s, Seg::Mapped { .. })) {
                let v: Vec<IoSlice<'_>> = segs
                    .iter()
                    .map(|s| match s {
                        Seg::Bytes(b) => IoSlice::new(b),
                        Seg::Mapped { .. } => unreachable!(),
                    })
                    .collect();
                return self.writev(&v, more);
            }
            self.gate()?;
            self.calls.push("segs");
            let mut n = 0;
            for s in segs {
                let mut piece = match s {
                    Seg::Bytes(b) => b.to_vec(),
                    Seg::Mapped { map, offset, len } => {
                        let mut v = vec![0u8; *len];
                        let got = map.file().read_at(&mut v, *offset as u64)?;
                        v.truncate(got);
                        v
                    }
                };
                piece.truncate(self.cap - n);
                n += piece.len();
                self.data.extend_from_slice(&piece);
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
        // Payloads above 256 bytes (smaller ones are staged with their
        // frame headers, see `conn::send::COPY_PAYLOAD_MAX`): a chunk each.
        for i in 0..20u8 {
            s.send_data(id, Bytes::from(vec![i; 300]), i == 19).unwrap();
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

    fn test_file(tag: &str, content: &[u8]) -> (std::path::PathBuf, Rc<File>) {
        let dir = std::env::temp_dir().join(format!("h2o-outq-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, content).unwrap();
        let file = Rc::new(File::open(&path).unwrap());
        (dir, file)
    }

    #[test]
    fn mapped_ranges_join_the_vectored_write() {
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let (dir, file) = test_file("map", &content);
        let map = Rc::new(MappedFile::new(Rc::clone(&file), content.len() as u64).unwrap());
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        for k in 0..6usize {
            let hdr = vec![0xB0 + k as u8; 9];
            want.extend_from_slice(&hdr);
            q.push_bytes(Bytes::from(hdr));
            let off = k * 16_384;
            let len = 16_384.min(content.len() - off);
            want.extend_from_slice(&content[off..off + len]);
            q.push_mapped(Rc::clone(&map), off as u64, len);
        }
        // Clamped to the mapping: nothing past the file's end is queued.
        q.push_mapped(Rc::clone(&map), 99_990, 50);
        want.extend_from_slice(&content[99_990..]);
        assert_eq!(q.len(), want.len());
        let mut f = Fake::new(usize::MAX);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        assert_eq!(f.calls, ["segs"]);
        assert_eq!(f.data, want);
        // Short writes stop inside mapped ranges and resume exactly.
        let mut q = OutQueue::default();
        q.push_bytes(Bytes::from_static(b"head"));
        q.push_mapped(Rc::clone(&map), 10, 50_000);
        q.push_bytes(Bytes::from_static(b"tail"));
        let mut f = Fake::new(777);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        let mut w2 = b"head".to_vec();
        w2.extend_from_slice(&content[10..50_010]);
        w2.extend_from_slice(b"tail");
        assert_eq!(f.data, w2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Cross-check of the unsafe path: `SockWriter::write_segs` (sendmsg
    /// over iovecs into the mapping) delivers the same bytes as reading the
    /// file, through a real loopback socket, with short writes.
    #[test]
    fn sock_writer_mapped_matches_file_content() {
        use std::io::Read;
        use std::net::{TcpListener, TcpStream};
        let content: Vec<u8> = (0..1_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let (dir, file) = test_file("sock", &content);
        let map = Rc::new(MappedFile::new(Rc::clone(&file), content.len() as u64).unwrap());
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        let mut off = 0usize;
        let mut k = 0u8;
        while off < content.len() {
            let len = (16_384 + k as usize * 7).min(content.len() - off);
            let hdr = vec![k; 9];
            want.extend_from_slice(&hdr);
            q.push_bytes(Bytes::from(hdr));
            want.extend_from_slice(&content[off..off + len]);
            q.push_mapped(Rc::clone(&map), off as u64, len);
            off += len;
            k = k.wrapping_add(1);
        }
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let total = want.len();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::with_capacity(total);
            let mut buf = vec![0u8; 64 << 10];
            while got.len() < total {
                let n = rx.read(&mut buf).unwrap();
                assert!(n > 0, "early EOF");
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        tx.set_nonblocking(true).unwrap();
        let mut w = SockWriter(tx.as_raw_fd());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while q.flush(&mut w).unwrap() == Flush::Blocked {
            assert!(std::time::Instant::now() < deadline, "stalled");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let got = reader.join().unwrap();
        assert!(got == want, "bytes differ from the file's");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A mapping larger than `POPULATE_MAX` (not prefaulted) sends the
    /// same bytes as the file holds.
    #[test]
    fn large_unpopulated_mapping_matches_file_content() {
        use std::io::{Read, Seek, SeekFrom, Write};
        use std::net::{TcpListener, TcpStream};
        let size = crate::net::mapped::POPULATE_MAX as u64 + (1 << 20);
        let (dir, _) = test_file("large", b"");
        let path = dir.join("f");
        let tail: Vec<u8> = (0..200_000u32).map(|i| (i % 199) as u8).collect();
        {
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.set_len(size).unwrap(); // sparse: zeros up to the tail
            f.seek(SeekFrom::Start(size - tail.len() as u64)).unwrap();
            f.write_all(&tail).unwrap();
        }
        let file = Rc::new(File::open(&path).unwrap());
        let map = Rc::new(MappedFile::new(file, size).unwrap());
        let mut q = OutQueue::default();
        q.push_bytes(Bytes::from_static(b"hdr"));
        q.push_mapped(Rc::clone(&map), 4096, 5000);
        q.push_mapped(Rc::clone(&map), size - tail.len() as u64, tail.len());
        let mut want = b"hdr".to_vec();
        want.extend_from_slice(&[0u8; 5000]);
        want.extend_from_slice(&tail);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let total = want.len();
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; total];
            rx.read_exact(&mut got).unwrap();
            got
        });
        let mut w = SockWriter(tx.as_raw_fd());
        assert_eq!(q.flush(&mut w).unwrap(), Flush::Done);
        assert!(
            reader.join().unwrap() == want,
            "bytes differ from the file's"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A mapped file truncated under the queue: an error (EFAULT from the
    /// kernel's copy, or a short write then the error), never a crash or
    /// bytes that are not the file's.
    #[test]
    fn truncated_mapped_file_is_an_error() {
        use std::io::Read;
        use std::net::{TcpListener, TcpStream};
        let content = vec![7u8; 256 << 10];
        let (dir, file) = test_file("trunc", &content);
        let map = Rc::new(MappedFile::new(Rc::clone(&file), content.len() as u64).unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("f"))
            .unwrap()
            .set_len(0)
            .unwrap();
        let mut q = OutQueue::default();
        q.push_bytes(Bytes::from_static(b"head"));
        q.push_mapped(Rc::clone(&map), 0, content.len());
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let _ = rx.read_to_end(&mut got);
            got
        });
        let mut w = SockWriter(tx.as_raw_fd());
        let r = q.flush(&mut w);
        assert!(r.is_err(), "{r:?}");
        drop(tx);
        let got = reader.join().unwrap();
        assert!(got.starts_with(b"head") || got.is_empty());
        assert!(
            got.iter().skip(4).all(|&b| b == 7),
            "bytes not from the file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Cross-check of `size_send_buffer`'s setsockopt: the kernel reports
    /// the size asked for (doubled, as Linux does) on a loopback socket, and
    /// a socket whose peer is not loopback keeps its autotuned buffer.
    #[test]
    fn loopback_send_buffer_is_sized() {
        use std::net::{TcpListener, TcpStream};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, peer) = l.accept().unwrap();
        let sndbuf = |s: &TcpStream| {
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: v and len are live and sized for SO_SNDBUF's int.
            #[allow(unsafe_code)]
            let r = unsafe {
                libc::getsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUF,
                    (&mut v as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            assert_eq!(r, 0);
            v as usize
        };
        let before = sndbuf(&s);
        assert!(!size_send_buffer(&s, None));
        let remote: std::net::SocketAddr = "192.0.2.1:443".parse().unwrap();
        assert!(!size_send_buffer(&s, Some(remote)));
        assert_eq!(sndbuf(&s), before, "non-loopback peer: untouched");
        assert!(size_send_buffer(&s, Some(peer)));
        assert_eq!(sndbuf(&s), 2 * LOOPBACK_SNDBUF);
    }
}
