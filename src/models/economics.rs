//! The explicit economic model behind the "optimal cashback rate" (SPEC §7).
//!
//! Spend responds linearly to a rate r: `S_i(r) = total_spent_i · (1 + β_i r)`; the platform
//! values a rate at `V_i(r) = S_i(r) · (m_i − r)` with margin `m_i = c_i + λ`. The maximiser is
//! `r*_i = (β_i m_i − 1) / (2 β_i)`, clamped to `[r_min, r_max]`. `β_i` depends on observed
//! features and on a per-customer noise `σ ε_i` that no feature sees, so no model can reach
//! R² = 1 unless σ = 0 — the guard against the target leakage of the original project.

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::DataFrame;

use crate::features::linkage::h_customer;
use crate::frame::{f64_column, i64_column};

/// Parameters of the economic model (validated config values).
#[derive(Clone, Debug, PartialEq)]
pub struct Economics {
    pub beta0: f64,
    pub a_price: f64,
    pub a_freq: f64,
    pub a_recency: f64,
    pub a_social: f64,
    pub sigma: f64,
    pub engagement_value: f64,
    pub rate_min: f64,
    pub rate_max: f64,
    pub tiers: Vec<f64>,
    pub seed: u64,
}

/// Per-customer inputs of the target.
#[derive(Clone, Debug, Default)]
pub struct EconomicInputs {
    pub customer_id: Vec<i64>,
    pub total_spent: Vec<f64>,
    pub avg_item_price: Vec<f64>,
    pub n_invoices: Vec<f64>,
    pub recency_days: Vec<f64>,
    pub social_degree: Vec<f64>,
    /// `c_i`: the customer's spend-weighted merchant commission.
    pub merchant_commission: Vec<f64>,
    /// Per-customer value of engagement λ_i (see [`engagement_from_clv`]); `None` = the one
    /// constant `engagement_value` for everyone.
    pub engagement: Option<Vec<f64>>,
}

impl EconomicInputs {
    /// The inputs from `customer_features`' columns, with the flat engagement value.
    pub(crate) fn from_features(features: &DataFrame) -> Result<Self> {
        Ok(Self {
            customer_id: i64_column(features, "customer_id")?,
            total_spent: f64_column(features, "total_spent")?,
            avg_item_price: f64_column(features, "avg_item_price")?,
            n_invoices: f64_column(features, "n_invoices")?,
            recency_days: f64_column(features, "recency_days")?,
            social_degree: f64_column(features, "social_degree")?,
            merchant_commission: f64_column(features, "merchant_commission")?,
            engagement: None,
        })
    }

    /// Each customer's λ_i from `customer_value` (customer_id, clv) by
    /// [`engagement_from_clv`], with `lambda` the flat value; a user error when the table has
    /// no CLV at all, a warning naming how many customers keep the flat value.
    pub(crate) fn with_clv_engagement(
        self,
        lambda: f64,
        customer_value: &DataFrame,
    ) -> Result<Self> {
        let table = customer_value;
        if table.column("clv")?.null_count() == table.height() {
            return Err(crate::error::user_error(
                "[economics] engagement = \"clv\" needs CLV values, but customer_value has none (an RFM input without monetary_value)",
            ));
        }
        let ids = i64_column(table, "customer_id")?;
        let clv = table.column("clv")?.f64()?.clone();
        let by_id: HashMap<i64, f64> = ids
            .iter()
            .zip(clv.iter())
            .filter_map(|(&id, c)| c.map(|c| (id, c)))
            .collect();
        let per_customer: Vec<Option<f64>> = self
            .customer_id
            .iter()
            .map(|id| by_id.get(id).copied())
            .collect();
        let (lambdas, flat) = engagement_from_clv(lambda, &per_customer, &self.total_spent);
        if flat > 0 {
            tracing::warn!(
                "engagement = \"clv\": {flat} customers have no CLV in customer_value and keep the flat engagement_value"
            );
        }
        Ok(Self {
            engagement: Some(lambdas),
            ..self
        })
    }
}

