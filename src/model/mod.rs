//! GoogLeNet (InceptionV1) with Caffe's exact semantics, able to stop at any named blob.

mod blob;
mod conv;
mod cube_conv;
mod footprint;
mod mirrored;
mod pool;
mod power;
mod weights;

pub use blob::{Blob, Branch, Part};
pub use conv::{ConvPath, force, found_gpu};
pub use footprint::{Footprint, footprint};
pub use weights::Labels;

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use deepdream_weights::{CLASSES, INCEPTIONS, InceptionSpec};

use crate::Error;
use conv::Conv;
use pool::caffe_max_pool;
use power::three_quarters;

/// Caffe's BVLC mean, in the network's BGR channel order.
const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];
/// LRN parameters from deploy.prototxt (Caffe divides alpha by the window size).
const LRN_SIZE: usize = 5;
const LRN_ALPHA: f32 = 1e-4;
const LRN_BETA: f32 = 0.75;

fn conv(
    input: usize,
    out: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    device: &Device,
) -> Conv {
    Conv::new([input, out], kernel, stride, pad, device)
}

/// One inception module; field names are the weights file's keys.
#[derive(Module, Debug)]
pub struct Inception {
    conv_1x1: Conv,
    conv_3x3_reduce: Conv,
    conv_3x3: Conv,
    conv_5x5_reduce: Conv,
    conv_5x5: Conv,
    pool_proj: Conv,
    /// `conv_1x1`, `conv_3x3_reduce` and `conv_5x5_reduce` stacked into one convolution: they
    /// read the same input, so one wider matrix product replaces three narrow ones (and one
    /// backward pass three). Rebuilt from the three after loading.
    #[module(skip)]
    merged: Merged1x1,
}

/// Three 1×1 convolutions of one input as one, output channels in branch order.
#[derive(Debug, Clone)]
struct Merged1x1 {
    conv: Conv,
    /// Output channels of each branch: 1x1, 3x3_reduce, 5x5_reduce.
    widths: [usize; 3],
}

impl Merged1x1 {
    fn new(convs: [&Conv; 3], path: ConvPath) -> Self {
        let weight = Tensor::cat(convs.iter().map(|c| c.weight.val()).collect(), 0);
        let bias = Tensor::cat(convs.iter().map(|c| c.bias.val()).collect(), 0);
        let mut conv = Conv::from_tensors(weight, bias, 1, 0);
        conv.prepare(path);
        Self {
            conv,
            widths: convs.map(|c| c.out_channels()),
        }
    }

    /// The three branches' values, as views of one result.
    fn split(&self, y: Tensor<4>) -> [Tensor<4>; 3] {
        let [a, b, c] = self.widths;
        [
            y.clone().narrow(1, 0, a),
            y.clone().narrow(1, a, b),
            y.narrow(1, a + b, c),
        ]
    }
}

impl Inception {
    fn new(spec: &InceptionSpec, device: &Device) -> Self {
        let conv_1x1 = conv(spec.input, spec.c1x1, 1, 1, 0, device);
        let conv_3x3_reduce = conv(spec.input, spec.c3x3_reduce, 1, 1, 0, device);
        let conv_5x5_reduce = conv(spec.input, spec.c5x5_reduce, 1, 1, 0, device);
        Self {
            merged: Merged1x1::new(
                [&conv_1x1, &conv_3x3_reduce, &conv_5x5_reduce],
                ConvPath::Direct,
            ),
            conv_1x1,
            conv_3x3_reduce,
            conv_3x3: conv(spec.c3x3_reduce, spec.c3x3, 3, 1, 1, device),
            conv_5x5_reduce,
            conv_5x5: conv(spec.c5x5_reduce, spec.c5x5, 5, 1, 2, device),
            pool_proj: conv(spec.input, spec.pool_proj, 1, 1, 0, device),
        }
    }

    /// Stacks the 1×1 convolutions again and lays every weight out for `path`, after the
    /// weights changed (loading).
    fn prepare(&mut self, path: ConvPath) {
        self.merged = Merged1x1::new(
            [&self.conv_1x1, &self.conv_3x3_reduce, &self.conv_5x5_reduce],
            path,
        );
        for conv in [&mut self.conv_3x3, &mut self.conv_5x5, &mut self.pool_proj] {
            conv.prepare(path);
        }
    }

