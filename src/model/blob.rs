//! Caffe's blob names for every intermediate result of GoogLeNet, their order in the forward
//! pass, their channel counts and the spatial size each one has for a given input.

use std::fmt;
use std::str::FromStr;

use deepdream_weights::{CLASSES, INCEPTIONS, InceptionSpec};

use crate::Error;

/// One of the eight blobs inside an inception module, in Caffe's order of computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The 1x1 branch.
    Conv1x1,
    /// The 1x1 reduction before the 3x3 branch.
    Reduce3x3,
    /// The 3x3 branch.
    Conv3x3,
    /// The 1x1 reduction before the 5x5 branch.
    Reduce5x5,
    /// The 5x5 branch.
    Conv5x5,
    /// The 3x3/1 max pool that feeds the projection.
    Pool,
    /// The 1x1 projection after the pool.
    PoolProj,
    /// The four branches concatenated.
    Output,
    /// A branch convolution's value before its ReLU (`1x1_pre_relu`, …): what feature
    /// visualisation maximises, since after the ReLU a channel is zero, and so has no
    /// gradient, wherever it is not already active.
    PreRelu(Branch),
}

/// The six convolutions of an inception module, each followed by a ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Branch {
    /// `1x1`.
    Conv1x1,
    /// `3x3_reduce`.
    Reduce3x3,
    /// `3x3`.
    Conv3x3,
    /// `5x5_reduce`.
    Reduce5x5,
    /// `5x5`.
    Conv5x5,
    /// `pool_proj`.
    PoolProj,
}

impl Branch {
    /// The blob part that holds this convolution after its ReLU.
    pub fn part(self) -> Part {
        match self {
            Branch::Conv1x1 => Part::Conv1x1,
            Branch::Reduce3x3 => Part::Reduce3x3,
            Branch::Conv3x3 => Part::Conv3x3,
            Branch::Reduce5x5 => Part::Reduce5x5,
            Branch::Conv5x5 => Part::Conv5x5,
            Branch::PoolProj => Part::PoolProj,
        }
    }
}

impl Part {
    /// In the order of computation, each pre-ReLU value just before its ReLU.
    const ALL: [Part; 14] = [
        Part::PreRelu(Branch::Conv1x1),
        Part::Conv1x1,
        Part::PreRelu(Branch::Reduce3x3),
        Part::Reduce3x3,
        Part::PreRelu(Branch::Conv3x3),
        Part::Conv3x3,
        Part::PreRelu(Branch::Reduce5x5),
        Part::Reduce5x5,
        Part::PreRelu(Branch::Conv5x5),
        Part::Conv5x5,
        Part::Pool,
        Part::PreRelu(Branch::PoolProj),
        Part::PoolProj,
        Part::Output,
    ];

    fn suffix(self) -> String {
        let name = match self {
            Part::Conv1x1 => "1x1",
            Part::Reduce3x3 => "3x3_reduce",
            Part::Conv3x3 => "3x3",
            Part::Reduce5x5 => "5x5_reduce",
            Part::Conv5x5 => "5x5",
            Part::Pool => "pool",
            Part::PoolProj => "pool_proj",
            Part::Output => "output",
            Part::PreRelu(branch) => return format!("{}_pre_relu", branch.part().suffix()),
        };
        name.into()
    }

    fn channels(self, m: &InceptionSpec) -> usize {
        match self {
            Part::Conv1x1 => m.c1x1,
            Part::Reduce3x3 => m.c3x3_reduce,
            Part::Conv3x3 => m.c3x3,
            Part::Reduce5x5 => m.c5x5_reduce,
            Part::Conv5x5 => m.c5x5,
            Part::Pool => m.input,
            Part::PoolProj => m.pool_proj,
            Part::Output => m.output(),
            Part::PreRelu(branch) => branch.part().channels(m),
        }
    }
}

