"""Drives the demo page (`python -m colorization.demo`) in headless Chromium, and times it.

    python -m benchmarks.demo_page --photos=data/voc2012_animals/JPEGImages \
        --repeats=10 --screenshot=docs/demo.png --output=benchmarks/demo_results.json

Measures the server's start (process start to the page answering) and the time per photo
as a user sees it (file handed to the page -> coloured image shown), prints a table and
writes JSON. The browser helpers (`DemoServer`, `chromium`, `upload`) live in benchmarks/browser.py, shared
with the page's tests.

Needs Debian's `chromium` and `chromium-driver` (`bash .ci/run` installs them) and the
`bench` extra (Gradio, Selenium).
"""

import json
import os
import platform
import statistics
import time

from absl import flags

from benchmarks.browser import (
    MISSING_BROWSER,
    DemoServer,
    chromium,
    click_image_pixel,
    fetch_image,
    find_browser,
    set_colour,
    status_text,
    upload,
)
from colorization.core import cli

FLAGS = flags.FLAGS


def define_flags():
    from absl import flags

    cli.define_model_flag()
    flags.DEFINE_string("photos", None, "Folder of photos to time; default: scikit-image's.")
    flags.DEFINE_integer("repeats", 10, "Photos timed through the page.", lower_bound=1)
    flags.DEFINE_string(
        "screenshot", "docs/demo.png", "Where to save a screenshot of the page (chelsea coloured)."
    )
    flags.DEFINE_string("output", "benchmarks/demo_results.json", "JSON results.")
    flags.DEFINE_integer("starts", 3, "Server starts timed.", lower_bound=1)


def main(argv):
    import tempfile

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from colorization.inference.demo import example_files
    from data_prep.file_sources import list_images

    if find_browser() is None:
        raise cli.CommandError(f"{MISSING_BROWSER}")
    examples = example_files(tempfile.mkdtemp())
    photos = examples
    if FLAGS.photos:
        photos = list_images(FLAGS.photos)[: FLAGS.repeats]
        if not photos:
            raise cli.CommandError(f"no photos in --photos={FLAGS.photos!r}")
    startups = []
    for i in range(FLAGS.starts - 1):
        with DemoServer(FLAGS.model) as server:
            startups.append(server.startup_s)
            print(f"start {i + 1}: {server.startup_s:.1f} s", flush=True)
    with DemoServer(FLAGS.model) as server:
        startups.append(server.startup_s)
        print(f"start {FLAGS.starts}: {server.startup_s:.1f} s", flush=True)
        driver = chromium()
        try:
            # The first photo traces the TF graph; it is timed apart from the others.
            _, _, first = upload(driver, server.url, photos[0])
            times, sizes = [], []
            for i in range(FLAGS.repeats):
                path = photos[i % len(photos)]
                text, src, seconds = upload(driver, server.url, path)
                shape = fetch_image(src).shape if src else None
                times.append(seconds)
                sizes.append(shape[:2] if shape else None)
                print(
                    f"[{i + 1}/{FLAGS.repeats}] {os.path.basename(path)}: {seconds:.2f} s — {text}"
                )
            # The screenshot shows scikit-image's chelsea (free to publish), with one colour
            # hint on the cat's cheek when the model takes hints.
            upload(driver, server.url, examples[0])
            if driver.find_elements(By.CSS_SELECTOR, "#hint_colour button.dialog-button"):
                set_colour(driver, "hint_colour", "#2846dc")
                click_image_pixel(driver, "#coloured img", 150, 150)
                WebDriverWait(driver, 120).until(lambda d: "with 1 hint" in status_text(d))
            # Gradio fades outputs in after an update; the screenshot waits for the fade.
            time.sleep(2)
            if FLAGS.screenshot:
                os.makedirs(os.path.dirname(FLAGS.screenshot) or ".", exist_ok=True)
                driver.save_screenshot(FLAGS.screenshot)
        finally:
            driver.quit()
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "model": FLAGS.model or "shipped",
        "startup_s": {
            "median": statistics.median(startups),
            "min": min(startups),
            "all": startups,
        },
        "first_photo_s": first,
        "photo_s": {"median": statistics.median(times), "min": min(times), "all": times},
        "photo_sizes": [list(map(int, s)) if s else None for s in sizes],
    }
    print("| measure | median | min |\n|---|---|---|")
    print(
        f"| server start (process -> page answers) | {result['startup_s']['median']:.1f} s | {result['startup_s']['min']:.1f} s |"
    )
    print(
        f"| photo through the page (upload -> coloured image shown) | {result['photo_s']['median']:.2f} s | {result['photo_s']['min']:.2f} s |"
    )
    print(f"| first photo after start (graph tracing) | {first:.2f} s | |")
    os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
    with open(FLAGS.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"Wrote {FLAGS.output}" + (f" and {FLAGS.screenshot}" if FLAGS.screenshot else ""))
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
