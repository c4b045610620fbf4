//! The one table of numeric formats: names, element bits, scales and their overhead, which axis
//! blocks run along, and how each format may be used for activations.
//!
//! Every per-format constant lives in [`Format::info`]; everything else (bits per element, shape
//! checks, the CLI table, the kernels' block sizes) is derived from that row.

use std::fmt;

use candle_core::quantized::GgmlDType;
use serde::{Deserialize, Serialize};

use super::error::QuantError;
use super::name::join_names;

/// How one tensor is stored. A closed set: [`Format::all`] lists every member, in table order.
///
/// Serialized (serde, `Display`, `FromStr`) as its stable name: `fp8-e4m3`, `int4-sym-g128`, `q4_k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// IEEE binary32: the unquantized reference.
    Fp32,
    /// IEEE binary16, elementwise.
    Fp16,
    /// bfloat16, elementwise.
    Bf16,
    /// OCP FP8 E4M3FN with an fp32 scale (weights: per output channel; activations: per tensor).
    Fp8E4m3,
    /// OCP FP8 E5M2 with an fp32 scale (weights: per output channel; activations: per tensor).
    Fp8E5m2,
    /// OCP MX: E4M3 elements, one E8M0 power-of-two scale per block of 32.
    Mxfp8,
    /// OCP MX: E2M1 elements, one E8M0 power-of-two scale per block of 32.
    Mxfp4,
    /// NVIDIA NVFP4: E2M1 elements, one E4M3 scale per block of 16, one fp32 tensor scale.
    Nvfp4,
    /// Integer grid with fp16 scales (and zero points when asymmetric).
    Int(IntFormat),
    /// A GGML block type, quantized by candle's `quantized` module.
    Ggml(GgmlFormat),
}

/// Bit widths of the integer formats, in table order.
pub const INT_BITS: [u32; 6] = [8, 6, 5, 4, 3, 2];

/// An integer format: `int{bits}-{sym|asym}-{pt|pc|g32|g64|g128}`. Only the combinations in
/// [`Format::all`] exist; build one with [`IntFormat::new`] or by parsing its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntFormat {
    bits: u32,
    symmetric: bool,
    granularity: IntGranularity,
}

/// What one integer scale covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntGranularity {
    /// One scale for the whole tensor (`pt`).
    PerTensor,
    /// One scale per output channel, dim 0 (`pc`).
    PerChannel,
    /// One scale per 32 consecutive elements along the row (`g32`).
    G32,
    /// One scale per 64 consecutive elements along the row (`g64`).
    G64,
    /// One scale per 128 consecutive elements along the row (`g128`).
    G128,
}

impl IntGranularity {
    /// Every granularity, in table order.
    pub const ALL: [IntGranularity; 5] = [
        Self::PerTensor,
        Self::PerChannel,
        Self::G32,
        Self::G64,
        Self::G128,
    ];

    /// The name suffix: `pt`, `pc`, `g32`, `g64`, `g128`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::PerTensor => "pt",
            Self::PerChannel => "pc",
            Self::G32 => "g32",
            Self::G64 => "g64",
            Self::G128 => "g128",
        }
    }

    /// Elements per group for the per-group variants.
    pub fn group_size(self) -> Option<usize> {
        match self {
            Self::G32 => Some(32),
            Self::G64 => Some(64),
            Self::G128 => Some(128),
            Self::PerTensor | Self::PerChannel => None,
        }
    }
}

impl IntFormat {
    /// The integer format with these parameters, if it is in the table (bits in [`INT_BITS`]).
    pub fn new(bits: u32, symmetric: bool, granularity: IntGranularity) -> Option<Self> {
        INT_BITS.contains(&bits).then_some(Self {
            bits,
            symmetric,
            granularity,
        })
    }

    /// Bits per integer code.
    pub fn bits(self) -> u32 {
        self.bits
    }

    /// Symmetric (restricted range, no zero point) or asymmetric (zero point).
    pub fn symmetric(self) -> bool {
        self.symmetric
    }

    /// What one scale covers.
    pub fn granularity(self) -> IntGranularity {
        self.granularity
    }

