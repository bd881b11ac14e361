//! `fluz allocate`: spend a cashback budget where it earns most (issue 17). Reads per
//! (customer, arm) expected incremental profit (`value`) and expected cashback (`cost`) from
//! one of three sources, calls [`crate::budget::allocate`] once, and writes the allocation,
//! the value-vs-budget curve, the flat-policy comparison, a one-row summary and
//! `budget_curve.png`.
//!
//! Sources:
//! - `uplift_predictions` (default): value = `incremental_profit`, cost = `cost`, for the one
//!   spend-like outcome: the outcome named `spend`, else the only outcome whose name contains
//!   "spend" or "revenue", else the only outcome. The customers' expected spend (for
//!   `--budget-share`) is their baseline outcome, `expected_outcome − effect`.
//! - `--source model`: the economic model read through the trained model's predicted rate
//!   ([`crate::budget::from_model`]); arms = `[economics] tiers`; expected spend = Σ
//!   `total_spent`.
//! - `--values FILE --out DIR`: any CSV with customer_id, arm, cost, value; no store is opened
//!   and the files go to DIR.
//!
//! Budget: `--budget`/`--budget-share`, else `[budget] budget`/`budget_share`, else the cost of
//! the `[economics] flat_rate` policy (every customer on that rate).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;
use serde_json::json;

use super::{f64_column, str_column};
use crate::budget::comparison::Comparison;
use crate::budget::from_model::{model_arms, CustomerEconomics, ModelArmsParams};
use crate::budget::heldout::{HeldOut, HeldOutEstimate, TestLog, TestPredictions};
use crate::budget::{self, BudgetError, BudgetParams, BudgetPlan, BudgetRule, Offers, ZERO_ARM};
use crate::error::user_error;
use crate::report::budget_chart::{budget_curve, BudgetChart};
use crate::report::csv_export::write_csv;
use crate::report::write_atomic_with;
use crate::sources::budget_values::{rate_of, read_values, sort_arms_by};
use crate::sources::SourceError;
use crate::store::Store;
use crate::Context;

/// Name of the implicit zero arm in the outputs.
pub(crate) const ZERO_ARM_NAME: &str = "none";

/// The tables this stage writes, in the order `export` lists them.
pub(crate) const TABLES: [&str; 5] = [
    "budget_allocation",
    "budget_curve",
    "budget_curve_arms",
    "budget_flat_policies",
    "budget_summary",
];

/// Where the values come from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Source {
    /// `uplift_predictions` when the store has it, else the model (run-all).
    Auto,
    Uplift,
    Model,
    /// A CSV file; outputs go to the folder.
    Values {
        file: PathBuf,
        out: PathBuf,
    },
}

/// A budget asked for on the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BudgetAsk {
    Amount(f64),
    Share(f64),
}

/// One `allocate` invocation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Request {
    pub source: Source,
    /// Overrides `[budget]`.
    pub budget: Option<BudgetAsk>,
}

impl Request {
    /// What `run-all` asks: the automatic source, the configured budget.
    pub(crate) fn run_all() -> Self {
        Self {
            source: Source::Auto,
            budget: None,
        }
    }
}

/// What the stage did, for run-all's summary.
#[derive(Clone, Debug)]
pub(crate) struct AllocateOutcome {
    pub source: String,
    pub customers: usize,
    pub budget: f64,
    pub integer_value: f64,
    pub lambda: f64,
    pub sentence: String,
    /// The held-out doubly-robust check in words, when the values come from an offer test.
    pub held_out: Option<String>,
}

/// Per (customer, arm) rows ready for the allocator, and how to name a row in a message.
struct Prepared {
    source: String,
    customer_ids: Vec<i64>,
    arm_names: Vec<String>,
    arm_rates: Vec<Option<f64>>,
    customer: Vec<u32>,
    arm: Vec<u32>,
    cost: Vec<f64>,
    value: Vec<f64>,
    /// Customers' expected spend at no cashback, when the source knows it.
    expected_spend: Option<f64>,
    /// The offer test's held-out customers, when the values come from an offer test.
    held_out: Option<HeldOut>,
    /// Turns an allocator error into a user error naming the file/table, row and column.
    locate: Box<dyn Fn(BudgetError) -> anyhow::Error>,
}

