//! GoogLeNet's convolutions, and the two ways a device runs them.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::{Module, Param};
use burn::tensor::activation;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use super::mirrored::{conv_mirrored, laid_out, mirror};

/// How a device's convolutions run, forward and back to the input. Chosen per backend by
/// measurement: the figures for each path on each backend are in docs/performance.md, "Behind
/// the code".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    /// Burn's `conv2d`, and autodiff's gradient to the input.
    Direct,
    /// Each convolution as an im2col of plain tensor ops and one matrix product, so that both
    /// the forward pass and the gradient to the input use burn-cubecl's tiled matmul instead
    /// of its direct kernels (twice as fast as them on lavapipe).
    Gemm,
    /// A stride-1 forward convolution, and for the gradient to the input the same convolution
    /// run on the mirrored weights (`src/model/mirrored.rs`); the strided conv1 runs as a
    /// stride-1 convolution of its space-to-depth input. On the GPU that is a register-tiled
    /// kernel of our own both ways (`src/model/cube_conv.rs`), instead of burn-cubecl's direct and
    /// transposed-convolution kernels; on flex, a convolution of our own, one matrix product
    /// per image both ways, instead of flex's tiled one and its col2im.
    Mirrored,
    /// The mirrored path on our workgroup-tiled GPU kernel, which stages tiles of the input
    /// and the weights in workgroup memory as GPU convolutions do (on flex the same as
    /// `Mirrored`). Real GPUs take it; the CPU-emulated ones keep the register kernel.
    Workgroup,
}

impl ConvPath {
    /// The path for `device`: flex's own in the browser, mirrored on the CPU natively and on
    /// software GPUs (measured fastest: our register kernel beat the matrix products on both
    /// here, lavapipe and SwiftShader, and the workgroup kernel), workgroup-tiled on a real
    /// GPU, by design (not yet measured on one: `docs/gpu.md`); mirrored while [`found_gpu`]
    /// has not said which the adapter is.
    /// Natively, `DEEPDREAM_CONV=direct|gemm|mirrored|workgroup` overrides it, to measure the
    /// paths on a new adapter.
    pub fn for_device(device: &Device) -> Self {
        if let Some(path) = forced() {
            return path;
        }
        if *device == Device::flex() {
            // In the browser flex has one thread, and its tiled convolution measured faster
            // there.
            if cfg!(target_family = "wasm") {
                ConvPath::Direct
            } else {
                ConvPath::Mirrored
            }
        } else if REAL_GPU.load(Ordering::Relaxed) {
            ConvPath::Workgroup
        } else {
            ConvPath::Mirrored
        }
    }
}

/// Whether the process's GPU adapter is a real GPU, as [`found_gpu`] said.
static REAL_GPU: AtomicBool = AtomicBool::new(false);

/// Records what the process's GPU adapter is, for [`ConvPath::for_device`].
pub fn found_gpu(software: bool) {
    REAL_GPU.store(!software, Ordering::Relaxed);
}

/// The path every device takes when one is forced: natively by `DEEPDREAM_CONV`, read once;
/// in the page by [`force`] before the engine loads.
static FORCED: OnceLock<Option<ConvPath>> = OnceLock::new();

fn forced() -> Option<ConvPath> {
    *FORCED.get_or_init(|| {
        let name = std::env::var("DEEPDREAM_CONV")
            .ok()
            .filter(|_| cfg!(not(target_family = "wasm")))?;
        let path = ConvPath::named(&name);
        if path.is_none() {
            eprintln!("DEEPDREAM_CONV={name} ignored: not direct, gemm, mirrored or workgroup");
        }
        path
    })
}

/// Makes every model loaded from now on run its convolutions as `path`, whatever the device
/// (to measure or test a path where it would not be chosen); false when a path was already
/// fixed for the process.
pub fn force(path: ConvPath) -> bool {
    FORCED.set(Some(path)).is_ok()
}

