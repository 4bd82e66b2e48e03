"""Data layer: ``ZSLData``, xlsa17 readers/writers, semantic files, surrogate datasets and the data half of
building an xlsa17 directory from your own images (:mod:`zslkit.data.build`)."""

from zslkit.data.build import (
    AttributeTable,
    Xlsa17Splits,
    make_xlsa17_splits,
    read_attribute_csv,
    write_xlsa17_dataset,
)
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
    "AttSplits", "AttributeTable", "Res101", "SurrogateConfig", "ValidationSplit", "Xlsa17Splits", "ZSLData",
    "load_mat", "load_xlsa17", "make_surrogate", "make_xlsa17_splits", "read_att_splits", "read_attribute_csv",
    "read_class_list", "read_res101", "read_semantic_matrix", "save_mat", "write_att_splits", "write_class_list",
    "write_res101", "write_xlsa17_dataset",
]
