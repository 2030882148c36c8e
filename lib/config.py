"""The one configuration object of a run.

A :class:`Config` holds every knob of a training run with its default. It validates itself on
construction (unknown names, wrong types and impossible values fail loudly, before any compute)
and derives computed values (steps, scaled learning rate) as properties.

A run is identified by a hash of the fields that change its result (:meth:`Config.run_id`), so
asking again for a finished run loads its record instead of training again. Fields that only say
*where* or *how fast* a run happens (device, data directory, progress display, ...) are left out
of the hash: a record made on a GPU is found again from a CPU machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

# The allowed values of a knob live in the module that implements it: the tasks, their losses, views
# and rules in their methods (lib.methods); the ones only a run's set-up knows (devices, precisions,
# tracking) here.
from . import methods
from .data import BUILTIN_DATASETS
from .losses import TRIPLET_MINING
from .models import ARCHS, HEAD_LAST_BN, STEMS
from .optim import LR_SCALINGS, OPTIMIZERS, scaled_learning_rate
from .paths import repo_path, resolve_runs_dir  # noqa: F401 (repo_path: re-exported, notebooks and scripts use it)
from .views import CROP_SAMPLERS

DATA_DRAWS: tuple[str, ...] = ("fixed", "per_seed")  # Config.data_draw
from .views import OPERATIONS as VIEW_OPERATIONS
from .views import ViewConfig

VIEW_DEFAULTS = ViewConfig()  # the augmentations' defaults (SimCLR's) are views.ViewConfig's, not repeated here

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
WANDB_MODES = ("disabled", "offline", "online")
# lib.step_options' switches that a run takes through ``speed`` (compile and precision have fields of
# their own; channels_last and metrics summed on the device are how every run trains)
SPEED_SWITCHES = ("foreach_lars", "cuda_graphs")


@dataclass(frozen=True)
class Config:
    """Every knob of a run. Help texts (the ``help`` metadata) are what ``--help`` prints."""

    # ---- what to run ------------------------------------------------------------------------
    task: str = field(default="pretrain", metadata={
        "help": "what to train: a registered method (lib.methods: pretrain, supervised, finetune, distill, ...)"})
    seed: int = field(default=0, metadata={"help": "seed of every random number generator of the run"})

    # ---- data -------------------------------------------------------------------------------
    dataset: str = field(default="sample", metadata={
        "help": f"{', '.join(BUILTIN_DATASETS)} or imagefolder:<path> (a <path>/<split>/<class>/<image> tree)"})
    train_size: int = field(default=0, metadata={
        "help": "training images used: 0 = all, else a class-balanced subset of that many"})
    test_size: int = field(default=0, metadata={
        "help": "test images used for evaluation: 0 = all, else a class-balanced subset"})
    label_fraction: float = field(default=1.0, metadata={
        "help": "fraction of training labels used by supervised/finetune/distill, in (0, 1]; "
                "stratified and nested (the 1 % subset lies inside the 10 % one)"})
    # The default stays "fixed" (= the legacy value, left out of the hash) so that no committed run id
    # moves; issue #24's new profile sets data_draw="per_seed" on its runs.
    data_draw: str = field(default="fixed", metadata={
        "help": "which random draw picks the data subsets: fixed (draw 0 for every seed, as every run before "
                "issue #24: the spread over seeds is optimisation noise only) or per_seed (seed s draws its own "
                "training subset, validation split and labelled subset, so the spread counts the data too)",
        "legacy": "fixed"})
    val_size: int = field(default=0, metadata={
        "help": "validation images carved from the training images (class-balanced, drawn as data_draw says) "
                "and removed from training, for choosing settings (a layer, a learning rate) never on the test "
                "set; 0 = none", "added": True})

    # ---- model ------------------------------------------------------------------------------
    arch: str = field(default="small_cnn", metadata={"help": f"encoder: {', '.join(ARCHS)}"})
    width: float = field(default=1.0, metadata={"help": "width multiplier of the encoder's channels"})
    stem: str = field(default="auto", metadata={
        "help": "ResNet stem: cifar (3x3 stride 1, no max-pool), imagenet (7x7 stride 2 + max-pool), "
                "auto (cifar for images <= 64 px)"})
    head_layers: int = field(default=2, metadata={
        "help": "projection head depth: 0 none, 1 linear, k >= 2 MLP (SimCLR 2, SimCLRv2 3)"})
    head_hidden_dim: int = field(default=0, metadata={
        "help": "width of the head's hidden layers; 0 = the encoder's feature width"})
    proj_dim: int = field(default=128, metadata={"help": "output width of the projection head (z)"})
    head_last_bn: str = field(default="affine", metadata={
        "help": "BatchNorm after the head's output layer (heads of >= 2 layers, and a linear head with "
                "linear_head_bn): affine (scale and shift: lightly's SimCLRProjectionHead), scale (no shift: "
                "the official SimCLR head, model_util.py linear_layer with center=False), none (a Linear with "
                "bias: solo-learn, dkobak/simclr-cifar10)",
        "added": True})
    linear_head_bn: bool = field(default=False, metadata={
        "help": "a linear head (head_layers=1) ends in head_last_bn's BatchNorm, as the official SimCLR code's "
                "linear head does (linear_layer(use_bias=False, use_bn=True)), so that it differs from the "
                "nonlinear head only in its hidden layer; false: a Linear with bias (the runs before issue #24)",
        "added": True})

    # ---- views (augmentations) --------------------------------------------------------------
    views: str = field(default="", metadata={
        "help": "comma-separated augmentations of the first branch, applied in order "
                f"({', '.join(VIEW_OPERATIONS)}); crop must come first; empty = the task's default: "
                "SimCLR's crop,flip,color,gray for pretrain and supervised contrastive (Khosla et al.'s "
                "SimAugment), crop,flip for the classifiers and triplet (supervised ce, finetune, distill: the "
                "papers' supervised augmentation)"})
    views2: str = field(default="", metadata={
        "help": "augmentations of the second branch; empty = same as views; 'none' = identity "
                "(the image resized only), as in SimCLR's Figure 5 ablation"})
    image_size: int = field(default=0, metadata={"help": "side of the views in pixels; 0 = native size"})
    crop_scale_min: float = field(default=VIEW_DEFAULTS.crop_scale[0], metadata={
        "help": "smallest crop area as a fraction of the image (SimCLR: 0.08)"})
    color_strength: float = field(default=VIEW_DEFAULTS.color_strength, metadata={
        "help": "colour distortion strength s (SimCLR: 0.5 for CIFAR-10, 1.0 for ImageNet)"})
    blur_p: float = field(default=VIEW_DEFAULTS.blur_p, metadata={"help": "probability of Gaussian blur when 'blur' is in views"})
    gray_p: float = field(default=VIEW_DEFAULTS.gray_p, metadata={
        "help": "probability of grayscale when 'gray' is in views (SimCLR data_util.py: 0.2; dkobak/simclr-cifar10: 0.1)",
        "added": True})
    crop_sampler: str = field(default="torchvision", metadata={
        "help": "how random resized crops are drawn: torchvision (as RandomResizedCrop: sizes rounded to whole "
                "pixels before the fit test, one of the H - h + 1 whole-pixel offsets, resampled from inside the box "
                "only) or subpixel (the sampler before issue #27, which trained the records that lack this field: "
                "the fit test on unrounded sizes, so crops 3 % smaller in mean area; continuous offsets, so the "
                "border pixels are covered about half as often; the outermost output rows blend in the pixels just "
                "outside the box)",
        "legacy": "subpixel"})

    # ---- loss -------------------------------------------------------------------------------
    loss: str = field(default="", metadata={
        "help": "pretrain: ntxent; supervised: ce, supcon or triplet; empty = the task's default "
                "(ntxent for pretrain, ce for supervised)"})
    temperature: float = field(default=0.5, metadata={
        "help": "temperature of NT-Xent / supervised contrastive (SimCLR CIFAR-10: 0.5)"})
    ntxent_normalize: bool = field(default=True, metadata={
        "help": "pretrain: l2-normalise z in NT-Xent (cosine similarity, as in SimCLR); false: raw dot "
                "product over the temperature (SimCLR Table 5)", "added": True})
    triplet_margin: float = field(default=0.2, metadata={"help": "margin of the triplet loss"})
    triplet_mining: str = field(default="batch_hard", metadata={"help": f"triplet mining: {', '.join(TRIPLET_MINING)}"})

    # ---- optimisation -----------------------------------------------------------------------
    epochs: int = field(default=10, metadata={"help": "passes over the training images"})
    batch_size: int = field(default=256, metadata={
        "help": "images per step over all processes (each gives two views in contrastive tasks); "
                "under torchrun it is split evenly over the processes and must divide by their number"})
    optimizer: str = field(default="lars", metadata={"help": f"{', '.join(OPTIMIZERS)}"})
    lr: float = field(default=0.3, metadata={
        "help": "base learning rate, scaled by lr_scaling (SimCLR: 0.3 x batch/256 with LARS)"})
    lr_scaling: str = field(default="linear", metadata={
        "help": "linear: lr x batch/256; sqrt: lr x sqrt(batch); none: lr as given"})
    weight_decay: float = field(default=1e-6, metadata={"help": "weight decay (biases and norm layers excluded)"})
    momentum: float = field(default=0.9, metadata={"help": "momentum of LARS / SGD"})
    lars_trust: float = field(default=0.001, metadata={
        "help": "LARS trust coefficient eta (official SimCLR lars_optimizer.py: eeta=0.001; solo-learn's "
                "simclr.yaml: eta=0.02 with lars_clip); ignored unless optimizer=lars", "added": True})
    lars_clip: bool = field(default=False, metadata={
        "help": "solo-learn's LARS variant (solo/utils/lars.py, clip_lr): trust eta ||w|| / (||g|| + wd ||w||) "
                "and every layer's rate clipped at the global rate; false: the official SimCLR LARS; "
                "ignored unless optimizer=lars", "added": True})
    warmup_epochs: float = field(default=1.0, metadata={"help": "linear warm-up, then cosine decay to 0"})
    warmup_fraction: float = field(default=0.0, metadata={
        "help": "if > 0: the warm-up as a fraction of the run's steps instead of warmup_epochs (which must be 0); "
                "how a reference recipe keeps its warm-up at another length (SimCLR: 10 of 1,000 epochs = 0.01)",
        "added": True})

    # ---- fine-tuning and distillation (SimCLRv2) --------------------------------------------
    pretrained: str = field(default="", metadata={
        "help": "finetune: id of the pretraining run to start from (its encoder and head)"})
    finetune_layer: int = field(default=0, metadata={
        "help": "finetune: fine-tune from this head layer (0 = encoder output h, 1 = the head's first layer)"})
    teacher: str = field(default="", metadata={"help": "distill: id of the fine-tuned teacher run"})
    distill_temperature: float = field(default=1.0, metadata={"help": "distill: temperature of SimCLRv2 eq. 3"})
    distill_alpha: float = field(default=0.0, metadata={
        "help": "distill: weight of the cross-entropy on labelled images added to the distillation loss"})

    # ---- monitoring and evaluation ----------------------------------------------------------
    knn_k: int = field(default=200, metadata={"help": "neighbours of the weighted kNN classifier"})
    knn_t: float = field(default=0.1, metadata={"help": "temperature of the weighted kNN classifier"})
    monitor_size: int = field(default=2000, metadata={
        "help": "test images for the per-epoch kNN monitor (0 = no monitor)"})
    eval_every: int = field(default=1, metadata={"help": "epochs between monitor evaluations"})
    final_eval: bool = field(default=True, metadata={
        "help": "run the full evaluation battery (kNN, linear probe, Recall@K, MAP@R, NMI/ARI) at the end"})
    save_embeddings: int = field(default=500, metadata={
        "help": "test embeddings kept in the run record for plots (0 = none)"})
    snapshot_epochs: str = field(default="", metadata={
        "help": "comma-separated epochs at which test embeddings are also kept (for UMAP over training)"})

    # ---- runtime: where and how fast; not part of the run's identity -------------------------
    device: str = field(default="auto", metadata={"help": "auto (cuda if available), cpu or cuda", "runtime": True})
    precision: str = field(default="auto", metadata={
        "help": "auto (bf16 autocast on CUDA, fp32 on CPU), fp32 or bf16", "runtime": True})
    compile: bool = field(default=False, metadata={"help": "torch.compile the model (CUDA)", "runtime": True})
    speed: str = field(default="", metadata={
        "help": "comma-separated speed switches of lib/step_options.py: foreach_lars (LARS writes its update into "
                "the gradients), cuda_graphs (torch.compile mode reduce-overhead; CUDA only); the same maths",
        "runtime": True})
    data_dir: str = field(default="", metadata={
        "help": "where data sets live; empty = $THESIS_DATA_DIR or ./data", "runtime": True})
    download: bool = field(default=False, metadata={
        "help": "download a missing built-in data set (needs internet)", "runtime": True})
    runs_dir: str = field(default="", metadata={
        "help": "where run records go; empty = $THESIS_RUNS_DIR or ./runs", "runtime": True})
    wandb: str = field(default="disabled", metadata={
        "help": f"Weights & Biases logging: {', '.join(WANDB_MODES)}", "runtime": True})
    progress: bool = field(default=True, metadata={"help": "show a progress display", "runtime": True})
    checkpoint_every: int = field(default=1, metadata={
        "help": "epochs between checkpoints (the last epoch is always saved); a resumed run redoes "
                "the epochs since the last one", "runtime": True})
    checkpoint_seconds: float = field(default=0.0, metadata={
        "help": "if > 0, checkpoint an epoch only when this many seconds of wall time have passed since the "
                "last checkpoint, instead of every checkpoint_every epochs (the last epoch is always saved): "
                "bounds the work an interruption loses while short GPU epochs skip most writes", "runtime": True})

    def __post_init__(self) -> None:
        _check_types(self)
        _canonicalise(self)
        errors = list(_value_errors(self))
        if errors:
            raise ValueError("invalid config: " + "; ".join(errors))

    # ---- derived values ---------------------------------------------------------------------
    @property
    def loss_name(self) -> str:
        """The loss actually used (the task's default when ``loss`` is empty)."""
        if self.loss:
            return self.loss
        return self.method.default_loss

    @property
    def method(self) -> methods.Method:
        """The training method of ``task`` (:mod:`lib.methods`): its losses, views and rules."""
        return methods.get(self.task)

    @property
    def effective_views(self) -> str:
        """``views``, or the method's default views for its loss when it is empty (``Method.default_views``:
        SimCLR's views for pretraining and supervised contrastive, crop and flip for the classifiers)."""
        return self.views or self.method.default_views(self.loss_name)

    @property
    def views_list(self) -> tuple[str, ...]:
        return split_list(self.effective_views)

    @property
    def views2_list(self) -> tuple[str, ...]:
        if self.views2 == "":
            return self.views_list
        if self.views2 == "none":
            return ()
        return split_list(self.views2)

    @property
    def scaled_lr(self) -> float:
        """Peak learning rate after batch-size scaling (SimCLR Appendix B.1, :func:`lib.optim.scaled_learning_rate`)."""
        return scaled_learning_rate(self.lr, self.batch_size, self.lr_scaling)

    def warmup_steps(self, steps_per_epoch: int) -> int:
        """Steps of the linear warm-up: ``warmup_fraction`` of the run, else ``warmup_epochs`` epochs."""
        if self.warmup_fraction > 0:
            return round(self.warmup_fraction * steps_per_epoch * self.epochs)
        return round(self.warmup_epochs * steps_per_epoch)

    @property
    def speed_list(self) -> tuple[str, ...]:
        """``speed`` as a tuple of switch names."""
        return split_list(self.speed)

    @property
    def snapshot_epoch_list(self) -> tuple[int, ...]:
        return tuple(int(s) for s in split_list(self.snapshot_epochs))

    # ---- identity ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """The fields that determine the run's result (runtime fields left out).

        A field added after records existed (metadata ``added``) enters only when it differs from
        its default, so the run ids of earlier records stay valid. A field whose default changed what
        runs do (metadata ``legacy``: the value every earlier record was made with) enters only when it
        differs from that legacy value: earlier records keep their ids, and every run at the new
        default gets a new id. ``views`` enters as the views actually used, so leaving it empty names
        the same run as spelling out the task's default."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if not f.metadata.get("runtime")
               and not (f.metadata.get("added") and getattr(self, f.name) == f.default)
               and not ("legacy" in f.metadata and getattr(self, f.name) == f.metadata["legacy"])}
        out["views"] = self.effective_views
        return out

    def config_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def run_id(self) -> str:
        """``<task>-<first 12 hex digits of the config hash>``: the name of the run's record."""
        return f"{self.task}-{self.config_hash()[:12]}"

    def replace(self, **changes: Any) -> "Config":
        return from_dict({**self.to_dict(), **changes})

    def resolved_runs_dir(self) -> Path:
        return resolve_runs_dir(self.runs_dir)


