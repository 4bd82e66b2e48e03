"""Command line interface: argument parsing and printing only; every command calls one library function.

Errors caused by input (:class:`zslkit.errors.ZSLKitError`) print one ``error:`` line and exit
with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from zslkit import __version__
from zslkit.errors import ZSLKitError


class _Group(click.Group):
    """Turns zslkit's own errors into one clear line and a non-zero exit (no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ZSLKitError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="zslkit")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and results.")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """zslkit: zero-shot learning toolkit (xlsa17 data, ZSL/GZSL protocol, models, ReMSE, VGSE)."""
    ctx.obj = {"debug": debug}
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


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
@click.option("--feature-dim", default=2048, show_default=True, type=int)
@click.option("--n-unseen", default=None, type=int, help="Unseen classes to draw when no testclasses.txt exists.")
@click.option("--overwrite", is_flag=True, help="Replace an existing surrogate dataset in --out.")
def data_synth(att_splits: Path, out: Path, seed: int, feature_dim: int, n_unseen: int | None, overwrite: bool) -> None:
    """Write a SURROGATE xlsa17 dataset (real splits, synthetic features)."""
    from zslkit.data.surrogate import SurrogateConfig, make_surrogate
    from zslkit.data.xlsa17 import load_xlsa17

    make_surrogate(att_splits, out, seed=seed, config=SurrogateConfig(feature_dim=feature_dim), n_unseen=n_unseen,
                   overwrite=overwrite)
    s = load_xlsa17(out).summary()
    click.secho(f"wrote SURROGATE dataset {out} (synthetic features; not a real benchmark)", fg="yellow")
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
@click.option("--images", required=True, type=click.Path(path_type=Path),
              help="Image folder, one sub-folder of images per class.")
@click.option("--classes", required=True, type=click.Path(path_type=Path), help="All class names, one per line.")
@click.option("--unseen", required=True, type=click.Path(path_type=Path), help="Unseen class names, one per line.")
@click.option("--attributes", type=click.Path(path_type=Path),
              help="Attribute table, long format: rows class,attribute,value (header optional) -> att_splits.mat "
                   "'att'. Optional with --word-vectors.")
@click.option("--word-vectors", type=click.Path(path_type=Path),
              help="word2vec (.bin/.txt) or GloVe file: class-name vectors -> word2vec_splits.mat (--semantic "
                   "word2vec). Without --attributes the dataset has no 'att'.")
@click.option("--oov", default="error", show_default=True, type=click.Choice(["error", "skip"]),
              help="A class-name word missing from --word-vectors: fail naming it, or average the words found.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
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
@click.option("--overwrite", is_flag=True, help="Replace a finished build in --out.")
@click.pass_context
def data_build(ctx: click.Context, images, classes, unseen, attributes, word_vectors, oov, out, backbone, weights,
               image_size, batch_size, seed, test_seen_fraction, val_folds, skip_bad, cache_dir, keep_cache, device,
               threads, overwrite) -> None:
    """Build an xlsa17 dataset directory (res101.mat, att_splits.mat, word2vec_splits.mat, class lists) from your
    own images. Needs --attributes, --word-vectors or both."""
    from zslkit.build import BuildConfig, build_xlsa17

    def opt(p):
        return None if p is None else str(p)

    cfg = BuildConfig(images=str(images), classes=str(classes), unseen=str(unseen), attributes=opt(attributes),
                      word_vectors=opt(word_vectors), oov=oov, out=str(out), backbone=backbone, weights=opt(weights), image_size=image_size,
                      batch_size=batch_size, device=device, threads=threads, skip_bad=skip_bad,
                      cache_dir=opt(cache_dir), keep_cache=keep_cache, seed=seed,
                      test_seen_fraction=test_seen_fraction, val_folds=val_folds, overwrite=overwrite,
                      progress=not ctx.find_root().params.get("quiet", False))
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
              help="Fix a hyperparameter (skips its search); repeatable.")
@click.option("--no-tune", is_flag=True, help="Use the constructor defaults / --param values; no validation search.")
@click.option("--val-fold", "val_folds", multiple=True, type=int, default=(1,), show_default=True,
              help="Validation class fold(s) for model selection.")
@click.option("--gamma", default=None, type=float, help="Fix the calibration gamma instead of choosing it on validation.")
@click.option("--val-semantic", default="auto", show_default=True, type=click.Choice(["auto", "same", "relation"]),
              help="Class matrix of validation folds: 'relation' re-predicts validation-class rows through the VGSE "
                   "class relation as unseen rows are at test time ('auto': for VGSE embeddings).")
@click.option("--relation-word-vectors", default="word2vec", show_default=True,
              help="Semantic name or file the class relation is fitted on (with --val-semantic relation/auto).")
