//! A stride-1 convolution whose gradient to the input runs the forward convolution kernel.
//!
//! Autodiff takes a convolution's gradient to its input with `conv2d_x_backward`, which on
//! burn-cubecl without autotune is the direct transposed-convolution kernel and on flex a
//! transposed convolution. For stride 1 the same gradient is an ordinary convolution of the
//! output's gradient with the weights mirrored — input and output channels swapped, the kernel
//! turned 180°, padding `k − 1 − p` — so this op registers that as its backward. The dream
//! never trains, so the weights get no gradient.
//!
//! The op can take the ReLU after the convolution too: then the convolution clamps its output
//! as it writes it, and the backward runs ReLU's backward on the output it kept before the
//! mirrored convolution (on the GPU two kernels fewer per layer and step, Burn's ReLU being a
//! comparison and a masked fill).

use std::cell::RefCell;

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};
use burn_cubecl::CubeBackend;
use burn_flex::FlexTensor;

use super::blob::conv_out;
use super::cube_conv::Kernel;

/// The output's shape of a stride-1 convolution of `x` by `weight` with padding `pad`.
#[cfg(feature = "fusion")]
fn stride_one_out(
    x: &burn::tensor::Shape,
    weight: &burn::tensor::Shape,
    pad: &usize,
) -> burn::tensor::Shape {
    let side = |i: usize| conv_out(x[i], weight[i], 1, *pad).unwrap_or(0);
    burn::tensor::Shape::from([x[0], weight[0], side(2), side(3)])
}

fn options(pad: usize) -> ConvOptions<2> {
    ConvOptions::new([1, 1], [pad, pad], [1, 1], 1)
}

/// With Burn's fusion (the `fusion` feature) each method is also a lazy custom operation of
/// `Fusion<CubeBackend>`, run by [`CubeBackend`]'s implementation when the stream executes.
#[backend_extension(Cube: cfg(all()), Flex, Autodiff, Fusion: cfg(feature = "fusion"))]
pub trait MirroredConv: Backend {
    /// `conv2d` with stride 1 and padding `pad`, then a ReLU if `relu`; `mirrored` is the
    /// weights as [`mirror`] lays them out, for the gradient. Without autodiff it is the
    /// backend's [`StrideOneConv`] (the same kernel the tracked forward runs), and `mirrored`
    /// goes unread. `workgroup` picks our workgroup-tiled kernel on CubeCL devices, both ways.
    #[fusion(dtype = x, shape = stride_one_out(x, weight, pad))]
    fn conv_mirrored(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        mirrored: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        workgroup: bool,
    ) -> FloatTensor<Self>;

    /// `weight` laid out in memory as the convolution reads it, once at load rather than at
    /// every call: flex's flips, swaps and permutes are views that its convolutions copy, and
    /// our CubeCL kernel reads vectors of output channels. (Weights are laid out before they
    /// meet autodiff, so its default keeps them as they are.)
    #[fusion(dtype = weight, shape = weight)]
    fn laid_out(weight: FloatTensor<Self>) -> FloatTensor<Self> {
        weight
    }
}

/// The convolution both ways of [`MirroredConv`] run: stride 1, padding `pad`, the output
/// through a ReLU if `relu`. Our own on each backend: on flex one matrix product per image, on
/// CubeCL [`super::cube_conv`]'s kernel. (An extension so that fusion can wrap it; autodiff
/// reaches it directly, never through `Dispatch`.)
#[backend_extension(Cube: cfg(all()), Flex, Fusion: cfg(feature = "fusion"))]
pub trait StrideOneConv: Backend {
    #[fusion(dtype = x, shape = stride_one_out(x, weight, pad))]
    fn conv_stride_one(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        workgroup: bool,
    ) -> FloatTensor<Self>;

    /// The gradient's convolution: `grad` by the `mirrored` weights with padding `pad`, no
    /// bias and no ReLU. (A method of its own because an extension cannot take an optional
    /// tensor.)
    #[fusion(dtype = grad, shape = stride_one_out(grad, mirrored, pad))]
    fn conv_to_input(
        grad: FloatTensor<Self>,
        mirrored: FloatTensor<Self>,
        pad: usize,
        workgroup: bool,
    ) -> FloatTensor<Self>;

    /// ReLU's backward: `grad` where the ReLU's output `y` is > 0, else 0.
    #[fusion(dtype = grad, shape = grad)]
    fn relu_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as ActivationOps<Self>>::relu_backward(y, grad)
    }
}

impl MirroredConv for CubeBackend {
    fn conv_mirrored(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        _mirrored: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        workgroup: bool,
    ) -> FloatTensor<Self> {
        Self::conv_stride_one(x, weight, bias, pad, relu, workgroup)
    }

