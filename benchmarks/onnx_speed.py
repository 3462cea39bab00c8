"""Predicting 10,000 images: torch (float32, native bfloat16) against ONNX Runtime (float32, int8), in one run.

    python benchmarks/onnx_speed.py                      # trains the main job's model first (2-5 minutes)
    python benchmarks/onnx_speed.py --model model.pt     # a model saved by `sk-digitsum train`

The test images are 10,000 tight four-digit images of the odd-indexed MNIST test digits (the main job's
protocol). Rows: the estimator's ``predict_proba`` with ``mixed_precision="no"``, and with "bf16" where
the CPU computes bfloat16 natively; ``OnnxPredictor`` over the exported float32 graph; and over that graph
quantized to int8 by ONNX Runtime's static quantization (``quantize_static``, QDQ format, weights per
channel, activations calibrated on 300 training images of the embedded bank, the convolutions and matrix
products quantized, the exact sum layer left in float32). Each time is the median of ``--repeats``
predictions after one warm-up, on the threads torch uses. Also: how far the float32 graph's
probabilities are from torch's float32 ones, and how many predicted sums agree. The record goes to
``benchmarks/results/onnx_speed.md``.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, markdown_table, test_sets, training_set, write_record  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.nn.precision import native_bf16  # noqa: E402
from sk_digitsum.persistence import load_model  # noqa: E402
from sk_digitsum.runtime import OnnxPredictor  # noqa: E402


def timed_predictions(predict_proba, X, repeats):
    predict_proba(X[:256])  # warm-up: graph optimisation, caches
    seconds, proba = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        proba = predict_proba(X)
        seconds.append(time.perf_counter() - start)
    return proba, statistics.median(seconds)


def quantized(path, calibration_images, out):
    """``path``'s graph quantized to int8 by ONNX Runtime, activations calibrated on ``calibration_images``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Images(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"images": calibration_images[start:start + 50]}
                                 for start in range(0, len(calibration_images), 50)])

        def get_next(self):
            return next(self.batches, None)

    prepared = Path(out).with_suffix(".prepared.onnx")
    # ONNX's own shape inference suffices; the symbolic one stops at the Pad of the exact sum layer
    quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(out), Images(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["Conv", "MatMul", "Gemm"])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model saved by 'sk-digitsum train' (default: train the main job's model)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-calibration", type=int, default=300)
    parser.add_argument("--record", default=RESULTS / "onnx_speed.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    import onnxruntime

    X_train, y_train = training_set()
    if args.model:
        clf = load_model(args.model)
    else:
        clf = DigitHeadsClassifier(random_state=0, verbose=0).fit(X_train, y_train)
    X, sums, _ = test_sets(digits="odd")["tight"]
    threads = torch.get_num_threads()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as folder:
        exported = clf.to_onnx(Path(folder) / "model.onnx")
        calibration = np.random.RandomState(0).permutation(len(X_train))[:args.n_calibration]
        int8 = quantized(exported, X_train[calibration], Path(folder) / "model.int8.onnx")
        runs = {"torch, float32": lambda images: clf.set_params(mixed_precision="no").predict_proba(images)}
        if native_bf16("cpu"):
            runs["torch, bfloat16 (native)"] = lambda images: clf.set_params(mixed_precision="bf16").predict_proba(images)
        runs["ONNX Runtime, float32"] = OnnxPredictor(exported, session_options=options).predict_proba
        runs["ONNX Runtime, int8 (static)"] = OnnxPredictor(int8, session_options=options).predict_proba
        for name, predict_proba in runs.items():
            proba, seconds = timed_predictions(predict_proba, X, args.repeats)
            results[name] = (proba, seconds)
            print(name, f"{seconds:.2f} s", flush=True)
        sizes = {"ONNX Runtime, float32": Path(exported).stat().st_size, "ONNX Runtime, int8 (static)": int8.stat().st_size}
    reference_proba, reference_seconds = results["torch, float32"]
    reference_accuracy = np.mean(clf.classes_[reference_proba.argmax(1)] == sums)
    for name, (proba, seconds) in results.items():
        accuracy = np.mean(clf.classes_[proba.argmax(1)] == sums)
        rows.append([name, f"{seconds:.2f}", f"{reference_seconds / seconds:.2f}x", f"{100 * accuracy:.2f}%",
                     f"{100 * (accuracy - reference_accuracy):+.2f}", f"{sizes[name] / 2**20:.2f}" if name in sizes
                     else "-"])
    onnx_proba = results["ONNX Runtime, float32"][0]
    agree = np.mean(onnx_proba.argmax(1) == reference_proba.argmax(1))
    model = (f"The model in {args.model}" if args.model else
             "`DigitHeadsClassifier(random_state=0)` fitted on 10,000 sum-labelled images of the embedded digits")
    body = (f"{model}; 10,000 tight test images of the odd-indexed MNIST test digits (`test_sets(digits=\"odd\")`, "
            f"a draw of its own), predicted on {threads} threads. int8: `quantize_static` (QDQ, weights per channel) "
            f"calibrated on {args.n_calibration} training images.\n\n"
            + markdown_table(["predictor", "predict 10,000 (s)", "speed vs torch float32", "sum accuracy",
                              "points vs torch float32", "file (MB)"], rows)
            + f"\n\nONNX Runtime float32 against torch float32, on the 10,000 images: the largest difference of a "
              f"probability is {np.abs(onnx_proba - reference_proba).max():.1e}; {100 * agree:.2f}% of the "
              f"predicted sums are the same ({int(round((1 - agree) * len(X)))} differ).\n")
    command = "python benchmarks/onnx_speed.py" + (f" --model {args.model}" if args.model else "")
    write_record(args.record, "Predicting 10,000 images: torch and ONNX Runtime", command,
                 time.perf_counter() - started, body)


if __name__ == "__main__":
    main()
