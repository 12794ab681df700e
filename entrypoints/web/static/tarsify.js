/* Shared by every page: the key in session storage, calls to the JSON API, the header's
   sign-in state, a DOM builder that only ever sets text (never HTML), and watching an
   execution until it finishes (event stream when the server has it, polling otherwise). */
(function () {
  "use strict";

  var STORAGE_KEY = "tarsify.apiKey";
  var TERMINAL = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];
  var POLL_MS = 1000;

  function getKey() {
    try { return window.sessionStorage.getItem(STORAGE_KEY); } catch (e) { return null; }
  }
  function setKey(key) { window.sessionStorage.setItem(STORAGE_KEY, key); }
  function clearKey() { window.sessionStorage.removeItem(STORAGE_KEY); }

  /* el("p", {class: "x", "data-a": "b"}, ["text", childNode]) */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  /* One call to the JSON API with the stored key; resolves {status, headers, body}. */
  function api(method, path, body, headers, key) {
    var all = Object.assign({ Accept: "application/json" }, headers || {});
    var auth = key || getKey();
    if (auth) all.Authorization = "Bearer " + auth;
    var init = { method: method, headers: all };
    if (body !== undefined) {
      all["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        return { status: response.status, headers: response.headers, body: parsed };
      });
    });
  }

  function errorOf(reply) {
    var error = reply.body && reply.body.error;
    if (error) return error;
    return { code: "HTTP_" + reply.status, message: "The server answered " + reply.status };
  }

  function plural(count, one, many) { return count + " " + (count === 1 ? one : many); }
  function isObject(value) { return Boolean(value) && typeof value === "object" && !Array.isArray(value); }

  /* Seconds to wait before trying again: the Retry-After header (delta-seconds), else
     details.retryAfterSeconds; null when the answer says neither. */
  function retryAfter(reply, error) {
    var header = reply.headers && reply.headers.get ? reply.headers.get("Retry-After") : null;
    if (header !== null && /^\s*\d+\s*$/.test(header)) return Number(header);
    var details = error.details;
    if (isObject(details) && typeof details.retryAfterSeconds === "number") return details.retryAfterSeconds;
    return null;
  }

  function whenAgain(seconds) {
    var at = new Date(Date.now() + seconds * 1000).toLocaleTimeString();
    if (seconds < 60) return "Try again in " + plural(seconds, "second", "seconds") + " (at " + at + ").";
    return "Try again in about " + plural(Math.ceil(seconds / 60), "minute", "minutes") + " (at " + at + ").";
  }

  /* An error answer as a person reads it: {title, problems, code, retryAfter}.
     ``problems`` are the list details ({field, message}) of a validation error; object
     details are read by code (402: the price and the balance; 429: when to try again). */
  function explain(reply) {
    var error = errorOf(reply);
    var details = error.details;
    var problems = Array.isArray(details)
      ? details.filter(function (d) { return d && typeof d.message === "string"; })
      : [];
    var wait = reply.status === 429 ? retryAfter(reply, error) : null;
    var title = error.message + " (" + error.code + ")";
    if (error.code === "ERR_6001" && isObject(details) && typeof details.price === "number" &&
        typeof details.balance === "number") {
      title = "Not enough credits: this run costs " + plural(details.price, "credit", "credits") +
        " and your balance is " + plural(details.balance, "credit", "credits") + ".";
    } else if (error.code === "ERR_4290") {
      var limit = isObject(details) && typeof details.limit === "number" ? details.limit : null;
      title = (limit === null ? "You have too many unfinished runs."
        : "You already have " + plural(limit, "unfinished run", "unfinished runs") + ", the most allowed at a time.") +
        " " + (wait === null ? "Try again once one has finished." : whenAgain(wait));
    } else if (reply.status === 429) {
      title = error.message + ". " + (wait === null ? "Try again later." : whenAgain(wait));
    } else if (error.code === "ERR_2005") {
      title = "Some inputs need a change:";
    } else if (error.code === "ERR_1004") {
      title = "This sign-in has no consumer account yet: register it on the sign-in page.";
    }
    return { title: title, problems: problems, code: error.code, retryAfter: wait };
  }

  /* The signed-in consumer's balance in the header (GET /api/consumer/credits). */
  async function showBalance() {
    var box = document.getElementById("balance");
    if (!box) return;
    if (!getKey()) { box.hidden = true; return; }
    var reply;
    try { reply = await api("GET", "/api/consumer/credits"); } catch (e) { return; }
    if (reply.status !== 200) { box.hidden = true; return; }
    var data = reply.body.data;
    var amount = plural(data.balance, "credit", "credits") + (data.held ? " (" + data.held + " held)" : "");
    document.getElementById("balance-amount").textContent = amount;
    box.dataset.balance = String(data.balance);
    box.hidden = false;
  }

  /* A key for Idempotency-Key: random, also where crypto.randomUUID is missing (http). */
  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function isTerminal(status) { return TERMINAL.indexOf(status) >= 0; }
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  /* Events of a text/event-stream body: calls onEvent(name, data) per event. */
  async function readEvents(stream, onEvent) {
    var reader = stream.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
      var end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        var name = "message";
        var data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) name = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length && onEvent(name, data.join("\n")) === false) {
          reader.cancel();
          return;
        }
      }
    }
  }

  /* The stream of GET /api/consumer/executions/{id}/events; resolves the last execution
     seen, or null when the server has no stream (404/405) or it broke off. ``onEvent``
     gets the other events: ("output", one chunk), ("progress", the latest report) and
     ("logs", the log lines printed since the last event). */
  async function streamExecution(id, onUpdate, onEvent) {
    var last = null;
    var response = await fetch("/api/consumer/executions/" + encodeURIComponent(id) + "/events", {
      headers: { Authorization: "Bearer " + getKey(), Accept: "text/event-stream" }
    });
    var type = response.headers.get("Content-Type") || "";
    if (!response.ok || !response.body || type.indexOf("text/event-stream") !== 0) {
      if (response.body) response.body.cancel();
      return null;
    }
    await readEvents(response.body, function (name, data) {
      if (name === "output" || name === "progress" || name === "logs") {
        if (onEvent) onEvent(name, JSON.parse(data));
        return true;
      }
      if (name !== "status" && name !== "message") return true;
      var parsed = JSON.parse(data);
      last = parsed && parsed.data && parsed.success !== undefined ? parsed.data : parsed;
      onUpdate(last);
      return !isTerminal(last.status);
    });
    return last;
  }

  async function pollExecution(id, onUpdate) {
    for (;;) {
      var reply = await api("GET", "/api/consumer/executions/" + encodeURIComponent(id));
      if (reply.status !== 200) throw errorOf(reply);
      onUpdate(reply.body.data);
      if (isTerminal(reply.body.data.status)) return reply.body.data;
      await sleep(POLL_MS);
    }
  }

  /* Calls onUpdate(execution) on every change until a terminal status, and
     onEvent(name, data) on each streamed chunk, progress report and batch of new log
     lines; resolves the end. */
  async function watch(id, onUpdate, onEvent) {
    var last = null;
    try { last = await streamExecution(id, onUpdate, onEvent); } catch (e) { last = null; }
    if (last && isTerminal(last.status)) return last;
    return pollExecution(id, onUpdate);
  }

  function showAccount() {
    var signedIn = Boolean(getKey());
    var link = document.getElementById("sign-in-link");
    var box = document.getElementById("signed-in");
    if (link) link.hidden = signedIn;
    if (box) box.hidden = !signedIn;
    var who = document.getElementById("who");
    var name = window.sessionStorage.getItem(STORAGE_KEY + ".name");
    if (who && name) who.textContent = name;
    if (signedIn) showBalance();
  }

  function signOut() {
    clearKey();
    window.sessionStorage.removeItem(STORAGE_KEY + ".name");
    window.location.assign("/");
  }

  document.addEventListener("DOMContentLoaded", function () {
    showAccount();
    var button = document.getElementById("sign-out");
    if (button) button.addEventListener("click", signOut);
  });

  window.Tarsify = {
    getKey: getKey,
    setKey: setKey,
    setName: function (name) { window.sessionStorage.setItem(STORAGE_KEY + ".name", name); },
    clearKey: clearKey,
    api: api,
    errorOf: errorOf,
    explain: explain,
    showBalance: showBalance,
    el: el,
    newKey: newKey,
    watch: watch,
    isTerminal: isTerminal,
    showAccount: showAccount
  };
})();
