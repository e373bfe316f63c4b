"""Builds a TFDS data set offline from archives you already have (no network).

TFDS looks in `manual_dir` for each archive under the file name it registered for the
download URL, checks its size and SHA-256 against the registered checksums, and then
prepares the data set in `data_dir` exactly as if it had downloaded it. For PASCAL VOC:

    voc/2007: VOCtrainval_06-Nov-2007.tar  VOCtest_06-Nov-2007.tar
    voc/2012: VOCtrainval_11-May-2012.tar  VOC2012test.tar

(both archives are needed: the builder prepares train, validation and test together).

    python -m data_prep.build_tfds --name=voc/2012 --manual_dir=~/archives --data_dir=~/tfds
"""

import os

VOC_ARCHIVES = {
    "voc/2007": ("VOCtrainval_06-Nov-2007.tar", "VOCtest_06-Nov-2007.tar"),
    "voc/2012": ("VOCtrainval_11-May-2012.tar", "VOC2012test.tar"),
}


def missing_archives(name, manual_dir):
    """Archives that `name` needs and `manual_dir` lacks (only known for VOC)."""
    return [
        f for f in VOC_ARCHIVES.get(name, ()) if not os.path.isfile(os.path.join(manual_dir, f))
    ]


def download_config(manual_dir):
    """The TFDS DownloadConfig that makes the builder read archives from `manual_dir`."""
    import tensorflow_datasets as tfds

    return tfds.download.DownloadConfig(manual_dir=os.path.expanduser(manual_dir))


def build(name, manual_dir, data_dir):
    """Prepares TFDS data set `name` in `data_dir` from the archives in `manual_dir`."""
    import tensorflow_datasets as tfds

    if not os.path.isdir(manual_dir):
        raise ValueError(f"manual_dir {manual_dir!r} is not a directory.")
    missing = missing_archives(name, manual_dir)
    if missing:
        raise ValueError(
            f"{name} needs {', '.join(missing)} in {manual_dir!r} under exactly these names."
        )
    builder = tfds.builder(name, data_dir=os.path.expanduser(data_dir))
    builder.download_and_prepare(download_config=download_config(manual_dir))
    return builder


def define_flags():
    from absl import flags

    flags.DEFINE_string("name", "voc/2012", "TFDS name, e.g. voc/2007 or voc/2012.")
    flags.DEFINE_string("manual_dir", None, "Folder holding the original archives.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory to build into.")
    flags.mark_flags_as_required(["manual_dir", "data_dir"])


def main(argv):
    from absl import flags

    del argv
    FLAGS = flags.FLAGS
    builder = build(FLAGS.name, FLAGS.manual_dir, FLAGS.data_dir)
    print(f"Prepared {FLAGS.name} in {builder.data_dir}: {builder.info.splits}")


if __name__ == "__main__":
    from colorization.core import cli

    cli.run(main, define_flags, user_errors=(ValueError,))
