//! Ranking metrics of an uplift model on randomized rows of one arm and the control, with
//! scikit-uplift 0.5's definitions (`sklift.metrics`):
//!
//! - sort rows by predicted uplift, descending (a stable sort of the reversed order, as
//!   `np.argsort(kind="mergesort")[::-1]`), and cut after the last row of each run of equal
//!   scores; at a cut with `n` rows, `n_t` treated rows of outcome sum `Y_t` and `n_c` control
//!   rows of sum `Y_c`:
//! - Qini curve `Q(n) = Y_t − Y_c · n_t / n_c` (0 when `n_c = 0`);
//! - uplift curve `U(n) = (Y_t / n_t − Y_c / n_c) · n` (each ratio 0 when its count is 0);
//! - both start at (0, 0); areas are trapezoids.
//! - normalised Qini coefficient `(A_model − A_random) / (A_perfect − A_random)` with the random
//!   line from (0, 0) to the curve's end, the perfect curve the Qini curve of the score
//!   `y·t − y·(1 − t)` (`negative_effect=True`, the default of `qini_auc_score`);
//! - AUUC `uplift_auc_score`: the same normalisation of the uplift curve, the perfect score
//!   `2·[y = t] + (y if #{y=1,t=0} > #{y=0,t=1} else t)`; only defined for a 0/1 outcome.

/// Points `(n, value)` of a curve.
pub(crate) type Curve = Vec<(f64, f64)>;

fn cut_points(uplift: &[f64]) -> Vec<usize> {
    // Descending order, ties in reverse index order (numpy's mergesort then [::-1]).
    let mut order: Vec<usize> = (0..uplift.len()).collect();
    order.sort_by(|&a, &b| uplift[a].total_cmp(&uplift[b]).then(a.cmp(&b)));
    order.reverse();
    order
}

/// Cumulative sums at each cut: `(n, n_t, y_t, y_c)`.
fn cumulative(y: &[f64], uplift: &[f64], treated: &[bool]) -> Vec<(f64, f64, f64, f64)> {
    let order = cut_points(uplift);
    let mut out = Vec::new();
    let (mut n_t, mut y_t, mut y_c) = (0.0, 0.0, 0.0);
    for (position, &i) in order.iter().enumerate() {
        if treated[i] {
            n_t += 1.0;
            y_t += y[i];
        } else {
            y_c += y[i];
        }
        let last = position + 1 == order.len();
        if last || uplift[order[position + 1]] != uplift[i] {
            out.push(((position + 1) as f64, n_t, y_t, y_c));
        }
    }
    out
}

fn starting_at_zero(mut curve: Curve) -> Curve {
    if curve.first().is_none_or(|&(n, v)| n != 0.0 || v != 0.0) {
        curve.insert(0, (0.0, 0.0));
    }
    curve
}

/// The Qini curve.
pub(crate) fn qini_curve(y: &[f64], uplift: &[f64], treated: &[bool]) -> Curve {
    starting_at_zero(
        cumulative(y, uplift, treated)
            .into_iter()
            .map(|(n, n_t, y_t, y_c)| {
                let n_c = n - n_t;
                let ratio = if n_c != 0.0 { n_t / n_c } else { 0.0 };
                (n, y_t - y_c * ratio)
            })
            .collect(),
    )
}

/// The uplift curve.
pub(crate) fn uplift_curve(y: &[f64], uplift: &[f64], treated: &[bool]) -> Curve {
    starting_at_zero(
        cumulative(y, uplift, treated)
            .into_iter()
            .map(|(n, n_t, y_t, y_c)| {
                let n_c = n - n_t;
                let mean_t = if n_t != 0.0 { y_t / n_t } else { 0.0 };
                let mean_c = if n_c != 0.0 { y_c / n_c } else { 0.0 };
                (n, (mean_t - mean_c) * n)
            })
            .collect(),
    )
}

