//! `config.toml`: read into raw serde structs (unknown keys rejected), overridden by CLI flags
//! and `FLUZ_DATABASE_URL`, then validated once into [`Config`]. No stage ever sees an invalid
//! setting: every range check lives here and names the key it checks.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A bad config file or setting. Always a user error (exit code 2).
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The most customers `dashboard.html` embeds (`report::dashboard::MAX_CUSTOMERS`; a test
/// holds them equal).
pub(crate) const DASHBOARD_EMBED_LIMIT: usize = 3000;

/// The 14 numeric columns of `customer_features` used as model features by default.
pub(crate) const DEFAULT_MODEL_FEATURES: [&str; 14] = [
    "n_lines",
    "n_invoices",
    "total_quantity",
    "total_spent",
    "avg_item_price",
    "spend_to_price_ratio",
    "avg_basket_value",
    "recency_days",
    "tenure_days",
    "social_degree",
    "social_pagerank",
    "merchant_avg_stars",
    "merchant_avg_reviews",
    "merchant_commission",
];

/// `customer_value` columns that `[segment] features` may name besides
/// [`DEFAULT_MODEL_FEATURES`] (joined on customer_id; `fluz clv` must have run).
pub(crate) const CLV_FEATURES: [&str; 8] = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "expected_value",
    "clv",
];

/// The whole configuration, validated.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data: DataConfig,
    pub store: StoreConfig,
    pub ingest: IngestConfig,
    pub linkage: LinkageConfig,
    pub eda: EdaConfig,
    pub segment: SegmentConfig,
    pub economics: EconomicsConfig,
    pub train: TrainConfig,
    pub explain: ExplainConfig,
    pub export: ExportConfig,
    /// The file the settings came from (for messages); empty for the defaults.
    #[serde(skip)]
    pub origin: PathBuf,
    pub clv: ClvConfig,
    pub budget: BudgetConfig,
    pub offers: OffersConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// UCI Online Retail: `.xlsx`, `.csv` or `.csv.gz`.
    pub retail: PathBuf,
    /// Sheet to read from an xlsx workbook; empty = the first sheet.
    pub retail_sheet: String,
    /// SNAP edge list: `.txt` or `.txt.gz`.
    pub social: PathBuf,
    /// Yelp business JSON lines: `.json` or `.json.gz`.
    pub merchants: PathBuf,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            retail: "data/sample/online_retail.csv.gz".into(),
            retail_sheet: String::new(),
            social: "data/sample/facebook_combined.txt".into(),
            merchants: "data/sample/yelp_academic_dataset_business.json".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Parquet,
    Postgres,
    /// The Parquet warehouse, with `customer_features` aggregated by a Spark cluster.
    Spark,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Parquet => "parquet",
            StoreKind::Postgres => "postgres",
            StoreKind::Spark => "spark",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// Parquet warehouse folder.
    pub path: PathBuf,
    /// PostgreSQL URL; `FLUZ_DATABASE_URL` overrides it. Never printed with its password.
    pub url: String,
    /// PostgreSQL schema holding the tables.
    pub schema: String,
    /// Build `customer_features` inside the engine (PostgreSQL or Spark) with
    /// `sql/customer_features*.sql`.
    pub pushdown: bool,
    /// Seconds to wait for another fluz run's lock on the same store before giving up.
    pub lock_timeout_secs: u64,
    /// Spark Connect URL (`sc://host:port/;use_ssl=true`); `FLUZ_SPARK_URL` overrides it. A
    /// token is refused here: the client reads it from `SPARK_CONNECT_AUTHENTICATE_TOKEN`.
    pub spark_url: String,
    /// Where the Spark cluster reads the warehouse `path` (e.g. `s3a://bucket/fluz/warehouse`);
    /// empty = the same folder, as a `file://` URI (a cluster on this machine or a shared mount).
    pub spark_warehouse: String,
    /// Number of Parquet files the `transactions` table is written as under `kind = "spark"`,
    /// so that executors split the scan.
    pub spark_files: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            kind: StoreKind::Parquet,
            path: "warehouse".into(),
            url: String::new(),
            schema: "fluz".into(),
            pushdown: true,
            lock_timeout_secs: 10,
            spark_url: "sc://127.0.0.1:15002".into(),
            spark_warehouse: String::new(),
            spark_files: 8,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Drop exact duplicate retail lines (first kept).
    pub dedupe: bool,
    /// `"error"` stops at the first bad row; `"skip"` counts and skips it.
    pub on_bad_row: OnBadRow,
    /// Text encoding of CSV input.
    pub encoding: Encoding,
    /// Refuse to decompress more than this many bytes from one gzip file (gzip bombs).
    pub max_decompressed_bytes: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            dedupe: true,
            on_bad_row: OnBadRow::Error,
            encoding: Encoding::Auto,
            max_decompressed_bytes: 8 << 30,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkageConfig {
    pub seed: u64,
    pub merchant_categories: Vec<String>,
}

impl Default for LinkageConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            merchant_categories: vec!["Shopping".into()],
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdaConfig {
    /// How many countries the summary lists.
    pub top_countries: usize,
}

impl Default for EdaConfig {
    fn default() -> Self {
        Self { top_countries: 10 }
    }
}

pub use crate::segment::Transform;
pub use crate::sources::{Encoding, OnBadRow};
pub(crate) use crate::store::{is_identifier, redact_url};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentConfig {
    pub features: Vec<String>,
    pub transform: Transform,
    pub k_min: usize,
    pub k_max: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    pub silhouette_exact_max: usize,
    pub silhouette_sample_size: usize,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            features: vec![
                "total_spent".into(),
                "avg_item_price".into(),
                "spend_to_price_ratio".into(),
            ],
            transform: Transform::Log1pZscore,
            k_min: 2,
            k_max: 10,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 42,
            silhouette_exact_max: 20_000,
            silhouette_sample_size: 10_000,
        }
    }
}

/// A rate in [0, 1] — a cashback, commission or arm rate. It parses from any number so that
/// `validate` can report every bad rate at once, naming its key; a `Config` is only handed on
/// validated, so every `Rate` a stage sees is finite and in [0, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rate(f64);

impl Rate {
    /// A rate from a literal (the defaults); validation still checks it.
    pub const fn of(value: f64) -> Self {
        Self(value)
    }

    /// The rate as a number.
    pub const fn get(self) -> f64 {
        self.0
    }