    fn info(self) -> FormatInfo {
        // One fp16 scale per unit, plus a `bits`-wide zero point when asymmetric (as AWQ packs them).
        let overhead_bits = 16 + if self.symmetric { 0 } else { self.bits };
        let zero_point = if self.symmetric {
            ""
        } else {
            " and zero point"
        };
        let (scaling, activation, notes) = match self.granularity {
            IntGranularity::PerTensor => (
                Scaling::PerTensor,
                ActivationUse::Static,
                format!("one fp16 scale{zero_point} per tensor; activations: from the calibrated range"),
            ),
            IntGranularity::PerChannel => (
                Scaling::PerChannel,
                ActivationUse::WeightOnly,
                format!("one fp16 scale{zero_point} per output channel (dim 0); weights only"),
            ),
            group => (
                Scaling::Block { size: group.group_size().unwrap_or(1) },
                ActivationUse::Dynamic,
                format!("one fp16 scale{zero_point} per group; activations: dynamic, along the last dim"),
            ),
        };
        FormatInfo {
            name: Format::Int(self).to_string(),
            kind: FormatKind::Int,
            element_bits: self.bits,
            scaling,
            overhead_bits,
            tensor_overhead_bits: 0,
            activation,
            needs_calibration: activation == ActivationUse::Static,
            notes,
        }
    }
}

/// A GGML block type (llama.cpp's formats), quantized and dequantized by candle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlFormat {
    Q8_0,
    Q6K,
    Q5K,
    Q5_1,
    Q5_0,
    Q4K,
    Q4_1,
    Q4_0,
    Q3K,
    Q2K,
}

impl GgmlFormat {
    /// Every GGML format, in table order (bits per weight descending).
    pub const ALL: [GgmlFormat; 10] = [
        Self::Q8_0,
        Self::Q6K,
        Self::Q5K,
        Self::Q5_1,
        Self::Q5_0,
        Self::Q4K,
        Self::Q4_1,
        Self::Q4_0,
        Self::Q3K,
        Self::Q2K,
    ];

    /// candle's dtype for this format.
    pub fn dtype(self) -> GgmlDType {
        match self {
            Self::Q8_0 => GgmlDType::Q8_0,
            Self::Q6K => GgmlDType::Q6K,
            Self::Q5K => GgmlDType::Q5K,
            Self::Q5_1 => GgmlDType::Q5_1,
            Self::Q5_0 => GgmlDType::Q5_0,
            Self::Q4K => GgmlDType::Q4K,
            Self::Q4_1 => GgmlDType::Q4_1,
            Self::Q4_0 => GgmlDType::Q4_0,
            Self::Q3K => GgmlDType::Q3K,
            Self::Q2K => GgmlDType::Q2K,
        }
    }

    /// The name llama.cpp and GGUF files use, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Q8_0 => "q8_0",
            Self::Q6K => "q6_k",
            Self::Q5K => "q5_k",
            Self::Q5_1 => "q5_1",
            Self::Q5_0 => "q5_0",
            Self::Q4K => "q4_k",
            Self::Q4_1 => "q4_1",
            Self::Q4_0 => "q4_0",
            Self::Q3K => "q3_k",
            Self::Q2K => "q2_k",
        }
    }

    /// Elements per block (32, or 256 for the K-quants).
    pub fn block_size(self) -> usize {
        self.dtype().block_size()
    }

    fn info(self) -> FormatInfo {
        let (element_bits, notes) = match self {
            Self::Q8_0 => (8, "int8 codes, fp16 scale per 32"),
            Self::Q6K => (
                6,
                "K-quant: 16 sub-blocks of 16 with int8 scales, fp16 super-scale",
            ),
            Self::Q5K => (
                5,
                "K-quant: 8 sub-blocks of 32 with 6-bit scales and mins, fp16 super-scales",
            ),
            Self::Q5_1 => (5, "5-bit codes, fp16 scale and min per 32"),
            Self::Q5_0 => (5, "5-bit codes, fp16 scale per 32"),
            Self::Q4K => (
                4,
                "K-quant: 8 sub-blocks of 32 with 6-bit scales and mins, fp16 super-scales",
            ),
            Self::Q4_1 => (4, "4-bit codes, fp16 scale and min per 32"),
            Self::Q4_0 => (4, "4-bit codes, fp16 scale per 32"),
            Self::Q3K => (
                3,
                "K-quant: 16 sub-blocks of 16 with 6-bit scales, fp16 super-scale",
            ),
            Self::Q2K => (
                2,
                "K-quant: 16 sub-blocks of 16 with 4-bit scales and mins, fp16 super-scales",
            ),
        };
        let block = self.block_size();
        // The true size of a block (candle's `type_size`), minus its codes, is its overhead.
        let block_bits = self.dtype().type_size() * 8;
        FormatInfo {
            name: self.name().to_string(),
            kind: FormatKind::Ggml,
            element_bits,
            scaling: Scaling::Block { size: block },
            overhead_bits: (block_bits - element_bits as usize * block) as u32,
            tensor_overhead_bits: 0,
            activation: ActivationUse::WeightOnly,
            needs_calibration: false,
            notes: format!("{notes}; weights only (candle `quantized`)"),
        }
    }
}

