// The report page as a Mustache template ({{x}} is HTML-escaped, {{{x}}} inserts the SVG charts as
// they are). Self-contained: inline CSS, system fonts, no script, no request. Values: HTMLReport.Page.

enum ReportTemplate {
    static let page = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
:root { --fg: #1d2125; --muted: #5f6b76; --line: #d8dde2; --bg: #fff; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 20px 24px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.muted, .generated { color: var(--muted); }
.kind { font-weight: normal; color: var(--muted); }
.state { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; background: #e8eaed; }
.state-done { background: #d7f0dc; } .state-running { background: #dbe9fb; }
.state-interrupted, .state-pending { background: #fdf0cf; } .state-failed, .state-cancelled { background: #fbdada; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { padding: 3px 10px 3px 0; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; padding-left: 12px; }
.arrow { color: var(--muted); padding: 0 4px; }
.split { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 12px 18px; }
figure.chart { margin: 0; padding: 8px 8px 4px; background: var(--panel); border-radius: 6px; }
figure.chart figcaption { font-size: 12px; color: var(--muted); margin: 2px 4px 4px; }
figure.chart .name { font-weight: 600; color: var(--fg); }
svg { width: 100%; height: auto; display: block; font: 11px system-ui, "DejaVu Sans", sans-serif; }
svg .grid line { stroke: #e3e7eb; stroke-width: 1; }
svg .frame { fill: none; stroke: #9aa5b1; }
svg .tick { fill: #5f6b76; }
svg .axis { fill: #3b444c; font-size: 12px; }
svg .series path { fill: none; stroke-width: 1.7; stroke-linejoin: round; }
svg .reference line { stroke: #444; stroke-width: 1.2; stroke-dasharray: 5 4; }
svg .reference text { fill: #444; }
svg .legend line { stroke-width: 2.5; }
svg .legend text { fill: #3b444c; }
.constants { color: var(--muted); }
.constants span { margin-right: 14px; white-space: nowrap; }
.samples td.text { white-space: pre-wrap; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; max-width: 420px; }
.samples .scores { color: var(--muted); font-size: 12px; margin-top: 3px; white-space: normal; font-family: system-ui, sans-serif; }
.samples .scores b { color: var(--fg); font-weight: 600; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--muted); }
tr.differs th, tr.differs td { background: #fff6d6; }
.settings td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
</style>
</head>
<body>
<header>
<h1>{{title}}</h1>
<table class="jobs">
{{#jobs}}
<tr data-job="{{name}}"><td><span class="swatch" style="background: {{color}}"></span><b>{{name}}</b></td><td><span class="state state-{{state}}">{{state}}</span></td><td class="muted">{{stages}}</td><td class="muted">{{output}}</td></tr>
{{#message}}<tr><td></td><td colspan="3" class="muted">{{message}}</td></tr>{{/message}}
{{/jobs}}
</table>
<details{{#comparing}} open{{/comparing}}><summary>Job settings{{#comparing}} (rows that differ are highlighted){{/comparing}}</summary>
<table class="settings">
{{#jobSettings}}<tr{{#differs}} class="differs"{{/differs}}><th>{{key}}</th>{{#values}}<td>{{.}}</td>{{/values}}</tr>
{{/jobSettings}}
</table>
</details>
</header>
{{#stages}}
<section class="stage" id="stage-{{name}}" data-stage="{{name}}">
<h2>{{name}} <span class="kind">({{kind}})</span></h2>
{{#progress}}<div class="progress" data-job="{{job}}"><span class="state state-{{state}}">{{state}}</span> {{#comparing}}{{job}}: {{/comparing}}{{text}}</div>
{{/progress}}
{{#hasSummary}}
<h3>Before → after</h3>
<table class="summary">
<tr><th>metric</th><th></th>{{#summaryJobs}}<th class="num" colspan="4">{{.}}</th>{{/summaryJobs}}</tr>
{{#summary}}<tr data-metric="{{metric}}" data-split="{{split}}"><td>{{metric}}</td><td class="split">{{split}} · {{label}}</td>
{{#cells}}<td class="num before" data-job="{{job}}" data-step="{{beforeStep}}" data-value="{{beforeValue}}">{{before}}</td><td class="arrow">{{#before}}→{{/before}}</td><td class="num after" data-job="{{job}}" data-step="{{afterStep}}" data-value="{{afterValue}}">{{after}}</td><td class="num muted change">{{change}}</td>{{/cells}}</tr>
{{/summary}}
</table>
{{/hasSummary}}
<h3>Curves</h3>
<div class="charts">
{{#charts}}<figure class="chart" data-metric="{{metric}}">
{{{svg}}}
<figcaption><span class="name">{{metric}}</span> — {{title}}{{#caption}}. {{caption}}{{/caption}}</figcaption>
</figure>
{{/charts}}
</div>
{{#hasConstants}}<p class="constants">Constant over the run: {{#constants}}<span data-metric="{{metric}}" data-split="{{split}}" data-value="{{exact}}">{{split}} {{metric}} = {{value}}</span>{{/constants}}</p>{{/hasConstants}}
{{#samples}}
<h3>Samples on held-out prompts (fixed prompts and seed)</h3>
<table class="samples">
<tr><th>#</th><th>prompt</th><th>before: step {{beforeStep}}</th>{{#afterHeaders}}<th>{{.}}</th>{{/afterHeaders}}</tr>
{{#rows}}<tr data-sample="{{index}}"><td>{{index}}</td><td class="text">{{prompt}}</td>
<td class="text">{{#before}}{{response}}<div class="scores">{{#scores}}{{name}} <b data-score="{{name}}" data-value="{{exact}}">{{value}}</b> {{/scores}}</div>{{/before}}</td>
{{#afters}}<td class="text">{{response}}<div class="scores">{{#scores}}{{name}} <b data-score="{{name}}" data-value="{{exact}}">{{value}}</b> {{/scores}}</div></td>{{/afters}}</tr>
{{/rows}}
</table>
{{/samples}}
<details><summary>Stage settings</summary>
<table class="settings">
{{#settings}}<tr{{#differs}} class="differs"{{/differs}}><th>{{key}}</th>{{#values}}<td>{{.}}</td>{{/values}}</tr>
{{/settings}}
</table>
</details>
</section>
{{/stages}}
<p class="generated">Generated by <code>rlhf report</code> at {{generated}} from metrics.jsonl and samples.jsonl.</p>
</body>
</html>
"""#
}
