//! The clock that stamps messages when published and when delivered.

/// Nanoseconds since the Unix epoch: one clock for every process.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
