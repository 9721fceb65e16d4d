/**
 * Apache ECharts, loaded from this server (/console/vendor/echarts.min.js) the first time a page
 * needs a chart. Charts follow their container's size and are disposed with their page.
 */
import { getLang } from './i18n.js';

let loader = null;

/** Loads ECharts once; resolves to the `echarts` global. */
export function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  loader ??= new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/console/vendor/echarts.min.js';
    s.async = true;
    s.onload = () => (window.echarts ? resolve(window.echarts) : reject(new Error('ECharts did not load')));
    s.onerror = () => {
      loader = null;
      reject(new Error('ECharts did not load'));
    };
    document.head.appendChild(s);
  });
  return loader;
}

/** A calm palette that stays apart in print and for common colour-vision deficiencies. */
export const PALETTE = ['#2f6fb5', '#e08a2c', '#3a9d6a', '#c7474f', '#7d5cb8', '#8a6d3b', '#d16ba5', '#5b6b7a', '#b8b23a', '#2ba3b0', '#9c4f2a', '#4a7d3a'];

const FONT = 'system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Segoe UI", sans-serif';

/**
 * Renders `option` into `el` (a fresh chart), registers its disposal with `onCleanup`, and keeps
 * it sized to its container. Returns the chart.
 */
export async function chart(el, option, onCleanup) {
  const echarts = await loadECharts();
  if (!el.isConnected) return null;
  const instance = echarts.init(el, null, { renderer: 'canvas', locale: getLang() === 'en' ? 'EN' : 'ZH' });
  // Tooltips drawn as canvas text, never as HTML: labels can come from customer messages (keywords).
  const safe = option.tooltip ? { ...option, tooltip: { ...option.tooltip, renderMode: 'richText' } } : option;
  instance.setOption({ color: PALETTE, textStyle: { fontFamily: FONT }, animationDuration: 300, ...safe });
  const ro = new ResizeObserver(() => instance.resize());
  ro.observe(el);
  onCleanup?.(() => {
    ro.disconnect();
    instance.dispose();
  });
  return instance;
}

/** Heatmap option of a labelled square matrix (rows = true labels, columns = predicted). */
export function matrixHeatmap({ rows, cols, values, rowName, colName, names }) {
  const data = [];
  let max = 0;
  rows.forEach((_, i) =>
    cols.forEach((_, j) => {
      const v = Number(values?.[i]?.[j] ?? 0);
      max = Math.max(max, v);
      data.push([j, i, v]);
    }),
  );
  const label = (id) => (names ? names(id) : id);
  return {
    tooltip: { position: 'top', formatter: (p) => `${label(rows[p.value[1]])} → ${label(cols[p.value[0]])}: ${p.value[2]}` },
    grid: { left: 8, right: 16, top: 24, bottom: 72, containLabel: true },
    xAxis: { type: 'category', data: cols.map(label), name: colName, nameLocation: 'middle', nameGap: 56, axisLabel: { rotate: 40, interval: 0 }, splitArea: { show: true } },
    yAxis: { type: 'category', data: rows.map(label), name: rowName, nameLocation: 'start', inverse: true, axisLabel: { interval: 0 }, splitArea: { show: true } },
    visualMap: { min: 0, max: Math.max(1, max), calculable: false, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120, inRange: { color: ['#f4f7fb', '#9cc1e6', '#2f6fb5', '#173c66'] } },
    series: [{ type: 'heatmap', data, label: { show: rows.length * cols.length <= 150, fontSize: 10 }, emphasis: { itemStyle: { borderColor: '#333', borderWidth: 1 } } }],
  };
}
