// The pages' one script, bundled with Vega, Vega-Lite and Vega-Embed by build.mjs:
// charts drawn from the data the server put on each chart's element, and the
// evaluation page kept live over server-sent events. Vega runs its expressions
// through vega-interpreter, so the strict Content-Security-Policy needs no eval.
import embed from "vega-embed";
import { expressionInterpreter } from "vega-interpreter";

const FONT = "Arial, Helvetica, sans-serif";
const CONFIG = {
  font: FONT,
  axis: { labelFontSize: 13, titleFontSize: 14, labelColor: "#212b32", titleColor: "#212b32" },
  legend: { labelFontSize: 13, titleFontSize: 14 },
  view: { stroke: null },
};

function spcSpec(data) {
  const values = data.points.map((p, index) => ({ ...p, index }));
  const markers = data.markers;
  const limits = [
    { name: "Mean", value: data.mean, dash: [1, 0] },
    { name: data.trial ? "Upper trial limit" : "Upper process limit", value: data.upper, dash: data.trial ? [2, 4] : [6, 4] },
    { name: data.trial ? "Lower trial limit" : "Lower process limit", value: data.lower, dash: data.trial ? [2, 4] : [6, 4] },
  ].filter((line) => line.value !== null && line.value !== undefined);
  const x = { field: "period", type: "ordinal", title: "Period", sort: null, axis: { labelAngle: -45 } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: `SPC chart of ${data.title}`,
    width: "container", height: 320, config: CONFIG,
    layer: [
      {
        data: { values },
        mark: { type: "line", color: "#425563", strokeWidth: 2 },
        encoding: { x, y: { field: "value", type: "quantitative", title: data.title, scale: { zero: false } } },
      },
      {
        data: { values: limits },
        mark: { type: "rule", strokeWidth: 2 },
        encoding: {
          y: { field: "value", type: "quantitative" },
          strokeDash: { field: "name", type: "nominal", title: data.limitsLabel, legend: { orient: "bottom" },
                        scale: { domain: limits.map((l) => l.name), range: limits.map((l) => l.dash) } },
          color: { value: "#212b32" },
          description: { field: "name" },
        },
      },
      {
        data: { values: values.filter((p) => !p.suppressed) },
        mark: { type: "point", filled: true, size: 90, opacity: 1 },
        encoding: {
          x, y: { field: "value", type: "quantitative" },
          shape: { field: "variation", type: "nominal", title: "Variation", legend: { orient: "bottom" },
                   scale: { domain: markers.map((m) => m.label), range: markers.map((m) => m.shape) } },
          color: { field: "variation", type: "nominal", title: "Variation",
                   scale: { domain: markers.map((m) => m.label), range: markers.map((m) => m.colour) } },
          description: { field: "description" },
          tooltip: { field: "description" },
        },
      },
      {
        data: { values: values.filter((p) => p.suppressed) },
        mark: { type: "text", text: "suppressed", angle: -90, align: "left", baseline: "middle", dy: 0, color: "#4c6272", fontStyle: "italic", y: "height", dx: 0 },
        encoding: { x, description: { field: "description" } },
      },
      // An empty layer draws an unlabelled image axe-core flags (an all-suppressed series).
    ].filter((layer) => layer.data.values.length),
  };
}

function breakdownSpec(data) {
  const bars = data.bars;
  const y = { field: "group", type: "nominal", title: null, sort: null };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: data.title,
    width: "container", height: Math.max(80, 36 * bars.length), config: CONFIG,
    layer: [
      {
        data: { values: bars.filter((b) => !b.suppressed) },
        mark: { type: "bar", color: "#005EB8" },
        encoding: { y, x: { field: "value", type: "quantitative", title: "Value" },
                    description: { field: "description" }, tooltip: { field: "description" } },
      },
      {
        data: { values: bars.filter((b) => b.suppressed) },
        mark: { type: "text", text: "suppressed", align: "left", x: 4, color: "#4c6272", fontStyle: "italic" },
        encoding: { y, description: { field: "description" } },
      },
    ],
  };
}

