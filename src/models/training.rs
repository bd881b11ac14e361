//! Model selection for the cashback target: the hash split, the cross-validation rows and
//! folds, grid search, the best grid point per family, the final family (lowest CV RMSE, never
//! chosen on the test split), refits scored on the test split, and feature importance.

use anyhow::{Context as _, Result};
use rayon::prelude::*;

use super::family::{Model, SavedModel, Spec};
use super::selection::{cross_validate, mae, permutation_importance, r2, rmse, GridResult};
use super::split::{fold, is_test};
use crate::features::linkage::h_customer;
use crate::learn::matrix::Matrix;

/// Parameters of a training run (validated settings).
#[derive(Clone, Debug)]
pub(crate) struct TrainParams {
    /// The grid points, family by family.
    pub specs: Vec<Spec>,
    pub test_percent: u64,
    pub n_folds: u64,
    /// Cross-validate on at most this many training customers (0 = all).
    pub cv_max_rows: usize,
    pub max_bins: usize,
    /// The learners' seed.
    pub seed: u64,
    /// The seed of the split, fold and CV-sample hashes of customer ids.
    pub split_seed: u64,
}

/// One family's chosen grid point, refit on the training split and scored on the test split.
#[derive(Clone, Debug)]
pub(crate) struct FamilyBest {
    pub spec: Spec,
    pub cv_rmse: f64,
    pub test_rmse: f64,
    pub test_mae: f64,
    pub test_r2: f64,
}

/// Everything a training run decided.
pub(crate) struct Trained {
    /// Per customer: in the test split.
    pub test_flags: Vec<bool>,
    pub train_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
    pub cv_customers: usize,
    /// Every grid point's CV score, and whether it was its family's choice.
    pub results: Vec<GridResult>,
    pub selected: Vec<bool>,
    /// One per family, in grid order; `final_index` is the final model's family.
    pub bests: Vec<FamilyBest>,
    pub final_index: usize,
    pub final_model: Model,
    /// Training-split mean of each feature (the explanation's baseline).
    pub feature_means: Vec<f64>,
    pub impurity_importance: Vec<f64>,
    pub permutation_importance: Vec<f64>,
    /// 1 = the most important by permutation.
    pub rank: Vec<i64>,
}

impl Trained {
    /// The model file of the final model: its grid point, the `features` it was trained on
    /// (in column order) and their training-split means; the target is the optimal rate.
    pub(crate) fn into_saved_model(self, features: &[String]) -> SavedModel {
        SavedModel {
            fluz_version: env!("CARGO_PKG_VERSION").to_string(),
            target: "optimal_rate".into(),
            spec: self.bests[self.final_index].spec.clone(),
            features: features.to_vec(),
            feature_means: self.feature_means,
            model: self.final_model,
        }
    }
}

/// Why training could not run.
#[derive(Debug, thiserror::Error)]
#[error("too few customers to train: {train} in the training split and {test} in the test split")]
pub(crate) struct TooFewCustomers {
    pub train: usize,
    pub test: usize,
}

/// The CV rows: all training rows, or the `cv_max_rows` with the smallest `h("cv", c)` when
/// capped (a seeded sample that does not depend on row order), in row order.
pub(crate) fn cv_rows(
    train_rows: &[usize],
    customer_ids: &[i64],
    cap: usize,
    seed: u64,
) -> Vec<usize> {
    if cap == 0 || train_rows.len() <= cap {
        return train_rows.to_vec();
    }
    let mut ranked: Vec<(u64, usize)> = train_rows
        .iter()
        .map(|&i| (h_customer("cv", seed, customer_ids[i]), i))
        .collect();
    ranked.sort_unstable();
    let mut rows: Vec<usize> = ranked[..cap].iter().map(|&(_, i)| i).collect();
    rows.sort_unstable();
    rows
}

