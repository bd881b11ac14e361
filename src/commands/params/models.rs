//! Segmentation's and model selection's parameters.

use crate::config::{Config, Family, TrainConfig};
use crate::models::family::{grid_points, FamilyGrid, Spec};
use crate::models::training::TrainParams;
use crate::segment::segmentation::SegmentParams;
use crate::segment::sweep::SweepParams;

/// What `segment` clusters on and how it sweeps k.
pub(crate) fn segment(config: &Config) -> SegmentParams {
    let s = &config.segment;
    SegmentParams {
        features: s.features.clone(),
        transform: s.transform,
        sweep: SweepParams {
            k_min: s.k_min,
            k_max: s.k_max,
            n_init: s.n_init,
            max_iter: s.max_iter,
            tol: s.tol,
            seed: s.seed,
            silhouette_exact_max: s.silhouette_exact_max,
            silhouette_sample_size: s.silhouette_sample_size,
        },
    }
}

/// Model selection's settings: the grid, the split, the folds and the seeds.
pub(crate) fn train(config: &Config) -> TrainParams {
    let t = &config.train;
    TrainParams {
        specs: grid(t),
        test_percent: t.test_percent,
        n_folds: t.n_folds,
        cv_max_rows: t.cv_max_rows,
        max_bins: t.max_bins,
        seed: t.seed,
        split_seed: config.linkage.seed,
    }
}

/// The grid points of the configured families, family by family.
pub(crate) fn grid(config: &TrainConfig) -> Vec<Spec> {
    let families: Vec<FamilyGrid> = config
        .families
        .iter()
        .map(|family| match family {
            Family::Linear => FamilyGrid::Linear,
            Family::DecisionTree => FamilyGrid::DecisionTree {
                max_depth: config.decision_tree.max_depth.clone(),
                min_samples_leaf: config.decision_tree.min_samples_leaf.clone(),
            },
            Family::RandomForest => {
                let rf = &config.random_forest;
                FamilyGrid::RandomForest {
                    n_trees: rf.n_trees.clone(),
                    max_features: rf.max_features.clone(),
                    min_samples_leaf: rf.min_samples_leaf.clone(),
                    max_depth: rf.max_depth.clone(),
                }
            }
            Family::GradientBoosting => {
                let gb = &config.gradient_boosting;
                FamilyGrid::GradientBoosting {
                    n_rounds: gb.n_rounds.clone(),
                    learning_rate: gb.learning_rate.clone(),
                    max_depth: gb.max_depth.clone(),
                    subsample: gb.subsample.clone(),
                    lambda: gb.lambda.clone(),
                    min_child_weight: gb.min_child_weight.clone(),
                }
            }
        })
        .collect();
    grid_points(&families)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_has_the_reference_points() {
        let specs = grid(&TrainConfig::default());
        let count = |family: &str| specs.iter().filter(|s| s.family() == family).count();
        assert_eq!(count("linear"), 1);
        assert_eq!(count("decision_tree"), 3);
        assert_eq!(count("random_forest"), 4);
        assert_eq!(count("gradient_boosting"), 2);
    }
}