/// A named intermediate result of the network: what DeepDream maximises and what `classify`
/// reads. Ordered by when the forward pass produces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blob {
    /// `conv1/7x7_s2_pre_relu`: conv1 before its ReLU.
    Conv1PreRelu,
    /// `conv1/7x7_s2` (after its ReLU, as Caffe's in-place ReLU leaves it).
    Conv1,
    /// `pool1/3x3_s2`.
    Pool1,
    /// `pool1/norm1`.
    Norm1,
    /// `conv2/3x3_reduce_pre_relu`.
    Conv2ReducePreRelu,
    /// `conv2/3x3_reduce`.
    Conv2Reduce,
    /// `conv2/3x3_pre_relu`.
    Conv2PreRelu,
    /// `conv2/3x3`.
    Conv2,
    /// `conv2/norm2`.
    Norm2,
    /// `pool2/3x3_s2`.
    Pool2,
    /// `inception_Xy/<part>`; `module` indexes [`INCEPTIONS`].
    Inception {
        /// Index into [`INCEPTIONS`] (0 = inception_3a).
        module: usize,
        /// Which blob of the module.
        part: Part,
    },
    /// `pool3/3x3_s2`, after inception_3b.
    Pool3,
    /// `pool4/3x3_s2`, after inception_4e.
    Pool4,
    /// `pool5/7x7_s1`, the global average pool before the classifier.
    Pool5,
    /// `loss3/classifier`: the 1000 class scores before softmax.
    Classifier,
}

impl Blob {
    /// The blob DeepDream's canonical preset maximises.
    pub const CANONICAL: Blob = Blob::Inception {
        module: 4,
        part: Part::Output,
    };

    /// Every blob, in the order the forward pass produces them.
    pub fn all() -> Vec<Blob> {
        let mut all = vec![
            Blob::Conv1PreRelu,
            Blob::Conv1,
            Blob::Pool1,
            Blob::Norm1,
            Blob::Conv2ReducePreRelu,
            Blob::Conv2Reduce,
            Blob::Conv2PreRelu,
            Blob::Conv2,
            Blob::Norm2,
            Blob::Pool2,
        ];
        for module in 0..INCEPTIONS.len() {
            all.extend(
                Part::ALL
                    .iter()
                    .map(|&part| Blob::Inception { module, part }),
            );
            match module {
                1 => all.push(Blob::Pool3),
                6 => all.push(Blob::Pool4),
                _ => {}
            }
        }
        all.extend([Blob::Pool5, Blob::Classifier]);
        all
    }

    /// Whether a dream can maximise this blob. Not the classifier: it needs pool5 to be 1×1,
    /// so only inputs of 223 to 254 px reach it, which tiles of a photo at its octaves do not
    /// keep.
    pub fn dreamable(self) -> bool {
        self != Blob::Classifier
    }

    /// Every blob a dream can maximise, in network order.
    pub fn dreamable_all() -> Vec<Blob> {
        Blob::all().into_iter().filter(|b| b.dreamable()).collect()
    }

    /// Whether this is a convolution's value before its ReLU.
    pub fn is_pre_relu(self) -> bool {
        matches!(
            self,
            Blob::Conv1PreRelu
                | Blob::Conv2ReducePreRelu
                | Blob::Conv2PreRelu
                | Blob::Inception {
                    part: Part::PreRelu(_),
                    ..
                }
        )
    }

    /// Where channel `channel` of this blob comes from before any ReLU: the blob and channel a
    /// channel objective maximises. A ReLU'd convolution maps to its own pre-ReLU value, a
    /// module's concatenated output to the branch that made that channel (`inception_4d/output`
    /// channel 300 is `inception_4d/5x5_pre_relu` channel 12); pools and norms stay as they are.
    pub fn channel_source(self, channel: usize) -> (Blob, usize) {
        match self {
            Blob::Conv1 => (Blob::Conv1PreRelu, channel),
            Blob::Conv2Reduce => (Blob::Conv2ReducePreRelu, channel),
            Blob::Conv2 => (Blob::Conv2PreRelu, channel),
            Blob::Inception { module, part } => {
                let branch = match part {
                    Part::Conv1x1 => Branch::Conv1x1,
                    Part::Reduce3x3 => Branch::Reduce3x3,
                    Part::Conv3x3 => Branch::Conv3x3,
                    Part::Reduce5x5 => Branch::Reduce5x5,
                    Part::Conv5x5 => Branch::Conv5x5,
                    Part::PoolProj => Branch::PoolProj,
                    Part::Output => {
                        let m = &INCEPTIONS[module];
                        let mut offset = channel;
                        let mut found = Branch::PoolProj;
                        for (branch, width) in [
                            (Branch::Conv1x1, m.c1x1),
                            (Branch::Conv3x3, m.c3x3),
                            (Branch::Conv5x5, m.c5x5),
                        ] {
                            if offset < width {
                                found = branch;
                                break;
                            }
                            offset -= width;
                        }
                        let part = Part::PreRelu(found);
                        return (Blob::Inception { module, part }, offset);
                    }
                    Part::Pool | Part::PreRelu(_) => return (self, channel),
                };
                let part = Part::PreRelu(branch);
                (Blob::Inception { module, part }, channel)
            }
            _ => (self, channel),
        }
    }

