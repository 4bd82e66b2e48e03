"""Command line interface: argument parsing and printing only; every command calls one library function.

Errors caused by input (:class:`zslkit.errors.ZSLKitError`) print one ``error:`` line and exit
with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path

import click

from zslkit import __version__
from zslkit.errors import ZSLKitError


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _environment_error(exc: BaseException) -> str | None:
    """The one-line message of an error of the environment rather than of zslkit (a full or
    read-only disk, a missing permission, memory), or None for anything else (a bug: traceback)."""
    from zslkit.utils.outputs import is_output_error, output_error

    if isinstance(exc, MemoryError):
        return ("out of memory (an input far larger than expected, or too little RAM); outputs written so far are "
                "complete (every file is written atomically)")
    if isinstance(exc, OSError):
        if is_output_error(exc) and exc.filename:
            return str(output_error(exc.filename, exc))
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return None


class _Group(click.Group):
    """Turns zslkit's own errors, and errors of the environment (full or read-only disk, missing
    permissions, out of memory), into one clear line and exit status 2 (no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ZSLKitError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.secho(f"error: {_one_line(exc)}", fg="red", err=True)
            ctx.exit(2)
        except (OSError, MemoryError) as exc:
            msg = _environment_error(exc)
            if msg is None or (ctx.obj or {}).get("debug"):
                raise
            click.secho(f"error: {_one_line(msg)}", fg="red", err=True)
            ctx.exit(2)


class _TqdmLoggingHandler(logging.Handler):
    """Log lines printed through tqdm, so that they appear above progress bars instead of cutting them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="zslkit")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and results.")
@click.option("--threads", default="auto", show_default=True, metavar="N|auto",
              help="CPU threads of torch and BLAS. auto: the CPUs this process may use (affinity, cgroup quota) "
                   "minus those other processes keep busy (tasks runnable now), at least 1.")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool, threads: str) -> None:
    """zslkit: zero-shot learning toolkit (xlsa17 data, ZSL/GZSL protocol, models, ReMSE, VGSE)."""
    from zslkit.errors import ConfigError
    from zslkit.utils.threads import configure_threads, prefer_passive_waiting

    ctx.obj = {"debug": debug}
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = _TqdmLoggingHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)  # the console's level; a run's run.log records INFO whatever it is
    logging.basicConfig(level=min(level, logging.INFO), handlers=[handler], force=True)
    if threads != "auto":
        try:
            threads = int(threads)
        except ValueError:
            raise click.BadParameter(f"expected a positive integer or 'auto', got {threads!r}", param_hint="--threads")
    prefer_passive_waiting()  # before torch is imported: idle OpenMP threads sleep instead of spinning
    try:
        ctx.obj["threads"] = configure_threads(threads)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--threads") from None


@main.group()
def data() -> None:
    """Inspect, build and generate datasets."""


@data.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def data_inspect(path: Path, as_json: bool) -> None:
    """Summarise a dataset directory or a .mat/.npy/.csv file."""
    from zslkit.data.inspect import format_summary, inspect_path

    summary = inspect_path(path)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        if summary.get("surrogate"):
            click.secho("SURROGATE data: synthetic features, not a real benchmark", fg="yellow")
        click.echo(format_summary(summary))


@data.command("synth")
@click.option("--att-splits", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A real xlsa17 att_splits.mat; its splits and classes are kept exactly.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--feature-dim", default=None, type=int, help="Feature dimension [the preset's: 2048].")
@click.option("--preset", default=None,
              help="Generator preset (AWA1, AWA2, CUB, SUN, APY, generic) [detected from the dataset].")
@click.option("--class-embeddings", default=None,
              help="Class embeddings written as word2vec_splits.mat instead of synthetic vectors: a .npy (with "
                   "--class-embedding-names), a .mat with allclasses_names or a .csv with names (rows matched by "
                   "class name), or 'wordllama' (needs the text extra).")
@click.option("--class-embedding-names", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Row names of a .npy --class-embeddings file, one class name a line.")
@click.option("--set", "knobs", multiple=True, metavar="KNOB=VALUE",
              help="Override one SurrogateConfig knob of the preset (e.g. --set nuisance_weight=2).")
@click.option("--n-unseen", default=None, type=int, help="Unseen classes to draw when no testclasses.txt exists.")
@click.option("--overwrite", is_flag=True, help="Replace an existing surrogate dataset in --out.")
def data_synth(att_splits: Path, out: Path, seed: int, feature_dim: int | None, preset: str | None,
               class_embeddings: str | None, class_embedding_names: Path | None, knobs: tuple[str, ...],
               n_unseen: int | None, overwrite: bool) -> None:
    """Write a SURROGATE xlsa17 dataset (real splits, synthetic features; see zslkit/data/surrogate.py)."""
    import dataclasses
    import json as _json

    from zslkit.data.surrogate import SurrogateConfig, detect_preset, make_surrogate, preset_config
    from zslkit.data.xlsa17 import load_xlsa17, read_att_splits
    from zslkit.errors import ConfigError

    from zslkit.utils.seed import seed_error

    if seed_error(seed, "--seed"):
        raise ConfigError(seed_error(seed, "--seed"))
    overrides: dict = {}
    types = {f.name: f.type for f in dataclasses.fields(SurrogateConfig)}
    for item in knobs:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in types:
            raise ConfigError(f"--set {item!r}: expected KNOB=VALUE with KNOB one of {sorted(types)}")
        try:
            overrides[key] = int(value) if types[key] in ("int", int) else float(value)
        except ValueError:
            raise ConfigError(f"--set {item!r}: {value!r} is not a number") from None
    if feature_dim is not None:
        overrides["feature_dim"] = feature_dim
    if preset is None:
        a = read_att_splits(att_splits)
        n_images = int(max(int(v.max()) for v in a.locs.values() if v.size)) + 1 if a.locs else 0
        preset = detect_preset(a.num_classes, n_images, a.class_names)
    cfg = preset_config(preset, **overrides)
    make_surrogate(att_splits, out, seed=seed, config=cfg, preset=preset, n_unseen=n_unseen, overwrite=overwrite,
                   class_embeddings=class_embeddings, class_embedding_names=class_embedding_names)
    s = load_xlsa17(out).summary()
    meta = _json.loads((out / "SURROGATE.json").read_text())
    click.secho(f"wrote SURROGATE dataset {out} (synthetic features; not a real benchmark)", fg="yellow")
    click.echo(f"  {meta['version']}, preset {meta['preset']}, class embeddings: {meta['class_embeddings']['source']}")
    click.echo(f"  {s['num_images']} images x {s['feature_dim']} dims, {s['num_seen']} seen + {s['num_unseen']} "
               f"unseen classes, splits {s['splits']}")


@data.command("convert-w2v")
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace DST (and its _names.txt) if it exists.")
def data_convert_w2v(src: Path, dst: Path, overwrite: bool) -> None:
    """Convert a pickled word-vector array (e.g. GEM-ZSL/DAZLE/ReZSL w2v/*_attribute.pkl) to .npy, safely.

    The pickle is read with a restricted unpickler that admits only what plain numpy arrays need;
    anything else in the file (a function, a class, os.system, ...) is refused before it runs.
    SRC may hold one numeric array (written as is) or a dict {name: vector} of equal-length vectors
    (written as one row per name, with the names in DST's <stem>_names.txt). DST is a .npy file that
    np.load(..., allow_pickle=False) reads.
    """
    from zslkit.embeddings.safe_pickle import convert_pickled_vectors

    info = convert_pickled_vectors(src, dst, overwrite=overwrite)
    click.echo(f"wrote {', '.join(info['written'])}: {' x '.join(map(str, info['shape']))} {info['dtype']}")


@data.command("build")
@click.option("--images", type=click.Path(path_type=Path),
              help="Image folder, one sub-folder of images per class (features extracted with --backbone).")
@click.option("--features", "feature_files", multiple=True, metavar="NAME=FILE",
              help="Precomputed features instead of --images, one block per option: an N x D matrix (.npy, .npz with "
                   "one array, .mat, .h5/.hdf5, .csv; any numeric dtype), one row per image. Repeatable; blocks are "
                   "kept apart by name.")
@click.option("--labels", type=click.Path(path_type=Path),
              help="With --features: the class of each image, 1-based indices into the class list (.npy or one per "
                   "line) or class names (one per line).")
@click.option("--att-splits", type=click.Path(path_type=Path),
              help="With --features: an xlsa17 att_splits.mat giving class names, attributes and the split indices "
                   "(its class lists beside it are copied); instead of --classes/--unseen/--attributes.")
@click.option("--feature-name", default="features", show_default=True,
              help="With --features: the features file is NAME.mat (say what they are, e.g. lampert_bow).")
@click.option("--description", default="precomputed features", show_default=True,
              help="With --features: what the features are (recorded in BUILD.json).")
@click.option("--classes", type=click.Path(path_type=Path), help="All class names, one per line.")
@click.option("--unseen", type=click.Path(path_type=Path), help="Unseen class names, one per line.")
@click.option("--attributes", type=click.Path(path_type=Path),
              help="Attribute table -> att_splits.mat 'att': long format (rows class,attribute,value), wide (header "
                   "class,<attr>,...), or a bare numeric matrix with one row per class (.txt/.csv/.npy; names from "
                   "--attribute-names). Optional with --word-vectors.")
@click.option("--attribute-names", type=click.Path(path_type=Path),
              help="Column names of a bare --attributes matrix, one per line.")
@click.option("--word-vectors", type=click.Path(path_type=Path),
              help="word2vec (.bin/.txt) or GloVe file, or 'wordllama' (offline text model, the text extra): "
                   "class-name vectors -> word2vec_splits.mat (--semantic word2vec). Without --attributes the "
                   "dataset has no 'att'.")
@click.option("--oov", default="error", show_default=True, type=click.Choice(["error", "skip"]),
              help="A class-name word missing from --word-vectors: fail naming it, or average the words found.")
@click.option("--class-embeddings", type=click.Path(path_type=Path),
              help="Class vectors given directly instead of --word-vectors -> word2vec_splits.mat: a .npy (with "
                   "--class-embedding-names), a .mat with allclasses_names or a .csv with names (rows matched by name).")
@click.option("--class-embedding-names", type=click.Path(path_type=Path),
              help="Row names of a .npy --class-embeddings file, one class name a line.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: new, empty, or one zslkit wrote.")
@click.option("--backbone", default="resnet101", show_default=True,
              type=click.Choice(["resnet101", "resnet50", "resnet34", "resnet18", "tiny"]))
@click.option("--weights", type=click.Path(path_type=Path),
              help="Local torchvision state dict of the backbone (required for ResNets; nothing is downloaded).")
@click.option("--image-size", default=None, type=int, help="Side the whole image is resized to [224; tiny: 64].")
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--test-seen-fraction", default=0.2, show_default=True, type=float,
              help="Share of each seen class's images held out as test_seen.")
@click.option("--val-folds", default=3, show_default=True, type=int,
              help="Disjoint validation class folds (trainclassesK/valclassesK.txt); 0 = none.")
@click.option("--skip-bad", is_flag=True, help="Leave unreadable images out (listed in BUILD.json) instead of failing.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Feature cache folder (kept) [default: OUT/.feature-cache, deleted after success].")
@click.option("--keep-cache", is_flag=True, help="Keep OUT/.feature-cache after a successful build.")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda")
@click.option("--threads", default=None, type=int, help="Torch threads during the build.")
@click.option("--overwrite", is_flag=True, help="Replace a finished build in --out (only the files zslkit wrote).")
@click.pass_context
def data_build(ctx: click.Context, images, feature_files, labels, att_splits, feature_name, description, classes,
               unseen, attributes, attribute_names, word_vectors, oov, class_embeddings, class_embedding_names, out,
               backbone, weights, image_size, batch_size, seed, test_seen_fraction, val_folds, skip_bad, cache_dir,
               keep_cache, device, threads, overwrite) -> None:
    """Build an xlsa17 dataset directory (features, att_splits.mat, word2vec_splits.mat, class lists) from your
    own images (--images, through a backbone) or your own precomputed features (--features NAME=FILE ...
    --labels FILE). Class semantics: --attributes and/or --word-vectors, or --att-splits with --features."""
    from zslkit.errors import ConfigError

    def opt(p):
        return None if p is None else str(p)

    progress = not ctx.find_root().params.get("quiet", False)
    if (images is None) == (not feature_files):
        raise ConfigError("data build needs --images DIR (features extracted by a backbone) or --features NAME=FILE "
                          "(precomputed features), not both")
    if feature_files:
        from zslkit.build import FeatureBuildConfig, build_from_features

        blocks: dict[str, str] = {}
        for item in feature_files:
            name, sep, path = item.partition("=")
            if not sep or not name.strip() or not path.strip():
                raise ConfigError(f"--features expects NAME=FILE (e.g. sift=sift.npz), got {item!r}")
            if name.strip() in blocks:
                raise ConfigError(f"--features names block {name.strip()!r} twice")
            blocks[name.strip()] = path.strip()
        if labels is None:
            raise ConfigError("--features needs --labels FILE (the class of each image)")
        fcfg = FeatureBuildConfig(features=blocks, labels=str(labels), out=str(out), att_splits=opt(att_splits),
                                  classes=opt(classes), unseen=opt(unseen), attributes=opt(attributes),
                                  attribute_names=opt(attribute_names), word_vectors=opt(word_vectors), oov=oov,
                                  class_embeddings=opt(class_embeddings),
                                  class_embedding_names=opt(class_embedding_names), feature_name=feature_name, description=description, seed=seed,
                                  test_seen_fraction=test_seen_fraction, val_folds=val_folds, overwrite=overwrite,
                                  progress=progress)
        click.echo(build_from_features(fcfg).summary())
        return
    given = [o for o, v in (("--labels", labels), ("--att-splits", att_splits), ("--attribute-names", attribute_names))
             if v is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: for --features builds; an --images build takes --classes, --unseen and "
                          "--attributes")
    missing = [o for o, v in (("--classes", classes), ("--unseen", unseen)) if v is None]
    if missing:
        raise ConfigError(f"--images builds need {' and '.join(missing)}")
    from zslkit.build import BuildConfig, build_xlsa17

    cfg = BuildConfig(images=str(images), classes=str(classes), unseen=str(unseen), attributes=opt(attributes),
                      word_vectors=opt(word_vectors), oov=oov, out=str(out), backbone=backbone, weights=opt(weights),
                      image_size=image_size, batch_size=batch_size, device=device, threads=threads, skip_bad=skip_bad,
                      cache_dir=opt(cache_dir), keep_cache=keep_cache, seed=seed,
                      test_seen_fraction=test_seen_fraction, val_folds=val_folds, overwrite=overwrite,
                      progress=progress, class_embeddings=opt(class_embeddings),
                      class_embedding_names=opt(class_embedding_names))
    report = build_xlsa17(cfg)
    click.echo(report.summary())


@main.command("train")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="xlsa17 dataset directory.")
@click.option("--model", default="eszsl", show_default=True,
              help="Model name (see `zslkit models`), optionally with fixed hyperparameters: 'regressor(hidden=0)'.")
@click.option("--loss", default=None, type=click.Choice(["mse", "remse"]),
              help="Regression loss of models that have one (regressor, attention_net).")
@click.option("--semantic", default="att", show_default=True,
              help="att | original_att | word2vec | sent | vgse | path to a .mat/.npy/.csv class matrix.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run directory.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Fix a hyperparameter (skips its search); repeatable. transform__NAME=VALUE fixes one of the "
                   "--transform's.")
@click.option("--transform", default=None, metavar="SPEC",
              help="Feature transform fitted on the training images before the model (feature-level models): "
                   "normalize | chi2 | expchi2, optionally NAME(key=value, ...), e.g. 'expchi2(norm=l1)'.")
@click.option("--grid", "grid_options", multiple=True, metavar="KEY=V1,V2,...",
              help="Search KEY over these values on validation classes instead of over its default grid (the "
                   "other hyperparameters the model searches keep their default grids); repeatable. Values are "
                   "YAML, split at the commas outside brackets: --grid lam=0.01,0.1,1 --grid hidden=0,[512, 256]. "
                   "`zslkit models NAME` shows the default grid.")
@click.option("--no-tune", is_flag=True, help="Use the constructor defaults / --param values; no validation search.")
@click.option("--val-fold", "val_folds", multiple=True, type=int, default=(1,), show_default=True,
              help="Validation class fold(s) for model selection.")
@click.option("--gamma", default=None, type=float, help="Fix the calibration gamma instead of choosing it on validation.")
@click.option("--val-semantic", default="auto", show_default=True, type=click.Choice(["auto", "same", "relation"]),
              help="Class matrix of validation folds: 'relation' re-predicts validation-class rows through the VGSE "
                   "class relation as unseen rows are at test time ('auto': for VGSE embeddings).")
@click.option("--relation-word-vectors", default="word2vec", show_default=True,
              help="Semantic name or file the class relation is fitted on (with --val-semantic relation/auto).")
@click.option("--images", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Image-level models on an xlsa17 directory: the folder its res101.mat image_files are under.")
@click.option("--backbone", default=None,
              help="Image-level models on images: resnet18..resnet152, vit_b_16, ... (torchvision).")
@click.option("--weights", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Image-level models: a local torchvision weight file of --backbone (nothing is downloaded).")
@click.option("--attribute-vectors", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Image-level models: (A x L) attribute word vectors as .npy (feature-map directories carry "
                   "their own; convert the authors' .pkl files with `zslkit data convert-w2v`).")
@click.option("--device", default=None, help="Torch models: cpu | cuda | cuda:K | auto (default: the model's, CPU; "
                                             "image-level models: auto).")
@click.option("--tensorboard", default=None, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Log the run to TensorBoard event files in DIR: configuration, per-epoch losses, each grid "
                   "point's validation scores, final metrics (needs the tracking extra).")
@click.option("--overwrite", is_flag=True,
              help="Replace a finished run of another configuration in --out (a finished run of the same "
                   "configuration is kept and reported; without this flag another one is an error).")
@click.pass_context
def train_cmd(ctx: click.Context, data_dir: Path, model: str, loss: str | None, semantic: str, out: Path, seed: int,
              params: tuple[str, ...], transform: str | None, grid_options: tuple[str, ...], no_tune: bool,
              val_folds: tuple[int, ...], gamma: float | None,
              val_semantic: str, relation_word_vectors: str, images: Path | None, backbone: str | None,
              weights: Path | None, attribute_vectors: Path | None, device: str | None, tensorboard: Path | None,
              overwrite: bool) -> None:
    """Train a ZSL model on a dataset and write the run directory RUN_DIR (metrics.json, config.yaml,
    predictions.npz; feature-level models add model.json + model.npz, which zslkit predict applies).

    Image-level models (attention_net, gem_zsl, basic_net) train on a feature-map directory, or
    end to end on an xlsa17 directory with --images (and --backbone/--weights); --param sets any
    of their settings and --param preset=cub|awa2|sun starts from the authors'. They checkpoint
    every epoch (resume: --param resume=true) and run unchanged under
    ``torchrun --nproc_per_node=N -m zslkit train``.

    RUN_DIR is locked while the run lasts; a finished run of the same configuration in it is
    reported without recomputing, one of another configuration needs --overwrite."""
    from zslkit.errors import ConfigError
    from zslkit.pipeline import TrainConfig
    from zslkit.registry import is_image_model, search_grids

    fixed = _parse_params(params)
    if grid_options and no_tune:
        raise ConfigError("--grid sets what the validation search tries and --no-tune skips that search: give one "
                          "of them")
    if loss is not None:
        fixed["loss"] = loss
    grid = search_grids([model], grid_options, fixed=fixed).get(model) if grid_options else None
    image_level = is_image_model(model)
    if not image_level and (images or backbone or weights or attribute_vectors):
        raise ConfigError(f"--images, --backbone, --weights and --attribute-vectors are for image-level models "
                          f"(attention_net, gem_zsl, basic_net), not {model!r}")
    if backbone is not None:
        fixed["backbone"] = backbone
    if weights is not None:
        fixed["backbone_weights"] = str(weights)
    cfg = TrainConfig(data=str(data_dir), model=model, semantic=semantic, seed=seed, params=fixed, grid=grid,
                      tune=not no_tune, val_folds=list(val_folds), gamma=gamma,
                      progress=not ctx.find_root().params.get("quiet", False), val_semantic=val_semantic,
                      relation_word_vectors=relation_word_vectors, images=None if images is None else str(images),
                      attribute_vectors=None if attribute_vectors is None else str(attribute_vectors), device=device,
                      transform=transform, tensorboard=None if tensorboard is None else str(tensorboard))
    _train_and_print(cfg, out, overwrite)


def _train_and_print(cfg, out: Path, overwrite: bool) -> None:
    import os

    from zslkit.pipeline import train_to_dir
    from zslkit.registry import is_image_model

    result, resumed = train_to_dir(cfg, out, overwrite=overwrite)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 prints
        return
    if resumed:
        click.echo(f"{out} already holds a finished run of this configuration (nothing recomputed; --overwrite "
                   "recomputes it):")
    _print_result(result)
    if is_image_model(cfg.model) and not resumed:
        click.echo(f"training throughput {result.get('train_images_per_s', float('nan')):.0f} images/s on "
                   f"{result.get('world_size', 1)} process(es)")
    click.echo(f"{'kept' if resumed else 'wrote'} {out / 'metrics.json'}")


def _parse_params(items: tuple[str, ...]) -> dict:
    """``--param NAME=VALUE`` options -> {NAME: value}; VALUE is YAML (``0.1``, ``true``, ``[1, 2]``,
    ``remse``) parsed safely and bounded (:func:`zslkit.config.parse_value`)."""
    from zslkit.config import parse_value
    from zslkit.errors import ConfigError

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--param expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        if not k.strip():
            raise ConfigError(f"--param expects NAME=VALUE, got {item!r} (no name)")
        out[k.strip()] = parse_value(v, f"--param {k.strip()}")
    return out


def _print_result(d: dict) -> None:
    if d.get("surrogate"):
        click.secho("SURROGATE data: these numbers are not benchmark results", fg="yellow")
    z, g = d["zsl"], d["gzsl"]
    click.echo(f"ZSL   T1 {z['T1']:6.2f}")
    click.echo(f"GZSL  U {g['U']:6.2f}  S {g['S']:6.2f}  H {g['H']:6.2f}  (gamma {g['gamma']:.4g}, {d['gamma_source']})")
    click.echo(f"AUSUC {d['ausuc']:6.2f}   [oracle H {d['gzsl_oracle']['H']:.2f}: gamma tuned on test, for comparison only]")
    click.echo(f"params {d['params']}")


#: most seeds ``benchmark --seeds N`` runs per cell (far below the largest seed, 2**32 - 1)
MAX_GRID_SEEDS = 10_000


def _parse_seeds(text: str) -> list[int]:
    """``--seeds``: a list ``0,1,2`` (one seed: ``7,``), or a bare count N meaning the seeds 0..N-1."""
    from zslkit.errors import ConfigError

    items = [t.strip() for t in text.split(",")]
    if len(items) > 1 and items[-1] == "":  # "7," is the list [7]
        items.pop()
    try:
        values = [int(t) for t in items]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected seeds separated by commas (--seeds 0,1,2) or a count N "
                          "(the seeds 0..N-1)") from None
    if len(items) == 1 and "," not in text:  # a bare integer: a count, as before lists were accepted
        n = values[0]
        if not 1 <= n <= MAX_GRID_SEEDS:  # seeds 0..N-1 are listed (and run) up front
            raise ConfigError(f"--seeds must be an integer in [1, {MAX_GRID_SEEDS}] (seeds 0..N-1 are run), got {n}; "
                              "or a list of seeds: --seeds 0,1,2")
        return list(range(n))
    return values


@main.command("benchmark")
@click.option("--data", "data_dirs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Dataset directory; repeatable.")
@click.option("--semantic", "semantics", multiple=True, default=("att",), show_default=True, help="Repeatable.")
@click.option("--model", "models", multiple=True, default=("eszsl",), show_default=True, help="Repeatable.")
@click.option("--seeds", default="3", show_default=True, metavar="S1,S2,...|N",
              help="The seeds to run, as a list: --seeds 0,1,2 (one seed: --seeds 7,), like a YAML grid's seeds: [0, "
                   "1, 2]. A bare integer N still means N seeds, 0..N-1 (N <= 10000).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--transform", default=None, metavar="SPEC",
              help="Feature transform of every cell, fitted on each run's training images (see zslkit models).")
@click.option("--grid", "grid_options", multiple=True, metavar="[MODEL:]KEY=V1,V2,...",
              help="Search KEY over these values instead of over its default grid, for every --model (MODEL: only "
                   "that model, by name; e.g. --grid eszsl:lam=0.01,0.1,1); repeatable, values as in `zslkit train "
                   "--grid`.")
@click.option("--workers", default=1, show_default=True, type=int, help="Parallel worker processes.")
@click.option("--threads-per-worker", default=1, show_default=True, type=int)
@click.option("--submitit-folder", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Submit the cells through submitit (SLURM job array); its job files and logs go here.")
@click.option("--cluster", type=click.Choice(["auto", "slurm", "local", "debug"]), default="auto", show_default=True,
              help="submitit backend (with --submitit-folder): auto = SLURM if available, else local processes.")
@click.option("--slurm-partition", default=None, help="SLURM partition (with --submitit-folder).")
@click.option("--timeout-min", default=60, show_default=True, type=int, help="Time limit per cell job (submitit).")
@click.option("--tensorboard", default=None, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Log every cell to TensorBoard event files in DIR/CELL (needs the tracking extra).")
@click.option("--no-save-models", is_flag=True,
              help="Do not write each cell's fitted model (model.json + model.npz; large for clswgan/abp, which "
                   "keep the training features).")
def benchmark_cmd(data_dirs, semantics, models, seeds: str, out: Path, transform: str | None,
                  grid_options: tuple[str, ...], workers: int, threads_per_worker: int, submitit_folder: Path | None,
                  cluster: str, slurm_partition: str | None, timeout_min: int, tensorboard: Path | None,
                  no_save_models: bool) -> None:
    """Run the grid datasets x semantics x models x seeds (resumable); write results.csv/.md."""
    from zslkit.grid import GridConfig, run_grid
    from zslkit.registry import search_grids

    cfg = GridConfig(data=[str(d) for d in data_dirs], semantics=list(semantics), models=list(models),
                     seeds=_parse_seeds(seeds), out=str(out), workers=workers, threads_per_worker=threads_per_worker,
                     transform=transform, grids=search_grids(list(models), grid_options),
                     tensorboard=None if tensorboard is None else str(tensorboard), save_models=not no_save_models)
    executor = None
    if submitit_folder is not None:
        from zslkit.cluster import submitit_executor

        executor = submitit_executor(submitit_folder, cluster=None if cluster == "auto" else cluster,
                                     partition=slurm_partition, timeout_min=timeout_min,
                                     cpus_per_task=threads_per_worker)
    from zslkit.grid import GridCellsFailed

    try:
        res = run_grid(cfg, executor=executor)
    except GridCellsFailed as exc:
        click.echo((out / "results.md").read_text(), nl=False)
        raise exc
    click.echo(res.table())
    click.echo(f"{res.ran} cells run, {res.skipped} already done; wrote {out / 'results.csv'} and {out / 'results.md'}")


@main.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--out", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (train configs; grid configs use their own 'out').")
@click.option("--overwrite", is_flag=True, help="Train configs: replace a finished run of another configuration.")
def run_cmd(config: Path, overrides: tuple[str, ...], out: Path | None, overwrite: bool) -> None:
    """Run an experiment from a YAML config (kind: train | grid | discover | demo).

    KEY=VALUE arguments override the file's settings, dotted keys reaching into mappings:
    ``zslkit run configs/xlsa17_baselines_cub.yaml seeds=[0] workers=1`` or ``... params.lr=0.01``."""
    from zslkit.config import load_config
    from zslkit.demo import DemoConfig
    from zslkit.grid import GridConfig, run_grid
    from zslkit.vgse.discovery import DiscoverConfig

    cfg = load_config(config, overrides)
    if isinstance(cfg, GridConfig):
        res = run_grid(cfg)
        click.echo(res.table())
        return
    if isinstance(cfg, DiscoverConfig):
        from zslkit.vgse.discovery import discover

        click.echo(discover(cfg).summary())
        return
    if isinstance(cfg, DemoConfig):
        from zslkit.demo import WARNING, run_demo, summary_lines

        out = out or Path("runs") / config.stem
        click.secho(WARNING, fg="yellow")
        result = run_demo(out, cfg, progress=True, echo=click.echo)
        for line in summary_lines(result):
            click.echo(line)
        click.echo(f"wrote {out / 'report.html'} and {out / 'metrics.json'}")
        return
    _train_and_print(cfg, out or Path("runs") / config.stem, overwrite)


@main.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Feature-map directory (maps from the backbone the model was trained with).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--format", "fmt", default="auto", show_default=True, type=click.Choice(["auto", "zslkit", "rezsl"]),
              help="MODEL is a zslkit run directory / model.pt, or a checkpoint of the authors' ReZSL code.")
@click.option("--attribute-vectors", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="ReZSL checkpoints: (A x L) attribute word vectors as .npy (default: the data directory's "
                   "attribute_vectors.npy; convert the authors' .pkl with `zslkit data convert-w2v`).")
@click.option("--gamma", default=None, type=float,
              help="Fixed calibration gamma (default: none, i.e. uncalibrated; the test-oracle gamma is reported "
                   "separately, labelled).")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:K")
@click.option("--batch-size", default=64, show_default=True, type=int, help="Images per forward pass (>= 1).")
@click.option("--overwrite", is_flag=True,
              help="Replace a finished run in --out (only the files zslkit wrote there are removed).")
def evaluate_cmd(model_path: Path, data_dir: Path, out: Path, fmt: str, attribute_vectors: Path | None,
                 gamma: float | None, device: str, batch_size: int, overwrite: bool) -> None:
    """Evaluate a trained image-level model (zslkit's run directory / model.pt, or the authors' released
    ReZSL AttentionNet checkpoints) on a feature-map directory under zslkit's protocol; writes a
    train-style run directory."""
    import numpy as np

    from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
    from zslkit.models.attention_net import load_rezsl_checkpoint
    from zslkit.training.feature_maps import load_feature_maps
    from zslkit.image_pipeline import evaluate_image_model, load_image_model

    if batch_size < 1:
        raise ConfigError(f"--batch-size must be an integer >= 1, got {batch_size}")
    data = load_feature_maps(data_dir)
    model = None
    if fmt in ("auto", "zslkit"):
        try:
            model, _ = load_image_model(model_path)
            fmt = "zslkit"
        except CheckpointError as exc:
            if fmt == "zslkit" or model_path.is_dir() or "not a zslkit training checkpoint" not in str(exc):
                raise
    if model is None:
        if attribute_vectors is not None:
            try:
                vectors = np.load(attribute_vectors, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ZSLDataError(f"--attribute-vectors {attribute_vectors}: not a readable .npy array ({exc})") \
                    from exc
        else:
            vectors = data.attribute_vectors
        model = load_rezsl_checkpoint(model_path, vectors)
        fmt = "rezsl"
    source = {"model": str(model_path), "format": fmt, "data": str(data_dir),
              "attribute_vectors": str(attribute_vectors) if attribute_vectors else "data directory"}
    res = evaluate_image_model(model, data, gamma=gamma, out_dir=out, source=source, device=device,
                               batch_size=batch_size, overwrite=overwrite)
    if res.get("surrogate"):
        click.secho("SURROGATE/SYNTHETIC data: these numbers are not benchmark results", fg="yellow")
    z, g, o = res["zsl"], res["gzsl"], res["gzsl_oracle"]
    click.echo(f"{fmt} model {model_path}")
    click.echo(f"ZSL   T1 {z['T1']:6.2f}")
    click.echo(f"GZSL  U {g['U']:6.2f}  S {g['S']:6.2f}  H {g['H']:6.2f}  (gamma {g['gamma']:.4g}: {res['gamma_source']})")
    click.echo(f"AUSUC {res['ausuc']:6.2f}   [oracle H {o['H']:.2f} at gamma {o['gamma']:.4g}: tuned on test, for "
               f"comparison with papers only]")
    click.echo(f"wrote {out / 'metrics.json'}")


@main.command("analyze")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--compare", multiple=True, type=click.Path(path_type=Path),
              help="Other run directories to overlay (e.g. the MSE run next to a ReMSE run); repeatable.")
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="AttentionNet runs: the feature-map directory, to render per-attribute attention maps.")
@click.option("--index", "indices", multiple=True, type=int,
              help="AttentionNet runs: image index to render (repeatable); default: 4 unseen test images.")
@click.option("--top-k", default=6, show_default=True, type=int, help="AttentionNet runs: attributes per image.")
@click.option("--out", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for figures/ and analysis.json: new, empty or written by zslkit, and none of the runs "
                   "read [default: RUN_DIR-analysis, beside RUN_DIR].")
def analyze_cmd(run_dir: Path, compare: tuple[Path, ...], data_dir: Path | None, indices: tuple[int, ...],
                top_k: int, out: Path | None) -> None:
    """Figures of a run: AUSUC curve, confusion matrices, per-attribute errors and imbalance stats;
    for AttentionNet / GEM-ZSL runs (with --data MAPS_DIR) the per-attribute attention maps.
    They go into --out (figures/, analysis.json), by default RUN_DIR-analysis beside the run; the runs
    themselves are only read."""
    from zslkit.errors import ConfigError
    from zslkit.report.analysis import analysis_dir
    from zslkit.utils.outputs import output_dir

    if top_k < 1:
        raise ConfigError(f"--top-k must be an integer >= 1, got {top_k}")
    out = analysis_dir(run_dir, out, compare)
    if data_dir is not None:  # attention maps of an image-level run
        if not (run_dir / "model.pt").is_file():
            raise ConfigError(f"--data renders the attention maps of image-level runs; {run_dir} has no model.pt")
        from zslkit.image_pipeline import analyze_attention, check_attention_request, load_image_model
        from zslkit.training.feature_maps import load_feature_maps

        model, _ = load_image_model(run_dir / "model.pt")
        data = load_feature_maps(data_dir)
        idx = check_attention_request(data, list(indices) or [int(i) for i in data.splits["test_unseen"][:4]], top_k)
        with output_dir(out, "analysis"):
            png = out / "figures" / "attention_maps.png"
            analyze_attention(model, data, idx, png, top_k=top_k)
        click.echo(f"  attention_maps: {png}")
        if not (run_dir / "predictions.npz").is_file():
            return
    from zslkit.report.analysis import analyze_run

    report = analyze_run(run_dir, compare=compare, out=out)
    if report.get("surrogate"):
        click.secho("SURROGATE data: not benchmark results", fg="yellow")
    _print_table(report["table"], ["run", "seeds", "T1", "U", "S", "H", "AUSUC", "H at gamma 0", "chance T1"])
    for name, path in report["figures"].items():
        click.echo(f"  {name}: {path}")
    if isinstance(report.get("imbalance"), dict):
        for lab, x in report["imbalance"].items():
            if x:
                for split, v in x.items():
                    s = v["summary"]
                    click.echo(f"  {lab} [{split}] mse {s['mse']:.4g}  attribute CV {s['attr_cv']:.3f}  "
                               f"class CV {s['class_cv']:.3f}")
    click.echo(f"wrote {out / 'analysis.json'}")


@main.command("predict")
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--run", "run_option", default=None, type=click.Path(path_type=Path),
              help="The run directory (zslkit train --out RUN), if not given as RUN_DIR.")
@click.option("--features", default=None, type=click.Path(path_type=Path),
              help="Features to classify, one image a row: .npy, .npz, .mat, .h5 or .csv (as data build --features "
                   "reads), as wide as the run's training features.")
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="A dataset directory instead: all its images (rows named by its image files).")
@click.option("--classes", default="unseen", show_default=True, metavar="unseen|seen|all|FILE",
              help="Candidate classes: the run's unseen (test) classes, its seen classes, all of them (GZSL, "
                   "calibrated with the run's validation gamma), or a file of class names, one a line.")
@click.option("--top-k", default=1, show_default=True, type=int, help="Classes written per image, best first.")
@click.option("--no-calibration", is_flag=True, help="Do not subtract the run's gamma from seen-class scores.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .csv file to write: image, predicted, score (then class_2, score_2, ... with --top-k).")
def predict_cmd(run_dir: Path | None, run_option: Path | None, features: Path | None, data_dir: Path | None,
                classes: str, top_k: int, no_calibration: bool, out: Path) -> None:
    """Apply the model of a feature-level run (its model.json + model.npz) to new features and write each
    image's predicted class to a CSV file."""
    from zslkit.errors import ConfigError
    from zslkit.predict import predict_file

    if run_dir is not None and run_option is not None and run_dir != run_option:
        raise ConfigError(f"two run directories given ({run_dir} and --run {run_option}); give one")
    run = run_dir if run_dir is not None else run_option
    if run is None:
        raise ConfigError("no run directory: give it as RUN_DIR or --run RUN_DIR")
    res = predict_file(run, out, features=features, data=data_dir, classes=classes, top_k=top_k,
                       calibrated=not no_calibration)
    shown = ", ".join(f"{k} {v}" for k, v in list(res["counts"].items())[:5])
    more = f", ... ({len(res['counts'])} classes predicted)" if len(res["counts"]) > 5 else ""
    click.echo(f"{res['images']} images, {res['classes']} candidate classes ({classes}): {shown}{more}")
    click.echo(f"wrote {out}")


@main.group()
def vgse() -> None:
    """VGSE: discover class embeddings from images (patch clustering + class relation)."""


@vgse.command("discover")
@click.option("--demo", is_flag=True, help="Run on the built-in SYNTHETIC image world with a tiny local CNN.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path),
              help="Instead of images: an xlsa17 dataset directory; its trainval image features are the patches (one "
                   "per image), its word2vec_splits.mat the word vectors (unless --word-vectors).")
@click.option("--images", type=click.Path(path_type=Path), help="Image folder, one sub-folder per class.")
@click.option("--classes", type=click.Path(path_type=Path), help="All class names, one per line.")
@click.option("--unseen", type=click.Path(path_type=Path), help="Unseen class names, one per line.")
@click.option("--word-vectors", type=click.Path(path_type=Path),
              help="word2vec (.bin/.txt) or GloVe file, or 'wordllama' (offline text model, the text extra).")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path),
              help="Local torchvision weight file of --backbone (nothing is downloaded).")
@click.option("--backbone-weights", "old_weights", type=click.Path(dir_okay=False, path_type=Path), hidden=True,
              help="Deprecated name of --weights.")
@click.option("--backbone", default="resnet101", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: new, empty or written by zslkit. VGSE_SMO.mat (VGSE_WAvg.mat with --relation "
                   "wavg), the .npy/.csv embeddings, relation.csv, figures and the caches a rerun resumes from are "
                   "written directly into it (with --demo also the synthetic world, into OUT/world).")
@click.option("--patch-grid", default=None, metavar="RxC",
              help="Patches cropped from each image, rows x columns [default: 3x3].")
@click.option("--grid", "old_patch_grid", default=None, hidden=True, help="Deprecated name of --patch-grid.")
@click.option("--clusters", "n_clusters", default=150, show_default=True, type=int)
@click.option("--epochs", default=20, show_default=True, type=int)
@click.option("--relation", default="smo", show_default=True, type=click.Choice(["smo", "wavg"]))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Any other DiscoverConfig field.")
def vgse_discover(demo, data_dir, images, classes, unseen, word_vectors, weights, old_weights, backbone, out,
                  patch_grid, old_patch_grid, n_clusters, epochs, relation, seed, params) -> None:
    """Discover VGSE class embeddings (.mat in the VGSE_SMO.mat layout, .npy, .csv, plots) into --out."""
    from zslkit.vgse.discovery import DiscoverConfig, discover, discover_demo

    weights = _renamed_option(weights, old_weights, "--weights", "--backbone-weights")
    patch_grid = _renamed_option(patch_grid, old_patch_grid, "--patch-grid", "--grid") or "3x3"
    if demo:
        click.secho("SYNTHETIC image world: these embeddings are for demonstration only", fg="yellow")
        res = discover_demo(out, seed=seed)
    elif data_dir is not None:
        values = {"data": str(data_dir), "word_vectors": None if word_vectors is None else str(word_vectors),
                  "out": str(out), "n_clusters": n_clusters, "epochs": epochs, "relation": relation, "seed": seed,
                  **_parse_params(params)}
        res = discover(DiscoverConfig.from_dict(values))
    else:
        from zslkit.errors import ConfigError

        missing = [n for n, v in (("--images", images), ("--classes", classes), ("--unseen", unseen),
                                  ("--word-vectors", word_vectors)) if v is None]
        if missing:
            raise ConfigError(f"vgse discover needs {', '.join(missing)} (or --demo)")
        values = {"images": str(images), "classes": str(classes), "unseen": str(unseen),
                  "word_vectors": str(word_vectors), "out": str(out), "backbone": backbone,
                  "weights": None if weights is None else str(weights), "patch_grid": patch_grid,
                  "n_clusters": n_clusters, "epochs": epochs, "relation": relation, "seed": seed,
                  **_parse_params(params)}
        res = discover(DiscoverConfig.from_dict(values))
    click.echo(res.summary())


def _renamed_option(value, old_value, name: str, old_name: str):
    """The value of option ``name`` given under ``old_name``, its deprecated spelling (still accepted, with a
    warning on stderr), or under ``name``; both at once is an error."""
    from zslkit.errors import ConfigError

    if old_value is None:
        return value
    if value is not None:
        raise ConfigError(f"{old_name} is the old name of {name}: give {name} only")
    click.secho(f"warning: {old_name} is deprecated and will be removed in a later release; use {name}", fg="yellow",
                err=True)
    return old_value


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        click.echo("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


@main.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", default=None, type=click.Path(path_type=Path),
              help="The .html file to write (or a directory zslkit wrote: DIR/report.html).")
@click.option("--csv", "csv_out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also (or only) write every run's results as one CSV row: metrics, model, semantic, seed, "
                   "hyperparameters (param.*) and settings (config.*).")
@click.option("--title", default=None, help="Report title.")
@click.option("--top-k", default=30, show_default=True, type=int, help="Attributes shown in per-attribute error figures.")
def report_cmd(paths: tuple[Path, ...], out: Path | None, csv_out: Path | None, title: str | None, top_k: int) -> None:
    """One self-contained HTML report of any run directories and grids (summary with mean ± std over seeds,
    chance level, selected hyperparameters, seen-unseen curves, confusions, per-attribute errors, provenance),
    and/or (--csv) their results as a table, one row per run."""
    from zslkit.errors import ConfigError
    from zslkit.report.runs import build_report, collect_runs, comparison_table, group_runs, report_path

    if out is None and csv_out is None:
        raise ConfigError("give --out REPORT.html, --csv RESULTS.csv, or both")
    if out is not None:
        report_path(out)  # a bad --out fails before anything is read or drawn
    if csv_out is not None:
        from zslkit.report.results import write_results_csv

        n = write_results_csv(paths, csv_out)
        click.echo(f"wrote {csv_out} ({n} runs)")
    if out is not None:
        path = build_report(paths, out, title=title, top_k_attributes=top_k)
        _print_table(comparison_table(group_runs(collect_runs(paths))), ["run", "seeds", "T1", "U", "S", "H",
                                                                          "AUSUC"])
        click.echo(f"wrote {path}")


@main.command("models")
@click.argument("name", required=False)
def models_cmd(name: str | None) -> None:
    """List the registered models with their default hyperparameters and search grids, and the feature
    transforms. With NAME: that model's every hyperparameter, with its default, type and default grid."""
    import textwrap

    from zslkit.registry import (IMAGE_MODELS, default_grid, format_value, model_description, model_hyperparameters,
                                 model_names)

    if name is not None:
        _print_model(name)
        return
    pad = " " * 17

    def wrapped(label: str, items: list[str], sep: str = ", ") -> None:
        click.echo(textwrap.fill(sep.join(items), width=118, initial_indent=f"{pad}{label}: ",
                                 subsequent_indent=pad + " " * (len(label) + 2), break_on_hyphens=False,
                                 break_long_words=False))

    click.echo("feature-level (zslkit train --model NAME --data XLSA17_DIR):")
    for model in model_names():
        desc = model_description(model)
        click.echo(f"  {model:15s}{desc}" if desc else f"  {model}")
        wrapped("defaults", [f"{k}={format_value(v)}" for k, v in model_hyperparameters(model).items()])
        grid = default_grid(model)
        if grid:
            wrapped("searched", [f"{k}={','.join(format_value(x) for x in v)}" for k, v in grid.items()], "; ")
    click.echo("image-level (zslkit train --model NAME --data MAPS_DIR, or --data XLSA17_DIR --images IMAGE_ROOT; "
               "no search grid: the epoch count and gamma are chosen on validation classes; settings and presets: "
               "zslkit models NAME):")
    for model, desc in IMAGE_MODELS.items():
        click.echo(f"  {model:15s}{desc}")
    from zslkit.features import TRANSFORMS

    click.echo("feature transforms (zslkit train --transform NAME or 'NAME(key=value, ...)'):")
    for tname, (_, desc) in TRANSFORMS.items():
        click.echo(f"  {tname:15s}{desc}")
    click.echo("Fix a hyperparameter: --param KEY=VALUE; search other values: --grid KEY=V1,V2,... (zslkit train, "
               "zslkit benchmark).")


def _print_model(name: str) -> None:
    """``zslkit models NAME``: one model in detail."""
    from zslkit.config import type_name
    from zslkit.registry import (IMAGE_MODELS, default_grid, format_value, hyperparameter_types, model_description,
                                 model_hyperparameters, parse_model_spec)

    name = parse_model_spec(name)[0]
    image = name in IMAGE_MODELS
    hints = hyperparameter_types(name)  # an unknown name: one error line, with the closest name
    desc = IMAGE_MODELS[name] if image else model_description(name)
    click.echo(f"{name}: {desc}" if desc else name)
    click.echo(f"{'image' if image else 'feature'}-level: zslkit train --model {name} --data "
               f"{'MAPS_DIR' if image else 'XLSA17_DIR'}")
    grid = default_grid(name)
    rows = [{"hyperparameter": k, "default": format_value(v), "type": type_name(hints[k]) if k in hints else "",
             "searched by default": ",".join(format_value(x) for x in grid.get(k, []))}
            for k, v in model_hyperparameters(name).items()]
    _print_table(rows, ["hyperparameter", "default", "type", "searched by default"])
    if image:
        from zslkit.image_pipeline import PRESETS

        click.echo(f"presets (--param preset=NAME: the authors' settings): {', '.join(sorted(PRESETS.get(name, {})))}")
        click.echo("no search grid: the epoch count (select_epochs) and gamma are chosen on validation classes; set "
                   "a value with --param KEY=VALUE")
    else:
        click.echo("fix a value: --param KEY=VALUE; search other values: --grid KEY=V1,V2,... (zslkit train, zslkit "
                   "benchmark), or in a YAML config grid: {KEY: [V1, V2, ...]}")


@main.command("demo")
@click.option("--out", default="zslkit-demo", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--model", "models", multiple=True, help="Repeatable; default: eszsl, sae, ale, regressor MSE/ReMSE.")
@click.option("--semantic", "semantics", multiple=True, type=click.Choice(["att", "word2vec", "vgse", "vgse_wavg"]),
              help="Repeatable; default: att, word2vec, vgse.")
@click.option("--small", is_flag=True, help="Reduced size (about a minute): fewer classes, images and epochs.")
@click.pass_context
def demo_cmd(ctx: click.Context, out: Path, seed: int, models: tuple[str, ...], semantics: tuple[str, ...],
             small: bool) -> None:
    """Built-in default: synthetic image world -> VGSE discovery -> ZSL models -> OUT/report.html.

    Downloads nothing and runs on CPU in a few minutes. Compares ground-truth attributes,
    surrogate word vectors and discovered VGSE embeddings across several models, and ReMSE vs
    MSE on the semantic regressor. An interrupted demo resumes where it stopped.
    """
    from zslkit.demo import WARNING, DemoConfig, run_demo, summary_lines
    from zslkit.errors import ConfigError
    from zslkit.utils.seed import seed_error

    if seed_error(seed, "--seed"):
        raise ConfigError(seed_error(seed, "--seed"))
    cfg = DemoConfig(seed=seed, small=small)
    if models:
        cfg.models = list(models)
    if semantics:
        cfg.semantics = list(semantics)
    quiet = ctx.find_root().params.get("quiet", False)
    click.secho(WARNING, fg="yellow")
    result = run_demo(out, cfg, progress=not quiet, echo=None if quiet else click.echo)
    for line in summary_lines(result):
        click.echo(line)
    click.secho("(synthetic world: not benchmark results)", fg="yellow")
    click.echo(f"wrote {out / 'report.html'} and {out / 'metrics.json'} in {result.timings['total']:.0f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
