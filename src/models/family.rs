//! The four model families, their grids, one fitted-model type for all of them, and its JSON
//! persistence (what `explain` loads).

use serde::{Deserialize, Serialize};

use crate::learn::boosting::{fit_boosting, Boosting, BoostingParams};
use crate::learn::cart::{fit_tree, MaxFeatures, TreeParams, MAX_BINS};
use crate::learn::forest::{fit_forest, Forest, ForestParams};
use crate::learn::linear::{fit_linear, Linear};
use crate::learn::matrix::Matrix;
use crate::learn::tree::Tree;

/// A model family with one grid point's hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub(crate) enum Spec {
    Linear,
    DecisionTree {
        max_depth: Option<usize>,
        min_samples_leaf: usize,
    },
    RandomForest {
        n_trees: usize,
        max_features: MaxFeatures,
        min_samples_leaf: usize,
        max_depth: Option<usize>,
    },
    GradientBoosting {
        n_rounds: usize,
        learning_rate: f64,
        max_depth: usize,
        subsample: f64,
        lambda: f64,
        min_child_weight: f64,
    },
}

/// One family's grid: the values to try of each hyper-parameter (a `max_depth` of 0 means
/// unlimited for the tree and the forest).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FamilyGrid {
    Linear,
    DecisionTree {
        max_depth: Vec<usize>,
        min_samples_leaf: Vec<usize>,
    },
    RandomForest {
        n_trees: Vec<usize>,
        max_features: Vec<MaxFeatures>,
        min_samples_leaf: Vec<usize>,
        max_depth: Vec<usize>,
    },
    GradientBoosting {
        n_rounds: Vec<usize>,
        learning_rate: Vec<f64>,
        max_depth: Vec<usize>,
        subsample: Vec<f64>,
        lambda: Vec<f64>,
        min_child_weight: Vec<f64>,
    },
}

