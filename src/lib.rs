//! fluz: customer segments, optimal cashback rates and their explanations for rewards
//! platforms. `run` sets up logging and dispatches one subcommand; every stage lives in
//! `commands/` and only orchestrates domain modules.
#![warn(unreachable_pub)]

pub mod budget;
pub mod cli;
pub mod clv;
pub mod commands;
pub mod config;
pub mod error;
pub mod explain;
pub mod features;
pub(crate) mod frame;
pub(crate) mod fsutil;
pub(crate) mod hash;
pub mod learn;
pub(crate) mod models;
pub(crate) mod numfmt;
pub(crate) mod progress;
pub mod report;
pub mod segment;
pub mod sources;
pub mod store;
pub(crate) mod synth;
pub(crate) mod uplift;

use std::io::IsTerminal;

use anyhow::Result;

use cli::{Cli, Command, StoreKindArg};
use config::{Config, StoreKind};

/// What every command receives: the validated config and how to talk to the user.
#[derive(Debug, Clone)]
pub struct Context {
    pub config: Config,
    pub config_path: std::path::PathBuf,
    /// Print summaries to stdout.
    pub quiet: bool,
    /// Draw progress bars (a terminal, not quiet).
    pub progress: bool,
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("fluz={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Loads, overrides and validates the config for a command line.
pub(crate) fn resolve_config(cli: &Cli) -> Result<Config> {
    let default_path = cli.config.as_os_str() == "config.toml";
    let mut config = Config::load(&cli.config, !default_path)?;
    config.apply_env();
    if let Some(kind) = cli.store.store {
        config.store.kind = match kind {
            StoreKindArg::Parquet => StoreKind::Parquet,
            StoreKindArg::Postgres => StoreKind::Postgres,
            StoreKindArg::Spark => StoreKind::Spark,
        };
    }
    if let Some(path) = &cli.store.store_path {
        config.store.path = path.clone();
    }
    if let Some(schema) = &cli.store.schema {
        config.store.schema = schema.clone();
    }
    if let Some(out) = &cli.store.out_dir {
        config.export.out_dir = out.clone();
    }
    if let Some(Command::Ingest(args) | Command::RunAll(args)) = &cli.command {
        if let Some(path) = &args.retail {
            config.data.retail = path.clone();
        }
        if let Some(path) = &args.social {
            config.data.social = path.clone();
        }
        if let Some(path) = &args.merchants {
            config.data.merchants = path.clone();
        }
        if args.skip_bad_rows {
            config.ingest.on_bad_row = config::OnBadRow::Skip;
        }
        if args.no_dedupe {
            config.ingest.dedupe = false;
        }
    }
    config.validate()?;
    Ok(config)
}

/// The budget `fluz allocate` was asked for, if any.
fn budget_ask(args: &cli::AllocateArgs) -> Option<commands::allocate::BudgetAsk> {
    match (args.budget, args.budget_share) {
        (Some(amount), _) => Some(commands::allocate::BudgetAsk::Amount(amount)),
        (None, Some(share)) => Some(commands::allocate::BudgetAsk::Share(share)),
        (None, None) => None,
    }
}

/// Runs one command line.
pub fn run(cli: Cli) -> Result<()> {
    init_logging(cli.verbose);
    if let Some(Command::Generate(args)) = &cli.command {
        return commands::generate::run(args, cli.quiet);
    }
    let config = resolve_config(&cli)?;
    if cli.show_settings {
        print!("{}", config.to_display_toml());
        return Ok(());
    }
    let Some(command) = &cli.command else {
        return Err(error::user_error("no subcommand given: try `fluz --help`"));
    };
    let ctx = Context {
        config,
        config_path: cli.config.clone(),
        quiet: cli.quiet,
        progress: !cli.quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
    };
    // `allocate --values FILE --out DIR` needs no store at all.
    if let Command::Allocate(args) = command {
        if let (Some(file), Some(out)) = (&args.values, &args.out) {
            let request = commands::allocate::Request {
                source: commands::allocate::Source::Values {
                    file: file.clone(),
                    out: out.clone(),
                },
                budget: budget_ask(args),
            };
            return commands::allocate::run_values(&ctx, file, out, &request).map(|_| ());
        }
    }
    // One store session per command line: opened and locked once (an unreachable database or
    // a store locked by another run fails before any work), handed to every stage, released
    // when this function returns.
    let mut session = store::open(&ctx.config.store)?;
    let store = session.as_mut();
    match command {
        Command::Ingest(_) => commands::ingest::run(&ctx, store).map(|_| ()),
        Command::Eda => commands::eda::run(&ctx, store).map(|_| ()),
        Command::Segment => commands::segment::run(&ctx, store).map(|_| ()),
        Command::Clv => commands::clv::run(&ctx, store).map(|_| ()),
        Command::Train => commands::train::run(&ctx, store).map(|_| ()),
        Command::Explain => commands::explain::run(&ctx, store).map(|_| ()),
        Command::Export => commands::export::run(&ctx, store).map(|_| ()),
        Command::SimulateOffers => commands::simulate_offers::run(&ctx, store),
        Command::Uplift => commands::uplift::run(&ctx, store).map(|_| ()),
        Command::RunAll(_) => commands::run_all::run(&ctx, store),
        Command::Generate(_) => unreachable!("handled above"),
        Command::Allocate(args) => {
            let request = commands::allocate::Request {
                source: match args.source {
                    Some(cli::AllocateSourceArg::Model) => commands::allocate::Source::Model,
                    Some(cli::AllocateSourceArg::Uplift) | None => {
                        commands::allocate::Source::Uplift
                    }
                },
                budget: budget_ask(args),
            };
            commands::allocate::run(&ctx, store, &request).map(|_| ())
        }
    }
}
