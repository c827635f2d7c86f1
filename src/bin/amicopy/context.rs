//! What every command gets: the server and how output is printed.

use crate::{render::Mode, server::Server};

/// The server and the output mode of this run.
#[derive(Debug, Clone)]
pub struct Context {
    /// The server, reached through the connection flags.
    pub server: Server,
    /// How results are printed.
    pub mode: Mode,
}
