"""Keras callbacks of a training run: periodic evaluation (TensorBoard, samples.png, a
console line) and checkpoints that a killed run resumes from."""

import os

import keras
import tensorflow as tf

from colorization.evaluation import crops as evaluation


class EvaluationCallback(keras.callbacks.Callback):
    """Every `eval_every` steps: colour metrics, grey baseline and an image grid, written to
    TensorBoard and to samples.png."""

    def __init__(self, config, dataset, writer, model_dir, write_files, batches_seen):
        super().__init__()
        self.config = config
        self.batches_seen = batches_seen
        self.dataset = dataset
        self.writer = writer
        self.model_dir = model_dir
        self.write_files = write_files
        self.last = None

    def run(self, step):
        evaluated = evaluation.evaluate_models(
            {"model": self.model},
            self.dataset,
            self.config.temperature,
            self.config.eval_examples,
            keep_images=6,
        )
        result = {
            "model": evaluated["metrics"]["model"],
            "grey": evaluated["metrics"][evaluation.GREY],
            "class": evaluated["class"]["model"],
        }
        self.last = result
        images = evaluated["images"]
        grid = evaluation.image_grid([images[evaluation.GREY], images["model"], images["truth"]])
        if self.writer is not None:
            with self.writer.as_default(step=step):
                for group in ("model", "grey"):
                    for key in ("auc", "rebalanced_auc", "psnr", "colorfulness_ratio"):
                        tf.summary.scalar(f"val_{group}/{key}", result[group][key])
                for key, value in result["class"].items():
                    tf.summary.scalar(f"val_class/{key}", value)
                tf.summary.image("val/grey_prediction_truth", grid[None], max_outputs=1)
            self.writer.flush()
        if self.write_files:
            tf.io.write_file(os.path.join(self.model_dir, "samples.png"), tf.io.encode_png(grid))
        m, g = result["model"], result["grey"]
        print(
            f"\n[eval step {step}] AuC {m['auc']:.2f} (grey {g['auc']:.2f})  rebalanced AuC "
            f"{m['rebalanced_auc']:.2f} (grey {g['rebalanced_auc']:.2f})  PSNR {m['psnr']:.2f} "
            f"(grey {g['psnr']:.2f})  colourfulness {100 * m['colorfulness_ratio']:.0f}% of truth"
            + (
                f"  class top-1 {result['class']['top1_accuracy']:.1f}%"
                if "top1_accuracy" in result["class"]
                else ""
            ),
            flush=True,
        )
        return result

    def on_epoch_end(self, epoch, logs=None):
        # The step is the batches seen (counted by CheckpointCallback, which runs first),
        # which a skipped float16 update does not hold back (optimizer.iterations would).
        step = int(self.batches_seen.numpy())
        if step % self.config.eval_every == 0 or step >= self.config.steps:
            self.run(step)


class CheckpointCallback(keras.callbacks.Callback):
    """Counts the batches trained on, stops the run at `steps`, and saves model, optimizer
    and the batches seen every Keras epoch (checkpoint_every batches) and at the end,
    numbered by batches seen.

    tf.train.CheckpointManager writes the index file last, so a run killed mid-write leaves
    the previous checkpoint intact and `latest_checkpoint` never points at a partial one.
    """

    def __init__(self, manager, batches_seen, steps, learning_rate_writer=None):
        super().__init__()
        self.manager = manager
        self.batches_seen = batches_seen
        self.steps = steps
        self.writer = learning_rate_writer
        self.saved = None

    def on_train_batch_end(self, batch, logs=None):
        self.batches_seen.assign_add(1)
        if int(self.batches_seen.numpy()) >= self.steps:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.batches_seen.numpy())
        if step == self.saved:
            return
        self.manager.save(checkpoint_number=step)
        self.saved = step
        if self.writer is not None:
            optimizer = self.model.optimizer
            with self.writer.as_default(step=step):
                tf.summary.scalar("learning_rate", float(optimizer.learning_rate))
                for key, value in (logs or {}).items():
                    tf.summary.scalar(f"train/{key}", value)
            self.writer.flush()