/// The target and the quantities it came from, per customer.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    pub epsilon: Vec<f64>,
    pub beta: Vec<f64>,
    pub margin: Vec<f64>,
    pub optimal_rate: Vec<f64>,
}

/// `ε = sqrt(−2 ln u1) · cos(2π u2)` with `u = ((h(ns, c) >> 11) + 0.5) / 2^53`.
pub(crate) fn epsilon(seed: u64, customer_id: i64) -> f64 {
    let uniform =
        |ns: &str| ((h_customer(ns, seed, customer_id) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u1 = uniform("eps1");
    let u2 = uniform("eps2");
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Population z-scores (ddof = 0) clipped to [−3, 3]; a constant column gives zeros.
pub(crate) fn clipped_z(values: &[f64]) -> Vec<f64> {
    crate::segment::zscore(values)
        .into_iter()
        .map(|z| z.clamp(-3.0, 3.0))
        .collect()
}

impl Economics {
    /// β_i, m_i and r*_i for every customer.
    pub fn targets(&self, inputs: &EconomicInputs) -> Targets {
        let n = inputs.customer_id.len();
        let z_price = clipped_z(
            &inputs
                .avg_item_price
                .iter()
                .map(|v| v.ln())
                .collect::<Vec<_>>(),
        );
        let z_freq = clipped_z(&inputs.n_invoices.iter().map(|v| v.ln()).collect::<Vec<_>>());
        let z_recency = clipped_z(&inputs.recency_days);
        let z_social = clipped_z(
            &inputs
                .social_degree
                .iter()
                .map(|v| v.ln_1p())
                .collect::<Vec<_>>(),
        );
        let mut targets = Targets {
            epsilon: Vec::with_capacity(n),
            beta: Vec::with_capacity(n),
            margin: Vec::with_capacity(n),
            optimal_rate: Vec::with_capacity(n),
        };
        for i in 0..n {
            let eps = epsilon(self.seed, inputs.customer_id[i]);
            let ln_beta = self.beta0.ln()
                + self.a_price * z_price[i]
                + self.a_freq * z_freq[i]
                + self.a_recency * z_recency[i]
                + self.a_social * z_social[i]
                + self.sigma * eps;
            let beta = ln_beta.exp();
            let lambda = inputs
                .engagement
                .as_ref()
                .map_or(self.engagement_value, |per_customer| per_customer[i]);
            let margin = inputs.merchant_commission[i] + lambda;
            targets.epsilon.push(eps);
            targets.beta.push(beta);
            targets.margin.push(margin);
            targets.optimal_rate.push(self.optimal_rate(beta, margin));
        }
        targets
    }

    /// `r* = clamp((β m − 1) / (2β), r_min, r_max)`.
    /// The largest β the model can produce: every clipped z-score (|z| ≤ 3) pushing the same
    /// way and the noise at 3σ.
    pub(crate) fn beta_cap(&self) -> f64 {
        let reach =
            self.a_price.abs() + self.a_freq.abs() + self.a_recency.abs() + self.a_social.abs();
        self.beta0 * (3.0 * reach + 3.0 * self.sigma).exp()
    }

    pub fn optimal_rate(&self, beta: f64, margin: f64) -> f64 {
        ((beta * margin - 1.0) / (2.0 * beta)).clamp(self.rate_min, self.rate_max)
    }

    /// The tier nearest to `rate`; a tie goes to the lower tier.
    pub(crate) fn snap_to_tier(&self, rate: f64) -> f64 {
        let mut best = self.tiers[0];
        for &tier in &self.tiers[1..] {
            if (tier - rate).abs() < (best - rate).abs() {
                best = tier;
            }
        }
        best
    }
}

/// Per-customer value of engagement from CLV:
/// `λ_i = λ · (CLV_i / S_i) / (Σ_j CLV_j / Σ_j S_j)`, with S = total_spent and the sums over
/// the customers that have a CLV. A customer whose expected future margin per unit of past
/// spend is twice the population's gets twice the flat λ; the spend-weighted mean of λ_i stays
/// λ, so the total value of engagement is unchanged and only its allocation moves. Customers
/// without a CLV (`None`, e.g. first seen after the calibration end) or without spend keep λ.
/// Returns the λ_i and how many customers kept the flat λ.
pub(crate) fn engagement_from_clv(
    lambda: f64,
    clv: &[Option<f64>],
    total_spent: &[f64],
) -> (Vec<f64>, usize) {
    let valued = |i: usize| clv[i].filter(|c| c.is_finite() && total_spent[i] > 0.0);
    let (mut clv_sum, mut spend_sum) = (0.0, 0.0);
    for (i, spent) in total_spent.iter().enumerate().take(clv.len()) {
        if let Some(c) = valued(i) {
            clv_sum += c;
            spend_sum += spent;
        }
    }
    let mut flat = 0;
    let lambdas = (0..clv.len())
        .map(|i| match valued(i) {
            Some(c) if clv_sum > 0.0 => lambda * (c / total_spent[i]) / (clv_sum / spend_sum),
            _ => {
                flat += 1;
                lambda
            }
        })
        .collect();
    (lambdas, flat)
}

/// `V(r) = total_spent · (1 + β r) · (m − r)`.
pub(crate) fn value(total_spent: f64, beta: f64, margin: f64, rate: f64) -> f64 {
    total_spent * (1.0 + beta * rate) * (margin - rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn economics() -> Economics {
        Economics {
            beta0: 20.0,
            a_price: -0.25,
            a_freq: -0.20,
            a_recency: 0.15,
            a_social: 0.10,
            sigma: 0.25,
            engagement_value: 0.02,
            rate_min: 0.0,
            rate_max: 0.10,
            tiers: vec![0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.10],
            seed: 42,
        }
    }

    #[test]
    fn optimal_rate_by_hand() {
        let e = economics();
        // β = 20, m = 0.10: (2 − 1) / 40 = 0.025.
        assert!((e.optimal_rate(20.0, 0.10) - 0.025).abs() < 1e-15);
        // β m < 1 → clamped at 0.
        assert_eq!(e.optimal_rate(5.0, 0.10), 0.0);
        // Huge β → (m − 1/β)/2 → capped at 0.10.
        assert_eq!(e.optimal_rate(1e9, 0.5), 0.10);
    }

    #[test]
    fn optimal_rate_maximises_value() {
        let (beta, margin) = (35.0, 0.09);
        let e = economics();
        let best = e.optimal_rate(beta, margin);
        for r in [best - 0.005, best + 0.005] {
            assert!(value(100.0, beta, margin, r) < value(100.0, beta, margin, best));
        }
    }

    #[test]
    fn tiers_snap_to_nearest_ties_low() {
        let e = economics();
        assert_eq!(e.snap_to_tier(0.014), 0.01);
        assert_eq!(e.snap_to_tier(0.016), 0.02);
        assert_eq!(e.snap_to_tier(0.04), 0.03);
        assert_eq!(e.snap_to_tier(0.0625), 0.05);
        assert_eq!(e.snap_to_tier(0.5), 0.10);
        assert_eq!(e.snap_to_tier(-1.0), 0.0);
    }

    #[test]
    fn epsilon_matches_an_independent_implementation() {
        // Mean and variance of ε over ids 0..20000, from an independent Python implementation
        // of the same definition. FNV-1a mixes a trailing digit only weakly into the top bits,
        // so ε is only roughly standard normal — the spec fixes the definition, not the law.
        let eps: Vec<f64> = (0..20_000).map(|c| epsilon(42, c)).collect();
        let mean = eps.iter().sum::<f64>() / eps.len() as f64;
        let var = eps.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / eps.len() as f64;
        assert!((mean - 0.043_941_765_185_900_99).abs() < 1e-12, "{mean}");
        assert!((var - 0.936_110_914_339_129_3).abs() < 1e-12, "{var}");
        // Pinned values from the same independent implementation: ε depends on the seed and
        // the customer.
        assert!((epsilon(42, 17850) - -0.639_250_639_328_342).abs() < 1e-14);
        assert!((epsilon(43, 17850) - -0.376_881_605_986_278_46).abs() < 1e-14);
    }

    #[test]
    fn epsilon_formula_by_hand() {
        // u1, u2 from FNV-1a of "eps1:42:12346" / "eps2:42:12346", then Box–Muller; the value
        // from an independent Python implementation.
        assert!((epsilon(42, 12346) - 1.473_477_950_574_642_3).abs() < 1e-14);
    }

    #[test]
    fn targets_with_zero_noise_follow_features() {
        let mut e = economics();
        e.sigma = 0.0;
        let inputs = EconomicInputs {
            customer_id: vec![1, 2],
            total_spent: vec![100.0, 100.0],
            avg_item_price: vec![2.0, 2.0],
            n_invoices: vec![3.0, 3.0],
            recency_days: vec![10.0, 10.0],
            social_degree: vec![5.0, 5.0],
            merchant_commission: vec![0.08, 0.08],
            engagement: None,
        };
        let t = e.targets(&inputs);
        // All z = 0 → β = β0 = 20, m = 0.10, r* = 0.025.
        assert!((t.beta[0] - 20.0).abs() < 1e-12);
        assert!((t.optimal_rate[1] - 0.025).abs() < 1e-12);
    }

    #[test]
    fn engagement_from_clv_follows_the_formula() {
        // Spend 100 and 300, CLV 30 and 30: population ratio 60 / 400 = 0.15;
        // λ_1 = 0.02 · 0.30 / 0.15 = 0.04, λ_2 = 0.02 · 0.10 / 0.15 = 0.01333…
        let (l, flat) =
            engagement_from_clv(0.02, &[Some(30.0), Some(30.0), None], &[100.0, 300.0, 50.0]);
        assert!((l[0] - 0.04).abs() < 1e-15);
        assert!((l[1] - 0.02 / 1.5).abs() < 1e-15);
        assert_eq!((l[2], flat), (0.02, 1));
        // The spend-weighted mean of λ_i over the valued customers is λ.
        assert!(((100.0 * l[0] + 300.0 * l[1]) / 400.0 - 0.02).abs() < 1e-15);
    }

    #[test]
    fn per_customer_engagement_moves_the_target_and_flat_leaves_it() {
        let mut e = economics();
        e.sigma = 0.0;
        let mut inputs = EconomicInputs {
            customer_id: vec![1, 2],
            total_spent: vec![100.0, 300.0],
            avg_item_price: vec![2.0, 2.0],
            n_invoices: vec![3.0, 3.0],
            recency_days: vec![10.0, 10.0],
            social_degree: vec![5.0, 5.0],
            merchant_commission: vec![0.08, 0.08],
            engagement: None,
        };
        let flat = e.targets(&inputs);
        // λ_i equal to the flat λ for everyone: the same targets, bit for bit.
        inputs.engagement = Some(vec![0.02, 0.02]);
        let same = e.targets(&inputs);
        assert_eq!(flat.optimal_rate, same.optimal_rate);
        assert_eq!(flat.margin, same.margin);
        // λ = (0.04, 0.0133): m = 0.12 and 0.0933; β = 20 → r* = (20 m − 1) / 40.
        let (lambdas, _) = engagement_from_clv(0.02, &[Some(30.0), Some(30.0)], &[100.0, 300.0]);
        inputs.engagement = Some(lambdas);
        let moved = e.targets(&inputs);
        assert!((moved.margin[0] - 0.12).abs() < 1e-15);
        assert!((moved.optimal_rate[0] - (20.0 * 0.12 - 1.0) / 40.0).abs() < 1e-12);
        assert!((moved.optimal_rate[1] - (20.0 * (0.08 + 0.02 / 1.5) - 1.0) / 40.0).abs() < 1e-12);
        assert!(moved.optimal_rate[0] > flat.optimal_rate[0]);
        assert!(moved.optimal_rate[1] < flat.optimal_rate[1]);
    }
}
