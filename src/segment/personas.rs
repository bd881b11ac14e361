//! Persona names derived from each segment's numbers, relative to the whole customer base.

/// What naming looks at for one segment (means unless said otherwise).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SegmentStats {
    pub size: usize,
    pub median_total_spent: f64,
    pub mean_avg_item_price: f64,
    pub mean_spend_to_price_ratio: f64,
    pub mean_n_invoices: f64,
    pub mean_recency_days: f64,
}

/// Names every segment from its ratios to the population's numbers (`overall`). Rules, first
/// match wins: spend ≥ 3× the median customer → "High-value whales"; last purchase ≥ 1.8× as
/// long ago → "Lapsed"; spend ≥ 1.5× → "Loyal regulars" (invoices ≥ 1.5×) or "Big-basket
/// buyers"; item price ≥ 1.5× with spend below typical → "Premium occasional buyers"; item
/// price ≤ 0.7× → "Bulk bargain hunters" (volume ≥ 1.5×) or "Bargain hunters"; spend ≤ 0.5×
/// → "Light buyers"; else "Core customers". Repeated names get a numeric suffix by spend.
pub(crate) fn name_segments(segments: &[SegmentStats], overall: &SegmentStats) -> Vec<String> {
    let ratio = |a: f64, b: f64| if b > 0.0 && a.is_finite() { a / b } else { 1.0 };
    let mut names: Vec<String> = segments
        .iter()
        .map(|s| {
            let spend = ratio(s.median_total_spent, overall.median_total_spent);
            let price = ratio(s.mean_avg_item_price, overall.mean_avg_item_price);
            let volume = ratio(
                s.mean_spend_to_price_ratio,
                overall.mean_spend_to_price_ratio,
            );
            let frequency = ratio(s.mean_n_invoices, overall.mean_n_invoices);
            let recency = ratio(s.mean_recency_days, overall.mean_recency_days);
            let name = if spend >= 3.0 {
                "High-value whales"
            } else if recency >= 1.8 {
                "Lapsed"
            } else if spend >= 1.5 && frequency >= 1.5 {
                "Loyal regulars"
            } else if spend >= 1.5 {
                "Big-basket buyers"
            } else if price >= 1.5 && spend < 1.0 {
                "Premium occasional buyers"
            } else if price <= 0.7 && volume >= 1.5 {
                "Bulk bargain hunters"
            } else if price <= 0.7 {
                "Bargain hunters"
            } else if spend <= 0.5 {
                "Light buyers"
            } else {
                "Core customers"
            };
            name.to_string()
        })
        .collect();
    // Disambiguate repeats: highest spend keeps the plain name.
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by(|&a, &b| {
        segments[b]
            .median_total_spent
            .total_cmp(&segments[a].median_total_spent)
    });
    let original = names.clone();
    for (position, &i) in order.iter().enumerate() {
        let earlier = order[..position]
            .iter()
            .filter(|&&j| original[j] == original[i])
            .count();
        if earlier > 0 {
            names[i] = format!("{} ({})", original[i], earlier + 1);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(spend: f64, price: f64, volume: f64, invoices: f64, recency: f64) -> SegmentStats {
        SegmentStats {
            size: 10,
            median_total_spent: spend,
            mean_avg_item_price: price,
            mean_spend_to_price_ratio: volume,
            mean_n_invoices: invoices,
            mean_recency_days: recency,
        }
    }

    #[test]
    fn names_follow_the_numbers() {
        let overall = stats(100.0, 3.0, 30.0, 4.0, 90.0);
        let names = name_segments(
            &[
                stats(500.0, 3.0, 150.0, 20.0, 20.0),
                stats(50.0, 3.0, 15.0, 1.0, 250.0),
                stats(80.0, 1.5, 60.0, 3.0, 60.0),
                stats(100.0, 3.1, 30.0, 4.0, 90.0),
            ],
            &overall,
        );
        assert_eq!(
            names,
            [
                "High-value whales",
                "Lapsed",
                "Bulk bargain hunters",
                "Core customers"
            ]
        );
    }

    #[test]
    fn repeated_names_get_suffixes() {
        let overall = stats(100.0, 3.0, 30.0, 4.0, 90.0);
        let names = name_segments(
            &[
                stats(100.0, 3.0, 30.0, 4.0, 90.0),
                stats(110.0, 3.0, 30.0, 4.0, 90.0),
            ],
            &overall,
        );
        assert_eq!(names, ["Core customers (2)", "Core customers"]);
    }
}
