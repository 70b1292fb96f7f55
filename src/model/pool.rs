//! Caffe's max pooling (ceil-mode output size), with a CPU forward pass of its own.
//!
//! Flex's `max_pool2d_with_indices` visits each window in a scalar loop whose branch on the
//! data mispredicts: it was 23 % of a CPU gradient step at 512² (perf, `README`, "Speed").
//! Here flex pools each plane separably — the rows' maxima over the window's columns, then
//! the maximum of those over the window's rows — in loops of masks the compiler vectorises
//! (a strided window reads its row dealt into phases, so every loop reads contiguously): about
//! five times faster than branches and strided reads (docs/performance.md, "Behind the code").
//! The argmax is the same as flex's and Caffe's, the first maximum in row-major order (the
//! earliest row that holds the window's maximum, and in it the earliest column), so flex's
//! own backward scatters the gradient with these indices. Other backends keep Burn's pooling.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, IntDType, Tensor, TensorData};
use burn_cubecl::CubeBackend;
use burn_flex::FlexTensor;

use super::blob::caffe_pool_out;

/// A square window: its side, stride and padding.
#[derive(Debug, Clone, Copy)]
struct Window {
    kernel: usize,
    stride: usize,
    pad: usize,
}

impl Window {
    /// The outputs `o` whose window's offset `k` lands inside `0..side`.
    fn valid_outputs(self, k: usize, side: usize, outs: usize) -> std::ops::Range<usize> {
        let Window { stride, pad, .. } = self;
        let first = pad.saturating_sub(k).div_ceil(stride);
        let end = (side + pad)
            .checked_sub(k)
            .map_or(0, |n| n.div_ceil(stride));
        first..end.min(outs)
    }
}

#[backend_extension(Cube: cfg(all()), Flex, Autodiff, Fusion: cfg(feature = "fusion"))]
pub trait CaffeMaxPool: Backend {
    /// Max pooling of `x` ([N, C, H, W]) with a `kernel`² window, `stride` and `pad`, ceil mode.
    #[fusion(default)]
    fn caffe_max_pool(
        x: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        Self::caffe_max_pool_with_indices(x, kernel, stride, pad).0
    }

