//! IDX and raw MNIST readers: round trips, errors that name the file, and the embedded
//! fashion-cnn data matching the Debian package it was cut from.

mod common;

use std::path::Path;

use bitplan::data::idx::{encode_idx, parse_idx, IdxArray};
use bitplan::data::{fixture_path, ImageSet};
use bitplan::model::reference::{fashion_calibration_set, fashion_test_set, mnist_split};
use common::need;

#[test]
fn idx_round_trips_plain_and_gzip() {
    let array = IdxArray {
        dims: vec![2, 3, 4],
        data: (0..24).collect(),
    };
    let plain = encode_idx(&array);
    assert_eq!(parse_idx(&plain, Path::new("x.idx")).expect("plain"), array);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &plain).expect("gzip");
    let gzipped = gz.finish().expect("gzip");
    assert_eq!(
        parse_idx(&gzipped, Path::new("x.idx.gz")).expect("gzip"),
        array
    );
}

#[test]
fn bad_idx_errors_name_the_file_and_the_problem() {
    let array = IdxArray {
        dims: vec![2, 3],
        data: (0..6).collect(),
    };
    let plain = encode_idx(&array);
    let cases: [(&[u8], &str); 4] = [
        (
            &plain[..plain.len() - 1],
            "need 6 data bytes, the file has 5",
        ),
        (&[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0], "data type 0x0d"),
        (b"hello", "magic"),
        (&[0x1f, 0x8b, 1, 2, 3], "gzip stream is corrupt"),
    ];
    for (bytes, needle) in cases {
        let error = parse_idx(bytes, Path::new("bad-file.gz")).expect_err("invalid");
        let message = error.to_string();
        assert!(
            message.contains("bad-file.gz") && message.contains(needle),
            "{message}"
        );
    }
}

#[test]
fn mismatched_image_and_label_counts_are_refused() {
    let images = encode_idx(&IdxArray {
        dims: vec![2, 2, 2],
        data: vec![0; 8],
    });
    let labels = encode_idx(&IdxArray {
        dims: vec![3],
        data: vec![0; 3],
    });
    let error = ImageSet::from_idx_bytes(&images, &labels, "imgs", "labels").expect_err("mismatch");
    assert!(
        error.to_string().contains("2 images but 3 labels"),
        "{error}"
    );
}

#[test]
fn batches_scale_pixels_to_unit_range() {
    let set = fashion_test_set().expect("embedded");
    let batch = set.batch(0, 3, &candle_core::Device::Cpu).expect("batch");
    assert_eq!(batch.pixels.dims(), &[3, 1, 28, 28]);
    let max = batch
        .pixels
        .flatten_all()
        .and_then(|t| t.max(0))
        .and_then(|t| t.to_scalar::<f32>());
    assert!(max.expect("max") <= 1.0);
    assert_eq!(
        set.batch_ranges(4000, None),
        vec![(0, 4000), (4000, 8000), (8000, 10000)]
    );
    assert_eq!(
        set.batch_ranges(4000, Some(5000)),
        vec![(0, 4000), (4000, 5000)]
    );
}

/// The embedded test set is the package's, and the calibration set its first 1000 training images.
#[test]
fn embedded_fashion_data_matches_the_debian_package() {
    let dir = need(fixture_path(
        "fashion-mnist/usr/share/datasets/fashion-mnist",
    ));
    let test = ImageSet::from_idx_files(
        &dir.join("t10k-images-idx3-ubyte.gz"),
        &dir.join("t10k-labels-idx1-ubyte.gz"),
    )
    .expect("package test set");
    let train = ImageSet::from_idx_files(
        &dir.join("train-images-idx3-ubyte.gz"),
        &dir.join("train-labels-idx1-ubyte.gz"),
    )
    .expect("package train set");
    let embedded = fashion_test_set().expect("embedded");
    assert_eq!(
        (embedded.pixels, embedded.labels),
        (test.pixels, test.labels)
    );
    let calibration = fashion_calibration_set().expect("embedded");
    let first = train.take(1000);
    assert_eq!(
        (calibration.pixels, calibration.labels),
        (first.pixels, first.labels)
    );
}

#[test]
fn mnist_raw_splits_have_the_classic_sizes() {
    for (split, len) in [("train", 50_000), ("valid", 10_000), ("test", 10_000)] {
        let set = need(mnist_split(split));
        assert_eq!((set.len(), set.rows, set.cols), (len, 28, 28), "{split}");
        assert!(set.labels.iter().all(|&label| label < 10));
    }
}
