//! Predicted against measured: predicted error against the measured accuracy drop from fp32
//! (left) and predicted latency on each chip against the executor's measured host latency
//! (right), with Spearman's rank correlation per chip in the legend.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::chart::{colour, fail, Figure, FAMILY};
use super::super::run_dir::RunData;
use super::points::{measured_plans, range};
use crate::validate::spearman;

pub struct PredictedMeasured<'a> {
    pub run: &'a RunData,
}

type Pair = (usize, f64, f64);

impl PredictedMeasured<'_> {
    pub fn caption(&self) -> String {
        "Predicted vs measured for every validated plan and baseline. Left: predicted error against measured top-1 accuracy drop from fp32 (percentage points). Right: predicted latency on each chip against the fake-quant executor's latency on this CPU (only the ranks are comparable). Legends give Spearman's rank correlation per chip.".to_string()
    }

    fn pairs(&self, latency: bool) -> Vec<Pair> {
        measured_plans(self.run)
            .into_iter()
            .filter_map(|p| {
                let m = p.plan.measured.as_ref()?;
                if latency {
                    Some((p.profile, p.plan.total("latency_us"), m.latency_us?))
                } else {
                    Some((
                        p.profile,
                        p.plan.total("error"),
                        m.reference_value - m.value,
                    ))
                }
            })
            .collect()
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        latency: bool,
    ) -> Result<(), String> {
        let pairs = self.pairs(latency);
        let (x0, x1) = range(pairs.iter().map(|p| p.1), latency);
        let (y0, y1) = range(pairs.iter().map(|p| p.2), false);
        let (title, x_desc, y_desc) = if latency {
            (
                "latency",
                "predicted latency_us (chip)",
                "measured us/image (host)",
            )
        } else {
            ("error", "predicted error", "measured accuracy drop (pp)")
        };
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(title, (FAMILY, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        if latency {
            let mut chart = builder
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(fail)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .label_style((FAMILY, 12))
                .draw()
                .map_err(fail)?;
            self.series(&mut chart, &pairs)
        } else {
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(fail)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .label_style((FAMILY, 12))
                .draw()
                .map_err(fail)?;
            self.series(&mut chart, &pairs)
        }
    }

    fn series<'a, DB: DrawingBackend + 'a, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
        pairs: &[Pair],
    ) -> Result<(), String>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        for (index, profile) in self.run.fronts.keys().enumerate() {
            let ours: Vec<(f64, f64)> = pairs
                .iter()
                .filter(|p| p.0 == index)
                .map(|p| (p.1, p.2))
                .collect();
            let xs: Vec<f64> = ours.iter().map(|p| p.0).collect();
            let ys: Vec<f64> = ours.iter().map(|p| p.1).collect();
            let rho = spearman(&xs, &ys).map_or("n/a".to_string(), |r| format!("{r:.2}"));
            let c = colour(index);
            chart
                .draw_series(ours.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(fail)?
                .label(format!("{profile} (rho {rho}, n={})", ours.len()))
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 12))
            .draw()
            .map_err(fail)
    }
}

impl Figure for PredictedMeasured<'_> {
    fn name(&self) -> &str {
        "predicted-vs-measured"
    }

    fn size(&self) -> (u32, u32) {
        (1200, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let panels = root.split_evenly((1, 2));
        self.panel(&panels[0], false)?;
        self.panel(&panels[1], true)
    }
}
