"""The demo page (colorization.demo): its backend in-process, then the real page in headless
Chromium (Debian's chromium + chromium-driver, installed by `bash .ci/run`)."""

import os
import re

import numpy as np
import PIL.Image
import pytest
import skimage.color
import skimage.data

from benchmarks import browser
from colorization.inference import demo
from tests.helpers import run_module

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    return demo.DemoBackend(output_dir=str(tmp_path_factory.mktemp("demo_out")))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The files the page must handle: good photos in odd encodings and bad files."""
    root = tmp_path_factory.mktemp("demo_photos")
    chelsea = skimage.data.chelsea()
    # Lossless, so that any decoder gives the same pixels as the reference.
    PIL.Image.fromarray(chelsea).save(root / "chelsea.png")
    PIL.Image.fromarray(chelsea).convert("CMYK").save(root / "cmyk.jpg", quality=95)
    camera16 = skimage.data.camera().astype(np.uint16) * 257
    PIL.Image.fromarray(camera16).save(root / "camera16.png")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.jpg").write_text("not an image, only words")
    data = (root / "cmyk.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    # 10,000 x 10,000: a smooth pattern, so the JPEG stays small (~2 MB).
    y, x = np.mgrid[0:10_000:8, 0:10_000:8]
    small = np.stack([x % 256, y % 256, (x + y) // 2 % 256], -1).astype(np.uint8)
    PIL.Image.fromarray(small).resize((10_000, 10_000)).save(root / "huge.jpg", quality=70)
    return root


def _chroma(rgb_u8):
    return np.hypot(*np.moveaxis(skimage.color.rgb2lab(rgb_u8)[..., 1:], -1, 0)).mean()


def test_backend_colours_a_photo_at_its_size_keeping_its_lightness(backend, photos):
    result = backend.colorize_file(str(photos / "chelsea.png"))
    original = np.asarray(PIL.Image.open(photos / "chelsea.png"))
    assert result["coloured"].shape == original.shape == result["grey"].shape
    # The grey panel is the photo's CIELAB L alone (skimage as the reference).
    np.testing.assert_allclose(
        skimage.color.rgb2lab(result["grey"])[..., 0],
        skimage.color.rgb2lab(original)[..., 0],
        atol=0.6,
    )
    assert _chroma(result["grey"]) < 1.0
    coloured_lab = skimage.color.rgb2lab(result["coloured"])
    assert np.abs(coloured_lab[..., 0] - skimage.color.rgb2lab(original)[..., 0]).mean() < 1.0
    assert _chroma(result["coloured"]) > 5.0
    top = max(result["classes"], key=result["classes"].get)
    assert top == "cat" and abs(sum(result["classes"].values()) - 1) < 1e-4
    written = np.asarray(PIL.Image.open(result["png"]))
    np.testing.assert_array_equal(written, result["coloured"])
    assert result["message"].startswith("Coloured 451 x 300 in ")


def test_temperature_reaches_the_decoder(backend, photos):
    path = str(photos / "chelsea.png")
    vivid, default, mean = (backend.colorize_file(path, t)["coloured"] for t in (0.1, 0.5, 3.0))
    assert np.abs(vivid.astype(int) - default).mean() > 0.2
    # Far above 1 the annealed mean flattens the distribution towards grey.
    assert _chroma(mean) < _chroma(default) - 1.0


def test_backend_reads_cmyk_and_16_bit_photos(backend, photos):
    cmyk = backend.colorize_file(str(photos / "cmyk.jpg"))
    reference = np.asarray(PIL.Image.open(photos / "cmyk.jpg").convert("RGB"))
    assert cmyk["coloured"].shape == reference.shape
    # JPEG decoders differ by a few levels here and there: compare on average.
    lightness_error = (
        skimage.color.rgb2lab(cmyk["grey"])[..., 0] - skimage.color.rgb2lab(reference)[..., 0]
    )
    assert np.abs(lightness_error).mean() < 0.5
    deep = backend.colorize_file(str(photos / "camera16.png"))
    camera = skimage.data.camera()
    assert deep["grey"].shape == (*camera.shape, 3)
    # 16-bit values are scaled to 8 bits (not clipped at 255): the grey panel is the camera.
    assert np.abs(deep["grey"][..., 0].astype(int) - camera).max() <= 1
    assert _chroma(deep["coloured"]) > 2.0


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.png", "'empty.png' is empty (0 bytes)"),
        ("notes.jpg", "'notes.jpg' is not an image"),
        ("truncated.jpg", "'truncated.jpg' (CMYK, 451 x 300) could not be decoded"),
        (None, "No photo yet"),
    ],
)
def test_bad_files_get_a_message(backend, photos, name, message):
    with pytest.raises(demo.PhotoError, match="^" + re.escape(message)):
        backend.colorize_file(str(photos / name) if name else None)


def test_large_photos_are_downscaled_or_refused(backend, photos, monkeypatch):
    image, note = demo.read_photo(str(photos / "chelsea.png"), max_side=64)
    assert image.shape == (43, 64, 3) and note.startswith("downscaled from 451 x 300 to 64 x 43")
    monkeypatch.setattr(demo, "MAX_DECODE_PIXELS", 100_000)
    with pytest.raises(demo.PhotoError, match=r"451 x 300 pixels .* up to 0 MP"):
        demo.read_photo(str(photos / "chelsea.png"))


def test_uploads_above_the_limit_are_refused_and_results_are_bounded(photos, tmp_path):
    bounded = demo.DemoBackend(output_dir=str(tmp_path / "out"), max_upload_mb=0.5, keep_results=2)
    big = photos / "huge.jpg"
    with pytest.raises(demo.PhotoError, match=r"'huge.jpg' is .* MB; the demo takes files up"):
        bounded.colorize_file(str(big))
    for _ in range(5):
        result = bounded.colorize_file(str(photos / "chelsea.png"))
        assert os.path.exists(result["png"])
    # Only the newest results stay, the one just returned among them.
    kept = sorted(os.listdir(tmp_path / "out"))
    assert len(kept) == 2 and os.path.basename(result["png"]) == kept[-1]


def test_concurrent_uploads_to_the_page_are_all_answered_on_bounded_disk(photos, tmp_path):
    """A bounded load test on localhost: 8 uploads at once through Gradio's client API; every
    answer is the photo coloured at its size, and the results folder holds at most
    --keep_results files afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file

    results_dir = tmp_path / "results"
    flags = ["--keep_results=3", "--queue_size=16", f"--results_dir={results_dir}"]
    with browser.DemoServer(extra_flags=flags) as server:
        client = Client(server.url, verbose=False)

        def one(_):
            return client.predict(
                handle_file(str(photos / "chelsea.png")), 0.5, api_name="/colorize"
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(one, range(8)))
        assert server.alive()
    for answer in answers:
        # grey, coloured, classes, download, status, then the (cleared) list of hints.
        coloured, message = answer[1], answer[4]
        assert message.startswith("Coloured 451 x 300"), message
        assert answer[-1].startswith("No hints"), answer[-1]
        shown = np.asarray(PIL.Image.open(coloured))
        assert shown.shape == (300, 451, 3) and _chroma(shown) > 5.0
    assert 1 <= len(os.listdir(results_dir)) <= 3


