//! The CLV stage's tables: `customer_value` (per customer: RFM, P(alive), expected purchases
//! and value, margin, CLV, holdout), `clv_model` (the fitted parameters) and `clv_holdout`
//! (expected vs actual by calibration frequency); and `customer_value` columns joined onto the
//! customer features for segmenting.

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::*;

use super::{ClvResult, HoldoutRow, HoldoutSummary, Rfm};
use crate::error::user_error;
use crate::frame::{f64_column, i64_column, Table};

/// The stage's three tables.
pub(crate) struct ClvTables {
    pub customer_value: DataFrame,
    pub clv_model: DataFrame,
    pub clv_holdout: DataFrame,
}

/// A Float64 column of `values`, or all null when there are none.
fn optional_column(name: &str, values: Option<&Vec<f64>>, n: usize) -> Column {
    match values {
        Some(v) => Column::new(name.into(), v.clone()),
        None => Column::full_null(name.into(), n, &DataType::Float64),
    }
}

/// The check's per-customer holdout columns, aligned to the main summary's customers (a
/// customer who first bought in the held-out days has none).
fn check_columns(main: &Rfm, check: &Rfm, result: &ClvResult) -> Vec<Column> {
    let row: HashMap<i64, usize> = check
        .customer_id
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    let at = |id: &i64| row.get(id).copied();
    let holdout = check.holdout.as_ref();
    let expected = result.values.holdout_expected.as_ref();
    vec![
        Column::new(
            "holdout_frequency".into(),
            main.customer_id
                .iter()
                .map(|id| at(id).and_then(|i| holdout.map(|h| h.frequency[i] as i64)))
                .collect::<Vec<Option<i64>>>(),
        ),
        Column::new(
            "holdout_monetary_value".into(),
            main.customer_id
                .iter()
                .map(|id| at(id).and_then(|i| holdout.map(|h| h.monetary_value[i])))
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            "holdout_expected".into(),
            main.customer_id
                .iter()
                .map(|id| at(id).and_then(|i| expected.map(|e| e[i])))
                .collect::<Vec<Option<f64>>>(),
        ),
    ]
}

