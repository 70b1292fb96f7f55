//! The gradient of the objective computed tile by tile, so device memory is bounded by the tile
//! size and not by the photo's. The tile side follows from the device's limits; interior tile
//! borders move at random every step, so no seam stays in one place long enough to show.

use std::collections::BTreeMap;
use std::ops::Range;

use burn::tensor::Tensor;

use super::Rng;
use super::objective::{Guide, Objective};
use crate::Error;
use crate::device::Limits;
use crate::model::{Blob, GoogLeNet, footprint};

/// The largest tile side, at most `wanted` and at least `min`, whose gradient pass to `deepest`
/// fits the device: its largest buffer within `max_buffer`, all of it within `pass_budget`.
pub fn fit_tile(wanted: usize, deepest: Blob, min: usize, limits: &Limits) -> Result<usize, Error> {
    let fits = |side: usize| {
        footprint(deepest, [side, side])
            .is_some_and(|f| f.largest <= limits.max_buffer && f.total <= limits.pass_budget)
    };
    let (mut lo, mut hi) = (min, wanted.max(min));
    if !fits(lo) {
        return Err(Error::DeviceLimit(format!(
            "this device allows {} MiB per buffer and {} MiB per pass, less than layer {deepest} \
needs even on its smallest tile ({min} px)",
            limits.max_buffer >> 20,
            limits.pass_budget >> 20
        )));
    }
    // The footprint grows with the side: binary search for the last side that fits.
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid) { lo = mid } else { hi = mid - 1 }
    }
    Ok(lo)
}

/// Splits `0..len` into spans of at most `tile` and at least `min`. Interior spans all have one
/// length, so tiles of one shape can run together; every border moves by one random shift each
/// call (the end spans absorb it), so seams never stay in one place.
pub fn spans(len: usize, tile: usize, min: usize, rng: &mut Rng) -> Vec<Range<usize>> {
    // Aim at 0.8 tile so the random shift never pushes a span past `tile`.
    let n = if len <= tile {
        1
    } else {
        len.div_ceil(tile * 4 / 5)
            .clamp(1, (len / min.max(1)).max(1))
    };
    if n == 1 {
        return std::iter::once(0..len).collect();
    }
    let base = len / n;
    let extra = len - base * n;
    let (head, tail) = (extra / 2, extra - extra / 2);
    let room = tile
        .saturating_sub(base + tail)
        .min(base.saturating_sub(min))
        .min(base / 4);
    let first = (base + head) as i64 + rng.symmetric(room);
    let mut borders: Vec<usize> = (0..n - 1)
        .map(|i| (first + (i * base) as i64) as usize)
        .collect();
    borders.insert(0, 0);
    borders.push(len);
    borders.windows(2).map(|w| w[0]..w[1]).collect()
}

/// How many tiles of `shape` one pass can take together: as many as the pass budget holds, with
/// the batch's largest buffer still within the device's largest buffer.
pub fn batch(shape: [usize; 2], deepest: Blob, limits: &Limits) -> usize {
    footprint(deepest, shape).map_or(1, |f| {
        let by_memory = limits.pass_budget / f.total.max(1);
        let by_buffer = limits.max_buffer / f.largest.max(1);
        by_memory.min(by_buffer).clamp(1, MAX_BATCH as u64) as usize
    })
}

/// Beyond this many tiles in one pass a GPU gains nothing.
const MAX_BATCH: usize = 16;

/// A step's gradient, and the sum of its absolute values (for the step size).
pub struct Gradient {
    /// [1, 3, H, W], in the image's own coordinates.
    pub grad: Tensor<4>,
    /// Sum of |grad| as [1, 1, 1, 1], added up tile by tile: no full-size temporary, and no
    /// precision lost to one flat sum over millions of values.
    pub abs_sum: Tensor<4>,
}

/// Sum of |g| as [1, 1, 1, 1], row by row, then over rows and channels: one flat sum over a
/// big image loses precision on some backends.
pub fn abs_sum(g: Tensor<4>) -> Tensor<4> {
    g.abs().sum_dim(3).sum_dim(2).sum_dim(1).sum_dim(0)
}

/// Ranges of one axis of the image, read in order as one span of a tile.
type Pieces = Vec<Range<usize>>;
/// A tile as the image's pieces it reads: (rows, columns).
type Region = (Pieces, Pieces);

/// The pieces of `0..len` that a span of an image rolled by `shift` (numpy's `roll`: the
/// value at `i` moves to `i + shift`) reads, in order: one range, or two where it wraps.
fn unrolled(span: &Range<usize>, shift: i64, len: usize) -> Pieces {
    let start = (span.start as i64 - shift).rem_euclid(len as i64) as usize;
    let end = start + span.len();
    if end <= len {
        std::iter::once(start..end).collect()
    } else {
        vec![start..len, 0..end - len]
    }
}

