"""Packs photos into one compact file for training on a machine without TensorFlow.

    python -m benchmarks.gpu_pack --dataset=voc_dir:../shared/data/voc2012_animals \
        --output=gpu_pack/voc_train_224.npz

The lent GPU machine (see benchmarks/gpu_train.sh) has JAX but no TensorFlow, and a call
carries at most 64 MiB of working tree. This runs HERE, through the project's own pipeline
(data_prep.sources, data_prep.pipeline, data_prep.priors), and stores per photo:
  - the S x S centre crop as JPEG bytes (the model's L input is computed from it there;
    chroma subsampling costs L little, and the colour target is stored apart);
  - the colour target's ab at S/4 x S/4 (int8, ab units, rounded), exactly as
    pipeline.color_target sees it;
  - the class label;
plus the 313 bin centres and the rebalancing weights of the training photos.
"""

import io
import json
import os
import time

import numpy as np
from absl import flags

from colorization import cli, color
from colorization.config import IMAGE_SIZE_RULE, valid_image_size

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("dataset", None, "Source spec (voc_dir:PATH, folder:PATH, a TFDS name).")
    flags.DEFINE_string("split", "train", "Split to pack.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory.")
    flags.DEFINE_integer("image_size", 224, "S: side of the stored crops (multiple of 8).")
    flags.DEFINE_integer("quality", 85, "JPEG quality of the stored crops.", lower_bound=50)
    flags.DEFINE_integer("max_examples", 0, "Pack at most this many photos (0 = all).")
    flags.DEFINE_float("max_mb", 60.0, "Fail if the pack is larger (a device call carries 64 MiB).")
    flags.DEFINE_float("mix_lambda", 0.5, "Lambda of the rebalancing weights.")
    flags.DEFINE_string("output", "gpu_pack/voc_train_224.npz", "Output .npz.")
    flags.mark_flag_as_required("dataset")
    flags.register_validator("image_size", valid_image_size, f"must be {IMAGE_SIZE_RULE}")


def pack(source, image_size, quality, max_examples=0, mix_lambda=0.5, log_every=500):
    """Returns the dict of arrays that make a pack (see the module doc)."""
    import tensorflow as tf

    from colorization import bins
    from data_prep import pipeline, priors

    config = pipeline.PipelineConfig(image_size=image_size, training=False, batch_size=1)
    dataset = pipeline.decoded(source, config)
    if max_examples:
        dataset = dataset.take(max_examples)

    def encode(element):
        rgb = pipeline.center_resize(element["image"], image_size)
        ab = color.rgb_to_lab(pipeline.target_rgb(rgb, image_size))[..., 1:]
        jpeg = tf.io.encode_jpeg(color.to_uint8(rgb), quality=quality)
        ab = tf.cast(tf.clip_by_value(tf.round(ab), -128, 127), tf.int8)
        return jpeg, ab, element["label"]

    jpegs, abs_, labels = [], [], []
    start = time.perf_counter()
    for jpeg, ab, label in dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE):
        jpegs.append(jpeg.numpy())
        abs_.append(ab.numpy())
        labels.append(int(label))
        if len(jpegs) % log_every == 0:
            rate = len(jpegs) / (time.perf_counter() - start)
            print(f"  packed {len(jpegs)} photos ({rate:.0f}/s)", flush=True)
    if not jpegs:
        raise ValueError(f"{source.name} gave no usable photos to pack.")
    counts = priors.ab_histogram(np.stack(abs_).astype(np.float32)).numpy()
    weights = priors.priors_from_counts(
        counts, mix_lambda, metadata={"source": source.name}
    ).weights
    lengths = np.array([len(j) for j in jpegs], np.int64)
    return {
        "jpeg_bytes": np.frombuffer(b"".join(jpegs), np.uint8),
        "jpeg_offsets": np.concatenate([[0], np.cumsum(lengths)]),
        "target_ab": np.stack(abs_),
        "labels": np.array(labels, np.int32),
        "bin_centers": bins.bin_centers().astype(np.float32),
        "bin_weights": weights.astype(np.float32),
        "metadata": np.asarray(
            json.dumps(
                {
                    "source": source.summary(),
                    "image_size": image_size,
                    "quality": quality,
                    "mix_lambda": mix_lambda,
                }
            )
        ),
    }


def write_pack(arrays, path, max_mb):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    size_mb = buffer.tell() / 2**20
    if size_mb > max_mb:
        raise ValueError(
            f"The pack is {size_mb:.1f} MiB, more than --max_mb={max_mb}: lower --quality, "
            f"--image_size or --max_examples."
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(buffer.getvalue())
    os.replace(path + ".tmp", path)
    return size_mb


def main(argv):
    del argv
    from data_prep import sources

    try:
        source = sources.load_source(FLAGS.dataset, FLAGS.split, FLAGS.data_dir)
    except sources.SourceError as e:
        raise cli.CommandError(str(e)) from None
    print(source.summary())
    arrays = pack(source, FLAGS.image_size, FLAGS.quality, FLAGS.max_examples, FLAGS.mix_lambda)
    try:
        size_mb = write_pack(arrays, FLAGS.output, FLAGS.max_mb)
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    print(f"Wrote {len(arrays['labels'])} photos to {FLAGS.output} ({size_mb:.1f} MiB)")


if __name__ == "__main__":
    cli.run(main, define_flags)
