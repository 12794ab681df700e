/* The history page: the signed-in consumer's runs, newest first, with their outputs
   (thumbnails, players), a status filter and "Load more". */
(function () {
  "use strict";

  var T = window.Tarsify;
  var el = T.el;
  var PAGE = 10;
  var list, more, status, filter;
  var cursor = null;

  function when(iso) {
    var date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString();
  }

  function item(execution) {
    var model = execution.model || {};
    var head = el("div", { class: "history-head" }, [
      el("a", { href: "/models/" + encodeURIComponent(model.slug || ""), class: "history-title", text: model.title || model.slug }),
      el("span", { class: "status-badge status-" + String(execution.status).toLowerCase(), text: execution.status })
    ]);
    var meta = [when(execution.createdAt)];
    if (typeof execution.executionTimeMs === "number") meta.push("ran " + (execution.executionTimeMs / 1000).toFixed(1) + " s");
    if (typeof execution.cost === "number") meta.push(execution.cost + " credits");
    var prompt = execution.input && typeof execution.input.prompt === "string" ? execution.input.prompt : null;
    var body = el("div", { class: "history-body" });
    if (execution.status === "COMPLETED") {
      body.appendChild(T.renderOutput(execution.output, { compact: true, title: model.title }));
    } else if (execution.error) {
      body.appendChild(el("p", { class: "error-title", text: execution.error.message }));
    }
    return el("li", { class: "history-item", "data-id": execution.id, "data-status": execution.status }, [
      head,
      el("p", { class: "card-meta", text: meta.join(" · ") }),
      prompt ? el("p", { class: "history-prompt", text: "“" + prompt + "”" }) : null,
      body
    ]);
  }

  async function load(reset) {
    if (reset) { cursor = null; list.textContent = ""; }
    var query = "?limit=" + PAGE;
    if (filter.value) query += "&status=" + encodeURIComponent(filter.value);
    if (cursor) query += "&cursor=" + encodeURIComponent(cursor);
    status.textContent = "Loading…";
    more.disabled = true;
    var reply = await T.api("GET", "/api/consumer/executions" + query);
    more.disabled = false;
    if (reply.status !== 200) {
      status.textContent = "Cannot load your runs: " + T.explain(reply).title;
      if (reply.status === 401) { T.clearKey(); T.showAccount(); }
      return;
    }
    reply.body.data.forEach(function (execution) { list.appendChild(item(execution)); });
    cursor = reply.body.meta.nextCursor;
    more.hidden = !cursor;
    var count = list.children.length;
    status.textContent = count ? count + (count === 1 ? " run shown." : " runs shown.") : "No runs yet: open a model in the marketplace and run it.";
  }

  document.addEventListener("DOMContentLoaded", function () {
    list = document.getElementById("history");
    more = document.getElementById("load-more");
    status = document.getElementById("history-status");
    filter = document.getElementById("status-filter");
    if (!T.getKey()) {
      document.getElementById("sign-in-notice").hidden = false;
      return;
    }
    document.getElementById("history-filter").hidden = false;
    filter.addEventListener("change", function () { load(true); });
    more.addEventListener("click", function () { load(false); });
    load(true);
  });
})();
