#!/usr/bin/python3
"""The agent's page in real headless Chromium (Debian's chromium and
chromium-driver, driven by python3-selenium), run by e2e/page.sh inside the
node namespace where the agent's API listens on 127.0.0.1:9991.

Checks, each against the API's own JSON at the same moment:
  - the page loads with no console error (a Content-Security-Policy
    violation or a script error would be one)
  - the service map shows the demo's workloads and an edge for each pair the
    API's top?window= reports, weighted by its bytes/s
  - the status panel shows the backend, every hooked interface and the
    --exact-flows mode
  - counts estimated from samples are marked "~" as the API's "exact" says
  - the flows table filters: namespace, protocol; a bad value shows the API's
    400 message and marks the field
  - follow adds a row for a flow that starts after it was switched on
Screenshots go to --artifacts (map.png, filtered.png, bad-filter.png, follow.png).
Prints "ok: ..." per check, "FAIL: ..." and exits 1 on the first failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WORKLOADS = ["shop/frontend", "shop/cart", "data/redis"]
EDGES = [("shop/frontend", "shop/cart"), ("shop/cart", "data/redis"), ("shop/frontend", "data/redis")]


def ok(msg):
    print("ok: " + msg, flush=True)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def api(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--web-netns", required=True, help="netns of the frontend pod (makes the new flow)")
    ap.add_argument("--cache-ip", required=True)
    ap.add_argument("--sample-rate", required=True, help="the agent's --sample-rate (1:N)")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    os.makedirs(args.artifacts, exist_ok=True)

    profile = tempfile.mkdtemp(prefix="netring-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1400,1300", "--user-data-dir=" + profile]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        run(driver, base, args)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver, seconds, what, cond):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.25).until(lambda d: cond(d))
    except TimeoutException:
        fail("timed out after %ds waiting for: %s" % (seconds, what() if callable(what) else what))


def shot(driver, args, name):
    path = os.path.join(args.artifacts, name)
    driver.save_screenshot(path)
    return path


def console_errors(driver):
    # The browser logs the bad filter's 400, which the test asked for.
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
            and not (e.get("source") == "network" and "protocol=tcpp" in e["message"] and "400" in e["message"])]


def map_state(driver):
    nodes = driver.execute_script(
        "return Array.from(document.querySelectorAll('#map g.node')).map(g => g.dataset.id)")
    edges = driver.execute_script(
        "return Array.from(document.querySelectorAll('#map path.edge')).map(p => "
        "[p.dataset.src, p.dataset.dst, parseFloat(p.dataset.rate), parseFloat(p.getAttribute('stroke-width'))])")
    return set(nodes), {(s, d): (rate, width) for s, d, rate, width in edges}


def rows(driver):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#flows tbody tr')).map(r => ({key: r.dataset.key, "
        "src: r.dataset.src, dst: r.dataset.dst, protocol: r.dataset.protocol, fresh: r.classList.contains('fresh'), "
        "cells: Array.from(r.cells).map(c => c.textContent)}))")


def set_filters(driver, **values):
    for name in ["from_pod", "to_pod", "namespace", "workload", "protocol", "port", "since"]:
        el = driver.find_element(By.CSS_SELECTOR, "#filters input[name='%s']" % name)
        el.clear()
        if name in values:
            el.send_keys(values[name])
    driver.find_element(By.ID, "apply").click()


def run(driver, base, args):
    driver.get(base + "/")
    wait(driver, 30, "the page's script to run (agent line filled)",
         lambda d: "agent" in d.find_element(By.ID, "agent").text)
    ok("page loaded: " + driver.find_element(By.ID, "agent").text)

    # --- service map ---------------------------------------------------------
    driver.find_element(By.CSS_SELECTOR, "#window option[value='10s']").click()

    def map_matches_api(d):
        nodes, edges = map_state(d)
        top = api(base, "/api/v1/top?key=pair&limit=1000&window=10s")["top"]
        want = {(e["src"], e["dst"]) for e in top}
        return all(w in nodes for w in WORKLOADS) and all(e in edges for e in EDGES) and want <= set(edges)

    wait(driver, 60, "the map to show %s and edges %s" % (WORKLOADS, EDGES), map_matches_api)
    time.sleep(2.5)  # let the layout settle for the picture
    nodes, edges = map_state(driver)
    for e in EDGES:
        rate, width = edges[e]
        if not rate > 0 or not width > 0:
            fail("edge %s -> %s has rate %s, width %s" % (e[0], e[1], rate, width))
    # The heaviest edge is drawn widest.
    heaviest = max(edges, key=lambda k: edges[k][0])
    if edges[heaviest][1] < max(w for _, w in edges.values()) - 1e-6:
        fail("the heaviest edge %s is not the widest" % (heaviest,))
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('#map text.edge-label')).map(t => t.textContent)")
    if not any(l.endswith("/s") for l in labels):
        fail("edge labels without rates: %s" % labels)
    ok("map: workloads %s; %d edges, heaviest %s -> %s at %.0f B/s (%s)" % (
        sorted(nodes), len(edges), heaviest[0], heaviest[1], edges[heaviest][0], shot(driver, args, "map.png")))

    # --- status ------------------------------------------------------------
    status = api(base, "/api/v1/status")
    ifs = [i["name"] for i in api(base, "/api/v1/interfaces")["interfaces"]]
    wait(driver, 30, "the status panel", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#interfaces tbody tr")) == len(ifs))
    backend = driver.find_element(By.CSS_SELECTOR, "#status div[data-field='backend'] dd").text
    if not backend.startswith(status["backend"]["name"]):
        fail("status backend %r, API %r" % (backend, status["backend"]["name"]))
    shown = [r.find_elements(By.TAG_NAME, "td")[0].text for r in driver.find_elements(By.CSS_SELECTOR, "#interfaces tbody tr")]
    if sorted(shown) != sorted(ifs):
        fail("interfaces shown %s, API %s" % (shown, ifs))
    ok("status: backend %s, interfaces %s" % (backend, shown))
    exact_mode = driver.find_element(By.CSS_SELECTOR, "#status div[data-field='exact flows'] dd").text
    if "exact_flows" in status and not exact_mode.startswith(status["exact_flows"]["mode"] + ":"):
        fail("status exact flows %r, API mode %r" % (exact_mode, status["exact_flows"]["mode"]))
    ok("status: exact flows %r" % exact_mode)

    # --- flows table and filters --------------------------------------------
    # The traffic runs meanwhile (each iperf3 round adds flows): a few may
    # come between the page's answer and the test's; then apply again.
    counts = ["no rows yet"]

    def data_rows(d):
        got = rows(d)
        if not got or not all(r["src"].startswith("data/") or r["dst"].startswith("data/") for r in got):
            return None
        api_count = api(base, "/api/v1/flows?namespace=data")["count"]
        if abs(len(got) - api_count) > 3:
            counts[0] = "%d rows, the API has %d" % (len(got), api_count)
            set_filters(d, namespace="data")
            return None
        return got

    set_filters(driver, namespace="data")
    got = wait(driver, 30, lambda: "namespace=data rows as the API's (last: %s)" % counts[0], data_rows)
    note = driver.find_element(By.ID, "flows-note").text
    ok("filter namespace=data: %d rows, each with an end in data (%s)" % (len(got), note))

    # Estimated counts are marked "~", exact ones not, as the API's "exact"
    # says (before it: a zero bytes_stderr). A flow can turn estimated between
    # the page's answer and the test's: each try applies the filter again.
    last = ["nothing compared yet"]

    def marks_match_api(d):
        set_filters(d, namespace="data")
        time.sleep(0.5)
        shown = rows(d)
        # The page's key is id@first_seen with the 64-bit id as a JavaScript
        # number (a double): match it as one.
        flows = {(float(f["id"]), f["first_seen"]): f for f in api(base, "/api/v1/flows?namespace=data")["flows"]}
        key = lambda r: (float(r["key"].split("@")[0]), r["key"].split("@")[1])
        compared = [(r, flows[key(r)]) for r in shown if key(r) in flows]
        if not compared:
            last[0] = "no row's key among the API's flows: rows %s, API %s" % (
                [r["key"] for r in shown][:3], list(flows)[:3])
            return None
        for r, f in compared:
            exact = f["exact"] if "exact" in f else f["bytes_stderr"] == 0
            if r["cells"][6].startswith("~") == exact or r["cells"][5].startswith("~") == exact:
                last[0] = "row %s shows %s / %s, the API's exact is %s" % (r["key"], r["cells"][5], r["cells"][6], exact)
                return None
        return compared

    compared = wait(driver, 30, lambda: "~ marks as the API's exact (last: %s)" % last[0], marks_match_api)
    estimated = [r for r, f in compared if r["cells"][6].startswith("~")]
    if not estimated:
        fail("no estimated count at 1:%s sampling (the ping flows are sampled)" % args.sample_rate)
    if not driver.find_element(By.ID, "estimate-note").is_displayed():
        fail("estimated counts shown without the note saying what ~ means")
    ok("marks: %d of %d rows estimated (~), as the API says, e.g. %s" % (
        len(estimated), len(compared), estimated[0]["cells"][6]))

    set_filters(driver, protocol="icmp", namespace="data")
    wait(driver, 30, "icmp rows", lambda d: len(rows(d)) > 0 and all(r["protocol"] == "icmp" for r in rows(d)))
    ok("filter protocol=icmp: %d rows, all icmp (%s)" % (len(rows(driver)), shot(driver, args, "filtered.png")))

    set_filters(driver, protocol="tcpp")
    err = wait(driver, 30, "the API's error shown", lambda d: d.find_element(By.ID, "flows-error").is_displayed()
               and d.find_element(By.ID, "flows-error").text)
    want = _error(base, "/api/v1/flows?protocol=tcpp")
    if err != "protocol: " + want["error"]:
        fail("bad filter shows %r, the API says %r" % (err, want["error"]))
    if rows(driver):
        fail("the table still shows rows after the API rejected the filter")
    invalid = driver.find_element(By.CSS_SELECTOR, "#filters input[name='protocol']").get_attribute("class")
    if "invalid" not in invalid:
        fail("the protocol field is not marked invalid")
    ok("bad filter: %r, field marked (%s)" % (err, shot(driver, args, "bad-filter.png")))

    # --- follow ---------------------------------------------------------------
    set_filters(driver)
    wait(driver, 30, "unfiltered rows (tcp among them)", lambda d: any(r["protocol"] == "tcp" for r in rows(d)))
    before = {r["key"] for r in rows(driver)}
    driver.find_element(By.ID, "follow").click()
    wait(driver, 10, "follow on", lambda d: d.find_element(By.ID, "follow").get_attribute("aria-pressed") == "true")

    def new_flow_row(d):
        subprocess.run(["ip", "netns", "exec", args.web_netns, "bash", "-c",
                        "echo hi >/dev/udp/%s/7777" % args.cache_ip], check=False)
        return [r for r in rows(d) if r["key"] not in before and r["protocol"] == "udp"
                and r["cells"][2].endswith(":7777") and r["fresh"]]

    added = wait(driver, 30, "follow to add the new udp :7777 flow", new_flow_row)
    time.sleep(1)
    ok("follow added %s -> %s (%d rows now, %d before) (%s)" % (
        added[0]["cells"][1], added[0]["cells"][2], len(rows(driver)), len(before), shot(driver, args, "follow.png")))
    driver.find_element(By.ID, "follow").click()
    wait(driver, 10, "follow off", lambda d: d.find_element(By.ID, "follow").get_attribute("aria-pressed") == "false")

    errors = console_errors(driver)
    if errors:
        fail("console errors: %s" % errors)
    ok("no console errors (no CSP violation, no script error)")


def _error(base, path):
    try:
        urllib.request.urlopen(base + path, timeout=10)
    except urllib.error.HTTPError as e:
        return json.load(e)
    fail("%s did not fail" % path)


if __name__ == "__main__":
    main()
