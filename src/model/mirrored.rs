//! A stride-1 convolution whose gradient to the input runs the forward convolution kernel.
//!
//! Autodiff takes a convolution's gradient to its input with `conv2d_x_backward`, which on
//! burn-cubecl without autotune is the direct transposed-convolution kernel and on flex a
//! transposed convolution. For stride 1 the same gradient is an ordinary convolution of the
//! output's gradient with the weights mirrored — input and output channels swapped, the kernel
//! turned 180°, padding `k − 1 − p` — so this op registers that as its backward. The dream
//! never trains, so the weights get no gradient.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Cube, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

fn options(pad: usize) -> ConvOptions<2> {
    ConvOptions::new([1, 1], [pad, pad], [1, 1], 1)
}

#[backend_extension(Cube: cfg(all()), Flex, Autodiff)]
pub trait MirroredConv: Backend {
    /// `conv2d` with stride 1 and padding `pad`; `mirrored` is the weights as
    /// [`mirror`] lays them out, for the gradient.
    fn conv_mirrored(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        mirrored: FloatTensor<Self>,
        pad: usize,
    ) -> FloatTensor<Self> {
        let _ = mirrored;
        Self::conv2d(x, weight, Some(bias), options(pad))
    }
}

impl MirroredConv for Cube {}
impl MirroredConv for Flex {}

impl<B: Backend + MirroredConv, C: CheckpointStrategy> MirroredConv for Autodiff<B, C> {
    fn conv_mirrored(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        mirrored: FloatTensor<Self>,
        pad: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ToInput;

        impl<B: Backend> Backward<B, 1> for ToInput {
            /// The mirrored weights and the gradient's padding.
            type State = (FloatTensor<B>, usize);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [node_x] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (mirrored, pad) = ops.state;
                if let Some(node) = node_x {
                    let to_x = B::conv2d(grad, mirrored, None, options(pad));
                    grads.register::<B>(node.id, to_x);
                }
            }
        }

        let kernel = weight.primitive().shape()[2];
        let weight = weight.into_primitive();
        let bias = Some(bias.into_primitive());
        match ToInput.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::conv2d(x.primitive().clone(), weight, bias, options(pad));
                prep.finish((mirrored.into_primitive(), kernel - 1 - pad), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::conv2d(x.into_primitive(), weight, bias, options(pad)))
            }
        }
    }
}

/// The weights [O, C, k, k] as the gradient's convolution reads them: [C, O, k, k], turned 180°.
pub fn mirror(weight: Tensor<4>) -> Tensor<4> {
    weight.swap_dims(0, 1).flip([2, 3])
}

/// The stride-1 convolution of `x` ([N, C, H, W]) with `weight` ([O, C, k, k]), `bias` and
/// `pad`, whose gradient to `x` is a convolution with `mirrored` (= [`mirror`] of `weight`).
pub fn conv_mirrored(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    mirrored: Tensor<4>,
    pad: usize,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as MirroredConv>::conv_mirrored(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        mirrored.into_dispatch(),
        pad,
    ))
}
