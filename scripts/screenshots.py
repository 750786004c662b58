"""The README's screenshots of the dashboard and the content gaps, from a simulated week of traffic.

Copies a built data directory (its index and caches) to a scratch folder, runs ``simulate`` into that copy's
live database, serves the page on 127.0.0.1 and photographs the Dashboard and Content gaps tabs in headless
Chromium (Debian's ``chromium``; ``scripts/test.sh`` installs it). Nothing leaves the machine.

Usage (from the repository root, after ``bnpl-assistant ingest``)::

    python scripts/screenshots.py [--data-dir DIR] [--conversations 2000] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bnpl_assistant.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Settings().data_dir, help="a built data directory")
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium")
    if chromium is None:
        print("needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bnpl-shots-") as tmp:
        data = Path(tmp) / "data"
        for part in ("index", "cache"):
            shutil.copytree(args.data_dir / part, data / part)
        settings = Settings(data_dir=data, support_hours="mon-sun 00:00-23:59", client_rate_limit=0)
        subprocess.run([sys.executable, "-m", "bnpl_assistant", "simulate", "--conversations",
                        str(args.conversations), "--seed", "7", "--days", "14", "--db", str(settings.db_path)],
                       check=True, env={"BNPL_DATA_DIR": str(data), "PATH": "/usr/bin:/bin",
                                        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
        from bnpl_assistant.ui.app import build_app
        from bnpl_assistant.wiring import build

        components = build(settings)
        app = build_app(components.desk(eval_dir=data / "eval", deflection_dir=data / "deflection"), settings,
                        components.agent_desk())
        with socket.socket() as probe:  # a free port on the loopback interface
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        url = f"http://127.0.0.1:{port}/"
        args.out.mkdir(parents=True, exist_ok=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url)
                page.get_by_role("tab", name="Dashboard").click()
                page.wait_for_selector("#outcome-stats :text('Outcomes (last 7 days)')", timeout=60_000)
                page.fill("#range-from input", "2000-01-01")
                page.keyboard.press("Enter")
                page.wait_for_selector("#outcome-stats :text('Outcomes (2000-01-01')", timeout=60_000)
                page.wait_for_selector("#by-day-plot img", timeout=60_000)
                page.wait_for_timeout(1500)  # the plots of the new range
                page.screenshot(path=str(args.out / "dashboard.png"), full_page=True)
                page.get_by_role("tab", name="Content gaps").click()
                page.click("#find-gaps")
                page.wait_for_selector("#gaps-table :text('Content gaps (')", timeout=120_000)
                page.screenshot(path=str(args.out / "content-gaps.png"), full_page=True)
                browser.close()
        finally:
            app.close()
    print(f"wrote {args.out / 'dashboard.png'} and {args.out / 'content-gaps.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
