/* Shared by the studio's pages: the developer token (session storage, apart from a
   consumer's key), calls to the JSON API with it, the figures as a list, and a chart of
   runs and earnings per day drawn as SVG here (no library). */
(function () {
  "use strict";

  var T = window.Tarsify;
  var el = T.el;
  var TOKEN_KEY = "tarsify.developerToken";
  var SVG = "http://www.w3.org/2000/svg";

  function token() {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  function setToken(value) { window.sessionStorage.setItem(TOKEN_KEY, value); }
  function clearToken() { window.sessionStorage.removeItem(TOKEN_KEY); }

  /* One call to the JSON API as the developer: {status, headers, body}. */
  function devApi(method, path, body, headers) {
    return T.api(method, path, body, headers, token() || "none");
  }

  function percent(rate) { return rate === null || rate === undefined ? "–" : Math.round(rate * 100) + " %"; }
  function ms(value) { return value === null || value === undefined ? "–" : (value / 1000).toFixed(1) + " s"; }

  /* The totals of a figures answer into a <dl>. */
  function showTotals(box, f) {
    box.textContent = "";
    [
      ["Runs", String(f.runs)],
      ["Completed", String(f.completed)],
      ["Failed", String(f.failed + f.timedOut)],
      ["Cancelled", String(f.cancelled)],
      ["Success rate", percent(f.successRate)],
      ["Queue time (median / p90)", ms(f.queueMs.p50) + " / " + ms(f.queueMs.p90)],
      ["Run time (median / p90)", ms(f.runMs.p50) + " / " + ms(f.runMs.p90)],
      ["Earnings", f.earnings + " credits"]
    ].forEach(function (pair) {
      box.appendChild(el("div", { class: "figure" }, [el("dt", { text: pair[0] }), el("dd", { text: pair[1] })]));
    });
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (name) { node.setAttribute(name, String(attrs[name])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* Bars of runs per day, a line of earnings; a table of the same days for screen readers
     and anyone who wants the numbers. */
  function drawChart(box, days) {
    box.textContent = "";
    var width = 640, height = 200, left = 36, right = 44, top = 12, bottom = 28;
    var maxRuns = Math.max(1, Math.max.apply(null, days.map(function (d) { return d.runs; })));
    var maxEarned = Math.max(1, Math.max.apply(null, days.map(function (d) { return d.earnings; })));
    var runs = days.reduce(function (s, d) { return s + d.runs; }, 0);
    var earned = days.reduce(function (s, d) { return s + d.earnings; }, 0);
    var label = "Runs and earnings per day over " + days.length + " days: " + runs + " runs, " + earned + " credits earned.";
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label, class: "chart-svg", "data-days": days.length });
    var plotW = width - left - right, plotH = height - top - bottom;
    var step = plotW / days.length;
    chart.appendChild(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, class: "chart-axis" }));
    chart.appendChild(svg("text", { x: left - 6, y: top + 10, "text-anchor": "end", class: "chart-label" }, String(maxRuns)));
    chart.appendChild(svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end", class: "chart-label" }, "0"));
    chart.appendChild(svg("text", { x: left + plotW + 6, y: top + 10, class: "chart-label chart-label-earned" }, String(maxEarned)));
    var points = [];
    days.forEach(function (d, i) {
      var h = plotH * d.runs / maxRuns;
      var bar = svg("rect", { x: left + i * step + step * 0.15, y: top + plotH - h, width: Math.max(step * 0.7, 1), height: h, class: "chart-bar" });
      bar.appendChild(svg("title", {}, d.date + ": " + d.runs + " runs, " + d.earnings + " credits"));
      chart.appendChild(bar);
      points.push((left + i * step + step / 2).toFixed(1) + "," + (top + plotH - plotH * d.earnings / maxEarned).toFixed(1));
    });
    chart.appendChild(svg("polyline", { points: points.join(" "), class: "chart-line" }));
    chart.appendChild(svg("text", { x: left, y: height - 8, class: "chart-label" }, days[0].date));
    chart.appendChild(svg("text", { x: left + plotW, y: height - 8, "text-anchor": "end", class: "chart-label" }, days[days.length - 1].date));
    box.appendChild(chart);
    box.appendChild(el("p", { class: "chart-legend" }, [
      el("span", { class: "legend-bar", "aria-hidden": "true" }), " runs per day ",
      el("span", { class: "legend-line", "aria-hidden": "true" }), " credits earned per day"
    ]));
    var rows = days.filter(function (d) { return d.runs || d.earnings; }).map(function (d) {
      return el("tr", {}, [el("th", { scope: "row", text: d.date }), el("td", { text: String(d.runs) }),
        el("td", { text: String(d.completed) }), el("td", { text: String(d.failed) }), el("td", { text: String(d.earnings) })]);
    });
    var table = el("table", { class: "days-table" }, [
      el("thead", {}, [el("tr", {}, ["Day", "Runs", "Completed", "Failed", "Earnings"].map(function (h) {
        return el("th", { scope: "col", text: h });
      }))]),
      el("tbody", {}, rows.length ? rows : [el("tr", {}, [el("td", { colspan: "5", text: "No runs in this period." })])])
    ]);
    box.appendChild(el("details", { class: "days-details" }, [el("summary", { text: "The days as a table" }), table]));
  }

  window.Studio = {
    token: token,
    setToken: setToken,
    clearToken: clearToken,
    api: devApi,
    showTotals: showTotals,
    drawChart: drawChart,
    percent: percent
  };
})();
