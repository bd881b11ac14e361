//! Merchant-level cashback (SPEC §7): for each merchant linked to some purchases, the spend and
//! customers it carries, and a recommended merchant rate — the spend-weighted mean of its
//! customers' tier-snapped rates, never above the merchant's commission — with the expected
//! margin under the spend-response model.

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::DataFrame;

use crate::features::customers::{stock_links, EligibleMerchants, FeatureParams, MerchantAttrs};

/// One row of `merchant_cashback`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MerchantCashback {
    pub business_id: String,
    pub name: String,
    pub city: Option<String>,
    pub stars: f64,
    pub commission: f64,
    pub customers: usize,
    pub spend: f64,
    pub recommended_rate: f64,
    pub expected_margin: f64,
}

/// One purchase line as the merchant view needs it.
pub(crate) struct Line<'a> {
    pub customer_id: i64,
    pub stock_code: &'a str,
    pub spend: f64,
}

/// Each customer's (tier rate, β), the `customer_rate` of [`merchants_from_transactions`].
pub(crate) fn customer_rates(
    customer_id: &[i64],
    tier: &[f64],
    beta: &[f64],
) -> HashMap<i64, (f64, f64)> {
    (0..customer_id.len())
        .map(|i| (customer_id[i], (tier[i], beta[i])))
        .collect()
}

/// `merchant_cashback` from the stored `transactions` (stock_code, customer_id, quantity,
/// unit_price) and `merchants`: each line linked to its merchant as `eda` links them.
/// `customer_rate` maps a customer to its (tier rate, β).
pub(crate) fn merchants_from_transactions(
    transactions: &DataFrame,
    merchants: &DataFrame,
    params: &FeatureParams,
    customer_rate: &HashMap<i64, (f64, f64)>,
) -> Result<Vec<MerchantCashback>> {
    let eligible = EligibleMerchants::from_table(merchants, params)?;
    let codes = transactions.column("stock_code")?.str()?;
    let customers = transactions.column("customer_id")?.i64()?;
    let quantity = transactions.column("quantity")?.i64()?;
    let price = transactions.column("unit_price")?.f64()?;
    let links = stock_links(codes.no_null_iter(), &eligible, params.seed);
    let lines = codes
        .no_null_iter()
        .zip(customers.no_null_iter())
        .zip(quantity.no_null_iter().zip(price.no_null_iter()))
        .map(|((stock_code, customer_id), (q, p))| Line {
            customer_id,
            stock_code,
            spend: q as f64 * p,
        });
    Ok(merchant_cashback(lines, &links, &eligible, customer_rate))
}

/// Aggregates lines per linked merchant. `customer_rate` maps a customer to its (tier rate, β).
pub(crate) fn merchant_cashback<'a>(
    lines: impl Iterator<Item = Line<'a>>,
    links: &HashMap<&'a str, MerchantAttrs>,
    merchants: &EligibleMerchants,
    customer_rate: &HashMap<i64, (f64, f64)>,
) -> Vec<MerchantCashback> {
    struct Acc {
        spend: f64,
        weighted_rate: f64,
        customers: Vec<i64>,
        lines: Vec<(f64, f64)>, // (spend, beta)
    }
    let mut acc: HashMap<usize, Acc> = HashMap::new();
    for line in lines {
        let Some(attrs) = links.get(line.stock_code) else {
            continue;
        };
        let Some(&(rate, beta)) = customer_rate.get(&line.customer_id) else {
            continue;
        };
        let entry = acc.entry(attrs.eligible_index).or_insert_with(|| Acc {
            spend: 0.0,
            weighted_rate: 0.0,
            customers: Vec::new(),
            lines: Vec::new(),
        });
        entry.spend += line.spend;
        entry.weighted_rate += line.spend * rate;
        entry.customers.push(line.customer_id);
        entry.lines.push((line.spend, beta));
    }
    let mut rows: Vec<MerchantCashback> = acc
        .into_iter()
        .filter(|(_, a)| a.spend > 0.0)
        .map(|(index, mut a)| {
            let commission = merchants.commission[index];
            let rate = (a.weighted_rate / a.spend).min(commission);
            let expected_margin = a
                .lines
                .iter()
                .map(|(spend, beta)| spend * (1.0 + beta * rate) * (commission - rate))
                .sum();
            a.customers.sort_unstable();
            a.customers.dedup();
            MerchantCashback {
                business_id: merchants.business_id[index].clone(),
                name: merchants.name[index].clone(),
                city: merchants.city[index].clone(),
                stars: merchants.stars[index],
                commission,
                customers: a.customers.len(),
                spend: a.spend,
                recommended_rate: rate,
                expected_margin,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.spend
            .total_cmp(&a.spend)
            .then_with(|| a.business_id.cmp(&b.business_id))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_spend_weighted_and_capped() {
        let merchants = EligibleMerchants {
            business_id: vec!["a".into(), "b".into()],
            name: vec!["A".into(), "B".into()],
            city: vec![None, None],
            stars: vec![4.0, 5.0],
            review_count: vec![1.0, 1.0],
            commission: vec![0.08, 0.02],
        };
        let mut links = HashMap::new();
        links.insert(
            "s1",
            MerchantAttrs {
                eligible_index: 0,
                stars: 4.0,
                review_count: 1.0,
                commission: 0.08,
            },
        );
        links.insert(
            "s2",
            MerchantAttrs {
                eligible_index: 1,
                stars: 5.0,
                review_count: 1.0,
                commission: 0.02,
            },
        );
        let mut rates = HashMap::new();
        rates.insert(1, (0.01, 10.0));
        rates.insert(2, (0.05, 20.0));
        let lines = vec![
            Line {
                customer_id: 1,
                stock_code: "s1",
                spend: 300.0,
            },
            Line {
                customer_id: 2,
                stock_code: "s1",
                spend: 100.0,
            },
            Line {
                customer_id: 2,
                stock_code: "s2",
                spend: 50.0,
            },
        ];
        let rows = merchant_cashback(lines.into_iter(), &links, &merchants, &rates);
        assert_eq!(rows[0].business_id, "a");
        assert_eq!(rows[0].customers, 2);
        assert!((rows[0].recommended_rate - 0.02).abs() < 1e-15); // (300·0.01 + 100·0.05) / 400
        let expected = 300.0 * (1.0 + 10.0 * 0.02) * 0.06 + 100.0 * (1.0 + 20.0 * 0.02) * 0.06;
        assert!((rows[0].expected_margin - expected).abs() < 1e-9);
        assert_eq!(rows[1].recommended_rate, 0.02); // 0.05 capped at its commission
    }
}
