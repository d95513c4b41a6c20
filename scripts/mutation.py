"""Mutation testing of the loop, the update and the blocks with cosmic-ray.

    pip install ".[mutation]"
    python scripts/mutation.py --dry-run                       # mutants per module, nothing run
    python scripts/mutation.py dqn_jax/blocks/target_network.py       # one module
    python scripts/mutation.py --limit 20 --out /tmp/mut       # 20 sampled mutants per module
    python scripts/mutation.py --resume --out /tmp/mut         # go on with an interrupted campaign
    python scripts/mutation.py --resume --rerun-timeouts --out /tmp/mut   # and run timeouts again
    python scripts/mutation.py --resume --rerun-survivors --out /tmp/mut  # after adding tests
    python scripts/mutation.py --report /tmp/mut-0 /tmp/mut-1 --write docs/mutation.md
    python scripts/mutation.py --shard 0/2 --out /tmp/mut-0    # every other mutant, from the 1st
    python scripts/mutation.py --merge /tmp/mut-0 /tmp/mut-1 --out /tmp/mut   # one summary

For every module of ``scripts/mutation.toml`` (or those named) cosmic-ray writes each mutant into
a copy of the repository (the tree you work in is never touched), and runs the module's own tests
in a fresh process, ``python -m pytest -x -q <tests>``, fastest first: a mutant is killed by the
first failing test. A fresh process per mutant matters here: JAX is multithreaded (forking a
process that has started it is unsafe), and a jit cache kept from one mutant to the next could
run stale code. JAX's persistent compilation cache (``--out``/jax-cache) is shared by
all mutants: it is keyed by the compiled program, so a mutant's tests compile only the programs its
mutation changed. Mutations inside type annotations (strings under ``from __future__ import
annotations``, so they cannot change behaviour), lines marked ``# pragma: no mutate`` and the
operators excluded in the config are skipped.

Each module's tests first run unmutated (they must pass); a mutant may take ``timeout_factor``
times as long, plus ``timeout_slack`` seconds. The summary (``summary.md`` and ``summary.json``
in ``--out``) gives killed, survived, timeouts and incompetent (the mutant broke the tool, not a
test) per module, and every survivor as ``file:line``, operator and the mutated line. Not a CI job:
a full campaign takes hours. ``--shard K/N`` runs every N-th mutant of each module (in the
order of their place in the source), so that N processes, or N machines, share a campaign;
``--merge`` adds up the summaries of several ``--out`` folders (shards, or groups of modules).

``--report`` reads those summaries with ``scripts/mutation_verdicts.toml``, where every survivor
shown equivalent is listed with the reason, and gives the kill rate of the non-equivalent
mutants per module; ``--write FILE`` puts that section into a page (between its
``<!-- mutation-results:start -->`` and ``<!-- mutation-results:end -->`` lines). A survivor
that a new test kills is not listed there: ``--resume --rerun-survivors`` runs every survivor
not listed again.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
OTHER_SHARD = "other shard"
CONFIG = ROOT / "scripts" / "mutation.toml"
VERDICTS = ROOT / "scripts" / "mutation_verdicts.toml"
MARKERS = ("<!-- mutation-results:start -->", "<!-- mutation-results:end -->")


def _require_cosmic_ray() -> None:
    if shutil.which("cosmic-ray") is None:
        sys.exit('mutation testing needs cosmic-ray: pip install ".[mutation]"')


def _sandbox(root: Path) -> Path:
    """A copy of the repository's tracked and untracked, not ignored files."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    sandbox = Path(tempfile.mkdtemp(prefix="dqn-jax-mutation-"))
    for name in filter(None, files):
        source = root / name.decode()
        if source.is_file():
            target = sandbox / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return sandbox


def _test_command(tests: list[str]) -> str:
    # -n 0: one process per mutant is parallel enough; xdist's workers would each import JAX
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider"]
    return " ".join([*pytest, *tests])


