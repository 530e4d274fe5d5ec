"""One run from a JSON request, for a process started by ``torch.distributed.run``.

``python -m torch.distributed.run --nproc_per_node K -m bench.launch request.json`` trains
the run of ``request["config"]`` with ``request["options"]`` (:class:`~bench.runner.RunOptions`)
on K data-parallel processes; :func:`bench.executors.launch_distributed` writes
the request and reads the result from the run directory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.config import config_from_dict
from bench.runner import RunOptions, run_one


def main(path: str) -> None:
    """Train the requested run (every process of the launch calls this)."""
    request = json.loads(Path(path).read_text(encoding="utf-8"))
    config = config_from_dict(request.pop("config"))
    run_one(config, RunOptions.from_dict(request["options"]))


if __name__ == "__main__":
    main(sys.argv[1])
