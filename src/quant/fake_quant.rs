//! Fake quantization (quantize → dequantize, result in f32) of weights and activations: the one
//! place that maps a [`Format`] to its kernel.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::error::QuantError;
use super::float::{self, Minifloat, E2M1, E4M3, E5M2, FP16};
use super::format::{weight_rows, Format, IntFormat, IntGranularity};
use super::int::{self, IntGrid};
use super::rows::{check_finite, map_finite_rows, map_rows, tensor_like, with_f32};
use super::{ggml, mx};

/// Statically calibrated range of an activation tensor.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActRange {
    pub min: f32,
    pub max: f32,
}

impl ActRange {
    /// Largest magnitude of the range.
    pub fn amax(&self) -> f32 {
        self.max.max(-self.min).max(0.0)
    }

    /// Fails unless both bounds are finite and `min <= max`.
    pub fn validate(&self) -> Result<(), QuantError> {
        if self.min.is_finite() && self.max.is_finite() && self.min <= self.max {
            Ok(())
        } else {
            Err(QuantError::InvalidRange {
                min: self.min,
                max: self.max,
            })
        }
    }
}

/// Fake-quantize a WEIGHT tensor: quantize → dequantize, returned as f32 with the same shape.
///
/// A weight is viewed as a matrix `[dim0, product of the other dims]` (one row per output
/// channel, as im2col-lowered convs are); per-channel means one scale per row; groups and blocks
/// run along the row (for 2-D tensors, the last dim). 1-D tensors are one row. Rows run in
/// parallel on rayon's current pool. Errors: a shape the format cannot take, a non-float dtype,
/// NaN or infinity (naming the first flat index).
pub fn fake_quant_weight(format: Format, weight: &Tensor) -> Result<Tensor, QuantError> {
    let shape = weight.dims().to_vec();
    format.check_shape(&shape)?;
    let (_, row_len) = weight_rows(&shape);
    with_f32(weight, |data| {
        let mut values = vec![0.0f32; data.len()];
        fake_quant_rows(format, data, &shape, row_len, &mut values)?;
        tensor_like(values, weight)
    })
}

/// [`fake_quant_weight`] on a row-major f32 slice of `shape`, written into `out` (same length).
///
/// For callers that fake-quantize many tensors: reusing `out` avoids faulting in a fresh
/// buffer on every call, which for large tensors costs more than the quantization itself.
pub fn fake_quant_weight_into(
    format: Format,
    input: &[f32],
    shape: &[usize],
    out: &mut [f32],
) -> Result<(), QuantError> {
    let count: usize = shape.iter().product();
    if input.len() != count || out.len() != count {
        return Err(QuantError::LengthMismatch {
            shape: shape.to_vec(),
            input: input.len(),
            output: out.len(),
        });
    }
    format.check_shape(shape)?;
    let (_, row_len) = weight_rows(shape);
    fake_quant_rows(format, input, shape, row_len, out)
}

/// Fake-quantize an ACTIVATION with a calibrated range.
///
/// Integer `-pt` formats: per-tensor scale and zero point from the range (asymmetric for
/// `-asym`, symmetric for `-sym`); fp8: per-tensor scale from the range's largest magnitude.
/// Values outside the range clip. Dynamic formats ignore the range: MX, NVFP4 and integer
/// per-group formats scale blocks along the last dim from the activation itself; fp16, bf16 and
/// fp32 are casts. Per-channel integer and GGML formats are weight formats: an error names them
/// and the valid activation formats.
pub fn fake_quant_activation(
    format: Format,
    x: &Tensor,
    range: ActRange,
) -> Result<Tensor, QuantError> {
    let shape = x.dims().to_vec();
    format.check_activation_shape(&shape)?;
    range.validate()?;
    let row_len = shape.last().copied().unwrap_or(1);
    with_f32(x, |data| {
        let mut values = vec![0.0f32; data.len()];
        match StaticQuantizer::new(format, range) {
            Some(quantizer) => map_rows(data, &shape, row_len, &mut values, |row, _, out| {
                quantizer.fake_quant_slice(row, out)
            })?,
            None => fake_quant_rows(format, data, &shape, row_len, &mut values)?,
        };
        tensor_like(values, x)
    })
}

/// The per-tensor quantizer of a static activation format (fp8, integer `-pt`) for a range;
/// `None` for formats whose activations are dynamic or not allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StaticQuantizer {
    Int(IntGrid),
    Float { element: Minifloat, scale: f32 },
}

