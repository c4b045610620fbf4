//! Tiny random BERT and Llama models written to disk in the formats real checkpoints use (HF
//! directory, GGUF): loaders agree with each other and with candle-transformers, per-layer
//! assignments only change what lies downstream, runs are repeatable, gradients flow. No
//! fixtures needed.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bitplan::model::bert::Bert;
use bitplan::model::llama::hf::{hf_name, permute_rotary_rows};
use bitplan::model::llama::{expected_tensors, Llama, LlamaConfig, Positions};
use bitplan::model::{Assignment, LayerContext, LayerFormats, PreparedAssignment, RunnableModel};
use bitplan::quant::Format;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, IndexOp, Tensor, Var};
use common::max_abs_diff;
use rand::{RngExt, SeedableRng};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bitplan-tiny-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Seeded uniform values in [-scale, scale).
fn random(shape: &[usize], scale: f32, rng: &mut rand::rngs::StdRng) -> Tensor {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tiny Llama: 2 blocks, hidden 32, 4 query heads sharing 2 key/value heads, byte-level BPE.

const LLAMA: LlamaConfig = LlamaConfig {
    vocab_size: 260,
    hidden_size: 32,
    intermediate_size: 64,
    num_layers: 2,
    num_heads: 4,
    num_kv_heads: 2,
    rms_norm_eps: 1e-5,
    rope_base: 10_000.0,
    context_length: 64,
    tied_output: true,
};

/// `<|endoftext|>`, the 256 byte-level characters (sorted), then three merged tokens.
fn tiny_vocab() -> (Vec<String>, Vec<String>) {
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
        .into_iter()
        .collect();
    alphabet.sort();
    let mut tokens = vec!["<|endoftext|>".to_string()];
    tokens.extend(alphabet.iter().map(char::to_string));
    tokens.extend(["Ġt", "he", "Ġthe"].map(String::from));
    let merges = ["Ġ t", "h e", "Ġt he"].map(String::from).to_vec();
    (tokens, merges)
}

/// Random weights in GGUF naming and layout.
fn tiny_llama_tensors(seed: u64) -> Vec<(String, Tensor)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    expected_tensors(&LLAMA)
        .into_iter()
        .map(|(name, shape)| {
            let tensor = if name.contains("norm") {
                (random(&shape, 0.2, &mut rng) + 1.0).unwrap()
            } else {
                random(&shape, 0.3, &mut rng)
            };
            (name, tensor)
        })
        .collect()
}

fn write_tiny_gguf(path: &Path, tensors: &[(String, Tensor)]) {
    let (tokens, merges) = tiny_vocab();
    let strings =
        |items: &[String]| Value::Array(items.iter().map(|s| Value::String(s.clone())).collect());
    let types = Value::Array(
        (0..tokens.len())
            .map(|id| Value::I32(if id == 0 { 3 } else { 1 }))
            .collect(),
    );
    let metadata = vec![
        ("general.architecture", Value::String("llama".into())),
        ("llama.block_count", Value::U32(LLAMA.num_layers as u32)),
        (
            "llama.embedding_length",
            Value::U32(LLAMA.hidden_size as u32),
        ),
        (
            "llama.feed_forward_length",
            Value::U32(LLAMA.intermediate_size as u32),
        ),
        (
            "llama.attention.head_count",
            Value::U32(LLAMA.num_heads as u32),
        ),
        (
            "llama.attention.head_count_kv",
            Value::U32(LLAMA.num_kv_heads as u32),
        ),
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::F32(LLAMA.rms_norm_eps as f32),
        ),
        ("llama.rope.freq_base", Value::F32(LLAMA.rope_base)),
        (
            "llama.rope.dimension_count",
            Value::U32(LLAMA.head_dim() as u32),
        ),
        (
            "llama.context_length",
            Value::U32(LLAMA.context_length as u32),
        ),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("smollm".into())),
        ("tokenizer.ggml.tokens", strings(&tokens)),
        ("tokenizer.ggml.merges", strings(&merges)),
        ("tokenizer.ggml.token_type", types),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
    ];
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let quantized: Vec<(String, QTensor)> = tensors
        .iter()
        .map(|(name, t)| (name.clone(), QTensor::quantize(t, GgmlDType::F32).unwrap()))
        .collect();
    let refs: Vec<(&str, &QTensor)> = quantized.iter().map(|(n, q)| (n.as_str(), q)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &metadata, &refs).unwrap();
}

