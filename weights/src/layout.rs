//! The shape of BVLC GoogLeNet: one table that both the converter and the model read, so the
//! two can never disagree about a layer's name, key or size.

/// Channel widths of one inception module, in Caffe's branch order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InceptionSpec {
    /// Caffe's module name, e.g. `inception_4c`.
    pub name: &'static str,
    /// Channels coming in.
    pub input: usize,
    /// Output channels of the 1x1 branch.
    pub c1x1: usize,
    /// Output channels of the 3x3 branch's 1x1 reduction.
    pub c3x3_reduce: usize,
    /// Output channels of the 3x3 branch.
    pub c3x3: usize,
    /// Output channels of the 5x5 branch's 1x1 reduction.
    pub c5x5_reduce: usize,
    /// Output channels of the 5x5 branch.
    pub c5x5: usize,
    /// Output channels of the pooling branch's projection.
    pub pool_proj: usize,
}

impl InceptionSpec {
    /// Channels of the module's concatenated output.
    pub const fn output(&self) -> usize {
        self.c1x1 + self.c3x3 + self.c5x5 + self.pool_proj
    }
}

const fn inception(name: &'static str, input: usize, widths: [usize; 6]) -> InceptionSpec {
    InceptionSpec {
        name,
        input,
        c1x1: widths[0],
        c3x3_reduce: widths[1],
        c3x3: widths[2],
        c5x5_reduce: widths[3],
        c5x5: widths[4],
        pool_proj: widths[5],
    }
}

/// The nine inception modules of deploy.prototxt, in network order.
pub const INCEPTIONS: [InceptionSpec; 9] = [
    inception("inception_3a", 192, [64, 96, 128, 16, 32, 32]),
    inception("inception_3b", 256, [128, 128, 192, 32, 96, 64]),
    inception("inception_4a", 480, [192, 96, 208, 16, 48, 64]),
    inception("inception_4b", 512, [160, 112, 224, 24, 64, 64]),
    inception("inception_4c", 512, [128, 128, 256, 24, 64, 64]),
    inception("inception_4d", 512, [112, 144, 288, 32, 64, 64]),
    inception("inception_4e", 528, [256, 160, 320, 32, 128, 128]),
    inception("inception_5a", 832, [256, 160, 320, 32, 128, 128]),
    inception("inception_5b", 832, [384, 192, 384, 48, 128, 128]),
];

/// Number of ImageNet classes the classifier scores.
pub const CLASSES: usize = 1000;

/// Inception branch layers: Caffe's suffix and the model's field name.
pub const BRANCHES: [(&str, &str); 6] = [
    ("1x1", "conv_1x1"),
    ("3x3_reduce", "conv_3x3_reduce"),
    ("3x3", "conv_3x3"),
    ("5x5_reduce", "conv_5x5_reduce"),
    ("5x5", "conv_5x5"),
    ("pool_proj", "pool_proj"),
];

/// One learned layer: where caffejs keeps it and where the model expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSpec {
    /// Caffe's layer name, which is also caffejs's file path stem (`inception_4c/3x3`).
    pub caffe: String,
    /// Module path of the layer in the Burn model (`inception_4c.conv_3x3`).
    pub key: String,
    /// Output channels (or classes).
    pub out: usize,
    /// Input channels (or features).
    pub input: usize,
    /// Square kernel size; 0 marks the fully connected classifier.
    pub kernel: usize,
}

impl LayerSpec {
    fn conv(caffe: String, key: String, out: usize, input: usize, kernel: usize) -> Self {
        Self {
            caffe,
            key,
            out,
            input,
            kernel,
        }
    }

    /// Number of filter values, as caffejs stores them.
    pub fn filter_len(&self) -> usize {
        self.out * self.input * self.kernel.max(1) * self.kernel.max(1)
    }

    /// Whether this is the fully connected classifier rather than a convolution.
    pub fn is_linear(&self) -> bool {
        self.kernel == 0
    }
}

/// Every learned layer of the network, stem first and classifier last.
pub fn layers() -> Vec<LayerSpec> {
    let mut layers = vec![
        LayerSpec::conv("conv1/7x7_s2".into(), "conv1".into(), 64, 3, 7),
        LayerSpec::conv("conv2/3x3_reduce".into(), "conv2_reduce".into(), 64, 64, 1),
        LayerSpec::conv("conv2/3x3".into(), "conv2".into(), 192, 64, 3),
    ];
    for m in &INCEPTIONS {
        let shapes = [
            (m.c1x1, m.input, 1),
            (m.c3x3_reduce, m.input, 1),
            (m.c3x3, m.c3x3_reduce, 3),
            (m.c5x5_reduce, m.input, 1),
            (m.c5x5, m.c5x5_reduce, 5),
            (m.pool_proj, m.input, 1),
        ];
        for ((suffix, field), (out, input, kernel)) in BRANCHES.iter().zip(shapes) {
            layers.push(LayerSpec::conv(
                format!("{}/{suffix}", m.name),
                format!("{}.{field}", m.name),
                out,
                input,
                kernel,
            ));
        }
    }
    layers.push(LayerSpec {
        caffe: "loss3/classifier".into(),
        key: "classifier".into(),
        out: CLASSES,
        input: INCEPTIONS[8].output(),
        kernel: 0,
    });
    layers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_published_parameter_count() {
        let total: usize = layers().iter().map(|l| l.filter_len() + l.out).sum();
        assert_eq!(layers().len(), 58);
        assert_eq!(total, 6_998_552);
    }

    #[test]
    fn each_module_feeds_the_next() {
        for pair in INCEPTIONS.windows(2) {
            assert_eq!(
                pair[0].output(),
                pair[1].input,
                "{} -> {}",
                pair[0].name,
                pair[1].name
            );
        }
    }
}
