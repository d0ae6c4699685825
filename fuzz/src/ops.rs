//! The operation language shared by `heap_ops` and `global_ops`, and its byte
//! format.
//!
//! # Byte format
//! Byte 0 is the [`Config`]; then operations follow until the input ends (a
//! truncated operand reads as zero bytes). An operation is an opcode byte,
//! taken modulo 16, followed by its operands:
//!
//! | opcode | operation | operands |
//! |---|---|---|
//! | 0, 1, 2 | [`Op::Alloc`] | size (3 bytes), align (1 byte) |
//! | 3 | [`Op::AllocZeroed`] | size, align |
//! | 4, 5, 6 | [`Op::Free`] | index (2 bytes LE) |
//! | 7, 8 | [`Op::Realloc`] | index, size |
//! | 9 | [`Op::FreeOnOtherThread`] | index |
//! | 10 | [`Op::AllocOnOtherThread`] | size, align |
//! | 11 | [`Op::FlushOtherThread`] | - |
//! | 12 | [`Op::ExitThread`] | - |
//! | 13 | [`Op::Trim`] | - |
//! | 14 | [`Op::AdvanceClock`] | milliseconds (1 byte) |
//! | 15 | [`Op::FailAfter`] | n (1 byte; 255 = stop failing) |
//!
//! A **size** is a selector byte `s` and a little-endian `u16` `v`; `s % 8` picks:
//! 0-2: `v % 257` (tiny); 3: `v % 32769` (any small size); 4: a class size
//! `class_size(v % NUM_CLASSES) + (v >> 8) % 3 - 1` (class boundaries); 5:
//! `MAX_SMALL + 1 + v % 4096` (just large); 6: `MAX_SMALL + 1 + 16 v` (large, up
//! to ~1 MiB); 7: `4096 (v % 256 + 1)` (page multiples up to 1 MiB).
//!
//! An **align** byte `a` means `1 << (a & 3)` if `a < 0x80`, else
//! `1 << ((a & 0x7f) % 17)` (up to 64 KiB).
//!
//! An **index** picks live block `index % live` (operations on an empty set
//! are skipped).

use crate::bytes::{Reader, Writer};
use arbitrary::{Arbitrary, Unstructured};
use hakmem_alloc::config::MAX_SMALL;
use hakmem_alloc::size_class::{class_size, NUM_CLASSES};

/// Largest size the format can express (selector 6).
pub const MAX_SIZE: usize = MAX_SMALL + 1 + 16 * 0xffff;
/// Largest alignment the format can express.
pub const MAX_ALIGN: usize = 1 << 16;
/// Most operations decoded from one input.
pub const MAX_OPS: usize = 8192;

/// Heap options chosen by the first byte of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `Options::drain_interval`: bits 0-1 pick 2048 (default), 4, 16, 64.
    pub drain_interval: u32,
    /// `Options::retain_bytes`: bits 2-3 pick 16 MiB (default), 0, 2 MiB, 64 MiB.
    pub retain_bytes: usize,
    /// `Options::purge_delay_ns`: bit 4 set = 0 (purge at once), else 10 ms.
    pub purge_delay_ns: u64,
}

impl Config {
    /// Decode a config byte.
    pub fn decode(c: u8) -> Self {
        Config {
            drain_interval: [2048, 4, 16, 64][usize::from(c & 3)],
            retain_bytes: [16 << 20, 0, 2 << 20, 64 << 20][usize::from((c >> 2) & 3)],
            purge_delay_ns: if c & 0x10 != 0 { 0 } else { 10_000_000 },
        }
    }

    /// The options of a heap under this config.
    pub fn options(&self) -> hakmem_alloc::Options {
        hakmem_alloc::Options::DEFAULT
            .with_drain_interval(self.drain_interval)
            .with_retain_bytes(self.retain_bytes)
            .with_purge_delay_ns(self.purge_delay_ns)
    }
}

/// One operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Allocate `size` bytes at `align`.
    Alloc {
        /// Requested size.
        size: usize,
        /// Requested alignment (a power of two).
        align: usize,
    },
    /// Allocate zeroed memory.
    AllocZeroed {
        /// Requested size.
        size: usize,
        /// Requested alignment.
        align: usize,
    },
    /// Free live block `i % live`.
    Free {
        /// Block index.
        i: u16,
    },
    /// Resize live block `i % live` to `size`.
    Realloc {
        /// Block index.
        i: u16,
        /// New size.
        size: usize,
    },
    /// Free live block `i % live` from another thread (cache).
    FreeOnOtherThread {
        /// Block index.
        i: u16,
    },
    /// Allocate on another thread (cache); the block is freed later by whoever picks it.
    AllocOnOtherThread {
        /// Requested size.
        size: usize,
        /// Requested alignment.
        align: usize,
    },
    /// Flush the other thread's cache (`Heap::thread_exit`).
    FlushOtherThread,
    /// Flush the main thread's cache while blocks are live (its slabs get abandoned).
    ExitThread,
    /// Give retained memory back (`Heap::trim` / `HakMem::trim`).
    Trim,
    /// Advance the mock clock (drives purging of retained SuperSlabs).
    AdvanceClock {
        /// Milliseconds.
        ms: u8,
    },
    /// Make page-source mappings fail after `n` more (255: stop failing).
    FailAfter {
        /// Mappings still allowed.
        n: u8,
    },
}

