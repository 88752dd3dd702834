"""The dataset loaders: IDX parsing and its failures, the search order, the missing-data error,
the mnist-10k subset, CIFAR-100 batches, the transfer-learning stand-in and `prepare_keras_home`.

Every test searches only folders under its own tmp_path (see the `keras_home` fixture) and runs
offline; the tests of the MNIST test set bundled in grader/datasets/mnist/ add that folder back
(see `bundled_only`). Tests that read Debian's Fashion-MNIST skip where it is absent.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from grader import data
from grader.data import (
    CorruptDataFile,
    DataUnavailable,
    load,
    load_cifar100,
    load_fashion_mnist,
    load_mnist,
    load_mnist_10k,
    load_transfer_data,
    pad_to_rgb32,
    parse_idx,
    prepare_keras_home,
    read_idx,
)

DEBIAN_FASHION = data.DEBIAN_DIRS["fashion_mnist"]
# Taken before the `keras_home` fixture empties BUNDLED_DIRS: the folder inside the package.
BUNDLED_MNIST = data.BUNDLED_DIRS["mnist"]
needs_debian_fashion = pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION})",
)

# No example database: tests write nothing outside tmp_path. No deadline: the machine is shared.
FUZZ = settings(deadline=None, database=None, max_examples=100)
# The file-writing properties overwrite one file in tmp_path per example, which is safe to share.
FUZZ_FILES = settings(FUZZ, suppress_health_check=[HealthCheck.function_scoped_fixture])

COARSE_GROUPS = {"tops": (0, 2, 3, 4, 6), "trousers": (1,), "footwear": (5, 7, 9), "bags": (8,)}


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch) -> Path:
    """Searches see only tmp_path: an empty Keras home, no $CNNGRADER_DATA, no Debian folder,
    no bundled MNIST, and offline mode so that nothing is downloaded."""
    home = tmp_path / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("CNNGRADER_DATA", raising=False)
    monkeypatch.setenv("CNNGRADER_OFFLINE", "1")
    monkeypatch.setattr(data, "DEBIAN_DIRS", {})
    monkeypatch.setattr(data, "BUNDLED_DIRS", {})
    return home


@pytest.fixture
def bundled_only(tmp_path, monkeypatch) -> Path:
    """A fresh clone with nothing beside it: no $CNNGRADER_DATA or $KERAS_HOME, an empty home
    folder (so an empty ~/.keras), and the MNIST test set bundled in the package searched again."""
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(data, "BUNDLED_DIRS", {"mnist": BUNDLED_MNIST})
    return home


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX buffer written independently of the parser: magic, type, rank, big-endian sizes."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(data.IDX_TYPES[type_code]).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw, compresslevel=1)
    path.write_bytes(raw)
    return path


def write_fashion_set(folder: Path, marker: int, n_train: int = 6, n_test: int = 4,
                      compress: bool = True) -> data.Arrays:
    """Four IDX files of 28x28 images whose pixels all equal `marker`, labels cycling 0..9."""
    arrays = {
        "x_train": np.full((n_train, 28, 28), marker, dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": np.full((n_test, 28, 28), marker, dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for part, array in arrays.items():
        write_idx(folder / data.IDX_FILES[part], array, compress)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def write_mnist_t10k(folder: Path, per_class: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """Only the MNIST test files: image i carries i in its first two pixels and has label i % 10."""
    index = np.arange(10 * per_class)
    images = np.zeros((len(index), 28, 28), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = index // 256, index % 256
    labels = (index % 10).astype(np.uint8)
    write_idx(folder / data.IDX_FILES["x_test"], images, compress=False)
    write_idx(folder / data.IDX_FILES["y_test"], labels, compress=False)
    return images, labels


def image_ids(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0].astype(int) * 256 + images[:, 0, 1]


def cifar_rows(count: int) -> np.ndarray:
    """Rows of CIFAR's (N, 3072) layout, channel planes first: image n is 50 * channel + n throughout."""
    rows = np.zeros((count, 3072), dtype=np.uint8)
    for channel in range(3):
        rows[:, channel * 1024:(channel + 1) * 1024] = (50 * channel + np.arange(count))[:, None]
    return rows


