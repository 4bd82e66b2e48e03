"""zslkit.vgse: VGSE (Xu et al., CVPR 2022) visually-grounded semantic embeddings.

Class Relation module (embeddings of unseen classes from seen ones via word vectors):
:func:`solve_class_relation` (the paper's "SMO" QP), :func:`wavg_relation` (WAvg baseline),
:func:`predict_unseen_embeddings` and the estimator-style :class:`ClassRelation`.
"""

from zslkit.vgse.class_relation import (
    ClassRelation,
    ClassRelationConvergenceWarning,
    ClassRelationInfo,
    class_relation_objective,
    duality_gap,
    predict_unseen_embeddings,
    project_capped_simplex,
    solve_class_relation,
    wavg_relation,
)

__all__ = [
    "ClassRelation",
    "ClassRelationConvergenceWarning",
    "ClassRelationInfo",
    "class_relation_objective",
    "duality_gap",
    "predict_unseen_embeddings",
    "project_capped_simplex",
    "solve_class_relation",
    "wavg_relation",
]

# Discovery pipeline (images -> patches -> clusters -> class embeddings). Imported lazily
# (PEP 562) because these modules import torch/torchvision, which the numpy-only class
# relation above does not need.
_LAZY = {
    "DiscoverConfig": "zslkit.vgse.discovery",
    "DiscoveryResult": "zslkit.vgse.discovery",
    "discover": "zslkit.vgse.discovery",
    "discover_demo": "zslkit.vgse.discovery",
    "relation_validation_semantic": "zslkit.vgse.discovery",
    "PCConfig": "zslkit.vgse.patch_clustering",
    "PatchClustering": "zslkit.vgse.patch_clustering",
    "train_patch_clustering": "zslkit.vgse.patch_clustering",
    "build_backbone": "zslkit.vgse.backbone",
    "extract_features": "zslkit.vgse.feature_cache",
    "FeatureCache": "zslkit.vgse.feature_cache",
    "export_embeddings": "zslkit.vgse.export",
}
__all__ += sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zslkit.vgse' has no attribute {name!r}")
