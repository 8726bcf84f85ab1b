//! The HPACK dynamic table (RFC 7541 §2.3.2, §4): FIFO of entries, size
//! accounting (`32 + name + value`, §4.1), eviction on insert and on size
//! updates (§4.3, §4.4).
//!
//! Entry bytes live in one `Vec<u8>` used as a sliding window: new entries are
//! appended, evictions only advance the head, and the live bytes are moved to
//! the front when the buffer is full and at least half of it is dead, so
//! compaction is amortised O(1) per inserted byte and a table in steady state
//! does not allocate. Every entry is contiguous, so lookups return plain slices.

use std::collections::VecDeque;

/// Per-entry overhead of §4.1.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Virtual position of the name in `buf` (physical + `base`).
    pos: u64,
    name_len: u32,
    value_len: u32,
}

#[derive(Debug)]
pub(crate) struct DynTable {
    buf: Vec<u8>,
    /// Virtual position of `buf[0]`; grows on compaction so entries never move.
    base: u64,
    /// Oldest first.
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// Number of entries ever evicted: absolute index of the oldest entry.
    evicted: u64,
}

impl DynTable {
    pub(crate) fn new(max_size: usize) -> Self {
        DynTable {
            buf: Vec::new(),
            base: 0,
            entries: VecDeque::new(),
            size: 0,
            max_size,
            evicted: 0,
        }
    }

    /// Sum of entry sizes (§4.1).
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    #[inline]
    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn slices(&self, e: &Entry) -> (&[u8], &[u8]) {
        let start = (e.pos - self.base) as usize;
        let mid = start + e.name_len as usize;
        (
            &self.buf[start..mid],
            &self.buf[mid..mid + e.value_len as usize],
        )
    }

    /// Entry `i` counting from the newest (0), i.e. HPACK index `62 + i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let n = self.entries.len();
        if i >= n {
            return None;
        }
        Some(self.slices(&self.entries[n - 1 - i]))
    }

    /// Absolute index the next inserted entry gets.
    #[inline]
    pub(crate) fn next_abs(&self) -> u64 {
        self.evicted + self.entries.len() as u64
    }

    /// Position from the newest (as for [`get`](Self::get)) of the entry with
    /// absolute index `abs` truncated to 32 bits, if it is still in the table
    /// (the table never holds 2^32 entries, so the distance to the next index
    /// is unambiguous).
    #[inline]
    pub(crate) fn relative32(&self, abs: u32) -> Option<usize> {
        let dist = (self.next_abs() as u32).wrapping_sub(abs) as usize;
        if dist == 0 || dist > self.entries.len() {
            return None;
        }
        Some(dist - 1)
    }

    /// Capacity of the byte buffer (for steady-state tests).
    #[cfg(test)]
    pub(crate) fn buf_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Capacity of the entry ring (for steady-state tests).
    #[cfg(test)]
    pub(crate) fn entries_capacity(&self) -> usize {
        self.entries.capacity()
    }

    fn evict_oldest(&mut self, on_evict: &mut impl FnMut(u64)) {
        if let Some(e) = self.entries.pop_front() {
            self.size -= ENTRY_OVERHEAD + e.name_len as usize + e.value_len as usize;
            on_evict(self.evicted);
            self.evicted += 1;
            if self.entries.is_empty() {
                self.base += self.buf.len() as u64;
                self.buf.clear();
            }
        }
    }

    /// Applies a new maximum size, evicting as needed (§4.3).
    pub(crate) fn set_max_size(&mut self, max_size: usize, mut on_evict: impl FnMut(u64)) {
        self.max_size = max_size;
        while self.size > max_size {
            self.evict_oldest(&mut on_evict);
        }
    }

    /// Adds an entry (§4.4), evicting older ones; an entry larger than the
    /// maximum size empties the table and is not added (returns false).
    /// `on_evict` gets the absolute index of every evicted entry.
    pub(crate) fn insert(
        &mut self,
        name: &[u8],
        value: &[u8],
        mut on_evict: impl FnMut(u64),
    ) -> bool {
        let bytes = name.len() + value.len();
        let size = ENTRY_OVERHEAD + bytes;
        if size > self.max_size {
            while !self.entries.is_empty() {
                self.evict_oldest(&mut on_evict);
            }
            return false;
        }
        while self.size + size > self.max_size {
            self.evict_oldest(&mut on_evict);
        }
        if self.buf.len() + bytes > self.buf.capacity() {
            if let Some(oldest) = self.entries.front() {
                let head = (oldest.pos - self.base) as usize;
                if head >= self.buf.len() / 2 {
                    self.buf.copy_within(head.., 0);
                    self.buf.truncate(self.buf.len() - head);
                    self.base += head as u64;
                }
            }
        }
        let pos = self.base + self.buf.len() as u64;
        self.buf.extend_from_slice(name);
        self.buf.extend_from_slice(value);
        self.entries.push_back(Entry {
            pos,
            name_len: name.len() as u32,
            value_len: value.len() as u32,
        });
        self.size += size;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_accounting_and_eviction() {
        let mut t = DynTable::new(100);
        assert!(t.insert(b"aaaa", b"bbbb", |_| panic!()));
        assert_eq!(t.size(), 40);
        assert!(t.insert(b"cccc", b"dddd", |_| panic!()));
        assert_eq!(t.size(), 80);
        let mut ev = Vec::new();
        assert!(t.insert(b"e", b"f", |a| ev.push(a)));
        assert_eq!(ev, [0]);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(0), Some((&b"e"[..], &b"f"[..])));
        assert_eq!(t.get(1), Some((&b"cccc"[..], &b"dddd"[..])));
        assert_eq!(t.get(2), None);
        assert_eq!(t.relative32(0), None);
        assert_eq!(t.relative32(1), Some(1));
        assert_eq!(t.relative32(2), Some(0));
        assert_eq!(t.relative32(3), None);
        assert_eq!(t.relative32(u32::MAX), None);
        // Too large: empties the table.
        assert!(!t.insert(&[b'x'; 60], &[b'y'; 10], |a| ev.push(a)));
        assert_eq!(ev, [0, 1, 2]);
        assert!(t.is_empty());
        assert_eq!(t.size(), 0);
        // Size update.
        t.insert(b"a", b"b", |_| {});
        t.insert(b"c", b"d", |_| {});
        t.set_max_size(34, |a| ev.push(a));
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(0), Some((&b"c"[..], &b"d"[..])));
        t.set_max_size(0, |_| {});
        assert!(t.is_empty());
    }

    #[test]
    fn long_run_compacts_without_growing() {
        let mut t = DynTable::new(4096);
        for i in 0..100_000u32 {
            let v = format!("value-{i}-{}", "z".repeat((i % 97) as usize));
            t.insert(b"name", v.as_bytes(), |_| {});
            assert_eq!(t.get(0).unwrap().1, v.as_bytes());
            assert!(t.size() <= 4096);
        }
        assert!(
            t.buf.capacity() <= 8 * 4096,
            "capacity {}",
            t.buf.capacity()
        );
    }
}
