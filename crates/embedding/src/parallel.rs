//! Row-parallel loops over rayon's thread pool, for the `O(n²)` passes (distances, Gram
//! matrices, t-SNE's gradient).

use rayon::prelude::*;

/// Below about this many operations a pass runs on the calling thread: not worth a task.
const SERIAL_WORK: usize = 1 << 16;

/// Rows a rayon task takes at least, so that cheap rows are not split one by one.
const MIN_ROWS_PER_TASK: usize = 16;

/// Calls `f(i, row_i)` for every row of `data` (rows of `row_len`), on rayon's pool when the
/// rows hold enough work (about `cost` operations each). Each row is computed by one call,
/// whatever the threads, so the result does not depend on them.
pub(crate) fn par_rows<T: Send>(
    data: &mut [T],
    row_len: usize,
    cost: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if row_len == 0 {
        return;
    }
    let n = data.len() / row_len;
    if n.saturating_mul(cost) < SERIAL_WORK || n <= MIN_ROWS_PER_TASK {
        data.chunks_mut(row_len)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
    } else {
        data.par_chunks_mut(row_len)
            .with_min_len(MIN_ROWS_PER_TASK)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
    }
}

/// `f(i)` for `i` in `0..n` (about `cost` operations each), in order, computed in parallel as
/// [`par_rows`] does.
pub(crate) fn par_map<T: Send>(n: usize, cost: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if n.saturating_mul(cost) < SERIAL_WORK || n <= MIN_ROWS_PER_TASK {
        (0..n).map(f).collect()
    } else {
        (0..n)
            .into_par_iter()
            .with_min_len(MIN_ROWS_PER_TASK)
            .map(&f)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_rows_match_serial_ones() {
        let n = 1000;
        let out = par_map(n, 1000, |i| (i as f64).sqrt());
        assert!(out.iter().enumerate().all(|(i, &x)| x == (i as f64).sqrt()));

        let mut rows = vec![0usize; n * 3];
        par_rows(&mut rows, 3, 1000, |i, row| row.fill(i));
        assert!(rows.chunks(3).enumerate().all(|(i, row)| row == [i; 3]));
    }
}
