//! The one hash of fluz: FNV-1a 64, and `h(ns, seed, key)` over `"{ns}:{seed}:{key}"`, which
//! links datasets (SPEC §4), splits and samples customers, and names store locks. A leaf
//! module, so that features, models, the store and the generator share it without importing
//! each other.

/// FNV-1a 64-bit offset basis.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
pub(crate) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64-bit over `bytes`.
#[inline]
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// `h(ns, key)`: FNV-1a 64 of the UTF-8 bytes of `"{ns}:{seed}:{key}"`.
#[inline]
pub(crate) fn h(ns: &str, seed: u64, key: &str) -> u64 {
    fnv1a64(format!("{ns}:{seed}:{key}").as_bytes())
}

/// `h(ns, c)` for an integer customer id (decimal).
#[inline]
pub(crate) fn h_customer(ns: &str, seed: u64, customer_id: i64) -> u64 {
    h(ns, seed, &customer_id.to_string())
}