fn from_values_file(ctx: &Context, file: &Path) -> Result<Prepared> {
    let rows = read_values(file, ctx.config.ingest.max_decompressed_bytes)?;
    let (customer_ids, customer) = budget::comparison::dense_customers(&rows.customer_id);
    let arm_rates = rows.arm_names.iter().map(|n| rate_of(n)).collect();
    let path = file.to_path_buf();
    let lines = rows.line.clone();
    Ok(Prepared {
        source: format!("values file {}", file.display()),
        customer_ids,
        arm_names: rows.arm_names,
        arm_rates,
        customer,
        arm: rows.arm,
        cost: rows.cost,
        value: rows.value,
        expected_spend: None,
        held_out: None,
        locate: Box::new(move |err| match err {
            BudgetError::Row {
                row,
                column,
                message,
            } => SourceError::at(
                &path,
                format!("line {}, column {column}", lines[row]),
                message,
            )
            .into(),
            BudgetError::Duplicate { row, first } => SourceError::at(
                &path,
                format!("line {}, column arm", lines[row]),
                format!(
                    "the same customer and arm as line {} (one row per customer and arm)",
                    lines[first]
                ),
            )
            .into(),
            other => SourceError::file(&path, other.to_string()).into(),
        }),
    })
}

/// The spend-like outcome of `uplift_predictions` (see the module doc).
fn spend_outcome(outcomes: &[String]) -> Result<String> {
    let mut distinct: Vec<&String> = outcomes.iter().collect();
    distinct.sort();
    distinct.dedup();
    if let Some(spend) = distinct.iter().find(|o| o.as_str() == "spend") {
        return Ok(spend.to_string());
    }
    let like: Vec<&&String> = distinct
        .iter()
        .filter(|o| {
            let lower = o.to_lowercase();
            lower.contains("spend") || lower.contains("revenue")
        })
        .collect();
    match (like.as_slice(), distinct.as_slice()) {
        ([one], _) => Ok(one.to_string()),
        (_, [only]) => Ok(only.to_string()),
        _ => Err(user_error(format!(
            "table uplift_predictions: cannot tell which outcome is spend among {distinct:?} (want one named \"spend\")"
        ))),
    }
}

/// The stored offer log's rows of one outcome, when the store has it.
struct OfferRows {
    customer_id: Vec<i64>,
    arm: Vec<String>,
    rate: Vec<f64>,
    contact_cost: Vec<f64>,
    control: Vec<bool>,
    margin: Vec<f64>,
    outcome: Vec<f64>,
}

impl OfferRows {
    fn columns(&self) -> TestLog<'_> {
        TestLog {
            customer_id: &self.customer_id,
            arm: &self.arm,
            rate: &self.rate,
            contact_cost: &self.contact_cost,
            control: &self.control,
            margin: &self.margin,
            outcome: &self.outcome,
        }
    }
}

fn offer_log(store: &mut dyn Store, outcome: &str) -> Result<Option<OfferRows>> {
    if !store.has_table("offers")? {
        return Ok(None);
    }
    let table = store.read_table("offers")?;
    let outcomes = str_column(&table, "outcome")?;
    let keep: Vec<usize> = (0..table.height())
        .filter(|&i| outcomes[i] == outcome)
        .collect();
    if keep.is_empty() {
        return Ok(None);
    }
    let pick_f64 = |name: &str| -> Result<Vec<f64>> {
        let all = f64_column(&table, name)?;
        Ok(keep.iter().map(|&i| all[i]).collect())
    };
    let ids = super::i64_column(&table, "customer_id")?;
    let arms = str_column(&table, "arm")?;
    let control: Vec<bool> = table
        .column("control")?
        .bool()?
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect();
    Ok(Some(OfferRows {
        customer_id: keep.iter().map(|&i| ids[i]).collect(),
        arm: keep.iter().map(|&i| arms[i].clone()).collect(),
        rate: pick_f64("rate")?,
        contact_cost: pick_f64("contact_cost")?,
        control: keep.iter().map(|&i| control[i]).collect(),
        margin: pick_f64("margin")?,
        outcome: pick_f64("value")?,
    }))
}

