//! How much device memory one gradient pass (forward to a blob and back) takes, from the shape
//! arithmetic alone, so a dream can size its tiles before it asks the device for anything.

use deepdream_weights::INCEPTIONS;

use super::{Blob, Part};

/// Bytes of an f32.
const F32: u64 = 4;
/// A pass keeps every activation for the backward pass, then holds its gradient and a
/// temporary of the same size (ReLU mask, pooling indices) while going back.
const PER_ACTIVATION: u64 = 3;

/// The memory a pass needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// All buffers the pass holds at its peak, in bytes.
    pub total: u64,
    /// The largest single buffer (an activation, or a convolution's unfolded input), in bytes:
    /// it must fit the device's largest storage buffer.
    pub largest: u64,
}

/// Values one output position of the layer that produces `blob` reads (kernel area × input
/// channels), or 0 for layers that are not convolutions.
fn patch_len(blob: Blob) -> u64 {
    let len = match blob {
        // 7×7×3, or 4×4×12 as the GEMM path lays it out (space-to-depth): the larger.
        Blob::Conv1 => 4 * 4 * 12,
        Blob::Conv2Reduce => 64,
        Blob::Conv2 => 3 * 3 * 64,
        Blob::Inception { module, part } => {
            let m = &INCEPTIONS[module];
            match part {
                Part::Conv1x1 | Part::Reduce3x3 | Part::Reduce5x5 | Part::PoolProj => m.input,
                Part::Conv3x3 => 9 * m.c3x3_reduce,
                Part::Conv5x5 => 25 * m.c5x5_reduce,
                Part::Pool | Part::Output | Part::PreRelu(_) => 0,
            }
        }
        Blob::Classifier => 1024,
        _ => 0,
    };
    len as u64
}

/// The memory of a gradient pass from an `[h, w]` RGB tile to `deepest` and back, or `None`
/// when the tile is too small to reach it.
pub fn footprint(deepest: Blob, size: [usize; 2]) -> Option<Footprint> {
    let input = 3 * (size[0] * size[1]) as u64 * F32;
    let mut activations = 0;
    let mut largest = input;
    // A pre-ReLU value is the convolution's output the ReLU then reads: counted once, with
    // the ReLU's blob (or as the last blob when the pass stops at it).
    for blob in Blob::all()
        .into_iter()
        .take_while(|b| b.order() <= deepest.order())
        .filter(|b| !b.is_pre_relu() || *b == deepest)
    {
        let [h, w] = blob.spatial(size)?;
        let positions = (h * w) as u64;
        let bytes = blob.channels() as u64 * positions * F32;
        activations += bytes;
        largest = largest.max(bytes).max(patch_len(blob) * positions * F32);
    }
    Some(Footprint {
        total: 2 * input + PER_ACTIVATION * activations + largest,
        largest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_the_tile_and_the_depth() {
        let small = footprint(Blob::CANONICAL, [224, 224]).unwrap();
        let big = footprint(Blob::CANONICAL, [512, 512]).unwrap();
        let shallow = footprint(Blob::Conv2, [512, 512]).unwrap();
        assert!(big.total > 4 * small.total && big.total < 6 * small.total);
        assert!(shallow.total < big.total);
        // conv1's unfolded input, 192 values at each of 256² positions, is the largest buffer.
        assert_eq!(big.largest, 192 * 256 * 256 * 4);
        assert!(footprint(Blob::CANONICAL, [16, 16]).is_none());
    }
}
