//! A tiny xorshift64* generator: deterministic, allocation-free, good enough
//! to pick sizes and slots (no `rand` crate in the timed loops).

/// xorshift64* (Vigna): 64 bits of state, never zero.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` and `stream` (e.g. a thread index): different
    /// streams of one seed give unrelated sequences.
    pub fn new(seed: u64, stream: u64) -> Rng {
        // splitmix64 finaliser spreads nearby seeds apart.
        let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    /// The next 64 random bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`), by multiply-shift (no division).
    #[inline(always)]
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64() >> 32) * n as u128) >> 32) as usize
    }

    /// A value in `lo..=hi`.
    #[inline(always)]
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_stays_inside() {
        let mut r = Rng::new(42, 0);
        for _ in 0..10_000 {
            let v = r.range(16, 1024);
            assert!((16..=1024).contains(&v));
        }
    }

    #[test]
    fn streams_differ() {
        assert_ne!(Rng::new(1, 0).next_u64(), Rng::new(1, 1).next_u64());
    }
}
