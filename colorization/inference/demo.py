"""A local web page to try the colorizer: drop a photo, see it coloured.

    pip install -e ".[demo]"
    python -m colorization.demo                      # the shipped colorizer, port 7860
    python -m colorization.demo --model=runs/cpu --port=8080

--model takes whatever the colorize CLI takes (.keras, a training model_dir, an exported
SavedModel directory, .tflite). The page shows grey | coloured side by side, a temperature
slider (annealed mean; lower is more vivid), the class branch's top-3 classes and a PNG to
download. With a model trained with hints (the shipped one is), clicking the coloured photo
places a colour hint there with the colour picker's colour and the photo recolours; hints
are listed, with undo and clear. Photos are read by the same decoder as training and the colorize CLI; bad files
get a message on the page and the server keeps serving. Photos longer than --max_side
pixels on a side are downscaled to it first (the network sees S x S whatever the size;
the limit bounds the full-resolution colour maths and the PNG that goes back).

Left running, the page stays bounded: uploads above --max_upload_mb are refused with a
message, at most --queue_size requests wait while one photo is coloured, and only the last
--keep_results coloured PNGs are kept on disk (Gradio's own copies are deleted after an
hour).
"""

import os
import tempfile
import time

from absl import app, flags

from colorization.core import cli

FLAGS = flags.FLAGS


def define_flags():
    cli.define_model_flag()
    flags.DEFINE_integer("port", 7860, "Port of the page.", lower_bound=1, upper_bound=65535)
    flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0 for other machines).")
    flags.DEFINE_integer(
        "max_side", 4096, "Longer photos are downscaled to this many pixels on their longest side."
    )
    flags.register_validator("max_side", lambda v: v >= 64, "--max_side must be >= 64")
    flags.DEFINE_float(
        "max_upload_mb", DEFAULT_MAX_UPLOAD_MB, "Largest upload accepted, in megabytes."
    )
    flags.register_validator("max_upload_mb", lambda v: v > 0, "--max_upload_mb must be > 0")
    flags.DEFINE_integer(
        "queue_size", DEFAULT_QUEUE_SIZE, "Requests that may wait while one is coloured."
    )
    flags.register_validator("queue_size", lambda v: v >= 1, "--queue_size must be >= 1")
    flags.DEFINE_integer(
        "keep_results", DEFAULT_KEEP_RESULTS, "Coloured PNGs kept on disk for download."
    )
    flags.register_validator("keep_results", lambda v: v >= 1, "--keep_results must be >= 1")
    flags.DEFINE_string(
        "results_dir", None, "Folder for the coloured PNGs; default: a new temporary folder."
    )


# Files above this many pixels are refused before decoding (a 16-bit 20,000 x 20,000 PNG
# would need 2.4 GB just to decode).
MAX_DECODE_PIXELS = 250_000_000
TEMPERATURE_RANGE = (0.05, 1.0)
DEFAULT_MAX_UPLOAD_MB = 20.0
DEFAULT_QUEUE_SIZE = 16
DEFAULT_KEEP_RESULTS = 32
# Gradio's copies of uploads and results: checked every 10 minutes, deleted after an hour.
GRADIO_CACHE_CLEANUP = (600, 3600)
# scikit-image photos that are one click away on the page (they ship with the package).
EXAMPLE_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")


class PhotoError(ValueError):
    """A file the demo cannot colour; the message is shown on the page."""


