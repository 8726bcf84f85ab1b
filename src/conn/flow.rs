//! Flow-control windows (RFC 9113 §5.2, §6.9): send credit granted by the peer and
//! receive credit we granted, with batched release of consumed receive credit.

use crate::frame::MAX_WINDOW;

/// Credit the peer granted us for sending. May go negative after the peer lowers
/// SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendWindow(i64);

impl SendWindow {
    pub(crate) fn new(initial: u32) -> Self {
        SendWindow(initial as i64)
    }

    /// Bytes that may be sent now.
    #[inline]
    pub(crate) fn available(&self) -> u32 {
        self.0.clamp(0, MAX_WINDOW as i64) as u32
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: u32) {
        self.0 -= n as i64;
    }

    /// Applies a WINDOW_UPDATE increment or a SETTINGS delta; `Err` when the
    /// window would exceed 2^31-1.
    pub(crate) fn adjust(&mut self, delta: i64) -> Result<(), ()> {
        let w = self.0 + delta;
        if w > MAX_WINDOW as i64 {
            return Err(());
        }
        self.0 = w;
        Ok(())
    }
}

/// Credit we granted the peer, and consumed-but-unreleased bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecvWindow {
    /// Bytes the peer may still send.
    window: i64,
    /// Window size we keep topping up to.
    target: u32,
    /// Bytes the application consumed that were not yet returned by WINDOW_UPDATE.
    unreleased: u32,
}

impl RecvWindow {
    /// `window`: credit the peer currently has; `target`: what releases top it up to.
    pub(crate) fn new(window: u32, target: u32) -> Self {
        RecvWindow {
            window: window as i64,
            target,
            unreleased: 0,
        }
    }

    /// Accounts `n` received bytes; `Err` when the peer overran its credit.
    #[inline]
    pub(crate) fn recv(&mut self, n: u32) -> Result<(), ()> {
        if n as i64 > self.window {
            return Err(());
        }
        self.window -= n as i64;
        Ok(())
    }

    /// Marks `n` bytes as consumed. Returns the WINDOW_UPDATE increment to send
    /// once at least half the target is consumed (so updates are batched).
    #[inline]
    pub(crate) fn release(&mut self, n: u32) -> Option<u32> {
        self.unreleased = self.unreleased.saturating_add(n);
        let room = self.target as i64 - self.window;
        if self.unreleased as i64 >= (self.target as i64 / 2).max(1) || room >= self.target as i64 {
            let inc = (self.unreleased as i64).min(MAX_WINDOW as i64 - self.window);
            self.unreleased = 0;
            if inc <= 0 {
                return None;
            }
            self.window += inc;
            return Some(inc as u32);
        }
        None
    }

    /// The window size releases top up to.
    pub(crate) fn target(&self) -> u32 {
        self.target
    }

    /// Received bytes not released yet (0 when no stream holds any).
    #[cfg(test)]
    pub(crate) fn held(&self) -> i64 {
        self.target as i64 - self.window - self.unreleased as i64
    }

    /// Raises the target to `target` and grants the difference at once.
    /// Returns the WINDOW_UPDATE increment (`None` when not larger).
    pub(crate) fn grow(&mut self, target: u32) -> Option<u32> {
        if target <= self.target {
            return None;
        }
        let inc = ((target - self.target) as i64).min(MAX_WINDOW as i64 - self.window);
        self.target = target;
        if inc <= 0 {
            return None;
        }
        self.window += inc;
        Some(inc as u32)
    }

    /// Applies a change of our SETTINGS_INITIAL_WINDOW_SIZE.
    pub(crate) fn adjust(&mut self, delta: i64, target: u32) {
        self.window += delta;
        self.target = target;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_window_overflow() {
        let mut w = SendWindow::new(65_535);
        assert!(w.adjust(MAX_WINDOW as i64 - 65_535).is_ok());
        assert!(w.adjust(1).is_err());
        w.consume(MAX_WINDOW);
        assert_eq!(w.available(), 0);
        w.adjust(-10).unwrap();
        assert_eq!(w.available(), 0);
    }

    #[test]
    fn recv_window_batches_updates() {
        let mut w = RecvWindow::new(100, 100);
        assert!(w.recv(30).is_ok());
        assert_eq!(w.release(30), None);
        assert!(w.recv(30).is_ok());
        assert_eq!(w.release(30), Some(60));
        assert!(w.recv(101).is_err());
        assert!(w.recv(100).is_ok());
    }

    #[test]
    fn recv_window_grow() {
        let mut w = RecvWindow::new(100, 100);
        assert!(w.recv(100).is_ok());
        assert_eq!(w.grow(50), None);
        assert_eq!(w.grow(300), Some(200));
        assert_eq!(w.target(), 300);
        assert!(w.recv(200).is_ok());
        assert!(w.recv(1).is_err());
    }
}
