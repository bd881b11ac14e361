//! Per (customer, tier) cost and value from the economic model, read through what the trained
//! model *predicts* (never the hidden β_i).
//!
//! The model predicts the rate `r̂_i` that maximises `V_i(r) = S_i (1 + β_i r)(m_i − r)`; its
//! first-order condition `r* = (β m − 1) / (2β)` inverts to `β̂ = 1 / (m − 2 r̂)`. At the bounds
//! the prediction only says β is on one side of a boundary, and the boundary value is taken:
//! `r̂ ≤ r_min` gives `β̂ = 1 / (m − 2 r_min)` (the largest β whose optimum is `r_min`: every
//! higher rate loses money, so the customer is never worth targeting), `r̂ ≥ r_max` gives
//! `β̂ = 1 / (m − 2 r_max)` (the smallest β whose optimum reaches `r_max`: the cautious
//! reading). The result is capped at `beta_cap`, the largest β the economic model itself can
//! produce, which also covers `r̂ ≥ m / 2`, a rate no finite β justifies.
//!
//! Then, per tier `r`: cost = expected cashback `r · S_i(r) = r S_i (1 + β̂ r)` and value =
//! incremental profit against rate 0, `V_i(r) − V_i(0) = S_i [(1 + β̂ r)(m_i − r) − m_i]`.

/// What the economics need besides the per-customer columns.
#[derive(Clone, Debug)]
pub(crate) struct ModelArmsParams {
    /// The arms: `[economics] tiers`.
    pub tiers: Vec<f64>,
    pub rate_min: f64,
    pub rate_max: f64,
    /// Largest β the economic model can produce.
    pub beta_cap: f64,
}

/// Per customer: expected spend at rate 0 (`S_i`), margin `m_i`, predicted rate `r̂_i`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CustomerEconomics<'a> {
    pub spend: &'a [f64],
    pub margin: &'a [f64],
    pub predicted_rate: &'a [f64],
}

/// Rows for [`super::allocate`]: every customer × every tier, customer-major.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModelArms {
    pub customer: Vec<u32>,
    pub arm: Vec<u32>,
    pub cost: Vec<f64>,
    pub value: Vec<f64>,
    /// β̂ per customer.
    pub beta_hat: Vec<f64>,
}

/// β̂ from a predicted rate (see the module doc).
pub(crate) fn implied_beta(margin: f64, predicted_rate: f64, params: &ModelArmsParams) -> f64 {
    let rate = predicted_rate.clamp(params.rate_min, params.rate_max);
    let room = margin - 2.0 * rate;
    if room > 0.0 {
        (1.0 / room).min(params.beta_cap)
    } else {
        params.beta_cap
    }
}

/// Every customer's cost and value at every tier.
pub(crate) fn model_arms(customers: &CustomerEconomics, params: &ModelArmsParams) -> ModelArms {
    let n = customers.spend.len();
    let k = params.tiers.len();
    let mut out = ModelArms {
        customer: Vec::with_capacity(n * k),
        arm: Vec::with_capacity(n * k),
        cost: Vec::with_capacity(n * k),
        value: Vec::with_capacity(n * k),
        beta_hat: Vec::with_capacity(n),
    };
    for i in 0..n {
        let (spend, margin) = (customers.spend[i], customers.margin[i]);
        let beta = implied_beta(margin, customers.predicted_rate[i], params);
        out.beta_hat.push(beta);
        for (a, &rate) in params.tiers.iter().enumerate() {
            let lift = 1.0 + beta * rate;
            out.customer.push(i as u32);
            out.arm.push(a as u32);
            out.cost.push(rate * spend * lift);
            out.value.push(spend * (lift * (margin - rate) - margin));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ModelArmsParams {
        ModelArmsParams {
            tiers: vec![0.0, 0.02, 0.05, 0.10],
            rate_min: 0.0,
            rate_max: 0.10,
            beta_cap: 300.0,
        }
    }

    #[test]
    fn implied_beta_inverts_the_optimal_rate() {
        let p = params();
        // β = 20, m = 0.10: r* = 0.025 → β̂ = 1 / (0.10 − 0.05) = 20.
        assert!((implied_beta(0.10, 0.025, &p) - 20.0).abs() < 1e-12);
        for (beta, margin) in [(35.0, 0.09), (12.5, 0.12), (60.0, 0.05)] {
            let r = (beta * margin - 1.0) / (2.0 * beta);
            assert!((implied_beta(margin, r, &p) - beta).abs() < 1e-9 * beta);
        }
        // At r_min: the boundary 1/m, where every positive rate loses money.
        assert!((implied_beta(0.08, -0.01, &p) - 12.5).abs() < 1e-12);
        // At r_max with room: 1 / (m − 2 r_max).
        assert!((implied_beta(0.25, 0.2, &p) - 20.0).abs() < 1e-12);
        // No finite β gives r̂ ≥ m/2: the cap.
        assert_eq!(implied_beta(0.08, 0.05, &p), 300.0);
    }

    #[test]
    fn costs_and_values_follow_the_economics() {
        let p = params();
        let spend = [100.0, 50.0];
        let margin = [0.10, 0.08];
        let rate = [0.025, 0.0];
        let arms = model_arms(
            &CustomerEconomics {
                spend: &spend,
                margin: &margin,
                predicted_rate: &rate,
            },
            &p,
        );
        assert_eq!(arms.customer, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(arms.arm, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        // Customer 0, β̂ = 20, r = 0.02: S(r) = 100 · 1.4 = 140, cost 2.8,
        // value 140 · 0.08 − 100 · 0.10 = 1.2.
        assert!((arms.cost[1] - 2.8).abs() < 1e-12);
        assert!((arms.value[1] - 1.2).abs() < 1e-12);
        assert_eq!((arms.cost[0], arms.value[0]), (0.0, 0.0));
        // Customer 1 predicted 0: every rate loses money.
        assert!(arms.value[5..8].iter().all(|&v| v < 0.0));
        // The best tier by value is the one nearest the predicted optimum 0.025.
        let best = (0..4)
            .max_by(|&a, &b| arms.value[a].total_cmp(&arms.value[b]))
            .unwrap();
        assert_eq!(p.tiers[best], 0.02);
    }
}
