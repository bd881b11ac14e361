//! A small BFGS minimiser with a strong-Wolfe line search (Nocedal & Wright, algorithms 3.5,
//! 3.6 and 6.1) for the 3- and 4-parameter likelihoods of this module. Written here rather
//! than taken from `argmin`: the problems are tiny and smooth, the code is ~150 lines, and it
//! adds no dependency tree to a build that polars already makes slow.

/// Where a minimisation ended.
#[derive(Clone, Debug)]
pub(crate) struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    pub gradient: Vec<f64>,
    pub iterations: usize,
    pub evaluations: usize,
}

/// Why a minimisation failed; it carries the last point reached.
#[derive(Clone, Debug)]
pub(crate) struct NotConverged {
    pub last: Minimum,
    pub reason: &'static str,
}

/// Stopping rules.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tolerances {
    /// Stop when the largest gradient component is below this.
    pub gradient: f64,
    pub max_iterations: usize,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            gradient: 1e-9,
            max_iterations: 500,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Minimises `objective`, which returns the value and writes the gradient. A non-finite value
/// counts as "too far" for the line search, so the objective may return NaN or +inf outside
/// its domain.
pub(crate) fn bfgs(
    mut objective: impl FnMut(&[f64], &mut [f64]) -> f64,
    start: &[f64],
    tolerances: Tolerances,
) -> Result<Minimum, NotConverged> {
    let n = start.len();
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let mut evaluations = 1;
    let mut f = objective(&x, &mut g);
    let snapshot = |x: &[f64], f: f64, g: &[f64], iterations: usize, evaluations: usize| Minimum {
        point: x.to_vec(),
        value: f,
        gradient: g.to_vec(),
        iterations,
        evaluations,
    };
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(NotConverged {
            last: snapshot(&x, f, &g, 0, evaluations),
            reason: "the objective is not finite at the starting point",
        });
    }
    // Inverse Hessian approximation, identity at first and rescaled after the first step.
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        h[i * n + i] = 1.0;
    }
    let mut first_step = true;
    for iteration in 0..tolerances.max_iterations {
        if max_abs(&g) <= tolerances.gradient {
            return Ok(snapshot(&x, f, &g, iteration, evaluations));
        }
        let mut direction: Vec<f64> = (0..n).map(|i| -dot(&h[i * n..(i + 1) * n], &g)).collect();
        let mut slope = dot(&direction, &g);
        if slope >= 0.0 {
            // Lost positive definiteness: restart from steepest descent.
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] = if i == j { 1.0 } else { 0.0 };
                }
            }
            direction = g.iter().map(|v| -v).collect();
            slope = -dot(&g, &g);
        }
        // No step moves a coordinate by more than MAX_MOVE (in log-parameters, a factor of
        // e^5): near the edge of the domain a quasi-Newton step can be huge and overflow.
        const MAX_MOVE: f64 = 5.0;
        let longest = max_abs(&direction);
        let initial_step = if first_step {
            (1.0 / longest).min(1.0)
        } else {
            (MAX_MOVE / longest).min(1.0)
        };
        let search = line_search(
            &mut objective,
            &x,
            f,
            slope,
            &direction,
            initial_step,
            &mut evaluations,
        );
        let Some((_step, f_new, x_new, g_new)) = search else {
            // No acceptable step: at the floor of floating-point precision (or on a ridge
            // where parameters run off to the edge of their range together, e.g. the BG/NBD's
            // a and b → ∞ with a/(a+b) fixed) the gradient is tiny but not below the
            // tolerance; accept a point that is stationary to 1e-4 on the mean objective.
            if max_abs(&g) <= 1e-4 {
                if max_abs(&g) > 1e-6 {
                    tracing::warn!(
                        "the fit stopped where no step decreases the objective any more, with the largest gradient component {:.2e} (a flat ridge)",
                        max_abs(&g)
                    );
                }
                return Ok(snapshot(&x, f, &g, iteration, evaluations));
            }
            return Err(NotConverged {
                last: snapshot(&x, f, &g, iteration, evaluations),
                reason: "the line search found no step that decreases the objective",
            });
        };
        let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
        let sy = dot(&s, &y);
        if first_step && sy > 0.0 {
            let scale = sy / dot(&y, &y);
            for i in 0..n {
                h[i * n + i] = scale;
            }
        }
        first_step = false;
        if sy > 1e-300 {
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n).map(|i| dot(&h[i * n..(i + 1) * n], &y)).collect();
            let yhy = dot(&y, &hy);
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] += -rho * (s[i] * hy[j] + hy[i] * s[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        let change = (f - f_new).abs();
        x = x_new;
        g = g_new;
        f = f_new;
        // A flat objective with a near-zero gradient (a parameter running off to the edge of
        // its range, where the likelihood no longer changes) is as good as it gets.
        if change <= 1e-14 * f.abs().max(1.0) && max_abs(&g) <= 1e-6 {
            return Ok(snapshot(&x, f, &g, iteration + 1, evaluations));
        }
    }
    Err(NotConverged {
        last: snapshot(&x, f, &g, tolerances.max_iterations, evaluations),
        reason: "the iteration limit was reached",
    })
}

