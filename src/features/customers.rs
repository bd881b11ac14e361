//! `customer_features`: one row per customer from the cleaned transactions (counts and dates
//! by a polars lazy group-by, money by the exact integer sums of `exact`), the linked social
//! node (degree, PageRank) and the spend-weighted attributes of the merchants linked to the
//! customer's stock codes.

use std::collections::HashMap;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::exact::{finish, line_spend, millionths, CustomerSums};
use super::graph::Graph;
use super::linkage::{commission, is_eligible, merchant_index, social_node};
use crate::error::user_error;

/// Micro-seconds in a day.
pub(crate) const MICROS_PER_DAY: f64 = 86_400_000_000.0;

/// What linkage and the commission need (validated config values).
#[derive(Clone, Debug)]
pub struct FeatureParams {
    pub seed: u64,
    pub merchant_categories: Vec<String>,
    pub commission_base: f64,
    pub commission_stars_slope: f64,
    pub commission_min: f64,
    pub commission_max: f64,
}

/// A merchant's attributes as linked to a stock code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MerchantAttrs {
    /// Index into the eligible merchants (sorted by business_id).
    pub eligible_index: usize,
    pub stars: f64,
    pub review_count: f64,
    pub commission: f64,
}

/// The merchants eligible for linkage, sorted by business_id (byte order).
pub(crate) struct EligibleMerchants {
    pub business_id: Vec<String>,
    pub name: Vec<String>,
    pub city: Vec<Option<String>>,
    pub stars: Vec<f64>,
    pub review_count: Vec<f64>,
    pub commission: Vec<f64>,
}

impl EligibleMerchants {
    /// Selects and sorts the eligible merchants; none eligible is a user error.
    pub(crate) fn from_table(merchants: &DataFrame, params: &FeatureParams) -> Result<Self> {
        let ids = merchants.column("business_id")?.str()?;
        let names = merchants.column("name")?.str()?;
        let cities = merchants.column("city")?.str()?;
        let stars = merchants.column("stars")?.f64()?;
        let reviews = merchants.column("review_count")?.i64()?;
        let categories = merchants.column("categories")?.str()?;
        let mut rows: Vec<usize> = (0..merchants.height())
            .filter(|&i| is_eligible(categories.get(i), &params.merchant_categories))
            .collect();
        if rows.is_empty() {
            return Err(user_error(format!(
                "no merchant's categories contain any of {:?} ([linkage] merchant_categories)",
                params.merchant_categories
            )));
        }
        rows.sort_by(|&a, &b| {
            ids.get(a)
                .unwrap_or("")
                .as_bytes()
                .cmp(ids.get(b).unwrap_or("").as_bytes())
        });
        let star = |i: usize| stars.get(i).unwrap_or(0.0);
        Ok(Self {
            business_id: rows
                .iter()
                .map(|&i| ids.get(i).unwrap_or("").to_string())
                .collect(),
            name: rows
                .iter()
                .map(|&i| names.get(i).unwrap_or("").to_string())
                .collect(),
            city: rows
                .iter()
                .map(|&i| cities.get(i).map(str::to_string))
                .collect(),
            stars: rows.iter().map(|&i| star(i)).collect(),
            review_count: rows
                .iter()
                .map(|&i| reviews.get(i).unwrap_or(0) as f64)
                .collect(),
            commission: rows
                .iter()
                .map(|&i| {
                    commission(
                        star(i),
                        params.commission_base,
                        params.commission_stars_slope,
                        params.commission_min,
                        params.commission_max,
                    )
                })
                .collect(),
        })
    }

    /// Number of eligible merchants.
    pub(crate) fn len(&self) -> usize {
        self.business_id.len()
    }

    /// The merchant linked to a stock code.
    pub(crate) fn link(&self, seed: u64, stock_code: &str) -> MerchantAttrs {
        let index = merchant_index(self.len(), seed, stock_code).unwrap_or(0);
        MerchantAttrs {
            eligible_index: index,
            stars: self.stars[index],
            review_count: self.review_count[index],
            commission: self.commission[index],
        }
    }
}

/// Per-customer social columns.
pub(crate) struct SocialLinks {
    pub node: Vec<i64>,
    pub degree: Vec<i64>,
    pub pagerank: Vec<f64>,
}

/// Links each customer to a social node and reads the node's degree and PageRank.
pub(crate) fn social_links(
    customer_ids: &[i64],
    edges: &DataFrame,
    seed: u64,
) -> Result<SocialLinks> {
    let node_a: Vec<i64> = edges.column("node_a")?.i64()?.no_null_iter().collect();
    let node_b: Vec<i64> = edges.column("node_b")?.i64()?.no_null_iter().collect();
    let graph = Graph::from_edges(&node_a, &node_b);
    if graph.is_empty() {
        return Err(user_error(
            "the social graph has no edges: ingest a non-empty edge list",
        ));
    }
    let rank = graph.pagerank(0.85, 1e-12, 200);
    let mut links = SocialLinks {
        node: Vec::with_capacity(customer_ids.len()),
        degree: Vec::with_capacity(customer_ids.len()),
        pagerank: Vec::with_capacity(customer_ids.len()),
    };
    for &customer in customer_ids {
        let node = social_node(&graph.nodes, seed, customer).context("empty graph")?;
        let index = graph.index_of(node).context("node of the graph")?;
        links.node.push(node);
        links.degree.push(graph.degree(index) as i64);
        links.pagerank.push(rank[index]);
    }
    Ok(links)
}