    /// The pooling and each output's argmax, as an index into its [H, W] plane (the indices
    /// `max_pool2d_with_indices_backward` reads).
    #[fusion(default)]
    fn caffe_max_pool_with_indices(
        x: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> (FloatTensor<Self>, IntTensor<Self>) {
        burns::<Self>(x, kernel, stride, pad)
    }
}

/// Burn's pooling with indices, in Caffe's mode.
fn burns<B: Backend>(
    x: FloatTensor<B>,
    kernel: usize,
    stride: usize,
    pad: usize,
) -> (FloatTensor<B>, IntTensor<B>) {
    let pooled = B::max_pool2d_with_indices(
        x,
        [kernel; 2],
        [stride; 2],
        [pad; 2],
        [1, 1],
        true,
        IntDType::I32,
    );
    (pooled.output, pooled.indices)
}

impl CaffeMaxPool for CubeBackend {}

impl CaffeMaxPool for Flex {
    fn caffe_max_pool_with_indices(
        x: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> (FloatTensor<Self>, IntTensor<Self>) {
        if x.dtype() != DType::F32 {
            return burns::<Self>(x, kernel, stride, pad);
        }
        let window = Window {
            kernel,
            stride,
            pad,
        };
        let [n, c, h, w] = x.shape().dims();
        let out_side = |side| caffe_pool_out(side, kernel, stride, pad);
        let (Some(oh), Some(ow)) = (out_side(h), out_side(w)) else {
            return burns::<Self>(x, kernel, stride, pad);
        };
        let x = x.to_contiguous();
        if n * c * h * w * oh * ow == 0 {
            return burns::<Self>(x, kernel, stride, pad);
        }
        let mut out = vec![0f32; n * c * oh * ow];
        let mut indices = vec![0i32; n * c * oh * ow];
        let plane = |((x, out), indices): ((&[f32], &mut [f32]), &mut [i32])| {
            pool_plane(x, [h, w], [oh, ow], window, out, indices)
        };
        let x = x.storage::<f32>();
        #[cfg(not(target_family = "wasm"))]
        {
            use rayon::prelude::*;
            x.par_chunks_exact(h * w)
                .zip(out.par_chunks_exact_mut(oh * ow))
                .zip(indices.par_chunks_exact_mut(oh * ow))
                .for_each(plane);
        }
        #[cfg(target_family = "wasm")]
        x.chunks_exact(h * w)
            .zip(out.chunks_exact_mut(oh * ow))
            .zip(indices.chunks_exact_mut(oh * ow))
            .for_each(plane);
        (
            FlexTensor::from_data(TensorData::new(out, [n, c, oh, ow])),
            FlexTensor::from_data(TensorData::new(indices, [n, c, oh, ow])),
        )
    }
}

/// Pools one [H, W] plane into `out` and `indices` ([OH, OW]).
fn pool_plane(
    x: &[f32],
    [h, w]: [usize; 2],
    [oh, ow]: [usize; 2],
    window: Window,
    out: &mut [f32],
    indices: &mut [i32],
) {
    let Window {
        kernel,
        stride,
        pad,
    } = window;
    // Each input row's maximum over each output column's window, and its column.
    let mut row_max = vec![f32::NEG_INFINITY; h * ow];
    let mut row_arg = vec![0i32; h * ow];
    // A row's columns dealt into `stride` phases (column c to phase c % stride, at c / stride),
    // so that each window offset reads one phase contiguously, as a stride of 1 does.
    let span = w.div_ceil(stride);
    let mut phases = vec![0f32; stride * span];
    for ((x, row_max), row_arg) in x
        .chunks_exact(w)
        .zip(row_max.chunks_exact_mut(ow))
        .zip(row_arg.chunks_exact_mut(ow))
    {
        let x = if stride == 1 {
            x
        } else {
            for (q, phase) in phases.chunks_exact_mut(span).enumerate() {
                for (p, v) in phase.iter_mut().zip(x[q..].iter().step_by(stride)) {
                    *p = *v;
                }
            }
            &phases
        };
        for k in 0..kernel {
            let outs = window.valid_outputs(k, w, ow);
            let n = outs.len();
            let first = outs.start * stride + k - pad;
            let (max, arg) = (&mut row_max[outs.clone()], &mut row_arg[outs]);
            // Column `first + j·stride` is `phases[first % stride][first / stride + j]`.
            let phase = &x[(first % stride) * span..][first / stride..][..n];
            for j in 0..n {
                keep_max(
                    &mut max[j],
                    &mut arg[j],
                    phase[j],
                    (first + j * stride) as i32,
                );
            }
        }
    }
    // The maximum of those over each output row's window of rows.
    out.fill(f32::NEG_INFINITY);
    let rows = out.chunks_exact_mut(ow).zip(indices.chunks_exact_mut(ow));
    for (i, (out, indices)) in rows.take(oh).enumerate() {
        for k in 0..kernel {
            let Some(row) = (i * stride + k).checked_sub(pad).filter(|&r| r < h) else {
                continue;
            };
            let base = (row * w) as i32;
            let maxima = row_max[row * ow..][..ow]
                .iter()
                .zip(&row_arg[row * ow..][..ow]);
            for ((m, a), (o, index)) in maxima.zip(out.iter_mut().zip(indices.iter_mut())) {
                keep_max(o, index, *m, base + *a);
            }
        }
    }
}

/// `(max, arg)` becomes `(v, at)` where `v` is greater (strictly: the first maximum stays), by
/// masks rather than a branch, so that the loops vectorise (a branch on the data mispredicts).
#[inline(always)]
fn keep_max(max: &mut f32, arg: &mut i32, v: f32, at: i32) {
    let mask = -i32::from(v > *max);
    *max = f32::from_bits((max.to_bits() & !mask as u32) | (v.to_bits() & mask as u32));
    *arg = (*arg & !mask) | (at & mask);
}

impl<B: Backend + CaffeMaxPool, C: CheckpointStrategy> CaffeMaxPool for Autodiff<B, C> {
    fn caffe_max_pool(
        x: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ToInput;

        impl<B: Backend> Backward<B, 1> for ToInput {
            /// The input (for its shape), the argmax indices and the window.
            type State = (FloatTensor<B>, IntTensor<B>, [usize; 3]);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (x, indices, [kernel, stride, pad]) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::max_pool2d_with_indices_backward(
                        x,
                        [kernel; 2],
                        [stride; 2],
                        [pad; 2],
                        [1, 1],
                        true,
                        grad,
                        indices,
                    )
                    .x_grad
                });
            }
        }

