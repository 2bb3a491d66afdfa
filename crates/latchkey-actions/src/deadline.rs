//! The wall-clock limit of one execution, shared by the interrupt handler and the host calls
//! that block the JavaScript thread (Management API calls and `fetch`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Cheap to clone; every clone sees the same "timed out" flag. Not `Send`: it lives on the
/// execution's blocking thread only.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    timed_out: Rc<Cell<bool>>,
}

impl Deadline {
    pub fn new(at: Instant) -> Self {
        Self {
            at,
            timed_out: Rc::new(Cell::new(false)),
        }
    }

    /// Time left, or `None` (and the flag set) once the deadline has passed.
    pub fn remaining(&self) -> Option<Duration> {
        let left = self.at.checked_duration_since(Instant::now());
        match left {
            Some(left) if !left.is_zero() => Some(left),
            _ => {
                self.timed_out.set(true);
                None
            }
        }
    }

    /// For QuickJS's interrupt handler: `true` stops the interpreter with an uncatchable error.
    pub fn expired(&self) -> bool {
        self.remaining().is_none()
    }

    /// Records that the limit stopped something (a host call that was cut short).
    pub fn mark_timed_out(&self) {
        self.timed_out.set(true);
    }

    pub fn timed_out(&self) -> bool {
        self.timed_out.get()
    }
}