    fn forward(&self, module: usize, x: Tensor<4>, rec: &mut Recorder) -> Option<Tensor<4>> {
        let at = |part| Blob::Inception { module, part };
        let pre = |branch| at(Part::PreRelu(branch));
        let before = [Branch::Conv1x1, Branch::Reduce3x3, Branch::Reduce5x5].map(pre);
        // The pre-ReLU views only when asked for: a dream of a photo never pays for them.
        let merged = if before.iter().any(|b| rec.wants(*b)) {
            let merged = self.merged.conv.forward(x.clone());
            for (blob, value) in before.into_iter().zip(self.merged.split(merged.clone())) {
                rec.keep(blob, value)?;
            }
            relu(merged)
        } else {
            self.merged.conv.forward_relu(x.clone())
        };
        let [b1, r3, r5] = self.merged.split(merged);
        let b1 = rec.keep(at(Part::Conv1x1), b1)?;
        let r3 = rec.keep(at(Part::Reduce3x3), r3)?;
        let b3 = conv_relu(&self.conv_3x3, r3, rec, pre(Branch::Conv3x3))?;
        let b3 = rec.keep(at(Part::Conv3x3), b3)?;
        let r5 = rec.keep(at(Part::Reduce5x5), r5)?;
        let b5 = conv_relu(&self.conv_5x5, r5, rec, pre(Branch::Conv5x5))?;
        let b5 = rec.keep(at(Part::Conv5x5), b5)?;
        let pooled = rec.keep(at(Part::Pool), caffe_max_pool(x, 3, 1, 1))?;
        let bp = conv_relu(&self.pool_proj, pooled, rec, pre(Branch::PoolProj))?;
        let bp = rec.keep(at(Part::PoolProj), bp)?;
        rec.keep(at(Part::Output), Tensor::cat(vec![b1, b3, b5, bp], 1))
    }
}

/// BVLC GoogLeNet up to `loss3/classifier`. Takes RGB on 0..255 and does Caffe's own
/// preprocessing (BGR, mean subtraction) inside, so callers never repeat it.
#[derive(Module, Debug)]
pub struct GoogLeNet {
    conv1: Conv,
    conv2_reduce: Conv,
    conv2: Conv,
    inception_3a: Inception,
    inception_3b: Inception,
    inception_4a: Inception,
    inception_4b: Inception,
    inception_4c: Inception,
    inception_4d: Inception,
    inception_4e: Inception,
    inception_5a: Inception,
    inception_5b: Inception,
    classifier: Linear,
}

