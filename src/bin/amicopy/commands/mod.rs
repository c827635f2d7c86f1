//! One module per command group; [`run`] picks the command.

mod copy;
mod manage;
mod request;
mod show;

use clap::CommandFactory;

use crate::{
    args::{Cli, Command},
    context::Context,
    failure::{CliError, Outcome},
    progress::Subject,
};

/// Runs the command the command line names.
pub async fn run(context: &Context, command: Command) -> Result<Outcome, CliError> {
    match command {
        Command::Copy(args) => copy::copy(context, args).await,
        Command::Distribute(args) => copy::distribute(context, args).await,
        Command::Watch(args) => show::watch(context, args).await,
        Command::Get(args) => show::get(context, &args.id).await,
        Command::Ls(args) => show::list(context, args).await,
        Command::Cancel(args) => manage::cancel(context, args).await,
        Command::Retry(args) => manage::retry(context, args).await,
        Command::Completions(args) => {
            clap_complete::generate(args.shell, &mut Cli::command(), "amicopy", &mut std::io::stdout());
            Ok(Outcome::Succeeded)
        }
    }
}

/// The job or the distribution with this id: a job is tried first, then a distribution.
pub async fn resolve(context: &Context, id: &str) -> Result<Subject, CliError> {
    let server = &context.server;
    match server.job(id).await {
        Ok(job) => Ok(Subject::Job(job)),
        Err(CliError::Refused(refusal)) if refusal.is_unknown_id() => match server.distribution(id).await {
            Ok(distribution) => Ok(Subject::Distribution(distribution)),
            Err(CliError::Refused(again)) if again.is_unknown_id() => {
                Err(CliError::usage(format!("no job or distribution has the id {id:?}")))
            }
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    }
}