    /// Finite and in [0, 1].
    pub fn is_valid(self) -> bool {
        self.0.is_finite() && (0.0..=1.0).contains(&self.0)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The numbers of a list of rates.
pub fn rates(list: &[Rate]) -> Vec<f64> {
    list.iter().map(|r| r.get()).collect()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EconomicsConfig {
    pub commission_base: f64,
    pub commission_stars_slope: f64,
    pub commission_min: Rate,
    pub commission_max: Rate,
    pub beta0: f64,
    pub a_price: f64,
    pub a_freq: f64,
    pub a_recency: f64,
    pub a_social: f64,
    pub sigma: f64,
    /// λ: value of engagement per unit of spend.
    pub engagement_value: f64,
    pub rate_min: Rate,
    pub rate_max: Rate,
    pub tiers: Vec<Rate>,
    /// The flat rate the learned policy is compared against.
    pub flat_rate: Rate,
    /// `"flat"`: one λ for everyone; `"clv"`: each customer's λ_i from their expected future
    /// margin in `customer_value` (README, "Value of engagement from CLV").
    pub engagement: Engagement,
}

/// Where the value of engagement λ comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engagement {
    Flat,
    Clv,
}

impl Default for EconomicsConfig {
    fn default() -> Self {
        Self {
            commission_base: 0.08,
            commission_stars_slope: -0.01,
            commission_min: Rate::of(0.02),
            commission_max: Rate::of(0.15),
            beta0: 20.0,
            a_price: -0.25,
            a_freq: -0.20,
            a_recency: 0.15,
            a_social: 0.10,
            sigma: 0.25,
            engagement_value: 0.02,
            rate_min: Rate::of(0.0),
            rate_max: Rate::of(0.10),
            tiers: [0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.10]
                .map(Rate::of)
                .to_vec(),
            flat_rate: Rate::of(0.02),
            engagement: Engagement::Flat,
        }
    }
}

/// `[budget]`: how much cashback `fluz allocate` (and `run-all`) spends. At most one of
/// `budget` and `budget_share` is set; neither means the cost of the `[economics] flat_rate`
/// policy, so the targeted allocation is compared with the flat rate like for like.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Total expected cashback to spend, in the currency of the values.
    pub budget: Option<f64>,
    /// Budget as a share of the customers' expected spend, in (0, 1].
    pub budget_share: Option<f64>,
    /// Most points kept on the value-vs-budget curve (breakpoints spread in cost and value).
    pub max_curve_points: usize,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            budget: None,
            budget_share: None,
            max_curve_points: 2000,
        }
    }
}

impl BudgetConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: &str, msg: String| Err(ConfigError(format!("config key {key}: {msg}")));
        if self.budget.is_some() && self.budget_share.is_some() {
            return err(
                "[budget] budget_share",
                "set either [budget] budget or [budget] budget_share, not both".into(),
            );
        }
        if let Some(budget) = self.budget {
            if !(budget.is_finite() && budget >= 0.0) {
                return err(
                    "[budget] budget",
                    format!("must be a finite number >= 0, got {budget}"),
                );
            }
        }
        if let Some(share) = self.budget_share {
            if !(share > 0.0 && share <= 1.0) {
                return err(
                    "[budget] budget_share",
                    format!("must be in (0, 1], got {share}"),
                );
            }
        }
        if !(10..=1_000_000).contains(&self.max_curve_points) {
            return err(
                "[budget] max_curve_points",
                format!("must be in 10..=1000000, got {}", self.max_curve_points),
            );
        }
        Ok(())
    }
}

/// A model family of `[train] families`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Linear,
    DecisionTree,
    RandomForest,
    GradientBoosting,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub features: Vec<String>,
    pub test_percent: u64,
    pub n_folds: u64,
    pub seed: u64,
    /// Families to train, any of "linear", "decision_tree", "random_forest", "gradient_boosting".
    pub families: Vec<Family>,
    pub max_bins: usize,
    /// Cross-validate on at most this many training customers (0 = all). Grid search costs
    /// grid points × folds fits, each growing with the rows; at scale a seeded hash sample of
    /// the training split keeps selection affordable. The chosen grid point of each family is
    /// still refit on the whole training split.
    pub cv_max_rows: usize,
    pub decision_tree: DecisionTreeGrid,
    pub random_forest: RandomForestGrid,
    pub gradient_boosting: BoostingGrid,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            features: DEFAULT_MODEL_FEATURES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            test_percent: 20,
            n_folds: 5,
            seed: 42,
            families: vec![
                Family::Linear,
                Family::DecisionTree,
                Family::RandomForest,
                Family::GradientBoosting,
            ],
            max_bins: 256,
            cv_max_rows: 0,
            decision_tree: DecisionTreeGrid::default(),
            random_forest: RandomForestGrid::default(),
            gradient_boosting: BoostingGrid::default(),
        }
    }
}

/// Grid of the decision tree; `max_depth = 0` means unlimited.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionTreeGrid {
    pub max_depth: Vec<usize>,
    pub min_samples_leaf: Vec<usize>,
}

impl Default for DecisionTreeGrid {
    fn default() -> Self {
        Self {
            max_depth: vec![4, 8, 12],
            min_samples_leaf: vec![1],
        }
    }
}

/// Grid of the random forest; `max_depth = 0` means unlimited.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomForestGrid {
    pub n_trees: Vec<usize>,
    /// `"sqrt"`, `"all"` or a fraction in (0, 1].
    pub max_features: Vec<crate::learn::cart::MaxFeatures>,
    pub min_samples_leaf: Vec<usize>,
    pub max_depth: Vec<usize>,
}

