// Exports of approved questions, generated in the browser: CSV, JSON, a QTI 2.1
// content package (.zip an LMS such as Canvas or Moodle can import) and a printable sheet.
import { el, passageParagraphs } from "./api.js";
import { makeZip } from "./zip.js";

const FIELDS = ["question", "type", "skill", "answer", "evidence"];

function slug(text) {
  return (text || "questions").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "questions";
}

export function download(filename, blob) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function csvCell(value) {
  let s = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // keep spreadsheets from running it as a formula
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(passage, questions) {
  const rows = [["number", ...FIELDS, "passage"]];
  questions.forEach((q, i) => rows.push([i + 1, ...FIELDS.map((f) => q[f]), passage.title]));
  return "\ufeff" + rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function toJson(passage, questions) {
  return JSON.stringify({
    format: "readloom.questions/v1",
    exported_at: new Date().toISOString(),
    passage: { passage_id: passage.passage_id, title: passage.title, grade: passage.grade },
    questions: questions.map((q) => Object.fromEntries(FIELDS.map((f) => [f, q[f]]))),
  }, null, 2);
}

function xml(text) {
  return String(text ?? "")
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&apos;")
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");
}

const QTI_NS = 'xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
  + 'xsi:schemaLocation="http://www.imsglobal.org/xsd/imsqti_v2p1 http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"';

function qtiItem(id, passage, q, n) {
  const paragraphs = (passage.text || "").split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  return `<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem ${QTI_NS} identifier="${id}" title="${xml(`${passage.title}: question ${n}`)}" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <rubricBlock view="scorer">
      <p>Model answer: ${xml(q.answer)}</p>
      <p>Evidence in the text: ${xml(q.evidence)}</p>
      <p>Skill: ${xml(q.skill)} (${xml(q.type)})</p>
    </rubricBlock>
    <div class="passage">
      <h2>${xml(passage.title)}</h2>
${paragraphs.map((p) => `      <p>${xml(p)}</p>`).join("\n")}
    </div>
    <p>${xml(q.question)}</p>
    <extendedTextInteraction responseIdentifier="RESPONSE" expectedLines="3"/>
  </itemBody>
</assessmentItem>
`;
}

export function toQtiZip(passage, questions) {
  const base = `rl-${slug(passage.passage_id || passage.title)}`;
  const ids = questions.map((_, i) => `${base}-q${i + 1}`);
  const items = questions.map((q, i) => ({ name: `items/${ids[i]}.xml`, text: qtiItem(ids[i], passage, q, i + 1) }));
  const test = `<?xml version="1.0" encoding="UTF-8"?>
<assessmentTest ${QTI_NS} identifier="${base}-test" title="${xml(passage.title)}">
  <testPart identifier="part-1" navigationMode="linear" submissionMode="individual">
    <assessmentSection identifier="section-1" title="${xml(passage.title)}" visible="true">
${ids.map((id, i) => `      <assessmentItemRef identifier="${id}" href="${items[i].name}"/>`).join("\n")}
    </assessmentSection>
  </testPart>
</assessmentTest>
`;
  const manifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" identifier="${base}-manifest" xsi:schemaLocation="http://www.imsglobal.org/xsd/imscp_v1p1 http://www.imsglobal.org/xsd/qti/qtiv2p1/qtiv2p1_imscpv1p2_v1p0.xsd">
  <metadata>
    <schema>QTIv2.1 Package</schema>
    <schemaversion>1.0.0</schemaversion>
  </metadata>
  <organizations/>
  <resources>
    <resource identifier="${base}-test-res" type="imsqti_test_xmlv2p1" href="assessment.xml">
      <file href="assessment.xml"/>
${ids.map((id) => `      <dependency identifierref="${id}-res"/>`).join("\n")}
    </resource>
${items.map((it, i) => `    <resource identifier="${ids[i]}-res" type="imsqti_item_xmlv2p1" href="${it.name}">
      <file href="${it.name}"/>
    </resource>`).join("\n")}
  </resources>
</manifest>
`;
  return makeZip([{ name: "imsmanifest.xml", text: manifest }, { name: "assessment.xml", text: test }, ...items]);
}

export function exportAs(kind, passage, questions) {
  const name = slug(passage.title);
  if (kind === "csv") download(`${name}.csv`, new Blob([toCsv(passage, questions)], { type: "text/csv;charset=utf-8" }));
  else if (kind === "json") download(`${name}.json`, new Blob([toJson(passage, questions)], { type: "application/json" }));
  else if (kind === "qti") download(`${name}-qti21.zip`, toQtiZip(passage, questions));
  else if (kind === "print") printSheet(passage, questions);
}

export function printSheet(passage, questions) {
  const sheet = document.getElementById("print-sheet");
  sheet.replaceChildren(
    el("h1", {}, passage.title),
    el("p", {}, "Name: ______________________________   Date: ______________"),
    ...(passage.text ? passageParagraphs(passage.text) : []),
    el("h2", {}, "Questions"),
    el("ol", {}, questions.map((q) => el("li", {}, el("p", {}, q.question), el("div", { class: "answer-lines" }), el("div", { class: "answer-lines" })))),
    el("section", { class: "answer-key" },
      el("h2", {}, `Answer key: ${passage.title}`),
      el("ol", {}, questions.map((q) => el("li", {},
        el("p", {}, el("strong", {}, "Answer: "), q.answer),
        el("p", {}, el("strong", {}, "Evidence: "), `"${q.evidence}"`))))),
  );
  window.print();
}