impl ConvPath {
    /// The path `direct`, `gemm`, `mirrored` (the register kernel on a GPU) or `workgroup`.
    pub fn named(name: &str) -> Option<ConvPath> {
        match name {
            "direct" => Some(ConvPath::Direct),
            "gemm" => Some(ConvPath::Gemm),
            "mirrored" => Some(ConvPath::Mirrored),
            "workgroup" => Some(ConvPath::Workgroup),
            _ => None,
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
    /// The weights laid out for the device's path.
    #[module(skip)]
    prepared: Prepared,
}

/// What [`Conv::prepare`] derives from the weights for a path.
#[derive(Debug, Clone)]
enum Prepared {
    Direct,
    /// The weights as the matrix [`im2col`]'s patches multiply.
    Gemm(Box<Tensor<3>>),
    /// The stride-1 weights (folded when the convolution is strided), their mirror, and
    /// whether the workgroup-tiled kernel runs them.
    Mirrored(Box<(Tensor<4>, Tensor<4>)>, bool),
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
            prepared: Prepared::Direct,
        }
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Lays the weights out for `path`; call again whenever the weights change.
    pub fn prepare(&mut self, path: ConvPath) {
        self.prepared = match path {
            ConvPath::Direct => Prepared::Direct,
            ConvPath::Gemm => {
                let weight = self.stride_one_weight();
                let [o, c, kh, kw] = weight.dims();
                // Column order kernel row, kernel column, channel: the order of im2col's patches.
                let matrix = weight.permute([0, 2, 3, 1]).reshape([1, o, kh * kw * c]);
                Prepared::Gemm(Box::new(matrix))
            }
            ConvPath::Mirrored | ConvPath::Workgroup => {
                // At stride 1 the weights themselves take the layout, so the device holds them
                // once (a second copy raised a 12 MP dream's peak).
                if self.stride == 1 {
                    self.weight = self.weight.clone().map(laid_out);
                }
                let weight = laid_out(self.stride_one_weight());
                let workgroup = path == ConvPath::Workgroup;
                Prepared::Mirrored(Box::new((weight.clone(), mirror(weight))), workgroup)
            }
        };
    }

    /// The weights of the same convolution on the space-to-depth input when strided: padded
    /// with zeros to a multiple of the stride, each s×s block folded into channels the way
    /// [`space_to_depth`] folds the image.
    fn stride_one_weight(&self) -> Tensor<4> {
        let s = self.stride;
        let weight = self.weight.val();
        if s == 1 {
            return weight;
        }
        let [o, c, k, _] = weight.dims();
        let folded = k.div_ceil(s);
        let extra = folded * s - k;
        weight
            .pad((0, extra, 0, extra), 0.0)
            .reshape([o, c, folded, s, folded, s])
            .permute([0, 1, 3, 5, 2, 4])
            .reshape([o, c * s * s, folded, folded])
    }

    /// The convolution of `x` ([N, C, H, W]), before its ReLU.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.run(x, false)
    }

