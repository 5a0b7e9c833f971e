"""The artifact store: a local folder or a URL, written by the driver only, read by workers."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from codesign.search import ArtifactStore, load_stored_study, parse_study, record_of, run_study, study_store
from codesign.search._reader import study_view


@pytest.mark.parametrize("kind", ["folder", "file-url", "fsspec-memory"])
def test_store_reads_writes_lists_and_publishes_entries_once(kind: str, tmp_path: Path) -> None:
    root = {"folder": str(tmp_path / "store"), "file-url": f"file://{tmp_path / 'store'}",
            "fsspec-memory": "memory://codesign-test-store"}[kind]
    store = ArtifactStore(root)
    assert store.is_local == (kind == "folder")
    assert not store.exists("study/trials/00001/cost_report.json") and store.list("study/trials") == []
    store.write("study/trials/00001/cost_report.json", b'{"a": 1}')
    store.write("study/trials/00001/cost_report.json", b'{"a": 2}')  # a trial's own file is replaced
    assert store.read("study/trials/00001/cost_report.json") == b'{"a": 2}'
    assert store.list("study/trials") == ["00001"]

    first = {"weights.safetensors": b"w1", "result.json": b"{}"}
    assert store.publish("_train_cache/k/full", first)
    assert not store.publish("_train_cache/k/full", {"weights.safetensors": b"w2", "result.json": b"{}"})
    assert store.read("_train_cache/k/full/weights.safetensors") == b"w1"  # the first writer wins
    assert store.local_file("_train_cache/k/full/weights.safetensors").read_bytes() == b"w1"
    assert pickle.loads(pickle.dumps(store)).read("_train_cache/k/full/result.json") == b"{}"
    with pytest.raises(ValueError, match="inside the artifact store"):
        store.read("../outside")
    with pytest.raises(FileNotFoundError):
        store.read("study/missing.json")


def test_a_study_writes_every_file_into_a_url_store_and_the_report_reads_it_back(
    toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers return their files through Ray; with ``artifacts: file://…`` nothing of the study's
    files lands in the runs folder, and a reader of the study finds them through the URL."""
    store_dir = tmp_path / "elsewhere"
    spec = parse_study({**toy.TOY_SPEC, "budget": {"trials": 3}, "fidelity": {"epochs": 2},
                        "artifacts": f"file://{store_dir}"})
    outcome = run_study(spec, evaluate=toy.fidelity, runs_dir=tmp_path / "runs", progress=False)
    assert outcome.artifact_dir == f"file://{store_dir}/toy"
    assert sorted(p.name for p in (store_dir / "toy" / "calls").iterdir()) == ["0-2", "1-2", "2-2"]
    assert not (tmp_path / "runs" / "toy" / "calls").exists()
    assert outcome.artifact_bytes == 0  # the toy's files are empty

    study = load_stored_study("toy", outcome.storage_url)
    assert study_store(outcome.artifact_dir).root == f"file://{store_dir}"
    view = study_view(study)
    assert view.artifact_url == f"file://{store_dir}/toy" and view.artifact_dir is None
    assert all(record_of(t.user_attrs).worker_node_id for t in study.trials)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    local = view.artifact_path(view.trials[0], "calls")
    assert local is not None and local.is_file() and str(local).startswith(str(tmp_path / "cache"))


def test_an_unusable_store_is_one_error_before_anything_is_stored(toy, tmp_path: Path) -> None:
    from codesign.config import ConfigError

    spec = parse_study({**toy.TOY_SPEC, "artifacts": "s4://no-such-scheme/runs"})
    with pytest.raises(ConfigError) as info:
        run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path / "runs", progress=False)
    assert info.value.key == "artifacts" and "s4://no-such-scheme/runs" in str(info.value)
    assert not (tmp_path / "runs").exists()  # no storage, no folder


def test_a_study_keeps_the_artifact_folder_it_was_first_run_with(toy, tmp_path: Path) -> None:
    from codesign.config import ConfigError

    spec = parse_study({**toy.TOY_SPEC, "budget": {"trials": 2}})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path / "first", storage=url, progress=False)
    with pytest.raises(ConfigError) as info:
        run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path / "second", storage=url, progress=False)
    assert info.value.key == "artifacts" and str(tmp_path / "first" / "toy") in str(info.value)
    assert len(load_stored_study("toy", url).trials) == 2  # nothing was added


