// lord monitor's web dashboard: listens to /events (server-sent events),
// keeps the last two minutes of samples and redraws the charts and the
// process table at each one. Text from the server only ever goes in
// through textContent, never as markup.
"use strict";

const KEEP = 120;
const series = { cpu: [], memory: [], network: [] };
let points = 0;

function $(id) {
  return document.getElementById(id);
}

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function push(list, value) {
  list.push(value);
  if (list.length > KEEP) list.shift();
}

// A line chart of `values` scaled to `max` (or to the largest value).
function draw(canvas, values, max) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const top = max || Math.max(1, ...values);
  ctx.strokeStyle = "#1f5fbf";
  ctx.lineWidth = 2;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = (i / (KEEP - 1)) * width;
    const y = height - (Math.min(v, top) / top) * (height - 4) - 2;
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

function cell(row, text, number) {
  const td = document.createElement("td");
  td.textContent = text;
  if (number) td.className = "number";
  row.appendChild(td);
}

function show(sample) {
  points += 1;
  const memory = sample.memory_total ? (100 * sample.memory_used) / sample.memory_total : 0;
  const network = sample.received_per_second + sample.transmitted_per_second;
  push(series.cpu, sample.cpu_percent);
  push(series.memory, memory);
  push(series.network, network);
  $("host").textContent = sample.host ? `· ${sample.host}` : "";
  $("cores").textContent = `${sample.cores} cores`;
  $("cpu").textContent = `${sample.cpu_percent.toFixed(1)}%`;
  $("memory").textContent = `${size(sample.memory_used)} of ${size(sample.memory_total)}`;
  $("network").textContent = `${size(Math.round(network))}/s`;
  $("points").textContent = String(points);
  draw($("cpu-chart"), series.cpu, 100);
  draw($("memory-chart"), series.memory, 100);
  draw($("network-chart"), series.network, 0);
  const body = $("processes");
  const rows = sample.processes.map((p) => {
    const row = document.createElement("tr");
    cell(row, String(p.pid), true);
    cell(row, p.name, false);
    cell(row, p.cpu_percent.toFixed(1), true);
    cell(row, size(p.memory), true);
    return row;
  });
  body.replaceChildren(...rows);
  const plugins = sample.plugins.map((p) => {
    const row = document.createElement("tr");
    cell(row, p.id, false);
    cell(row, String(p.calls), true);
    cell(row, String(p.failures), true);
    cell(row, p.p95_ms.toFixed(2), true);
    cell(row, size(p.peak_memory_bytes), true);
    return row;
  });
  $("plugins").replaceChildren(...plugins);
}

const source = new EventSource("/events");
source.addEventListener("open", () => {
  $("status").textContent = "live";
});
source.addEventListener("error", () => {
  $("status").textContent = "reconnecting…";
});
source.addEventListener("sample", (event) => show(JSON.parse(event.data)));
