#!/usr/bin/env python3
"""Opens a job's report.html in headless Chromium and checks it as a reader would see it.

Usage: check_report.py OUTPUT_FOLDER SCREENSHOT.png [REPORT.html]   (default OUTPUT_FOLDER/report.html)

Talks to Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in, fd 4 out,
NUL-separated JSON), so nothing but the standard library is needed. Checks:
  - the page loads with no console error, no JavaScript exception, and no request but the file itself;
  - every metric of every stage's metrics.jsonl is on the page: a chart whose series for its split has
    one point per logged step, or the list of constants with its value;
  - PPO's kl chart has the target KL reference line (manifest's ppo.target_kl);
  - every number of the before → after summary equals metrics.jsonl (data-value, data-step, and the
    visible text to its printed precision);
  - the samples table shows samples.jsonl's first and last evaluation with their scores;
  - a screenshot of the whole page is written.
"""
import base64, json, math, os, subprocess, sys, tempfile

output, screenshot = sys.argv[1], sys.argv[2]
report = sys.argv[3] if len(sys.argv) > 3 else os.path.join(output, "report.html")
job = json.load(open(os.path.join(output, "job.json")))


class Chromium:
    def __init__(self):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        os.set_inheritable(to_child_r, True); os.set_inheritable(from_child_w, True)
        profile = tempfile.mkdtemp(prefix="rlhf-chromium-")

        # The child's fds 3 and 4 become the pipe's ends (preexec_fn runs before close_fds, so keep 3 and 4).
        def fds():
            reader, writer = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(reader, 3); os.dup2(writer, 4)
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r); os.close(from_child_w)
        self.buffer, self.next_id, self.events = b"", 0, []

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise SystemExit("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method):
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self.read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self):
        try:
            self.send("Browser.close")
        except SystemExit:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a slow exit on a loaded machine is not a failure of the page
            self.proc.kill()
            self.proc.wait()


browser = Chromium()
target = browser.send("Target.createTarget", url="about:blank")["targetId"]
session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
for domain in ("Page", "Runtime", "Log", "Network"):
    browser.send(f"{domain}.enable", session)
browser.send("Page.navigate", session, url="file://" + os.path.abspath(report))
browser.wait_for("Page.loadEventFired")
facts = json.loads(browser.send("Runtime.evaluate", session, returnByValue=True, expression="""JSON.stringify({
  charts: [...document.querySelectorAll('section.stage')].map(s => ({stage: s.dataset.stage,
    charts: [...s.querySelectorAll('figure.chart')].map(f => ({metric: f.dataset.metric,
      series: [...f.querySelectorAll('g.series')].map(g => [g.dataset.series, +g.dataset.points, g.querySelectorAll('path, circle').length]),
      references: [...f.querySelectorAll('g.reference')].map(g => [g.dataset.reference, +g.dataset.value]),
      width: f.querySelector('svg').getBoundingClientRect().width})),
    constants: [...s.querySelectorAll('.constants span')].map(c => [c.dataset.split, c.dataset.metric, c.dataset.value]),
    summary: [...s.querySelectorAll('table.summary tr[data-metric]')].map(r => ({metric: r.dataset.metric, split: r.dataset.split,
      cells: [...r.querySelectorAll('td.before, td.after')].map(c => [c.className, +c.dataset.step, c.dataset.value, c.textContent])})),
    samples: [...s.querySelectorAll('table.samples tr[data-sample]')].map(r => ({index: +r.dataset.sample,
      cells: [...r.querySelectorAll('td.text')].slice(1).map(c => Object.fromEntries([...c.querySelectorAll('b[data-score]')].map(b => [b.dataset.score, b.dataset.value])))})),
    sampleHeaders: [...s.querySelectorAll('table.samples th')].map(h => h.textContent)})),
  height: document.documentElement.scrollHeight})""")["result"]["value"])
browser.send("Emulation.setDeviceMetricsOverride", session, width=1280, height=min(facts["height"], 16000), deviceScaleFactor=1, mobile=False)
png = base64.b64decode(browser.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)["data"])
open(screenshot, "wb").write(png)
events = browser.events
browser.close()

problems = []
def check(ok, message):
    if not ok:
        problems.append(message)

# No console errors, exceptions or requests beyond the page itself.
for event in events:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        problems.append(f"exception: {params['exceptionDetails'].get('text')}")
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        problems.append(f"console.{params['type']}: {params.get('args')}")
    if method == "Log.entryAdded" and params["entry"]["level"] == "error":
        problems.append(f"console error: {params['entry']['text']}")
    if method == "Network.requestWillBeSent" and params["request"]["url"] != "file://" + os.path.abspath(report):
        problems.append(f"the page requested {params['request']['url']}")
