/* Starts Swagger UI (served from /docs/static) on /openapi.json, with the Authorize
   dialog filled in from the key the visitor signed in with. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var ui = window.SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      displayRequestDuration: true,
      tryItOutEnabled: false,
      filter: true,
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      onComplete: function () {
        var key = null;
        try { key = window.sessionStorage.getItem("tarsify.apiKey"); } catch (e) { key = null; }
        if (key) ui.preauthorizeApiKey("bearer", key);
      }
    });
    window.ui = ui;
  });
})();
