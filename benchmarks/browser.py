"""Driving the demo page (`python -m colorization.demo`) in headless Chromium: the server
as a subprocess, a browser, an upload, and reading the page back. Used by tests/test_demo.py
and by the timing in benchmarks/demo_page.py.

Needs Debian's `chromium` and `chromium-driver` (`bash .ci/run` installs them) and Selenium.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_PATHS = ("/usr/bin/chromedriver",)
MISSING_BROWSER = (
    "headless Chromium is needed: install Debian's packages `chromium` and `chromium-driver` "
    "(apt-get install -y chromium chromium-driver; `bash .ci/run` does it)"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoServer:
    """`python -m colorization.demo` in a child process; a context manager.

    `startup_s` is the time from starting the process to the page answering HTTP.
    """

    def __init__(self, model=None, port=None, timeout=180, extra_flags=()):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        command = [sys.executable, "-m", "colorization.demo", f"--port={self.port}"]
        if model:
            command.append(f"--model={model}")
        command.extend(extra_flags)
        self.command = command
        self.timeout = timeout
        self.process = None
        self.startup_s = None

    def __enter__(self):
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", TF_CPP_MIN_LOG_LEVEL="2")
        self.log = open(os.devnull, "w") if not os.environ.get("DEMO_LOG") else None
        start = time.perf_counter()
        self.process = subprocess.Popen(
            self.command, env=env, stdout=self.log, stderr=subprocess.STDOUT if self.log else None
        )
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(self.command)} exited with {self.process.returncode} before "
                    "serving (run it by hand to see why)"
                )
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - start > self.timeout:
                self.__exit__(None, None, None)
                raise TimeoutError(f"the demo did not answer at {self.url} in {self.timeout} s")
            time.sleep(0.2)
        self.startup_s = time.perf_counter() - start
        return self

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.log:
            self.log.close()


def find_browser():
    """(chromium, chromedriver) paths, or None when either is missing."""
    chromium = next((p for p in CHROMIUM_PATHS if os.path.exists(p)), shutil.which("chromium"))
    driver = next(
        (p for p in CHROMEDRIVER_PATHS if os.path.exists(p)), shutil.which("chromedriver")
    )
    if not chromium or not driver:
        return None
    return chromium, driver


def chromium(width=1400, height=1100, download_dir=None):
    """A headless Selenium Chromium driver (no network use beyond localhost); downloads go
    to `download_dir`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = find_browser()
    if paths is None:
        raise RuntimeError(MISSING_BROWSER)
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    if download_dir:
        options.add_experimental_option(
            "prefs",
            {"download.default_directory": download_dir, "download.prompt_for_download": False},
        )
    return webdriver.Chrome(service=Service(paths[1]), options=options)


def status_text(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "#status").text.strip()


def upload(driver, url, path, timeout=120):
    """Opens the page, hands `path` to its upload box and waits for the answer.

    Returns (status line, URL of the coloured image or None, seconds from the hand-over to
    the answer on the page).
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, timeout, poll_frequency=0.05)
    box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#photo input[type=file]"))
    before = status_text(driver)
    start = time.perf_counter()
    box.send_keys(os.path.abspath(path))

    def answered(d):
        # While the server works, Gradio overlays "processing | ..." on the outputs.
        text = status_text(d)
        if text == before or "processing" in text:
            return False
        if text.startswith("⚠"):
            return text, None
        images = d.find_elements(By.CSS_SELECTOR, "#coloured img")
        src = images[0].get_attribute("src") if images else None
        return (text, src) if src else False

    text, src = wait.until(answered)
    return text, src, time.perf_counter() - start


def fetch_image(src):
    """The image at `src` (a URL served by the page) as a NumPy array."""
    import io

    import numpy as np
    import PIL.Image

    with urllib.request.urlopen(src, timeout=30) as response:
        return np.asarray(PIL.Image.open(io.BytesIO(response.read())).convert("RGB"))


def set_colour(driver, element_id, hex_colour):
    """Types `hex_colour` ("#rrggbb") into the Gradio colour picker `element_id` and closes
    its dialog."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.find_element(By.CSS_SELECTOR, f"#{element_id} button.dialog-button").click()
    box = driver.find_element(By.CSS_SELECTOR, f"#{element_id} input[type=text]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(hex_colour, Keys.ENTER)
    driver.find_element(By.TAG_NAME, "h1").click()  # outside the dialog: closes it


def click_image_pixel(driver, selector, x, y):
    """Clicks the displayed image `selector` where pixel (x, y) of its full-size picture
    lies (the page shows it scaled to fit)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    image = driver.find_element(By.CSS_SELECTOR, selector)
    width, height = driver.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image
    )
    shown = image.size
    # Selenium's offsets are from the element's centre.
    dx = (x + 0.5) * shown["width"] / width - shown["width"] / 2
    dy = (y + 0.5) * shown["height"] / height - shown["height"] / 2
    ActionChains(driver).move_to_element_with_offset(image, round(dx), round(dy)).click().perform()
