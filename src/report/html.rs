//! The self-contained report page: inline CSS and inline SVG figures, no external assets, so it
//! opens from disk in any browser. Sections: summary, figures, plan tables, provenance.

use std::fmt::Write;

use super::figures::Rendered;
use super::run_dir::RunData;
use super::summary::{chip_summaries, ACCURACY_TOLERANCE_PP};
use crate::search::{Front, Plan};
use crate::validate::spearman;

/// Section ids, in page order (tests check each is present).
pub const SECTIONS: [&str; 5] = ["summary", "figures", "plans", "trust", "provenance"];

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1240px;color:#222}\
h1{font-size:26px}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:36px}\
table{border-collapse:collapse;margin:10px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}\
th{background:#f2f2f2}td.l,th.l{text-align:left}tr.rec{background:#fff6d5}tr.flag td{color:#b00}\
figure{margin:18px 0}figcaption{font-size:13px;color:#444;max-width:1100px}svg{max-width:100%;height:auto}\
.note{font-size:13px;color:#555}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page.
pub fn page(run: &RunData, figures: &[Rendered]) -> String {
    let model = run
        .manifest
        .as_ref()
        .map_or("the model".to_string(), |m| m.model.clone());
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bitplan report: {}</title><style>{STYLE}</style></head><body>\n<h1>bitplan report: {}</h1>\n",
        escape(&model),
        escape(&model)
    );
    html += &summary(run);
    html += &figures_section(figures);
    html += &plans(run);
    html += &trust(run);
    html += &provenance(run);
    html += "</body></html>\n";
    html
}

fn summary(run: &RunData) -> String {
    let mut out = format!(
        "<section id=\"summary\"><h2>What each chip gains from mixed precision</h2><p class=\"note\">At one accuracy target (measured top-1 within {ACCURACY_TOLERANCE_PP} point of fp32 on the evaluation split), the fastest validated mixed plan against the fastest uniform format, by predicted latency on each chip.</p>\n<table><tr><th class=\"l\">chip</th><th>fp32 %</th><th class=\"l\">best uniform</th><th>latency us</th><th>acc %</th><th>mixed latency us</th><th>mixed KiB</th><th>mixed acc %</th><th>speed-up</th><th>accuracy cost pp</th></tr>\n"
    );
    for chip in chip_summaries(run) {
        let (u, m) = (chip.uniform.as_ref(), chip.mixed.as_ref());
        let num = |v: Option<f64>, digits: usize| {
            v.map_or("–".to_string(), |v| format!("{v:.digits$}"))
        };
        let cost = u
            .zip(m)
            .map(|(u, m)| u.accuracy_percent - m.accuracy_percent);
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{:.2}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&chip.profile),
            chip.fp32_accuracy_percent,
            escape(&u.map_or("none".to_string(), |u| u.label.clone())),
            num(u.map(|u| u.latency_us), 4),
            num(u.map(|u| u.accuracy_percent), 2),
            num(m.map(|m| m.latency_us), 4),
            num(m.map(|m| m.weight_bytes / 1024.0), 1),
            num(m.map(|m| m.accuracy_percent), 2),
            num(chip.speedup(), 2),
            num(cost, 2),
        );
    }
    out + "</table></section>\n"
}

fn figures_section(figures: &[Rendered]) -> String {
    let mut out = "<section id=\"figures\"><h2>Figures</h2>\n".to_string();
    for figure in figures {
        let svg = figure.svg.trim_start_matches(|c| c != '<');
        let _ = writeln!(
            out,
            "<figure id=\"fig-{}\">{svg}<figcaption>{} (files: figures/{}.svg, figures/{}.png)</figcaption></figure>",
            figure.name,
            escape(&figure.caption),
            figure.name,
            figure.name
        );
    }
    out + "</section>\n"
}

fn plan_row(label: &str, plan: &Plan, class: &str) -> String {
    let measured = plan.measured.as_ref();
    let cell =
        |v: Option<f64>, digits: usize| v.map_or("–".to_string(), |v| format!("{v:.digits$}"));
    format!(
        "<tr class=\"{class}\"><td class=\"l\">{}</td><td>{:.3e}</td><td>{:.4}</td><td>{:.0}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>\n",
        escape(label),
        plan.total("error"),
        plan.total("latency_us"),
        plan.total("weight_bytes"),
        cell(measured.map(|m| m.value), 2),
        cell(measured.and_then(|m| m.latency_us), 1),
        escape(&measured.and_then(|m| m.dominated_by.clone()).map_or(String::new(), |b| format!("dominated by uniform {b}"))),
    )
}