    /// Position in the forward pass; a pass asked for several blobs stops at the largest.
    pub fn order(self) -> usize {
        Blob::all()
            .iter()
            .position(|&b| b == self)
            .expect("every blob is listed")
    }

    /// Caffe's name, e.g. `inception_4c/output`.
    pub fn name(self) -> String {
        match self {
            Blob::Conv1PreRelu => "conv1/7x7_s2_pre_relu".into(),
            Blob::Conv1 => "conv1/7x7_s2".into(),
            Blob::Pool1 => "pool1/3x3_s2".into(),
            Blob::Norm1 => "pool1/norm1".into(),
            Blob::Conv2ReducePreRelu => "conv2/3x3_reduce_pre_relu".into(),
            Blob::Conv2Reduce => "conv2/3x3_reduce".into(),
            Blob::Conv2PreRelu => "conv2/3x3_pre_relu".into(),
            Blob::Conv2 => "conv2/3x3".into(),
            Blob::Norm2 => "conv2/norm2".into(),
            Blob::Pool2 => "pool2/3x3_s2".into(),
            Blob::Inception { module, part } => {
                format!("{}/{}", INCEPTIONS[module].name, part.suffix())
            }
            Blob::Pool3 => "pool3/3x3_s2".into(),
            Blob::Pool4 => "pool4/3x3_s2".into(),
            Blob::Pool5 => "pool5/7x7_s1".into(),
            Blob::Classifier => "loss3/classifier".into(),
        }
    }

    /// Number of channels the blob has.
    pub fn channels(self) -> usize {
        match self {
            Blob::Conv1PreRelu
            | Blob::Conv1
            | Blob::Pool1
            | Blob::Norm1
            | Blob::Conv2ReducePreRelu
            | Blob::Conv2Reduce => 64,
            Blob::Conv2PreRelu | Blob::Conv2 | Blob::Norm2 | Blob::Pool2 => 192,
            Blob::Inception { module, part } => part.channels(&INCEPTIONS[module]),
            Blob::Pool3 => INCEPTIONS[2].input,
            Blob::Pool4 => INCEPTIONS[7].input,
            Blob::Pool5 => INCEPTIONS[8].output(),
            Blob::Classifier => CLASSES,
        }
    }

    /// Height and width of this blob for an input of `size` (height, width), or `None` when
    /// the input is too small to reach it. The classifier only accepts a 7×7 `inception_5b`.
    pub fn spatial(self, size: [usize; 2]) -> Option<[usize; 2]> {
        let per_axis = |n: usize| -> Option<usize> {
            let n = conv_out(n, 7, 2, 3)?;
            if matches!(self, Blob::Conv1 | Blob::Conv1PreRelu) {
                return Some(n);
            }
            let n = caffe_pool_out(n, 3, 2, 0)?;
            if matches!(
                self,
                Blob::Pool1
                    | Blob::Norm1
                    | Blob::Conv2ReducePreRelu
                    | Blob::Conv2Reduce
                    | Blob::Conv2PreRelu
                    | Blob::Conv2
                    | Blob::Norm2
            ) {
                return Some(n);
            }
            let mut n = caffe_pool_out(n, 3, 2, 0)?;
            let order = self.order();
            if order < Blob::Pool3.order() {
                return Some(n);
            }
            n = caffe_pool_out(n, 3, 2, 0)?;
            if order < Blob::Pool4.order() {
                return Some(n);
            }
            n = caffe_pool_out(n, 3, 2, 0)?;
            if order < Blob::Pool5.order() {
                return Some(n);
            }
            let n = conv_out(n, 7, 1, 0)?;
            (self == Blob::Pool5 || n == 1).then_some(n)
        };
        Some([per_axis(size[0])?, per_axis(size[1])?])
    }