/// Gradient of `objective` with respect to `image` ([1, 3, H, W]) rolled by `shift` (rows,
/// columns), rolled back: tiles are laid over the rolled image, so the roll moves where tile
/// borders fall, but each tile is read straight from `image` (in two or four pieces where it
/// wraps) and its gradient written straight back, so neither a rolled copy of the image nor of
/// the gradient is ever made. Tiles are at most `tile` px; tiles of one shape run together, as
/// many at once as `limits` allow. `min` is the smallest tile side that reaches the objective's
/// layer. A `guide` steers a single layer's objective ([`Guide`]).
#[allow(clippy::too_many_arguments)]
pub fn gradient(
    model: &GoogLeNet,
    image: &Tensor<4>,
    objective: &Objective,
    guide: Option<&Guide>,
    shift: [i64; 2],
    tile: usize,
    min: usize,
    limits: &Limits,
    rng: &mut Rng,
) -> Result<Gradient, Error> {
    let [_, _, h, w] = image.dims();
    let rows = spans(h, tile, min, rng);
    let cols = spans(w, tile, min, rng);
    let blobs = objective.blobs();
    // Each tile's shape, and the pieces of the image it reads: one or two ranges per axis.
    let regions: Vec<([usize; 2], Region)> = rows
        .iter()
        .flat_map(|r| {
            cols.iter().map(move |c| {
                let pieces = (unrolled(r, shift[0], h), unrolled(c, shift[1], w));
                ([r.len(), c.len()], pieces)
            })
        })
        .collect();
    let mut by_shape: BTreeMap<[usize; 2], Vec<usize>> = BTreeMap::new();
    for (i, (shape, _)) in regions.iter().enumerate() {
        by_shape.entry(*shape).or_default().push(i);
    }
    let mut grad = Tensor::<4>::zeros([1, 3, h, w], &image.device());
    let mut sum: Option<Tensor<4>> = None;
    for (shape, members) in by_shape {
        let share = (shape[0] * shape[1]) as f32 / (h * w) as f32;
        for group in members.chunks(batch(shape, objective.deepest(), limits)) {
            let inputs = group
                .iter()
                .map(|&i| gather(image, &regions[i].1))
                .collect();
            let input = Tensor::cat(inputs, 0).autodiff().require_grad();
            let acts = model.forward(input.clone(), &blobs)?;
            let backward = objective.value(acts, share, guide).backward();
            let tile_grads = input.grad(&backward).ok_or_else(|| {
                Error::Device("the backward pass produced no input gradient".into())
            })?;
            let group_sum = abs_sum(tile_grads.clone());
            sum = Some(match sum {
                Some(s) => s + group_sum,
                None => group_sum,
            });
            for (k, &i) in group.iter().enumerate() {
                grad = scatter(grad, tile_grads.clone().narrow(0, k, 1), &regions[i].1);
            }
        }
    }
    Ok(Gradient {
        grad,
        abs_sum: sum.expect("at least one tile"),
    })
}

/// A tile made of the image's `pieces` (row ranges × column ranges), in order.
fn gather(image: &Tensor<4>, (rows, cols): &Region) -> Tensor<4> {
    let row = |r: &Range<usize>| {
        let parts = cols
            .iter()
            .map(|c| image.clone().slice([0..1, 0..3, r.clone(), c.clone()]));
        join(parts.collect(), 3)
    };
    join(rows.iter().map(row).collect(), 2)
}

/// `parts` concatenated along `dim`; a single part as it is, with no copy.
fn join(mut parts: Vec<Tensor<4>>, dim: usize) -> Tensor<4> {
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Tensor::cat(parts, dim)
    }
}