    fn laid_out(weight: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cube_conv::laid_out(weight)
    }
}

impl StrideOneConv for CubeBackend {
    fn conv_stride_one(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        workgroup: bool,
    ) -> FloatTensor<Self> {
        cube_conv(x, weight, Some(bias), pad, relu, workgroup)
    }

    fn conv_to_input(
        grad: FloatTensor<Self>,
        mirrored: FloatTensor<Self>,
        pad: usize,
        workgroup: bool,
    ) -> FloatTensor<Self> {
        cube_conv(grad, mirrored, None, pad, false, workgroup)
    }

    /// One kernel of ours, written as the next convolution reads it, else Burn's two.
    fn relu_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if super::cube_conv::takes_relu_backward(&y, &grad) {
            super::cube_conv::relu_backward(&y, grad)
        } else {
            <Self as ActivationOps<Self>>::relu_backward(y, grad)
        }
    }
}

/// Our kernel ([`super::cube_conv`]: workgroup-tiled if `workgroup`, else register-tiled) where
/// it takes the shapes, else Burn's.
fn cube_conv(
    x: FloatTensor<CubeBackend>,
    weight: FloatTensor<CubeBackend>,
    bias: Option<FloatTensor<CubeBackend>>,
    pad: usize,
    relu: bool,
    workgroup: bool,
) -> FloatTensor<CubeBackend> {
    let kernel = if workgroup {
        Kernel::Workgroup
    } else {
        Kernel::Register
    };
    super::cube_conv::conv(kernel, &x, &weight, bias.as_ref(), pad, relu)
        .unwrap_or_else(|| burns::<CubeBackend>(x, weight, bias, pad, relu))
}

/// [`StrideOneConv`] from Burn's own ops: its `conv2d`, then its `relu` if asked.
fn burns<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
    pad: usize,
    relu: bool,
) -> FloatTensor<B> {
    let y = B::conv2d(x, weight, bias, options(pad));
    if relu { B::relu(y) } else { y }
}

impl MirroredConv for Flex {
    fn conv_mirrored(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        _mirrored: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        workgroup: bool,
    ) -> FloatTensor<Self> {
        Self::conv_stride_one(x, weight, bias, pad, relu, workgroup)
    }

    fn laid_out(weight: FloatTensor<Self>) -> FloatTensor<Self> {
        weight.to_contiguous()
    }
}

impl StrideOneConv for Flex {
    fn conv_stride_one(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        _workgroup: bool,
    ) -> FloatTensor<Self> {
        flex_conv(x, weight, Some(bias), pad, relu)
    }

    fn conv_to_input(
        grad: FloatTensor<Self>,
        mirrored: FloatTensor<Self>,
        pad: usize,
        _workgroup: bool,
    ) -> FloatTensor<Self> {
        flex_conv(grad, mirrored, None, pad, false)
    }
}

/// One matrix product per image, [O, C·k·k] × [C·k·k, H·W] (an im2col of contiguous row
/// copies), written straight into NCHW. Flex's `conv2d` converts to NHWC and back and writes
/// each tile's result one channel plane apart per element, and its transposed convolution
/// scatters a col2im; those were a fifth of a CPU step at 512² (perf).
fn flex_conv(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    pad: usize,
    relu: bool,
) -> FlexTensor {
    let [n, c, h, w] = x.shape().dims();
    let [o, wc, kh, kw] = weight.shape().dims();
    let f32s = x.dtype() == DType::F32 && weight.dtype() == DType::F32;
    let bias_f32s = bias.as_ref().is_none_or(|b| b.dtype() == DType::F32);
    let ours = f32s && bias_f32s && wc == c;
    let (true, Some(oh), Some(ow)) = (ours, conv_out(h, kh, 1, pad), conv_out(w, kw, 1, pad))
    else {
        return burns::<Flex>(x, weight, bias, pad, relu);
    };
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let mut out = vec![0f32; n * o * oh * ow];
    if let Some(bias) = bias {
        let bias = bias.to_contiguous();
        for (plane, b) in out
            .chunks_exact_mut(oh * ow)
            .zip(bias.storage::<f32>().iter().cycle())
        {
            plane.fill(*b);
        }
    }
    let shape = Im2col {
        channels: c,
        side: [h, w],
        kernel: [kh, kw],
        pad,
        out: [oh, ow],
    };
    let xs = x.storage::<f32>();
    for (x, out) in xs
        .chunks_exact(c * h * w)
        .zip(out.chunks_exact_mut(o * oh * ow))
    {
        shape.conv(x, weight.storage::<f32>(), out, MAX_COLUMNS);
    }
    let y = FlexTensor::from_data(TensorData::new(out, [n, o, oh, ow]));
    // Flex's own ReLU: a clamp of ours over `out` measured no faster.
    if relu { Flex::relu(y) } else { y }
}

