// Family summary: the one script is the print button (CSP allows no inline handlers).
document.getElementById("print-summary")?.addEventListener("click", () => window.print());
