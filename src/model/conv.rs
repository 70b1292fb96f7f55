//! GoogLeNet's convolutions, and the two ways a device runs them.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

/// How a device's convolutions run, forward and back to the input. Chosen per backend by
/// measurement (README, "Speed"): no one path wins on every backend here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    /// Burn's `conv2d`. Flex's is already a blocked matrix product (the GEMM path measured
    /// 563 against 460 ms a step at 512²). Burn-cubecl's, without autotune, is a direct kernel
    /// (one thread per output), and in Chromium on SwiftShader that beat its tiled matmul for
    /// every kind of layer (a step at 224²: 5.4 s direct; 6.7 s with the 1×1 layers as
    /// matmuls, 11.7 s with the 3×3 too, 12.9 s with every layer).
    Direct,
    /// Each convolution as an im2col of plain tensor ops and one matrix product, so that both
    /// the forward pass and the gradient to the input use burn-cubecl's tiled matmul instead
    /// of its direct kernels. On native wgpu (lavapipe), a step at 512²: 8.3 s direct, 7.1 s
    /// with the 1×1 layers as matmuls, 5.0 s with the 3×3 and 5×5, 4.2 s with conv1 too.
    Gemm,
}

impl ConvPath {
    /// The faster measured path on `device`: matrix products on native wgpu, the direct
    /// kernels on the CPU backend and on WebGPU in the browser.
    pub fn for_device(device: &Device) -> Self {
        if *device == Device::flex() || cfg!(target_family = "wasm") {
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
                let s = self.stride;
                let mut weight = self.weight.val();
                if s > 1 {
                    // The kernel of the same convolution on the space-to-depth input: padded
                    // with zeros to a multiple of the stride, each s×s block of it folded into
                    // channels the way `space_to_depth` folds the image.
                    let [o, c, k, _] = weight.dims();
                    let folded = k.div_ceil(s);
                    let extra = folded * s - k;
                    weight = weight
                        .pad((0, extra, 0, extra), 0.0)
                        .reshape([o, c, folded, s, folded, s])
                        .permute([0, 1, 3, 5, 2, 4])
                        .reshape([o, c * s * s, folded, folded]);
                }
                let [o, c, kh, kw] = weight.dims();
                // Column order kernel row, kernel column, channel: the order of im2col's patches.
                Some(weight.permute([0, 2, 3, 1]).reshape([1, o, kh * kw * c]))
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
        let (kernel, s, pad) = (self.weight.dims()[2], self.stride, self.pad);
        let [oh, ow] = [h, w].map(|side| (side + 2 * pad - kernel) / s + 1);
        let cols = if s == 1 {
            im2col(x, kernel, pad, [oh, ow])
        } else {
            let folded = kernel.div_ceil(s);
            let cells = [oh + folded - 1, ow + folded - 1];
            im2col(space_to_depth(x, s, pad, cells), folded, 0, [oh, ow])
        };
        let o = self.out_channels();
        (matrix.clone().matmul(cols) + self.bias.val().reshape([1, o, 1])).reshape([n, o, oh, ow])
    }
}

/// `x` zero-padded by `pad` (top and left; bottom and right as far as `cells` need) and cut to
/// `cells` blocks of s×s pixels, each block's pixels folded into channels: [N, C·s·s, cells].
/// A stride-s convolution of `x` is a stride-1 convolution of this, so its im2col needs no
/// strided slices (as strided slices, conv1 made a lavapipe step at 512² 4.4 s, not 4.2 s).
fn space_to_depth(x: Tensor<4>, s: usize, pad: usize, cells: [usize; 2]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [ch, cw] = cells;
    let (bottom, right) = (
        (s * ch).saturating_sub(h + pad),
        (s * cw).saturating_sub(w + pad),
    );
    x.pad((pad, right, pad, bottom), 0.0)
        .slice([0..n, 0..c, 0..s * ch, 0..s * cw])
        .reshape([n, c, ch, s, cw, s])
        .permute([0, 1, 3, 5, 2, 4])
        .reshape([n, c * s * s, ch, cw])
}

/// The patches a stride-1 convolution reads, as [N, k·k·C, OH·OW]: for each kernel offset, the
/// padded input's slice at that offset, all concatenated along the channels. Built from pads,
/// slices and one concatenation, so the gradient back to `x` is theirs (slice writes and sums)
/// and no convolution kernel runs; Burn's own `unfold4d` is a convolution with an identity
/// kernel and would land on the direct kernel again.
fn im2col(x: Tensor<4>, kernel: usize, pad: usize, out: [usize; 2]) -> Tensor<3> {
    let [n, c, h, w] = x.dims();
    if kernel == 1 && pad == 0 {
        return x.reshape([n, c, h * w]);
    }
    let padded = if pad > 0 {
        x.pad((pad, pad, pad, pad), 0.0)
    } else {
        x
    };
    let mut patches = Vec::with_capacity(kernel * kernel);
    for ky in 0..kernel {
        for kx in 0..kernel {
            patches.push(
                padded
                    .clone()
                    .slice([0..n, 0..c, ky..ky + out[0], kx..kx + out[1]]),
            );
        }
    }
    Tensor::cat(patches, 1).reshape([n, kernel * kernel * c, out[0] * out[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    /// Both paths agree on values and on the gradient to the input, for every kind of kernel
    /// in GoogLeNet (the strided one through space-to-depth), on odd and even sizes.
    #[test]
    fn the_gemm_path_equals_the_direct_convolution() {
        let device = Device::flex();
        let kernels = [(1, 1, 0), (3, 1, 1), (5, 1, 2), (7, 2, 3)];
        for ((kernel, stride, pad), [h, w]) in kernels
            .into_iter()
            .flat_map(|k| [(k, [13, 11]), (k, [12, 16])])
        {
            let weight = Tensor::random([6, 4, kernel, kernel], Distribution::Default, &device);
            let bias = Tensor::random([6], Distribution::Default, &device);
            let mut conv = Conv::from_tensors(weight, bias, stride, pad);
            let x = Tensor::<4>::random([2, 4, h, w], Distribution::Default, &device);
            let run = |conv: &Conv| {
                let x = x.clone().autodiff().require_grad();
                let y = conv.forward(x.clone());
                let grads = (y.clone() * y.clone()).sum().backward();
                (y.detach(), x.grad(&grads).unwrap())
            };
            conv.prepare(ConvPath::Direct);
            let (y_direct, g_direct) = run(&conv);
            conv.prepare(ConvPath::Gemm);
            assert!(conv.matrix.is_some());
            let (y_gemm, g_gemm) = run(&conv);
            assert_eq!(
                y_direct.dims(),
                y_gemm.dims(),
                "{kernel}x{kernel}/{stride} on {h}x{w}"
            );
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
