"""Write the history site: an overview, history charts per group, runs and comparisons.

Every page is a self-contained HTML file (inline CSS, inline SVG drawn by a small
inline script from a JSON blob in the page), so the site works from ``file://``
without a network. Pages:

- ``index.html``: per group of comparable runs (same machine, versions and settings,
  :func:`~fastnn.bench.report.publish.history.group_label`), the latest run, the significant
  changes found between consecutive runs (each linked to its comparison), the peer race
  of the latest run and every run's report;
- ``history-<group>.html``: per point, the time across runs (commit and date on the
  axis), one line per backend and peer with its 95 % interval band; hover for numbers;
- ``runs/<run>.html``: a run's full report; ``compare-<old>--<new>.html``: a comparison.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np

from fastnn.atomic import atomic_write_text
from fastnn.bench.report.compare import comparison_markdown, machine_differences, only_in_one
from fastnn.bench.report.publish import assets
from fastnn.bench.report.publish.findings import steps
from fastnn.bench.report.publish.history import group_runs, load_history
from fastnn.bench.report.publish.markdown import to_html
from fastnn.reporting.formatting import format_time
from fastnn.reporting.noise import noise_warnings
from fastnn.reporting.rows import KEY_COLUMNS
from fastnn.reporting.stats import as_samples, median_interval

POINT_COLUMNS = [column for column in KEY_COLUMNS if column != "backend"]


def publish(paths, out, threshold=0.10, warn=print):
    """Write the site for the runs in ``paths`` into the folder ``out``.

    Parameters
    ----------
    paths : sequence of path-like
        Run folders, results.json files, or folders of run folders.
    out : path-like
    threshold : float
        As ``fastnn compare --threshold``.
    warn : callable
        Gets a line per skipped run.

    Returns
    -------
    dict
        ``runs``, ``groups`` and ``regressions`` (counts) and ``index`` (the first page).

    Raises
    ------
    ValueError
        If no run could be loaded.
    """
    out = Path(out)
    if (out / "results.json").exists():
        raise ValueError(f"--out {out} is a run folder; give a folder for the site")
    runs = load_history(paths, warn)
    if not runs:
        raise ValueError("no run to publish: give run folders written by `fastnn bench` "
                         "(or a folder of them)")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    groups = []
    regressions = 0
    for label, slug, members in group_runs(runs):
        found = steps(members, threshold)
        regressions += sum(len(step.changes("regressed")) for step in found
                           if step.table is not None)
        groups.append((label, slug, members, found))
        _write_history(out, label, slug, members, found)
        for step in found:
            _write_comparison(out, step, threshold)
    for run in runs:
        _write_run(out, run)
    atomic_write_text(out / "index.html", _index(groups, len(runs)))
    return {"runs": len(runs), "groups": len(groups), "regressions": regressions,
            "index": out / "index.html"}


# --- pages -----------------------------------------------------------------------------

def _page(title, body, script=""):
    code = f"<script>{assets.JS}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{assets.CSS}</style></head>"
            f"<body><main>{body}</main>{script}{code}</body></html>\n")


def _index(groups, n_runs):
    parts = [f"<h1>fastnn benchmark history</h1><p>{n_runs} runs in {len(groups)} group(s) "
             f"of comparable runs (same machine, library versions and settings; runs of "
             f"different groups are never compared).</p>"]
    for label, slug, members, found in groups:
        latest = members[-1]
        parts.append(f'<section class="group" id="{slug}"><h2>{html.escape(label)}</h2>')
        parts.append(f'<p>Latest run: <a href="runs/{latest.name}.html">{latest.name}</a> '
                     f"({html.escape(latest.label)}), {len(members)} run(s). "
                     f'<a class="history" href="history-{slug}.html">Time across runs, per '
                     f"point</a>.</p>")
        for warning in noise_warnings(latest.metadata.get("noise")):
            parts.append(f'<p class="warn">Noisy latest run: {html.escape(warning)}.</p>')
        parts.append(_latest_table(latest))
        parts.append(_regressions_html(found))
        parts.append(_peer_race(latest))
        parts.append("<h3>Runs</h3><ul>" + "".join(
            f'<li><a href="runs/{run.name}.html">{html.escape(run.name)}</a> '
            f"{html.escape(run.label)}</li>" for run in reversed(members)) + "</ul></section>")
    return _page("fastnn benchmark history", "\n".join(parts))


def _latest_table(run):
    timed = _timed(run.frame)
    if timed.empty:
        return "<p>No timed measurement.</p>"
    op = "forward" if "forward" in set(timed["op"]) else timed["op"].iloc[0]
    level = "mlp" if "mlp" in set(timed["level"]) else timed["level"].iloc[0]
    shown = timed[(timed["op"] == op) & (timed["level"] == level)]
    order = shown.assign(_size=shown["n_params"] if "n_params" in shown else 0)
    points = order.sort_values(["_size", "batch_size"], kind="stable")[
        ["layer_sizes", "batch_size"]].drop_duplicates()
    names = list(dict.fromkeys(shown["backend"]))
    medians = {(row["layer_sizes"], row["batch_size"], row["backend"]): row["median_s"]
               for _, row in shown.iterrows()}
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in names)
    body = "".join(
        f"<tr><td>{html.escape(str(sizes))}</td><td>{batch}</td>"
        + "".join(f"<td>{format_time(medians.get((sizes, batch, name)))}</td>"
                  for name in names) + "</tr>"
        for sizes, batch in points.itertuples(index=False))
    return (f"<h3>Latest run: {html.escape(str(op))}, {html.escape(str(level))} level, median "
            f'time per call</h3><div class="scroll"><table><thead><tr><th>layer sizes</th>'
            f"<th>batch</th>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _regressions_html(found):
    lines = []
    for step in found:
        if step.table is None:
            continue
        for verdict in ("regressed", "improved"):
            for _, row in step.changes(verdict).iterrows():
                lines.append(
                    f'<li class="{verdict}"><a class="finding {verdict}" href="{step.page}">'
                    f"{verdict}: {html.escape(_point_text(row))} {100 * row['change']:+.0f}% "
                    f"(p={row['p_value']:.2g})</a> {html.escape(step.old.label)} &rarr; "
                    f"{html.escape(step.new.label)}</li>")
    comparisons = "".join(f'<li><a class="comparison" href="{step.page}">{step.old.name} '
                          f"&rarr; {step.new.name}</a></li>" for step in found)
    if not found:
        return ("<h3>Significant changes between consecutive runs</h3>"
                "<p>One run in this group: nothing to compare yet.</p>")
    return ("<h3>Significant changes between consecutive runs</h3>"
            + (f"<ul>{''.join(lines)}</ul>" if lines else
               "<p>None: no change beyond the threshold that a rank test (Holm-corrected) "
               "supports.</p>")
            + (f"<details><summary>All comparisons</summary><ul>{comparisons}</ul></details>"
               if comparisons else ""))


def _peer_race(run):
    peers = list((run.metadata.get("peers") or {}).keys())
    timed = _timed(run.frame)
    if not peers or timed.empty:
        return ""
    race = timed[timed["level"] == "mlp"]
    rows = []
    for point, data in race.groupby(["op", "layer_sizes", "batch_size", "dtype"], sort=False):
        if not set(data["backend"]) & set(peers):
            continue
        ordered = data.sort_values("median_s")
        cells = ", ".join(f"{'<b>' if index == 0 else ''}{html.escape(name)} "
                          f"{format_time(value)}{'</b>' if index == 0 else ''}"
                          for index, (name, value) in enumerate(
                              zip(ordered["backend"], ordered["median_s"])))
        rows.append(f"<tr><td>{html.escape(' '.join(map(str, point)))}</td><td>{cells}</td></tr>")
    if not rows:
        return ""
    return ("<h3>Peer race (latest run, fastest first)</h3><div class=\"scroll\"><table>"
            "<thead><tr><th>point</th><th>median time per call</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")


def _write_history(out, label, slug, members, found):
    data = {"runs": [run.label for run in members], "charts": _series(members)}
    marks = [{"from": members.index(step.old), "to": members.index(step.new),
              "page": step.page, "point": _point_text(row), "backend": row["backend"]}
             for step in found if step.table is not None
             for _, row in step.changes("regressed").iterrows()]
    data["regressions"] = marks
    blob = json.dumps(data).replace("</", "<\\/")
    body = (f'<p><a href="index.html">&larr; overview</a></p><h1>Time across runs</h1>'
            f"<p>{html.escape(label)}</p><p>Median time per call (log scale), one line per "
            f"backend and peer; the band is the 95 % interval of the median from the rounds "
            f"(the quartiles for runs without per-round samples). Hover or tap a point for "
            f"its numbers.</p>{_regressions_html(found)}"
            f'<div id="charts"></div><div id="tip" role="status"></div>')
    script = f'<script type="application/json" id="data">{blob}</script>'
    atomic_write_text(out / f"history-{slug}.html", _page(f"history: {label}", body, script))


def _series(members):
    """Per point, per backend: ``[run index, median, low, high]`` of every run timing it."""
    charts = {}
    for index, run in enumerate(members):
        timed = _timed(run.frame)
        for _, row in timed.iterrows():
            point = _point_text(row)
            lines = charts.setdefault(point, {})
            low, high = _band(row)
            lines.setdefault(str(row["backend"]), []).append(
                [index, float(row["median_s"]), low, high])
    return [{"point": point, "lines": [{"name": name, "values": values}
                                       for name, values in lines.items()]}
            for point, lines in charts.items()]


def _band(row):
    samples = as_samples(row.get("samples_s") if isinstance(row.get("samples_s"), list)
                         else None)
    samples = samples[np.isfinite(samples)]
    if samples.size:
        low, high, _ = median_interval(samples)
        return low, high
    q1, q3 = row.get("q1_s"), row.get("q3_s")
    median = float(row["median_s"])
    return (float(q1) if q1 == q1 and q1 is not None else median,
            float(q3) if q3 == q3 and q3 is not None else median)


def _write_run(out, run):
    report = run.path / "report.md"
    if report.is_file():
        text = report.read_text(encoding="utf-8")
    else:
        from fastnn.bench.report.document import report_markdown

        text = report_markdown(run.frame, run.metadata)
    images = out / "runs" / run.name
    for picture in run.path.glob("*.png"):
        images.mkdir(exist_ok=True)
        shutil.copyfile(picture, images / picture.name)
    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", lambda match: _figure(match, run), text)
    body = f'<p><a href="../index.html">&larr; overview</a></p>{to_html(text)}'
    atomic_write_text(out / "runs" / f"{run.name}.html",
                      _page(run.metadata.get("title", run.name), body))


def _figure(match, run):
    """A report's figure, from the copy next to the run's page; a note if it was not saved."""
    name = match.group(2)
    if (run.path / name).is_file() and "/" not in name:
        return f"![{match.group(1)}]({run.name}/{name})"
    return f"(figure {name} was not saved with the run)"


def _write_comparison(out, step, threshold):
    if step.table is None:
        text = (f"# {step.old.name} -> {step.new.name}\n\nThe two runs share no timed "
                f"measurement.")
    else:
        text = comparison_markdown(
            step.table, threshold, *only_in_one(step.old.frame, step.new.frame),
            old_name=step.old.name, new_name=step.new.name,
            differences=machine_differences(step.old.metadata, step.new.metadata),
            noise={"OLD": step.old.metadata.get("noise"), "NEW": step.new.metadata.get("noise")})
    body = (f'<p><a href="index.html">&larr; overview</a> | '
            f'<a href="runs/{step.old.name}.html">{step.old.name}</a> &rarr; '
            f'<a href="runs/{step.new.name}.html">{step.new.name}</a></p>'
            f'<div class="comparison-page">{to_html(text)}</div>')
    atomic_write_text(out / step.page, _page(f"compare {step.old.name} -> {step.new.name}",
                                             body))


def _timed(frame):
    if frame.empty or "status" not in frame.columns:
        return frame.iloc[:0]
    return frame[(frame["status"] == "ok") & frame["median_s"].notna()]


def _point_text(row):
    threads = row.get("blas_threads")
    threads = "" if threads is None or threads != threads or threads < 0 else f" t{int(threads)}"
    return (f"{row['op']} {row['layer_sizes']} x{row['batch_size']} {row['dtype']} "
            f"{row['level']}{threads}")

