"""`report.html`: one self-contained page per output folder that a person opens and acts on.

The page tells the folder's story in a few lines, shows its tables, embeds its figures as
base64 PNG (so the file can be mailed or attached to a review on its own) and lists the
inputs and the seed that reproduce it. It reads only the files the commands wrote, so
`run.py report DIR` works on any folder written earlier; fields a newer engine adds (unpaid
claims, stuck collateral, notes) are shown when present and never required.

Plain `html.escape` and f-strings are enough for a page this size; no template engine.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from chain.protocol import TOKEN_NAMES
from scenarios.config import ConfigError
from scenarios.plots import load_run, plot_folder, tranche_name
from scenarios.story import number as _num
from scenarios.story import run_story
from scenarios.story import usd as _usd
from scenarios.tranches import UNIT

REPORT = "report.html"

# Set by the page once every figure is decoded: `data-figures-loaded="N/M"` on <body>, so a
# headless browser can tell (tests/scenarios/test_html_report.py) that no figure is broken.
LOADED_SCRIPT = """<script>
addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-figures-loaded", ok + "/" + imgs.length);
});
</script>"""

STYLE = """<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.story { background: #f4f6fa; border-left: 4px solid #3a6ea5; padding: 0.6em 1em; }
.story li { margin: 0.25em 0; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
</style>"""


@dataclass(frozen=True)
class Table:
    """A table of the page: a caption, the column names and rows of cells."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class Page:
    """What a folder's report says; rendered by `render`."""

    title: str
    story: tuple[str, ...]
    tables: tuple[Table, ...]
    figures: tuple[Path, ...]
    inputs: tuple[tuple[str, object], ...]
    seed: object


def flatten(obj, prefix: str = "") -> list[tuple[str, object]]:
    """Nested dicts as dotted keys, in sorted order; lists kept as one value."""
    if not isinstance(obj, dict):
        return [(prefix, obj)]
    out: list[tuple[str, object]] = []
    for key in sorted(obj):
        out += flatten(obj[key], f"{prefix}.{key}" if prefix else str(key))
    return out


def _cell(v) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f'<td class="n">{escape(_num(v))}</td>'
    if isinstance(v, list | tuple | dict):
        return f"<td>{escape(json.dumps(v))}</td>"
    return f"<td>{escape(str(v))}</td>"


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in t.rows)
    return (
        f"<table><caption>{escape(t.caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = escape(path.name)
    return (
        f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
        f"<figcaption>{name}</figcaption></figure>"
    )


def render(page: Page) -> str:
    """The page as one HTML document with everything inline."""
    story = "".join(f"<li>{escape(line)}</li>" for line in page.story)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(page.title)}</title>{STYLE}</head><body>",
        f"<h1>{escape(page.title)}</h1>",
        f'<h2>What happened</h2><ul class="story">{story}</ul>',
        "<h2>Tables</h2>",
        *(_table(t) for t in page.tables),
        "<h2>Figures</h2>",
        *(_figure(p) for p in page.figures),
        "<h2>Inputs</h2>",
        f"<p>Seed: <b>{escape(str(page.seed))}</b></p>",
        _table(Table("inputs", ("input", "value"), tuple(page.inputs))),
        LOADED_SCRIPT,
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(folder: Path) -> Path:
    """Draws the folder's figures (as `run.py plot` does) and writes `folder/report.html`."""
    if not folder.is_dir():
        raise ConfigError(f"report: {folder} is not a folder")
    figures = plot_folder(folder)  # also tells an unknown folder apart, in one line
    if (folder / "sweep.csv").is_file():
        page = _sweep_page(folder, figures)
    elif (folder / "stress.json").is_file():
        page = _stress_page(folder, figures)
    elif (folder / "summary.json").is_file():
        page = _solvency_page(folder, figures)
    elif (folder / "calibrate.json").is_file():
        page = _calibrate_page(folder, figures)
    else:
        page = _run_page(folder, figures)
    path = folder / REPORT
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(page), encoding="utf-8")
    tmp.replace(path)  # never a half-written report
    return path


