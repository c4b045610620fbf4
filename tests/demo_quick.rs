//! `bitplan demo --quick` end to end (the same pipeline as `bitplan demo` on fewer images): it
//! writes the run and the report, its fronts were searched on its own sensitivity table over the
//! shipped space (pins given as reasons), and every number of its printed summary agrees with the
//! front and plan files it wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use bitplan::demo::{PROFILES, SPACE_FILE};
use bitplan::report::{read_front, read_plan, ACCURACY_TOLERANCE_PP};
use bitplan::search::{Front, Plan};
use bitplan::sensitivity::table::SENSITIVITY_SCHEMA;
use bitplan::sensitivity::SensitivityTable;

const BITPLAN: &str = env!("CARGO_BIN_EXE_bitplan");

/// `NAME LATENCY us, SIZE KiB, ACC%` -> (latency, accuracy) as printed.
fn numbers(part: &str) -> (String, String) {
    let words: Vec<&str> = part.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "us,")
        .expect("a latency in us");
    (
        words[at - 1].to_string(),
        words[at + 3].trim_end_matches('%').to_string(),
    )
}

fn within_target(plan: &Plan) -> bool {
    let measured = plan.measured.as_ref().expect("measured");
    measured.value >= measured.reference_value - ACCURACY_TOLERANCE_PP
}

/// The printed pick is within the target and no other eligible plan is faster.
fn check_pick(chip: &str, picked: &Plan, others: &[&Plan], printed: (String, String)) {
    assert!(
        within_target(picked),
        "{chip}: printed plan misses the accuracy target"
    );
    assert_eq!(
        format!("{:.3}", picked.total("latency_us")),
        printed.0,
        "{chip}: latency"
    );
    assert_eq!(
        format!("{:.2}", picked.measured.as_ref().unwrap().value),
        printed.1,
        "{chip}: accuracy"
    );
    for other in others
        .iter()
        .filter(|p| p.measured.is_some() && within_target(p))
    {
        assert!(
            other.total("latency_us") >= picked.total("latency_us"),
            "{chip}: a faster eligible plan exists"
        );
    }
}

fn check_chip(dir: &Path, chip: &str, line: &str) {
    let front: Front = read_front(&dir.join("fronts").join(format!("{chip}.json"))).unwrap();
    let (mixed, uniform) = line.split_once(" vs best ").expect("mixed vs uniform");
    let index: usize = mixed
        .split('#')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let plans: Vec<&Plan> = front.plans.iter().map(|p| &p.plan).collect();
    check_pick(chip, &front.plans[index].plan, &plans, numbers(mixed));
    let name = uniform
        .trim_start_matches("uniform ")
        .split_whitespace()
        .next()
        .unwrap();
    let baseline = front
        .baselines
        .iter()
        .find(|b| b.candidate == name)
        .expect("the printed baseline");
    let baselines: Vec<&Plan> = front
        .baselines
        .iter()
        .filter(|b| b.within_budgets)
        .map(|b| &b.plan)
        .collect();
    check_pick(chip, &baseline.plan, &baselines, numbers(uniform));
    let recommended = front.recommended.expect("a recommended plan");
    for extension in ["toml", "json"] {
        let path = dir
            .join("plans")
            .join(format!("{chip}-recommended.{extension}"));
        assert_eq!(
            read_plan(&path).unwrap(),
            front.plans[recommended].plan,
            "{}",
            path.display()
        );
    }
}

/// The fronts were searched on the run's own sensitivity table (same model, calibration and
/// space hashes) over the shipped space, and its pins show up as the reason of those layers.
fn check_pipeline(dir: &Path) {
    let text = std::fs::read_to_string(dir.join("sensitivity.json")).unwrap();
    let table: SensitivityTable = serde_json::from_str(&text).unwrap();
    assert_eq!(table.schema, SENSITIVITY_SCHEMA);
    assert_eq!(table.provenance.space, SPACE_FILE);
    assert_eq!(table.cells.len(), table.total_cells);
    for chip in PROFILES {
        let front: Front = read_front(&dir.join("fronts").join(format!("{chip}.json"))).unwrap();
        let tables = front
            .provenance
            .tables
            .as_ref()
            .expect("joined from tables");
        let sens = &table.provenance;
        assert_eq!(
            (&tables.model_hash, &tables.calib_hash, &tables.space_hash),
            (&sens.model_hash, &sens.calib_hash, &sens.space_hash),
            "{chip}"
        );
        assert_eq!(tables.profile, chip);
        assert!(tables.profile_sha256.is_some(), "{chip}: profile hash");
        for entry in &front.plans {
            let (first, last) = (&entry.plan.layers[0], entry.plan.layers.last().unwrap());
            for layer in [first, last] {
                assert_eq!(
                    layer.reason.as_deref(),
                    Some("pinned by the space to w8a16"),
                    "{chip}: {}",
                    layer.name
                );
            }
            assert!(entry.plan.layers.iter().all(|l| l.reason.is_some()));
        }
    }
}

#[test]
fn quick_demo_summary_agrees_with_its_files() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("demo_quick");
    let _ = std::fs::remove_dir_all(&dir);
    let output = Command::new(BITPLAN)
        .args(["demo", "--quick", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(&format!("report: {}", dir.join("index.html").display())),
        "{stdout}"
    );
    for chip in PROFILES {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{chip}: ")))
            .unwrap_or_else(|| panic!("no summary for {chip}: {stdout}"));
        check_chip(&dir, chip, line);
    }
    check_pipeline(&dir);
    for file in [
        "index.html",
        "run.json",
        "sensitivity.json",
        "figures/frontier-latency.png",
        "figures/latency-breakdown.svg",
    ] {
        assert!(
            std::fs::metadata(dir.join(file)).unwrap().len() > 0,
            "{file} empty"
        );
    }
}
