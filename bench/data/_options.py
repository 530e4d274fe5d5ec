"""What a dataset loader is asked for: data directory, teacher, label type, synth settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the generated ``synth`` task (see ``bench.data._synth``)."""

    n_train: int = 2000  # training problems
    n_valid: int = 200  # validation problems
    n_test: int = 500  # test problems
    steps: int = 2  # reasoning steps per problem (difficulty; 3 is beyond a tiny T5 on a CPU)
    teacher_error: float = 0.25  # fraction of train rationales/labels the "teacher" gets wrong
    n_candidates: int = 5  # answer options per problem (closed-form scoring)
    seed: int = 0  # data seed; fixed across run seeds so every run sees the same task


@dataclass(frozen=True)
class LoadOptions:
    """Everything a registered loader receives."""

    data_dir: Path  # resolved data directory (unused by synth)
    teacher: str = "palm"  # "palm" (default) or "llama3" (cqa, svamp)
    label_type: str = "gt"  # "gt": gold train labels; "llm": teacher labels for train
    synth: SynthConfig = field(default_factory=SynthConfig)
