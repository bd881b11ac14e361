//! Grid search with hash-fold cross-validation, refit of each family's best grid point on the
//! whole training split, test metrics, and permutation importance.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::family::{Model, Spec};
use crate::learn::matrix::Matrix;

/// Root mean squared error.
pub(crate) fn rmse(truth: &[f64], predicted: &[f64]) -> f64 {
    let n = truth.len().max(1) as f64;
    (truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Mean absolute error.
pub(crate) fn mae(truth: &[f64], predicted: &[f64]) -> f64 {
    let n = truth.len().max(1) as f64;
    truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).abs())
        .sum::<f64>()
        / n
}

/// Coefficient of determination (1 − SS_res / SS_tot); 0 when the truth is constant.
pub(crate) fn r2(truth: &[f64], predicted: &[f64]) -> f64 {
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    let ss_res: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum();
    if ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// Cross-validation result of one grid point.
#[derive(Clone, Debug)]
pub(crate) struct GridResult {
    pub spec: Spec,
    pub cv_rmse: f64,
    pub cv_rmse_std: f64,
    pub fit_seconds: f64,
}

/// Cross-validates every grid point on the training rows. `folds[i]` is row i's fold.
/// All (grid point, fold) fits run in parallel; every fit is deterministic on its own.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cross_validate(
    specs: &[Spec],
    x: &Matrix,
    y: &[f64],
    folds: &[usize],
    n_folds: usize,
    max_bins: usize,
    seed: u64,
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<GridResult>, crate::learn::linear::LinearError> {
    let fold_rows: Vec<(Vec<usize>, Vec<usize>)> = (0..n_folds)
        .map(|f| {
            let train: Vec<usize> = (0..x.n_rows).filter(|&i| folds[i] != f).collect();
            let valid: Vec<usize> = (0..x.n_rows).filter(|&i| folds[i] == f).collect();
            (train, valid)
        })
        .collect();
    // Forest grid points that differ only in their stopping rules grow together (one pass
    // per tree for the group, see `Spec::fit_predict_together`).
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for s in 0..specs.len() {
        let joins = groups.iter_mut().find(|group| {
            group.len() < crate::learn::cart::MAX_JOINT && specs[group[0]].grows_with(&specs[s])
        });
        match joins {
            Some(group) => group.push(s),
            None => groups.push(vec![s]),
        }
    }
    // The (group, fold) fits start from one queue: single-threaded fits longest first,
    // forests last, so that the threads finish together (a forest's trees are shared out among
    // idle threads, a boosting fit is not). Each result lands in its own slot, so the order of
    // completion changes nothing.
    let mut tasks: Vec<(usize, usize)> = (0..groups.len())
        .flat_map(|g| (0..n_folds).map(move |f| (g, f)))
        .collect();
    let is_forest = |g: usize| matches!(specs[groups[g][0]], Spec::RandomForest { .. });
    let cost = |g: usize| -> f64 { groups[g].iter().map(|&s| specs[s].relative_cost()).sum() };
    tasks.sort_by(|a, b| {
        is_forest(a.0)
            .cmp(&is_forest(b.0))
            .then(cost(b.0).total_cmp(&cost(a.0)))
    });
    type Scores = Result<Vec<(f64, f64)>, crate::learn::linear::LinearError>;
    let slots: Vec<std::sync::Mutex<Option<Scores>>> = (0..groups.len() * n_folds)
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    // One (group, fold) fit: each grid point's validation RMSE and its share of the seconds.
    let fit_group = |g: usize, f: usize| -> Scores {
        let members = &groups[g];
        let (train, valid) = &fold_rows[f];
        if valid.is_empty() || train.is_empty() {
            return Ok(vec![(f64::NAN, 0.0); members.len()]);
        }
        let started = Instant::now();
        let x_train = x.select_rows(train);
        let y_train: Vec<f64> = train.iter().map(|&i| y[i]).collect();
        let x_valid = x.select_rows(valid);
        let y_valid: Vec<f64> = valid.iter().map(|&i| y[i]).collect();
        let group_specs: Vec<&Spec> = members.iter().map(|&s| &specs[s]).collect();
        let predicted =
            Spec::fit_predict_together(&group_specs, &x_train, &y_train, max_bins, seed, &x_valid)?;
        let seconds = started.elapsed().as_secs_f64() / members.len() as f64;
        for _ in members {
            on_done();
        }
        Ok(predicted
            .iter()
            .map(|predicted| (rmse(&y_valid, predicted), seconds))
            .collect())
    };
    rayon::scope_fifo(|scope| {
        for &(g, f) in &tasks {
            let (slots, fit_group) = (&slots, &fit_group);
            scope.spawn_fifo(move |_| {
                let scores = fit_group(g, f);
                *slots[g * n_folds + f]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(scores);
            });
        }
    });
    let mut scores = vec![(f64::NAN, 0.0); specs.len() * n_folds];
    for (index, slot) in slots.into_iter().enumerate() {
        let (g, f) = (index / n_folds, index % n_folds);
        let group_scores = slot
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .expect("every fit ran")?;
        for (&s, score) in groups[g].iter().zip(group_scores) {
            scores[s * n_folds + f] = score;
        }
    }
    let mut results = Vec::with_capacity(specs.len());
    for (s, spec) in specs.iter().enumerate() {
        let mut fold_scores = Vec::with_capacity(n_folds);
        let mut seconds = 0.0;
        for f in 0..n_folds {
            let (score, secs) = scores[s * n_folds + f];
            if score.is_finite() {
                fold_scores.push(score);
            }
            seconds += secs;
        }
        let n = fold_scores.len().max(1) as f64;
        let mean = fold_scores.iter().sum::<f64>() / n;
        let std = (fold_scores.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        results.push(GridResult {
            spec: spec.clone(),
            cv_rmse: mean,
            cv_rmse_std: std,
            fit_seconds: seconds,
        });
    }
    Ok(results)
}

/// Permutation importance: mean increase of RMSE on (x, y) when one feature's column is
/// shuffled, over `repeats` seeded shuffles.
pub(crate) fn permutation_importance(
    model: &Model,
    x: &Matrix,
    y: &[f64],
    repeats: usize,
    seed: u64,
) -> Vec<f64> {
    let baseline = rmse(y, &model.predict(x));
    (0..x.n_cols)
        .into_par_iter()
        .map(|j| {
            let mut total = 0.0;
            for r in 0..repeats {
                let mut rng =
                    Xoshiro256PlusPlus::seed_from_u64(seed ^ ((j as u64) << 32) ^ r as u64);
                let mut column = x.column(j);
                column.shuffle(&mut rng);
                let mut shuffled = x.clone();
                for (i, value) in column.into_iter().enumerate() {
                    shuffled.data[i * x.n_cols + j] = value;
                }
                total += rmse(y, &model.predict(&shuffled)) - baseline;
            }
            total / repeats.max(1) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let truth = [1.0, 2.0, 3.0];
        let predicted = [1.0, 2.0, 5.0];
        assert!((rmse(&truth, &predicted) - (4.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((mae(&truth, &predicted) - 2.0 / 3.0).abs() < 1e-15);
        assert!((r2(&truth, &predicted) - (1.0 - 4.0 / 2.0)).abs() < 1e-15);
        assert_eq!(r2(&truth, &truth), 1.0);
    }

    #[test]
    fn cv_prefers_the_right_model_and_is_deterministic() {
        let n = 600;
        let x = Matrix::from_columns(&[
            (0..n).map(|i| (i % 50) as f64).collect(),
            (0..n).map(|i| ((i * 31) % 17) as f64).collect(),
        ]);
        let y: Vec<f64> = (0..n)
            .map(|i| if i % 50 < 25 { 0.0 } else { 1.0 })
            .collect();
        // Folds of whole periods, so every fold sees every feature value.
        let folds: Vec<usize> = (0..n).map(|i| (i / 50) % 5).collect();
        let specs = [
            Spec::Linear,
            Spec::DecisionTree {
                max_depth: Some(3),
                min_samples_leaf: 1,
            },
        ];
        let a = cross_validate(&specs, &x, &y, &folds, 5, 256, 1, &|| {}).unwrap();
        let b = cross_validate(&specs, &x, &y, &folds, 5, 256, 1, &|| {}).unwrap();
        assert!(
            a[1].cv_rmse < 1e-12,
            "a step is recovered exactly by a tree"
        );
        assert!(a[0].cv_rmse > 0.1);
        assert_eq!(a[0].cv_rmse, b[0].cv_rmse);
    }

    #[test]
    fn forests_cross_validated_together_score_as_alone() {
        let n = 300;
        let x = Matrix::from_columns(&[
            (0..n).map(|i| ((i * 37) % 101) as f64).collect(),
            (0..n).map(|i| ((i * 13) % 7) as f64).collect(),
            (0..n).map(|i| ((i * 7) % 53) as f64).collect(),
        ]);
        let y: Vec<f64> = (0..n)
            .map(|i| ((i * 37) % 101) as f64 * 0.1 + ((i * 11) % 5) as f64)
            .collect();
        let folds: Vec<usize> = (0..n).map(|i| i % 5).collect();
        let forest = |min_samples_leaf, max_depth| Spec::RandomForest {
            n_trees: 8,
            max_features: crate::learn::cart::MaxFeatures::Fraction(0.5),
            min_samples_leaf,
            max_depth,
        };
        let specs = [
            forest(1, None),
            Spec::Linear,
            forest(5, None),
            forest(2, Some(3)),
        ];
        assert!(specs[0].grows_with(&specs[2]) && !specs[0].grows_with(&specs[1]));
        let together = cross_validate(&specs, &x, &y, &folds, 5, 256, 4, &|| {}).unwrap();
        for (spec, result) in specs.iter().zip(&together) {
            let alone = cross_validate(
                std::slice::from_ref(spec),
                &x,
                &y,
                &folds,
                5,
                256,
                4,
                &|| {},
            )
            .unwrap();
            assert_eq!(result.cv_rmse, alone[0].cv_rmse, "{spec:?}");
            assert_eq!(result.cv_rmse_std, alone[0].cv_rmse_std, "{spec:?}");
        }
        assert_ne!(together[0].cv_rmse, together[2].cv_rmse);
    }

    #[test]
    fn permutation_importance_finds_the_used_feature() {
        let n = 400;
        let x = Matrix::from_columns(&[
            (0..n).map(|i| i as f64).collect(),
            (0..n).map(|i| ((i * 13) % 7) as f64).collect(),
        ]);
        let y: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let model = Spec::Linear.fit(&x, &y, 256, 0).unwrap();
        let importance = permutation_importance(&model, &x, &y, 3, 9);
        assert!(
            importance[0] > 10.0 && importance[1].abs() < 1e-6,
            "{importance:?}"
        );
    }
}
