//! The command line: global options, one subcommand per stage. Flags override `config.toml`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "fluz",
    version,
    about = "Customer segments, cashback rates and their explanations for rewards platforms"
)]
pub struct Cli {
    /// Config file (relative paths inside it resolve against its folder).
    #[arg(long, global = true, default_value = "config.toml")]
    pub config: PathBuf,

    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress bars and no summary tables.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print the resolved settings (password masked) and exit.
    #[arg(long, global = true)]
    pub show_settings: bool,

    #[command(flatten)]
    pub store: StoreFlags,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Store overrides shared by every subcommand.
#[derive(Debug, Args, Default)]
pub struct StoreFlags {
    /// Store kind, overriding `[store] kind`.
    #[arg(long, global = true, value_enum)]
    pub store: Option<StoreKindArg>,
    /// Parquet warehouse folder, overriding `[store] path`.
    #[arg(long, global = true)]
    pub store_path: Option<PathBuf>,
    /// PostgreSQL schema, overriding `[store] schema`.
    #[arg(long, global = true)]
    pub schema: Option<String>,
    /// Output folder, overriding `[export] out_dir`.
    #[arg(long, global = true)]
    pub out_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StoreKindArg {
    Parquet,
    Postgres,
    Spark,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the retail, social and merchant files, clean them, and store the tables.
    Ingest(IngestArgs),
    /// Build customer features and print/save descriptive statistics and analytics_summary.png.
    Eda,
    /// Cluster customers for every k in the range, pick k by silhouette, name personas.
    Segment,
    /// Customer lifetime value: BG/NBD and Gamma-Gamma fits, P(alive), expected purchases, CLV.
    Clv,
    /// Compute the optimal-cashback target, train and select the models, score every customer.
    Train,
    /// Exact SHAP values for the final model, importance and per-customer explanations.
    Explain,
    /// Write every table as CSV, the run manifest and dashboard.html.
    Export,
    /// Simulate a randomized test of `[offers] arms` on the store's customers (offers, offers_truth).
    SimulateOffers,
    /// Learn per-customer effects from the offer test (`[offers] log` or the stored offers),
    /// evaluate them on held-out customers and recommend a policy.
    Uplift,
    /// ingest → eda → clv → segment → train → simulate-offers → uplift → explain → allocate →
    /// export, in one store session.
    RunAll(IngestArgs),
    /// Write synthetic data in the three real formats.
    Generate(GenerateArgs),
    /// Spend a cashback budget where it earns most: the allocation, the value-vs-budget curve
    /// and the comparison with the flat rate.
    Allocate(AllocateArgs),
}

/// `fluz allocate` options.
#[derive(Debug, Args, Default)]
pub struct AllocateArgs {
    /// Total expected cashback to spend (overrides `[budget]`).
    #[arg(long, allow_negative_numbers = true, conflicts_with = "budget_share")]
    pub budget: Option<f64>,
    /// Budget as a share of the customers' expected spend, in (0, 1] (overrides `[budget]`).
    #[arg(long, allow_negative_numbers = true)]
    pub budget_share: Option<f64>,
    /// Where values come from: `uplift` (table uplift_predictions, the default) or `model`
    /// (the economic model through the trained model's predicted rates).
    #[arg(long, value_enum, conflicts_with = "values")]
    pub source: Option<AllocateSourceArg>,
    /// A CSV with customer_id, arm, cost, value instead of the store (needs --out).
    #[arg(long, requires = "out")]
    pub values: Option<PathBuf>,
    /// Folder for the CSV files and chart of a --values run.
    #[arg(long, requires = "values")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AllocateSourceArg {
    Uplift,
    Model,
}

#[derive(Debug, Args, Default)]
pub struct IngestArgs {
    /// Retail file (.xlsx, .csv, .csv.gz), overriding `[data] retail`.
    #[arg(long)]
    pub retail: Option<PathBuf>,
    /// Social edge list (.txt, .txt.gz), overriding `[data] social`.
    #[arg(long)]
    pub social: Option<PathBuf>,
    /// Yelp business JSON lines (.json, .json.gz), overriding `[data] merchants`.
    #[arg(long)]
    pub merchants: Option<PathBuf>,
    /// Skip (and count) bad rows instead of stopping at the first one.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Keep exact duplicate retail lines.
    #[arg(long)]
    pub no_dedupe: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of customers (≈ 90 retail lines each).
    #[arg(long, default_value_t = 500)]
    pub customers: usize,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Retail file format.
    #[arg(long, value_enum, default_value = "csv-gz")]
    pub format: RetailFormatArg,
    /// Number of merchants (default: derived from the customer count).
    #[arg(long)]
    pub merchants: Option<usize>,
    /// Number of social-graph nodes (default: about the customer count).
    #[arg(long)]
    pub social_nodes: Option<usize>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RetailFormatArg {
    Csv,
    CsvGz,
}
