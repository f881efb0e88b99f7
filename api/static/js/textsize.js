// A+ / A− buttons: the page's type scale, remembered on this device.
const SIZES = ["100%", "112.5%", "125%", "137.5%", "150%"];

export function setupTextSize(defaultStep = 1) {
  const saved = Number(localStorage.getItem("readloom.textsize"));
  let step = Number.isInteger(saved) && saved >= 0 && saved < SIZES.length ? saved : defaultStep;
  const apply = () => {
    document.documentElement.style.fontSize = SIZES[step];
    localStorage.setItem("readloom.textsize", String(step));
    const smaller = document.getElementById("text-smaller");
    const larger = document.getElementById("text-larger");
    if (smaller) smaller.disabled = step === 0;
    if (larger) larger.disabled = step === SIZES.length - 1;
  };
  document.getElementById("text-smaller")?.addEventListener("click", () => { step = Math.max(0, step - 1); apply(); });
  document.getElementById("text-larger")?.addEventListener("click", () => { step = Math.min(SIZES.length - 1, step + 1); apply(); });
  apply();
}