# ---- construction from files and key=value overrides -------------------------------------------

FIELD_NAMES = tuple(f.name for f in fields(Config))


def from_dict(values: Mapping[str, Any]) -> Config:
    """A Config from a mapping; unknown names fail with the closest known names."""
    unknown = [k for k in values if k not in FIELD_NAMES]
    if unknown:
        raise ValueError("unknown config parameter(s): " + ", ".join(
            f"{k!r}{_suggest(k)}" for k in unknown) + f". Known parameters: {', '.join(FIELD_NAMES)}")
    return Config(**values)


def from_stored(values: Mapping[str, Any]) -> Config:
    """The Config of a stored record's ``config.json``: a ``legacy`` field it lacks was written before
    that field existed, so it takes the legacy value (the behaviour the record was made with), not
    today's default."""
    legacy = {f.name: f.metadata["legacy"] for f in fields(Config) if "legacy" in f.metadata}
    return from_dict({**{k: v for k, v in legacy.items() if k not in values}, **values})


def legacy_overrides(values: Mapping[str, Any]) -> list[str]:
    """``key=value`` overrides restoring the legacy fields a stored ``config.json`` lacks: with them,
    ``--config <that file>`` names the stored run again (``load_config`` reads a file as today's
    defaults, :func:`from_stored` as the record's)."""
    return [f"{f.name}={f.metadata['legacy']}" for f in fields(Config)
            if "legacy" in f.metadata and f.name not in values]


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, typed value), the type taken from the field's default."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if key not in FIELD_NAMES:
        raise ValueError(f"unknown config parameter {key!r}{_suggest(key)}")
    return key, _coerce(key, raw.strip())


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                **values: Any) -> Config:
    """Config from an optional TOML/JSON file, then keyword values, then ``key=value`` strings.

    A keyword ``task`` (what the command line's subcommand asks for) decides the task: a file or an
    override that names another task is refused, since training the other task under the command's
    name was the failure this guards against (``supervised --config f.toml`` trained pretraining)."""
    merged: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        if path.suffix not in (".toml", ".json"):
            raise ValueError(f"config file {path} must be .toml or .json")
        try:
            contents = tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"config file {path} is not valid {path.suffix[1:].upper()}: {e}") from None
        if not isinstance(contents, dict):
            raise ValueError(f"config file {path} must hold key = value pairs (a TOML table or a JSON object), "
                             f"not a {type(contents).__name__}")
        _check_task(values.get("task"), contents.get("task"), f"config file {path}")
        merged.update(contents)
    merged.update(values)
    for text in overrides:
        key, value = parse_override(text)
        _check_task(values.get("task"), value if key == "task" else None, f"override {text!r}")
        merged[key] = value
    return from_dict(merged)


