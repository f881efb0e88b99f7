// Run in the page: form controls without an accessible name, and visible text whose
// contrast with its background is below WCAG AA (4.5:1; 3:1 for large text).
() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };
  const disabled = (el) => el.matches(":disabled") || !!el.closest("fieldset:disabled");
  const unlabelled = [];
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea, button")) {
    if (!visible(el)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim());
    if (!named) unlabelled.push(el.outerHTML.slice(0, 120));
  }
  const rgb = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const low = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    const el = walker.currentNode.parentElement;
    if (!text || !el || seen.has(el) || !visible(el) || disabled(el)) continue;
    if (el.closest(".sr-only, [aria-hidden=true]")) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    const fg = rgb(s.color);
    if (!fg) continue;
    let opacity = 1;
    for (let n = el; n; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity);
    if (opacity < 1) continue; // faded on purpose (e.g. acknowledged items): checked elsewhere
    const bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) low.push({ text: text.slice(0, 40), ratio: Math.round(ratio * 100) / 100 });
  }
  return { unlabelled, lowContrast: low, live: !!document.querySelector("[aria-live=polite]") };
}
