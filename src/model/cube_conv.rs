//! Our stride-1 convolution kernel for CubeCL devices (WebGPU in the page).
//!
//! burn-cubecl's direct kernel gives each invocation one output vector (4 channels at one
//! position), so for every 4 input channels it loads 1 input vector and 4 weight vectors for 16
//! multiply-adds, and it sums each product's components one by one. Here an invocation computes
//! a tile of `POSITIONS` neighbouring positions in a row × 8 output channels (4 where a layer's
//! count is no multiple of 8): for every 4 input channels it loads `POSITIONS` input vectors and
//! 8 weight vectors for `POSITIONS · 32` multiply-adds, each a vector multiply-add across output
//! channels. Loads were what a step on
//! SwiftShader spent its time on; on a real GPU the same register tiling is what direct
//! kernels are built on.
//!
//! It also takes the ReLU after a convolution (every GoogLeNet convolution has one), so that it
//! is no kernel of its own: `relu` clamps the output as it is written. (ReLU's backward inside
//! the kernel, zeroing the gradient as it is loaded, made the kernel slower than the two kernels
//! it saved: each input vector is loaded once per tile of output channels and kernel tap, so the
//! comparisons ran that many times. SwiftShader, 224² step: 1887 / 1942 against 1584 / 1608 ms.)
//!
//! Layouts: input NHWC and output NHWC (vectors along channels, as burn-cubecl's convolutions
//! give and take them), weights `[k, k, C, O]` (vectors along output channels), which
//! [`laid_out`] makes once at load.

use burn::backend::DType;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::cubecl::{self, calculate_cube_count_elemwise};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::ops::{permute, permute_nchw_to_nhwc, permute_nhwc_to_nchw};
use burn_cubecl::tensor::CubeTensor;

/// Neighbouring output positions in a row per invocation.
const POSITIONS: usize = 4;
/// Components per vector: WebGPU's widest.
const VECTOR: usize = 4;

#[cube(launch_unchecked)]
fn conv_tiled<N: Size>(
    input: &Tensor<Vector<f32, N>>,
    weight: &Tensor<Vector<f32, N>>,
    bias: &Tensor<Vector<f32, N>>,
    output: &mut Tensor<Vector<f32, N>>,
    #[comptime] kernel: usize,
    #[comptime] pad: usize,
    #[comptime] positions: usize,
    #[comptime] out_vectors: usize,
    #[comptime] has_bias: bool,
    #[comptime] relu: bool,
) {
    let vector = input.vector_size();
    let height = input.shape(1);
    let width = input.shape(2);
    let c_vectors = input.shape(3) / vector;
    let out_height = output.shape(1);
    let out_width = output.shape(2);
    let o_vectors = output.shape(3) / vector;

    let o_tiles = o_vectors / out_vectors;
    let x_tiles = out_width.div_ceil(positions);
    if ABSOLUTE_POS >= output.shape(0) * out_height * x_tiles * o_tiles {
        terminate!();
    }
    let o_tile = ABSOLUTE_POS % o_tiles;
    let rest = ABSOLUTE_POS / o_tiles;
    let x_tile = rest % x_tiles;
    let rest = rest / x_tiles;
    let y = rest % out_height;
    let b = rest / out_height;
    let x0 = x_tile * positions;
    let o0 = o_tile * out_vectors;

    let mut acc = Array::<Vector<f32, N>>::new(comptime![positions * out_vectors]);
    #[unroll]
    for i in 0..comptime![positions * out_vectors] {
        acc[i] = Vector::new(0.0);
    }
    let mut offsets = Array::<usize>::new(positions);
    let mut inside = Array::<f32>::new(positions);
    let mut pixels = Array::<Vector<f32, N>>::new(positions);

    for ky in 0..kernel {
        let iy = (y + ky) as i32 - pad as i32;
        if iy >= 0 && iy < height as i32 {
            let row = (b * height + iy as usize) * width;
            #[unroll]
            for kx in 0..kernel {
                #[unroll]
                for p in 0..positions {
                    let ix = (x0 + p + kx) as i32 - pad as i32;
                    let within = ix >= 0 && ix < width as i32;
                    offsets[p] = (row + select(within, ix, 0) as usize) * c_vectors;
                    inside[p] = select(within, 1.0, 0.0);
                }
                let taps = (ky * kernel + kx) * c_vectors * vector * o_vectors + o0;
                for cv in 0..c_vectors {
                    #[unroll]
                    for p in 0..positions {
                        pixels[p] = input[offsets[p] + cv] * Vector::new(inside[p]);
                    }
                    #[unroll]
                    for j in 0..vector {
                        let at = taps + (cv * vector + j) * o_vectors;
                        #[unroll]
                        for t in 0..out_vectors {
                            let w = weight[at + t];
                            #[unroll]
                            for p in 0..positions {
                                acc[p * out_vectors + t] += w * Vector::new(pixels[p].extract(j));
                            }
                        }
                    }
                }
            }
        }
    }

    let out_row = (b * out_height + y) * out_width;
    #[unroll]
    for p in 0..positions {
        let x = x0 + p;
        if x < out_width {
            #[unroll]
            for t in 0..out_vectors {
                let mut value = acc[p * out_vectors + t];
                if has_bias {
                    value += bias[o0 + t];
                }
                if relu {
                    // As Burn's ReLU: zero where ≤ 0.
                    let zero = Vector::new(0.0);
                    value = select_many(value.less_equal(&zero), zero, value);
                }
                output[(out_row + x) * o_vectors + o0 + t] = value;
            }
        }
    }
}

