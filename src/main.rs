//! The `fluz` binary: parse the command line, run, map the outcome to an exit code
//! (0 success, 2 user error, 1 internal error).

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <fluz::cli::Cli as clap::Parser>::parse();
    match fluz::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if fluz::error::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(fluz::error::exit_code(&err))
        }
    }
}
