//! Writing to stdout and stderr without ever panicking.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe returns `EPIPE` (and `println!` would
//! panic): every stdout write here goes through [`Stdout::line`], which reports a closed
//! stdout as [`Closed`] instead. Stderr writes ignore errors.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stdout could not be written to (a closed pipe, most often): the reader went away.
#[derive(Clone, Copy, Debug)]
pub struct Closed;

/// Stdout, one whole line at a time (lines from different threads never interleave).
#[derive(Debug, Default)]
pub struct Stdout {
    lock: Mutex<()>,
    closed: AtomicBool,
}

impl Stdout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `text` and a newline, flushed.
    pub fn line(&self, text: &str) -> Result<(), Closed> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Closed);
        }
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = std::io::stdout().lock();
        let ok = out
            .write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if ok.is_err() {
            self.closed.store(true, Ordering::Relaxed);
            return Err(Closed);
        }
        Ok(())
    }

    /// Writes one JSON value as a line.
    pub fn json(&self, value: &serde_json::Value) -> Result<(), Closed> {
        self.line(&value.to_string())
    }

    /// Writes text that may span lines (help output), flushed.
    pub fn text(&self, text: &str) -> Result<(), Closed> {
        self.line(text.trim_end_matches('\n'))
    }
}

/// Writes one line on stderr, ignoring errors.
pub fn stderr_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

/// A message to the user on stderr, prefixed with the command's name.
pub fn note(text: &str) {
    stderr_line(&format!("wix-media: {text}"));
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