def _cache_env(out: Path) -> dict[str, str]:
    """This environment with JAX's persistent compilation cache in ``out/jax-cache`` for every
    program: a mutant's tests then compile only the programs its mutation changed. The cache
    is keyed by the compiled program's text, so a mutant never runs another's executable."""
    return {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(out / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def _write_cosmic_ray_config(path: Path, module: str, command: str, timeout: float) -> None:
    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        f"timeout = {timeout:.1f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "\n[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``((line, col), (end_line, end_col))`` of every annotation in ``source``."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            arguments = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            annotations += [x.annotation for x in arguments if x is not None]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for x in filter(None, annotations):
            spans.append(((x.lineno, x.col_offset), (x.end_lineno, x.end_col_offset)))
    return spans


def _skip_reason(mutation, lines: list[str], spans, exclude: re.Pattern | None) -> str | None:
    if exclude is not None and exclude.match(mutation.operator_name):
        return "excluded operator"
    start = tuple(mutation.start_pos)
    if any(low <= start < high for low, high in spans):
        return "annotation"
    if "pragma: no mutate" in lines[mutation.start_pos[0] - 1]:
        return "pragma: no mutate"
    return None


def _place(item) -> tuple:
    """Where a mutant sits in its module: the same for every ``cosmic-ray init`` of one source
    (job ids are random), so each shard of a campaign can pick its own share."""
    m = item.mutations[0]
    return (tuple(m.start_pos), tuple(m.end_pos), m.operator_name, m.occurrence)


def in_shard(places: list[tuple], shard: tuple[int, int] | None) -> set[tuple]:
    """The places of shard ``(k, n)``: every n-th in source order, from the k-th (all if None)."""
    if shard is None:
        return set(places)
    k, n = shard
    return set(sorted(places)[k::n])


def _filter(
    db: Path, sandbox: Path, module: str, exclude: list[str], limit, seed, shard=None
) -> dict:
    """Marks the mutants not to run as skipped; returns the count per reason. Mutants of other
    shards are marked too, with the output ``other shard`` (see ``_results``)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    source = (sandbox / module).read_text()
    lines, spans = source.splitlines(), _annotation_spans(source)
    pattern = re.compile("|".join(f"(?:{e})" for e in exclude)) if exclude else None
    skipped: dict[str, int] = {}
    with use_db(str(db), WorkDB.Mode.open) as work_db:
        items = list(work_db.pending_work_items)
        mine = in_shard([_place(item) for item in items], shard)
        keep = []
        for item in items:
            if _place(item) not in mine:
                work_db.set_result(
                    item.job_id,
                    WorkResult(output=OTHER_SHARD, worker_outcome=WorkerOutcome.SKIPPED),
                )
                continue
            reason = _skip_reason(item.mutations[0], lines, spans, pattern)
            if reason is None:
                keep.append(item.job_id)
                continue
            skipped[reason] = skipped.get(reason, 0) + 1
            work_db.set_result(
                item.job_id, WorkResult(output=reason, worker_outcome=WorkerOutcome.SKIPPED)
            )
        if limit is not None and len(keep) > limit:
            drop = set(keep) - set(random.Random(seed).sample(keep, limit))
            skipped["not sampled (--limit)"] = len(drop)
            for job_id in drop:
                work_db.set_result(
                    job_id,
                    WorkResult(output="not sampled", worker_outcome=WorkerOutcome.SKIPPED),
                )
    return skipped


def _changed_line(diff: str | None) -> str:
    if not diff:
        return ""
    removed = [x[1:].strip() for x in diff.splitlines() if x.startswith("-") and x[1:2] != "-"]
    added = [x[1:].strip() for x in diff.splitlines() if x.startswith("+") and x[1:2] != "+"]
    return f"{' '.join(removed)}  ->  {' '.join(added)}"


def _results(db: Path) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    counts = dict(
        killed=0, survived=0, timeout=0, incompetent=0, skipped=0, pending=0, other_shard=0
    )
    survivors = []
    with use_db(str(db), WorkDB.Mode.open) as work_db:
        results = dict(work_db.results)
        for item in work_db.work_items:
            result = results.get(item.job_id)
            mutation = item.mutations[0]
            if result is None:
                counts["pending"] += 1
            elif result.output == OTHER_SHARD:
                counts["other_shard"] += 1
            elif result.worker_outcome in (WorkerOutcome.SKIPPED, WorkerOutcome.NO_TEST):
                counts["skipped"] += 1
            elif result.worker_outcome != WorkerOutcome.NORMAL:
                counts["incompetent"] += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                survivors.append(
                    dict(
                        where=f"{mutation.module_path}:{mutation.start_pos[0]}",
                        operator=mutation.operator_name,
                        function=mutation.definition_name,
                        change=_changed_line(result.diff),
                    )
                )
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                counts["incompetent"] += 1
            elif result.output == "timeout":
                counts["timeout"] += 1
            else:
                counts["killed"] += 1
    survivors.sort(key=lambda s: (s["where"].split(":")[0], int(s["where"].split(":")[1])))
    return dict(counts=counts, survivors=survivors)


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)


def run_module(module: str, tests: list[str], settings: dict, args, sandbox: Path) -> dict:
    stem = Path(module).stem
    config, db = args.out / f"{stem}.toml", args.out / f"{stem}.sqlite"
    command = _test_command(tests)
    record: dict = dict(module=module, tests=tests, shard=args.shard)
    if not (args.resume and db.exists()):
        _write_cosmic_ray_config(config, module, command, 1.0)
        db.unlink(missing_ok=True)
        _run(["cosmic-ray", "init", str(config), str(db)], sandbox)
        record["skipped"] = _filter(
            db,
            sandbox,
            module,
            settings.get("exclude_operators", []),
            args.limit,
            args.seed,
            args.shard,
        )
    else:
        if args.rerun_timeouts:
            record["rerun_timeouts"] = forget(db, "timeouts")
        if args.rerun_survivors:
            record["rerun_survivors"] = forget(db, "survivors", _equivalent(args.verdicts))
    record["generated"] = _count(db)
    if args.dry_run or _results(db)["counts"]["pending"] == 0:  # nothing to run
        record.update(_results(db))
        return record

    env = _cache_env(args.out)
    start = time.perf_counter()
    baseline = subprocess.run(command.split(), cwd=sandbox, capture_output=True, text=True, env=env)
    record["baseline_s"] = round(time.perf_counter() - start, 1)
    if baseline.returncode != 0:
        sys.exit(f"{module}: the unmutated tests fail, fix them first:\n{baseline.stdout[-3000:]}")
    timeout = settings["timeout_factor"] * record["baseline_s"] + settings["timeout_slack"]
    _write_cosmic_ray_config(config, module, command, timeout)
    pending = _results(db)["counts"]["pending"]
    start = time.perf_counter()
    _run(["cosmic-ray", "exec", str(config), str(db)], sandbox, env)
    record["exec_s"] = round(time.perf_counter() - start, 1)
    record.update(_results(db))
    ran = pending - record["counts"]["pending"]  # by this run (a resumed one runs the rest)
    record["seconds_per_mutant"] = round(record["exec_s"] / ran, 1) if ran else None
    return record


def forget(db: Path, which: str, keep: frozenset = frozenset()) -> int:
    """Deletes the results of the mutants that timed out (``which="timeouts"``: a timeout on a
    loaded or paused machine need not be the mutant's) or survived (``"survivors"``: tests were
    added since), so that ``--resume`` runs them again; returns how many. Survivors whose
    ``(where, mutated line)`` is in ``keep`` (shown equivalent) keep their result."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        if which == "timeouts":
            query = "DELETE FROM work_results WHERE output = 'timeout'"
            return connection.execute(query).rowcount
        survivors = connection.execute(
            "SELECT r.job_id, s.module_path, s.start_pos_row, r.diff FROM work_results r "
            "JOIN mutation_specs s ON s.job_id = r.job_id WHERE r.test_outcome = 'SURVIVED'"
        ).fetchall()
        drop = [
            (job,)
            for job, path, row, diff in survivors
            if (f"{path}:{row}", _mutant(_changed_line(diff)).strip()) not in keep
        ]
        connection.executemany("DELETE FROM work_results WHERE job_id = ?", drop)
        return len(drop)


def _count(db: Path) -> int:
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(db), WorkDB.Mode.open) as work_db:
        return work_db.num_work_items


def _summary(records: list[dict]) -> str:
    out = [
        "| module | mutants | skipped | to run | killed | survived | timeouts | incompetent "
        "| kill rate | s/mutant |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        c = r["counts"]
        tested = c["killed"] + c["timeout"] + c["survived"]
        rate = f"{(c['killed'] + c['timeout']) / tested:.1%}" if tested else ""
        mutants = r["generated"] - c.get("other_shard", 0)
        out.append(
            f"| {r['module']} | {mutants} | {c['skipped']} | {c['pending']} "
            f"| {c['killed']} | {c['survived']} | {c['timeout']} | {c['incompetent']} | {rate} "
            f"| {r.get('seconds_per_mutant') or ''} |"
        )
    survivors = [s for r in records for s in r["survivors"]]
    if survivors:
        out += ["", "Survivors:", ""]
        out += [f"- `{s['where']}` {s['operator']}: `{s['change']}`" for s in survivors]
    return "\n".join(out) + "\n"


def _mutant(change: str) -> str:
    """The mutated line of a survivor's ``change`` (``"original  ->  mutated"``)."""
    return change.split("  ->  ", 1)[-1]


def report(records: list[dict], verdicts: list[dict]) -> tuple[str, list[dict], list[dict]]:
    """The results section of a campaign: per module the kill rate of the non-equivalent
    mutants, ``(killed + timeouts) / (ran - equivalent)``, and every survivor with its verdict.

    ``verdicts`` are ``{"where": "path:line", "mutant": <mutated line>, "reason": ...}``, one per
    survivor shown equivalent. Returns the markdown, the survivors no verdict explains and the
    verdicts that match no survivor (stale: their line moved or a test now kills it).
    """
    known = {(v["where"], v["mutant"].strip()): v for v in verdicts}
    used: set[tuple[str, str]] = set()
    unexplained: list[dict] = []
    rows, sections = [], []
    totals = dict.fromkeys(("mutants", "skipped", "ran", "killed", "survived", "equivalent"), 0)
    for r in records:
        c = r["counts"]
        killed = c["killed"] + c["timeout"]
        ran = killed + c["survived"]
        equivalent = 0
        lines = []
        for survivor in r["survivors"]:
            place = (survivor["where"], _mutant(survivor["change"]).strip())
            verdict = known.get(place)
            line = survivor["where"].rsplit(":", 1)[1]
            lines.append(f"- `:{line}` `{survivor['change']}`")
            if verdict is None:
                unexplained.append(survivor)
                lines[-1] += ": **not shown equivalent**"
            else:
                used.add(place)
                equivalent += 1
                lines[-1] += f": equivalent. {verdict['reason'].strip()}"
        rate = f"{killed / (ran - equivalent):.1%}" if ran > equivalent else ""
        mutants = r["generated"] - c.get("other_shard", 0)  # this campaign's share
        share = f"{mutants} of {r['generated']}" if mutants < r["generated"] else f"{mutants}"
        rows.append(
            f"| `{r['module']}` | {share} | {c['skipped']} | {ran} | {c['killed']} "
            f"| {c['timeout']} | {c['survived']} | {equivalent} | {c['pending']} "
            f"| {c['incompetent']} | {rate} |"
        )
        values = (mutants, c["skipped"], ran, killed, c["survived"], equivalent)
        for name, value in zip(totals, values, strict=True):
            totals[name] += value
        if lines:
            sections += ["", f"### `{r['module']}`", "", *lines]
    t = totals
    rate = t["killed"] / (t["ran"] - t["equivalent"]) if t["ran"] > t["equivalent"] else 0.0
    table = [
        "| module | mutants | skipped | ran | killed | timeouts | survived | equivalent | pending "
        "| incompetent | kill rate (non-equivalent) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        f"| **all** | **{t['mutants']:,}** | **{t['skipped']:,}** | **{t['ran']:,}** "
        f"| **{t['killed']:,}** (with timeouts) | | **{t['survived']}** | **{t['equivalent']}** "
        f"| | | **{rate:.1%}** |",
    ]
    stale = [v for v in verdicts if (v["where"], v["mutant"].strip()) not in used]
    text = "\n".join(table)
    if sections:
        text += "\n\n## Survivors, by file and line\n" + "\n".join(sections)
    return text + "\n", unexplained, stale


def _equivalent(verdicts: Path) -> frozenset:
    """The ``(where, mutated line)`` of every survivor shown equivalent in ``verdicts``."""
    entries = tomllib.loads(verdicts.read_text()).get("equivalent", [])
    return frozenset((v["where"], v["mutant"].strip()) for v in entries)


def write_section(page: Path, section: str) -> None:
    """Puts ``section`` between the page's two ``MARKERS`` lines."""
    text = page.read_text()
    start, end = (text.find(m) for m in MARKERS)
    if start < 0 or end < start:
        sys.exit(f"{page} has no {MARKERS[0]} ... {MARKERS[1]} lines to write between")
    page.write_text(text[: start + len(MARKERS[0])] + "\n" + section + text[end:])


def merge(parts: list[list[dict]]) -> list[dict]:
    """One record per module from the ``summary.json`` records of several campaigns (shards of
    one module, or groups of modules): the counts of the mutants each ran add up, and every
    mutant counts once."""
    merged: dict[str, dict] = {}
    for record in (r for part in parts for r in part):
        module = record["module"]
        if module not in merged:
            run_only = ("exec_s", "baseline_s", "rerun_timeouts", "rerun_survivors")
            merged[module] = dict(
                {k: v for k, v in record.items() if k not in run_only},
                counts=dict(record["counts"]),
                survivors=list(record["survivors"]),
                shard=None,
            )
            continue
        m = merged[module]
        if m["generated"] != record["generated"]:
            sys.exit(f"{module}: the campaigns saw different sources, cannot merge them")
        for key, value in record["counts"].items():
            m["counts"][key] = m["counts"].get(key, 0) + value
        m["survivors"] += record["survivors"]
    for m in merged.values():
        c = m["counts"]
        owned = ("killed", "survived", "timeout", "incompetent", "pending", "skipped")
        # Every mutant belongs to one shard, where it ran, waits, or was skipped for a reason of
        # its own: those of no shard merged here belong to shards still to come.
        c["other_shard"] = m["generated"] - sum(c[k] for k in owned)
        # A resumed run's exec_s covers that run alone, so a merge cannot know its campaigns' time
        # per mutant; each --out folder's own summary keeps its last run's.
        m["seconds_per_mutant"] = None
        m["survivors"].sort(key=lambda s: (s["where"].split(":")[0], int(s["where"].split(":")[1])))
    return list(merged.values())


def _read_summary(folder: Path, flag: str) -> list[dict]:
    if not (folder / "summary.json").is_file():
        sys.exit(f"{flag}: {folder} has no summary.json (run or --resume it first)")
    return json.loads((folder / "summary.json").read_text())


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must be K/N, e.g. 0/2; got {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"--shard K/N needs N >= 1 and 0 <= K < N; got {text!r}")
    return k, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules of the config to run (default: all)")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--out", type=Path, default=Path("mutation-results"))
    parser.add_argument("--dry-run", action="store_true", help="count the mutants, run nothing")
    parser.add_argument("--limit", type=int, help="run at most this many mutants per module")
    parser.add_argument("--seed", type=int, default=0, help="which mutants --limit samples")
    parser.add_argument("--resume", action="store_true", help="go on with the sessions in --out")
    parser.add_argument(
        "--rerun-timeouts", action="store_true", help="with --resume: run timed-out mutants again"
    )
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="with --resume: run survivors again, but those shown equivalent in --verdicts",
    )
    parser.add_argument(
        "--report", type=Path, nargs="+", metavar="DIR", help="kill rates of these --out folders"
    )
    parser.add_argument("--verdicts", type=Path, default=VERDICTS)
    parser.add_argument("--write", type=Path, metavar="PAGE", help="with --report: write it here")
    parser.add_argument("--shard", type=_shard, help="K/N: run every N-th mutant, from the K-th")
    parser.add_argument(
        "--merge", type=Path, nargs="+", metavar="DIR", help="add up these --out folders' summaries"
    )
    args = parser.parse_args()
    if (args.rerun_timeouts or args.rerun_survivors) and not args.resume:
        parser.error("--rerun-timeouts and --rerun-survivors go with --resume")
    if args.write and not args.report:
        parser.error("--write goes with --report")
    if args.report:
        records = merge([_read_summary(folder, "--report") for folder in args.report])
        verdicts = tomllib.loads(args.verdicts.read_text()).get("equivalent", [])
        text, unexplained, stale = report(records, verdicts)
        print(text)
        for v in stale:
            print(f"stale verdict (no such survivor): {v['where']} {v['mutant']}", file=sys.stderr)
        if args.write:
            write_section(args.write, text)
        if unexplained:
            sys.exit(f"{len(unexplained)} survivor(s) not shown equivalent: kill or explain them")
        return
    if args.merge:
        records = merge([_read_summary(folder, "--merge") for folder in args.merge])
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(records, indent=2) + "\n")
        (args.out / "summary.md").write_text(_summary(records))
        print(_summary(records))
        return
    _require_cosmic_ray()
    config = tomllib.loads(args.config.read_text())
    modules = config["modules"]
    unknown = set(args.modules) - set(modules)
    if unknown:
        sys.exit(f"not in {args.config}: {sorted(unknown)}; known: {sorted(modules)}")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    sandbox = _sandbox(ROOT)
    records = []
    try:
        for module in args.modules or list(modules):
            record = run_module(module, modules[module]["tests"], config["settings"], args, sandbox)
            records.append(record)
            print(_summary([record]).splitlines()[2], flush=True)
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    (args.out / "summary.json").write_text(json.dumps(records, indent=2) + "\n")
    (args.out / "summary.md").write_text(_summary(records))
    print(_summary(records))


if __name__ == "__main__":
    main()
