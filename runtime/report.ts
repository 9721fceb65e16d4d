/** Evaluation reports: Markdown, and a self-contained HTML page with a confusion-matrix heatmap and per-class bars. */
import type { EvaluationReport } from '../classifier/metrics.js';

export interface ReportMeta {
  title: string;
  data: string;
  label: string;
  model: string;
  split: string;
  trainRows: number;
  testRows: number;
  trainSeconds: number;
  predictPerSecond: number;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function markdownReport(r: EvaluationReport, m: ReportMeta): string {
  const lines = [
    `# ${m.title}`,
    '',
    `- data: \`${m.data}\`, label field \`${m.label}\`, split ${m.split}`,
    `- model: ${m.model}; train rows ${m.trainRows}, test rows ${m.testRows}`,
    `- accuracy **${pct(r.accuracy)}**, macro-F1 **${pct(r.macroF1)}**`,
    `- training ${m.trainSeconds.toFixed(2)} s; prediction ${Math.round(m.predictPerSecond)} messages/s (whole pipeline)`,
    '',
    '| class | precision | recall | F1 | support |',
    '|---|---|---|---|---|',
    ...r.labels.map((l) => {
      const c = r.perClass[l];
      return `| ${l} | ${pct(c.precision)} | ${pct(c.recall)} | ${pct(c.f1)} | ${c.support} |`;
    }),
    '',
    '## Confusion matrix (rows: actual, columns: predicted)',
    '',
    `| | ${r.labels.join(' | ')} |`,
    `|---|${r.labels.map(() => '---').join('|')}|`,
    ...r.labels.map((l, i) => `| **${l}** | ${r.confusion[i].join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

export function htmlReport(r: EvaluationReport, m: ReportMeta): string {
  const max = Math.max(1, ...r.confusion.flatMap((row, i) => row.filter((_, j) => j !== i)));
  const cell = (v: number, i: number, j: number) => {
    const rowTotal = r.confusion[i].reduce((a, b) => a + b, 0) || 1;
    const share = v / rowTotal;
    const color = i === j ? `rgba(46,125,50,${0.15 + 0.85 * share})` : `rgba(198,40,40,${v ? 0.1 + 0.9 * (v / max) : 0})`;
    return `<td style="background:${color}" title="${esc(r.labels[i])} → ${esc(r.labels[j])}: ${v}">${v || ''}</td>`;
  };
  const bars = r.labels
    .map((l) => {
      const c = r.perClass[l];
      const bar = (v: number, cls: string) => `<div class="bar ${cls}" style="width:${(v * 100).toFixed(1)}%">${pct(v)}</div>`;
      return `<tr><th>${esc(l)}</th><td>${bar(c.precision, 'p')}${bar(c.recall, 'r')}${bar(c.f1, 'f')}</td><td>${c.support}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(m.title)}</title>
<style>
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:center;font-size:13px}
th.rot{writing-mode:vertical-rl;transform:rotate(180deg)}
.bars td{width:480px;text-align:left}.bar{height:14px;margin:2px 0;color:#fff;font-size:10px;line-height:14px;padding-left:4px;box-sizing:border-box}
.p{background:#1565c0}.r{background:#ef6c00}.f{background:#2e7d32}
</style></head><body>
<h1>${esc(m.title)}</h1>
<p>数据 data: <code>${esc(m.data)}</code> · 标签 label: <code>${esc(m.label)}</code> · 划分 split: ${esc(m.split)} · 模型 model: ${esc(m.model)}</p>
<p>准确率 accuracy <b>${pct(r.accuracy)}</b> · macro-F1 <b>${pct(r.macroF1)}</b> · train ${m.trainRows} rows in ${m.trainSeconds.toFixed(2)} s · test ${m.testRows} rows · ${Math.round(m.predictPerSecond)} msg/s</p>
<h2>混淆矩阵 Confusion matrix</h2>
<table id="confusion"><tr><th>actual \\ predicted</th>${r.labels.map((l) => `<th class="rot">${esc(l)}</th>`).join('')}</tr>
${r.labels.map((l, i) => `<tr><th>${esc(l)}</th>${r.confusion[i].map((v, j) => cell(v, i, j)).join('')}</tr>`).join('\n')}
</table>
<h2>各类指标 Per-class precision / recall / F1</h2>
<p><span class="bar p" style="display:inline-block;width:80px">precision</span> <span class="bar r" style="display:inline-block;width:80px">recall</span> <span class="bar f" style="display:inline-block;width:80px">F1</span></p>
<table class="bars"><tr><th>class</th><th>scores</th><th>support</th></tr>
${bars}
</table>
</body></html>
`;
}
