//! Proxies against independent hand computations: Hutchinson's Hessian trace against the exact
//! (analytic) trace on a tiny MLP, and the Fisher scores (weight space and output space) on a
//! case computed by hand.

use bitplan::model::{Graph, InputLayout, Layer, LayerContext, ModelError, OpKind, RunnableModel};
use bitplan::sensitivity::grad::{
    fisher_diagonal, fisher_score, hessian_trace, output_fisher_score, output_gradients,
    pseudo_labels,
};
use candle_core::{Device, Tensor};

/// Hutchinson's estimate must land within this fraction of the exact trace.
const TRACE_TOLERANCE: f64 = 0.05;
/// Float tolerance of the hand-computed Fisher case (f32 gradients).
const FISHER_TOLERANCE: f64 = 1e-6;

/// x → relu(x·W1ᵀ) → ·W2ᵀ, or a single linear layer when `w1` is `None`.
struct Mlp {
    graph: Graph,
    w1: Option<Tensor>,
    w2: Tensor,
}

fn layer(name: &str, shape: [usize; 2]) -> Layer {
    Layer {
        name: name.into(),
        op: OpKind::Linear,
        weight_shape: shape.to_vec(),
        params: shape[0] * shape[1],
        macs_per_sample: (shape[0] * shape[1]) as u64,
        input_shape: vec![shape[1]],
        output_shape: vec![shape[0]],
        inputs_from: vec![],
        outputs_to: vec![],
    }
}

impl Mlp {
    fn new(w1: Option<Tensor>, w2: Tensor) -> Self {
        let mut layers = Vec::new();
        if let Some(w1) = &w1 {
            layers.push(layer("fc1", [w1.dims()[0], w1.dims()[1]]));
        }
        layers.push(layer("fc2", [w2.dims()[0], w2.dims()[1]]));
        let graph = Graph {
            model: "tiny-mlp".into(),
            sample_unit: "sample".into(),
            layers,
        };
        Self { graph, w1, w2 }
    }
}

impl RunnableModel for Mlp {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn weight(&self, layer: &str) -> Option<&Tensor> {
        match layer {
            "fc1" => self.w1.as_ref(),
            "fc2" => Some(&self.w2),
            _ => None,
        }
    }

    fn run(&self, input: &Tensor, ctx: &mut LayerContext) -> Result<Tensor, ModelError> {
        let mut x = input.clone();
        if self.w1.is_some() {
            let input = ctx.input("fc1", &x, InputLayout::ReductionLast)?;
            x = input.matmul(&ctx.weight("fc1")?.t()?)?.relu()?;
        }
        let input = ctx.input("fc2", &x, InputLayout::ReductionLast)?;
        let y = input.matmul(&ctx.weight("fc2")?.t()?)?;
        Ok(ctx.output("fc2", &y))
    }
}

