"""Closed-form models must not import torch (about 0.5 GB resident and seconds of start-up):
``zslkit.models`` and the model registry import an estimator's module only when it is used."""

import subprocess
import sys

import pytest

from zslkit import registry


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_closed_form_path_does_not_import_torch():
    code = (
        "import sys\n"
        "import zslkit.data, zslkit.evaluation, zslkit.models, zslkit.training.selection\n"
        "from zslkit.models import ESZSL, SAE, ZSLModel\n"
        "from zslkit.registry import get_model, model_names\n"
        "assert isinstance(get_model('eszsl(alpha=5)'), ESZSL) and isinstance(get_model('sae'), SAE)\n"
        "assert set(model_names()) >= {'eszsl', 'sae', 'ale', 'sje', 'devise', 'regressor', 'clswgan'}\n"
        "print('torch' in sys.modules)\n"
    )
    assert _run(code) == "False"


def test_lazy_names_resolve_to_the_real_classes():
    from zslkit import models
    from zslkit.models.bilinear import ALE, SJE, BilinearRankingModel, DeViSE
    from zslkit.models.clswgan import CLSWGAN
    from zslkit.models.dap import DAP, IAP
    from zslkit.models.eszsl import ESZSL
    from zslkit.models.regressor import SemanticRegressor
    from zslkit.models.sae import SAE
    from zslkit.models.softmax_compat import SoftmaxCompat

    expected = {"ALE": ALE, "SJE": SJE, "DeViSE": DeViSE, "BilinearRankingModel": BilinearRankingModel,
                "CLSWGAN": CLSWGAN, "ESZSL": ESZSL, "SemanticRegressor": SemanticRegressor, "SAE": SAE,
                "SoftmaxCompat": SoftmaxCompat, "DAP": DAP, "IAP": IAP}
    for name, cls in expected.items():
        assert getattr(models, name) is cls
    assert set(expected) | {"ZSLModel"} == set(models.__all__) and set(models.__all__) <= set(dir(models))
    with pytest.raises(AttributeError):
        models.NotAModel  # noqa: B018
    for name, cls in (("ale", ALE), ("regressor", SemanticRegressor), ("clswgan", CLSWGAN)):
        assert type(registry.get_model(name)) is cls


def test_user_registration_wins_over_builtin(monkeypatch):
    monkeypatch.setattr(registry, "MODELS", {})

    class MyESZSL:
        def __init__(self, **kw):
            self.kw = kw

    registry.register_model("eszsl")(MyESZSL)
    m = registry.get_model("eszsl(alpha=3)")
    assert isinstance(m, MyESZSL) and m.kw == {"alpha": 3}


def test_unknown_model_error_lists_every_builtin(monkeypatch):
    monkeypatch.setattr(registry, "MODELS", {})  # nothing imported yet
    with pytest.raises(Exception, match="unknown model 'nope'") as err:
        registry.get_model("nope")
    for name in ("eszsl", "sae", "ale", "sje", "devise", "regressor", "clswgan", "softmax_compat"):
        assert name in str(err.value)


def test_pipeline_train_of_eszsl_does_not_import_torch(toy_dir):
    code = (
        "import sys\n"
        "from zslkit.pipeline import TrainConfig, train\n"
        f"r = train(TrainConfig(data={str(toy_dir)!r}, model='eszsl', grid={{'alpha': [1.0], 'lam': [1.0]}}))\n"
        "assert 0 < r.metrics.T1 <= 100\n"
        "print('torch' in sys.modules)\n"
    )
    assert _run(code) == "False"


def test_seed_everything_seeds_torch_once_imported():
    code = (
        "import torch\n"
        "from zslkit.utils.seed import seed_everything\n"
        "seed_everything(3); a = torch.rand(3)\n"
        "torch.manual_seed(3); b = torch.rand(3)\n"
        "print(bool(torch.equal(a, b)))\n"
    )
    assert _run(code) == "True"