fn from_uplift(store: &mut dyn Store) -> Result<Prepared> {
    if !store.has_table("uplift_predictions")? {
        return Err(user_error(
            "table uplift_predictions is not in the store: run `fluz uplift` first, or allocate from the economic model with `--source model`, or from your own CSV with `--values FILE --out DIR`",
        ));
    }
    let table = store.read_table("uplift_predictions")?;
    let column = |name: &str| {
        table
            .column(name)
            .map(|_| ())
            .map_err(|_| user_error(format!("table uplift_predictions has no column {name}")))
    };
    for name in [
        "customer_id",
        "outcome",
        "arm",
        "expected_outcome",
        "effect",
        "cost",
        "incremental_profit",
    ] {
        column(name)?;
    }
    let outcomes = str_column(&table, "outcome")?;
    let outcome = spend_outcome(&outcomes)?;
    let ids = table
        .column("customer_id")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or_default())
        .collect::<Vec<i64>>();
    let arms_text: Vec<String> = table
        .column("arm")?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect();
    let expected = f64_column(&table, "expected_outcome")?;
    let effect = f64_column(&table, "effect")?;
    let cost_all = f64_column(&table, "cost")?;
    let value_all = f64_column(&table, "incremental_profit")?;
    let keep: Vec<usize> = (0..table.height())
        .filter(|&i| outcomes[i] == outcome)
        .collect();
    let mut names: Vec<String> = Vec::new();
    let mut arm_raw = Vec::with_capacity(keep.len());
    for &i in &keep {
        let position = match names.iter().position(|n| *n == arms_text[i]) {
            Some(p) => p,
            None => {
                names.push(arms_text[i].clone());
                names.len() - 1
            }
        };
        arm_raw.push(position as u32);
    }
    // The offer log knows each arm's rate; arms sort by it.
    let log = offer_log(store, &outcome)?;
    let rate_of_arm = |name: &str| match &log {
        Some(log) => log.arm.iter().position(|a| a == name).map(|i| log.rate[i]),
        None => rate_of(name),
    };
    let rates: Vec<Option<f64>> = names.iter().map(|n| rate_of_arm(n)).collect();
    let (order, arm_names) = sort_arms_by(&names, &rates);
    let arm: Vec<u32> = arm_raw.iter().map(|&a| order[a as usize]).collect();
    let kept_ids: Vec<i64> = keep.iter().map(|&i| ids[i]).collect();
    let (customer_ids, customer) = budget::comparison::dense_customers(&kept_ids);
    // Baseline spend, once per customer (the first row's `expected_outcome − effect`).
    let mut baseline = vec![f64::NAN; customer_ids.len()];
    for (k, &i) in keep.iter().enumerate() {
        let c = customer[k] as usize;
        if baseline[c].is_nan() {
            baseline[c] = expected[i] - effect[i];
        }
    }
    let spend: f64 = baseline.iter().sum();
    let arm_rates = arm_names.iter().map(|n| rate_of_arm(n)).collect();
    let held_out = match &log {
        Some(log) => {
            let split = str_column(&table, "split")?;
            let test: Vec<usize> = keep
                .iter()
                .copied()
                .filter(|&i| split[i] == "test")
                .collect();
            let test_ids: Vec<i64> = test.iter().map(|&i| ids[i]).collect();
            let test_arms: Vec<String> = test.iter().map(|&i| arms_text[i].clone()).collect();
            let test_expected: Vec<f64> = test.iter().map(|&i| expected[i]).collect();
            HeldOut::from_columns(
                &log.columns(),
                &TestPredictions {
                    customer_id: &test_ids,
                    arm: &test_arms,
                    expected: &test_expected,
                },
                &arm_names,
                &customer_ids,
            )
            .map_err(|e| user_error(format!("tables offers and uplift_predictions: {e}")))?
        }
        None => None,
    };
    let rows_of_table = keep.clone();
    let ids_of_rows = kept_ids.clone();
    let names_of_arms = arm_names.clone();
    let arm_of_rows = arm.clone();
    Ok(Prepared {
        source: format!("uplift_predictions (outcome {outcome})"),
        customer_ids,
        arm_names,
        arm_rates,
        customer,
        arm,
        cost: keep.iter().map(|&i| cost_all[i]).collect(),
        value: keep.iter().map(|&i| value_all[i]).collect(),
        expected_spend: spend.is_finite().then_some(spend),
        held_out,
        locate: Box::new(move |err| {
            match err {
            BudgetError::Row {
                row,
                column,
                message,
            } => {
                let column = match column {
                    "value" => "incremental_profit",
                    other => other,
                };
                user_error(format!(
                    "table uplift_predictions, row {} (customer {}, arm {}), column {column}: {message}",
                    rows_of_table[row] + 1,
                    ids_of_rows[row],
                    names_of_arms[arm_of_rows[row] as usize]
                ))
            }
            BudgetError::Duplicate { row, first } => user_error(format!(
                "table uplift_predictions, row {} (customer {}, arm {}): the same customer, arm and outcome as row {}",
                rows_of_table[row] + 1,
                ids_of_rows[row],
                names_of_arms[arm_of_rows[row] as usize],
                rows_of_table[first] + 1
            )),
            other => user_error(format!("table uplift_predictions: {other}")),
        }
        }),
    })
}

