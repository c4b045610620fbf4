//! Cost tables over real graphs and the real format table: every shipped profile prices every
//! layer, transition matrices have the right shape, output is reproducible, and the physics
//! holds (fewer weight bits never cost more memory).

use bitplan::hardware::formats::QuantCatalog;
use bitplan::hardware::{cost_table, load, shipped_names, CandidateFormats, CostTable};
use bitplan::model::reference::load_image_classifier;
use bitplan::model::{Graph, Layer, OpKind, RunnableModel};
use bitplan::space::Shorthand;
use proptest::prelude::*;

fn candidates(names: &[&str]) -> Vec<CandidateFormats> {
    names
        .iter()
        .map(|name| CandidateFormats::from(&Shorthand::parse(name).unwrap()))
        .collect()
}

fn fashion_cnn() -> Graph {
    load_image_classifier("fashion-cnn", None)
        .unwrap()
        .model
        .graph()
        .clone()
}

fn layer(
    name: &str,
    op: OpKind,
    weight: &[usize],
    macs: u64,
    input: &[usize],
    output: &[usize],
) -> Layer {
    Layer {
        name: name.into(),
        op,
        weight_shape: weight.to_vec(),
        params: weight.iter().product(),
        macs_per_sample: macs,
        input_shape: input.to_vec(),
        output_shape: output.to_vec(),
        inputs_from: Vec::new(),
        outputs_to: Vec::new(),
    }
}

/// A two-block toy language model: embedding, a projection, an attention matmul (Q·Kᵀ over 64
/// keys, 4 heads of 64), and a head; per-token shapes.
fn toy_lm() -> Graph {
    let mut layers = vec![
        layer("embed", OpKind::Embedding, &[1000, 256], 0, &[1], &[256]),
        layer(
            "q_proj",
            OpKind::Linear,
            &[256, 256],
            256 * 256,
            &[256],
            &[256],
        ),
        layer(
            "qk",
            OpKind::AttentionMatmul,
            &[],
            4 * 64 * 64,
            &[4, 64],
            &[4, 64],
        ),
        layer(
            "head",
            OpKind::Linear,
            &[1000, 256],
            256 * 1000,
            &[256],
            &[1000],
        ),
    ];
    for pair in [(0, 1), (1, 2), (2, 3)] {
        let (from, to) = (layers[pair.0].name.clone(), layers[pair.1].name.clone());
        layers[pair.0].outputs_to.push(to);
        layers[pair.1].inputs_from.push(from);
    }
    Graph {
        model: "toy-lm".into(),
        sample_unit: "token".into(),
        layers,
    }
}

fn check_shape(table: &CostTable, graph: &Graph) {
    assert_eq!(table.layers.len(), graph.layers.len());
    assert_eq!(
        table.metrics,
        [
            "latency_us",
            "weight_bytes",
            "activation_bytes",
            "peak_memory_bytes",
            "energy_uj",
            "weight_bits"
        ]
    );
    for row in &table.layers {
        assert_eq!(
            row.costs.len() + row.unavailable.len(),
            table.candidates.len(),
            "{}",
            row.name
        );
        for cost in &row.costs {
            let c = &cost.cost;
            assert!(
                c.latency_us.is_finite() && c.latency_us > 0.0,
                "{} {}: {}",
                row.name,
                cost.candidate,
                c.latency_us
            );
            assert!(c.energy_uj.is_finite() && c.energy_uj >= 0.0);
            assert_eq!(c.peak_memory_bytes, c.weight_bytes + c.activation_bytes);
        }
    }
    for matrix in &table.transitions {
        let from = table.layers.iter().find(|l| l.name == matrix.from).unwrap();
        let to = table.layers.iter().find(|l| l.name == matrix.to).unwrap();
        assert_eq!(matrix.cost.len(), from.costs.len());
        assert!(matrix.cost.iter().all(|row| row.len() == to.costs.len()));
        assert!(matrix
            .cost
            .iter()
            .flatten()
            .all(|v| v.is_finite() && *v >= 0.0));
    }
}

#[test]
fn every_shipped_profile_prices_fashion_cnn() {
    let graph = fashion_cnn();
    let space = candidates(&[
        "fp32",
        "w16a16",
        "w8a16",
        "w8a8",
        "w8a8-fp8",
        "w4a16",
        "w4a8",
        "w4a4-nvfp4",
        "w2a16",
    ]);
    for name in shipped_names() {
        let profile = load(name).unwrap().profile;
        let table = cost_table(&profile, &graph, &space, &QuantCatalog, 8, 1).unwrap();
        check_shape(&table, &graph);
        let edges: usize = graph.layers.iter().map(|l| l.outputs_to.len()).sum();
        assert_eq!(
            table.transitions.len(),
            2 * edges,
            "{name}: a latency and an energy matrix per edge"
        );
    }
}

