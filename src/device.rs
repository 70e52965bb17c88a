//! Choosing a Burn backend at run time: the `--device` flag of every example.
//!
//! Library crates never pick a backend; programs do, here. A [`DeviceSpec`] is parsed from a
//! string (`flex`, `tch`, `tch-cuda:0`, `wgpu`, `cuda:0`) and turned into a [`Device`] only if
//! that backend was compiled in, otherwise the error lists the backends that were.
//!
//! ```
//! use selfsup::device::DeviceSpec;
//! let spec: DeviceSpec = "flex".parse().unwrap();
//! # #[cfg(feature = "flex")]
//! let device = spec.device().unwrap();
//! assert!("tpu".parse::<DeviceSpec>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A backend (and device index) named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// Burn's pure-Rust CPU backend (`flex`, the default feature).
    Flex,
    /// LibTorch on the CPU (`tch` feature).
    Tch,
    /// LibTorch on CUDA device `n` (`tch` feature; `tch-cuda:N`).
    TchCuda(usize),
    /// wgpu on the best adapter found (`wgpu` feature; lavapipe on a machine without a GPU).
    Wgpu,
    /// CubeCL CUDA device `n` (`cuda` feature; `cuda:N`).
    Cuda(usize),
}

/// Why a `--device` value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The string names no backend.
    #[error(
        "unknown device `{given}`: expected one of flex, tch, tch-cuda:N, wgpu, cuda:N \
         (compiled in: {})",
        compiled_backends().join(", ")
    )]
    Unknown {
        /// What was given.
        given: String,
    },
    /// The backend exists but this binary was built without it.
    #[error(
        "backend `{spec}` was not compiled into this binary (compiled in: {}); \
         rebuild with `--features {feature}`",
        compiled_backends().join(", ")
    )]
    NotCompiled {
        /// The backend asked for.
        spec: DeviceSpec,
        /// The Cargo feature of the `selfsup` crate that provides it.
        feature: &'static str,
    },
}

/// The backends compiled into this build, by the names [`DeviceSpec`] parses.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    if cfg!(feature = "tch") {
        names.push("tch");
        names.push("tch-cuda:N");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda:N");
    }
    names
}

impl DeviceSpec {
    /// The Cargo feature of `selfsup` that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            DeviceSpec::Flex => "flex",
            DeviceSpec::Tch | DeviceSpec::TchCuda(_) => "tch",
            DeviceSpec::Wgpu => "wgpu",
            DeviceSpec::Cuda(_) => "cuda",
        }
    }

    /// Whether this backend was compiled in.
    pub fn is_compiled(self) -> bool {
        match self {
            DeviceSpec::Flex => cfg!(feature = "flex"),
            DeviceSpec::Tch | DeviceSpec::TchCuda(_) => cfg!(feature = "tch"),
            DeviceSpec::Wgpu => cfg!(feature = "wgpu"),
            DeviceSpec::Cuda(_) => cfg!(feature = "cuda"),
        }
    }

    /// The Burn device (without autodiff; call `.autodiff()` on it to train).
    pub fn device(self) -> Result<Device, DeviceError> {
        if !self.is_compiled() {
            return Err(DeviceError::NotCompiled {
                spec: self,
                feature: self.feature(),
            });
        }
        Ok(self.device_unchecked())
    }

    // burn-tch is deprecated upstream in Burn 0.22 but it is the libtorch backend we support.
    #[allow(deprecated, unreachable_code, unused_variables)]
    fn device_unchecked(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            DeviceSpec::Flex => Device::flex(),
            #[cfg(feature = "tch")]
            DeviceSpec::Tch => Device::libtorch(),
            #[cfg(feature = "tch")]
            DeviceSpec::TchCuda(index) => Device::libtorch_cuda(index),
            #[cfg(feature = "wgpu")]
            DeviceSpec::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(index) => Device::cuda(index),
            #[allow(unreachable_patterns)]
            other => unreachable!("{other} is checked to be compiled in before this"),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Flex => f.write_str("flex"),
            DeviceSpec::Tch => f.write_str("tch"),
            DeviceSpec::TchCuda(i) => write!(f, "tch-cuda:{i}"),
            DeviceSpec::Wgpu => f.write_str("wgpu"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || DeviceError::Unknown {
            given: s.to_string(),
        };
        let lower = s.trim().to_ascii_lowercase();
        let (name, index) = match lower.split_once(':') {
            Some((name, index)) => (name, Some(index.parse::<usize>().map_err(|_| unknown())?)),
            None => (lower.as_str(), None),
        };
        match (name, index) {
            ("flex", None) => Ok(DeviceSpec::Flex),
            ("tch", None) | ("tch-cpu", None) => Ok(DeviceSpec::Tch),
            ("tch-cuda", i) => Ok(DeviceSpec::TchCuda(i.unwrap_or(0))),
            ("wgpu", None) => Ok(DeviceSpec::Wgpu),
            ("cuda", i) => Ok(DeviceSpec::Cuda(i.unwrap_or(0))),
            _ => Err(unknown()),
        }
    }
}