/// The largest β the economic model can produce: every clipped z-score (|z| ≤ 3) pushing the
/// same way and the noise at 3σ.
fn beta_cap(ctx: &Context) -> f64 {
    let e = &ctx.config.economics;
    let reach = e.a_price.abs() + e.a_freq.abs() + e.a_recency.abs() + e.a_social.abs();
    e.beta0 * (3.0 * reach + 3.0 * e.sigma).exp()
}

fn from_model(ctx: &Context, store: &mut dyn Store) -> Result<Prepared> {
    let predictions = store.read_columns(
        "cashback_predictions",
        &["customer_id", "margin", "predicted_rate"],
    )?;
    let features = store.read_columns("customer_features", &["customer_id", "total_spent"])?;
    let pred_ids = super::i64_column(&predictions, "customer_id")?;
    let margin = f64_column(&predictions, "margin")?;
    let predicted_rate = f64_column(&predictions, "predicted_rate")?;
    let feature_ids = super::i64_column(&features, "customer_id")?;
    let total_spent = f64_column(&features, "total_spent")?;
    let spend_of: std::collections::HashMap<i64, f64> =
        feature_ids.into_iter().zip(total_spent).collect();
    // Customers in customer_id order (dense index = position).
    let mut order: Vec<usize> = (0..pred_ids.len()).collect();
    order.sort_by_key(|&i| pred_ids[i]);
    let mut spend = Vec::with_capacity(order.len());
    for &i in &order {
        match spend_of.get(&pred_ids[i]) {
            Some(&s) => spend.push(s),
            None => {
                return Err(user_error(format!(
                    "customer {} is in cashback_predictions but not in customer_features: run `fluz eda` and `fluz train` again",
                    pred_ids[i]
                )))
            }
        }
    }
    let customer_ids: Vec<i64> = order.iter().map(|&i| pred_ids[i]).collect();
    let margin: Vec<f64> = order.iter().map(|&i| margin[i]).collect();
    let predicted_rate: Vec<f64> = order.iter().map(|&i| predicted_rate[i]).collect();
    let economics = &ctx.config.economics;
    let arms = model_arms(
        &CustomerEconomics {
            spend: &spend,
            margin: &margin,
            predicted_rate: &predicted_rate,
        },
        &ModelArmsParams {
            tiers: economics.tiers.clone(),
            rate_min: economics.rate_min,
            rate_max: economics.rate_max,
            beta_cap: beta_cap(ctx),
        },
    );
    let arm_names: Vec<String> = economics.tiers.iter().map(|t| format!("{t}")).collect();
    let ids = customer_ids.clone();
    let names = arm_names.clone();
    let (row_customer, row_arm) = (arms.customer.clone(), arms.arm.clone());
    Ok(Prepared {
        source: "model (cashback_predictions: predicted rate → implied β)".into(),
        customer_ids,
        arm_rates: economics.tiers.iter().map(|&t| Some(t)).collect(),
        arm_names,
        customer: arms.customer,
        arm: arms.arm,
        cost: arms.cost,
        value: arms.value,
        expected_spend: Some(spend.iter().sum()),
        held_out: None,
        locate: Box::new(move |err| {
            match err {
            BudgetError::Row {
                row,
                column,
                message,
            } => user_error(format!(
                "customer {} at tier {}: the economic model's {column} {message} (check cashback_predictions and customer_features)",
                ids[row_customer[row] as usize], names[row_arm[row] as usize]
            )),
            other => user_error(other.to_string()),
        }
        }),
    })
}

