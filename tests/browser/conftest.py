"""Browser tests: Debian's headless Chromium driven by Selenium against the running system.

The browser and its driver are the system packages (``chromium``, ``chromium-driver``), with
``fonts-noto-cjk`` so the screenshots show Chinese rather than boxes; the session installs them
when missing and fails clearly when it cannot. Every page visited is saved as a screenshot
under ``tests/artifacts/browser/``.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.system import API, GATEWAY_PORT, login  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CJK_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
PACKAGES = ("chromium", "chromium-driver", "fonts-noto-cjk")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
BASE_URL = f"http://127.0.0.1:{GATEWAY_PORT}"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
    "--lang=zh-CN",
)


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["apt-get", *args],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _install_browser() -> None:
    """Install what is missing with apt-get (updating the lists first if the install fails)."""
    missing = not CHROMIUM.exists() or not CHROMEDRIVER.exists() or not CJK_FONT_DIR.exists()
    if not missing:
        return
    if shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing and apt-get is not available to install {PACKAGES}")
    result = _apt_get("install", "-y", "--no-install-recommends", *PACKAGES)
    if result.returncode != 0:
        _apt_get("update")
        result = _apt_get("install", "-y", "--no-install-recommends", *PACKAGES)
    if result.returncode != 0 or not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail(
            f"could not install {' '.join(PACKAGES)} with apt-get "
            f"(exit {result.returncode}):\n{result.stderr[-2000:]}"
        )


@pytest.fixture(scope="session")
def chromium_ready():
    _install_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


class Browser:
    """A Selenium driver with the few verbs the tests need; every visited page is saved."""

    def __init__(self, driver, prefix: str):
        self.driver = driver
        self.prefix = prefix
        self.shots = 0

    def open(self, path: str):
        self.driver.get(BASE_URL + path)
        return self.shot(path)

    def shot(self, label: str | None = None):
        """Save a full-page screenshot named after the test and ``label`` (or the path)."""
        from selenium.webdriver.common.by import By

        self.shots += 1
        label = label or self.driver.current_url.removeprefix(BASE_URL)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "root"
        height = self.driver.find_element(By.TAG_NAME, "body").size["height"]
        self.driver.set_window_size(1280, max(1000, min(height + 40, 6000)))
        path = ARTIFACTS / f"{self.prefix}-{self.shots:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def text(self, css: str = "body") -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def fill(self, fields: dict, within: str = ""):
        """Type into inputs/textareas or choose in selects, by ``name`` (inside ``within``)."""
        from selenium.webdriver.support.ui import Select

        for name, value in fields.items():
            element = self.find(f"{within} [name='{name}']".strip())
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            else:
                element.clear()
                element.send_keys(value)

    def set_value(self, css: str, value: str):
        """Set an input Chromium types into by locale (date, datetime-local) to ``value``."""
        self.driver.execute_script("arguments[0].value = arguments[1]", self.find(css), value)

    def tick(self, css: str, on: bool = True):
        """Tick (or clear) a checkbox."""
        box = self.find(css)
        if box.is_selected() != on:
            box.click()

    def wait_for(self, css: str, text: str = "", timeout: float = 10.0):
        """Wait until ``css`` shows (with ``text``): for what a page's script fills in."""
        from selenium.webdriver.support.ui import WebDriverWait

        def shown(_driver):
            found = self.find_all(css)
            return bool(found) and found[0].is_displayed() and text in found[0].text

        WebDriverWait(self.driver, timeout).until(shown)

    def submit(self, css: str = "main form button[type='submit']"):
        """Click a submit button and wait until the next page has replaced this one."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.find("html")
        self.find(css).click()

        def replaced(_driver) -> bool:
            # Chromium reports a node of a replaced document as stale or as foreign
            try:
                page.is_enabled()
            except WebDriverException:
                return True
            return False

        wait = WebDriverWait(self.driver, 15)
        wait.until(replaced)
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        return self.shot()

    def login(self, username: str, password: str = "demo"):
        self.open("/logout")
        self.open("/login")
        self.fill({"username": username, "password": password})
        return self.submit()


@pytest.fixture
def browser(chromium_ready, system, request):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bancheng-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    for stale in ARTIFACTS.glob(f"{glob.escape(request.node.name)}-*.png"):
        stale.unlink()  # only this run's screenshots under the test's name
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield Browser(driver, request.node.name)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
