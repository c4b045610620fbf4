//! `bitplan eval` for sequence models: minilm-style encoders (spam probe) and Llama-family
//! decoders (Moby-Dick perplexity). Called from `eval.rs`, which owns the arguments.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use bitplan::data::spam_assassin;
use bitplan::model::bert::{Bert, SentenceMetrics, SpamEvalSettings, SpamTask};
use bitplan::model::llama::{Llama, LmEvalSettings, LmMetrics, LmTask};
use bitplan::model::sequence::SequenceModel;
use bitplan::model::{Assignment, Calibration, Fallback, Graph, PreparedAssignment, RunnableModel};
use bitplan::quant::RangeMethod;

/// What `eval.rs` resolved from its arguments.
pub struct Settings<'a> {
    pub model: &'a str,
    pub limit: Option<usize>,
    pub range_method: RangeMethod,
    pub json: bool,
}

type Resolved = (Assignment, String, Vec<Fallback>);

#[derive(Serialize)]
#[serde(untagged)]
enum Metrics {
    Sentence {
        #[serde(flatten)]
        metrics: SentenceMetrics,
        fp32_probe_accuracy_percent: f64,
        settings: SpamEvalSettings,
    },
    Language {
        #[serde(flatten)]
        metrics: LmMetrics,
        settings: LmEvalSettings,
    },
}

#[derive(Serialize)]
struct Report {
    model: String,
    weights: String,
    assignment: String,
    range_method: Option<String>,
    fallbacks: Vec<Fallback>,
    metrics: Metrics,
}

pub fn run(
    settings: &Settings,
    resolve: &dyn Fn(&Graph) -> anyhow::Result<Resolved>,
) -> anyhow::Result<()> {
    let model = SequenceModel::load(settings.model)?;
    let (assignment, label, fallbacks) = resolve(model.runnable().graph())?;
    let (metrics, range_method) = match &model {
        SequenceModel::Encoder(bert) => eval_encoder(bert, &assignment, settings)?,
        SequenceModel::Decoder(llama) => eval_decoder(llama, &assignment, settings)?,
    };
    let report = Report {
        model: model.runnable().graph().model.clone(),
        weights: model.source().display().to_string(),
        assignment: label,
        range_method,
        fallbacks,
        metrics,
    };
    print_report(&report, settings.json)
}

fn progress(what: &str) -> anyhow::Result<ProgressBar> {
    let template = format!("{{bar:40}} {{pos}}/{{len}} {what}, {{elapsed}} (eta {{eta}})");
    let style = ProgressStyle::with_template(&template).context("progress bar template")?;
    Ok(ProgressBar::new(0).with_style(style))
}

fn tick(bar: &ProgressBar) -> impl FnMut(usize, usize) + '_ {
    |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }
}

fn is_fp32(assignment: &Assignment) -> bool {
    assignment
        .layers
        .values()
        .all(|f| f.weight.is_identity() && f.activation.is_identity())
}

/// Calibrates when the assignment needs static ranges, then prepares it once.
fn prepare(
    model: &dyn RunnableModel,
    assignment: &Assignment,
    batches: &dyn Fn() -> anyhow::Result<Vec<candle_core::Tensor>>,
    method: RangeMethod,
) -> anyhow::Result<(PreparedAssignment, Option<String>)> {
    let calibration = match assignment.needs_calibration() {
        true => Some(Calibration::run(model, &batches()?, method)?),
        false => None,
    };
    let prepared = PreparedAssignment::new(model, assignment, calibration.as_ref())
        .context("preparing the assignment")?;
    Ok((prepared, calibration.map(|c| c.method.to_string())))
}