impl Default for RandomForestGrid {
    fn default() -> Self {
        Self {
            n_trees: vec![300],
            max_features: vec![
                crate::learn::cart::MaxFeatures::Sqrt,
                crate::learn::cart::MaxFeatures::Fraction(0.5),
            ],
            min_samples_leaf: vec![1, 5],
            max_depth: vec![0],
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoostingGrid {
    pub n_rounds: Vec<usize>,
    pub learning_rate: Vec<f64>,
    pub max_depth: Vec<usize>,
    pub subsample: Vec<f64>,
    pub lambda: Vec<f64>,
    pub min_child_weight: Vec<f64>,
}

impl Default for BoostingGrid {
    fn default() -> Self {
        Self {
            n_rounds: vec![400],
            learning_rate: vec![0.05],
            max_depth: vec![3, 6],
            subsample: vec![0.8],
            lambda: vec![1.0],
            min_child_weight: vec![1.0],
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExplainConfig {
    /// Explain at most this many customers (0 = all); a cap on SHAP memory at scale.
    pub max_rows: usize,
    /// How many drivers each customer's explanation names.
    pub top_drivers: usize,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        Self {
            max_rows: 0,
            top_drivers: 3,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    pub out_dir: PathBuf,
    /// Customers embedded in dashboard.html for its charts (a deterministic sample).
    pub dashboard_max_customers: usize,
    /// Write `cashback_shap_values.csv` (long format: customers × features rows).
    pub shap_values_csv: bool,
    /// ISO 4217 code of the amounts, for the dashboard (UCI Online Retail is in GBP).
    pub currency: String,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            out_dir: "out".into(),
            dashboard_max_customers: 3000,
            shap_values_csv: true,
            currency: "GBP".into(),
        }
    }
}

/// Time unit of the CLV models' t_x and T.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClvTimeUnit {
    Days,
    Weeks,
}

/// The margin that turns expected spend into CLV: `"commission"` (each customer's
/// `merchant_commission` from `customer_features`, the economic model's c_i) or a fraction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClvMargin {
    Named(String),
    Fraction(f64),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClvConfig {
    /// Purchases file (CDNOW layouts or a CSV with named columns); empty = the store's
    /// `transactions`.
    pub transactions: PathBuf,
    /// A ready RFM summary CSV (frequency, recency, T, optionally monetary_value) instead.
    pub rfm: PathBuf,
    /// Column names of a purchases CSV.
    pub customer_column: String,
    pub date_column: String,
    pub value_column: String,
    pub time_unit: ClvTimeUnit,
    /// Last day of the calibration period, `YYYY-MM-DD`; empty = all data is calibration.
    pub calibration_end: String,
    /// Last day of the holdout, `YYYY-MM-DD`; empty = the last purchase day.
    pub observation_end: String,
    /// Without a calibration end: also fit on all but the last `check_days` days of purchases
    /// and compare with those days (`clv_holdout`, the chart); the values come from the fit on
    /// everything. 0 = no check.
    pub check_days: u32,
    /// CLV horizon in months.
    pub horizon_months: usize,
    pub discount_rate_monthly: f64,
    pub margin: ClvMargin,
    /// L2 penalty on the BG/NBD parameters (lifetimes' `penalizer_coef`).
    pub penalizer: f64,
    /// L2 penalty on the Gamma-Gamma parameters.
    pub gamma_gamma_penalizer: f64,
}

impl Default for ClvConfig {
    fn default() -> Self {
        Self {
            transactions: PathBuf::new(),
            rfm: PathBuf::new(),
            customer_column: "customer_id".into(),
            date_column: "date".into(),
            value_column: "value".into(),
            time_unit: ClvTimeUnit::Weeks,
            calibration_end: String::new(),
            observation_end: String::new(),
            check_days: 90,
            horizon_months: 12,
            discount_rate_monthly: 0.01,
            margin: ClvMargin::Named("commission".into()),
            penalizer: 0.0,
            gamma_gamma_penalizer: 0.0,
        }
    }
}

/// `[offers]`: the offer-test log (`fluz uplift`) and the simulated rate test
/// (`fluz simulate-offers`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffersConfig {
    /// An external offer-test log (`.csv`, `.csv.gz` or `.parquet`); empty = use the store's
    /// `offers` table (e.g. from `fluz simulate-offers`).
    pub log: PathBuf,
    /// Column holding the customer id; empty = the 1-based data row number.
    pub customer_column: String,
    /// Column holding the arm each customer was offered.
    pub arm_column: String,
    /// The arm value of the control group.
    pub control_arm: String,
    /// Column holding the cashback rate of each row's arm; empty = `arm_rates` (missing arms
    /// have rate 0).
    pub rate_column: String,
    /// Cashback rate of each arm (arm value → rate); used when `rate_column` is empty.
    pub arm_rates: std::collections::BTreeMap<String, Rate>,
    /// Fixed cost per contact of each arm (arm value → cost; missing arms cost 0).
    pub arm_costs: std::collections::BTreeMap<String, f64>,
    /// Margin on spend for logs whose customers are not in `customer_features`.
    pub margin: f64,
    /// Outcome columns to learn (one model set per outcome).
    pub outcomes: Vec<String>,
    /// The outcome that is money spent (it drives cost and profit; must not be negative).
    pub spend_outcome: String,
    /// A pre-test feature scaling the money outcome (e.g. `total_spent`): the learners learn
    /// spend relative to it, and their predictions are scaled back. "auto" = `total_spent`
    /// when the features have it; "" = raw spend.
    pub baseline: String,
    /// Feature columns of the log (text columns one-hot encoded); empty = the customers'
    /// `[train] features` joined from `customer_features` by id.
    pub features: Vec<String>,
    /// Fewest rows an arm may have.
    pub min_arm_rows: usize,
    /// Rates of the simulated test's arms (the first, 0, is the control).
    pub arms: Vec<Rate>,
    /// Length of the simulated test window in days.
    pub window_days: f64,
    /// Percent of customers (by hash of their id) held out for evaluation.
    pub test_percent: u64,
    /// Cross-fitting folds on the training customers.
    pub n_folds: u64,
    /// Learners to fit, any of "t", "x", "dr", "r".
    pub learners: Vec<crate::uplift::learners::Learner>,
    /// Base-learner grid: boosting depths (100 rounds each, learning rate 0.1).
    pub boosting_depths: Vec<usize>,
    /// Base-learner grid: random-forest leaf sizes (100 trees each, a third of the features).
    pub forest_min_leaf: Vec<usize>,
    /// Trees (or rounds) of every base learner.
    pub base_trees: usize,
    /// Bootstrap resamples of the held-out rows for the 95% intervals.
    pub bootstrap: usize,
    /// Seed of the arm assignment, the simulated purchases, the learners and the bootstrap.
    pub seed: u64,
}

impl Default for OffersConfig {
    fn default() -> Self {
        Self {
            log: PathBuf::new(),
            customer_column: "customer_id".into(),
            arm_column: "arm".into(),
            control_arm: "0%".into(),
            rate_column: String::new(),
            arm_rates: Default::default(),
            arm_costs: Default::default(),
            margin: 0.1,
            outcomes: vec!["spend".into()],
            spend_outcome: "spend".into(),
            baseline: "auto".into(),
            features: Vec::new(),
            min_arm_rows: 30,
            arms: [0.0, 0.02, 0.05].map(Rate::of).to_vec(),
            window_days: 90.0,
            test_percent: 30,
            n_folds: 3,
            learners: {
                use crate::uplift::learners::Learner;
                vec![Learner::T, Learner::X, Learner::Dr, Learner::R]
            },
            boosting_depths: vec![2, 4],
            forest_min_leaf: vec![50],
            base_trees: 100,
            bootstrap: 500,
            seed: 42,
        }
    }
}

impl ClvConfig {
    /// The fixed margin, or `None` for each customer's commission.
    pub(crate) fn fixed_margin(&self) -> Option<f64> {
        match self.margin {
            ClvMargin::Fraction(f) => Some(f),
            ClvMargin::Named(_) => None,
        }
    }

    /// A `YYYY-MM-DD` key as a day number (days since 1970-01-01); empty = `None`.
    pub fn day(key: &str, text: &str) -> Result<Option<i64>, ConfigError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let bad = || {
            ConfigError(format!(
                "config key [clv] {key}: must be a date like \"1997-09-30\", got {text:?}"
            ))
        };
        let parts: Vec<&str> = text.trim().split('-').collect();
        if parts.len() != 3 || parts[0].len() != 4 {
            return Err(bad());
        }
        let (Ok(y), Ok(m), Ok(d)) = (
            parts[0].parse::<i64>(),
            parts[1].parse::<u32>(),
            parts[2].parse::<u32>(),
        ) else {
            return Err(bad());
        };
        let days = crate::sources::dates::days_from_civil(y, m, d);
        if !(1..=12).contains(&m) || crate::sources::dates::civil_from_days(days) != (y, m, d) {
            return Err(bad());
        }
        Ok(Some(days))
    }
}

impl Config {
    /// Reads `path`; a missing file at the default location means "all defaults".
    pub(crate) fn load(path: &Path, must_exist: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !must_exist => String::new(),
            Err(err) => {
                return Err(ConfigError(format!(
                    "cannot read config file {}: {err}",
                    path.display()
                )))
            }
        };
        Self::parse(&text, path)
    }

    /// Parses TOML text; `origin` names the file in errors and anchors relative paths. One error
    /// names every problem of the file: its unknown keys, each key with a value of the wrong
    /// type, and the range and cross-field problems of the other keys (checked with the wrong
    /// ones at their defaults).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let fail = |message: String| {
            ConfigError(format!(
                "invalid config file {}: {}",
                origin.display(),
                message.trim_end()
            ))
        };
        let table: toml::Table = toml::from_str(text).map_err(|err| fail(err.to_string()))?;
        let known = toml::Table::try_from(Config::default())
            .map_err(|err| fail(format!("cannot describe the settings: {err}")))?;
        let mut unknown = Vec::new();
        unknown_keys(&table, &known, "", &mut unknown);
        let mut problems = Vec::new();
        if !unknown.is_empty() {
            problems.push(format!(
                "unknown key{} {}",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", ")
            ));
        }
        // Key by key, so that one wrong value hides no other; a key that does not read is
        // left out of `clean` (its default stands in while the others are checked).
        let mut clean = table.clone();
        for (section, value) in &table {
            let keys = match value.as_table() {
                Some(keys) if known.contains_key(section) => keys,
                _ => {
                    if known.contains_key(section) {
                        problems.push(format!(
                            "config key [{section}]: must be a table of settings"
                        ));
                    }
                    clean.remove(section);
                    continue;
                }
            };
            for (key, v) in keys {
                let single = toml::Table::from_iter([(
                    section.clone(),
                    toml::Value::Table(toml::Table::from_iter([(key.clone(), v.clone())])),
                )]);
                let Err(err) = toml::Value::Table(single).try_into::<Config>() else {
                    continue;
                };
                if let Some(s) = clean.get_mut(section).and_then(|s| s.as_table_mut()) {
                    s.remove(key);
                }
                // Unknown keys (also nested ones) are listed above already.
                if !err.message().starts_with("unknown field") {
                    let message = err.message().trim_end().to_string();
                    problems.push(format!("config key [{section}] {key}: {message}"));
                }
            }
        }
        let mut config: Config = toml::Value::Table(clean)
            .try_into()
            .map_err(|err: toml::de::Error| fail(err.to_string()))?;
        let base = origin.parent().map(Path::to_path_buf).unwrap_or_default();
        config.resolve_paths(&base);
        config.origin = origin.to_path_buf();
        if !problems.is_empty() {
            let mut checked = config.clone();
            checked.apply_env();
            problems.extend(checked.problems());
            return Err(fail(problems.join("\n  ")));
        }
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() && !path.as_os_str().is_empty() {
                *path = base.join(&*path);
            }
        };
        resolve(&mut self.data.retail);
        resolve(&mut self.data.social);
        resolve(&mut self.data.merchants);
        resolve(&mut self.store.path);
        resolve(&mut self.export.out_dir);
        resolve(&mut self.clv.transactions);
        resolve(&mut self.clv.rfm);
        resolve(&mut self.offers.log);
    }

    /// Applies `FLUZ_DATABASE_URL` (it overrides `[store] url`) and `FLUZ_SPARK_URL` (it
    /// overrides `[store] spark_url`).
    pub(crate) fn apply_env(&mut self) {
        if let Ok(url) = std::env::var("FLUZ_DATABASE_URL") {
            if !url.is_empty() {
                self.store.url = url;
            }
        }
        if let Ok(url) = std::env::var("FLUZ_SPARK_URL") {
            if !url.is_empty() {
                self.store.spark_url = url;
            }
        }
    }

    /// Checks every range and cross-field rule; one error lists every problem, each naming
    /// its key, and the config file.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems();
        match problems.len() {
            0 => Ok(()),
            1 => Err(ConfigError(format!(
                "{} (in {})",
                problems[0],
                self.origin_name()
            ))),
            n => Err(ConfigError(format!(
                "{n} problems in {}:\n  {}",
                self.origin_name(),
                problems.join("\n  ")
            ))),
        }
    }

    fn origin_name(&self) -> String {
        if self.origin.as_os_str().is_empty() {
            "the default settings".to_string()
        } else {
            self.origin.display().to_string()
        }
    }

    /// Every problem of the settings, in key order of the file.
    fn problems(&self) -> Vec<String> {
        let problems = std::cell::RefCell::new(Vec::new());
        let err = |key: &str, msg: String| {
            problems
                .borrow_mut()
                .push(format!("config key {key}: {msg}"))
        };
        let keep = |result: Result<(), ConfigError>| {
            if let Err(ConfigError(message)) = result {
                problems.borrow_mut().push(message);
            }
        };
        if self.store.kind == StoreKind::Postgres && self.store.url.is_empty() {
            err(
                "[store] url",
                "must be set (or FLUZ_DATABASE_URL) when [store] kind = \"postgres\"".into(),
            );
        }
        if self.store.kind == StoreKind::Spark && !self.store.spark_url.starts_with("sc://") {
            err(
                "[store] spark_url",
                format!(
                    "must be a Spark Connect URL sc://host:port (or FLUZ_SPARK_URL) when [store] kind = \"spark\", got {:?}",
                    redact_url(&self.store.spark_url)
                ),
            );
        }
        if self.store.spark_url.to_ascii_lowercase().contains("token=") {
            err(
                "[store] spark_url",
                format!(
                    "must not carry the token (it would end up in run_manifest.json): put it in the environment as SPARK_CONNECT_AUTHENTICATE_TOKEN; got {:?}",
                    redact_url(&self.store.spark_url)
                ),
            );
        }
        if !(1..=10_000).contains(&self.store.spark_files) {
            err(
                "[store] spark_files",
                format!("must be 1..=10000, got {}", self.store.spark_files),
            );
        }
        if !is_identifier(&self.store.schema) {
            err(
                "[store] schema",
                format!(
                    "must be a plain identifier (letters, digits, _; at most 63 bytes; not starting with a digit), got {:?}",
                    self.store.schema
                ),
            );
        }
        if self.ingest.max_decompressed_bytes == 0 {
            err(
                "[ingest] max_decompressed_bytes",
                "must be greater than 0".into(),
            );
        }
        if self.linkage.merchant_categories.is_empty() {
            err(
                "[linkage] merchant_categories",
                "must name at least one category".into(),
            );
        }
        if self.eda.top_countries == 0 {
            err("[eda] top_countries", "must be at least 1".into());
        }
        let seg = &self.segment;
        if seg.features.is_empty() {
            err(
                "[segment] features",
                "must name at least one feature".into(),
            );
        }
        for feature in &seg.features {
            if !DEFAULT_MODEL_FEATURES.contains(&feature.as_str())
                && !CLV_FEATURES.contains(&feature.as_str())
            {
                err(
                    "[segment] features",
                    format!("unknown feature {feature:?}; choose from {DEFAULT_MODEL_FEATURES:?} or customer_value's {CLV_FEATURES:?}"),
                );
            }
        }
        if seg.k_min < 2 {
            err(
                "[segment] k_min",
                format!("must be at least 2, got {}", seg.k_min),
            );
        }
        if seg.k_max < seg.k_min {
            err(
                "[segment] k_max",
                format!("must be at least k_min ({}), got {}", seg.k_min, seg.k_max),
            );
        }
        if seg.k_max > 50 {
            err(
                "[segment] k_max",
                format!("must be at most 50, got {}", seg.k_max),
            );
        }
        if seg.n_init == 0 {
            err("[segment] n_init", "must be at least 1".into());
        }
        if seg.max_iter == 0 {
            err("[segment] max_iter", "must be at least 1".into());
        }
        if !(seg.tol.is_finite() && seg.tol >= 0.0) {
            err(
                "[segment] tol",
                format!("must be a finite number >= 0, got {}", seg.tol),
            );
        }
        if seg.silhouette_sample_size < 100 {
            err(
                "[segment] silhouette_sample_size",
                format!("must be at least 100, got {}", seg.silhouette_sample_size),
            );
        }
        let eco = &self.economics;
        for (key, value) in [
            ("commission_base", eco.commission_base),
            ("commission_stars_slope", eco.commission_stars_slope),
            ("beta0", eco.beta0),
            ("a_price", eco.a_price),
            ("a_freq", eco.a_freq),
            ("a_recency", eco.a_recency),
            ("a_social", eco.a_social),
            ("sigma", eco.sigma),
            ("engagement_value", eco.engagement_value),
        ] {
            if !value.is_finite() {
                err(
                    &format!("[economics] {key}"),
                    format!("must be finite, got {value}"),
                );
            }
        }
        for (key, rate) in [
            ("commission_min", eco.commission_min),
            ("commission_max", eco.commission_max),
            ("rate_min", eco.rate_min),
            ("rate_max", eco.rate_max),
            ("flat_rate", eco.flat_rate),
        ] {
            if !rate.is_valid() {
                err(
                    &format!("[economics] {key}"),
                    format!("must be a rate in [0, 1], got {rate}"),
                );
            }
        }
        if eco.commission_max < eco.commission_min {
            err(
                "[economics] commission_max",
                format!(
                    "need commission_min <= commission_max, got {} and {}",
                    eco.commission_min, eco.commission_max
                ),
            );
        }
        if eco.beta0 <= 0.0 {
            err(
                "[economics] beta0",
                format!("must be greater than 0, got {}", eco.beta0),
            );
        }
        if eco.sigma < 0.0 {
            err(
                "[economics] sigma",
                format!("must be >= 0, got {}", eco.sigma),
            );
        }
        if eco.engagement_value < 0.0 {
            err(
                "[economics] engagement_value",
                format!("must be >= 0, got {}", eco.engagement_value),
            );
        }
        if eco.rate_max < eco.rate_min {
            err(
                "[economics] rate_max",
                format!(
                    "need rate_min <= rate_max, got {} and {}",
                    eco.rate_min, eco.rate_max
                ),
            );
        }
        if eco.tiers.is_empty() {
            err("[economics] tiers", "must list at least one tier".into());
        }
        if eco.tiers.iter().any(|t| !t.is_valid()) || eco.tiers.windows(2).any(|w| w[1] <= w[0]) {
            err(
                "[economics] tiers",
                format!(
                    "must be strictly increasing rates in [0, 1], got {:?}",
                    rates(&eco.tiers)
                ),
            );
        }
        let train = &self.train;
        if train.features.is_empty() {
            err("[train] features", "must name at least one feature".into());
        }
        for feature in &train.features {
            if !DEFAULT_MODEL_FEATURES.contains(&feature.as_str()) {
                err(
                    "[train] features",
                    format!("unknown feature {feature:?}; choose from {DEFAULT_MODEL_FEATURES:?}"),
                );
            }
        }
        if !(1..=90).contains(&train.test_percent) {
            err(
                "[train] test_percent",
                format!("must be in 1..=90, got {}", train.test_percent),
            );
        }
        if !(2..=20).contains(&train.n_folds) {
            err(
                "[train] n_folds",
                format!("must be in 2..=20, got {}", train.n_folds),
            );
        }
        if !(2..=256).contains(&train.max_bins) {
            err(
                "[train] max_bins",
                format!("must be in 2..=256, got {}", train.max_bins),
            );
        }
        if train.cv_max_rows != 0 && train.cv_max_rows < 10 * train.n_folds as usize {
            err(
                "[train] cv_max_rows",
                format!(
                    "must be 0 (all rows) or at least 10 per fold ({}), got {}",
                    10 * train.n_folds,
                    train.cv_max_rows
                ),
            );
        }
        if train.families.is_empty() {
            err(
                "[train] families",
                "must name at least one model family".into(),
            );
        }
        let dt = &train.decision_tree;
        keep(non_empty(
            "[train.decision_tree] max_depth",
            dt.max_depth.len(),
        ));
        keep(positive_all(
            "[train.decision_tree] min_samples_leaf",
            &dt.min_samples_leaf,
        ));
        let rf = &train.random_forest;
        keep(positive_all("[train.random_forest] n_trees", &rf.n_trees));
        keep(positive_all(
            "[train.random_forest] min_samples_leaf",
            &rf.min_samples_leaf,
        ));
        keep(non_empty(
            "[train.random_forest] max_depth",
            rf.max_depth.len(),
        ));
        keep(non_empty(
            "[train.random_forest] max_features",
            rf.max_features.len(),
        ));
        for setting in &rf.max_features {
            keep(check_max_features(setting));
        }
        let gb = &train.gradient_boosting;
        keep(positive_all(
            "[train.gradient_boosting] n_rounds",
            &gb.n_rounds,
        ));
        keep(positive_all(
            "[train.gradient_boosting] max_depth",
            &gb.max_depth,
        ));
        keep(in_range(
            "[train.gradient_boosting] learning_rate",
            &gb.learning_rate,
            0.0,
            1.0,
            false,
        ));
        keep(in_range(
            "[train.gradient_boosting] subsample",
            &gb.subsample,
            0.0,
            1.0,
            false,
        ));
        keep(in_range(
            "[train.gradient_boosting] lambda",
            &gb.lambda,
            0.0,
            f64::MAX,
            true,
        ));
        keep(in_range(
            "[train.gradient_boosting] min_child_weight",
            &gb.min_child_weight,
            0.0,
            f64::MAX,
            true,
        ));
        if self.explain.top_drivers == 0 {
            err("[explain] top_drivers", "must be at least 1".into());
        }
        if self.export.currency.len() != 3
            || !self.export.currency.bytes().all(|b| b.is_ascii_uppercase())
        {
            err(
                "[export] currency",
                format!(
                    "must be an ISO 4217 code like \"GBP\" or \"USD\", got {:?}",
                    self.export.currency
                ),
            );
        }
        let embed_limit = DASHBOARD_EMBED_LIMIT;
        if !(1..=embed_limit).contains(&self.export.dashboard_max_customers) {
            err(
                "[export] dashboard_max_customers",
                format!(
                    "must be in [1, {embed_limit}] (the dashboard embeds at most {embed_limit} customers to stay a small offline file), got {}",
                    self.export.dashboard_max_customers
                ),
            );
        }
        keep(self.validate_clv());
        keep(self.budget.validate());
        keep(self.validate_offers());
        problems.into_inner()
    }

    fn validate_clv(&self) -> Result<(), ConfigError> {
        let err =
            |key: &str, msg: String| Err(ConfigError(format!("config key [clv] {key}: {msg}")));
        let clv = &self.clv;
        let external = !clv.transactions.as_os_str().is_empty() || !clv.rfm.as_os_str().is_empty();
        if !clv.transactions.as_os_str().is_empty() && !clv.rfm.as_os_str().is_empty() {
            return err(
                "rfm",
                "set either [clv] transactions or [clv] rfm, not both".into(),
            );
        }
        let calibration_end = ClvConfig::day("calibration_end", &clv.calibration_end)?;
        let observation_end = ClvConfig::day("observation_end", &clv.observation_end)?;
        if !clv.rfm.as_os_str().is_empty()
            && (calibration_end.is_some() || observation_end.is_some())
        {
            return err(
                "calibration_end",
                "an RFM summary is already cut at its calibration end; leave calibration_end and observation_end empty with [clv] rfm".into(),
            );
        }
        match (calibration_end, observation_end) {
            (None, Some(_)) => {
                return err(
                    "observation_end",
                    "needs [clv] calibration_end (the holdout starts after it)".into(),
                )
            }
            (Some(c), Some(o)) if o <= c => {
                return err(
                    "observation_end",
                    format!(
                        "must be after calibration_end ({}), got {}",
                        clv.calibration_end, clv.observation_end
                    ),
                )
            }
            _ => {}
        }
        for (key, name) in [
            ("customer_column", &clv.customer_column),
            ("date_column", &clv.date_column),
            ("value_column", &clv.value_column),
        ] {
            if name.trim().is_empty() {
                return err(key, "must name a column".into());
            }
        }
        if !(1..=120).contains(&clv.horizon_months) {
            return err(
                "horizon_months",
                format!("must be in 1..=120, got {}", clv.horizon_months),
            );
        }
        if !(clv.discount_rate_monthly.is_finite()
            && (0.0..1.0).contains(&clv.discount_rate_monthly))
        {
            return err(
                "discount_rate_monthly",
                format!("must be in [0, 1), got {}", clv.discount_rate_monthly),
            );
        }
        match &clv.margin {
            ClvMargin::Named(name) if name == "commission" => {
                if external {
                    return err(
                        "margin",
                        "\"commission\" takes each customer's merchant_commission from customer_features, which only the store's transactions have; set a fraction like 0.08 for an external [clv] transactions or rfm file".into(),
                    );
                }
            }
            ClvMargin::Fraction(f) if f.is_finite() && *f > 0.0 && *f <= 1.0 => {}
            other => {
                return err(
                    "margin",
                    format!("must be \"commission\" or a fraction in (0, 1], got {other:?}"),
                )
            }
        }
        for (key, value) in [
            ("penalizer", clv.penalizer),
            ("gamma_gamma_penalizer", clv.gamma_gamma_penalizer),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return err(key, format!("must be a finite number >= 0, got {value}"));
            }
        }
        Ok(())
    }

    fn validate_offers(&self) -> Result<(), ConfigError> {
        let err = |key: &str, msg: String| Err(ConfigError(format!("config key {key}: {msg}")));
        let offers = &self.offers;
        if offers.arm_column.is_empty() {
            return err("[offers] arm_column", "must name a column".into());
        }
        for (arm, rate) in &offers.arm_rates {
            if !rate.is_valid() {
                return err(
                    "[offers] arm_rates",
                    format!("rate of arm {arm:?} must be in [0, 1], got {rate}"),
                );
            }
        }
        for (arm, cost) in &offers.arm_costs {
            if !cost.is_finite() || *cost < 0.0 {
                return err(
                    "[offers] arm_costs",
                    format!("cost of arm {arm:?} must be >= 0, got {cost}"),
                );
            }
        }
        if !offers.margin.is_finite() || !(0.0..=1.0).contains(&offers.margin) {
            return err(
                "[offers] margin",
                format!("must be in [0, 1], got {}", offers.margin),
            );
        }
        if offers.outcomes.is_empty() {
            return err("[offers] outcomes", "must name at least one column".into());
        }
        if offers.arms.len() < 2
            || offers.arms[0].get() != 0.0
            || offers.arms.iter().any(|r| !r.is_valid())
            || offers.arms.windows(2).any(|w| w[1] <= w[0])
        {
            return err(
                "[offers] arms",
                format!(
                    "must be at least two strictly increasing rates in [0, 1] starting with 0 (the control), got {:?}",
                    rates(&offers.arms)
                ),
            );
        }
        if !offers.window_days.is_finite() || offers.window_days <= 0.0 {
            return err(
                "[offers] window_days",
                format!("must be greater than 0, got {}", offers.window_days),
            );
        }
        if offers.min_arm_rows == 0 {
            return err("[offers] min_arm_rows", "must be at least 1".into());
        }
        if !(1..=90).contains(&offers.test_percent) {
            return err(
                "[offers] test_percent",
                format!("must be in 1..=90, got {}", offers.test_percent),
            );
        }
        if !(2..=10).contains(&offers.n_folds) {
            return err(
                "[offers] n_folds",
                format!("must be in 2..=10, got {}", offers.n_folds),
            );
        }
        if offers.learners.is_empty() {
            return err("[offers] learners", "must name at least one learner".into());
        }
        if offers.boosting_depths.is_empty() && offers.forest_min_leaf.is_empty() {
            return err(
                "[offers] boosting_depths",
                "the base-learner grid is empty: list boosting depths or forest_min_leaf sizes"
                    .into(),
            );
        }
        if offers.boosting_depths.iter().any(|&d| d == 0 || d > 12) {
            return err(
                "[offers] boosting_depths",
                format!("values must be in 1..=12, got {:?}", offers.boosting_depths),
            );
        }
        if offers.forest_min_leaf.contains(&0) {
            return err(
                "[offers] forest_min_leaf",
                "values must be at least 1".into(),
            );
        }
        if !(1..=2000).contains(&offers.base_trees) {
            return err(
                "[offers] base_trees",
                format!("must be in 1..=2000, got {}", offers.base_trees),
            );
        }
        if offers.bootstrap < 50 {
            return err(
                "[offers] bootstrap",
                format!("must be at least 50, got {}", offers.bootstrap),
            );
        }
        Ok(())
    }

    /// The resolved settings as TOML, with any database password masked.
    pub(crate) fn to_display_toml(&self) -> String {
        let mut shown = self.clone();
        shown.store.url = redact_url(&shown.store.url);
        shown.store.spark_url = redact_url(&shown.store.spark_url);
        toml::to_string_pretty(&shown)
            .unwrap_or_else(|err| format!("# cannot render settings: {err}\n"))
    }
}

