/* /studio: sign in with a developer token, then the developer's models with their figures
   and a chart of runs and earnings per day. */
(function () {
  "use strict";

  var T = window.Tarsify;
  var S = window.Studio;
  var el = T.el;

  function say(text) { document.getElementById("dev-sign-in-status").textContent = text; }

  function fieldError(text) {
    var error = document.getElementById("err-dev-token");
    var input = document.getElementById("dev-token");
    error.textContent = text;
    error.hidden = !text;
    if (text) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    else input.removeAttribute("aria-invalid");
  }

  async function signIn(event) {
    event.preventDefault();
    var value = document.getElementById("dev-token").value.trim();
    if (!value) { fieldError("Paste a developer token."); return; }
    S.setToken(value);
    var reply = await S.api("GET", "/api/developer/auth/me");
    if (reply.status === 200) { fieldError(""); show(); return; }
    if (reply.status === 404) {
      document.getElementById("dev-register-box").hidden = false;
      say("No developer account for this token yet.");
      return;
    }
    S.clearToken();
    fieldError(T.explain(reply).title);
  }

  async function register() {
    var reply = await S.api("POST", "/api/developer/auth/register", {});
    if (reply.status === 201 || reply.status === 409) { show(); return; }
    say(T.explain(reply).title);
  }

  function modelRow(model, line) {
    var link = el("a", { href: "/studio/models/" + model.id, text: model.title });
    return el("tr", { "data-model": model.id }, [
      el("th", { scope: "row" }, [link, el("span", { class: "slug", text: " " + model.slug })]),
      el("td", {}, [el("span", { class: "status-badge", "data-status": model.status, text: model.status })]),
      el("td", { text: String(line ? line.runs : 0) }),
      el("td", { text: S.percent(line ? line.successRate : null) }),
      el("td", { text: (line ? line.earnings : 0) + " credits" })
    ]);
  }

  async function load() {
    var days = document.getElementById("days").value;
    var stats = await S.api("GET", "/api/developer/stats?days=" + encodeURIComponent(days));
    var models = await S.api("GET", "/api/developer/tars-models?limit=100");
    if (stats.status !== 200 || models.status !== 200) {
      document.getElementById("studio-status").textContent = T.explain(stats.status !== 200 ? stats : models).title;
      return;
    }
    var figures = stats.body.data;
    S.showTotals(document.getElementById("totals"), figures);
    S.drawChart(document.getElementById("chart"), figures.days);
    var lines = {};
    figures.models.forEach(function (line) { lines[line.id] = line; });
    var body = document.getElementById("models-body");
    body.textContent = "";
    models.body.data.forEach(function (model) { body.appendChild(modelRow(model, lines[model.id])); });
    document.getElementById("models-empty").hidden = models.body.data.length > 0;
    document.getElementById("models-table").hidden = models.body.data.length === 0;
  }

  async function show() {
    var me = await S.api("GET", "/api/developer/auth/me");
    if (me.status !== 200) {
      S.clearToken();
      document.getElementById("dev-sign-in").hidden = false;
      document.getElementById("studio-home").hidden = true;
      return;
    }
    document.getElementById("dev-sign-in").hidden = true;
    document.getElementById("studio-home").hidden = false;
    document.getElementById("dev-who").textContent = me.body.data.name || me.body.data.email;
    await load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("dev-sign-in-form").addEventListener("submit", signIn);
    document.getElementById("dev-register").addEventListener("click", register);
    document.getElementById("days").addEventListener("change", load);
    document.getElementById("dev-sign-out").addEventListener("click", function () {
      S.clearToken();
      window.location.assign("/studio");
    });
    if (S.token()) show();
    else document.getElementById("dev-sign-in").hidden = false;
  });
})();