/// Selects and fits the model of `y` on `x`; `on_fit` is called after each CV fit. Too few
/// customers in either split is a user error ([`TooFewCustomers`]).
pub(crate) fn train(
    customer_ids: &[i64],
    x: &Matrix,
    y: &[f64],
    params: &TrainParams,
    on_fit: &(dyn Fn() + Sync),
) -> Result<Trained> {
    let n = customer_ids.len();
    let seed = params.split_seed;
    let test_flags: Vec<bool> = customer_ids
        .iter()
        .map(|&c| is_test(seed, c, params.test_percent))
        .collect();
    let train_rows: Vec<usize> = (0..n).filter(|&i| !test_flags[i]).collect();
    let test_rows: Vec<usize> = (0..n).filter(|&i| test_flags[i]).collect();
    if train_rows.len() < 2 * params.n_folds as usize || test_rows.is_empty() {
        let too_few = TooFewCustomers {
            train: train_rows.len(),
            test: test_rows.len(),
        };
        return Err(crate::error::user_error(too_few.to_string()));
    }
    let cv_rows = cv_rows(&train_rows, customer_ids, params.cv_max_rows, seed);
    let folds: Vec<usize> = cv_rows
        .iter()
        .map(|&i| fold(seed, customer_ids[i], params.n_folds))
        .collect();
    let x_train = x.select_rows(&train_rows);
    let y_train: Vec<f64> = train_rows.iter().map(|&i| y[i]).collect();
    // Copy the CV rows out only when they are a sample; otherwise CV runs on the training split.
    let capped_cv = (cv_rows.len() < train_rows.len()).then(|| {
        let y_cv: Vec<f64> = cv_rows.iter().map(|&i| y[i]).collect();
        (x.select_rows(&cv_rows), y_cv)
    });
    let (x_cv, y_cv) = match &capped_cv {
        Some((x_cv, y_cv)) => (x_cv, y_cv.as_slice()),
        None => (&x_train, y_train.as_slice()),
    };
    let x_test = x.select_rows(&test_rows);
    let y_test: Vec<f64> = test_rows.iter().map(|&i| y[i]).collect();
    let n_folds = params.n_folds as usize;
    let results = cross_validate(
        &params.specs,
        x_cv,
        y_cv,
        &folds,
        n_folds,
        params.max_bins,
        params.seed,
        on_fit,
    )
    .context("cross-validation failed")?;

    // Best grid point per family (ties → first in grid order).
    let mut families: Vec<&str> = Vec::new();
    for result in &results {
        if !families.contains(&result.spec.family()) {
            families.push(result.spec.family());
        }
    }
    let mut selected = vec![false; results.len()];
    let mut chosen: Vec<&GridResult> = Vec::new();
    for family in &families {
        let (index, best) = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.spec.family() == *family && r.cv_rmse.is_finite())
            .min_by(|(ia, a), (ib, b)| a.cv_rmse.total_cmp(&b.cv_rmse).then(ia.cmp(ib)))
            .with_context(|| format!("no finite CV score for {family}"))?;
        selected[index] = true;
        chosen.push(best);
    }
    // The final model: lowest CV RMSE, so it is known before the refits.
    let final_index = chosen
        .iter()
        .enumerate()
        .min_by(|(ia, a), (ib, b)| a.cv_rmse.total_cmp(&b.cv_rmse).then(ia.cmp(ib)))
        .map(|(i, _)| i)
        .context("no model family was trained")?;
    // The refits are independent (each deterministic on its own): run them side by side. Only
    // the final family's model is kept; the others are only scored on the test split, so a
    // forest among them is not kept either (`Spec::fit_predict`: the same predictions, and at
    // 100k customers 300 unlimited-depth trees are over a GB).
    let refits: Vec<(FamilyBest, Option<Model>)> = chosen
        .par_iter()
        .enumerate()
        .map(|(index, best)| -> Result<(FamilyBest, Option<Model>)> {
            let (model, predicted) = if index == final_index {
                let model = best
                    .spec
                    .fit(&x_train, &y_train, params.max_bins, params.seed)?;
                let predicted = model.predict(&x_test);
                (Some(model), predicted)
            } else {
                let predicted = best.spec.fit_predict(
                    &x_train,
                    &y_train,
                    params.max_bins,
                    params.seed,
                    &x_test,
                )?;
                (None, predicted)
            };
            let scored = FamilyBest {
                spec: best.spec.clone(),
                cv_rmse: best.cv_rmse,
                test_rmse: rmse(&y_test, &predicted),
                test_mae: mae(&y_test, &predicted),
                test_r2: r2(&y_test, &predicted),
            };
            Ok((scored, model))
        })
        .collect::<Result<_>>()?;
    let (bests, mut models): (Vec<FamilyBest>, Vec<Option<Model>>) = refits.into_iter().unzip();
    let final_model = models[final_index]
        .take()
        .context("the final family's model was fitted")?;

    let impurity_importance = final_model.impurity_importance(&x_train);
    let permutation = permutation_importance(&final_model, &x_test, &y_test, 5, params.seed);
    let mut order: Vec<usize> = (0..x.n_cols).collect();
    order.sort_by(|&a, &b| permutation[b].total_cmp(&permutation[a]).then(a.cmp(&b)));
    let mut rank = vec![0i64; order.len()];
    for (position, &j) in order.iter().enumerate() {
        rank[j] = position as i64 + 1;
    }
    let feature_means: Vec<f64> = (0..x_train.n_cols)
        .map(|j| x_train.column(j).iter().sum::<f64>() / x_train.n_rows.max(1) as f64)
        .collect();
    Ok(Trained {
        test_flags,
        cv_customers: cv_rows.len(),
        train_rows,
        test_rows,
        results,
        selected,
        bests,
        final_index,
        final_model,
        feature_means,
        impurity_importance,
        permutation_importance: permutation,
        rank,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cv_sample_is_capped_seeded_and_in_row_order() {
        let ids: Vec<i64> = (1000..1100).collect();
        let rows: Vec<usize> = (0..100).collect();
        assert_eq!(cv_rows(&rows, &ids, 0, 42), rows);
        assert_eq!(cv_rows(&rows, &ids, 200, 42), rows);
        let sample = cv_rows(&rows, &ids, 30, 42);
        assert_eq!(sample.len(), 30);
        assert!(sample.windows(2).all(|w| w[0] < w[1]));
        // The 30 smallest hashes, whatever the order the rows come in.
        let mut hashes: Vec<u64> = ids.iter().map(|&c| h_customer("cv", 42, c)).collect();
        hashes.sort_unstable();
        assert!(sample
            .iter()
            .all(|&i| h_customer("cv", 42, ids[i]) <= hashes[29]));
        assert_ne!(sample, cv_rows(&rows, &ids, 30, 43));
    }

    #[test]
    fn too_few_customers_is_an_error_naming_the_counts() {
        let ids: Vec<i64> = (0..5).collect();
        let x = Matrix::from_columns(&[vec![1.0, 2.0, 3.0, 4.0, 5.0]]);
        let params = TrainParams {
            specs: vec![Spec::Linear],
            test_percent: 20,
            n_folds: 5,
            cv_max_rows: 0,
            max_bins: 16,
            seed: 1,
            split_seed: 42,
        };
        let err = train(&ids, &x, &[0.0; 5], &params, &|| {}).err().unwrap();
        assert!(
            err.to_string().starts_with("too few customers to train"),
            "{err}"
        );
    }
}