/// The same model as a Hugging Face directory (q/k rows back in HF order, HF names).
fn write_tiny_hf(dir: &Path, tensors: &[(String, Tensor)], tokenizer_from: &Llama) {
    let mut hf = HashMap::new();
    for (name, tensor) in tensors {
        let tensor = if name.ends_with("attn_q.weight") {
            permute_rotary_rows(tensor, LLAMA.num_heads, true).unwrap()
        } else if name.ends_with("attn_k.weight") {
            permute_rotary_rows(tensor, LLAMA.num_kv_heads, true).unwrap()
        } else {
            tensor.clone()
        };
        hf.insert(hf_name(name), tensor);
    }
    candle_core::safetensors::save(&hf, dir.join("model.safetensors")).unwrap();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": LLAMA.vocab_size, "hidden_size": LLAMA.hidden_size,
        "intermediate_size": LLAMA.intermediate_size, "num_hidden_layers": LLAMA.num_layers,
        "num_attention_heads": LLAMA.num_heads, "num_key_value_heads": LLAMA.num_kv_heads,
        "rms_norm_eps": f64::from(LLAMA.rms_norm_eps as f32), "rope_theta": LLAMA.rope_base,
        "max_position_embeddings": LLAMA.context_length, "tie_word_embeddings": true,
        "rope_scaling": null, "torch_dtype": "float32"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    tokenizer_from
        .tokenizer
        .tokenizer
        .save(dir.join("tokenizer.json"), false)
        .unwrap();
}

fn tiny_llama(name: &str) -> (Llama, Vec<(String, Tensor)>) {
    let dir = scratch(name);
    let tensors = tiny_llama_tensors(7);
    let path = dir.join("tiny.gguf");
    write_tiny_gguf(&path, &tensors);
    (Llama::load(&path).unwrap(), tensors)
}

fn tiny_ids() -> Tensor {
    Tensor::new(
        &[
            [5u32, 70, 257, 259, 100, 33, 90, 12, 200, 3],
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        ],
        &Device::Cpu,
    )
    .unwrap()
}

#[test]
fn llama_gguf_and_hf_directory_give_the_same_logits() {
    let (gguf, tensors) = tiny_llama("llama-gguf");
    let dir = scratch("llama-hf");
    write_tiny_hf(&dir, &tensors, &gguf);
    let hf = Llama::load(&dir).unwrap();
    assert_eq!(hf.config, gguf.config);
    let fp32 = PreparedAssignment::fp32(&gguf).unwrap();
    let from_gguf = gguf.forward(&tiny_ids(), &fp32).unwrap();
    let from_hf = hf
        .forward(&tiny_ids(), &PreparedAssignment::fp32(&hf).unwrap())
        .unwrap();
    assert_eq!(max_abs_diff(&from_gguf, &from_hf), 0.0);
    let text = "the theory of the whale";
    let ids = hf.tokenizer.encode(text).unwrap();
    assert_eq!(ids, gguf.tokenizer.encode(text).unwrap());
    assert!(ids.contains(&259), "'Ġthe' merges into one token: {ids:?}");
    assert_eq!(gguf.tokenizer.decode(&ids).unwrap(), text);
}

#[test]
fn llama_matches_candle_quantized_llama() {
    let (model, _) = tiny_llama("llama-candle");
    let mut file = std::fs::File::open(&model.path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut theirs = candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
        content,
        &mut file,
        &Device::Cpu,
    )
    .unwrap();
    let ids = tiny_ids();
    let ours = model
        .logits(
            &PreparedAssignment::fp32(&model).unwrap(),
            &ids,
            Positions::Last,
        )
        .unwrap();
    let theirs = theirs.forward(&ids, 0).unwrap();
    let diff = max_abs_diff(&ours, &theirs);
    assert!(diff < 1e-5, "max diff {diff}");
}

#[test]
fn llama_is_causal() {
    let (model, _) = tiny_llama("llama-causal");
    let fp32 = PreparedAssignment::fp32(&model).unwrap();
    let ids = tiny_ids();
    let changed = ids
        .slice_assign(
            &[0..2, 9..10],
            &Tensor::new(&[[77u32], [78]], &Device::Cpu).unwrap(),
        )
        .unwrap();
    let a = model.forward(&ids, &fp32).unwrap();
    let b = model.forward(&changed, &fp32).unwrap();
    assert_eq!(
        max_abs_diff(&a.i((.., ..9, ..)).unwrap(), &b.i((.., ..9, ..)).unwrap()),
        0.0
    );
    assert!(max_abs_diff(&a.i((.., 9, ..)).unwrap(), &b.i((.., 9, ..)).unwrap()) > 0.0);
}

/// Every layer's output under `prepared`, by layer name.
fn layer_outputs(
    model: &dyn RunnableModel,
    input: &Tensor,
    prepared: &PreparedAssignment,
) -> BTreeMap<String, Tensor> {
    let mut outputs = BTreeMap::new();
    model
        .run(
            input,
            &mut LayerContext::new(prepared).recording(&mut outputs),
        )
        .unwrap();
    outputs
}

