//! The dashboard's data, assembled from the stored tables: what `export` hands to
//! [`super::dashboard::render_dashboard`].

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::*;

use super::dashboard::{self, DashboardData};
use super::stage_views::{budget_view, clv_view, offer_view, Segmentation};
use crate::features::describe::{iqr_outliers, quantile_sorted};
use crate::frame::{f64_column, i64_column, str_column};
use crate::hash::h_customer;
use crate::models::policy::MODEL_POLICY;

/// The settings the dashboard shows or obeys.
#[derive(Clone, Debug, Default)]
pub(crate) struct DashboardParams {
    /// The linkage seed (shown, and the seed of the customer sample).
    pub seed: u64,
    /// ISO 4217 code of the amounts.
    pub currency: String,
    /// The input files' names.
    pub sources: Vec<String>,
    /// The cashback tiers.
    pub tiers: Vec<f64>,
    /// Customers embedded in the charts.
    pub max_customers: usize,
}

fn policy_from_stages(stages: &[serde_json::Value]) -> Option<serde_json::Value> {
    stages
        .iter()
        .find(|s| s["stage"] == "train")
        .map(|s| s["details"]["policy_test"].clone())
}

/// Assembles the dashboard's data from the stored tables (by name; any may be missing) and the
/// run manifest's stages.
pub(crate) fn assemble(
    params: &DashboardParams,
    tables: &HashMap<&str, DataFrame>,
    stages: &[serde_json::Value],
    store_kind: &str,
) -> Result<DashboardData> {
    let mut data = DashboardData::default();
    data.meta.fluz_version = env!("CARGO_PKG_VERSION").to_string();
    data.meta.generated_at = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    data.meta.store = store_kind.to_string();
    data.meta.seed = params.seed;
    data.meta.currency = params.currency.clone();
    data.meta.sources = params.sources.clone();
    for stage in stages {
        data.pipeline.push(dashboard::StageRow {
            stage: stage["stage"].as_str().unwrap_or("").to_string(),
            seconds: stage["seconds"].as_f64().unwrap_or(0.0),
            rows_out: stage["rows_out"].as_u64().unwrap_or(0) as usize,
        });
    }
    if let Some(report) = tables.get("ingest_report") {
        let sources = str_column(report, "source")?;
        let steps = str_column(report, "step")?;
        let rows = i64_column(report, "rows")?;
        for i in 0..report.height() {
            data.ingest_report.push(dashboard::IngestRow {
                source: sources[i].clone(),
                step: steps[i].clone(),
                rows: rows[i] as usize,
            });
        }
        data.kpis.transactions = (0..report.height())
            .filter(|&i| sources[i] == "retail")
            .map(|i| rows[i] as usize)
            .next_back()
            .unwrap_or(0);
    }
    let Some(features) = tables.get("customer_features") else {
        add_stage_views(&mut data, tables, &Segmentation::default())?;
        return Ok(data);
    };
    let ids = i64_column(features, "customer_id")?;
    let spend = f64_column(features, "total_spent")?;
    let price = f64_column(features, "avg_item_price")?;
    let recency = f64_column(features, "recency_days")?;
    let invoices = i64_column(features, "n_invoices")?;
    let n = ids.len();
    let mut sorted = spend.clone();
    sorted.sort_by(f64::total_cmp);
    data.kpis.customers = n;
    data.kpis.revenue = spend.iter().sum();
    data.kpis.mean_spend = data.kpis.revenue / n.max(1) as f64;
    data.kpis.median_spend = quantile_sorted(&sorted, 0.5);
    data.kpis.outliers = iqr_outliers("total_spent", &spend).high;
    let index_of: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, &c)| (c, i)).collect();

    // Segments.
    let mut cluster = vec![0usize; n];
    let mut persona = vec![String::new(); n];
    if let (Some(segments), Some(profiles)) = (
        tables.get("customer_segments"),
        tables.get("segment_profiles"),
    ) {
        let seg_ids = i64_column(segments, "customer_id")?;
        let seg_cluster = i64_column(segments, "cluster")?;
        let seg_persona = str_column(segments, "persona")?;
        for i in 0..segments.height() {
            if let Some(&row) = index_of.get(&seg_ids[i]) {
                cluster[row] = seg_cluster[i] as usize;
                persona[row] = seg_persona[i].clone();
            }
        }
        let get = |name: &str| f64_column(profiles, name);
        let (p_cluster, p_persona, p_size) = (
            i64_column(profiles, "cluster")?,
            str_column(profiles, "persona")?,
            i64_column(profiles, "size")?,
        );
        let (share_c, share_r, mean_s, mean_p, mean_v, mean_rec, mean_inv) = (
            get("share_customers")?,
            get("share_revenue")?,
            get("mean_total_spent")?,
            get("mean_avg_item_price")?,
            get("mean_spend_to_price_ratio")?,
            get("mean_recency_days")?,
            get("mean_n_invoices")?,
        );
        for i in 0..profiles.height() {
            data.segments.push(dashboard::SegmentRow {
                cluster: p_cluster[i] as usize,
                persona: p_persona[i].clone(),
                size: p_size[i] as usize,
                share_customers: share_c[i],
                share_revenue: share_r[i],
                mean_total_spent: mean_s[i],
                mean_avg_item_price: mean_p[i],
                mean_spend_to_price_ratio: mean_v[i],
                mean_recency_days: mean_rec[i],
                mean_n_invoices: mean_inv[i],
                ..Default::default()
            });
        }
    }
    let segmentation = Segmentation {
        cluster_of: if data.segments.is_empty() {
            HashMap::new()
        } else {
            ids.iter().copied().zip(cluster.iter().copied()).collect()
        },
        personas: data
            .segments
            .iter()
            .map(|s| (s.cluster, s.persona.clone()))
            .collect(),
    };
    add_stage_views(&mut data, tables, &segmentation)?;
    if let Some(k_table) = tables.get("k_selection") {
        let k = i64_column(k_table, "k")?;
        let (inertia, sil, db, ch) = (
            f64_column(k_table, "inertia")?,
            f64_column(k_table, "silhouette")?,
            f64_column(k_table, "davies_bouldin")?,
            f64_column(k_table, "calinski_harabasz")?,
        );
        let min_size = i64_column(k_table, "min_cluster_size")?;
        let exact = crate::frame::bool_column(k_table, "silhouette_exact")?;
        let best = crate::frame::bool_column(k_table, "best")?;
        for i in 0..k_table.height() {
            data.k_selection.push(dashboard::KRow {
                k: k[i] as usize,
                inertia: inertia[i],
                silhouette: sil[i],
                davies_bouldin: db[i],
                calinski_harabasz: ch[i],
                min_cluster_size: min_size[i] as usize,
                silhouette_exact: exact[i],
                best: best[i],
            });
            if best[i] {
                data.kpis.best_k = Some(k[i] as usize);
            }
        }
    }

    // Predictions.
    let mut predicted = vec![None; n];
    let mut tier = vec![None; n];
    let mut optimal = vec![None; n];
    let mut v_tier = vec![None; n];
    let mut v_opt = vec![None; n];
    let mut v_flat = vec![None; n];
    let mut recommended = vec![None; n];
    let mut from_offer_test = vec![false; n];
    if let Some(predictions) = tables.get("cashback_predictions") {
        // The rate to give (a store written before these columns has the tier).
        let (r_rate, r_by) = if predictions.column("recommended_by").is_ok() {
            (
                f64_column(predictions, "recommended_rate")?,
                str_column(predictions, "recommended_by")?,
            )
        } else {
            (
                f64_column(predictions, "tier")?,
                vec![MODEL_POLICY.to_string(); predictions.height()],
            )
        };
        data.kpis.rate_source = r_by.iter().find(|b| *b != MODEL_POLICY).cloned();
        let p_ids = i64_column(predictions, "customer_id")?;
        let (p_rate, p_tier, p_opt) = (
            f64_column(predictions, "predicted_rate")?,
            f64_column(predictions, "tier")?,
            f64_column(predictions, "optimal_rate")?,
        );
        let (p_vt, p_vo, p_vf) = (
            f64_column(predictions, "value_at_tier")?,
            f64_column(predictions, "value_at_optimal")?,
            f64_column(predictions, "value_at_flat")?,
        );
        for i in 0..predictions.height() {
            if let Some(&row) = index_of.get(&p_ids[i]) {
                predicted[row] = Some(p_rate[i]);
                tier[row] = Some(p_tier[i]);
                optimal[row] = Some(p_opt[i]);
                v_tier[row] = Some(p_vt[i]);
                v_opt[row] = Some(p_vo[i]);
                v_flat[row] = Some(p_vf[i]);
                recommended[row] = Some(r_rate[i]);
                from_offer_test[row] = r_by[i] != MODEL_POLICY;
            }
        }
        let k = data.segments.len();
        for tier_rate in &params.tiers {
            let members: Vec<usize> = (0..n).filter(|&i| tier[i] == Some(*tier_rate)).collect();
            let mut by_cluster = vec![0usize; k];
            for &i in &members {
                if cluster[i] < k {
                    by_cluster[cluster[i]] += 1;
                }
            }
            data.tiers.push(dashboard::TierRow {
                rate: *tier_rate,
                customers: members.len(),
                share: members.len() as f64 / n.max(1) as f64,
                by_cluster,
            });
        }
        for segment in &mut data.segments {
            let members: Vec<usize> = (0..n).filter(|&i| cluster[i] == segment.cluster).collect();
            let mean = |v: &[Option<f64>]| {
                let values: Vec<f64> = members.iter().filter_map(|&i| v[i]).collect();
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
            };
            let sum = |v: &[Option<f64>]| Some(members.iter().filter_map(|&i| v[i]).sum::<f64>());
            segment.mean_predicted_rate = mean(&predicted);
            segment.mean_optimal_rate = mean(&optimal);
            segment.value_predicted = sum(&v_tier);
            segment.value_oracle = sum(&v_opt);
            segment.value_flat = sum(&v_flat);
            segment.tier_mode = mode(members.iter().filter_map(|&i| tier[i]));
            segment.recommended_mode = mode(members.iter().filter_map(|&i| recommended[i]));
        }
    }
    if let Some(policy) = policy_from_stages(stages) {
        data.kpis.regret_pct = policy["regret_pct"].as_f64();
        data.kpis.flat_rate = policy["flat_rate"].as_f64();
        data.kpis.flat_regret_pct = policy["flat_regret_pct"].as_f64();
        data.kpis.value_predicted = policy["value_predicted"].as_f64();
        data.kpis.value_oracle = policy["value_optimal"].as_f64();
        data.kpis.value_flat = policy["value_flat"].as_f64();
    }
    if let Some(comparison) = tables.get("model_comparison") {
        let family = str_column(comparison, "family")?;
        let (cv, rmse, mae, r2) = (
            f64_column(comparison, "cv_rmse")?,
            f64_column(comparison, "test_rmse")?,
            f64_column(comparison, "test_mae")?,
            f64_column(comparison, "test_r2")?,
        );
        let fin: Vec<bool> = comparison
            .column("final")?
            .bool()?
            .iter()
            .map(|b| b.unwrap_or(false))
            .collect();
        for i in 0..comparison.height() {
            data.models.push(dashboard::ModelRow {
                family: family[i].clone(),
                cv_rmse: cv[i],
                test_rmse: rmse[i],
                test_mae: mae[i],
                test_r2: r2[i],
                is_final: fin[i],
            });
            if fin[i] {
                data.kpis.best_model = Some(family[i].clone());
                data.kpis.test_rmse = Some(rmse[i]);
                data.kpis.test_r2 = Some(r2[i]);
            }
        }
    }
    if let Some(importance) = tables.get("cashback_shap_importance") {
        let (feature, value, rank) = (
            str_column(importance, "feature")?,
            f64_column(importance, "mean_abs_shap")?,
            i64_column(importance, "rank")?,
        );
        for i in 0..importance.height() {
            data.shap_importance.push(dashboard::ShapImportanceRow {
                feature: feature[i].clone(),
                mean_abs_shap: value[i],
                rank: rank[i] as usize,
            });
        }
    }
    if let Some(importance) = tables.get("cashback_feature_importance") {
        let (feature, impurity, permutation) = (
            str_column(importance, "feature")?,
            f64_column(importance, "impurity_importance")?,
            f64_column(importance, "permutation_importance")?,
        );
        for i in 0..importance.height() {
            data.feature_importance
                .push(dashboard::FeatureImportanceRow {
                    feature: feature[i].clone(),
                    impurity: impurity[i],
                    permutation: permutation[i],
                });
        }
    }

    // A deterministic sample of customers for the charts.
    let max = params.max_customers;
    let mut sample: Vec<usize> = (0..n).collect();
    if n > max {
        sample.sort_by_key(|&i| (h_customer("dashboard", params.seed, ids[i]), ids[i]));
        sample.truncate(max);
        sample.sort_unstable();
    }
    let mut drivers: HashMap<i64, String> = HashMap::new();
    if let Some(explanations) = tables.get("cashback_explanations") {
        let e_ids = i64_column(explanations, "customer_id")?;
        let (d1, d2, d3) = (
            str_column(explanations, "driver_1")?,
            str_column(explanations, "driver_2")?,
            str_column(explanations, "driver_3")?,
        );
        for i in 0..explanations.height() {
            drivers.insert(
                e_ids[i],
                [d1[i].as_str(), d2[i].as_str(), d3[i].as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
    }
    for &i in &sample {
        data.customers.push(dashboard::CustomerRow {
            customer_id: ids[i],
            cluster: cluster[i],
            persona: persona[i].clone(),
            total_spent: spend[i],
            avg_item_price: price[i],
            recency_days: recency[i],
            n_invoices: invoices[i] as usize,
            predicted_rate: predicted[i],
            tier: tier[i],
            recommended_rate: recommended[i],
            from_offer_test: from_offer_test[i],
            optimal_rate: optimal[i],
            value_at_tier: v_tier[i],
            value_at_oracle: v_opt[i],
            drivers: drivers.get(&ids[i]).cloned().unwrap_or_default(),
        });
    }
    if let Some(shap_values) = tables.get("cashback_shap_values") {
        let wanted: HashMap<i64, usize> = sample.iter().map(|&i| (ids[i], cluster[i])).collect();
        let (s_ids, s_feature, s_value, s_shap) = (
            i64_column(shap_values, "customer_id")?,
            str_column(shap_values, "feature")?,
            f64_column(shap_values, "value")?,
            f64_column(shap_values, "shap")?,
        );
        let mut rows: Vec<dashboard::ShapPointsRow> = Vec::new();
        for i in 0..shap_values.height() {
            let Some(&c) = wanted.get(&s_ids[i]) else {
                continue;
            };
            let position = match rows.iter().position(|r| r.feature == s_feature[i]) {
                Some(p) => p,
                None => {
                    rows.push(dashboard::ShapPointsRow {
                        feature: s_feature[i].clone(),
                        ..Default::default()
                    });
                    rows.len() - 1
                }
            };
            rows[position].values.push(s_value[i]);
            rows[position].shap.push(s_shap[i]);
            rows[position].cluster.push(c);
        }
        let rank: HashMap<&str, usize> = data
            .shap_importance
            .iter()
            .map(|r| (r.feature.as_str(), r.rank))
            .collect();
        rows.sort_by_key(|r| rank.get(r.feature.as_str()).copied().unwrap_or(usize::MAX));
        data.shap_points = rows;
    }
    if let Some(merchants) = tables.get("merchant_cashback") {
        let categories: HashMap<String, String> = match tables.get("merchants") {
            Some(all) => str_column(all, "business_id")?
                .into_iter()
                .zip(str_column(all, "categories")?)
                .collect(),
            None => HashMap::new(),
        };
        let ids = str_column(merchants, "business_id")?;
        let (names, cities) = (
            str_column(merchants, "name")?,
            str_column(merchants, "city")?,
        );
        let (stars, commission, spend, rate, margin) = (
            f64_column(merchants, "stars")?,
            f64_column(merchants, "commission")?,
            f64_column(merchants, "spend")?,
            f64_column(merchants, "recommended_rate")?,
            f64_column(merchants, "expected_margin")?,
        );
        let customers = i64_column(merchants, "customers")?;
        for i in 0..merchants.height().min(50) {
            data.merchants.push(dashboard::MerchantRow {
                business_id: ids[i].clone(),
                name: names[i].clone(),
                city: cities[i].clone(),
                categories: categories.get(&ids[i]).cloned().unwrap_or_default(),
                stars: stars[i],
                commission: commission[i],
                customers: customers[i] as usize,
                spend: spend[i],
                recommended_rate: rate[i],
                expected_margin: margin[i],
            });
        }
    }
    Ok(data)
}

/// The later stages' views (lifetime value, offer test, budget), each when its tables exist.
fn add_stage_views(
    data: &mut DashboardData,
    tables: &HashMap<&str, DataFrame>,
    segmentation: &Segmentation,
) -> Result<()> {
    data.clv = clv_view(tables, segmentation)?;
    data.offers = offer_view(tables, segmentation)?;
    data.budget = budget_view(tables)?;
    Ok(())
}

/// The most common rate (ties → the lower rate); `None` for no rates.
fn mode(rates: impl Iterator<Item = f64>) -> Option<f64> {
    let mut counts: Vec<(f64, usize)> = Vec::new();
    for r in rates {
        match counts.iter_mut().find(|(rate, _)| *rate == r) {
            Some(entry) => entry.1 += 1,
            None => counts.push((r, 1)),
        }
    }
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.total_cmp(&a.0)))
        .map(|(r, _)| *r)
}