def _check_task(command: Any, asked: Any, where: str) -> None:
    """A ValueError when ``where`` asks for a task other than the command's (``command`` None: no command)."""
    if command is not None and asked is not None and asked != command:
        raise ValueError(f"{where} says task = {asked!r} but the command is {command!r}; run "
                         f"`python -m lib {asked} ...` for that task, or remove task from the file")


def help_table() -> str:
    """Every knob with its default and help, for ``--help``."""
    lines = []
    for f in fields(Config):
        default = f.default
        lines.append(f"  {f.name:<20} (default {default!r}) {f.metadata.get('help', '')}")
    return "\n".join(lines)


# ---- validation --------------------------------------------------------------------------------

FIELD_TYPES = {f.name: type(f.default) for f in fields(Config)}


TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_bool(text: str) -> bool:
    """``true/1/yes/on`` or ``false/0/no/off`` (any case) as a bool; anything else is a ValueError.
    The one boolean parser of ``key=value`` overrides and of notebook parameters."""
    low = text.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValueError(f"expected one of {', '.join(TRUE_WORDS + FALSE_WORDS)}; got {text!r}")


def _coerce(key: str, raw: str) -> Any:
    kind = FIELD_TYPES[key]
    try:
        if kind is bool:
            return parse_bool(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        return raw
    except ValueError:
        raise ValueError(f"config parameter {key!r} expects {kind.__name__}, got {raw!r}") from None


def _check_types(cfg: Config) -> None:
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        kind = FIELD_TYPES[f.name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(cfg, f.name, float(value))
            continue
        if kind is bool and not isinstance(value, bool):
            raise TypeError(f"config parameter {f.name!r} expects bool, got {type(value).__name__} {value!r}")
        if kind is not bool and (isinstance(value, bool) or not isinstance(value, kind)):
            raise TypeError(f"config parameter {f.name!r} expects {kind.__name__}, "
                            f"got {type(value).__name__} {value!r}")


def _canonicalise(cfg: Config) -> None:
    """Give knobs that cannot act their defaults, so that one run has one id: the LARS knobs under
    another optimizer, ``linear_head_bn`` in heads that are not linear, and the head's last BatchNorm in
    heads without one (no head; a linear head without ``linear_head_bn``)."""
    defaults = {f.name: f.default for f in fields(cfg)}
    if cfg.optimizer != "lars":
        object.__setattr__(cfg, "lars_trust", defaults["lars_trust"])
        object.__setattr__(cfg, "lars_clip", defaults["lars_clip"])
    if cfg.head_layers != 1:
        object.__setattr__(cfg, "linear_head_bn", defaults["linear_head_bn"])
    if cfg.head_layers < 2 and not (cfg.head_layers == 1 and cfg.linear_head_bn):
        object.__setattr__(cfg, "head_last_bn", defaults["head_last_bn"])


SEED_MAX = 2**32 - 1  # numpy.random.seed takes seeds in [0, 2**32 - 1]; torch takes more


def _one_of(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}; got {v!r}"


def _range(lo: float | None = None, hi: float | None = None, lo_open: bool = False,
           hi_open: bool = False) -> Callable[[Any], str | None]:
    """``lo <= v <= hi`` (``<`` where open); a bound of None is no bound. The message reads as the
    earlier hand-written ones: "must be > 0", "must be >= 1", "must be in (0, 1]"."""
    def check(v):
        ok = (lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or (v < hi if hi_open else v <= hi))
        if ok:
            return None
        if hi is None:
            return f"must be {'>' if lo_open else '>='} {lo}; got {v}"
        return f"must be in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}; got {v}"
    return check


def _dataset(v: str) -> str | None:
    if v.startswith("imagefolder:"):
        return None if v[len("imagefolder:"):] else "imagefolder:<path> needs a path"
    if v not in BUILTIN_DATASETS:
        return f"must be one of {', '.join(BUILTIN_DATASETS)} or imagefolder:<path>; got {v!r}"
    return None


def _snapshot_epochs(v: str) -> str | None:
    try:
        _ = tuple(int(s) for s in split_list(v))
    except ValueError:
        return f"must be comma-separated integers; got {v!r}"
    return None


def _speed(v: str) -> str | None:
    names = split_list(v)
    bad = [n for n in names if n not in SPEED_SWITCHES]
    if bad:
        return f"has unknown switch(es) {', '.join(map(repr, bad))}; allowed: {', '.join(SPEED_SWITCHES)}"
    if len(set(names)) != len(names):
        return f"lists a switch twice: {v!r}"
    return None


# The rules on one field alone, as "<field> <message>". Config checks every field with them (and with
# the rules between fields, in _value_errors); the report runner checks a notebook parameter named
# after a field with them before any kernel starts (lib.report.params). Every float must also be finite.
FIELD_RULES: dict[str, Callable[[Any], str | None]] = {
    "task": lambda v: _one_of(methods.names())(v), "arch": _one_of(ARCHS), "stem": _one_of(STEMS), "optimizer": _one_of(OPTIMIZERS),
    "lr_scaling": _one_of(LR_SCALINGS), "triplet_mining": _one_of(TRIPLET_MINING), "device": _one_of(DEVICES),
    "precision": _one_of(PRECISIONS), "wandb": _one_of(WANDB_MODES), "head_last_bn": _one_of(HEAD_LAST_BN),
    "dataset": _dataset,
    "seed": _range(0, SEED_MAX),
    "temperature": _range(0, lo_open=True), "distill_temperature": _range(0, lo_open=True),
    "knn_t": _range(0, lo_open=True), "knn_k": _range(1),
    "label_fraction": _range(0, 1, lo_open=True),
    "batch_size": _range(1), "epochs": _range(1), "lr": _range(0, lo_open=True),
    "weight_decay": _range(0), "momentum": _range(0, 1, hi_open=True),
    "warmup_epochs": _range(0), "warmup_fraction": _range(0, 1),
    "width": _range(0, lo_open=True), "head_layers": _range(0), "proj_dim": _range(1), "head_hidden_dim": _range(0),
    "finetune_layer": _range(0), "distill_alpha": _range(0),
    "train_size": _range(0), "test_size": _range(0), "monitor_size": _range(0), "save_embeddings": _range(0),
    "image_size": lambda v: None if v == 0 or v >= 8 else f"must be 0 (native) or >= 8; got {v}",
    "crop_scale_min": _range(0, 1, lo_open=True), "color_strength": _range(0),
    "blur_p": _range(0, 1), "gray_p": _range(0, 1), "triplet_margin": _range(0),
    "crop_sampler": _one_of(CROP_SAMPLERS), "data_draw": _one_of(DATA_DRAWS), "val_size": _range(0),
    "lars_trust": _range(0, lo_open=True),
    "checkpoint_every": _range(1), "checkpoint_seconds": _range(0), "eval_every": _range(1),
    "snapshot_epochs": _snapshot_epochs, "speed": _speed,
}


def field_errors(name: str, value: Any) -> list[str]:
    """What is wrong with ``value`` for the field ``name`` on its own (its type already checked):
    a float that is not finite, or one of :data:`FIELD_RULES`."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{name} must be a finite number; got {value}"]
    rule = FIELD_RULES.get(name)
    message = rule(value) if rule is not None else None
    return [f"{name} {message}"] if message else []


def _value_errors(c: Config):
    for f in fields(c):
        yield from field_errors(f.name, getattr(c, f.name))
    method = methods.METHODS.get(c.task)  # an unknown task is FIELD_RULES' error; its rules are then unknown
    if method is None:
        return
    allowed_losses = method.losses
    if c.loss and c.loss not in allowed_losses:
        yield f"loss for task {c.task!r} must be one of {', '.join(allowed_losses)}; got {c.loss!r}"
    for name in ("views", "views2"):
        text = c.effective_views if name == "views" else c.views2
        if name == "views2" and text in ("", "none"):
            continue
        ops = split_list(text)
        bad = [op for op in ops if op not in VIEW_OPERATIONS]
        if bad:
            yield f"{name} has unknown augmentation(s) {', '.join(map(repr, bad))}; allowed: {', '.join(VIEW_OPERATIONS)}"
        if len(set(ops)) != len(ops):
            yield f"{name} lists an augmentation twice: {text!r}"
        if "crop" in ops and ops[0] != "crop":
            yield f"{name}: crop must come first, got {text!r}"
    min_batch = method.min_batch(c.loss_name)
    if 1 <= c.batch_size < min_batch:
        yield f"batch_size must be >= {min_batch} for task {c.task!r} with loss {c.loss_name!r}; got {c.batch_size}"
    if c.val_size and c.train_size and c.val_size >= c.train_size:
        yield (f"val_size={c.val_size} leaves no training images of train_size={c.train_size}; "
               "give a val_size smaller than train_size")
    if c.train_size and c.batch_size > c.train_size:
        yield (f"batch_size={c.batch_size} is larger than train_size={c.train_size}; "
               "a step needs batch_size training images")
    if c.warmup_epochs > c.epochs:
        yield f"warmup_epochs must be in [0, epochs={c.epochs}]; got {c.warmup_epochs}"
    if c.warmup_fraction > 0 and c.warmup_epochs > 0:
        yield (f"give the warm-up once: warmup_fraction={c.warmup_fraction} or warmup_epochs={c.warmup_epochs} "
               "(set the other to 0)")
    if not c.ntxent_normalize and c.loss_name != "ntxent":
        yield f"ntxent_normalize=false applies to pretraining (NT-Xent) only; task is {c.task!r}"
    yield from method.check(c)
    if not field_errors("snapshot_epochs", c.snapshot_epochs) and any(
            not 0 <= e <= c.epochs for e in c.snapshot_epoch_list):
        yield f"snapshot_epochs must lie in [0, epochs={c.epochs}]; got {c.snapshot_epochs!r}"


def split_list(text: str) -> tuple[str, ...]:
    """``"crop, flip,,color"`` -> ``("crop", "flip", "color")``: the one parser of comma-separated lists
    (views, snapshot epochs, list-valued notebook parameters, the runner's ``--only``, the plans' grids)."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _suggest(name: str) -> str:
    import difflib
    close = difflib.get_close_matches(name, FIELD_NAMES, n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""
