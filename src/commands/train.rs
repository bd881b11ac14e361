//! `fluz train`: the economic target, the hash split and folds, grid search with CV per
//! family, refit and test metrics, the final model file, predictions with tiers and values,
//! feature importance, policy value vs oracle and flat rate, and merchant rates.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use super::{f64_column, i64_column};
use crate::config::Config;
use crate::features::customers::{stock_links, EligibleMerchants};
use crate::learn::matrix::Matrix;
use crate::models::economics::{value, EconomicInputs, Economics};
use crate::models::family::{grid, Model, SavedModel, Spec};
use crate::models::merchants::{merchant_cashback, Line};
use crate::models::selection::{cross_validate, mae, permutation_importance, r2, rmse, GridResult};
use crate::models::split::{fold, is_test};
use crate::{progress, store, Context};

/// The economics parameters from the config.
pub fn economics(config: &Config) -> Economics {
    let e = &config.economics;
    Economics {
        beta0: e.beta0,
        a_price: e.a_price,
        a_freq: e.a_freq,
        a_recency: e.a_recency,
        a_social: e.a_social,
        sigma: e.sigma,
        engagement_value: e.engagement_value,
        rate_min: e.rate_min,
        rate_max: e.rate_max,
        tiers: e.tiers.clone(),
        seed: config.linkage.seed,
    }
}

/// With `[economics] engagement = "clv"`, each customer's λ_i from `customer_value`
/// ([`crate::models::economics::engagement_from_clv`]); `None` for "flat".
fn clv_engagement(
    config: &Config,
    store: &mut dyn store::Store,
    inputs: &EconomicInputs,
) -> Result<Option<Vec<f64>>> {
    if config.economics.engagement == crate::config::Engagement::Flat {
        return Ok(None);
    }
    let table = store.read_columns("customer_value", &["customer_id", "clv"])?;
    if table.column("clv")?.null_count() == table.height() {
        return Err(crate::error::user_error(
            "[economics] engagement = \"clv\" needs CLV values, but customer_value has none (an RFM input without monetary_value)",
        ));
    }
    let ids = i64_column(&table, "customer_id")?;
    let clv = table.column("clv")?.f64()?.clone();
    let by_id: HashMap<i64, f64> = ids
        .iter()
        .zip(clv.iter())
        .filter_map(|(&id, c)| c.map(|c| (id, c)))
        .collect();
    let per_customer: Vec<Option<f64>> = inputs
        .customer_id
        .iter()
        .map(|id| by_id.get(id).copied())
        .collect();
    let (lambdas, flat) = crate::models::economics::engagement_from_clv(
        config.economics.engagement_value,
        &per_customer,
        &inputs.total_spent,
    );
    if flat > 0 {
        tracing::warn!(
            "engagement = \"clv\": {flat} customers have no CLV in customer_value and keep the flat engagement_value"
        );
    }
    Ok(Some(lambdas))
}

/// The model feature matrix of `customer_features`, every value checked finite.
pub fn feature_matrix(features: &DataFrame, names: &[String]) -> Result<Matrix> {
    let columns: Vec<Vec<f64>> = names
        .iter()
        .map(|name| f64_column(features, name))
        .collect::<Result<_>>()?;
    for (name, column) in names.iter().zip(&columns) {
        if let Some(row) = column.iter().position(|v| !v.is_finite()) {
            return Err(crate::error::user_error(format!(
                "customer_features column {name} has a non-finite value in row {row}: cannot train on it"
            )));
        }
    }
    Ok(Matrix::from_columns(&columns))
}

/// Policy value of the learned tiers vs the oracle and a flat rate.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyValue {
    pub customers: usize,
    pub value_predicted: f64,
    pub value_optimal: f64,
    pub value_flat: f64,
    pub flat_rate: f64,
    /// (oracle − predicted) / oracle, percent.
    pub regret_pct: f64,
    /// (oracle − flat) / oracle, percent.
    pub flat_regret_pct: f64,
}

fn policy(
    rows: &[usize],
    at_tier: &[f64],
    at_optimal: &[f64],
    at_flat: &[f64],
    flat_rate: f64,
) -> PolicyValue {
    let sum = |v: &[f64]| rows.iter().map(|&i| v[i]).sum::<f64>();
    let (p, o, f) = (sum(at_tier), sum(at_optimal), sum(at_flat));
    let pct = |x: f64| {
        if o.abs() > 0.0 {
            100.0 * (o - x) / o
        } else {
            0.0
        }
    };
    PolicyValue {
        customers: rows.len(),
        value_predicted: p,
        value_optimal: o,
        value_flat: f,
        flat_rate,
        regret_pct: pct(p),
        flat_regret_pct: pct(f),
    }
}

