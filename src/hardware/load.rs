//! Finding, parsing and validating profiles. The shipped profiles are compiled into the binary so
//! `bitplan profile show nvidia-h100-sxm` works from any directory; a NAME may also be a path.

use std::path::Path;

use super::error::HardwareError;
use super::profile::Profile;
use super::validate::validate;

/// The profiles shipped in `hardware-profiles/`, embedded at build time: (name, TOML text).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "nvidia-h100-sxm",
        include_str!("../../hardware-profiles/nvidia-h100-sxm.toml"),
    ),
    (
        "google-tpu-v5e",
        include_str!("../../hardware-profiles/google-tpu-v5e.toml"),
    ),
    (
        "qualcomm-hexagon-v75",
        include_str!("../../hardware-profiles/qualcomm-hexagon-v75.toml"),
    ),
    (
        "arm-ethos-u55-256",
        include_str!("../../hardware-profiles/arm-ethos-u55-256.toml"),
    ),
    (
        "arm-cortex-a76",
        include_str!("../../hardware-profiles/arm-cortex-a76.toml"),
    ),
    // HOST-CPU-PENDING
];

/// A validated profile with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    pub profile: Profile,
    /// The file path, or `built-in NAME` for an embedded profile.
    pub origin: String,
    /// The TOML text as written (with its source comments).
    pub text: String,
}

/// Parses and validates TOML text; `origin` names it in errors. When `stem` is given (a file),
/// the profile's `name` must equal it.
pub fn parse(text: &str, origin: &str, stem: Option<&str>) -> Result<Profile, HardwareError> {
    let profile: Profile = toml::from_str(text).map_err(|error| HardwareError::Parse {
        file: origin.to_string(),
        message: error.to_string(),
    })?;
    validate(&profile, origin)?;
    if let Some(stem) = stem {
        if profile.name != stem {
            return Err(HardwareError::Invalid {
                file: origin.to_string(),
                problems: vec![super::error::FieldProblem {
                    field: "name".to_string(),
                    value: format!("{:?}", profile.name),
                    expected: format!("the file stem {stem:?}"),
                }],
            });
        }
    }
    Ok(profile)
}

/// Reads and validates a profile file.
pub fn load_file(path: &Path) -> Result<LoadedProfile, HardwareError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| HardwareError::Read {
        file: origin.clone(),
        source,
    })?;
    let stem = path.file_stem().and_then(|stem| stem.to_str());
    let profile = parse(&text, &origin, stem)?;
    Ok(LoadedProfile {
        profile,
        origin,
        text,
    })
}

/// A shipped profile by exact name, or by a fragment that matches exactly one shipped name
/// (`h100`), or a path to a profile file.
pub fn load(name_or_path: &str) -> Result<LoadedProfile, HardwareError> {
    let path = Path::new(name_or_path);
    if path.is_file() {
        return load_file(path);
    }
    let name = shipped_name(name_or_path)?;
    let text = SHIPPED
        .iter()
        .find(|(shipped, _)| *shipped == name)
        .map(|(_, text)| *text)
        .unwrap_or_default();
    let origin = format!("built-in {name}");
    let profile = parse(text, &origin, Some(name))?;
    Ok(LoadedProfile {
        profile,
        origin,
        text: text.to_string(),
    })
}

/// Resolves a name or fragment to one shipped profile name.
fn shipped_name(query: &str) -> Result<&'static str, HardwareError> {
    if let Some((name, _)) = SHIPPED.iter().find(|(name, _)| *name == query) {
        return Ok(name);
    }
    let matches: Vec<&'static str> = SHIPPED
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !query.is_empty() && name.contains(query))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(HardwareError::UnknownProfile {
            name: query.to_string(),
            known: shipped_names().join(", "),
        }),
        many => Err(HardwareError::AmbiguousProfile {
            name: query.to_string(),
            matches: many.join(", "),
        }),
    }
}

/// Names of the shipped profiles, in table order.
pub fn shipped_names() -> Vec<&'static str> {
    SHIPPED.iter().map(|(name, _)| *name).collect()
}