def test_cli_help_and_bad_model(tmp_path):
    helped = run_module("colorization.demo", "--helpshort")
    assert "--port" in helped.stdout and "--model" in helped.stdout
    missing = run_module("colorization.demo", f"--model={tmp_path / 'nowhere.keras'}")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_page_in_headless_chromium(photos, tmp_path):
    """Drives the real page: upload, result at the photo's size and in colour, the bad files
    above as messages on the page, an example click, the download; the server keeps
    serving throughout."""
    assert browser.find_browser(), browser.MISSING_BROWSER
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # --max_side=1024 keeps the 10,000 x 10,000 photo's round trip short (same code path).
    with browser.DemoServer(extra_flags=["--max_side=1024"]) as server:
        driver = browser.chromium(download_dir=str(tmp_path))
        try:
            text, src, _ = browser.upload(driver, server.url, photos / "chelsea.png")
            assert text.startswith("Coloured 451 x 300"), text
            shown = browser.fetch_image(src)
            assert shown.shape == (300, 451, 3) and _chroma(shown) > 5.0
            labels = driver.find_element(By.CSS_SELECTOR, "#classes").text
            assert labels.splitlines()[:2] == ["Class branch (top 3)", "cat"], labels
            # The download button hands over the same PNG.
            driver.find_element(By.CSS_SELECTOR, "#download").click()
            WebDriverWait(driver, 30).until(
                lambda d: [f for f in os.listdir(tmp_path) if f.endswith(".png")]
            )
            (png,) = [f for f in os.listdir(tmp_path) if f.endswith(".png")]
            np.testing.assert_array_equal(np.asarray(PIL.Image.open(tmp_path / png)), shown)

            for name, expected, size in [
                ("empty.png", "⚠ 'empty.png' is empty", None),
                ("notes.jpg", "⚠ 'notes.jpg' is not an image", None),
                ("truncated.jpg", "⚠ 'truncated.jpg' (CMYK, 451 x 300) could not be decoded", None),
                ("huge.jpg", "Coloured 1024 x 1024", (1024, 1024)),
                ("cmyk.jpg", "Coloured 451 x 300", (300, 451)),
                ("camera16.png", "Coloured 512 x 512", (512, 512)),
            ]:
                text, src, _ = browser.upload(driver, server.url, photos / name)
                assert text.startswith(expected), (name, text)
                assert server.alive(), name
                assert (src is None) == (size is None), (name, src)
                if size:
                    assert browser.fetch_image(src).shape == (*size, 3), name
                if name == "huge.jpg":
                    assert "downscaled from 10000 x 10000 to 1024 x 1024" in text

            # An example photo is one click away.
            driver.get(server.url)
            wait = WebDriverWait(driver, 60)
            button = wait.until(
                lambda d: [
                    b for b in d.find_elements(By.TAG_NAME, "button") if b.text == "chelsea.png"
                ]
            )[0]
            button.click()
            wait.until(lambda d: browser.status_text(d).startswith("Coloured 451 x 300"))
        finally:
            driver.quit()


