"""Pretrained models: stylegan2-ada-pytorch's pickles, read without NVIDIA's code and without running it.

A stylegan2-ada-pytorch snapshot (``network-snapshot-*.pkl``, and the published models) is a plain
``pickle`` of ``{"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}``. Each network is pickled
by ``torch_utils.persistence``: its class's module *source code* travels with it, and the ordinary
unpickler would ``exec`` that source. :func:`read_stylegan2_ada_pickle` reads the file with an
unpickler that knows an allow-list of globals (torch's tensor and storage rebuilders,
``collections.OrderedDict``, numpy scalars and arrays, ``dnnlib.EasyDict``) and turns each
persistent object into plain data (:class:`PersistentRecord`: class name, state) without looking
at its source; any other global is refused with an error naming it. :func:`load_stylegan2_ada`
builds :class:`~lightning_gan.nets.StyleGAN2Generator` and
:class:`~lightning_gan.nets.StyleGAN2Discriminator` with the pickle's configuration and copies the
weights in (outputs within 1e-4 of the reference's: tests/nets/test_pretrained.py).
"""

from __future__ import annotations

import collections
import io
import pickle
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lightning_gan.nets.stylegan2 import FILTER_TAPS, StyleGAN2Discriminator, StyleGAN2Generator

__all__ = [
    "PUBLISHED",
    "PersistentRecord",
    "StyleGAN2ADA",
    "load_stylegan2_ada",
    "read_stylegan2_ada_pickle",
    "resolve_model_file",
    "stylegan2_ada_state_dicts",
]

_BASE = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained"
#: stylegan2-ada-pytorch's published models by the names its ``train.py --resume`` and README use.
PUBLISHED: dict[str, str] = {
    "ffhq256": f"{_BASE}/transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl",
    "ffhq512": f"{_BASE}/transfer-learning-source-nets/ffhq-res512-mirror-stylegan2-noaug.pkl",
    "ffhq1024": f"{_BASE}/transfer-learning-source-nets/ffhq-res1024-mirror-stylegan2-noaug.pkl",
    "celebahq256": f"{_BASE}/transfer-learning-source-nets/celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl",
    "lsundog256": f"{_BASE}/transfer-learning-source-nets/lsundog-res256-paper256-kimg100000-noaug.pkl",
    "ffhq": f"{_BASE}/ffhq.pkl",
    "metfaces": f"{_BASE}/metfaces.pkl",
    "afhqcat": f"{_BASE}/afhqcat.pkl",
    "afhqdog": f"{_BASE}/afhqdog.pkl",
    "afhqwild": f"{_BASE}/afhqwild.pkl",
    "brecahad": f"{_BASE}/brecahad.pkl",
    "cifar10": f"{_BASE}/cifar10.pkl",
}


# ------------------------------------------------------------------------------------ the unpickler
@dataclass
class PersistentRecord:
    """A ``torch_utils.persistence`` object as data: the class's name and the object's ``__dict__``
    (for a network: ``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs``, ...). Its module's
    source code is dropped unread."""

    class_name: str
    state: dict[str, Any]

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs") or {})


class _EasyDict(dict):
    """``dnnlib.EasyDict`` read as a plain dict (it is one, with attribute access)."""


def _persistent_record(meta: Mapping[str, Any]) -> PersistentRecord:
    if not isinstance(meta, Mapping) or meta.get("type") != "class" or "class_name" not in meta:
        raise pickle.UnpicklingError(f"a torch_utils.persistence record of an unknown kind: {type(meta).__name__}")
    return PersistentRecord(str(meta["class_name"]), dict(meta.get("state") or {}))


