//! Explaining the recommendation from evidence: why a customer's learned response to an arm is
//! what it is. The meta-learners' effect of an arm is a combination of cross-fitted models (a
//! difference of two outcome models for T, a weighted blend for X, fold averages everywhere),
//! so — as causalml explains its meta-learners — one gradient-boosted tree model per arm is
//! fitted to the learner's per-customer effects of that arm, its fidelity (R² against those
//! effects) reported, and exact TreeSHAP computed on it: `base + Σφ` equals the explained
//! effect to rounding (checked), and each customer gets the top drivers in words.

use crate::learn::boosting::{fit_boosting, BoostingParams};
use crate::learn::matrix::Matrix;

use super::drivers::describe_value;
use super::treeshap::ensemble_shap;
use super::{check_local_accuracy, LocalAccuracyError, ShapValues};

/// The effect model fitted per arm (deterministic for a seed).
pub(crate) fn effect_model_params() -> BoostingParams {
    BoostingParams {
        n_rounds: 200,
        learning_rate: 0.1,
        max_depth: 4,
        lambda: 1.0,
        min_child_weight: 5.0,
        subsample: 1.0,
        max_bins: 64,
    }
}

/// One arm's effect model and what it says.
#[derive(Clone, Debug)]
pub(crate) struct ArmEffects {
    /// Index of the arm (into the caller's arm list).
    pub arm: usize,
    /// R² of the effect model against the learner's effects, over every customer.
    pub fidelity_r2: f64,
    /// The effect model's prediction per customer.
    pub explained: Vec<f64>,
    /// SHAP values of every customer for this arm's effect model.
    pub shap: ShapValues,
}

/// Fits an effect model per arm in `arms` on `x` → `effect[arm]` and explains every customer.
/// `effect[a][i]` is the learner's effect of arm `a` for customer `i`.
pub(crate) fn explain_arms(
    x: &Matrix,
    effect: &[Vec<f64>],
    arms: &[usize],
    seed: u64,
) -> Result<Vec<ArmEffects>, LocalAccuracyError> {
    let params = effect_model_params();
    arms.iter()
        .map(|&a| {
            let y = &effect[a];
            let model = fit_boosting(x, y, &params, seed ^ a as u64);
            let explained = model.predict(x);
            let shap = ensemble_shap(&model.trees, model.base_score, 1.0, x);
            check_local_accuracy(&shap, &explained, 1e-9)?;
            Ok(ArmEffects {
                arm: a,
                fidelity_r2: r_squared(y, &explained),
                explained,
                shap,
            })
        })
        .collect()
}

/// The arm each customer is explained through: the recommended one (`chosen[i]`, arm 0 = the
/// control), or — for a customer given the control — the other arm of highest modelled gain
/// (`gain[arm][i]`; ties → the lower arm): why not it.
pub(crate) fn explained_arms(chosen: &[usize], gain: &[Vec<f64>]) -> Vec<usize> {
    (0..chosen.len())
        .map(|i| {
            if chosen[i] != 0 {
                chosen[i]
            } else {
                (1..gain.len())
                    .max_by(|&a, &b| gain[a][i].total_cmp(&gain[b][i]).then(b.cmp(&a)))
                    .unwrap_or(1)
            }
        })
        .collect()
}

/// R² of `fitted` against `y` (1 when `y` is constant and matched).
pub(crate) fn r_squared(y: &[f64], fitted: &[f64]) -> f64 {
    let n = y.len().max(1) as f64;
    let mean = y.iter().sum::<f64>() / n;
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = y.iter().zip(fitted).map(|(v, f)| (v - f).powi(2)).sum();
    if total == 0.0 {
        if residual == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - residual / total
    }
}

/// A customer's top drivers of an effect in words: "recency 12 days → +8.10", by |φ| (ties →
/// feature order).
pub(crate) fn effect_drivers(
    phi: &[f64],
    row: &[f64],
    features: &[String],
    top: usize,
) -> Vec<String> {
    let mut order: Vec<usize> = (0..phi.len()).collect();
    order.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()).then(a.cmp(&b)));
    order
        .into_iter()
        .take(top)
        .map(|j| {
            let sign = if phi[j] < 0.0 { '−' } else { '+' };
            format!(
                "{} → {sign}{:.2}",
                describe_value(&features[j], row[j]),
                phi[j].abs()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The effect of arm 1 grows with feature 0 and ignores feature 1: the effect model must
    /// follow it, its SHAP must add up, and feature 0 must lead every customer's drivers.
    #[test]
    fn control_customers_are_explained_through_their_best_other_arm() {
        let gain = vec![vec![0.0; 3], vec![1.0, 5.0, 2.0], vec![3.0, 4.0, 2.0]];
        assert_eq!(explained_arms(&[0, 2, 0], &gain), vec![2, 2, 1]);
    }

    #[test]
    fn the_effect_model_finds_what_drives_the_effect() {
        let n = 400;
        let f0: Vec<f64> = (0..n).map(|i| (i % 20) as f64).collect();
        let f1: Vec<f64> = (0..n).map(|i| ((i * 7) % 13) as f64).collect();
        let x = Matrix::from_columns(&[f0.clone(), f1]);
        let effect = vec![vec![0.0; n], f0.iter().map(|v| 3.0 * v).collect()];
        let fitted = explain_arms(&x, &effect, &[1], 7).unwrap();
        assert_eq!(fitted.len(), 1);
        let arm = &fitted[0];
        assert_eq!(arm.arm, 1);
        assert!(arm.fidelity_r2 > 0.99, "R² {}", arm.fidelity_r2);
        let features = vec!["n_invoices".to_string(), "noise".to_string()];
        for i in [5usize, 17, 250] {
            let drivers = effect_drivers(arm.shap.row(i), x.row(i), &features, 2);
            assert!(drivers[0].contains("invoices"), "{drivers:?}");
        }
        // Low f0 pulls the effect below the average, high f0 above it.
        assert!(arm.shap.row(0)[0] < 0.0 && arm.shap.row(19)[0] > 0.0);
        assert_eq!(r_squared(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
    }
}
