//! `fluz train`: the economic target, then model selection (`models::training`), the final
//! model file, predictions with tiers and values (`models::policy`), feature importance, the
//! policy value vs oracle and flat rate, and merchant rates (`models::merchants`).

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, Result};

use super::table::{feature_matrix, i64_column, Table};
use crate::features::customers::{stock_links, EligibleMerchants};
use crate::models::family::SavedModel;
use crate::models::merchants::{merchant_cashback, Line};
use crate::models::policy::{policy_value, recommend, PolicyValue, MODEL_POLICY};
use crate::models::training::{train, TrainParams};
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
    let inputs = super::params::economic_inputs(config, &mut *store, &features)?;
    let targets = eco.targets(&inputs);
    let params = TrainParams {
        specs: super::params::grid(train_config),
        test_percent: train_config.test_percent,
        n_folds: train_config.n_folds,
        cv_max_rows: train_config.cv_max_rows,
        max_bins: train_config.max_bins,
        seed: train_config.seed,
        split_seed: config.linkage.seed,
    };
    let bar = progress::bar(
        ctx.progress,
        (params.specs.len() as u64) * train_config.n_folds,
        "train: grid × folds",
    );
    let trained = train(&customer_ids, &x, &targets.optimal_rate, &params, &|| {
        bar.inc(1)
    })
    .map_err(
        |err| match err.downcast::<crate::models::training::TooFewCustomers>() {
            Ok(too_few) => crate::error::user_error(too_few.to_string()),
            Err(err) => err,
        },
    )?;
    bar.finish_and_clear();
    tracing::debug!(
        "train: models ready at {:.3}s",
        started.elapsed().as_secs_f64()
    );
    let final_best = &trained.bests[trained.final_index];
    let flat = config.economics.flat_rate.get();
    let values = recommend(
        &eco,
        &trained.final_model.predict(&x),
        &inputs.total_spent,
        &targets,
        flat,
    );
    let all_rows: Vec<usize> = (0..n).collect();
    let policy_test = policy_value(&trained.test_rows, &values, flat);
    let policy_all = policy_value(&all_rows, &values, flat);

    // Merchant rates.
    let transactions = store.read_columns(
        "transactions",
        &["stock_code", "customer_id", "quantity", "unit_price"],
    )?;
    let merchants_table = store.read_table("merchants")?;
    let feature_params = super::params::feature_params(config);
    let eligible = EligibleMerchants::from_table(&merchants_table, &feature_params)?;
    let codes = transactions.column("stock_code")?.str()?;
    let tx_customers = transactions.column("customer_id")?.i64()?;
    let quantity = transactions.column("quantity")?.i64()?;
    let price = transactions.column("unit_price")?.f64()?;
    let links = stock_links(codes.no_null_iter(), &eligible, feature_params.seed);
    let customer_rate: HashMap<i64, (f64, f64)> = (0..n)
        .map(|i| (customer_ids[i], (values.tier[i], targets.beta[i])))
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
    let results = &trained.results;
    let grid_table = Table::new(results.len())
        .col("family", results.iter().map(|r| r.spec.family()))
        .col("params", results.iter().map(|r| r.spec.params_json()))
        .col("cv_rmse", results.iter().map(|r| r.cv_rmse))
        .col("cv_rmse_std", results.iter().map(|r| r.cv_rmse_std))
        .col("selected", trained.selected.iter().copied())
        .build()?;
    let bests = &trained.bests;
    let comparison = Table::new(bests.len())
        .col("family", bests.iter().map(|b| b.spec.family()))
        .col("params", bests.iter().map(|b| b.spec.params_json()))
        .col("cv_rmse", bests.iter().map(|b| b.cv_rmse))
        .col("test_rmse", bests.iter().map(|b| b.test_rmse))
        .col("test_mae", bests.iter().map(|b| b.test_mae))
        .col("test_r2", bests.iter().map(|b| b.test_r2))
        .col("final", (0..bests.len()).map(|i| i == trained.final_index))
        .build()?;
    let predictions = Table::new(n)
        .col("customer_id", customer_ids.iter().copied())
        .col(
            "split",
            trained
                .test_flags
                .iter()
                .map(|&t| if t { "test" } else { "train" }),
        )
        .col("margin", targets.margin.iter().copied())
        .col("beta", targets.beta.iter().copied())
        .col("optimal_rate", targets.optimal_rate.iter().copied())
        .col("predicted_rate", values.predicted_rate.iter().copied())
        .col("tier", values.tier.iter().copied())
        .col("value_at_tier", values.value_at_tier.iter().copied())
        .col("value_at_optimal", values.value_at_optimal.iter().copied())
        .col("value_at_flat", values.value_at_flat.iter().copied())
        // The rate to give: the model's tier until an offer test replaces it (`uplift`).
        .col("recommended_rate", values.tier.iter().copied())
        .col("recommended_by", (0..n).map(|_| MODEL_POLICY))
        .build()?;
    let importance = Table::new(train_config.features.len())
        .col("feature", train_config.features.iter().map(String::as_str))
        .col(
            "impurity_importance",
            trained.impurity_importance.iter().copied(),
        )
        .col(
            "permutation_importance",
            trained.permutation_importance.iter().copied(),
        )
        .col("rank", trained.rank.iter().copied())
        .build()?;
    let m = &merchant_rows;
    let merchant_table = Table::new(m.len())
        .col("business_id", m.iter().map(|m| m.business_id.as_str()))
        .col("name", m.iter().map(|m| m.name.as_str()))
        .col("city", m.iter().map(|m| m.city.clone()))
        .col("stars", m.iter().map(|m| m.stars))
        .col("commission", m.iter().map(|m| m.commission))
        .col("customers", m.iter().map(|m| m.customers as i64))
        .col("spend", m.iter().map(|m| m.spend))
        .col("recommended_rate", m.iter().map(|m| m.recommended_rate))
        .col("expected_margin", m.iter().map(|m| m.expected_margin))
        .build()?;

    // The model file.
    let out_dir = &config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let final_family = final_best.spec.family().to_string();
    let final_params = final_best.spec.params_json();
    let (test_rmse, test_r2) = (final_best.test_rmse, final_best.test_r2);
    let summary_rows: Vec<String> = bests
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
    let cv_fit_seconds: Vec<_> = results
        .iter()
        .map(|r| (r.spec.family(), r.spec.params_json(), r.fit_seconds))
        .collect();
    let (train_customers, test_customers) = (trained.train_rows.len(), trained.test_rows.len());
    let saved = SavedModel {
        fluz_version: env!("CARGO_PKG_VERSION").to_string(),
        target: "optimal_rate".into(),
        spec: final_best.spec.clone(),
        features: train_config.features.clone(),
        feature_means: trained.feature_means,
        model: trained.final_model,
    };
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
            "cv_customers": trained.cv_customers,
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
