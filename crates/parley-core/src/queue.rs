//! The bounded outbound queue of one connection.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::{Disconnect, Frame};

/// Frames waiting to be written to one connection, bounded in bytes.
///
/// Producers (the hub's fan-out, command replies) push without waiting; the
/// connection's task drains everything queued into one write. When a push
/// would take the queue past its bound the queue closes with
/// [`Disconnect::Slow`] and drops what it held, so a client that cannot keep
/// up never grows server memory past the bound and never holds up others.
#[derive(Debug)]
pub struct OutboundQueue {
    /// A std-style mutex, not tokio's: it is never held across an await, and
    /// every critical section is a few pointer moves.
    state: Mutex<QueueState>,
    /// Wakes the connection's task when frames arrive or the queue closes.
    notify: Notify,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    frames: VecDeque<Frame>,
    bytes: usize,
    closed: Option<Disconnect>,
}

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The queue was already closed for this reason.
    #[error("connection is closing: {}", .0.reason())]
    Closed(Disconnect),
    /// This push overflowed the queue, which is now closed as slow.
    #[error("outbound queue overflow")]
    Overflow,
}

impl OutboundQueue {
    /// An empty queue that holds at most `max_bytes` of frames.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            state: Mutex::new(QueueState::default()),
            notify: Notify::new(),
            max_bytes,
        }
    }

    /// Queues a frame for writing.
    pub fn push(&self, frame: Frame) -> Result<(), PushError> {
        let mut state = self.state.lock();
        if let Some(reason) = state.closed {
            return Err(PushError::Closed(reason));
        }
        if state.bytes + frame.len() > self.max_bytes {
            state.closed = Some(Disconnect::Slow);
            state.frames = VecDeque::new();
            state.bytes = 0;
            drop(state);
            self.notify.notify_one();
            return Err(PushError::Overflow);
        }
        let was_empty = state.frames.is_empty();
        state.bytes += frame.len();
        state.frames.push_back(frame);
        drop(state);
        // One wake-up per batch: the task drains everything at once.
        if was_empty {
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Whether a sender that pages a long answer (a replay) may queue a
    /// frame of `len` bytes now: when the queue is empty, or when the frame
    /// keeps it at or below half its bound. The other half stays free for
    /// live pushes and replies, so paging never closes the client as slow;
    /// the sender queues its next page once the connection wrote this one.
    pub fn accepts_page(&self, len: usize) -> bool {
        let state = self.state.lock();
        state.closed.is_none() && (state.bytes == 0 || state.bytes + len <= self.max_bytes / 2)
    }

    /// Closes the queue: the connection's task will end the connection with
    /// `reason` after the frames already queued. The first reason wins.
    pub fn close(&self, reason: Disconnect) {
        let mut state = self.state.lock();
        if state.closed.is_none() {
            state.closed = Some(reason);
        }
        drop(state);
        self.notify.notify_one();
    }

    /// Moves every queued frame into `out` and returns the close reason, if
    /// the queue is closed. Frames queued before a close are still drained
    /// (a slow close drops them).
    pub fn drain_into(&self, out: &mut Vec<Frame>) -> Option<Disconnect> {
        let mut state = self.state.lock();
        out.extend(state.frames.drain(..));
        state.bytes = 0;
        if state.frames.capacity() > 64 {
            // Give back the memory of a burst; idle connections stay small.
            state.frames = VecDeque::new();
        }
        state.closed
    }

    /// Waits until there is something to drain.
    pub async fn ready(&self) {
        self.notify.notified().await;
    }

    /// The reason the queue closed, if it has.
    pub fn closed(&self) -> Option<Disconnect> {
        self.state.lock().closed
    }

    /// Bytes currently queued.
    pub fn queued_bytes(&self) -> usize {
        self.state.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_closes_as_slow_and_frees_memory() {
        let queue = OutboundQueue::new(10);
        queue.push(Frame::from_static("12345")).unwrap();
        queue.push(Frame::from_static("12345")).unwrap();
        assert_eq!(
            queue.push(Frame::from_static("1")),
            Err(PushError::Overflow)
        );
        assert_eq!(queue.queued_bytes(), 0);
        assert_eq!(
            queue.push(Frame::from_static("1")),
            Err(PushError::Closed(Disconnect::Slow))
        );
        let mut out = Vec::new();
        assert_eq!(queue.drain_into(&mut out), Some(Disconnect::Slow));
        assert!(out.is_empty());
    }

    #[test]
    fn a_page_fills_half_the_queue_or_an_empty_one() {
        let queue = OutboundQueue::new(10);
        assert!(queue.accepts_page(10), "an empty queue takes any frame");
        queue.push(Frame::from_static("123")).unwrap();
        assert!(queue.accepts_page(2));
        assert!(!queue.accepts_page(3), "past half the bound");
        queue.close(Disconnect::Shutdown);
        assert!(!queue.accepts_page(1));
    }

    #[test]
    fn drain_takes_everything_in_order() {
        let queue = OutboundQueue::new(100);
        queue.push(Frame::from_static("a")).unwrap();
        queue.push(Frame::from_static("b")).unwrap();
        let mut out = Vec::new();
        assert_eq!(queue.drain_into(&mut out), None);
        assert_eq!(out, vec![Frame::from_static("a"), Frame::from_static("b")]);
        assert_eq!(queue.queued_bytes(), 0);
        queue.close(Disconnect::Shutdown);
        queue.close(Disconnect::Forced);
        assert_eq!(queue.closed(), Some(Disconnect::Shutdown));
    }
}
