/** A small uPlot time-series chart that resizes with its box and follows the colour scheme. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
}

export function Chart({ title, series, data }: { title: string; series: Series[]; data: [number[], ...number[][]] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the plot is built once per series set; data updates go through setData below.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axisColor = getComputedStyle(el).color;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 180,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: false } }))],
      axes: [
        { stroke: axisColor, grid: { stroke: 'rgba(128,128,128,0.2)' }, ticks: { stroke: 'rgba(128,128,128,0.3)' } },
        { stroke: axisColor, grid: { stroke: 'rgba(128,128,128,0.2)' }, ticks: { stroke: 'rgba(128,128,128,0.3)' }, size: 60 },
      ],
      scales: { x: { time: true } },
      legend: { show: true },
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series.map((s) => s.label).join('|')]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s, i) => `${s.label} ${fmtLast(data[i + 1])}`).join(', ')}`} />
    </figure>
  );
}

function fmtLast(values: number[] | undefined): string {
  const v = values?.[values.length - 1];
  return v === undefined ? 'no data' : String(Math.round(v * 100) / 100);
}
