"""Start the real app with ``streamlit run`` and screenshot it in headless Chromium (not run in CI).

    python scripts/screenshot_app.py [--page show_st_plus.py] [--out docs/app.png]

Needs Debian's ``chromium`` (``apt-get install chromium``), the ``playwright``
Python package (it drives that Chromium; no browser download) and MovieLens
through ``MOVIELENS_DIR`` or the cache. The server listens on 127.0.0.1 only
and is stopped afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# As the machine's notes advise for headless Chromium on a closed network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default="show_st_plus.py")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "app.png")
    parser.add_argument("--port", type=int, default=8599)
    parser.add_argument("--size", default="1500,2300", help="window width,height in pixels")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds for charts to finish drawing")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found: apt-get install chromium")

    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / args.page), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(args.port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{args.port}/_stcore/health", 60)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        from playwright.sync_api import sync_playwright

        width, height = (int(v) for v in args.size.split(","))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            opened = time.monotonic()
            page.goto(f"http://127.0.0.1:{args.port}/", timeout=120_000)
            # The page is ready when the recommendations table is drawn and the script has stopped running.
            page.wait_for_selector("[data-testid='stDataFrame']", timeout=180_000)
            page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=180_000)
            ready = time.monotonic()
            print(f"first page ready {ready - opened:.1f} s after opening it ({ready - started:.1f} s after launch)")
            page.wait_for_timeout(args.settle * 1000)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
        print(f"saved {args.out}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
