//! Seeded randomness: [`TransformRng`], [`rng_for`] and the few samplers the transforms use.
//!
//! Every transform draws only from the `&mut dyn RngCore` it is given. To make the augmentation
//! of image `index` in `epoch` a pure function of `(seed, epoch, index)` — whatever the number
//! of threads or the order images are processed in — give each image its own stream from
//! [`rng_for`].
//!
//! The samplers below turn raw 64-bit words into numbers with fixed, documented formulas (they
//! do not go through `rand`'s distributions), so a stream's meaning does not change when `rand`
//! is upgraded.

use rand::{RngCore, SeedableRng};

/// The SplitMix64 increment (the golden-ratio constant).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// One SplitMix64 finalisation (Stafford's "Mix13"): a bijective avalanche of a 64-bit word.
pub fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random-number generator of the augmentation pipeline: xoshiro256++ (Blackman & Vigna),
/// seeded through SplitMix64.
///
/// Its output is fixed by this crate (not by `rand`'s choice of `StdRng`/`SmallRng`), so a
/// `(seed, epoch, index)` triple gives the same augmentations in every release. Fast (a few
/// cycles per word) and 256 bits of state; not cryptographic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformRng {
    s: [u64; 4],
}

impl TransformRng {
    /// A generator whose state is four SplitMix64 outputs from `seed`.
    pub fn from_u64(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(GOLDEN);
            splitmix64(x)
        };
        let s = [next(), next(), next(), next()];
        Self { s }
    }
}

impl RngCore for TransformRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

impl SeedableRng for TransformRng {
    type Seed = [u8; 32];

    /// Uses the 32 bytes as the state (little-endian words); an all-zero seed, the one state
    /// xoshiro cannot leave, is replaced by [`TransformRng::from_u64`]`(0)`.
    fn from_seed(seed: Self::Seed) -> Self {
        let mut s = [0u64; 4];
        for (w, chunk) in s.iter_mut().zip(seed.chunks_exact(8)) {
            *w = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
        }
        if s == [0; 4] {
            return Self::from_u64(0);
        }
        Self { s }
    }

    fn seed_from_u64(state: u64) -> Self {
        Self::from_u64(state)
    }
}

/// The stream of image `index` in `epoch` of a run seeded with `seed`.
///
/// The three numbers are hashed together with SplitMix64 (each folded in after a full
/// avalanche, with distinct odd multipliers), so nearby triples give unrelated streams and the
/// result depends only on the triple — not on threads, batch order or what other images drew.
///
/// ```
/// use rand::RngCore;
/// use selfsup_data::transforms::rng_for;
/// assert_eq!(rng_for(7, 0, 3).next_u64(), rng_for(7, 0, 3).next_u64());
/// assert_ne!(rng_for(7, 0, 3).next_u64(), rng_for(7, 0, 4).next_u64());
/// ```
pub fn rng_for(seed: u64, epoch: u64, index: u64) -> TransformRng {
    let mut h = splitmix64(seed ^ 0x5EED_5EED_5EED_5EED);
    h = splitmix64(h ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03));
    h = splitmix64(h ^ index.wrapping_mul(0xAEF1_7502_108E_F2D9));
    TransformRng::from_u64(h)
}

/// A uniform draw from `[0, 1)`: the top 53 bits of one word, times 2⁻⁵³.
pub fn unit_f64(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform draw from `[lo, hi)` (`lo` when they are equal), like `torch.empty(1).uniform_(lo, hi)`.
pub fn uniform(rng: &mut dyn RngCore, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit_f64(rng)
}

/// A uniform integer in `0..n`, like `torch.randint(0, n)`: Lemire's multiply-shift of one word
/// (bias below `n / 2⁶⁴`, immaterial for image sizes).
///
/// # Panics
/// If `n == 0`.
pub fn below(rng: &mut dyn RngCore, n: usize) -> usize {
    assert!(n > 0, "cannot draw from an empty range");
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// `true` with probability `p`: `unit_f64 < p`, like torchvision's `torch.rand(1) < p`
/// (so `p = 0` never and `p = 1` always fires).
pub fn bernoulli(rng: &mut dyn RngCore, p: f64) -> bool {
    unit_f64(rng) < p
}

/// A uniformly random permutation of `0..N` (Fisher–Yates with [`below`]), like `torch.randperm`.
pub fn permutation<const N: usize>(rng: &mut dyn RngCore) -> [usize; N] {
    let mut p: [usize; N] = std::array::from_fn(|i| i);
    shuffle(&mut p, rng);
    p
}

/// Shuffles `items` in place: the Fisher–Yates shuffle (Knuth's Algorithm P, from the last
/// position down, each swapped with a position drawn by [`below`] among those not yet fixed).
///
/// Every shuffle of the project (epoch orders, label-budget subsets, probe batches) goes through
/// this function with a [`TransformRng`], so a seed gives the same order in every release:
/// unlike `rand`'s `SliceRandom::shuffle` over `StdRng`, neither the algorithm nor the generator
/// may change with a `rand` upgrade.
///
/// ```
/// use selfsup_data::transforms::{TransformRng, shuffle};
/// let mut a: Vec<u32> = (0..10).collect();
/// shuffle(&mut a, &mut TransformRng::from_u64(3));
/// let mut b: Vec<u32> = (0..10).collect();
/// shuffle(&mut b, &mut TransformRng::from_u64(3));
/// assert_eq!(a, b);
/// a.sort();
/// assert_eq!(a, (0..10).collect::<Vec<_>>());
/// ```
pub fn shuffle<T>(items: &mut [T], rng: &mut dyn RngCore) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i + 1);
        items.swap(i, j);
    }
}
