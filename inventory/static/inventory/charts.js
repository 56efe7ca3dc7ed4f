// Small SVG charts for the ops dashboard: per-minute series over the last hour. No dependency, no build step.
//
// OpsCharts.draw(figure, spec) draws into figure's .plot and .legend; spec:
//   {minutes: [epoch ms, ...], kind: "stacked" | "lines" | "step", unit: "movements",
//    series: [{key, label, color, values: [number per minute]}]}
// Every bar and point carries data-series, data-minute (ISO) and data-value, and a <title> shown on hover.
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const MARGIN = { top: 8, right: 8, bottom: 18, left: 30 };

  function node(name, attrs, parent) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, String(value));
    if (parent) parent.appendChild(element);
    return element;
  }

  function titled(element, text) {
    node("title", {}, element).textContent = text;
    return element;
  }

  function clock(ms) {
    const date = new Date(ms);
    return String(date.getHours()).padStart(2, "0") + ":" + String(date.getMinutes()).padStart(2, "0");
  }

  // The y axis: a whole-number step (1, 2, 5, 10, 20, 25, 50 ...) and a top of 2 to 5 steps (at least 4).
  function scale(value) {
    if (value <= 4) return { step: 1, top: 4 };
    for (let power = 1; ; power *= 10) {
      for (const base of [1, 2, 2.5, 5]) {
        const step = base * power;
        if (!Number.isInteger(step)) continue;
        const steps = Math.ceil(value / step);
        if (steps <= 5) return { step: step, top: Math.max(2, steps) * step };
      }
    }
  }

  function axes(svg, spec, box, y) {
    for (let value = 0; value <= y.top; value += y.step) {
      const at = box.y(value);
      node("line", { class: "grid", x1: MARGIN.left, x2: box.width - MARGIN.right, y1: at, y2: at }, svg);
      const label = node("text", { x: MARGIN.left - 4, y: at + 3, "text-anchor": "end" }, svg);
      label.textContent = String(value);
    }
    const bottom = box.y(0);
    node("line", { class: "axis", x1: MARGIN.left, x2: box.width - MARGIN.right, y1: bottom, y2: bottom }, svg);
    spec.minutes.forEach((minute, index) => {
      if (new Date(minute).getMinutes() % 10 !== 0) return;
      const x = box.x(index);
      node("line", { class: "axis", x1: x, x2: x, y1: bottom, y2: bottom + 3 }, svg);
      const label = node("text", { x: x, y: bottom + 13, "text-anchor": "middle" }, svg);
      label.textContent = clock(minute);
    });
  }

  function mark(element, series, minute, value, unit) {
    element.setAttribute("data-series", series.key);
    element.setAttribute("data-minute", new Date(minute).toISOString());
    element.setAttribute("data-value", String(value));
    return titled(element, clock(minute) + " · " + series.label + ": " + value + (unit ? " " + unit : ""));
  }

  function drawStacked(svg, spec, box) {
    const band = box.band;
    const barWidth = Math.max(1, band * 0.72);
    spec.minutes.forEach((minute, index) => {
      let base = 0;
      for (const series of spec.series) {
        const value = series.values[index] || 0;
        if (value <= 0) continue;
        const y0 = box.y(base);
        const y1 = box.y(base + value);
        const bar = node("rect", {
          class: "bar",
          x: box.x(index) - barWidth / 2,
          y: y1,
          width: barWidth,
          height: Math.max(1, y0 - y1),
          fill: series.color,
        }, svg);
        mark(bar, series, minute, value, spec.unit);
        base += value;
      }
    });
  }

  function drawLines(svg, spec, box, step) {
    for (const series of spec.series) {
      let path = "";
      series.values.forEach((value, index) => {
        const x = box.x(index);
        const y = box.y(value || 0);
        if (index === 0) path = "M" + x + "," + y;
        else if (step) path += "H" + x + "V" + y;
        else path += "L" + x + "," + y;
      });
      if (step) path += "H" + (box.x(series.values.length - 1) + box.band / 2);
      node("path", { d: path, fill: "none", stroke: series.color, "stroke-width": 1.6, "stroke-linejoin": "round" }, svg);
    }
    // Points last, so every one can be hovered; zeros stay invisible until then.
    for (const series of spec.series) {
      series.values.forEach((value, index) => {
        const point = node("circle", {
          class: "point" + (value ? "" : " zero"),
          cx: box.x(index),
          cy: box.y(value || 0),
          r: value ? 2.6 : 2.2,
          fill: series.color,
        }, svg);
        mark(point, series, spec.minutes[index], value || 0, spec.unit);
      });
    }
  }

  function legend(list, spec) {
    const items = spec.series.map((series) => {
      const item = document.createElement("li");
      item.style.setProperty("--swatch", series.color);
      item.dataset.series = series.key;
      const total = spec.kind === "step"
        ? (series.values[series.values.length - 1] || 0) + " now"
        : series.values.reduce((sum, value) => sum + (value || 0), 0) + " in the hour";
      item.append(series.label + " ");
      const span = document.createElement("span");
      span.className = "total";
      span.textContent = "(" + total + ")";
      item.appendChild(span);
      return item;
    });
    list.replaceChildren(...items);
  }

  function draw(figure, spec) {
    const plot = figure.querySelector(".plot");
    const width = Math.max(240, Math.floor(plot.clientWidth || 360));
    const height = Math.max(100, Math.floor(plot.clientHeight || 150));
    const count = Math.max(1, spec.minutes.length);
    let highest = 0;
    spec.minutes.forEach((_, index) => {
      if (spec.kind === "stacked") {
        highest = Math.max(highest, spec.series.reduce((sum, s) => sum + (s.values[index] || 0), 0));
      } else {
        for (const series of spec.series) highest = Math.max(highest, series.values[index] || 0);
      }
    });
    const y = scale(highest);
    const innerWidth = width - MARGIN.left - MARGIN.right;
    const innerHeight = height - MARGIN.top - MARGIN.bottom;
    const band = innerWidth / count;
    const box = {
      width: width,
      band: band,
      x: (index) => MARGIN.left + band * (index + 0.5),
      y: (value) => MARGIN.top + innerHeight - (value / y.top) * innerHeight,
    };
    const svg = node("svg", {
      width: width,
      height: height,
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-label": figure.querySelector("h2").textContent,
      "data-kind": spec.kind,
    });
    axes(svg, spec, box, y);
    if (spec.kind === "stacked") drawStacked(svg, spec, box);
    else drawLines(svg, spec, box, spec.kind === "step");
    plot.replaceChildren(svg);
    legend(figure.querySelector(".legend"), spec);
  }

  window.OpsCharts = { draw: draw };
})();
