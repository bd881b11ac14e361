//! Settings → the domain's parameter structs: the one place where validated config values
//! become the plain parameters a domain function takes.

use anyhow::Result;

use crate::budget::from_model::ModelArmsParams;
use crate::budget::plan::{BudgetChoice, PlanParams};
use crate::budget::sources::BudgetAsk;
use crate::budget::tables::AssembleParams;
use crate::clv::input::{ClvInput, InputParams};
use crate::clv::readers::PurchaseColumns;
use crate::clv::rfm::Periods;
use crate::clv::{ClvParams, TimeUnit};
use crate::config::{rates, ClvConfig, ClvTimeUnit, Config, Family, StoreKind, TrainConfig};
use crate::features::customers::FeatureParams;
use crate::models::economics::Economics;
use crate::models::family::Spec;
use crate::models::training::TrainParams;
use crate::report::dashboard_data::DashboardParams;
use crate::segment::segmentation::SegmentParams;
use crate::segment::sweep::SweepParams;
use crate::sources::offers::LogSpec;
use crate::uplift::analysis::AnalysisParams;
use crate::uplift::inputs::CustomerLookup;
use crate::uplift::learners::BaseSpec;
use crate::uplift::simulate::SimulationParams;
use crate::uplift::StudyParams;

/// The economic model's parameters.
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
        rate_min: e.rate_min.get(),
        rate_max: e.rate_max.get(),
        tiers: rates(&e.tiers),
        seed: config.linkage.seed,
    }
}

/// The economic model's arms for `allocate --source model`: the tiers, the rate bounds and
/// the largest β the model can produce.
pub(crate) fn model_arms(config: &Config) -> ModelArmsParams {
    let e = &config.economics;
    ModelArmsParams {
        tiers: rates(&e.tiers),
        rate_min: e.rate_min.get(),
        rate_max: e.rate_max.get(),
        beta_cap: economics(config).beta_cap(),
    }
}

/// The budget asks (`flag` from the command line, then `[budget]`, then the flat policy) and
/// the curve's resolution.
pub(crate) fn budget_plan(config: &Config, flag: Option<BudgetAsk>) -> PlanParams {
    PlanParams {
        budget: BudgetChoice {
            flag,
            amount: config.budget.budget,
            share: config.budget.budget_share,
            flat_rate: config.economics.flat_rate.get(),
        },
        max_curve_points: config.budget.max_curve_points,
    }
}

/// How an allocation is compared and checked: the flat rate, the held-out check's bootstrap.
pub(crate) fn budget_tables(config: &Config) -> AssembleParams {
    AssembleParams {
        flat_rate: config.economics.flat_rate.get(),
        resamples: config.offers.bootstrap,
        seed: config.offers.seed,
    }
}

/// The CLV analysis's parameters.
pub(crate) fn clv(config: &Config) -> ClvParams {
    let clv = &config.clv;
    ClvParams {
        unit: clv_time_unit(clv),
        penalizer: clv.penalizer,
        gamma_gamma_penalizer: clv.gamma_gamma_penalizer,
        horizon_months: clv.horizon_months,
        discount_rate_monthly: clv.discount_rate_monthly,
    }
}

/// Where the CLV analysis reads from, its periods and its holdout check.
pub(crate) fn clv_input(config: &Config) -> Result<InputParams> {
    let clv = &config.clv;
    let input = if !clv.rfm.as_os_str().is_empty() {
        ClvInput::Rfm(clv.rfm.clone())
    } else if !clv.transactions.as_os_str().is_empty() {
        ClvInput::Purchases {
            path: clv.transactions.clone(),
            columns: PurchaseColumns {
                customer: clv.customer_column.clone(),
                date: clv.date_column.clone(),
                value: clv.value_column.clone(),
            },
        }
    } else {
        ClvInput::Transactions
    };
    Ok(InputParams {
        input,
        periods: Periods {
            unit: clv_time_unit(clv),
            calibration_end: ClvConfig::day("calibration_end", &clv.calibration_end)?,
            observation_end: ClvConfig::day("observation_end", &clv.observation_end)?,
        },
        // Any calibration_end text (even blank) turns the check off.
        check_days: if clv.calibration_end.is_empty() {
            clv.check_days
        } else {
            0
        },
        max_bytes: config.ingest.max_decompressed_bytes,
    })
}

