// Swagger UI over this server's /openapi.json. A file of its own: the page's
// Content-Security-Policy runs no inline script.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
});