/// Keys whose default is "unset" (an `Option`), which the serialised defaults leave out.
const OPTIONAL_KEYS: [(&str, &str); 2] = [("budget", "budget"), ("budget", "budget_share")];

/// Collects the keys of `given` that `known` (the default settings) lacks, as `[section] key`,
/// descending into tables both have.
fn unknown_keys(given: &toml::Table, known: &toml::Table, section: &str, out: &mut Vec<String>) {
    for (key, value) in given {
        let name = if section.is_empty() {
            format!("[{key}]")
        } else {
            format!("[{section}] {key}")
        };
        let optional = OPTIONAL_KEYS.contains(&(section, key.as_str()));
        match (value, known.get(key)) {
            (_, None) if !optional => out.push(name),
            // An empty table in the defaults is a free-form map (e.g. `[offers] arm_rates`).
            (toml::Value::Table(inner), Some(toml::Value::Table(known_inner)))
                if !known_inner.is_empty() =>
            {
                let path = if section.is_empty() {
                    key.clone()
                } else {
                    format!("{section}.{key}")
                };
                unknown_keys(inner, known_inner, &path, out);
            }
            _ => {}
        }
    }
}

fn non_empty(key: &str, len: usize) -> Result<(), ConfigError> {
    if len == 0 {
        Err(ConfigError(format!(
            "config key {key}: must list at least one value"
        )))
    } else {
        Ok(())
    }
}

