//! The tables `train` writes: the grid, the family comparison, the predictions with tiers and
//! values, the feature importance and the merchant rates.

use anyhow::Result;
use polars::prelude::DataFrame;

use super::economics::Targets;
use super::merchants::MerchantCashback;
use super::policy::{Recommendations, MODEL_POLICY};
use super::training::Trained;
use crate::frame::Table;

/// `model_grid`: every grid point's CV score and whether it was its family's choice.
pub(crate) fn grid(trained: &Trained) -> Result<DataFrame> {
    let results = &trained.results;
    Table::new(results.len())
        .col("family", results.iter().map(|r| r.spec.family()))
        .col("params", results.iter().map(|r| r.spec.params_json()))
        .col("cv_rmse", results.iter().map(|r| r.cv_rmse))
        .col("cv_rmse_std", results.iter().map(|r| r.cv_rmse_std))
        .col("selected", trained.selected.iter().copied())
        .build()
}

/// `model_comparison`: each family's best, its test metrics, and the final one.
pub(crate) fn comparison(trained: &Trained) -> Result<DataFrame> {
    let bests = &trained.bests;
    Table::new(bests.len())
        .col("family", bests.iter().map(|b| b.spec.family()))
        .col("params", bests.iter().map(|b| b.spec.params_json()))
        .col("cv_rmse", bests.iter().map(|b| b.cv_rmse))
        .col("test_rmse", bests.iter().map(|b| b.test_rmse))
        .col("test_mae", bests.iter().map(|b| b.test_mae))
        .col("test_r2", bests.iter().map(|b| b.test_r2))
        .col("final", (0..bests.len()).map(|i| i == trained.final_index))
        .build()
}

/// `cashback_predictions`: per customer the split, the economic target, the prediction, its
/// tier and the values; the rate to give is the tier until an offer test replaces it
/// (`uplift`).
pub(crate) fn predictions(
    customer_ids: &[i64],
    trained: &Trained,
    targets: &Targets,
    values: &Recommendations,
) -> Result<DataFrame> {
    let n = customer_ids.len();
    Table::new(n)
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
        .col("recommended_rate", values.tier.iter().copied())
        .col("recommended_by", (0..n).map(|_| MODEL_POLICY))
        .build()
}

/// `cashback_feature_importance`: impurity and permutation importance, permutation rank.
pub(crate) fn importance(features: &[String], trained: &Trained) -> Result<DataFrame> {
    Table::new(features.len())
        .col("feature", features.iter().map(String::as_str))
        .col(
            "impurity_importance",
            trained.impurity_importance.iter().copied(),
        )
        .col(
            "permutation_importance",
            trained.permutation_importance.iter().copied(),
        )
        .col("rank", trained.rank.iter().copied())
        .build()
}

/// `merchant_cashback`.
pub(crate) fn merchants(rows: &[MerchantCashback]) -> Result<DataFrame> {
    Table::new(rows.len())
        .col("business_id", rows.iter().map(|m| m.business_id.as_str()))
        .col("name", rows.iter().map(|m| m.name.as_str()))
        .col("city", rows.iter().map(|m| m.city.clone()))
        .col("stars", rows.iter().map(|m| m.stars))
        .col("commission", rows.iter().map(|m| m.commission))
        .col("customers", rows.iter().map(|m| m.customers as i64))
        .col("spend", rows.iter().map(|m| m.spend))
        .col("recommended_rate", rows.iter().map(|m| m.recommended_rate))
        .col("expected_margin", rows.iter().map(|m| m.expected_margin))
        .build()
}