impl GoogLeNet {
    /// An all-zero network of the right shape; [`GoogLeNet::load`] fills it.
    pub fn new(device: &Device) -> Self {
        let m = |i: usize| Inception::new(&INCEPTIONS[i], device);
        Self {
            conv1: conv(3, 64, 7, 2, 3, device),
            conv2_reduce: conv(64, 64, 1, 1, 0, device),
            conv2: conv(64, 192, 3, 1, 1, device),
            inception_3a: m(0),
            inception_3b: m(1),
            inception_4a: m(2),
            inception_4b: m(3),
            inception_4c: m(4),
            inception_4d: m(5),
            inception_4e: m(6),
            inception_5a: m(7),
            inception_5b: m(8),
            classifier: LinearConfig::new(INCEPTIONS[8].output(), CLASSES)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }

    /// Runs the convolutions as `path` instead of the device's measured choice
    /// ([`ConvPath::for_device`]), so the fidelity tests hold every path to the reference.
    pub fn with_conv_path(mut self, path: ConvPath) -> Self {
        self.weights_changed(path);
        self
    }

    /// Rebuilds what is derived from the weights (the merged 1×1 convolutions, the matrices of
    /// the GEMM path) after loading, for convolutions that run as `path`.
    pub(crate) fn weights_changed(&mut self, path: ConvPath) {
        for conv in [&mut self.conv1, &mut self.conv2_reduce, &mut self.conv2] {
            conv.prepare(path);
        }
        for inception in [
            &mut self.inception_3a,
            &mut self.inception_3b,
            &mut self.inception_4a,
            &mut self.inception_4b,
            &mut self.inception_4c,
            &mut self.inception_4d,
            &mut self.inception_4e,
            &mut self.inception_5a,
            &mut self.inception_5b,
        ] {
            inception.prepare(path);
        }
    }

    fn inceptions(&self) -> [&Inception; 9] {
        [
            &self.inception_3a,
            &self.inception_3b,
            &self.inception_4a,
            &self.inception_4b,
            &self.inception_4c,
            &self.inception_4d,
            &self.inception_4e,
            &self.inception_5a,
            &self.inception_5b,
        ]
    }

    /// Runs `rgb` ([N, 3, H, W], RGB on 0..255) through the network and returns the asked blobs
    /// in the order asked; no layer past the deepest of them is computed. The classifier's
    /// scores come back as [N, 1000, 1, 1].
    pub fn forward(&self, rgb: Tensor<4>, blobs: &[Blob]) -> Result<Vec<Tensor<4>>, Error> {
        let [_, channels, h, w] = rgb.dims();
        if channels != 3 {
            return Err(Error::Channels(channels));
        }
        if let Some(&deepest) = blobs.iter().max_by_key(|b| b.order())
            && deepest.spatial([h, w]).is_none()
        {
            return Err(Error::TooSmall {
                width: w,
                height: h,
                layer: deepest.name(),
                min: deepest.min_input(),
            });
        }
        let mut rec = Recorder::new(blobs);
        if !blobs.is_empty() {
            self.run(rgb, &mut rec);
        }
        Ok(rec.finish())
    }

    fn run(&self, rgb: Tensor<4>, rec: &mut Recorder) -> Option<()> {
        let device = rgb.device();
        let mean = Tensor::<1>::from_data(TensorData::new(MEAN_BGR.to_vec(), [3]), &device)
            .reshape([1, 3, 1, 1]);
        let x = rgb.flip([1]) - mean;
        let x = conv_relu(&self.conv1, x, rec, Blob::Conv1PreRelu)?;
        let x = rec.keep(Blob::Conv1, x)?;
        let x = rec.keep(Blob::Pool1, caffe_max_pool(x, 3, 2, 0))?;
        let x = rec.keep(Blob::Norm1, lrn(x))?;
        let x = conv_relu(&self.conv2_reduce, x, rec, Blob::Conv2ReducePreRelu)?;
        let x = rec.keep(Blob::Conv2Reduce, x)?;
        let x = conv_relu(&self.conv2, x, rec, Blob::Conv2PreRelu)?;
        let x = rec.keep(Blob::Conv2, x)?;
        let x = rec.keep(Blob::Norm2, lrn(x))?;
        let mut x = rec.keep(Blob::Pool2, caffe_max_pool(x, 3, 2, 0))?;
        for (module, inception) in self.inceptions().into_iter().enumerate() {
            x = inception.forward(module, x, rec)?;
            match module {
                1 => x = rec.keep(Blob::Pool3, caffe_max_pool(x, 3, 2, 0))?,
                6 => x = rec.keep(Blob::Pool4, caffe_max_pool(x, 3, 2, 0))?,
                _ => {}
            }
        }
        let x = rec.keep(
            Blob::Pool5,
            avg_pool2d(x, AvgPoolOptions::new([7, 7]).with_stride([1, 1])),
        )?;
        let [n, c, _, _] = x.dims();
        let scores = self
            .classifier
            .forward(x.reshape([n, c]))
            .reshape([n, CLASSES, 1, 1]);
        rec.keep(Blob::Classifier, scores).map(|_| ())
    }
}

/// Collects the asked blobs during a forward pass and says when the last one is in.
struct Recorder {
    wanted: Vec<Blob>,
    found: Vec<Option<Tensor<4>>>,
    missing: usize,
}

impl Recorder {
    fn new(wanted: &[Blob]) -> Self {
        Self {
            wanted: wanted.to_vec(),
            found: vec![None; wanted.len()],
            missing: wanted.len(),
        }
    }

    /// Whether `blob` was asked for.
    fn wants(&self, blob: Blob) -> bool {
        self.wanted.contains(&blob)
    }

    /// Stores `x` if it was asked for; `None` once every asked blob is stored (stop the pass).
    fn keep(&mut self, blob: Blob, x: Tensor<4>) -> Option<Tensor<4>> {
        for (wanted, slot) in self.wanted.iter().zip(self.found.iter_mut()) {
            if *wanted == blob && slot.is_none() {
                *slot = Some(x.clone());
                self.missing -= 1;
            }
        }
        (self.missing > 0).then_some(x)
    }

