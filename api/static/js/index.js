// Home page: offers the local demo when the server runs with --demo and this browser is
// on the same machine; enables the buttons once the tutor has loaded.
const $ = (id) => document.getElementById(id);

async function poll(tries = 0) {
  let status;
  try {
    status = await (await fetch("/web/status", { headers: { Accept: "application/json" } })).json();
  } catch {
    status = null;
  }
  if (status && !status.demo) return;
  $("demo").hidden = false;
  const message = $("demo-status");
  if (status && status.error) {
    message.textContent = "The tutor failed to load: see the server's log.";
    return;
  }
  if (status && status.ready) {
    message.textContent = "Ready. Open the demo class as a student or as their teacher.";
    $("open-student").disabled = false;
    $("open-teacher").disabled = false;
    return;
  }
  message.textContent = "Loading the tutor's models (about a minute on first start)…";
  if (tries < 900) setTimeout(() => poll(tries + 1), 1000);
}

poll();
