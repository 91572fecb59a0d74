// Kept out of the HTML so the Content-Security-Policy needs no 'unsafe-inline' script.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
});
