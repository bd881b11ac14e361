//! `fluz simulate-offers`: a randomized test of `[offers] arms` on the store's customers,
//! generated from the economic model's hidden β_i (`uplift::simulate`). Writes the log as
//! `offers` + `offer_features` (the `[train] features` of `customer_features`) like any
//! external log, and the hidden truth as `offers_truth`.

use std::time::Instant;

use anyhow::Result;

use super::{f64_column, i64_column};
use crate::store::Store;
use crate::uplift::simulate::{set_features, simulate, SimulationInputs};
use crate::Context;

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<()> {
    let started = Instant::now();
    let config = &ctx.config;
    let features = store.read_table("customer_features")?;
    let customer_ids = i64_column(&features, "customer_id")?;
    let inputs = super::economic_inputs(config, &mut *store, &features)?;
    let targets = super::params::economics(config).targets(&inputs);
    let basket = f64_column(&features, "avg_basket_value")?;
    let (mut log, truth) = simulate(
        &SimulationInputs {
            customer_id: &customer_ids,
            n_invoices: &inputs.n_invoices,
            avg_basket_value: &basket,
            beta: &targets.beta,
            margin: &targets.margin,
        },
        &super::params::simulation(config),
    );
    let x = super::table::feature_matrix(&features, &config.train.features)?;
    set_features(&mut log, &config.train.features, &x);
    let offers = log.offers_table()?;
    let offer_features = log.features_table()?;
    let truth_rows = crate::uplift::tables::truth_table(&log, &truth)?;
    store.write_table("offers", &offers)?;
    store.write_table("offer_features", &offer_features)?;
    store.write_table("offers_truth", &truth_rows)?;
    let arm_counts: Vec<(String, usize)> = log
        .arms
        .iter()
        .map(|a| a.name.clone())
        .zip(log.arm_counts())
        .collect();
    super::record_stage(
        store,
        "simulate-offers",
        started,
        log.len(),
        serde_json::json!({
            "arms": arm_counts,
            "window_days": config.offers.window_days,
        }),
    )?;
    if !ctx.quiet {
        println!(
            "simulate-offers: {} customers, {}-day window; arms {}",
            log.len(),
            config.offers.window_days,
            arm_counts
                .iter()
                .map(|(name, count)| format!("{name} ({count})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
