//! Writing a command's output to stdout without panicking when the reader goes away
//! (`bitplan formats | head` closes the pipe early; that is not an error).

use std::io::{ErrorKind, Write};

use anyhow::Context;

/// Write `text` to stdout; a closed pipe ends the output quietly.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}
