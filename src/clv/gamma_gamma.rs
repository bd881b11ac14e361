//! The Gamma-Gamma model of monetary value (Fader & Hardie 2013, "The Gamma-Gamma model of
//! monetary value"): a customer's purchase values are Gamma(p, ν), their ν ~ Gamma(q, v).
//! Fitted on the customers with at least one repeat purchase (x > 0), by maximum likelihood
//! in log-parameters with analytic gradients, like the BG/NBD.

use super::optimize::{bfgs, numeric_hessian, spd_inverse, Tolerances};
use super::special::{digamma, ln_gamma};
use super::ClvError;

/// p, q, v.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

impl GammaGammaParams {
    fn from_log(theta: &[f64]) -> Self {
        Self {
            p: theta[0].exp(),
            q: theta[1].exp(),
            v: theta[2].exp(),
        }
    }

    pub(crate) fn as_array(&self) -> [f64; 3] {
        [self.p, self.q, self.v]
    }

    /// E[Z | x, m_x] = p (v + x m_x) / (p x + q − 1): the customer's expected mean purchase
    /// value, shrunk from their own mean towards the population mean p v / (q − 1) (which is
    /// what a customer with x = 0 gets).
    pub(crate) fn expected_value(&self, x: f64, monetary_value: f64) -> f64 {
        if x <= 0.0 {
            return self.p * self.v / (self.q - 1.0);
        }
        self.p * (self.v + x * monetary_value) / (self.p * x + self.q - 1.0)
    }
}

/// A fitted Gamma-Gamma.
#[derive(Clone, Debug)]
pub(crate) struct GammaGammaFit {
    pub params: GammaGammaParams,
    pub std_errors: Option<[f64; 3]>,
    pub log_likelihood: f64,
    pub n_customers: usize,
}

struct Prepared {
    xs: Vec<f64>,
    x_weight: Vec<f64>,
    /// Per distinct x: Σ weight · x (ln m + ln x) and Σ weight · ln m.
    x_ln_terms: Vec<(f64, f64)>,
    rows: Vec<(u32, f64, f64, f64)>, // (x index, x, x·m, weight)
    total_weight: f64,
}

fn prepare(frequency: &[f64], monetary_value: &[f64], weight: &[f64]) -> Prepared {
    let mut xs: Vec<f64> = frequency.to_vec();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut x_weight = vec![0.0; xs.len()];
    let mut x_ln_terms = vec![(0.0, 0.0); xs.len()];
    let mut rows = Vec::with_capacity(frequency.len());
    for i in 0..frequency.len() {
        let (x, m, w) = (frequency[i], monetary_value[i], weight[i]);
        let k = xs.partition_point(|&v| v < x);
        x_weight[k] += w;
        x_ln_terms[k].0 += w * x * (m.ln() + x.ln());
        x_ln_terms[k].1 += w * m.ln();
        rows.push((k as u32, x, x * m, w));
    }
    Prepared {
        total_weight: weight.iter().sum(),
        xs,
        x_weight,
        x_ln_terms,
        rows,
    }
}

/// Σ weight · LL and its gradient with respect to (p, q, v).
fn log_likelihood_and_gradient(params: &GammaGammaParams, data: &Prepared) -> (f64, [f64; 3]) {
    let GammaGammaParams { p, q, v } = *params;
    let (lg_q, psi_q) = (ln_gamma(q), digamma(q));
    let ln_v = v.ln();
    let mut ll = 0.0;
    let mut grad = [0.0; 3];
    for k in 0..data.xs.len() {
        let (x, w) = (data.xs[k], data.x_weight[k]);
        let px = p * x;
        let (sum_x_ln, sum_ln_m) = data.x_ln_terms[k];
        ll += w * (ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_v) + p * sum_x_ln - sum_ln_m;
        let psi_pxq = digamma(px + q);
        grad[0] += w * x * (psi_pxq - digamma(px)) + sum_x_ln;
        grad[1] += w * (psi_pxq - psi_q + ln_v);
        grad[2] += w * q / v;
    }
    for &(_, x, xm, w) in &data.rows {
        let ln_total = (xm + v).ln();
        ll -= w * (p * x + q) * ln_total;
        grad[0] -= w * x * ln_total;
        grad[1] -= w * ln_total;
        grad[2] -= w * (p * x + q) / (xm + v);
    }
    (ll, grad)
}

fn objective(theta: &[f64], data: &Prepared, penalizer: f64, gradient: &mut [f64]) -> f64 {
    let params = GammaGammaParams::from_log(theta);
    let (ll, g) = log_likelihood_and_gradient(&params, data);
    let values = params.as_array();
    let mut penalty = 0.0;
    for k in 0..3 {
        penalty += values[k] * values[k];
        gradient[k] =
            -g[k] * values[k] / data.total_weight + 2.0 * penalizer * values[k] * values[k];
    }
    let value = -ll / data.total_weight + penalizer * penalty;
    if value.is_finite() && gradient.iter().all(|v| v.is_finite()) {
        value
    } else {
        f64::NAN
    }
}

/// Σ log-likelihood of customers with x > 0 (no penalty).
#[cfg(test)]
pub(crate) fn log_likelihood(
    params: &GammaGammaParams,
    frequency: &[f64],
    monetary_value: &[f64],
) -> f64 {
    let weight = vec![1.0; frequency.len()];
    log_likelihood_and_gradient(params, &prepare(frequency, monetary_value, &weight)).0
}

