"""What a dataset loader is asked for: data directory, teacher, label type, synth settings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

TEACHERS = ("palm", "llama3")  # rationale sources (llama3: cqa and svamp only)
LABEL_TYPES = ("gt", "llm")  # train labels: gold, or the teacher's


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the generated ``synth`` task (see ``bench.data.synth``).

    The keys after ``seed`` came with generator version 2 (``bench.data.synth_v2``); at their
    defaults they are left out of the config hash, so version-1 runs keep their hashes.
    """

    n_train: int = 2000  # training problems
    n_valid: int = 200  # validation problems
    n_test: int = 500  # test problems
    steps: int = 2  # chain: relevant reasoning steps per problem (3 is beyond a tiny T5 on a CPU)
    teacher_error: float | None = None  # fraction of train rationales/labels the "teacher" gets
    # wrong; None: the version's default (version 1: 0.25, version 2: 0), see ``resolved``
    n_candidates: int = 5  # answer options per problem (closed-form scoring)
    seed: int = 0  # data seed; fixed across run seeds so every run sees the same task
    version: int = 1  # generator: 1 (synth-v1, the published runs) or 2 (task families)
    family: str = "chain"  # version 2: chain (variable chasing) or features (combined digits)
    distractors: int = 0  # version 2 chain: extra chains of ``steps`` steps the rationale skips
    n_lists: int = 3  # version 2 features: digit lists (2 or 3), features max, sum, evens in turn
    list_len: int = 3  # version 2 features: digits per list
    combine: str = "sum"  # version 2 features: sum (of the features, mod 10) or parity (of it)
    trace: str = "final"  # version 2 features: the rationale states each feature's value (final)
    # or its running value after every digit and the running sum of the features (running)
    spaced_digits: bool = False  # version 2 features: the input's lists as ``a=3 5 6`` (every
    # digit its own word for a pretrained word-piece tokenizer, which reads ``356`` as one piece)

    def resolved(self) -> SynthConfig:
        """A copy with the version's default filled in where ``teacher_error`` is None.

        >>> SynthConfig().resolved().teacher_error, SynthConfig(version=2).resolved().teacher_error
        (0.25, 0.0)
        """
        if self.teacher_error is not None:
            return self
        return replace(self, teacher_error=DEFAULT_TEACHER_ERROR.get(self.version, 0.0))


# teacher_error where the config leaves it None, per generator version (version 1's default was
# 0.25 before the key could be None, so that its runs keep their configs and hashes)
DEFAULT_TEACHER_ERROR = {1: 0.25, 2: 0.0}


@dataclass(frozen=True)
class LoadOptions:
    """Everything a registered loader receives."""

    data_dir: Path  # resolved data directory (unused by synth)
    teacher: str = "palm"  # "palm" (default) or "llama3" (cqa, svamp)
    label_type: str = "gt"  # "gt": gold train labels; "llm": teacher labels for train
    synth: SynthConfig = field(default_factory=SynthConfig)