/// Writes a tile's gradient back into `grad` at the image's `pieces`, the inverse of [`gather`].
fn scatter(mut grad: Tensor<4>, tile: Tensor<4>, (rows, cols): &Region) -> Tensor<4> {
    let mut top = 0;
    for r in rows {
        let mut left = 0;
        for c in cols {
            let part = tile
                .clone()
                .slice([0..1, 0..3, top..top + r.len(), left..left + c.len()]);
            grad = grad.slice_assign([0..1, 0..3, r.clone(), c.clone()], part);
            left += c.len();
        }
        top += r.len();
    }
    grad
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    #[test]
    fn abs_sum_stays_exact_on_a_12_megapixel_gradient() {
        let (h, w) = (3000, 4000);
        // Values with a known sum: |v| cycles through 0.1, 0.2, ... 1.0.
        let values: Vec<f32> = (0..3 * h * w)
            .map(|i| ((i % 10) as f32 + 1.0) / 10.0 * if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let exact: f64 = values.iter().map(|v| v.abs() as f64).sum::<f64>();
        let g = Tensor::<4>::from_data(TensorData::new(values, [1, 3, h, w]), &Device::flex());
        let got = abs_sum(g).into_data().try_to_vec::<f32>().unwrap()[0] as f64;
        assert!((got - exact).abs() / exact < 1e-5, "{got} vs {exact}");
    }

    #[test]
    fn spans_cover_without_gaps_and_respect_bounds() {
        let mut rng = Rng::new(3);
        for len in [100, 224, 511, 512, 513, 1000, 4000] {
            for _ in 0..20 {
                let s = spans(len, 512, 100, &mut rng);
                assert_eq!(s[0].start, 0);
                assert_eq!(s.last().unwrap().end, len);
                for w in s.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                for span in &s {
                    assert!(span.len() <= 512, "{len}: {span:?}");
                    assert!(span.len() >= 100.min(len), "{len}: {span:?}");
                }
            }
        }
    }

    #[test]
    fn tiles_shrink_to_what_the_device_allows() {
        let portable = Limits::PORTABLE;
        let deep = Blob::CANONICAL;
        assert_eq!(fit_tile(512, deep, 100, &portable).unwrap(), 512);
        let capped = fit_tile(4096, deep, 100, &portable).unwrap();
        assert!((512..4096).contains(&capped), "{capped}");
        let f = footprint(deep, [capped, capped]).unwrap();
        assert!(f.largest <= portable.max_buffer && f.total <= portable.pass_budget);
        let over = footprint(deep, [capped + 1, capped + 1]).unwrap();
        assert!(over.largest > portable.max_buffer || over.total > portable.pass_budget);
        let tiny = Limits {
            max_buffer: 8 << 20,
            pass_budget: 1 << 30,
        };
        let small = fit_tile(512, deep, 100, &tiny).unwrap();
        assert!((100..512).contains(&small), "{small}");
        let none = Limits {
            max_buffer: 1 << 10,
            pass_budget: 1 << 30,
        };
        let refused = fit_tile(512, deep, 100, &none).unwrap_err();
        let msg = refused.to_string();
        assert!(msg.contains("needs even on its smallest tile"), "{msg}");
        // A device limit, not a device failure: the engine and its device stay usable.
        assert_eq!(refused.kind(), "device-limit");
        assert!(!refused.is_fatal());
    }

    #[test]
    fn interior_spans_share_one_length() {
        let mut rng = Rng::new(5);
        let s = spans(4000, 512, 100, &mut rng);
        let interior: Vec<usize> = s[1..s.len() - 1].iter().map(|r| r.len()).collect();
        assert!(
            interior.len() >= 5 && interior.iter().all(|&l| l == interior[0]),
            "{s:?}"
        );
    }

    #[test]
    fn batches_fill_the_budget_but_not_past_the_largest_buffer() {
        let deep = Blob::CANONICAL;
        let one = footprint(deep, [512, 512]).unwrap();
        let k = batch([512, 512], deep, &Limits::PORTABLE);
        assert!(
            k >= 1 && k as u64 * one.total <= Limits::PORTABLE.pass_budget,
            "{k}"
        );
        assert!(k as u64 * one.largest <= Limits::PORTABLE.max_buffer, "{k}");
        let roomy = Limits {
            max_buffer: 1 << 40,
            pass_budget: 1 << 40,
        };
        assert_eq!(batch([128, 128], deep, &roomy), MAX_BATCH);
    }

    #[test]
    fn rolled_spans_read_one_or_two_pieces() {
        assert_eq!(unrolled(&(0..10), 0, 100), vec![0..10]);
        assert_eq!(unrolled(&(0..10), 3, 100), vec![97..100, 0..7]);
        assert_eq!(unrolled(&(95..100), -3, 100), vec![98..100, 0..3]);
        assert_eq!(unrolled(&(20..30), 5, 100), vec![15..25]);
        assert_eq!(unrolled(&(0..100), 40, 100), vec![60..100, 0..60]);
    }

    #[test]
    fn interior_borders_move_between_steps() {
        let mut rng = Rng::new(0);
        let first = spans(4000, 512, 100, &mut rng);
        let second = spans(4000, 512, 100, &mut rng);
        assert_eq!(first.len(), second.len());
        assert_ne!(first, second);
    }
}