def read_photo(path, max_side=4096, max_bytes=None):
    """Reads an uploaded file into uint8 RGB (H, W, 3); returns (image, note).

    `note` says when the photo was downscaled. Raises PhotoError with a message for the page
    when the file is empty, larger than `max_bytes`, not an image, damaged, or too large to
    decode.
    """
    import numpy as np
    import PIL.Image
    import tensorflow as tf

    from colorization.core import color
    from data_prep.audit import decode_image

    name = os.path.basename(path)
    size = os.path.getsize(path)
    if size == 0:
        raise PhotoError(f"{name!r} is empty (0 bytes). Expected a JPEG, PNG, BMP, GIF or WebP.")
    if max_bytes is not None and size > max_bytes:
        raise PhotoError(
            f"{name!r} is {size / 1e6:.1f} MB; the demo takes files up to "
            f"{max_bytes / 1e6:.1f} MB (--max_upload_mb)."
        )
    # The header alone gives the size, so a huge photo is refused before it is decoded.
    try:
        with PIL.Image.open(path) as header:
            width, height = header.size
            mode = header.mode
    except (PIL.UnidentifiedImageError, OSError):
        raise PhotoError(
            f"{name!r} is not an image ({size:,} bytes that no image decoder recognises). "
            "Expected a JPEG, PNG, BMP, GIF or WebP."
        ) from None
    if width * height > MAX_DECODE_PIXELS:
        raise PhotoError(
            f"{name!r} is {width:,} x {height:,} pixels ({width * height / 1e6:.0f} MP); "
            f"the demo reads photos up to {MAX_DECODE_PIXELS / 1e6:.0f} MP."
        )
    try:
        image = decode_image(tf.io.read_file(path))
    except tf.errors.OpError as e:
        detail = str(e).splitlines()[0][:120]
        raise PhotoError(
            f"{name!r} ({mode}, {width} x {height}) could not be decoded: {detail}. "
            "Expected a JPEG, PNG, BMP, GIF or WebP."
        ) from None
    note = ""
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        new_size = [max(1, round(height * scale)), max(1, round(width * scale))]
        image = tf.image.resize(image, new_size, method="area", antialias=True)
        image = color.to_uint8(image / 255.0)
        note = f"downscaled from {width} x {height} to {new_size[1]} x {new_size[0]} (--max_side)"
    return np.asarray(image), note


def grey_version(image):
    """uint8 RGB (H, W, 3) -> uint8 RGB of its CIELAB L alone: exactly what the network sees."""
    import numpy as np
    import tensorflow as tf

    from colorization.core import color
    from colorization.inference import decoding as inference

    lightness = inference.rgb_to_model_lightness(image[None])
    lab = tf.concat([lightness, tf.zeros_like(lightness), tf.zeros_like(lightness)], axis=-1)
    return np.asarray(color.to_uint8(color.lab_to_rgb(lab))[0])


def class_names(recorded, num_classes):
    """The model's recorded class names, or "class i" when it carries none."""
    if recorded and len(recorded) == num_classes:
        return list(recorded)
    return [f"class {i}" for i in range(num_classes)]


def parse_colour(value):
    """(r, g, b) 0-255 of a colour picker's value: "#rrggbb", "#rgb" or "rgb(a)(r, g, b[, a])".
    Raises PhotoError naming the value."""
    text = str(value or "").strip().lower()
    try:
        if text.startswith("#") and len(text) in (4, 7):
            digits = text[1:] if len(text) == 7 else "".join(c * 2 for c in text[1:])
            return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
        if text.startswith("rgb"):
            parts = text[text.index("(") + 1 : text.index(")")].split(",")
            rgb = tuple(round(float(p)) for p in parts[:3])
            if len(rgb) == 3 and all(0 <= c <= 255 for c in rgb):
                return rgb
    except ValueError:
        pass
    raise PhotoError(f"Colour {value!r} is not a colour; expected #rrggbb.")


def describe_hints(hints):
    """The page's list of hints, one line each."""
    if not hints:
        return "No hints: automatic colour. Click the coloured photo to place one."
    lines = [f"{len(hints)} hint{'s' if len(hints) > 1 else ''} (latest last):"]
    for i, (x, y, (r, g, b)) in enumerate(hints, 1):
        lines.append(f"{i}. x = {x}, y = {y}: #{r:02x}{g:02x}{b:02x}")
    return "\n".join(lines)