/// Quantizes `layer` alone to int2 and checks which layer outputs change: exactly that layer
/// and every layer after it in execution order (all of a transformer's later layers see the
/// residual stream it writes to).
fn check_only_downstream_changes(model: &dyn RunnableModel, input: &Tensor, layer: &str) {
    let graph = model.graph();
    let fp32 = Assignment::fp32(graph);
    let int2 = LayerFormats {
        weight: "int2-sym-pc".parse().unwrap(),
        activation: Format::Fp32,
    };
    let one = fp32.clone().with_layer(layer, int2);
    let prepared = PreparedAssignment::new(model, &one, None).unwrap();
    let reference = layer_outputs(
        model,
        input,
        &PreparedAssignment::new(model, &fp32, None).unwrap(),
    );
    let quantized = layer_outputs(model, input, &prepared);
    let position = graph.layers.iter().position(|l| l.name == layer).unwrap();
    for (index, l) in graph.layers.iter().enumerate() {
        let diff = max_abs_diff(&reference[&l.name], &quantized[&l.name]);
        if index < position {
            assert_eq!(diff, 0.0, "{} is upstream of {layer} but changed", l.name);
        } else {
            assert!(
                diff > 0.0,
                "{} is downstream of {layer} but did not change",
                l.name
            );
        }
    }
    let again = layer_outputs(
        model,
        input,
        &PreparedAssignment::new(model, &one, None).unwrap(),
    );
    for (name, tensor) in &quantized {
        assert_eq!(
            max_abs_diff(tensor, &again[name]),
            0.0,
            "{name} differs between two identical runs"
        );
    }
}

#[test]
fn llama_quantizing_one_layer_changes_only_downstream_outputs() {
    let (model, _) = tiny_llama("llama-plumbing");
    check_only_downstream_changes(&model, &tiny_ids(), "blk.1.ffn_up");
    check_only_downstream_changes(&model, &tiny_ids(), "blk.0.attn_v");
}

/// Gradient of a scalar loss with respect to the weight of `layer`, by backprop through the
/// whole forward, checked against a central finite difference along the gradient.
fn check_gradient(
    model: &dyn RunnableModel,
    input: &Tensor,
    layer: &str,
    loss: &dyn Fn(&Tensor) -> Tensor,
) {
    let mut prepared = PreparedAssignment::fp32(model).unwrap();
    let weight = model.weight(layer).unwrap().clone();
    let var = Var::from_tensor(&weight).unwrap();
    prepared.layers.get_mut(layer).unwrap().weight = Some(var.as_tensor().clone());
    let value = loss(&model.forward(input, &prepared).unwrap());
    let grads = value.backward().unwrap();
    let gradient = grads
        .get(var.as_tensor())
        .expect("gradient reaches the weight")
        .clone();
    let norm_sq: f32 = gradient
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(norm_sq > 0.0 && norm_sq.is_finite());
    let step = 1e-2 / norm_sq.sqrt();
    let shifted = |sign: f32| {
        let mut p = PreparedAssignment::fp32(model).unwrap();
        let w = (&weight + (&gradient * f64::from(sign * step)).unwrap()).unwrap();
        p.layers.get_mut(layer).unwrap().weight = Some(w);
        loss(&model.forward(input, &p).unwrap())
            .to_scalar::<f32>()
            .unwrap()
    };
    let numeric = (shifted(1.0) - shifted(-1.0)) / (2.0 * step);
    let relative = (numeric - norm_sq).abs() / norm_sq;
    assert!(
        relative < 0.05,
        "layer {layer}: backprop {norm_sq}, finite difference {numeric}"
    );
}

#[test]
fn llama_forward_is_differentiable() {
    let (model, _) = tiny_llama("llama-grad");
    let loss = |logits: &Tensor| logits.sqr().unwrap().mean_all().unwrap();
    for layer in ["token_embd", "blk.0.attn_q", "blk.1.ffn_down", "output"] {
        check_gradient(&model, &tiny_ids(), layer, &loss);
    }
}

// ---------------------------------------------------------------------------------------------
// Tiny BERT: 2 blocks, hidden 32, 4 heads, a 13-token WordPiece vocabulary.

