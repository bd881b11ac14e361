//! From predicted rates to a policy: rates clamped to the allowed range and snapped to tiers,
//! the platform's value of each customer under the learned tiers, the oracle rate and a flat
//! rate, and the policy value on a set of customers.

use serde::Serialize;

use super::economics::{value, Economics, Targets};

/// `cashback_predictions.recommended_by` of a rate that comes from this model's tier (the
/// oracle-label regression); `uplift` replaces it where an offer test gives the evidence.
pub(crate) const MODEL_POLICY: &str = "model";

/// Rates and values per customer under the learned policy, the oracle and a flat rate.
#[derive(Clone, Debug, Default)]
pub(crate) struct Recommendations {
    /// The model's prediction clamped to `[rate_min, rate_max]`.
    pub predicted_rate: Vec<f64>,
    /// The nearest tier (what the platform offers).
    pub tier: Vec<f64>,
    pub value_at_tier: Vec<f64>,
    pub value_at_optimal: Vec<f64>,
    pub value_at_flat: Vec<f64>,
}

/// Clamps and snaps the raw predictions and values each customer under the three policies.
pub(crate) fn recommend(
    economics: &Economics,
    raw_prediction: &[f64],
    total_spent: &[f64],
    targets: &Targets,
    flat_rate: f64,
) -> Recommendations {
    let predicted_rate: Vec<f64> = raw_prediction
        .iter()
        .map(|r| r.clamp(economics.rate_min, economics.rate_max))
        .collect();
    let tier: Vec<f64> = predicted_rate
        .iter()
        .map(|&r| economics.snap_to_tier(r))
        .collect();
    let value_at = |rate: &dyn Fn(usize) -> f64| -> Vec<f64> {
        (0..raw_prediction.len())
            .map(|i| value(total_spent[i], targets.beta[i], targets.margin[i], rate(i)))
            .collect()
    };
    Recommendations {
        value_at_tier: value_at(&|i| tier[i]),
        value_at_optimal: value_at(&|i| targets.optimal_rate[i]),
        value_at_flat: value_at(&|_| flat_rate),
        predicted_rate,
        tier,
    }
}

/// Policy value of the learned tiers vs the oracle and a flat rate, on some customers.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PolicyValue {
    pub customers: usize,
    pub value_predicted: f64,
    pub value_optimal: f64,
    pub value_flat: f64,
    pub flat_rate: f64,
    /// (oracle − predicted) / oracle, percent.
    pub regret_pct: f64,
    /// (oracle − flat) / oracle, percent.
    pub flat_regret_pct: f64,
}

/// The policy value summed over `rows`.
pub(crate) fn policy_value(
    rows: &[usize],
    values: &Recommendations,
    flat_rate: f64,
) -> PolicyValue {
    let sum = |v: &[f64]| rows.iter().map(|&i| v[i]).sum::<f64>();
    let (p, o, f) = (
        sum(&values.value_at_tier),
        sum(&values.value_at_optimal),
        sum(&values.value_at_flat),
    );
    let pct = |x: f64| {
        if o.abs() > 0.0 {
            100.0 * (o - x) / o
        } else {
            0.0
        }
    };
    PolicyValue {
        customers: rows.len(),
        value_predicted: p,
        value_optimal: o,
        value_flat: f,
        flat_rate,
        regret_pct: pct(p),
        flat_regret_pct: pct(f),
    }
}

/// The learned policy's recommendations and its value on the test split and on everyone.
#[derive(Clone, Debug)]
pub(crate) struct Evaluation {
    pub values: Recommendations,
    pub test: PolicyValue,
    pub all: PolicyValue,
}

/// Recommends from the raw predictions ([`recommend`]) and values the policy on `test_rows`
/// and on every customer ([`policy_value`]).
pub(crate) fn evaluate(
    economics: &Economics,
    raw_prediction: &[f64],
    total_spent: &[f64],
    targets: &Targets,
    flat_rate: f64,
    test_rows: &[usize],
) -> Evaluation {
    let values = recommend(economics, raw_prediction, total_spent, targets, flat_rate);
    let all_rows: Vec<usize> = (0..raw_prediction.len()).collect();
    let test = policy_value(test_rows, &values, flat_rate);
    let all = policy_value(&all_rows, &values, flat_rate);
    Evaluation { values, test, all }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regret_is_the_share_of_the_oracle_value_lost() {
        let values = Recommendations {
            value_at_tier: vec![8.0, 1.0, 100.0],
            value_at_optimal: vec![10.0, 10.0, 100.0],
            value_at_flat: vec![5.0, 5.0, 100.0],
            ..Default::default()
        };
        let p = policy_value(&[0, 1], &values, 0.02);
        assert_eq!(p.customers, 2);
        assert_eq!(
            (p.value_predicted, p.value_optimal, p.value_flat),
            (9.0, 20.0, 10.0)
        );
        assert_eq!(p.regret_pct, 55.0);
        assert_eq!(p.flat_regret_pct, 50.0);
        assert_eq!(policy_value(&[], &values, 0.02).regret_pct, 0.0);
    }
}
