//! Writing to stdout and stderr without ever panicking.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe returns `EPIPE` (and `println!` would
//! panic): every stdout write here goes through [`Stdout::line`], which tells a closed stdout
//! ([`WriteError::Closed`]: the reader went away, stop quietly) from another failure
//! ([`WriteError::Failed`]: a full disk, say, to be reported). Stderr writes ignore errors.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why stdout could not be written to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// A closed pipe: nobody reads the results any more.
    Closed,
    /// Anything else (`/dev/full`, a disk error), as the system said it.
    Failed(String),
}

/// `-q`: only what went wrong goes to stderr.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Stdout, one whole line at a time (lines from different threads never interleave).
#[derive(Debug, Default)]
pub struct Stdout {
    /// The first write error; every later write fails the same way.
    failed: Mutex<Option<WriteError>>,
}

impl Stdout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `text` and a newline, flushed.
    pub fn line(&self, text: &str) -> Result<(), WriteError> {
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = &*failed {
            return Err(e.clone());
        }
        let mut out = std::io::stdout().lock();
        let written = out
            .write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        let Err(e) = written else { return Ok(()) };
        let e = match e.kind() {
            std::io::ErrorKind::BrokenPipe => WriteError::Closed,
            _ => WriteError::Failed(e.to_string()),
        };
        *failed = Some(e.clone());
        Err(e)
    }

    /// Writes text that may span lines (help output), flushed.
    pub fn text(&self, text: &str) -> Result<(), WriteError> {
        self.line(text.trim_end_matches('\n'))
    }
}

/// Writes one line on stderr, ignoring errors.
pub fn stderr_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

/// A message to the user on stderr, prefixed with the command's name: what went wrong, or
/// what the user must know (shown even with `-q`).
pub fn note(text: &str) {
    stderr_line(&format!("wix-media: {text}"));
}

/// `-q` from now on.
pub fn set_quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A message on how things go (a summary, the emulator in use): not shown with `-q`.
pub fn info(text: &str) {
    if !quiet() {
        note(text);
    }
}

/// One line: newlines and other control characters in a message become spaces.
pub fn one_line(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    while s.contains("  ") {
        s = s.replace("  ", " ");
    }
    s.trim().to_owned()
}

/// `1.5 MiB`, `300 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `3.2 s`, `2 min 05 s`.
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_one_line() {
        assert_eq!(one_line("a\nb\r\n  c\t"), "a b c");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(300), "300 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 20), "5.0 MiB");
    }
}
