//! Execution precisions: the arithmetic a chip's compute units run a kernel in. A format says how
//! a tensor is *stored*; a precision says how the multiply-accumulates are *computed* (int4
//! weights are often stored packed and computed in fp16 after dequantization).

use serde::{Deserialize, Serialize};

/// One row of a profile's `[[precision]]` table is keyed by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// IEEE binary32 on the vector/CUDA cores (no tensor cores).
    Fp32,
    /// NVIDIA TensorFloat-32: fp32 range, 10-bit mantissa, on tensor cores.
    Tf32,
    Bf16,
    Fp16,
    /// 8-bit floating point (E4M3 or E5M2) on tensor cores.
    Fp8,
    /// 16-bit integer activations (weights int8 or int16), e.g. Ethos-U "16x8".
    Int16,
    Int8,
    /// 4-bit integer on both operands (e.g. Ampere int4 tensor cores).
    Int4,
}

impl Precision {
    /// Every precision, in table order.
    pub const ALL: [Precision; 8] = [
        Precision::Fp32,
        Precision::Tf32,
        Precision::Bf16,
        Precision::Fp16,
        Precision::Fp8,
        Precision::Int16,
        Precision::Int8,
        Precision::Int4,
    ];

    /// The stable name used in profiles and reports.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Tf32 => "tf32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Fp8 => "fp8",
            Precision::Int16 => "int16",
            Precision::Int8 => "int8",
            Precision::Int4 => "int4",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
