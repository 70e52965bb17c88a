//! Shared test helpers: the PyTorch goldens (`tests/golden/*.json`, written by
//! `tools/golden_resnet.py`), PyTorch-style names for a Burn module's tensors, and a loader that
//! copies a PyTorch state dict into a Burn module by those names.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use serde_json::Value;

/// `tests/golden/architectures.json`: torchvision parameter counts and state-dict entries.
pub fn architectures() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!("golden/architectures.json"))
            .expect("architectures.json parses")
    })
}

/// `tests/golden/forward.json`: small models' weights, inputs and PyTorch outputs.
pub fn forward_golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!("golden/forward.json")).expect("forward.json parses")
    })
}

pub fn as_usize(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as usize
}

pub fn as_shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a shape: {v}"))
        .iter()
        .map(as_usize)
        .collect()
}

pub fn as_f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list of numbers: {v}"))
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

/// A tensor from a golden list of values and a shape.
pub fn tensor<const D: usize>(values: &Value, shape: &Value, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(as_f32s(values), as_shape(shape)), device)
}

/// `|a − e| ≤ abs + rel·|e|` elementwise.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], abs: f32, rel: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= abs + rel * e.abs(),
            "{what}[{i}]: {a} vs PyTorch {e} (|diff| {} > {abs} + {rel}·|expected|)",
            (a - e).abs()
        );
    }
}

/// The module path as PyTorch would name it: enum variant levels skipped, batch- and layer-norm
/// `gamma`/`beta` read as `weight`/`bias` (what Burn's PyTorch store does by default).
#[derive(Default)]
struct Path {
    /// (name, container type of the parent) of each level entered.
    levels: Vec<(String, String)>,
}

impl Path {
    fn enter(&mut self, name: &str, container: &str) {
        self.levels.push((name.to_string(), container.to_string()));
    }

    fn exit(&mut self) {
        self.levels.pop();
    }

    fn torch_name(&self) -> String {
        let n = self.levels.len();
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, (_, container))| !container.starts_with("Enum:"))
            .map(
                |(i, (name, container))| match (i + 1 == n, container.as_str(), name.as_str()) {
                    (true, "Struct:BatchNorm" | "Struct:LayerNorm", "gamma") => "weight",
                    (true, "Struct:BatchNorm" | "Struct:LayerNorm", "beta") => "bias",
                    _ => name.as_str(),
                },
            )
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A `Linear` weight: Burn stores `[in, out]`, PyTorch `[out, in]`.
    fn is_linear_weight(&self) -> bool {
        matches!(self.levels.last(), Some((name, c)) if name == "weight" && c == "Struct:Linear")
    }
}

/// One float tensor of a module, named and shaped as in a PyTorch state dict.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub name: String,
    pub torch_shape: Vec<usize>,
}

impl Entry {
    /// Batch-norm running statistics (buffers in PyTorch, `RunningState` in Burn).
    pub fn is_running_stat(&self) -> bool {
        self.name.ends_with("running_mean") || self.name.ends_with("running_var")
    }
}

#[derive(Default)]
struct Collector {
    path: Path,
    entries: Vec<Entry>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // lazy_shape: no initialisation of lazily initialised parameters.
        let mut torch_shape = param.lazy_shape().dims::<D>().to_vec();
        if self.path.is_linear_weight() {
            torch_shape.reverse();
        }
        self.entries.push(Entry {
            name: self.path.torch_name(),
            torch_shape,
        });
    }
}

/// Every float tensor of `module` (parameters and running statistics), PyTorch-named, sorted.
pub fn state_entries<M: Module>(module: &M) -> Vec<Entry> {
    let mut collector = Collector::default();
    module.visit(&mut collector);
    collector.entries.sort();
    collector.entries
}

/// (learnable parameters, running-statistic elements) of `module`, counted like PyTorch's
/// `parameters()` and its running buffers.
pub fn counts<M: Module>(module: &M) -> (usize, usize) {
    let (mut params, mut running) = (0, 0);
    for e in state_entries(module) {
        let n: usize = e.torch_shape.iter().product();
        if e.is_running_stat() {
            running += n;
        } else {
            params += n;
        }
    }
    (params, running)
}

/// Copies a PyTorch state dict (golden `{name: {shape, values}}`) into a module by name.
struct Loader<'a> {
    path: Path,
    state: &'a serde_json::Map<String, Value>,
    loaded: BTreeSet<String>,
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.torch_name();
        let entry = self
            .state
            .get(&name)
            .unwrap_or_else(|| panic!("{name}: not in the PyTorch state dict"));
        let (id, old, mapper) = param.consume();
        let device = old.device();
        let new = tensor::<D>(&entry["values"], &entry["shape"], &device);
        let new = if self.path.is_linear_weight() {
            new.transpose()
        } else {
            new
        };
        assert_eq!(new.dims(), old.dims(), "{name}: shape");
        let new = new.set_require_grad(old.is_require_grad());
        self.loaded.insert(name);
        Param::from_mapped_value(id, new, mapper)
    }
}

/// `module` with every tensor replaced by the PyTorch state dict's; panics if a name is missing
/// on either side.
pub fn load_torch_state<M: Module>(module: M, state: &Value) -> M {
    let state = state.as_object().expect("a state dict object");
    let mut loader = Loader {
        path: Path::default(),
        state,
        loaded: BTreeSet::new(),
    };
    let module = module.map(&mut loader);
    let unused: Vec<_> = state
        .keys()
        .filter(|k| !loader.loaded.contains(*k))
        .collect();
    assert!(unused.is_empty(), "PyTorch entries not loaded: {unused:?}");
    module
}

/// Golden entries `[[name, shape, is_parameter], ...]` as sorted [`Entry`]s, with the
/// parameter flag checked against the running-statistic naming.
pub fn golden_entries(v: &Value) -> Vec<Entry> {
    let mut entries: Vec<Entry> = v
        .as_array()
        .expect("entries list")
        .iter()
        .map(|e| {
            let entry = Entry {
                name: e[0].as_str().expect("name").to_string(),
                torch_shape: as_shape(&e[1]),
            };
            assert_eq!(
                e[2].as_bool().expect("is_parameter flag"),
                !entry.is_running_stat(),
                "{}: PyTorch parameter/buffer split",
                entry.name
            );
            entry
        })
        .collect();
    entries.sort();
    entries
}