// Observed (dots on a thin line), fitted (thick solid) and counterfactual (dashed)
// around the go-live period (a rule): each line differs in more than its colour.
function impactSpec(data) {
  const names = ["Observed", "Fitted", "Counterfactual"];
  const x = { field: "period", type: "ordinal", title: "Period", sort: data.periods, axis: { labelAngle: -45 } };
  const legend = { orient: "bottom", title: null, symbolType: "stroke", symbolStrokeWidth: 3 };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: `Impact of go-live on ${data.title}`,
    width: "container", height: 320, config: CONFIG,
    layer: [
      {
        data: { values: data.lines },
        mark: { type: "line" },
        encoding: {
          x, y: { field: "value", type: "quantitative", title: data.title, scale: { zero: false } },
          color: { field: "series", type: "nominal", legend, scale: { domain: names, range: ["#425563", "#005EB8", "#ED8B00"] } },
          strokeDash: { field: "series", type: "nominal", legend, scale: { domain: names, range: [[1, 0], [1, 0], [6, 4]] } },
          strokeWidth: { field: "series", type: "nominal", legend: null, scale: { domain: names, range: [1, 3, 2.5] } },
          detail: { field: "series" },
        },
      },
      {
        data: { values: data.lines.filter((line) => line.series === "Observed") },
        mark: { type: "point", filled: true, size: 60, shape: "circle", color: "#425563", opacity: 1 },
        encoding: { x, y: { field: "value", type: "quantitative" }, description: { field: "description" }, tooltip: { field: "description" } },
      },
      {
        data: { values: [{ period: data.goLive, label: data.goLiveLabel }] },
        mark: { type: "rule", color: "#212b32", strokeWidth: 2 },
        encoding: { x, description: { field: "label" } },
      },
      {
        data: { values: [{ period: data.goLive, label: data.goLiveLabel }] },
        mark: { type: "text", align: "left", dx: 4, y: 0, baseline: "top", color: "#212b32", fontWeight: "bold" },
        encoding: { x, text: { field: "label" } },
      },
    ],
  };
}

// A horizontal bar per row: needs by area or source, MCDA totals, involvement hours.
function barsSpec(field, title) {
  return (data) => ({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: data.title || title,
    width: "container", height: Math.max(80, 30 * data.bars.length), config: CONFIG,
    data: { values: data.bars.map((bar) => ({ ...bar, description: `${bar.label}: ${bar[field]}` })) },
    mark: { type: "bar", color: "#005EB8" },
    encoding: {
      y: { field: "label", type: "nominal", title: null, sort: null, axis: { labelLimit: 320 } },
      x: { field, type: "quantitative", title, axis: field === "count" ? { tickMinStep: 1, format: "d" } : {} },
      description: { field: "description" }, tooltip: { field: "description" },
    },
  });
}

// Each criterion's weight (a tick) within the range that keeps the top option top.
function rangesSpec(data) {
  const values = data.ranges.map((r) => ({ ...r, description: `${r.criterion}: weight ${r.weight}, ${data.top} stays top from ${r.lower} to ${r.upper}` }));
  const y = { field: "criterion", type: "nominal", title: null, sort: null };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: `Weights within which ${data.top} stays top`,
    width: "container", height: Math.max(80, 36 * values.length), config: CONFIG,
    data: { values },
    layer: [
      { mark: { type: "bar", color: "#AED4F0", height: 18 },
        encoding: { y, x: { field: "lower", type: "quantitative", title: "Weight", scale: { domain: [0, 100] } }, x2: { field: "upper" },
                    description: { field: "description" }, tooltip: { field: "description" } } },
      { mark: { type: "tick", color: "#212b32", thickness: 3, size: 24 },
        encoding: { y, x: { field: "weight", type: "quantitative" }, description: { field: "description" } } },
    ],
  };
}

const SPECS = {
  spc: spcSpec, breakdown: breakdownSpec, impact: impactSpec, ranges: rangesSpec,
  counts: barsSpec("count", "Needs"), ranking: barsSpec("total", "Total score (0 to 100)"),
  involvement: barsSpec("hours", "Hours"),
};

async function drawCharts(root) {
  const drawn = [];
  for (const element of root.querySelectorAll(".mhin-chart[data-chart]")) {
    const data = JSON.parse(element.dataset.chart);
    if ((data.bars && !data.bars.length) || (data.ranges && !data.ranges.length)) continue;
    const spec = SPECS[element.dataset.kind](data);
    drawn.push(embed(element, spec, {
      // vega-embed's and vega-tooltip's default styles are inline <style> elements,
      // which the CSP refuses: web.css styles the tooltip instead.
      renderer: "svg", actions: false, defaultStyle: false,
      tooltip: { disableDefaultStyle: true },
      ast: true, expr: expressionInterpreter,
    }));
  }
  await Promise.all(drawn);
}

function follow(live) {
  const source = new EventSource(live.dataset.stream);
  source.addEventListener("live", async (message) => {
    live.innerHTML = message.data;
    await drawCharts(live);
    live.dataset.updates = String(Number(live.dataset.updates || "0") + 1);
    document.dispatchEvent(new CustomEvent("mhin:updated"));
  });
  source.addEventListener("signed-out", (message) => {
    source.close();
    window.location.assign(message.data);
  });
  source.addEventListener("refused", () => source.close());
  // EventSource reconnects by itself after a dropped connection; the server's first
  // message on each connection is the page's live part as it is now (the catch-up).
}

async function start() {
  await drawCharts(document);
  performance.mark("mhin:charts-drawn");
  document.body.dataset.chartsDrawn = "true";
  const live = document.getElementById("live");
  if (live && live.dataset.stream) follow(live);
}

document.addEventListener("DOMContentLoaded", start);
