//! Diagnostics to stderr without allocating: a fixed stack buffer implementing
//! `core::fmt::Write`, flushed with one `write(2)` per line.

use core::fmt::{self, Write};

/// A line buffer on the stack.
pub struct LineBuf {
    buf: [u8; 256],
    len: usize,
}

impl LineBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self { buf: [0; 256], len: 0 }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Print one formatted line to stderr (truncated at 255 bytes).
#[cold]
pub fn eprintln(args: fmt::Arguments<'_>) {
    let mut b = LineBuf::new();
    let _ = b.write_fmt(args);
    let _ = b.write_str("\n");
    crate::platform::write_stderr(b.as_bytes());
}

/// Report a fatal misuse (double free, foreign pointer) and abort the process.
#[cold]
#[inline(never)]
pub fn fatal(what: &str, addr: *const u8) -> ! {
    eprintln(format_args!("hakmem: {what} at {addr:p}"));
    std::process::abort()
}
