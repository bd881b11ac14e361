//! `fluz train`: the economic target, then model selection (`models::training`), the final
//! model file, predictions with tiers and values (`models::policy`), feature importance, the
//! policy value vs oracle and flat rate, and merchant rates (`models::merchants`).

use std::time::Instant;

use anyhow::{Context as _, Result};

use super::table::{feature_matrix, i64_column};
use crate::models::merchants::{customer_rates, merchants_from_transactions};
use crate::models::policy::{evaluate, Evaluation, PolicyValue};
use crate::models::tables;
use crate::models::training::train;
use crate::store::Store;
use crate::{progress, Context};

/// What the stage produced, for run-all's summary.
pub(crate) struct TrainOutcome {
    pub final_family: String,
    pub test_rmse: f64,
    pub test_r2: f64,
    pub policy_test: PolicyValue,
}

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<TrainOutcome> {
    let started = Instant::now();
    let config = &ctx.config;
    let train_config = &config.train;
    let features = store.read_table("customer_features")?;
    let n = features.height();
    let customer_ids = i64_column(&features, "customer_id")?;
    let x = feature_matrix(&features, &train_config.features)?;
    let eco = super::params::economics(config);
    let inputs = super::economic_inputs(config, &mut *store, &features)?;
    let targets = eco.targets(&inputs);
    let params = super::params::train(config);
    let bar = progress::bar(
        ctx.progress,
        (params.specs.len() as u64) * train_config.n_folds,
        "train: grid × folds",
    );
    let trained = train(&customer_ids, &x, &targets.optimal_rate, &params, &|| {
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    tracing::debug!(
        "train: models ready at {:.3}s",
        started.elapsed().as_secs_f64()
    );
    let final_best = &trained.bests[trained.final_index];
    let flat = config.economics.flat_rate.get();
    let Evaluation {
        values,
        test: policy_test,
        all: policy_all,
    } = evaluate(
        &eco,
        &trained.final_model.predict(&x),
        &inputs.total_spent,
        &targets,
        flat,
        &trained.test_rows,
    );

    // Merchant rates.
    let transactions = store.read_columns(
        "transactions",
        &["stock_code", "customer_id", "quantity", "unit_price"],
    )?;
    let merchants_table = store.read_table("merchants")?;
    let customer_rate = customer_rates(&customer_ids, &values.tier, &targets.beta);
    let merchant_rows = merchants_from_transactions(
        &transactions,
        &merchants_table,
        &super::params::feature_params(config),
        &customer_rate,
    )?;

    // Tables.
    let grid_table = tables::grid(&trained)?;
    let comparison = tables::comparison(&trained)?;
    let predictions = tables::predictions(&customer_ids, &trained, &targets, &values)?;
    let importance = tables::importance(&train_config.features, &trained)?;
    let merchant_table = tables::merchants(&merchant_rows)?;

    // The model file.
    let out_dir = &config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let final_family = final_best.spec.family().to_string();
    let final_params = final_best.spec.params_json();
    let (test_rmse, test_r2) = (final_best.test_rmse, final_best.test_r2);
    let summary_rows: Vec<String> = trained
        .bests
        .iter()
        .enumerate()
        .map(|(i, b)| {
            format!(
                "{:<18} {:>10.6} {:>10.6} {:>10.6} {:>8.4}  {}{}",
                b.spec.family(),
                b.cv_rmse,
                b.test_rmse,
                b.test_mae,
                b.test_r2,
                b.spec.params_json(),
                if i == trained.final_index {
                    "  ← final"
                } else {
                    ""
                }
            )
        })
        .collect();
    let cv_fit_seconds: Vec<_> = trained
        .results
        .iter()
        .map(|r| (r.spec.family(), r.spec.params_json(), r.fit_seconds))
        .collect();
    let (train_customers, test_customers) = (trained.train_rows.len(), trained.test_rows.len());
    let cv_customers = trained.cv_customers;
    let saved = trained.into_saved_model(&train_config.features);
    let model_path = out_dir.join("cashback_model.json");
    crate::report::write_atomic(&model_path, serde_json::to_string(&saved)?.as_bytes())?;

    store.write_table("model_grid", &grid_table)?;
    store.write_table("model_comparison", &comparison)?;
    store.write_table("cashback_predictions", &predictions)?;
    store.write_table("cashback_feature_importance", &importance)?;
    store.write_table("merchant_cashback", &merchant_table)?;
    super::record_stage(
        store,
        "train",
        started,
        n,
        serde_json::json!({
            "final_family": final_family,
            "final_params": final_params,
            "test_rmse": test_rmse,
            "test_r2": test_r2,
            "train_customers": train_customers,
            "test_customers": test_customers,
            "cv_customers": cv_customers,
            "policy_test": policy_test,
            "policy_all": policy_all,
            "model_file": model_path.display().to_string(),
            // Wall seconds of each grid point's CV fits: kept out of the tables, which must be
            // identical from run to run.
            "cv_fit_seconds": cv_fit_seconds,
        }),
    )?;
    if !ctx.quiet {
        println!(
            "train: {} customers ({} train / {} test), {} grid points × {} folds",
            n,
            train_customers,
            test_customers,
            params.specs.len(),
            train_config.n_folds
        );
        println!(
            "{:<18} {:>10} {:>10} {:>10} {:>8}  params",
            "family", "cv_rmse", "test_rmse", "test_mae", "test_r2"
        );
        for row in &summary_rows {
            println!("{row}");
        }
        println!(
            "policy value on the test split ({test_customers} customers): tiers {:.2}, oracle {:.2}, flat {:.1}% {:.2} → regret {:.2}% (flat: {:.2}%)",
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
        final_family,
        test_rmse,
        test_r2,
        policy_test,
    })
}
