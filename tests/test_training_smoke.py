"""The training path on a slice of Fashion-MNIST: it must learn, well above chance (layer 3)."""

from __future__ import annotations

import pytest

from grader.data import load_fashion_mnist

pytestmark = pytest.mark.slow


def test_reference_cnn_learns_on_a_slice(tmp_path):
    try:
        load_fashion_mnist(download=False)
    except Exception as error:  # pragma: no cover - the README says how to install the data
        pytest.skip(f"Fashion-MNIST not installed: {error}")
    from grader.resources import load_reference_module

    module = load_reference_module("fashion_cnn")
    package = __import__("sys").modules["cnngrader_reference"]
    lines = []
    run = package.RunOptions(epochs_cap=2, train_limit=3000, workdir=tmp_path, report=lines.append, label="[smoke]")
    metrics = module.train(0, run)
    assert metrics["cnn.test_accuracy"] > 0.6, metrics  # chance is 0.1
    assert metrics["cnn.reloaded_test_accuracy"] == metrics["cnn.test_accuracy"]
    assert metrics["cnn.first_kernel_std"] > metrics["untrained.first_kernel_std"]
    assert any("epoch 2/2" in line for line in lines)  # progress is reported