fn eval_encoder(
    bert: &Bert,
    assignment: &Assignment,
    settings: &Settings,
) -> anyhow::Result<(Metrics, Option<String>)> {
    let mut spam = SpamEvalSettings::default();
    if let Some(limit) = settings.limit {
        spam.test = limit.min(spam.test);
    }
    let files = spam_assassin::list_fixture()?;
    let bar = progress("messages embedded in fp32 (probe train + test)")?;
    let task = SpamTask::prepare(bert, &files, spam, &mut tick(&bar))?;
    bar.finish_and_clear();
    let fp32 = task.reference_metrics()?;
    let batches = || -> anyhow::Result<Vec<candle_core::Tensor>> {
        let batches = task.calibration_batches(bert)?;
        Ok(batches.iter().map(|b| b.pack()).collect::<Result<_, _>>()?)
    };
    let (metrics, range_method) = if is_fp32(assignment) {
        (fp32, None)
    } else {
        let (prepared, range_method) = prepare(bert, assignment, &batches, settings.range_method)?;
        let bar = progress("test messages")?;
        let metrics = task.evaluate(bert, &prepared, &mut tick(&bar))?;
        bar.finish_and_clear();
        (metrics, range_method)
    };
    let metrics = Metrics::Sentence {
        metrics,
        fp32_probe_accuracy_percent: fp32.probe_accuracy_percent,
        settings: spam,
    };
    Ok((metrics, range_method))
}

fn eval_decoder(
    llama: &Llama,
    assignment: &Assignment,
    settings: &Settings,
) -> anyhow::Result<(Metrics, Option<String>)> {
    let mut lm = LmEvalSettings::default();
    if let Some(limit) = settings.limit {
        lm.eval_windows = limit.min(lm.eval_windows);
    }
    let task = LmTask::prepare(llama, lm)?;
    let batches =
        || -> anyhow::Result<Vec<candle_core::Tensor>> { Ok(task.calibration_batches()?) };
    let (prepared, range_method) = match is_fp32(assignment) {
        true => (None, None),
        false => {
            let (prepared, method) = prepare(llama, assignment, &batches, settings.range_method)?;
            (Some(prepared), method)
        }
    };
    let bar = progress("windows")?;
    let metrics = task.evaluate(llama, prepared.as_ref(), &mut tick(&bar))?;
    bar.finish_and_clear();
    Ok((
        Metrics::Language {
            metrics,
            settings: lm,
        },
        range_method,
    ))
}

fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        let text = serde_json::to_string_pretty(report).context("serializing the result")?;
        return super::stdout::print(&format!("{text}\n"));
    }
    let mut text = String::new();
    for fallback in &report.fallbacks {
        text += &format!(
            "note: layer {} uses {} instead of {} ({})\n",
            fallback.layer, fallback.used, fallback.preferred, fallback.reason
        );
    }
    let range = report
        .range_method
        .as_ref()
        .map_or(String::new(), |method| {
            format!(", activation ranges {method}")
        });
    text += &format!(
        "{} ({}), {}{range}:\n",
        report.model, report.weights, report.assignment
    );
    text += &match &report.metrics {
        Metrics::Sentence { metrics: m, fp32_probe_accuracy_percent, .. } => format!(
            "  spam probe accuracy {:.2}% (fp32 {:.2}%) on {} SpamAssassin test messages\n  \
             mean cosine to fp32 embeddings {:.5}, nearest-neighbour agreement {:.2}%\n",
            m.probe_accuracy_percent,
            fp32_probe_accuracy_percent,
            m.messages,
            m.mean_cosine_to_fp32,
            100.0 * m.nearest_neighbour_agreement
        ),
        Metrics::Language { metrics: m, settings } => format!(
            "  perplexity {:.3} (fp32 {:.3}) on {} Moby-Dick windows of {} tokens ({} predicted)\n  \
             mean KL to fp32 {:.5} nats/token, top-1 agreement {:.2}%\n",
            m.perplexity,
            m.reference_perplexity,
            m.windows,
            settings.window,
            m.predicted_tokens,
            m.mean_kl_to_reference,
            100.0 * m.top1_agreement
        ),
    };
    super::stdout::print(&text)
}
