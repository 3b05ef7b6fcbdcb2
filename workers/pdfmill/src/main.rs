//! `pdfmill`: the one binary. It parses the command line and hands each subcommand to its module.

mod cli;
mod convert;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Convert(args) => convert::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pdfmill: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