def test_a_click_places_a_hint_and_the_colour_follows(photos):
    """The shipped colorizer takes hints: on the page, pick a saturated blue, click the cat,
    and the colour around the spot moves towards blue; undo gives the automatic photo back."""
    assert browser.find_browser(), browser.MISSING_BROWSER
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    target = np.array([40, 70, 220])  # sRGB of a saturated blue
    target_ab = skimage.color.rgb2lab(target[None, None] / 255.0)[0, 0, 1:]
    with browser.DemoServer() as server:
        driver = browser.chromium()
        try:
            text, src, _ = browser.upload(driver, server.url, photos / "chelsea.png")
            assert text.startswith("Coloured 451 x 300"), text
            automatic = browser.fetch_image(src)
            browser.set_colour(driver, "hint_colour", "#2846dc")
            browser.click_image_pixel(driver, "#coloured img", 150, 150)  # the cat's cheek
            wait = WebDriverWait(driver, 120, poll_frequency=0.1)
            wait.until(lambda d: "with 1 hint" in browser.status_text(d))
            listed = driver.find_element(By.CSS_SELECTOR, "#hints").text
            x, y = map(int, re.search(r"x = (\d+), y = (\d+): #2846dc", listed).groups())
            assert abs(x - 150) <= 2 and abs(y - 150) <= 2, listed
            hinted = browser.fetch_image(
                driver.find_element(By.CSS_SELECTOR, "#coloured img").get_attribute("src")
            )

            def distance(image):
                patch = image[y - 7 : y + 8, x - 7 : x + 8] / 255.0
                ab = skimage.color.rgb2lab(patch)[..., 1:].reshape(-1, 2).mean(0)
                return np.hypot(*(ab - target_ab))

            assert distance(hinted) < 0.5 * distance(automatic), (
                distance(automatic),
                distance(hinted),
            )
            # Lightness stays the photo's own, but for the pixels whose hinted colour falls
            # outside the sRGB gamut at their lightness and is clipped to it: a saturated
            # blue on a mid-grey cat moves a few hundred of them (of 135,300) by up to 3.
            lightness = np.abs(
                skimage.color.rgb2lab(hinted)[..., 0] - skimage.color.rgb2lab(automatic)[..., 0]
            )
            assert lightness.mean() < 0.3 and (lightness > 1.0).mean() < 0.01, (
                lightness.mean(),
                (lightness > 1.0).mean(),
            )
            driver.find_element(By.CSS_SELECTOR, "#undo_hint").click()
            wait.until(lambda d: "hint" not in browser.status_text(d).split("T =")[-1])
            wait.until(lambda d: "No hints" in d.find_element(By.CSS_SELECTOR, "#hints").text)
            undone = browser.fetch_image(
                driver.find_element(By.CSS_SELECTOR, "#coloured img").get_attribute("src")
            )
            np.testing.assert_array_equal(undone, automatic)
        finally:
            driver.quit()
