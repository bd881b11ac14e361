//! What each segment looks like: clusters renumbered by spend, one profile row per segment
//! (size, shares, means and the median spend) and its persona name.

use super::personas::{name_segments, SegmentStats};
use crate::features::describe::quantile_sorted;

/// The per-customer columns a profile summarises (one value per customer, same order).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProfileInputs<'a> {
    pub total_spent: &'a [f64],
    pub avg_item_price: &'a [f64],
    pub spend_to_price_ratio: &'a [f64],
    pub n_invoices: &'a [f64],
    pub n_lines: &'a [f64],
    pub avg_basket_value: &'a [f64],
    pub recency_days: &'a [f64],
    pub tenure_days: &'a [f64],
    pub social_degree: &'a [f64],
}

/// One row of `segment_profiles`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Profile {
    pub cluster: usize,
    pub persona: String,
    pub size: usize,
    pub share_customers: f64,
    pub share_revenue: f64,
    pub mean_total_spent: f64,
    pub median_total_spent: f64,
    pub mean_avg_item_price: f64,
    pub mean_spend_to_price_ratio: f64,
    pub mean_n_invoices: f64,
    pub mean_n_lines: f64,
    pub mean_avg_basket_value: f64,
    pub mean_recency_days: f64,
    pub mean_tenure_days: f64,
    pub mean_social_degree: f64,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Renumbers `k` clusters so that cluster 0 has the highest mean spend (ties: lower old
/// number first; an empty cluster goes last).
pub(crate) fn relabel_by_spend(labels: &[usize], k: usize, spend: &[f64]) -> Vec<usize> {
    let mut sums = vec![0.0; k];
    let mut counts = vec![0usize; k];
    for (&label, &s) in labels.iter().zip(spend) {
        sums[label] += s;
        counts[label] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    let avg = |c: usize| {
        if counts[c] == 0 {
            f64::NEG_INFINITY
        } else {
            sums[c] / counts[c] as f64
        }
    };
    order.sort_by(|&a, &b| avg(b).total_cmp(&avg(a)).then(a.cmp(&b)));
    let mut new_label = vec![0; k];
    for (new, &old) in order.iter().enumerate() {
        new_label[old] = new;
    }
    labels.iter().map(|&l| new_label[l]).collect()
}

/// The profile of each of the `k` segments given by `labels`, with persona names relative to
/// the whole population.
pub(crate) fn profiles(labels: &[usize], k: usize, inputs: &ProfileInputs<'_>) -> Vec<Profile> {
    let n = labels.len();
    let spend = inputs.total_spent;
    let members: Vec<Vec<usize>> = (0..k)
        .map(|c| (0..n).filter(|&i| labels[i] == c).collect())
        .collect();
    let median_of = |rows: &[usize]| {
        let mut values: Vec<f64> = rows.iter().map(|&i| spend[i]).collect();
        values.sort_by(f64::total_cmp);
        quantile_sorted(&values, 0.5)
    };
    let mean_of = |column: &[f64], rows: &[usize]| mean(rows.iter().map(|&i| column[i]));
    let stats_of = |rows: &[usize]| SegmentStats {
        size: rows.len(),
        median_total_spent: median_of(rows),
        mean_avg_item_price: mean_of(inputs.avg_item_price, rows),
        mean_spend_to_price_ratio: mean_of(inputs.spend_to_price_ratio, rows),
        mean_n_invoices: mean_of(inputs.n_invoices, rows),
        mean_recency_days: mean_of(inputs.recency_days, rows),
    };
    let all: Vec<usize> = (0..n).collect();
    let overall = stats_of(&all);
    let segment_stats: Vec<SegmentStats> = members.iter().map(|m| stats_of(m)).collect();
    let personas = name_segments(&segment_stats, &overall);
    let total_revenue: f64 = spend.iter().sum();
    members
        .iter()
        .zip(personas)
        .enumerate()
        .map(|(cluster, (m, persona))| Profile {
            cluster,
            persona,
            size: m.len(),
            share_customers: m.len() as f64 / n as f64,
            share_revenue: m.iter().map(|&i| spend[i]).sum::<f64>() / total_revenue,
            mean_total_spent: mean_of(spend, m),
            median_total_spent: median_of(m),
            mean_avg_item_price: mean_of(inputs.avg_item_price, m),
            mean_spend_to_price_ratio: mean_of(inputs.spend_to_price_ratio, m),
            mean_n_invoices: mean_of(inputs.n_invoices, m),
            mean_n_lines: mean_of(inputs.n_lines, m),
            mean_avg_basket_value: mean_of(inputs.avg_basket_value, m),
            mean_recency_days: mean_of(inputs.recency_days, m),
            mean_tenure_days: mean_of(inputs.tenure_days, m),
            mean_social_degree: mean_of(inputs.social_degree, m),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabelling_puts_the_highest_spend_first() {
        // Cluster 1 spends most (mean 10), then 2 (5), then 0 (1).
        let labels = [0, 1, 2, 1, 0];
        let spend = [1.0, 10.0, 5.0, 10.0, 1.0];
        assert_eq!(relabel_by_spend(&labels, 3, &spend), vec![2, 0, 1, 0, 2]);
        // An empty cluster goes last.
        assert_eq!(relabel_by_spend(&[1, 1], 2, &[3.0, 4.0]), vec![0, 0]);
    }

    #[test]
    fn profiles_count_share_and_average_their_members() {
        let labels = [0, 0, 1, 1, 1];
        let spend = [100.0, 300.0, 10.0, 20.0, 70.0];
        let ones = [1.0; 5];
        let days = [1.0, 3.0, 10.0, 20.0, 30.0];
        let inputs = ProfileInputs {
            total_spent: &spend,
            avg_item_price: &ones,
            spend_to_price_ratio: &ones,
            n_invoices: &ones,
            n_lines: &ones,
            avg_basket_value: &ones,
            recency_days: &days,
            tenure_days: &ones,
            social_degree: &ones,
        };
        let p = profiles(&labels, 2, &inputs);
        assert_eq!((p[0].size, p[1].size), (2, 3));
        assert_eq!(p[0].share_customers, 0.4);
        assert_eq!(p[0].share_revenue, 0.8); // 400 of 500
        assert_eq!(p[0].mean_total_spent, 200.0);
        assert_eq!(p[1].median_total_spent, 20.0);
        assert_eq!(p[1].mean_recency_days, 20.0);
        assert_eq!(p[0].cluster, 0);
        assert!(!p[0].persona.is_empty() && p[0].persona != p[1].persona);
    }
}