/// ReLU's backward in place, `grad` zeroed where the ReLU's output `y` is ≤ 0, on NHWC
/// buffers: one kernel where Burn's is two (a comparison into a mask, then a masked fill).
#[cube(launch_unchecked)]
fn relu_gate<N: Size>(y: &Tensor<Vector<f32, N>>, grad: &mut Tensor<Vector<f32, N>>) {
    let vectors = grad.shape(0) * grad.shape(1) * grad.shape(2) * grad.shape(3) / y.vector_size();
    if ABSOLUTE_POS >= vectors {
        terminate!();
    }
    let zero = Vector::new(0.0);
    grad[ABSOLUTE_POS] = select_many(y[ABSOLUTE_POS].less_equal(&zero), zero, grad[ABSOLUTE_POS]);
}

/// Whether [`relu_backward`] takes `y` and `grad`: both f32 [N, C, H, W] of one shape, with
/// channels in whole vectors.
pub fn takes_relu_backward(y: &CubeTensor, grad: &CubeTensor) -> bool {
    let dims = y.meta.shape().dims::<4>();
    y.dtype == DType::F32
        && grad.dtype == DType::F32
        && grad.meta.shape().dims::<4>() == dims
        && dims[1] % VECTOR == 0
}

/// ReLU's backward (`grad` where `y` > 0, else 0) for tensors [`takes_relu_backward`] takes,
/// written NHWC as the convolution that takes it next reads it, into `grad`'s own buffer when
/// nothing else holds it (a new buffer held the 12 MP page test's peak 129 MB higher).
pub fn relu_backward(y: &CubeTensor, grad: CubeTensor) -> CubeTensor {
    assert!(
        takes_relu_backward(y, &grad),
        "relu_backward: shapes it does not take"
    );
    let [n, c, h, w] = y.meta.shape().dims();
    let y = into_contiguous(permute_nchw_to_nhwc(y.clone()));
    let grad = into_contiguous(permute_nchw_to_nhwc(grad));
    let grad = if grad.can_mut() && grad.is_contiguous_buffer() {
        grad
    } else {
        grad.copy()
    };
    let client = y.client.clone();
    let units = n * h * w * c / VECTOR;
    let cube_dim = CubeDim::new(&client, units);
    let cube_count = calculate_cube_count_elemwise(&client, units, cube_dim);
    // SAFETY: both buffers are contiguous [N, H, W, C] with C in whole vectors, `grad` is held
    // by nothing else (so writing it is safe, and it is not `y`'s buffer), and invocations past
    // the last vector stop.
    unsafe {
        relu_gate::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            VECTOR,
            y.into_tensor_arg(),
            grad.clone().into_tensor_arg(),
        )
    };
    permute_nhwc_to_nchw(grad)
}

