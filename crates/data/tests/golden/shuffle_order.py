"""An independent transcription of selfsup-data's data order, for the golden tests of
`tests/loader.rs` (golden_epoch_orders_of_50000_images) and `tests/subset.rs`
(golden_subset_of_5000_cifar10_labels).

The generator is xoshiro256++ (Blackman & Vigna, https://prng.di.unimi.it/xoshiro256plusplus.c)
seeded with four SplitMix64 outputs; `below(n)` is Lemire's multiply-shift of one 64-bit word;
the shuffle is Fisher–Yates from the last position down (Knuth's Algorithm P). Plain Python,
no dependencies: `python3 shuffle_order.py`.
"""

M = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


class Xoshiro256pp:
    def __init__(self, seed):
        s, x = [], seed
        for _ in range(4):
            x = (x + GOLDEN) & M
            s.append(mix(x))
        self.s = s

    def next_u64(self):
        s = self.s
        result = (rotl((s[0] + s[3]) & M, 23) + s[0]) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def below(rng, n):
    return (rng.next_u64() * n) >> 64


def shuffle(items, rng):
    for i in range(len(items) - 1, 0, -1):
        j = below(rng, i + 1)
        items[i], items[j] = items[j], items[i]


def epoch_order(n, seed, epoch):
    """Loader::epoch_order over indices 0..n."""
    order = list(range(n))
    shuffle(order, Xoshiro256pp(mix(seed ^ mix((epoch + 0x5EED) & M))))
    return order


def class_balanced_subset(labels, num_classes, total, seed):
    """class_balanced_subset: per class in label order, shuffle its indices, keep the first."""
    rng = Xoshiro256pp(seed)
    per_class = total // num_classes
    chosen = []
    for c in range(num_classes):
        members = [i for i, label in enumerate(labels) if label == c]
        shuffle(members, rng)
        chosen += members[:per_class]
    return sorted(chosen)


if __name__ == "__main__":
    print("epoch 0:", epoch_order(50_000, 0, 0)[:10])
    print("epoch 1:", epoch_order(50_000, 0, 1)[:10])
    subset = class_balanced_subset([i % 10 for i in range(50_000)], 10, 5_000, 0)
    print("subset:", subset[:10], "sum", sum(subset))
