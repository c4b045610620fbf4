//! Rendering one figure to SVG (kept as text for the HTML page and written to disk) and PNG.
//! PNG text is drawn by ab_glyph from the vendored DejaVu Sans (licence beside it in `fonts/`),
//! registered once as the `sans-serif` family.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::error::ReportError;

/// DejaVu Sans (Bitstream Vera licence, see fonts/DejaVuSans-LICENSE.txt).
const FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
pub const FAMILY: &str = "sans-serif";

/// One colour per hardware profile, in profile order (Tableau 10, colour-blind friendly).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

pub fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

static REGISTER: Once = Once::new();

fn register() -> Result<(), ReportError> {
    let mut result = Ok(());
    REGISTER.call_once(|| {
        result = register_font(FAMILY, FontStyle::Normal, FONT).map_err(|_| ReportError::Figure {
            name: "font".into(),
            message: "the vendored DejaVu Sans did not load".into(),
        });
    });
    result
}

/// Converts a plotters error into text.
pub fn fail<E: std::fmt::Debug>(error: E) -> String {
    format!("{error:?}")
}

/// A figure: a name (file stem), a pixel size and a drawing on any backend.
pub trait Figure {
    fn name(&self) -> &str;
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Writes `DIR/NAME.svg` and `DIR/NAME.png`; returns the SVG text.
pub fn render<F: Figure>(figure: &F, dir: &Path) -> Result<String, ReportError> {
    register()?;
    let bad = |message: String| ReportError::Figure {
        name: figure.name().to_string(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| bad(fail(e)))?;
        figure.draw(&root).map_err(bad)?;
        root.present().map_err(|e| bad(fail(e)))?;
    }
    let svg_path = dir.join(format!("{}.svg", figure.name()));
    std::fs::write(&svg_path, &svg).map_err(ReportError::io(&svg_path))?;
    let png_path = dir.join(format!("{}.png", figure.name()));
    {
        let root = BitMapBackend::new(&png_path, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| bad(fail(e)))?;
        figure.draw(&root).map_err(bad)?;
        root.present().map_err(|e| bad(fail(e)))?;
    }
    Ok(svg)
}