def _run_page(folder: Path, figures: list[Path]) -> Page:
    run = load_run(folder)
    refused = run.report.get("withdrawals_refused_locked", len(run.withdraw_refused_h))
    tranches = Table(
        "per tranche, from policies.csv (USD at the on-chain price of the purchase and of the "
        "settlement)",
        ("tranche", "policies", "premiums USD", "payouts USD", "premiums minus payouts USD"),
        tuple(
            (
                tranche_name(*k),
                len(f.premium_h),
                round(float(f.premium_usd.sum()), 2),
                round(float(f.payout_usd.sum()), 2),
                round(f.pnl_usd, 2),
            )
            for k, f in run.tranches.items()
        ),
    )
    accounts = _accounts_table(run.report.get("tranches") or {})
    report = Table("report.json", ("field", "value"), tuple(flatten(run.report)))
    config = json.loads((folder / "config.json").read_text())
    inputs = [("scenario", run.scenario), ("executor", config.get("executor"))]
    inputs += [(k, v) for k, v in sorted(config.get("values", {}).items())]
    return Page(
        f"Run report: {run.title}",
        tuple(run_story(run.report, run.hours_below_one, refused)),
        (*accounts, tranches, report),
        tuple(figures),
        tuple(inputs),
        run.seed,
    )


def _accounts_table(tranches: dict) -> tuple[Table, ...]:
    """Who lost what: report.json's tranche accounts (none in folders written before them)."""
    if not tranches:
        return ()
    unit = {TOKEN_NAMES[token]: name for token, name in UNIT.items()}
    rows = []
    for name, t in tranches.items():
        u = unit[t["token"]]
        rows.append((name, u, t[f"deposits_{u}"], t[f"withdrawals_{u}"], t[f"pnl_{u}"],
                     t["premiums_usd"], t["payouts_usd"], t["pnl_usd"], t["share_price_return"],
                     t["min_coverage_ratio"], t["hours_below_coverage_1"]))  # fmt: skip
    return (
        Table(
            "tranche accounts, from the chain's events (token units to the unit; USD at the "
            "purchase and settlement prices)",
            (
                "tranche",
                "unit",
                "deposits",
                "withdrawals",
                "P&L",
                "premiums USD",
                "payouts USD",
                "P&L USD",
                "share price return",
                "min coverage",
                "hours below 1",
            ),
            tuple(rows),
        ),
    )


def _sweep_page(folder: Path, figures: list[Path]) -> Page:
    with (folder / "sweep.csv").open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    keys = columns[1 : columns.index("seed")]
    seeds = sorted({int(r["seed"]) for r in rows})
    ok = [r for r in rows if r["status"] == "ok"]
    ruined = [r for r in ok if float(r["shortfall_usd"]) > 0]
    name = next((r["scenario"] for r in rows if r.get("scenario")), folder.name)
    story = [
        f"Sweep of {name} over {', '.join(keys)}: {len(rows)} runs, seeds "
        f"{seeds[0]}..{seeds[-1]} at each grid point.",
        f"{len(ok)} runs completed, {len(rows) - len(ok)} failed; {len(ruined)} ended with a "
        "shortfall (ruin).",
    ]
    points: dict[tuple, list[dict]] = {}
    for r in rows:
        points.setdefault(tuple(r[k] for k in keys), []).append(r)
    table = []
    for point, runs in points.items():
        done = [r for r in runs if r["status"] == "ok"]

        def mean(col: str, done=done) -> float | str:
            vals = [float(r[col]) for r in done if r.get(col) not in (None, "", "inf")]
            return round(sum(vals) / len(vals), 4) if vals else "n/a"

        table.append(
            (
                *point,
                f"{sum(float(r['shortfall_usd']) > 0 for r in done)}/{len(done)}",
                mean("premiums_usd"),
                mean("payouts_usd"),
                mean("shortfall_usd"),
                mean("min_coverage_ratio"),
            )
        )
    t = Table(
        "per grid point (means over completed seeds)",
        (*keys, "ruined/completed", "premiums USD", "payouts USD", "shortfall USD", "min coverage"),
        tuple(table),
    )
    inputs = [
        ("scenario", name),
        *((k, sorted({r[k] for r in rows})) for k in keys),
        ("seeds per point", len(seeds)),
    ]
    return Page(
        f"Sweep report: {name}",
        tuple(story),
        (t,),
        tuple(figures),
        tuple(inputs),
        f"{seeds[0]}..{seeds[-1]}",
    )


