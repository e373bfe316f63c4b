"""The Keras DeepLabV3 (colorization.model.deeplab) against the TFLite interpreter running
the file its weights came from, on real photos, and what the semantic prior costs a
colorizer at inference.

    python -m benchmarks.deeplab_port --deeplab=PATH/deeplabv3_257_mv_gpu.tflite \
        --photos=PHOTO_FOLDER [--count=20] [--output=benchmarks/deeplab_port.json]

Each photo is resized to 257 x 257 and given to both as RGB scaled to x / 127.5 - 1, in
colour and made grey (the colorizer feeds DeepLab the grey photo); the 21 logits at 33 x 33
(the file's tensor before its final resize) are compared: the largest absolute difference
against the logits' own range, and the share of positions whose class agrees. Then the
colorizer's network (MobileNetV2 trunk, the shipped head width) with and without the prior,
milliseconds per photo at S = 224 in batches of 8 (Keras, float32, every core).
"""

import argparse
import json
import os

import numpy as np

SIZE = 257


def _photos(folder, count):
    from data_prep.file_sources import list_images

    files = sorted(list_images(folder))
    if not files:
        raise SystemExit(f"error: no photos under {folder!r}")
    step = max(1, len(files) // count)
    return files[::step][:count]


def _load(path, grey):
    from PIL import Image

    image = Image.open(path).convert("L" if grey else "RGB").convert("RGB")
    pixels = np.asarray(image.resize((SIZE, SIZE), Image.Resampling.BILINEAR), np.float32)
    return pixels / 127.5 - 1.0


def _interpreter_logits(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    # The 33 x 33 logits: the output of the 1x1 convolution to 21 channels.
    logits = next(
        d["index"]
        for d in interpreter.get_tensor_details()
        if tuple(d["shape"]) == (1, 33, 33, 21) and "semantic" in d["name"]
    )

    def run(image):
        interpreter.set_tensor(index, image[None])
        interpreter.invoke()
        return interpreter.get_tensor(logits)[0].copy()

    return run


def _network_ms(semantic, size=224, batch=8, repeats=5):
    import tensorflow as tf

    from benchmarks.timing import timed
    from colorization.core.config import ModelConfig
    from colorization.model.network import build_model

    config = ModelConfig(
        image_size=size,
        backbone="mobilenet_v2",
        freeze_backbone=True,
        width_multiplier=0.5,
        semantic_prior=semantic,
    )
    model = build_model(config)
    x = tf.constant(np.random.default_rng(0).uniform(0, 100, (batch, size, size, 1)), tf.float32)
    forward = tf.function(lambda v: model(v, training=False))
    median, _ = timed(lambda: forward(x)["color_logits"].numpy(), repeats)
    return 1000.0 * median / batch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deeplab", required=True, help="deeplabv3_257_mv_gpu.tflite")
    parser.add_argument("--photos", required=True, help="a folder of photos (searched below)")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--output", default="benchmarks/deeplab_port.json")
    args = parser.parse_args()
    if args.count < 1:
        parser.error(f"--count must be >= 1. Received: {args.count}")
    if not os.path.isfile(args.deeplab):
        parser.error(f"--deeplab={args.deeplab!r} does not exist.")

    from colorization.model import deeplab

    model = deeplab.build_deeplab_v3(SIZE)
    deeplab.apply_deeplab_v3(model, deeplab.read_deeplab_v3_tflite(args.deeplab))
    interpreter = _interpreter_logits(args.deeplab)
    rows = {}
    for grey in (False, True):
        worst, agree, ranges = 0.0, [], []
        for path in _photos(args.photos, args.count):
            image = _load(path, grey)
            ours = model(image[None])["logits"].numpy()[0]
            theirs = interpreter(image)
            worst = max(worst, float(np.abs(ours - theirs).max()))
            ranges.append(float(np.abs(theirs).max()))
            agree.append(float((ours.argmax(-1) == theirs.argmax(-1)).mean()))
        rows["grey" if grey else "colour"] = {
            "photos": len(agree),
            "max_abs_difference": worst,
            "median_logit_range": float(np.median(ranges)),
            "class_agreement": float(np.mean(agree)),
        }
    timing = {
        "colorizer_ms_per_photo_without_prior": _network_ms(False),
        "colorizer_ms_per_photo_with_prior": _network_ms(True),
    }
    result = {"file": os.path.basename(args.deeplab), "logits": rows, "timing_s224": timing}
    print("| input | photos | max |difference| | median max |logit| | class agreement |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['photos']} | {row['max_abs_difference']:.2e} | "
            f"{row['median_logit_range']:.1f} | {100 * row['class_agreement']:.2f} % |"
        )
    print(
        f"colorizer network at S=224, batch 8: {timing['colorizer_ms_per_photo_without_prior']:.1f}"
        f" ms/photo without the prior, {timing['colorizer_ms_per_photo_with_prior']:.1f} with it"
    )
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
