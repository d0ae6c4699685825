//! A byte reader that never fails (bytes past the end read as zero) and the
//! matching writer, used by the hand-rolled input formats of `heap_ops`,
//! `global_ops` and `pool_ops`.
//!
//! Those targets implement `arbitrary::Arbitrary` on top of this reader rather
//! than deriving it: a fixed, documented byte format keeps the seed corpus and
//! saved crash inputs meaningful across `arbitrary` versions and lets
//! [`crate::seeds`] encode inputs exactly.

/// Reads bytes from a slice; past the end every read returns 0.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// The next two bytes, little endian.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | u16::from(self.u8()) << 8
    }
}

/// Builds a byte string in the format [`Reader`] reads.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// Append a byte.
    pub fn u8(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }

    /// Append a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}
