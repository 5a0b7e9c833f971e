"""The README's walkthrough, run command by command as written, on a tiny quickstart study.

The set-up step is the Makefile's ``quickstart`` recipe (``codesign study run
studies/quickstart.yaml``) with ``--set`` options that shrink the corpus, the training budget
and the trial count, so the study is real (trained, traced, costed) but takes seconds. Every
command of the README block that follows "After the quickstart" then runs unchanged in the
directory the study was run from (the block's own second ``study run``, the study that
``study compare`` sets beside the quickstart, shrunk by the same ``--set`` options), so the
README cannot drift from the CLI: a renamed option, a pick the quickstart's front cannot
satisfy, or a failing step fails this test.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from codesign.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: What shrinks the quickstart to a few seconds; everything else is the study file's.
#: The quickstart shrunk to seconds. Two epochs on 90 utterances of three engines learn little,
#: often nothing above the accuracy floor (2 x chance), which would leave no design to
#: recommend or export: the floor is off here (tests/search test the floor itself).
TINY = ("corpus.size=90", "corpus.n_speakers=10", "fidelity.epochs=2",
        "budget.trials=4", "nested.hw_points=16", "confirm.seeds=2", "trace_batch=4", "floor=none")


def readme_walkthrough() -> list[list[str]]:
    """The commands of the README's bash block after 'After the quickstart', comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"After the quickstart.*?```bash\n(.*?)```", text, re.S)
    assert found is not None, "README has no walkthrough block after 'After the quickstart'"
    steps = [shlex.split(line, comments=True) for line in found.group(1).splitlines() if line.strip()]
    return [s for s in steps if s]  # a comment line is no step


def quickstart_command() -> list[str]:
    """The Makefile's quickstart recipe, without the venv prefix."""
    recipe = re.search(r"^quickstart:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe is not None
    argv = shlex.split(recipe.group(1))
    assert argv[0].endswith("/codesign")
    return argv[1:]


def dashboard_view(url: str) -> dict[str, object]:
    """What optuna-dashboard serves for the first study of ``url`` (its WSGI app, in-process)."""
    import optuna_dashboard

    from codesign.search import open_storage

    app = optuna_dashboard.wsgi(open_storage(url, create=False))

    def get(path: str, query: str = "") -> dict[str, object]:
        status: list[str] = []
        env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO(),
               "wsgi.errors": sys.stderr, "SERVER_NAME": "localhost", "SERVER_PORT": "8080",
               "wsgi.url_scheme": "http"}
        body = b"".join(app(env, lambda s, h, e=None: status.append(s)))
        assert status[0].startswith("200"), (path, status, body[:200])
        return json.loads(body)  # type: ignore[no-any-return]

    study_id = get("/api/studies")["study_summaries"][0]["study_id"]  # type: ignore[index]
    return get(f"/api/studies/{study_id}", "after=0")


@pytest.mark.slow
def test_readme_walkthrough_runs_as_written(ray_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    steps = readme_walkthrough()
    assert [s[:3] for s in steps if s[0] == "codesign"][:2] == [["codesign", "study", "status"],
                                                               ["codesign", "study", "front"]]
    assert any(s[:2] == ["codesign", "export"] for s in steps) and any(s[0] == "optuna-dashboard" for s in steps)

    setup = quickstart_command()
    assert setup == ["study", "run", "studies/quickstart.yaml"]
    setup[2] = str(ROOT / setup[2])
    assert main([*setup, "--no-progress", *(a for kv in TINY for a in ("--set", kv))]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^trial \d+ complete: accuracy=", out, re.M)  # one line per finished trial
    from codesign.search import default_storage_url, load_stored_study, stored_spec

    stored = stored_spec(load_stored_study("quickstart", default_storage_url("quickstart")))
    assert stored.corpus.size == 90 and stored.fidelity.epochs == 2  # --set is recorded with the study

    for argv in steps:
        if argv[0] == "optuna-dashboard":
            served = dashboard_view(argv[1])
            objectives = ["accuracy", "energy_uj", "latency_ms"]
            assert served["objective_names"] == objectives  # not "Objective 0/1/2"
            complete = [t for t in served["trials"] if t["state"] == "Complete"]  # type: ignore[union-attr]
            assert complete
            for trial in complete:
                attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
                assert re.match(r"(degenerate .*: )?accuracy=", attrs["codesign.summary"])  # whole, not cut
                assert not attrs["codesign.summary"].endswith("…")
            # the design points, which the dashboard cannot draw, are trial attributes it shows
            points = [a["value"] for t in complete for a in t["user_attrs"]  # type: ignore[index]
                      if a["key"].startswith("codesign.point.")]
            assert points and all(re.match(r"design \d+\.\d+: accuracy=", p) for p in points)
            continue
        assert argv[0] == "codesign", argv
        if argv[1:3] == ["study", "run"]:  # a second study of the block: shrunk as the quickstart is
            argv = [*argv[:3], str(ROOT / argv[3]), *argv[4:], "--no-progress",
                    *(a for kv in TINY for a in ("--set", kv))]
        status = main(argv[1:])
        captured = capsys.readouterr()
        assert status == 0, (argv, captured.out[-2000:], captured.err[-2000:])
        if argv[1:3] == ["study", "status"]:
            assert "recommended: design " in captured.out and "runner-up" in captured.out
        if argv[1:3] == ["study", "front"]:
            lines = captured.out.splitlines()
            assert lines[0].split()[0] == "id" and "precision" in lines[0]
            assert all(len(line) <= 120 for line in lines[: len(lines) - 4])
            assert re.search(r"^\s*\d+\.\d+\*", captured.out, re.M)  # nested ids; * the recommended one
            assert "±" in captured.out  # the recommendation's candidates were confirmed over 2 seeds
        if argv[1:3] == ["study", "compare"]:
            names = argv[3:argv.index("--out")]
            assert len(names) == 2 and captured.out.startswith("2 studies; hypervolume against one reference")
            assert all(re.search(rf"^{n}\s", captured.out, re.M) for n in names), captured.out
        if argv[1:3] == ["study", "points"]:
            header = captured.out.splitlines()[0].split(",")
            assert header[:2] == ["id", "trial"] and "hw.weight_bits" in header and "below_floor" in header
    assert (tmp_path / "report.html").is_file() and (tmp_path / "best" / "manifest.json").is_file()
    assert (tmp_path / "recommended" / "manifest.json").is_file()
    assert (tmp_path / "compare.html").is_file() and any(s[1:3] == ["study", "compare"] for s in steps)