/// What the stage produced, for run-all's summary.
pub struct TrainOutcome {
    pub final_family: String,
    pub test_rmse: f64,
    pub test_r2: f64,
    pub policy_test: PolicyValue,
}

struct FamilyBest {
    spec: Spec,
    cv_rmse: f64,
    test_rmse: f64,
    test_mae: f64,
    test_r2: f64,
}

/// Runs the stage.
pub fn run(ctx: &Context) -> Result<TrainOutcome> {
    let started = Instant::now();
    let config = &ctx.config;
    let train_config = &config.train;
    let mut store = store::open(config)?;
    let features = store.read_table("customer_features")?;
    let n = features.height();
    let customer_ids = i64_column(&features, "customer_id")?;
    let x = feature_matrix(&features, &train_config.features)?;
    let eco = economics(config);
    let inputs = EconomicInputs {
        customer_id: customer_ids.clone(),
        total_spent: f64_column(&features, "total_spent")?,
        avg_item_price: f64_column(&features, "avg_item_price")?,
        n_invoices: f64_column(&features, "n_invoices")?,
        recency_days: f64_column(&features, "recency_days")?,
        social_degree: f64_column(&features, "social_degree")?,
        merchant_commission: f64_column(&features, "merchant_commission")?,
        engagement: None,
    };
    let inputs = EconomicInputs {
        engagement: clv_engagement(config, &mut *store, &inputs)?,
        ..inputs
    };
    let targets = eco.targets(&inputs);
    let seed = config.linkage.seed;
    let test_flags: Vec<bool> = customer_ids
        .iter()
        .map(|&c| is_test(seed, c, train_config.test_percent))
        .collect();
    let train_rows: Vec<usize> = (0..n).filter(|&i| !test_flags[i]).collect();
    let test_rows: Vec<usize> = (0..n).filter(|&i| test_flags[i]).collect();
    if train_rows.len() < 2 * train_config.n_folds as usize || test_rows.is_empty() {
        return Err(crate::error::user_error(format!(
            "too few customers to train: {} in the training split and {} in the test split",
            train_rows.len(),
            test_rows.len()
        )));
    }
    // Rows for cross-validation: all training customers, or the `cv_max_rows` with the smallest
    // h("cv", c) when capped (a seeded sample that does not depend on row order).
    let cv_rows: Vec<usize> =
        if train_config.cv_max_rows > 0 && train_rows.len() > train_config.cv_max_rows {
            let mut ranked: Vec<(u64, usize)> = train_rows
                .iter()
                .map(|&i| {
                    (
                        crate::features::linkage::h_customer("cv", seed, customer_ids[i]),
                        i,
                    )
                })
                .collect();
            ranked.sort_unstable();
            let mut rows: Vec<usize> = ranked[..train_config.cv_max_rows]
                .iter()
                .map(|&(_, i)| i)
                .collect();
            rows.sort_unstable();
            rows
        } else {
            train_rows.clone()
        };
    let folds: Vec<usize> = cv_rows
        .iter()
        .map(|&i| fold(seed, customer_ids[i], train_config.n_folds))
        .collect();
    let x_train = x.select_rows(&train_rows);
    let y_train: Vec<f64> = train_rows
        .iter()
        .map(|&i| targets.optimal_rate[i])
        .collect();
    // Copy the CV rows out only when they are a sample; otherwise CV runs on the training split.
    let capped_cv = (cv_rows.len() < train_rows.len()).then(|| {
        let y: Vec<f64> = cv_rows.iter().map(|&i| targets.optimal_rate[i]).collect();
        (x.select_rows(&cv_rows), y)
    });
    let (x_cv, y_cv) = match &capped_cv {
        Some((x_cv, y_cv)) => (x_cv, y_cv.as_slice()),
        None => (&x_train, y_train.as_slice()),
    };
    let x_test = x.select_rows(&test_rows);
    let y_test: Vec<f64> = test_rows.iter().map(|&i| targets.optimal_rate[i]).collect();

    let phase = |what: &str| {
        tracing::debug!("train: {what} at {:.3}s", started.elapsed().as_secs_f64());
    };
    phase("inputs ready");
    let specs = grid(train_config)?;
    let n_folds = train_config.n_folds as usize;
    let bar = progress::bar(
        ctx.progress,
        (specs.len() * n_folds) as u64,
        "train: grid × folds",
    );
    let train_seed = train_config.seed;
    let results: Vec<GridResult> = cross_validate(
        &specs,
        x_cv,
        y_cv,
        &folds,
        n_folds,
        train_config.max_bins,
        train_seed,
        &|| bar.inc(1),
    )
    .context("cross-validation failed")?;
    bar.finish_and_clear();

    phase("features and CV done");
    // Best grid point per family (ties → first in grid order), refit on the whole train split.
    let mut families: Vec<&str> = Vec::new();
    for result in &results {
        if !families.contains(&result.spec.family()) {
            families.push(result.spec.family());
        }
    }
    let mut selected = vec![false; results.len()];
    let mut chosen: Vec<&GridResult> = Vec::new();
    for family in &families {
        let (index, best) = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.spec.family() == *family && r.cv_rmse.is_finite())
            .min_by(|(ia, a), (ib, b)| a.cv_rmse.total_cmp(&b.cv_rmse).then(ia.cmp(ib)))
            .with_context(|| format!("no finite CV score for {family}"))?;
        selected[index] = true;
        chosen.push(best);
    }
    // The final model: lowest CV RMSE (never chosen on the test split), so it is known before
    // the refits.
    let final_index = chosen
        .iter()
        .enumerate()
        .min_by(|(ia, a), (ib, b)| a.cv_rmse.total_cmp(&b.cv_rmse).then(ia.cmp(ib)))
        .map(|(i, _)| i)
        .context("no model family was trained")?;
    // The refits are independent (each deterministic on its own): run them side by side. Only
    // the final family's model is kept; the others are only scored on the test split, so a
    // forest among them is not kept either (`Spec::fit_predict`: the same predictions, and at
    // 100k customers 300 unlimited-depth trees are over a GB).
    let refits: Vec<(FamilyBest, Option<Model>)> = chosen
        .par_iter()
        .enumerate()
        .map(|(index, best)| -> Result<(FamilyBest, Option<Model>)> {
            let (model, predicted) = if index == final_index {
                let model = best
                    .spec
                    .fit(&x_train, &y_train, train_config.max_bins, train_seed)?;
                let predicted = model.predict(&x_test);
                (Some(model), predicted)
            } else {
                let predicted = best.spec.fit_predict(
                    &x_train,
                    &y_train,
                    train_config.max_bins,
                    train_seed,
                    &x_test,
                )?;
                (None, predicted)
            };
            let scored = FamilyBest {
                spec: best.spec.clone(),
                cv_rmse: best.cv_rmse,
                test_rmse: rmse(&y_test, &predicted),
                test_mae: mae(&y_test, &predicted),
                test_r2: r2(&y_test, &predicted),
            };
            Ok((scored, model))
        })
        .collect::<Result<_>>()?;
    let (bests, mut models): (Vec<FamilyBest>, Vec<Option<Model>>) = refits.into_iter().unzip();
    let final_best = &bests[final_index];
    let final_model = models[final_index]
        .take()
        .context("the final family's model was fitted")?;

    phase("refits done");
    // Predictions, tiers and values for every customer.
    let predicted: Vec<f64> = final_model
        .predict(&x)
        .into_iter()
        .map(|r| r.clamp(eco.rate_min, eco.rate_max))
        .collect();
    let tier: Vec<f64> = predicted.iter().map(|&r| eco.snap_to_tier(r)).collect();
    let flat = config.economics.flat_rate;
    let value_at = |rates: &dyn Fn(usize) -> f64| -> Vec<f64> {
        (0..n)
            .map(|i| {
                value(
                    inputs.total_spent[i],
                    targets.beta[i],
                    targets.margin[i],
                    rates(i),
                )
            })
            .collect()
    };
    let at_tier = value_at(&|i| tier[i]);
    let at_optimal = value_at(&|i| targets.optimal_rate[i]);
    let at_flat = value_at(&|_| flat);
    let all_rows: Vec<usize> = (0..n).collect();
    let policy_test = policy(&test_rows, &at_tier, &at_optimal, &at_flat, flat);
    let policy_all = policy(&all_rows, &at_tier, &at_optimal, &at_flat, flat);

    // Importance.
    let impurity = final_model.impurity_importance(&x_train);
    let permutation = permutation_importance(&final_model, &x_test, &y_test, 5, train_seed);
    let mut order: Vec<usize> = (0..train_config.features.len()).collect();
    order.sort_by(|&a, &b| permutation[b].total_cmp(&permutation[a]).then(a.cmp(&b)));
    let mut rank = vec![0i64; order.len()];
    for (position, &j) in order.iter().enumerate() {
        rank[j] = position as i64 + 1;
    }

    phase("importance done");
    // Merchant rates.
    let transactions = store.read_columns(
        "transactions",
        &["stock_code", "customer_id", "quantity", "unit_price"],
    )?;
    let merchants_table = store.read_table("merchants")?;
    let params = super::eda::feature_params(config);
    let eligible = EligibleMerchants::from_table(&merchants_table, &params)?;
    let codes = transactions.column("stock_code")?.str()?;
    let tx_customers = transactions.column("customer_id")?.i64()?;
    let quantity = transactions.column("quantity")?.i64()?;
    let price = transactions.column("unit_price")?.f64()?;
    let links = stock_links(codes.no_null_iter(), &eligible, params.seed);
    let customer_rate: HashMap<i64, (f64, f64)> = (0..n)
        .map(|i| (customer_ids[i], (tier[i], targets.beta[i])))
        .collect();
    let lines = codes
        .no_null_iter()
        .zip(tx_customers.no_null_iter())
        .zip(quantity.no_null_iter().zip(price.no_null_iter()))
        .map(|((stock_code, customer_id), (q, p))| Line {
            customer_id,
            stock_code,
            spend: q as f64 * p,
        });
    let merchant_rows = merchant_cashback(lines, &links, &eligible, &customer_rate);

    // Tables.
    let grid_table = DataFrame::new(
        results.len(),
        vec![
            Column::new(
                "family".into(),
                results.iter().map(|r| r.spec.family()).collect::<Vec<_>>(),
            ),
            Column::new(
                "params".into(),
                results
                    .iter()
                    .map(|r| r.spec.params_json())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "cv_rmse".into(),
                results.iter().map(|r| r.cv_rmse).collect::<Vec<_>>(),
            ),
            Column::new(
                "cv_rmse_std".into(),
                results.iter().map(|r| r.cv_rmse_std).collect::<Vec<_>>(),
            ),
            Column::new("selected".into(), selected),
        ],
    )?;
    let comparison = DataFrame::new(
        bests.len(),
        vec![
            Column::new(
                "family".into(),
                bests.iter().map(|b| b.spec.family()).collect::<Vec<_>>(),
            ),
            Column::new(
                "params".into(),
                bests
                    .iter()
                    .map(|b| b.spec.params_json())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "cv_rmse".into(),
                bests.iter().map(|b| b.cv_rmse).collect::<Vec<_>>(),
            ),
            Column::new(
                "test_rmse".into(),
                bests.iter().map(|b| b.test_rmse).collect::<Vec<_>>(),
            ),
            Column::new(
                "test_mae".into(),
                bests.iter().map(|b| b.test_mae).collect::<Vec<_>>(),
            ),
            Column::new(
                "test_r2".into(),
                bests.iter().map(|b| b.test_r2).collect::<Vec<_>>(),
            ),
            Column::new(
                "final".into(),
                (0..bests.len())
                    .map(|i| i == final_index)
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;
    let predictions = DataFrame::new(
        n,
        vec![
            Column::new("customer_id".into(), customer_ids.clone()),
            Column::new(
                "split".into(),
                test_flags
                    .iter()
                    .map(|&t| if t { "test" } else { "train" })
                    .collect::<Vec<_>>(),
            ),
            Column::new("margin".into(), targets.margin.clone()),
            Column::new("beta".into(), targets.beta.clone()),
            Column::new("optimal_rate".into(), targets.optimal_rate.clone()),
            Column::new("predicted_rate".into(), predicted.clone()),
            Column::new("tier".into(), tier.clone()),
            Column::new("value_at_tier".into(), at_tier),
            Column::new("value_at_optimal".into(), at_optimal),
            Column::new("value_at_flat".into(), at_flat),
        ],
    )?;
    let importance = DataFrame::new(
        train_config.features.len(),
        vec![
            Column::new("feature".into(), train_config.features.clone()),
            Column::new("impurity_importance".into(), impurity),
            Column::new("permutation_importance".into(), permutation),
            Column::new("rank".into(), rank),
        ],
    )?;
    let merchant_table = DataFrame::new(
        merchant_rows.len(),
        vec![
            Column::new(
                "business_id".into(),
                merchant_rows
                    .iter()
                    .map(|m| m.business_id.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "name".into(),
                merchant_rows
                    .iter()
                    .map(|m| m.name.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "city".into(),
                merchant_rows
                    .iter()
                    .map(|m| m.city.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "stars".into(),
                merchant_rows.iter().map(|m| m.stars).collect::<Vec<_>>(),
            ),
            Column::new(
                "commission".into(),
                merchant_rows
                    .iter()
                    .map(|m| m.commission)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "customers".into(),
                merchant_rows
                    .iter()
                    .map(|m| m.customers as i64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "spend".into(),
                merchant_rows.iter().map(|m| m.spend).collect::<Vec<_>>(),
            ),
            Column::new(
                "recommended_rate".into(),
                merchant_rows
                    .iter()
                    .map(|m| m.recommended_rate)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "expected_margin".into(),
                merchant_rows
                    .iter()
                    .map(|m| m.expected_margin)
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;

    // The model file.
    let out_dir = &config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let means: Vec<f64> = (0..x_train.n_cols)
        .map(|j| x_train.column(j).iter().sum::<f64>() / x_train.n_rows.max(1) as f64)
        .collect();
    let saved = SavedModel {
        fluz_version: env!("CARGO_PKG_VERSION").to_string(),
        target: "optimal_rate".into(),
        spec: final_best.spec.clone(),
        features: train_config.features.clone(),
        feature_means: means,
        model: final_model,
    };
    let model_path = out_dir.join("cashback_model.json");
    crate::report::write_atomic(&model_path, serde_json::to_string(&saved)?.as_bytes())?;

    store.write_table("model_grid", &grid_table)?;
    store.write_table("model_comparison", &comparison)?;
    store.write_table("cashback_predictions", &predictions)?;
    store.write_table("cashback_feature_importance", &importance)?;
    store.write_table("merchant_cashback", &merchant_table)?;
    super::record_stage(
        store.as_mut(),
        "train",
        started,
        n,
        serde_json::json!({
            "final_family": final_best.spec.family(),
            "final_params": final_best.spec.params_json(),
            "test_rmse": final_best.test_rmse,
            "test_r2": final_best.test_r2,
            "train_customers": train_rows.len(),
            "test_customers": test_rows.len(),
            "cv_customers": cv_rows.len(),
            "policy_test": policy_test,
            "policy_all": policy_all,
            "model_file": model_path.display().to_string(),
            // Wall seconds of each grid point's CV fits: kept out of the tables, which must be
            // identical from run to run.
            "cv_fit_seconds": results
                .iter()
                .map(|r| (r.spec.family(), r.spec.params_json(), r.fit_seconds))
                .collect::<Vec<_>>(),
        }),
    )?;
    if !ctx.quiet {
        println!(
            "train: {} customers ({} train / {} test), {} grid points × {} folds",
            n,
            train_rows.len(),
            test_rows.len(),
            specs.len(),
            n_folds
        );
        println!(
            "{:<18} {:>10} {:>10} {:>10} {:>8}  params",
            "family", "cv_rmse", "test_rmse", "test_mae", "test_r2"
        );
        for (i, b) in bests.iter().enumerate() {
            println!(
                "{:<18} {:>10.6} {:>10.6} {:>10.6} {:>8.4}  {}{}",
                b.spec.family(),
                b.cv_rmse,
                b.test_rmse,
                b.test_mae,
                b.test_r2,
                b.spec.params_json(),
                if i == final_index { "  ← final" } else { "" }
            );
        }
        println!(
            "policy value on the test split: tiers {:.2}, oracle {:.2}, flat {:.1}% {:.2} → regret {:.2}% (flat: {:.2}%)",
            policy_test.value_predicted,
            policy_test.value_optimal,
            flat * 100.0,
            policy_test.value_flat,
            policy_test.regret_pct,
            policy_test.flat_regret_pct
        );
        println!("model saved to {}", model_path.display());
    }
    Ok(TrainOutcome {
        final_family: final_best.spec.family().to_string(),
        test_rmse: final_best.test_rmse,
        test_r2: final_best.test_r2,
        policy_test,
    })
}