/// Parses a `--device` value and checks that its backend was compiled in; for use as a clap
/// `value_parser`, so that a bad flag fails before any work starts.
pub fn parse_device(s: &str) -> Result<DeviceSpec, DeviceError> {
    let spec: DeviceSpec = s.parse()?;
    spec.device().map(|_| spec)
}

/// The first compiled backend in the order flex, tch, wgpu, cuda: the default `--device`.
pub fn default_device_spec() -> DeviceSpec {
    [
        DeviceSpec::Flex,
        DeviceSpec::Tch,
        DeviceSpec::Wgpu,
        DeviceSpec::Cuda(0),
    ]
    .into_iter()
    .find(|spec| spec.is_compiled())
    .unwrap_or(DeviceSpec::Flex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        assert_eq!("flex".parse(), Ok(DeviceSpec::Flex));
        assert_eq!("TCH".parse(), Ok(DeviceSpec::Tch));
        assert_eq!("tch-cuda:1".parse(), Ok(DeviceSpec::TchCuda(1)));
        assert_eq!("tch-cuda".parse(), Ok(DeviceSpec::TchCuda(0)));
        assert_eq!("wgpu".parse(), Ok(DeviceSpec::Wgpu));
        assert_eq!("cuda:2".parse(), Ok(DeviceSpec::Cuda(2)));
    }

    #[test]
    fn rejects_unknown_names_and_bad_indices() {
        for bad in ["tpu", "cuda:x", "flex:0", "", "wgpu:1"] {
            let err = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(matches!(err, DeviceError::Unknown { .. }), "{bad}: {err:?}");
            assert!(err.to_string().contains("expected one of flex"), "{err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            DeviceSpec::Flex,
            DeviceSpec::Tch,
            DeviceSpec::TchCuda(3),
            DeviceSpec::Wgpu,
            DeviceSpec::Cuda(1),
        ] {
            assert_eq!(spec.to_string().parse(), Ok(spec));
        }
    }

    #[test]
    fn a_missing_backend_names_the_compiled_ones() {
        let missing = [DeviceSpec::Tch, DeviceSpec::Wgpu, DeviceSpec::Cuda(0)]
            .into_iter()
            .find(|s| !s.is_compiled());
        if let Some(spec) = missing {
            let err = spec.device().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("was not compiled"), "{msg}");
            assert!(
                msg.contains(&format!("--features {}", spec.feature())),
                "{msg}"
            );
            for name in compiled_backends() {
                assert!(msg.contains(name), "{msg} should list {name}");
            }
        }
        // `cuda` is never compiled in CI, so the branch above always runs there.
        assert!(!DeviceSpec::Cuda(0).is_compiled() || cfg!(feature = "cuda"));
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_is_available_by_default() {
        assert_eq!(parse_device("flex"), Ok(DeviceSpec::Flex));
        assert_eq!(default_device_spec(), DeviceSpec::Flex);
    }
}