def write_cifar_batch(path: Path, fine: list[int], coarse: list[int], rows: np.ndarray | None = None) -> None:
    """A CIFAR-100 python batch as the distribution pickles it: bytes keys, lists of labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = cifar_rows(len(fine)) if rows is None else rows
    path.write_bytes(pickle.dumps({b"data": rows, b"fine_labels": fine, b"coarse_labels": coarse}))


def searched_roots(error: DataUnavailable) -> list[Path]:
    """The folders of `error.searched`, each entry being "<folder>/ (<what was looked for>)"."""
    return [Path(entry.split(" (")[0]) for entry in error.searched]


@st.composite
def idx_arrays(draw) -> tuple[int, np.ndarray]:
    type_code = draw(st.sampled_from(sorted(data.IDX_TYPES)))
    shape = draw(array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    return type_code, draw(arrays(data.IDX_TYPES[type_code].newbyteorder("="), shape))


# parse_idx and read_idx


@FUZZ
@given(idx_arrays())
def test_parse_idx_round_trips_every_type_and_rank(case):
    type_code, array = case
    parsed = parse_idx(idx_bytes(array, type_code))
    assert parsed.dtype == array.dtype and parsed.dtype.isnative
    assert parsed.shape == array.shape
    assert parsed.tobytes() == array.tobytes()  # bitwise, so NaN payloads and -0.0 count too


@FUZZ
@given(idx_arrays(), st.data())
def test_parse_idx_rejects_every_truncation(case, draw):
    type_code, array = case
    buffer = idx_bytes(array, type_code)
    cut = draw.draw(st.integers(0, len(buffer) - 1), label="cut")
    with pytest.raises(CorruptDataFile):
        parse_idx(buffer[:cut])


@FUZZ
@given(idx_arrays(), st.binary(min_size=1, max_size=32))
def test_parse_idx_rejects_trailing_bytes(case, trailing):
    type_code, array = case
    with pytest.raises(CorruptDataFile):
        parse_idx(idx_bytes(array, type_code) + trailing)


@FUZZ
@given(idx_arrays(), st.binary(min_size=2, max_size=2).filter(lambda magic: magic != b"\0\0"))
def test_parse_idx_rejects_bad_magic(case, magic):
    type_code, array = case
    with pytest.raises(CorruptDataFile):
        parse_idx(magic + idx_bytes(array, type_code)[2:])


@FUZZ
@given(idx_arrays(), st.integers(0, 255).filter(lambda code: code not in data.IDX_TYPES))
def test_parse_idx_rejects_unknown_type_byte(case, type_byte):
    type_code, array = case
    buffer = bytearray(idx_bytes(array, type_code))
    buffer[2] = type_byte
    with pytest.raises(CorruptDataFile):
        parse_idx(bytes(buffer))


@FUZZ
@given(idx_arrays(), st.sampled_from([0]) | st.integers(5, 255))
def test_parse_idx_rejects_rank_outside_one_to_four(case, rank):
    type_code, array = case
    buffer = bytearray(idx_bytes(array, type_code))
    buffer[3] = rank
    with pytest.raises(CorruptDataFile):
        parse_idx(bytes(buffer))


@FUZZ
@given(st.sampled_from(sorted(data.IDX_TYPES)), st.integers(1, 4), st.binary(max_size=64))
# Four sizes of 2**16 multiply to 2**64, which wraps to 0 in int64: the header alone looked complete.
@example(type_code=0x08, rank=4, body=(2**16).to_bytes(4, "big") * 4)
def test_parse_idx_on_any_header_and_body_raises_corrupt_or_reads_exactly(type_code, rank, body):
    buffer = bytes([0, 0, type_code, rank]) + body
    try:
        parsed = parse_idx(buffer)
    except CorruptDataFile:
        return
    assert idx_bytes(parsed, type_code) == buffer


def test_corrupt_data_file_names_its_source():
    with pytest.raises(CorruptDataFile) as caught:
        parse_idx(b"\0\0\x08", source="some/train-images-idx3-ubyte")
    assert caught.value.path == "some/train-images-idx3-ubyte"
    assert "some/train-images-idx3-ubyte" in str(caught.value)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_read_idx_reads_compressed_and_plain_files(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "images-idx3-ubyte", images, compress)
    np.testing.assert_array_equal(read_idx(path), images)


GZ_SOURCE = ((np.arange(600) * 7) % 251).astype(np.uint8).reshape(6, 10, 10)
GZ_BYTES = gzip.compress(idx_bytes(GZ_SOURCE), mtime=0)


@FUZZ_FILES
@given(position=st.integers(0, len(GZ_BYTES) - 1), flip=st.integers(1, 255))
def test_read_idx_on_flipped_gzip_byte_raises_corrupt_naming_file_or_reads_original(tmp_path, position, flip):
    damaged = bytearray(GZ_BYTES)
    damaged[position] ^= flip
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(damaged)
    try:
        result = read_idx(path)
    except CorruptDataFile as error:
        assert error.path == str(path) and str(path) in str(error)
    else:
        # Flips in header fields gzip ignores (text flag, time stamp, extra flags, OS) are harmless.
        np.testing.assert_array_equal(result, GZ_SOURCE)


@FUZZ_FILES
@given(cut=st.integers(0, len(GZ_BYTES) - 1))
def test_read_idx_on_truncated_gzip_raises_corrupt_naming_file(tmp_path, cut):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(GZ_BYTES[:cut])
    with pytest.raises(CorruptDataFile) as caught:
        read_idx(path)
    assert caught.value.path == str(path) and str(path) in str(caught.value)


# Fashion-MNIST and the search order


def test_load_fashion_mnist_returns_keras_dtypes_and_shapes(tmp_path):
    expected = write_fashion_set(tmp_path / "fashion", marker=9)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(tmp_path / "fashion")
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == ((6, 28, 28), (6,), (4, 28, 28), (4,))
    assert {x_train.dtype, y_train.dtype, x_test.dtype, y_test.dtype} == {np.dtype(np.uint8)}
    for loaded, written in zip((x_train, y_train, x_test, y_test), (*expected[0], *expected[1])):
        np.testing.assert_array_equal(loaded, written)


PLACES = ("explicit", "CNNGRADER_DATA", "KERAS_HOME", "debian")


@pytest.mark.parametrize("winner", range(len(PLACES)), ids=PLACES)
def test_fashion_mnist_search_order_takes_first_populated_place(tmp_path, monkeypatch, keras_home, winner):
    folders = {
        "explicit": tmp_path / "explicit",
        "CNNGRADER_DATA": tmp_path / "data-env" / "fashion-mnist",
        "KERAS_HOME": keras_home / "datasets" / "fashion-mnist",
        "debian": tmp_path / "debian",
    }
    monkeypatch.setenv("CNNGRADER_DATA", str(tmp_path / "data-env"))
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion_mnist": folders["debian"]})
    for marker, place in enumerate(PLACES[winner:], start=winner + 1):
        write_fashion_set(folders[place], marker)
    (x_train, _), (x_test, _) = load_fashion_mnist(str(folders["explicit"]))
    assert np.unique(x_train).tolist() == np.unique(x_test).tolist() == [winner + 1]


@pytest.mark.parametrize("subfolder", ["fashion-mnist", "fashion_mnist", ""])
@pytest.mark.parametrize("variable", ["CNNGRADER_DATA", "KERAS_HOME"])
def test_fashion_mnist_found_in_each_folder_name_under_a_variable(tmp_path, monkeypatch, variable, subfolder):
    base = tmp_path / "base"
    monkeypatch.setenv(variable, str(base))
    root = base / "datasets" if variable == "KERAS_HOME" else base
    write_fashion_set(root / subfolder, marker=5)
    (x_train, _), _ = load_fashion_mnist()
    assert np.unique(x_train).tolist() == [5]


@needs_debian_fashion
def test_fashion_mnist_falls_back_to_debian_package(monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion_mnist": DEBIAN_FASHION})
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    assert {x_train.dtype, y_train.dtype, x_test.dtype, y_test.dtype} == {np.dtype(np.uint8)}
    assert np.bincount(y_train).tolist() == [6000] * 10


@pytest.mark.parametrize("part", list(data.IDX_FILES))
def test_fashion_mnist_with_one_truncated_file_raises_corrupt_naming_it(tmp_path, part):
    write_fashion_set(tmp_path, marker=1)
    path = tmp_path / (data.IDX_FILES[part] + ".gz")
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-1]))
    with pytest.raises(CorruptDataFile) as caught:
        load_fashion_mnist(tmp_path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    "labels",
    [np.zeros(5, np.uint8), np.zeros((6, 1), np.uint8), np.zeros(6, np.int32)],
    ids=["one-label-short", "labels-of-rank-2", "int32-labels"],
)
def test_fashion_mnist_with_labels_not_pairing_with_images_raises_corrupt(tmp_path, labels):
    write_fashion_set(tmp_path, marker=1)
    label_file = tmp_path / (data.IDX_FILES["y_train"] + ".gz")
    label_file.write_bytes(gzip.compress(idx_bytes(labels, 0x0C if labels.dtype == np.int32 else 0x08)))
    with pytest.raises(CorruptDataFile) as caught:
        load_fashion_mnist(tmp_path)
    assert caught.value.path == str(tmp_path / (data.IDX_FILES["x_train"] + ".gz"))


# The missing-data error


def test_fashion_mnist_not_found_lists_every_place_and_the_debian_package(tmp_path, monkeypatch, keras_home):
    explicit, env, debian = tmp_path / "explicit", tmp_path / "data-env", tmp_path / "debian"
    monkeypatch.setenv("CNNGRADER_DATA", str(env))
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion_mnist": debian})
    with pytest.raises(DataUnavailable) as caught:
        load_fashion_mnist(explicit)
    cache = keras_home / "datasets"
    places = [explicit, explicit / "fashion-mnist", explicit / "fashion_mnist",
              env / "fashion-mnist", env / "fashion_mnist", env,
              cache / "fashion-mnist", cache / "fashion_mnist", cache, debian]
    assert caught.value.name == "fashion_mnist"
    assert searched_roots(caught.value) == places
    for place in places:
        assert str(place) in str(caught.value)
    assert "dataset-fashion-mnist" in str(caught.value)


def test_mnist_not_found_lists_archive_and_idx_files_of_every_place(tmp_path, monkeypatch, keras_home):
    explicit, env = tmp_path / "explicit", tmp_path / "data-env"
    monkeypatch.setenv("CNNGRADER_DATA", str(env))
    with pytest.raises(DataUnavailable) as caught:
        load_mnist(explicit)
    cache = keras_home / "datasets"
    places = [explicit, explicit / "mnist", env / "mnist", env, cache / "mnist", cache]
    assert [str(place / "mnist.npz") for place in places] == caught.value.searched[::2]
    assert searched_roots(caught.value)[1::2] == places
    for entry in caught.value.searched:
        assert entry in str(caught.value)


def test_cifar100_not_found_lists_both_folder_layouts(tmp_path, keras_home):
    with pytest.raises(DataUnavailable) as caught:
        load_cifar100(tmp_path / "explicit")
    cache = keras_home / "datasets"
    explicit = tmp_path / "explicit"
    roots = [explicit, explicit / "cifar-100-python", explicit / "cifar100",
             cache / "cifar-100-python", cache / "cifar100", cache]
    folders = [folder for root in roots for folder in (root, root / "cifar-100-python")]
    assert searched_roots(caught.value) == folders
    assert caught.value.name == "cifar100"


@pytest.mark.parametrize("loader", [load_fashion_mnist, load_mnist, load_cifar100])
def test_download_false_never_tries_keras_even_when_online(tmp_path, monkeypatch, loader):
    monkeypatch.delenv("CNNGRADER_OFFLINE")
    # Should the flag be ignored, an unreachable proxy still keeps the download from leaving.
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with pytest.raises(DataUnavailable) as caught:
        loader(tmp_path / "explicit", download=False)
    # Every place searched is a folder under tmp_path: no download through Keras was added.
    assert all(entry.startswith(str(tmp_path)) for entry in caught.value.searched)


# MNIST and the mnist-10k subset


def test_load_mnist_reads_keras_archive_from_cache(keras_home):
    arrays = {"x_train": np.full((6, 28, 28), 3, np.uint8), "y_train": np.arange(6, dtype=np.uint8),
              "x_test": np.full((4, 28, 28), 4, np.uint8), "y_test": np.arange(4, dtype=np.uint8)}
    (keras_home / "datasets").mkdir(parents=True)
    np.savez(keras_home / "datasets" / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    for name, loaded in zip(("x_train", "y_train", "x_test", "y_test"), (x_train, y_train, x_test, y_test)):
        np.testing.assert_array_equal(loaded, arrays[name])


def test_load_mnist_prefers_explicit_idx_set_to_archive_in_cache(tmp_path, keras_home):
    write_fashion_set(tmp_path / "explicit", marker=1)  # the same four IDX file names as MNIST
    (keras_home / "datasets").mkdir(parents=True)
    np.savez(keras_home / "datasets" / "mnist.npz", x_train=np.full((6, 28, 28), 2, np.uint8),
             y_train=np.zeros(6, np.uint8), x_test=np.full((4, 28, 28), 2, np.uint8), y_test=np.zeros(4, np.uint8))
    (x_train, _), _ = load_mnist(tmp_path / "explicit")
    assert np.unique(x_train).tolist() == [1]


def mnist_npz_bytes(**overrides: np.ndarray) -> bytes:
    arrays = {"x_train": np.zeros((6, 28, 28), np.uint8), "y_train": np.zeros(6, np.uint8),
              "x_test": np.zeros((4, 28, 28), np.uint8), "y_test": np.zeros(4, np.uint8), **overrides}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


MNIST_NPZ = mnist_npz_bytes()


@FUZZ_FILES
@given(cut=st.integers(0, len(MNIST_NPZ) - 1))
def test_load_mnist_on_truncated_archive_raises_corrupt_naming_it(tmp_path, cut):
    path = tmp_path / "mnist.npz"
    path.write_bytes(MNIST_NPZ[:cut])
    with pytest.raises(CorruptDataFile) as caught:
        load_mnist(tmp_path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    "content",
    [b"not an archive at all", mnist_npz_bytes(y_test=np.zeros(3, np.uint8)),
     mnist_npz_bytes(y_train=np.zeros(6, np.int64))],
    ids=["garbage", "labels-short", "int64-labels"],
)
def test_load_mnist_on_damaged_archive_raises_corrupt_naming_it(tmp_path, content):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(CorruptDataFile) as caught:
        load_mnist(tmp_path)
    assert caught.value.path == str(path)


def test_load_mnist_on_archive_without_test_labels_raises_corrupt(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((6, 28, 28), np.uint8), y_train=np.zeros(6, np.uint8),
             x_test=np.zeros((4, 28, 28), np.uint8))
    with pytest.raises(CorruptDataFile):
        load_mnist(tmp_path)


def test_load_mnist_with_only_test_files_is_unavailable_not_the_subset(tmp_path):
    write_mnist_t10k(tmp_path / "t10k-only")
    with pytest.raises(DataUnavailable) as caught:
        load_mnist(tmp_path / "t10k-only")
    assert tmp_path / "t10k-only" in searched_roots(caught.value)


def test_mnist_10k_splits_test_files_stratified_and_without_overlap(tmp_path):
    images, labels = write_mnist_t10k(tmp_path)
    (x_train, y_train), (x_test, y_test) = load_mnist_10k(tmp_path)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (500, 28, 28), (500,), (2000, 28, 28), (2000,))
    assert {x_train.dtype, y_train.dtype, x_test.dtype, y_test.dtype} == {np.dtype(np.uint8)}
    assert np.bincount(y_test).tolist() == [200] * 10
    train_ids, test_ids = image_ids(x_train), image_ids(x_test)
    assert sorted(np.concatenate([train_ids, test_ids]).tolist()) == list(range(len(images)))
    np.testing.assert_array_equal(y_train, labels[train_ids])
    np.testing.assert_array_equal(y_test, labels[test_ids])


def test_mnist_10k_reads_test_half_of_a_full_archive(tmp_path):
    images, labels = write_mnist_t10k(tmp_path / "idx")
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((6, 28, 28), np.uint8), y_train=np.zeros(6, np.uint8),
             x_test=images, y_test=labels)
    from_archive = load_mnist_10k(tmp_path)
    from_idx = load_mnist_10k(tmp_path / "idx")
    for archive_array, idx_array in zip((*from_archive[0], *from_archive[1]), (*from_idx[0], *from_idx[1])):
        np.testing.assert_array_equal(archive_array, idx_array)


def test_mnist_10k_not_found_says_it_needs_the_test_files(tmp_path, keras_home):
    with pytest.raises(DataUnavailable) as caught:
        load_mnist_10k(tmp_path / "explicit")
    assert tmp_path / "explicit" in searched_roots(caught.value)
    assert str(keras_home / "datasets" / "mnist.npz") in caught.value.searched


def test_mnist_10k_on_real_test_set_is_stratified_and_deterministic():
    full_counts = np.bincount(read_idx(BUNDLED_MNIST / "t10k-labels-idx1-ubyte.gz"), minlength=10)
    (x_train, y_train), (x_test, y_test) = load_mnist_10k(BUNDLED_MNIST)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (8000, 28, 28), (8000,), (2000, 28, 28), (2000,))
    assert {x_train.dtype, y_train.dtype, x_test.dtype, y_test.dtype} == {np.dtype(np.uint8)}
    # Stratified keeps each digit's share (MNIST's classes are not equal: 892 fives, 1,135 ones).
    test_counts = np.bincount(y_test, minlength=10)
    assert np.all(np.abs(test_counts - full_counts * 2000 / full_counts.sum()) <= 1)
    assert (np.bincount(y_train, minlength=10) + test_counts).tolist() == full_counts.tolist()
    (x_train_again, y_train_again), (x_test_again, y_test_again) = load_mnist_10k(BUNDLED_MNIST)
    for first, second in [(x_train, x_train_again), (y_train, y_train_again),
                          (x_test, x_test_again), (y_test, y_test_again)]:
        np.testing.assert_array_equal(first, second)


def test_load_mnist_with_real_test_set_only_is_unavailable():
    with pytest.raises(DataUnavailable):
        load_mnist(BUNDLED_MNIST)


def test_bundled_mnist_is_inside_the_package_with_its_readme():
    assert BUNDLED_MNIST == Path(data.__file__).resolve().parent / "datasets" / "mnist"
    assert sorted(path.name for path in BUNDLED_MNIST.iterdir()) == [
        "README.md", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_bundled_mnist_serves_mnist_10k_when_nothing_else_is_around(bundled_only):
    (x_train, y_train), (x_test, y_test) = load_mnist_10k()
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (8000, 28, 28), (8000,), (2000, 28, 28), (2000,))
    assert {x_train.dtype, y_train.dtype, x_test.dtype, y_test.dtype} == {np.dtype(np.uint8)}
    (_, _), (x_test_named, _) = load("mnist-10k")
    np.testing.assert_array_equal(x_test_named, x_test)


def test_full_mnist_with_only_the_bundled_test_set_is_unavailable_and_lists_it_last(bundled_only):
    with pytest.raises(DataUnavailable) as caught:
        load_mnist()
    cache = bundled_only / ".keras" / "datasets"
    places = [cache / "mnist", cache, BUNDLED_MNIST]
    assert [str(place / "mnist.npz") for place in places] == caught.value.searched[::2]
    assert searched_roots(caught.value)[1::2] == places
    assert str(BUNDLED_MNIST) in str(caught.value)


@pytest.mark.parametrize("variable", ["CNNGRADER_DATA", "KERAS_HOME"])
def test_bundled_mnist_is_searched_after_every_other_place(tmp_path, monkeypatch, bundled_only, variable):
    base = tmp_path / "base"
    monkeypatch.setenv(variable, str(base))
    write_mnist_t10k((base / "datasets" if variable == "KERAS_HOME" else base) / "mnist", per_class=250)
    (x_train, _), (x_test, _) = load_mnist_10k()
    assert x_train.shape == (500, 28, 28) and x_test.shape == (2000, 28, 28)


def test_prepare_keras_home_serves_bundled_mnist_10k_when_nothing_else_is_around(tmp_path, bundled_only):
    served = prepare_keras_home(tmp_path / "prepared")
    assert served == {"mnist": "mnist-10k"}
    with np.load(tmp_path / "prepared" / "datasets" / "mnist.npz", allow_pickle=False) as archive:
        assert archive["x_train"].shape == (8000, 28, 28) and archive["x_test"].shape == (2000, 28, 28)
        assert str(archive["subset"]) == "mnist-10k"


# CIFAR-100


def test_load_cifar100_returns_keras_layout_and_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    write_cifar_batch(folder / "train", fine=[4, 30, 55, 72, 99], coarse=[0, 0, 1, 0, 2])
    test_rows = cifar_rows(3)
    test_rows[0, 2 * 1024 + 5 * 32 + 7] = 255  # channel 2, row 5, column 7 of the first test image
    write_cifar_batch(folder / "test", fine=[1, 2, 3], coarse=[4, 5, 6], rows=test_rows)
    (x_train, y_train), (x_test, y_test) = load_cifar100(tmp_path)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (5, 32, 32, 3), (5, 1), (3, 32, 32, 3), (3, 1))
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert y_train[:, 0].tolist() == [4, 30, 55, 72, 99]
    for channel in range(3):
        assert np.unique(x_train[1, :, :, channel]).tolist() == [50 * channel + 1]
    assert x_test[0, 5, 7, 2] == 255 and x_test[0, 5, 8, 2] == 100
    (_, coarse_train), _ = load_cifar100(tmp_path, label_mode="coarse")
    assert coarse_train[:, 0].tolist() == [0, 0, 1, 0, 2]


def test_load_cifar100_rejects_unknown_label_mode(tmp_path):
    with pytest.raises(ValueError):
        load_cifar100(tmp_path, label_mode="superclass")


def cifar_pickle(**overrides) -> bytes:
    """A four-image batch; an override of None leaves that key out."""
    batch = {"data": np.zeros((4, 3072), np.uint8), "fine_labels": [0, 1, 2, 3], "coarse_labels": [0, 0, 1, 1]}
    batch.update(overrides)
    return pickle.dumps({key.encode(): value for key, value in batch.items() if value is not None})


CIFAR_PICKLE = cifar_pickle()


@pytest.mark.parametrize(
    "content",
    [pickle.dumps([1, 2, 3]), cifar_pickle(fine_labels=None), cifar_pickle(data=np.zeros((4, 3000), np.uint8)),
     cifar_pickle(fine_labels=[0, 1, 2]), b"not a pickle"],
    ids=["a-list", "no-fine-labels", "rows-of-3000", "one-label-short", "garbage"],
)
def test_load_cifar100_on_damaged_batch_raises_corrupt_naming_it(tmp_path, content):
    (tmp_path / "train").write_bytes(content)
    (tmp_path / "test").write_bytes(CIFAR_PICKLE)
    with pytest.raises(CorruptDataFile) as caught:
        load_cifar100(tmp_path)
    assert caught.value.path == str(tmp_path / "train")


@FUZZ_FILES
@given(cut=st.integers(0, len(CIFAR_PICKLE) - 1))
def test_load_cifar100_on_truncated_batch_raises_corrupt(tmp_path, cut):
    (tmp_path / "train").write_bytes(CIFAR_PICKLE)
    (tmp_path / "test").write_bytes(CIFAR_PICKLE[:cut])
    with pytest.raises(CorruptDataFile) as caught:
        load_cifar100(tmp_path)
    assert caught.value.path == str(tmp_path / "test")


# load, pad_to_rgb32 and the transfer-learning data


@pytest.mark.parametrize("name", ["fashion_mnist", "Fashion-MNIST", "mnist"])
def test_load_by_name_reads_the_idx_set(tmp_path, name):
    write_fashion_set(tmp_path, marker=8)
    (x_train, _), (x_test, _) = load(name, tmp_path)
    assert x_train.shape == (6, 28, 28) and x_test.shape == (4, 28, 28)


def test_load_by_name_serves_mnist_10k_and_cifar100(tmp_path):
    write_mnist_t10k(tmp_path / "mnist")
    write_cifar_batch(tmp_path / "cifar" / "train", fine=[0], coarse=[0])
    write_cifar_batch(tmp_path / "cifar" / "test", fine=[1], coarse=[0])
    assert load("mnist-10k", tmp_path / "mnist")[1][0].shape == (2000, 28, 28)
    assert load("cifar100", tmp_path / "cifar")[0][0].shape == (1, 32, 32, 3)


def test_load_by_unknown_name_raises_key_error():
    with pytest.raises(KeyError):
        load("imagenet")


def test_pad_to_rgb32_centres_grey_image_in_three_equal_channels():
    images = np.random.default_rng(0).integers(1, 256, size=(3, 28, 28), dtype=np.uint8)
    padded = pad_to_rgb32(images)
    assert padded.shape == (3, 32, 32, 3) and padded.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(padded[:, 2:30, 2:30, channel], images)
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not padded[:, border].any()


@pytest.mark.parametrize("group", list(COARSE_GROUPS))
def test_fashion_coarse_groups(group):
    for fine in COARSE_GROUPS[group]:
        assert data.FASHION_COARSE_CLASSES[data.FASHION_COARSE_OF_FINE[fine]] == group


def test_transfer_data_without_cifar_uses_fashion_standin(tmp_path):
    write_fashion_set(tmp_path, marker=6, n_train=40, n_test=20)
    result = load_transfer_data(tmp_path, n_train=20, n_test=10)
    assert result["source"] == "fashion_mnist_standin"
    assert result["x_train"].shape == (20, 32, 32, 3) and result["x_test"].shape == (10, 32, 32, 3)
    assert np.bincount(result["y_train_fine"]).tolist() == [2] * 10
    np.testing.assert_array_equal(result["y_test_coarse"], data.FASHION_COARSE_OF_FINE[result["y_test_fine"]])


def test_transfer_data_prefers_cifar_mammals(tmp_path):
    # Coarse 0, 12 and 16 are the mammal superclasses; 5 is not and must be dropped.
    coarse = [0, 12, 16, 5, 0, 12, 16, 5]
    fine = [4, 34, 36, 22, 30, 63, 50, 39]
    write_cifar_batch(tmp_path / "train", fine=fine, coarse=coarse)
    write_cifar_batch(tmp_path / "test", fine=fine[:4], coarse=coarse[:4])
    write_fashion_set(tmp_path, marker=1)
    result = load_transfer_data(tmp_path)
    assert result["source"] == "cifar100_mammals"
    assert result["x_train"].shape == (6, 32, 32, 3) and result["x_test"].shape == (3, 32, 32, 3)
    assert result["y_train_coarse"].tolist() == [0, 1, 2, 0, 1, 2]
    # The six mammal classes in sorted order are 4, 30, 34, 36, 50, 63.
    assert result["y_train_fine"].tolist() == [0, 2, 3, 1, 5, 4]
    assert result["y_test_fine"].tolist() == [0, 2, 3]


@needs_debian_fashion
def test_transfer_data_on_debian_fashion_mnist_has_seed_scale_and_coarse_groups():
    result = load_transfer_data(DEBIAN_FASHION)
    assert result["source"] == "fashion_mnist_standin"
    assert result["x_train"].shape == (7500, 32, 32, 3) and result["x_test"].shape == (1500, 32, 32, 3)
    assert result["x_train"].dtype == np.uint8
    assert np.bincount(result["y_train_fine"]).tolist() == [750] * 10
    assert np.bincount(result["y_test_fine"]).tolist() == [150] * 10
    for split in ("train", "test"):
        fine, coarse = result[f"y_{split}_fine"], result[f"y_{split}_coarse"]
        assert set(coarse.tolist()) == {0, 1, 2, 3}
        for group, fine_labels in COARSE_GROUPS.items():
            assert set(coarse[np.isin(fine, fine_labels)].tolist()) == {data.FASHION_COARSE_CLASSES.index(group)}


# prepare_keras_home


@pytest.mark.parametrize("compress", [True, False], ids=["gzip-source", "plain-source"])
def test_prepare_keras_home_writes_fashion_mnist_as_keras_expects(tmp_path, compress):
    write_fashion_set(tmp_path / "source", marker=3, compress=compress)
    served = prepare_keras_home(tmp_path / "prepared", tmp_path / "source")
    assert served == {"fashion_mnist": "full", "mnist": "full"}  # the same four IDX files serve both
    written = tmp_path / "prepared" / "datasets" / "fashion-mnist"
    expected_names = sorted(name + ".gz" for name in data.IDX_FILES.values())
    assert sorted(path.name for path in written.iterdir()) == expected_names
    for name in data.IDX_FILES.values():
        source = tmp_path / "source" / (name + ".gz" if compress else name)
        np.testing.assert_array_equal(read_idx(written / (name + ".gz")), read_idx(source))
        if compress:
            assert (written / (name + ".gz")).read_bytes() == source.read_bytes()


def test_prepare_keras_home_with_test_files_only_writes_marked_mnist_10k(tmp_path, monkeypatch):
    write_mnist_t10k(tmp_path / "source")
    served = prepare_keras_home(tmp_path / "prepared", tmp_path / "source")
    assert served == {"mnist": "mnist-10k"}
    with np.load(tmp_path / "prepared" / "datasets" / "mnist.npz", allow_pickle=False) as archive:
        assert archive["x_train"].shape == (500, 28, 28) and archive["x_test"].shape == (2000, 28, 28)
    (x_train, _), (x_test, y_test) = load_mnist_10k(tmp_path / "source")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "prepared"))
    with pytest.raises(DataUnavailable):
        load_mnist()  # the subset in the prepared home is never taken for the full set
    (x_train_again, _), (x_test_again, y_test_again) = load_mnist_10k()
    np.testing.assert_array_equal(x_train_again, x_train)
    np.testing.assert_array_equal(x_test_again, x_test)
    np.testing.assert_array_equal(y_test_again, y_test)


def test_prepare_keras_home_copies_cifar100_folder(tmp_path):
    write_cifar_batch(tmp_path / "source" / "cifar-100-python" / "train", fine=[1, 2], coarse=[0, 0])
    write_cifar_batch(tmp_path / "source" / "cifar-100-python" / "test", fine=[3], coarse=[1])
    served = prepare_keras_home(tmp_path / "prepared", tmp_path / "source")
    assert served == {"cifar100": "full"}
    for name in ("train", "test"):
        copied = tmp_path / "prepared" / "datasets" / "cifar-100-python" / name
        assert copied.read_bytes() == (tmp_path / "source" / "cifar-100-python" / name).read_bytes()


def test_prepare_keras_home_with_nothing_found_serves_nothing(tmp_path):
    assert prepare_keras_home(tmp_path / "prepared", tmp_path / "empty") == {}
    assert (tmp_path / "prepared" / "datasets").is_dir()


KERAS_LOAD_FASHION = """
import sys
import numpy as np
import keras

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
np.savez(sys.argv[1], x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
"""


@pytest.mark.slow
def test_keras_loads_prepared_fashion_mnist_offline(tmp_path):
    (x_train, y_train), (x_test, y_test) = write_fashion_set(tmp_path / "source", marker=7, compress=False)
    prepare_keras_home(tmp_path / "prepared", tmp_path / "source")
    # An unreachable proxy makes any download attempt fail at once instead of reaching out.
    environment = {**os.environ, "KERAS_HOME": str(tmp_path / "prepared"), "TF_CPP_MIN_LOG_LEVEL": "3",
                   "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    completed = subprocess.run(
        [sys.executable, "-c", KERAS_LOAD_FASHION, str(tmp_path / "loaded.npz")],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Downloading" not in completed.stdout
    with np.load(tmp_path / "loaded.npz") as loaded:
        for name, expected in zip(("x_train", "y_train", "x_test", "y_test"), (x_train, y_train, x_test, y_test)):
            np.testing.assert_array_equal(loaded[name], expected)
