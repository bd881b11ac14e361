//! `fluz uplift`: learns per-customer effects from a randomized offer test and recommends an
//! arm per customer — or one arm for everyone, when the held-out evidence does not show that a
//! personalised policy beats it.
//!
//! Reads the store's `offers` (from `simulate-offers`), or first ingests `[offers] log` when it
//! is set (every check before anything is written). Splits customers by the hash of their id
//! (`[offers] test_percent`, the same hash as `train`'s split), calls `uplift::study` and writes
//! `uplift_predictions`, `uplift_metrics`, `uplift_curve`, `qini.png` and `uplift_split.csv`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;

use super::{f64_column, i64_column, str_column};
use crate::config::Config;
use crate::features::linkage::h_customer;
use crate::models::policy::MODEL_POLICY;
use crate::models::split::is_test;
use crate::report::qini_chart::{self, QiniPanel};
use crate::sources::offers::{read_log, LogSpec, OfferLog};
use crate::store::Store;
use crate::uplift::learners::BaseSpec;
use crate::uplift::simulate::Truth;
use crate::uplift::{study, Extras, MetricRow, OutcomeStudy, StudyParams};
use crate::Context;

/// What the stage produced.
pub(crate) struct Summary {
    pub customers: usize,
    pub outcomes: Vec<OutcomeSummary>,
    /// Customers whose rate to give now comes from the offer test, and the policy.
    pub rates_given: Option<(usize, String)>,
}

/// The recommendation for one outcome.
pub(crate) struct OutcomeSummary {
    pub outcome: String,
    pub recommendation: String,
}

fn log_spec(config: &Config) -> LogSpec {
    let o = &config.offers;
    let optional = |s: &String| (!s.is_empty()).then(|| s.clone());
    LogSpec {
        customer_column: optional(&o.customer_column),
        arm_column: o.arm_column.clone(),
        control_arm: o.control_arm.clone(),
        rate_column: optional(&o.rate_column),
        arm_rates: o.arm_rates.clone(),
        arm_costs: o.arm_costs.clone(),
        outcomes: o.outcomes.clone(),
        spend_outcome: o.spend_outcome.clone(),
        features: o.features.clone(),
        min_arm_rows: o.min_arm_rows,
        encoding: config.ingest.encoding,
        max_decompressed_bytes: config.ingest.max_decompressed_bytes,
    }
}

/// The study's settings from the config.
fn study_params(config: &Config) -> StudyParams {
    let o = &config.offers;
    let mut grid: Vec<BaseSpec> = o
        .boosting_depths
        .iter()
        .map(|&depth| BaseSpec::Boosting {
            rounds: o.base_trees,
            depth,
        })
        .collect();
    grid.extend(o.forest_min_leaf.iter().map(|&min_leaf| BaseSpec::Forest {
        trees: o.base_trees,
        min_leaf,
    }));
    StudyParams {
        n_folds: o.n_folds as usize,
        grid,
        learners: o.learners.clone(),
        seed: o.seed,
        bootstrap: o.bootstrap,
        spend_outcome: o.spend_outcome.clone(),
        curve_points: 100,
        baseline: None,
    }
}

/// `[offers] baseline`: the named feature of every customer of the log, checked positive.
fn baseline(config: &Config, log: &OfferLog) -> Result<Option<Vec<f64>>> {
    let mut name = config.offers.baseline.as_str();
    if name == "auto" {
        name = "total_spent";
        if !log.features.iter().any(|(f, _)| f == name) {
            tracing::info!("uplift: no total_spent among the features: learning raw spend");
            return Ok(None);
        }
    }
    if name.is_empty() {
        return Ok(None);
    }
    let Some((_, values)) = log.features.iter().find(|(f, _)| f == name) else {
        return Err(crate::error::user_error(format!(
            "config key [offers] baseline: the offer test's features have no {name:?} (they have {:?})",
            log.features.iter().map(|(f, _)| f).collect::<Vec<_>>()
        )));
    };
    if let Some(i) = values.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(crate::error::user_error(format!(
            "config key [offers] baseline: {name} of customer {} is {}, but a baseline must be positive",
            log.customer_id[i], values[i]
        )));
    }
    Ok(Some(values.clone()))
}

