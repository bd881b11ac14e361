"""fluz's FNV-1a 64-bit hash (`src/hash.rs`), for the scripts that recompute fluz's seeded draws
(`quality_check.py`, `uplift_ceiling.py`). Arithmetic mod 2^64."""

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv1a64(data: bytes) -> int:
    """FNV-1a 64-bit hash of `data`, as fluz's `hash::fnv1a64`."""
    h = FNV_OFFSET
    for byte in data:
        h ^= byte
        h = (h * FNV_PRIME) & MASK64
    return h
