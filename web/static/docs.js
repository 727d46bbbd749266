// The API reference at /docs: Swagger UI (vendored under /static/vendor/swagger-ui) over
// this server's /openapi.json. Nothing is loaded from elsewhere.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
});