/// Fits the Gamma-Gamma on the given customers, who must all have x > 0 and a positive mean
/// value (the caller filters and counts the others).
pub(crate) fn fit(
    frequency: &[f64],
    monetary_value: &[f64],
    penalizer: f64,
) -> Result<GammaGammaFit, ClvError> {
    if frequency.is_empty() {
        return Err(ClvError::NoRepeatPurchases);
    }
    debug_assert!(frequency.iter().all(|&x| x > 0.0));
    debug_assert!(monetary_value.iter().all(|&m| m > 0.0));
    let weight = vec![1.0; frequency.len()];
    let prepared = prepare(frequency, monetary_value, &weight);
    let mean_m = monetary_value.iter().sum::<f64>() / monetary_value.len() as f64;
    // Start at p = 1, q = 2 and v at the mean value (so the starting population mean p v /
    // (q − 1) is the sample mean).
    let start = [0.0, 2f64.ln(), mean_m.max(1e-9).ln()];
    let minimum = bfgs(
        |theta, gradient| objective(theta, &prepared, penalizer, gradient),
        &start,
        Tolerances::default(),
    )
    .map_err(|failure| {
        let p = GammaGammaParams::from_log(&failure.last.point);
        ClvError::NotConverged {
            model: "Gamma-Gamma",
            reason: failure.reason,
            iterations: failure.last.iterations,
            at: format!("p = {:.6}, q = {:.6}, v = {:.6}", p.p, p.q, p.v),
            objective: failure.last.value,
            gradient: failure
                .last
                .gradient
                .iter()
                .fold(0.0, |m, g| m.max(g.abs())),
        }
    })?;
    let params = GammaGammaParams::from_log(&minimum.point);
    if params.q <= 1.0 {
        return Err(ClvError::Degenerate(format!(
            "the Gamma-Gamma fit gives q = {:.4} ≤ 1, so the mean purchase value p v / (q − 1) is infinite; a larger gamma_gamma_penalizer may help",
            params.q
        )));
    }
    let hessian = numeric_hessian(
        |theta, gradient| {
            objective(theta, &prepared, penalizer, gradient);
        },
        &minimum.point,
    );
    let total: Vec<f64> = hessian.iter().map(|h| h * prepared.total_weight).collect();
    let std_errors = spd_inverse(&total, 3).and_then(|inverse| {
        let values = params.as_array();
        let se: [f64; 3] = std::array::from_fn(|k| values[k] * inverse[k * 3 + k].sqrt());
        se.iter().all(|s| s.is_finite()).then_some(se)
    });
    Ok(GammaGammaFit {
        params,
        std_errors,
        log_likelihood: log_likelihood_and_gradient(&params, &prepared).0,
        n_customers: frequency.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let prepared = prepare(
            &[1.0, 2.0, 2.0, 5.0, 1.0],
            &[10.0, 35.5, 20.0, 14.2, 80.0],
            &[1.0, 1.0, 2.0, 1.0, 1.0],
        );
        let theta = [1.5, 1.1, 2.7];
        let mut g = [0.0; 3];
        objective(&theta, &prepared, 0.01, &mut g);
        for k in 0..3 {
            let h = 1e-6;
            let (mut plus, mut minus) = (theta, theta);
            plus[k] += h;
            minus[k] -= h;
            let mut scratch = [0.0; 3];
            let numeric = (objective(&plus, &prepared, 0.01, &mut scratch)
                - objective(&minus, &prepared, 0.01, &mut scratch))
                / (2.0 * h);
            assert!(
                (g[k] - numeric).abs() < 1e-7 * numeric.abs().max(1.0),
                "component {k}: {} vs {numeric}",
                g[k]
            );
        }
    }

    #[test]
    fn log_likelihood_by_hand() {
        // Equation (1a) of Fader & Hardie's note for one customer.
        let params = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let (x, m): (f64, f64) = (3.0, 25.0);
        let want = ln_gamma(params.p * x + params.q) - ln_gamma(params.p * x) - ln_gamma(params.q)
            + params.q * params.v.ln()
            + (params.p * x - 1.0) * m.ln()
            + params.p * x * x.ln()
            - (params.p * x + params.q) * (x * m + params.v).ln();
        let got = log_likelihood(&params, &[x], &[m]);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn expected_value_shrinks_towards_the_population_mean() {
        let params = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let population = params.p * params.v / (params.q - 1.0);
        assert!((params.expected_value(0.0, 0.0) - population).abs() < 1e-12);
        // One purchase of 100: between 100 and the population mean; more purchases pull closer to 100.
        let one = params.expected_value(1.0, 100.0);
        let ten = params.expected_value(10.0, 100.0);
        assert!(population < one && one < ten && ten < 100.0);
    }

    #[test]
    fn fit_recovers_simulated_parameters() {
        let truth = GammaGammaParams {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        };
        let frequency: Vec<f64> = (0..20_000).map(|i| (1 + i % 6) as f64).collect();
        let values = super::super::simulate::gamma_gamma_values(&truth, &frequency, 11);
        let fit = fit(&frequency, &values, 0.0).unwrap();
        let got = fit.params.as_array();
        let want = truth.as_array();
        for k in 0..3 {
            assert!((got[k] - want[k]).abs() < 0.1 * want[k], "{k}: {got:?}");
        }
        assert!(fit.std_errors.is_some());
    }
}
