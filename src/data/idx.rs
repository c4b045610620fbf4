//! The IDX format of MNIST and Fashion-MNIST (LeCun et al.): magic `00 00 08 NDIMS` (unsigned byte
//! data), NDIMS big-endian u32 sizes, then the bytes. Files may be gzip-compressed (`1f 8b`).

use std::io::Read;
use std::path::Path;

use super::DataError;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file, gunzipping it when it starts with the gzip magic.
pub fn read_idx_file(path: &Path) -> Result<IdxArray, DataError> {
    let bytes = std::fs::read(path).map_err(|cause| DataError::Io {
        path: path.to_owned(),
        cause,
    })?;
    parse_idx(&bytes, path)
}

/// Parses IDX bytes (plain or gzip); `path` only names the source in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let bad = |reason: String| DataError::BadIdx {
        path: path.to_owned(),
        reason,
    };
    let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|error| bad(format!("gzip stream is corrupt ({error})")))?;
        out
    } else {
        bytes.to_vec()
    };
    parse_plain(plain, &bad)
}

fn parse_plain(bytes: Vec<u8>, bad: &dyn Fn(String) -> DataError) -> Result<IdxArray, DataError> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("missing the magic 00 00 08 NDIMS".into()));
    }
    if bytes[2] != 0x08 {
        let code = bytes[2];
        return Err(bad(format!(
            "data type 0x{code:02x}; only 0x08 (unsigned byte) is supported"
        )));
    }
    let ndims = usize::from(bytes[3]);
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(bad(format!("header of {ndims} dimensions is truncated")));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims.iter().product::<usize>();
    let found = bytes.len() - header;
    if found != expected {
        return Err(bad(format!(
            "dimensions {dims:?} need {expected} data bytes, the file has {found}"
        )));
    }
    let mut data = bytes;
    data.drain(..header);
    Ok(IdxArray { dims, data })
}

/// Encodes an IDX array of unsigned bytes (plain, not compressed).
pub fn encode_idx(array: &IdxArray) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, array.dims.len() as u8];
    for dim in &array.dims {
        out.extend_from_slice(&(*dim as u32).to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    out
}
