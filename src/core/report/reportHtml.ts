import { chartModel, chartSvg } from './progressChart';
import { fmtDuration, fmtMetric, type ReportData } from './reportData';
import { experimentsTried, headlineText, improvementOf } from './reportMarkdown';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One self-contained HTML page: no external script, style, font or image. */
export function reportHtml(d: ReportData, markdown: string): string {
  const { base, best, relative, how } = improvementOf(d);
  const tried = experimentsTried(d);
  const stat = (label: string, value: string) => `<div class="stat"><div class="v">${esc(value)}</div><div class="l">${esc(label)}</div></div>`;
  const kept = d.chain.filter((r) => r.status !== 'baseline');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ratchet report: ${esc(d.session)}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px}
.sub{color:#666}.stats{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
.stat{background:#fff;border:1px solid #e3e5e8;border-radius:8px;padding:10px 16px;min-width:120px}
.stat .v{font-size:20px;font-weight:600}.stat .l{color:#666;font-size:12px}
.card{background:#fff;border:1px solid #e3e5e8;border-radius:8px;padding:12px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #eceef1;padding:6px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#fafbfc}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.keep{color:#1a7a3a;font-weight:600}.discard{color:#888}.crash{color:#b3261e}
details summary{cursor:pointer}pre.diff{font:12px/1.35 ui-monospace,Menlo,monospace;background:#fbfbfc;border:1px solid #eee;padding:8px;overflow:auto;max-height:420px}
.add{color:#116329;background:#e6ffec}.del{color:#82071e;background:#ffebe9}.hunk{color:#8250df}
textarea{width:100%;height:220px;font:12px ui-monospace,Menlo,monospace;box-sizing:border-box}
button{margin-top:6px}
</style></head><body><main>
<h1>Ratchet report: session ${esc(d.session)}</h1>
<div class="sub">${esc(d.metricName)}, ${d.goal === 'minimize' ? 'lower' : 'higher'} is better · ${esc(d.startedAt ?? '')} → ${esc(d.endedAt ?? '')}</div>
<div class="stats">
${stat(how === 'de-biased' ? 'baseline (de-biased)' : 'baseline', base !== null ? fmtMetric(base) : '–')}
${stat(how === 'de-biased' ? 'best (de-biased)' : 'best', best !== null ? fmtMetric(best) : '–')}
${stat(how ? `improvement (${how})` : 'improvement', relative !== null ? `${relative.toFixed(2)}%` : '–')}
${stat('experiments', String(tried))}
${stat('kept / discarded / crashed', `${kept.length} / ${d.counts.discard} / ${d.counts.crash}`)}
${stat('time (all / training / re-runs)', `${fmtDuration(d.wallSeconds)} / ${fmtDuration(d.runSeconds)} / ${fmtDuration(d.rerunSeconds)}`)}
${stat('proposal cost', `$${d.costUsd.toFixed(2)}`)}
</div>
${d.headline ? `<p class="card">${esc(headlineText(d))}.</p>` : ''}
${d.noise ? `<p class="card">${esc(d.noise.replace(/^noise: /, 'Noise: '))}</p>` : ''}
<h2>Progress</h2>
<div class="card">${chartSvg(chartModel(d))}</div>
<h2>The kept chain</h2>
${kept.length ? `<table><tr><th>experiment</th><th>change</th><th>${esc(d.metricName)}</th><th>improvement</th><th>noise</th><th>time</th><th>cost</th></tr>
${d.chain.map((r) => `<tr><td>${esc(r.id)}${r.commit ? `<br><code>${esc(r.commit.slice(0, 7))}</code>` : ''}</td><td>${esc(r.hypothesis)}${r.diff ? `<details><summary>diff</summary>${diffHtml(r.diff)}</details>` : ''}</td><td class="num">${r.metric !== null ? fmtMetric(r.metric) : ''}</td><td class="num">${r.delta !== null ? fmtMetric(r.delta) : ''}</td><td>${esc(r.noise ?? '')}</td><td class="num">${r.durationMs !== null ? fmtDuration(r.durationMs / 1000) : ''}</td><td class="num">${r.costUsd !== null ? `$${r.costUsd.toFixed(3)}` : ''}</td></tr>`).join('\n')}
</table>` : '<p>No change beat the baseline.</p>'}
<h2>Every experiment</h2>
<table><tr><th>#</th><th>experiment</th><th>status</th><th>${esc(d.metricName)}</th><th>change</th><th>why</th><th>time</th><th>cost</th></tr>
${d.rows.map((r) => `<tr><td class="num">${r.n}</td><td>${esc(r.id)}</td><td class="${r.outcome ?? ''}">${esc(r.status)}</td><td class="num">${r.metric !== null ? fmtMetric(r.metric) : ''}</td><td>${esc(r.hypothesis)}${r.diff && r.outcome !== 'keep' ? `<details><summary>diff</summary>${diffHtml(r.diff)}</details>` : ''}</td><td>${esc(r.reason)}</td><td class="num">${r.durationMs !== null ? fmtDuration(r.durationMs / 1000) : ''}</td><td class="num">${r.costUsd !== null ? `$${r.costUsd.toFixed(3)}` : ''}</td></tr>`).join('\n')}
</table>
<h2>Summary for a pull request</h2>
<textarea id="md" readonly>${esc(markdown)}</textarea>
<button onclick="navigator.clipboard.writeText(document.getElementById('md').value)">Copy markdown</button>
</main></body></html>
`;
}

function diffHtml(diff: string): string {
  const lines = diff.split('\n').map((l) => {
    const cls = l.startsWith('+++') || l.startsWith('---') ? '' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : l.startsWith('@@') ? 'hunk' : '';
    return cls ? `<span class="${cls}">${esc(l)}</span>` : esc(l);
  });
  return `<pre class="diff">${lines.join('\n')}</pre>`;
}
