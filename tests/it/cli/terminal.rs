//! The terminal rendering as a person sees it: `amicopy copy --wait` runs in a real
//! pseudo-terminal (portable-pty) and its output is read back through a terminal emulator (vt100),
//! so what is checked is the screen: bars drawn, redrawn in place, and the final table. The same
//! command piped prints no escape code.

use std::{
    io::Read,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use amicopy::proto::CopyJobState;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use super::{RUN_DEADLINE, assert_plain, copy_args, endpoint, run};
use crate::support::{Database, start};

const ROWS: u16 = 40;
const COLS: u16 = 140;

/// A simulated copy of about four seconds: enough for several redraws.
pub const STEADY: &[&str] = &["--sim-time-factor", "10", "--sim-copy-seconds", "40"];

/// What a run in the pseudo-terminal left: every byte written, the screens seen while it ran (the
/// last one the screen it left at its exit), and its exit code.
pub struct TerminalRun {
    /// Every byte the CLI wrote.
    pub bytes: Vec<u8>,
    /// The screen every 100 ms, the last after it exited.
    pub screens: Vec<String>,
    /// Its exit code.
    pub code: u32,
}

/// Runs the CLI with `args` in a pseudo-terminal of ROWS × COLS until it exits, looking at the
/// screen every 100 ms.
pub fn run_in_terminal(args: Vec<String>) -> TerminalRun {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_amicopy"));
    command.args(&args);
    command.env("TERM", "xterm-256color");
    command.env_remove("NO_COLOR");
    command.env_remove("AMICOPY_OUTPUT");
    let mut child = pty
        .slave
        .spawn_command(command)
        .expect("amicopy starts in the terminal");
    drop(pty.slave);

    let bytes = Arc::new(Mutex::new(Vec::new()));
    let mut reader = pty.master.try_clone_reader().expect("a reader");
    let reading = std::thread::spawn({
        let bytes = Arc::clone(&bytes);
        move || {
            let mut buffer = [0u8; 4096];
            // The terminal answers EIO once the program has exited and closed it.
            while let Ok(read @ 1..) = reader.read(&mut buffer) {
                bytes.lock().unwrap().extend_from_slice(&buffer[..read]);
            }
        }
    });

    let deadline = Instant::now() + RUN_DEADLINE;
    let mut screens = Vec::new();
    let code = loop {
        screens.push(screen(&bytes.lock().unwrap()));
        if let Some(status) = child.try_wait().expect("child status") {
            break status.exit_code();
        }
        assert!(
            Instant::now() < deadline,
            "amicopy did not end:\n{}",
            screens.last().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(pty.master);
    reading.join().expect("the reader ends");
    let bytes = bytes.lock().unwrap().clone();
    // What it drew between the last look and its exit: the last screen is the one it left.
    screens.push(screen(&bytes));
    TerminalRun { bytes, screens, code }
}

/// The screen `bytes` leave on a terminal of [`ROWS`] × [`COLS`], row by row (contents() would
/// join a full-width row with the next one), blanks trimmed.
fn screen(bytes: &[u8]) -> String {
    let mut parser = vt100::Parser::new(ROWS, COLS, 0);
    parser.process(&onlcr(bytes));
    let rows: Vec<String> = parser
        .screen()
        .rows(0, COLS)
        .map(|row| row.trim_end().to_owned())
        .collect();
    rows.join("\n").trim_end().to_owned()
}

/// What a terminal's line discipline does with ONLCR (on in every interactive terminal, off in
/// the pseudo-terminal portable-pty opens): a line feed also returns the carriage.
fn onlcr(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*byte);
    }
    out
}

/// The percent on a bar line such as `  us-west-2  =====>   34%  COPYING ...`.
pub fn bar_percent(line: &str) -> Option<u32> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let state = words.iter().position(|w| *w == "COPYING" || *w == "AVAILABLE")?;
    words.get(state.checked_sub(1)?)?.strip_suffix('%')?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_shows_a_bar_redrawn_in_place_then_the_summary_table() {
    let (mut server, storage) = start(Database::Sqlite, STEADY).await;
    let mut args: Vec<String> = copy_args("cli-terminal-copy", "us-west-2")
        .into_iter()
        .map(str::to_owned)
        .collect();
    args.extend(["--wait".to_owned(), "--endpoint".to_owned(), endpoint(&server)]);
    let terminal = tokio::task::spawn_blocking({
        let args = args.clone();
        move || run_in_terminal(args)
    })
    .await
    .unwrap();
    let last = terminal.screens.last().unwrap();
    assert_eq!(terminal.code, 0, "{last}");

    // While it ran: a bar part-way, for the target, with its state and estimate.
    let midway: Vec<u32> = terminal
        .screens
        .iter()
        .flat_map(|screen| {
            screen
                .lines()
                .filter(|l| l.contains("us-west-2") && l.contains("COPYING"))
        })
        .filter_map(bar_percent)
        .filter(|p| (1..100).contains(p))
        .collect();
    assert!(
        midway.len() >= 2 && midway.first() < midway.last(),
        "the bar never moved part-way; screens:\n{}",
        terminal.screens.join("\n----\n")
    );

    // At the end: the same line now says AVAILABLE at 100%, and nothing of the earlier draws is
    // left on the screen: the bar was redrawn in place, not printed again.
    let bars: Vec<&str> = last.lines().filter(|l| bar_percent(l).is_some()).collect();
    assert_eq!(bars.len(), 1, "one bar for one target:\n{last}");
    assert_eq!(bar_percent(bars[0]), Some(100), "{last}");
    assert!(bars[0].contains("AVAILABLE"), "{last}");
    assert!(!last.contains("COPYING"), "an earlier draw was left behind:\n{last}");
    let raw = String::from_utf8_lossy(&terminal.bytes);
    assert!(
        raw.contains("\u{1b}[2K") || raw.contains("\u{1b}[1A"),
        "no in-place redraw in the output"
    );

    // The summary table, with the image the server made.
    let job_id = last.lines().next().unwrap().trim();
    let job = server.job(job_id).await;
    assert_eq!(CopyJobState::try_from(job.state).unwrap(), CopyJobState::Available);
    let lines: Vec<&str> = last.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("ACCOUNT") && l.contains("IMAGE"))
        .unwrap_or_else(|| panic!("no summary table:\n{last}"));
    assert!(lines[header + 1].contains(&job.image_id), "{last}");

    // The same command piped: plain lines, no escape code.
    let mut piped = copy_args("cli-piped-copy", "us-west-2");
    piped.push("--wait");
    let piped = run(&server, &piped).await;
    piped.expect_code(0);
    assert_plain(&piped);
    server.stop().await;
    storage.cleanup().await;
}
