//! `random_id`: the ids of nodes and requests.

use smol_str::SmolStr;

/// 16 random hexadecimal characters, as Node's cluster adapter uses.
pub fn random_id() -> SmolStr {
    let mut bytes = [0u8; 8];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Ids only need to be unique, not secret: fall back to the clock.
        tracing::warn!(error = %e, "no OS randomness for an id");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_be_bytes();
    }
    let mut id = String::with_capacity(16);
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    SmolStr::new(id)
}
