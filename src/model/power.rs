//! `x^¾`, the LRN's power, as one op with its own backward.
//!
//! Burn raises to a non-integer power with `powf`, which flex runs one scalar `powf` call per
//! element, forward and again in autodiff's backward (`x^-¼`): 7 % of a CPU step at 512²
//! (perf), for the two LRNs alone. Here flex takes `√x · √√x` forward and `¾ · y / x` back,
//! loops the compiler vectorises. Other backends keep Burn's ops.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};
use burn_cubecl::CubeBackend;
use burn_flex::FlexTensor;

#[backend_extension(Cube: cfg(all()), Flex, Autodiff, Fusion: cfg(feature = "fusion"))]
pub trait ThreeQuarters: Backend {
    /// `x^¾`, for `x > 0`.
    #[fusion(dtype = x, shape = x)]
    fn three_quarters(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_powf_scalar(x, 0.75.into())
    }

    /// Its backward: `grad · ¾ · y / x`, where `y` is `x^¾`.
    #[fusion(dtype = grad, shape = grad)]
    fn three_quarters_backward(
        x: FloatTensor<Self>,
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        burns_backward::<Self>(x, y, grad)
    }
}

fn burns_backward<B: Backend>(
    x: FloatTensor<B>,
    y: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    B::float_mul(grad, B::float_mul_scalar(B::float_div(y, x), 0.75.into()))
}

impl ThreeQuarters for CubeBackend {}

impl ThreeQuarters for Flex {
    fn three_quarters(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 {
            return Self::float_powf_scalar(x, 0.75.into());
        }
        let shape = x.shape();
        let x = x.to_contiguous();
        let mut out = x.storage::<f32>().to_vec();
        in_chunks(&mut out, |_, chunk| {
            for v in chunk {
                let root = v.sqrt();
                *v = root * root.sqrt();
            }
        });
        FlexTensor::from_data(TensorData::new(out, shape))
    }

    fn three_quarters_backward(
        x: FloatTensor<Self>,
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let f32s = [&x, &y, &grad].iter().all(|t| t.dtype() == DType::F32);
        if !f32s || x.shape() != grad.shape() || y.shape() != grad.shape() {
            return burns_backward::<Self>(x, y, grad);
        }
        let shape = grad.shape();
        let (x, y, grad) = (x.to_contiguous(), y.to_contiguous(), grad.to_contiguous());
        let (x, y) = (x.storage::<f32>(), y.storage::<f32>());
        let mut out = grad.storage::<f32>().to_vec();
        in_chunks(&mut out, |start, chunk| {
            let (x, y) = (&x[start..], &y[start..]);
            for ((g, x), y) in chunk.iter_mut().zip(x).zip(y) {
                *g *= 0.75 * y / x;
            }
        });
        FlexTensor::from_data(TensorData::new(out, shape))
    }
}

/// Elements per task natively: enough that rayon's overhead stays small.
#[cfg(not(target_family = "wasm"))]
const CHUNK: usize = 1 << 15;

/// `work(start, chunk)` over `values` in chunks, `start` being the chunk's first index: in
/// parallel natively, in one piece in the browser.
fn in_chunks(values: &mut [f32], work: impl Fn(usize, &mut [f32]) + Send + Sync) {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        values
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, chunk)| work(i * CHUNK, chunk));
    }
    #[cfg(target_family = "wasm")]
    work(0, values);
}

impl<B: Backend + ThreeQuarters, C: CheckpointStrategy> ThreeQuarters for Autodiff<B, C> {
    fn three_quarters(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ToInput;

        impl<B: Backend + ThreeQuarters> Backward<B, 1> for ToInput {
            /// The input and the output.
            type State = (FloatTensor<B>, FloatTensor<B>);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (x, y) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::three_quarters_backward(x, y, grad)
                });
            }
        }

        match ToInput.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let x = x.into_primitive();
                let y = B::three_quarters(x.clone());
                prep.finish((x, y.clone()), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::three_quarters(x.into_primitive())),
        }
    }
}

/// `x^¾` elementwise, for `x > 0`.
pub fn three_quarters<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as ThreeQuarters>::three_quarters(
        x.into_dispatch(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// Ours equals Burn's `powf(¾)`, values and gradients, on flex (our loops) and wgpu
    /// (Burn's ops, our backward formula).
    #[test]
    fn three_quarters_equals_burns_power_forward_and_back() {
        for device in [Device::flex(), crate::device::test_gpu()] {
            let device = device.autodiff();
            // More elements than one native chunk holds, so the chunks' offsets are checked.
            let shape = [2, 3, 170, 70];
            let x =
                Tensor::<4>::random(shape, Distribution::Uniform(0.5, 9.0), &device).require_grad();
            // Distinct weights per element, so a wrong gradient anywhere shows.
            let weights = Tensor::<4>::random(shape, Distribution::Default, &device);
            let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
                let y = f(x.clone());
                let grads = (y.clone() * weights.clone()).sum().backward();
                (y.into_data(), x.grad(&grads).unwrap().into_data())
            };
            let (y, dx) = run(&three_quarters);
            let (expected_y, expected_dx) = run(&|x| x.powf_scalar(0.75));
            let tolerance = Tolerance::<f32>::rel_abs(1e-6, 1e-6);
            y.assert_approx_eq::<f32>(&expected_y, tolerance);
            dx.assert_approx_eq::<f32>(&expected_dx, tolerance);
        }
    }
}
