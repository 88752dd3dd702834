"""Datasets, loaded offline where possible and exactly as `keras.datasets.*.load_data()` returns them.

Search order for every dataset: an explicit `directory`, `$CNNGRADER_DATA`, the Keras cache
(`$KERAS_HOME/datasets` or `~/.keras/datasets`), Debian's `/usr/share/datasets/...`, for MNIST
the test set bundled in `grader/datasets/mnist/`, and last a download through Keras (skipped when
`download=False` or `$CNNGRADER_OFFLINE` is set).

IDX files (the original MNIST and Fashion-MNIST format) are parsed here with numpy and validated:
magic number, element type, dimensions and length. A bad file raises `CorruptDataFile` naming it.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DEBIAN_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
# Shipped inside the package (and its wheel), so that a clone with nothing beside it still has
# MNIST's test set; only `load_mnist_10k` can be served from it.
BUNDLED_DIRS = {"mnist": Path(__file__).resolve().parent / "datasets" / "mnist"}
DATASET_FOLDERS = {
    "fashion_mnist": ("fashion-mnist", "fashion_mnist"),
    "mnist": ("mnist",),
    "cifar100": ("cifar-100-python", "cifar100"),
}
HOW_TO_GET = {
    "fashion_mnist": "install Debian's package (`apt-get install dataset-fashion-mnist`), or drop "
    "the four .gz files into $KERAS_HOME/datasets/fashion-mnist/ or $CNNGRADER_DATA/fashion-mnist/",
    "mnist": "put mnist.npz (or the four IDX .gz files) into $CNNGRADER_DATA/mnist/ or "
    "$KERAS_HOME/datasets/; the 10,000-image test set bundled with cnngrader (grader/datasets/mnist/) "
    "serves only the `mnist-10k` subset",
    "cifar100": "unpack cifar-100-python.tar.gz into $CNNGRADER_DATA/ or $KERAS_HOME/datasets/",
}

# Fashion-MNIST labels grouped into the four coarse classes of the transfer-learning stand-in.
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat",
                   "sandal", "shirt", "sneaker", "bag", "ankle boot")
FASHION_COARSE_CLASSES = ("tops", "trousers", "footwear", "bags")
FASHION_COARSE_OF_FINE = np.array([0, 1, 0, 0, 0, 2, 0, 2, 3, 2], dtype=np.uint8)
CIFAR100_MAMMAL_SUPERCLASSES = {0: "aquatic_mammals", 12: "medium_mammals", 16: "small_mammals"}

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataUnavailable(RuntimeError):
    """No copy of a dataset was found; the message lists where we looked and how to get it."""

    def __init__(self, name: str, searched: list[str], detail: str = ""):
        self.name = name
        self.searched = searched
        lines = [f"Dataset {name!r} not found. Looked in:"]
        lines += [f"  - {place}" for place in searched]
        if detail:
            lines.append(detail)
        lines.append(f"To get it: {HOW_TO_GET.get(name, 'see the README, section Data')}.")
        super().__init__("\n".join(lines))


class CorruptDataFile(ValueError):
    """A data file exists but cannot be read as what it claims to be."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}. Delete it and fetch the dataset again.")


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode an uncompressed IDX buffer, checking every field against the buffer's length."""
    if len(data) < 4:
        raise CorruptDataFile(source, f"only {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise CorruptDataFile(source, f"bad magic number {data[:4].hex()} (expected 0000 then type and rank)")
    if data[2] not in IDX_TYPES:
        raise CorruptDataFile(source, f"unknown IDX element type 0x{data[2]:02x}")
    dtype, rank = IDX_TYPES[data[2]], data[3]
    if not 1 <= rank <= 4:
        raise CorruptDataFile(source, f"rank {rank} is outside 1..4")
    header = 4 + 4 * rank
    if len(data) < header:
        raise CorruptDataFile(source, f"truncated header: {len(data)} bytes, rank {rank} needs {header}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=rank, offset=4))
    # Python integers: four 32-bit dimensions can overflow numpy's int64 and wrap to a small size.
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise CorruptDataFile(source, f"{kind}: {len(data)} bytes, shape {shape} needs {expected}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise CorruptDataFile(str(path), f"damaged gzip stream ({error})") from None
    return parse_idx(raw, str(path))


@dataclass
class Search:
    """The places looked at for one dataset, in order, for the error message."""

    name: str
    searched: list[str] = field(default_factory=list)

    def roots(self, directory: str | os.PathLike | None) -> list[Path]:
        """Candidate folders in search order: an explicit directory itself, then its dataset
        subfolder (so one --data-dir can hold several datasets), then the same for the others."""
        roots: list[Path] = []
        if directory is not None:
            roots += [Path(directory)] + [Path(directory) / sub for sub in DATASET_FOLDERS.get(self.name, ())]
        env = os.environ.get("CNNGRADER_DATA")
        if env:
            roots += [Path(env) / sub for sub in DATASET_FOLDERS.get(self.name, ())] + [Path(env)]
        cache = keras_cache_dir()
        roots += [cache / sub for sub in DATASET_FOLDERS.get(self.name, ())] + [cache]
        if self.name in DEBIAN_DIRS:
            roots.append(DEBIAN_DIRS[self.name])
        if self.name in BUNDLED_DIRS:
            roots.append(BUNDLED_DIRS[self.name])
        return roots

    def fail(self, detail: str = "") -> DataUnavailable:
        return DataUnavailable(self.name, self.searched, detail)


def keras_cache_dir() -> Path:
    """`$KERAS_HOME/datasets`, or `~/.keras/datasets` as Keras itself uses."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def find_idx_set(folder: Path, parts: tuple[str, ...]) -> dict[str, Path] | None:
    """The IDX files named in `parts` inside `folder` (compressed or not), or None if any is missing."""
    found = {}
    for part in parts:
        for suffix in (".gz", ""):
            candidate = folder / (IDX_FILES[part] + suffix)
            if candidate.is_file():
                found[part] = candidate
                break
        else:
            return None
    return found


def load_fashion_mnist(directory=None, download: bool = True) -> Arrays:
    """Fashion-MNIST: (60000, 28, 28) uint8 training images and (10000, 28, 28) test images."""
    return _load_idx_dataset("fashion_mnist", directory, download)


def load_mnist(directory=None, download: bool = True) -> Arrays:
    """The full MNIST digits (60,000 + 10,000). Offline, only `load_mnist_10k` may be possible."""
    search = Search("mnist")
    for root in search.roots(directory):
        npz = root / "mnist.npz"
        search.searched.append(str(npz))
        if npz.is_file():
            arrays, subset = _read_mnist_npz(npz)
            if subset is None:
                return arrays
            search.searched[-1] += f" (holds only the {subset} subset)"
        search.searched.append(f"{root}/ (IDX files)")
        files = find_idx_set(root, tuple(IDX_FILES))
        if files:
            return _arrays_from_idx(files)
    return _download_or_fail(search, "mnist", download)


def load_mnist_10k(directory=None) -> Arrays:
    """The `mnist-10k` subset: the 10,000 MNIST test images split 8,000 / 2,000 (stratified,
    random_state 42). It is not the full MNIST set and is never returned as one."""
    from sklearn.model_selection import train_test_split

    search = Search("mnist")
    images = labels = None
    for root in search.roots(directory):
        search.searched.append(f"{root}/ (t10k IDX files)")
        files = find_idx_set(root, ("x_test", "y_test"))
        if files:
            images, labels = read_idx(files["x_test"]), read_idx(files["y_test"])
            _check_split(images, labels, files["x_test"], files["y_test"])
            break
        npz = root / "mnist.npz"
        search.searched.append(str(npz))
        if npz.is_file():
            arrays, subset = _read_mnist_npz(npz)
            if subset == "mnist-10k":
                return arrays
            _, (images, labels) = arrays
            break
    if images is None:
        raise search.fail("The mnist-10k subset needs at least the MNIST test set (t10k files).")
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=2000, stratify=labels, random_state=42
    )
    return (x_train, y_train), (x_test, y_test)


def load_cifar100(directory=None, label_mode: str = "fine", download: bool = True) -> Arrays:
    """CIFAR-100 as Keras returns it: (50000, 32, 32, 3) uint8 and labels of shape (N, 1)."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', not {label_mode!r}")
    search = Search("cifar100")
    for root in search.roots(directory):
        for folder in (root, root / "cifar-100-python"):
            search.searched.append(f"{folder}/ (train, test)")
            if (folder / "train").is_file() and (folder / "test").is_file():
                return (
                    _read_cifar_batch(folder / "train", label_mode),
                    _read_cifar_batch(folder / "test", label_mode),
                )
    return _download_or_fail(search, "cifar100", download, label_mode=label_mode)


def load(name: str, directory=None, download: bool = True) -> Arrays:
    """Load a dataset by name: fashion_mnist, mnist, mnist-10k or cifar100."""
    key = name.replace("-", "_").lower()
    if key == "fashion_mnist":
        return load_fashion_mnist(directory, download)
    if key == "mnist":
        return load_mnist(directory, download)
    if key == "mnist_10k":
        return load_mnist_10k(directory)
    if key == "cifar100":
        return load_cifar100(directory, download=download)
    raise KeyError(f"unknown dataset {name!r}: use fashion_mnist, mnist, mnist-10k or cifar100")


def load_transfer_data(directory=None, n_train: int = 7500, n_test: int = 1500,
                       seed: int = 42, download: bool = True) -> dict[str, np.ndarray | str]:
    """Images with coarse and fine labels for the transfer-learning exercise.

    CIFAR-100's three mammal superclasses (15 fine classes) where CIFAR-100 is present;
    otherwise the offline stand-in: Fashion-MNIST padded to 32x32x3, its 10 classes as the fine
    labels and 4 coarse groups (tops, trousers, footwear, bags). Both at the seed's scale.
    """
    try:
        return _cifar_mammals(directory, download=False)
    except DataUnavailable:
        pass
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(directory, download)
    rng = np.random.default_rng(seed)
    train_rows = _stratified_rows(y_train, n_train, rng)
    test_rows = _stratified_rows(y_test, n_test, rng)
    return {
        "source": "fashion_mnist_standin",
        "x_train": pad_to_rgb32(x_train[train_rows]),
        "y_train_fine": y_train[train_rows],
        "y_train_coarse": FASHION_COARSE_OF_FINE[y_train[train_rows]],
        "x_test": pad_to_rgb32(x_test[test_rows]),
        "y_test_fine": y_test[test_rows],
        "y_test_coarse": FASHION_COARSE_OF_FINE[y_test[test_rows]],
    }


@dataclass(frozen=True)
class EvaluationSet:
    """Images the grader evaluates models on, and the labels it keeps to itself."""

    source: str
    """In words, for feedback: `the Fashion-MNIST test set (10,000 images)`."""
    images: np.ndarray
    """Pixels as the dataset gives them (0..255)."""
    labels: dict
    """Label set name (default, coarse, fine) -> one label per image."""


def evaluation_set(dataset: str, directory=None, holdout: Path | None = None) -> EvaluationSet:
    """The exercise's evaluation images: a private hold-out file when the spec names one, else
    the test split the references were recorded on."""
    if holdout is not None:
        return read_holdout(holdout)
    if dataset == "fashion_mnist":
        _, (images, labels) = load_fashion_mnist(directory, download=False)
        return EvaluationSet(f"the Fashion-MNIST test set ({len(images):,} images)", images, {"default": labels})
    if dataset == "mnist":
        _, (images, labels) = load_mnist_10k(directory)
        return EvaluationSet(f"the mnist-10k test split ({len(images):,} images)", images, {"default": labels})
    if dataset == "transfer":
        transfer = load_transfer_data(directory, download=False)
        source = "CIFAR-100 mammals" if transfer["source"] != "fashion_mnist_standin" else "the Fashion-MNIST stand-in"
        return EvaluationSet(f"the test images of {source} ({len(transfer['x_test']):,})", transfer["x_test"],
                             {"default": transfer["y_test_fine"], "fine": transfer["y_test_fine"],
                              "coarse": transfer["y_test_coarse"]})
    raise ValueError(f"no evaluation set for dataset {dataset!r}")


def read_holdout(path: Path) -> EvaluationSet:
    """A hold-out `.npz`: images under `x` (or `images`), labels under `y` (and `y_fine`, `y_coarse`)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise CorruptDataFile(str(path), f"not a readable .npz of arrays ({error})") from None
    images = arrays.get("x", arrays.get("images"))
    labels = {("default" if key == "y" else key.removeprefix("y_")): value.astype(np.int64)
              for key, value in arrays.items() if key == "y" or key.startswith("y_")}
    if images is None or "default" not in labels:
        raise CorruptDataFile(str(path), "a hold-out file needs images under 'x' and labels under 'y'")
    if any(len(value) != len(images) for value in labels.values()):
        raise CorruptDataFile(str(path), "its label arrays are not as long as its images")
    return EvaluationSet(f"the exercise's private hold-out set ({len(images):,} images)", images, labels)


def pad_to_rgb32(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) grey images to (N, 32, 32, 3): two pixels of zero padding, grey copied to RGB."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[..., None], 3, axis=-1)


def prepare_keras_home(target: Path, directory=None) -> dict[str, str]:
    """Fill `target/datasets/` so that `keras.datasets.*.load_data()` works offline there.

    Returns, per dataset, what was served: "full", "mnist-10k" (the subset, written as
    mnist.npz with 8,000 training and 2,000 test images) or absent when nothing was found.
    """
    datasets = Path(target) / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    served: dict[str, str] = {}
    fashion = _first_idx_folder("fashion_mnist", directory)
    if fashion:
        folder = datasets / "fashion-mnist"
        folder.mkdir(exist_ok=True)
        for part, path in fashion.items():
            _copy_gzipped(path, folder / (IDX_FILES[part] + ".gz"))
        served["fashion_mnist"] = "full"
    served.update(_serve_mnist(datasets, directory))
    try:
        (x_train, y_train), (x_test, y_test) = load_cifar100(directory, download=False)
        served["cifar100"] = "full"
        del x_train, y_train, x_test, y_test
        source = _find_cifar_folder(directory)
        if source:
            shutil.copytree(source, datasets / "cifar-100-python", dirs_exist_ok=True)
    except DataUnavailable:
        pass
    return served


def _serve_mnist(datasets: Path, directory) -> dict[str, str]:
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(directory, download=False)
        kind = "full"
    except DataUnavailable:
        try:
            (x_train, y_train), (x_test, y_test) = load_mnist_10k(directory)
            kind = "mnist-10k"
        except DataUnavailable:
            return {}
    # The marker keeps `load_mnist` from taking the subset for the full set when this folder
    # later serves as $KERAS_HOME; keras.datasets.mnist ignores keys it does not read.
    marker = {"subset": np.array(kind)} if kind != "full" else {}
    np.savez(datasets / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             **marker)
    return {"mnist": kind}


def _first_idx_folder(name: str, directory) -> dict[str, Path] | None:
    for root in Search(name).roots(directory):
        files = find_idx_set(root, tuple(IDX_FILES))
        if files:
            return files
    return None


def _find_cifar_folder(directory) -> Path | None:
    for root in Search("cifar100").roots(directory):
        for folder in (root, root / "cifar-100-python"):
            if (folder / "train").is_file() and (folder / "test").is_file():
                return folder
    return None


def _copy_gzipped(source: Path, destination: Path) -> None:
    raw = source.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        destination.write_bytes(raw)
    else:
        destination.write_bytes(gzip.compress(raw, compresslevel=1))


def _load_idx_dataset(name: str, directory, download: bool) -> Arrays:
    search = Search(name)
    for root in search.roots(directory):
        search.searched.append(f"{root}/ (IDX files)")
        files = find_idx_set(root, tuple(IDX_FILES))
        if files:
            return _arrays_from_idx(files)
    return _download_or_fail(search, name, download)


def _arrays_from_idx(files: dict[str, Path]) -> Arrays:
    arrays = {part: read_idx(path) for part, path in files.items()}
    for split in ("train", "test"):
        _check_split(arrays[f"x_{split}"], arrays[f"y_{split}"], files[f"x_{split}"], files[f"y_{split}"])
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _check_split(images: np.ndarray, labels: np.ndarray, source, labels_source) -> None:
    """Images (N, rows, cols) and labels (N,), both uint8, as keras.datasets returns them."""
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        problem = f"images are {images.dtype} and labels {labels.dtype} in {labels_source}, expected uint8"
        raise CorruptDataFile(str(source), problem)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise CorruptDataFile(
            str(source), f"images {images.shape} do not pair with labels {labels.shape} in {labels_source}"
        )


def _read_mnist_npz(path: Path) -> tuple[Arrays, str | None]:
    """The four arrays, and the name of the subset they hold when `prepare_keras_home` marked one."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
            subset = str(archive["subset"]) if "subset" in archive.files else None
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise CorruptDataFile(str(path), f"not a readable mnist.npz ({type(error).__name__}: {error})") from None
    for split in ("train", "test"):
        _check_split(arrays[f"x_{split}"], arrays[f"y_{split}"], path, path)
    return ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])), subset


