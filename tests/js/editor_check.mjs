// editor_check.mjs - drives examples/editor (served by `ngcodec view --page`)
// in headless Chromium for tests/test_editor_page.py (pytest checks its output).
//
//   node editor_check.mjs PAGE_URL PAINTS_JSON USER_DATA_DIR
//
// Waits until the page has loaded its chunk, calls editor.paint(x, y, r,
// label) for each of PAINTS_JSON's [[x, y, r, "label"], ...] (labels as
// decimal strings: uint64 does not fit a JSON number), clicks the
// upload button, waits for the page to say it uploaded. Prints one JSON
// object {status, text, painted}; exits non-zero on a page error, a console
// error, a failed request or a timeout.
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

const [url, paintsFile, userDataDir] = process.argv.slice(2);
const paints = JSON.parse(readFileSync(paintsFile, "utf8"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const problems = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  // The editor's own page and worker only: the Neuroglancer iframe is
  // checked by the render test.
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && !m.location().url.includes("/v/ngcodec/")
    && problems.push(`console: ${m.text()}`));
  page.on("requestfailed", (r) => !r.url().includes("/v/ngcodec/") && !r.url().includes("/events/")
    && problems.push(`request failed: ${r.url()}`));
  await page.goto(url);
  const settled = '#status[data-state="ready"], #status[data-state="error"]';
  await page.waitForSelector(settled, { timeout: 30000 });
  const state = () => page.getAttribute("#status", "data-state");
  if (await state() === "error") throw new Error(`editor: ${await page.textContent("#status")}`);
  let painted = 0;
  for (const [x, y, r, label] of paints) {
    painted += await page.evaluate(([x, y, r, label]) => window.editor.paint(x, y, r, label),
                                   [x, y, r, label]);
  }
  await page.click("#upload");
  await page.waitForSelector('#status[data-state="uploaded"], #status[data-state="error"]',
                             { timeout: 30000 });
  const result = { status: await state(), text: await page.textContent("#status"), painted };
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(String(e.stack || e));
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
}
