//! The offer test's parameters: its log, the simulation and the study.

use crate::config::{rates, Config};
use crate::sources::offers::LogSpec;
use crate::uplift::analysis::AnalysisParams;
use crate::uplift::inputs::CustomerLookup;
use crate::uplift::learners::BaseSpec;
use crate::uplift::simulate::SimulationParams;
use crate::uplift::StudyParams;

/// How to read `[offers] log`.
pub(crate) fn offer_log(config: &Config) -> LogSpec {
    let o = &config.offers;
    let optional = |s: &String| (!s.is_empty()).then(|| s.clone());
    LogSpec {
        customer_column: optional(&o.customer_column),
        arm_column: o.arm_column.clone(),
        control_arm: o.control_arm.clone(),
        rate_column: optional(&o.rate_column),
        arm_rates: o
            .arm_rates
            .iter()
            .map(|(arm, rate)| (arm.clone(), rate.get()))
            .collect(),
        arm_costs: o.arm_costs.clone(),
        outcomes: o.outcomes.clone(),
        spend_outcome: o.spend_outcome.clone(),
        features: o.features.clone(),
        min_arm_rows: o.min_arm_rows,
        encoding: config.ingest.encoding,
        max_decompressed_bytes: config.ingest.max_decompressed_bytes,
    }
}

/// The simulated offer test: its arms' rates, window and seed.
pub(crate) fn simulation(config: &Config) -> SimulationParams {
    SimulationParams {
        arms: rates(&config.offers.arms),
        window_days: config.offers.window_days,
        seed: config.offers.seed,
    }
}

/// How `uplift` splits and studies the offer log.
pub(crate) fn uplift_analysis(config: &Config) -> AnalysisParams {
    let o = &config.offers;
    AnalysisParams {
        split_seed: config.linkage.seed,
        test_percent: o.test_percent,
        n_folds: o.n_folds,
        baseline: o.baseline.clone(),
        study: uplift_study(config),
    }
}

/// How an external offer log's customers get their features and margins.
pub(crate) fn offer_customers(config: &Config) -> CustomerLookup {
    CustomerLookup {
        names: config.train.features.clone(),
        engagement_value: config.economics.engagement_value,
        fixed_margin: config.offers.margin,
    }
}

/// The uplift study's settings (no baseline: that is the log's feature, set by the analysis).
fn uplift_study(config: &Config) -> StudyParams {
    let o = &config.offers;
    StudyParams {
        n_folds: o.n_folds as usize,
        grid: BaseSpec::grid(o.base_trees, &o.boosting_depths, &o.forest_min_leaf),
        learners: o.learners.clone(),
        seed: o.seed,
        bootstrap: o.bootstrap,
        spend_outcome: o.spend_outcome.clone(),
        curve_points: 100,
        baseline: None,
    }
}
