//! Plan files, diffs and the report of a small fixture run: plans round-trip TOML <-> JSON <->
//! memory; a plan's diff with itself is empty; the report has every section and every figure as
//! a non-empty SVG and a PNG of the size drawn; the page references no external asset.

mod report_common;

use std::path::Path;

use bitplan::report::html::SECTIONS;
use bitplan::report::plan_file::{plan_from_str, plan_to_string};
use bitplan::report::{diff, read_plan, write_plan, write_report, Encoding};
use bitplan::search::{ErrorColumn, Plan, TableProvenance};
use report_common::{fixture_run, front, measured};

fn scratch(name: &str) -> std::path::PathBuf {
    report_common::scratch("report_files", name)
}

fn rich_plan() -> Plan {
    let mut plan = front(4).plans[0].plan.clone();
    plan.measured = Some(measured(2.0));
    plan.provenance.tables = Some(TableProvenance {
        sensitivity: "sensitivity.json".into(),
        model: "fixture".into(),
        model_hash: "00ff".into(),
        calib_hash: "ff00".into(),
        calib_samples: 1024,
        sensitivity_metric: "kl".into(),
        error_column: ErrorColumn::Ci95High,
        space: "search-spaces/int-w-a.toml".into(),
        space_hash: "0a0b".into(),
        costs: "costs/nvidia-h100-sxm.json".into(),
        profile: "nvidia-h100-sxm".into(),
        cost_table_sha256: "0c0d".into(),
        profile_sha256: Some("0e0f".into()),
        batch: 1,
        seq: 1,
    });
    plan.layers[0].reason = Some("pinned by the space".into());
    plan
}

#[test]
fn plans_round_trip_toml_json_memory() {
    let plan = rich_plan();
    let path = Path::new("plan");
    let toml = plan_to_string(&plan, Encoding::Toml, path).unwrap();
    let from_toml = plan_from_str(&toml, Encoding::Toml, path).unwrap();
    assert_eq!(from_toml, plan);
    let json = plan_to_string(&from_toml, Encoding::Json, path).unwrap();
    let from_json = plan_from_str(&json, Encoding::Json, path).unwrap();
    assert_eq!(from_json, plan);
    assert_eq!(
        plan_to_string(&from_json, Encoding::Toml, path).unwrap(),
        toml
    );
    assert!(toml.contains("schema = \"bitplan.plan/1\""), "{toml}");
}

#[test]
fn plan_files_on_disk_round_trip_and_bad_ones_are_named() {
    let dir = scratch("files");
    let plan = rich_plan();
    for name in ["p.toml", "p.json"] {
        write_plan(&plan, &dir.join(name)).unwrap();
        assert_eq!(read_plan(&dir.join(name)).unwrap(), plan);
    }
    let wrong = dir.join("p.yaml");
    let error = write_plan(&plan, &wrong).unwrap_err().to_string();
    assert!(
        error.contains("p.yaml") && error.contains(".toml"),
        "{error}"
    );
    let text = std::fs::read_to_string(dir.join("p.toml")).unwrap();
    std::fs::write(
        dir.join("old.toml"),
        text.replace("bitplan.plan/1", "bitplan.plan/0"),
    )
    .unwrap();
    let error = read_plan(&dir.join("old.toml")).unwrap_err().to_string();
    assert!(
        error.contains("old.toml") && error.contains("bitplan.plan/1"),
        "{error}"
    );
}

#[test]
fn diff_with_itself_is_empty_and_changes_are_listed() {
    let front = front(6);
    let (a, b) = (
        &front.plans[0].plan,
        &front.plans[front.plans.len() - 1].plan,
    );
    assert!(diff(a, a).is_empty());
    let changes = diff(a, b);
    let changed = a
        .layers
        .iter()
        .zip(&b.layers)
        .filter(|(x, y)| x.candidate != y.candidate)
        .count();
    assert!(changed > 0);
    assert_eq!(changes.layers.len(), changed);
    assert!(changes.totals.iter().any(|t| t.metric == "latency_us"));
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (info.width, info.height)
}

fn svg_size(svg: &str) -> (u32, u32) {
    let number = |key: &str| {
        let start = svg.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
        svg[start..]
            .split('"')
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    (number("width"), number("height"))
}

#[test]
fn report_of_a_fixture_run_has_every_section_and_figure() {
    let dir = scratch("run");
    fixture_run(&dir);
    let page = write_report(&dir).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    for section in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{section}\"")),
            "section {section} missing"
        );
    }
    for external in ["src=", "href=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "page refers to an external asset ({external})"
        );
    }
    let expected = [
        "frontier-latency",
        "frontier-size",
        "allocation",
        "sensitivity",
        "predicted-vs-measured",
    ];
    for name in expected {
        assert!(
            html.contains(&format!("id=\"fig-{name}\"")),
            "figure {name} not on the page"
        );
        let svg = std::fs::read_to_string(dir.join("figures").join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.len() > 1000 && svg.contains("<text"),
            "{name}.svg is empty or has no text"
        );
        let png = dir.join("figures").join(format!("{name}.png"));
        assert_eq!(
            png_size(&png),
            svg_size(&svg),
            "{name}: PNG and SVG sizes differ"
        );
    }
    assert!(html.contains("chip-a") && html.contains("chip-b"));
}

#[test]
fn report_of_a_directory_without_fronts_says_what_is_missing() {
    let dir = scratch("empty");
    let error = write_report(&dir).unwrap_err().to_string();
    assert!(
        error.contains("fronts") && error.contains("bitplan sweep"),
        "{error}"
    );
}
