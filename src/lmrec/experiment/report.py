"""Write a comparison as JSON, CSV, Markdown and a PNG chart."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.experiment.compare import ModelResult, results_frame

HEADLINE = ("ndcg@10", "recall@10", "precision@10", "mrr@10", "hit@10")
HEADLINE_NAMES = ("ndcg", "recall", "precision", "mrr", "hit")


def headline(frame: pd.DataFrame, ks: Sequence[int] = (10,)) -> list[str]:
    """The metric columns a table shows first: the usual ranking metrics at each k, else
    whatever metrics the results hold (a comparison run with --metrics)."""
    usual = [f"{m}@{k}" for k in ks for m in HEADLINE_NAMES if f"{m}@{k}" in frame]
    if usual:
        return usual
    return [c for c in frame.columns if c not in ("model", "fit_s", "eval_s")]


def write_json(rows: Sequence[ModelResult], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_json() for r in rows], indent=2))
    return path


def significance(rows: Sequence[ModelResult], metric: str = "ndcg@10") -> dict[str, Any] | None:
    """Paired test of the best model against the runner-up on per-user values."""
    tests = paired_tests(rows, metric)
    if not tests:
        return None
    first = tests[0]  # runner-up: the others come in descending order
    rest = {k: v for k, v in first.items() if k not in ("best", "other")}
    return {"metric": metric, "best": first["best"], "runner_up": first["other"], **rest}


def paired_tests(rows: Sequence[ModelResult], metric: str = "ndcg@10") -> list[dict[str, Any]]:
    """Paired test of the best model against every other row, on per-user values (the
    difference is best minus other); empty when fewer than two rows carry per-user values."""
    from lmrec.evaluation.stats import paired_test

    ranked = sorted(
        (r for r in rows if r.result is not None and metric in r.result.per_user),
        key=lambda r: r.metrics[metric],
        reverse=True,
    )
    if len(ranked) < 2:
        return []
    best = ranked[0].result.per_user[metric]  # type: ignore[union-attr]
    out = []
    for other in ranked[1:]:
        test = paired_test(other.result.per_user[metric], best)  # type: ignore[union-attr]
        out.append({"best": _label(ranked[0]), "other": _label(other), **test.to_dict()})
    return out


def _paired_table(tests: list[dict[str, Any]], metric: str = "ndcg@10") -> list[str]:
    rows = [
        f"| {t['other']} | {t['mean_diff']:+.4f} | [{t['diff_ci_low']:+.4f}, "
        f"{t['diff_ci_high']:+.4f}] | {t['t_pvalue']:.3g} | {t['wilcoxon_pvalue']:.3g} |"
        for t in tests
    ]
    return [
        f"Paired tests on per-user {metric}, {tests[0]['best']} minus each other model "
        f"({tests[0]['n']} users):",
        "",
        "| other model | mean difference | 95% CI | t-test p | Wilcoxon p |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def confidence_intervals(
    rows: Sequence[ModelResult], metric: str = "ndcg@10"
) -> dict[str, list[float]]:
    from lmrec.evaluation.stats import bootstrap_ci

    out = {}
    for r in rows:
        if r.result is not None and metric in r.result.per_user:
            lo, hi = bootstrap_ci(r.result.per_user[metric].to_numpy(), n_boot=1000, seed=0)
            out[_label(r)] = [float(lo), float(hi)]
    return out


def _label(r: ModelResult) -> str:
    return r.model if r.variant == "train" else f"{r.model} ({r.variant})"


def write_markdown(
    rows: Sequence[ModelResult],
    path: Path,
    *,
    title: str,
    context: dict[str, Any],
    metric: str = "ndcg@10",
    ks: Sequence[int] = (10,),
) -> Path:
    frame = results_frame(rows)
    cols = ["model", *headline(frame, ks), "fit_s", "eval_s"]
    extra = [c for c in frame.columns if c not in cols]
    table = frame[cols + extra].round(4)
    ci = confidence_intervals(rows, metric)
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in context.items()]
    lines += ["", _markdown_table(table), ""]
    lines += hyper_parameters(rows)
    if ci:
        lines += [
            f"{metric} with 95% bootstrap interval (per-user resampling, 1000 draws):",
            "",
        ]
        lines += [f"- {m}: [{lo:.4f}, {hi:.4f}]" for m, (lo, hi) in ci.items()]
        lines.append("")
    sig = significance(rows, metric)
    if sig:
        lines.append(
            f"Paired test on per-user {sig['metric']}: {sig['best']} minus {sig['runner_up']}: "
            f"mean difference {sig['mean_diff']:.4f} "
            f"(95% CI [{sig['diff_ci_low']:.4f}, {sig['diff_ci_high']:.4f}]), "
            f"t-test p={sig['t_pvalue']:.3g}, Wilcoxon p={sig['wilcoxon_pvalue']:.3g}."
        )
        lines.append("")
    tests = paired_tests(rows, metric)
    if len(tests) > 1:  # one test is the runner-up line above
        lines += _paired_table(tests, metric)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def hyper_parameters(rows: Sequence[ModelResult]) -> list[str]:
    """Which settings each model ran with, and where each came from: tuned on validation
    (with the values tried), fixed with --set, or the model's default."""
    lines = ["Hyper-parameters (every other setting is the model's default; all of them are "
             "in results.json):", ""]  # fmt: skip
    for r in rows:
        parts = []
        for key, values in r.tuned_over.items():
            tried = ", ".join(_value(v) for v in values)
            parts.append(f"{key}={_value(r.config.get(key))} (tuned over {tried})")
        for key, value in r.fixed.items():
            parts.append(f"{key}={_value(r.config.get(key, value))} (fixed by --set)")
        lines.append(f"- {_label(r)}: " + ("; ".join(parts) or "defaults"))
    return [*lines, ""]


