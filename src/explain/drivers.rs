//! Explanations in words: each customer's largest SHAP contributions as "feature value →
//! ±x pp" and one sentence per customer.

use super::ShapValues;
use crate::learn::matrix::Matrix;

/// A feature value in words, e.g. "recency 212 days".
pub(crate) fn describe_value(feature: &str, value: f64) -> String {
    let thousands = |v: f64| {
        let whole = format!("{:.0}", v.abs());
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if v < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    };
    match feature {
        "recency_days" => format!("recency {value:.0} days"),
        "tenure_days" => format!("tenure {value:.0} days"),
        "total_spent" => format!("spend {}", thousands(value)),
        "avg_item_price" => format!("avg item price {value:.2}"),
        "avg_basket_value" => format!("avg basket {}", thousands(value)),
        "spend_to_price_ratio" => format!("spend/price ratio {}", thousands(value)),
        "n_invoices" => format!("{value:.0} invoices"),
        "n_lines" => format!("{value:.0} lines"),
        "total_quantity" => format!("{} items", thousands(value)),
        "social_degree" => format!("{value:.0} social connections"),
        "social_pagerank" => format!("social PageRank {value:.2e}"),
        "merchant_avg_stars" => format!("merchant stars {value:.2}"),
        "merchant_avg_reviews" => format!("merchant reviews {value:.0}"),
        "merchant_commission" => format!("merchant commission {:.2}%", value * 100.0),
        other => format!("{other} {value:.4}"),
    }
}

/// One driver in words: "recency 212 days → −1.20 pp".
pub(crate) fn driver_text(feature: &str, value: f64, shap: f64) -> String {
    let sign = if shap < 0.0 { '−' } else { '+' };
    format!(
        "{} → {sign}{:.2} pp",
        describe_value(feature, value),
        shap.abs() * 100.0
    )
}

/// Each customer's top drivers (the first three as columns) and explanation sentence.
pub(crate) struct Explanations {
    pub drivers: [Vec<String>; 3],
    pub sentences: Vec<String>,
}

/// Explains every row: drivers by |φ| (ties → feature order), the first `top` in the sentence
/// "Recommended r% (average customer b%): …" with `rates` the recommended rate of each row.
pub(crate) fn explain_rows(
    shap: &ShapValues,
    x: &Matrix,
    features: &[String],
    rates: &[f64],
    top: usize,
) -> Explanations {
    let n_features = features.len();
    let mut drivers: [Vec<String>; 3] = Default::default();
    let mut sentences = Vec::with_capacity(rates.len());
    for (i, &rate) in rates.iter().enumerate() {
        let phi = shap.row(i);
        let row = x.row(i);
        let mut by_size: Vec<usize> = (0..n_features).collect();
        by_size.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()).then(a.cmp(&b)));
        let texts: Vec<String> = by_size
            .iter()
            .take(top.max(3))
            .map(|&j| driver_text(&features[j], row[j], phi[j]))
            .collect();
        for (slot, column) in drivers.iter_mut().enumerate() {
            column.push(texts.get(slot).cloned().unwrap_or_default());
        }
        sentences.push(sentence(
            &format!(
                "Recommended {:.2}% (average customer {:.2}%)",
                rate * 100.0,
                shap.base_value * 100.0
            ),
            &texts,
            top,
        ));
    }
    Explanations { drivers, sentences }
}

/// "`lead`: driver; driver; …" with the first `top` drivers.
pub(crate) fn sentence(lead: &str, drivers: &[String], top: usize) -> String {
    let shown: Vec<&str> = drivers.iter().take(top).map(String::as_str).collect();
    format!("{lead}: {}", shown.join("; "))
}

/// Features ordered by mean |φ|, largest first (ties → feature order).
pub(crate) fn importance_order(mean_abs: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..mean_abs.len()).collect();
    order.sort_by(|&a, &b| mean_abs[b].total_cmp(&mean_abs[a]).then(a.cmp(&b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importance_is_ordered_by_size_then_feature() {
        assert_eq!(importance_order(&[0.1, 0.3, 0.1, 0.0]), vec![1, 0, 2, 3]);
    }

    #[test]
    fn drivers_read_as_words() {
        assert_eq!(
            driver_text("recency_days", 212.0, -0.012),
            "recency 212 days → −1.20 pp"
        );
        assert_eq!(
            driver_text("total_spent", 12_345.6, 0.004),
            "spend 12,346 → +0.40 pp"
        );
    }
}
