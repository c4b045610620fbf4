//! A CNN architecture with its loaded inference parameters (batch norm folded) and its layer graph.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Device, Tensor};

use super::arch::{CnnArch, LayerOps};
use super::executor::{InputLayout, LayerContext, RunnableModel};
use super::graph::{Graph, Layer};
use super::params::{fold_batch_norm, BatchNormParams, LayerParams, BATCH_NORM_EPS};
use super::spec::{LayerKind, LayerSpec};
use super::ModelError;

/// A loaded CNN: architecture, folded parameters, graph (shapes traced from a real forward).
#[derive(Debug, Clone)]
pub struct CnnModel {
    pub arch: &'static CnnArch,
    pub params: BTreeMap<String, LayerParams>,
    pub graph: Graph,
}

impl CnnModel {
    /// Builds the model from named tensors (`{layer}.weight`, `{layer}.bias`, `{layer}.bn.*`);
    /// `file` names their source in errors. Tensors the architecture does not use are ignored.
    pub fn from_tensors(
        arch: &'static CnnArch,
        tensors: &HashMap<String, Tensor>,
        file: &str,
    ) -> Result<Self, ModelError> {
        let mut params = BTreeMap::new();
        for spec in arch.layers {
            let loaded = load_layer(arch, spec, tensors, file)?;
            params.insert(spec.name.to_string(), loaded);
        }
        let graph = trace_graph(arch, &params)?;
        Ok(Self {
            arch,
            params,
            graph,
        })
    }
}

fn load_layer(
    arch: &CnnArch,
    spec: &LayerSpec,
    tensors: &HashMap<String, Tensor>,
    file: &str,
) -> Result<LayerParams, ModelError> {
    let channels = vec![spec.out_channels()];
    let get = |suffix: &str, shape: &[usize]| -> Result<Option<Tensor>, ModelError> {
        let key = format!("{}.{suffix}", spec.name);
        let Some(tensor) = tensors.get(&key) else {
            return Ok(None);
        };
        if tensor.dims() != shape {
            return Err(ModelError::WrongShape {
                file: file.into(),
                arch: arch.name,
                tensor: key,
                found: tensor.dims().to_vec(),
                expected: shape.to_vec(),
            });
        }
        Ok(Some(tensor.to_dtype(DType::F32)?.to_device(&Device::Cpu)?))
    };
    let need = |suffix: &str, shape: &[usize]| {
        get(suffix, shape)?.ok_or_else(|| ModelError::MissingTensor {
            file: file.into(),
            arch: arch.name.into(),
            layer: spec.name.into(),
            tensor: format!("{}.{suffix}", spec.name),
        })
    };
    let weight = need("weight", &spec.weight_shape())?;
    if !spec.batch_norm() {
        let bias = Some(need("bias", &channels)?);
        return Ok(LayerParams { weight, bias });
    }
    let bn = BatchNormParams {
        gamma: need("bn.weight", &channels)?,
        beta: need("bn.bias", &channels)?,
        running_mean: need("bn.running_mean", &channels)?,
        running_var: need("bn.running_var", &channels)?,
        eps: BATCH_NORM_EPS,
    };
    Ok(fold_batch_norm(
        &weight,
        get("bias", &channels)?.as_ref(),
        &bn,
    )?)
}

/// Applies one layer in fp32 with the given weight and bias: `conv2d` (with the spec's stride,
/// padding, groups) or `x · Wᵀ`, then `+ bias`.
pub fn apply_layer(
    spec: &LayerSpec,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    match spec.kind {
        LayerKind::Conv {
            stride,
            padding,
            groups,
            ..
        } => {
            let y = conv2d(x, weight, padding, stride, groups)?;
            match bias {
                Some(bias) => y.broadcast_add(&bias.reshape((1, (), 1, 1))?),
                None => Ok(y),
            }
        }
        LayerKind::Linear { .. } => {
            let y = x.matmul(&weight.t()?)?;
            match bias {
                Some(bias) => y.broadcast_add(bias),
                None => Ok(y),
            }
        }
    }
}

/// `conv2d` with candle, except that a depthwise conv (groups = channels) runs as a dense conv
/// with the block-diagonal weight `W_dense[o, i] = [o == i] · W[o, 0]`: candle splits grouped
/// convs into one small conv per group, ~10x slower than the dense conv on 2 CPU cores (and its
/// backward more so). The extra terms are exact zeros, so the result is the depthwise result.
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    padding: usize,
    stride: usize,
    groups: usize,
) -> candle_core::Result<Tensor> {
    let (out_channels, per_group, kh, kw) = weight.dims4()?;
    if groups == 1 || groups != out_channels || per_group != 1 {
        return x.conv2d(weight, padding, stride, 1, groups);
    }
    let eye = Tensor::eye(out_channels, weight.dtype(), weight.device())?;
    let dense = weight
        .reshape((out_channels, 1, kh * kw))?
        .broadcast_mul(&eye.unsqueeze(2)?)?
        .reshape((out_channels, out_channels, kh, kw))?;
    x.conv2d(&dense, padding, stride, 1, 1)
}

