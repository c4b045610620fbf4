//! Every shipped profile parses and validates; malformed profiles give messages that name the
//! file, the field, the value and what would be valid (snapshots of the user-facing text).

use bitplan::hardware::{load, parse, shipped_names, HardwareError};

#[test]
fn every_shipped_profile_parses_and_validates() {
    let names = shipped_names();
    assert!(names.len() >= 5, "shipped: {names:?}");
    for name in names {
        let loaded = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.profile.name, name);
    }
}

#[test]
fn every_profile_file_on_disk_parses_with_its_stem() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware-profiles");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            bitplan::hardware::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert_eq!(
        count,
        shipped_names().len(),
        "every file is shipped, every shipped profile is a file"
    );
}

#[test]
fn a_fragment_that_matches_one_profile_finds_it() {
    assert_eq!(load("h100").unwrap().profile.name, "nvidia-h100-sxm");
    let error = load("arm").unwrap_err();
    assert!(
        matches!(error, HardwareError::AmbiguousProfile { .. }),
        "{error}"
    );
    let error = load("no-such-chip").unwrap_err();
    insta::assert_snapshot!("unknown_profile", error.to_string());
}

/// The smallest valid profile; tests edit one thing to break it.
const MINIMAL: &str = r#"
schema = "bitplan.hardware/1"
name = "tiny"
description = "test chip"
class = "npu"

[[precision]]
name = "int8"
peak-tera-ops-per-s = 1.0
energy-pj-per-mac = 0.1

[[memory]]
name = "dram"
capacity-bytes = 1e9
bandwidth-gb-per-s = 10.0
energy-pj-per-byte = 20.0
holds = ["weights", "activations"]

[overhead]
per-layer-us = 1.0

[[kernel]]
ops = ["linear"]
weight = ["int8-*"]
activation = ["int8-*"]
precision = "int8"

[transition]
cast-overhead-us = 1.0
fuse-same-width = true
"#;

fn error_for(text: &str) -> String {
    match parse(text, "hardware-profiles/tiny.toml", Some("tiny")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn the_minimal_profile_is_valid() {
    parse(MINIMAL, "tiny.toml", Some("tiny")).unwrap();
}

#[test]
fn unknown_field_is_rejected() {
    let text = MINIMAL.replace(
        "fuse-same-width = true",
        "fuse-same-width = true\nturbo = true",
    );
    insta::assert_snapshot!("unknown_field", error_for(&text));
}

#[test]
fn unit_typo_is_rejected() {
    let text = MINIMAL.replace("bandwidth-gb-per-s = 10.0", "bandwidth-gbps = 10.0");
    insta::assert_snapshot!("unit_typo", error_for(&text));
}

#[test]
fn negative_bandwidth_is_rejected() {
    let text = MINIMAL.replace("bandwidth-gb-per-s = 10.0", "bandwidth-gb-per-s = -10.0");
    insta::assert_snapshot!("negative_bandwidth", error_for(&text));
}

#[test]
fn missing_precision_is_rejected() {
    let text = MINIMAL.replace("precision = \"int8\"", "precision = \"fp16\"");
    insta::assert_snapshot!("missing_precision", error_for(&text));
}

#[test]
fn unknown_precision_name_is_rejected() {
    let text = MINIMAL.replace("precision = \"int8\"", "precision = \"int7\"");
    insta::assert_snapshot!("unknown_precision_name", error_for(&text));
}

#[test]
fn several_problems_are_reported_together() {
    let text = MINIMAL
        .replace("peak-tera-ops-per-s = 1.0", "peak-tera-ops-per-s = 0.0")
        .replace("per-layer-us = 1.0", "per-layer-us = -2.0")
        .replace(
            "holds = [\"weights\", \"activations\"]",
            "holds = [\"activations\"]",
        );
    insta::assert_snapshot!("several_problems", error_for(&text));
}

#[test]
fn name_must_match_the_file_stem() {
    let text = MINIMAL.replace("name = \"tiny\"", "name = \"small\"");
    insta::assert_snapshot!("name_mismatch", error_for(&text));
}

#[test]
fn a_weight_fallback_needs_a_target_and_reason() {
    let text = format!("{MINIMAL}\n[[fallback]]\nweight = \"int4-*\"\nactivation = \"int4-*\"\nto = \"\"\nreason = \"\"\n");
    insta::assert_snapshot!("bad_fallback", error_for(&text));
}

#[test]
fn a_profile_without_precisions_is_rejected() {
    let start = MINIMAL.find("[[precision]]").unwrap();
    let end = MINIMAL.find("[[memory]]").unwrap();
    let text = format!("{}{}", &MINIMAL[..start], &MINIMAL[end..]);
    insta::assert_snapshot!("no_precision_table", error_for(&text));
}