def _read_cifar_batch(path: Path, label_mode: str) -> tuple[np.ndarray, np.ndarray]:
    # The CIFAR-100 distribution is itself a pickle; it comes from the instructor's data folder,
    # never from a submission.
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.asarray(batch[f"{label_mode}_labels".encode()], dtype=np.int64).reshape(-1, 1)
    # A damaged pickle can fail in many ways (a list where the dict should be, an unknown class).
    except (OSError, EOFError, LookupError, TypeError, AttributeError, ImportError, ValueError,
            OverflowError, pickle.UnpicklingError) as error:
        raise CorruptDataFile(str(path), f"not a CIFAR-100 batch ({type(error).__name__}: {error})") from None
    if len(labels) != len(data):
        raise CorruptDataFile(str(path), f"{len(data)} images but {len(labels)} {label_mode} labels")
    return data, labels


def _cifar_mammals(directory, download: bool) -> dict[str, np.ndarray | str]:
    (x_train, fine_train), (x_test, fine_test) = load_cifar100(directory, "fine", download)
    (_, coarse_train), (_, coarse_test) = load_cifar100(directory, "coarse", download)
    keep_coarse = np.array(sorted(CIFAR100_MAMMAL_SUPERCLASSES))
    train_rows = np.isin(coarse_train[:, 0], keep_coarse)
    test_rows = np.isin(coarse_test[:, 0], keep_coarse)
    fine_ids = np.unique(fine_train[train_rows, 0])
    return {
        "source": "cifar100_mammals",
        "x_train": x_train[train_rows],
        "y_train_fine": np.searchsorted(fine_ids, fine_train[train_rows, 0]).astype(np.uint8),
        "y_train_coarse": np.searchsorted(keep_coarse, coarse_train[train_rows, 0]).astype(np.uint8),
        "x_test": x_test[test_rows],
        "y_test_fine": np.searchsorted(fine_ids, fine_test[test_rows, 0]).astype(np.uint8),
        "y_test_coarse": np.searchsorted(keep_coarse, coarse_test[test_rows, 0]).astype(np.uint8),
    }


def _stratified_rows(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    classes = np.unique(labels)
    per_class = count // len(classes)
    rows = [rng.choice(np.flatnonzero(labels == label), per_class, replace=False) for label in classes]
    return np.sort(np.concatenate(rows))


def _download_or_fail(search: Search, name: str, download: bool, **kwargs) -> Arrays:
    if not download or os.environ.get("CNNGRADER_OFFLINE"):
        raise search.fail("Download through Keras was not tried (offline mode).")
    search.searched.append(f"download through keras.datasets.{name}")
    try:
        import keras

        return getattr(keras.datasets, name).load_data(**kwargs)
    except Exception as error:  # noqa: BLE001 - any failure of the download means "not available"
        raise search.fail(f"The download failed: {type(error).__name__}: {error}") from None