def _storage_from_bytes(data: bytes) -> Any:
    """``torch.storage._load_from_bytes``: a storage written by ``torch.save``, read weights-only."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _numpy(name: str) -> Any:
    import numpy as np

    if name == "dtype":
        return np.dtype
    if name == "ndarray":
        return np.ndarray
    try:  # numpy >= 2 moved numpy.core to numpy._core
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core import multiarray  # type: ignore[no-redef]
    return getattr(multiarray, name)


def _allowed() -> dict[tuple[str, str], Any]:
    from torch import _utils

    numpy_globals = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        for name in ("scalar", "_reconstruct"):
            numpy_globals[(module, name)] = lambda name=name: _numpy(name)
    numpy_globals[("numpy", "dtype")] = lambda: _numpy("dtype")
    numpy_globals[("numpy", "ndarray")] = lambda: _numpy("ndarray")
    return {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): lambda: _persistent_record,
        ("dnnlib.util", "EasyDict"): lambda: _EasyDict,
        ("dnnlib", "EasyDict"): lambda: _EasyDict,
        ("collections", "OrderedDict"): lambda: collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): lambda: _utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): lambda: _utils._rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): lambda: _utils._rebuild_parameter_with_state,
        ("torch.storage", "_load_from_bytes"): lambda: _storage_from_bytes,
        **numpy_globals,
    }


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: str) -> None:
        super().__init__(file)
        self._path = path
        self._allowed = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        factory = self._allowed.get((module, name))
        if factory is not None:
            return factory()
        hint = ""
        if module.startswith("dnnlib.tflib"):
            hint = (
                " This is a TensorFlow StyleGAN/StyleGAN2 pickle: convert it first with stylegan2-ada-pytorch's "
                "legacy.py (python legacy.py --source=FILE.pkl --dest=converted.pkl)."
            )
        raise pickle.UnpicklingError(
            f"{self._path!r} asks for the global {module}.{name}, which a stylegan2-ada-pytorch pickle does not "
            f"need; refused (nothing in the file was run).{hint} Globals allowed: "
            + ", ".join(sorted(f"{m}.{n}" for m, n in self._allowed))
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(
            f"{self._path!r} holds persistent ids (a torch.save file?): expected a stylegan2-ada-pytorch pickle"
        )


def read_stylegan2_ada_pickle(path: str | Path) -> dict[str, Any]:
    """The snapshot dict of a stylegan2-ada-pytorch pickle, read safely: networks as
    :class:`PersistentRecord`, tensors as tensors, no code from the file imported or run."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"stylegan2-ada pickle {str(path)!r} does not exist")
    with path.open("rb") as f:
        data = _RestrictedUnpickler(f, str(path)).load()
    if not isinstance(data, Mapping) or not any(key in data for key in ("G", "D", "G_ema")):
        keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(
            f"{str(path)!r} is not a stylegan2-ada-pytorch snapshot: expected keys G, D, G_ema; got {keys}"
        )
    return dict(data)


# ---------------------------------------------------------------------------- records to networks
def _tensors(record: PersistentRecord, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
    """``(name, tensor)`` of a module record's parameters and persistent buffers, as ``state_dict`` names them."""
    state = record.state
    skipped = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is not None and name not in skipped:
                yield prefix + name, value.detach()
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, PersistentRecord):
            yield from _tensors(child, f"{prefix}{name}.")
        elif child is not None:
            raise ValueError(
                f"{prefix}{name}: a submodule of type {type(child).__name__}; expected a persistent record"
            )


def _renamed(tensors: Mapping[str, Tensor], resolutions: list[int]) -> dict[str, Tensor]:
    """The reference's names to the package's: ``b{res}`` / ``synthesis.b{res}`` -> ``blocks.{i}``,
    ``mapping.fc{j}`` -> ``mapping_network.layers.{j}``, the D epilogue ``b4.*`` to the top level;
    ``noise_const (H, W)`` -> ``(1, 1, H, W)``; the fixed resampling filters dropped (the package
    makes the same ones)."""
    blocks = {res: index for index, res in enumerate(resolutions)}
    standard = torch.outer(torch.tensor(FILTER_TAPS), torch.tensor(FILTER_TAPS))
    standard = standard / standard.sum()
    out = {}
    for name, value in tensors.items():
        if name.endswith("resample_filter"):
            if value.shape != standard.shape or not torch.allclose(value.float(), standard, atol=1e-6):
                raise ValueError(f"{name}: a resampling filter other than [1, 3, 3, 1]; not supported")
            continue
        name = name.removeprefix("synthesis.")
        name = re.sub(r"^mapping\.fc(\d+)\.", r"mapping_network.layers.\1.", name)
        name = re.sub(r"^mapping\.embed\.", "mapping_network.embed.", name)
        name = name.replace("mapping.w_avg", "w_avg")
        match = re.match(r"^b(\d+)\.(.*)$", name)
        if match:
            res, rest = int(match.group(1)), match.group(2)
            name = f"blocks.{blocks[res]}.{rest}" if res in blocks else rest  # the D epilogue (b4) has no block
        if name.endswith("noise_const"):
            value = value[None, None]
        out[name] = value
    return out


def stylegan2_ada_state_dicts(data: Mapping[str, Any]) -> dict[str, dict[str, Tensor]]:
    """``{"generator", "discriminator", "generator_ema"}`` state dicts, in the package's names, of the
    networks a snapshot (:func:`read_stylegan2_ada_pickle`) holds."""
    out = {}
    for key, role in (("G", "generator"), ("D", "discriminator"), ("G_ema", "generator_ema")):
        record = data.get(key)
        if not isinstance(record, PersistentRecord):
            continue
        resolution = int(record.init_kwargs["img_resolution"])
        sides = [4 << i for i in range(resolution.bit_length() - 3 + 1)]  # 4, 8, ..., resolution
        order = sides if key != "D" else sides[::-1][:-1]  # D's blocks run from the resolution down to 8
        out[role] = _renamed(dict(_tensors(record)), order)
    return out


