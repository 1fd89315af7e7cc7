//! The daemon's clock: unix seconds, shifted by `[general] clock_offset_secs`.
//!
//! Everything that asks "what time is it" for a decision (the policy, accounting, the
//! sweeper, settlement) asks here, so that a drill or a test can move the whole daemon to
//! the end of a billing cycle without waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};

static OFFSET_SECS: AtomicI64 = AtomicI64::new(0);

/// Shifts the clock by `secs` (set once at start from the configuration).
pub fn set_offset(secs: i64) {
    OFFSET_SECS.store(secs, Ordering::Relaxed);
}

/// Seconds since the Unix epoch, shifted.
pub fn now() -> i64 {
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    real.saturating_add(OFFSET_SECS.load(Ordering::Relaxed))
}
