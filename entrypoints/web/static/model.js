/* A model's page: read the form into inputs, run, show the API's validation messages next
   to their fields, follow the status, and show the result. */
(function () {
  "use strict";

  var T = window.Tarsify;
  var el = T.el;
  var form, summary, statusLine, steps, result, runButton, cancelButton;
  var current = null;
  var logLines = []; // the run's log lines shown so far (at most MAX_LOG_LINES)
  var MAX_LOG_LINES = 100;

  function fields() { return Array.prototype.slice.call(form.querySelectorAll("[data-field]")); }
  function control(box) { return box.querySelector("input, select, textarea"); }

  /* One field's value, or undefined to leave it out; throws {field, message} when unreadable. */
  function valueOf(box) {
    var input = control(box);
    var kind = box.dataset.kind;
    var type = box.dataset.type;
    if (kind === "switch") {
      var wanted = box.dataset.hasDefault || box.dataset.required || box.dataset.touched;
      return wanted ? input.checked : undefined;
    }
    var raw = input.value;
    if (raw === "") return undefined; // left out: the default applies, or "is required"
    if (kind === "select") return JSON.parse(raw);
    if (type === "integer" || type === "number") {
      var number = Number(raw);
      if (!isFinite(number)) throw { field: box.dataset.field, message: "must be a number" };
      return number;
    }
    if (type === "json") {
      try { return JSON.parse(raw); } catch (e) {
        throw { field: box.dataset.field, message: "is not valid JSON" };
      }
    }
    return raw;
  }

  /* Upload the files chosen in file fields; each field then holds its file's reference.
     Throws {field, message} when an upload is refused. */
  async function uploadFiles() {
    var boxes = fields().filter(function (box) { return box.dataset.kind === "file"; });
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var picker = box.querySelector("input[type=file]");
      if (!picker || !picker.files.length) continue;
      var file = picker.files[0];
      statusLine.textContent = "Uploading " + file.name + "…";
      var body = new FormData();
      body.append("file", file, file.name);
      var response = await fetch("/api/consumer/files", {
        method: "POST",
        headers: { Accept: "application/json", Authorization: "Bearer " + T.getKey() },
        body: body
      });
      var parsed = null;
      try { parsed = await response.json(); } catch (e) { parsed = null; }
      if (response.status !== 201 || !parsed || !parsed.data) {
        var error = parsed && parsed.error ? parsed.error.message : "the server answered " + response.status;
        throw { field: box.dataset.field, message: "could not be uploaded: " + error };
      }
      control(box).value = parsed.data.reference;
      box.dataset.uploaded = parsed.data.name;
      picker.value = "";
    }
  }

  function readInputs() {
    var inputs = {};
    var problems = [];
    fields().forEach(function (box) {
      if (box.dataset.readOnly) return; // locked by the model: the server sets it
      try {
        var value = valueOf(box);
        if (value !== undefined) inputs[box.dataset.field] = value;
      } catch (problem) { problems.push(problem); }
    });
    return { inputs: inputs, problems: problems };
  }

  function clearErrors() {
    summary.hidden = true;
    summary.textContent = "";
    fields().forEach(function (box) {
      var message = box.querySelector(".field-error");
      message.hidden = true;
      message.textContent = "";
      control(box).removeAttribute("aria-invalid");
      box.classList.remove("has-error");
    });
  }

  /* The label a person sees for a field's control (its schema title), e.g. "Guidance scale". */
  function labelOf(box) {
    var text = box.querySelector(".label-text");
    return text ? text.textContent.trim() : box.dataset.field;
  }

  /* Details [{field, message}] next to their fields (named by their label); the rest in
     the summary. ``details`` that are not a list (an object, or nothing) add no items. */
  function showErrors(title, details, code) {
    var list = el("ul");
    var firstField = null;
    (Array.isArray(details) ? details : []).forEach(function (detail) {
      var name = String(detail.field || "").replace(/^inputs\./, "").split(".")[0];
      var box = name ? form.querySelector('[data-field="' + CSS.escape(name) + '"]') : null;
      if (box) {
        var message = box.querySelector(".field-error");
        message.textContent = message.textContent ? message.textContent + "; " + detail.message : detail.message;
        message.hidden = false;
        control(box).setAttribute("aria-invalid", "true");
        box.classList.add("has-error");
        firstField = firstField || control(box);
        var text = labelOf(box) + ": " + detail.message;
        list.appendChild(el("li", {}, [el("a", { href: "#" + control(box).id, text: text })]));
      } else {
        var where = detail.field && detail.field !== "$" && detail.field !== "inputs" ? detail.field + ": " : "";
        list.appendChild(el("li", { text: where + detail.message }));
      }
    });
    summary.appendChild(el("p", { class: "error-title", text: title }));
    if (list.childNodes.length) summary.appendChild(list);
    if (code) summary.dataset.code = code;
    else delete summary.dataset.code;
    summary.hidden = false;
    summary.focus();
  }

  /* The streamed text so far and the progress bar, made on first use. */
  function live() {
    var box = document.getElementById("live");
    if (!box) {
      box = el("div", { id: "live", class: "live" }, [
        el("progress", { id: "run-progress", class: "run-progress", max: "100", hidden: true }),
        el("p", { id: "progress-note", class: "hint", hidden: true }),
        el("p", { id: "stream-text", class: "output-text stream-text", "aria-live": "polite" })
      ]);
      result.appendChild(box);
    }
    return box;
  }

  function showProgress(report) {
    if (report === null || report === undefined) return;
    live();
    var bar = document.getElementById("run-progress");
    var note = document.getElementById("progress-note");
    var percent = typeof report === "number" ? report : report && report.percent;
    if (typeof percent === "number") {
      bar.hidden = false;
      bar.value = Math.max(0, Math.min(100, percent));
      bar.textContent = Math.round(bar.value) + "%";
    }
    var message = typeof report === "string" ? report : report && report.message;
    if (typeof message === "string") {
      note.hidden = false;
      note.textContent = message;
    }
  }

  /* One log line as text: its time of day (when it has one) and its message. */
  function logItem(line) {
    var stamp = typeof line.timestamp === "string" ? /T(\d\d:\d\d:\d\d)/.exec(line.timestamp) : null;
    var level = typeof line.level === "string" && line.level !== "INFO" ? line.level + " " : "";
    return el("li", { class: "log-line" }, [
      stamp ? el("time", { class: "log-time", datetime: line.timestamp, text: stamp[1] }) : null,
      level + String(line.message)
    ]);
  }

  /* The log lines in a small scrolling box under a "Logs" summary: open while the run
     goes on, collapsed under the result once it ended. */
  function logDetails(open) {
    var list = el("ol", { id: "log-lines", class: "log-lines", "aria-label": "Log lines" },
      logLines.map(logItem));
    return el("details", { id: "run-logs", class: "run-logs", open: open }, [
      el("summary", { text: "Logs (" + logLines.length + (logLines.length === 1 ? " line)" : " lines)") }),
      list
    ]);
  }

  /* The whole log (a status: ``append`` false) or the lines printed since (a logs event). */
  function showLogs(lines, append) {
    if (!Array.isArray(lines)) return;
    var all = (append ? logLines.concat(lines) : lines).filter(function (line) {
      return line && typeof line.message === "string";
    });
    if (!all.length) return;
    logLines = all.slice(-MAX_LOG_LINES);
    var old = document.getElementById("run-logs");
    var list = old && old.querySelector(".log-lines");
    var atEnd = !list || list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    var kept = list ? list.scrollTop : 0;
    var box = logDetails(old ? old.open : true);
    if (old) old.replaceWith(box);
    else live().appendChild(box);
    list = box.querySelector(".log-lines");
    list.scrollTop = atEnd ? list.scrollHeight : kept; // follow the newest line unless scrolled up
  }

  function onStreamEvent(name, data) {
    if (name === "progress") return showProgress(data);
    if (name === "logs") return showLogs(data, true);
    var text = T.chunkText(data);
    live();
    var box = document.getElementById("stream-text");
    box.textContent += text === null ? JSON.stringify(data) + "\n" : text;
  }

  function setStatus(execution) {
    var status = execution.status;
    if (execution.progress && !T.isTerminal(status)) showProgress(execution.progress);
    statusLine.dataset.status = status;
    statusLine.textContent = "Status: " + status.replace("_", " ").toLowerCase();
    var ahead = status === "QUEUED" && typeof execution.queuePosition === "number" ? execution.queuePosition : null;
    if (ahead !== null) {
      statusLine.dataset.queuePosition = String(ahead);
      statusLine.textContent += ahead === 0 ? " — next in line"
        : " — " + ahead + (ahead === 1 ? " run" : " runs") + " ahead of yours";
    } else {
      delete statusLine.dataset.queuePosition;
    }
    if (execution.pendingReason) statusLine.textContent += " — " + execution.pendingReason.message;
    showLogs(execution.logs, false);
    var last = steps.lastElementChild;
    if (!last || last.dataset.status !== status) {
      steps.appendChild(el("li", { "data-status": status, class: "step step-" + status.toLowerCase(), text: status }));
    }
  }

  function showResult(execution) {
    result.textContent = "";
    if (execution.status === "COMPLETED") {
      result.appendChild(T.renderOutput(execution.output, {
        outputType: form.dataset.outputType,
        title: document.getElementById("model-title").textContent
      }));
      var time = execution.executionTimeMs;
      if (typeof time === "number") result.appendChild(el("p", { class: "hint", text: "Ran in " + (time / 1000).toFixed(1) + " s." }));
    } else if (execution.error) {
      result.appendChild(el("p", { class: "error-title", text: execution.error.message + " (" + execution.error.code + ")" }));
    }
    if (Array.isArray(execution.logs) && execution.logs.length) logLines = execution.logs.slice(-MAX_LOG_LINES);
    if (logLines.length) result.appendChild(logDetails(false)); // kept, collapsed
    result.appendChild(el("p", {}, [el("a", { href: "/executions", text: "See all your runs" })]));
    // On a phone the result starts at the top of the screen, so the whole image fits;
    // again once the first image has its height (the page may have been too short).
    if (window.matchMedia("(max-width: 760px)").matches) {
      var title = document.getElementById("result-title");
      title.scrollIntoView({ block: "start" });
      var image = result.querySelector("img");
      if (image && !image.complete) {
        image.addEventListener("load", function () { title.scrollIntoView({ block: "start" }); }, { once: true });
      }
    }
  }

  function busy(on) {
    runButton.disabled = on;
    runButton.setAttribute("aria-busy", on ? "true" : "false");
    runButton.textContent = on ? "Running…" : "Run";
    cancelButton.hidden = !on;
  }

  async function run(event) {
    event.preventDefault();
    clearErrors();
    if (!T.getKey()) {
      showErrors("Sign in first: running a model needs an API key.", []);
      document.getElementById("sign-in-notice").hidden = false;
      return;
    }
    busy(true);
    try {
      await uploadFiles();
    } catch (problem) {
      busy(false);
      statusLine.textContent = "Not run.";
      return showErrors("A file could not be uploaded.", [problem]);
    }
    var read = readInputs();
    if (read.problems.length) {
      busy(false);
      return showErrors("Some inputs cannot be read.", read.problems);
    }
    steps.textContent = "";
    result.textContent = "";
    logLines = [];
    statusLine.textContent = "Sending…";
    try {
      var path = "/api/marketplace/models/" + encodeURIComponent(form.dataset.slug) + "/run";
      var reply = await T.api("POST", path, { inputs: read.inputs }, { "Idempotency-Key": T.newKey() });
      if (reply.status !== 200 && reply.status !== 202) {
        var error = T.explain(reply);
        statusLine.textContent = "Not run.";
        if (reply.status === 401) T.clearKey();
        if (reply.status === 402) T.showBalance(); // the header's balance may be out of date
        return showErrors(error.title, error.problems, error.code);
      }
      current = reply.body.data;
      setStatus(current);
      // On a phone the result is below the form: bring it into view.
      if (window.matchMedia("(max-width: 760px)").matches) {
        document.getElementById("result-title").scrollIntoView({ block: "start" });
      }
      var final = T.isTerminal(current.status) ? current : await T.watch(current.id, setStatus, onStreamEvent);
      showResult(final);
      T.showBalance();
    } catch (problem) {
      statusLine.textContent = "Lost track of the run: " + (problem.message || problem);
    } finally {
      busy(false);
      current = null;
    }
  }

  async function cancel() {
    if (!current) return;
    var reply = await T.api("POST", "/api/consumer/executions/" + current.id + "/cancel");
    if (reply.status !== 200) statusLine.textContent += " (cannot cancel: " + T.errorOf(reply).message + ")";
  }

  document.addEventListener("DOMContentLoaded", function () {
    form = document.getElementById("run-form");
    summary = document.getElementById("error-summary");
    statusLine = document.getElementById("run-status");
    steps = document.getElementById("status-steps");
    result = document.getElementById("result");
    runButton = document.getElementById("run-button");
    cancelButton = document.getElementById("cancel-button");
    if (!T.getKey()) document.getElementById("sign-in-notice").hidden = false;
    form.addEventListener("submit", run);
    cancelButton.addEventListener("click", cancel);
    form.addEventListener("input", function (event) {
      var box = event.target.closest("[data-field]");
      if (!box) return;
      box.dataset.touched = "true";
      var output = box.querySelector("output");
      if (output) output.textContent = event.target.value;
    });
  });
})();
