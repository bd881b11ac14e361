//! Exact per-customer sums, so that every engine gives the same `customer_features` to the
//! last bit.
//!
//! A sum of doubles depends on its order, and no two engines (polars, PostgreSQL, Spark with
//! its partitions) add a customer's lines in the same order: their totals differed in the last
//! bits, enough to move a learned tree's split. So each line's money is first rounded to an
//! integer number of millionths (`round_half_even(quantity · unit_price · 10⁶)`, the same IEEE
//! operations in every engine; exact for prices with up to six decimals), the merchant
//! attributes likewise (stars and commission in millionths, review counts as they are), and
//! every sum is a sum of integers — exact in any order (`i128` here, `NUMERIC` in PostgreSQL,
//! `DECIMAL(38, 0)` in Spark). The engines return the exact sums as text, and [`finish`] turns
//! them into the feature columns with one set of floating-point operations, here.

use anyhow::{Context, Result};
use polars::prelude::*;

use super::customers::{SocialLinks, MICROS_PER_DAY};

/// Money, unit prices, stars and commissions are summed in millionths.
pub(crate) const SCALE: f64 = 1e6;

/// `x` in millionths, rounded half to even (PostgreSQL's `round(double precision)`, Spark's
/// `bround`).
pub(crate) fn millionths(x: f64) -> i64 {
    (x * SCALE).round_ties_even() as i64
}

/// A line's spend in millionths: `quantity · unit_price` as a double, then scaled and rounded
/// (the SQL pushes down `quantity * unit_price * 1000000`, evaluated left to right).
pub(crate) fn line_spend(quantity: i64, unit_price: f64) -> i64 {
    (quantity as f64 * unit_price * SCALE).round_ties_even() as i64
}

/// Per-customer counts, dates and exact sums, sorted by customer id.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CustomerSums {
    pub customer_id: Vec<i64>,
    pub country: Vec<String>,
    pub n_lines: Vec<i64>,
    pub n_invoices: Vec<i64>,
    pub total_quantity: Vec<i64>,
    /// First and last purchase, micro-seconds since the epoch (wall clock).
    pub first_ts: Vec<i64>,
    pub last_ts: Vec<i64>,
    /// Σ line spend, millionths.
    pub spend: Vec<i128>,
    /// Σ unit price, millionths.
    pub price: Vec<i128>,
    /// Σ line spend × merchant stars, millionths².
    pub w_stars: Vec<i128>,
    /// Σ line spend × merchant review count, millionths.
    pub w_reviews: Vec<i128>,
    /// Σ line spend × merchant commission, millionths².
    pub w_commission: Vec<i128>,
}

/// Parses an exact sum an engine returned as text (`"123"`, or `"123.000"` from a NUMERIC).
pub(crate) fn parse_sum(text: &str, column: &str, customer: i64) -> Result<i128> {
    let digits = match text.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole,
        _ => text,
    };
    digits
        .trim()
        .parse::<i128>()
        .with_context(|| format!("{column} of customer {customer}: {text:?} is not an integer sum"))
}