impl StaticQuantizer {
    /// The quantizer `format` uses for an activation calibrated to `range`.
    pub fn new(format: Format, range: ActRange) -> Option<Self> {
        match format {
            Format::Fp8E4m3 | Format::Fp8E5m2 => {
                let element = fp8_element(format);
                Some(Self::Float {
                    element,
                    scale: float::max_scale(&element, range.amax()),
                })
            }
            Format::Int(int) if int.granularity() == IntGranularity::PerTensor => Some(Self::Int(
                IntGrid::for_slice(int.bits(), int.symmetric(), range.min, range.max),
            )),
            _ => None,
        }
    }

    /// Quantize and dequantize one value.
    #[inline]
    pub fn fake_quant(&self, x: f32) -> f32 {
        match self {
            Self::Int(grid) => grid.fake_quant(x),
            Self::Float { element, scale } => element.round(x / scale) * scale,
        }
    }

    /// [`StaticQuantizer::fake_quant`] over a slice.
    pub fn fake_quant_slice(&self, input: &[f32], out: &mut [f32]) {
        match self {
            Self::Int(grid) => grid.fake_quant_slice(input, out),
            Self::Float { element, scale } => float::fake_quant_scaled(element, *scale, input, out),
        }
    }
}

fn fp8_element(format: Format) -> Minifloat {
    if format == Format::Fp8E5m2 {
        E5M2
    } else {
        E4M3
    }
}

/// Run `format`'s kernel over `data` viewed as rows of `row_len` (per-channel and per-row
/// scales come from each row, per-tensor scales from all of `data`).
fn fake_quant_rows(
    format: Format,
    data: &[f32],
    shape: &[usize],
    row_len: usize,
    out: &mut [f32],
) -> Result<(), QuantError> {
    match format {
        Format::Fp32 => map_rows(data, shape, row_len, out, |row, _, out| {
            out.copy_from_slice(row)
        }),
        Format::Fp16 => map_rows(data, shape, row_len, out, |row, _, out| {
            float::fake_quant_cast(&FP16, row, out)
        }),
        Format::Bf16 => map_rows(data, shape, row_len, out, |row, _, out| {
            float::fake_quant_bf16(row, out)
        }),
        Format::Fp8E4m3 | Format::Fp8E5m2 => {
            let element = fp8_element(format);
            map_rows(data, shape, row_len, out, |row, stats, out| {
                float::fake_quant_scaled(
                    &element,
                    float::max_scale(&element, stats.amax()),
                    row,
                    out,
                )
            })
        }
        Format::Mxfp8 => map_rows(data, shape, row_len, out, |row, _, out| {
            mx::fake_quant_mx(&E4M3, row, out)
        }),
        Format::Mxfp4 => map_rows(data, shape, row_len, out, |row, _, out| {
            mx::fake_quant_mx(&E2M1, row, out)
        }),
        Format::Nvfp4 => {
            let tensor_scale = mx::nvfp4_tensor_scale(check_finite(data, shape)?.amax());
            map_finite_rows(data, row_len, out, |row, out| {
                mx::fake_quant_nvfp4(tensor_scale, row, out)
            });
            Ok(())
        }
        Format::Int(int) => fake_quant_int_rows(int, data, shape, row_len, out),
        Format::Ggml(ggml) => map_rows(data, shape, row_len, out, |row, _, out| {
            ggml::fake_quant_row(ggml, row, out)
        }),
    }
}

fn fake_quant_int_rows(
    int: IntFormat,
    data: &[f32],
    shape: &[usize],
    row_len: usize,
    out: &mut [f32],
) -> Result<(), QuantError> {
    let (bits, symmetric) = (int.bits(), int.symmetric());
    match int.granularity() {
        IntGranularity::PerTensor => {
            let stats = check_finite(data, shape)?;
            let grid = IntGrid::for_slice(bits, symmetric, stats.min, stats.max);
            map_finite_rows(data, row_len, out, |row, out| {
                grid.fake_quant_slice(row, out)
            });
            Ok(())
        }
        IntGranularity::PerChannel => map_rows(data, shape, row_len, out, |row, stats, out| {
            IntGrid::for_slice(bits, symmetric, stats.min, stats.max).fake_quant_slice(row, out)
        }),
        group => {
            let size = group.group_size().unwrap_or(row_len);
            map_rows(data, shape, row_len, out, |row, _, out| {
                int::fake_quant_groups(bits, symmetric, size, row, out)
            })
        }
    }
}
