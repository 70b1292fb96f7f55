//! Our stride-1 convolution kernels for CubeCL devices (WebGPU in the page): a register-tiled
//! one for the CPU-emulated GPUs, described here, and a workgroup-tiled one for real GPUs
//! ([`conv_workgroup`]; `docs/gpu.md`).
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
//! comparisons ran that many times; docs/performance.md, "Behind the code".)
//!
//! Layouts: input NHWC and output NHWC (vectors along channels, as burn-cubecl's convolutions
//! give and take them), weights `[k, k, C, O]` (vectors along output channels), which
//! [`laid_out`] makes once at load.

use std::sync::OnceLock;

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

/// Which of the two kernels runs the convolutions on CubeCL devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// [`conv_tiled`]: registers only, fastest on the CPU-emulated GPUs (lavapipe, SwiftShader),
    /// which have no faster memory than their caches.
    Register,
    /// [`conv_workgroup`]: tiles staged in workgroup memory, as GPU convolutions are.
    Workgroup,
}

/// The shape of [`conv_workgroup`]'s work: a workgroup's tile of positions × output vectors,
/// and each unit's share of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct WorkgroupTile {
    tile_m: usize,
    tile_o: usize,
    positions: usize,
    out_vectors: usize,
}

impl WorkgroupTile {
    /// 64 positions × 64 output channels over 128 units, 32 channels over 64 units for layers
    /// with fewer than 64 (the 5×5 reductions, the mirrored `conv1`): each unit 4 positions ×
    /// 8 channels, the A and B blocks 8 KiB together (WebGPU guarantees 16). Natively
    /// `DEEPDREAM_TILE` sets another shape for every layer, to tune on a GPU ([`Self::parse`]).
    fn for_channels(o_vectors: usize) -> WorkgroupTile {
        if let Some(tile) = forced_tile() {
            return tile;
        }
        WorkgroupTile {
            tile_m: 64,
            tile_o: if o_vectors >= 16 { 16 } else { 8 },
            positions: 4,
            out_vectors: 2,
        }
    }

