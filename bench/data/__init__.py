"""Data layer: the DSS datasets with teacher rationales, the synthetic task, rationale noise.

``load_dataset(name, LoadOptions(...))`` returns a :class:`DatasetSplits` of :class:`Example`
records; loaders register under their dataset name in :data:`DATASETS`.
"""

from bench.data import dss, synth  # noqa: F401  (register the loaders)
from bench.data.example import DatasetSplits, Example
from bench.data.noise import NOISE_TYPES, NoiseConfig, apply_noise
from bench.data.options import LABEL_TYPES, TEACHERS, LoadOptions, SynthConfig
from bench.data.registry import DATASETS, load_dataset, resolve_data_dir
from bench.data.synth import VERSIONS as SYNTH_VERSIONS
from bench.data.synth_v2 import COMBINES as SYNTH_COMBINES
from bench.data.synth_v2 import FAMILIES as SYNTH_FAMILIES
from bench.data.synth_v2 import TRACES as SYNTH_TRACES

__all__ = [
    "DATASETS",
    "LABEL_TYPES",
    "NOISE_TYPES",
    "SYNTH_COMBINES",
    "SYNTH_FAMILIES",
    "SYNTH_TRACES",
    "SYNTH_VERSIONS",
    "TEACHERS",
    "DatasetSplits",
    "Example",
    "LoadOptions",
    "NoiseConfig",
    "SynthConfig",
    "apply_noise",
    "load_dataset",
    "resolve_data_dir",
]
