//! `fluz uplift`: learns per-customer effects from a randomized offer test and recommends an
//! arm per customer — or one arm for everyone, when the held-out evidence does not show that a
//! personalised policy beats it.
//!
//! Reads the store's `offers` (from `simulate-offers`), or first ingests `[offers] log` when it
//! is set (every check before anything is written). Splits customers by the hash of their id
//! (`[offers] test_percent`, the same hash as `train`'s split), calls `uplift::study` and writes
//! `uplift_predictions`, `uplift_metrics`, `uplift_curve`, `qini.png` and `uplift_split.csv`.

use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::config::Config;
use crate::report::console;
use crate::sources::offers::{read_log, OfferLog};
use crate::store::Store;
use crate::uplift::analysis::analyse;
use crate::uplift::simulate::Truth;
use crate::uplift::{inputs, tables, Extras, OutcomeStudy};
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

/// Reads and checks `[offers] log`, with features and margins resolved.
fn ingest_log(config: &Config, store: &mut dyn Store) -> Result<OfferLog> {
    let path = &config.offers.log;
    let mut log = read_log(path, &super::params::offer_log(config))?;
    let features = if config.offers.features.is_empty() {
        // Features and margins of customers known to the store.
        Some(store.read_table("customer_features").with_context(|| {
            format!(
                "{}: [offers] features is empty, so the log's customers are looked up in customer_features",
                path.display()
            )
        })?)
    } else {
        None
    };
    let lookup = super::params::offer_customers(config);
    inputs::resolve_customers(&mut log, features.as_ref(), &lookup, path)?;
    Ok(log)
}

/// The simulated truth and today's oracle-label policy for a simulated test, when the store
/// has them ([`inputs::simulated_extras`]).
fn simulated_extras(store: &mut dyn Store, log: &OfferLog) -> Result<Extras> {
    let truth = if store.has_table("offers_truth")? {
        Some(store.read_table("offers_truth")?)
    } else {
        None
    };
    inputs::simulated_extras(log, truth.as_ref(), || {
        if !store.has_table("cashback_predictions")? {
            return Ok(None);
        }
        Ok(Some(store.read_columns(
            "cashback_predictions",
            &["customer_id", "tier"],
        )?))
    })
}

/// `cashback_predictions.recommended_rate` / `recommended_by` from the learned policy
/// ([`tables::with_recommended_rates`]). The number of customers given the learned rate, or
/// `None` without `cashback_predictions`.
fn apply_to_predictions(
    store: &mut dyn Store,
    log: &OfferLog,
    study: &OutcomeStudy,
) -> Result<Option<usize>> {
    if !store.has_table("cashback_predictions")? {
        return Ok(None);
    }
    let predictions = store.read_table("cashback_predictions")?;
    let (predictions, applied) = tables::with_recommended_rates(predictions, log, study)?;
    store.write_table("cashback_predictions", &predictions)?;
    Ok(Some(applied))
}

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<Summary> {
    let started = Instant::now();
    let config = &ctx.config;
    let ingested = !config.offers.log.as_os_str().is_empty();
    let mut log = if ingested {
        ingest_log(config, store)?
    } else {
        let offers = store.read_table("offers")?;
        let features = store.read_table("offer_features")?;
        OfferLog::from_tables(&offers, &features)?
    };
    inputs::keep_outcomes(&mut log, &config.offers.outcomes)?;
    let extras = if ingested {
        Extras::default()
    } else {
        simulated_extras(store, &log)?
    };
    let analysis = analyse(&log, &extras, &super::params::uplift_analysis(config))?;
    let (test, n_test) = (&analysis.split.test, analysis.split.n_test);
    let (studies, metrics) = (&analysis.studies, &analysis.metrics);
    let (predictions, curves) = (&analysis.predictions, &analysis.curves);

    // Files first (nothing in the store changes if they cannot be written).
    let out_dir = &config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    crate::report::pngs::qini(out_dir, curves, metrics, &log.arms[0].name)?;
    crate::report::write_atomic(
        &out_dir.join("uplift_split.csv"),
        tables::split_csv(&log, test).as_bytes(),
    )?;

    if ingested {
        store.write_table("offers", &log.offers_table()?)?;
        store.write_table("offer_features", &log.features_table()?)?;
        store.write_table(
            "offers_truth",
            &crate::uplift::tables::truth_table(&log, &Truth::default())?,
        )?;
    }
    store.write_table("uplift_predictions", predictions)?;
    store.write_table("uplift_metrics", metrics)?;
    store.write_table("uplift_curve", curves)?;
    // The log's customers are the store's (simulated, or looked up in customer_features): the
    // rate to give them now comes from the offer test.
    let money_study = analysis.money_study();
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
        print!("{}", console::uplift_summary(&log, n_test, studies));
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
