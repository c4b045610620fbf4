//! The report in a real browser: headless Chromium opens a fixture run's index.html from disk,
//! its screenshot must have the window's size and not be blank, the DOM it parsed must hold every
//! figure as SVG, and Chromium must log no console message or failed load (the page has no
//! script and no external asset, so any such message is a defect).
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`; path overridable with
//! BITPLAN_CHROMIUM). Set BITPLAN_SKIP_BROWSER=1 to skip on a machine without it.

mod report_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bitplan::report::write_report;

const WINDOW: (u32, u32) = (1280, 2400);
/// Figures the fixture run must show.
const FIGURES: usize = 5;

fn chromium() -> Option<PathBuf> {
    if std::env::var_os("BITPLAN_SKIP_BROWSER").is_some() {
        return None;
    }
    let path = std::env::var_os("BITPLAN_CHROMIUM")
        .map_or(PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(path.exists(), "{} not found: install it (apt-get install -y chromium), point BITPLAN_CHROMIUM at it, or set BITPLAN_SKIP_BROWSER=1", path.display());
    Some(path)
}

fn run_chromium(binary: &Path, profile: &Path, extra: &[String], page: &Path) -> Output {
    let mut command = Command::new(binary);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
        .args(extra)
        .arg(format!("file://{}", page.display()));
    let output = command.output().expect("chromium starts");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Console messages and failed loads in Chromium's log.
fn problems(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|line| {
            line.contains(":CONSOLE")
                || line.contains("Failed to load")
                || line.contains("Uncaught")
        })
        .map(str::to_string)
        .collect()
}

/// (width, height, share of non-white pixels, distinct colours seen).
fn inspect_png(path: &Path) -> (u32, u32, f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let channels = frame.color_type.samples();
    let pixels = &buffer[..frame.buffer_size()];
    let mut colours = std::collections::BTreeSet::new();
    let mut ink = 0usize;
    for pixel in pixels.chunks(channels) {
        if pixel[..3].iter().any(|&c| c < 240) {
            ink += 1;
        }
        if colours.len() < 1000 {
            colours.insert(pixel[..3].to_vec());
        }
    }
    let total = (frame.width * frame.height) as f64;
    (frame.width, frame.height, ink as f64 / total, colours.len())
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(binary) = chromium() else {
        eprintln!("BITPLAN_SKIP_BROWSER set: browser check skipped");
        return;
    };
    let dir = report_common::scratch("report_browser", "run");
    report_common::fixture_run(&dir);
    let page = write_report(&dir).unwrap();
    let shot = dir.join("screenshot.png");
    let profile = dir.join("chromium-profile");
    let screenshot = [
        format!("--screenshot={}", shot.display()),
        format!("--window-size={},{}", WINDOW.0, WINDOW.1),
    ];
    let output = run_chromium(&binary, &profile, &screenshot, &page);
    assert_eq!(
        problems(&output.stderr),
        Vec::<String>::new(),
        "console errors"
    );
    let (width, height, ink, colours) = inspect_png(&shot);
    assert_eq!((width, height), WINDOW, "screenshot size");
    assert!(
        ink > 0.05,
        "screenshot nearly blank: {:.1}% non-white pixels",
        100.0 * ink
    );
    assert!(colours > 20, "screenshot has only {colours} colours");
    let output = run_chromium(&binary, &profile, &["--dump-dom".to_string()], &page);
    assert_eq!(
        problems(&output.stderr),
        Vec::<String>::new(),
        "console errors"
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.matches("<svg").count() >= FIGURES,
        "the parsed page holds fewer than {FIGURES} SVG figures"
    );
    assert!(
        dom.contains("id=\"provenance\""),
        "the parsed page lost its sections"
    );
}