# Settings of the reference's constructors that change nothing the package computes in float32.
_PERFORMANCE_ONLY = {"num_fp16_res", "fp16_channels_last", "channels_last", "freeze_layers", "use_fp16"}


def _take(kwargs: Mapping[str, Any], where: str, known: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``known``'s keys read from ``kwargs`` (reference defaults otherwise); a setting that would change
    the network's function and that the package does not build is an error naming it."""
    values = {key: kwargs.get(key, default) for key, default in known.items()}
    for key, value in kwargs.items():
        if key in known or key in _PERFORMANCE_ONLY:
            continue
        if key in defaults and value == defaults[key]:
            continue
        raise ValueError(f"stylegan2-ada {where}: {key}={value!r} is not supported by the package's StyleGAN2 networks")
    return values


def generator_kwargs(record: PersistentRecord) -> dict[str, Any]:
    """``StyleGAN2Generator`` arguments equal to a reference ``Generator``'s configuration."""
    kwargs = record.init_kwargs
    top = _take(
        {k: v for k, v in kwargs.items() if k not in ("mapping_kwargs", "synthesis_kwargs")}, "Generator",
        {"z_dim": None, "c_dim": 0, "w_dim": None, "img_resolution": None, "img_channels": None}, {},
    )  # fmt: skip
    mapping = _take(
        kwargs.get("mapping_kwargs") or {}, "Generator mapping_kwargs",
        {"num_layers": 8, "lr_multiplier": 0.01, "w_avg_beta": 0.995},
        {"embed_features": None, "layer_features": None, "activation": "lrelu"},
    )  # fmt: skip
    synthesis = _take(
        kwargs.get("synthesis_kwargs") or {}, "Generator synthesis_kwargs",
        {"channel_base": 32768, "channel_max": 512, "conv_clamp": None},
        {"architecture": "skip", "resample_filter": [1, 3, 3, 1], "kernel_size": 3, "use_noise": True,
         "activation": "lrelu"},
    )  # fmt: skip
    return {
        "latent_dim": int(top["z_dim"]),
        "image_shape": (int(top["img_channels"]), int(top["img_resolution"]), int(top["img_resolution"])),
        "w_dim": int(top["w_dim"]),
        "num_classes": int(top["c_dim"]),
        "mapping_layers": int(mapping["num_layers"]),
        "mapping_lr_multiplier": float(mapping["lr_multiplier"]),
        "w_avg_beta": float(mapping["w_avg_beta"]),
        "channel_base": int(synthesis["channel_base"]),
        "channel_max": int(synthesis["channel_max"]),
        "conv_clamp": None if synthesis["conv_clamp"] is None else float(synthesis["conv_clamp"]),
    }


def _group_size(value: Any) -> int:
    """The reference's ``mbstd_group_size`` (``None``: the whole batch, which the package does not build)."""
    if value is None:
        raise ValueError(
            "stylegan2-ada Discriminator epilogue_kwargs: mbstd_group_size=None (one group of the whole batch) is "
            "not supported; expected an int"
        )
    return int(value)


def discriminator_kwargs(record: PersistentRecord) -> dict[str, Any]:
    """``StyleGAN2Discriminator`` arguments equal to a reference ``Discriminator``'s configuration."""
    kwargs = dict(record.init_kwargs)
    nested = {key: dict(kwargs.pop(key, None) or {}) for key in ("block_kwargs", "mapping_kwargs", "epilogue_kwargs")}
    top = _take(
        kwargs, "Discriminator",
        {"c_dim": 0, "img_resolution": None, "img_channels": None, "architecture": "resnet",
         "channel_base": 32768, "channel_max": 512, "conv_clamp": None, "cmap_dim": None},
        {},
    )  # fmt: skip
    _take(
        nested["block_kwargs"],
        "Discriminator block_kwargs",
        {},
        {"activation": "lrelu", "resample_filter": [1, 3, 3, 1]},
    )
    mapping = _take(nested["mapping_kwargs"], "Discriminator mapping_kwargs", {"num_layers": 8}, {})
    epilogue = _take(
        nested["epilogue_kwargs"], "Discriminator epilogue_kwargs",
        {"mbstd_group_size": 4, "mbstd_num_channels": 1}, {"activation": "lrelu"},
    )  # fmt: skip
    resolution = int(top["img_resolution"])
    return {
        "image_shape": (int(top["img_channels"]), resolution, resolution),
        "num_classes": int(top["c_dim"]),
        "architecture": str(top["architecture"]),
        "channel_base": int(top["channel_base"]),
        "channel_max": int(top["channel_max"]),
        "conv_clamp": None if top["conv_clamp"] is None else float(top["conv_clamp"]),
        "cmap_dim": None if top["cmap_dim"] is None else int(top["cmap_dim"]),
        "mapping_layers": int(mapping["num_layers"]),
        "mbstd_group_size": _group_size(epilogue["mbstd_group_size"]),
        "mbstd_channels": int(epilogue["mbstd_num_channels"]),
    }


@dataclass
class StyleGAN2ADA:
    """A stylegan2-ada-pytorch snapshot as the package's networks.

    Attributes:
        generator: ``G``, a :class:`~lightning_gan.nets.StyleGAN2Generator`.
        discriminator: ``D``, a :class:`~lightning_gan.nets.StyleGAN2Discriminator` (``None`` if the file has none).
        generator_ema: ``G_ema``, the one to sample from (``None`` if the file has none).
        generator_kwargs: the arguments that build the generators (the recipe flags that match).
        discriminator_kwargs: the same for the discriminator.
        augment_p: ADA's probability p when the snapshot was written (``None`` without an ``augment_pipe``).
        training_set: the snapshot's ``training_set_kwargs``.
    """

    generator: StyleGAN2Generator
    discriminator: StyleGAN2Discriminator | None
    generator_ema: StyleGAN2Generator | None
    generator_kwargs: dict[str, Any]
    discriminator_kwargs: dict[str, Any] | None
    augment_p: float | None = None
    training_set: dict[str, Any] = field(default_factory=dict)


def load_stylegan2_ada(path: str | Path, map_location: str | torch.device = "cpu") -> StyleGAN2ADA:
    """Read a stylegan2-ada-pytorch pickle (path, URL or a :data:`PUBLISHED` name) into the package's
    networks, built with the pickle's configuration (z_dim, w_dim, c_dim, resolution, channel
    base/max, mapping layers, architecture, minibatch-stddev group, conv_clamp), in eval mode.

    Nothing in the file is run (:func:`read_stylegan2_ada_pickle`). Computed in float32, the
    networks give the reference's outputs (``force_fp32=True``) for the same z, c, psi and noise.
    """
    data = read_stylegan2_ada_pickle(resolve_model_file(path))
    states = stylegan2_ada_state_dicts(data)
    g_record = data.get("G_ema") if isinstance(data.get("G_ema"), PersistentRecord) else data.get("G")
    if not isinstance(g_record, PersistentRecord):
        raise ValueError(f"{str(path)!r} holds no generator (G or G_ema)")
    g_kwargs = generator_kwargs(g_record)

    def built(cls: type[nn.Module], kwargs: dict[str, Any], role: str) -> Any:
        if role not in states:
            return None
        net = cls(**kwargs)
        net.load_state_dict(states[role])
        return net.eval().requires_grad_(False).to(map_location)

    d_record = data.get("D")
    d_kwargs = discriminator_kwargs(d_record) if isinstance(d_record, PersistentRecord) else None
    generator = built(StyleGAN2Generator, g_kwargs, "generator")
    generator_ema = built(StyleGAN2Generator, g_kwargs, "generator_ema")
    pipe = data.get("augment_pipe")
    p = None
    if isinstance(pipe, PersistentRecord) and "p" in (pipe.state.get("_buffers") or {}):
        p = float(pipe.state["_buffers"]["p"])
    return StyleGAN2ADA(
        generator=generator if generator is not None else generator_ema,
        discriminator=built(StyleGAN2Discriminator, d_kwargs, "discriminator") if d_kwargs else None,
        generator_ema=generator_ema,
        generator_kwargs=g_kwargs,
        discriminator_kwargs=d_kwargs,
        augment_p=p,
        training_set=dict(data.get("training_set_kwargs") or {}),
    )


# ------------------------------------------------------------------------------------ model files
def resolve_model_file(source: str | Path) -> Path:
    """A local file for ``source``: a path, an ``http(s)://`` URL (downloaded once into torch's hub
    cache, ``$TORCH_HOME/hub/lightning_gan``), or a :data:`PUBLISHED` name."""
    text = str(source)
    url = PUBLISHED.get(text) or (text if re.match(r"^https?://", text) else None)
    if url is None:
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"model file {text!r} does not exist; expected a path, an http(s) URL or one of the published "
                f"stylegan2-ada models: {', '.join(PUBLISHED)}"
            )
        return path
    cache = Path(torch.hub.get_dir()) / "lightning_gan"
    target = cache / url.rsplit("/", 1)[-1]
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(target), progress=True)
        except Exception as error:  # no network: say what to fetch and where it goes
            raise RuntimeError(
                f"could not download {url} ({type(error).__name__}: {error}); download it by hand to {target} "
                "or pass a local path"
            ) from error
    return target
