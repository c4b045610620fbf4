//! The run's inputs for the report's provenance table, taken from the same values the plans'
//! provenance records (the sensitivity table's model, calibration and space hashes), plus the
//! evaluation split, which only the run knows; and the notes that say how the numbers were made.

use std::collections::BTreeMap;

use super::{DemoSettings, SPACE_FILE};
use crate::sensitivity::table::sha256_hex;
use crate::sensitivity::{SensitivityTable, DEFAULT_CALIB_IMAGES};
use crate::validate::Evaluator;

/// Input name -> value; the chips' profiles are added as they are loaded.
pub(super) fn run_inputs(
    evaluator: &Evaluator,
    sensitivity: &SensitivityTable,
    settings: DemoSettings,
) -> BTreeMap<String, String> {
    let classifier = &evaluator.classifier;
    let sens = &sensitivity.provenance;
    let eval_used = settings
        .eval_limit
        .unwrap_or(classifier.eval.len())
        .min(classifier.eval.len());
    BTreeMap::from([
        (
            "model".to_string(),
            format!("{} (weights sha256 {})", classifier.weights, sens.model_hash),
        ),
        (
            "calibration data".to_string(),
            format!(
                "{}: first {} images in {} batches (sha256 {})",
                classifier.calibration.source,
                sens.calib_samples,
                sens.calib_batches,
                sens.calib_hash
            ),
        ),
        (
            "evaluation data".to_string(),
            format!(
                "{}: {eval_used} images used (sha256 {})",
                classifier.eval.source,
                sha256_hex(&classifier.eval.pixels)
            ),
        ),
        (
            "search space".to_string(),
            format!("{} (resolved sha256 {})", sens.space, sens.space_hash),
        ),
        (
            "per-layer error".to_string(),
            format!(
                "bitplan analyze: {} of the output distribution, mean and 95% interval over {} calibration batches",
                sens.metric, sens.calib_batches
            ),
        ),
        (
            "solver".to_string(),
            format!(
                "exact, {} latency budget levels per chip, objectives error and latency_us, seed none",
                settings.points
            ),
        ),
    ])
}

pub(super) fn notes(settings: DemoSettings, cells: usize) -> Vec<String> {
    vec![
        format!("The pipeline is the one the commands run: `bitplan analyze fashion-cnn --space {SPACE_FILE} --calib {}`, `bitplan cost --space` per chip, `bitplan sweep --sens --cost --space --metric latency_us --points {}`, then `bitplan validate --top {}`.", settings.calib_images, settings.points, settings.top),
        format!("--calib {}: the analysis of the {cells} cells (9 layers x 5 candidates, first and last layer pinned to w8a16 by the space) on {} calibration images (the `bitplan analyze` default is {DEFAULT_CALIB_IMAGES}) takes about 13 s on 2 cores, a small part of the demo's 5 minutes.", settings.calib_images, settings.calib_images),
        "The space's tie groups (qkv, gate-up) are for smollm2 and do not apply to fashion-cnn, so no layer here is tied.".to_string(),
        "Latency, bytes and bound per layer are the hardware stage's roofline predictions at batch 1; measured latency is the fake-quant executor on this CPU, comparable by rank only.".to_string(),
        "Measured accuracy is top-1 on the Fashion-MNIST test split, never used for calibration or the analysis.".to_string(),
    ]
}