/// The original model: every layer in fp32 with the loaded (folded) parameters; optionally
/// records each layer's input and output shape.
struct Fp32Ops<'a> {
    params: &'a BTreeMap<String, LayerParams>,
    shapes: BTreeMap<&'static str, (Vec<usize>, Vec<usize>)>,
}

impl LayerOps for Fp32Ops<'_> {
    fn apply(&mut self, spec: &LayerSpec, x: &Tensor) -> Result<Tensor, ModelError> {
        let params = &self.params[spec.name];
        let y = apply_layer(spec, x, &params.weight, params.bias.as_ref())?;
        let shapes = (x.dims()[1..].to_vec(), y.dims()[1..].to_vec());
        self.shapes.insert(spec.name, shapes);
        Ok(y)
    }
}

/// The executor's view of a CNN layer: quantized input, prepared weight, recorded output.
struct ExecOps<'m, 'c, 'p> {
    params: &'m BTreeMap<String, LayerParams>,
    ctx: &'c mut LayerContext<'p>,
}

impl LayerOps for ExecOps<'_, '_, '_> {
    fn apply(&mut self, spec: &LayerSpec, x: &Tensor) -> Result<Tensor, ModelError> {
        let layout = match spec.kind {
            LayerKind::Conv { .. } => InputLayout::ChannelsFirst,
            LayerKind::Linear { .. } => InputLayout::ReductionLast,
        };
        let x = self.ctx.input(spec.name, x, layout)?;
        let weight = self.ctx.weight(spec.name)?;
        let bias = self.params[spec.name].bias.as_ref();
        let y = apply_layer(spec, &x, weight, bias)?;
        Ok(self.ctx.output(spec.name, &y))
    }
}

impl RunnableModel for CnnModel {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn weight(&self, layer: &str) -> Option<&Tensor> {
        self.params.get(layer).map(|params| &params.weight)
    }

    fn run(&self, input: &Tensor, ctx: &mut LayerContext) -> Result<Tensor, ModelError> {
        let input = self.arch.prepare_input(input)?;
        let mut ops = ExecOps {
            params: &self.params,
            ctx,
        };
        self.arch.run(&mut ops, &input)
    }
}

impl CnnModel {
    /// Logits of the original fp32 model (no executor, no assignment) for pixels in 0..1.
    pub fn forward_fp32(&self, pixels: &Tensor) -> Result<Tensor, ModelError> {
        let input = self.arch.prepare_input(pixels)?;
        let mut ops = Fp32Ops {
            params: &self.params,
            shapes: BTreeMap::new(),
        };
        self.arch.run(&mut ops, &input)
    }
}

fn trace_graph(
    arch: &'static CnnArch,
    params: &BTreeMap<String, LayerParams>,
) -> Result<Graph, ModelError> {
    let mut tracer = Fp32Ops {
        params,
        shapes: BTreeMap::new(),
    };
    let [c, h, w] = arch.input_shape;
    let input = Tensor::zeros((1, c, h, w), DType::F32, &Device::Cpu)?;
    arch.run(&mut tracer, &input)?;
    let layers = arch
        .layers
        .iter()
        .map(|spec| graph_layer(arch, spec, params, &tracer.shapes))
        .collect();
    Ok(Graph {
        model: arch.name.into(),
        sample_unit: "image".into(),
        layers,
    })
}

fn graph_layer(
    arch: &CnnArch,
    spec: &LayerSpec,
    params: &BTreeMap<String, LayerParams>,
    shapes: &BTreeMap<&'static str, (Vec<usize>, Vec<usize>)>,
) -> Layer {
    let (input_shape, output_shape) = shapes.get(spec.name).cloned().unwrap_or_default();
    let weight_shape = spec.weight_shape();
    let layer_params = &params[spec.name];
    let params_count = layer_params.weight.elem_count()
        + layer_params
            .bias
            .as_ref()
            .map_or(0, |bias| bias.elem_count());
    // MACs: one per weight element per output position (conv) or per output feature (linear).
    let positions: usize = output_shape.iter().skip(1).product();
    let macs = weight_shape.iter().product::<usize>() * positions.max(1);
    let outputs_to = arch
        .layers
        .iter()
        .filter(|other| other.inputs_from.contains(&spec.name))
        .map(|other| other.name.to_string())
        .collect();
    Layer {
        name: spec.name.into(),
        op: spec.op(),
        weight_shape,
        params: params_count,
        macs_per_sample: macs as u64,
        input_shape,
        output_shape,
        inputs_from: spec.inputs_from.iter().map(|s| s.to_string()).collect(),
        outputs_to,
    }
}
