// Swagger UI for /docs, from the swagger-ui-py package's files (no CDN); the schema comes from
// /openapi.json with the same login cookie.
window.addEventListener("load", function () {
  "use strict";
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});
});
