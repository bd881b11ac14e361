//! Settings → the domain's parameter structs: the one place where validated config values
//! become the plain parameters a domain function takes, one file per area.

mod budget;
mod clv;
mod models;
mod uplift;

pub(crate) use budget::{budget_plan, budget_tables, model_arms};
pub(crate) use clv::{clv, clv_input};
pub(crate) use models::{segment, train};
pub(crate) use uplift::{offer_customers, offer_log, simulation, uplift_analysis};

use crate::config::{rates, Config, StoreKind};
use crate::features::customers::FeatureParams;
use crate::models::economics::Economics;
use crate::report::dashboard_data::DashboardParams;

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