    /// Smallest square input side that reaches this blob (the classifier needs exactly 224
    /// or a size that pools to 7×7 at inception_5b; this returns the smallest such).
    pub fn min_input(self) -> usize {
        (1..=4096)
            .find(|&n| self.spatial([n, n]).is_some())
            .expect("every blob is reachable from some input up to 4096 px")
    }
}

/// Convolution output size, `None` when the kernel does not fit.
pub(crate) fn conv_out(n: usize, k: usize, s: usize, p: usize) -> Option<usize> {
    (n + 2 * p).checked_sub(k).map(|r| r / s + 1)
}

/// Caffe's ceil-mode pooling size: a last window that would start in the padding is dropped.
pub(crate) fn caffe_pool_out(n: usize, k: usize, s: usize, p: usize) -> Option<usize> {
    let span = (n + 2 * p).checked_sub(k)?;
    let mut out = span.div_ceil(s) + 1;
    if p > 0 && (out - 1) * s >= n + p {
        out -= 1;
    }
    Some(out)
}

impl fmt::Display for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Blob {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Blob::all()
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| Error::UnknownLayer(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let all = Blob::all();
        assert_eq!(all.len(), 10 + 9 * 14 + 4);
        for blob in &all {
            assert_eq!(blob.name().parse::<Blob>().unwrap(), *blob);
        }
        assert_eq!(Blob::CANONICAL.name(), "inception_4c/output");
        assert!("inception_4c/outptu".parse::<Blob>().is_err());
        assert_eq!(
            "inception_4d/3x3_pre_relu".parse::<Blob>().unwrap(),
            Blob::Inception {
                module: 5,
                part: Part::PreRelu(Branch::Conv3x3)
            }
        );
    }

    #[test]
    fn output_channels_map_to_their_branch_before_the_relu() {
        // inception_4d: 1x1 112, 3x3 288, 5x5 64, pool_proj 64 (528 in all).
        let out: Blob = "inception_4d/output".parse().unwrap();
        let source = |c| {
            let (blob, channel) = out.channel_source(c);
            (blob.name(), channel)
        };
        assert_eq!(source(0), ("inception_4d/1x1_pre_relu".into(), 0));
        assert_eq!(source(111), ("inception_4d/1x1_pre_relu".into(), 111));
        assert_eq!(source(112), ("inception_4d/3x3_pre_relu".into(), 0));
        assert_eq!(source(300), ("inception_4d/3x3_pre_relu".into(), 188));
        assert_eq!(source(400), ("inception_4d/5x5_pre_relu".into(), 0));
        assert_eq!(source(527), ("inception_4d/pool_proj_pre_relu".into(), 63));
        assert_eq!(
            Blob::Conv2.channel_source(5),
            (Blob::Conv2PreRelu, 5),
            "a plain convolution maps to its own pre-ReLU value"
        );
        assert_eq!(Blob::Pool3.channel_source(5), (Blob::Pool3, 5));
    }

    #[test]
    fn sizes_follow_caffe_ceil_mode() {
        // SOURCE.md: 224 -> 112 -> 56 -> 28 -> 14 -> 7.
        assert_eq!(Blob::Conv1.spatial([224, 224]), Some([112, 112]));
        assert_eq!(Blob::Pool1.spatial([224, 224]), Some([56, 56]));
        assert_eq!(Blob::Pool2.spatial([224, 224]), Some([28, 28]));
        assert_eq!(Blob::CANONICAL.spatial([224, 224]), Some([14, 14]));
        assert_eq!(Blob::Pool5.spatial([224, 224]), Some([1, 1]));
        assert_eq!(Blob::Classifier.spatial([224, 224]), Some([1, 1]));
        assert_eq!(Blob::Classifier.spatial([256, 224]), None);
        // 181 x 239: ceil mode rounds up at pool3 (22 -> 11) where floor would give 10.
        assert_eq!(Blob::CANONICAL.spatial([181, 239]), Some([11, 15]));
        assert_eq!(caffe_pool_out(22, 3, 2, 0), Some(11));
        assert_eq!(caffe_pool_out(14, 3, 1, 1), Some(14));
    }

    #[test]
    fn too_small_inputs_are_detected() {
        let min = Blob::CANONICAL.min_input();
        assert!(Blob::CANONICAL.spatial([min, min]).is_some());
        assert!(Blob::CANONICAL.spatial([min - 1, min]).is_none());
        assert!(Blob::Conv1.min_input() < min && min < Blob::Pool5.min_input());
    }
}
