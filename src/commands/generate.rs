//! `fluz generate`: synthetic data in the three real formats.

use std::time::Instant;

use anyhow::Result;

use crate::cli::{GenerateArgs, RetailFormatArg};
use crate::error::user_error;
use crate::synth::{generate, RetailFormat, SynthParams};

/// Runs the command.
pub(crate) fn run(args: &GenerateArgs, quiet: bool) -> Result<()> {
    if args.customers == 0 {
        return Err(user_error("--customers must be at least 1"));
    }
    let started = Instant::now();
    let params = SynthParams {
        customers: args.customers,
        seed: args.seed,
        retail_format: match args.format {
            RetailFormatArg::Csv => RetailFormat::Csv,
            RetailFormatArg::CsvGz => RetailFormat::CsvGz,
        },
        merchants: args.merchants,
        social_nodes: args.social_nodes,
    };
    let summary = generate(&params, &args.out)?;
    if !quiet {
        println!("generated in {:.2}s:", started.elapsed().as_secs_f64());
        println!(
            "  {} ({} lines)",
            summary.retail_path.display(),
            summary.retail_lines
        );
        println!(
            "  {} ({} edges)",
            summary.social_path.display(),
            summary.social_edges
        );
        println!(
            "  {} ({} merchants)",
            summary.merchants_path.display(),
            summary.merchants
        );
    }
    Ok(())
}