/// The budget rule and a sentence saying where the amount came from.
fn budget_rule(ctx: &Context, request: &Request, input: &Prepared) -> Result<(BudgetRule, String)> {
    let settings = &ctx.config.budget;
    let (ask, flag) = match request.budget {
        Some(ask) => (Some(ask), true),
        None => (
            settings
                .budget
                .map(BudgetAsk::Amount)
                .or(settings.budget_share.map(BudgetAsk::Share)),
            false,
        ),
    };
    match ask {
        Some(BudgetAsk::Amount(amount)) => {
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(user_error(format!(
                    "--budget must be a finite number >= 0, got {amount}"
                )));
            }
            let key = if flag { "--budget" } else { "[budget] budget" };
            Ok((
                BudgetRule::Amount(amount),
                format!("amount {amount} ({key})"),
            ))
        }
        Some(BudgetAsk::Share(share)) => {
            if !(share > 0.0 && share <= 1.0) {
                return Err(user_error(format!(
                    "--budget-share must be in (0, 1], got {share}"
                )));
            }
            let key = if flag {
                "--budget-share"
            } else {
                "[budget] budget_share"
            };
            let Some(spend) = input.expected_spend else {
                return Err(user_error(format!(
                    "{key} needs the customers' expected spend, which a values file does not carry: give an amount with --budget"
                )));
            };
            Ok((
                BudgetRule::Amount(share * spend),
                format!("share {share} of the customers' expected spend {spend:.2} ({key})"),
            ))
        }
        None => {
            let flat = ctx.config.economics.flat_rate;
            match budget::comparison::flat_arm(&input.arm_rates, flat) {
                Some(arm) => Ok((
                    BudgetRule::FlatPolicy(arm),
                    format!("the cost of the flat {} policy ([economics] flat_rate)", budget::comparison::percent(flat)),
                )),
                None => Err(user_error(format!(
                    "no budget given and no arm has the flat rate {flat} ([economics] flat_rate) to price the default budget: pass --budget AMOUNT or set [budget] budget"
                ))),
            }
        }
    }
}

fn arm_label(input: &Prepared, arm: u32) -> (String, Option<f64>) {
    if arm == ZERO_ARM {
        (ZERO_ARM_NAME.to_string(), Some(0.0))
    } else {
        (
            input.arm_names[arm as usize].clone(),
            input.arm_rates[arm as usize],
        )
    }
}