def _value(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _markdown_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _cell(v: object) -> str:
    if isinstance(v, float) and np.isnan(v):
        return "–"  # metric does not apply (e.g. RMSE of a ranking-only model)
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def write_chart(
    rows: Sequence[ModelResult], path: Path, metrics: Sequence[str] = HEADLINE[:2]
) -> Path:
    """Bars of the first two `metrics` per model."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    frame = results_frame(rows)
    shown = [m for m in metrics if m in frame]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(frame)), 4))
    width = 0.8 / max(1, len(shown))
    x = np.arange(len(frame))
    for j, m in enumerate(shown):
        ax.bar(x + j * width, frame[m], width, label=m)
    ax.set_xticks(x + width * (len(shown) - 1) / 2, frame["model"], rotation=30, ha="right")
    ax.set_ylabel("score")
    ax.legend()
    ax.set_title(f"{rows[0].protocol} protocol" if rows else "")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


#: the beyond-accuracy chart's panels, in order (those a comparison measured are drawn)
BEYOND_PANELS = ("diversity", "novelty", "longtail", "serendipity", "coverage", "gini")


def beyond_values(rows: Sequence[ModelResult], key: str) -> list[tuple[str, float, list[float]]]:
    """(label, value, [low, high]) per row for one metric key: per-user metrics get the
    report's per-user bootstrap interval, Gini the interval over resampled users that
    evaluate() computed; coverage has none (NaN bounds)."""
    from lmrec.evaluation.stats import bootstrap_ci

    out = []
    for r in rows:
        if key not in r.metrics:
            continue
        value = float(r.metrics[key])
        ci = [np.nan, np.nan]
        if r.result is not None and key in r.result.per_user:
            lo, hi = bootstrap_ci(r.result.per_user[key].to_numpy(), n_boot=1000, seed=0)
            ci = [float(lo), float(hi)]
        elif r.result is not None and key in r.result.meta.get("catalogue_ci", {}):
            ci = list(r.result.meta["catalogue_ci"][key])
        out.append((_label(r), value, ci))
    return out


def write_beyond_chart(rows: Sequence[ModelResult], path: Path, k: int = 10) -> Path | None:
    """One panel per beyond-accuracy metric at k: a bar per model with its 95% bootstrap
    interval as an error bar. None when the comparison measured none of them."""
    panels = [(m, beyond_values(rows, f"{m}@{k}")) for m in BEYOND_PANELS]
    panels = [(m, vals) for m, vals in panels if vals]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_models = max(len(vals) for _, vals in panels)
    cols = min(3, len(panels))
    n_rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(
        n_rows, cols, figsize=(max(9, 1.0 * n_models * cols), 3.4 * n_rows), squeeze=False
    )
    for ax, (metric, vals) in zip(axes.ravel(), panels, strict=False):
        labels = [v[0] for v in vals]
        heights = np.array([v[1] for v in vals])
        bounds = np.array([v[2] for v in vals], dtype=np.float64)
        err = np.vstack([heights - bounds[:, 0], bounds[:, 1] - heights])
        err = np.where(np.isfinite(err), np.maximum(err, 0.0), 0.0)
        x = np.arange(len(vals))
        ax.bar(x, heights, yerr=err, capsize=3, color="#4c72b0")
        ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
        better = "lower is better" if metric == "gini" else "higher: more " + {
            "diversity": "varied lists", "novelty": "unfamiliar items",
            "longtail": "long-tail items", "serendipity": "surprising hits",
            "coverage": "catalogue shown",
        }[metric]  # fmt: skip
        ax.set_title(f"{metric}@{k} ({better})", fontsize=9)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.suptitle("beyond accuracy, with 95% bootstrap intervals", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(
    rows: Sequence[ModelResult],
    out_dir: Path,
    *,
    title: str,
    context: dict[str, Any],
    metric: str = "ndcg@10",
    ks: Sequence[int] = (10,),
) -> dict[str, Path]:
    """All outputs under out_dir; returns their paths. `metric` is the one intervals and
    paired tests are computed on."""
    out_dir.mkdir(parents=True, exist_ok=True)
    context = {**context, "machine": f"{platform.machine()}, Python {platform.python_version()}"}
    frame = results_frame(rows)
    csv_path = out_dir / "results.csv"
    frame.to_csv(csv_path, index=False)
    tests_path = out_dir / "paired_tests.csv"
    pd.DataFrame.from_records(paired_tests(rows, metric)).to_csv(tests_path, index=False)
    markdown = write_markdown(
        rows, out_dir / "report.md", title=title, context=context, metric=metric, ks=ks
    )
    paths = {
        "paired tests": tests_path,
        "json": write_json(rows, out_dir / "results.json"),
        "csv": csv_path,
        "markdown": markdown,
        "chart": write_chart(rows, out_dir / "chart.png", headline(frame, ks)[:2]),
    }
    beyond = write_beyond_chart(rows, out_dir / "beyond.png", k=min(ks))
    if beyond is not None:
        paths["beyond-accuracy chart"] = beyond
    return paths
