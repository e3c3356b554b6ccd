//! The `portsweep` binary: parses the command line, runs a subcommand and
//! turns its outcome into an exit code (0 ok, 2 bad input, 3 runtime or
//! privilege error, 130 interrupted).
mod cli;
mod commands;
mod sockets;

use std::process::ExitCode;

use clap::Parser;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn input(error: impl Into<anyhow::Error>) -> Failure {
        Failure { code: 2, error: error.into() }
    }

    pub fn runtime(error: impl Into<anyhow::Error>) -> Failure {
        Failure { code: 3, error: error.into() }
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("portsweep: {}", message(&f.error));
            ExitCode::from(f.code)
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text
/// the message already ends with (errors that print their source themselves
/// would otherwise say it twice).
fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.ends_with(&part) {
            text = format!("{text}: {part}");
        }
    }
    text
}