/// Trapezoid area under a curve.
pub(crate) fn area(curve: &Curve) -> f64 {
    curve
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

fn normalised(actual: &Curve, perfect: &Curve) -> f64 {
    let &(x_end, y_end) = perfect.last().unwrap_or(&(0.0, 0.0));
    let baseline = x_end * y_end / 2.0;
    let perfect_area = area(perfect) - baseline;
    if perfect_area == 0.0 {
        return f64::NAN;
    }
    (area(actual) - baseline) / perfect_area
}

/// Normalised Qini coefficient (`sklift.metrics.qini_auc_score`, `negative_effect=True`).
pub(crate) fn qini_coefficient(y: &[f64], uplift: &[f64], treated: &[bool]) -> f64 {
    let perfect_score: Vec<f64> = y
        .iter()
        .zip(treated)
        .map(|(&v, &t)| if t { v } else { -v })
        .collect();
    normalised(
        &qini_curve(y, uplift, treated),
        &qini_curve(y, &perfect_score, treated),
    )
}

/// True when every outcome is 0 or 1.
pub(crate) fn is_binary(y: &[f64]) -> bool {
    y.iter().all(|&v| v == 0.0 || v == 1.0)
}

/// Normalised area under the uplift curve (`sklift.metrics.uplift_auc_score`); `None` unless
/// the outcome is 0/1.
pub(crate) fn auuc(y: &[f64], uplift: &[f64], treated: &[bool]) -> Option<f64> {
    if !is_binary(y) {
        return None;
    }
    let control_responders = y
        .iter()
        .zip(treated)
        .filter(|(&v, &t)| v == 1.0 && !t)
        .count();
    let treated_non_responders = y
        .iter()
        .zip(treated)
        .filter(|(&v, &t)| v == 0.0 && t)
        .count();
    let perfect_score: Vec<f64> = y
        .iter()
        .zip(treated)
        .map(|(&v, &t)| {
            let t = f64::from(u8::from(t));
            let summand = if control_responders > treated_non_responders {
                v
            } else {
                t
            };
            2.0 * f64::from(u8::from(v == t)) + summand
        })
        .collect();
    Some(normalised(
        &uplift_curve(y, uplift, treated),
        &uplift_curve(y, &perfect_score, treated),
    ))
}

/// The curve at `points + 1` evenly spaced fractions of the rows (linear interpolation), as
/// `(fraction, value)`: enough for a chart, small enough for a table.
pub(crate) fn resample(curve: &Curve, points: usize) -> Vec<(f64, f64)> {
    let total = curve.last().map_or(0.0, |&(n, _)| n);
    (0..=points)
        .map(|k| {
            let fraction = k as f64 / points as f64;
            let x = fraction * total;
            let j = curve.partition_point(|&(n, _)| n < x);
            let value = if j == 0 {
                curve.first().map_or(0.0, |&(_, v)| v)
            } else if j >= curve.len() {
                curve.last().map_or(0.0, |&(_, v)| v)
            } else {
                let (x0, y0) = curve[j - 1];
                let (x1, y1) = curve[j];
                if x1 == x0 {
                    y1
                } else {
                    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
                }
            };
            (fraction, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qini_by_hand() {
        // Scores 0.9, 0.5, 0.5, 0.1 — rows sorted: 0, then {2, 1} (tie: reverse index), 3.
        // y = [1, 0, 1, 0], treated = [t, c, t, c].
        // cut after row 0: n=1, n_t=1, Y_t=1, Y_c=0 → Q = 1.
        // cut after the tie: n=3, n_t=2, Y_t=2, Y_c=0, n_c=1 → Q = 2.
        // end: n=4, n_t=2, Y_t=2, Y_c=0, n_c=2 → Q = 2.
        let y = [1.0, 0.0, 1.0, 0.0];
        let uplift = [0.9, 0.5, 0.5, 0.1];
        let treated = [true, false, true, false];
        let curve = qini_curve(&y, &uplift, &treated);
        assert_eq!(curve, vec![(0.0, 0.0), (1.0, 1.0), (3.0, 2.0), (4.0, 2.0)]);
        // Area: 0.5 + 3 + 2 = 5.5; baseline (perfect ends at (4, 2)): 4; perfect curve of the
        // scores [1, 0, 1, 0] (control rows −0 = 0): cuts after rows {2,0} (n=2, Q=2) and the
        // rest (n=4, Q=2) → area 2 + 4 = 6. Coefficient (5.5 − 4) / (6 − 4) = 0.75.
        assert!((qini_coefficient(&y, &uplift, &treated) - 0.75).abs() < 1e-12);
        // Uplift curve: n=1: (1 − 0)·1 = 1; n=3: (1 − 0)·3 = 3; n=4: (1 − 0)·4 = 4.
        let u = uplift_curve(&y, &uplift, &treated);
        assert_eq!(u, vec![(0.0, 0.0), (1.0, 1.0), (3.0, 3.0), (4.0, 4.0)]);
    }

    #[test]
    fn equals_scikit_uplift_on_a_fixed_input() {
        // Produced with scikit-uplift 0.5.1 (venv /work/venvs/uplift):
        //   import numpy as np
        //   from sklift.metrics import qini_auc_score, uplift_auc_score
        //   rng = np.random.default_rng(7)
        //   n = 40
        //   t = (np.arange(n) % 2).astype(int)
        //   s = np.round(rng.normal(size=n), 1)        # ties on purpose
        //   y = (rng.random(n) < 0.3 + 0.2 * t * (s > 0)).astype(int)
        //   print(list(t), list(s), list(y))
        //   print(repr(qini_auc_score(y, s, t)), repr(uplift_auc_score(y, s, t)))
        //   ys = np.round(rng.gamma(2.0, 5.0, n) * y, 2)   # a money outcome
        //   import sklift.metrics.metrics as M
        //   M.check_is_binary = lambda a: None  # sklift refuses a non-0/1 outcome; its
        //   print(list(ys), repr(M.qini_auc_score(ys, s, t)))  # formulas do not need one
        let fixture = super::tests_fixture::SKLIFT;
        let treated: Vec<bool> = fixture.t.iter().map(|&v| v == 1).collect();
        let q = qini_coefficient(fixture.y, fixture.s, &treated);
        assert!((q - fixture.qini).abs() < 1e-12, "{q} vs {}", fixture.qini);
        let a = auuc(fixture.y, fixture.s, &treated).unwrap();
        assert!((a - fixture.auuc).abs() < 1e-12, "{a} vs {}", fixture.auuc);
        let qs = qini_coefficient(fixture.spend, fixture.s, &treated);
        assert!(
            (qs - fixture.qini_spend).abs() < 1e-12,
            "{qs} vs {}",
            fixture.qini_spend
        );
        assert!(auuc(fixture.spend, fixture.s, &treated).is_none());
    }

    #[test]
    fn resample_interpolates() {
        let curve = vec![(0.0, 0.0), (2.0, 4.0), (4.0, 4.0)];
        let points = resample(&curve, 4);
        assert_eq!(
            points,
            vec![(0.0, 0.0), (0.25, 2.0), (0.5, 4.0), (0.75, 4.0), (1.0, 4.0)]
        );
    }
}

#[cfg(test)]
mod tests_fixture {
    pub(crate) struct Fixture {
        pub t: &'static [u8],
        pub s: &'static [f64],
        pub y: &'static [f64],
        pub spend: &'static [f64],
        pub qini: f64,
        pub auuc: f64,
        pub qini_spend: f64,
    }
    // From the scikit-uplift run quoted in `equals_scikit_uplift_on_a_fixed_input`.
    pub(crate) const SKLIFT: Fixture = Fixture {
        t: &[
            0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0,
            1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
        ],
        s: &[
            0.0, 0.3, -0.3, -0.9, -0.5, -1.0, 0.1, 1.3, -0.5, -0.6, 0.5, 0.4, 0.1, -0.9, -0.0, 0.7,
            -1.3, -0.5, -1.9, -1.3, -1.8, -0.2, -1.3, 0.3, 0.2, -0.2, -2.5, -0.5, -0.0, 0.1, -1.5,
            -0.5, -1.0, -0.8, 1.1, -0.8, -0.0, 0.9, -0.6, -0.1,
        ],
        y: &[
            0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
            0.0, 0.0, 0.0, 0.0, 1.0, 1.0,
        ],
        spend: &[
            0.0, 0.0, 0.0, 0.0, 0.0, 8.18, 0.0, 0.0, 0.0, 0.0, 0.0, 4.03, 0.0, 0.0, 13.74, 0.0,
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.76, 3.98, 9.21, 0.0, 7.92, 0.0, 17.63, 0.0, 0.0, 0.0,
            0.0, 4.61, 0.0, 0.0, 0.0, 0.0, 4.71, 10.71,
        ],
        qini: 0.06111192699370811,
        auuc: 0.049577192047468056,
        qini_spend: -0.16307709206748952,
    };
}
