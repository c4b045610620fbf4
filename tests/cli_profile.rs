//! `bitplan profile`: the user-facing text of list/show/check and of the errors.

mod common;

use common::bitplan;

fn profile_path(name: &str) -> String {
    format!(
        "{}/hardware-profiles/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn list_names_every_shipped_profile() {
    let (code, stdout, _) = bitplan(&["profile", "list"]);
    assert_eq!(code, 0);
    for name in bitplan::hardware::shipped_names() {
        assert!(stdout.contains(name), "{name} missing from:\n{stdout}");
    }
}

#[test]
fn show_by_fragment_prints_the_sourced_text_and_ridge_points() {
    let (code, stdout, _) = bitplan(&["profile", "show", "h100"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("peak-tera-ops-per-s = 989.4"), "{stdout}");
    assert!(stdout.contains("[DS]"), "sources are shown: {stdout}");
    assert!(stdout.contains("ridge points"), "{stdout}");
}

#[test]
fn check_prints_ridge_points() {
    let (code, stdout, _) = bitplan(&["profile", "check", &profile_path("google-tpu-v5e")]);
    assert_eq!(code, 0);
    let ridges = stdout.replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
    insta::assert_snapshot!("check_tpu", ridges);
}

#[test]
fn check_of_a_bad_file_fails_with_the_field() {
    let dir = std::env::temp_dir().join(format!("bitplan-cli-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("arm-cortex-a76.toml");
    let text = std::fs::read_to_string(profile_path("arm-cortex-a76")).unwrap();
    std::fs::write(
        &path,
        text.replace("bandwidth-gb-per-s = 17.07", "bandwidth-gb-per-s = -17.07"),
    )
    .unwrap();
    let (code, _, stderr) = bitplan(&["profile", "check", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(
        "check_negative_bandwidth",
        stderr.replace(dir.to_str().unwrap(), "<tmp>")
    );
}

#[test]
fn show_of_an_unknown_profile_lists_the_shipped_ones() {
    let (code, _, stderr) = bitplan(&["profile", "show", "cray-1"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("show_unknown", stderr);
}

#[test]
fn calibrate_never_overwrites_without_force() {
    let dir = std::env::temp_dir().join(format!("bitplan-cli-calibrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("host-cpu.toml");
    std::fs::write(&out, "keep me").unwrap();
    let (code, _, stderr) = bitplan(&[
        "profile",
        "calibrate",
        "--quick",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    insta::assert_snapshot!(
        "calibrate_exists",
        stderr.replace(dir.to_str().unwrap(), "<tmp>")
    );
}

#[test]
fn calibrate_quick_measures_then_fits_a_valid_profile() {
    let dir = std::env::temp_dir().join(format!("bitplan-cli-quick-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("quick-cpu.toml");
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(dir.join("quick-cpu.measurements.json"));
    let (code, stdout, stderr) = bitplan(&[
        "profile",
        "calibrate",
        "--quick",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("quick-cpu.measurements.json"), "{stdout}");
    bitplan::hardware::load_file(&out).unwrap();
    // Fitting again from the same measurements gives the same file, byte for byte.
    let first = std::fs::read_to_string(&out).unwrap();
    let measurements = dir.join("quick-cpu.measurements.json");
    let (code, _, stderr) = bitplan(&[
        "profile",
        "calibrate",
        "--from",
        measurements.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
}

#[test]
fn calibrate_in_processes_fits_their_median() {
    let dir = std::env::temp_dir().join(format!("bitplan-cli-processes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("quick-cpu.toml");
    let args = [
        "profile",
        "calibrate",
        "--quick",
        "--threads",
        "1",
        "--processes",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = bitplan(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("median of 2 processes"), "{stdout}");
    let read = |name: &str| -> bitplan::hardware::calibrate::Measurements {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let parts = [
        read("quick-cpu.measurements.process-1.json"),
        read("quick-cpu.measurements.process-2.json"),
    ];
    let combined = read("quick-cpu.measurements.json");
    assert_eq!(combined.processes, 2);
    assert_eq!(
        combined,
        bitplan::hardware::calibrate::Measurements::median_of(&parts).unwrap()
    );
    bitplan::hardware::load_file(&out).unwrap();
    // Resuming with both processes finished measures nothing again and fits the same profile.
    let first = std::fs::read_to_string(&out).unwrap();
    let resumed: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--resume", "--force"])
        .collect();
    let (code, stdout, stderr) = bitplan(&resumed);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("measuring into"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
}