fn front_table(profile: &str, front: &Front) -> String {
    let mut out = format!(
        "<h3>{}</h3><p class=\"note\">solver {}, {} frontier plans, hypervolume {:.3}</p><table><tr><th class=\"l\">plan</th><th>pred. error</th><th>pred. latency us</th><th>weight bytes</th><th>measured acc %</th><th>host us/img</th><th class=\"l\">flag</th></tr>\n",
        escape(profile),
        escape(&front.solver),
        front.plans.len(),
        front.hypervolume
    );
    for (index, entry) in front.plans.iter().enumerate() {
        let recommended = front.recommended == Some(index);
        let class = if recommended {
            "rec"
        } else if entry
            .plan
            .measured
            .as_ref()
            .is_some_and(|m| m.dominated_by.is_some())
        {
            "flag"
        } else {
            ""
        };
        let label = format!(
            "#{index}{}",
            if recommended { " (recommended)" } else { "" }
        );
        out += &plan_row(&label, &entry.plan, class);
    }
    for baseline in &front.baselines {
        out += &plan_row(
            &format!("uniform {}", baseline.candidate),
            &baseline.plan,
            "",
        );
    }
    out + "</table>\n"
}

fn plans(run: &RunData) -> String {
    let mut out =
        "<section id=\"plans\"><h2>Frontier plans and uniform baselines</h2>\n".to_string();
    for (profile, front) in &run.fronts {
        out += &front_table(profile, front);
    }
    out + "</section>\n"
}

/// Rank correlations per chip: predicted error vs measured accuracy drop.
fn trust(run: &RunData) -> String {
    let mut out = "<section id=\"trust\"><h2>How much to trust the predictions</h2><table><tr><th class=\"l\">chip</th><th>measured plans</th><th>Spearman: predicted error vs measured accuracy drop</th><th>Spearman: predicted vs host latency</th></tr>\n".to_string();
    for (profile, front) in &run.fronts {
        let plans: Vec<&Plan> = front
            .plans
            .iter()
            .map(|p| &p.plan)
            .chain(front.baselines.iter().map(|b| &b.plan))
            .filter(|p| p.measured.is_some())
            .collect();
        let column = |f: &dyn Fn(&Plan) -> Option<(f64, f64)>| {
            let (xs, ys): (Vec<f64>, Vec<f64>) = plans.iter().filter_map(|p| f(p)).unzip();
            spearman(&xs, &ys).map_or("n/a".to_string(), |r| format!("{r:.2}"))
        };
        let error = column(&|p| {
            p.measured
                .as_ref()
                .map(|m| (p.total("error"), m.reference_value - m.value))
        });
        let latency = column(&|p| {
            p.measured
                .as_ref()
                .and_then(|m| Some((p.total("latency_us"), m.latency_us?)))
        });
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{error}</td><td>{latency}</td></tr>",
            escape(profile),
            plans.len()
        );
    }
    out + "</table><p class=\"note\">1.0 means the predictions order plans exactly as measurement does. Host latency comes from the fake-quant executor, which computes in f32 whatever the format: it cannot confirm a chip's latency, only flag gross disagreements.</p></section>\n"
}

fn provenance(run: &RunData) -> String {
    let mut out = "<section id=\"provenance\"><h2>Inputs and provenance</h2><table>\n".to_string();
    if let Some(manifest) = &run.manifest {
        let _ = writeln!(
            out,
            "<tr><th class=\"l\">model</th><td class=\"l\">{}</td></tr>",
            escape(&manifest.model)
        );
        for (key, value) in &manifest.inputs {
            let _ = writeln!(
                out,
                "<tr><th class=\"l\">{}</th><td class=\"l\">{}</td></tr>",
                escape(key),
                escape(value)
            );
        }
        let _ = writeln!(
            out,
            "<tr><th class=\"l\">command</th><td class=\"l\"><code>{}</code></td></tr>",
            escape(&manifest.command)
        );
    }
    for (profile, front) in &run.fronts {
        let _ = writeln!(
            out,
            "<tr><th class=\"l\">front {}</th><td class=\"l\">{}</td></tr>",
            escape(profile),
            escape(&front_provenance(front))
        );
    }
    out += "</table>\n";
    if let Some(manifest) = &run.manifest {
        out += "<ul class=\"note\">";
        for note in &manifest.notes {
            let _ = write!(out, "<li>{}</li>", escape(note));
        }
        out += "</ul>\n";
    }
    out + "</section>\n"
}

/// One front's provenance in one line: the problem and, for a problem joined from tables, the
/// hashes that identify its inputs.
fn front_provenance(front: &crate::search::Front) -> String {
    let p = &front.provenance;
    let seed = front.seed.map_or("none".to_string(), |s| s.to_string());
    let mut text = format!(
        "bitplan {}, solver {}, seed {seed}, problem {} (sha256 {})",
        p.bitplan_version, front.solver, p.problem, p.problem_sha256
    );
    if let Some(t) = &p.tables {
        let profile_hash = t.profile_sha256.as_deref().unwrap_or("not recorded");
        let _ = write!(
            text,
            "; model {} (sha256 {}), calibration {} samples (sha256 {}), profile {} (sha256 {profile_hash}; cost table sha256 {}), space {} (sha256 {}), error column {:?}",
            t.model, t.model_hash, t.calib_samples, t.calib_hash, t.profile, t.cost_table_sha256, t.space, t.space_hash, t.error_column
        );
    }
    text
}