class DemoBackend:
    """What the page calls: one colorizer, photos in, pictures and messages out. Kept free of
    Gradio so that it is tested directly."""

    def __init__(
        self,
        model=None,
        max_side=4096,
        output_dir=None,
        max_upload_mb=DEFAULT_MAX_UPLOAD_MB,
        keep_results=DEFAULT_KEEP_RESULTS,
    ):
        import threading

        from colorization.inference.colorizer import Colorizer

        self.colorizer = Colorizer(model)
        self.max_side = max_side
        self.max_bytes = int(max_upload_mb * 1e6)
        self.keep_results = keep_results
        self.output_dir = output_dir or tempfile.mkdtemp(prefix="colorizer_demo_")
        os.makedirs(self.output_dir, exist_ok=True)
        self.served = 0
        self._lock = threading.Lock()

    def _result_path(self, stem):
        """A new file name for a coloured PNG; the oldest results beyond keep_results are
        deleted, so a page left running holds a bounded number of files."""
        with self._lock:
            self.served += 1
            path = os.path.join(self.output_dir, f"{self.served:07d}_{stem}_coloured.png")
            kept = sorted(n for n in os.listdir(self.output_dir) if n.endswith("_coloured.png"))
            for old in kept[: max(0, len(kept) - self.keep_results + 1)]:
                try:
                    os.remove(os.path.join(self.output_dir, old))
                except FileNotFoundError:  # removed by a concurrent request
                    pass
        return path

    @property
    def default_temperature(self):
        return self.colorizer.temperature

    @property
    def takes_hints(self):
        return self.colorizer.takes_hints

    def colorize_file(self, path, temperature=None, hints=None):
        """Colours the photo at `path`; hints: [(x, y, (r, g, b))] in pixels of the photo as
        shown (after --max_side), or None.

        Returns a dict: "grey" and "coloured" uint8 (H, W, 3) at the photo's size (after the
        --max_side limit), "classes" {name: probability} (empty without a class branch),
        "png" the coloured photo's file, "message" a line for the page. Raises PhotoError.
        """
        import tensorflow as tf

        if not path:
            raise PhotoError("No photo yet: drop one on the upload box or pick an example.")
        temperature = self.default_temperature if temperature is None else float(temperature)
        if not temperature > 0:
            raise PhotoError(f"Temperature must be > 0. Received: {temperature}.")
        image, note = read_photo(path, self.max_side, self.max_bytes)
        if hints and not self.takes_hints:
            raise PhotoError("This model takes no colour hints (it was trained without them).")
        start = time.perf_counter()
        try:
            out = self.colorizer.colorize_batch(
                image[None], temperature=temperature, hints=[hints] if hints else None
            )
        except ValueError as e:  # a hint outside the photo, a bad colour
            raise PhotoError(str(e)) from None
        seconds = time.perf_counter() - start
        coloured = out["rgb"][0]
        classes = {}
        if "class_probs" in out:
            probs = out["class_probs"][0]
            names = class_names(self.colorizer.class_names, len(probs))
            classes = dict(zip(names, map(float, probs), strict=True))
        stem = os.path.splitext(os.path.basename(path))[0] or "photo"
        png = self._result_path(stem)
        tf.io.write_file(png, tf.io.encode_png(coloured))
        height, width = coloured.shape[:2]
        message = f"Coloured {width} x {height} in {seconds * 1000:.0f} ms at T = {temperature:g}"
        if hints:
            message += f" with {len(hints)} hint{'s' if len(hints) > 1 else ''}"
        if note:
            message += f"; {note}"
        return {
            "grey": grey_version(image),
            "coloured": coloured,
            "classes": classes,
            "png": png,
            "message": message + ".",
        }


def example_files(directory):
    """Writes the scikit-image example photos as PNGs into `directory`; returns their paths."""
    import skimage.data
    import tensorflow as tf

    paths = []
    for name in EXAMPLE_PHOTOS:
        path = os.path.join(directory, f"{name}.png")
        if not os.path.exists(path):
            tf.io.write_file(path, tf.io.encode_png(getattr(skimage.data, name)()))
        paths.append(path)
    return paths