    fn finish(self) -> Vec<Tensor<4>> {
        self.found
            .into_iter()
            .map(|t| t.expect("the forward pass reaches every asked blob"))
            .collect()
    }
}

/// Every convolution in GoogLeNet is followed by a ReLU (in place in Caffe, so the blob holds
/// it); the value before it is kept as `pre` when asked, else the two run as one op. `None`
/// once every asked blob is in.
fn conv_relu(conv: &Conv, x: Tensor<4>, rec: &mut Recorder, pre: Blob) -> Option<Tensor<4>> {
    if rec.wants(pre) {
        Some(relu(rec.keep(pre, conv.forward(x))?))
    } else {
        Some(conv.forward_relu(x))
    }
}

/// Cross-channel LRN, `x / (1 + alpha/size * sum of squares over `size` channels)^beta`.
fn lrn(x: Tensor<4>) -> Tensor<4> {
    let by_matrix = x.device().without_autodiff() == Device::flex();
    lrn_by(x, by_matrix)
}

fn lrn_by(x: Tensor<4>, by_matrix: bool) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let squares = x.clone().square();
    // The mean of the squares over each channel window, by the faster measured way
    // (docs/performance.md, "Behind the code"). On flex, a banded [C, C] matrix times the
    // squares as [C, H·W]: one matrix product each way, where the average pool's backward is a
    // scalar loop. On wgpu, an average pool over that [C, H·W] view, one kernel each way.
    let window_mean = if by_matrix {
        let band: Vec<f32> = (0..c * c)
            .map(|k| {
                let (i, j) = (k / c, k % c);
                if i.abs_diff(j) <= LRN_SIZE / 2 {
                    1.0 / LRN_SIZE as f32
                } else {
                    0.0
                }
            })
            .collect();
        Tensor::<3>::from_data(TensorData::new(band, [1, c, c]), &x.device())
            .expand([n, c, c])
            .matmul(squares.reshape([n, c, h * w]))
    } else {
        avg_pool2d(
            squares.reshape([n, 1, c, h * w]),
            AvgPoolOptions::new([LRN_SIZE, 1])
                .with_stride([1, 1])
                .with_padding([LRN_SIZE / 2, 0])
                .with_count_include_pad(true),
        )
        .reshape([n, c, h * w])
    }
    .reshape([n, c, h, w]);
    // alpha/size * sum == alpha * mean over the window; the base is at least 1.
    const { assert!(LRN_BETA == 0.75, "three_quarters is the power") };
    x / three_quarters((window_mean * LRN_ALPHA).add_scalar(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways_of_the_lrn_agree_forward_and_back() {
        // 7 channels, so windows at both edges are cut by the padding.
        let device = Device::flex().autodiff();
        let values: Vec<f32> = (0..7 * 5 * 3)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 9.0)
            .collect();
        let x = || {
            Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 7, 5, 3]), &device)
                .require_grad()
        };
        let run = |by_matrix: bool| {
            let x = x();
            let y = lrn_by(x.clone(), by_matrix);
            let grads = (y.clone() * y.clone()).sum().backward();
            let g = x
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            (y.into_data().try_to_vec::<f32>().unwrap(), g)
        };
        let (pool, pool_grad) = run(false);
        let (matrix, matrix_grad) = run(true);
        // The LRN changes these values (alpha * mean of squares is up to ~1), so a broken
        // window would show.
        assert!(
            pool.iter()
                .zip(&values)
                .any(|(y, x)| (y - x).abs() > 0.1 * x.abs())
        );
        for (a, b) in pool
            .iter()
            .zip(&matrix)
            .chain(pool_grad.iter().zip(&matrix_grad))
        {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn the_backward_pass_computes_no_weight_gradients() {
        // DeepDream needs the gradient to the image only: a weight gradient would be a second
        // convolution per layer for nothing.
        let device = Device::flex();
        for path in [ConvPath::Direct, ConvPath::Gemm, ConvPath::Mirrored] {
            let mut model = GoogLeNet::new(&device);
            model.weights_changed(path);
            let blob = Blob::Inception {
                module: 0,
                part: Part::Output,
            };
            let side = blob.min_input();
            let input = Tensor::<4>::ones([1, 3, side, side], &device)
                .autodiff()
                .require_grad();
            let out = model.forward(input.clone(), &[blob]).unwrap();
            let grads = out[0].clone().square().sum().backward();
            assert!(input.grad(&grads).is_some());
            let m = &model.inception_3a;
            let weights = [
                model.conv1.weight.val(),
                model.conv2.weight.val(),
                m.conv_3x3.weight.val(),
                m.conv_5x5.weight.val(),
                m.pool_proj.weight.val(),
                m.merged.conv.weight.val(),
            ];
            for w in weights {
                assert!(w.grad(&grads).is_none(), "a weight got a gradient");
            }
            assert!(
                m.merged.conv.bias.val().grad(&grads).is_none(),
                "a bias got a gradient"
            );
        }
    }
}
