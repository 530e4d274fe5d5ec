"""``bench perf`` output: a plain aligned table for people, the result dict as JSON."""

from __future__ import annotations

import json

from bench.perf.designs import DESIGNS


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render_table(result: dict) -> str:
    """The human-readable report of a ``run_perf`` result."""
    s = result["settings"]
    out = [
        f"bench perf: {s['model']} ({s['parameters'] / 1e6:.1f}M params) on {s['dataset']}, "
        f"{s['train_examples']} train examples = {s['steps']} steps x batch {s['batch']} "
        f"(+{s['warmup']} warm-up), input/target <= {s['input_len']}/{s['target_len']} tokens, "
        f"{s['precision']} on {s['device']}, {s['threads']} threads, load {s['load_average']:.2f}",
        "",
    ]
    rows = []
    for strategy, res in result["train"].items():
        for design in DESIGNS:
            d = res[design]
            rows.append(
                [
                    f"{strategy} {design}",
                    f"{d['examples_per_s']:.1f}",
                    f"{d['real_tokens_per_s']:.0f}",
                    _pct(d["data_share"]),
                    _pct(d["padded_share"]["encoder"]),
                    _pct(d["padded_share"]["decoder"]),
                    _pct(d["padded_share"]["total"]),
                    _mib(d["peak_step_bytes"]),
                    f"{d['executed_flops'] / 1e9:.2f}",
                    f"{d['useful_flops'] / 1e9:.2f}",
                    _pct(d["mfu"]),
                ]
            )
        rows.append([f"{strategy} speed-up", f"{res['speedup']:.2f}x", *[""] * 9])
    header = [
        "training step",
        "ex/s",
        "real tok/s",
        "data",
        "pad enc",
        "pad dec",
        "pad all",
        "peak MiB",
        "exec GFLOP",
        "useful GFLOP",
        "MFU",
    ]
    out.append(_table(header, rows))
    ratio, overhead = result["memory_mi_over_dss"], result["mi_step_overhead"]
    out += [
        "",
        "dss+mi step time over dss (same examples and batches, timed interleaved): "
        + ", ".join(f"{d} {overhead[d]:+.1%}" for d in DESIGNS),
        "peak MiB: allocated during the step with the most computed tokens, above the resident "
        "weights/optimizer state; dss+mi / dss: "
        + ", ".join(f"{d} {ratio[d]:.2f}x" for d in DESIGNS),
        f"useful FLOPs = {result['flops']['useful_formula']}; MFU = useful FLOP/s / measured "
        f"matmul peak {result['flops']['matmul_peak_flops'] / 1e9:.1f} GFLOP/s",
        "loss parity (max |reference - cotbench| over total and parts, same batch, fp32, eval): "
        + ", ".join(f"{k} {v['max_abs_diff']:.1e}" for k, v in result["parity"].items()),
    ]
    ev = result["eval"]
    if ev is None:
        out.append("evaluation: skipped (open task: no candidates to score)")
    else:
        out.append(
            f"evaluation ({ev['examples']} test examples): generate "
            f"{ev['generate_examples_per_s']:.1f} ex/s, score {ev['score_examples_per_s']:.1f} "
            f"ex/s, speed-up {ev['speedup']:.2f}x; "
            f"identical labels {_pct(ev['identical_labels'])} (generated label is a candidate: "
            f"{_pct(ev['generated_is_candidate'])}); on these untrained weights generation "
            "runs until EOS or max_new_tokens: benchmarks/eval_check.py times a trained model"
        )
    return "\n".join(out)


def render_json(result: dict) -> str:
    """The result as indented, key-sorted JSON."""
    return json.dumps(result, indent=2, sort_keys=True)
