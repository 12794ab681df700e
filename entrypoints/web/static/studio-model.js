/* /studio/models/new and /studio/models/{id}: configure a model from a base model, preview
   the form consumers will see, test-run it (free), publish or archive it, and its chart. */
(function () {
  "use strict";

  var T = window.Tarsify;
  var S = window.Studio;
  var el = T.el;
  var TARS = "/api/developer/tars-models";
  var modelId = "";
  var model = null;
  var previewTimer = null;

  function $(id) { return document.getElementById(id); }
  function say(id, text) { $(id).textContent = text; }

  function showErrors(boxId, title, problems) {
    var box = $(boxId);
    box.textContent = "";
    if (!title) { box.hidden = true; return; }
    box.appendChild(el("p", { class: "error-title", text: title }));
    if (problems && problems.length) {
      box.appendChild(el("ul", {}, problems.map(function (p) {
        return el("li", { text: (p.field ? p.field + ": " : "") + p.message });
      })));
    }
    box.hidden = false;
    box.focus();
  }

  function parseJson(id, label) {
    var raw = $(id).value.trim();
    if (!raw) return {};
    var value;
    try { value = JSON.parse(raw); } catch (e) { throw { field: label, message: "is not valid JSON" }; }
    if (!value || typeof value !== "object" || Array.isArray(value)) throw { field: label, message: "must be a JSON object" };
    return value;
  }

  function config() {
    return {
      defaultInputs: parseJson("f-defaults", "Default inputs"),
      lockedInputs: parseJson("f-locked", "Locked inputs"),
      hiddenFields: $("f-hidden").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean),
      promptPrefix: $("f-prefix").value,
      promptSuffix: $("f-suffix").value
    };
  }

  function fill(data) {
    model = data;
    var c = data.configOverrides || {};
    $("f-base").value = data.baseModelId;
    $("f-base").disabled = true;
    $("f-title").value = data.title;
    $("f-description").value = data.description || "";
    $("f-price").value = String(data.pricePerRun);
    $("f-defaults").value = JSON.stringify(c.defaultInputs || {}, null, 1);
    $("f-locked").value = JSON.stringify(c.lockedInputs || {}, null, 1);
    $("f-hidden").value = (c.hiddenFields || []).join(", ");
    $("f-prefix").value = c.promptPrefix || "";
    $("f-suffix").value = c.promptSuffix || "";
    $("studio-title").textContent = data.title;
    $("crumb").textContent = data.title;
    $("publish-box").hidden = false;
    var status = $("model-status");
    status.textContent = data.status;
    status.dataset.status = data.status;
    var problems = $("problems");
    problems.textContent = "";
    (data.problems || []).forEach(function (p) {
      problems.appendChild(el("li", { text: (p.field ? p.field + ": " : "") + p.message }));
    });
    $("publish-button").hidden = data.status === "PUBLISHED";
    $("archive-button").hidden = data.status === "ARCHIVED";
    var link = $("market-link");
    link.hidden = data.status !== "PUBLISHED";
    link.setAttribute("href", "/models/" + encodeURIComponent(data.slug));
  }

  async function preview() {
    var base = $("f-base").value;
    if (!base) return;
    var body;
    try { body = { baseModelId: base, configOverrides: config() }; } catch (problem) { return; }
    var response = await fetch("/studio/preview", {
      method: "POST",
      headers: { Authorization: "Bearer " + S.token(), "Content-Type": "application/json" },
      body: JSON.stringify(body)
    });
    var text = await response.text();
    if (!response.ok) { $("preview").textContent = errorMessage(text); return; }
    $("preview").innerHTML = text; // rendered by the server, every value escaped
  }

  // A refused preview is the API's error envelope: its message, else the raw text.
  function errorMessage(text) {
    try {
      var parsed = JSON.parse(text);
      if (parsed && parsed.error && parsed.error.message) return parsed.error.message;
    } catch (problem) { /* not JSON: shown as it came */ }
    return text;
  }

  function schedulePreview() {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(preview, 250);
  }

  async function save(event) {
    event.preventDefault();
    var body;
    try {
      body = {
        title: $("f-title").value.trim(),
        description: $("f-description").value.trim() || null,
        pricePerRun: Number($("f-price").value || "0"),
        configOverrides: config()
      };
    } catch (problem) { showErrors("editor-errors", "Some settings need a change:", [problem]); return; }
    if (!body.title) { showErrors("editor-errors", "Some settings need a change:", [{ field: "Title", message: "is required" }]); return; }
    var reply;
    if (modelId) {
      reply = await S.api("PATCH", TARS + "/" + modelId, body);
    } else {
      body.baseModelId = $("f-base").value;
      reply = await S.api("POST", TARS, body);
    }
    if (reply.status !== 200 && reply.status !== 201) {
      var why = T.explain(reply);
      showErrors("editor-errors", why.title, why.problems);
      return;
    }
    showErrors("editor-errors", "");
    if (!modelId) { window.location.assign("/studio/models/" + reply.body.data.id); return; }
    fill(reply.body.data);
    say("editor-status", "Saved.");
  }

  async function setStatus(method, body, done) {
    var reply = await S.api(method, TARS + "/" + modelId, body);
    if (reply.status !== 200) {
      var why = T.explain(reply);
      var details = reply.body && reply.body.error && reply.body.error.details;
      showErrors("editor-errors", why.title, Array.isArray(details) ? details : why.problems);
      return;
    }
    showErrors("editor-errors", "");
    fill(reply.body.data);
    say("editor-status", done);
  }

  function valueOf(box) {
    var input = box.querySelector("input, select, textarea");
    var kind = box.dataset.kind, type = box.dataset.type;
    if (kind === "switch") return box.dataset.hasDefault || box.dataset.required ? input.checked : undefined;
    var raw = input.value;
    if (raw === "") return undefined;
    if (kind === "select") return JSON.parse(raw);
    if (type === "integer" || type === "number") return Number(raw);
    if (type === "json") return JSON.parse(raw);
    return raw;
  }

  function readInputs() {
    var inputs = {};
    Array.prototype.forEach.call($("preview").querySelectorAll("[data-field]"), function (box) {
      if (box.dataset.readOnly) return;
      var value = valueOf(box);
      if (value !== undefined) inputs[box.dataset.field] = value;
    });
    return inputs;
  }

  function showRun(run) {
    var line = $("test-status");
    line.dataset.status = run.status;
    line.textContent = "Test run " + run.status.toLowerCase().replace("_", " ") + " (cost " + run.cost + ").";
    var result = $("test-result");
    result.textContent = "";
    if (run.status === "COMPLETED") result.appendChild(T.renderOutput(run.output, { title: model ? model.title : "" }));
    if (run.error) result.appendChild(el("p", { class: "field-error", text: run.error.message + " (" + run.error.code + ")" }));
    if (run.mergedInput) {
      $("merged").textContent = JSON.stringify(run.mergedInput, null, 2);
      $("merged-box").hidden = false;
    }
  }

  async function testRun(event) {
    event.preventDefault();
    if (!modelId) { showErrors("test-errors", "Create the draft first, then test-run it."); return; }
    var inputs;
    try { inputs = readInputs(); } catch (e) { showErrors("test-errors", "An input is not valid JSON."); return; }
    showErrors("test-errors", "");
    $("test-run-button").disabled = true;
    say("test-status", "Test run sent…");
    try {
      var reply = await S.api("POST", TARS + "/" + modelId + "/test-run?wait=20", { inputs: inputs });
      if (reply.status !== 200 && reply.status !== 202) {
        var why = T.explain(reply);
        showErrors("test-errors", why.title, why.problems);
        say("test-status", "Not run.");
        return;
      }
      var run = reply.body.data;
      showRun(run);
      while (!T.isTerminal(run.status)) {
        await new Promise(function (resolve) { window.setTimeout(resolve, 1000); });
        var again = await S.api("GET", TARS + "/" + modelId + "/test-runs/" + run.id);
        if (again.status !== 200) break;
        run = again.body.data;
        showRun(run);
      }
    } finally {
      $("test-run-button").disabled = false;
    }
  }

  async function figures() {
    var reply = await S.api("GET", TARS + "/" + modelId + "/stats?days=30");
    if (reply.status !== 200) return;
    $("figures-box").hidden = false;
    S.showTotals($("model-totals"), reply.body.data);
    S.drawChart($("model-chart"), reply.body.data.days);
  }

  async function start() {
    modelId = $("studio-editor").dataset.modelId;
    if (!S.token()) {
      $("need-sign-in").hidden = false;
      $("studio-editor").hidden = true;
      return;
    }
    var bases = await S.api("GET", "/api/developer/base-models?limit=100");
    if (bases.status !== 200) { showErrors("editor-errors", T.explain(bases).title); return; }
    var select = $("f-base");
    select.appendChild(el("option", { value: "", text: "Choose a base model" }));
    bases.body.data.forEach(function (b) {
      select.appendChild(el("option", { value: b.id, text: b.name + " (" + b.category.toLowerCase() + ")" }));
    });
    if (modelId) {
      var reply = await S.api("GET", TARS + "/" + modelId);
      if (reply.status !== 200) { showErrors("editor-errors", T.explain(reply).title); return; }
      fill(reply.body.data);
      figures();
    }
    preview();
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("model-form").addEventListener("submit", save);
    $("model-form").addEventListener("input", schedulePreview);
    $("model-form").addEventListener("change", schedulePreview);
    $("test-form").addEventListener("submit", testRun);
    $("publish-button").addEventListener("click", function () { setStatus("PATCH", { status: "PUBLISHED" }, "Published."); });
    $("archive-button").addEventListener("click", function () { setStatus("DELETE", undefined, "Archived."); });
    start();
  });
})();
