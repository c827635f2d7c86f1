//! Following a job or a distribution to its end: the watch stream feeds the [`Board`] and the
//! renderer; a stream that breaks off is opened again after the last sequence seen; Ctrl-C stops
//! watching (or cancels, with `--cancel-on-interrupt`, and a second Ctrl-C stops watching).

use std::time::Duration;

use amicopy::proto::{self, watch_distribution_response::Event};
use tokio::signal::unix::{SignalKind, signal};
use tokio_stream::StreamExt;
use tonic::{Code, Status, Streaming};

use crate::{
    args::DEFAULT_ENDPOINT,
    context::Context,
    failure::{CliError, Outcome, Refusal},
    progress::{Board, Subject, Update},
    render::Renderer,
};

/// How often elapsed times and estimates are redrawn.
const TICK: Duration = Duration::from_millis(500);

/// How a watch behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct FollowOptions {
    /// Ctrl-C cancels what is watched instead of only stopping the watch.
    pub cancel_on_interrupt: bool,
    /// Events up to this sequence are not shown (a retried distribution's earlier history).
    pub after_sequence: u64,
}

/// The stream of one watch, whichever kind.
enum Stream {
    Job(Streaming<proto::WatchCopyJobResponse>),
    Distribution(Streaming<proto::WatchDistributionResponse>),
}

/// One message of either stream, owned.
enum Message {
    Job(proto::CopyJobEvent),
    Distribution(proto::WatchDistributionResponse),
}

impl Stream {
    async fn next(&mut self) -> Option<Result<Message, Status>> {
        match self {
            Self::Job(stream) => stream.next().await.map(|m| {
                m.and_then(|m| {
                    m.event
                        .map(Message::Job)
                        .ok_or_else(|| Status::internal("a watch message without an event"))
                })
            }),
            Self::Distribution(stream) => stream.next().await.map(|m| m.map(Message::Distribution)),
        }
    }
}

/// Follows `subject` to its end and answers the exit code its ending gives.
pub async fn follow(context: &Context, subject: Subject, options: FollowOptions) -> Result<Outcome, CliError> {
    let mut interrupts = signal(SignalKind::interrupt())
        .map_err(|error| CliError::internal(format!("cannot handle Ctrl-C: {error}")))?;
    let mut board = Board::new(subject);
    board.last_sequence = options.after_sequence;
    let mut renderer = Renderer::new(context.mode);
    renderer.start(&board);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut cancel_sent = false;
    // Reconnections since the last message: a server that keeps failing is given up on.
    let mut broken = 0u32;
    loop {
        // A watch that cannot be opened again (the link is still down) is retried like one that broke.
        let status = match open(context, &board).await {
            Err(status) => status,
            Ok(mut stream) => loop {
                tokio::select! {
                    message = stream.next() => match message {
                        Some(Ok(message)) => {
                            broken = 0;
                            show(&mut board, &mut renderer, &message);
                        }
                        Some(Err(status)) => break status,
                        None => {
                            // The server ends the stream after the end; make sure it is the end.
                            board.sync(current(context, &board).await?);
                            if board.is_terminal() {
                                renderer.finish(&board);
                                return Ok(board.outcome());
                            }
                            break Status::unavailable("the server ended the watch before the end");
                        }
                    },
                    _ = tick.tick() => renderer.tick(&board),
                    _ = interrupts.recv() => {
                        if options.cancel_on_interrupt && !cancel_sent {
                            cancel_sent = true;
                            cancel(context, &board, &mut renderer).await;
                        } else {
                            renderer.interrupted(&board, &resume_command(context, &board));
                            return Ok(Outcome::Interrupted);
                        }
                    }
                }
            },
        };
        let delay = match context.server.connection.retry.delay_after(&status, broken) {
            Some(delay) if resumable(&status) => delay,
            _ => return Err(status.into()),
        };
        broken += 1;
        renderer.reconnecting(board.last_sequence, &status, delay);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = interrupts.recv() => {
                renderer.interrupted(&board, &resume_command(context, &board));
                return Ok(Outcome::Interrupted);
            }
        }
    }
}

/// Whether a broken stream is worth opening again: the link or the server went away, not a
/// refusal of the watch itself. A link cut mid-handshake reads as UNKNOWN or CANCELLED (hyper's
/// "operation was canceled"): this CLI never cancels its own calls, so CANCELLED is the link.
fn resumable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Cancelled
            | Code::Unavailable
            | Code::Unknown
            | Code::Internal
            | Code::Aborted
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
    )
}

async fn open(context: &Context, board: &Board) -> Result<Stream, Status> {
    let server = &context.server;
    let after = board.last_sequence;
    let stream = match &board.subject {
        Subject::Job(job) => Stream::Job(server.watch_job(&job.job_id, after).await?),
        Subject::Distribution(distribution) => {
            Stream::Distribution(server.watch_distribution(&distribution.distribution_id, after).await?)
        }
    };
    Ok(stream)
}

fn show(board: &mut Board, renderer: &mut Renderer, message: &Message) {
    let update = match message {
        Message::Job(event) => Update::Job(event),
        Message::Distribution(response) => match &response.event {
            Some(Event::TargetEvent(target)) => match &target.event {
                Some(event) => Update::Target {
                    sequence: response.sequence,
                    account_id: &target.account_id,
                    region: &target.region,
                    event,
                },
                None => return,
            },
            Some(Event::StateChange(change)) => Update::State {
                sequence: response.sequence,
                change,
            },
            None => return,
        },
    };
    let changed = board.apply(update);
    renderer.update(board, update, changed);
}

/// The job or distribution as it stands now.
async fn current(context: &Context, board: &Board) -> Result<Subject, CliError> {
    Ok(match &board.subject {
        Subject::Job(job) => Subject::Job(context.server.job(&job.job_id).await?),
        Subject::Distribution(distribution) => {
            Subject::Distribution(context.server.distribution(&distribution.distribution_id).await?)
        }
    })
}

/// `--cancel-on-interrupt`: asks for the cancel, says so, and keeps watching to the end.
async fn cancel(context: &Context, board: &Board, renderer: &mut Renderer) {
    let id = board.subject.id().to_owned();
    let result = match &board.subject {
        Subject::Job(_) => context
            .server
            .cancel_copy_job(proto::CancelCopyJobRequest { job_id: id.clone() })
            .await
            .map(drop),
        Subject::Distribution(_) => context
            .server
            .cancel_distribution(proto::CancelDistributionRequest {
                distribution_id: id.clone(),
            })
            .await
            .map(drop),
    };
    match result {
        Ok(()) => renderer.note(&format!(
            "Cancelling {} {id}; following it to the end (Ctrl-C again stops watching)",
            board.subject.kind()
        )),
        Err(CliError::Refused(refusal)) => {
            renderer.note(&format!("The cancel was refused: {}", refusal_text(&refusal)))
        }
        Err(error) => renderer.note(&format!("The cancel was refused: {error}")),
    }
}

fn refusal_text(refusal: &Refusal) -> String {
    refusal.lines().join(" ")
}

/// The command that resumes this watch (never with the token: it may be in the environment).
pub fn resume_command(context: &Context, board: &Board) -> String {
    let endpoint = &context.server.connection.endpoint;
    let mut command = format!("amicopy watch {}", board.subject.id());
    if endpoint != DEFAULT_ENDPOINT {
        command.push_str(&format!(" --endpoint {endpoint}"));
    }
    command
}