/// The `customer_features` table from the exact sums and the social links (aligned with
/// `sums.customer_id`). The snapshot day is the day after the last purchase of anyone.
pub(crate) fn finish(sums: &CustomerSums, social: SocialLinks) -> Result<DataFrame> {
    let n = sums.customer_id.len();
    let snapshot = sums.last_ts.iter().copied().max().context("no customers")? + 86_400_000_000;
    let f = |v: i128| v as f64;
    let total_spent: Vec<f64> = sums.spend.iter().map(|&s| f(s) / SCALE).collect();
    let avg_item_price: Vec<f64> = (0..n)
        .map(|i| f(sums.price[i]) / SCALE / sums.n_lines[i] as f64)
        .collect();
    let per_spend = |w: &[i128], scale: f64| -> Vec<f64> {
        (0..n).map(|i| f(w[i]) / f(sums.spend[i]) / scale).collect()
    };
    let days = |from: &[i64], to: &[i64]| -> Vec<f64> {
        (0..n)
            .map(|i| (to[i] - from[i]) as f64 / MICROS_PER_DAY)
            .collect()
    };
    let timestamps = |name: &str, ts: &[i64]| -> Result<Column> {
        Ok(Column::new(name.into(), ts.to_vec())
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?)
    };
    let columns = vec![
        Column::new("customer_id".into(), sums.customer_id.clone()),
        Column::new("country".into(), sums.country.clone()),
        Column::new("n_lines".into(), sums.n_lines.clone()),
        Column::new("n_invoices".into(), sums.n_invoices.clone()),
        Column::new("total_quantity".into(), sums.total_quantity.clone()),
        Column::new("total_spent".into(), total_spent.clone()),
        Column::new("avg_item_price".into(), avg_item_price.clone()),
        Column::new(
            "spend_to_price_ratio".into(),
            (0..n)
                .map(|i| total_spent[i] / avg_item_price[i])
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "avg_basket_value".into(),
            (0..n)
                .map(|i| total_spent[i] / sums.n_invoices[i] as f64)
                .collect::<Vec<f64>>(),
        ),
        timestamps("first_purchase", &sums.first_ts)?,
        timestamps("last_purchase", &sums.last_ts)?,
        Column::new(
            "recency_days".into(),
            days(&sums.last_ts, &vec![snapshot; n]),
        ),
        Column::new("tenure_days".into(), days(&sums.first_ts, &sums.last_ts)),
        Column::new("social_node".into(), social.node),
        Column::new("social_degree".into(), social.degree),
        Column::new("social_pagerank".into(), social.pagerank),
        Column::new("merchant_avg_stars".into(), per_spend(&sums.w_stars, SCALE)),
        Column::new(
            "merchant_avg_reviews".into(),
            per_spend(&sums.w_reviews, 1.0),
        ),
        Column::new(
            "merchant_commission".into(),
            per_spend(&sums.w_commission, SCALE),
        ),
    ];
    Ok(DataFrame::new(n, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_spend_is_exact_for_prices_with_six_decimals() {
        assert_eq!(line_spend(6, 2.55), 15_300_000);
        assert_eq!(line_spend(-3, 0.001), -3_000);
        assert_eq!(line_spend(1, 0.000_001), 1);
        assert_eq!(millionths(0.075), 75_000);
        // Half to even, as PostgreSQL's round and Spark's bround.
        assert_eq!((2.5f64).round_ties_even(), 2.0);
    }

    #[test]
    fn sums_do_not_depend_on_the_order_of_the_lines() {
        // Doubles: (a + b) + c ≠ a + (b + c) for these; the integer sums agree.
        let lines = [(1, 0.1), (1, 0.2), (1, 0.3), (7, 1e-3)];
        let forward: f64 = lines.iter().map(|&(q, p)| q as f64 * p).sum();
        let backward: f64 = lines.iter().rev().map(|&(q, p)| q as f64 * p).sum();
        assert_ne!(forward, backward, "the example must show the problem");
        let exact = |order: &mut dyn Iterator<Item = &(i64, f64)>| -> i128 {
            order.map(|&(q, p)| line_spend(q, p) as i128).sum()
        };
        assert_eq!(exact(&mut lines.iter()), exact(&mut lines.iter().rev()));
        assert_eq!(exact(&mut lines.iter()), 607_000);
    }

    #[test]
    fn engines_text_sums_parse() {
        assert_eq!(parse_sum("123", "spend", 1).unwrap(), 123);
        assert_eq!(parse_sum("-45.000", "spend", 1).unwrap(), -45);
        assert_eq!(
            parse_sum("170141183460469231731687303715884105727", "w", 1).unwrap(),
            i128::MAX
        );
        let err = parse_sum("1.5", "w_stars", 7).unwrap_err().to_string();
        assert!(err.contains("w_stars of customer 7"), "{err}");
    }

    #[test]
    fn finish_computes_the_columns_from_the_sums() {
        let sums = CustomerSums {
            customer_id: vec![1, 2],
            country: vec!["UK".into(), "France".into()],
            n_lines: vec![2, 1],
            n_invoices: vec![1, 1],
            total_quantity: vec![3, 1],
            first_ts: vec![0, 86_400_000_000],
            last_ts: vec![86_400_000_000, 2 * 86_400_000_000],
            spend: vec![10_000_000, 4_000_000],
            price: vec![7_000_000, 4_000_000],
            w_stars: vec![10_000_000 * 4_500_000, 4_000_000 * 3_000_000],
            w_reviews: vec![10_000_000 * 20, 4_000_000 * 7],
            w_commission: vec![10_000_000 * 75_000, 4_000_000 * 80_000],
        };
        let social = SocialLinks {
            node: vec![5, 6],
            degree: vec![1, 2],
            pagerank: vec![0.1, 0.2],
        };
        let table = finish(&sums, social).unwrap();
        let col = |name: &str| -> Vec<f64> {
            table
                .column(name)
                .unwrap()
                .f64()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        assert_eq!(col("total_spent"), vec![10.0, 4.0]);
        assert_eq!(col("avg_item_price"), vec![3.5, 4.0]);
        assert_eq!(col("merchant_avg_stars"), vec![4.5, 3.0]);
        assert_eq!(col("merchant_avg_reviews"), vec![20.0, 7.0]);
        assert_eq!(col("merchant_commission"), vec![0.075, 0.08]);
        // Snapshot = the day after the last purchase of anyone (day 3).
        assert_eq!(col("recency_days"), vec![2.0, 1.0]);
        assert_eq!(col("tenure_days"), vec![1.0, 1.0]);
    }
}