@click.pass_context
def train_cmd(ctx: click.Context, data_dir: Path, model: str, loss: str | None, semantic: str, out: Path, seed: int,
              params: tuple[str, ...], no_tune: bool, val_folds: tuple[int, ...], gamma: float | None,
              val_semantic: str, relation_word_vectors: str) -> None:
    """Train a ZSL model on a dataset and write RUN_DIR/metrics.json + config.yaml."""
    from zslkit.pipeline import TrainConfig, train

    fixed = _parse_params(params)
    if loss is not None:
        fixed["loss"] = loss
    if model == "attention_net":
        _train_attention_net(data_dir, out, seed, fixed, gamma, val_folds, ctx)
        return
    cfg = TrainConfig(data=str(data_dir), model=model, semantic=semantic, seed=seed, params=fixed,
                      tune=not no_tune, val_folds=list(val_folds), gamma=gamma,
                      progress=not ctx.find_root().params.get("quiet", False), val_semantic=val_semantic,
                      relation_word_vectors=relation_word_vectors)
    result = train(cfg)
    result.save(out)
    _print_result(result.to_dict())
    click.echo(f"wrote {out / 'metrics.json'}")


def _train_attention_net(data_dir: Path, out: Path, seed: int, fixed: dict, gamma, val_folds, ctx) -> None:
    """AttentionNet is trained by the episodic engine, not the feature-estimator pipeline: DATA is a
    feature-map directory (``save_feature_maps``/``extract_feature_maps``); --param sets any
    AttentionNetConfig field. Works unchanged under ``torchrun --nproc_per_node=N -m zslkit train``."""
    import os

    from zslkit.training.feature_maps import load_feature_maps
    from zslkit.training.loop import AttentionNetConfig, train_attention_net

    values = {"seed": seed, "out_dir": str(out), "val_fold": val_folds[0],
              "progress": not ctx.find_root().params.get("quiet", False), **fixed}
    if gamma is not None:
        values["gamma"] = gamma
    cfg = AttentionNetConfig.from_dict(values).validate()
    result = train_attention_net(cfg, load_feature_maps(data_dir))
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 prints
        _print_result({**result.to_dict(), "params": {k: v for k, v in fixed.items()}})
        click.echo(f"training throughput {result.throughput:.0f} images/s on {result.world_size} process(es)")
        click.echo(f"wrote {out / 'metrics.json'}")


def _parse_params(items: tuple[str, ...]) -> dict:
    import yaml

    from zslkit.errors import ConfigError

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--param expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def _print_result(d: dict) -> None:
    if d.get("surrogate"):
        click.secho("SURROGATE data: these numbers are not benchmark results", fg="yellow")
    z, g = d["zsl"], d["gzsl"]
    click.echo(f"ZSL   T1 {z['T1']:6.2f}")
    click.echo(f"GZSL  U {g['U']:6.2f}  S {g['S']:6.2f}  H {g['H']:6.2f}  (gamma {g['gamma']:.4g}, {d['gamma_source']})")
    click.echo(f"AUSUC {d['ausuc']:6.2f}   [oracle H {d['gzsl_oracle']['H']:.2f}: gamma tuned on test, for comparison only]")
    click.echo(f"params {d['params']}")


