"""Image-folder layouts (CUB, AWA2, SUN), res101 image lists, unreadable images."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zslkit.data.images import (
    BadImages,
    ImageList,
    ImageReadError,
    image_list_from_res101,
    load_image,
    match_class_folders,
    resolve_image_paths,
    scan_image_folder,
)
from zslkit.data.xlsa17 import write_res101
from zslkit.errors import ZSLDataError


def _img(path: Path, colour=(255, 0, 0), size=(8, 6), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)
    return path


def test_cub_layout(tmp_path):
    root = tmp_path / "CUB_200_2011" / "images"
    _img(root / "001.Black_footed_Albatross" / "b.jpg")
    _img(root / "001.Black_footed_Albatross" / "a.jpg")
    _img(root / "002.Laysan_Albatross" / "c.png")
    names = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
    imgs = scan_image_folder(root, names, classes=names[:2])
    assert [Path(p).name for p in imgs.paths] == ["a.jpg", "b.jpg", "c.png"]  # class order, then file name
    assert imgs.labels.tolist() == [0, 0, 1]
    assert imgs.counts().tolist() == [2, 1, 0]
    # class names without the CUB number still find the numbered folders; a parent root works too
    found = match_class_folders(tmp_path, ["Black_footed_Albatross", "Laysan_Albatross"])
    assert found["Laysan_Albatross"] == root / "002.Laysan_Albatross"


def test_awa2_and_sun_layouts(tmp_path):
    awa = tmp_path / "AWA2" / "JPEGImages"
    _img(awa / "grizzly+bear" / "grizzly+bear_10001.jpg")
    _img(awa / "antelope" / "antelope_10001.jpg")
    imgs = scan_image_folder(awa.parent, ["antelope", "grizzly+bear"])
    assert imgs.labels.tolist() == [0, 1] and imgs.class_folders["grizzly+bear"].endswith("grizzly+bear")
    sun = tmp_path / "SUN" / "images"
    _img(sun / "a" / "abbey" / "sun_a.jpg")
    _img(sun / "a" / "apartment_building" / "outdoor" / "sun_b.jpg")
    _img(sun / "a" / "apse" / "outdoor" / "sun_c.jpg")
    _img(sun / "a" / "apse" / "indoor" / "sun_d.jpg")
    names = ["abbey", "apartment_building_outdoor", "apse_indoor", "apse_outdoor"]
    imgs = scan_image_folder(sun, names)
    assert [Path(p).name for p in imgs.paths] == ["sun_a.jpg", "sun_b.jpg", "sun_d.jpg", "sun_c.jpg"]
    assert imgs.labels.tolist() == [0, 1, 2, 3]


def test_missing_class_folder_is_named(tmp_path):
    _img(tmp_path / "imgs" / "cat" / "1.png")
    with pytest.raises(ZSLDataError, match=r"no image folder for 1 class\(es\): \['dog'\].*cat"):
        scan_image_folder(tmp_path / "imgs", ["cat", "dog"])
    with pytest.raises(ZSLDataError, match="image folder not found"):
        scan_image_folder(tmp_path / "nope", ["cat"])
    with pytest.raises(ZSLDataError, match="not in the class list"):
        scan_image_folder(tmp_path / "imgs", ["cat"], classes=["cow"])


def test_ambiguous_folders_are_an_error(tmp_path):
    _img(tmp_path / "r" / "x" / "outdoor" / "1.png")
    _img(tmp_path / "r" / "y" / "outdoor" / "1.png")
    with pytest.raises(ZSLDataError, match="several folders"):
        match_class_folders(tmp_path / "r", ["outdoor"])
    # the full relative path disambiguates
    assert match_class_folders(tmp_path / "r", ["x_outdoor"])["x_outdoor"].parent.name == "x"


def test_unreadable_images_named_by_path(tmp_path):
    good = _img(tmp_path / "good.png")
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"this is not an image")
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(good.read_bytes()[:40])
    assert load_image(good).mode == "RGB"
    for p, reason in ((garbage, "Unidentified"), (truncated, "Error"), (tmp_path / "missing.jpg", "file not found")):
        with pytest.raises(ImageReadError) as ei:
            load_image(p)
        assert str(p) in str(ei.value) and reason in ei.value.reason and isinstance(ei.value, ZSLDataError)
    bad = BadImages()
    bad.add(3, ImageReadError(garbage, "broken"))
    assert len(bad) == 1 and bad.to_list() == [{"index": 3, "path": str(garbage), "reason": "broken"}]
    assert str(garbage) in bad.report()
    with pytest.raises(ImageReadError):
        BadImages(fail_fast=True).add(0, ImageReadError(garbage, "broken"))


def test_decompression_bombs_are_unreadable_images(tmp_path):
    from tests.conftest import png_bomb

    # above PIL's error limit (was an uncaught DecompressionBombError), and between its warning and error
    # limits (PIL only warned, then decoded 144 M pixels)
    for p in (png_bomb(tmp_path / "bomb.png"), png_bomb(tmp_path / "half.png", 12000, 12000)):
        with pytest.raises(ImageReadError, match="decompression bomb refused") as ei:
            load_image(p)
        assert ei.value.path == str(p)
    bad = BadImages()
    bad.add(0, ei.value)  # what --skip-bad does with it
    assert "decompression bomb" in bad.report()


def test_res101_image_files_resolved_under_user_root(tmp_path):
    root = tmp_path / "CUB_200_2011"
    _img(root / "images" / "001.A" / "a1.jpg")
    _img(root / "images" / "002.B" / "b1.jpg")
    foreign = ["/BS/xian/work/data/CUB_200_2011/CUB_200_2011/images/001.A/a1.jpg",
               "/BS/xian/work/data/CUB_200_2011/CUB_200_2011/images/002.B/b1.jpg",
               "/BS/xian/work/data/CUB_200_2011/CUB_200_2011/images/002.B/gone.jpg"]
    paths, dropped = resolve_image_paths(foreign, root)
    assert dropped == 6 and Path(paths[0]) == root / "images" / "001.A" / "a1.jpg"
    write_res101(tmp_path / "res101.mat", np.zeros((3, 4), np.float32), np.array([0, 1, 1]), image_files=foreign)
    imgs = image_list_from_res101(tmp_path / "res101.mat", root, ["A", "B"])
    assert imgs.labels.tolist() == [0, 1, 1] and imgs.class_names == ["A", "B"]
    assert imgs.load(0).size == (8, 6)
    with pytest.raises(ImageReadError, match="gone.jpg"):  # a missing file stays missing (reported later)
        imgs.load(2)
    with pytest.raises(ZSLDataError, match="none of the first"):
        resolve_image_paths(["/x/y/z.jpg"], root)


def test_image_list_subsets():
    il = ImageList(["a", "b", "c"], [0, 2, 0], ["x", "y", "z"])
    assert il.of_classes([0]).paths == ["a", "c"]
    assert il.subset([1]).labels.tolist() == [2]
    with pytest.raises(ZSLDataError):
        ImageList(["a"], [5], ["x"])


# -- paths leaving the image root ------------------------------------------------------------------------------


def _outside_error(paths, root) -> str:
    with pytest.raises(ZSLDataError) as exc:
        resolve_image_paths(paths, root, source="res101.mat:image_files")
    return str(exc.value)


def test_image_files_leaving_the_root_are_refused_alike_whether_or_not_the_target_exists(tmp_path):
    """``..`` components and symbolic links out of the root: refused, and the message is the same for an
    outside file that exists and one that does not (nothing about it is looked up or reported)."""
    root = tmp_path / "images"
    _img(root / "A" / "a1.jpg")
    _img(root / "A" / "a2.jpg")
    _img(tmp_path / "secret" / "exists.jpg")
    messages = {}
    for name in ("exists.jpg", "absent.jpg"):
        msg = _outside_error(["A/a1.jpg", f"A/../../secret/{name}"], root)
        messages[name] = msg.replace(name, "NAME")
        assert msg.startswith("res101.mat:image_files: ") and name in msg and "outside the image root" in msg
    assert messages["exists.jpg"] == messages["absent.jpg"]
    messages = {}
    for name in ("exists.jpg", "absent.jpg"):
        link = root / "A" / f"link_{name}"
        link.symlink_to(tmp_path / "secret" / name)
        msg = _outside_error(["A/a1.jpg", "A/a2.jpg", f"A/link_{name}"], root)
        messages[name] = msg.replace(name, "NAME")
        assert "outside the image root" in msg
    assert messages["exists.jpg"] == messages["absent.jpg"]
    (root / "B").symlink_to(tmp_path / "secret")  # a class folder linked from outside the root is outside too
    assert "outside the image root" in _outside_error(["A/a1.jpg", "A/a2.jpg", "B/exists.jpg"], root)


def test_absolute_image_files_are_read_under_the_root_never_as_absolute(tmp_path):
    root = tmp_path / "images"
    _img(root / "A" / "a1.jpg")
    outside = _img(tmp_path / "elsewhere" / "A" / "a1.jpg")  # an absolute path that exists, outside the root
    paths, dropped = resolve_image_paths([str(outside)], root)
    assert Path(paths[0]) == root / "A" / "a1.jpg" and dropped == len(outside.parts) - 3
    inside_link = root / "A" / "same.jpg"  # a link that stays inside the root is fine
    inside_link.symlink_to(root / "A" / "a1.jpg")
    assert resolve_image_paths(["A/same.jpg"], root)[0] == [str(inside_link)]


def test_res101_with_a_path_out_of_the_root_names_the_file(tmp_path):
    root = tmp_path / "images"
    _img(root / "A" / "a1.jpg")
    write_res101(tmp_path / "res101.mat", np.zeros((2, 3), np.float32), np.array([0, 0]),
                 image_files=["A/a1.jpg", "../../../etc/passwd"])
    with pytest.raises(ZSLDataError, match=r"res101.mat:image_files: '../../../etc/passwd' leads outside the image "
                                           r"root"):
        image_list_from_res101(tmp_path / "res101.mat", root, ["A"])


# -- high bit depth ---------------------------------------------------------------------------------------------


def _ramp16() -> np.ndarray:
    return (np.arange(32 * 32, dtype=np.float64).reshape(32, 32) * 64).astype(np.uint16)  # 0 .. 65472


@pytest.mark.parametrize("suffix", [".png", ".tif", ".pgm"])
def test_16bit_images_scale_by_the_16bit_full_scale(tmp_path, suffix):
    """A 16-bit ramp (PNG and TIFF open as I;16, PGM as I): 8-bit values = round(v * 255 / 65535), so most of the
    image is not white (PIL's own conversion clips everything above 255 to 255)."""
    a = _ramp16()
    Image.fromarray(a).save(tmp_path / f"g{suffix}")
    with Image.open(tmp_path / f"g{suffix}") as im:
        assert im.mode in ("I;16", "I")
    rgb = np.asarray(load_image(tmp_path / f"g{suffix}"))
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    expected = np.rint(a * (255 / 65535)).astype(np.uint8)
    np.testing.assert_array_equal(rgb[..., 0], expected)
    np.testing.assert_array_equal(rgb[..., 1], expected)
    assert (rgb == 255).mean() < 0.01


def test_a_dark_16bit_image_stays_dark(tmp_path):
    Image.fromarray(np.full((8, 8), 1000, np.uint16)).save(tmp_path / "dark.png")  # 1.5% of 16-bit full scale
    assert np.asarray(load_image(tmp_path / "dark.png")).max() == 4


def test_float_images_in_unit_range_scale_by_255_others_by_their_own_range(tmp_path):
    unit = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(unit).save(tmp_path / "unit.tif")
    with Image.open(tmp_path / "unit.tif") as im:
        assert im.mode == "F"
    np.testing.assert_array_equal(np.asarray(load_image(tmp_path / "unit.tif"))[..., 0],
                                  np.rint(unit.astype(np.float64) * 255).astype(np.uint8))
    wide = np.linspace(-500, 3000, 64, dtype=np.float32).reshape(8, 8)  # no known full scale: own min..max
    Image.fromarray(wide).save(tmp_path / "wide.tif")
    out = np.asarray(load_image(tmp_path / "wide.tif"))[..., 0]
    assert out.min() == 0 and out.max() == 255 and np.all(np.diff(out.ravel().astype(int)) >= 0)
    big = np.arange(64, dtype=np.int32).reshape(8, 8) * 100_000  # 32-bit integers beyond 16 bits: own range
    Image.fromarray(big).save(tmp_path / "big.tif")
    out = np.asarray(load_image(tmp_path / "big.tif"))[..., 0]
    assert out.min() == 0 and out.max() == 255 and len(np.unique(out)) == 64


def test_float_images_with_nan_are_unreadable(tmp_path):
    a = np.ones((4, 4), np.float32)
    a[1, 2] = np.nan
    Image.fromarray(a).save(tmp_path / "nan.tif")
    with pytest.raises(ImageReadError, match=r"nan.tif: unreadable image \(mode F image with NaN"):
        load_image(tmp_path / "nan.tif")