/// The five tables, in [`TABLES`] order.
fn tables(
    input: &Prepared,
    plan: &BudgetPlan,
    basis: &str,
    comparison: &Comparison,
    held_out: Option<&(HeldOutEstimate, String)>,
) -> Result<Vec<DataFrame>> {
    let n = plan.allocation.len();
    let labels: Vec<(String, Option<f64>)> = (0..input.arm_names.len() as u32)
        .chain([ZERO_ARM])
        .map(|a| arm_label(input, a))
        .collect();
    let slot = |arm: u32| {
        if arm == ZERO_ARM {
            input.arm_names.len()
        } else {
            arm as usize
        }
    };
    let allocation = DataFrame::new(
        n,
        vec![
            Column::new("customer_id".into(), input.customer_ids.clone()),
            Column::new(
                "arm".into(),
                plan.allocation
                    .iter()
                    .map(|c| labels[slot(c.arm)].0.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "rate".into(),
                plan.allocation
                    .iter()
                    .map(|c| labels[slot(c.arm)].1)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "cost".into(),
                plan.allocation.iter().map(|c| c.cost).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                plan.allocation.iter().map(|c| c.value).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let points = plan.curve.len();
    let curve = DataFrame::new(
        points,
        vec![
            Column::new("point".into(), (0..points as i64).collect::<Vec<_>>()),
            Column::new(
                "budget".into(),
                plan.curve.iter().map(|p| p.budget).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                plan.curve.iter().map(|p| p.value).collect::<Vec<_>>(),
            ),
            Column::new(
                "cost".into(),
                plan.curve.iter().map(|p| p.cost).collect::<Vec<_>>(),
            ),
            Column::new(
                "lambda".into(),
                plan.curve.iter().map(|p| p.lambda).collect::<Vec<_>>(),
            ),
        ],
    )?;
    // Per point and arm; the zero arm only when some customer is ever on it.
    let zero_used = plan.curve.iter().any(|p| p.customers[labels.len() - 1] > 0);
    let shown_slots: Vec<usize> = (0..labels.len())
        .filter(|&s| s + 1 < labels.len() || zero_used)
        .collect();
    let (mut point, mut arm, mut rate, mut customers) = (vec![], vec![], vec![], vec![]);
    for (p, curve_point) in plan.curve.iter().enumerate() {
        for &s in &shown_slots {
            point.push(p as i64);
            arm.push(labels[s].0.clone());
            rate.push(labels[s].1);
            customers.push(curve_point.customers[s] as i64);
        }
    }
    let curve_arms = DataFrame::new(
        point.len(),
        vec![
            Column::new("point".into(), point),
            Column::new("arm".into(), arm),
            Column::new("rate".into(), rate),
            Column::new("customers".into(), customers),
        ],
    )?;
    let flat = DataFrame::new(
        plan.flat.len(),
        vec![
            Column::new(
                "arm".into(),
                plan.flat
                    .iter()
                    .map(|f| labels[f.arm as usize].0.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "rate".into(),
                plan.flat
                    .iter()
                    .map(|f| labels[f.arm as usize].1)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "cost".into(),
                plan.flat.iter().map(|f| f.cost).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                plan.flat.iter().map(|f| f.value).collect::<Vec<_>>(),
            ),
            Column::new(
                "targeted_value".into(),
                plan.flat
                    .iter()
                    .map(|f| f.targeted_value)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "targeted_lp_value".into(),
                plan.flat
                    .iter()
                    .map(|f| f.targeted_lp_value)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "gain".into(),
                plan.flat
                    .iter()
                    .map(|f| f.targeted_value - f.value)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "gain_pct".into(),
                plan.flat
                    .iter()
                    .map(|f| {
                        (f.value > 0.0).then(|| 100.0 * (f.targeted_value - f.value) / f.value)
                    })
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;
    let fractional = plan
        .fractional
        .as_ref()
        .map(|f| input.customer_ids[f.customer as usize]);
    let summary = DataFrame::new(
        1,
        vec![
            Column::new("source".into(), [input.source.clone()]),
            Column::new("customers".into(), [n as i64]),
            Column::new("arms".into(), [input.arm_names.len() as i64]),
            Column::new("budget".into(), [plan.budget]),
            Column::new("budget_basis".into(), [basis.to_string()]),
            Column::new("spend_cap".into(), [plan.spend_cap]),
            Column::new("budget_capped".into(), [plan.capped]),
            Column::new("base_value".into(), [plan.base_value]),
            Column::new("lp_value".into(), [plan.lp_value]),
            Column::new("lp_cost".into(), [plan.lp_cost]),
            Column::new("integer_value".into(), [plan.integer_value]),
            Column::new("integer_cost".into(), [plan.integer_cost]),
            Column::new("gap".into(), [plan.gap]),
            Column::new("lambda".into(), [plan.lambda]),
            Column::new("fractional_customer".into(), [fractional]),
            Column::new("segments".into(), [plan.segments as i64]),
            Column::new("flat_arm".into(), [comparison.arm.clone()]),
            Column::new("flat_cost".into(), [comparison.flat_cost]),
            Column::new("flat_value".into(), [comparison.flat_value]),
            Column::new("targeted_value".into(), [comparison.targeted_value]),
            Column::new("gain".into(), [comparison.gain]),
            Column::new("gain_pct".into(), [comparison.gain_pct]),
            Column::new("sentence".into(), [comparison.sentence.clone()]),
            Column::new(
                "heldout_customers".into(),
                [held_out.map(|(e, _)| e.customers as i64)],
            ),
            Column::new(
                "heldout_model_value".into(),
                [held_out.map(|(e, _)| e.model_value)],
            ),
            Column::new(
                "heldout_dr_value".into(),
                [held_out.map(|(e, _)| e.dr_value.dr)],
            ),
            Column::new(
                "heldout_dr_ci_low".into(),
                [held_out.map(|(e, _)| e.dr_value.ci_low)],
            ),
            Column::new(
                "heldout_dr_ci_high".into(),
                [held_out.map(|(e, _)| e.dr_value.ci_high)],
            ),
            Column::new(
                "heldout_model_gain".into(),
                [held_out.and_then(|(e, _)| e.model_gain)],
            ),
            Column::new(
                "heldout_dr_gain".into(),
                [held_out.and_then(|(e, _)| e.dr_gain.as_ref().map(|g| g.dr))],
            ),
            Column::new(
                "heldout_gain_ci_low".into(),
                [held_out.and_then(|(e, _)| e.dr_gain.as_ref().map(|g| g.ci_low))],
            ),
            Column::new(
                "heldout_gain_ci_high".into(),
                [held_out.and_then(|(e, _)| e.dr_gain.as_ref().map(|g| g.ci_high))],
            ),
            Column::new(
                "heldout_sentence".into(),
                [held_out.map(|(_, sentence)| sentence.clone())],
            ),
        ],
    )?;
    Ok(vec![allocation, curve, curve_arms, flat, summary])
}

/// User + system CPU seconds of this process so far (all threads; Linux `/proc`, 10 ms
/// resolution), for the timing log on a shared, busy machine; NaN elsewhere.
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// Everything computed, nothing written yet.
struct Solved {
    plan: BudgetPlan,
    basis: String,
    comparison: Comparison,
    tables: Vec<DataFrame>,
    outcome: AllocateOutcome,
}

/// The allocation's value on the offer test's held-out customers, model vs doubly robust.
fn held_out_estimate(
    ctx: &Context,
    input: &Prepared,
    plan: &BudgetPlan,
    held: &HeldOut,
) -> (HeldOutEstimate, String) {
    let arm: Vec<Option<usize>> = plan
        .allocation
        .iter()
        .map(|c| (c.arm != ZERO_ARM).then_some(c.arm as usize))
        .collect();
    let value: Vec<f64> = plan.allocation.iter().map(|c| c.value).collect();
    let flat = budget::comparison::flat_arm(&input.arm_rates, ctx.config.economics.flat_rate);
    let flat_value: Option<Vec<f64>> = flat.map(|flat| {
        let mut v = vec![0.0; input.customer_ids.len()];
        for (row, &a) in input.arm.iter().enumerate() {
            if a == flat {
                v[input.customer[row] as usize] = input.value[row];
            }
        }
        v
    });
    let offers = &ctx.config.offers;
    let estimate = held.estimate(
        &arm,
        &value,
        flat.zip(flat_value.as_deref())
            .map(|(a, v)| (a as usize, v)),
        offers.bootstrap,
        offers.seed,
    );
    let name = flat.map(|a| input.arm_names[a as usize].clone());
    let sentence = estimate.sentence(name.as_deref());
    (estimate, sentence)
}

fn solve(ctx: &Context, request: &Request, input: &Prepared) -> Result<Solved> {
    let (rule, basis) = budget_rule(ctx, request, input)?;
    let params = BudgetParams {
        n_customers: input.customer_ids.len(),
        n_arms: input.arm_names.len(),
        budget: rule,
        max_curve_points: ctx.config.budget.max_curve_points,
    };
    let offers = Offers {
        customer: &input.customer,
        arm: &input.arm,
        cost: &input.cost,
        value: &input.value,
    };
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let plan = budget::allocate(&offers, &params).map_err(|err| (input.locate)(err))?;
    let solve_seconds = started.elapsed().as_secs_f64();
    let solve_cpu = process_cpu_seconds() - cpu_before;
    let comparison = budget::comparison::compare(
        &plan,
        &input.arm_names,
        &input.arm_rates,
        ctx.config.economics.flat_rate,
    );
    let held_out = input
        .held_out
        .as_ref()
        .map(|held| held_out_estimate(ctx, input, &plan, held));
    let tables = tables(input, &plan, &basis, &comparison, held_out.as_ref())?;
    tracing::info!(
        "allocate: {} rows solved (hulls, sort, curve, allocation) in {solve_seconds:.3}s ({solve_cpu:.2} CPU-s, all threads); tables built in {:.3}s",
        offers.cost.len(),
        started.elapsed().as_secs_f64() - solve_seconds
    );
    let outcome = AllocateOutcome {
        source: input.source.clone(),
        customers: params.n_customers,
        budget: plan.budget,
        integer_value: plan.integer_value,
        lambda: plan.lambda,
        sentence: comparison.sentence.clone(),
        held_out: held_out.as_ref().map(|(_, sentence)| sentence.clone()),
    };
    Ok(Solved {
        plan,
        basis,
        comparison,
        tables,
        outcome,
    })
}

fn draw_chart(out_dir: &Path, input: &Prepared, solved: &Solved) -> Result<()> {
    let plan = &solved.plan;
    let curve: Vec<(f64, f64)> = plan.curve.iter().map(|p| (p.cost, p.value)).collect();
    let flat: Vec<(String, f64, f64)> = plan
        .flat
        .iter()
        .map(|f| {
            let name = &input.arm_names[f.arm as usize];
            let label = match input.arm_rates[f.arm as usize] {
                Some(rate) => format!("flat {}", budget::comparison::percent(rate)),
                None => format!("all {name}"),
            };
            (label, f.cost, f.value)
        })
        .collect();
    budget_curve(
        &out_dir.join("budget_curve.png"),
        &BudgetChart {
            curve: &curve,
            flat: &flat,
            chosen: (plan.integer_cost, plan.integer_value),
            title: "Cashback budget: targeted allocation vs flat rates",
        },
    )
}

fn report(ctx: &Context, solved: &Solved, written_to: &str) {
    if ctx.quiet {
        return;
    }
    let plan = &solved.plan;
    println!(
        "allocate: {} customers from {}; budget {:.2} ({})",
        solved.outcome.customers, solved.outcome.source, plan.budget, solved.basis
    );
    if plan.capped {
        println!(
            "  the budget is above what helps: spending {:.2} (every arm move with a positive return), {:.2} left unspent",
            plan.spend_cap,
            plan.budget - plan.spend_cap
        );
    }
    println!(
        "  integer allocation: value {:.2} at cost {:.2}; LP bound {:.2} (gap {:.4}); λ = {:.4} (one more unit of budget earns {:.4})",
        plan.integer_value, plan.integer_cost, plan.lp_value, plan.gap, plan.lambda, plan.lambda
    );
    println!(
        "  curve: {} points over {} hull segments; {}",
        plan.curve.len(),
        plan.segments,
        written_to
    );
    println!("  {}", solved.comparison.sentence);
    if let Some(held_out) = &solved.outcome.held_out {
        println!("  {held_out}");
    }
}

/// run-all's source: `uplift_predictions` when the store has it and the budget can be priced
/// from its arms, else the economic model (logged).
fn auto_source(ctx: &Context, request: &Request, store: &mut dyn Store) -> Result<Prepared> {
    if store.has_table("uplift_predictions")? {
        let input = from_uplift(store)?;
        if budget_rule(ctx, request, &input).is_ok() {
            return Ok(input);
        }
        tracing::info!(
            "allocate: the offer test's arms cannot price the budget (no arm at the flat rate); allocating from the economic model"
        );
    }
    from_model(ctx, store)
}

/// `fluz allocate` on the store (the `uplift_predictions` or model source).
pub(crate) fn run(
    ctx: &Context,
    store: &mut dyn Store,
    request: &Request,
) -> Result<AllocateOutcome> {
    let started = Instant::now();
    let input = match &request.source {
        Source::Uplift => from_uplift(store)?,
        Source::Model => from_model(ctx, store)?,
        // run-all: the learned effects when the offer test has run and the budget can be
        // priced from them (an explicit budget, or an arm at the flat rate); else the model.
        Source::Auto => auto_source(ctx, request, store)?,
        Source::Values { .. } => {
            return Err(anyhow::anyhow!(
                "allocate::run is for the store sources; --values goes to run_values"
            ))
        }
    };
    let solved = solve(ctx, request, &input)?;
    let out_dir = &ctx.config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    draw_chart(out_dir, &input, &solved)?;
    for (name, table) in TABLES.iter().zip(&solved.tables) {
        store.write_table(name, table)?;
    }
    let plan = &solved.plan;
    super::record_stage(
        store,
        "allocate",
        started,
        plan.allocation.len(),
        json!({
            "source": input.source,
            "budget": plan.budget,
            "budget_basis": solved.basis,
            "budget_capped": plan.capped,
            "lp_value": plan.lp_value,
            "integer_value": plan.integer_value,
            "gap": plan.gap,
            "lambda": plan.lambda,
            "curve_points": plan.curve.len(),
            "sentence": solved.comparison.sentence,
        }),
    )?;
    report(
        ctx,
        &solved,
        &format!("tables in the store, chart in {}", out_dir.display()),
    );
    Ok(solved.outcome)
}

/// `fluz allocate --values FILE --out DIR`: no store; the tables go to DIR as CSV files.
pub(crate) fn run_values(
    ctx: &Context,
    file: &Path,
    out: &Path,
    request: &Request,
) -> Result<AllocateOutcome> {
    let started = Instant::now();
    let input = from_values_file(ctx, file)?;
    tracing::info!(
        "allocate: read and parsed {} in {:.3}s",
        file.display(),
        started.elapsed().as_secs_f64()
    );
    let solved = solve(ctx, request, &input)?;
    let written = Instant::now();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, table) in TABLES.iter().zip(&solved.tables) {
        write_atomic_with(&out.join(format!("{name}.csv")), |w| write_csv(table, w))?;
    }
    draw_chart(out, &input, &solved)?;
    tracing::info!(
        "allocate: CSV files and chart written in {:.3}s",
        written.elapsed().as_secs_f64()
    );
    report(
        ctx,
        &solved,
        &format!("CSV files and budget_curve.png in {}", out.display()),
    );
    Ok(solved.outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_spend_like_outcome() {
        assert_eq!(
            spend_outcome(&names(&["visits", "spend", "spend"])).unwrap(),
            "spend"
        );
        assert_eq!(
            spend_outcome(&names(&["visits", "total_revenue"])).unwrap(),
            "total_revenue"
        );
        assert_eq!(
            spend_outcome(&names(&["basket", "basket"])).unwrap(),
            "basket"
        );
        assert!(spend_outcome(&names(&["visits", "clicks"]))
            .unwrap_err()
            .to_string()
            .contains("cannot tell which outcome is spend"));
    }

    #[test]
    fn percent_is_short() {
        assert_eq!(budget::comparison::percent(0.02), "2%");
        assert_eq!(budget::comparison::percent(0.075), "7.5%");
        assert_eq!(budget::comparison::percent(0.0), "0%");
    }
}
