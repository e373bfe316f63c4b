"""The archive path: photos read as a viewer shows them, the batched steps against the
Colorizer, the manifest and resuming (a run killed half-way included), progress output, and
the Beam pipeline against the command line."""

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from colorization.archive import manifest as manifest_lib
from colorization.archive.photo_files import PhotoError, read_photo, write_png
from colorization.archive.progress import Progress, format_seconds
from colorization.archive.runner import output_names
from tests.helpers import ROOT, photo


def _save(array, path, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return str(path)


# Reading photos: each against Pillow or NumPy applied by hand.


def test_read_photo_turns_a_photo_upright_by_its_exif_orientation(tmp_path):
    upright = photo(1, 30, 50)
    stored = np.rot90(upright, k=1)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    path = _save(stored, tmp_path / "sideways.png", exif=exif)
    np.testing.assert_array_equal(read_photo(path), np.rot90(stored, k=-1))
    assert read_photo(path).shape == upright.shape


def test_read_photo_scales_16_bit_grey_to_8_bits(tmp_path):
    values = np.random.default_rng(0).integers(0, 65536, (12, 20)).astype(np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(values).save(path)
    expected = np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(read_photo(str(path)), np.repeat(expected[..., None], 3, -1))


def test_read_photo_expands_palettes_and_drops_alpha(tmp_path):
    rgb = photo(2, 16, 16)
    palette = Image.fromarray(rgb).quantize(16)
    palette.save(tmp_path / "palette.gif")
    np.testing.assert_array_equal(
        read_photo(str(tmp_path / "palette.gif")), np.asarray(palette.convert("RGB"))
    )
    rgba = np.concatenate([rgb, np.full((16, 16, 1), 7, np.uint8)], -1)
    np.testing.assert_array_equal(read_photo(_save(rgba, tmp_path / "alpha.png")), rgb)


def test_read_photo_converts_cmyk_and_icc_profiles_to_srgb(tmp_path):
    cmyk = np.zeros((8, 8, 4), np.uint8)
    cmyk[:, :4, 0] = 255  # full cyan on the left half, paper white on the right
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "cmyk.tif")
    rgb = read_photo(str(tmp_path / "cmyk.tif"))
    np.testing.assert_array_equal(rgb[:, 4:], 255)
    np.testing.assert_array_equal(rgb[:, :4], [[[0, 255, 255]] * 4] * 8)
    # An embedded sRGB profile keeps the pixels (to LittleCMS's rounding); a broken profile
    # leaves them as they are, as viewers do.
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = photo(3, 10, 12)
    with_srgb = _save(pixels, tmp_path / "srgb.png", icc_profile=srgb)
    np.testing.assert_allclose(read_photo(with_srgb).astype(int), pixels.astype(int), atol=1)
    broken = _save(pixels, tmp_path / "broken.png", icc_profile=b"not a profile")
    np.testing.assert_array_equal(read_photo(broken), pixels)


def test_read_photo_names_a_bad_file_and_a_photo_above_the_pixel_limit(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not a photo")
    with pytest.raises(PhotoError, match="unreadable"):
        read_photo(str(tmp_path / "bad.jpg"))
    truncated = tmp_path / "truncated.png"
    _save(photo(4, 64, 64), truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(PhotoError, match="unreadable"):
        read_photo(str(truncated))
    with pytest.raises(PhotoError, match=r"30x20 is 600 pixels, above the limit of 599"):
        read_photo(_save(photo(5, 20, 30), tmp_path / "big.png"), max_pixels=599)


def test_a_huge_photo_in_a_small_file_is_refused_without_decoding_it(tmp_path):
    """8,000 x 8,000 grey pixels compress to a small PNG; decoding them would take 192 MB as
    RGB. The refusal comes from the header: the process stays far below that."""
    path = tmp_path / "huge.png"
    rows = b"".join(b"\x00" + bytes(8000) for _ in range(8000))
    chunk = lambda kind, data: (  # noqa: E731 - a PNG chunk: length, type, data, CRC
        len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    )
    header = (8000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
    assert path.stat().st_size < 200_000
    script = (
        "import re\n"
        "from colorization.archive.photo_files import PhotoError, read_photo\n"
        "try:\n"
        f"    read_photo({str(path)!r})\n"
        "except PhotoError as e:\n"
        "    print(e)\n"
        # The peak resident memory of this process (ru_maxrss would include the parent's).
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    message, peak_kb = result.stdout.strip().splitlines()
    assert message == "8000x8000 is 64,000,000 pixels, above the limit of 40,000,000 (--max_pixels)"
    assert int(peak_kb) < 150_000, peak_kb


def test_write_png_is_atomic_and_lossless(tmp_path):
    pixels = photo(6, 33, 21)
    target = tmp_path / "out.png"
    write_png(str(target), pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(target)), pixels)
    assert os.listdir(tmp_path) == ["out.png"]


def test_output_names_never_collide():
    assert output_names(["a/x.jpg", "b/x.png", "c/y.tif", "d/x.bmp"]) == [
        "x.png",
        "x_1.png",
        "y.png",
        "x_2.png",
    ]


# Progress output.


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_prints_plain_lines_with_rate_and_time_left_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(4, stream=stream, every_seconds=0.0)
    progress.update()
    progress.write("error: x.jpg: unreadable")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("colorize: 1/4 photos, ") and lines[0].endswith(" left")
    assert "photos/s" in lines[0]
    assert lines[1] == "error: x.jpg: unreadable"
    assert lines[-1].startswith("colorize: 1/4 photos")


def test_progress_draws_a_tqdm_bar_on_a_terminal():
    stream = _Terminal()
    progress = Progress(3, stream=stream)
    progress.update(3)
    progress.close()
    text = stream.getvalue()
    assert "3/3" in text and "photo/s" in text and "\r" in text


def test_format_seconds():
    assert [format_seconds(s) for s in (4.4, 65, 7500, float("nan"))] == [
        "4 s",
        "1 min 05 s",
        "2 h 05 min",
        "?",
    ]


# The batched steps against the Colorizer, and the command's resume.


@pytest.fixture(scope="module")
def colorizer():
    from colorization.inference.colorizer import Colorizer

    return Colorizer()


@pytest.mark.parametrize("edge_radius", [0, 2])
def test_the_batched_steps_colour_as_the_colorizer_does(colorizer, edge_radius):
    """With bilinear and with edge-aware decoding (the colorizer's own setting)."""
    from colorization.archive.steps import Steps

    if edge_radius:
        from colorization.inference.colorizer import Colorizer

        colorizer = Colorizer(edge_radius=edge_radius)
    steps = Steps(colorizer, batch_size=4)
    photos = [photo(10 + i, 37 + 9 * i, 61 - 5 * i) for i in range(3)]
    prepared = [steps.prepare(p) for p in photos]
    abs_ = steps.network_ab(np.stack([small for _, small in prepared]))
    for image, (full, _), ab in zip(photos, prepared, abs_, strict=True):
        ours = steps.finish(full, ab).astype(int)
        reference = colorizer.colorize(image).astype(int)
        assert np.abs(ours - reference).max() <= 1
        assert np.mean(ours != reference) < 0.02
    # A photo's colours do not depend on the batch it was in (the batch is padded).
    alone = steps.network_ab(prepared[1][1][None])
    np.testing.assert_array_equal(alone[0], abs_[1])


def _folder(root, count, size=(40, 56)):
    root.mkdir()
    for i in range(count):
        _save(photo(100 + i, *size), root / f"p{i:03d}.jpg")
    return root


def _pixels(folder):
    return {
        name: np.asarray(Image.open(folder / name))
        for name in sorted(os.listdir(folder))
        if name.endswith(".png")
    }


def test_a_second_run_keeps_what_the_manifest_says_is_current_and_recolours_the_rest(tmp_path):
    from colorization.archive.command import run_colorize

    inputs = _folder(tmp_path / "in", 3)
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "out"
    first = run_colorize([str(inputs)], None, str(out), stream=io.StringIO())
    assert (first["written"], first["kept"], first["failed"]) == (3, 0, 1)
    assert first["failures"][0][0].endswith("broken.jpg")
    records = [json.loads(line) for line in (out / manifest_lib.MANIFEST_NAME).open()]
    assert [r["output"] for r in records] == ["p000.png", "p001.png", "p002.png"]
    model_file = ROOT / "colorization" / "pretrained" / "model.keras"
    settings = records[0]["settings"]
    assert settings["temperature"] == 0.5 and settings["network_size"] == 224
    assert settings["model_sha256"] == manifest_lib.model_sha256(str(model_file.parent))
    assert len(settings["model_sha256"]) == len(hashlib.sha256().hexdigest())

    again = run_colorize([str(inputs)], None, str(out), stream=io.StringIO())
    assert (again["written"], again["kept"]) == (0, 3)
    # A changed input is coloured again; so is everything at another temperature.
    os.utime(inputs / "p001.jpg", ns=(1, 1))
    changed = run_colorize([str(inputs)], None, str(out), stream=io.StringIO())
    assert (changed["written"], changed["kept"]) == (1, 2)
    hotter = run_colorize([str(inputs)], None, str(out), temperature=0.9, stream=io.StringIO())
    assert (hotter["written"], hotter["kept"]) == (3, 0)
    records = [json.loads(line) for line in (out / manifest_lib.MANIFEST_NAME).open()]
    assert {r["settings"]["temperature"] for r in records} == {0.9}


def test_the_command_prints_a_summary_and_fails_only_when_nothing_was_written(tmp_path):
    from tests.helpers import run_module

    inputs = _folder(tmp_path / "in", 2)
    (inputs / "bad.png").write_bytes(b"nope")
    result = run_module("colorization.colorize", str(inputs), f"--output_dir={tmp_path / 'o'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done: 2 written, 0 kept (made before with the same model and settings), 1 failed" in (
        result.stdout
    )
    assert "failed: " in result.stdout and "bad.png: unreadable" in result.stdout
    assert "colorize: 3/3 photos" in result.stderr  # plain progress lines in a pipe
    bad = run_module("colorization.colorize", str(inputs), "--output_dir=o", "--batch_size=0")
    assert bad.returncode == 1 and "batch_size" in bad.stderr


@pytest.mark.slow
def test_a_run_killed_half_way_loses_nothing_and_resumes(tmp_path):
    inputs = _folder(tmp_path / "in", 150, size=(48, 64))
    out = tmp_path / "out"
    manifest = out / manifest_lib.MANIFEST_NAME
    command = [sys.executable, "-m", "colorization.colorize", str(inputs), f"--output_dir={out}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if manifest.exists() and len(manifest.read_bytes().splitlines()) >= 10:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(manifest.read_bytes().splitlines())
    assert 10 <= done_before < 150, done_before
    # Every output in place is whole, and the manifest records only such outputs.
    for name, pixels in _pixels(out).items():
        assert pixels.shape == (48, 64, 3), name
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    summary = [line for line in resumed.stdout.splitlines() if line.startswith("Done:")][0]
    written = int(summary.split()[1])
    kept = int(summary.split(",")[1].split()[0])
    assert written + kept == 150 and kept >= done_before
    assert not [n for n in os.listdir(out) if ".partial-" in n]
    clean = tmp_path / "clean"
    subprocess.run(
        [*command[:-1], f"--output_dir={clean}"], cwd=ROOT, check=True, capture_output=True
    )
    ours, reference = _pixels(out), _pixels(clean)
    assert ours.keys() == reference.keys() and len(ours) == 150
    for name in ours:
        np.testing.assert_array_equal(ours[name], reference[name], err_msg=name)


@pytest.mark.slow
def test_the_beam_pipeline_writes_the_command_lines_files_byte_for_byte(tmp_path):
    from colorization import beam
    from colorization.archive.command import run_colorize

    inputs = _folder(tmp_path / "in", 20, size=(45, 61))
    (inputs / "bad.jpg").write_bytes(b"not a photo")
    cli_out, beam_out = tmp_path / "cli", tmp_path / "beam"
    run_colorize([str(inputs)], None, str(cli_out), stream=io.StringIO())
    summary = beam.run([f"--input={inputs}/*", f"--output_dir={beam_out}", "--batch_size=8"])
    assert summary == {"written": 20, "kept": 0, "failed": 1}
    names = sorted(os.listdir(cli_out))
    assert names == sorted(os.listdir(beam_out)) and len(names) == 21  # 20 PNGs + manifest
    for name in names:
        assert (cli_out / name).read_bytes() == (beam_out / name).read_bytes(), name
    # A second Beam run keeps them all.
    again = beam.run([f"--input={inputs}/*", f"--output_dir={beam_out}"])
    assert again == {"written": 0, "kept": 20, "failed": 1}