/// `weight` [O, C, k, k] as the kernel reads it: [k, k, C, O] in memory, a vector of output
/// channels per tap and input channel. No copy when [`laid_out`] already made it so.
fn stored(weight: CubeTensor) -> CubeTensor {
    into_contiguous(permute(weight, &[2, 3, 1, 0]))
}

/// `weight` [O, C, k, k] [`stored`] as the kernel reads it, still seen as [O, C, k, k] by
/// everything else.
pub fn laid_out(weight: CubeTensor) -> CubeTensor {
    permute(stored(weight), &[3, 2, 0, 1])
}

/// The stride-1 convolution of `x` [N, C, H, W] with `weight` [O, C, k, k] and padding `pad`,
/// through a ReLU if `relu`; or `None` where the kernel does not take it: f32 only, channels in
/// whole vectors, a square kernel that fits.
pub fn conv(
    x: &CubeTensor,
    weight: &CubeTensor,
    bias: Option<&CubeTensor>,
    pad: usize,
    relu: bool,
) -> Option<CubeTensor> {
    let [n, c, h, w] = x.meta.shape().dims();
    let [o, wc, k, kw] = weight.meta.shape().dims();
    let f32s = [Some(x), Some(weight), bias]
        .into_iter()
        .flatten()
        .all(|t| t.dtype == DType::F32);
    if !f32s || wc != c || kw != k || c % VECTOR != 0 || o % VECTOR != 0 {
        return None;
    }
    let out_h = super::blob::conv_out(h, k, 1, pad)?;
    let out_w = super::blob::conv_out(w, k, 1, pad)?;
    let (x, weight, bias) = (x.clone(), weight.clone(), bias.cloned());

    let input = into_contiguous(permute_nchw_to_nhwc(x));
    let weight = stored(weight);
    let bias = bias.map(into_contiguous);
    let client = input.client.clone();
    let output = empty_device_contiguous_dtype(
        client.clone(),
        input.device.clone(),
        [n, out_h, out_w, o].into(),
        DType::F32,
    );

    let out_vectors = if o % (2 * VECTOR) == 0 { 2 } else { 1 };
    let units = n * out_h * out_w.div_ceil(POSITIONS) * (o / VECTOR / out_vectors);
    let cube_dim = CubeDim::new(&client, units);
    let cube_count = calculate_cube_count_elemwise(&client, units, cube_dim);
    let has_bias = bias.is_some();
    // Unread when there is no bias; any f32 buffer will do.
    let bias = bias.unwrap_or_else(|| weight.clone());
    // SAFETY: every read is in bounds: input rows outside the image are skipped, columns outside
    // it are clamped to column 0 and masked to zero, weight and bias indices stay below
    // k·k·C·O and O by construction; writes past the row's end and invocations past the last
    // tile are skipped. The shapes and vector size are the ones checked above.
    unsafe {
        conv_tiled::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            VECTOR,
            input.into_tensor_arg(),
            weight.into_tensor_arg(),
            bias.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            k,
            pad,
            POSITIONS,
            out_vectors,
            has_bias,
            relu,
        )
    };
    Some(permute_nhwc_to_nchw(output))
}