type Trial = (f64, f64, Vec<f64>, Vec<f64>);

/// Strong-Wolfe line search along `direction` from `x` (value `f0`, slope `slope0` < 0).
/// Returns (step, value, point, gradient).
fn line_search(
    objective: &mut impl FnMut(&[f64], &mut [f64]) -> f64,
    x: &[f64],
    f0: f64,
    slope0: f64,
    direction: &[f64],
    initial_step: f64,
    evaluations: &mut usize,
) -> Option<Trial> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let n = x.len();
    let mut eval = |step: f64| -> (f64, f64, Vec<f64>, Vec<f64>) {
        let point: Vec<f64> = (0..n).map(|i| x[i] + step * direction[i]).collect();
        let mut gradient = vec![0.0; n];
        let value = objective(&point, &mut gradient);
        *evaluations += 1;
        let slope = if value.is_finite() {
            dot(&gradient, direction)
        } else {
            f64::NAN
        };
        (value, slope, point, gradient)
    };
    let mut previous_step = 0.0;
    let mut previous_value = f0;
    let mut previous_slope = slope0;
    let mut step = initial_step;
    for attempt in 0..60 {
        let (value, slope, point, gradient) = eval(step);
        if !value.is_finite() || !slope.is_finite() {
            // Outside the domain: shrink towards the last good step.
            step = previous_step + 0.25 * (step - previous_step);
            if step - previous_step < 1e-20 {
                return None;
            }
            continue;
        }
        if value > f0 + C1 * step * slope0 || (attempt > 0 && value >= previous_value) {
            return zoom(
                &mut eval,
                f0,
                slope0,
                (previous_step, previous_value, previous_slope),
                (step, value, slope),
            );
        }
        if slope.abs() <= -C2 * slope0 {
            return Some((step, value, point, gradient));
        }
        if slope >= 0.0 {
            return zoom(
                &mut eval,
                f0,
                slope0,
                (step, value, slope),
                (previous_step, previous_value, previous_slope),
            );
        }
        previous_step = step;
        previous_value = value;
        previous_slope = slope;
        step *= 2.0;
    }
    None
}

/// The zoom phase: `low` satisfies sufficient decrease with the lowest value so far, the
/// minimiser lies between `low` and `high`.
fn zoom(
    eval: &mut impl FnMut(f64) -> (f64, f64, Vec<f64>, Vec<f64>),
    f0: f64,
    slope0: f64,
    mut low: (f64, f64, f64),
    mut high: (f64, f64, f64),
) -> Option<Trial> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    for _ in 0..60 {
        // Cubic interpolation between the ends, safeguarded to the middle 80 %.
        let (a, fa, ga) = low;
        let (b, fb, gb) = high;
        let d1 = ga + gb - 3.0 * (fa - fb) / (a - b);
        let disc = d1 * d1 - ga * gb;
        let mut step = if disc >= 0.0 && fb.is_finite() && gb.is_finite() {
            let d2 = (b - a).signum() * disc.sqrt();
            b - (b - a) * (gb + d2 - d1) / (gb - ga + 2.0 * d2)
        } else {
            0.5 * (a + b)
        };
        let (lo, hi) = (a.min(b), a.max(b));
        let margin = 0.1 * (hi - lo);
        if !step.is_finite() || step < lo + margin || step > hi - margin {
            step = 0.5 * (a + b);
        }
        if (hi - lo) < 1e-16 * hi.abs().max(1e-10) {
            break;
        }
        let (value, slope, point, gradient) = eval(step);
        if !value.is_finite() || !slope.is_finite() {
            high = (step, f64::INFINITY, f64::NAN);
            continue;
        }
        if value > f0 + C1 * step * slope0 || value >= low.1 {
            high = (step, value, slope);
        } else {
            if slope.abs() <= -C2 * slope0 {
                return Some((step, value, point, gradient));
            }
            if slope * (high.0 - low.0) >= 0.0 {
                high = low;
            }
            low = (step, value, slope);
        }
    }
    // Accept the best point found if it decreased the objective at all.
    if low.0 > 0.0 {
        let (value, _slope, point, gradient) = eval(low.0);
        if value < f0 {
            return Some((low.0, value, point, gradient));
        }
    }
    None
}

