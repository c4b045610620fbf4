//! The Pareto frontier: predicted error (left) and measured accuracy (right) against a predicted
//! cost, one colour per profile; frontier plans joined by a line, uniform baselines as crosses
//! with their names, the recommended plan ringed.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::chart::{colour, fail, Figure, FAMILY};
use super::super::run_dir::RunData;
use super::points::{all_points, range, Point, PointKind};

pub struct Frontier<'a> {
    run: &'a RunData,
    metric: &'static str,
    name: &'static str,
}

impl<'a> Frontier<'a> {
    pub fn new(run: &'a RunData, metric: &'static str, name: &'static str) -> Self {
        Frontier { run, metric, name }
    }

    pub fn name_str(&self) -> &'static str {
        self.name
    }

    pub fn caption(&self) -> String {
        format!(
            "Pareto frontier against predicted {}: left, predicted error (sum of per-layer errors); right, measured top-1 accuracy on the evaluation split. Lines join each chip's frontier plans; crosses are uniform baselines; rings mark the recommended plan.",
            self.metric
        )
    }

    fn y(&self, point: &Point, measured: bool) -> Option<f64> {
        if measured {
            point.plan.measured.as_ref().map(|m| m.value)
        } else {
            Some(point.plan.total("error"))
        }
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        measured: bool,
    ) -> Result<(), String> {
        let points = all_points(self.run);
        let xy: Vec<(usize, PointKind, &str, f64, f64)> = points
            .iter()
            .filter_map(|p| {
                let y = self.y(p, measured)?;
                Some((
                    p.profile,
                    p.kind,
                    p.label.as_str(),
                    p.plan.total(self.metric),
                    y,
                ))
            })
            .collect();
        let log_x = self.metric == "latency_us";
        let (x0, x1) = range(xy.iter().map(|p| p.3), log_x);
        let (y0, y1) = range(xy.iter().map(|p| p.4), false);
        let title = if measured { "measured" } else { "predicted" };
        let y_desc = if measured {
            "top-1 accuracy (%)"
        } else {
            "predicted error"
        };
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(title, (FAMILY, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        if log_x {
            let mut chart = builder
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(fail)?;
            self.mesh_and_series(&mut chart, &xy, y_desc)
        } else {
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(fail)?;
            self.mesh_and_series(&mut chart, &xy, y_desc)
        }
    }

    fn mesh_and_series<'b, DB: DrawingBackend + 'b, X, Y>(
        &self,
        chart: &mut ChartContext<'b, DB, Cartesian2d<X, Y>>,
        xy: &[(usize, PointKind, &str, f64, f64)],
        y_desc: &str,
    ) -> Result<(), String>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_desc(self.metric)
            .y_desc(y_desc)
            .label_style((FAMILY, 12))
            .axis_desc_style((FAMILY, 13))
            .draw()
            .map_err(fail)?;
        for (index, profile) in self.run.fronts.keys().enumerate() {
            let c = colour(index);
            let mut line: Vec<(f64, f64)> = xy
                .iter()
                .filter(|p| p.0 == index && p.1 != PointKind::Baseline)
                .map(|p| (p.3, p.4))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                .map_err(fail)?
                .label(profile.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], c.filled()));
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(fail)?;
            let ours = || xy.iter().filter(move |p| p.0 == index);
            chart
                .draw_series(
                    ours()
                        .filter(|p| p.1 == PointKind::Recommended)
                        .map(|p| Circle::new((p.3, p.4), 8, c.stroke_width(2))),
                )
                .map_err(fail)?;
            chart
                .draw_series(ours().filter(|p| p.1 == PointKind::Baseline).map(|p| {
                    EmptyElement::at((p.3, p.4))
                        + Cross::new((0, 0), 5, c.stroke_width(2))
                        + Text::new(p.2.to_string(), (6, -12), (FAMILY, 10).into_font())
                }))
                .map_err(fail)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 12))
            .draw()
            .map_err(fail)
    }
}

impl Figure for Frontier<'_> {
    fn name(&self) -> &str {
        self.name
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
