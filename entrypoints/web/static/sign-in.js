/* The sign-in page: check a pasted key against the API, keep it in session storage, go
   back where the visitor came from. A consumer token without an account gets a Register
   button (POST /api/consumer/auth/register). In demo mode, one click gets a demo key. */
(function () {
  "use strict";

  var T = window.Tarsify;
  var input, error, status, registerBox;
  var unregistered = null; // the key that authenticated without an account

  /* Where to go after signing in: a path on this site only. The browser's own URL
     parser decides (it drops tabs and newlines and reads a backslash as "/", so "/\t/evil"
     is "//evil", another site); what is followed is the path it parsed, never the text. */
  function next() {
    var wanted = new URLSearchParams(window.location.search).get("next") || "/";
    var url;
    try {
      url = new URL(wanted, window.location.origin);
    } catch (e) {
      return "/";
    }
    if (url.origin !== window.location.origin || wanted.charAt(0) !== "/") return "/";
    return url.pathname + url.search + url.hash;
  }

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    status.textContent = "";
  }

  async function signIn(key) {
    error.hidden = true;
    registerBox.hidden = true;
    unregistered = null;
    input.removeAttribute("aria-invalid");
    if (!key) return fail("Paste an API key.");
    status.textContent = "Checking the key…";
    var reply = await T.api("GET", "/api/consumer/auth/me", undefined, {}, key);
    if (reply.status !== 200) {
      var problem = T.errorOf(reply);
      if (problem.code === "ERR_1004") {
        unregistered = key;
        registerBox.hidden = false;
        status.textContent = "";
        document.getElementById("register").focus();
        return;
      }
      return fail("This key was refused: " + problem.message + " (" + problem.code + ")");
    }
    T.setKey(key);
    T.setName(reply.body.data.name || reply.body.data.email);
    status.textContent = "Signed in as " + (reply.body.data.name || reply.body.data.email) + ".";
    window.location.assign(next());
  }

  /* POST /api/consumer/auth/register with the key that has no account, then sign in. */
  async function register() {
    var key = unregistered;
    if (!key) return;
    status.textContent = "Registering…";
    var reply = await T.api("POST", "/api/consumer/auth/register", undefined, {}, key);
    if (reply.status !== 201 && T.errorOf(reply).code !== "ERR_1005") {
      var problem = T.errorOf(reply);
      registerBox.hidden = true;
      return fail("Registering failed: " + problem.message + " (" + problem.code + ")");
    }
    await signIn(key);
  }

  async function demo() {
    status.textContent = "Creating a demo key…";
    var reply = await T.api("POST", "/web/demo-sign-in", undefined, {}, "");
    if (reply.status !== 201) return fail("The demo sign-in failed: " + T.errorOf(reply).message);
    input.value = "";
    await signIn(reply.body.data.key);
  }

  document.addEventListener("DOMContentLoaded", function () {
    input = document.getElementById("api-key");
    error = document.getElementById("err-key");
    status = document.getElementById("sign-in-status");
    registerBox = document.getElementById("register-box");
    document.getElementById("register").addEventListener("click", register);
    document.getElementById("sign-in-form").addEventListener("submit", function (event) {
      event.preventDefault();
      signIn(input.value.trim());
    });
    var button = document.getElementById("demo-sign-in");
    if (button) button.addEventListener("click", demo);
  });
})();