        match ToInput.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let x = x.into_primitive();
                let (y, indices) = B::caffe_max_pool_with_indices(x.clone(), kernel, stride, pad);
                prep.finish((x, indices, [kernel, stride, pad]), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::caffe_max_pool(x.into_primitive(), kernel, stride, pad))
            }
        }
    }
}

/// Caffe's max pooling of `x` ([N, C, H, W]): a `kernel`² window, `stride`, `pad`, ceil mode.
pub fn caffe_max_pool(x: Tensor<4>, kernel: usize, stride: usize, pad: usize) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CaffeMaxPool>::caffe_max_pool(
        x.into_dispatch(),
        kernel,
        stride,
        pad,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use burn::tensor::module::max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;

    /// Burn's pooling, as the model ran it before.
    fn reference(x: Tensor<4>, kernel: usize, stride: usize, pad: usize) -> Tensor<4> {
        max_pool2d(
            x,
            MaxPoolOptions::new([kernel, kernel])
                .with_stride([stride, stride])
                .with_padding([pad, pad])
                .with_ceil_mode(true),
        )
    }

    #[test]
    fn the_plane_pooling_equals_burns_forward_and_back() {
        // GoogLeNet's two windows, on odd and even sides (ceil mode adds a cut window on
        // some), with ties in most windows, along rows and columns: four levels, 0 to 3.
        let device = Device::flex().autodiff();
        for (kernel, stride, pad) in [(3, 2, 0), (3, 1, 1)] {
            for [h, w] in [[7, 6], [8, 9], [3, 3], [4, 5]] {
                let values: Vec<f32> = (0..2 * 3 * h * w)
                    .map(|i| ((i as u64 * 2_654_435_761) >> 13) as f32 % 4.0)
                    .collect();
                let x = || {
                    Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 3, h, w]), &device)
                        .require_grad()
                };
                let weights = |y: &Tensor<4>| {
                    let n = y.shape().num_elements();
                    let ramp: Vec<f32> = (0..n).map(|i| 1.0 + i as f32).collect();
                    Tensor::<4>::from_data(TensorData::new(ramp, y.dims()), &device)
                };
                let run = |pool: &dyn Fn(Tensor<4>) -> Tensor<4>| {
                    let x = x();
                    let y = pool(x.clone());
                    // Each output's gradient is distinct, so a wrong argmax shows.
                    let grads = (y.clone() * weights(&y)).sum().backward();
                    let g = x.grad(&grads).unwrap().into_data();
                    (y.into_data(), g)
                };
                let ours = run(&|x| caffe_max_pool(x, kernel, stride, pad));
                let theirs = run(&|x| reference(x, kernel, stride, pad));
                assert_eq!(
                    ours.0.shape(),
                    theirs.0.shape(),
                    "{kernel} {stride} {pad} {h}×{w}"
                );
                let values = |d: &TensorData| d.iter::<f32>().collect::<Vec<_>>();
                assert_eq!(
                    values(&ours.0),
                    values(&theirs.0),
                    "{kernel} {stride} {pad} {h}×{w}"
                );
                assert_eq!(
                    values(&ours.1),
                    values(&theirs.1),
                    "{kernel} {stride} {pad} {h}×{w}"
                );
            }
        }
    }
}
