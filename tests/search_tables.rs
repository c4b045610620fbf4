//! The search problem joined from a sensitivity table, cost tables and a search space (issue 6):
//! equal to the problem file an independent reference writes (tests/fixtures/tables/
//! reference_join.py), the same plans and fronts through `--sens --cost --space` as through
//! `--problem`, named errors when the tables disagree, byte-identical output across runs.

use std::path::PathBuf;
use std::process::{Command, Output};

use bitplan::hardware::CostTable;
use bitplan::model::reference::load_image_classifier;
use bitplan::model::RunnableModel;
use bitplan::search::{problem_from_tables, ErrorColumn, Front, Plan, Problem, Tables};
use bitplan::sensitivity::{SensitivityTable, Shard};
use bitplan::space::{resolve, ResolvedSpace, SearchSpace};

const BITPLAN: &str = env!("CARGO_BIN_EXE_bitplan");
const SENS: &str = "tests/fixtures/tables/sens.json";
const SPACE: &str = "tests/fixtures/tables/space.toml";
const A76: &str = "tests/fixtures/tables/cost-arm-cortex-a76.json";
const H100: &str = "tests/fixtures/tables/cost-nvidia-h100-sxm.json";
const PROFILES: [(&str, &str); 2] = [
    (A76, "tests/fixtures/tables/problem-arm-cortex-a76.json"),
    (H100, "tests/fixtures/tables/problem-nvidia-h100-sxm.json"),
];