/// Reads and checks `[offers] log`, with features and margins resolved.
fn ingest_log(config: &Config, store: &mut dyn Store) -> Result<OfferLog> {
    let path = &config.offers.log;
    let mut log = read_log(path, &log_spec(config))?;
    if config.offers.features.is_empty() {
        // Features and margins of customers known to the store.
        let features = store.read_table("customer_features").with_context(|| {
            format!(
                "{}: [offers] features is empty, so the log's customers are looked up in customer_features",
                path.display()
            )
        })?;
        let ids = i64_column(&features, "customer_id")?;
        let x = super::table::feature_matrix(&features, &config.train.features)?;
        let commission = f64_column(&features, "merchant_commission")?;
        let row_of: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let mut rows = Vec::with_capacity(log.len());
        for (data_row, id) in log.customer_id.iter().enumerate() {
            match row_of.get(id) {
                Some(&row) => rows.push(row),
                None => {
                    return Err(crate::error::user_error(format!(
                        "{}: data row {}: customer {id} is not in customer_features (list [offers] features to learn from the log's own columns)",
                        path.display(),
                        data_row + 1
                    )))
                }
            }
        }
        log.features = config
            .train
            .features
            .iter()
            .enumerate()
            .map(|(j, name)| (name.clone(), rows.iter().map(|&r| x.get(r, j)).collect()))
            .collect();
        log.margin = rows
            .iter()
            .map(|&r| commission[r] + config.economics.engagement_value)
            .collect();
    } else {
        log.margin = vec![config.offers.margin; log.len()];
    }
    Ok(log)
}

/// The simulated truth aligned with the log's rows, when every customer has it.
fn true_profit(store: &mut dyn Store, log: &OfferLog) -> Result<Option<Vec<Vec<f64>>>> {
    if !store.has_table("offers_truth")? {
        return Ok(None);
    }
    let truth = store.read_table("offers_truth")?;
    if truth.height() == 0 {
        return Ok(None);
    }
    let ids = i64_column(&truth, "customer_id")?;
    let arms = str_column(&truth, "arm")?;
    let profit = f64_column(&truth, "expected_profit")?;
    let arm_index: HashMap<&str, usize> = log
        .arms
        .iter()
        .enumerate()
        .map(|(a, arm)| (arm.name.as_str(), a))
        .collect();
    let row_of: HashMap<i64, usize> = log
        .customer_id
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i))
        .collect();
    let mut out = vec![vec![f64::NAN; log.len()]; log.arms.len()];
    for j in 0..truth.height() {
        if let (Some(&a), Some(&i)) = (arm_index.get(arms[j].as_str()), row_of.get(&ids[j])) {
            out[a][i] = profit[j];
        }
    }
    let complete = out.iter().all(|col| col.iter().all(|v| v.is_finite()));
    Ok(complete.then_some(out))
}

/// Today's oracle-label regression as an arm per log row: its tier snapped to the nearest arm
/// rate (ties → the lower rate).
fn oracle_label_policy(store: &mut dyn Store, log: &OfferLog) -> Result<Option<Vec<usize>>> {
    if !store.has_table("cashback_predictions")? {
        return Ok(None);
    }
    let predictions = store.read_columns("cashback_predictions", &["customer_id", "tier"])?;
    let ids = i64_column(&predictions, "customer_id")?;
    let tiers = f64_column(&predictions, "tier")?;
    let tier_of: HashMap<i64, f64> = ids.into_iter().zip(tiers).collect();
    let mut policy = Vec::with_capacity(log.len());
    for id in &log.customer_id {
        let Some(&tier) = tier_of.get(id) else {
            return Ok(None);
        };
        let mut best = 0;
        for (a, arm) in log.arms.iter().enumerate() {
            if (arm.rate - tier).abs() < (log.arms[best].rate - tier).abs() {
                best = a;
            }
        }
        policy.push(best);
    }
    Ok(Some(policy))
}