/// Family of a format, for tables and cost models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormatKind {
    /// fp32, fp16, bf16, fp8 with an fp32 scale.
    Float,
    /// Integer codes with fp16 scales.
    Int,
    /// Block-scaled small floats: MX (OCP) and NVFP4.
    Microscaling,
    /// GGML block types.
    Ggml,
}

/// What one scale covers. Weights are viewed as a matrix `[dim0, product of the other dims]`
/// (one row per output channel); blocks and groups run along that row (the last dim of a 2-D
/// weight). Activations run blocks along their last dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Scaling {
    /// No scale: every element is rounded on its own.
    None,
    /// One scale for the whole tensor.
    PerTensor,
    /// One scale per output channel (dim 0).
    PerChannel,
    /// One scale per block of `size` consecutive elements along the row.
    Block { size: usize },
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => write!(f, "-"),
            Self::PerTensor => write!(f, "per-tensor"),
            Self::PerChannel => write!(f, "per-channel (dim 0)"),
            Self::Block { size } => write!(f, "block {size} (along row)"),
        }
    }
}

/// How a format may be used for an activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationUse {
    /// Scale (and zero point) come from a range calibrated ahead of time.
    Static,
    /// Scales are computed from the activation itself at run time (or there is no scale).
    Dynamic,
    /// Not an activation format (per-channel integers, GGML).
    WeightOnly,
}

/// One row of the format table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FormatInfo {
    /// Stable name used in files and on the command line.
    pub name: String,
    pub kind: FormatKind,
    /// Bits of one stored element code.
    pub element_bits: u32,
    /// What one scale covers, and along which axis.
    pub scaling: Scaling,
    /// Bits stored per scaling unit besides the codes: scale, zero point, GGML sub-scales.
    pub overhead_bits: u32,
    /// Bits stored once per tensor (NVFP4's fp32 tensor scale).
    pub tensor_overhead_bits: u32,
    /// How the format may be used for activations.
    pub activation: ActivationUse,
    /// Whether an activation in this format needs a calibrated range.
    pub needs_calibration: bool,
    pub notes: String,
}

impl Format {
    /// Every format, in table order: floats, microscaling, integers (bits descending), GGML.
    pub fn all() -> Vec<Format> {
        let mut all = vec![
            Self::Fp32,
            Self::Fp16,
            Self::Bf16,
            Self::Fp8E4m3,
            Self::Fp8E5m2,
            Self::Mxfp8,
            Self::Mxfp4,
            Self::Nvfp4,
        ];
        for bits in INT_BITS {
            for symmetric in [true, false] {
                for granularity in IntGranularity::ALL {
                    all.push(Self::Int(IntFormat {
                        bits,
                        symmetric,
                        granularity,
                    }));
                }
            }
        }
        all.extend(GgmlFormat::ALL.map(Self::Ggml));
        all
    }

    /// The formats valid for activations (static or dynamic), in table order.
    pub fn activation_formats() -> Vec<Format> {
        Self::all()
            .into_iter()
            .filter(|format| format.info().activation != ActivationUse::WeightOnly)
            .collect()
    }

    /// This format's row of the table.
    pub fn info(&self) -> FormatInfo {
        let float = |element_bits,
                     scaling,
                     overhead_bits,
                     tensor_overhead_bits,
                     activation,
                     notes: &str| {
            FormatInfo {
                name: self.to_string(),
                kind: match self {
                    Self::Mxfp8 | Self::Mxfp4 | Self::Nvfp4 => FormatKind::Microscaling,
                    _ => FormatKind::Float,
                },
                element_bits,
                scaling,
                overhead_bits,
                tensor_overhead_bits,
                activation,
                needs_calibration: activation == ActivationUse::Static,
                notes: notes.to_string(),
            }
        };
        use ActivationUse::{Dynamic, Static};
        match *self {
            Self::Fp32 => float(32, Scaling::None, 0, 0, Dynamic, "IEEE binary32, the unquantized reference"),
            Self::Fp16 => float(16, Scaling::None, 0, 0, Dynamic, "IEEE binary16, saturating at 65504"),
            Self::Bf16 => float(16, Scaling::None, 0, 0, Dynamic, "bfloat16 (E8M7), saturating at its max"),
            Self::Fp8E4m3 => float(
                8,
                Scaling::PerChannel,
                32,
                0,
                Static,
                "OCP E4M3FN (max 448, no inf, saturating); fp32 scale per channel, per tensor for activations",
            ),
            Self::Fp8E5m2 => float(
                8,
                Scaling::PerChannel,
                32,
                0,
                Static,
                "OCP E5M2 (max 57344, saturating); fp32 scale per channel, per tensor for activations",
            ),
            Self::Mxfp8 => float(8, Scaling::Block { size: 32 }, 8, 0, Dynamic, "OCP MX: E4M3 elements, E8M0 scale"),
            Self::Mxfp4 => float(4, Scaling::Block { size: 32 }, 8, 0, Dynamic, "OCP MX: E2M1 elements, E8M0 scale"),
            Self::Nvfp4 => float(
                4,
                Scaling::Block { size: 16 },
                8,
                32,
                Dynamic,
                "E2M1 elements, E4M3 block scale, one fp32 tensor scale",
            ),
            Self::Int(int) => int.info(),
            Self::Ggml(ggml) => ggml.info(),
        }
    }

