//! GoogLeNet's convolutions, and the two ways a device runs them.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Slice, Tensor};

/// How a device's convolutions run, forward and back to the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    /// Burn's `conv2d`. Flex's is already a blocked matrix product; the im2col path measured
    /// slower there (512², 2 threads: 563 vs 460 ms a step).
    Direct,
    /// An im2col of plain tensor ops and one matrix product per layer. Without autotune
    /// burn-cubecl runs every convolution, and its transpose for the gradient, on a direct
    /// kernel (one thread per output, nothing shared), while its matmul is tiled; with autotune
    /// WebGPU still gets the direct kernel for k×k. Measured on lavapipe, a step at 512² took
    /// 4.4 s this way against 8.3 s on the direct kernel.
    Gemm,
}

impl ConvPath {
    /// The faster path on `device`: direct on the CPU backend, matrix products on wgpu.
    pub fn for_device(device: &Device) -> Self {
        if *device == Device::flex() {
            ConvPath::Direct
        } else {
            ConvPath::Gemm
        }
    }
}

/// A square convolution with bias; field names are the weights file's keys.
#[derive(Module, Debug)]
pub struct Conv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    stride: usize,
    pad: usize,
    /// The weights as the matrix [`im2col`]'s patches multiply, on the [`ConvPath::Gemm`] path.
    #[module(skip)]
    matrix: Option<Tensor<3>>,
}

impl Conv {
    /// An all-zero convolution of the right shape (the weights file overwrites every value).
    pub fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        pad: usize,
        device: &Device,
    ) -> Self {
        let [input, out] = channels;
        Self::from_tensors(
            Tensor::zeros([out, input, kernel, kernel], device),
            Tensor::zeros([out], device),
            stride,
            pad,
        )
    }

    /// A convolution with these weights ([O, C, k, k]) and bias ([O]).
    pub fn from_tensors(weight: Tensor<4>, bias: Tensor<1>, stride: usize, pad: usize) -> Self {
        Self {
            weight: Param::from_tensor(weight),
            bias: Param::from_tensor(bias),
            stride,
            pad,
            matrix: None,
        }
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Lays the weights out for `path`; call again whenever the weights change.
    pub fn prepare(&mut self, path: ConvPath) {
        self.matrix = match path {
            ConvPath::Direct => None,
            ConvPath::Gemm => {
                let [o, c, kh, kw] = self.weight.dims();
                // Column order kernel row, kernel column, channel: the order of im2col's patches.
                Some(
                    self.weight
                        .val()
                        .permute([0, 2, 3, 1])
                        .reshape([1, o, kh * kw * c]),
                )
            }
        };
    }

    /// The convolution of `x` ([N, C, H, W]), before its ReLU.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let Some(matrix) = &self.matrix else {
            let (s, p) = (self.stride, self.pad);
            return conv2d(
                x,
                self.weight.val(),
                Some(self.bias.val()),
                ConvOptions::new([s, s], [p, p], [1, 1], 1),
            );
        };
        let [n, _, h, w] = x.dims();
        let kernel = self.weight.dims()[2];
        let [oh, ow] = [h, w].map(|side| (side + 2 * self.pad - kernel) / self.stride + 1);
        let cols = im2col(x, kernel, self.stride, self.pad, [oh, ow]);
        let o = self.out_channels();
        (matrix.clone().matmul(cols) + self.bias.val().reshape([1, o, 1])).reshape([n, o, oh, ow])
    }
}

/// The patches a convolution reads, as [N, k·k·C, OH·OW]: for each kernel offset, the padded
/// input's strided slice at that offset, all concatenated along the channels. Built from pads,
/// slices and one concatenation, so the gradient back to `x` is theirs (slice writes and sums)
/// and no convolution kernel runs; Burn's own `unfold4d` is a convolution with an identity
/// kernel and would land on the direct kernel again.
fn im2col(x: Tensor<4>, kernel: usize, stride: usize, pad: usize, out: [usize; 2]) -> Tensor<3> {
    let [n, c, h, w] = x.dims();
    if kernel == 1 && stride == 1 && pad == 0 {
        return x.reshape([n, c, h * w]);
    }
    let padded = if pad > 0 {
        x.pad((pad, pad, pad, pad), 0.0)
    } else {
        x
    };
    let span = |offset: usize, len: usize| Slice {
        start: offset as isize,
        end: Some((offset + stride * (len - 1) + 1) as isize),
        step: stride as isize,
    };
    let mut patches = Vec::with_capacity(kernel * kernel);
    for ky in 0..kernel {
        for kx in 0..kernel {
            patches.push(padded.clone().slice([
                Slice::from(0..n),
                Slice::from(0..c),
                span(ky, out[0]),
                span(kx, out[1]),
            ]));
        }
    }
    Tensor::cat(patches, 1).reshape([n, kernel * kernel * c, out[0] * out[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    /// Both paths, on strided and padded kernels, agree with each other on values and on the
    /// gradient to the input.
    #[test]
    fn the_gemm_path_equals_the_direct_convolution() {
        let device = Device::flex();
        for (kernel, stride, pad) in [(1, 1, 0), (3, 1, 1), (5, 1, 2), (7, 2, 3)] {
            let weight = Tensor::random([6, 4, kernel, kernel], Distribution::Default, &device);
            let bias = Tensor::random([6], Distribution::Default, &device);
            let mut conv = Conv::from_tensors(weight, bias, stride, pad);
            let x = Tensor::<4>::random([2, 4, 13, 11], Distribution::Default, &device);
            let run = |conv: &Conv| {
                let x = x.clone().autodiff().require_grad();
                let y = conv.forward(x.clone());
                let grads = (y.clone() * y.clone()).sum().backward();
                (y.detach(), x.grad(&grads).unwrap())
            };
            conv.prepare(ConvPath::Direct);
            let (y_direct, g_direct) = run(&conv);
            conv.prepare(ConvPath::Gemm);
            let (y_gemm, g_gemm) = run(&conv);
            assert_eq!(y_direct.dims(), y_gemm.dims());
            let tolerance = Tolerance::<f32>::rel_abs(1e-4, 1e-4);
            y_gemm
                .into_data()
                .assert_approx_eq::<f32>(&y_direct.into_data(), tolerance);
            g_gemm
                .into_data()
                .assert_approx_eq::<f32>(&g_direct.into_data(), tolerance);
        }
    }
}