fn metrics_table(rows: &[MetricRow]) -> PolarsResult<DataFrame> {
    let text = |f: &dyn Fn(&MetricRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let num = |f: &dyn Fn(&MetricRow) -> Option<f64>| {
        rows.iter()
            .map(|r| f(r).filter(|v| v.is_finite()))
            .collect::<Vec<Option<f64>>>()
    };
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("learner".into(), text(&|r| r.learner.clone())),
            Column::new("outcome".into(), text(&|r| r.outcome.clone())),
            Column::new("arm".into(), text(&|r| r.arm.clone())),
            Column::new("qini".into(), num(&|r| r.qini)),
            Column::new("auuc".into(), num(&|r| r.auuc)),
            Column::new(
                "policy_value_ipw".into(),
                num(&|r| r.value.as_ref().map(|v| v.ipw)),
            ),
            Column::new(
                "policy_value_dr".into(),
                num(&|r| r.value.as_ref().map(|v| v.dr)),
            ),
            Column::new(
                "ci_low".into(),
                num(&|r| r.value.as_ref().map(|v| v.ci_low)),
            ),
            Column::new(
                "ci_high".into(),
                num(&|r| r.value.as_ref().map(|v| v.ci_high)),
            ),
            Column::new(
                "gain_vs_best_arm".into(),
                num(&|r| r.gain.as_ref().map(|g| g.dr)),
            ),
            Column::new(
                "gain_ci_low".into(),
                num(&|r| r.gain.as_ref().map(|g| g.ci_low)),
            ),
            Column::new(
                "gain_ci_high".into(),
                num(&|r| r.gain.as_ref().map(|g| g.ci_high)),
            ),
            Column::new("true_value".into(), num(&|r| r.true_value)),
            Column::new("regret_pct".into(), num(&|r| r.regret_pct)),
            Column::new(
                "detail".into(),
                rows.iter()
                    .map(|r| r.detail.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
        ],
    )
}

fn predictions_table(
    log: &OfferLog,
    test: &[bool],
    studies: &[OutcomeStudy],
    spend_outcome: &str,
) -> PolarsResult<DataFrame> {
    let mut customer = Vec::new();
    let mut split = Vec::new();
    let mut learner = Vec::new();
    let mut outcome = Vec::new();
    let mut arm = Vec::new();
    let mut expected = Vec::new();
    let mut effect = Vec::new();
    let mut cost: Vec<Option<f64>> = Vec::new();
    let mut profit: Vec<Option<f64>> = Vec::new();
    let mut recommended = Vec::new();
    for s in studies {
        let money = s.outcome == spend_outcome;
        for (i, &held_out) in test.iter().enumerate() {
            for (a, arm_def) in log.arms.iter().enumerate() {
                customer.push(log.customer_id[i]);
                split.push(if held_out { "test" } else { "train" });
                learner.push(s.reported_learner.name());
                outcome.push(s.outcome.clone());
                arm.push(arm_def.name.clone());
                expected.push(s.expected[a][i]);
                effect.push(s.expected[a][i] - s.expected[0][i]);
                cost.push(money.then(|| arm_def.rate * s.expected[a][i] + arm_def.cost));
                profit.push(money.then(|| s.values[a][i] - s.values[0][i]));
                recommended.push(s.recommended[i] == a);
            }
        }
    }
    DataFrame::new(
        customer.len(),
        vec![
            Column::new("customer_id".into(), customer),
            Column::new("split".into(), split),
            Column::new("learner".into(), learner),
            Column::new("outcome".into(), outcome),
            Column::new("arm".into(), arm),
            Column::new("expected_outcome".into(), expected),
            Column::new("effect".into(), effect),
            Column::new("cost".into(), cost),
            Column::new("incremental_profit".into(), profit),
            Column::new("recommended".into(), recommended),
        ],
    )
}

fn curve_table(studies: &[OutcomeStudy]) -> PolarsResult<DataFrame> {
    let points: Vec<&crate::uplift::CurvePoint> =
        studies.iter().flat_map(|s| s.curves.iter()).collect();
    DataFrame::new(
        points.len(),
        vec![
            Column::new(
                "learner".into(),
                points.iter().map(|p| p.learner.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "outcome".into(),
                points.iter().map(|p| p.outcome.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "arm".into(),
                points.iter().map(|p| p.arm.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "fraction".into(),
                points.iter().map(|p| p.fraction).collect::<Vec<_>>(),
            ),
            Column::new(
                "gain".into(),
                points.iter().map(|p| p.gain).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `cashback_predictions.recommended_rate` / `recommended_by` from the learned policy for the
/// customers of the offer test (the model's columns stay beside them; customers outside the
/// test keep the model's tier). The number of customers given the learned rate, or `None`
/// without `cashback_predictions`.
fn apply_to_predictions(
    store: &mut dyn Store,
    log: &OfferLog,
    study: &OutcomeStudy,
) -> Result<Option<usize>> {
    if !store.has_table("cashback_predictions")? {
        return Ok(None);
    }
    let mut predictions = store.read_table("cashback_predictions")?;
    let ids = i64_column(&predictions, "customer_id")?;
    let tiers = f64_column(&predictions, "tier")?;
    let arm_of: HashMap<i64, usize> = log
        .customer_id
        .iter()
        .copied()
        .zip(study.recommended.iter().copied())
        .collect();
    let learned = format!("offer test: {}", study.policy);
    let mut rate = Vec::with_capacity(ids.len());
    let mut by = Vec::with_capacity(ids.len());
    for (id, tier) in ids.iter().zip(tiers) {
        match arm_of.get(id) {
            Some(&arm) => {
                rate.push(log.arms[arm].rate);
                by.push(learned.as_str());
            }
            None => {
                rate.push(tier);
                by.push(MODEL_POLICY);
            }
        }
    }
    let applied = by.iter().filter(|b| **b != MODEL_POLICY).count();
    predictions.with_column(Column::new("recommended_rate".into(), rate))?;
    predictions.with_column(Column::new("recommended_by".into(), by))?;
    store.write_table("cashback_predictions", &predictions)?;
    Ok(Some(applied))
}

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<Summary> {
    let started = Instant::now();
    let config = &ctx.config;
    let ingested = !config.offers.log.as_os_str().is_empty();
    let log = if ingested {
        ingest_log(config, store)?
    } else {
        let offers = store.read_table("offers")?;
        let features = store.read_table("offer_features")?;
        OfferLog::from_tables(&offers, &features)?
    };
    let missing: Vec<&String> = config
        .offers
        .outcomes
        .iter()
        .filter(|o| !log.outcomes.iter().any(|(name, _)| name == *o))
        .collect();
    if !missing.is_empty() {
        return Err(crate::error::user_error(format!(
            "config key [offers] outcomes: the stored offers have no outcome {:?} (they have {:?})",
            missing,
            log.outcomes.iter().map(|(n, _)| n).collect::<Vec<_>>()
        )));
    }
    let mut log = log;
    log.outcomes
        .retain(|(name, _)| config.offers.outcomes.contains(name));
    let (truth, today) = if ingested {
        (None, None)
    } else {
        let truth = true_profit(store, &log)?;
        let today = if truth.is_some() {
            oracle_label_policy(store, &log)?
        } else {
            None
        };
        (truth, today)
    };
    let seed = config.linkage.seed;
    let n_folds = config.offers.n_folds;
    let test: Vec<bool> = log
        .customer_id
        .iter()
        .map(|&c| is_test(seed, c, config.offers.test_percent))
        .collect();
    let fold: Vec<usize> = log
        .customer_id
        .iter()
        .map(|&c| (h_customer("fold", seed, c) % n_folds) as usize)
        .collect();
    let n_test = test.iter().filter(|&&t| t).count();
    if n_test < 10 || log.len() - n_test < 10 * n_folds as usize {
        return Err(crate::error::user_error(format!(
            "too few customers for an uplift study: {} in training and {n_test} held out (config key [offers] test_percent)",
            log.len() - n_test
        )));
    }
    let params = StudyParams {
        baseline: baseline(config, &log)?,
        ..study_params(config)
    };
    let extras = Extras {
        true_profit: truth,
        oracle_label_policy: today,
    };
    let studies = study(&log, &test, &fold, &extras, &params);

    let metric_rows: Vec<MetricRow> = studies.iter().flat_map(|s| s.metrics.clone()).collect();
    let metrics = metrics_table(&metric_rows)?;
    let predictions = predictions_table(&log, &test, &studies, &params.spend_outcome)?;
    let curves = curve_table(&studies)?;

    // Files first (nothing in the store changes if they cannot be written).
    let out_dir = &config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut panels = Vec::new();
    for s in &studies {
        for arm in log.arms.iter().skip(1) {
            let series: Vec<(String, Vec<(f64, f64)>)> = {
                let mut names: Vec<&str> = Vec::new();
                for p in &s.curves {
                    if p.arm == arm.name && !names.contains(&p.learner.as_str()) {
                        names.push(&p.learner);
                    }
                }
                names
                    .iter()
                    .map(|name| {
                        (
                            name.to_string(),
                            s.curves
                                .iter()
                                .filter(|p| p.arm == arm.name && p.learner == *name)
                                .map(|p| (p.fraction, p.gain))
                                .collect(),
                        )
                    })
                    .collect()
            };
            panels.push(QiniPanel {
                title: format!("{} vs {} — {}", arm.name, log.arms[0].name, s.outcome),
                series,
            });
        }
    }
    qini_chart::draw(&out_dir.join("qini.png"), &panels)?;
    let mut split_csv = String::from("customer_id,split\n");
    for (id, &t) in log.customer_id.iter().zip(&test) {
        split_csv.push_str(&format!("{id},{}\n", if t { "test" } else { "train" }));
    }
    crate::report::write_atomic(&out_dir.join("uplift_split.csv"), split_csv.as_bytes())?;

    if ingested {
        store.write_table("offers", &log.offers_table()?)?;
        store.write_table("offer_features", &log.features_table()?)?;
        store.write_table(
            "offers_truth",
            &super::simulate_offers::truth_table(&log, &Truth::default())?,
        )?;
    }
    store.write_table("uplift_predictions", &predictions)?;
    store.write_table("uplift_metrics", &metrics)?;
    store.write_table("uplift_curve", &curves)?;
    // The log's customers are the store's (simulated, or looked up in customer_features): the
    // rate to give them now comes from the offer test.
    let money_study = studies.iter().find(|s| s.outcome == params.spend_outcome);
    let applied = match money_study {
        Some(study) if !ingested || config.offers.features.is_empty() => {
            apply_to_predictions(store, &log, study)?
        }
        _ => None,
    };
    super::record_stage(
        store,
        "uplift",
        started,
        predictions.height(),
        serde_json::json!({
            "customers": log.len(),
            "test_customers": n_test,
            "source": if ingested { config.offers.log.display().to_string() } else { "store".into() },
            "cashback_predictions_from_offer_test": applied,
            "outcomes": studies.iter().map(|s| serde_json::json!({
                "outcome": s.outcome,
                "base_learner": s.base.name(),
                "grid_loss": s.grid_loss.iter().map(|(b, l)| (b.name(), *l)).collect::<Vec<_>>(),
                "recommendation": s.summary,
            })).collect::<Vec<_>>(),
        }),
    )?;
    if !ctx.quiet {
        print_summary(&log, n_test, &studies);
    }
    let rates_given = applied
        .filter(|&n| n > 0)
        .zip(money_study)
        .map(|(n, study)| (n, format!("offer test: {}", study.policy)));
    if !ctx.quiet {
        if let Some((n, policy)) = &rates_given {
            println!("cashback_predictions: {n} customers now get the rate of the {policy} policy (recommended_rate; the model's tier stays beside it)");
        }
    }
    Ok(Summary {
        rates_given,
        customers: log.len(),
        outcomes: studies
            .iter()
            .map(|s| OutcomeSummary {
                outcome: s.outcome.clone(),
                recommendation: s.summary.clone(),
            })
            .collect(),
    })
}

fn print_summary(log: &OfferLog, n_test: usize, studies: &[OutcomeStudy]) {
    let counts = log.arm_counts();
    println!(
        "uplift: {} customers ({} held out); arms {}",
        log.len(),
        n_test,
        log.arms
            .iter()
            .zip(&counts)
            .map(|(a, c)| format!("{} (rate {}, {c})", a.name, a.rate))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let fmt = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.4}"));
    for s in studies {
        println!("\noutcome {} — base learner {}", s.outcome, s.base.name());
        println!(
            "{:<26} {:<14} {:>8} {:>8} {:>10} {:>10} {:>22} {:>10} {:>9}",
            "learner",
            "arm",
            "qini",
            "auuc",
            "value_ipw",
            "value_dr",
            "95% interval",
            "true",
            "regret%"
        );
        for m in &s.metrics {
            let (ipw, dr, ci) = match &m.value {
                Some(v) => (
                    fmt(Some(v.ipw)),
                    fmt(Some(v.dr)),
                    format!("[{:.4}, {:.4}]", v.ci_low, v.ci_high),
                ),
                None => ("".into(), "".into(), "".into()),
            };
            let q = if m.value.is_none() {
                fmt(m.qini)
            } else {
                String::new()
            };
            let a = if m.value.is_none() {
                fmt(m.auuc)
            } else {
                String::new()
            };
            println!(
                "{:<26} {:<14} {:>8} {:>8} {:>10} {:>10} {:>22} {:>10} {:>9}",
                m.learner,
                m.arm,
                q,
                a,
                ipw,
                dr,
                ci,
                m.true_value.map_or(String::new(), |v| format!("{v:.4}")),
                m.regret_pct.map_or(String::new(), |v| format!("{v:.2}"))
            );
        }
        println!("recommended: {}", s.summary);
    }
}