    /// Stored bits per element of a weight of this shape, including scales, zero points and
    /// GGML sub-block scales: `element_bits + overhead_bits / unit + tensor_overhead_bits / n`,
    /// where `unit` is the number of elements one scale covers and `n` the element count.
    pub fn bits_per_element(&self, shape: &[usize]) -> f64 {
        let (rows, row_len) = weight_rows(shape);
        let info = self.info();
        let unit = match info.scaling {
            Scaling::None => 0,
            Scaling::PerTensor => rows * row_len,
            Scaling::PerChannel => row_len,
            Scaling::Block { size } => size,
        };
        bits_with_overhead(&info, unit, rows * row_len)
    }

    /// Stored bits per element of an activation of this shape: static scales are per tensor,
    /// dynamic blocks run along the last dim.
    pub fn activation_bits_per_element(&self, shape: &[usize]) -> f64 {
        let count: usize = shape.iter().product();
        let info = self.info();
        let unit = match info.scaling {
            Scaling::None => 0,
            Scaling::PerTensor | Scaling::PerChannel => count,
            Scaling::Block { size } => size,
        };
        bits_with_overhead(&info, unit, count)
    }

    /// Whether a weight of this shape is admissible: the row (the product of all dims after the
    /// first; a 1-D tensor is one row) must be a multiple of the block or group size.
    pub fn check_shape(&self, shape: &[usize]) -> Result<(), QuantError> {
        let (_, row_len) = weight_rows(shape);
        let what = if shape.len() <= 1 {
            "a 1-D tensor is one row"
        } else {
            "the product of all dims after the first"
        };
        self.check_row_len(shape, row_len, what)
    }

    /// Whether an activation of this shape is admissible: a valid activation format, and the last
    /// dim a multiple of the block or group size.
    pub fn check_activation_shape(&self, shape: &[usize]) -> Result<(), QuantError> {
        if self.info().activation == ActivationUse::WeightOnly {
            return Err(self.not_activation_error());
        }
        let last = shape.last().copied().unwrap_or(1);
        self.check_row_len(shape, last, "the last dim")
    }

    /// True for fp32, whose fake-quant is the identity.
    pub fn is_identity(&self) -> bool {
        *self == Self::Fp32
    }

    pub(crate) fn not_activation_error(&self) -> QuantError {
        let reason = match self {
            Self::Ggml(_) => "GGML types are weight formats",
            _ => "a per-channel scale belongs to a weight's output channel",
        };
        QuantError::NotActivationFormat {
            format: self.to_string(),
            reason: reason.to_string(),
            valid: join_names(&Self::activation_formats()),
        }
    }

    fn check_row_len(&self, shape: &[usize], row_len: usize, what: &str) -> Result<(), QuantError> {
        match self.info().scaling {
            Scaling::Block { size } if !row_len.is_multiple_of(size) => {
                Err(QuantError::NotAdmissible {
                    format: self.to_string(),
                    shape: shape.to_vec(),
                    reason: format!(
                        "row length {row_len} ({what}) is not a multiple of the block size {size}"
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

/// A weight viewed as `[rows, row_len]`: rows = dim 0, row_len = product of the other dims.
/// A 1-D tensor is one row; a scalar is one row of one element.
pub(crate) fn weight_rows(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [len] => (1, *len),
        [rows, rest @ ..] => (*rows, rest.iter().product()),
    }
}

fn bits_with_overhead(info: &FormatInfo, unit: usize, count: usize) -> f64 {
    let mut bits = f64::from(info.element_bits);
    if unit > 0 {
        bits += f64::from(info.overhead_bits) / unit as f64;
    }
    if count > 0 {
        bits += f64::from(info.tensor_overhead_bits) / count as f64;
    }
    bits
}
