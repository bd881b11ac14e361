//! The train/test split and CV folds by hash (SPEC §7), not by a random shuffle: a customer's
//! side depends only on its id and the seed.

use crate::features::linkage::h_customer;

/// True when the customer is in the test set: `h("split", c) mod 100 < test_percent`.
pub(crate) fn is_test(seed: u64, customer_id: i64, test_percent: u64) -> bool {
    h_customer("split", seed, customer_id) % 100 < test_percent
}

/// CV fold of a training customer: `h("fold", c) mod n_folds`.
pub(crate) fn fold(seed: u64, customer_id: i64, n_folds: u64) -> usize {
    (h_customer("fold", seed, customer_id) % n_folds) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes_are_near_the_percentage() {
        let test = (0..100_000).filter(|&c| is_test(42, c, 20)).count();
        assert!((19_000..21_000).contains(&test), "{test}");
    }

    #[test]
    fn folds_are_balanced_and_stable() {
        let mut sizes = [0usize; 5];
        for c in 0..50_000 {
            sizes[fold(42, c, 5)] += 1;
        }
        for size in sizes {
            assert!((9_500..10_500).contains(&size), "{sizes:?}");
        }
        // Pinned from an independent Python FNV-1a (h % 5 of "fold:42:<id>", h % 100 < 20 of
        // "split:42:<id>"): 17850 → fold 3, bucket 34; 12349 → bucket 12; 12352 → bucket 0.
        let folds: Vec<usize> = (12346..12356).map(|c| fold(42, c, 5)).collect();
        assert_eq!(folds, vec![1, 2, 0, 1, 0, 4, 3, 2, 1, 0]);
        assert_eq!(fold(42, 17850, 5), 3);
        assert!(!is_test(42, 17850, 20));
        assert!(is_test(42, 12349, 20) && is_test(42, 12352, 20) && is_test(42, 12353, 20));
        assert!(!is_test(42, 12349, 12) && is_test(42, 12349, 13));
        assert!(!is_test(42, 12346, 20) && !is_test(42, 12347, 20));
    }
}