#[test]
fn every_shipped_profile_prices_a_token_model() {
    let graph = toy_lm();
    let space = candidates(&["fp32", "w16a16", "w8a8", "w4a16", "q4_k:fp32", "q8_0:fp32"]);
    for name in shipped_names() {
        let profile = load(name).unwrap().profile;
        let table = cost_table(&profile, &graph, &space, &QuantCatalog, 2, 64).unwrap();
        check_shape(&table, &graph);
        // The embedding reads 2 x 64 gathered rows of 256, not the whole table.
        let embed = &table.layers[0];
        assert_eq!(embed.workload.weight_elements_read, 2 * 64 * 256);
        assert_eq!(embed.workload.macs(), 0);
        // The attention matmul has no weight: no weight bytes, no share of the average bits.
        let qk = &table.layers[2];
        assert!(
            qk.costs
                .iter()
                .all(|c| c.cost.weight_bytes == 0 && c.weight_bits == 0.0),
            "{name}"
        );
    }
}

#[test]
fn the_table_is_reproducible() {
    let graph = fashion_cnn();
    let profile = load("h100").unwrap().profile;
    let space = candidates(&["w8a8", "w4a16", "w16a16"]);
    let first =
        serde_json::to_string(&cost_table(&profile, &graph, &space, &QuantCatalog, 4, 1).unwrap())
            .unwrap();
    let second =
        serde_json::to_string(&cost_table(&profile, &graph, &space, &QuantCatalog, 4, 1).unwrap())
            .unwrap();
    assert_eq!(first, second);
}

#[test]
fn weight_bits_sum_to_the_average_bits_per_weight() {
    let graph = fashion_cnn();
    let profile = load("arm-cortex-a76").unwrap().profile;
    let table = cost_table(
        &profile,
        &graph,
        &candidates(&["w16a16"]),
        &QuantCatalog,
        1,
        1,
    )
    .unwrap();
    let sum: f64 = table.layers.iter().map(|l| l.costs[0].weight_bits).sum();
    assert!(
        (sum - 16.0).abs() < 1e-9,
        "fp16 everywhere averages 16 bits, got {sum}"
    );
}

#[test]
fn a_shape_the_format_cannot_take_is_unavailable_with_its_reason() {
    let graph = fashion_cnn();
    let profile = load("host-cpu").unwrap().profile;
    let table = cost_table(
        &profile,
        &graph,
        &candidates(&["q4_k:fp32", "fp32"]),
        &QuantCatalog,
        1,
        1,
    )
    .unwrap();
    let stem = &table.layers[0];
    let missing = stem
        .unavailable
        .iter()
        .find(|u| u.candidate == "q4_k:fp32")
        .expect("the stem conv has rows of 9 or 18");
    assert!(missing.reason.contains("256"), "{}", missing.reason);
}

#[test]
fn seq_is_rejected_for_image_models() {
    let graph = fashion_cnn();
    let profile = load("h100").unwrap().profile;
    let error = cost_table(
        &profile,
        &graph,
        &candidates(&["w8a8"]),
        &QuantCatalog,
        1,
        16,
    )
    .unwrap_err();
    insta::assert_snapshot!("seq_for_image_model", error.to_string());
}

/// Integer weight formats in groups of 128, widest first, with their nominal bits.
const NARROWING: [&str; 6] = [
    "int8-sym-g128",
    "int6-sym-g128",
    "int5-sym-g128",
    "int4-sym-g128",
    "int3-sym-g128",
    "int2-sym-g128",
];
const GGML_NARROWING: [&str; 6] = ["q8_0", "q6_k", "q5_k", "q4_k", "q3_k", "q2_k"];

fn memory_is_monotone(formats: &[&str], activation: &str, rows: usize, cols: usize, batch: u64) {
    let graph = Graph {
        model: "one-linear".into(),
        sample_unit: "image".into(),
        layers: vec![layer(
            "fc",
            OpKind::Linear,
            &[rows, cols],
            (rows * cols) as u64,
            &[cols],
            &[rows],
        )],
    };
    let space: Vec<CandidateFormats> = formats
        .iter()
        .map(|w| CandidateFormats::from(&Shorthand::parse(&format!("{w}:{activation}")).unwrap()))
        .collect();
    for name in shipped_names() {
        let profile = load(name).unwrap().profile;
        let Ok(table) = cost_table(&profile, &graph, &space, &QuantCatalog, batch, 1) else {
            continue;
        };
        let costs = &table.layers[0].costs;
        for pair in costs.windows(2) {
            let (wide, narrow) = (&pair[0].cost, &pair[1].cost);
            assert!(
                narrow.weight_bytes <= wide.weight_bytes,
                "{name}: {} -> {}",
                pair[0].candidate,
                pair[1].candidate
            );
            assert!(narrow.peak_memory_bytes <= wide.peak_memory_bytes, "{name}");
            assert!(pair[1].weight_bits <= pair[0].weight_bits, "{name}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn fewer_weight_bits_never_cost_more_memory(
        rows in 1usize..8, cols in 1usize..8, batch in 1u64..64, activation in 0usize..3
    ) {
        let activation = ["fp16", "fp32", "int8-asym-pt"][activation];
        memory_is_monotone(&NARROWING, activation, rows * 64, cols * 128, batch);
        memory_is_monotone(&GGML_NARROWING, "fp32", rows * 64, cols * 256, batch);
    }
}