def test_a_result_whose_network_lost_the_race_with_other_weights_keeps_out_of_it(tmp_path: Path) -> None:
    """Two trials trained the same cache entry; the second's weights differ (unlike machines):
    its scores, computed from its own weights, must not land inside the first's entry."""
    from codesign.search import TrialRecord, TrialResult

    store = ArtifactStore(tmp_path)
    first = TrialResult(TrialRecord(), entries={
        "_train_cache/k/full": {"weights.safetensors": b"A", "result.json": b"{}"},
        "_train_cache/k/full/scores/w4": {"trace.npz": b"from A", "metrics.json": b"{}"}})
    first.save(store)
    same = TrialResult(TrialRecord(), entries={
        "_train_cache/k/full": {"weights.safetensors": b"A", "result.json": b"{}"},
        "_train_cache/k/full/scores/w8": {"trace.npz": b"from A too", "metrics.json": b"{}"}})
    same.save(store)  # the same weights: its other precision's scores belong there
    other = TrialResult(TrialRecord(), entries={
        "_train_cache/k/full": {"weights.safetensors": b"B", "result.json": b"{}"},
        "_train_cache/k/full/scores/w2": {"trace.npz": b"from B", "metrics.json": b"{}"}})
    other.save(store)
    assert store.list("_train_cache/k/full/scores") == ["w4", "w8"]
    assert store.read("_train_cache/k/full/weights.safetensors") == b"A"


class _DictStore(ArtifactStore):
    """An artifact store of a kind codesign does not ship, defined here: files in a dict."""

    def __init__(self, root: str = "dict://in-test") -> None:
        self.root = root
        self.files: dict[str, bytes] = {}

    def exists(self, rel: str) -> bool:
        return rel in self.files or any(k.startswith(rel.rstrip("/") + "/") for k in self.files)

    def read(self, rel: str) -> bytes:
        if rel not in self.files:
            raise FileNotFoundError(rel)
        return self.files[rel]

    def list(self, rel: str) -> list[str]:
        prefix = rel.rstrip("/") + "/"
        return sorted({k[len(prefix):].split("/")[0] for k in self.files if k.startswith(prefix)})

    def write(self, rel: str, data: bytes) -> None:
        self.files[rel] = data

    def delete(self, rel: str) -> None:
        self.files.pop(rel, None)


def test_a_storage_and_an_artifact_store_defined_outside_the_package_are_passed_in(toy, tmp_path: Path) -> None:
    """Neither is chosen from a URL: an Optuna storage object and an artifact store of the
    test's own kind run a study, and nothing lands in the runs folder."""
    import sys

    import optuna
    import ray.cloudpickle

    from codesign.search import register_store_scheme, storage_policy

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers read the store pickled
    storage = optuna.storages.InMemoryStorage()
    store = _DictStore()
    spec = parse_study({**toy.TOY_SPEC, "budget": {"trials": 3}, "fidelity": {"epochs": 2}})
    outcome = run_study(spec, evaluate=toy.fidelity, runs_dir=tmp_path / "runs", storage=storage,
                        artifact_store=store, progress=False)
    assert outcome.storage_url == "<InMemoryStorage>" and outcome.artifact_dir == "dict://in-test/toy"
    study = optuna.load_study(study_name="toy", storage=storage)
    assert len(study.trials) == 3 and all(record_of(t.user_attrs).error is None for t in study.trials)
    assert sorted(store.list("toy/calls")) == ["0-2", "1-2", "2-2"]  # written by the driver, into this store
    assert not any(k.startswith(".codesign-check") for k in store.files)  # the store was checked and cleaned
    assert not (tmp_path / "runs").exists()
    assert storage_policy(storage) == "share"
    assert storage_policy(optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'one.db'}")) == "refuse"
    # registered for its scheme, a root names it as it names a folder or an s3:// store
    register_store_scheme("dict", _DictStore)
    assert type(ArtifactStore("dict://elsewhere")) is _DictStore
    assert type(ArtifactStore(tmp_path)).__name__ == "LocalArtifactStore"
