//! The budget allocator's parameters.

use crate::budget::from_model::ModelArmsParams;
use crate::budget::plan::{BudgetChoice, PlanParams};
use crate::budget::sources::BudgetAsk;
use crate::budget::tables::AssembleParams;
use crate::config::{rates, Config};

/// The economic model's arms for `allocate --source model`: the tiers, the rate bounds and
/// the largest β the model can produce.
pub(crate) fn model_arms(config: &Config) -> ModelArmsParams {
    let e = &config.economics;
    ModelArmsParams {
        tiers: rates(&e.tiers),
        rate_min: e.rate_min.get(),
        rate_max: e.rate_max.get(),
        beta_cap: super::economics(config).beta_cap(),
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
