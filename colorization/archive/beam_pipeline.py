"""The archive command as an Apache Beam pipeline: the same steps (colorization.archive.
steps), the same files and the same manifest as `python -m colorization.colorize`, on any
Beam runner.

    paths --ReadPhotos--> {path, name, lightness, small}   (unreadable: counted, logged)
          --RunInference(ColorizerModelHandler)--> the network, batched by Beam
          --WriteOutputs--> OUTPUT_DIR/<name>.png, atomically; its manifest record
          --all records--> OUTPUT_DIR/manifest.jsonl, sorted by output

Which inputs to colour is decided before the pipeline runs, from the manifest (outputs made
with the same model and settings are kept), exactly as the command line decides it.
"""

import logging
import os

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from colorization.archive import manifest as manifest_lib
from colorization.archive.photo_files import (
    DEFAULT_MAX_PIXELS,
    PhotoError,
    read_photo,
    write_png,
)
from colorization.archive.steps import DEFAULT_BATCH_SIZE, Steps

NAMESPACE = "colorize"


class ColorizerModelHandler(ModelHandler):
    """RunInference's handler: loads a Colorizer once per worker and runs its network on
    Beam's batches of prepared photos ({"small": L (S, S, 1), ...}), padded to the fixed
    batch size so that every photo's colours are independent of the batching."""

    def __init__(self, model_path, temperature, batch_size=DEFAULT_BATCH_SIZE):
        self.model_path = model_path
        self.temperature = temperature
        self.batch_size = batch_size

    def load_model(self):
        from colorization.inference.colorizer import Colorizer

        return Steps(Colorizer(self.model_path), self.temperature, self.batch_size)

    def run_inference(self, batch, model, inference_args=None):
        results = []
        for start in range(0, len(batch), model.batch_size):
            chunk = batch[start : start + model.batch_size]
            abs_ = model.network_ab(np.stack([photo["small"] for photo in chunk]))
            results += [PredictionResult(photo, ab) for photo, ab in zip(chunk, abs_, strict=True)]
        return results

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self.batch_size}


class ReadPhotos(beam.DoFn):
    """(path, output name) -> the prepared photo; an unreadable one goes to the "failed"
    output as (path, why) and is counted."""

    def __init__(self, size, max_pixels, side_by_side):
        self.size, self.max_pixels, self.side_by_side = size, max_pixels, side_by_side

    def setup(self):
        self.steps = Steps(size=self.size)
        self.failed = beam.metrics.Metrics.counter(NAMESPACE, "failed")

    def process(self, item):
        path, name = item
        try:
            rgb = read_photo(path, self.max_pixels)
        except PhotoError as e:
            self.failed.inc()
            logging.error("%s: %s", path, e)
            yield beam.pvalue.TaggedOutput("failed", (path, str(e)))
            return
        lightness, small = self.steps.prepare(rgb)
        yield {
            "path": path,
            "name": name,
            "lightness": lightness,
            "small": small,
            "original": rgb if self.side_by_side else None,
        }


class WriteOutputs(beam.DoFn):
    """PredictionResult -> the PNG in OUTPUT_DIR (renamed into place) -> its manifest record."""

    def __init__(self, size, output_dir, settings):
        self.size, self.output_dir, self.settings = size, output_dir, settings

    def setup(self):
        self.steps = Steps(size=self.size)
        self.written = beam.metrics.Metrics.counter(NAMESPACE, "written")

    def process(self, result):
        photo = result.example
        coloured = self.steps.finish(photo["lightness"], result.inference, photo["original"])
        write_png(os.path.join(self.output_dir, photo["name"]), coloured)
        self.written.inc()
        yield manifest_lib.record_of(photo["path"], photo["name"], self.settings)


def build(
    pipeline,
    todo,
    kept_records,
    output_dir,
    settings,
    model_path,
    temperature,
    batch_size=DEFAULT_BATCH_SIZE,
    max_pixels=DEFAULT_MAX_PIXELS,
    side_by_side=False,
):
    """Adds the archive's steps to `pipeline`.

    todo: [(path, output name)] to colour; kept_records: the manifest records of the outputs
    kept as they are; settings: manifest.settings_of the model and options. Returns the
    PCollection of (path, why) of the photos that failed.
    """
    size = settings["network_size"]
    photos = (
        pipeline
        | "Inputs" >> beam.Create(todo)
        | "ReadPhotos"
        >> beam.ParDo(ReadPhotos(size, max_pixels, side_by_side)).with_outputs(
            "failed", main="photos"
        )
    )
    records = (
        photos.photos
        | "Colourise" >> RunInference(ColorizerModelHandler(model_path, temperature, batch_size))
        | "WriteOutputs" >> beam.ParDo(WriteOutputs(size, output_dir, settings))
    )
    _ = (
        records
        | "AllRecords" >> beam.combiners.ToList()
        | "WriteManifest"
        >> beam.Map(lambda new: manifest_lib.write_manifest(output_dir, [*kept_records, *new]))
    )
    return photos.failed
