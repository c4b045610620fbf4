//! Numeric formats, reference fake-quantizers, range calibration and error metrics.
