#!/usr/bin/python3
"""The page of `backprop serve` in real headless Chromium (selenium + chromedriver): trains a quick
model on MNIST, starts `backprop serve` on a free port, draws three different digits on the canvas
with pointer events, waits for the page's answer, saves the canvas the page sent (toDataURL, the
same PNG bytes) and checks that `backprop predict` on it gives the digit the page shows, and that
it is the digit drawn. Saves screenshots in --out (and, with --docs, docs/serve.png).

Exit 77 (skipped) with the reason where Chromium, chromedriver, selenium or the MNIST data are
missing; 1 instead under BACKPROP_REQUIRE_BROWSER=1 (browser) or BACKPROP_REQUIRE_DATA=1 (data)."""
import argparse
import base64
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip(reason, required_by):
    print(f"serve.browser skipped: {reason}")
    if os.environ.get(required_by) == "1":
        print(f"{required_by}=1, so this is a failure")
        sys.exit(1)
    sys.exit(SKIP)


# Strokes on the 280x280 canvas, one list of points per stroke, for the digit each should read as.
DIGITS = {
    1: [[(150, 40), (146, 120), (142, 200), (140, 245)]],
    7: [[(70, 55), (150, 52), (215, 50), (200, 95), (170, 150), (145, 200), (130, 245)]],
    0: [[(140, 40), (95, 60), (75, 110), (78, 170), (105, 225), (145, 240), (185, 220), (205, 165),
         (205, 105), (185, 58), (140, 40)]],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True, help="the backprop binary")
    ap.add_argument("--out", required=True, help="folder for screenshots and the drawn PNGs")
    ap.add_argument("--data", default=os.environ.get("BACKPROP_DATA") or
                    str(pathlib.Path(__file__).resolve().parent.parent / "data" / "mnist"))
    ap.add_argument("--docs", action="store_true", help="also write docs/serve.png (the screenshot in docs/serve.md)")
    args = ap.parse_args()

    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.actions.pointer_input import PointerInput
        from selenium.webdriver.common.actions import interaction
    except ImportError:
        skip("no selenium for /usr/bin/python3 (apt-get install python3-selenium)", "BACKPROP_REQUIRE_BROWSER")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        skip("no chromium or chromedriver (apt-get install chromium chromium-driver)", "BACKPROP_REQUIRE_BROWSER")
    data = pathlib.Path(args.data)
    if not (data / "t10k-images-idx3-ubyte.gz").exists() and not (data / "t10k-images-idx3-ubyte").exists():
        skip(f"no MNIST data in {data} (scripts/fetch-mnist)", "BACKPROP_REQUIRE_DATA")

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="backprop-serve-browser-"))
    model = work / "model.safetensors"
    started = time.time()
    # A quick but real model: chapter 3's network2 settings, 2 epochs (a few seconds on one core).
    subprocess.run([args.binary, "train", "--layers", "784,100,10", "--cost", "cross-entropy", "--eta", "0.5",
                    "--lambda", "5", "--init", "scaled", "--epochs", "2", "--device", "cpu", "--data", str(data),
                    "--save", str(model), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    print(f"trained the model in {time.time() - started:.1f} s")

    server = subprocess.Popen([args.binary, "serve", "--model", str(model), "--port", "0", "--data", str(data)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    browser = None
    failures = []
    try:
        url = None
        for line in server.stdout:
            print(line.rstrip())
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
                break
        if not url:
            raise RuntimeError("backprop serve printed no URL")

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--force-device-scale-factor=1"):
            options.add_argument(flag)
        print(f"serving after {time.time() - started:.1f} s")
        browser = webdriver.Chrome(service=Service(driver_path), options=options)
        print(f"browser started after {time.time() - started:.1f} s")
        browser.set_page_load_timeout(20)
        browser.get(url)
        pad = browser.find_element("id", "pad")

        kinds = [interaction.POINTER_MOUSE, interaction.POINTER_PEN, interaction.POINTER_TOUCH]
        for n, (digit, strokes) in enumerate(DIGITS.items()):
            browser.find_element("id", "clear").click()
            kind = kinds[n % len(kinds)]
            actions = ActionBuilder(browser, mouse=PointerInput(kind, f"{kind}-{n}"), duration=40)
            for stroke in strokes:
                # W3C actions with an element origin are offsets from the element's centre.
                x, y = stroke[0]
                actions.pointer_action.move_to(pad, x - 140, y - 140).pointer_down()
                for x, y in stroke[1:]:
                    actions.pointer_action.move_to(pad, x - 140, y - 140)
                actions.pointer_action.pointer_up()
            actions.perform()
            deadline = time.time() + 10
            while True:
                s = browser.execute_script("return window.bpState")
                if s["strokes"] == len(strokes) and s["sent"] > 0 and s["shown"] == s["sent"] and s["inFlight"] == 0:
                    break
                if time.time() > deadline:
                    raise RuntimeError(f"the page did not answer the drawn {digit}: {s}")
                time.sleep(0.05)
            shown = browser.find_element("id", "prediction").text
            data_url = browser.execute_script("return document.getElementById('pad').toDataURL('image/png')")
            png = out / f"drawn-{digit}.png"
            png.write_bytes(base64.b64decode(data_url.split(",", 1)[1]))
            predicted = subprocess.run([args.binary, "predict", "--model", str(model), str(png)],
                                       check=True, capture_output=True, text=True).stdout
            m = re.search(r": (\d)   outputs:", predicted)
            print(f"drew a {digit} with a {kind}: the page shows {shown}; backprop predict: {predicted.strip()}")
            if not m or m.group(1) != shown:
                failures.append(f"drawn {digit}: the page shows {shown} but backprop predict says {predicted.strip()}")
            if shown != str(digit):
                failures.append(f"drawn {digit} read as {shown}")
        browser.save_screenshot(str(out / "serve.png"))
        if args.docs:
            docs = pathlib.Path(__file__).resolve().parent.parent / "docs" / "serve.png"
            browser.save_screenshot(str(docs))
            print(f"wrote {docs}")
        # The second tab: weight tiles, confusion matrix and the first mistake.
        print(f"three digits drawn after {time.time() - started:.1f} s")
        browser.set_window_size(1280, 1180)
        browser.find_element("id", "tab-model").click()
        # The first look at the test set takes a moment: seconds here, but over 35 s under ASan on a
        # loaded 2-core CI machine (the model there took 43 s to train); a wait, not a speed test.
        deadline = time.time() + 180
        while not browser.find_element("id", "mistake-text").text and time.time() < deadline:
            time.sleep(0.05)
        note = browser.find_element("id", "confusion-note").text
        print(f"model tab: {note}")
        if "correct" not in note or len(browser.find_elements("css selector", "#weights canvas")) != 100:
            failures.append(f"the model tab did not show the confusion matrix and 100 weight tiles: {note!r}")
        browser.find_element("id", "next").click()
        time.sleep(0.3)
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(out / "serve-model.png"))
        if args.docs:
            browser.save_screenshot(str(docs.with_name("serve-model.png")))
        print(f"model tab shown after {time.time() - started:.1f} s")
    finally:
        if browser:
            browser.quit()
        print(f"browser closed after {time.time() - started:.1f} s")
        server.send_signal(signal.SIGTERM)
        try:
            rest, _ = server.communicate(timeout=10)
            print(rest.rstrip())
        except subprocess.TimeoutExpired:
            server.kill()
            failures.append("backprop serve did not stop within 10 s of SIGTERM")
        shutil.rmtree(work, ignore_errors=True)
    if server.returncode != 0:
        failures.append(f"backprop serve exited with {server.returncode} after SIGTERM")
    print(f"screenshots in {out}; {time.time() - started:.1f} s in all")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