    /// The convolution of `x` through its ReLU: on the mirrored path one op both ways (the ReLU
    /// applied as the convolution writes its output, its backward inside the op's), on the
    /// others Burn's `relu` after [`Self::forward`].
    pub fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        self.run(x, true)
    }

    fn run(&self, x: Tensor<4>, relu: bool) -> Tensor<4> {
        let then_relu = |y: Tensor<4>| if relu { activation::relu(y) } else { y };
        let [n, _, h, w] = x.dims();
        let (kernel, s, pad) = (self.weight.dims()[2], self.stride, self.pad);
        let [oh, ow] = [h, w].map(|side| (side + 2 * pad - kernel) / s + 1);
        // A strided convolution as a stride-1 one: its input folded, no padding left to add.
        let folded = kernel.div_ceil(s);
        let stride_one = |x| space_to_depth(x, s, pad, [oh + folded - 1, ow + folded - 1]);
        match &self.prepared {
            Prepared::Direct => then_relu(conv2d(
                x,
                self.weight.val(),
                Some(self.bias.val()),
                ConvOptions::new([s, s], [pad, pad], [1, 1], 1),
            )),
            Prepared::Mirrored(weights, workgroup) => {
                let (weight, mirrored) = weights.as_ref();
                let (x, pad) = if s == 1 { (x, pad) } else { (stride_one(x), 0) };
                let bias = self.bias.val();
                let (weight, mirrored) = (weight.clone(), mirrored.clone());
                conv_mirrored(x, weight, bias, mirrored, pad, relu, *workgroup)
            }
            Prepared::Gemm(matrix) => {
                let cols = if s == 1 {
                    im2col(x, kernel, pad, [oh, ow])
                } else {
                    im2col(stride_one(x), folded, 0, [oh, ow])
                };
                let o = self.out_channels();
                then_relu(
                    (matrix.as_ref().clone().matmul(cols) + self.bias.val().reshape([1, o, 1]))
                        .reshape([n, o, oh, ow]),
                )
            }
        }
    }
}

/// `x` zero-padded by `pad` (top and left; bottom and right as far as `cells` need) and cut to
/// `cells` blocks of s×s pixels, each block's pixels folded into channels: [N, C·s·s, cells].
/// A stride-s convolution of `x` is a stride-1 convolution of this, so its im2col needs no
/// strided slices (which made conv1 measurably slower on lavapipe).
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

    /// The three paths agree on values and on the gradient to the input, for every kind of kernel
    /// in GoogLeNet (the strided one through space-to-depth), on odd and even sizes, with and
    /// without the ReLU that follows each (the mirrored path takes it inside its op, backward
    /// too). Weights of both signs, so that the ReLU clamps.
    #[test]
    fn every_path_equals_the_direct_convolution() {
        let device = Device::flex();
        let kernels = [(1, 1, 0), (3, 1, 1), (5, 1, 2), (7, 2, 3)];
        for ((kernel, stride, pad), [h, w]) in kernels
            .into_iter()
            .flat_map(|k| [(k, [13, 11]), (k, [12, 16])])
        {
            let signed = Distribution::Uniform(-1.0, 1.0);
            let weight = Tensor::random([6, 4, kernel, kernel], signed, &device);
            let bias = Tensor::random([6], signed, &device);
            let mut conv = Conv::from_tensors(weight, bias, stride, pad);
            let x = Tensor::<4>::random([2, 4, h, w], Distribution::Default, &device);
            let run = |conv: &Conv, relu: bool| {
                let x = x.clone().autodiff().require_grad();
                let y = if relu {
                    conv.forward_relu(x.clone())
                } else {
                    conv.forward(x.clone())
                };
                let grads = (y.clone() * y.clone()).sum().backward();
                (y.detach(), x.grad(&grads).unwrap())
            };
            for (path, relu) in [ConvPath::Gemm, ConvPath::Mirrored]
                .into_iter()
                .flat_map(|path| [(path, false), (path, true)])
            {
                conv.prepare(ConvPath::Direct);
                let (y_direct, g_direct) = run(&conv, relu);
                conv.prepare(path);
                assert!(!matches!(conv.prepared, Prepared::Direct));
                let (y, g) = run(&conv, relu);
                let case = format!("{path:?}, ReLU {relu}: {kernel}x{kernel}/{stride} on {h}x{w}");
                assert_eq!(y_direct.dims(), y.dims(), "{case}");
                let tolerance = Tolerance::<f32>::rel_abs(1e-4, 1e-4);
                y.into_data()
                    .assert_approx_eq::<f32>(&y_direct.clone().into_data(), tolerance);
                g.into_data()
                    .assert_approx_eq::<f32>(&g_direct.clone().into_data(), tolerance);
            }
        }
    }
}
