"""Read a finished (or running) training run back: its configuration and metric history.

Three kinds of run are read into one :class:`Run`:

- a W&B run folder on disk (``.../wandb/offline-run-*/`` or ``.../wandb/run-*/``): its ``run-*.wandb``
  file is read directly (:func:`read_wandb_records`), without a login or a network;
- a Lightning ``CSVLogger`` folder (``metrics.csv`` with ``config.yaml`` or ``hparams.yaml``);
- a W&B run online, ``entity/project/run_id``, through ``wandb.Api()`` when a login and the server exist.

Steps are generator iterations: the ``step`` column of ``metrics.csv``, ``trainer/global_step`` in W&B.
"""

from __future__ import annotations

import csv
import json
import re
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Run", "find_runs", "flatten_config", "read_csv_run", "read_run", "read_wandb_records", "read_wandb_run"]

STEP_KEY = "trainer/global_step"  # the x-axis Lightning's WandbLogger logs with every metric
_RUN_PATH = re.compile(r"^[\w.-]+/[\w.-]+/[\w.-]+$")  # entity/project/run_id


@dataclass
class Run:
    """One run: ``config`` is flat (dotted keys, e.g. ``model.init_args.loss``); ``history`` maps each scalar
    metric to ``(step, value)`` pairs in logging order, step = generator iteration."""

    name: str
    config: dict[str, Any]
    history: dict[str, list[tuple[int, float]]]
    source: str  # "wandb-offline" (a W&B folder on disk), "csv" or "wandb-online"
    path: str = ""  # the folder read, or the W&B run path
    project: str | None = None  # W&B only, as are group, job_type and tags
    group: str | None = None
    job_type: str | None = None
    tags: tuple[str, ...] = ()
    images: dict[str, list[tuple[int, Path]]] = field(default_factory=dict)  # key -> (step, file), W&B on disk
    step_metrics: dict[str, str] = field(default_factory=dict)  # define_metric: metric name or glob -> its x-axis

    def metric(self, key: str) -> list[tuple[int, float]]:
        """The history of ``key``; a ``KeyError`` names the metrics the run logged when it has none."""
        if key not in self.history:
            raise KeyError(f"run {self.name!r} logged no metric {key!r}; it logged: {sorted(self.history)}")
        return self.history[key]


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"init_args": {"loss": "hinge"}}}`` -> ``{"model.init_args.loss": "hinge"}`` (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# ---------------------------------------------------------------------------------------------- finding runs
def find_runs(path: str | Path) -> list[Path]:
    """The run folders at or under ``path``: W&B run folders (holding ``run-*.wandb``) and CSV log folders
    (holding ``metrics.csv``). ``path`` may also be one of those files. Raises ``FileNotFoundError`` if
    ``path`` does not exist."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no run folder or file at {str(path)!r}")
    if path.is_file():
        if path.suffix == ".wandb" or path.name == "metrics.csv":
            return [path.parent]
        raise ValueError(f"{str(path)!r} is a file but not a run's `run-*.wandb` or `metrics.csv`")
    found = {p.parent.resolve(): p.parent for pattern in ("run-*.wandb", "metrics.csv") for p in path.rglob(pattern)}
    return sorted(found.values())


def read_run(path: str | Path) -> Run:
    """Read one run: a W&B run folder, a folder holding exactly one run (e.g. ``--trainer.default_root_dir``),
    a CSV log folder, or a W&B run path ``entity/project/run_id`` (online; needs a login and the server)."""
    text = str(path)
    if not Path(text).exists() and _RUN_PATH.match(text):
        return read_wandb_online(text)
    runs = find_runs(text)
    if not runs:
        raise FileNotFoundError(
            f"{text!r} holds no run: expected a W&B run folder (run-*.wandb) or a CSV log folder (metrics.csv)"
        )
    if len(runs) > 1:
        listing = "\n  ".join(str(r) for r in runs)
        raise ValueError(f"{text!r} holds {len(runs)} runs; pass one of them:\n  {listing}")
    (folder,) = runs
    return read_wandb_run(folder) if any(folder.glob("run-*.wandb")) else read_csv_run(folder)


# ---------------------------------------------------------------------------------------------- W&B on disk
# The .wandb file: a 7-byte header (":W&B", magic 0xBEE1, version 0), then LevelDB-log framing: 32 KiB
# blocks of chunks, each with a 7-byte header (CRC-32 of type byte + data, little-endian length, type).
_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def read_wandb_records(path: str | Path) -> Iterator[Any]:
    """The ``wandb_internal_pb2.Record`` messages of a ``run-*.wandb`` file, in order.

    A run still being written may end in a partial record; reading stops there. A corrupt chunk (wrong
    checksum) raises ``ValueError`` naming the file and the offset.
    """
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    if len(data) < _FILE_HEADER.size:
        raise ValueError(f"{str(path)!r}: {len(data)} bytes, too short for a W&B run file")
    ident, magic, version = _FILE_HEADER.unpack_from(data)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{str(path)!r} is not a W&B run file (header {data[:7]!r})")
    if version != 0:
        raise ValueError(f"{str(path)!r}: W&B run file format version {version}; this reader knows version 0")
    pos, pending = _FILE_HEADER.size, b""
    while pos + _CHUNK_HEADER.size <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _CHUNK_HEADER.size:  # the block's tail is padding
            pos += left_in_block
            continue
        checksum, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        if kind == 0 and length == 0:  # zero padding: nothing written past here
            break
        chunk = data[pos + _CHUNK_HEADER.size : pos + _CHUNK_HEADER.size + length]
        if len(chunk) < length:
            break  # a record the writer has not finished
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != checksum:
            raise ValueError(f"{str(path)!r}: corrupt record at byte {pos} (checksum mismatch)")
        pos += _CHUNK_HEADER.size + length
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _item_key(item: Any) -> str:
    return item.key or ".".join(item.nested_key)


def read_wandb_run(folder: str | Path) -> Run:
    """Read a W&B run folder on disk (``offline-run-*`` or a synced ``run-*``): config, history, images, tags."""
    folder = Path(folder)
    files = sorted(folder.glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"no run-*.wandb file in {str(folder)!r}: not a W&B run folder")
    config: dict[str, Any] = {}
    history: dict[str, list[tuple[int, float]]] = {}
    images: dict[str, list[tuple[int, Path]]] = {}
    step_metrics: dict[str, str] = {}
    name, project, group, job_type, tags = folder.name, None, None, None, ()
    step: int | None = None
    for record in read_wandb_records(files[-1]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            name, project = run.display_name or run.run_id or name, run.project or None
            group, job_type, tags = run.run_group or None, run.job_type or None, tuple(run.tags)
            _apply_config(config, run.config)
        elif kind == "config":
            _apply_config(config, record.config)
        elif kind == "metric" and record.metric.step_metric:
            step_metrics[record.metric.name or record.metric.glob_name] = record.metric.step_metric
        elif kind == "history":
            row = {_item_key(item): json.loads(item.value_json) for item in record.history.item}
            # a row without the axis (logged around Lightning) takes the last one seen, as W&B's step_sync does
            step = int(row[STEP_KEY]) if _is_number(row.get(STEP_KEY)) else step
            at = step if step is not None else int(row.get("_step", 0))
            _add_row(row, at, folder, history, images)
    config.pop("_wandb", None)
    return Run(
        name=name,
        config=flatten_config(config),
        history=history,
        source="wandb-offline",
        path=str(folder),
        project=project,
        group=group,
        job_type=job_type,
        tags=tags,
        images=images,
        step_metrics=step_metrics,
    )


def _apply_config(config: dict[str, Any], record: Any) -> None:
    for item in record.update:
        config[_item_key(item)] = json.loads(item.value_json)
    for item in record.remove:
        config.pop(_item_key(item), None)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _add_row(
    row: dict[str, Any],
    step: int,
    folder: Path,
    history: dict[str, list[tuple[int, float]]],
    images: dict[str, list[tuple[int, Path]]],
) -> None:
    # a media entry (an image) arrives as nested keys: samples._type, samples.filenames, samples.width, ...
    media: dict[str, dict[str, Any]] = {key[: -len("._type")]: {} for key in row if key.endswith("._type")}
    for key, value in row.items():
        head, _, leaf = key.rpartition(".")
        if head in media:
            media[head][leaf] = value
        elif not key.startswith("_") and key != STEP_KEY and _is_number(value):
            history.setdefault(key, []).append((step, float(value)))
    for key, entry in media.items():
        names = entry.get("filenames") or ([entry["path"]] if "path" in entry else [])
        if str(entry.get("_type", "")).startswith("image"):
            images.setdefault(key, []).extend((step, folder / "files" / name) for name in names)


# ---------------------------------------------------------------------------------------------- CSV
class _TolerantLoader(yaml.SafeLoader):
    """Reads ``hparams.yaml`` files whose values carry Python tags, as plain strings."""


_TolerantLoader.add_multi_constructor("", lambda loader, suffix, node: f"{suffix}:{getattr(node, 'value', '')}")


def read_csv_run(folder: str | Path) -> Run:
    """Read a Lightning ``CSVLogger`` folder: ``metrics.csv`` (its ``step`` column is the generator iteration)
    and, as config, the ``lightning-gan`` command's ``config.yaml`` when present, else ``hparams.yaml``."""
    folder = Path(folder)
    metrics = folder / "metrics.csv"
    if not metrics.is_file():
        raise FileNotFoundError(f"no metrics.csv in {str(folder)!r}: not a CSV log folder")
    history: dict[str, list[tuple[int, float]]] = {}
    with metrics.open(newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(float(row.pop("step")))
            for key, text in row.items():
                if text not in ("", None):
                    history.setdefault(key, []).append((step, float(text)))
    config: dict[str, Any] = {}
    for name in ("config.yaml", "hparams.yaml"):
        if (folder / name).is_file():
            config = yaml.load((folder / name).read_text(), Loader=_TolerantLoader) or {}
            break
    parts = folder.parts[-2:]
    return Run(name="/".join(parts), config=flatten_config(config), history=history, source="csv", path=str(folder))


# ---------------------------------------------------------------------------------------------- W&B online
def read_wandb_online(run_path: str) -> Run:
    """Read ``entity/project/run_id`` with ``wandb.Api()``; needs a W&B login and the server."""
    from lightning_gan.loggers import has_wandb_credentials, wandb_reachable

    if not has_wandb_credentials():
        raise FileNotFoundError(
            f"no run folder {run_path!r}, and as a W&B run path it needs a login (WANDB_API_KEY or `wandb login`)"
        )
    if not wandb_reachable():
        raise ConnectionError(f"no run folder {run_path!r}, and the W&B server cannot be reached to fetch it")
    import wandb

    run = wandb.Api().run(run_path)
    history: dict[str, list[tuple[int, float]]] = {}
    for row in run.scan_history():
        if not _is_number(row.get(STEP_KEY)):
            continue
        _add_row(row, int(row[STEP_KEY]), Path(), history, {})
    config = {key: value for key, value in dict(run.config).items() if not key.startswith("_")}
    return Run(
        name=run.name or run.id,
        config=flatten_config(config),
        history=history,
        source="wandb-online",
        path=run_path,
        project=run.project,
        group=run.group or None,
        job_type=run.job_type or None,
        tags=tuple(run.tags or ()),
    )
