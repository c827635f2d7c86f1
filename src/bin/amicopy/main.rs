//! `amicopy`: the command-line client of amicopyd, for people.
//!
//! It talks to the server over the gRPC API only ([`server`] on a [`connection`]), never to a
//! database. The tour:
//! - [`args`] is the command line; [`commands`] runs each command;
//! - [`watch`] follows a job or distribution to its end, keeping a [`progress::Board`] that a
//!   [`render`]er draws: live bars on a terminal, plain lines in a pipe, NDJSON for scripts;
//! - [`view`] and [`plan`] are the JSON shapes (output, and plan files for `distribute`);
//! - [`failure`] reads server errors once and decides the exit code; [`retry`] retries what the
//!   server could not take.

mod args;
mod commands;
mod connection;
mod context;
mod failure;
mod plan;
mod progress;
mod render;
mod retry;
mod server;
mod view;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    args::Cli,
    connection::Connection,
    context::Context,
    failure::{CliError, Outcome},
    render::Mode,
    server::Server,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mode = Mode::detect(cli.output);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            render::print_usage_error(mode, &format!("cannot start: {error}"));
            return Outcome::Failed.into();
        }
    };
    let endpoint = cli.connection.endpoint.clone();
    let outcome = runtime.block_on(async {
        let connection = Connection::new(&cli.connection)?;
        let context = Context {
            server: Server::new(connection),
            mode,
        };
        commands::run(&context, cli.command).await
    });
    match outcome {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            match &error {
                CliError::Usage(message) => render::print_usage_error(mode, message),
                CliError::Refused(refusal) => render::print_refusal(mode, refusal),
            }
            if error.outcome() == Outcome::Unreachable && mode != Mode::Json {
                eprintln!("Is amicopyd running at {endpoint}? (--endpoint, AMICOPY_ENDPOINT)");
            }
            error.outcome().into()
        }
    }
}