/// The unit of recency, T and expected purchases.
pub(crate) fn clv_time_unit(clv: &ClvConfig) -> TimeUnit {
    match clv.time_unit {
        ClvTimeUnit::Days => TimeUnit::Days,
        ClvTimeUnit::Weeks => TimeUnit::Weeks,
    }
}

/// Linkage and commission parameters of the customer features.
pub fn feature_params(config: &Config) -> FeatureParams {
    FeatureParams {
        seed: config.linkage.seed,
        merchant_categories: config.linkage.merchant_categories.clone(),
        commission_base: config.economics.commission_base,
        commission_stars_slope: config.economics.commission_stars_slope,
        commission_min: config.economics.commission_min.get(),
        commission_max: config.economics.commission_max.get(),
    }
}

/// What `segment` clusters on and how it sweeps k.
pub(crate) fn segment(config: &Config) -> SegmentParams {
    let s = &config.segment;
    SegmentParams {
        features: s.features.clone(),
        transform: s.transform,
        sweep: SweepParams {
            k_min: s.k_min,
            k_max: s.k_max,
            n_init: s.n_init,
            max_iter: s.max_iter,
            tol: s.tol,
            seed: s.seed,
            silhouette_exact_max: s.silhouette_exact_max,
            silhouette_sample_size: s.silhouette_sample_size,
        },
    }
}

/// Model selection's settings: the grid, the split, the folds and the seeds.
pub(crate) fn train(config: &Config) -> TrainParams {
    let t = &config.train;
    TrainParams {
        specs: grid(t),
        test_percent: t.test_percent,
        n_folds: t.n_folds,
        cv_max_rows: t.cv_max_rows,
        max_bins: t.max_bins,
        seed: t.seed,
        split_seed: config.linkage.seed,
    }
}

/// True when `customer_features` is built by the store's SQL engine rather than polars.
pub(crate) fn feature_pushdown(config: &Config) -> bool {
    matches!(config.store.kind, StoreKind::Postgres | StoreKind::Spark) && config.store.pushdown
}

/// The dashboard's settings.
pub(crate) fn dashboard(config: &Config) -> DashboardParams {
    DashboardParams {
        seed: config.linkage.seed,
        currency: config.export.currency.clone(),
        sources: [
            &config.data.retail,
            &config.data.social,
            &config.data.merchants,
        ]
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        })
        .collect(),
        tiers: rates(&config.economics.tiers),
        max_customers: config.export.dashboard_max_customers,
    }
}

/// The grid points of the configured families, family by family.
pub(crate) fn grid(config: &TrainConfig) -> Vec<Spec> {
    let depth = |d: usize| if d == 0 { None } else { Some(d) };
    let mut specs = Vec::new();
    for family in &config.families {
        match family {
            Family::Linear => specs.push(Spec::Linear),
            Family::DecisionTree => {
                for &max_depth in &config.decision_tree.max_depth {
                    for &min_samples_leaf in &config.decision_tree.min_samples_leaf {
                        specs.push(Spec::DecisionTree {
                            max_depth: depth(max_depth),
                            min_samples_leaf,
                        });
                    }
                }
            }
            Family::RandomForest => {
                let rf = &config.random_forest;
                for &n_trees in &rf.n_trees {
                    for &max_features in &rf.max_features {
                        for &min_samples_leaf in &rf.min_samples_leaf {
                            for &max_depth in &rf.max_depth {
                                specs.push(Spec::RandomForest {
                                    n_trees,
                                    max_features,
                                    min_samples_leaf,
                                    max_depth: depth(max_depth),
                                });
                            }
                        }
                    }
                }
            }
            Family::GradientBoosting => {
                let gb = &config.gradient_boosting;
                for &n_rounds in &gb.n_rounds {
                    for &learning_rate in &gb.learning_rate {
                        for &max_depth in &gb.max_depth {
                            for &subsample in &gb.subsample {
                                for &lambda in &gb.lambda {
                                    for &min_child_weight in &gb.min_child_weight {
                                        specs.push(Spec::GradientBoosting {
                                            n_rounds,
                                            learning_rate,
                                            max_depth,
                                            subsample,
                                            lambda,
                                            min_child_weight,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    specs
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_has_the_reference_points() {
        let specs = grid(&TrainConfig::default());
        let count = |family: &str| specs.iter().filter(|s| s.family() == family).count();
        assert_eq!(count("linear"), 1);
        assert_eq!(count("decision_tree"), 3);
        assert_eq!(count("random_forest"), 4);
        assert_eq!(count("gradient_boosting"), 2);
    }
}