/// Maps every distinct stock code to its merchant's attributes.
pub(crate) fn stock_links<'a>(
    stock_codes: impl Iterator<Item = &'a str>,
    merchants: &EligibleMerchants,
    seed: u64,
) -> HashMap<&'a str, MerchantAttrs> {
    let mut map = HashMap::new();
    for code in stock_codes {
        map.entry(code)
            .or_insert_with(|| merchants.link(seed, code));
    }
    map
}

/// The columns of `transactions` that [`customer_features`] reads (all but `description`).
pub(crate) const TRANSACTION_COLUMNS: &[&str] = &[
    "invoice_no",
    "stock_code",
    "quantity",
    "invoice_date",
    "unit_price",
    "customer_id",
    "country",
];

/// Builds `customer_features` with polars.
pub fn customer_features(
    transactions: &DataFrame,
    edges: &DataFrame,
    merchants: &DataFrame,
    params: &FeatureParams,
) -> Result<DataFrame> {
    if transactions.height() == 0 {
        return Err(user_error(
            "no transactions are left after cleaning: nothing to build customer features from",
        ));
    }
    let eligible = EligibleMerchants::from_table(merchants, params)?;
    let codes = transactions.column("stock_code")?.str()?;
    let links = stock_links(codes.no_null_iter(), &eligible, params.seed);
    let lines = transactions.select([
        "customer_id",
        "invoice_no",
        "quantity",
        "invoice_date",
        "country",
    ])?;
    let per_customer = lines
        .clone()
        .lazy()
        .with_columns([col("invoice_date").cast(DataType::Int64).alias("ts")])
        .group_by_stable([col("customer_id")])
        .agg([
            len().cast(DataType::Int64).alias("n_lines"),
            col("invoice_no")
                .n_unique()
                .cast(DataType::Int64)
                .alias("n_invoices"),
            col("quantity")
                .sum()
                .cast(DataType::Int64)
                .alias("total_quantity"),
            col("ts").min().alias("first_ts"),
            col("ts").max().alias("last_ts"),
        ])
        .sort(["customer_id"], SortMultipleOptions::default())
        .collect()
        .map_err(anyhow::Error::from)
        .context("cannot aggregate transactions per customer")?;
    let i64s = |name: &str| -> Result<Vec<i64>> {
        Ok(per_customer.column(name)?.i64()?.no_null_iter().collect())
    };
    let customer_ids = i64s("customer_id")?;
    let n = customer_ids.len();
    let mut sums = CustomerSums {
        country: modal_country(&lines, &customer_ids)?,
        n_lines: i64s("n_lines")?,
        n_invoices: i64s("n_invoices")?,
        total_quantity: i64s("total_quantity")?,
        first_ts: i64s("first_ts")?,
        last_ts: i64s("last_ts")?,
        spend: vec![0; n],
        price: vec![0; n],
        w_stars: vec![0; n],
        w_reviews: vec![0; n],
        w_commission: vec![0; n],
        customer_id: customer_ids,
    };
    // The exact sums (see `exact`): integers, so the order of the lines does not matter.
    let row_of: HashMap<i64, usize> = sums
        .customer_id
        .iter()
        .enumerate()
        .map(|(row, &id)| (id, row))
        .collect();
    let scaled: HashMap<&str, (i128, i128, i128)> = links
        .iter()
        .map(|(&code, attrs)| {
            (
                code,
                (
                    millionths(attrs.stars) as i128,
                    attrs.review_count as i128,
                    millionths(attrs.commission) as i128,
                ),
            )
        })
        .collect();
    let ids = transactions.column("customer_id")?.i64()?;
    let quantities = transactions.column("quantity")?.i64()?;
    let prices = transactions.column("unit_price")?.f64()?;
    for (((id, quantity), price), code) in ids
        .no_null_iter()
        .zip(quantities.no_null_iter())
        .zip(prices.no_null_iter())
        .zip(codes.no_null_iter())
    {
        let row = row_of[&id];
        let spend = line_spend(quantity, price) as i128;
        let (stars, reviews, commission) = scaled[code];
        sums.spend[row] += spend;
        sums.price[row] += millionths(price) as i128;
        sums.w_stars[row] += spend * stars;
        sums.w_reviews[row] += spend * reviews;
        sums.w_commission[row] += spend * commission;
    }
    let social = social_links(&sums.customer_id, edges, params.seed)?;
    finish(&sums, social)
}

/// Most frequent country per customer; ties go to the alphabetically first (byte order).
fn modal_country(lines: &DataFrame, customer_ids: &[i64]) -> Result<Vec<String>> {
    let ids = lines.column("customer_id")?.i64()?;
    let countries = lines.column("country")?.str()?;
    let mut counts: HashMap<(i64, &str), usize> = HashMap::new();
    for (id, country) in ids.no_null_iter().zip(countries.no_null_iter()) {
        *counts.entry((id, country)).or_default() += 1;
    }
    let mut best: HashMap<i64, (&str, usize)> = HashMap::with_capacity(customer_ids.len());
    for ((id, country), count) in counts {
        let entry = best.entry(id).or_insert((country, count));
        if count > entry.1 || (count == entry.1 && country.as_bytes() < entry.0.as_bytes()) {
            *entry = (country, count);
        }
    }
    Ok(customer_ids
        .iter()
        .map(|id| {
            best.get(id)
                .map(|(country, _)| country.to_string())
                .unwrap_or_default()
        })
        .collect())
}