/// Every grid point of the families, family by family, each family's points in the order of
/// its axes (the first varies slowest).
pub(crate) fn grid_points(families: &[FamilyGrid]) -> Vec<Spec> {
    let depth = |d: usize| if d == 0 { None } else { Some(d) };
    let mut specs = Vec::new();
    for family in families {
        match family {
            FamilyGrid::Linear => specs.push(Spec::Linear),
            FamilyGrid::DecisionTree {
                max_depth,
                min_samples_leaf,
            } => {
                for &d in max_depth {
                    for &min_samples_leaf in min_samples_leaf {
                        specs.push(Spec::DecisionTree {
                            max_depth: depth(d),
                            min_samples_leaf,
                        });
                    }
                }
            }
            FamilyGrid::RandomForest {
                n_trees,
                max_features,
                min_samples_leaf,
                max_depth,
            } => {
                for &n_trees in n_trees {
                    for &max_features in max_features {
                        for &min_samples_leaf in min_samples_leaf {
                            for &d in max_depth {
                                specs.push(Spec::RandomForest {
                                    n_trees,
                                    max_features,
                                    min_samples_leaf,
                                    max_depth: depth(d),
                                });
                            }
                        }
                    }
                }
            }
            FamilyGrid::GradientBoosting {
                n_rounds,
                learning_rate,
                max_depth,
                subsample,
                lambda,
                min_child_weight,
            } => {
                for &n_rounds in n_rounds {
                    for &learning_rate in learning_rate {
                        for &max_depth in max_depth {
                            for &subsample in subsample {
                                for &lambda in lambda {
                                    for &min_child_weight in min_child_weight {
                                        specs.push(Spec::GradientBoosting {
                                            n_rounds,
                                            learning_rate,
                                            max_depth,
                                            subsample,
                                            lambda,
                                            min_child_weight,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    specs
}

impl Spec {
    /// The family name used in tables.
    pub(crate) fn family(&self) -> &'static str {
        match self {
            Spec::Linear => "linear",
            Spec::DecisionTree { .. } => "decision_tree",
            Spec::RandomForest { .. } => "random_forest",
            Spec::GradientBoosting { .. } => "gradient_boosting",
        }
    }

    /// A rough relative cost of one fit, for scheduling the longest fits first (one unit is
    /// about one depth level of one boosting round; an unlimited-depth forest tree counts 8).
    pub(crate) fn relative_cost(&self) -> f64 {
        match self {
            Spec::Linear => 0.1,
            Spec::DecisionTree { max_depth, .. } => max_depth.unwrap_or(8).min(8) as f64,
            Spec::RandomForest {
                n_trees, max_depth, ..
            } => (*n_trees * max_depth.unwrap_or(8).min(8)) as f64,
            Spec::GradientBoosting {
                n_rounds,
                max_depth,
                ..
            } => (*n_rounds * *max_depth) as f64 * 0.5,
        }
    }

    /// Hyper-parameters as compact JSON (without the family).
    pub(crate) fn params_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.remove("family");
        }
        value.to_string()
    }

    /// The forest this grid point stands for, if it is one (bootstrap on, `min_samples_split`
    /// 2 as scikit-learn).
    fn forest_params(&self, max_bins: usize) -> Option<ForestParams> {
        match *self {
            Spec::RandomForest {
                n_trees,
                max_features,
                min_samples_leaf,
                max_depth,
            } => Some(ForestParams {
                n_trees,
                tree: TreeParams {
                    max_depth,
                    min_samples_leaf,
                    min_samples_split: 2,
                    max_features,
                    max_bins,
                },
                bootstrap: true,
            }),
            _ => None,
        }
    }

    /// Predictions on `x_eval` of the model [`Spec::fit`] would fit, the same numbers as
    /// `fit(..)?.predict(x_eval)`; a random forest is not kept, only its predictions (see
    /// [`crate::learn::forest::fit_forest_predict`]).
    pub(crate) fn fit_predict(
        &self,
        x: &Matrix,
        y: &[f64],
        max_bins: usize,
        seed: u64,
        x_eval: &Matrix,
    ) -> Result<Vec<f64>, crate::learn::linear::LinearError> {
        match self.forest_params(max_bins) {
            Some(forest) => Ok(crate::learn::forest::fit_forest_predict(
                x, y, &forest, seed, x_eval,
            )),
            None => Ok(self.fit(x, y, max_bins, seed)?.predict(x_eval)),
        }
    }

    /// True when `self` and `other` are forests that [`Spec::fit_predict_together`] grows in
    /// one pass (see [`crate::learn::forest::can_grow_together`]).
    pub(crate) fn grows_with(&self, other: &Spec) -> bool {
        match (self.forest_params(MAX_BINS), other.forest_params(MAX_BINS)) {
            (Some(a), Some(b)) => crate::learn::forest::can_grow_together(&a, &b),
            _ => false,
        }
    }

    /// [`Spec::fit_predict`] for each of `specs`, the same numbers; forests that grow together
    /// (see [`Spec::grows_with`], at most 4) share one pass over their trees.
    pub(crate) fn fit_predict_together(
        specs: &[&Spec],
        x: &Matrix,
        y: &[f64],
        max_bins: usize,
        seed: u64,
        x_eval: &Matrix,
    ) -> Result<Vec<Vec<f64>>, crate::learn::linear::LinearError> {
        let forests: Option<Vec<ForestParams>> = specs
            .iter()
            .map(|spec| spec.forest_params(max_bins))
            .collect();
        match forests {
            Some(forests)
                if (2..=crate::learn::cart::MAX_JOINT).contains(&forests.len())
                    && forests.iter().all(|forest| {
                        crate::learn::forest::can_grow_together(&forests[0], forest)
                    }) =>
            {
                Ok(crate::learn::forest::fit_forests_predict(
                    x, y, &forests, seed, x_eval,
                ))
            }
            _ => specs
                .iter()
                .map(|spec| spec.fit_predict(x, y, max_bins, seed, x_eval))
                .collect(),
        }
    }

    /// Fits this grid point.
    pub(crate) fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        max_bins: usize,
        seed: u64,
    ) -> Result<Model, crate::learn::linear::LinearError> {
        Ok(match *self {
            Spec::Linear => Model::Linear(fit_linear(x, y)?),
            Spec::DecisionTree {
                max_depth,
                min_samples_leaf,
            } => Model::DecisionTree(fit_tree(
                x,
                y,
                &TreeParams {
                    max_depth,
                    min_samples_leaf,
                    min_samples_split: 2,
                    max_features: MaxFeatures::All,
                    max_bins,
                },
                seed,
            )),
            Spec::RandomForest { .. } => Model::RandomForest(fit_forest(
                x,
                y,
                &self.forest_params(max_bins).expect("a forest"),
                seed,
            )),
            Spec::GradientBoosting {
                n_rounds,
                learning_rate,
                max_depth,
                subsample,
                lambda,
                min_child_weight,
            } => Model::GradientBoosting(fit_boosting(
                x,
                y,
                &BoostingParams {
                    n_rounds,
                    learning_rate,
                    max_depth,
                    lambda,
                    min_child_weight,
                    subsample,
                    max_bins,
                },
                seed,
            )),
        })
    }
}

/// A fitted model of any family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Model {
    Linear(Linear),
    DecisionTree(Tree),
    RandomForest(Forest),
    GradientBoosting(Boosting),
}

impl Model {
    /// Predictions for every row.
    pub(crate) fn predict(&self, x: &Matrix) -> Vec<f64> {
        match self {
            Model::Linear(model) => model.predict(x),
            Model::DecisionTree(tree) => tree.predict(x),
            Model::RandomForest(forest) => forest.predict(x),
            Model::GradientBoosting(boosting) => boosting.predict(x),
        }
    }

    /// Impurity (gain) importance normalised to sum 1; for the linear model, the absolute
    /// standardised coefficients `|w_j| · sd_j`, normalised.
    pub(crate) fn impurity_importance(&self, x: &Matrix) -> Vec<f64> {
        let n = x.n_cols;
        let mut importance = vec![0.0; n];
        match self {
            Model::Linear(model) => {
                for (j, slot) in importance.iter_mut().enumerate() {
                    let column = x.column(j);
                    let mean = column.iter().sum::<f64>() / column.len().max(1) as f64;
                    let sd = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                        / column.len().max(1) as f64)
                        .sqrt();
                    *slot = model.weights[j].abs() * sd;
                }
            }
            Model::DecisionTree(tree) => tree.add_impurity_importance(&mut importance),
            Model::RandomForest(forest) => {
                for tree in &forest.trees {
                    tree.add_impurity_importance(&mut importance);
                }
            }
            Model::GradientBoosting(boosting) => {
                for tree in &boosting.trees {
                    tree.add_impurity_importance(&mut importance);
                }
            }
        }
        let total: f64 = importance.iter().sum();
        if total > 0.0 {
            for value in &mut importance {
                *value /= total;
            }
        }
        importance
    }
}

/// The model file: everything `explain` needs to reproduce the predictions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedModel {
    pub fluz_version: String,
    pub target: String,
    pub spec: Spec,
    pub features: Vec<String>,
    /// Means of the features over the training split (linear SHAP's reference point).
    pub feature_means: Vec<f64>,
    pub model: Model,
}

impl SavedModel {
    /// Loads a model file written by `fluz train`; a missing, foreign or damaged file is a
    /// user error saying to run `fluz train`.
    pub(crate) fn load(path: &std::path::Path) -> anyhow::Result<SavedModel> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            crate::error::user_error(format!(
                "cannot read the model file {}: {err} (run `fluz train` first)",
                path.display()
            ))
        })?;
        let saved: SavedModel = serde_json::from_str(&text).map_err(|err| {
            crate::error::user_error(format!(
                "the model file {} is not a fluz model: {err} (run `fluz train` again)",
                path.display()
            ))
        })?;
        saved.check().map_err(|problem| {
            crate::error::user_error(format!(
                "the model file {} is damaged: {problem} (run `fluz train` again)",
                path.display()
            ))
        })?;
        Ok(saved)
    }

    /// Checks that the model fits its feature list and that every tree is well formed, so a
    /// damaged or hand-edited model file is an error instead of a hang or a panic.
    pub(crate) fn check(&self) -> Result<(), String> {
        let n_features = self.features.len();
        if self.feature_means.len() != n_features {
            return Err(format!(
                "{} feature means for {n_features} features",
                self.feature_means.len()
            ));
        }
        let trees: &[crate::learn::tree::Tree] = match &self.model {
            Model::Linear(linear) => {
                if linear.weights.len() != n_features {
                    return Err(format!(
                        "{} weights for {n_features} features",
                        linear.weights.len()
                    ));
                }
                if !linear.intercept.is_finite() || linear.weights.iter().any(|w| !w.is_finite()) {
                    return Err("a non-finite weight".into());
                }
                &[]
            }
            Model::DecisionTree(tree) => std::slice::from_ref(tree),
            Model::RandomForest(forest) => &forest.trees,
            Model::GradientBoosting(boosting) => &boosting.trees,
        };
        for (index, tree) in trees.iter().enumerate() {
            tree.check(n_features)
                .map_err(|problem| format!("tree {index}: {problem}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_json_is_compact() {
        let spec = Spec::DecisionTree {
            max_depth: Some(4),
            min_samples_leaf: 1,
        };
        assert_eq!(
            spec.params_json(),
            r#"{"max_depth":4,"min_samples_leaf":1}"#
        );
    }

    #[test]
    fn model_json_round_trip_predicts_the_same() {
        let x = Matrix::from_columns(&[
            (0..200).map(|i| i as f64).collect(),
            (0..200).map(|i| ((i * 7) % 13) as f64).collect(),
        ]);
        let y: Vec<f64> = (0..200)
            .map(|i| if i < 100 { 1.0 } else { 2.0 } + ((i * 7) % 13) as f64 * 0.1)
            .collect();
        for spec in [
            Spec::Linear,
            Spec::DecisionTree {
                max_depth: Some(4),
                min_samples_leaf: 1,
            },
            Spec::RandomForest {
                n_trees: 10,
                max_features: MaxFeatures::Sqrt,
                min_samples_leaf: 1,
                max_depth: None,
            },
            Spec::GradientBoosting {
                n_rounds: 20,
                learning_rate: 0.1,
                max_depth: 3,
                subsample: 0.8,
                lambda: 1.0,
                min_child_weight: 1.0,
            },
        ] {
            let model = spec.fit(&x, &y, 256, 7).unwrap();
            let json = serde_json::to_string(&model).unwrap();
            let back: Model = serde_json::from_str(&json).unwrap();
            assert_eq!(model.predict(&x), back.predict(&x), "{}", spec.family());
        }
    }
}