const BERT_TOKENIZER: &str = r###"{"version":"1.0","truncation":null,"padding":null,
"added_tokens":[
 {"id":0,"content":"[PAD]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
 {"id":1,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
 {"id":2,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
 {"id":3,"content":"[SEP]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
"pre_tokenizer":{"type":"BertPreTokenizer"},
"post_processor":{"type":"TemplateProcessing",
 "single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
 "pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
 "special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}},
"decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
 "vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"the":4,"cat":5,"sat":6,"on":7,"mat":8,"##s":9,".":10,"a":11,"dog":12}}}"###;

const BERT_CONFIG: &str = r#"{"architectures":["BertModel"],"model_type":"bert","vocab_size":13,
"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,
"hidden_act":"gelu","max_position_embeddings":16,"type_vocab_size":2,"layer_norm_eps":1e-12,
"pad_token_id":0,"hidden_dropout_prob":0.1,"attention_probs_dropout_prob":0.1,"initializer_range":0.02}"#;

fn tiny_bert(name: &str) -> (Bert, PathBuf) {
    let dir = scratch(name);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut tensors = HashMap::new();
    let mut add = |name: String, shape: &[usize], rng: &mut rand::rngs::StdRng| {
        let t = if name.contains("LayerNorm.weight") {
            (random(shape, 0.2, rng) + 1.0).unwrap()
        } else {
            random(shape, 0.3, rng)
        };
        tensors.insert(name, t);
    };
    for (table, rows) in [
        ("word_embeddings", 13),
        ("position_embeddings", 16),
        ("token_type_embeddings", 2),
    ] {
        add(format!("embeddings.{table}.weight"), &[rows, 32], &mut rng);
    }
    add("embeddings.LayerNorm.weight".into(), &[32], &mut rng);
    add("embeddings.LayerNorm.bias".into(), &[32], &mut rng);
    for layer in 0..2 {
        let p = format!("encoder.layer.{layer}");
        for (dense, inputs, outputs) in [
            ("attention.self.query", 32, 32),
            ("attention.self.key", 32, 32),
            ("attention.self.value", 32, 32),
            ("attention.output.dense", 32, 32),
            ("intermediate.dense", 32, 64),
            ("output.dense", 64, 32),
        ] {
            add(format!("{p}.{dense}.weight"), &[outputs, inputs], &mut rng);
            add(format!("{p}.{dense}.bias"), &[outputs], &mut rng);
        }
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            add(format!("{p}.{norm}.weight"), &[32], &mut rng);
            add(format!("{p}.{norm}.bias"), &[32], &mut rng);
        }
    }
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("config.json"), BERT_CONFIG).unwrap();
    std::fs::write(dir.join("tokenizer.json"), BERT_TOKENIZER).unwrap();
    (Bert::load(&dir).unwrap(), dir)
}

const SENTENCES: [&str; 3] = [
    "The cat sat on the mat.",
    "A dog.",
    "Cats sat on a dog, the mat sat on cats.",
];

#[test]
fn bert_matches_candle_transformers_and_tokenizes() {
    let (bert, dir) = tiny_bert("bert-candle");
    let batch = bert.tokenize(&SENTENCES).unwrap();
    let first: Vec<u32> = batch.ids.i(0).unwrap().to_vec1().unwrap();
    assert_eq!(&first[..9], &[2, 4, 5, 6, 7, 4, 8, 10, 3]);
    let ours = bert
        .hidden_states(&PreparedAssignment::fp32(&bert).unwrap(), &batch)
        .unwrap();
    let config: candle_transformers::models::bert::Config =
        serde_json::from_str(BERT_CONFIG).unwrap();
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(
            &[dir.join("model.safetensors")],
            DType::F32,
            &Device::Cpu,
        )
        .unwrap()
    };
    let theirs = candle_transformers::models::bert::BertModel::load(vb, &config).unwrap();
    let theirs = theirs
        .forward(&batch.ids, &batch.type_ids, Some(&batch.mask))
        .unwrap();
    let diff = max_abs_diff(&ours, &theirs);
    assert!(diff < 1e-5, "max diff {diff}");
}

#[test]
fn bert_quantizing_one_layer_changes_only_downstream_outputs() {
    let (bert, _) = tiny_bert("bert-plumbing");
    let packed = bert.tokenize(&SENTENCES).unwrap().pack().unwrap();
    check_only_downstream_changes(&bert, &packed, "encoder.layer.1.attention.self.value");
    check_only_downstream_changes(&bert, &packed, "encoder.layer.0.intermediate.dense");
}

#[test]
fn bert_forward_is_differentiable() {
    let (bert, _) = tiny_bert("bert-grad");
    let packed = bert.tokenize(&SENTENCES).unwrap().pack().unwrap();
    let target = Tensor::ones((3, 32), DType::F32, &Device::Cpu).unwrap();
    let loss = move |embeddings: &Tensor| (embeddings * &target).unwrap().sum_all().unwrap();
    for layer in [
        "embeddings.word_embeddings",
        "encoder.layer.0.attention.self.query",
        "encoder.layer.1.output.dense",
    ] {
        check_gradient(&bert, &packed, layer, &loss);
    }
}