def _stress_page(folder: Path, figures: list[Path]) -> Page:
    doc = json.loads((folder / "stress.json").read_text())
    seeds, names, found = doc["seeds"], doc["scenarios"], doc["breaches"]
    story = [
        f"Stress matrix: {len(names)} scenarios x {len(seeds)} seeds (first {seeds[0]}), "
        f"{doc['rows']} runs, {doc['failed_runs']} failed.",
        f"Limits {doc['limits_file']}: "
        + ("every run within them." if doc["passed"] else f"{len(found)} broken."),
    ]
    story += [f"{b['scenario']} seed {b['seed']}: {b['field']} = {_num(b['value'])} "
              f"({b['bound']})." for b in found]  # fmt: skip
    fields = list(doc["limits"])
    worst = Table(
        "per scenario, the value nearest each bound over the seeds",
        ("scenario", *fields),
        tuple((n, *(doc["worst"].get(n, {}).get(f) for f in fields)) for n in names),
    )
    bounds = Table(
        "limits",
        ("field", "min", "max"),
        tuple((f, b.get("min"), b.get("max")) for f, b in doc["limits"].items()),
    )
    inputs = [("scenarios", names), ("sets", doc["sets"]), ("reduced", doc["reduced"])]
    inputs += [(f"overrides {n}", o) for n, o in doc["overrides"].items() if o]
    return Page("Stress report", tuple(story), (worst, bounds), tuple(figures), tuple(inputs),
                f"{seeds[0]}..{seeds[-1]}")  # fmt: skip


def _solvency_page(folder: Path, figures: list[Path]) -> Page:
    doc = json.loads((folder / "summary.json").read_text())
    m, inputs = doc.get("metrics", {}), doc.get("inputs", {})
    ruin = m.get("probability_of_ruin", {})
    pa = m.get("premium_adequacy", {})
    model = inputs.get("model", {})
    story = [
        f"Book {inputs.get('book')}: {_num(inputs.get('policies'))} policies, "
        f"{_num(inputs.get('paths'))} price paths over {inputs.get('days')} days "
        f"({model.get('model') if isinstance(model, dict) else model} model).",
    ]
    if ruin:
        story.append(
            f"Probability of ruin {ruin.get('estimate', 0):.4%} (95% interval "
            f"{ruin.get('ci95_low', 0):.4%} to {ruin.get('ci95_high', 0):.4%})."
        )
    if pa:
        ratio = pa.get("ratio")
        story.append(
            f"Premium adequacy {'n/a' if ratio is None else f'{ratio:.3f}'}: premiums "
            f"{_usd(pa.get('premiums_usd'))} against expected payouts "
            f"{_usd(pa.get('expected_payouts_usd'))}."
        )
    for level, v in sorted(m.get("loss_usd", {}).items()):
        story.append(
            f"Loss at {float(level):.1%}: VaR {_usd(v.get('var'))}, "
            f"expected shortfall {_usd(v.get('es'))}."
        )
    tables = [Table("summary.json metrics", ("metric", "value"), tuple(flatten(m)))]
    with (folder / "solvency.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["tier"] == "all" and r["curve"] != "curve"]
    if rows:
        cols = (
            "curve",
            "x",
            "x_unit",
            "paths",
            "coverage_p50",
            "ruin_probability",
            "ruin_ci95_high",
        )
        tables.append(
            Table(
                "solvency.csv (pool rows)",
                cols,
                tuple(tuple(r.get(c, "") for c in cols) for r in rows),
            )
        )
    return Page(
        f"Solvency report: {inputs.get('book')}",
        tuple(story),
        tuple(tables),
        tuple(figures),
        tuple(flatten(inputs)),
        doc.get("seed"),
    )


def _calibrate_page(folder: Path, figures: list[Path]) -> Page:
    doc = json.loads((folder / "calibrate.json").read_text())
    inputs, best = doc.get("inputs", {}), doc.get("best")
    limit = doc.get("ruin_limit", 0.005)
    with (folder / "calibrate.csv").open() as f:
        rows = list(csv.DictReader(f))
    story = [
        f"Book {inputs.get('book')}: {len(rows)} grid points, {_num(inputs.get('paths'))} paths "
        f"each; rule: {doc.get('rule', 'n/a')} (limit {limit:.2%}).",
        "No grid point is feasible."
        if not best
        else f"Best feasible point: vol multiplier {best['vol_multiplier']:g}, cap scale "
        f"{best['cap_scale']:g}, collateral scale {best['collateral_scale']:g}, premiums "
        f"{_usd(best['premiums_usd'])}, ruin upper bound {best['ruin_ci95_high']:.3%}.",
    ]
    story += [str(n) for n in _notes(doc)]
    cols = tuple(rows[0]) if rows else ()
    table = Table(
        "calibrate.csv (every grid point)", cols, tuple(tuple(r[c] for c in cols) for r in rows)
    )
    return Page(
        f"Calibrate report: {inputs.get('book')}",
        tuple(story),
        (table,),
        tuple(figures),
        tuple(flatten(inputs)),
        doc.get("seed"),
    )


def _notes(doc: dict) -> Iterable:
    """Warnings and notes a newer calibrate writes (a list of strings or of dicts)."""
    for key in ("warnings", "notes"):
        for note in doc.get(key) or []:
            yield note.get("message", note) if isinstance(note, dict) else note
