//! The dashboard's views of the later stages — lifetime value, the offer test and the budget —
//! assembled from their stored tables. Each is `None` when its stage has not run.

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use crate::frame::{bool_column, f64_column, i64_column, opt_f64_column, str_column};

/// At most this many curve points are embedded for the budget slider.
pub(crate) const MAX_BUDGET_POINTS: usize = 400;
/// At most this many "valuable but slipping" customers are listed.
pub(crate) const MAX_SLIPPING: usize = 100;
/// "Valuable": CLV at or above this quantile of all customers' CLV.
pub(crate) const VALUABLE_QUANTILE: f64 = 0.75;
/// "Slipping": P(alive) below this.
pub(crate) const SLIPPING_P_ALIVE: f64 = 0.5;

/// Each customer's segment, when the segmentation ran: cluster per customer id, persona per
/// cluster.
#[derive(Clone, Debug, Default)]
pub struct Segmentation {
    pub cluster_of: HashMap<i64, usize>,
    pub personas: Vec<(usize, String)>,
}

impl Segmentation {
    fn persona(&self, cluster: usize) -> String {
        self.personas
            .iter()
            .find(|(c, _)| *c == cluster)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }
}

/// Lifetime value (`customer_value`, `clv_model`, `clv_holdout`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClvView {
    pub customers: usize,
    /// Customers with a CLV (a repeat purchase, so a Gamma-Gamma value).
    pub valued: usize,
    pub total_clv: f64,
    pub mean_p_alive: f64,
    /// The CLV at [`VALUABLE_QUANTILE`]: "valuable" means at least this.
    pub valuable_threshold: f64,
    /// Every valuable customer with P(alive) < [`SLIPPING_P_ALIVE`] (the list shows the first
    /// [`MAX_SLIPPING`] by CLV).
    pub slipping_count: usize,
    pub slipping_clv: f64,
    pub slipping: Vec<SlippingRow>,
    pub by_segment: Vec<ClvSegment>,
    pub holdout: Vec<ClvHoldoutRow>,
    /// `model parameter = value`, for the caption.
    pub parameters: Vec<(String, String, f64)>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SlippingRow {
    pub customer_id: i64,
    pub cluster: Option<usize>,
    pub persona: String,
    pub clv: f64,
    pub p_alive: f64,
    pub frequency: i64,
    pub expected_purchases: f64,
    pub monetary_value: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ClvSegment {
    pub cluster: usize,
    pub persona: String,
    pub customers: usize,
    pub total_clv: f64,
    pub mean_clv: f64,
    pub mean_p_alive: f64,
    pub slipping: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ClvHoldoutRow {
    pub calibration_frequency: String,
    pub customers: usize,
    pub actual_mean: f64,
    pub expected_mean: f64,
}

/// The value at quantile `q` of `sorted` (linear interpolation).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// The lifetime-value view.
pub fn clv_view(
    tables: &HashMap<&str, DataFrame>,
    segments: &Segmentation,
) -> Result<Option<ClvView>> {
    let Some(values) = tables.get("customer_value") else {
        return Ok(None);
    };
    let ids = i64_column(values, "customer_id")?;
    let clv = opt_f64_column(values, "clv")?;
    let p_alive = f64_column(values, "p_alive")?;
    let frequency = i64_column(values, "frequency")?;
    let expected = f64_column(values, "expected_purchases")?;
    let monetary = opt_f64_column(values, "monetary_value")?;
    let n = ids.len();
    let mut sorted: Vec<f64> = clv.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let threshold = quantile(&sorted, VALUABLE_QUANTILE);
    let slipping_of =
        |i: usize| clv[i].is_some_and(|v| v >= threshold) && p_alive[i] < SLIPPING_P_ALIVE;
    let mut slipping: Vec<usize> = (0..n).filter(|&i| slipping_of(i)).collect();
    slipping.sort_by(|&a, &b| {
        clv[b]
            .unwrap_or(0.0)
            .total_cmp(&clv[a].unwrap_or(0.0))
            .then(ids[a].cmp(&ids[b]))
    });
    let mut view = ClvView {
        customers: n,
        valued: sorted.len(),
        total_clv: sorted.iter().sum(),
        mean_p_alive: p_alive.iter().sum::<f64>() / n.max(1) as f64,
        valuable_threshold: threshold,
        slipping_count: slipping.len(),
        slipping_clv: slipping.iter().filter_map(|&i| clv[i]).sum(),
        ..ClvView::default()
    };
    view.slipping = slipping
        .iter()
        .take(MAX_SLIPPING)
        .map(|&i| {
            let cluster = segments.cluster_of.get(&ids[i]).copied();
            SlippingRow {
                customer_id: ids[i],
                cluster,
                persona: cluster.map(|c| segments.persona(c)).unwrap_or_default(),
                clv: clv[i].unwrap_or(f64::NAN),
                p_alive: p_alive[i],
                frequency: frequency[i],
                expected_purchases: expected[i],
                monetary_value: monetary[i],
            }
        })
        .collect();
    for (cluster, persona) in &segments.personas {
        let members: Vec<usize> = (0..n)
            .filter(|&i| segments.cluster_of.get(&ids[i]) == Some(cluster))
            .collect();
        if members.is_empty() {
            continue;
        }
        let total: f64 = members.iter().filter_map(|&i| clv[i]).sum();
        view.by_segment.push(ClvSegment {
            cluster: *cluster,
            persona: persona.clone(),
            customers: members.len(),
            total_clv: total,
            mean_clv: total / members.len() as f64,
            mean_p_alive: members.iter().map(|&i| p_alive[i]).sum::<f64>() / members.len() as f64,
            slipping: members.iter().filter(|&&i| slipping_of(i)).count(),
        });
    }
    if let Some(holdout) = tables.get("clv_holdout") {
        let label = str_column(holdout, "calibration_frequency")?;
        let customers = i64_column(holdout, "customers")?;
        let actual = f64_column(holdout, "actual_mean")?;
        let expected = f64_column(holdout, "expected_mean")?;
        for i in 0..holdout.height() {
            view.holdout.push(ClvHoldoutRow {
                calibration_frequency: label[i].clone(),
                customers: customers[i] as usize,
                actual_mean: actual[i],
                expected_mean: expected[i],
            });
        }
    }
    if let Some(model) = tables.get("clv_model") {
        let (m, p, v) = (
            str_column(model, "model")?,
            str_column(model, "parameter")?,
            f64_column(model, "value")?,
        );
        view.parameters = (0..model.height())
            .map(|i| (m[i].clone(), p[i].clone(), v[i]))
            .collect();
    }
    Ok(Some(view))
}

/// The offer test (`uplift_metrics`, `uplift_curve`, `uplift_predictions`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct OfferView {
    /// The money outcome the policies are valued in.
    pub outcome: String,
    /// Every outcome learned.
    pub outcomes: Vec<String>,
    pub arms: Vec<String>,
    pub customers: usize,
    pub test_customers: usize,
    /// Why fluz recommends what it recommends (the `recommended` row's detail).
    pub recommendation: String,
    /// Policy values of the money outcome on the held-out customers.
    pub policies: Vec<PolicyRow>,
    /// Qini curves per learner, outcome and arm (the page draws them as `figures.qini`).
    #[serde(skip)]
    pub curves: Vec<QiniSeries>,
    /// The recommended arm's share of each segment's customers.
    pub by_segment: Vec<SegmentArms>,
    /// What drives the learned effect (`uplift_shap_importance`): per explained arm, the
    /// features by mean |SHAP| of its effect model, and that model's fidelity.
    pub drivers: Vec<EffectDrivers>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct EffectDrivers {
    pub arm: String,
    pub fidelity_r2: f64,
    pub features: Vec<String>,
    pub mean_abs_shap: Vec<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PolicyRow {
    pub policy: String,
    /// "arm", "learner", "random", "oracle", "oracle_label" or "recommended".
    pub kind: String,
    pub dr: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub ipw: Option<f64>,
    pub true_value: Option<f64>,
    pub regret_pct: Option<f64>,
    /// DR gain over the best single arm with its interval (learners and the recommendation).
    pub gain: Option<f64>,
    pub gain_ci_low: Option<f64>,
    pub gain_ci_high: Option<f64>,
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct QiniSeries {
    pub learner: String,
    pub outcome: String,
    pub arm: String,
    pub qini: Option<f64>,
    pub fraction: Vec<f64>,
    pub gain: Vec<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SegmentArms {
    pub cluster: usize,
    pub persona: String,
    pub customers: usize,
    /// Customers per arm, in `arms` order.
    pub counts: Vec<usize>,
}

fn policy_kind(learner: &str) -> &'static str {
    if learner.starts_with("everyone:") {
        "arm"
    } else {
        match learner {
            "random" => "random",
            "oracle" => "oracle",
            "recommended" => "recommended",
            l if l.contains("oracle") => "oracle_label",
            _ => "learner",
        }
    }
}

/// The offer-test view.
pub fn offer_view(
    tables: &HashMap<&str, DataFrame>,
    segments: &Segmentation,
) -> Result<Option<OfferView>> {
    let (Some(metrics), Some(predictions)) = (
        tables.get("uplift_metrics"),
        tables.get("uplift_predictions"),
    ) else {
        return Ok(None);
    };
    let p_outcome = str_column(predictions, "outcome")?;
    let mut outcomes: Vec<String> = Vec::new();
    for o in &p_outcome {
        if !outcomes.contains(o) {
            outcomes.push(o.clone());
        }
    }
    // The money outcome: the one whose rows carry a cost.
    let cost = opt_f64_column(predictions, "cost")?;
    let outcome = (0..predictions.height())
        .find(|&i| cost[i].is_some())
        .map(|i| p_outcome[i].clone())
        .or_else(|| outcomes.first().cloned())
        .unwrap_or_default();
    let ids = i64_column(predictions, "customer_id")?;
    let split = str_column(predictions, "split")?;
    let arm = str_column(predictions, "arm")?;
    let recommended = bool_column(predictions, "recommended")?;
    let mut view = OfferView {
        outcome: outcome.clone(),
        outcomes: outcomes.clone(),
        ..OfferView::default()
    };
    let rows: Vec<usize> = (0..predictions.height())
        .filter(|&i| p_outcome[i] == outcome)
        .collect();
    for &i in &rows {
        if !view.arms.contains(&arm[i]) {
            view.arms.push(arm[i].clone());
        }
    }
    let mut seen: HashMap<i64, bool> = HashMap::new();
    let mut per_segment: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in &rows {
        seen.entry(ids[i]).or_insert(split[i] == "test");
        if recommended[i] {
            if let Some(&c) = segments.cluster_of.get(&ids[i]) {
                let a = view.arms.iter().position(|x| *x == arm[i]).unwrap_or(0);
                per_segment
                    .entry(c)
                    .or_insert_with(|| vec![0; view.arms.len()])[a] += 1;
            }
        }
    }
    view.customers = seen.len();
    view.test_customers = seen.values().filter(|&&t| t).count();
    for (cluster, persona) in &segments.personas {
        if let Some(counts) = per_segment.get(cluster) {
            view.by_segment.push(SegmentArms {
                cluster: *cluster,
                persona: persona.clone(),
                customers: counts.iter().sum(),
                counts: counts.clone(),
            });
        }
    }
    let (learner, m_outcome) = (
        str_column(metrics, "learner")?,
        str_column(metrics, "outcome")?,
    );
    let (ipw, dr, low, high) = (
        opt_f64_column(metrics, "policy_value_ipw")?,
        opt_f64_column(metrics, "policy_value_dr")?,
        opt_f64_column(metrics, "ci_low")?,
        opt_f64_column(metrics, "ci_high")?,
    );
    let (truth, regret) = (
        opt_f64_column(metrics, "true_value")?,
        opt_f64_column(metrics, "regret_pct")?,
    );
    let detail = str_column(metrics, "detail")?;
    let (gain, gain_low, gain_high) = (
        opt_f64_column(metrics, "gain_vs_best_arm")?,
        opt_f64_column(metrics, "gain_ci_low")?,
        opt_f64_column(metrics, "gain_ci_high")?,
    );
    for i in 0..metrics.height() {
        if m_outcome[i] != outcome || dr[i].is_none() && truth[i].is_none() {
            continue;
        }
        if learner[i] == "recommended" {
            view.recommendation = detail[i].clone();
        }
        // One row per policy: a learner's policy row is the one with a value.
        if view.policies.iter().any(|p| p.policy == learner[i]) {
            continue;
        }
        view.policies.push(PolicyRow {
            policy: learner[i].clone(),
            kind: policy_kind(&learner[i]).to_string(),
            dr: dr[i],
            ci_low: low[i],
            ci_high: high[i],
            ipw: ipw[i],
            true_value: truth[i],
            regret_pct: regret[i],
            gain: gain[i],
            gain_ci_low: gain_low[i],
            gain_ci_high: gain_high[i],
            detail: detail[i].clone(),
        });
    }
    if let Some(importance) = tables.get("uplift_shap_importance") {
        let (arm, feature) = (
            str_column(importance, "arm")?,
            str_column(importance, "feature")?,
        );
        let (value, r2) = (
            f64_column(importance, "mean_abs_shap")?,
            f64_column(importance, "fidelity_r2")?,
        );
        for i in 0..importance.height() {
            let position = view.drivers.iter().position(|d| d.arm == arm[i]);
            let d = match position {
                Some(p) => &mut view.drivers[p],
                None => {
                    view.drivers.push(EffectDrivers {
                        arm: arm[i].clone(),
                        fidelity_r2: r2[i],
                        ..EffectDrivers::default()
                    });
                    view.drivers.last_mut().expect("just pushed")
                }
            };
            if d.features.len() < 12 {
                d.features.push(feature[i].clone());
                d.mean_abs_shap.push(value[i]);
            }
        }
    }
    if let Some(curve) = tables.get("uplift_curve") {
        view.curves = qini_series(curve, metrics)?;
    }
    Ok(Some(view))
}

/// The Qini curves of `uplift_curve`, a series per learner, outcome and arm, each with its
/// normalised Qini from `uplift_metrics` (rounded for the page; the PNG draws the same).
pub(crate) fn qini_series(curve: &DataFrame, metrics: &DataFrame) -> Result<Vec<QiniSeries>> {
    let (learner, outcome, arm) = (
        str_column(metrics, "learner")?,
        str_column(metrics, "outcome")?,
        str_column(metrics, "arm")?,
    );
    let qini = opt_f64_column(metrics, "qini")?;
    let qini_of: HashMap<(&str, &str, &str), Option<f64>> = (0..metrics.height())
        .map(|i| {
            (
                (learner[i].as_str(), outcome[i].as_str(), arm[i].as_str()),
                qini[i],
            )
        })
        .collect();
    let (c_learner, c_outcome, c_arm) = (
        str_column(curve, "learner")?,
        str_column(curve, "outcome")?,
        str_column(curve, "arm")?,
    );
    let (fraction, gain) = (f64_column(curve, "fraction")?, f64_column(curve, "gain")?);
    let mut curves: Vec<QiniSeries> = Vec::new();
    for i in 0..curve.height() {
        let position = curves.iter().position(|s| {
            s.learner == c_learner[i] && s.outcome == c_outcome[i] && s.arm == c_arm[i]
        });
        let s = match position {
            Some(p) => &mut curves[p],
            None => {
                curves.push(QiniSeries {
                    learner: c_learner[i].clone(),
                    outcome: c_outcome[i].clone(),
                    arm: c_arm[i].clone(),
                    qini: qini_of
                        .get(&(
                            c_learner[i].as_str(),
                            c_outcome[i].as_str(),
                            c_arm[i].as_str(),
                        ))
                        .copied()
                        .flatten(),
                    ..QiniSeries::default()
                });
                curves.last_mut().expect("just pushed")
            }
        };
        s.fraction.push(round4(fraction[i]));
        s.gain.push(round_sig(gain[i]));
    }
    Ok(curves)
}

/// The budget (`budget_summary`, `budget_curve`, `budget_curve_arms`, `budget_flat_policies`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BudgetView {
    pub source: String,
    pub customers: usize,
    pub budget: f64,
    pub budget_basis: String,
    pub capped: bool,
    pub integer_value: f64,
    pub integer_cost: f64,
    pub lp_value: f64,
    pub lambda: f64,
    pub sentence: String,
    pub heldout_sentence: Option<String>,
    pub heldout_customers: Option<usize>,
    pub heldout_model_value: Option<f64>,
    pub heldout_dr_value: Option<f64>,
    pub heldout_dr_ci_low: Option<f64>,
    pub heldout_dr_ci_high: Option<f64>,
    pub flat_arm: Option<String>,
    /// Arms in curve order (the zero arm "none" last when used).
    pub arms: Vec<String>,
    /// The curve, thinned to at most [`MAX_BUDGET_POINTS`] breakpoints (first and last kept).
    pub cost: Vec<f64>,
    pub value: Vec<f64>,
    pub lambda_at: Vec<f64>,
    /// `[point][arm]` customers.
    pub counts: Vec<Vec<u64>>,
    pub flat: Vec<FlatPoint>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FlatPoint {
    pub arm: String,
    pub rate: Option<f64>,
    pub cost: f64,
    pub value: f64,
    pub targeted_value: f64,
    pub gain: f64,
    pub gain_pct: Option<f64>,
}

/// The budget view.
pub fn budget_view(tables: &HashMap<&str, DataFrame>) -> Result<Option<BudgetView>> {
    let (Some(summary), Some(curve)) = (tables.get("budget_summary"), tables.get("budget_curve"))
    else {
        return Ok(None);
    };
    if summary.height() == 0 {
        return Ok(None);
    }
    let text = |name: &str| -> Result<String> { Ok(str_column(summary, name)?[0].clone()) };
    let number = |name: &str| -> Result<f64> { Ok(f64_column(summary, name)?[0]) };
    let optional = |name: &str| -> Option<f64> {
        summary
            .column(name)
            .ok()
            .and_then(|_| opt_f64_column(summary, name).ok())
            .and_then(|v| v[0])
    };
    let heldout_sentence = summary
        .column("heldout_sentence")
        .ok()
        .and_then(|c| c.str().ok().and_then(|s| s.get(0).map(String::from)));
    let mut view = BudgetView {
        source: text("source")?,
        customers: number("customers")? as usize,
        budget: number("budget")?,
        budget_basis: text("budget_basis")?,
        capped: bool_column(summary, "budget_capped")?[0],
        integer_value: number("integer_value")?,
        integer_cost: number("integer_cost")?,
        lp_value: number("lp_value")?,
        lambda: number("lambda")?,
        sentence: text("sentence")?,
        heldout_sentence,
        heldout_customers: optional("heldout_customers").map(|v| v as usize),
        heldout_model_value: optional("heldout_model_value"),
        heldout_dr_value: optional("heldout_dr_value"),
        heldout_dr_ci_low: optional("heldout_dr_ci_low"),
        heldout_dr_ci_high: optional("heldout_dr_ci_high"),
        flat_arm: str_column(summary, "flat_arm")
            .ok()
            .map(|v| v[0].clone())
            .filter(|s| !s.is_empty()),
        ..BudgetView::default()
    };
    let (cost, value, lambda) = (
        f64_column(curve, "cost")?,
        f64_column(curve, "value")?,
        f64_column(curve, "lambda")?,
    );
    let points = curve.height();
    let keep: Vec<usize> = if points <= MAX_BUDGET_POINTS {
        (0..points).collect()
    } else {
        let mut keep: Vec<usize> = (0..MAX_BUDGET_POINTS)
            .map(|k| k * (points - 1) / (MAX_BUDGET_POINTS - 1))
            .collect();
        keep.dedup();
        keep
    };
    view.cost = keep.iter().map(|&i| round_sig(cost[i])).collect();
    view.value = keep.iter().map(|&i| round_sig(value[i])).collect();
    view.lambda_at = keep.iter().map(|&i| round_sig(lambda[i])).collect();
    view.counts = vec![Vec::new(); keep.len()];
    if let Some(arms) = tables.get("budget_curve_arms") {
        let (point, arm, customers) = (
            i64_column(arms, "point")?,
            str_column(arms, "arm")?,
            i64_column(arms, "customers")?,
        );
        let slot: HashMap<usize, usize> = keep.iter().enumerate().map(|(k, &p)| (p, k)).collect();
        for i in 0..arms.height() {
            if !view.arms.contains(&arm[i]) {
                view.arms.push(arm[i].clone());
            }
            if let Some(&k) = slot.get(&(point[i] as usize)) {
                view.counts[k].push(customers[i] as u64);
            }
        }
    }
    if let Some(flat) = tables.get("budget_flat_policies") {
        let arm = str_column(flat, "arm")?;
        let rate = opt_f64_column(flat, "rate")?;
        let (cost, value, targeted, gain) = (
            f64_column(flat, "cost")?,
            f64_column(flat, "value")?,
            f64_column(flat, "targeted_value")?,
            f64_column(flat, "gain")?,
        );
        let gain_pct = opt_f64_column(flat, "gain_pct")?;
        view.flat = (0..flat.height())
            .map(|i| FlatPoint {
                arm: arm[i].clone(),
                rate: rate[i],
                cost: cost[i],
                value: value[i],
                targeted_value: targeted[i],
                gain: gain[i],
                gain_pct: gain_pct[i],
            })
            .collect();
    }
    Ok(Some(view))
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Six significant digits: enough for a chart, a third of the bytes.
fn round_sig(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 6 - 1 - v.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits.clamp(-300, 300));
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segmentation() -> Segmentation {
        Segmentation {
            cluster_of: [(1, 0), (2, 0), (3, 1), (4, 1)].into_iter().collect(),
            personas: vec![(0, "Loyal".into()), (1, "Bargain".into())],
        }
    }

    #[test]
    fn slipping_customers_are_valuable_and_probably_gone() {
        let values = df!(
            "customer_id" => [1i64, 2, 3, 4],
            "frequency" => [5i64, 0, 9, 2],
            "expected_purchases" => [0.5, 0.1, 3.0, 0.2],
            "monetary_value" => [Some(20.0), None, Some(30.0), Some(5.0)],
            "clv" => [Some(100.0), None, Some(400.0), Some(10.0)],
            "p_alive" => [0.3, 1.0, 0.9, 0.2],
        )
        .unwrap();
        let tables: HashMap<&str, DataFrame> = [("customer_value", values)].into_iter().collect();
        let view = clv_view(&tables, &segmentation()).unwrap().unwrap();
        assert_eq!(view.customers, 4);
        assert_eq!(view.valued, 3);
        // CLVs 10, 100, 400: the 75th percentile is 250 → only customer 3 is valuable, and it
        // is alive; with 100 ≥ threshold customer 1 would slip.
        assert_eq!(view.valuable_threshold, 250.0);
        assert_eq!(view.slipping_count, 0);
        let values = df!(
            "customer_id" => [1i64, 2, 3, 4],
            "frequency" => [5i64, 0, 9, 2],
            "expected_purchases" => [0.5, 0.1, 3.0, 0.2],
            "monetary_value" => [Some(20.0), None, Some(30.0), Some(5.0)],
            "clv" => [Some(500.0), None, Some(400.0), Some(10.0)],
            "p_alive" => [0.3, 1.0, 0.9, 0.2],
        )
        .unwrap();
        let tables: HashMap<&str, DataFrame> = [("customer_value", values)].into_iter().collect();
        let view = clv_view(&tables, &segmentation()).unwrap().unwrap();
        assert_eq!(view.slipping_count, 1);
        assert_eq!(view.slipping[0].customer_id, 1);
        assert_eq!(view.slipping[0].persona, "Loyal");
        assert_eq!(view.by_segment.len(), 2);
        assert_eq!(view.by_segment[0].total_clv, 500.0);
        assert_eq!(view.by_segment[0].slipping, 1);
        assert_eq!(view.by_segment[1].mean_clv, 205.0);
    }

    #[test]
    fn no_tables_no_views() {
        let tables: HashMap<&str, DataFrame> = HashMap::new();
        assert!(clv_view(&tables, &Segmentation::default())
            .unwrap()
            .is_none());
        assert!(offer_view(&tables, &Segmentation::default())
            .unwrap()
            .is_none());
        assert!(budget_view(&tables).unwrap().is_none());
    }

    #[test]
    fn budget_curve_is_thinned_keeping_both_ends() {
        let n = 1000;
        let curve = df!(
            "point" => (0..n as i64).collect::<Vec<_>>(),
            "budget" => (0..n).map(|i| i as f64).collect::<Vec<_>>(),
            "value" => (0..n).map(|i| (i as f64).sqrt()).collect::<Vec<_>>(),
            "cost" => (0..n).map(|i| i as f64).collect::<Vec<_>>(),
            "lambda" => (0..n).map(|i| 1.0 / (1.0 + i as f64)).collect::<Vec<_>>(),
        )
        .unwrap();
        let summary = df!(
            "source" => ["model"],
            "customers" => [10i64],
            "budget" => [5.0],
            "budget_basis" => ["amount 5"],
            "budget_capped" => [false],
            "integer_value" => [2.0],
            "integer_cost" => [5.0],
            "lp_value" => [2.1],
            "lambda" => [0.1],
            "sentence" => ["at the cost of a flat 2% …"],
            "flat_arm" => [Some("2%")],
        )
        .unwrap();
        let tables: HashMap<&str, DataFrame> =
            [("budget_curve", curve), ("budget_summary", summary)]
                .into_iter()
                .collect();
        let view = budget_view(&tables).unwrap().unwrap();
        assert_eq!(view.cost.len(), MAX_BUDGET_POINTS);
        assert_eq!(view.cost[0], 0.0);
        assert_eq!(*view.cost.last().unwrap(), (n - 1) as f64);
        assert_eq!(view.flat_arm.as_deref(), Some("2%"));
        assert!(view.heldout_sentence.is_none());
    }
}