    /// `"MxO/PxQ"`: M positions × O output channels a workgroup, P positions × Q channels a
    /// unit (the default for wide layers is `64x64/4x8`); `None` for a shape the kernel cannot
    /// run: channels in whole vectors, whole units in fours that each load whole vectors, at
    /// most 256 units and 16 KiB of workgroup memory.
    fn parse(text: &str) -> Option<WorkgroupTile> {
        let (workgroup, unit) = text.split_once('/')?;
        let pair = |s: &str| -> Option<(usize, usize)> {
            let (a, b) = s.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let ((tile_m, channels), (positions, unit_channels)) = (pair(workgroup)?, pair(unit)?);
        let whole = |n: usize, of: usize| of > 0 && n.is_multiple_of(of);
        if !whole(channels, VECTOR) || !whole(unit_channels, VECTOR) {
            return None;
        }
        let tile = WorkgroupTile {
            tile_m,
            tile_o: channels / VECTOR,
            positions,
            out_vectors: unit_channels / VECTOR,
        };
        let units = (whole(tile_m, positions) && whole(tile.tile_o, tile.out_vectors))
            .then(|| tile.units())?;
        let shared = (tile_m * K_VECTORS + K_VECTORS * VECTOR * tile.tile_o) * VECTOR * 4;
        // Units load the A block four to a position, one channel vector each.
        let fits = (1..=256).contains(&units)
            && whole(units, K_VECTORS)
            && whole(tile_m * K_VECTORS, units)
            && whole(K_VECTORS * VECTOR * tile.tile_o, units)
            && shared <= 16 << 10;
        fits.then_some(tile)
    }

    fn units(&self) -> usize {
        self.tile_m / self.positions * (self.tile_o / self.out_vectors)
    }
}

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

/// `DEEPDREAM_TILE`, natively (read once); refused with a message when the kernel cannot run it.
fn forced_tile() -> Option<WorkgroupTile> {
    static TILE: OnceLock<Option<WorkgroupTile>> = OnceLock::new();
    *TILE.get_or_init(|| {
        let text = std::env::var("DEEPDREAM_TILE")
            .ok()
            .filter(|_| cfg!(not(target_family = "wasm")))?;
        let tile = WorkgroupTile::parse(&text);
        if tile.is_none() {
            eprintln!(
                "DEEPDREAM_TILE={text} ignored: give MxO/PxQ (e.g. 64x64/4x8), channels in \
                 fours, at most 256 units and 16 KiB of workgroup memory"
            );
        }
        tile
    })
}

/// Input channel vectors in one step along K of [`conv_workgroup`]: 16 channels.
const K_VECTORS: usize = 4;

/// The workgroup-tiled convolution: an implicit GEMM with M = output positions (batch, row,
/// column), N = output channels, K = kernel taps × input channels. A workgroup computes
/// `tile_m` positions × `tile_o` output vectors; each unit `positions` × `out_vectors` of them
/// in registers. K goes in steps of one tap × 16 input channels, whose A block (positions ×
/// channels) and B block (channels × output channels) the units stage together in workgroup
/// memory, so each value read from global memory serves `tile_o · 4` or `tile_m`
/// multiply-adds instead of the register kernel's `out_vectors · 4` or `positions`. The next
/// step's blocks are read into registers while the current ones are multiplied.
///
/// Units past the image's edge or the last position mask their loads and stores rather than
/// leave: `sync_cube` must be reached by every unit of a workgroup (WebGPU rejects a barrier
/// after a non-uniform return).
#[cube(launch_unchecked)]
fn conv_workgroup<N: Size>(
    input: &Tensor<Vector<f32, N>>,
    weight: &Tensor<Vector<f32, N>>,
    bias: &Tensor<Vector<f32, N>>,
    output: &mut Tensor<Vector<f32, N>>,
    #[comptime] kernel: usize,
    #[comptime] pad: usize,
    #[comptime] tile: WorkgroupTile,
    #[comptime] has_bias: bool,
    #[comptime] relu: bool,
) {
    let vector = input.vector_size();
    let c_vectors = input.shape(3) / vector;
    let out_height = output.shape(1);
    let out_width = output.shape(2);
    let o_vectors = output.shape(3) / vector;
    let total = output.shape(0) * out_height * out_width;

    let groups_m = comptime![tile.tile_m / tile.positions];
    let groups_o = comptime![tile.tile_o / tile.out_vectors];
    let units = comptime![groups_m * groups_o];
    let a_slots = comptime![tile.tile_m * K_VECTORS / units];
    let b_slots = comptime![K_VECTORS * VECTOR * tile.tile_o / units];

    let o_tiles = o_vectors.div_ceil(tile.tile_o);
    let m0 = CUBE_POS / o_tiles * tile.tile_m;
    let o0 = CUBE_POS % o_tiles * tile.tile_o;
    let unit = UNIT_POS as usize;

    let mut a_block = Shared::<[Vector<f32, N>]>::new_slice(comptime![tile.tile_m * K_VECTORS]);
    let mut b_block =
        Shared::<[Vector<f32, N>]>::new_slice(comptime![K_VECTORS * VECTOR * tile.tile_o]);

    // Where this unit's A loads come from: channel vector `unit % K_VECTORS` of positions
    // `unit / K_VECTORS + i · units / K_VECTORS`, as (image row base, y − pad, x − pad).
    // Positions past the last load position 0's values, into rows that are never stored.
    let mut rows = Array::<usize>::new(a_slots);
    let mut ys = Array::<i32>::new(a_slots);
    let mut xs = Array::<i32>::new(a_slots);
    #[unroll]
    for i in 0..a_slots {
        let m = m0 + unit / K_VECTORS + i * comptime![units / K_VECTORS];
        let m = select(m < total, m, 0);
        let x = m % out_width;
        let rest = m / out_width;
        rows[i] = rest / out_height * input.shape(1);
        ys[i] = (rest % out_height) as i32 - pad as i32;
        xs[i] = x as i32 - pad as i32;
    }

    let blocks = c_vectors.div_ceil(K_VECTORS);
    let steps = comptime![kernel * kernel] * blocks;
    let mut a_next = Array::<Vector<f32, N>>::new(a_slots);
    let mut b_next = Array::<Vector<f32, N>>::new(b_slots);
    fetch(
        input,
        weight,
        0,
        blocks,
        unit,
        o0,
        &rows,
        &ys,
        &xs,
        &mut a_next,
        &mut b_next,
        kernel,
        tile,
    );

    let mut acc = Array::<Vector<f32, N>>::new(comptime![tile.positions * tile.out_vectors]);
    #[unroll]
    for i in 0..comptime![tile.positions * tile.out_vectors] {
        acc[i] = Vector::new(0.0);
    }
    let pg = unit / groups_o;
    let cg = unit % groups_o;
    let mut pixels = Array::<Vector<f32, N>>::new(tile.positions);

    for step in 0..steps {
        #[unroll]
        for i in 0..a_slots {
            a_block[unit + i * units] = a_next[i];
        }
        #[unroll]
        for i in 0..b_slots {
            b_block[unit + i * units] = b_next[i];
        }
        sync_cube();
        if step + 1 < steps {
            fetch(
                input,
                weight,
                step + 1,
                blocks,
                unit,
                o0,
                &rows,
                &ys,
                &xs,
                &mut a_next,
                &mut b_next,
                kernel,
                tile,
            );
        }
        #[unroll]
        for kv in 0..K_VECTORS {
            #[unroll]
            for p in 0..tile.positions {
                pixels[p] = a_block[(p * groups_m + pg) * K_VECTORS + kv];
            }
            #[unroll]
            for j in 0..VECTOR {
                #[unroll]
                for t in 0..tile.out_vectors {
                    let w = b_block[(kv * VECTOR + j) * tile.tile_o + t * groups_o + cg];
                    #[unroll]
                    for p in 0..tile.positions {
                        acc[p * tile.out_vectors + t] += w * Vector::new(pixels[p].extract(j));
                    }
                }
            }
        }
        sync_cube();
    }

    #[unroll]
    for p in 0..tile.positions {
        let m = m0 + p * groups_m + pg;
        #[unroll]
        for t in 0..tile.out_vectors {
            let o = o0 + t * groups_o + cg;
            if m < total && o < o_vectors {
                let mut value = acc[p * tile.out_vectors + t];
                if has_bias {
                    value += bias[o];
                }
                if relu {
                    let zero = Vector::new(0.0);
                    value = select_many(value.less_equal(&zero), zero, value);
                }
                output[m * o_vectors + o] = value;
            }
        }
    }
}

/// Reads step `step`'s A and B blocks of [`conv_workgroup`] into this unit's registers: zero
/// where a tap falls outside the image, past the last channel or output channel.
#[cube]
#[allow(clippy::too_many_arguments)]
fn fetch<N: Size>(
    input: &Tensor<Vector<f32, N>>,
    weight: &Tensor<Vector<f32, N>>,
    step: usize,
    blocks: usize,
    unit: usize,
    o0: usize,
    rows: &Array<usize>,
    ys: &Array<i32>,
    xs: &Array<i32>,
    a_next: &mut Array<Vector<f32, N>>,
    b_next: &mut Array<Vector<f32, N>>,
    #[comptime] kernel: usize,
    #[comptime] tile: WorkgroupTile,
) {
    let vector = input.vector_size();
    let height = input.shape(1) as i32;
    let width = input.shape(2);
    let c_vectors = input.shape(3) / vector;
    let channels = c_vectors * vector;
    let o_vectors = weight.shape(3) / vector;
    let units = comptime![(tile.tile_m / tile.positions) * (tile.tile_o / tile.out_vectors)];
    let tap = step / blocks;
    let cv0 = step % blocks * K_VECTORS;
    let ky = (tap / kernel) as i32;
    let kx = (tap % kernel) as i32;
    let cv = cv0 + unit % K_VECTORS;
    let zero = Vector::new(0.0);
    #[unroll]
    for i in 0..comptime![tile.tile_m * K_VECTORS / units] {
        let iy = ys[i] + ky;
        let ix = xs[i] + kx;
        // Both channel masks keep reads in bounds; either alone would zero the product.
        let inside = cv < c_vectors && iy >= 0 && iy < height && ix >= 0 && ix < width as i32;
        let at = ((rows[i] + select(inside, iy, 0) as usize) * width
            + select(inside, ix, 0) as usize)
            * c_vectors
            + select(inside, cv, 0);
        a_next[i] = select(inside, input[at], zero);
    }
    #[unroll]
    for i in 0..comptime![K_VECTORS * VECTOR * tile.tile_o / units] {
        let e = unit + i * units;
        let c = cv0 * vector + e / tile.tile_o;
        let o = o0 + e % tile.tile_o;
        let inside = c < channels && o < o_vectors;
        let at = select(inside, (tap * channels + c) * o_vectors + o, 0);
        b_next[i] = select(inside, weight[at], zero);
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
/// nothing else holds it (a new buffer raised the 12 MP page test's peak).
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
/// through a ReLU if `relu`, on `kernel`; or `None` where the kernels do not take it: f32
/// only, channels in whole vectors, a square kernel that fits.
pub fn conv(
    kernel: Kernel,
    x: &CubeTensor,
    weight: &CubeTensor,
    bias: Option<&CubeTensor>,
    pad: usize,
    relu: bool,
) -> Option<CubeTensor> {
    conv_as(kernel, None, x, weight, bias, pad, relu)
}

/// [`conv`], the workgroup kernel on `tile` if given, else on the layer's own.
fn conv_as(
    kernel: Kernel,
    tile: Option<WorkgroupTile>,
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

    let has_bias = bias.is_some();
    // Unread when there is no bias; any f32 buffer will do.
    let bias = bias.unwrap_or_else(|| weight.clone());
    let (input, weight, bias, out) = (
        input.into_tensor_arg(),
        weight.into_tensor_arg(),
        bias.into_tensor_arg(),
        output.clone().into_tensor_arg(),
    );
    match kernel {
        Kernel::Register => {
            let out_vectors = if o % (2 * VECTOR) == 0 { 2 } else { 1 };
            let units = n * out_h * out_w.div_ceil(POSITIONS) * (o / VECTOR / out_vectors);
            let cube_dim = CubeDim::new(&client, units);
            let cube_count = calculate_cube_count_elemwise(&client, units, cube_dim);
            // SAFETY: every read is in bounds: input rows outside the image are skipped,
            // columns outside it are clamped to column 0 and masked to zero, weight and bias
            // indices stay below k·k·C·O and O by construction; writes past the row's end and
            // invocations past the last tile are skipped. The shapes and vector size are the
            // ones checked above.
            unsafe {
                conv_tiled::launch_unchecked(
                    &client,
                    cube_count,
                    cube_dim,
                    VECTOR,
                    input,
                    weight,
                    bias,
                    out,
                    k,
                    pad,
                    POSITIONS,
                    out_vectors,
                    has_bias,
                    relu,
                )
            };
        }
        Kernel::Workgroup => {
            let tile = tile.unwrap_or_else(|| WorkgroupTile::for_channels(o / VECTOR));
            let workgroups =
                (n * out_h * out_w).div_ceil(tile.tile_m) * (o / VECTOR).div_ceil(tile.tile_o);
            let cube_dim = CubeDim::new_1d(tile.units() as u32);
            let cube_count =
                calculate_cube_count_elemwise(&client, workgroups * tile.units(), cube_dim);
            // SAFETY: every read is in bounds: positions past the last read position 0; a load
            // outside the image, past the last input channel or output channel reads index 0
            // of its own image (or of the weights) and is replaced by zero; writes past the
            // last position or output channel are skipped, and so is every write of workgroups
            // past the last tile. The shapes and vector size are the ones checked above.
            unsafe {
                conv_workgroup::launch_unchecked(
                    &client, cube_count, cube_dim, VECTOR, input, weight, bias, out, k, pad, tile,
                    has_bias, relu,
                )
            };
        }
    }
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

    /// Both kernels equal Burn's `conv2d` for every kernel size the page's convolutions have
    /// (4×4: conv1 by space-to-depth), with one and two output vectors per invocation, on sizes
    /// that leave partial tiles of every kind (positions, output channels, and for the
    /// workgroup kernel input channels within a 16-channel step, several steps), with and
    /// without bias, on weights as given and as laid out, and with the ReLU they take (Burn's
    /// `relu` after Burn's convolution). They refuse what they cannot take (channels not in
    /// whole vectors) rather than computing it.
    #[test]
    fn the_kernels_equal_burns_convolution() {
        let device = crate::device::test_gpu();
        // Values of both signs, so that the ReLU clamps.
        let random = |shape: [usize; 4]| {
            Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device)
        };
        // [input channels, output channels, height, width]: 2 × 7 × 9 = 126 positions (two
        // 64-position tiles, the second partial), 72 output channels (a full 64-channel tile
        // and a partial one), 36 input channels (three steps, the last partial), 12 (as conv1
        // folded, and its mirrored gradient's output).
        let shapes = [
            [8, 12, 7, 9],
            [36, 16, 6, 5],
            [12, 24, 3, 13],
            [20, 72, 9, 10],
        ];
        for (k, pad) in [(1, 0), (3, 1), (5, 2), (4, 1), (3, 0)] {
            for [c, o, h, w] in shapes {
                let x = cube(random([2, c, h, w]));
                let weight = cube(random([o, c, k, k]));
                let bias = cube(random([1, 1, 1, o]).reshape::<1, _>([o]));
                for (with_bias, relu) in [(true, false), (false, false), (true, true)] {
                    let bias = with_bias.then(|| bias.clone());
                    let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
                    let expected = Cube::conv2d(x.clone(), weight.clone(), bias.clone(), options);
                    let expected = data(if relu { Cube::relu(expected) } else { expected });
                    for kernel in [Kernel::Register, Kernel::Workgroup] {
                        for weight in [weight.clone(), laid_out(weight.clone())] {
                            let ours =
                                conv(kernel, &x, &weight, bias.as_ref(), pad, relu).expect("taken");
                            let case = format!("{kernel:?} {k}x{k} pad {pad}, {c}->{o} {h}x{w}");
                            let ours = data(ours);
                            assert_eq!(ours.shape(), expected.shape(), "{case}");
                            ours.assert_approx_eq::<f32>(
                                &expected,
                                Tolerance::<f32>::rel_abs(1e-5, 1e-5),
                            );
                        }
                    }
                }
            }
        }
        let three = cube(random([1, 3, 8, 8]));
        for kernel in [Kernel::Register, Kernel::Workgroup] {
            assert!(conv(kernel, &three, &cube(random([8, 3, 3, 3])), None, 1, false).is_none());
        }
    }

    /// Tile shapes for tuning are read as written and refused where the kernel could not run
    /// them; and tuned shapes compute the same convolution.
    #[test]
    fn a_workgroup_tile_is_read_or_refused() {
        let tile = WorkgroupTile::parse("32x64/2x8").expect("a shape that runs");
        assert_eq!(
            (tile.tile_m, tile.tile_o, tile.positions, tile.out_vectors),
            (32, 16, 2, 2)
        );
        assert_eq!(tile.units(), 128);
        let tile = WorkgroupTile::parse("64x64/4x8").expect("the default");
        assert_eq!(
            (tile.tile_m, tile.tile_o, tile.positions, tile.out_vectors),
            (64, 16, 4, 2)
        );
        let device = crate::device::test_gpu();
        let random = |shape: [usize; 4]| {
            cube(Tensor::<4>::random(
                shape,
                Distribution::Uniform(-1.0, 1.0),
                &device,
            ))
        };
        let (x, weight) = (random([2, 20, 9, 10]), random([72, 20, 3, 3]));
        let bias = cube(Tensor::<1>::random(
            [72],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        ));
        let expected = data(conv(Kernel::Register, &x, &weight, Some(&bias), 1, true).unwrap());
        for shape in ["32x64/2x8", "64x32/8x4", "128x16/4x4"] {
            let tile = WorkgroupTile::parse(shape);
            let ours = conv_as(Kernel::Workgroup, tile, &x, &weight, Some(&bias), 1, true).unwrap();
            data(ours).assert_approx_eq::<f32>(&expected, Tolerance::<f32>::rel_abs(1e-5, 1e-5));
        }
        for refused in [
            "64x62/4x8",   // channels not in fours
            "64x64/3x8",   // positions not in whole units
            "64x64/1x4",   // 1024 units
            "256x64/16x8", // 128 units, but 20 KiB of workgroup memory
            "8x4/4x4",     // 2 units: not four to a position
            "48x64/4x8",   // 96 units: the B block's 256 vectors are no multiple
            "64x64",
            "",
        ] {
            assert_eq!(WorkgroupTile::parse(refused), None, "{refused}");
        }
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
        let y = conv(Kernel::Register, &x, &weight, None, 1, true).expect("taken");
        // A gradient NHWC underneath as well, so that the last call writes it in place.
        let grad = conv(
            Kernel::Register,
            &random([2, 8, 5, 7]),
            &weight,
            None,
            1,
            false,
        )
        .expect("taken");
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