// Under fusion a dispatch tensor holds fusion's tensor, not the CubeCL one these tests reach.
#[cfg(all(test, not(target_family = "wasm"), not(feature = "fusion")))]
mod tests {
    use super::*;
    use burn::backend::Cube;
    use burn::backend::ops::{ActivationOps, FloatTensorOps, ModuleOps};
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Distribution, Tensor, TensorData, Tolerance};
    use burn_dispatch::{BackendTensor, DispatchTensorKind};

    fn cube<const D: usize>(t: Tensor<D>) -> CubeTensor {
        match t.into_dispatch().kind {
            DispatchTensorKind::Cube(BackendTensor::Float(t)) => t,
            _ => panic!("not a float tensor on a CubeCL device"),
        }
    }

    fn data(t: CubeTensor) -> TensorData {
        pollster::block_on(Cube::float_into_data(t)).expect("reading back")
    }

    /// The kernel equals Burn's `conv2d` for every kernel size the page's convolutions have
    /// (4×4: conv1 by space-to-depth), with one and two output vectors per invocation, widths
    /// that leave a partial tile, with and without bias, on weights as given and as laid out,
    /// and with the ReLU it takes (Burn's `relu` after Burn's convolution).
    /// It refuses what it cannot take (channels not in whole vectors) rather than computing it.
    #[test]
    fn the_tiled_kernel_equals_burns_convolution() {
        let device = crate::device::test_gpu();
        // Values of both signs, so that the ReLU clamps.
        let random = |shape: [usize; 4]| {
            Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device)
        };
        for (kernel, pad) in [(1, 0), (3, 1), (5, 2), (4, 1), (3, 0)] {
            for (o, [h, w]) in [(12, [7, 9]), (16, [6, 5]), (24, [3, 13])] {
                let c = 8;
                let x = cube(random([2, c, h, w]));
                let weight = cube(random([o, c, kernel, kernel]));
                let bias = cube(random([1, 1, 1, o]).reshape::<1, _>([o]));
                for (with_bias, relu) in [(true, false), (false, false), (true, true)] {
                    let bias = with_bias.then(|| bias.clone());
                    let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
                    let expected = Cube::conv2d(x.clone(), weight.clone(), bias.clone(), options);
                    let expected = data(if relu { Cube::relu(expected) } else { expected });
                    for weight in [weight.clone(), laid_out(weight.clone())] {
                        let ours = conv(&x, &weight, bias.as_ref(), pad, relu).expect("taken");
                        data(ours).assert_approx_eq::<f32>(
                            &expected,
                            Tolerance::<f32>::rel_abs(1e-5, 1e-5),
                        );
                    }
                }
            }
        }
        let three = cube(random([1, 3, 8, 8]));
        assert!(conv(&three, &cube(random([8, 3, 3, 3])), None, 1, false).is_none());
    }

    /// Our ReLU backward equals Burn's, on tensors the convolution wrote (NHWC underneath), with
    /// the gradient shared (copied first) and then held by nothing else (written in place); the
    /// shared one is left as it was. Shapes it cannot take are refused.
    #[test]
    fn the_relu_gate_equals_burns_relu_backward() {
        let device = crate::device::test_gpu();
        let random = |shape: [usize; 4]| {
            cube(Tensor::<4>::random(
                shape,
                Distribution::Uniform(-1.0, 1.0),
                &device,
            ))
        };
        let [x, weight] = [random([2, 8, 5, 7]), random([12, 8, 3, 3])];
        let y = conv(&x, &weight, None, 1, true).expect("taken");
        // A gradient NHWC underneath as well, so that the last call writes it in place.
        let grad = conv(&random([2, 8, 5, 7]), &weight, None, 1, false).expect("taken");
        let expected = data(Cube::relu_backward(y.clone(), grad.clone()));
        let before = data(grad.clone());
        let ours = relu_backward(&y, grad.clone());
        data(ours).assert_approx_eq::<f32>(&expected, Tolerance::<f32>::rel_abs(0.0, 0.0));
        assert_eq!(data(grad.clone()), before, "a shared gradient was written");
        let ours = relu_backward(&y, grad);
        data(ours).assert_approx_eq::<f32>(&expected, Tolerance::<f32>::rel_abs(0.0, 0.0));
        let (odd, odd_grad) = (random([1, 6, 4, 4]), random([1, 6, 4, 4]));
        assert!(!takes_relu_backward(&odd, &odd_grad));
    }
}