@main.command("benchmark")
@click.option("--data", "data_dirs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Dataset directory; repeatable.")
@click.option("--semantic", "semantics", multiple=True, default=("att",), show_default=True, help="Repeatable.")
@click.option("--model", "models", multiple=True, default=("eszsl",), show_default=True, help="Repeatable.")
@click.option("--seeds", default=3, show_default=True, type=int, help="Number of seeds (0..N-1).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--workers", default=1, show_default=True, type=int, help="Parallel worker processes.")
@click.option("--threads-per-worker", default=1, show_default=True, type=int)
@click.option("--submitit-folder", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Submit the cells through submitit (SLURM job array); its job files and logs go here.")
@click.option("--cluster", type=click.Choice(["auto", "slurm", "local", "debug"]), default="auto", show_default=True,
              help="submitit backend (with --submitit-folder): auto = SLURM if available, else local processes.")
@click.option("--slurm-partition", default=None, help="SLURM partition (with --submitit-folder).")
@click.option("--timeout-min", default=60, show_default=True, type=int, help="Time limit per cell job (submitit).")
def benchmark_cmd(data_dirs, semantics, models, seeds: int, out: Path, workers: int, threads_per_worker: int,
                  submitit_folder: Path | None, cluster: str, slurm_partition: str | None, timeout_min: int) -> None:
    """Run the grid datasets x semantics x models x seeds (resumable); write results.csv/.md."""
    from zslkit.grid import GridConfig, run_grid

    cfg = GridConfig(data=[str(d) for d in data_dirs], semantics=list(semantics), models=list(models),
                     seeds=list(range(seeds)), out=str(out), workers=workers, threads_per_worker=threads_per_worker)
    executor = None
    if submitit_folder is not None:
        from zslkit.cluster import submitit_executor

        executor = submitit_executor(submitit_folder, cluster=None if cluster == "auto" else cluster,
                                     partition=slurm_partition, timeout_min=timeout_min,
                                     cpus_per_task=threads_per_worker)
    res = run_grid(cfg, executor=executor)
    click.echo(res.table())
    click.echo(f"{res.ran} cells run, {res.skipped} already done; wrote {out / 'results.csv'} and {out / 'results.md'}")


@main.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (train configs; grid configs use their own 'out').")
def run_cmd(config: Path, out: Path | None) -> None:
    """Run an experiment from a YAML config (kind: train | grid | discover | demo)."""
    from zslkit.config import load_config
    from zslkit.demo import DemoConfig
    from zslkit.grid import GridConfig, run_grid
    from zslkit.pipeline import train
    from zslkit.vgse.discovery import DiscoverConfig

    cfg = load_config(config)
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
    result = train(cfg)
    out = out or Path("runs") / config.stem
    result.save(out)
    _print_result(result.to_dict())
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
def analyze_cmd(run_dir: Path, compare: tuple[Path, ...], data_dir: Path | None, indices: tuple[int, ...],
                top_k: int) -> None:
    """Figures of a run: AUSUC curve, confusion matrices, per-attribute errors and imbalance stats;
    for AttentionNet runs (with --data) the per-attribute attention maps."""
    from zslkit.errors import ConfigError

    if (run_dir / "model.pt").is_file():  # an AttentionNet run directory
        if data_dir is None:
            raise ConfigError(f"{run_dir} is an AttentionNet run: pass --data MAPS_DIR to render attention maps")
        from zslkit.training.feature_maps import load_feature_maps
        from zslkit.training.loop import analyze_attention, load_attention_net

        model, _ = load_attention_net(run_dir / "model.pt")
        data = load_feature_maps(data_dir)
        idx = list(indices) or [int(i) for i in data.splits["test_unseen"][:4]]
        out = run_dir / "figures" / "attention_maps.png"
        analyze_attention(model, data, idx, out, top_k=top_k)
        click.echo(f"  attention_maps: {out}")
        if not (run_dir / "predictions.npz").is_file():
            return
    from zslkit.evaluation.analysis import analyze_run

    report = analyze_run(run_dir, compare=compare)
    if report.get("surrogate"):
        click.secho("SURROGATE data: not benchmark results", fg="yellow")
    for name, path in report["figures"].items():
        click.echo(f"  {name}: {path}")
    if isinstance(report.get("imbalance"), dict):
        for lab, x in report["imbalance"].items():
            if x:
                for split, v in x.items():
                    s = v["summary"]
                    click.echo(f"  {lab} [{split}] mse {s['mse']:.4g}  attribute CV {s['attr_cv']:.3f}  "
                               f"class CV {s['class_cv']:.3f}")
    click.echo(f"wrote {run_dir / 'analysis.json'}")


@main.group()
def vgse() -> None:
    """VGSE: discover class embeddings from images (patch clustering + class relation)."""


@vgse.command("discover")
@click.option("--demo", is_flag=True, help="Run on the built-in SYNTHETIC image world with a tiny local CNN.")
@click.option("--images", type=click.Path(path_type=Path), help="Image folder, one sub-folder per class.")
@click.option("--classes", type=click.Path(path_type=Path), help="All class names, one per line.")
@click.option("--unseen", type=click.Path(path_type=Path), help="Unseen class names, one per line.")
@click.option("--word-vectors", type=click.Path(path_type=Path), help="word2vec (.bin/.txt) or GloVe file.")
@click.option("--backbone-weights", "weights", type=click.Path(path_type=Path), help="Local ResNet weight file.")
@click.option("--backbone", default="resnet101", show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory (or the .mat to write).")
@click.option("--grid", "patch_grid", default="3x3", show_default=True)
@click.option("--clusters", "n_clusters", default=150, show_default=True, type=int)
@click.option("--epochs", default=20, show_default=True, type=int)
@click.option("--relation", default="smo", show_default=True, type=click.Choice(["smo", "wavg"]))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Any other DiscoverConfig field.")
def vgse_discover(demo, images, classes, unseen, word_vectors, weights, backbone, out, patch_grid, n_clusters, epochs,
                  relation, seed, params) -> None:
    """Discover VGSE class embeddings (.mat in the VGSE_SMO.mat layout, .npy, .csv, plots)."""
    from zslkit.vgse.discovery import DiscoverConfig, discover, discover_demo

    if demo:
        click.secho("SYNTHETIC image world: these embeddings are for demonstration only", fg="yellow")
        res = discover_demo(out, seed=seed)
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


@main.command("models")
def models_cmd() -> None:
    """List the registered models."""
    from zslkit.registry import model_description, model_names

    for name in model_names():
        desc = model_description(name)
        click.echo(f"{name:15s}{desc}" if desc else name)
    click.echo("attention_net  (feature maps or images; zslkit train --model attention_net --data MAPS_DIR)")


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