def build_app(backend, examples=(), queue_size=DEFAULT_QUEUE_SIZE):
    """The Gradio page around `backend` (a DemoBackend): one photo coloured at a time, at
    most `queue_size` requests waiting. With a model that takes hints, a click on the
    coloured photo adds a hint of the picker's colour; the hints live in the page's state
    (one list per visitor) and are cleared when another photo comes."""
    import gradio as gr

    def colour(path, temperature, hints):
        # Errors become a message on the page (and a toast); outputs are cleared.
        try:
            result = backend.colorize_file(path, temperature, hints)
        except PhotoError as e:
            gr.Warning(str(e))
            return None, None, None, gr.DownloadButton(value=None, visible=False), f"⚠ {e}"
        return (
            result["grey"],
            result["coloured"],
            result["classes"] or None,
            gr.DownloadButton(value=result["png"], visible=True),
            result["message"],
        )

    def on_photo(path, temperature):
        return (*colour(path, temperature, []), [], describe_hints([]))

    def with_hints(path, temperature, hints):
        return (*colour(path, temperature, hints), hints, describe_hints(hints))

    def on_click(path, temperature, hints, picked, event: gr.SelectData):
        try:
            rgb = parse_colour(picked)
        except PhotoError as e:
            gr.Warning(str(e))
            return (gr.skip(),) * 5 + (hints, describe_hints(hints))
        x, y = (int(v) for v in event.index[:2])
        return with_hints(path, temperature, [*hints, (x, y, rgb)])

    lo, hi = TEMPERATURE_RANGE
    with gr.Blocks(title="Instance-aware colorizer", delete_cache=GRADIO_CACHE_CLEANUP) as page:
        gr.Markdown(
            "# Instance-aware colorizer\n"
            "Drop a photo (colour photos are made grey first). The network sees the photo's "
            "CIELAB lightness, predicts a distribution over 313 colours per region and the "
            "photo's class; colours are joined with the photo's own lightness at full size."
            + (
                " **Colour hints:** pick a colour, then click the coloured photo where that "
                "colour belongs; the colorizer follows and spreads it to what belongs together."
                if backend.takes_hints
                else ""
            )
        )
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.File(label="Photo (drop or click)", type="filepath", elem_id="photo")
                temperature = gr.Slider(
                    lo,
                    hi,
                    value=round(backend.default_temperature, 2),
                    step=0.01,
                    label="Temperature (annealed mean; lower is more vivid)",
                    elem_id="temperature",
                )
                if examples:
                    gr.Examples(examples=[[p] for p in examples], inputs=[photo], label="Examples")
            with gr.Column(scale=1):
                classes = gr.Label(
                    num_top_classes=3, label="Class branch (top 3)", elem_id="classes"
                )
                status = gr.Markdown("Waiting for a photo.", elem_id="status")
                download = gr.DownloadButton(
                    "Download the coloured PNG", visible=False, elem_id="download"
                )
                hints = gr.State([])
                with gr.Group(visible=backend.takes_hints):
                    picker = gr.ColorPicker(
                        value="#d01c1c", label="Hint colour", elem_id="hint_colour"
                    )
                    with gr.Row():
                        undo = gr.Button("Undo last hint", elem_id="undo_hint", size="sm")
                        clear = gr.Button("Clear hints", elem_id="clear_hints", size="sm")
                    hint_list = gr.Markdown(describe_hints([]), elem_id="hints")
        with gr.Row():
            grey = gr.Image(label="Grey (what the network sees)", format="png", elem_id="grey")
            coloured = gr.Image(
                label="Coloured (click to place a hint)" if backend.takes_hints else "Coloured",
                format="png",
                elem_id="coloured",
            )
        outputs = [grey, coloured, classes, download, status]
        photo.change(
            on_photo, [photo, temperature], [*outputs, hints, hint_list], api_name="colorize"
        )
        temperature.release(
            with_hints, [photo, temperature, hints], [*outputs, hints, hint_list], api_name=False
        )
        if backend.takes_hints:
            coloured.select(
                on_click,
                [photo, temperature, hints, picker],
                [*outputs, hints, hint_list],
                api_name=False,
            )
            undo.click(
                lambda path, t, h: with_hints(path, t, h[:-1]),
                [photo, temperature, hints],
                [*outputs, hints, hint_list],
                api_name=False,
            )
            clear.click(
                lambda path, t: with_hints(path, t, []),
                [photo, temperature],
                [*outputs, hints, hint_list],
                api_name=False,
            )
    page.queue(max_size=queue_size, default_concurrency_limit=1)
    return page


def main(argv):
    from colorization.model import model_files

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.model is not None and not model_files.exists(FLAGS.model):
        raise cli.CommandError(f"--model={FLAGS.model!r} does not exist.")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise cli.CommandError('the demo needs Gradio: pip install -e ".[demo]"') from None
    start = time.perf_counter()
    backend = DemoBackend(
        FLAGS.model,
        max_side=FLAGS.max_side,
        max_upload_mb=FLAGS.max_upload_mb,
        keep_results=FLAGS.keep_results,
        output_dir=FLAGS.results_dir,
    )
    examples = example_files(tempfile.mkdtemp(prefix="colorizer_examples_"))
    page = build_app(backend, examples, FLAGS.queue_size)
    print(f"Model {backend.colorizer.path} ({backend.colorizer.kind}) loaded.", flush=True)
    page.launch(
        server_name=FLAGS.host,
        server_port=FLAGS.port,
        allowed_paths=[os.path.dirname(examples[0]), backend.output_dir],
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=int(FLAGS.max_upload_mb * 1e6),
    )
    print(
        f"Demo ready at http://{FLAGS.host}:{FLAGS.port} "
        f"(started in {time.perf_counter() - start:.1f} s; Ctrl+C stops it).",
        flush=True,
    )
    try:
        page.block_thread()
    except KeyboardInterrupt:
        pass
    return 0
