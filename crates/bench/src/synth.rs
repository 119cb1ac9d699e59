//! Deterministic pseudo-random numbers for synthetic fixtures (the 10,000
//! registry records, the 1,000-package graph, the 2 MB package's padding).
//! Fixed seeds, so every run measures the same data and two runs compare;
//! SplitMix64 is enough for that, and needs no `rand` crate.

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub(crate) struct Mix(u64);

impl Mix {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0). The modulo bias is irrelevant for
    /// fixtures.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `0..n` skewed towards 0, so that some words are common
    /// and most are rare, as in real descriptions.
    pub(crate) fn skewed(&mut self, n: usize) -> usize {
        let bound = self.below(n) + 1;
        self.below(bound)
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Fills `buf` with bytes no compressor can shrink.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Mix::new(7), Mix::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Mix::new(8);
        assert_ne!(Mix::new(7).next_u64(), c.next_u64());
    }

    #[test]
    fn ranges_hold() {
        let mut mix = Mix::new(1);
        for n in 1..50 {
            assert!(mix.below(n) < n);
            assert!(mix.skewed(n) < n);
        }
        let mut buf = [0u8; 13];
        mix.fill(&mut buf);
        assert!(buf.iter().any(|&b| b != 0));
    }
}