/// The geometry of one image's stride-1 convolution.
struct Im2col {
    channels: usize,
    side: [usize; 2],
    kernel: [usize; 2],
    pad: usize,
    out: [usize; 2],
}

thread_local! {
    /// The patch matrix, kept between convolutions: a fresh one each time cost more in page
    /// faults on first touch than the copying into it.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The most columns matrix one product reads, in floats (32 MB): larger images go in bands of
/// output rows.
const MAX_COLUMNS: usize = 1 << 23;

impl Im2col {
    /// Rows of the patch matrix: one per input channel and kernel tap.
    fn depth(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// A 1×1 convolution without padding reads the image itself as its patch matrix.
    fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.pad == 0
    }

    /// `out` ([O, OH·OW], holding the bias) += `weight` ([O, C·k·k]) × the patches of `x`
    /// ([C, H, W]), in bands of output rows whose patch matrix holds at most `max_columns`.
    fn conv(&self, x: &[f32], weight: &[f32], out: &mut [f32], max_columns: usize) {
        let [oh, ow] = self.out;
        let band = if self.pointwise() {
            oh
        } else {
            (max_columns / (self.depth() * ow)).clamp(1, oh)
        };
        let needed = if self.pointwise() {
            0
        } else {
            self.depth() * band * ow
        };
        let mut bands = |columns: &mut Vec<f32>| {
            if columns.len() < needed {
                *columns = vec![0f32; needed];
            }
            for y0 in (0..oh).step_by(band) {
                self.conv_band(x, weight, out, [y0, band.min(oh - y0)], columns);
            }
        };
        // A convolution started while this thread's buffer is in use (a rayon worker taking
        // another job while it waits) gets a buffer of its own.
        COLUMNS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut columns) => bands(&mut columns),
            Err(_) => bands(&mut Vec::new()),
        });
    }

    /// Output rows `y0..y0 + rows` of [`Self::conv`].
    fn conv_band(
        &self,
        x: &[f32],
        weight: &[f32],
        out: &mut [f32],
        [y0, rows]: [usize; 2],
        columns: &mut [f32],
    ) {
        let Im2col {
            side: [h, w],
            kernel,
            pad,
            out: [oh, ow],
            ..
        } = *self;
        let (depth, cols) = (self.depth(), rows * ow);
        let (rhs, rhs_rs) = if self.pointwise() {
            (x, h * w)
        } else {
            let columns = &mut columns[..depth * cols];
            fill_columns(x, [h, w], kernel, pad, [y0, rows, ow], columns);
            (&*columns, cols)
        };
        // SAFETY: `out` holds O rows of OH·OW from column y0·OW on, `weight` O rows of
        // `depth`, `rhs` `depth` rows of `cols` (`rhs_rs` apart), as the strides say.
        unsafe {
            gemm::gemm(
                weight.len() / depth,
                cols,
                depth,
                out.as_mut_ptr().add(y0 * ow),
                1,
                (oh * ow) as isize,
                true,
                weight.as_ptr(),
                1,
                depth as isize,
                rhs.as_ptr(),
                1,
                rhs_rs as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism(out.len() / (oh * ow) * cols * depth),
            );
        }
    }
}

/// The patch matrix of output rows `y0..y0 + rows`: row (c, ky, kx) holds, for each output
/// pixel, the input pixel under that kernel tap (zero in the padding).
fn fill_columns(
    x: &[f32],
    [h, w]: [usize; 2],
    [kh, kw]: [usize; 2],
    pad: usize,
    [y0, rows, ow]: [usize; 3],
    columns: &mut [f32],
) {
    let fill = |(row, dst): (usize, &mut [f32])| {
        let (c, ky, kx) = (row / (kh * kw), row / kw % kh, row % kw);
        let plane = &x[c * h * w..][..h * w];
        // Output columns whose tap lands inside the row: kx − pad + x in 0..w.
        let first = pad.saturating_sub(kx);
        let end = (w + pad).saturating_sub(kx).min(ow);
        for (y, dst) in (y0..y0 + rows).zip(dst.chunks_exact_mut(ow)) {
            match (y + ky).checked_sub(pad).filter(|&iy| iy < h) {
                Some(iy) if first < end => {
                    dst[..first].fill(0.0);
                    let src = &plane[iy * w..][first + kx - pad..][..end - first];
                    dst[first..end].copy_from_slice(src);
                    dst[end..].fill(0.0);
                }
                _ => dst.fill(0.0),
            }
        }
    };
    let per_row = rows * ow;
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        columns
            .par_chunks_exact_mut(per_row)
            .enumerate()
            .for_each(fill);
    }
    #[cfg(target_family = "wasm")]
    columns.chunks_exact_mut(per_row).enumerate().for_each(fill);
}

