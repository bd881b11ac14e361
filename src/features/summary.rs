//! The EDA summary of `customer_features` (`eda_summary.json`): shape, nulls, describe per
//! numeric column, the IQR outliers of spend and the top countries.

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use super::describe::{describe, iqr_outliers, Describe, Outliers};

use crate::frame::f64_column as f64_values;

/// The EDA summary saved as `eda_summary.json`.
#[derive(Debug, Serialize)]
pub(crate) struct EdaSummary {
    pub customers: usize,
    pub columns: usize,
    pub transactions: usize,
    pub revenue: f64,
    pub mean_spend: f64,
    pub median_spend: f64,
    pub nulls: Vec<(String, usize)>,
    pub describe: Vec<Describe>,
    pub spend_outliers: Outliers,
    pub top_countries: Vec<(String, usize)>,
}

/// Computes the summary of `customer_features`.
pub(crate) fn summarise(features: &DataFrame, top_countries: usize) -> Result<EdaSummary> {
    let mut describes = Vec::new();
    let mut nulls = Vec::new();
    for column in features.columns() {
        nulls.push((column.name().to_string(), column.null_count()));
        if column.dtype().is_primitive_numeric() {
            describes.push(describe(
                column.name(),
                &f64_values(features, column.name())?,
            ));
        }
    }
    let spend = f64_values(features, "total_spent")?;
    let lines = f64_values(features, "n_lines")?;
    let outliers = iqr_outliers("total_spent", &spend);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for country in features.column("country")?.str()?.iter() {
        *counts.entry(country.unwrap_or("").to_string()).or_default() += 1;
    }
    let mut countries: Vec<(String, usize)> = counts.into_iter().collect();
    countries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    countries.truncate(top_countries);
    let spend_describe = describe("total_spent", &spend);
    Ok(EdaSummary {
        customers: features.height(),
        columns: features.width(),
        transactions: lines.iter().sum::<f64>() as usize,
        revenue: spend.iter().sum(),
        mean_spend: spend_describe.mean,
        median_spend: spend_describe.median,
        nulls,
        describe: describes,
        spend_outliers: outliers,
        top_countries: countries,
    })
}
