//! Calibration of the `host-cpu` profile: `measure` times candle's CPU kernels on this machine
//! and returns raw samples; `fit` turns samples into profile parameters (pure, seeded data, no
//! clock); `render` writes the profile TOML with a source comment beside every number.

pub mod fit;
pub mod layout;
pub mod measure;
pub mod measurements;
pub mod render;

pub use fit::{fit, Fitted};
pub use measure::{measure, MeasureSettings};
pub use measurements::{Kernel, Measurements};
pub use render::render;