/// The Hessian by forward differences of the analytic gradient (n gradient evaluations; the
/// O(h) error, h = 1e-6 relative, is far below what a standard error needs), symmetrised.
pub(crate) fn numeric_hessian(
    mut gradient: impl FnMut(&[f64], &mut [f64]),
    point: &[f64],
) -> Vec<f64> {
    let n = point.len();
    let mut hessian = vec![0.0; n * n];
    let mut base = vec![0.0; n];
    let mut moved = vec![0.0; n];
    let mut x = point.to_vec();
    gradient(&x, &mut base);
    for j in 0..n {
        let h = 1e-6 * point[j].abs().max(1.0);
        x[j] = point[j] + h;
        gradient(&x, &mut moved);
        x[j] = point[j];
        for i in 0..n {
            hessian[i * n + j] = (moved[i] - base[i]) / h;
        }
    }
    for i in 0..n {
        for j in 0..i {
            let mean = 0.5 * (hessian[i * n + j] + hessian[j * n + i]);
            hessian[i * n + j] = mean;
            hessian[j * n + i] = mean;
        }
    }
    hessian
}

/// The inverse of a symmetric positive-definite matrix by Cholesky; `None` when it is not
/// positive definite.
pub(crate) fn spd_inverse(matrix: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = matrix[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 || sum.is_nan() {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    // Solve L Lᵀ X = I column by column.
    let mut inverse = vec![0.0; n * n];
    for column in 0..n {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let mut sum = if i == column { 1.0 } else { 0.0 };
            for k in 0..i {
                sum -= l[i * n + k] * y[k];
            }
            y[i] = sum / l[i * n + i];
        }
        for i in (0..n).rev() {
            let mut sum = y[i];
            for k in i + 1..n {
                sum -= l[k * n + i] * inverse[k * n + column];
            }
            inverse[i * n + column] = sum / l[i * n + i];
        }
    }
    Some(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_rosenbrock() {
        let rosenbrock = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let min = bfgs(rosenbrock, &[-1.2, 1.0], Tolerances::default()).unwrap();
        assert!((min.point[0] - 1.0).abs() < 1e-6, "{:?}", min.point);
        assert!((min.point[1] - 1.0).abs() < 1e-6, "{:?}", min.point);
    }

    #[test]
    fn reports_where_it_stopped() {
        let rosenbrock = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let limit = Tolerances {
            gradient: 1e-9,
            max_iterations: 3,
        };
        let err = bfgs(rosenbrock, &[-1.2, 1.0], limit).unwrap_err();
        assert_eq!(err.reason, "the iteration limit was reached");
        assert_eq!(err.last.iterations, 3);
        // It moved downhill from f(−1.2, 1) = 24.2 and says where it stopped.
        assert!(err.last.value < 24.2 && err.last.point != vec![-1.2, 1.0]);
        // A function with no minimum: the line search gives up, still naming the point.
        let linear = |_: &[f64], g: &mut [f64]| {
            g[0] = 1.0;
            0.0
        };
        let err = bfgs(linear, &[0.0], Tolerances::default()).unwrap_err();
        assert!(err.reason.contains("line search"), "{}", err.reason);
    }

    #[test]
    fn inverse_of_spd_matrix() {
        let m = [4.0, 1.0, 1.0, 3.0];
        let inv = spd_inverse(&m, 2).unwrap();
        let det = 11.0;
        let want = [3.0 / det, -1.0 / det, -1.0 / det, 4.0 / det];
        for (a, b) in inv.iter().zip(want) {
            assert!((a - b).abs() < 1e-14);
        }
        assert!(spd_inverse(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
