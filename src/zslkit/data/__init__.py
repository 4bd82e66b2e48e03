"""Data layer: ``ZSLData``, xlsa17 readers/writers, semantic files and surrogate datasets."""

from zslkit.data.matfile import load_mat, save_mat
from zslkit.data.semantic_files import read_semantic_matrix
from zslkit.data.surrogate import SurrogateConfig, make_surrogate
from zslkit.data.xlsa17 import (
    AttSplits,
    Res101,
    load_xlsa17,
    read_att_splits,
    read_class_list,
    read_res101,
    write_att_splits,
    write_class_list,
    write_res101,
)
from zslkit.data.zsldata import ValidationSplit, ZSLData

__all__ = [
    "AttSplits", "Res101", "SurrogateConfig", "ValidationSplit", "ZSLData", "load_mat", "load_xlsa17",
    "make_surrogate", "read_att_splits", "read_class_list", "read_res101", "read_semantic_matrix", "save_mat",
    "write_att_splits", "write_class_list", "write_res101",
]