fn seeded(rows: usize, cols: usize, seed: u32) -> Tensor {
    // A fixed, deterministic spread of values in [-1, 1].
    let values: Vec<f32> = (0..rows * cols)
        .map(|i| (((i as u32 * 2654435761u32) ^ seed) % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    Tensor::from_vec(values, (rows, cols), &Device::Cpu).expect("tensor")
}

#[test]
fn hutchinson_trace_is_within_five_percent_of_the_exact_trace() {
    let (w1, w2, x) = (seeded(8, 4, 1), seeded(3, 8, 2), seeded(16, 4, 3));
    let model = Mlp::new(Some(w1.clone()), w2.clone());
    let logits = x
        .matmul(&w1.t().unwrap())
        .unwrap()
        .relu()
        .unwrap()
        .matmul(&w2.t().unwrap())
        .unwrap();
    let labels = pseudo_labels(&logits).unwrap();
    // Exact: L = mean_b CE(W2·h_b) ⇒ H_W2 = mean_b (diag(p_b) − p_b p_bᵀ) ⊗ h_b h_bᵀ,
    // so Tr(H) = mean_b Σ_c p_bc (1 − p_bc) · ‖h_b‖².
    let hidden = x
        .matmul(&w1.t().unwrap())
        .unwrap()
        .relu()
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let rows = logits.to_vec2::<f32>().unwrap();
    let exact: f64 = rows
        .iter()
        .zip(&hidden)
        .map(|(z, h)| {
            let max = z.iter().copied().fold(f32::MIN, f32::max) as f64;
            let e: Vec<f64> = z.iter().map(|v| (*v as f64 - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            let curvature: f64 = e.iter().map(|v| (v / sum) * (1.0 - v / sum)).sum();
            curvature * h.iter().map(|v| (*v as f64).powi(2)).sum::<f64>()
        })
        .sum::<f64>()
        / rows.len() as f64;
    let estimate = hessian_trace(&model, "fc2", &w2, &[(x, labels)], 2000, 7).unwrap();
    let relative = (estimate - exact).abs() / exact;
    println!("exact trace {exact:.6}, Hutchinson {estimate:.6}, relative difference {relative:.4}");
    assert!(
        relative < TRACE_TOLERANCE,
        "exact {exact}, estimate {estimate}"
    );
}

#[test]
fn fisher_matches_a_hand_computed_case() {
    let w = Tensor::new(&[[0.1f32, 0.2], [0.3, -0.1]], &Device::Cpu).unwrap();
    let q = Tensor::new(&[[0.1f32, 0.25], [0.25, -0.1]], &Device::Cpu).unwrap();
    let x = Tensor::new(&[[1.0f32, 2.0]], &Device::Cpu).unwrap();
    let model = Mlp::new(None, w.clone());
    // logits z = W·x = [0.5, 0.1], label 0; p0 = 1/(1 + e^-0.4); ∂L/∂z = [p0 − 1, 1 − p0];
    // ∂L/∂W = ∂L/∂z ⊗ x; Fisher = Σ (∂L/∂W)² (Q − W)², with (Q − W)² = 0.0025 at (0,1) and (1,0).
    let p0 = 1.0 / (1.0 + (-0.4f64).exp());
    let g = 1.0 - p0;
    let expected = (2.0 * g).powi(2) * 0.0025 + g.powi(2) * 0.0025;
    let labels = Tensor::new(&[0u32], &Device::Cpu).unwrap();
    let fisher = fisher_diagonal(&model, "fc2", &w, &[(x, labels)]).unwrap();
    let score = fisher_score(&fisher, &w, &q).unwrap();
    println!("Fisher {score:.9}, by hand {expected:.9}");
    assert!(
        (score - expected).abs() < FISHER_TOLERANCE,
        "{score} vs {expected}"
    );
}

#[test]
fn output_space_fisher_matches_a_hand_computed_case() {
    let w = Tensor::new(&[[0.1f32, 0.2], [0.3, -0.1]], &Device::Cpu).unwrap();
    let q = Tensor::new(&[[0.1f32, 0.25], [0.25, -0.1]], &Device::Cpu).unwrap();
    let x = Tensor::new(&[[1.0f32, 2.0]], &Device::Cpu).unwrap();
    let model = Mlp::new(None, w);
    // Y = W·x = [0.5, 0.1], label 0, ∂L/∂Y = [p0 − 1, 1 − p0] with p0 = 1/(1 + e^-0.4);
    // Y_q = Q·x = [0.6, 0.05], so Y − Y_q = [−0.1, 0.05] and
    // Σ (∂L/∂Y)² (Y − Y_q)² = (1 − p0)² · (0.01 + 0.0025).
    let p0 = 1.0 / (1.0 + (-0.4f64).exp());
    let expected = (1.0 - p0).powi(2) * 0.0125;
    let labels = Tensor::new(&[0u32], &Device::Cpu).unwrap();
    let gradients = output_gradients(&model, "fc2", &[(x.clone(), labels)]).unwrap();
    let quantized = x.matmul(&q.t().unwrap()).unwrap();
    let score = output_fisher_score(&gradients, &[quantized]).unwrap();
    println!("output-space Fisher {score:.9}, by hand {expected:.9}");
    assert!(
        (score - expected).abs() < FISHER_TOLERANCE,
        "score {score}, expected {expected}"
    );
    assert!(score > 0.0);
}