fn positive_all(key: &str, values: &[usize]) -> Result<(), ConfigError> {
    non_empty(key, values.len())?;
    if let Some(bad) = values.iter().find(|&&v| v == 0) {
        return Err(ConfigError(format!(
            "config key {key}: values must be at least 1, got {bad}"
        )));
    }
    Ok(())
}

fn in_range(
    key: &str,
    values: &[f64],
    low: f64,
    high: f64,
    low_inclusive: bool,
) -> Result<(), ConfigError> {
    non_empty(key, values.len())?;
    for &value in values {
        let above_low = if low_inclusive {
            value >= low
        } else {
            value > low
        };
        if !value.is_finite() || !above_low || value > high {
            let open = if low_inclusive { "[" } else { "(" };
            let upper = if high == f64::MAX {
                "inf)".to_string()
            } else {
                format!("{high}]")
            };
            return Err(ConfigError(format!(
                "config key {key}: values must be in {open}{low}, {upper}, got {value}"
            )));
        }
    }
    Ok(())
}

/// A `max_features` fraction must be in (0, 1] (the names are checked when read).
fn check_max_features(setting: &crate::learn::cart::MaxFeatures) -> Result<(), ConfigError> {
    match setting {
        crate::learn::cart::MaxFeatures::Fraction(f) if !(*f > 0.0 && *f <= 1.0) => {
            Err(ConfigError(format!(
                "config key [train.random_forest] max_features: each value must be \"sqrt\", \"all\" or a fraction in (0, 1], got {f}"
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let config = Config::parse(text, Path::new("/tmp/cfg/config.toml"))?;
        config.validate()?;
        Ok(config)
    }

    fn message(text: &str) -> String {
        parse(text).expect_err("config should be rejected").0
    }

    #[test]
    fn bad_rates_are_reported_together_naming_their_keys() {
        let m =
            message("[economics]\nflat_rate = 1.5\ncommission_min = -0.1\ntiers = [0.0, 2.0]\n");
        assert!(m.starts_with("3 problems"), "{m}");
        assert!(
            m.contains("[economics] flat_rate: must be a rate in [0, 1], got 1.5"),
            "{m}"
        );
        assert!(
            m.contains("[economics] commission_min: must be a rate in [0, 1], got -0.1"),
            "{m}"
        );
        assert!(
            m.contains(
                "[economics] tiers: must be strictly increasing rates in [0, 1], got [0.0, 2.0]"
            ),
            "{m}"
        );
        // A whole number is a rate too.
        let config = parse("[economics]\nflat_rate = 0\n").unwrap();
        assert_eq!(config.economics.flat_rate, Rate::of(0.0));
    }

    #[test]
    fn the_dashboard_limit_is_the_dashboards() {
        assert_eq!(
            DASHBOARD_EMBED_LIMIT,
            crate::report::dashboard::MAX_CUSTOMERS
        );
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.segment.k_min, 2);
        assert_eq!(config.train.features.len(), 14);
        assert_eq!(config.store.path, Path::new("/tmp/cfg/warehouse"));
    }

    #[test]
    fn unknown_key_is_named() {
        let msg = message("[store]\nkindd = \"parquet\"\n");
        assert!(msg.contains("kindd"), "{msg}");
        assert!(msg.contains("/tmp/cfg/config.toml"), "{msg}");
    }

    #[test]
    fn every_unknown_key_is_named_at_once() {
        let msg = message("[store]\nkindd = 1\n[segment]\nk_mn = 2\n[stor]\nx = 1\n[train.random_forest]\nn_tree = [3]\n");
        for key in [
            "[store] kindd",
            "[segment] k_mn",
            "[stor]",
            "[train.random_forest] n_tree",
        ] {
            assert!(msg.contains(key), "{key}: {msg}");
        }
        assert!(msg.contains("/tmp/cfg/config.toml"), "{msg}");
    }

    #[test]
    fn every_bad_value_is_named_at_once() {
        let msg = message("[segment]\nk_min = 1\nn_init = 0\n[economics]\nflat_rate = 2.0\n");
        assert!(
            msg.starts_with("3 problems in /tmp/cfg/config.toml"),
            "{msg}"
        );
        for key in [
            "[segment] k_min",
            "[segment] n_init",
            "[economics] flat_rate",
        ] {
            assert!(msg.contains(key), "{key}: {msg}");
        }
        let types = message("[segment]\nk_min = \"two\"\n[train]\nn_folds = \"five\"\n");
        assert!(
            types.contains("k_min") && types.contains("n_folds"),
            "{types}"
        );
    }

    #[test]
    fn one_error_names_unknown_keys_wrong_types_and_bad_values() {
        let msg = message(
            "eda = 3\n[data]\nbogus = 1\n[train]\nfamilies = [\"nope\"]\ntest_percent = 95\n[economics]\nrate_max = 3.0\n[segment]\nk_min = \"two\"\nk_max = 1\n",
        );
        for part in [
            "[eda]: must be a table",
            "[data] bogus",
            "[train] families: unknown variant `nope`",
            "[train] test_percent",
            "[economics] rate_max",
            "[segment] k_min:",
            "[segment] k_max",
        ] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
    }

    #[test]
    fn unknown_section_is_named() {
        let msg = message("[stor]\nkind = \"parquet\"\n");
        assert!(msg.contains("stor"), "{msg}");
    }

    #[test]
    fn wrong_type_is_named() {
        let msg = message("[segment]\nk_min = \"two\"\n");
        assert!(msg.contains("k_min"), "{msg}");
    }

    #[test]
    fn bad_store_kind_is_rejected() {
        let msg = message("[store]\nkind = \"mysql\"\n");
        assert!(msg.contains("mysql") || msg.contains("kind"), "{msg}");
    }

    #[test]
    fn k_range_is_checked() {
        assert!(message("[segment]\nk_min = 1\n").contains("[segment] k_min"));
        assert!(message("[segment]\nk_min = 5\nk_max = 3\n").contains("[segment] k_max"));
    }

    #[test]
    fn tolerance_must_be_non_negative() {
        assert!(message("[segment]\ntol = -1.0\n").contains("[segment] tol"));
    }

    #[test]
    fn tiers_must_increase() {
        assert!(message("[economics]\ntiers = [0.0, 0.05, 0.02]\n").contains("[economics] tiers"));
    }

    #[test]
    fn rate_bounds_are_checked() {
        assert!(message("[economics]\nrate_min = 0.2\nrate_max = 0.1\n").contains("rate_max"));
    }

    #[test]
    fn unknown_feature_is_named() {
        let msg = message("[train]\nfeatures = [\"total_spent\", \"shoe_size\"]\n");
        assert!(
            msg.contains("shoe_size") && msg.contains("[train] features"),
            "{msg}"
        );
    }

    #[test]
    fn test_percent_range() {
        assert!(message("[train]\ntest_percent = 0\n").contains("test_percent"));
        assert!(message("[train]\ntest_percent = 95\n").contains("test_percent"));
    }

    #[test]
    fn max_features_values() {
        assert!(parse("[train.random_forest]\nmax_features = [\"sqrt\", 0.5, \"all\"]\n").is_ok());
        assert!(message("[train.random_forest]\nmax_features = [1.5]\n").contains("max_features"));
        assert!(
            message("[train.random_forest]\nmax_features = [\"log2x\"]\n").contains("max_features")
        );
    }

    #[test]
    fn boosting_learning_rate_range() {
        assert!(
            message("[train.gradient_boosting]\nlearning_rate = [0.0]\n").contains("learning_rate")
        );
    }

    #[test]
    fn dashboard_max_customers_is_bounded_not_capped() {
        assert!(parse("[export]\ndashboard_max_customers = 3000\n").is_ok());
        let m = message("[export]\ndashboard_max_customers = 5000\n");
        assert!(
            m.contains("dashboard_max_customers") && m.contains("[1, 3000]") && m.contains("5000"),
            "{m}"
        );
        assert!(message("[export]\ndashboard_max_customers = 0\n").contains("[1, 3000]"));
    }

    #[test]
    fn schema_must_be_identifier() {
        let msg = message("[store]\nschema = \"fluz; drop table x\"\n");
        assert!(msg.contains("[store] schema"), "{msg}");
        assert!(is_identifier("fluz_2"));
        assert!(!is_identifier("2fluz"));
        assert!(!is_identifier("a\"b"));
    }

    #[test]
    fn budget_keys_are_checked() {
        assert_eq!(parse("").unwrap().budget.budget, None);
        assert_eq!(
            parse("[budget]\nbudget = 500.0\n").unwrap().budget.budget,
            Some(500.0)
        );
        assert!(message("[budget]\nbudget_share = 2.0\n")
            .contains("[budget] budget_share: must be in (0, 1], got 2"));
        assert!(message("[budget]\nbudget = -1.0\n").contains("[budget] budget"));
        assert!(message("[budget]\nbudget = nan\n").contains("[budget] budget"));
        assert!(message("[budget]\nbudget = 1.0\nbudget_share = 0.1\n").contains("not both"));
        assert!(message("[budget]\nmax_curve_points = 1\n").contains("max_curve_points"));
        assert!(message("[budget]\nbogus = 1\n").contains("bogus"));
    }

    #[test]
    fn postgres_needs_url() {
        assert!(message("[store]\nkind = \"postgres\"\n").contains("[store] url"));
    }

    #[test]
    fn spark_keys_are_checked() {
        let ok = parse("[store]\nkind = \"spark\"\nspark_url = \"sc://h:15002\"\nspark_warehouse = \"s3a://b/w\"\nspark_files = 4\n").unwrap();
        assert_eq!(ok.store.kind, StoreKind::Spark);
        assert_eq!(ok.store.spark_files, 4);
        let msg = message("[store]\nkind = \"spark\"\nspark_url = \"http://h:15002/\"\n");
        assert!(msg.contains("[store] spark_url"), "{msg}");
        let msg = message("[store]\nspark_url = \"sc://h:15002/;use_ssl=true;token=s3cret\"\n");
        assert!(msg.contains("SPARK_CONNECT_AUTHENTICATE_TOKEN"), "{msg}");
        assert!(!msg.contains("s3cret"), "{msg}");
        assert!(message("[store]\nspark_files = 0\n").contains("[store] spark_files"));
        assert!(message("[store]\nspark_filez = 2\n").contains("[store] spark_filez"));
    }

    #[test]
    fn spark_token_is_redacted() {
        assert_eq!(
            redact_url("sc://spark.example:443/;use_ssl=true;token=s3cret;user_id=fluz"),
            "sc://spark.example:443/;use_ssl=true;token=***;user_id=fluz"
        );
        let mut config = Config::default();
        config.store.spark_url = "sc://h:15002/;token=s3cret".into();
        assert!(!config.to_display_toml().contains("s3cret"));
    }

    #[test]
    fn password_is_redacted() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@localhost:5432/db"),
            "postgres://bob:***@localhost:5432/db"
        );
        assert_eq!(
            redact_url("postgres://bob@localhost/db"),
            "postgres://bob@localhost/db"
        );
        assert_eq!(
            redact_url("host=/tmp user=bob password=s3cret dbname=x"),
            "host=/tmp user=bob password=*** dbname=x"
        );
        assert_eq!(
            redact_url("postgres://localhost/db?password=s3cret&x=1"),
            "postgres://localhost/db?password=***&x=1"
        );
        let mut config = Config::default();
        config.store.url = "postgres://bob:s3cret@h/db".into();
        assert!(!config.to_display_toml().contains("s3cret"));
    }

    #[test]
    fn clv_keys_are_checked() {
        let ok = parse("[clv]\ncalibration_end = \"1997-09-30\"\ntime_unit = \"days\"\n").unwrap();
        assert_eq!(ok.clv.time_unit, ClvTimeUnit::Days);
        assert!(
            message("[clv]\ncalibration_end = \"1997-13-01\"\n").contains("[clv] calibration_end")
        );
        assert!(
            message("[clv]\nobservation_end = \"1998-06-30\"\n").contains("[clv] observation_end")
        );
        assert!(message("[clv]\nhorizon_months = 0\n").contains("[clv] horizon_months"));
        assert!(
            message("[clv]\ndiscount_rate_monthly = 1.5\n").contains("[clv] discount_rate_monthly")
        );
        assert!(message("[clv]\npenalizer = -1.0\n").contains("[clv] penalizer"));
        assert!(message("[clv]\nmargin = 1.5\n").contains("[clv] margin"));
        assert!(message("[clv]\nmargin = \"revenue\"\n").contains("[clv] margin"));
        // An external file needs a fixed margin; an RFM summary has no dates to cut.
        assert!(message("[clv]\nrfm = \"s.csv\"\n").contains("[clv] margin"));
        assert!(message(
            "[clv]\nrfm = \"s.csv\"\nmargin = 0.1\ncalibration_end = \"1997-09-30\"\n"
        )
        .contains("[clv] calibration_end"));
        assert!(
            message("[clv]\nrfm = \"s.csv\"\ntransactions = \"t.txt\"\nmargin = 0.1\n")
                .contains("[clv] rfm")
        );
        assert!(message("[economics]\nengagement = \"lifetime\"\n").contains("engagement"));
        assert_eq!(parse("").unwrap().economics.engagement, Engagement::Flat);
    }

    #[test]
    fn offers_keys_are_checked() {
        assert!(message("[offers]\narms = [0.02, 0.05]\n").contains("[offers] arms"));
        assert!(message("[offers]\narms = [0.0, 0.05, 0.02]\n").contains("[offers] arms"));
        let learners = message("[offers]\nlearners = [\"s\"]\n");
        assert!(
            learners.contains("[offers] learners")
                && learners.contains("unknown variant `s`, expected one of `t`, `x`, `dr`, `r`"),
            "{learners}"
        );
        let families = message("[train]\nfamilies = [\"linear\", \"boost\"]\n");
        assert!(
            families.contains("[train] families") && families.contains("unknown variant `boost`"),
            "{families}"
        );
        assert!(message("[offers]\nwindow_days = 0.0\n").contains("[offers] window_days"));
        assert!(message("[offers]\nmargin = 2.0\n").contains("[offers] margin"));
        assert!(message("[offers]\narm_costs = { a = -1.0 }\n").contains("[offers] arm_costs"));
        assert!(message("[offers]\nn_folds = 1\n").contains("[offers] n_folds"));
        let config =
            parse("[offers]\nlog = \"x/log.csv\"\narm_rates = { \"2%\" = 0.02 }\n").unwrap();
        assert_eq!(config.offers.log, Path::new("/tmp/cfg/x/log.csv"));
        assert_eq!(config.offers.arm_rates["2%"].get(), 0.02);
    }

    #[test]
    fn relative_paths_resolve_against_config_folder() {
        let config = parse("[data]\nretail = \"x/r.csv\"\nsocial = \"/abs/s.txt\"\n").unwrap();
        assert_eq!(config.data.retail, Path::new("/tmp/cfg/x/r.csv"));
        assert_eq!(config.data.social, Path::new("/abs/s.txt"));
    }
}
