//! Ids and tokens that don't repeat or look sequential (not for security).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 64 unpredictable-looking bits (std's randomly keyed SipHash over a counter and the clock).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// `2 * n` random lowercase hex digits.
pub(crate) fn random_hex(n: usize) -> String {
    let mut s = String::with_capacity(2 * n);
    while s.len() < 2 * n {
        s.push_str(&format!("{:016x}", random_u64()));
    }
    s.truncate(2 * n);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_has_requested_length_and_varies() {
        let a = random_hex(16);
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_hex(16));
    }
}