/// Threads for a product of `flops` multiply-adds: all of them natively once it is big enough
/// to share, none in the browser.
fn parallelism(flops: usize) -> gemm::Parallelism {
    #[cfg(not(target_family = "wasm"))]
    if flops >= 1 << 20 {
        return gemm::Parallelism::Rayon(0);
    }
    let _ = flops;
    gemm::Parallelism::None
}

impl<B: Backend + MirroredConv + StrideOneConv, C: CheckpointStrategy> MirroredConv
    for Autodiff<B, C>
{
    fn conv_mirrored(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        mirrored: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        workgroup: bool,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ToInput;

        impl<B: Backend + StrideOneConv> Backward<B, 1> for ToInput {
            /// The mirrored weights, the gradient's padding, the output when a ReLU was taken
            /// (its backward reads it), and the kernel.
            type State = (FloatTensor<B>, usize, Option<FloatTensor<B>>, bool);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (mirrored, pad, gate, workgroup) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    let grad = match gate {
                        Some(y) => <B as StrideOneConv>::relu_backward(y, grad),
                        None => grad,
                    };
                    B::conv_to_input(grad, mirrored, pad, workgroup)
                });
            }
        }

        let kernel = weight.primitive().shape()[2];
        let weight = weight.into_primitive();
        let bias = bias.into_primitive();
        match ToInput.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y =
                    B::conv_stride_one(x.primitive().clone(), weight, bias, pad, relu, workgroup);
                let gate = relu.then(|| y.clone());
                let state = (mirrored.into_primitive(), kernel - 1 - pad, gate, workgroup);
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv_stride_one(
                x.into_primitive(),
                weight,
                bias,
                pad,
                relu,
                workgroup,
            )),
        }
    }
}

/// The weights [O, C, k, k] as the gradient's convolution reads them: [C, O, k, k], turned 180°.
pub fn mirror(weight: Tensor<4>) -> Tensor<4> {
    laid_out(weight.swap_dims(0, 1).flip([2, 3]))
}

/// `weight` laid out in memory as the convolution reads it ([`MirroredConv::laid_out`]).
pub fn laid_out(weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as MirroredConv>::laid_out(weight.into_dispatch()))
}

/// The stride-1 convolution of `x` ([N, C, H, W]) with `weight` ([O, C, k, k]), `bias` and
/// `pad`, then a ReLU if `relu`, whose gradient to `x` is a convolution with `mirrored`
/// (= [`mirror`] of `weight`); on our workgroup-tiled GPU kernel if `workgroup`.
pub fn conv_mirrored(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    mirrored: Tensor<4>,
    pad: usize,
    relu: bool,
    workgroup: bool,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as MirroredConv>::conv_mirrored(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        mirrored.into_dispatch(),
        pad,
        relu,
        workgroup,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// Flex's own convolution equals Burn's, whole and in bands of output rows (the way a
    /// large image goes), for a padded kernel and a 1×1 one.
    #[test]
    fn the_patch_matrix_convolution_equals_burns_in_any_bands() {
        let device = Device::flex();
        for (kernel, pad) in [(3, 1), (5, 2), (1, 0), (2, 0)] {
            let [c, h, w, o] = [5, 9, 7, 6];
            let x = Tensor::<4>::random([1, c, h, w], Distribution::Default, &device);
            let weight =
                Tensor::<4>::random([o, c, kernel, kernel], Distribution::Default, &device);
            let bias = Tensor::<1>::random([o], Distribution::Default, &device);
            let expected = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options(pad));
            let [oh, ow] = [h, w].map(|side| conv_out(side, kernel, 1, pad).unwrap());
            let shape = Im2col {
                channels: c,
                side: [h, w],
                kernel: [kernel; 2],
                pad,
                out: [oh, ow],
            };
            let values = |t: Tensor<4>| t.into_data().iter::<f32>().collect::<Vec<_>>();
            let (x, weight) = (
                values(x),
                values(weight.reshape([1, o, c * kernel, kernel])),
            );
            let bias: Vec<f32> = bias.into_data().iter::<f32>().collect();
            // Bands of one output row, of two, and the whole image.
            for max_columns in [shape.depth() * ow, 2 * shape.depth() * ow, usize::MAX / 2] {
                let mut out: Vec<f32> = bias.iter().flat_map(|b| vec![*b; oh * ow]).collect();
                shape.conv(&x, &weight, &mut out, max_columns);
                TensorData::new(out, [1, o, oh, ow]).assert_approx_eq::<f32>(
                    &expected.clone().into_data(),
                    Tolerance::<f32>::rel_abs(1e-5, 1e-5),
                );
            }
        }
    }
}
