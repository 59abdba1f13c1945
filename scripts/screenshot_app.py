"""Drive the real app as a visitor would, in headless Chromium: time it, measure it, screenshot it (not run in CI).

    python scripts/screenshot_app.py [--page show_st_plus.py] [--ratings 8]

Starts ``streamlit run`` on 127.0.0.1, opens the page at desktop width and
times the first complete page from launch. Then it onboards like a newcomer:
searches titles by typing, rates each with stars, and times every change
until the page has finished (the median is what the app's "per interaction"
figure means); after each rating it checks the picks hold no movie rated so
far (a rating reruns only the page's fragment, a path AppTest cannot take).
It saves ``docs/app.png`` (desktop, 1440 px wide) and ``docs/app-390.png``
(a phone, 390 px wide, its screen at the picks after rating two movies
there), and prints the server's peak RSS. Needs Debian's ``chromium`` (``apt-get
install chromium``), the ``playwright`` Python package (it drives that
Chromium; no browser download) and MovieLens through ``MOVIELENS_DIR`` or
the cache. The server is stopped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# As the machine's notes advise for headless Chromium on a closed network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
# Titles a newcomer might type, and the stars they give (most of them liked).
TO_RATE = [("Matrix", 5), ("Alien", 5), ("Toy Story", 4), ("Fargo", 5), ("Titanic", 2), ("Terminator", 4),
           ("Princess Bride", 5), ("Godfather", 4), ("Clueless", 2), ("Braveheart", 4)]  # fmt: skip


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


IDLE = """() => !document.querySelector("[data-testid='stStatusWidget']")
    && document.querySelectorAll("[data-stale='true']").length === 0
    && !document.querySelector("[data-testid='stSkeleton']")"""


def finished(page, expect: str | None = None, timeout_ms: int = 120_000) -> None:
    """Wait until ``expect`` (text the new run draws) is on the page and the run is over: no element left stale."""
    if expect is not None:
        page.get_by_text(expect, exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_function(IDLE, timeout=timeout_ms, polling=20)


PICK = re.compile(r"^\d+\. (.+)$")  # a pick's first line: "3. The Matrix (1999)", as the search shows it


def picks(page) -> list[str]:
    """The titles the page recommends, in order, with their years."""
    first_lines = [text.strip().splitlines()[0] for text in
                   page.locator("[data-testid='stMarkdownContainer'] p").all_inner_texts() if text.strip()]  # fmt: skip
    return [m.group(1).strip() for line in first_lines if (m := PICK.match(line))]


def rate(page, title: str, stars: int, rated: list[str]) -> tuple[float, bool]:
    """Search ``title`` and give it ``stars``, adding it to ``rated`` (every title rated so far, with its year).

    Returns the seconds from the click to the finished page and whether the
    picks changed. A rating reruns only the page's fragment, which AppTest
    cannot do (it reruns the whole script): so this is where that path is
    checked, and a list that comes out empty or holds any movie rated so far
    stops the script.
    """
    search = page.locator(".st-key-search input")
    search.click()
    search.fill(title)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")
    star = page.locator(".st-key-search_stars button").nth(stars - 1)
    star.wait_for(timeout=30_000)
    finished(page)
    asked = page.locator("[data-testid='stCaptionContainer']", has_text="How much did you like")
    rated.append(asked.locator("strong").first.inner_text().strip())  # "Titanic (1997)": the year tells remakes apart
    before = picks(page)
    started = time.monotonic()
    star.click()
    finished(page, f"Your ratings ({len(rated)})")
    seconds = time.monotonic() - started
    after = picks(page)
    if not after:
        raise AssertionError(f"after rating {rated[-1]!r} the page shows no picks")
    if again := [t for t in after if t in rated]:
        raise AssertionError(f"after rating {rated[-1]!r} the picks hold movies already rated: {again}")
    return seconds, after != before


def peak_rss_mb(pid: int) -> float:
    """The process tree's largest peak resident set (VmHWM) in MiB: the server and any child."""
    peaks = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if entry.name == str(pid) or fields.get("PPid", "").strip() == str(pid):
            peaks.append(int(fields.get("VmHWM", "0 kB").split()[0]) / 1024)
    return max(peaks, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default="show_st_plus.py")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "app.png")
    parser.add_argument("--phone-out", type=Path, default=ROOT / "docs" / "app-390.png")
    parser.add_argument("--port", type=int, default=8599)
    parser.add_argument("--ratings", type=int, default=8, help="titles to search and rate (timed)")
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

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            page.goto(f"http://127.0.0.1:{args.port}/", timeout=120_000)
            finished(page, "1. ", 180_000)
            print(f"first complete page {time.monotonic() - started:.1f} s after `streamlit run`")

            titles: list[str] = []
            rated = [rate(page, title, stars, titles) for title, stars in TO_RATE[: args.ratings]]
            ms = sorted(seconds * 1000 for seconds, _ in rated)
            print(f"rating -> finished page, {len(ms)} ratings: median {statistics.median(ms):.0f} ms, "
                  f"min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")  # fmt: skip
            print(f"the picks changed after {sum(changed for _, changed in rated)} of {len(rated)} ratings, "
                  "and never held a rated movie")  # fmt: skip
            page.wait_for_timeout(1500)
            page.screenshot(path=str(args.out), full_page=True)
            print(f"saved {args.out}")

            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
            phone.goto(f"http://127.0.0.1:{args.port}/", timeout=120_000)
            finished(phone, "1. ", 180_000)
            on_phone: list[str] = []
            for title, stars in TO_RATE[:2]:
                rate(phone, title, stars, on_phone)
            phone.wait_for_timeout(1500)
            # Streamlit scrolls inside its own container, so a full-page shot would stop at the first screen:
            # scroll the picks into view and shoot what a phone shows there.
            phone.get_by_text("Recommended for you").first.scroll_into_view_if_needed()
            phone.wait_for_timeout(500)
            phone.screenshot(path=str(args.phone_out))
            print(f"saved {args.phone_out}")
            browser.close()
        print(f"peak RSS of the app server: {peak_rss_mb(server.pid):,.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
