//! Deterministic linkage of datasets that share no keys (SPEC §4): an FNV-1a hash of
//! `"{namespace}:{seed}:{key}"` picks a social node for each customer and a merchant for each
//! stock code.

pub(crate) use crate::hash::{h, h_customer};

/// The social node of a customer: `nodes[h("social", c) mod len(nodes)]`, `nodes` sorted.
pub(crate) fn social_node(sorted_nodes: &[i64], seed: u64, customer_id: i64) -> Option<i64> {
    if sorted_nodes.is_empty() {
        return None;
    }
    let index = h_customer("social", seed, customer_id) % sorted_nodes.len() as u64;
    Some(sorted_nodes[index as usize])
}

/// Index into the eligible merchants (sorted by business_id) for a stock code (trimmed).
pub(crate) fn merchant_index(n_eligible: usize, seed: u64, stock_code: &str) -> Option<usize> {
    if n_eligible == 0 {
        return None;
    }
    Some((h("merchant", seed, stock_code.trim()) % n_eligible as u64) as usize)
}

/// True when a merchant's `categories` text contains any of the wanted categories
/// (substring match, as pandas' `str.contains(..., regex=False)`).
pub(crate) fn is_eligible(categories: Option<&str>, wanted: &[String]) -> bool {
    categories.is_some_and(|text| wanted.iter().any(|w| text.contains(w.as_str())))
}

/// Merchant commission `c_m = clamp(base + slope·(stars − 3.5), c_min, c_max)`.
pub(crate) fn commission(stars: f64, base: f64, slope: f64, c_min: f64, c_max: f64) -> f64 {
    (base + slope * (stars - 3.5)).clamp(c_min, c_max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::fnv1a64;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn hash_string_layout() {
        assert_eq!(h("social", 42, "17850"), fnv1a64(b"social:42:17850"));
        assert_eq!(h_customer("social", 42, 17850), fnv1a64(b"social:42:17850"));
        assert_eq!(
            merchant_index(7, 42, " 85123A "),
            merchant_index(7, 42, "85123A")
        );
    }

    #[test]
    fn node_pick_uses_sorted_nodes() {
        let nodes = [0, 5, 9];
        let expected = nodes[(fnv1a64(b"social:42:12346") % 3) as usize];
        assert_eq!(social_node(&nodes, 42, 12346), Some(expected));
        assert_eq!(social_node(&[], 42, 1), None);
    }

    #[test]
    fn commission_is_clamped() {
        assert!((commission(3.5, 0.08, -0.01, 0.02, 0.15) - 0.08).abs() < 1e-15);
        assert!((commission(5.0, 0.08, -0.01, 0.02, 0.15) - 0.065).abs() < 1e-15);
        assert_eq!(commission(5.0, 0.08, -1.0, 0.02, 0.15), 0.02);
        assert_eq!(commission(1.0, 0.08, -1.0, 0.02, 0.15), 0.15);
    }

    #[test]
    fn eligibility_is_substring() {
        let wanted = vec!["Shopping".to_string()];
        assert!(is_eligible(Some("Food, Shopping"), &wanted));
        assert!(!is_eligible(Some("Food"), &wanted));
        assert!(!is_eligible(None, &wanted));
    }
}