check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, "no screenshot")

def base(name):
    return name[5:] if name.startswith("eval_") and len(name) > 5 else name

def close(text, value):
    """The visible text is the value to its printed precision (ProgressText.number)."""
    try:
        shown = float(text)
    except ValueError:
        return text in ("nan", "inf", "-inf") and str(value) == text
    return math.isclose(shown, value, rel_tol=6e-4, abs_tol=6e-5)

pages = {s["stage"]: s for s in facts["charts"]}
for spec in job["stages"]:
    name = spec["name"]
    page = pages.get(name)
    lines = [json.loads(l) for l in open(os.path.join(output, name, "metrics.jsonl")) if l.strip()]
    if page is None:
        problems.append(f"stage {name} is missing"); continue
    charts = {c["metric"]: c for c in page["charts"]}
    constants = {(split, metric): value for split, metric, value in page["constants"]}
    metrics = {}
    for line in lines:
        for metric, value in line["metrics"].items():
            metrics.setdefault((line["split"], metric), {})[line["step"]] = value
    for (split, metric), by_step in metrics.items():
        chart = charts.get(base(metric))
        if chart:
            series = [s for s in chart["series"] if s[0] == split]
            check(len(series) == 1 and series[0][1] == len(by_step) and series[0][2] >= 1,
                  f"{name}: chart {base(metric)} lacks its {split} series of {len(by_step)} points: {chart['series']}")
            check(chart["width"] > 200, f"{name}: chart {base(metric)} is not laid out")
        else:
            values = set(by_step.values())
            check((split, metric) in constants and len(values) == 1 and float(constants[(split, metric)]) == values.pop(),
                  f"{name}: {split} {metric} has neither a chart nor a constant")
    if spec["kind"] == "ppo" and spec.get("ppo", {}).get("target_kl") is not None:
        references = charts.get("kl", {}).get("references", [])
        check([r[1] for r in references] == [spec["ppo"]["target_kl"]], f"{name}: kl chart lacks the target KL line: {references}")
    # Summary: eval at step 0 → last eval; first → last training step; exact values.
    rows = {(r["split"], r["metric"]): r["cells"] for r in page["summary"]}
    check(len(rows) == len(metrics), f"{name}: summary has {len(rows)} rows for {len(metrics)} metrics")
    for (split, metric), by_step in metrics.items():
        cells = rows.get((split, metric), [])
        steps = sorted(by_step)
        first = steps[0] if (split == "train" or steps[0] == 0) and len(steps) > 1 else None
        expected = ([("num before", first, by_step[first])] if first is not None else []) + [("num after", steps[-1], by_step[steps[-1]])]
        got = [(kind, step, float(value), text) for kind, step, value, text in cells if value != ""]
        check([(k, s, v) for k, s, v, _ in got] == [(k, s, float(v)) for k, s, v in expected],
              f"{name}: summary of {split} {metric} is {got}, metrics.jsonl says {expected}")
        check(all(close(text, value) for _, _, value, text in got), f"{name}: summary text of {split} {metric} is off: {got}")
    # Samples: the first and the last evaluation's, with their scores.
    samples_file = os.path.join(output, name, "samples.jsonl")
    samples = [json.loads(l) for l in open(samples_file)] if os.path.exists(samples_file) else []
    keys = [(s["step"], s["index"]) for s in samples]
    check(len(keys) == len(set(keys)), f"{name}: samples.jsonl repeats a (step, index): {sorted(keys)}")
    if samples:
        steps = sorted({s["step"] for s in samples})
        for row in page["samples"]:
            want = [next((s["scores"] for s in samples if s["step"] == step and s["index"] == row["index"]), None)
                    for step in ([steps[0], steps[-1]] if len(steps) > 1 else steps)]
            got = [{k: float(v) for k, v in cell.items()} for cell in row["cells"]]
            check(got == want, f"{name}: sample {row['index']} shows {got}, samples.jsonl has {want}")
        check(len(page["samples"]) == len({s["index"] for s in samples}), f"{name}: sample rows missing")
    n_series = sum(len(c["series"]) for c in page["charts"])
    print(f"report {name}: {len(page['charts'])} charts, {n_series} series, {len(page['constants'])} constants, "
          f"{len(rows)} summary rows, {len(page['samples'])} samples")

if problems:
    print("\n".join("report problem: " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"report ok: {report} (screenshot {screenshot}, {len(png)} bytes, no console errors, no requests)")