impl Op {
    /// Whether the op runs on the other thread.
    pub fn is_other(&self) -> bool {
        matches!(self, Op::FreeOnOtherThread { .. } | Op::AllocOnOtherThread { .. })
    }
}

/// A decoded `heap_ops` / `global_ops` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// Heap options (ignored by `global_ops`).
    pub config: Config,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

fn size(r: &mut Reader<'_>) -> usize {
    let s = r.u8();
    let v = usize::from(r.u16());
    match s % 8 {
        0..=2 => v % 257,
        3 => v % (MAX_SMALL + 1),
        4 => class_size(v % NUM_CLASSES) + (v >> 8) % 3 - 1,
        5 => MAX_SMALL + 1 + v % 4096,
        6 => MAX_SMALL + 1 + 16 * v,
        _ => 4096 * (v % 256 + 1),
    }
}

fn align(r: &mut Reader<'_>) -> usize {
    let a = r.u8();
    if a < 0x80 {
        1 << (a & 3)
    } else {
        1 << ((a & 0x7f) % 17)
    }
}

impl Input {
    /// Decode bytes (any byte string is a valid input).
    pub fn decode(data: &[u8]) -> Self {
        let mut r = Reader::new(data);
        let config = Config::decode(r.u8());
        let mut ops = Vec::new();
        while !r.is_empty() && ops.len() < MAX_OPS {
            let op = match r.u8() % 16 {
                0..=2 => Op::Alloc { size: size(&mut r), align: align(&mut r) },
                3 => Op::AllocZeroed { size: size(&mut r), align: align(&mut r) },
                4..=6 => Op::Free { i: r.u16() },
                7 | 8 => Op::Realloc { i: r.u16(), size: size(&mut r) },
                9 => Op::FreeOnOtherThread { i: r.u16() },
                10 => Op::AllocOnOtherThread { size: size(&mut r), align: align(&mut r) },
                11 => Op::FlushOtherThread,
                12 => Op::ExitThread,
                13 => Op::Trim,
                14 => Op::AdvanceClock { ms: r.u8() },
                _ => Op::FailAfter { n: r.u8() },
            };
            ops.push(op);
        }
        Input { config, ops }
    }
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.len();
        Ok(Input::decode(u.bytes(n)?))
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Input::decode(u.take_rest()))
    }
}

/// Encodes inputs exactly (for hand-written seeds and regression tests).
#[derive(Debug)]
pub struct Encoder(Writer);

impl Encoder {
    /// Start an input with config byte `config` (see [`Config`]).
    pub fn new(config: u8) -> Self {
        let mut w = Writer::default();
        w.u8(config);
        Encoder(w)
    }

    fn size(&mut self, s: usize) {
        let (sel, v) = if s <= MAX_SMALL {
            (3, s)
        } else if s <= MAX_SMALL + 4096 {
            (5, s - MAX_SMALL - 1)
        } else if (s - MAX_SMALL - 1).is_multiple_of(16) && s <= MAX_SIZE {
            (6, (s - MAX_SMALL - 1) / 16)
        } else if s.is_multiple_of(4096) && s <= 1 << 20 {
            (7, s / 4096 - 1)
        } else {
            panic!("size {s} cannot be encoded exactly");
        };
        self.0.u8(sel).u16(v as u16);
    }

    fn align(&mut self, a: usize) {
        assert!(a.is_power_of_two() && a <= MAX_ALIGN, "align {a}");
        let k = a.trailing_zeros() as u8;
        self.0.u8(if a <= 8 { k } else { 0x80 | k });
    }

    /// Append `op` (encoded with the first opcode of its row).
    pub fn op(&mut self, op: Op) -> &mut Self {
        match op {
            Op::Alloc { size, align } => {
                self.0.u8(0);
                self.size(size);
                self.align(align);
            }
            Op::AllocZeroed { size, align } => {
                self.0.u8(3);
                self.size(size);
                self.align(align);
            }
            Op::Free { i } => {
                self.0.u8(4).u16(i);
            }
            Op::Realloc { i, size } => {
                self.0.u8(7).u16(i);
                self.size(size);
            }
            Op::FreeOnOtherThread { i } => {
                self.0.u8(9).u16(i);
            }
            Op::AllocOnOtherThread { size, align } => {
                self.0.u8(10);
                self.size(size);
                self.align(align);
            }
            Op::FlushOtherThread => {
                self.0.u8(11);
            }
            Op::ExitThread => {
                self.0.u8(12);
            }
            Op::Trim => {
                self.0.u8(13);
            }
            Op::AdvanceClock { ms } => {
                self.0.u8(14).u8(ms);
            }
            Op::FailAfter { n } => {
                self.0.u8(15).u8(n);
            }
        }
        self
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0 .0
    }
}