/// `customer_value`, `clv_model` and `clv_holdout` from the fit on `rfm` (with `margin` per
/// customer); `holdout_rows` is the holdout check shown in `clv_holdout`. With `check` (the
/// refit without the last days, no calibration end), customer_value's holdout columns are the
/// check's.
pub(crate) fn tables(
    rfm: &Rfm,
    margin: &[f64],
    result: &ClvResult,
    holdout_rows: Option<&HoldoutSummary>,
    check: Option<&(Rfm, ClvResult)>,
) -> Result<ClvTables> {
    let n = rfm.len();
    let values = &result.values;
    let monetary = (!rfm.monetary_value.is_empty()).then_some(&rfm.monetary_value);
    let holdout = rfm.holdout.as_ref();
    let mut customer_value = Table::new(n)
        .col("customer_id", rfm.customer_id.iter().copied())
        .col("frequency", rfm.frequency.iter().map(|&x| x as i64))
        .col("recency", rfm.recency.iter().copied())
        .col("T", rfm.age.iter().copied())
        .column(optional_column("monetary_value", monetary, n))
        .col("p_alive", values.p_alive.iter().copied())
        .col(
            "expected_purchases",
            values.expected_purchases.iter().copied(),
        )
        .column(optional_column(
            "expected_value",
            values.expected_value.as_ref(),
            n,
        ))
        .col("margin", margin.iter().copied())
        .column(optional_column("clv", values.clv.as_ref(), n))
        .column(match holdout {
            Some(h) => Column::new(
                "holdout_frequency".into(),
                h.frequency.iter().map(|&x| x as i64).collect::<Vec<i64>>(),
            ),
            None => Column::full_null("holdout_frequency".into(), n, &DataType::Int64),
        })
        .column(optional_column(
            "holdout_monetary_value",
            holdout.map(|h| &h.monetary_value),
            n,
        ))
        .column(optional_column(
            "holdout_expected",
            values.holdout_expected.as_ref(),
            n,
        ))
        .build()?;
    if let Some((check_rfm, checked)) = check {
        for column in check_columns(rfm, check_rfm, checked) {
            customer_value.with_column(column)?;
        }
    }
    let mut model = Vec::new();
    let mut parameter = Vec::new();
    let mut value = Vec::new();
    let mut std_error: Vec<Option<f64>> = Vec::new();
    let mut log_likelihood = Vec::new();
    let mut n_customers = Vec::new();
    let bg = &result.bgnbd;
    for (k, name) in ["r", "alpha", "a", "b"].into_iter().enumerate() {
        model.push("bgnbd");
        parameter.push(name);
        value.push(bg.params.as_array()[k]);
        std_error.push(bg.std_errors.map(|se| se[k]));
        log_likelihood.push(bg.log_likelihood);
        n_customers.push(bg.n_customers as i64);
    }
    if let Some(gg) = &result.gamma_gamma {
        for (k, name) in ["p", "q", "v"].into_iter().enumerate() {
            model.push("gamma_gamma");
            parameter.push(name);
            value.push(gg.params.as_array()[k]);
            std_error.push(gg.std_errors.map(|se| se[k]));
            log_likelihood.push(gg.log_likelihood);
            n_customers.push(gg.n_customers as i64);
        }
    }
    let clv_model = Table::new(model.len())
        .col("model", model)
        .col("parameter", parameter)
        .col("value", value)
        .col("std_error", std_error)
        .col("log_likelihood", log_likelihood)
        .col("n_customers", n_customers)
        .build()?;
    let rows: &[HoldoutRow] = holdout_rows.map_or(&[][..], |h| h.rows.as_slice());
    let clv_holdout = Table::new(rows.len())
        .col(
            "calibration_frequency",
            rows.iter().map(|r| r.calibration_frequency.clone()),
        )
        .col("customers", rows.iter().map(|r| r.customers as i64))
        .col("actual_mean", rows.iter().map(|r| r.actual_mean))
        .col("expected_mean", rows.iter().map(|r| r.expected_mean))
        .col("actual_total", rows.iter().map(|r| r.actual_total))
        .col("expected_total", rows.iter().map(|r| r.expected_total))
        .col("mae", rows.iter().map(|r| r.mae))
        .build()?;
    Ok(ClvTables {
        customer_value,
        clv_model,
        clv_holdout,
    })
}

/// `features` (customer_features) with the `wanted` columns of `values` (customer_value:
/// customer_id and those columns) appended, row for row by customer_id. A customer without a
/// value is an error that names them (segmenting needs every customer's features).
pub(crate) fn with_customer_value(
    features: DataFrame,
    values: &DataFrame,
    wanted: &[&str],
) -> Result<DataFrame> {
    let row_of: HashMap<i64, usize> = i64_column(values, "customer_id")?
        .into_iter()
        .enumerate()
        .map(|(row, id)| (id, row))
        .collect();
    let ids = i64_column(&features, "customer_id")?;
    let rows: Vec<usize> = ids
        .iter()
        .map(|id| {
            row_of.get(id).copied().ok_or_else(|| {
                user_error(format!(
                    "[segment] features names customer_value columns, but customer {id} has no row in customer_value (first purchase after [clv] calibration_end?); set calibration_end = \"\" to value every customer, or run `fluz clv`"
                ))
            })
        })
        .collect::<Result<_>>()?;
    let mut out = features;
    for &name in wanted {
        let column = f64_column(values, name)?;
        let aligned: Vec<f64> = rows.iter().map(|&r| column[r]).collect();
        if let Some(i) = aligned.iter().position(|v| !v.is_finite()) {
            return Err(user_error(format!(
                "customer_value column {name} is empty for customer {} (an RFM input without monetary_value?): it cannot be a segment feature",
                ids[i]
            )));
        }
        out.with_column(Column::new(name.into(), aligned))?;
    }
    Ok(out)
}