fn read<T: serde::de::DeserializeOwned>(path: &str) -> T {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn space() -> ResolvedSpace {
    let classifier = load_image_classifier("fashion-cnn", None).unwrap();
    resolve(
        &SearchSpace::load(SPACE.as_ref()).unwrap(),
        classifier.model.graph(),
    )
    .unwrap()
}

fn join(
    sens: &SensitivityTable,
    costs: &CostTable,
    space: &ResolvedSpace,
    column: ErrorColumn,
) -> Result<Problem, String> {
    let tables = Tables {
        sensitivity: sens,
        sensitivity_file: SENS,
        costs,
        cost_file: A76,
        space,
    };
    problem_from_tables(tables, column).map_err(|error| error.to_string())
}

#[test]
fn joined_problem_equals_the_reference_problem_file() {
    let sens: SensitivityTable = read(SENS);
    let space = space();
    for (cost_file, problem_file) in PROFILES {
        let costs: CostTable = read(cost_file);
        let joined = join(&sens, &costs, &space, ErrorColumn::Mean).unwrap();
        let reference = Problem::load(problem_file.as_ref()).unwrap();
        assert_eq!(joined.to_json(), reference.to_json(), "{cost_file}");
        assert_eq!(joined.fingerprint(), reference.fingerprint());
        let sources = joined.sources().unwrap();
        assert_eq!(sources.profile, costs.profile);
        assert_eq!(sources.model_hash, sens.provenance.model_hash);
    }
}

#[test]
fn error_columns_pick_the_interval_or_fail_on_a_missing_proxy() {
    let sens: SensitivityTable = read(SENS);
    let costs: CostTable = read(A76);
    let space = space();
    let high = join(&sens, &costs, &space, ErrorColumn::Ci95High).unwrap();
    let stem = &high.layers()[0].candidates[0];
    assert_eq!(stem.error, sens.cells[0].error.ci95_high);
    let error = join(&sens, &costs, &space, ErrorColumn::Fisher).unwrap_err();
    insta::assert_snapshot!("proxy_missing", error);
}

/// Each way the tables can disagree, and the message that names it.
#[test]
fn mismatched_tables_give_named_errors() {
    let sens: SensitivityTable = read(SENS);
    let costs: CostTable = read(A76);
    let space = space();
    let check = |name: &str, sens: &SensitivityTable, costs: &CostTable, space: &ResolvedSpace| {
        let error = join(sens, costs, space, ErrorColumn::Mean).unwrap_err();
        insta::assert_snapshot!(name, error);
    };

    let mut other_model = costs.clone();
    other_model.model = "mnist-cnn".to_string();
    check("model_mismatch", &sens, &other_model, &space);

    let mut sharded = sens.clone();
    sharded.shard = Some(Shard { index: 1, count: 2 });
    check("sharded", &sharded, &costs, &space);

    let mut other_space = space.clone();
    other_space.layers[0].candidates.pop();
    check("space_mismatch", &sens, &costs, &other_space);

    let mut no_head = sens.clone();
    no_head
        .cells
        .retain(|cell| cell.layer != "head" && cell.layer != "down");
    check("layers_missing_from_sensitivity", &no_head, &costs, &space);

    let mut no_stem = costs.clone();
    no_stem.layers.remove(0);
    check("layers_missing_from_costs", &sens, &no_stem, &space);

    let mut extra = costs.clone();
    let mut copy = extra.layers[0].clone();
    copy.name = "extra.conv".to_string();
    extra.layers.push(copy);
    check("layers_extra_in_costs", &sens, &extra, &space);

    let mut no_w2 = sens.clone();
    no_w2
        .cells
        .retain(|cell| !(cell.layer == "down" && cell.candidate == "w2"));
    check("candidate_missing_from_sensitivity", &no_w2, &costs, &space);

    let mut no_int2 = costs.clone();
    no_int2.candidates.retain(|c| c.name != "int2-sym-pc:fp32");
    check("candidate_missing_from_costs", &sens, &no_int2, &space);

    let mut renamed = costs.clone();
    renamed.candidates[1].name = "w8".to_string();
    check("format_mismatch", &sens, &renamed, &space);
}

#[test]
fn unavailable_candidates_are_dropped_and_transitions_reindexed() {
    let sens: SensitivityTable = read(SENS);
    let space = space();
    let mut costs: CostTable = read(A76);
    // The profile cannot run int4 on res1.conv1: its cost entry moves to `unavailable`.
    let row = costs
        .layers
        .iter_mut()
        .find(|row| row.name == "res1.conv1")
        .unwrap();
    let gone = row.costs.remove(1);
    assert_eq!(gone.candidate, "int4-sym-pc:fp32");
    row.unavailable.push(bitplan::hardware::table::Unavailable {
        candidate: gone.candidate,
        reason: "test: no int4 kernel".to_string(),
    });
    for matrix in costs.transitions.iter_mut() {
        if matrix.from == "res1.conv1" {
            matrix.cost.remove(1);
        }
        if matrix.to == "res1.conv1" {
            matrix.cost.iter_mut().for_each(|line| {
                line.remove(1);
            });
        }
    }
    let full: CostTable = read(A76);
    let problem = join(&sens, &costs, &space, ErrorColumn::Mean).unwrap();
    let reference = join(&sens, &full, &space, ErrorColumn::Mean).unwrap();
    let layer = &problem.layers()[1];
    let names: Vec<&str> = layer.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["w8", "w2"]);
    // Every remaining cell of every matrix is the full table's cell for the same candidates.
    for (cut, whole) in problem.transitions().iter().zip(reference.transitions()) {
        let keep = |name: &str, i: usize| if name == "res1.conv1" { [0, 2][i] } else { i };
        for (i, line) in cut.cost.iter().enumerate() {
            for (j, &value) in line.iter().enumerate() {
                let expected = whole.cost[keep(&cut.from, i)][keep(&cut.to, j)];
                assert_eq!(value, expected, "{} -> {}", cut.from, cut.to);
            }
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BITPLAN)
        .args(args)
        .output()
        .expect("bitplan runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("search_tables");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn tables_args<'a>(costs: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--sens", SENS, "--space", SPACE];
    for cost in costs {
        args.extend(["--cost", cost]);
    }
    args
}

#[test]
fn search_from_tables_equals_search_from_the_problem_file() {
    for solver in ["exact", "greedy", "evolutionary"] {
        let from_tables = scratch(&format!("tables-{solver}.json"));
        let from_file = scratch(&format!("file-{solver}.json"));
        let tail = [
            "--budget",
            "weight_bits<=4",
            "--solver",
            solver,
            "--generations",
            "30",
        ];
        let mut args = vec!["search"];
        args.extend(tables_args(&[A76]));
        args.extend(tail);
        args.extend(["--out", from_tables.to_str().unwrap()]);
        ok(&run(&args));
        let mut args = vec!["search", "--problem", PROFILES[0].1];
        args.extend(tail);
        args.extend(["--out", from_file.to_str().unwrap()]);
        ok(&run(&args));
        let mut tables: Plan = read(from_tables.to_str().unwrap());
        let file: Plan = read(from_file.to_str().unwrap());
        assert_eq!(
            tables.provenance.problem_sha256,
            file.provenance.problem_sha256
        );
        let sources = tables.provenance.tables.take().unwrap();
        assert_eq!(sources.profile, "arm-cortex-a76");
        tables.provenance.problem = file.provenance.problem.clone();
        keep_search_reasons(&mut tables, &file);
        assert_eq!(tables, file, "{solver}");
    }
}

/// Plans joined from tables explain every layer (search::reasons); those from a problem file keep
/// only the search's own reasons, which the joined plan keeps too. Drops the added ones.
fn keep_search_reasons(tables: &mut Plan, file: &Plan) {
    for (layer, file_layer) in tables.layers.iter_mut().zip(&file.layers) {
        assert!(layer.reason.is_some(), "{}: no reason", layer.name);
        if file_layer.reason.is_some() {
            assert_eq!(layer.reason, file_layer.reason, "{}", layer.name);
        }
        layer.reason = file_layer.reason.clone();
    }
}

#[test]
fn sweep_of_two_profiles_equals_two_problem_file_sweeps_and_repeats_byte_for_byte() {
    let out = scratch("front.json");
    let mut args = vec!["sweep"];
    args.extend(tables_args(&[A76, H100]));
    args.extend(["--metric", "energy_uj", "--points", "12"]);
    args.extend(["--out", out.to_str().unwrap()]);
    ok(&run(&args));
    let written = |profile: &str| scratch(&format!("front.{profile}.json"));
    let first: Vec<Vec<u8>> = ["arm-cortex-a76", "nvidia-h100-sxm"]
        .iter()
        .map(|p| std::fs::read(written(p)).unwrap())
        .collect();
    ok(&run(&args));
    for (index, profile) in ["arm-cortex-a76", "nvidia-h100-sxm"].iter().enumerate() {
        assert_eq!(first[index], std::fs::read(written(profile)).unwrap());
        let file_out = scratch(&format!("file-front-{profile}.json"));
        let problem = PROFILES[index].1;
        ok(&run(&[
            "sweep",
            "--problem",
            problem,
            "--metric",
            "energy_uj",
            "--points",
            "12",
            "--out",
            file_out.to_str().unwrap(),
        ]));
        let mut tables: Front = serde_json::from_slice(&first[index]).unwrap();
        let file: Front = read(file_out.to_str().unwrap());
        assert_eq!(tables.provenance.tables.take().unwrap().profile, *profile);
        tables.provenance.problem = file.provenance.problem.clone();
        for (plan, file_plan) in tables.plans.iter_mut().zip(&file.plans) {
            plan.plan.provenance = file.provenance.clone();
            keep_search_reasons(&mut plan.plan, &file_plan.plan);
        }
        for baseline in tables.baselines.iter_mut() {
            baseline.plan.provenance = file.provenance.clone();
        }
        assert_eq!(tables, file, "{profile}");
    }
}

#[test]
fn cli_refuses_a_table_of_other_weights_and_two_costs_for_search() {
    let mut sens: serde_json::Value = read(SENS);
    sens["provenance"]["model_hash"] = "00".into();
    let forged = scratch("forged-sens.json");
    std::fs::write(&forged, sens.to_string()).unwrap();
    let output = run(&[
        "search",
        "--sens",
        forged.to_str().unwrap(),
        "--space",
        SPACE,
        "--cost",
        A76,
        "--budget",
        "weight_bits<=4",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("weights sha256 00, but fashion-cnn's weights hash to f4131b8b"),
        "{stderr}"
    );

    let mut args = vec!["search"];
    args.extend(tables_args(&[A76, H100]));
    args.extend(["--budget", "weight_bits<=4"]);
    let output = run(&args);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("search takes one --cost table (2 given)"),
        "{stderr}"
    );
}

/// `analyze --problem`'s problem: error = the chosen column, weight_bytes = bits × elements / 8,
/// and tied layers keep only the candidates they all have.
#[test]
fn a_sensitivity_table_alone_is_a_weight_size_problem() {
    use bitplan::search::problem_from_sensitivity;
    use bitplan::sensitivity::stats::Estimate;
    use bitplan::sensitivity::table::{Cell, Proxies};
    use bitplan::space::TieSet;
    let cell = |index: usize, layer: &str, candidate: &str, mean: f64, bits: f64| Cell {
        index,
        layer: layer.into(),
        candidate: candidate.into(),
        weight_format: "int8-sym-pc".into(),
        activation_format: "fp32".into(),
        weight_bits: bits,
        weight_elements: 16,
        error: Estimate::from_values(&[mean]),
        proxies: Proxies::default(),
    };
    let mut table: SensitivityTable = read(SENS);
    table.ties = vec![TieSet {
        name: "t".into(),
        layers: vec!["a".into(), "b".into()],
    }];
    table.cells = vec![
        cell(0, "a", "w8", 0.5, 8.0),
        cell(1, "a", "w4", 2.0, 4.0),
        cell(2, "b", "w8", 1.0, 8.0),
        cell(3, "c", "w8", 0.25, 8.0),
        cell(4, "c", "w4", 3.0, 4.0),
    ];
    let problem = problem_from_sensitivity(&table, "t.json", ErrorColumn::Mean).unwrap();
    let layers = problem.layers();
    let names = |i: usize| -> Vec<&str> {
        layers[i]
            .candidates
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    };
    assert_eq!(names(0), ["w8"], "tied with b, which has only w8");
    assert_eq!(names(2), ["w8", "w4"]);
    assert_eq!(layers[2].candidates[1].error, 3.0);
    assert_eq!(layers[2].candidates[1].costs["weight_bytes"], 8.0);
    assert_eq!(problem.ties(), [vec!["a".to_string(), "b".to_string()]]);
}
